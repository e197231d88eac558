//! Coldlink's Ledger host code against **Ledger's own firmware**: the Bitcoin Test app 2.0.1
//! running in Speculos. CI cannot run it (the app binary must not be committed, and Speculos
//! needs qemu), so it is ignored by default. Runbook, on a machine like the dev box:
//!
//! 1. `pip install speculos==0.13.1` and `apt-get install qemu-user-static`; patch the installed
//!    copy to bind 127.0.0.1 instead of 0.0.0.0 (main.py, api/api.py, mcu/*_tcp.py).
//! 2. Get `apps/nanox#btc-test#2.0.2#1c8db8da.elf` from the public LedgerHQ/speculos history
//!    (commit b8178fe) into /tmp (never into this repository).
//! 3. In a private network namespace (Speculos serves one client at a time):
//!    `ip netns add cl; ip -n cl link set lo up`, then
//!    `ip netns exec cl env SPECULOS_APPNAME="Bitcoin Test:2.0.1" speculos --model nanox
//!    --sdk 2.0.2 --display headless --apdu-port 9999 --api-port 5000 --seed "abandon … about"
//!    /tmp/btc-test.elf &`
//! 4. `ip netns exec cl env COLDLINK_SPECULOS_TEST=127.0.0.1:9999 cargo test -p coldlink-sim
//!    --test speculos_firmware -- --ignored` (build first outside the namespace).
//!
//! It checks, on the real app: app name and version, the master fingerprint, BIP84's published
//! testnet account key and first address (through LedgerHQ's client with policy version 1),
//! and that the simulator answers the same commands with the same bytes.

use std::{str::FromStr, time::Duration};

use bitcoin::{bip32::DerivationPath, Network};
use coldlink_ledger::{btc, dashboard, Apdu, DefaultWallet, Exchange, SpeculosExchange};
use coldlink_signer::ScriptKind;

fn device() -> SpeculosExchange {
    let addr = std::env::var("COLDLINK_SPECULOS_TEST").unwrap_or_else(|_| "127.0.0.1:9999".into());
    SpeculosExchange::connect(addr.parse().expect("HOST:PORT"), Duration::from_secs(30))
        .expect("Speculos is not listening: see the runbook at the top of this file")
}

#[test]
#[ignore = "needs Speculos running Ledger's Bitcoin Test app: see the runbook in this file"]
fn the_real_bitcoin_test_app_gives_the_published_answers() {
    let mut dev = device();
    let app = dashboard::app_and_version(&mut dev).expect("app");
    assert_eq!(app.name, "Bitcoin Test");
    assert_eq!(
        btc::master_fingerprint(&mut dev).expect("fp").to_string(),
        "73c5da0a"
    );
    let path = DerivationPath::from_str("m/84'/1'/0'").expect("path");
    let x = btc::extended_pubkey(&mut dev, &path, false).expect("xpub");
    // BIP84's testnet account key for this mnemonic is published as a vpub; the app writes
    // it with tpub version bytes. Same key material.
    let mut raw = bitcoin::base58::decode_check(
        "vpub5Y6cjg78GGuNLsaPhmYsiw4gYX3HoQiRBiSwDaBXKUafCt9bNwWQiitDk5VZ5BVxYnQdwoTyXSs2JHRPAgjAvtbBrf8ZhDYe2jWAqvZVnsc",
    )
    .expect("published vpub");
    raw[..4].copy_from_slice(&[0x04, 0x35, 0x87, 0xcf]);
    assert_eq!(x, bitcoin::bip32::Xpub::decode(&raw).expect("tpub"));
    let w = DefaultWallet::read(&mut dev, ScriptKind::NativeSegwit, Network::Testnet, 0)
        .expect("wallet");
    let a = w.address(&mut dev, false, 0, false).expect("address");
    assert_eq!(a.to_string(), "tb1q6rz28mcfaxtmd6v789l9rrlrusdprr9pqcpvkl");
}

#[test]
#[ignore = "needs Speculos running Ledger's Bitcoin Test app: see the runbook in this file"]
fn the_simulator_answers_like_the_firmware_byte_for_byte() {
    let mut real = device();
    let sim = coldlink_sim_exchange();
    let mut sim = sim;
    let apdus = [
        Apdu::new(0xe1, 0x05, 0, 0, vec![]),
        Apdu::new(
            0xe1,
            0x00,
            0,
            0,
            [
                vec![0, 3],
                0x8000_0054u32.to_be_bytes().to_vec(),
                0x8000_0001u32.to_be_bytes().to_vec(),
                0x8000_0000u32.to_be_bytes().to_vec(),
            ]
            .concat(),
        ),
        Apdu::new(
            0xe1,
            0x00,
            0,
            0,
            [
                vec![0, 5],
                0x8000_0056u32.to_be_bytes().to_vec(),
                0x8000_0001u32.to_be_bytes().to_vec(),
                0x8000_0000u32.to_be_bytes().to_vec(),
                0u32.to_be_bytes().to_vec(),
                7u32.to_be_bytes().to_vec(),
            ]
            .concat(),
        ),
        Apdu::new(0xe1, 0x7f, 0, 0, vec![]),
    ];
    for a in apdus {
        let r = real.exchange(&a).expect("real");
        let s = sim.exchange(&a).expect("sim");
        assert_eq!((r.sw, r.data), (s.sw, s.data), "INS {:#04x}", a.ins);
    }
}

