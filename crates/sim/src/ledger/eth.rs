//! The simulated Ethereum app: addresses, transaction and personal-message signing.
//!
//! Like the device, it parses the RLP it is sent to know where the transaction ends and to
//! show what it signs, and hashes exactly the bytes it received.

use alloy_primitives::{eip191_hash_message, keccak256, Address, B256, U256};
use bitcoin::{bip32::DerivationPath, secp256k1::PublicKey};
use coldlink_ledger::{path, sw, Apdu};

use super::{ok, status, LedgerSim, Outcome};
use crate::{
    rlp::{self, Item},
    Screen,
};

#[derive(Default)]
pub(super) struct EthApp {
    pending: Option<Pending>,
}

enum Kind {
    Transaction,
    Message,
}

struct Pending {
    kind: Kind,
    path: DerivationPath,
    buf: Vec<u8>,
    total: usize,
}

pub(super) fn handle(dev: &mut LedgerSim, apdu: &Apdu) -> Outcome {
    match apdu.ins {
        0x06 => ok(vec![0x01, 1, 10, 3]),
        0x02 => address(dev, apdu),
        0x04 | 0x08 => sign(dev, apdu),
        _ => status(sw::INS_NOT_SUPPORTED),
    }
}

fn uncompressed(dev: &LedgerSim, p: &DerivationPath) -> Option<([u8; 65], [u8; 32])> {
    let x = dev.master.derive_priv(&dev.secp, p).ok()?;
    let key = PublicKey::from_secret_key(&dev.secp, &x.private_key).serialize_uncompressed();
    Some((key, x.chain_code.to_bytes()))
}

fn address(dev: &mut LedgerSim, apdu: &Apdu) -> Outcome {
    let Some((p, [])) = path::decode(&apdu.data) else {
        return status(sw::WRONG_DATA);
    };
    let Some((key, chain_code)) = uncompressed(dev, &p) else {
        return status(sw::WRONG_DATA);
    };
    let addr = Address::from_raw_public_key(&key[1..]);
    let shown = addr.to_checksum(None);
    let mut out = vec![65];
    out.extend_from_slice(&key);
    out.push(40);
    out.extend_from_slice(shown.trim_start_matches("0x").as_bytes());
    if apdu.p2 == 1 {
        out.extend_from_slice(&chain_code);
    }
    if apdu.p1 == 0 {
        return ok(out);
    }
    let screen = Screen {
        title: "Verify address".into(),
        fields: vec![("Address".into(), shown)],
    };
    dev.confirm_then(screen, || ok(out))
}

/// Length of a whole transaction from its first bytes: an optional type byte, then one list.
fn tx_len(b: &[u8]) -> Option<usize> {
    match b.first()? {
        0x01 | 0x02 => rlp::item_len(&b[1..])?.checked_add(1),
        0xc0..=0xff => rlp::item_len(b),
        _ => None,
    }
}

fn sign(dev: &mut LedgerSim, apdu: &Apdu) -> Outcome {
    let is_tx = apdu.ins == 0x04;
    match apdu.p1 {
        0x00 => {
            let Some((p, rest)) = path::decode(&apdu.data) else {
                return status(sw::WRONG_DATA);
            };
            let (kind, total, body) = if is_tx {
                match tx_len(rest) {
                    Some(t) => (Kind::Transaction, t, rest),
                    None => return status(sw::WRONG_DATA),
                }
            } else {
                let Some((len, body)) = rest.split_first_chunk::<4>() else {
                    return status(sw::WRONG_DATA);
                };
                (Kind::Message, u32::from_be_bytes(*len) as usize, body)
            };
            dev.eth.pending = Some(Pending {
                kind,
                path: p,
                buf: body.to_vec(),
                total,
            });
        }
        0x80 => match dev.eth.pending.as_mut() {
            Some(pending) if matches!(pending.kind, Kind::Transaction) == is_tx => {
                pending.buf.extend_from_slice(&apdu.data);
            }
            _ => return status(sw::WRONG_DATA),
        },
        _ => return status(sw::WRONG_P1P2),
    }
    let complete = dev
        .eth
        .pending
        .as_ref()
        .is_some_and(|p| p.buf.len() >= p.total);
    if !complete {
        return ok(vec![]);
    }
    let Some(pending) = dev.eth.pending.take() else {
        return status(sw::WRONG_DATA);
    };
    if pending.buf.len() != pending.total {
        return status(sw::WRONG_DATA);
    }
    match pending.kind {
        Kind::Transaction => sign_tx(dev, &pending.path, &pending.buf),
        Kind::Message => sign_message(dev, &pending.path, &pending.buf),
    }
}

