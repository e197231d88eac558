//! Accounts synced from a real Electrum server (electrs) and from an Esplora server (the
//! test adapter over the node; the client is the real one), both over a Bitcoin Knots regtest
//! node: gap-limit discovery finds payments up to the configured gap and not beyond it,
//! balances are exact, progress is reported, a send is broadcast through the server and
//! settles, CPFP works from what the sync learnt, and a server on another network, with a bad
//! address, not there at all or going away in the middle of a sync is a clear error that keeps
//! the last known state.

use std::sync::{
    atomic::{AtomicU32, Ordering},
    Arc,
};

use bitcoin::{Amount, Network};
use coldlink_btc::{
    account_path,
    backend::Backend,
    electrum::Electrum,
    esplora::Esplora,
    send::{parse_address, SendRequest},
    sync::{AccountWallet, SyncError},
    BtcAccount, ScriptKind,
};
use coldlink_signer::{BitcoinSigner, Headless, Signer};
use coldlink_soft::SoftWallet;
use coldlink_testkit::{esplora::EsploraAdapter, relay::Relay, Bitcoind, Electrs};
use coldlink_types::Sensitive;
use serde_json::json;

fn soft() -> SoftWallet {
    SoftWallet::from_mnemonic(
        &Sensitive::new(
            "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
                .into(),
        ),
        &Sensitive::new(String::new()),
    )
    .expect("wallet")
}

fn account(signer: &mut SoftWallet, network: Network) -> BtcAccount {
    let kind = ScriptKind::NativeSegwit;
    let path = account_path(kind, network, 0);
    BtcAccount::from_xpub(
        kind,
        network,
        bitcoin::bip32::Fingerprint::from(signer.master_fingerprint().expect("fp").0),
        &path,
        &signer.xpub(&path, false).expect("xpub"),
    )
    .expect("account")
}

fn quiet() -> Arc<dyn Fn(u32) + Send + Sync> {
    Arc::new(|_| {})
}

/// The chain every backend test starts from: 101 blocks, then payments to the account's
/// receive indexes 0, 15 and 40 (within a gap of 20 of each other only up to 15), mined.
fn chain(tag: &str, acc: &BtcAccount) -> (Bitcoind, String) {
    let node = Bitcoind::start(tag);
    node.cli(&["createwallet", "miner"]).expect("wallet");
    let miner = node.cli(&["getnewaddress", "", "bech32"]).expect("address");
    node.cli(&["generatetoaddress", "101", &miner])
        .expect("mine");
    for (i, btc) in [(0, "0.1"), (15, "0.2"), (40, "0.4")] {
        let a = acc.address(false, i).expect("address").to_string();
        node.cli(&["sendtoaddress", &a, btc]).expect("pay");
    }
    node.cli(&["generatetoaddress", "1", &miner]).expect("mine");
    (node, miner)
}

#[test]
fn electrum_discovery_sync_send_and_errors() {
    let mut signer = soft();
    let acc = account(&mut signer, Network::Regtest);
    let (node, miner) = chain("btc-electrum", &acc);
    let electrs = Electrs::start(&node);
    let server = Backend::Electrum(Electrum {
        url: electrs.url.clone(),
    });
    exercise(&node, &miner, &acc, &mut signer, &server, &|| {
        electrs.wait_synced(&node)
    });
    let bad = Backend::Electrum(Electrum {
        url: "http://127.0.0.1:50001".into(),
    });
    let e = bad.check_network(Network::Regtest).expect_err("scheme");
    assert!(e.to_string().contains("tcp:// or ssl://"), "{e}");
}

#[test]
fn esplora_discovery_sync_send_and_errors() {
    let mut signer = soft();
    let acc = account(&mut signer, Network::Regtest);
    let (node, miner) = chain("btc-esplora", &acc);
    let adapter = EsploraAdapter::start(&node);
    let server = Backend::Esplora(Esplora {
        url: adapter.url.clone(),
    });
    exercise(&node, &miner, &acc, &mut signer, &server, &|| {});
    let bad = Backend::Esplora(Esplora {
        url: "tcp://127.0.0.1:3002".into(),
    });
    let e = bad.check_network(Network::Regtest).expect_err("scheme");
    assert!(e.to_string().contains("http:// or https://"), "{e}");
}

