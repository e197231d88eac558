//! The simulated Trezor's Ethereum side. Like the firmware it builds the RLP it signs from the
//! message's fields (it never receives an encoded transaction), asks for data beyond the first
//! chunk in pieces of at most 1024 bytes, and returns `v` as the firmware does: the parity for
//! EIP-1559, `parity + 2·chain_id + 35` for legacy transactions.

use alloy_primitives::{eip191_hash_message, keccak256, Address, B256, U256};
use bitcoin::{bip32::DerivationPath, secp256k1::PublicKey};
use coldlink_trezor::messages::{self as m, FailureType};

use super::{ask, confirm, derive, expect, failure, send, session_master, Ctx, Flow, Io, Out};
use crate::{evm, rlp, Screen};

const CHUNK: usize = 1024;
const MAX_CHAIN_ID: u64 = (0xFFFF_FFFF - 36) / 2;

fn key_and_address(
    io: &Io,
    ctx: &Ctx,
    address_n: &[u32],
) -> Flow<(bitcoin::secp256k1::SecretKey, Address)> {
    let master = session_master(io, ctx)?;
    let path: DerivationPath = address_n.iter().map(|i| (*i).into()).collect();
    if address_n.first() != Some(&(0x8000_0000 | 44)) {
        return Err(failure(FailureType::DataError, "Forbidden key path"));
    }
    let key = derive(ctx, &master, &path)?.private_key;
    let public = PublicKey::from_secret_key(&ctx.secp, &key).serialize_uncompressed();
    Ok((key, Address::from_raw_public_key(&public[1..])))
}

pub(super) fn get_address(io: &Io, ctx: &Ctx, req: m::EthereumGetAddress) -> Flow<Out> {
    let (_, address) = key_and_address(io, ctx, &req.address_n)?;
    let text = address.to_checksum(None);
    if req.show_display == Some(true) {
        confirm(
            io,
            ctx,
            m::ButtonRequestType::Address,
            Screen {
                title: "Receive address".into(),
                fields: vec![("Address".into(), text.clone())],
            },
        )?;
    }
    Ok(send(&m::EthereumAddress {
        old_address: None,
        address: Some(text),
    }))
}

/// A big-endian integer field: at most 32 bytes, no leading zero.
fn uint(b: &[u8]) -> Flow<U256> {
    if b.len() > 32 || b.first() == Some(&0) {
        return Err(failure(FailureType::DataError, "Invalid integer"));
    }
    Ok(U256::from_be_slice(b))
}

fn recipient(to: Option<&str>) -> Flow<(Vec<u8>, String)> {
    match to.unwrap_or("") {
        "" => Ok((Vec::new(), "new contract".into())),
        t => {
            let a: Address = t
                .parse()
                .map_err(|_| failure(FailureType::DataError, "Invalid recipient address"))?;
            Ok((a.to_vec(), a.to_checksum(None)))
        }
    }
}

/// The whole data field: the first chunk, then what the device asks the host for.
fn collect_data(io: &Io, first: Option<Vec<u8>>, total: u32) -> Flow<Vec<u8>> {
    let total = total as usize;
    let mut data = first.unwrap_or_default();
    if data.len() > total || (data.len() < total && data.len() < CHUNK.min(total)) {
        return Err(failure(
            FailureType::DataError,
            "Invalid size of initial chunk",
        ));
    }
    while data.len() < total {
        let want = (total - data.len()).min(CHUNK);
        let ack: m::EthereumTxAck = expect(ask(
            io,
            &m::EthereumTxRequest {
                data_length: Some(want as u32),
                ..Default::default()
            },
        )?)?;
        if ack.data_chunk.len() != want {
            return Err(failure(FailureType::DataError, "Invalid data chunk"));
        }
        data.extend_from_slice(&ack.data_chunk);
    }
    Ok(data)
}

fn review(
    io: &Io,
    ctx: &Ctx,
    to: &str,
    value: U256,
    max_fee: U256,
    chain_id: u64,
    data: &[u8],
) -> Flow<()> {
    let mut fields = vec![
        ("Recipient".to_owned(), to.to_owned()),
        ("Amount".to_owned(), evm::eth_amount(value)),
        ("Maximum fee".to_owned(), evm::eth_amount(max_fee)),
        ("Chain ID".to_owned(), chain_id.to_string()),
    ];
    if !data.is_empty() {
        fields.push(("Data".into(), format!("{} bytes", data.len())));
    }
    confirm(
        io,
        ctx,
        m::ButtonRequestType::SignTx,
        Screen {
            title: "Confirm transaction".into(),
            fields,
        },
    )
}