fn uint(b: &[u8]) -> Option<U256> {
    (b.len() <= 32).then(|| U256::from_be_slice(b))
}

use crate::evm::eth_amount as eth;

struct TxView {
    chain_id: Option<U256>,
    to: String,
    value: U256,
    max_fee: U256,
    data_len: usize,
}

/// Reads the fields the device shows, by transaction type.
fn view(payload: &[u8]) -> Option<TxView> {
    let (ty, list) = match payload.first()? {
        0x01 | 0x02 => (payload[0], &payload[1..]),
        _ => (0, payload),
    };
    let (Item::List(f), []) = rlp::decode(list)? else {
        return None;
    };
    let b = |i: usize| f.get(i).and_then(Item::bytes);
    // Field positions: legacy [nonce, gasPrice, gas, to, value, data, (chainId, 0, 0)];
    // 2930 [chainId, nonce, gasPrice, gas, to, value, data, accessList];
    // 1559 [chainId, nonce, tip, maxFee, gas, to, value, data, accessList].
    let (chain, price, gas, to, value, data) = match ty {
        0 => (
            f.get(6).and_then(Item::bytes),
            b(1)?,
            b(2)?,
            b(3)?,
            b(4)?,
            b(5)?,
        ),
        1 => (b(0), b(2)?, b(3)?, b(4)?, b(5)?, b(6)?),
        _ => (b(0), b(3)?, b(4)?, b(5)?, b(6)?, b(7)?),
    };
    let to = match to.len() {
        0 => "contract creation".to_owned(),
        20 => Address::from_slice(to).to_checksum(None),
        _ => return None,
    };
    Some(TxView {
        chain_id: chain.and_then(uint),
        to,
        value: uint(value)?,
        max_fee: uint(price)?.checked_mul(uint(gas)?)?,
        data_len: data.len(),
    })
}

fn sign_tx(dev: &mut LedgerSim, p: &DerivationPath, payload: &[u8]) -> Outcome {
    let Some(v) = view(payload) else {
        return status(sw::WRONG_DATA);
    };
    let mut fields = vec![
        ("Amount".to_owned(), eth(v.value)),
        ("Address".to_owned(), v.to.clone()),
        ("Max Fees".to_owned(), eth(v.max_fee)),
    ];
    if let Some(c) = v.chain_id {
        fields.push(("Chain ID".to_owned(), c.to_string()));
    }
    if v.data_len > 0 {
        fields.push(("Data".to_owned(), format!("{} bytes", v.data_len)));
    }
    let screen = Screen {
        title: "Review transaction".into(),
        fields,
    };
    let hash = keccak256(payload);
    let typed = matches!(payload.first(), Some(0x01 | 0x02));
    dev.confirm_then(screen, || {
        let Some((rec, mut sig)) = sign_hash(dev, p, &hash) else {
            return status(sw::WRONG_DATA);
        };
        // The app's v: the parity for typed transactions; for legacy ones 27 + parity, or
        // EIP-155's chainId·2 + 35 + parity truncated to one byte, as the device sends it.
        let v = if typed {
            rec
        } else {
            match v.chain_id {
                Some(c) => {
                    let full = c
                        .wrapping_mul(U256::from(2))
                        .wrapping_add(U256::from(35 + u64::from(rec)));
                    full.as_le_bytes()[0]
                }
                None => 27 + rec,
            }
        };
        sig.insert(0, v);
        ok(sig)
    })
}

fn sign_message(dev: &mut LedgerSim, p: &DerivationPath, msg: &[u8]) -> Outcome {
    let shown = if msg.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        String::from_utf8_lossy(msg).into_owned()
    } else {
        format!("0x{}", alloy_primitives::hex::encode(msg))
    };
    let screen = Screen {
        title: "Sign message".into(),
        fields: vec![("Message".into(), shown)],
    };
    let hash = eip191_hash_message(msg);
    dev.confirm_then(screen, || match sign_hash(dev, p, &hash) {
        Some((rec, mut sig)) => {
            sig.insert(0, 27 + rec);
            ok(sig)
        }
        None => status(sw::WRONG_DATA),
    })
}

/// Recoverable ECDSA over `hash` with the key at `p`: (recovery id, r‖s).
fn sign_hash(dev: &LedgerSim, p: &DerivationPath, hash: &B256) -> Option<(u8, Vec<u8>)> {
    crate::evm::sign_digest(&dev.secp, &dev.key(p)?, hash)
}
