//! `coldlink evm …` against a real node: anvil with the public test mnemonic (whose first
//! account is the simulated Ledger's), a real ERC-20 deployed, the simulated Trezor's account
//! funded; the Ledger sends tokens and the Trezor sends ETH, each confirmed on its device and
//! mined; balances match to the wei; a wrong chain id and a node that is down are typed errors.

use std::process::Command;

use coldlink_testkit::{deploy_cold_token, rpc_raw, start_anvil, CHAIN};
use serde_json::{json, Value};

const MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const LEDGER: &str = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94";
const TREZOR: &str = "0x73d0385F4d8E00C5e6504C6030F47BF6212736A8";
const STRANGER: &str = "0x00000000000000000000000000000000c0ffee04";

fn coldlink(args: &[&str]) -> (bool, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_coldlink"))
        .arg("--json")
        .args(args)
        .env("COLDLINK_SPECULOS", "off")
        .env("COLDLINK_TREZOR_EMULATOR", "off")
        .env(
            "COLDLINK_DATA_DIR",
            std::env::temp_dir().join(format!("coldlink-cli-evm-{}", std::process::id())),
        )
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

#[test]
fn evm_balance_and_send_from_both_simulated_devices() {
    let node = start_anvil(MNEMONIC);
    let url = node.url();
    let chain = CHAIN.to_string();
    let net = ["--rpc", url.as_str(), "--chain-id", chain.as_str()];
    let token = deploy_cold_token(node.port, LEDGER, "CLD", 1_000 * 10u128.pow(18));
    // Fund the Trezor's account from the node's unlocked dev account.
    rpc_raw(
        node.port,
        "eth_sendTransaction",
        json!([{"from": LEDGER, "to": TREZOR, "value": "0x8ac7230489e80000"}]),
    )
    .expect("fund");

    // The Ledger sends 2.5 CLD to the Trezor (ERC-20 transfer, confirmed on the Ledger).
    let args = [
        &["evm", "send"][..],
        &net[..],
        &[
            "--device",
            "sim:ledger",
            "--to",
            TREZOR,
            "--amount",
            "2.5",
            "--token",
            &token,
        ],
    ]
    .concat();
    let (ok, sent) = coldlink(&args);
    assert!(ok, "{sent}");
    assert_eq!(sent["status"], "confirmed", "{sent}");
    assert_eq!(sent["review"]["amount"], "2.5 CLD");
    assert_eq!(sent["review"]["chainId"], CHAIN);
    assert_eq!(
        sent["review"]["tokenContract"]
            .as_str()
            .map(str::to_lowercase),
        Some(token.to_lowercase())
    );

    // The Trezor sends 0.25 ETH to a stranger.
    let args = [
        &["evm", "send"][..],
        &net[..],
        &[
            "--device",
            "sim:trezor",
            "--to",
            STRANGER,
            "--amount",
            "0.25",
            "--fee",
            "fast",
        ],
    ]
    .concat();
    let (ok, sent) = coldlink(&args);
    assert!(ok, "{sent}");
    assert_eq!(sent["status"], "confirmed", "{sent}");
    let hash = sent["hash"].as_str().expect("hash").to_owned();
    let (_, status) = coldlink(&[&["evm", "status"][..], &net[..], &[&hash]].concat());
    assert_eq!(status["status"], "confirmed");

    // Balances, to the wei.
    let args = [
        &["evm", "balance"][..],
        &net[..],
        &[
            "--address",
            TREZOR,
            "--address",
            STRANGER,
            "--token",
            &token,
        ],
    ]
    .concat();
    let (ok, b) = coldlink(&args);
    assert!(ok, "{b}");
    assert_eq!(b[0]["tokens"][0]["units"], "2500000000000000000");
    assert_eq!(b[0]["tokens"][0]["amount"], "2.5");
    assert_eq!(b[1]["wei"], "250000000000000000");
    assert_eq!(b[1]["amount"], "0.25");

    // No accounts added in the app yet (a fresh data folder): an empty list, not an error.
    let (ok, accounts) = coldlink(&["evm", "accounts", "--network", "ethereum"]);
    assert!(ok, "{accounts}");

    // A network whose chain id is not the node's: refused before anything is signed.
    let (ok, e) = coldlink(&[
        "evm",
        "balance",
        "--rpc",
        &url,
        "--chain-id",
        "1",
        "--address",
        TREZOR,
    ]);
    assert!(!ok);
    assert_eq!(e["error"]["kind"], "invalidInput", "{e}");
    // A mixed-case address with a wrong checksum is an input error.
    let bad = TREZOR.replace('F', "f");
    let (ok, e) = coldlink(&[&["evm", "balance"][..], &net[..], &["--address", &bad]].concat());
    assert!(!ok);
    assert_eq!(e["error"]["kind"], "invalidInput", "{e}");
    // The node goes away: a clear "cannot be reached".
    drop(node);
    let (ok, e) = coldlink(&[
        "evm",
        "balance",
        "--network",
        "ethereum",
        "--rpc",
        &url,
        "--address",
        TREZOR,
    ]);
    assert!(!ok);
    assert_eq!(e["error"]["kind"], "disconnected", "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("cannot be reached")),
        "{e}"
    );
}