/// Presses a button through Speculos' API (port 5000 next to the APDU port).
fn press(button: &str) {
    use std::io::{Read, Write};
    let body = r#"{"action":"press-and-release"}"#;
    if let Ok(mut s) = std::net::TcpStream::connect("127.0.0.1:5000") {
        let req = format!(
            "POST /button/{button} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let _ = s.write_all(req.as_bytes());
        let _ = s.read_to_end(&mut Vec::new());
    }
}

/// What the device's screen showed, as Speculos reports it.
fn screen_text() -> String {
    use std::io::{Read, Write};
    let mut out = String::new();
    if let Ok(mut s) = std::net::TcpStream::connect("127.0.0.1:5000") {
        let _ = s.write_all(b"GET /events HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
        let _ = s.read_to_string(&mut out);
    }
    out
}

#[test]
#[ignore = "needs Speculos running Ledger's Bitcoin Test app: see the runbook in this file"]
fn an_address_shown_on_the_real_device_is_approved_and_returned() {
    use std::sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    };
    let mut dev = device();
    let w = DefaultWallet::read(&mut dev, ScriptKind::NativeSegwit, Network::Testnet, 0)
        .expect("wallet");
    let done = Arc::new(AtomicBool::new(false));
    let presser = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            // "Both" approves only on the Approve screen; "right" moves to the next screen.
            while !done.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(400));
                press("both");
                std::thread::sleep(Duration::from_millis(200));
                press("right");
            }
        })
    };
    let a = w.address(&mut dev, false, 0, true);
    done.store(true, Ordering::SeqCst);
    let _ = presser.join();
    assert_eq!(
        a.expect("approved").to_string(),
        "tb1q6rz28mcfaxtmd6v789l9rrlrusdprr9pqcpvkl"
    );
    // The screen showed the address (Speculos 0.13.1's text reader drops capital "S").
    assert!(screen_text().contains("tb1q6rz28mcf"), "{}", screen_text());
}

#[test]
#[ignore = "needs Speculos running Ledger's Bitcoin Test app: see the runbook in this file"]
fn a_psbt_signed_by_the_real_app_passes_bitcoin_cores_interpreter() {
    use miniscript::psbt::PsbtExt;
    use std::sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    };
    let mut dev = device();
    // 2.0.x speaks policy version 1 and yields signatures without their key: the host adds it.
    let w = DefaultWallet::read(&mut dev, ScriptKind::NativeSegwit, Network::Testnet, 0)
        .expect("wallet");
    let (mut psbt, prevouts) = coldlink_sim::fixtures::spending_psbt_on(
        "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
        ScriptKind::NativeSegwit,
        Network::Testnet,
        2,
    );
    let done = Arc::new(AtomicBool::new(false));
    let presser = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(300));
                press("both");
                std::thread::sleep(Duration::from_millis(150));
                press("right");
            }
        })
    };
    let signed = w.sign_psbt(&mut dev, &mut psbt);
    done.store(true, Ordering::SeqCst);
    let _ = presser.join();
    assert_eq!(signed.expect("signed"), 2);
    let secp = bitcoin::secp256k1::Secp256k1::new();
    psbt.finalize_mut(&secp).expect("finalizes");
    let tx = psbt.extract_tx_unchecked_fee_rate();
    coldlink_btc::consensus::verify_tx(
        &tx,
        &tx.input
            .iter()
            .map(|i| prevouts[&i.previous_output].clone())
            .collect::<Vec<_>>(),
    )
    .expect("Bitcoin Core's script interpreter accepts the firmware's signatures");
}

/// The simulated Ledger with the same seed and app, in process.
fn coldlink_sim_exchange() -> Box<dyn Exchange> {
    use std::sync::{Arc, Mutex};
    let sim = coldlink_sim::ledger::LedgerSim::new(
        "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
    )
    .expect("sim");
    sim.control().set_app(Some("Bitcoin Test"));
    Box::new(coldlink_sim::ledger::InProcess(Arc::new(Mutex::new(sim))))
}
