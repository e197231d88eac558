//! Ethereum on a Trezor-family device: addresses, transactions (EIP-1559 and legacy/EIP-155,
//! data sent in chunks as the device asks for them) and EIP-191 messages. Every signature is
//! recovered and must come from the account's address before it is returned.

use std::{str::FromStr, sync::Arc};

use alloy_consensus::{SignableTransaction, Signed, TxEip1559, TxLegacy, TypedTransaction};
use alloy_primitives::{eip191_hash_message, Address, Signature, TxKind, U256};
use bitcoin::bip32::DerivationPath;
use coldlink_signer::{evm::verified_signature, Prompt, SignerError};
use coldlink_types::Vendor;
use prost::Message;

use crate::{
    device::{address_n, Trezor},
    messages as m,
    session::decode,
};

/// Data sent with the first message; the device asks for the rest.
const FIRST_CHUNK: usize = 1024;

/// A number as the protocol wants it: big-endian without leading zeros (zero is empty).
pub fn be_bytes(v: U256) -> Vec<u8> {
    let b = v.to_be_bytes::<32>();
    let start = b.iter().position(|x| *x != 0).unwrap_or(32);
    b[start..].to_vec()
}

fn to_field(kind: &TxKind) -> Option<String> {
    match kind {
        TxKind::Call(a) => Some(a.to_checksum(None)),
        TxKind::Create => Some(String::new()),
    }
}

/// Review lines the app shows while the device asks for confirmation.
fn review(to: &TxKind, value: U256, chain_id: u64, fee: String) -> Prompt {
    Prompt::Transaction(vec![
        (
            "To".into(),
            match to {
                TxKind::Call(a) => a.to_checksum(None),
                TxKind::Create => "new contract".into(),
            },
        ),
        ("Amount (wei)".into(), value.to_string()),
        ("Max fee".into(), fee),
        ("Chain id".into(), chain_id.to_string()),
    ])
}

impl Trezor {
    /// The EIP-55 address at `path`; with `display` the device shows it.
    pub fn eth_address(
        &mut self,
        path: &DerivationPath,
        display: bool,
    ) -> Result<Address, SignerError> {
        let mut req = m::EthereumGetAddress {
            address_n: address_n(path),
            show_display: Some(false),
        };
        let ui = Arc::clone(&self.ui);
        let quiet = Prompt::Other("Reading the address".into());
        let keepkey = self.is_keepkey();
        let mut read = |req: &m::EthereumGetAddress,
                        prompt: &Prompt|
         -> Result<Address, SignerError> {
            if keepkey {
                let a: m::keepkey::EthereumAddress = self.session.call(req, prompt, ui.as_ref())?;
                match a.address {
                    Some(b) if b.len() == 20 => Ok(Address::from_slice(&b)),
                    _ => Err(SignerError::BadResponse("no address in the answer".into())),
                }
            } else {
                parse_address(&self.session.call(req, prompt, ui.as_ref())?)
            }
        };
        let address = read(&req, &quiet)?;
        if display {
            req.show_display = Some(true);
            let shown = read(&req, &Prompt::Address(address.to_checksum(None)))?;
            if shown != address {
                return Err(SignerError::BadResponse(
                    "the device showed a different address than it reported".into(),
                ));
            }
        }
        Ok(address)
    }

    /// Signs a legacy (EIP-155) or EIP-1559 transaction at `path` after the user confirms it
    /// on the device; returns it signed and verified.
    pub fn eth_sign_transaction(
        &mut self,
        path: &DerivationPath,
        tx: TypedTransaction,
    ) -> Result<Signed<TypedTransaction>, SignerError> {
        let from = self.eth_address(path, false)?;
        let (msg_type, payload, data, prompt) =
            match (&tx, self.is_keepkey()) {
                (TypedTransaction::Eip1559(t), false) => eip1559_request(path, t)?,
                (TypedTransaction::Legacy(t), false) => legacy_request(path, t)?,
                (TypedTransaction::Eip1559(_) | TypedTransaction::Legacy(_), true) => {
                    keepkey_request(path, &tx)?
                }
                _ => return Err(SignerError::Unsupported(
                    "sign this transaction type on a Trezor or KeepKey (use EIP-1559 or legacy)",
                )),
            };
        let ui = Arc::clone(&self.ui);
        let mut sent = data.len().min(FIRST_CHUNK);
        let mut answer = self
            .session
            .call_raw(msg_type, &payload, &prompt, ui.as_ref())?;
        let req = loop {
            let r: m::EthereumTxRequest = decode(answer.0, &answer.1)?;
            match r.data_length {
                Some(n) if n > 0 && r.signature_r.is_none() => {
                    let n = n as usize;
                    if sent + n > data.len() {
                        self.session.abort();
                        return Err(SignerError::BadResponse(
                            "the device asked for more data than the transaction has".into(),
                        ));
                    }
                    let ack = m::EthereumTxAck {
                        data_chunk: data[sent..sent + n].to_vec(),
                    };
                    sent += n;
                    answer = self.session.call_any(&ack, &prompt, ui.as_ref())?;
                }
                _ => break r,
            }
        };
        let (Some(r), Some(s)) = (req.signature_r, req.signature_s) else {
            return Err(SignerError::BadResponse(
                "no signature in the answer".into(),
            ));
        };
        if r.len() != 32 || s.len() != 32 {
            return Err(SignerError::BadResponse("malformed signature".into()));
        }
        let hash = tx.signature_hash();
        let sig = verified_signature(
            U256::from_be_slice(&r),
            U256::from_be_slice(&s),
            &hash,
            from,
        )?;
        Ok(tx.into_signed(sig))
    }

