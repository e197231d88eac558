//! What both simulated wallets' Ethereum sides share: how amounts are shown and how a digest
//! is signed with a recoverable signature.

use alloy_primitives::{B256, U256};
use bitcoin::secp256k1::{All, Message, Secp256k1, SecretKey};
use coldlink_types::Amount;

/// An amount in wei as the device shows it ("0.5 ETH").
pub(crate) fn eth_amount(v: U256) -> String {
    match u128::try_from(v) {
        Ok(w) => format!("{} ETH", Amount::wei(w)),
        Err(_) => format!("{v} wei"),
    }
}

/// Recoverable ECDSA over `hash`: (recovery id, r‖s).
pub(crate) fn sign_digest(
    secp: &Secp256k1<All>,
    key: &SecretKey,
    hash: &B256,
) -> Option<(u8, Vec<u8>)> {
    let (rec, rs) = secp
        .sign_ecdsa_recoverable(&Message::from_digest(hash.0), key)
        .serialize_compact();
    Some((u8::try_from(rec.to_i32()).ok()?, rs.to_vec()))
}
