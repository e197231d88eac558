//! `coldlink btc …` and the HWI-compatible mode, called exactly as Bitcoin Core's external
//! signer support calls HWI (src/external_signer.cpp): `enumerate`; `--fingerprint F --chain C
//! getdescriptors --account N`; `--fingerprint F --chain C displayaddress --desc D`; and
//! `--stdin --fingerprint F --chain C` with `signtx <base64>` on standard input.

use std::{
    io::Write,
    process::{Command, Stdio},
    str::FromStr,
};

use bitcoin::Psbt;
use coldlink_signer::ScriptKind;
use coldlink_sim::{
    fixtures::spending_psbt,
    ledger::{spawn_speculos, LedgerSim, Server},
    Control,
};
use serde_json::Value;

const MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const FP: &str = "73c5da0a";

fn sim() -> (Server, Control) {
    let (server, user) = spawn_speculos(LedgerSim::new(MNEMONIC).expect("sim")).expect("serve");
    user.set_app(Some("Bitcoin"));
    (server, user)
}

/// Runs `coldlink hwi <args>` the way Core does (one argument list, optional stdin).
fn hwi(server: &Server, args: &str, stdin: Option<&str>) -> Value {
    let mut c = Command::new(env!("CARGO_BIN_EXE_coldlink"));
    c.env(
        "COLDLINK_DATA_DIR",
        std::env::temp_dir().join(format!("coldlink-cli-hwi-{}", std::process::id())),
    );
    c.arg("hwi")
        .args(args.split_whitespace())
        .env("COLDLINK_SPECULOS", server.addr().to_string())
        .env("COLDLINK_TREZOR_EMULATOR", "off")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn coldlink");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn bitcoin_core_external_signer_flow() {
    let (server, user) = sim();
    let list = hwi(&server, "enumerate", None);
    let entry = &list.as_array().expect("array")[0];
    assert_eq!(entry["fingerprint"], FP);
    assert_eq!(entry["type"], "ledger");
    assert_eq!(entry["path"], format!("speculos:{}", server.addr()));

    let d = hwi(
        &server,
        &format!("--fingerprint {FP} --chain main getdescriptors --account 0"),
        None,
    );
    let receive: Vec<&str> = d["receive"]
        .as_array()
        .expect("receive")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let internal: Vec<&str> = d["internal"]
        .as_array()
        .expect("internal")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!((receive.len(), internal.len()), (4, 4));
    let wpkh = receive
        .iter()
        .find(|d| d.starts_with("wpkh("))
        .expect("wpkh");
    assert!(wpkh.starts_with("wpkh([73c5da0a/84'/0'/0']xpub6CatWdiZiodmUeTDp8LT5or8nmbKNcuyvz7WyksVFkKB4RHwCD3XyuvPEbvqAQY3rAPshWcMLoP2fMFMKHPJ4ZeZXYVUhLv1VMrjPC7PW6V/0/*)#"), "{wpkh}");
    assert!(internal
        .iter()
        .any(|d| d.starts_with("tr([73c5da0a/86'/0'/0']") && d.contains("/1/*)#")));

    // BIP84's first key, as Core hands a single-key descriptor to displayaddress.
    let desc = "wpkh([73c5da0a/84h/0h/0h/0/0]0330d54fd0dd420a6e5f8d3624f5f3482cae350f79d5f0753bf5beef9c2d91af3c)";
    let a = hwi(
        &server,
        &format!("--fingerprint {FP} --chain main displayaddress --desc {desc}"),
        None,
    );
    assert_eq!(a["address"], "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu");
    assert_eq!(
        user.last_screen().expect("screen").field("Address"),
        Some("bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu")
    );
    // The same key claimed at another index: the device shows a different address; refused.
    let lie = desc.replace("/0/0]", "/0/1]");
    let e = hwi(
        &server,
        &format!("--fingerprint {FP} --chain main displayaddress --desc {lie}"),
        None,
    );
    assert!(
        e["error"]
            .as_str()
            .is_some_and(|m| m.contains("the device showed")),
        "{e}"
    );

    let (psbt, _) = spending_psbt(MNEMONIC, ScriptKind::NativeSegwit, 2);
    let signed = hwi(
        &server,
        &format!("--stdin --fingerprint {FP} --chain main"),
        Some(&format!("signtx {psbt}\n")),
    );
    let back = Psbt::from_str(signed["psbt"].as_str().expect("psbt")).expect("parses");
    assert_eq!(
        back.unsigned_tx, psbt.unsigned_tx,
        "nothing but signatures changes"
    );
    assert!(back.inputs.iter().all(|i| i.partial_sigs.len() == 1));
    assert_eq!(signed["signed"], true);
}

#[test]
fn hwi_errors_are_json_with_hwi_codes() {
    let (server, _user) = sim();
    for (args, stdin, code) in [
        (
            format!("--fingerprint {FP} --chain main signtx notapsbt"),
            None,
            -7,
        ),
        (
            format!("--stdin --fingerprint {FP} --chain main"),
            Some("signtx AAAA"),
            -7,
        ),
        (
            format!("--fingerprint {FP} --chain nonet getdescriptors"),
            None,
            -7,
        ),
        (
            format!("--fingerprint {FP} --chain main displayaddress --desc wpkh(nonsense)"),
            None,
            -7,
        ),
        (
            format!("--fingerprint {FP} --chain main togglepassphrase"),
            None,
            -9,
        ),
        (
            "--fingerprint deadbeef --chain main getdescriptors".to_owned(),
            None,
            -3,
        ),
        ("--chain main getdescriptors".to_owned(), None, -7),
    ] {
        let v = hwi(&server, &args, stdin);
        assert_eq!(v["code"], code, "{args}: {v}");
        assert!(v["error"].as_str().is_some_and(|m| !m.is_empty()), "{args}");
    }
}

#[test]
fn btc_subcommands() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_coldlink"))
            .env(
                "COLDLINK_DATA_DIR",
                std::env::temp_dir().join(format!("coldlink-cli-hwi-{}", std::process::id())),
            )
            .args(args)
            .output()
            .expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        )
    };
    assert_eq!(
        run(&["btc", "address", "--device", "sim:ledger", "--kind", "tr"]),
        (
            Some(0),
            "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr".to_owned()
        )
    );
    let (psbt, _) = spending_psbt(MNEMONIC, ScriptKind::Taproot, 1);
    let (code, out) = run(&[
        "btc",
        "sign-psbt",
        "--device",
        "sim:ledger",
        &psbt.to_string(),
    ]);
    assert_eq!(code, Some(0), "{out}");
    let signed = Psbt::from_str(&out).expect("base64 PSBT");
    assert!(signed.inputs[0].tap_key_sig.is_some());
    let (code, out) = run(&[
        "--json",
        "btc",
        "sign-psbt",
        "--device",
        "sim:ledger",
        "cHNidP8=",
    ]);
    assert_eq!(code, Some(1));
    assert!(out.contains("invalidInput"), "{out}");
    let (code, out) = run(&[
        "--json",
        "btc",
        "address",
        "--device",
        "sim:ledger",
        "--kind",
        "p2sh-multisig",
    ]);
    assert_eq!(code, Some(1));
    assert!(out.contains("unknown script type"), "{out}");
}