fn signature(
    ctx: &Ctx,
    key: &bitcoin::secp256k1::SecretKey,
    hash: &B256,
    v_of: impl Fn(u8) -> u32,
) -> Flow<Out> {
    let (rec, rs) = evm::sign_digest(&ctx.secp, key, hash)
        .ok_or_else(|| failure(FailureType::ProcessError, "Signing failed"))?;
    Ok(send(&m::EthereumTxRequest {
        data_length: None,
        signature_v: Some(v_of(rec)),
        signature_r: Some(rs[..32].to_vec()),
        signature_s: Some(rs[32..].to_vec()),
    }))
}

pub(super) fn sign_eip1559(io: &Io, ctx: &Ctx, req: m::EthereumSignTxEip1559) -> Flow<Out> {
    if !req.access_list.is_empty() {
        return Err(failure(
            FailureType::DataError,
            "Access lists are not supported by this simulator",
        ));
    }
    let (key, _) = key_and_address(io, ctx, &req.address_n)?;
    let (to, shown_to) = recipient(req.to.as_deref())?;
    let (nonce, max_fee, tip, gas, value) = (
        uint(&req.nonce)?,
        uint(&req.max_gas_fee)?,
        uint(&req.max_priority_fee)?,
        uint(&req.gas_limit)?,
        uint(&req.value)?,
    );
    if req.chain_id == 0 || gas.is_zero() {
        return Err(failure(
            FailureType::DataError,
            "Chain ID and gas limit must not be zero",
        ));
    }
    let data = collect_data(io, req.data_initial_chunk, req.data_length)?;
    review(
        io,
        ctx,
        &shown_to,
        value,
        max_fee.saturating_mul(gas),
        req.chain_id,
        &data,
    )?;
    let fields = [
        rlp::encode_bytes(&evm_be(U256::from(req.chain_id))),
        rlp::encode_bytes(&req.nonce),
        rlp::encode_bytes(&req.max_priority_fee),
        rlp::encode_bytes(&req.max_gas_fee),
        rlp::encode_bytes(&req.gas_limit),
        rlp::encode_bytes(&to),
        rlp::encode_bytes(&req.value),
        rlp::encode_bytes(&data),
        rlp::encode_list(&[]),
    ];
    let _ = (nonce, tip);
    let mut payload = vec![0x02];
    payload.extend_from_slice(&rlp::encode_list(&fields));
    signature(ctx, &key, &keccak256(&payload), u32::from)
}

pub(super) fn sign_legacy(io: &Io, ctx: &Ctx, req: m::EthereumSignTx) -> Flow<Out> {
    let (key, _) = key_and_address(io, ctx, &req.address_n)?;
    let (to, shown_to) = recipient(req.to.as_deref())?;
    let nonce = req.nonce.clone().unwrap_or_default();
    let value = req.value.clone().unwrap_or_default();
    let (price, gas, amount) = (uint(&req.gas_price)?, uint(&req.gas_limit)?, uint(&value)?);
    uint(&nonce)?;
    if req.chain_id == 0 || gas.is_zero() {
        return Err(failure(
            FailureType::DataError,
            "Chain ID and gas limit must not be zero",
        ));
    }
    let data = collect_data(io, req.data_initial_chunk, req.data_length.unwrap_or(0))?;
    review(
        io,
        ctx,
        &shown_to,
        amount,
        price.saturating_mul(gas),
        req.chain_id,
        &data,
    )?;
    let fields = [
        rlp::encode_bytes(&nonce),
        rlp::encode_bytes(&req.gas_price),
        rlp::encode_bytes(&req.gas_limit),
        rlp::encode_bytes(&to),
        rlp::encode_bytes(&value),
        rlp::encode_bytes(&data),
        rlp::encode_bytes(&evm_be(U256::from(req.chain_id))),
        rlp::encode_bytes(&[]),
        rlp::encode_bytes(&[]),
    ];
    let chain_id = req.chain_id;
    signature(
        ctx,
        &key,
        &keccak256(rlp::encode_list(&fields)),
        move |rec| {
            if chain_id > MAX_CHAIN_ID {
                u32::from(rec)
            } else {
                u32::from(rec) + 2 * chain_id as u32 + 35
            }
        },
    )
}

pub(super) fn sign_message(io: &Io, ctx: &Ctx, req: m::EthereumSignMessage) -> Flow<Out> {
    let (key, address) = key_and_address(io, ctx, &req.address_n)?;
    let shown = match std::str::from_utf8(&req.message) {
        Ok(t) if !t.chars().any(char::is_control) => t.to_owned(),
        _ => format!("0x{}", alloy_primitives::hex::encode(&req.message)),
    };
    confirm(
        io,
        ctx,
        m::ButtonRequestType::ProtectCall,
        Screen {
            title: "Sign message".into(),
            fields: vec![
                ("Address".into(), address.to_checksum(None)),
                ("Message".into(), shown),
            ],
        },
    )?;
    let (rec, mut sig) = evm::sign_digest(&ctx.secp, &key, &eip191_hash_message(&req.message))
        .ok_or_else(|| failure(FailureType::ProcessError, "Signing failed"))?;
    sig.push(27 + rec);
    Ok(send(&m::EthereumMessageSignature {
        signature: sig,
        address: address.to_checksum(None),
    }))
}

