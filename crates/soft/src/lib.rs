//! The software wallet: a BIP39 seed held in memory (the keystore keeps it encrypted at
//! rest) behind the same `Signer` traits the hardware wallets implement, so every flow above
//! treats it like any other signer. Bitcoin signing is rust-bitcoin's own PSBT signer; EVM
//! signing is recoverable ECDSA over the transaction's signing hash.

mod mnemonic;

use alloy_consensus::{SignableTransaction, Signed, TypedTransaction};
use alloy_primitives::{eip191_hash_message, Address, Signature, B256, U256};
use bitcoin::{
    bip32::{ChildNumber, DerivationPath, Xpriv, Xpub},
    psbt::Psbt,
    secp256k1::{All, Message, Secp256k1, SecretKey},
    Address as BtcAddress, CompressedPublicKey, Network, NetworkKind,
};
use coldlink_signer::{
    BitcoinSigner, Capabilities, Interaction, ScriptKind, Signer, SignerError, SignerKind,
};
use coldlink_types::{Fingerprint, Sensitive};

pub use mnemonic::{generate_mnemonic, parse_mnemonic, suggest, MnemonicError};

/// A software wallet. Its `Debug` shows no key material.
pub struct SoftWallet {
    secp: Secp256k1<All>,
    master: Xpriv,
    /// Keys already derived, by path: BIP32 derivation costs several signatures' worth of
    /// work, and accounts sign again and again with the same few keys.
    derived: std::sync::Mutex<std::collections::HashMap<DerivationPath, SecretKey>>,
}

impl std::fmt::Debug for SoftWallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SoftWallet(<redacted>)")
    }
}

impl Drop for SoftWallet {
    fn drop(&mut self) {
        self.master.private_key.non_secure_erase();
        if let Ok(mut keys) = self.derived.lock() {
            keys.values_mut().for_each(SecretKey::non_secure_erase);
        }
    }
}

impl SoftWallet {
    /// The wallet of a checked mnemonic and optional BIP39 passphrase.
    pub fn from_mnemonic(
        words: &Sensitive<String>,
        passphrase: &Sensitive<String>,
    ) -> Result<Self, MnemonicError> {
        let m = parse_mnemonic(words.expose())?;
        let seed = zeroize::Zeroizing::new(m.to_seed_normalized(passphrase.expose()));
        Self::from_seed(seed.as_ref()).map_err(|_| MnemonicError::Checksum)
    }

    /// The wallet of a raw BIP32 seed (16–64 bytes).
    pub fn from_seed(seed: &[u8]) -> Result<Self, SignerError> {
        let master = Xpriv::new_master(NetworkKind::Main, seed)
            .map_err(|e| SignerError::InvalidRequest(format!("unusable seed: {e}")))?;
        Ok(Self {
            secp: blinded_context()?,
            master,
            derived: Default::default(),
        })
    }

    fn key(&self, path: &DerivationPath) -> Result<SecretKey, SignerError> {
        let mut cache = self.derived.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = cache.get(path) {
            return Ok(*k);
        }
        let k = self
            .master
            .derive_priv(&self.secp, path)
            .map(|x| x.private_key)
            .map_err(|e| SignerError::InvalidRequest(format!("cannot derive {path}: {e}")))?;
        // A bounded cache: accounts use few keys; a scan over many addresses must not grow it.
        if cache.len() >= 256 {
            cache.values_mut().for_each(SecretKey::non_secure_erase);
            cache.clear();
        }
        cache.insert(path.clone(), k);
        Ok(k)
    }

    /// The Ethereum address at `path`.
    pub fn eth_address(&self, path: &DerivationPath) -> Result<Address, SignerError> {
        let pk = self
            .key(path)?
            .public_key(&self.secp)
            .serialize_uncompressed();
        Ok(Address::from_raw_public_key(&pk[1..]))
    }

    fn sign_hash(&self, path: &DerivationPath, hash: &B256) -> Result<Signature, SignerError> {
        sign_hash_with(&self.secp, &self.key(path)?, hash)
    }

    /// Signs an EVM transaction (legacy/EIP-155, EIP-2930, EIP-1559) with the key at `path`.
    pub fn sign_evm_transaction(
        &self,
        path: &DerivationPath,
        tx: TypedTransaction,
    ) -> Result<Signed<TypedTransaction>, SignerError> {
        let sig = self.sign_hash(path, &tx.signature_hash())?;
        Ok(tx.into_signed(sig))
    }

    /// Signs `message` as an EIP-191 personal message with the key at `path`.
    pub fn sign_personal_message(
        &self,
        path: &DerivationPath,
        message: &[u8],
    ) -> Result<Signature, SignerError> {
        self.sign_hash(path, &eip191_hash_message(message))
    }
}

/// A context blinded with fresh OS randomness. Done here rather than left to the library's
/// defaults because the workspace turns the default blinding off for public-key-only contexts
/// (see `coldlink-btc`'s manifest); this one computes with secret keys.
fn blinded_context() -> Result<Secp256k1<All>, SignerError> {
    let mut secp = Secp256k1::new();
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::getrandom(seed.as_mut()).map_err(|e| {
        SignerError::InvalidRequest(format!("the operating system gave no randomness: {e}"))
    })?;
    secp.seeded_randomize(&seed);
    Ok(secp)
}

