//! The Ethereum app (CLA 0xE0): addresses, transaction and personal-message signing.
//!
//! Payloads longer than one APDU go in 255-byte chunks, the BIP32 path in the first. Every
//! signature is checked before it is returned: the signer recovered from it must be the
//! device's own address for that path, so a wrong signature is an error, never a broadcast.

use alloy_consensus::{SignableTransaction, Signed, TypedTransaction};
use alloy_primitives::{eip191_hash_message, Address, Signature, U256};
use bitcoin::bip32::DerivationPath;
use coldlink_signer::{evm::verified_signature, SignerError};

use crate::{apdu::Apdu, exchange::Exchange, path};

const CLA: u8 = 0xe0;
const INS_GET_ADDRESS: u8 = 0x02;
const INS_SIGN_TX: u8 = 0x04;
const INS_GET_CONFIGURATION: u8 = 0x06;
const INS_SIGN_PERSONAL: u8 = 0x08;
const FIRST: u8 = 0x00;
const MORE: u8 = 0x80;
const CHUNK: usize = 255;
const APP: &str = "Ethereum";

/// An account's public key and address as the device reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EthAddress {
    /// Uncompressed SEC1 public key (65 bytes).
    pub public_key: Vec<u8>,
    /// The address.
    pub address: Address,
    /// BIP32 chain code, when asked for.
    pub chain_code: Option<[u8; 32]>,
}

/// Reads the Ethereum app's version.
pub fn app_version(dev: &mut dyn Exchange) -> Result<String, SignerError> {
    let d = dev
        .exchange(&Apdu::new(CLA, INS_GET_CONFIGURATION, 0, 0, vec![]))?
        .ok(APP)?;
    match d.as_slice() {
        [_flags, major, minor, patch, ..] => Ok(format!("{major}.{minor}.{patch}")),
        _ => Err(SignerError::BadResponse(
            "short configuration answer".into(),
        )),
    }
}

/// The address at `path`; with `display` the device shows it and waits for the user.
pub fn address(
    dev: &mut dyn Exchange,
    path: &DerivationPath,
    display: bool,
    chain_code: bool,
) -> Result<EthAddress, SignerError> {
    let data = path::encode(path)?;
    let r = dev
        .exchange(&Apdu::new(
            CLA,
            INS_GET_ADDRESS,
            u8::from(display),
            u8::from(chain_code),
            data,
        ))?
        .ok(APP)?;
    decode_address(&r, chain_code)
}

/// Parses GET_ADDRESS: len-prefixed public key, len-prefixed hex address, optional chain code.
pub fn decode_address(r: &[u8], with_chain_code: bool) -> Result<EthAddress, SignerError> {
    let bad = |what: &str| SignerError::BadResponse(format!("address answer: {what}"));
    let (&klen, rest) = r.split_first().ok_or_else(|| bad("empty"))?;
    let klen = usize::from(klen);
    if klen != 65 || rest.len() < klen + 1 {
        return Err(bad("public key"));
    }
    let (key, rest) = rest.split_at(klen);
    let (&alen, rest) = rest.split_first().ok_or_else(|| bad("no address"))?;
    let alen = usize::from(alen);
    if alen != 40 || rest.len() < alen {
        return Err(bad("address length"));
    }
    let (hex, rest) = rest.split_at(alen);
    let text = std::str::from_utf8(hex).map_err(|_| bad("address text"))?;
    let address: Address = format!("0x{text}")
        .parse()
        .map_err(|_| bad("address hex"))?;
    // The address must be the one the public key hashes to.
    if Address::from_raw_public_key(&key[1..]) != address || key[0] != 0x04 {
        return Err(bad("address does not match its public key"));
    }
    let chain_code = if with_chain_code {
        let cc: [u8; 32] = rest
            .get(..32)
            .and_then(|c| c.try_into().ok())
            .ok_or_else(|| bad("chain code"))?;
        Some(cc)
    } else {
        None
    };
    Ok(EthAddress {
        public_key: key.to_vec(),
        address,
        chain_code,
    })
}