    /// Signs `message` (EIP-191) at `path`; returns the signature and its verified address.
    pub fn eth_sign_message(
        &mut self,
        path: &DerivationPath,
        message: &[u8],
    ) -> Result<(Signature, Address), SignerError> {
        let from = self.eth_address(path, false)?;
        let ui = Arc::clone(&self.ui);
        let prompt = Prompt::Other(format!(
            "Sign message: {}",
            String::from_utf8_lossy(message)
        ));
        let r: m::EthereumMessageSignature = if self.is_keepkey() {
            let req = m::keepkey::EthereumSignMessage {
                address_n: address_n(path),
                message: message.to_vec(),
            };
            let r: m::keepkey::EthereumMessageSignature =
                self.session.call(&req, &prompt, ui.as_ref())?;
            m::EthereumMessageSignature {
                signature: r.signature.unwrap_or_default(),
                address: r
                    .address
                    .filter(|a| a.len() == 20)
                    .map(|a| Address::from_slice(&a).to_checksum(None))
                    .unwrap_or_default(),
            }
        } else {
            let req = m::EthereumSignMessage {
                address_n: address_n(path),
                message: message.to_vec(),
            };
            self.session.call(&req, &prompt, ui.as_ref())?
        };
        if r.signature.len() != 65 {
            return Err(SignerError::BadResponse("malformed signature".into()));
        }
        let claimed = Address::from_str(&r.address).ok();
        if claimed.is_some_and(|a| a != from) {
            return Err(SignerError::BadResponse(
                "the device signed with another address".into(),
            ));
        }
        let sig = verified_signature(
            U256::from_be_slice(&r.signature[..32]),
            U256::from_be_slice(&r.signature[32..64]),
            &eip191_hash_message(message),
            from,
        )?;
        Ok((sig, from))
    }
}

impl Trezor {
    fn is_keepkey(&self) -> bool {
        self.info.vendor == Vendor::Keepkey
    }
}

/// KeepKey's one EthereumSignTx for both legacy and (with `type` 2) EIP-1559 transactions.
fn keepkey_request(path: &DerivationPath, tx: &TypedTransaction) -> Result<Request, SignerError> {
    let (chain_id, nonce, gas_limit, to, value, input) = match tx {
        TypedTransaction::Eip1559(t) => {
            if !t.access_list.0.is_empty() {
                return Err(SignerError::Unsupported(
                    "sign transactions with an access list on a KeepKey",
                ));
            }
            // Its firmware hashes a 1559 chain id as a single byte.
            if t.chain_id > 255 {
                return Err(SignerError::Unsupported(
                    "sign EIP-1559 transactions for chain ids above 255 on a KeepKey; use a legacy transaction",
                ));
            }
            (t.chain_id, t.nonce, t.gas_limit, t.to, t.value, &t.input)
        }
        TypedTransaction::Legacy(t) => {
            let Some(chain_id) = t.chain_id else {
                return Err(SignerError::InvalidRequest(
                    "refusing to sign without a chain id (no replay protection)".into(),
                ));
            };
            (chain_id, t.nonce, t.gas_limit, t.to, t.value, &t.input)
        }
        _ => {
            return Err(SignerError::Unsupported(
                "sign this transaction type on a KeepKey",
            ))
        }
    };
    let chain = u32::try_from(chain_id)
        .map_err(|_| SignerError::Unsupported("sign for chain ids above 2^32 on a KeepKey"))?;
    let (chunk, len) = data_fields(input)?;
    let mut req = m::keepkey::EthereumSignTx {
        address_n: address_n(path),
        nonce: Some(be_bytes(U256::from(nonce))),
        gas_price: None,
        gas_limit: Some(be_bytes(U256::from(gas_limit))),
        to: Some(match to {
            TxKind::Call(a) => a.to_vec(),
            TxKind::Create => vec![],
        }),
        value: Some(be_bytes(value)),
        data_initial_chunk: chunk,
        data_length: Some(len),
        chain_id: Some(chain),
        max_fee_per_gas: None,
        max_priority_fee_per_gas: None,
        r#type: None,
    };
    let fee = match tx {
        TypedTransaction::Eip1559(t) => {
            req.max_fee_per_gas = Some(be_bytes(U256::from(t.max_fee_per_gas)));
            req.max_priority_fee_per_gas = Some(be_bytes(U256::from(t.max_priority_fee_per_gas)));
            req.r#type = Some(2);
            U256::from(t.max_fee_per_gas) * U256::from(gas_limit)
        }
        TypedTransaction::Legacy(t) => {
            req.gas_price = Some(be_bytes(U256::from(t.gas_price)));
            U256::from(t.gas_price) * U256::from(gas_limit)
        }
        _ => U256::ZERO,
    };
    Ok((
        <m::keepkey::EthereumSignTx as m::Wire>::TYPE,
        req.encode_to_vec(),
        input.to_vec(),
        review(&to, value, chain_id, format!("{fee} wei")),
    ))
}