fn evm_be(v: U256) -> Vec<u8> {
    let b = v.to_be_bytes::<32>();
    let start = b.iter().position(|x| *x != 0).unwrap_or(32);
    b[start..].to_vec()
}

// ---- KeepKey's layouts ----------------------------------------------------------------------

pub(super) fn keepkey_get_address(io: &Io, ctx: &Ctx, req: m::EthereumGetAddress) -> Flow<Out> {
    let (_, address) = key_and_address(io, ctx, &req.address_n)?;
    if req.show_display == Some(true) {
        confirm(
            io,
            ctx,
            m::ButtonRequestType::Address,
            Screen {
                title: "Receive address".into(),
                fields: vec![("Address".into(), address.to_checksum(None))],
            },
        )?;
    }
    Ok(send(&m::keepkey::EthereumAddress {
        address: Some(address.to_vec()),
        address_str: None,
    }))
}

pub(super) fn keepkey_sign(io: &Io, ctx: &Ctx, req: m::keepkey::EthereumSignTx) -> Flow<Out> {
    let (key, _) = key_and_address(io, ctx, &req.address_n)?;
    let to = req.to.clone().unwrap_or_default();
    let shown_to = match to.len() {
        0 => "new contract".to_owned(),
        20 => Address::from_slice(&to).to_checksum(None),
        _ => return Err(failure(FailureType::DataError, "Invalid recipient address")),
    };
    let nonce = req.nonce.clone().unwrap_or_default();
    let gas = req.gas_limit.clone().unwrap_or_default();
    let value = req.value.clone().unwrap_or_default();
    let chain_id = u64::from(req.chain_id.unwrap_or(0));
    uint(&nonce)?;
    let (gas_n, amount) = (uint(&gas)?, uint(&value)?);
    if chain_id == 0 || gas_n.is_zero() {
        return Err(failure(
            FailureType::DataError,
            "Chain ID and gas limit must not be zero",
        ));
    }
    let data = collect_data(
        io,
        req.data_initial_chunk.clone(),
        req.data_length.unwrap_or(0),
    )?;
    let eip1559 = req.r#type == Some(2);
    let price = if eip1559 {
        req.max_fee_per_gas.clone()
    } else {
        req.gas_price.clone()
    }
    .unwrap_or_default();
    review(
        io,
        ctx,
        &shown_to,
        amount,
        uint(&price)?.saturating_mul(gas_n),
        chain_id,
        &data,
    )?;
    let chain = evm_be(U256::from(chain_id));
    if eip1559 {
        let tip = req.max_priority_fee_per_gas.clone().unwrap_or_default();
        uint(&tip)?;
        let fields = [
            rlp::encode_bytes(&chain),
            rlp::encode_bytes(&nonce),
            rlp::encode_bytes(&tip),
            rlp::encode_bytes(&price),
            rlp::encode_bytes(&gas),
            rlp::encode_bytes(&to),
            rlp::encode_bytes(&value),
            rlp::encode_bytes(&data),
            rlp::encode_list(&[]),
        ];
        let mut payload = vec![0x02];
        payload.extend_from_slice(&rlp::encode_list(&fields));
        return signature(ctx, &key, &keccak256(&payload), u32::from);
    }
    let fields = [
        rlp::encode_bytes(&nonce),
        rlp::encode_bytes(&price),
        rlp::encode_bytes(&gas),
        rlp::encode_bytes(&to),
        rlp::encode_bytes(&value),
        rlp::encode_bytes(&data),
        rlp::encode_bytes(&chain),
        rlp::encode_bytes(&[]),
        rlp::encode_bytes(&[]),
    ];
    signature(
        ctx,
        &key,
        &keccak256(rlp::encode_list(&fields)),
        move |rec| u32::from(rec) + 2 * chain_id as u32 + 35,
    )
}

pub(super) fn keepkey_sign_message(
    io: &Io,
    ctx: &Ctx,
    req: m::keepkey::EthereumSignMessage,
) -> Flow<Out> {
    let (key, address) = key_and_address(io, ctx, &req.address_n)?;
    confirm(
        io,
        ctx,
        m::ButtonRequestType::ProtectCall,
        Screen {
            title: "Sign message".into(),
            fields: vec![(
                "Message".into(),
                String::from_utf8_lossy(&req.message).into_owned(),
            )],
        },
    )?;
    let (rec, mut sig) = evm::sign_digest(&ctx.secp, &key, &eip191_hash_message(&req.message))
        .ok_or_else(|| failure(FailureType::ProcessError, "Signing failed"))?;
    sig.push(27 + rec);
    Ok(send(&m::keepkey::EthereumMessageSignature {
        address: Some(address.to_vec()),
        signature: Some(sig),
    }))
}
