//! `coldlink btc node|add-account|receive|sync|send|finish` against a real node (Bitcoin
//! Knots, regtest) with the simulated Ledger: set the node, add a taproot account, verify a
//! receive address on the device, fund, sync, send (signed on the device), then the air-gapped
//! path (unsigned PSBT out, signed elsewhere, checked and broadcast); bad input is a clear error.

use std::process::Command;

use coldlink_testkit::Bitcoind;
use serde_json::{json, Value};

fn coldlink(data: &std::path::Path, args: &[&str]) -> (bool, Value) {
    coldlink_with(data, args, &[])
}

fn coldlink_with(data: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> (bool, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_coldlink"))
        .arg("--json")
        .args(args)
        .envs(env.iter().copied())
        .env("COLDLINK_SPECULOS", "off")
        .env("COLDLINK_TREZOR_EMULATOR", "off")
        .env("COLDLINK_DATA_DIR", data)
        // No price service: amounts in fiat must be refused, not guessed.
        .env("COLDLINK_PRICES_URL", "http://127.0.0.1:9")
        .output()
        .expect("run coldlink");
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        json!({
            "stdout": String::from_utf8_lossy(&out.stdout),
            "stderr": String::from_utf8_lossy(&out.stderr),
        })
    });
    (out.status.success(), v)
}

fn ok(data: &std::path::Path, args: &[&str]) -> Value {
    let (success, v) = coldlink(data, args);
    assert!(success, "{args:?}: {v}");
    v
}

fn sats(btc: &str) -> u64 {
    bitcoin::Amount::from_str_in(btc, bitcoin::Denomination::Bitcoin)
        .expect("amount")
        .to_sat()
}