/// Recoverable ECDSA over a 32-byte hash (RFC 6979 nonces, low-S).
fn sign_hash_with(
    secp: &Secp256k1<All>,
    key: &SecretKey,
    hash: &B256,
) -> Result<Signature, SignerError> {
    let (rec, rs) = secp
        .sign_ecdsa_recoverable(&Message::from_digest(hash.0), key)
        .serialize_compact();
    let parity = match rec.to_i32() {
        0 => false,
        1 => true,
        other => return Err(SignerError::BadResponse(format!("recovery id {other}"))),
    };
    Ok(Signature::new(
        U256::from_be_slice(&rs[..32]),
        U256::from_be_slice(&rs[32..]),
        parity,
    ))
}

impl Signer for SoftWallet {
    fn kind(&self) -> SignerKind {
        SignerKind::Software
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            bitcoin: true,
            taproot: true,
            evm: true,
            display_address: false,
        }
    }

    fn master_fingerprint(&mut self) -> Result<Fingerprint, SignerError> {
        Ok(Fingerprint(self.master.fingerprint(&self.secp).to_bytes()))
    }
}

impl BitcoinSigner for SoftWallet {
    fn xpub(&mut self, path: &DerivationPath, _display: bool) -> Result<Xpub, SignerError> {
        let x = self
            .master
            .derive_priv(&self.secp, path)
            .map_err(|e| SignerError::InvalidRequest(e.to_string()))?;
        Ok(Xpub::from_priv(&self.secp, &x))
    }

    /// A software wallet has no screen of its own: it returns the address, and the prompt
    /// tells the UI to show it.
    fn display_address(
        &mut self,
        kind: ScriptKind,
        account_path: &DerivationPath,
        change: bool,
        index: u32,
        ui: &dyn Interaction,
    ) -> Result<String, SignerError> {
        let path = account_path
            .child(ChildNumber::Normal {
                index: u32::from(change),
            })
            .child(
                ChildNumber::from_normal_idx(index)
                    .map_err(|e| SignerError::InvalidRequest(e.to_string()))?,
            );
        let network = match account_path.as_ref().get(1) {
            Some(ChildNumber::Hardened { index: 0 }) => Network::Bitcoin,
            _ => Network::Testnet,
        };
        let pk = CompressedPublicKey(self.key(&path)?.public_key(&self.secp));
        let address = match kind {
            ScriptKind::Legacy => BtcAddress::p2pkh(pk, network),
            ScriptKind::NestedSegwit => BtcAddress::p2shwpkh(&pk, network),
            ScriptKind::NativeSegwit => BtcAddress::p2wpkh(&pk, network),
            ScriptKind::Taproot => {
                BtcAddress::p2tr(&self.secp, pk.0.x_only_public_key().0, None, network)
            }
        }
        .to_string();
        ui.confirm_on_device(&coldlink_signer::Prompt::Address(address.clone()));
        Ok(address)
    }

    fn sign_psbt(&mut self, psbt: &mut Psbt, _ui: &dyn Interaction) -> Result<usize, SignerError> {
        match psbt.sign(&self.master, &self.secp) {
            Ok(keys) => Ok(keys
                .values()
                .filter(|k| match k {
                    bitcoin::psbt::SigningKeys::Ecdsa(v) => !v.is_empty(),
                    bitcoin::psbt::SigningKeys::Schnorr(v) => !v.is_empty(),
                })
                .count()),
            Err((_, errors)) => Err(SignerError::InvalidRequest(format!(
                "cannot sign {} input(s): {:?}",
                errors.len(),
                errors.values().next()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use alloy_consensus::TxLegacy;
    use alloy_primitives::{address, Bytes, TxKind};

    use super::*;

    /// EIP-155's worked example: nonce 9, 20 gwei, 21000 gas, to 0x3535…35, 1 ether, chain 1,
    /// private key 0x4646…46; the EIP publishes the signed transaction.
    #[test]
    fn eip155_example_signs_to_the_published_bytes() {
        let secp = Secp256k1::new();
        let key = SecretKey::from_slice(&[0x46; 32]).expect("key");
        let tx = TypedTransaction::Legacy(TxLegacy {
            chain_id: Some(1),
            nonce: 9,
            gas_price: 20_000_000_000,
            gas_limit: 21_000,
            to: TxKind::Call(address!("3535353535353535353535353535353535353535")),
            value: U256::from(10u128.pow(18)),
            input: Bytes::new(),
        });
        assert_eq!(
            alloy_primitives::hex::encode(tx.signature_hash()),
            "daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53"
        );
        let sig = sign_hash_with(&secp, &key, &tx.signature_hash()).expect("sig");
        let signed = tx.into_signed(sig);
        let mut raw = Vec::new();
        alloy_consensus::transaction::RlpEcdsaEncodableTx::rlp_encode_signed(
            match signed.tx() {
                TypedTransaction::Legacy(t) => t,
                _ => unreachable!(),
            },
            signed.signature(),
            &mut raw,
        );
        assert_eq!(
            alloy_primitives::hex::encode(raw),
            "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83"
        );
        let _ = DerivationPath::from_str("m").expect("path");
    }
}
