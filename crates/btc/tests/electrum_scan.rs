//! What a scan asks an Electrum server (electrs over a Knots regtest node), and that the
//! answers it skips are not missed: a transaction six or more blocks deep is confirmed from the
//! server's height without a Merkle proof, a newer one still gets its proof, and both end up at
//! the node's own heights and block times; the fees of payments received are known from
//! outputs fetched in one batch, and a re-sync asks for none of them again; a payment past
//! the gap from the last used address, but not from the last one handed out, is found.
//!
//! One test in its own file: the request counts are per process.

use std::sync::Arc;

use bitcoin::{Amount, Network, Txid};
use coldlink_btc::{
    account_path,
    backend::Backend,
    electrum::{close_watches, request_stats, watches_starting, Electrum},
    sync::AccountWallet,
    BtcAccount, ScriptKind,
};
use coldlink_signer::{BitcoinSigner, Signer};
use coldlink_soft::SoftWallet;
use coldlink_testkit::{Bitcoind, Electrs};
use coldlink_types::Sensitive;
use serde_json::json;

fn account() -> BtcAccount {
    let mut signer = SoftWallet::from_mnemonic(
        &Sensitive::new(
            "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
                .into(),
        ),
        &Sensitive::new(String::new()),
    )
    .expect("wallet");
    let kind = ScriptKind::NativeSegwit;
    let path = account_path(kind, Network::Regtest, 0);
    BtcAccount::from_xpub(
        kind,
        Network::Regtest,
        bitcoin::bip32::Fingerprint::from(signer.master_fingerprint().expect("fp").0),
        &path,
        &signer.xpub(&path, false).expect("xpub"),
    )
    .expect("account")
}

