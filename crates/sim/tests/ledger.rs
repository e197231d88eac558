//! Coldlink's Ledger host code against the simulated Ledger, over both transports a real
//! device or emulator uses: Speculos' TCP protocol and raw HID reports.
//!
//! Known answers come from public vectors for the "abandon … about" test mnemonic: BIP84's
//! published account key, the master fingerprint 73c5da0a, and the Ethereum address
//! 0x9858EfFD232B4033E47d90003D41EC34EcaEda94 at m/44'/60'/0'/0/0.

use std::{
    net::TcpListener,
    str::FromStr,
    sync::{Arc, Mutex},
    time::Duration,
};

use alloy_consensus::{SignableTransaction, TxEip1559, TxEip2930, TxLegacy, TypedTransaction};
use alloy_primitives::{address, Address, Bytes, TxKind, U256};
use bitcoin::bip32::{DerivationPath, Xpub};
use coldlink_bridge::TcpReportTransport;
use coldlink_ledger::{btc, dashboard, eth, Exchange, HidExchange, SpeculosExchange};
use coldlink_signer::SignerError;
use coldlink_sim::{
    ledger::{serve_hid, serve_speculos, LedgerSim, Server},
    Control, Decision,
};

const MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const ETH0: Address = address!("9858EfFD232B4033E47d90003D41EC34EcaEda94");
const T: Duration = Duration::from_secs(5);

struct Rig {
    control: Control,
    speculos: Server,
    hid: Server,
}

fn rig(app: Option<&str>) -> Rig {
    let sim = LedgerSim::new(MNEMONIC).expect("sim");
    let control = sim.control();
    control.set_app(app);
    let device = Arc::new(Mutex::new(sim));
    let l = || TcpListener::bind("127.0.0.1:0").expect("bind");
    Rig {
        control,
        speculos: serve_speculos(l(), Arc::clone(&device)).expect("speculos"),
        hid: serve_hid(l(), device).expect("hid"),
    }
}

impl Rig {
    fn speculos(&self) -> SpeculosExchange {
        SpeculosExchange::connect(self.speculos.addr(), T).expect("connect")
    }
    fn hid(&self) -> HidExchange<TcpReportTransport> {
        HidExchange::new(TcpReportTransport::connect(self.hid.addr()).expect("connect"))
            .with_timeout(T)
    }
    fn both(&self) -> Vec<Box<dyn Exchange>> {
        vec![Box::new(self.speculos()), Box::new(self.hid())]
    }
}

fn path(s: &str) -> DerivationPath {
    DerivationPath::from_str(s).expect("path")
}

#[test]
fn bitcoin_app_known_answers_over_both_transports() {
    let r = rig(Some("Bitcoin"));
    // BIP84's published account-0 key for this mnemonic, as an xpub (its zpub is
    // zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs).
    let bip84 = Xpub::from_str("xpub6CatWdiZiodmUeTDp8LT5or8nmbKNcuyvz7WyksVFkKB4RHwCD3XyuvPEbvqAQY3rAPshWcMLoP2fMFMKHPJ4ZeZXYVUhLv1VMrjPC7PW6V").expect("xpub");
    for mut dev in r.both() {
        let fp = btc::master_fingerprint(dev.as_mut()).expect("fingerprint");
        assert_eq!(fp.to_string(), "73c5da0a");
        let x = btc::extended_pubkey(dev.as_mut(), &path("m/84'/0'/0'"), false).expect("xpub");
        assert_eq!(x, bip84);
    }
}

#[test]
fn bip86_published_keys() {
    let r = rig(Some("Bitcoin"));
    let mut dev = r.hid();
    // BIP86's test vectors for this mnemonic: the root key and m/86'/0'/0'/0/0.
    let root = btc::extended_pubkey(&mut dev, &path("m"), false).expect("root");
    assert_eq!(root.to_string(), "xpub661MyMwAqRbcFkPHucMnrGNzDwb6teAX1RbKQmqtEF8kK3Z7LZ59qafCjB9eCRLiTVG3uxBxgKvRgbubRhqSKXnGGb1aoaqLrpMBDrVxga8");
    let first = btc::extended_pubkey(&mut dev, &path("m/86'/0'/0'/0/0"), false).expect("key");
    assert_eq!(first.to_string(), "xpub6H3W6JmYJXN49h5TfcVjLC3onS6uPeUTTJoVvRC8oG9vsTn2J8LwigLzq5tHbrwAzH9DGo6ThGUdWsqce8dGfwHVBxSbixjDADGGdzF7t2B");
}

