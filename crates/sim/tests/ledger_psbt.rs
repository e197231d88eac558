//! The Bitcoin app's wallet-policy protocol, host and device: LedgerHQ's own client library
//! (`ledger_bitcoin_client`, through Coldlink's `DefaultWallet`) against the simulated Ledger.
//!
//! Addresses are checked against the published BIP44/49/84/86 vectors for the "abandon …
//! about" mnemonic; every signed transaction is finalised (miniscript) and verified with
//! Bitcoin Core's script interpreter (libbitcoinconsensus).

use std::collections::BTreeMap;

use bitcoin::{
    absolute::LockTime,
    bip32::{DerivationPath, Fingerprint, Xpriv},
    psbt::Psbt,
    secp256k1::Secp256k1,
    transaction::Version,
    Address, Amount, CompressedPublicKey, Network, OutPoint, ScriptBuf, Sequence, Transaction,
    TxIn, TxOut, Witness,
};
use coldlink_ledger::{psbt::account_path, DefaultWallet, Exchange, SpeculosExchange};
use coldlink_signer::{ScriptKind, SignerError};
use coldlink_sim::{
    ledger::{spawn_speculos, LedgerSim, Server},
    Control, Decision,
};
use miniscript::psbt::PsbtExt;

const MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

fn rig() -> (Server, Control, SpeculosExchange) {
    let (server, control) = spawn_speculos(LedgerSim::new(MNEMONIC).expect("sim")).expect("serve");
    control.set_app(Some("Bitcoin"));
    let dev = SpeculosExchange::connect(server.addr(), std::time::Duration::from_secs(10))
        .expect("connect");
    (server, control, dev)
}

const KINDS: [ScriptKind; 4] = [
    ScriptKind::Legacy,
    ScriptKind::NestedSegwit,
    ScriptKind::NativeSegwit,
    ScriptKind::Taproot,
];

#[test]
fn default_wallet_addresses_match_the_published_vectors() {
    let (_s, control, mut dev) = rig();
    let expected = [
        "1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabA",
        "37VucYSaXLCAsxYyAPfbSi9eh4iEcbShgf",
        "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu",
        "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr",
    ];
    for (kind, want) in KINDS.into_iter().zip(expected) {
        let w = DefaultWallet::read(&mut dev, kind, Network::Bitcoin, 0).expect("wallet");
        assert_eq!(
            w.address(&mut dev, false, 0, false)
                .expect("address")
                .to_string(),
            want
        );
    }
    // Shown on the device, with what the user compares.
    let w =
        DefaultWallet::read(&mut dev, ScriptKind::NativeSegwit, Network::Bitcoin, 0).expect("w");
    let a = w.address(&mut dev, false, 1, true).expect("shown");
    let s = control.last_screen().expect("screen");
    assert_eq!(s.title, "Verify address");
    assert_eq!(s.field("Address"), Some(a.to_string().as_str()));
    assert_eq!(s.field("Account"), Some("Native SegWit account 1"));
    control.then([Decision::Reject]);
    assert!(matches!(
        w.address(&mut dev, false, 1, true),
        Err(SignerError::Rejected)
    ));
}

