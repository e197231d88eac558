//! The `coldlink` binary as scripts see it: JSON shapes, exit codes and typed errors.

use std::{net::TcpListener, process::Command};

fn coldlink() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_coldlink"));
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