/// Sends `payload` in chunks with the path in the first; returns the last answer's data.
fn send_chunked(
    dev: &mut dyn Exchange,
    ins: u8,
    first: Vec<u8>,
    payload: &[u8],
) -> Result<Vec<u8>, SignerError> {
    let mut head = first;
    let room = CHUNK.saturating_sub(head.len());
    let split = payload.len().min(room);
    head.extend_from_slice(&payload[..split]);
    let mut answer = dev
        .exchange(&Apdu::new(CLA, ins, FIRST, 0, head))?
        .ok(APP)?;
    for chunk in payload[split..].chunks(CHUNK) {
        answer = dev
            .exchange(&Apdu::new(CLA, ins, MORE, 0, chunk.to_vec()))?
            .ok(APP)?;
    }
    Ok(answer)
}

/// Splits a v‖r‖s answer.
fn vrs(d: &[u8]) -> Result<(u8, U256, U256), SignerError> {
    if d.len() < 65 {
        return Err(SignerError::BadResponse(format!(
            "signature of {} bytes",
            d.len()
        )));
    }
    Ok((
        d[0],
        U256::from_be_slice(&d[1..33]),
        U256::from_be_slice(&d[33..65]),
    ))
}

/// Signs a transaction (legacy/EIP-155, EIP-2930 or EIP-1559) at `path` after the user
/// confirms it on the device; returns it signed and verified.
pub fn sign_transaction(
    dev: &mut dyn Exchange,
    path: &DerivationPath,
    tx: TypedTransaction,
) -> Result<Signed<TypedTransaction>, SignerError> {
    if !matches!(
        tx,
        TypedTransaction::Legacy(_) | TypedTransaction::Eip2930(_) | TypedTransaction::Eip1559(_)
    ) {
        return Err(SignerError::Unsupported(
            "sign this transaction type on a Ledger",
        ));
    }
    let from = address(dev, path, false, false)?.address;
    let mut payload = Vec::new();
    tx.encode_for_signing(&mut payload);
    let answer = send_chunked(dev, INS_SIGN_TX, path::encode(path)?, &payload)?;
    let (_v, r, s) = vrs(&answer)?;
    let hash = tx.signature_hash();
    let sig = verified_signature(r, s, &hash, from)?;
    Ok(tx.into_signed(sig))
}

/// Signs `message` as an EIP-191 personal message at `path`; returns the signature and the
/// address it verifies against.
pub fn sign_personal_message(
    dev: &mut dyn Exchange,
    path: &DerivationPath,
    message: &[u8],
) -> Result<(Signature, Address), SignerError> {
    let from = address(dev, path, false, false)?.address;
    let len = u32::try_from(message.len())
        .map_err(|_| SignerError::InvalidRequest("message too long".into()))?;
    let mut first = path::encode(path)?;
    first.extend_from_slice(&len.to_be_bytes());
    let answer = send_chunked(dev, INS_SIGN_PERSONAL, first, message)?;
    let (_v, r, s) = vrs(&answer)?;
    let sig = verified_signature(r, s, &eip191_hash_message(message), from)?;
    Ok((sig, from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_answers_are_checked_against_their_key() {
        // Any 65 bytes in uncompressed-key layout: the check is that the reported address is
        // the hash of the reported key, which needs no curve arithmetic.
        let key = hex_decode(
            "04a2cc8a1d4b8d15a4a9e2fb1a6d4f9b9e0d2a5f7f5a1c1e1c35a5a3fdc2d0dc1d7b3e0f2c4f3a8f7f2b2ab2f4b8a3f9c2d1e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b",
        );
        let addr = Address::from_raw_public_key(&key[1..]);
        let mut answer = vec![65];
        answer.extend_from_slice(&key);
        answer.push(40);
        answer.extend_from_slice(hex_lower(addr.as_slice()).as_bytes());
        let parsed = decode_address(&answer, false).expect("valid");
        assert_eq!(parsed.address, addr);
        let mut wrong = answer.clone();
        let last = wrong.len() - 1;
        wrong[last] = if wrong[last] == b'0' { b'1' } else { b'0' };
        assert!(decode_address(&wrong, false).is_err());
        assert!(decode_address(&answer, true).is_err(), "missing chain code");
        assert!(decode_address(&answer[..30], false).is_err());
        assert!(decode_address(&[], false).is_err());
    }

    fn hex_lower(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn hex_decode(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap_or(0))
            .collect()
    }
}