fn parse_address(a: &m::EthereumAddress) -> Result<Address, SignerError> {
    if let Some(text) = &a.address {
        // All-lowercase has no checksum to check; mixed case must carry a valid EIP-55 one.
        let body = text.strip_prefix("0x").unwrap_or(text);
        let parsed = if body.chars().any(|c| c.is_ascii_uppercase()) {
            Address::parse_checksummed(text, None).ok()
        } else {
            Address::from_str(text).ok()
        };
        return parsed.ok_or_else(|| SignerError::BadResponse(format!("invalid address “{text}”")));
    }
    match &a.old_address {
        Some(b) if b.len() == 20 => Ok(Address::from_slice(b)),
        _ => Err(SignerError::BadResponse("no address in the answer".into())),
    }
}

type Request = (u16, Vec<u8>, Vec<u8>, Prompt);

fn data_fields(data: &[u8]) -> Result<(Option<Vec<u8>>, u32), SignerError> {
    let len = u32::try_from(data.len())
        .map_err(|_| SignerError::InvalidRequest("transaction data too long".into()))?;
    let first = data[..data.len().min(FIRST_CHUNK)].to_vec();
    Ok(((!first.is_empty()).then_some(first), len))
}

fn eip1559_request(path: &DerivationPath, t: &TxEip1559) -> Result<Request, SignerError> {
    if !t.access_list.0.is_empty() {
        return Err(SignerError::Unsupported(
            "sign transactions with an access list on a Trezor from Coldlink yet",
        ));
    }
    let (chunk, len) = data_fields(&t.input)?;
    let req = m::EthereumSignTxEip1559 {
        address_n: address_n(path),
        nonce: be_bytes(U256::from(t.nonce)),
        max_gas_fee: be_bytes(U256::from(t.max_fee_per_gas)),
        max_priority_fee: be_bytes(U256::from(t.max_priority_fee_per_gas)),
        gas_limit: be_bytes(U256::from(t.gas_limit)),
        to: to_field(&t.to),
        value: be_bytes(t.value),
        data_initial_chunk: chunk,
        data_length: len,
        chain_id: t.chain_id,
        access_list: vec![],
    };
    let fee = U256::from(t.max_fee_per_gas) * U256::from(t.gas_limit);
    Ok((
        <m::EthereumSignTxEip1559 as m::Wire>::TYPE,
        req.encode_to_vec(),
        t.input.to_vec(),
        review(&t.to, t.value, t.chain_id, format!("{fee} wei")),
    ))
}

fn legacy_request(path: &DerivationPath, t: &TxLegacy) -> Result<Request, SignerError> {
    let Some(chain_id) = t.chain_id else {
        return Err(SignerError::InvalidRequest(
            "refusing to sign without a chain id (no replay protection)".into(),
        ));
    };
    let (chunk, len) = data_fields(&t.input)?;
    let req = m::EthereumSignTx {
        address_n: address_n(path),
        nonce: Some(be_bytes(U256::from(t.nonce))),
        gas_price: be_bytes(U256::from(t.gas_price)),
        gas_limit: be_bytes(U256::from(t.gas_limit)),
        value: Some(be_bytes(t.value)),
        data_initial_chunk: chunk,
        data_length: Some(len),
        chain_id,
        tx_type: None,
        to: to_field(&t.to),
    };
    let fee = U256::from(t.gas_price) * U256::from(t.gas_limit);
    Ok((
        <m::EthereumSignTx as m::Wire>::TYPE,
        req.encode_to_vec(),
        t.input.to_vec(),
        review(&t.to, t.value, chain_id, format!("{fee} wei")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_minimal_big_endian() {
        assert_eq!(be_bytes(U256::ZERO), Vec::<u8>::new());
        assert_eq!(be_bytes(U256::from(1)), vec![1]);
        assert_eq!(be_bytes(U256::from(0x0100)), vec![1, 0]);
    }

    #[test]
    fn addresses_with_a_wrong_checksum_are_refused() {
        let good = "0x73d0385F4d8E00C5e6504C6030F47BF6212736A8";
        let ok = m::EthereumAddress {
            old_address: None,
            address: Some(good.into()),
        };
        assert!(parse_address(&ok).is_ok());
        let lower = m::EthereumAddress {
            old_address: None,
            address: Some(good.to_lowercase()),
        };
        assert!(parse_address(&lower).is_ok());
        let bad = m::EthereumAddress {
            old_address: None,
            address: Some(good.replace('F', "f").replacen('d', "D", 1)),
        };
        assert!(parse_address(&bad).is_err());
    }
}
