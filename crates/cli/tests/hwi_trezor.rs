//! The HWI-compatible mode with a Trezor: the simulated Trezor served over the emulator's UDP
//! transport, found through `COLDLINK_TREZOR_EMULATOR`, and driven by the calls Bitcoin Core
//! makes. Known answers are Trezor's device-test fixtures for `all ×12`.

use std::{process::Command, str::FromStr};

use bitcoin::Psbt;
use coldlink_signer::ScriptKind;
use coldlink_sim::{
    fixtures::spending_psbt,
    trezor::{spawn_udp, TrezorOptions, TrezorSim, UdpServer},
    Control,
};
use serde_json::Value;

const ALL: &str = "all all all all all all all all all all all all";
const FP: &str = "5c9e228d";

fn sim() -> (UdpServer, Control) {
    spawn_udp(TrezorSim::new(ALL, TrezorOptions::default()).expect("sim")).expect("serve")
}

fn run(server: &UdpServer, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_coldlink"))
        .env(
            "COLDLINK_DATA_DIR",
            std::env::temp_dir().join(format!("coldlink-cli-hwi-trezor-{}", std::process::id())),
        )
        .args(args)
        .env("COLDLINK_SPECULOS", "off")
        .env("COLDLINK_TREZOR_EMULATOR", server.addr().to_string())
        .output()
        .expect("run coldlink");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
    )
}

fn json(server: &UdpServer, args: &[&str]) -> Value {
    let (code, out) = run(server, args);
    assert_eq!(code, Some(0), "{args:?}: {out}");
    serde_json::from_str(&out).expect("JSON on stdout")
}

#[test]
fn bitcoin_core_calls_work_with_a_trezor() {
    let (server, user) = sim();
    let list = json(&server, &["hwi", "enumerate"]);
    let entry = &list.as_array().expect("array")[0];
    assert_eq!(entry["type"], "trezor");
    assert_eq!(entry["fingerprint"], FP);
    assert_eq!(entry["path"], format!("trezor-emu:{}", server.addr()));

    let d = json(
        &server,
        &[
            "hwi",
            "--fingerprint",
            FP,
            "--chain",
            "main",
            "getdescriptors",
            "--account",
            "0",
        ],
    );
    let receive = d["receive"].as_array().expect("receive");
    assert!(receive.iter().filter_map(Value::as_str).any(|d| d.starts_with(
        "wpkh([5c9e228d/84'/0'/0']xpub6DDUPHpUo4pcy43iJeZjbSVWGav1SMMmuWdMHiGtkK8rhKmfbomtkwW6GKs1GGAKehT6QRocrmda3WWxXawpjmwaUHfFRXuKrXSapdckEYF/0/*)#"
    )));

    // The first receive key, from the fixture's account xpub, as Core hands it over.
    let account = bitcoin::bip32::Xpub::from_str("xpub6DDUPHpUo4pcy43iJeZjbSVWGav1SMMmuWdMHiGtkK8rhKmfbomtkwW6GKs1GGAKehT6QRocrmda3WWxXawpjmwaUHfFRXuKrXSapdckEYF").expect("xpub");
    let key = account
        .derive_pub(
            &bitcoin::secp256k1::Secp256k1::verification_only(),
            &bitcoin::bip32::DerivationPath::from_str("m/0/0").expect("path"),
        )
        .expect("derive")
        .public_key;
    let desc = format!("wpkh([5c9e228d/84h/0h/0h/0/0]{key})");
    let a = json(
        &server,
        &[
            "hwi",
            "--fingerprint",
            FP,
            "--chain",
            "main",
            "displayaddress",
            "--desc",
            &desc,
        ],
    );
    // test_getaddress_segwit_native.py::test_show_segwit
    assert_eq!(a["address"], "bc1qannfxke2tfd4l7vhepehpvt05y83v3qsf6nfkk");
    assert_eq!(
        user.last_screen().expect("screen").field("Address"),
        Some("bc1qannfxke2tfd4l7vhepehpvt05y83v3qsf6nfkk")
    );

    let (psbt, _) = spending_psbt(ALL, ScriptKind::Taproot, 2);
    let (code, out) = run(
        &server,
        &[
            "btc",
            "sign-psbt",
            "--device",
            &format!("trezor-emu:{}", server.addr()),
            &psbt.to_string(),
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    let back = Psbt::from_str(out.lines().last().unwrap_or_default().trim()).expect("a PSBT");
    assert!(back.inputs.iter().all(|i| i.tap_key_sig.is_some()));
    assert_eq!(back.unsigned_tx, psbt.unsigned_tx);
}

#[test]
fn device_subcommands_take_trezor_ids() {
    let (server, _user) = sim();
    let id = format!("trezor-emu:{}", server.addr());
    assert_eq!(
        run(&server, &["fingerprint", "--device", &id]),
        (Some(0), FP.to_owned())
    );
    assert_eq!(
        run(&server, &["eth", "address", "--device", &id]).1,
        "0x73d0385F4d8E00C5e6504C6030F47BF6212736A8"
    );
    assert_eq!(
        run(&server, &["fingerprint", "--device", "sim:trezor"]),
        (Some(0), FP.to_owned())
    );
    // Nobody listening: a typed "disconnected"/"timeout" error, not a hang or a panic.
    let (code, _) = run(
        &server,
        &["fingerprint", "--device", "trezor-emu:127.0.0.1:9"],
    );
    assert_ne!(code, Some(0));
}