#[test]
fn unplugged_at_every_step_of_a_chunked_signing_leaves_nothing_half_done() {
    let r = rig(Some("Ethereum"));
    let p = path("m/44'/60'/0'/0/0");
    // 1 address check + 4 chunks for a transaction with 700 bytes of data.
    for n in 1..=5 {
        for mut d in r.both() {
            r.control.disconnect_at_apdu(n);
            assert!(
                matches!(
                    eth::sign_transaction(d.as_mut(), &p, eip1559(700)),
                    Err(SignerError::Disconnected)
                ),
                "cable pulled at APDU {n}"
            );
        }
        for mut d in r.both() {
            let signed = eth::sign_transaction(d.as_mut(), &p, eip1559(700)).expect("next works");
            assert_eq!(signed.recover_signer().expect("recover"), ETH0);
        }
    }
}

#[test]
fn showing_an_xpub_puts_it_on_the_screen_and_honours_rejection() {
    let r = rig(Some("Bitcoin"));
    let mut dev = r.speculos();
    let x = btc::extended_pubkey(&mut dev, &path("m/86'/0'/0'"), true).expect("xpub");
    let screen = r.control.last_screen().expect("screen");
    assert_eq!(screen.title, "Export public key");
    assert_eq!(screen.field("Path"), Some("86'/0'/0'"));
    assert_eq!(screen.field("Public key"), Some(x.to_string().as_str()));
    r.control.then([Decision::Reject]);
    assert!(matches!(
        btc::extended_pubkey(&mut dev, &path("m/86'/0'/0'"), true),
        Err(SignerError::Rejected)
    ));
}

#[test]
fn ethereum_address_known_answer_and_display() {
    let r = rig(Some("Ethereum"));
    for mut dev in r.both() {
        let a =
            eth::address(dev.as_mut(), &path("m/44'/60'/0'/0/0"), false, true).expect("address");
        assert_eq!(a.address, ETH0);
        assert!(a.chain_code.is_some());
    }
    let mut dev = r.hid();
    eth::address(&mut dev, &path("m/44'/60'/0'/0/0"), true, false).expect("shown");
    let s = r.control.last_screen().expect("screen");
    assert_eq!(
        (s.title.as_str(), s.field("Address")),
        (
            "Verify address",
            Some("0x9858EfFD232B4033E47d90003D41EC34EcaEda94")
        )
    );
}

fn eip1559(data_len: usize) -> TypedTransaction {
    TypedTransaction::Eip1559(TxEip1559 {
        chain_id: 31337,
        nonce: 0,
        gas_limit: 21_000 + 16 * data_len as u64,
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(address!("70997970C51812dc3A010C7d01b50e0d17dc79C8")),
        value: U256::from(500_000_000_000_000_000u128),
        access_list: Default::default(),
        input: Bytes::from(vec![0xab; data_len]),
    })
}

