//! Sync from a local Electrum server over a Knots regtest node of an account with 2,000 used
//! receive addresses and 10,000 transactions paying them: the first full sync and a re-sync
//! with nothing new, beside the least any sync must do measured in the same run — one batched
//! `blockchain.scripthash.get_history` over the same scripts. Targets: under 5 s and under
//! 200 ms. Against electrs 0.11.1; what each sync asked the server, and how long the server
//! took to answer, is printed by kind. Run: `cargo bench -p coldlink-btc --bench sync` (the
//! first run builds the chain: a few minutes; it is kept under ~/.cache). Needs the node and
//! electrs from `scripts/setup`; then the same against ElectrumX if `scripts/install-electrumx`
//! installed it (`COLDLINK_BENCH_SERVERS=electrs` or `electrumx` picks one).

use std::{sync::Arc, time::Instant};

use bdk_electrum::electrum_client::{self, ElectrumApi};
use bitcoin::Network;
use coldlink_btc::{
    account_path, backend::Backend, electrum::Electrum, sync::AccountWallet, BtcAccount, ScriptKind,
};
use coldlink_signer::{BitcoinSigner, Signer};
use coldlink_soft::SoftWallet;
use coldlink_testkit::{electrum::ElectrumX, Bitcoind, Electrs};
use coldlink_types::Sensitive;
use serde_json::json;

const ADDRESSES: u32 = 2_000;
const TXS: u32 = 10_000;

/// Resident memory of this process, MiB (Linux).
fn rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0)
        / 1024
}

fn main() {
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
    let acc = BtcAccount::from_xpub(
        kind,
        Network::Regtest,
        bitcoin::bip32::Fingerprint::from(signer.master_fingerprint().expect("fp").0),
        &path,
        &signer.xpub(&path, false).expect("xpub"),
    )
    .expect("account");
    let addresses: Vec<String> = (0..ADDRESSES)
        .map(|i| acc.address(false, i).expect("address").to_string())
        .collect();

    let t = Instant::now();
    // The chain takes minutes to build: it is kept under ~/.cache and reused by later runs.
    let seed = std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default())
        .join(format!(".cache/coldlink/bench-chain-{ADDRESSES}-{TXS}"));
    if !seed.join("blocks").exists() {
        build_chain(&addresses)
            .save_chain(&seed)
            .expect("keep the chain");
    }
    println!(
        "chain ready: {TXS} transactions to {ADDRESSES} addresses in {:.0} s",
        t.elapsed().as_secs_f64()
    );
    // ElectrumX reads transactions through the node's transaction index.
    let node = Bitcoind::start_with("bench-sync", Some(&seed), &["-txindex=1"]);
    // COLDLINK_BENCH_SERVERS picks the servers (default: both).
    let servers =
        std::env::var("COLDLINK_BENCH_SERVERS").unwrap_or_else(|_| "electrs,electrumx".into());
    if servers.contains("electrs") {
        println!("— electrs 0.11.1 (reads the blocks of a script's history at each request)");
        let electrs = Electrs::start(&node);
        measure(&acc, &node, &electrs.url, "electrs");
    }
    if servers.contains("electrumx") && ElectrumX::binary().is_some() {
        let t = Instant::now();
        let server = ElectrumX::start(&node, std::time::Duration::from_secs(1800));
        println!(
            "— ElectrumX 1.17 (keeps every history in its database; indexed in {:.0} s)",
            t.elapsed().as_secs_f64()
        );
        measure(&acc, &node, &server.url, "electrumx");
    }
}