/// A PSBT spending `n` coins of this wallet (made up, not on a chain) to an external address,
/// with change back to the wallet.
fn psbt_for(kind: ScriptKind, n: usize) -> (Psbt, BTreeMap<OutPoint, TxOut>) {
    let secp = Secp256k1::new();
    let seed = bip39::Mnemonic::parse_normalized(MNEMONIC)
        .expect("m")
        .to_seed("");
    let master = Xpriv::new_master(Network::Bitcoin, &seed).expect("master");
    let fp: Fingerprint = master.fingerprint(&secp);
    let account = account_path(kind, Network::Bitcoin, 0);
    let key_at = |change: u32, index: u32| {
        let path: DerivationPath = account
            .child(bitcoin::bip32::ChildNumber::Normal { index: change })
            .child(bitcoin::bip32::ChildNumber::Normal { index });
        let pk = CompressedPublicKey(
            master
                .derive_priv(&secp, &path)
                .expect("d")
                .private_key
                .public_key(&secp),
        );
        (path, pk)
    };
    let address = |pk: CompressedPublicKey| match kind {
        ScriptKind::Legacy => Address::p2pkh(pk, Network::Bitcoin),
        ScriptKind::NestedSegwit => Address::p2shwpkh(&pk, Network::Bitcoin),
        ScriptKind::NativeSegwit => Address::p2wpkh(&pk, Network::Bitcoin),
        ScriptKind::Taproot => {
            Address::p2tr(&secp, pk.0.x_only_public_key().0, None, Network::Bitcoin)
        }
    };
    let mut prevouts = BTreeMap::new();
    let mut funding = Vec::new();
    for i in 0..n {
        let (_, pk) = key_at(0, i as u32);
        let prev = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::new(
                    bitcoin::Txid::from_raw_hash(bitcoin::hashes::Hash::hash(&[i as u8])),
                    0,
                ),
                script_sig: ScriptBuf::new(),
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
        funding.push(prev);
    }
    let total: u64 = prevouts.values().map(|o| o.value.to_sat()).sum();
    let external = Address::from_str_checked("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq");
    let (change_path, change_pk) = key_at(1, 7);
    let tx = Transaction {
        version: Version::TWO,
        lock_time: LockTime::from_consensus(800_000),
        input: prevouts
            .keys()
            .map(|op| TxIn {
                previous_output: *op,
                script_sig: ScriptBuf::new(),
                sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                witness: Witness::new(),
            })
            .collect(),
        output: vec![
            TxOut {
                value: Amount::from_sat(60_000),
                script_pubkey: external.script_pubkey(),
            },
            TxOut {
                value: Amount::from_sat(total - 60_000 - 1_500),
                script_pubkey: address(change_pk).script_pubkey(),
            },
        ],
    };
    let mut psbt = Psbt::from_unsigned_tx(tx).expect("psbt");
    for (k, input) in psbt.inputs.iter_mut().enumerate() {
        let op = psbt.unsigned_tx.input[k].previous_output;
        let prev = funding
            .iter()
            .find(|t| t.compute_txid() == op.txid)
            .expect("prev")
            .clone();
        let index = prev.output[0].value.to_sat() - 100_000;
        let (path, pk) = key_at(0, index as u32);
        input.witness_utxo = Some(prev.output[0].clone());
        if kind == ScriptKind::Legacy {
            input.witness_utxo = None;
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

trait Checked {
    fn from_str_checked(s: &str) -> Address;
}
impl Checked for Address {
    fn from_str_checked(s: &str) -> Address {
        s.parse::<Address<bitcoin::address::NetworkUnchecked>>()
            .expect("address")
            .require_network(Network::Bitcoin)
            .expect("mainnet")
    }
}

/// Finalises and checks every input with Bitcoin Core's interpreter.
fn finalize_and_verify(mut psbt: Psbt, prevouts: &BTreeMap<OutPoint, TxOut>) -> Transaction {
    let secp = Secp256k1::new();
    psbt.finalize_mut(&secp).expect("finalizes");
    let tx = psbt.extract_tx_unchecked_fee_rate();
    tx.verify(|op| prevouts.get(op).cloned())
        .expect("Bitcoin Core's script interpreter accepts every input");
    tx
}

#[test]
fn signs_psbts_for_every_default_wallet_and_bitcoin_core_accepts_them() {
    let (_s, control, mut dev) = rig();
    for kind in KINDS {
        let w = DefaultWallet::read(&mut dev, kind, Network::Bitcoin, 0).expect("wallet");
        let (mut psbt, prevouts) = psbt_for(kind, 2);
        let n = w.sign_psbt(&mut dev, &mut psbt).expect("signed");
        assert_eq!(n, 2, "{kind:?}");
        finalize_and_verify(psbt, &prevouts);
        // The user saw the external output and the fee, not the change.
        let screens = control.screens();
        let review: Vec<_> = screens.iter().rev().take(2).collect();
        assert_eq!(review[0].title, "Sign transaction");
        assert_eq!(review[0].field("Fees"), Some("0.000015 BTC"));
        assert_eq!(review[1].title, "Review output");
        assert_eq!(review[1].field("Output"), Some("#1 of 1"));
        assert_eq!(
            review[1].field("Address"),
            Some("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq")
        );
        assert_eq!(review[1].field("Amount"), Some("0.0006 BTC"));
    }
}

#[test]
fn a_rejected_or_interrupted_signing_adds_nothing_and_the_next_one_works() {
    let (server, control, mut dev) = rig();
    let w =
        DefaultWallet::read(&mut dev, ScriptKind::NativeSegwit, Network::Bitcoin, 0).expect("w");
    let (mut psbt, prevouts) = psbt_for(ScriptKind::NativeSegwit, 3);
    control.then([Decision::Reject]);
    assert!(matches!(
        w.sign_psbt(&mut dev, &mut psbt),
        Err(SignerError::Rejected)
    ));
    assert!(psbt.inputs.iter().all(|i| i.partial_sigs.is_empty()));
    drop(dev);
    // The cable is pulled at several points of the interrupted-execution exchange.
    for at in [1, 5, 20, 60] {
        let mut d: Box<dyn Exchange> = Box::new(
            SpeculosExchange::connect(server.addr(), std::time::Duration::from_secs(10))
                .expect("c"),
        );
        control.disconnect_at_apdu(at);
        let mut p = psbt.clone();
        assert!(
            matches!(
                w.sign_psbt(d.as_mut(), &mut p),
                Err(SignerError::Disconnected)
            ),
            "at {at}"
        );
        assert!(p.inputs.iter().all(|i| i.partial_sigs.is_empty()));
    }
    let mut d =
        SpeculosExchange::connect(server.addr(), std::time::Duration::from_secs(10)).expect("c");
    assert_eq!(w.sign_psbt(&mut d, &mut psbt).expect("signed"), 3);
    finalize_and_verify(psbt, &prevouts);
}