#[test]
fn accounts_receive_sync_send_and_psbt_round_trip() {
    let node = Bitcoind::start("cli-btc");
    node.cli(&["createwallet", "miner"]).expect("wallet");
    let miner = node.cli(&["getnewaddress", "", "bech32"]).expect("address");
    let mine = |n: &str| {
        node.cli(&["generatetoaddress", n, &miner]).expect("mine");
    };
    mine("101");
    let data = std::env::temp_dir().join(format!("coldlink-cli-btc-data-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let d = data.as_path();
    let url = node.url();

    // The password from the environment (not the process list): without it the node
    // refuses, with it the node answers.
    let node_args = [
        "btc", "node", "--chain", "regtest", "--url", &url, "--user", "coldlink",
    ];
    let (refused, e) = coldlink_with(d, &node_args, &[("COLDLINK_NODE_PASSWORD", "wrong")]);
    assert!(!refused, "a wrong password is refused: {e}");
    let (set, s) = coldlink_with(d, &node_args, &[("COLDLINK_NODE_PASSWORD", "coldlink")]);
    assert!(set, "{s}");
    assert_eq!(s["chain"], "regtest");
    let a = ok(
        d,
        &[
            "btc",
            "add-account",
            "--device",
            "sim:ledger",
            "--kind",
            "tr",
            "--chain",
            "regtest",
        ],
    );
    let id = a["id"].as_u64().expect("id").to_string();
    let r = ok(
        d,
        &[
            "btc",
            "receive",
            "--account",
            &id,
            "--device",
            "sim:ledger",
            "--verify-on-device",
        ],
    );
    assert_eq!(r["verified"], true);
    let address = r["address"].as_str().expect("address").to_owned();
    assert_eq!(address, a["firstAddress"].as_str().expect("first"));
    node.cli(&["sendtoaddress", &address, "1.0"]).expect("fund");
    mine("1");
    let b = ok(d, &["btc", "sync", "--chain", "regtest"]);
    assert_eq!(b[0]["confirmed"], "1");

    // Send, signed on the device.
    let sent = ok(
        d,
        &[
            "btc",
            "send",
            "--device",
            "sim:ledger",
            "--account",
            &id,
            "--to",
            &miner,
            "--amount",
            "0.25",
            "--fee",
            "4",
        ],
    );
    let fee1: u64 = sent["review"]["feeSats"]
        .as_str()
        .expect("fee")
        .parse()
        .expect("number");
    assert_eq!(sent["review"]["feeRate"], "4.0");
    let txid = sent["txid"].as_str().expect("txid");
    assert!(node
        .cli(&["getrawmempool"])
        .expect("mempool")
        .contains(txid));
    mine("1");
    let b = ok(d, &["btc", "sync", "--chain", "regtest"]);
    assert_eq!(
        sats(b[0]["confirmed"].as_str().expect("balance")),
        100_000_000 - 25_000_000 - fee1
    );

    // Air-gapped: unsigned out, signed elsewhere, back in.
    let file = data.join("unsigned.psbt");
    let f = file.to_str().expect("path");
    let out = ok(
        d,
        &[
            "btc",
            "send",
            "--account",
            &id,
            "--to",
            &miner,
            "--amount",
            "10000000",
            "--sats",
            "--fee",
            "2",
            "--psbt-out",
            f,
        ],
    );
    assert!(file.exists());
    assert_eq!(
        out["psbt"].as_str(),
        std::fs::read_to_string(&file).ok().as_deref()
    );
    let signed = ok(
        d,
        &[
            "btc",
            "sign-psbt",
            "--device",
            "sim:ledger",
            "--chain",
            "regtest",
            &format!("@{f}"),
        ],
    );
    let signed = signed["psbt"].as_str().expect("signed");
    let (success, v) = coldlink(
        d,
        &[
            "btc",
            "finish",
            "--account",
            &id,
            "--unsigned",
            &format!("@{f}"),
            "--signed",
            &format!("@{f}"),
        ],
    );
    assert!(!success, "an unsigned PSBT is not broadcast: {v}");
    let done = ok(
        d,
        &[
            "btc",
            "finish",
            "--account",
            &id,
            "--unsigned",
            &format!("@{f}"),
            "--signed",
            signed,
        ],
    );
    let txid = done["txid"].as_str().expect("txid");
    assert!(node
        .cli(&["getrawmempool"])
        .expect("mempool")
        .contains(txid));

    // The same account through an Esplora server instead of the node: the same balances.
    let by_node = ok(d, &["btc", "sync", "--chain", "regtest"]);
    let esplora = coldlink_testkit::esplora::EsploraAdapter::start(&node);
    let s = ok(
        d,
        &[
            "btc",
            "node",
            "--chain",
            "regtest",
            "--esplora",
            "--url",
            &esplora.url,
        ],
    );
    assert_eq!(s["chain"], "regtest");
    let by_esplora = ok(d, &["btc", "sync", "--chain", "regtest"]);
    assert_eq!(by_esplora[0]["error"], Value::Null, "{by_esplora}");
    assert_eq!(
        (&by_esplora[0]["confirmed"], &by_esplora[0]["pending"]),
        (&by_node[0]["confirmed"], &by_node[0]["pending"])
    );

    // Bad input: a clear message, a failing exit.
    let (success, v) = coldlink(
        d,
        &[
            "btc",
            "send",
            "--account",
            &id,
            "--to",
            "bcrt1qnotanaddress",
            "--amount",
            "0.1",
            "--fee",
            "2",
        ],
    );
    assert!(!success);
    assert!(v.to_string().contains("not a valid Bitcoin address"), "{v}");
    let (success, v) = coldlink(
        d,
        &[
            "btc",
            "send",
            "--account",
            &id,
            "--to",
            &miner,
            "--amount",
            "50",
            "--fee",
            "2",
        ],
    );
    assert!(!success);
    assert!(v.to_string().contains("Not enough funds"), "{v}");
    let (success, v) = coldlink(
        d,
        &[
            "btc",
            "send",
            "--account",
            &id,
            "--to",
            &miner,
            "--amount",
            "100",
            "--fiat",
            "--fee",
            "2",
        ],
    );
    assert!(!success);
    assert!(v.to_string().contains("no bitcoin price is known"), "{v}");
    let _ = std::fs::remove_dir_all(&data);
}
