//! The Bitcoin app's wallet-policy protocol, host and device: LedgerHQ's own client library
//! (`ledger_bitcoin_client`, through Coldlink's `DefaultWallet`) against the simulated Ledger.
//!
//! Addresses are checked against the published BIP44/49/84/86 vectors for the "abandon …
//! about" mnemonic; every signed transaction is finalised (miniscript) and verified with
//! Bitcoin Core's script interpreter (libbitcoinconsensus).

use std::collections::BTreeMap;

use bitcoin::{psbt::Psbt, secp256k1::Secp256k1, Network, OutPoint, Transaction, TxOut};
use coldlink_ledger::{DefaultWallet, Exchange, SpeculosExchange};
use coldlink_signer::{ScriptKind, SignerError};
use coldlink_sim::{
    fixtures::{spending_psbt, EXTERNAL},
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

/// Finalises and checks every input with Bitcoin Core's interpreter.
fn finalize_and_verify(mut psbt: Psbt, prevouts: &BTreeMap<OutPoint, TxOut>) -> Transaction {
    let secp = Secp256k1::new();
    psbt.finalize_mut(&secp).expect("finalizes");
    let tx = psbt.extract_tx_unchecked_fee_rate();
    coldlink_btc::consensus::verify_tx(
        &tx,
        &tx.input
            .iter()
            .map(|i| prevouts[&i.previous_output].clone())
            .collect::<Vec<_>>(),
    )
    .expect("Bitcoin Core's script interpreter accepts every input");
    tx
}

#[test]
fn signs_psbts_for_every_default_wallet_and_bitcoin_core_accepts_them() {
    let (_s, control, mut dev) = rig();
    for kind in KINDS {
        let w = DefaultWallet::read(&mut dev, kind, Network::Bitcoin, 0).expect("wallet");
        let (mut psbt, prevouts) = spending_psbt(MNEMONIC, kind, 2);
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
        assert_eq!(review[1].field("Address"), Some(EXTERNAL));
        assert_eq!(review[1].field("Amount"), Some("0.0006 BTC"));
    }
}

#[test]
fn a_rejected_or_interrupted_signing_adds_nothing_and_the_next_one_works() {
    let (server, control, mut dev) = rig();
    let w =
        DefaultWallet::read(&mut dev, ScriptKind::NativeSegwit, Network::Bitcoin, 0).expect("w");
    let (mut psbt, prevouts) = spending_psbt(MNEMONIC, ScriptKind::NativeSegwit, 3);
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
