//! The signing journal from the command line: signing requests (a PSBT on the simulated
//! Ledger, an EVM transaction, a rejected one) are journaled with what was reviewed and how they
//! ended; `coldlink journal verify` passes, and after one row is edited in the database it
//! fails naming that entry.

use std::process::Command;

use coldlink_signer::ScriptKind;
use coldlink_sim::fixtures::spending_psbt;
use serde_json::Value;

const MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

fn run(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_coldlink"))
        .arg("--json")
        .args(args)
        .env("COLDLINK_DATA_DIR", dir)
        .env("COLDLINK_SPECULOS", "off")
        .env("COLDLINK_TREZOR_EMULATOR", "off")
        .output()
        .expect("run");
    (
        out.status.code(),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
    )
}

#[test]
fn signing_requests_are_journaled_and_tampering_is_named() {
    let dir = std::env::temp_dir().join(format!("coldlink-cli-journal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (psbt, _) = spending_psbt(MNEMONIC, ScriptKind::NativeSegwit, 1);
    let (code, _) = run(
        &dir,
        &[
            "btc",
            "sign-psbt",
            "--device",
            "sim:ledger",
            &psbt.to_string(),
        ],
    );
    assert_eq!(code, Some(0));
    let tx = r#"{"chainId":1,"nonce":0,"to":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed","value":"7","gasLimit":21000,"maxFeePerGas":"2","maxPriorityFeePerGas":"1"}"#;
    let (code, _) = run(
        &dir,
        &["eth", "sign-tx", "--device", "sim:trezor", "--tx", tx],
    );
    assert_eq!(code, Some(0));
    // A request that fails (another wallet's PSBT) is journaled too.
    let (other, _) = spending_psbt(
        "all all all all all all all all all all all all",
        ScriptKind::NativeSegwit,
        1,
    );
    let (code, _) = run(
        &dir,
        &[
            "btc",
            "sign-psbt",
            "--device",
            "sim:ledger",
            &other.to_string(),
        ],
    );
    assert_ne!(code, Some(0));

    let (code, list) = run(&dir, &["journal", "list"]);
    assert_eq!(code, Some(0));
    let list = list.as_array().expect("entries").clone();
    assert_eq!(list.len(), 3);
    assert!(
        list[0]["outcome"]
            .as_str()
            .is_some_and(|o| o.starts_with("failed")),
        "{}",
        list[0]
    );
    assert_eq!(list[1]["outcome"], "signed");
    assert_eq!(list[1]["chain"], "evm:1");
    let review: Value =
        serde_json::from_str(list[1]["review"].as_str().expect("review")).expect("json");
    assert_eq!(review["valueWei"], "7");
    assert!(list[2]["outcome"]
        .as_str()
        .is_some_and(|o| o.starts_with("signed")));
    let review: Value =
        serde_json::from_str(list[2]["review"].as_str().expect("review")).expect("json");
    assert_eq!(review["feeSats"], 1500);
    assert_eq!(review["outputs"][0]["sats"], 60_000);
    let (code, v) = run(&dir, &["journal", "verify"]);
    assert_eq!(
        (code, v["intact"].as_str()),
        (Some(0), Some("3 entries intact"))
    );

    // Someone edits the second entry's outcome in the database.
    let conn = rusqlite::Connection::open(dir.join("coldlink.db")).expect("open");
    conn.execute("UPDATE journal SET outcome = 'rejected' WHERE seq = 2", [])
        .expect("tamper");
    drop(conn);
    let (code, v) = run(&dir, &["journal", "verify"]);
    assert_eq!(code, Some(1));
    let msg = v["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("entry 2") && msg.contains("changed"), "{msg}");
    let _ = std::fs::remove_dir_all(&dir);
}