/// Times each figure is measured; the median is printed (`COLDLINK_BENCH_RUNS`, default 3):
/// on this 2-core machine the server's own time varies by a second between runs.
fn runs() -> usize {
    std::env::var("COLDLINK_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(3)
}

/// The median of `xs`, ms, and all of them for the record.
fn median(mut xs: Vec<f64>) -> (f64, String) {
    xs.sort_by(f64::total_cmp);
    let all = xs.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>();
    (xs[xs.len() / 2], all.join(", "))
}

/// Waits until the kept connections have subscribed (they load the server), then closes them.
fn settle() -> f64 {
    let t = Instant::now();
    while coldlink_btc::electrum::watches_starting() > 0 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    t.elapsed().as_secs_f64() * 1e3
}

/// The baseline, the full sync and the re-syncs against the server at `url`.
fn measure(acc: &BtcAccount, node: &Bitcoind, url: &str, tag: &str) {
    let n = runs();
    // Baseline: one batched history request over the same scripts.
    let client = electrum_client::Client::new(url).expect("client");
    let spks: Vec<bitcoin::ScriptBuf> = (0..ADDRESSES)
        .map(|i| acc.address(false, i).expect("address").script_pubkey())
        .collect();
    // Once more than counted: the first also reads the freshly copied chain from disk.
    let mut times = Vec::new();
    let mut entries = 0;
    for i in 0..=n {
        let t = Instant::now();
        let histories = client
            .batch_script_get_history(spks.iter().map(|s| s.as_script()))
            .expect("histories");
        if i > 0 {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        entries = histories.iter().map(Vec::len).sum::<usize>();
    }
    let (baseline, all) = median(times);
    println!("baseline: batched get_history of {ADDRESSES} scripts ({entries} entries): {baseline:8.0} ms (median of {all})");
    let t = Instant::now();
    client.ping().expect("ping");
    let ping = t.elapsed().as_secs_f64() * 1e3;
    println!("baseline: one ping round trip: {ping:.2} ms");

    let server = Backend::Electrum(Electrum {
        url: url.to_owned(),
    });
    let dir = node.dir.join("bench");
    std::fs::create_dir_all(&dir).expect("dir");
    // First syncs, each into a new wallet; the last one's wallet is kept for the re-syncs.
    let (mut times, mut subscribing) = (Vec::new(), 0.0);
    let mut kept = None;
    for i in 0..n {
        let mut w = AccountWallet::open(&dir.join(format!("{tag}-{i}.db")), acc).expect("open");
        coldlink_btc::electrum::request_stats(true);
        let t = Instant::now();
        let started = t;
        w.sync(
            &server,
            20,
            Arc::new(move |n| {
                if n % 500 == 0 {
                    eprintln!(
                        "  … {n} addresses checked after {:.1} s, {} MiB",
                        started.elapsed().as_secs_f64(),
                        rss_mib()
                    );
                }
            }),
        )
        .expect("full sync");
        times.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(w.history().len() as u32, TXS);
        // The kept connection subscribes in the background after the sync returned.
        subscribing = settle();
        if i + 1 < n {
            coldlink_btc::electrum::close_watches();
        }
        kept = Some(w);
    }
    let mut w = kept.expect("a wallet");
    let (full, all) = median(times);
    println!(
        "full sync ({TXS} transactions):  {full:8.0} ms ({:.2}× the baseline; target < 5000 ms; median of {all}); {} MiB resident",
        full / baseline,
        rss_mib()
    );
    print_requests();
    println!("subscribing the kept connection (in the background): {subscribing:8.0} ms");
    // Re-syncs with nothing new: through the open, subscribed connection the app keeps
    // (median of 5), then as after a restart (a full scan with the wallet's own data).
    let mut quick = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        w.sync(&server, 20, Arc::new(|_| {})).expect("re-sync");
        quick.push(t.elapsed().as_secs_f64() * 1e3);
    }
    quick.sort_by(f64::total_cmp);
    let again = quick[2];
    let mut times = Vec::new();
    for _ in 0..n {
        coldlink_btc::electrum::close_watches();
        coldlink_btc::electrum::request_stats(true);
        let t = Instant::now();
        w.sync(&server, 20, Arc::new(|_| {}))
            .expect("re-sync after restart");
        times.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(w.history().len() as u32, TXS);
        settle();
    }
    let (cold, all) = median(times);
    println!(
        "re-sync, nothing new (kept connection): {again:8.1} ms ({:.1}× one ping; target < 200 ms)",
        again / ping
    );
    println!(
        "re-sync, nothing new, after a restart:  {cold:8.0} ms ({:.2}× the baseline; median of {all})",
        cold / baseline
    );
    print_requests();
    coldlink_btc::electrum::close_watches();
}

/// What the last sync asked the server, by kind.
fn print_requests() {
    for s in coldlink_btc::electrum::request_stats(true) {
        println!(
            "  {:>20}: {:6} items in {:4} round trips, {:7.0} ms",
            s.kind, s.items, s.round_trips, s.millis
        );
    }
}

/// Builds the chain: [`TXS`] transactions from twenty wallets, each paying five of `addresses`.
fn build_chain(addresses: &[String]) -> Bitcoind {
    let node = Bitcoind::start("bench-sync-build");
    // Twenty paying wallets, each paying once a block: one Core wallet with 10,000 sends
    // slows to a few a second; twenty small ones stay quick.
    const WALLETS: u32 = 20;
    let mut payers = Vec::new();
    for w in 0..WALLETS {
        let name = format!("payer{w}");
        node.rpc("createwallet", json!([name])).expect("wallet");
        let a = node
            .wallet_rpc(&name, "getnewaddress", json!(["", "bech32"]))
            .expect("address");
        node.rpc("generatetoaddress", json!([5, a])).expect("mine");
        payers.push((name, a));
    }
    let miner = payers[0].1.clone();
    node.rpc("generatetoaddress", json!([101, miner]))
        .expect("mature");
    // 10,000 transactions, each paying 5 of the addresses (every address is paid by 25), a
    // block after every twenty.
    let mut sent = 0;
    while sent < TXS {
        let mut outs = serde_json::Map::new();
        for k in 0..5 {
            outs.insert(
                addresses[((sent * 5 + k) % ADDRESSES) as usize].clone(),
                json!(0.0001),
            );
        }
        let (payer, _) = &payers[(sent % WALLETS) as usize];
        node.wallet_rpc(payer, "sendmany", json!(["", outs]))
            .expect("sendmany");
        sent += 1;
        if sent % WALLETS == 0 {
            node.rpc("generatetoaddress", json!([1, miner]))
                .expect("mine");
        }
    }
    node
}