/// Waits until the server at `url` lists `txid` for `address`: electrs reads its node's
/// mempool between requests, so a payment just sent can be missing for a moment.
#[allow(clippy::panic)]
fn wait_listed(url: &str, address: &bitcoin::Address, txid: Txid) {
    let server = Electrum { url: url.into() };
    for _ in 0..150 {
        let listed = server.address_history(address).unwrap_or_default();
        if listed.iter().any(|t| t.txid == txid) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the server never listed {txid}");
}

/// Items asked for under `kind` since the last reset.
fn asked(kind: &str) -> u64 {
    request_stats(false)
        .iter()
        .filter(|s| s.kind == kind)
        .map(|s| s.items)
        .sum()
}

#[test]
fn deep_confirmations_need_no_proof_and_spent_outputs_come_once() {
    let acc = account();
    let node = Bitcoind::start("btc-electrum-scan");
    node.cli(&["createwallet", "miner"]).expect("wallet");
    let miner = node.cli(&["getnewaddress", "", "bech32"]).expect("address");
    node.cli(&["generatetoaddress", "101", &miner])
        .expect("mine");
    let pay = |index: u32, btc: &str| -> Txid {
        let a = acc.address(false, index).expect("address").to_string();
        node.cli(&["sendtoaddress", &a, btc])
            .expect("pay")
            .parse()
            .expect("txid")
    };
    // Deep: 10 confirmations. Shallow: 2. And one in the mempool.
    let deep = pay(0, "0.5");
    node.cli(&["generatetoaddress", "8", &miner]).expect("mine");
    let shallow = pay(1, "0.25");
    node.cli(&["generatetoaddress", "2", &miner]).expect("mine");
    let pending = pay(2, "0.125");
    let electrs = Electrs::start(&node);
    let server = Backend::Electrum(Electrum {
        url: electrs.url.clone(),
    });
    let dir = node.dir.join("scan");
    std::fs::create_dir_all(&dir).expect("dir");
    let mut w = AccountWallet::open(&dir.join("a.db"), &acc).expect("open");

    request_stats(true);
    w.sync(&server, 20, Arc::new(|_| {})).expect("sync");
    assert_eq!(asked("proofs"), 1, "only the shallow payment is proved");
    // One batch of 50 scripts per chain, read before the scan and handed to it: not twice.
    assert_eq!(asked("histories"), 100);
    // The node's wallet paid from its own coins: those transactions are not the account's,
    // and they were asked for together.
    let spent = request_stats(false)
        .into_iter()
        .find(|s| s.kind == "spent transactions")
        .expect("spent outputs asked for");
    assert!(spent.items >= 3, "{spent:?}");
    assert_eq!(spent.round_trips, 1, "{spent:?}");
    assert_eq!(asked("transaction (one)"), 0, "nothing asked one by one");

    let history = w.history();
    assert_eq!(history.len(), 3);
    for txid in [deep, shallow, pending] {
        let mine = history.iter().find(|h| h.txid == txid).expect("listed");
        let theirs = node
            .wallet_rpc("miner", "gettransaction", json!([txid.to_string()]))
            .expect("the node's record");
        let height = theirs["blockheight"].as_u64().map(|h| h as u32);
        assert_eq!(mine.height, height, "{txid}: the node's height");
        if height.is_some() {
            assert_eq!(
                mine.time,
                theirs["blocktime"].as_u64(),
                "{txid}: block time"
            );
        }
        // The sender's fee, known from the outputs the payment spent.
        let fee = Amount::from_btc(-theirs["fee"].as_f64().expect("fee")).expect("amount");
        assert_eq!(mine.fee, Some(fee), "{txid}: fee");
    }
    assert_eq!(
        history
            .iter()
            .find(|h| h.txid == deep)
            .map(|h| h.confirmations),
        Some(10)
    );
    assert_eq!(
        history
            .iter()
            .find(|h| h.txid == shallow)
            .map(|h| h.confirmations),
        Some(2)
    );

    // As after a restart: everything is known, nothing is fetched again.
    while watches_starting() > 0 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    close_watches();
    request_stats(true);
    w.sync(&server, 20, Arc::new(|_| {})).expect("re-sync");
    assert_eq!(asked("proofs"), 0, "confirmations are kept");
    assert_eq!(
        asked("histories"),
        100,
        "the handed-out scripts and the gap, once"
    );
    assert_eq!(asked("spent transactions"), 0);
    assert_eq!(asked("transactions"), 0);
    assert_eq!(asked("transaction (one)"), 0);
    assert_eq!(w.history().len(), 3);

    // An address handed out and then unused again (its incoming payment replaced by one
    // paying the sender back), and a payment 15 past it: the scan counts the gap from the
    // last address handed out, not from the last one used, so the payment is found.
    let replaced_to = acc.address(false, 30).expect("address").to_string();
    let replaced = node
        .cli(&[
            "sendtoaddress",
            &replaced_to,
            "0.03",
            "",
            "",
            "false",
            "true",
        ])
        .expect("pay")
        .parse::<Txid>()
        .expect("txid");
    wait_listed(
        &electrs.url,
        &acc.address(false, 30).expect("address"),
        replaced,
    );
    w.sync(&server, 40, Arc::new(|_| {})).expect("sync, gap 40");
    assert!(w.history().iter().any(|h| h.txid == replaced), "seen");
    // A payment first seen under 3 s ago is never taken for gone (it may not have reached
    // the server's mempool yet); a real replacement comes later than that.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let back = node.cli(&["getnewaddress", "", "bech32"]).expect("address");
    node.wallet_rpc(
        "miner",
        "bumpfee",
        json!([replaced.to_string(), {"outputs": [{back: 0.029}]}]),
    )
    .expect("replaced");
    let far = pay(45, "0.0625");
    node.cli(&["generatetoaddress", "1", &miner]).expect("mine");
    while watches_starting() > 0 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    close_watches();
    w.sync(&server, 20, Arc::new(|_| {})).expect("sync");
    let history = w.history();
    assert!(
        history.iter().any(|h| h.txid == far),
        "the payment to address 45 is found: {history:?}"
    );
    // And the replaced payment is gone from the history and the balance, not pending for good.
    assert!(
        !history.iter().any(|h| h.txid == replaced),
        "the replaced payment is gone: {history:?}"
    );
    assert_eq!(history.len(), 4);
    let balances = w.balances();
    assert_eq!(balances.untrusted_pending, Amount::ZERO, "{balances:?}");
    assert_eq!(
        balances.confirmed,
        Amount::from_sat(50_000_000 + 25_000_000 + 12_500_000 + 6_250_000),
        "{balances:?}"
    );
    close_watches();
}