#[test]
fn ethereum_signs_every_transaction_type_and_the_signature_verifies() {
    let r = rig(Some("Ethereum"));
    let p = path("m/44'/60'/0'/0/0");
    let legacy = TypedTransaction::Legacy(TxLegacy {
        chain_id: Some(1),
        nonce: 9,
        gas_price: 20_000_000_000,
        gas_limit: 21_000,
        to: TxKind::Call(address!("3535353535353535353535353535353535353535")),
        value: U256::from(1_000_000_000_000_000_000u128),
        input: Bytes::new(),
    });
    let big_chain = TypedTransaction::Legacy(TxLegacy {
        chain_id: Some(11_155_111),
        ..match &legacy {
            TypedTransaction::Legacy(t) => t.clone(),
            _ => unreachable!(),
        }
    });
    let access = TypedTransaction::Eip2930(TxEip2930 {
        chain_id: 10,
        nonce: 1,
        gas_price: 1_000_000_000,
        gas_limit: 30_000,
        to: TxKind::Call(ETH0),
        value: U256::from(1u8),
        access_list: Default::default(),
        input: Bytes::new(),
    });
    // 0 bytes of data, then enough to need several 255-byte chunks.
    for tx in [legacy, big_chain, access, eip1559(0), eip1559(700)] {
        for mut dev in r.both() {
            let signed = eth::sign_transaction(dev.as_mut(), &p, tx.clone()).expect("signed");
            assert_eq!(signed.recover_signer().expect("recover"), ETH0);
            assert_eq!(signed.signature_hash(), tx.signature_hash());
        }
    }
    let s = r.control.last_screen().expect("screen");
    assert_eq!(s.title, "Review transaction");
    assert_eq!(s.field("Amount"), Some("0.5 ETH"));
    assert_eq!(
        s.field("Address"),
        Some("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
    );
    assert_eq!(s.field("Max Fees"), Some("0.0000644 ETH"));
    assert_eq!(s.field("Chain ID"), Some("31337"));
    assert_eq!(s.field("Data"), Some("700 bytes"));
}

#[test]
fn personal_message_signature_verifies() {
    let r = rig(Some("Ethereum"));
    let mut dev = r.hid();
    let msg = vec![b'x'; 600];
    let (sig, from) =
        eth::sign_personal_message(&mut dev, &path("m/44'/60'/0'/0/0"), &msg).expect("signed");
    assert_eq!(from, ETH0);
    assert_eq!(sig.recover_address_from_msg(&msg).expect("recover"), ETH0);
    assert_eq!(
        r.control.last_screen().expect("screen").title,
        "Sign message"
    );
}

#[test]
fn dashboard_reports_and_opens_apps() {
    let r = rig(None);
    let mut dev = r.speculos();
    let a = dashboard::app_and_version(&mut dev).expect("dashboard");
    assert!(a.is_dashboard());
    assert!(matches!(
        btc::master_fingerprint(&mut dev),
        Err(SignerError::WrongApp { .. })
    ));
    r.control.then([Decision::Reject]);
    assert!(matches!(
        dashboard::open_app(&mut dev, "Bitcoin"),
        Err(SignerError::Rejected)
    ));
    dashboard::open_app(&mut dev, "Bitcoin").expect("opened");
    let a = dashboard::app_and_version(&mut dev).expect("app");
    assert_eq!((a.name.as_str(), a.version.as_str()), ("Bitcoin", "2.1.3"));
    assert!(matches!(
        eth::address(&mut dev, &path("m/44'/60'/0'/0/0"), false, false),
        Err(SignerError::WrongApp { .. })
    ));
    dashboard::quit_app(&mut dev).expect("quit");
    assert!(dashboard::app_and_version(&mut dev)
        .expect("dash")
        .is_dashboard());
    assert!(matches!(
        dashboard::open_app(&mut dev, "Monero"),
        Err(SignerError::Device { code: 0x6807, .. })
    ));
}

#[test]
fn faults_give_typed_errors_and_the_next_operation_works() {
    let r = rig(Some("Ethereum"));
    let p = path("m/44'/60'/0'/0/0");
    // Locked. (One client at a time, like Speculos: each connection is closed before the next.)
    r.control.set_locked(true);
    let mut dev = r.speculos();
    assert!(matches!(
        eth::address(&mut dev, &p, false, false),
        Err(SignerError::Locked)
    ));
    r.control.set_locked(false);
    assert_eq!(
        eth::address(&mut dev, &p, false, false)
            .expect("unlocked")
            .address,
        ETH0
    );
    // Rejected.
    r.control.then([Decision::Reject]);
    assert!(matches!(
        eth::sign_transaction(&mut dev, &p, eip1559(0)),
        Err(SignerError::Rejected)
    ));
    drop(dev);
    // Silent user: the host times out, then carries on with a fresh connection.
    for mut slow in [
        Box::new(
            SpeculosExchange::connect(r.speculos.addr(), Duration::from_millis(300)).expect("c"),
        ) as Box<dyn Exchange>,
        Box::new(
            HidExchange::new(TcpReportTransport::connect(r.hid.addr()).expect("c"))
                .with_timeout(Duration::from_millis(300)),
        ),
    ] {
        // The address request is answered (the device is responsive) ...
        r.control.then([Decision::Silent]);
        assert!(matches!(
            eth::sign_transaction(slow.as_mut(), &p, eip1559(0)),
            Err(SignerError::Timeout)
        ));
        // ... and the screen shows the transaction the user never confirmed.
        assert_eq!(
            r.control.last_screen().expect("screen").title,
            "Review transaction"
        );
    }
    // Unplugged mid-exchange (at the confirmation), on both transports.
    for mut d in r.both() {
        r.control.then([Decision::Disconnect]);
        assert!(matches!(
            eth::sign_transaction(d.as_mut(), &p, eip1559(300)),
            Err(SignerError::Disconnected)
        ));
    }
    // Nothing is left half-done: a new connection signs normally.
    for mut d in r.both() {
        let signed = eth::sign_transaction(d.as_mut(), &p, eip1559(300)).expect("after faults");
        assert_eq!(signed.recover_signer().expect("recover"), ETH0);
    }
}
