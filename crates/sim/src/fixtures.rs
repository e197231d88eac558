//! Test and benchmark fixtures: PSBTs that spend coins of a given seed's default wallets.
//! The coins are made up (funding transactions that exist nowhere), which is all a signer
//! needs; chain tests fund real coins instead.

use std::collections::BTreeMap;

use bitcoin::{
    absolute::LockTime,
    bip32::{ChildNumber, DerivationPath, Fingerprint, Xpriv},
    psbt::Psbt,
    secp256k1::Secp256k1,
    transaction::Version,
    Address, Amount, CompressedPublicKey, Network, OutPoint, ScriptBuf, Sequence, Transaction,
    TxIn, TxOut, Witness,
};
use coldlink_signer::ScriptKind;

/// The external address the fixtures pay (BIP84's first address of another seed would do as
/// well; this one is a well-known mainnet address).
pub const EXTERNAL: &str = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";

/// A PSBT spending `n` coins (100 000 + i sats, at receive index i) of account 0 of `kind`
/// for `mnemonic` on mainnet: 60 000 sats to [`EXTERNAL`], 1 500 sats fee, the rest to change
/// index 7, with every BIP32 origin a signer needs. Returns it with the coins it spends.
pub fn spending_psbt(
    mnemonic: &str,
    kind: ScriptKind,
    n: usize,
) -> (Psbt, BTreeMap<OutPoint, TxOut>) {
    spending_psbt_on(mnemonic, kind, Network::Bitcoin, n)
}

/// [`spending_psbt`] on another network: coin type 1 and that network's scripts on test
/// networks (what Ledger's "Bitcoin Test" app signs).
pub fn spending_psbt_on(
    mnemonic: &str,
    kind: ScriptKind,
    network: Network,
    n: usize,
) -> (Psbt, BTreeMap<OutPoint, TxOut>) {
    let coin = u32::from(network != Network::Bitcoin);
    let secp = Secp256k1::new();
    let seed = bip39::Mnemonic::parse_normalized(mnemonic)
        .map(|m| m.to_seed(""))
        .unwrap_or([0; 64]);
    let master = Xpriv::new_master(Network::Bitcoin, &seed).unwrap_or_else(|_| unreachable_seed());
    let fp: Fingerprint = master.fingerprint(&secp);
    let purpose = match kind {
        ScriptKind::Legacy => 44,
        ScriptKind::NestedSegwit => 49,
        ScriptKind::NativeSegwit => 84,
        ScriptKind::Taproot => 86,
    };
    let account = DerivationPath::from(vec![
        ChildNumber::Hardened { index: purpose },
        ChildNumber::Hardened { index: coin },
        ChildNumber::Hardened { index: 0 },
    ]);
    let key_at = |change: u32, index: u32| {
        let path = account
            .child(ChildNumber::Normal { index: change })
            .child(ChildNumber::Normal { index });
        let sk = master.derive_priv(&secp, &path).map(|x| x.private_key);
        let pk = CompressedPublicKey(sk.unwrap_or_else(|_| unreachable_key()).public_key(&secp));
        (path, pk)
    };
    let address = |pk: CompressedPublicKey| match kind {
        ScriptKind::Legacy => Address::p2pkh(pk, network),
        ScriptKind::NestedSegwit => Address::p2shwpkh(&pk, network),
        ScriptKind::NativeSegwit => Address::p2wpkh(&pk, network),
        ScriptKind::Taproot => Address::p2tr(&secp, pk.0.x_only_public_key().0, None, network),
    };
    let mut prevouts = BTreeMap::new();
    let mut funding = Vec::new();
    for i in 0..n {
        let (_, pk) = key_at(0, i as u32);
        let prev = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::null(),
                script_sig: ScriptBuf::from_bytes(vec![0x51, i as u8]),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output: vec![TxOut {
                value: Amount::from_sat(100_000 + i as u64),
                script_pubkey: address(pk).script_pubkey(),
            }],
        };
        prevouts.insert(
            OutPoint::new(prev.compute_txid(), 0),
            prev.output[0].clone(),
        );
        funding.push((i as u32, prev));
    }
    let total: u64 = prevouts.values().map(|o| o.value.to_sat()).sum();
    let external = EXTERNAL
        .parse::<Address<bitcoin::address::NetworkUnchecked>>()
        .map(|a| a.assume_checked().script_pubkey())
        .unwrap_or_default();
    let (change_path, change_pk) = key_at(1, 7);
    let tx = Transaction {
        version: Version::TWO,
        lock_time: LockTime::from_consensus(800_000),
        input: funding
            .iter()
            .map(|(_, p)| TxIn {
                previous_output: OutPoint::new(p.compute_txid(), 0),
                script_sig: ScriptBuf::new(),
                sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                witness: Witness::new(),
            })
            .collect(),
        output: vec![
            TxOut {
                value: Amount::from_sat(60_000),
                script_pubkey: external,
            },
            TxOut {
                value: Amount::from_sat(total.saturating_sub(61_500)),
                script_pubkey: address(change_pk).script_pubkey(),
            },
        ],
    };
    let mut psbt = match Psbt::from_unsigned_tx(tx) {
        Ok(p) => p,
        Err(_) => unreachable_psbt(),
    };
    for (input, (index, prev)) in psbt.inputs.iter_mut().zip(funding) {
        let (path, pk) = key_at(0, index);
        if kind != ScriptKind::Legacy {
            input.witness_utxo = Some(prev.output[0].clone());
        }
        input.non_witness_utxo = Some(prev);
        if kind == ScriptKind::Taproot {
            let x = pk.0.x_only_public_key().0;
            input.tap_internal_key = Some(x);
            input.tap_key_origins.insert(x, (vec![], (fp, path)));
        } else {
            input.bip32_derivation.insert(pk.0, (fp, path));
        }
        if kind == ScriptKind::NestedSegwit {
            input.redeem_script = Some(ScriptBuf::new_p2wpkh(&pk.wpubkey_hash()));
        }
    }
    if kind == ScriptKind::Taproot {
        let x = change_pk.0.x_only_public_key().0;
        psbt.outputs[1].tap_internal_key = Some(x);
        psbt.outputs[1]
            .tap_key_origins
            .insert(x, (vec![], (fp, change_path)));
    } else {
        psbt.outputs[1]
            .bip32_derivation
            .insert(change_pk.0, (fp, change_path));
    }
    (psbt, prevouts)
}

// A valid BIP39 seed always gives a master key and derivable children, and an unsigned
// transaction without signatures always makes a PSBT; these cannot happen.
#[allow(clippy::panic)]
fn unreachable_seed() -> Xpriv {
    panic!("invalid seed")
}
#[allow(clippy::panic)]
fn unreachable_key() -> bitcoin::secp256k1::SecretKey {
    panic!("underivable key")
}
#[allow(clippy::panic)]
fn unreachable_psbt() -> Psbt {
    panic!("unsigned transaction rejected")
}
