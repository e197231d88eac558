//! The `coldlink` binary as scripts see it: JSON shapes, exit codes and typed errors.

use std::{net::TcpListener, process::Command};

fn coldlink() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_coldlink"));
    c.env(
        "COLDLINK_DATA_DIR",
        std::env::temp_dir().join(format!("coldlink-cli-cli-{}", std::process::id())),
    );
    c.env("COLDLINK_TREZOR_EMULATOR", "off");
    c
}

#[test]
fn devices_json_lists_a_live_emulator() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let out = coldlink()
        .args(["devices", "--json"])
        .env("COLDLINK_SPECULOS", addr.to_string())
        .output()
        .expect("run coldlink");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json on stdout");
    let devices = v["devices"].as_array().expect("devices array");
    let d = devices
        .iter()
        .find(|d| d["id"] == format!("speculos:{addr}"))
        .expect("the emulator is listed");
    assert_eq!(d["vendor"], "ledger");
    assert_eq!(d["connection"], "speculosTcp");
    assert_eq!(d["emulated"], true);
    assert!(v["warnings"].is_array());
}

#[test]
fn devices_text_says_when_nothing_is_connected() {
    let out = coldlink()
        .arg("devices")
        .env("COLDLINK_SPECULOS", "off")
        .output()
        .expect("run coldlink");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    // No hardware is attached on test machines; if one is, it is listed instead.
    assert!(
        text.contains("No device connected") && text.contains("udev")
            || text.lines().any(|l| l.contains('\t')),
        "{text}"
    );
}

#[test]
fn bad_configuration_is_a_typed_error_not_a_crash() {
    let out = coldlink()
        .args(["devices", "--json"])
        .env("COLDLINK_SPECULOS", "not-an-address")
        .output()
        .expect("run coldlink");
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json error");
    assert_eq!(v["error"]["kind"], "invalidInput");
    assert!(v["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("COLDLINK_SPECULOS")));

    let out = coldlink()
        .arg("devices")
        .env("COLDLINK_SPECULOS", "not-an-address")
        .output()
        .expect("run coldlink");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("coldlink: COLDLINK_SPECULOS"));
}

#[test]
fn unknown_subcommands_are_usage_errors() {
    let out = coldlink().arg("frobnicate").output().expect("run coldlink");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognized subcommand"));
}

fn json_of(args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let out = coldlink()
        .args(args)
        .arg("--json")
        .output()
        .expect("run coldlink");
    let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code(), v)
}

#[test]
fn device_commands_on_the_demo_device_give_known_answers() {
    let (code, v) = json_of(&["fingerprint", "--device", "sim:ledger"]);
    assert_eq!(
        (code, v["fingerprint"].as_str()),
        (Some(0), Some("73c5da0a"))
    );
    let (_, v) = json_of(&["xpub", "--device", "sim:ledger", "--path", "m/84'/0'/0'"]);
    assert_eq!(
        v["xpub"],
        "xpub6CatWdiZiodmUeTDp8LT5or8nmbKNcuyvz7WyksVFkKB4RHwCD3XyuvPEbvqAQY3rAPshWcMLoP2fMFMKHPJ4ZeZXYVUhLv1VMrjPC7PW6V"
    );
    let (_, v) = json_of(&["eth", "address", "--device", "sim:ledger"]);
    assert_eq!(v["address"], "0x9858EfFD232B4033E47d90003D41EC34EcaEda94");
    let tx = r#"{"chainId":1,"nonce":0,"to":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed","value":"1","gasLimit":21000,"gasPrice":"1"}"#;
    let (code, v) = json_of(&["eth", "sign-tx", "--device", "sim:ledger", "--tx", tx]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["from"], "0x9858EfFD232B4033E47d90003D41EC34EcaEda94");
    assert!(
        v["raw"].as_str().is_some_and(|r| r.starts_with("0xf8")),
        "{v}"
    );
}

#[test]
fn device_commands_over_speculos_protocol() {
    let sim = coldlink_sim::ledger::LedgerSim::new(coldlink_app::DEMO_MNEMONIC).expect("sim");
    let (server, _user) = coldlink_sim::ledger::spawn_speculos(sim).expect("serve");
    let id = format!("speculos:{}", server.addr());
    let (code, v) = json_of(&["fingerprint", "--device", &id]);
    assert_eq!(
        (code, v["fingerprint"].as_str()),
        (Some(0), Some("73c5da0a"))
    );
    // Selecting by fingerprint finds the same device (its Bitcoin app is open now).
    let out = coldlink()
        .args(["eth", "address", "--fingerprint", "73C5DA0A"])
        .env("COLDLINK_SPECULOS", server.addr().to_string())
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"
    );
}

#[test]
fn device_command_input_errors_are_typed() {
    for (args, needle) in [
        (&["fingerprint"][..], "choose a device"),
        (&["fingerprint", "--device", "nope"], "unknown device"),
        (
            &["xpub", "--device", "sim:ledger", "--path", "m/zz"],
            "not a derivation path",
        ),
        (
            &["eth", "sign-tx", "--device", "sim:ledger", "--tx", "{"],
            "transaction request",
        ),
        (
            &[
                "eth",
                "sign-tx",
                "--device",
                "sim:ledger",
                "--tx",
                "@/nonexistent.json",
            ],
            "cannot read",
        ),
    ] {
        let (code, v) = json_of(args);
        assert_eq!(code, Some(1), "{args:?}");
        assert_eq!(v["error"]["kind"], "invalidInput", "{args:?}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(needle)),
            "{args:?}: {v}"
        );
    }
    let (code, v) = json_of(&["fingerprint", "--device", "speculos:127.0.0.1:1"]);
    assert_eq!(
        (code, v["error"]["kind"].as_str()),
        (Some(1), Some("disconnected"))
    );
}

#[test]
fn bitcoin_accounts_from_a_device_and_a_pasted_key() {
    let dir =
        std::env::temp_dir().join(format!("coldlink-cli-btc-accounts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_coldlink"))
            .args(args)
            .env("COLDLINK_DATA_DIR", &dir)
            .env("COLDLINK_SPECULOS", "off")
            .env("COLDLINK_TREZOR_EMULATOR", "off")
            .output()
            .expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = run(&[
        "btc",
        "add-account",
        "--device",
        "sim:trezor",
        "--kind",
        "tr",
    ]);
    assert_eq!(code, Some(0), "{out}");
    // Trezor's fixture for all ×12, m/86'/0'/0'/0/0.
    assert!(
        out.contains("bc1ptxs597p3fnpd8gwut5p467ulsydae3rp9z75hd99w8k3ljr9g9rqx6ynaw"),
        "{out}"
    );
    let (code, out) = run(&["btc", "add-account", "--watch", "not a key"]);
    assert_eq!(code, Some(1), "{out}");
    let (code, out) = run(&["--json", "btc", "accounts"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v.as_array().map(Vec::len), Some(1));
    assert_eq!(v[0]["signer"], "5c9e228d");
    let _ = std::fs::remove_dir_all(&dir);
}