/// Discovery, exact balances, progress, a send, CPFP and the error paths against `server`;
/// `caught_up` waits until the server has seen the node's newest block.
fn exercise(
    node: &Bitcoind,
    miner: &str,
    acc: &BtcAccount,
    signer: &mut SoftWallet,
    server: &Backend,
    caught_up: &dyn Fn(),
) {
    assert_eq!(
        server
            .check_network(Network::Regtest)
            .expect("status")
            .chain,
        "regtest"
    );

    let dir = node.dir.join("coldlink");
    std::fs::create_dir_all(&dir).expect("dir");
    let mut w = AccountWallet::open(&dir.join("a.db"), acc).expect("open");
    let checked = Arc::new(AtomicU32::new(0));
    let seen = Arc::clone(&checked);
    let tip = w
        .sync(
            server,
            20,
            Arc::new(move |n| {
                seen.store(n, Ordering::SeqCst);
            }),
        )
        .expect("sync");
    assert_eq!(tip, 102);
    assert_eq!(
        w.balances().confirmed,
        Amount::from_sat(30_000_000),
        "index 40 is past the gap of 20"
    );
    assert!(
        checked.load(Ordering::SeqCst) >= 36,
        "progress reported every address checked"
    );
    // A wider gap finds it.
    w.sync(server, 30, quiet()).expect("sync");
    assert_eq!(w.balances().confirmed, Amount::from_sat(70_000_000));
    let mut extra = 0;
    if matches!(server, Backend::Electrum(_)) {
        extra = 1_000_000;
        // The connection stays open, subscribed: nothing new is one round trip, a block
        // without our payments moves the tip, and a payment is seen through its notification.
        let settle = || {
            // The watch subscribes after the sync that made it returns.
            for _ in 0..200 {
                if coldlink_btc::electrum::watches_starting() == 0 {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            assert_eq!(
                coldlink_btc::electrum::watches_starting(),
                0,
                "the watch never finished subscribing"
            );
        };
        settle();
        let quick = coldlink_btc::electrum::quick_syncs();
        assert_eq!(w.sync(server, 30, quiet()).expect("again"), 102);
        assert_eq!(
            coldlink_btc::electrum::quick_syncs(),
            quick + 1,
            "answered by the watch"
        );
        node.cli(&["generatetoaddress", "1", miner]).expect("mine");
        caught_up();
        assert_eq!(w.sync(server, 30, quiet()).expect("new block"), 103);
        assert_eq!(coldlink_btc::electrum::quick_syncs(), quick + 2);
        let paid = w.next_receive().expect("address").to_string();
        node.cli(&["sendtoaddress", &paid, "0.01"]).expect("pay");
        node.cli(&["generatetoaddress", "1", miner]).expect("mine");
        caught_up();
        assert_eq!(w.sync(server, 30, quiet()).expect("paid"), 104);
        assert_eq!(w.balances().confirmed, Amount::from_sat(71_000_000));
        assert_eq!(
            coldlink_btc::electrum::quick_syncs(),
            quick + 2,
            "a change scans in full"
        );
    }

    // Send through the server; after a block, exact.
    let to = parse_address(miner, Network::Regtest).expect("address");
    let draft = w
        .build_send(&SendRequest {
            recipients: vec![(to, Amount::from_sat(5_000_000))],
            fee_rate: 4,
            ..Default::default()
        })
        .expect("build");
    let mut signed = draft.psbt.clone();
    signer.sign_psbt(&mut signed, &Headless).expect("sign");
    let tx = w.finish(&draft, &signed).expect("checks");
    let txid = server.broadcast(&tx).expect("broadcast");
    assert!(node
        .cli(&["getrawmempool"])
        .expect("mempool")
        .contains(&txid.to_string()));
    node.cli(&["generatetoaddress", "1", miner]).expect("mine");
    caught_up();
    w.sync(server, 30, quiet()).expect("resync");
    assert_eq!(
        w.balances().confirmed,
        Amount::from_sat(70_000_000 + extra - 5_000_000) - draft.review.fee
    );

    // CPFP of a stuck payment, from what the Electrum sync learnt about its inputs.
    let a = w.next_receive().expect("address").to_string();
    let parent: bitcoin::Txid = node
        .cli(&[
            "-named",
            "sendtoaddress",
            &format!("address={a}"),
            "amount=0.05",
            "fee_rate=1",
            "replaceable=false",
        ])
        .expect("send")
        .parse()
        .expect("txid");
    // The server learns of it on its next mempool poll; a sync after that sees it (through
    // the watch's notification for Electrum).
    for _ in 0..40 {
        w.sync(server, 30, quiet()).expect("sync");
        if w.history().iter().any(|h| h.txid == parent) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let (fee, vsize) = server
        .unconfirmed_fee(&w, parent)
        .expect("server")
        .expect("fee known from the sync");
    assert!(
        fee.to_sat() >= vsize && fee.to_sat() < 2 * vsize,
        "{fee} for {vsize} vB"
    );
    let child = w.cpfp(parent, fee, vsize, 20).expect("cpfp");
    let mut signed = child.psbt.clone();
    signer.sign_psbt(&mut signed, &Headless).expect("sign");
    let tx = w.finish(&child, &signed).expect("checks");
    server.broadcast(&tx).expect("child accepted");

    // A single watched address: its balance straight from the server, in blocks and pending.
    // (Far past the account's gap, so its sync never counts it; no wallet of the node spends it.)
    let watched = acc.address(false, 90).expect("address").to_string();
    node.cli(&["sendtoaddress", &watched, "0.42"]).expect("pay");
    node.cli(&["generatetoaddress", "1", miner]).expect("mine");
    caught_up();
    node.cli(&["sendtoaddress", &watched, "0.08"])
        .expect("pay again");
    let a = parse_address(&watched, Network::Regtest).expect("address");
    let mut b = server.address_balance(&a).expect("balance");
    for _ in 0..40 {
        if b.pending != bitcoin::SignedAmount::ZERO {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
        b = server.address_balance(&a).expect("balance");
    }
    assert_eq!(b.confirmed, Amount::from_sat(42_000_000));
    assert_eq!(b.pending, bitcoin::SignedAmount::from_sat(8_000_000));

    // Its history: an address of the node's own wallet is paid 0.3, then that coin alone is
    // spent (so the address pays the fee). Listed oldest first with what it received, what it
    // spent and the fee, the spend still in the mempool.
    let own = node.cli(&["getnewaddress", "", "bech32"]).expect("address");
    let paid = node.cli(&["sendtoaddress", &own, "0.3"]).expect("pay");
    node.cli(&["generatetoaddress", "1", miner]).expect("mine");
    caught_up();
    let coin = node
        .rpc("listunspent", json!([1, 9999, [own]]))
        .expect("coins");
    let vout = coin[0]["vout"].as_u64().expect("vout");
    let spend = node
        .rpc(
            "sendall",
            json!([[miner], null, null, 2, {"inputs": [{"txid": paid, "vout": vout}]}]),
        )
        .expect("spend that coin");
    let spend = spend["txid"].as_str().expect("txid").to_owned();
    let fee = node.rpc("getmempoolentry", json!([spend])).expect("entry")["fees"]["base"]
        .as_f64()
        .expect("fee");
    let fee = Amount::from_btc(fee).expect("fee");
    let own = parse_address(&own, Network::Regtest).expect("address");
    let mut h = server
        .address_history(&own)
        .expect("history")
        .expect("servers index addresses");
    for _ in 0..40 {
        if h.len() == 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
        h = server
            .address_history(&own)
            .expect("history")
            .expect("some");
    }
    assert_eq!(h.len(), 2, "{h:?}");
    assert_eq!(
        (h[0].txid.to_string(), h[0].received, h[0].sent, h[0].fee),
        (
            paid.clone(),
            Amount::from_sat(30_000_000),
            Amount::ZERO,
            None
        )
    );
    assert!(h[0].height.is_some() && h[0].time.is_some(), "{h:?}");
    assert_eq!(
        (h[1].txid.to_string(), h[1].received, h[1].sent, h[1].fee),
        (spend, Amount::ZERO, Amount::from_sat(30_000_000), Some(fee))
    );
    assert_eq!((h[1].height, h[1].time), (None, None), "in the mempool");

    // A payment the sender replaces by one paying itself: pending, then gone from the history
    // and the balance (not pending for good).
    let to = w.next_receive().expect("address").to_string();
    let replaced: bitcoin::Txid = node
        .cli(&[
            "-named",
            "sendtoaddress",
            &format!("address={to}"),
            "amount=0.02",
            "replaceable=true",
        ])
        .expect("send")
        .parse()
        .expect("txid");
    let listed_after_sync = |w: &mut AccountWallet, listed: bool| {
        (0..40).any(|_| {
            w.sync(server, 30, quiet()).expect("sync");
            let now = w.history().iter().any(|h| h.txid == replaced);
            if now != listed {
                std::thread::sleep(std::time::Duration::from_millis(250));
            }
            now == listed
        })
    };
    assert!(listed_after_sync(&mut w, true), "the payment is seen");
    let pending = w.balances().untrusted_pending;
    // A payment first seen under 3 s ago is never taken for gone (it may not have reached
    // the server's mempool yet); a real replacement comes later than that.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let back = node.cli(&["getnewaddress", "", "bech32"]).expect("address");
    node.cli(&[
        "-named",
        "bumpfee",
        &format!("txid={replaced}"),
        &format!("options={{\"outputs\":[{{\"{back}\":0.019}}]}}"),
    ])
    .expect("replaced");
    assert!(
        listed_after_sync(&mut w, false),
        "the replaced payment is gone"
    );
    assert_eq!(
        w.balances().untrusted_pending,
        pending - Amount::from_sat(2_000_000),
        "its amount no longer pending"
    );

    // Errors: another network's account, a bad address, nobody there; the state is kept.
    let mut main = AccountWallet::open(&dir.join("main.db"), &account(signer, Network::Bitcoin))
        .expect("open");
    let e = main.sync(server, 20, quiet()).expect_err("regtest server");
    assert!(
        e.to_string()
            .contains("runs regtest, but the account is on bitcoin"),
        "{e}"
    );
    let gone = match server {
        Backend::Electrum(_) => Backend::Electrum(Electrum {
            url: "tcp://127.0.0.1:9".into(),
        }),
        _ => Backend::Esplora(Esplora {
            url: "http://127.0.0.1:9".into(),
        }),
    };
    let before = w.balances();
    let e = w.sync(&gone, 20, quiet()).expect_err("down");
    assert!(matches!(e, SyncError::Node(_)));
    assert!(e.to_string().contains("cannot be reached"), "{e}");
    assert_eq!(w.balances(), before, "last known state kept");

    server_gone_mid_sync(&dir, acc, server);
}

/// The server going away halfway through a first scan (by the bytes it sends; its last answer
/// broken off): a clear error, no panic, no wait for the read timeout, nothing saved, and the
/// next sync from a working server finds what a whole first scan found.
fn server_gone_mid_sync(dir: &std::path::Path, acc: &BtcAccount, server: &Backend) {
    let port = |url: &str| -> u16 {
        url.rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches('/').parse().ok())
            .expect("a port")
    };
    let (url, via): (&str, fn(String) -> Backend) = match server {
        Backend::Electrum(e) => (&e.url, |url| Backend::Electrum(Electrum { url })),
        Backend::Esplora(e) => (&e.url, |url| Backend::Esplora(Esplora { url })),
        Backend::Node(_) => return,
    };
    let scheme = url.split("://").next().expect("scheme");
    let relayed = |r: &Relay| via(format!("{scheme}://127.0.0.1:{}", r.port));
    // What a whole first scan takes from this server.
    let whole = Relay::start(port(url));
    let mut full = AccountWallet::open(&dir.join("whole.db"), acc).expect("open");
    // No connection left open (it would go on talking through the relay).
    full.keep_connection(false);
    full.sync(&relayed(&whole), 20, quiet())
        .expect("through the relay");
    let answered = whole.answered();
    let (balances, history) = (full.balances(), full.history());
    if matches!(server, Backend::Electrum(_)) {
        // (The count is the process's: the Esplora test runs beside this one and has none.)
        let quick = coldlink_btc::electrum::quick_syncs();
        full.sync(&relayed(&whole), 20, quiet()).expect("again");
        assert_eq!(
            coldlink_btc::electrum::quick_syncs(),
            quick,
            "a full scan again: no connection was kept"
        );
    }
    full.keep_connection(true);
    assert!(answered > 1_000, "{answered} bytes");

    let half = Relay::start(port(url));
    half.cut_after(answered / 2);
    let path = dir.join("cut.db");
    let mut w = AccountWallet::open(&path, acc).expect("open");
    let started = std::time::Instant::now();
    let e = w
        .sync(&relayed(&half), 20, quiet())
        .expect_err("the server went away");
    assert!(half.was_cut(), "the relay cut the sync");
    assert!(matches!(e, SyncError::Node(_)), "{e:?}");
    let said = e.to_string();
    assert!(said.contains("cannot be reached"), "{said}");
    // Said in words, not in the client library's internals.
    assert!(
        said.contains("the server closed the connection")
            || said.ends_with("the server's answer was cut off or is not an Esplora answer"),
        "{said}"
    );
    // Noticed when the connection closed, not after the 60 s read timeout.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "no hang: {:?}",
        started.elapsed()
    );
    assert!(w.history().is_empty(), "nothing taken from a broken scan");
    drop(w);
    let mut w = AccountWallet::open(&path, acc).expect("reopen");
    assert!(w.history().is_empty(), "nothing saved");
    // Another wallet of the account synced from the working server leaves a watch there
    // (Electrum): it is that wallet's, not this empty one's, which scans in full.
    full.sync(server, 20, quiet()).expect("direct");
    let settled = || {
        while coldlink_btc::electrum::watches_starting() > 0 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    settled();
    w.sync(server, 20, quiet())
        .expect("sync when the server is back");
    assert_eq!(w.balances(), balances, "what a first scan found");
    assert_eq!(w.history(), history);
    // The same file deleted and made again (the account removed and added back): the watch
    // left for the old wallet is for another tip, so the new one scans in full too.
    settled();
    drop(w);
    std::fs::remove_file(&path).expect("delete the wallet");
    let mut w = AccountWallet::open(&path, acc).expect("a new wallet");
    assert!(w.history().is_empty());
    w.sync(server, 20, quiet()).expect("sync the new wallet");
    assert_eq!(w.history(), history, "scanned, not told 'nothing new'");
}
