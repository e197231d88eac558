//! Coldlink's Trezor host code against the simulated Trezor, over the emulator's UDP
//! transport (and plugged in directly for the fault tests).
//!
//! Known answers are Trezor's own device-test fixtures for the seed `all ×12` (trezor-firmware
//! `tests/device_tests/bitcoin/test_descriptors.py::test_descriptors`,
//! `test_getaddress.py::test_btc`, `test_getaddress_segwit_native.py::test_show_segwit`,
//! `test_signmessage.py`, and `common/tests/fixtures/ethereum/{getaddress,signmessage,
//! sign_tx_eip1559,sign_tx_eip155}.json`). Every signed Bitcoin transaction is verified with
//! Bitcoin Core's script interpreter.

use std::{
    collections::{BTreeMap, VecDeque},
    str::FromStr,
    sync::{Arc, Mutex},
    time::Duration,
};

use alloy_consensus::{TxEip1559, TxLegacy, TypedTransaction};
use alloy_primitives::{hex, Address, Bytes, TxKind, U256};
use bitcoin::{
    bip32::DerivationPath, psbt::Psbt, secp256k1::Secp256k1, Network, OutPoint, Transaction, TxOut,
};
use coldlink_bridge::UdpTransport;
use coldlink_signer::{BitcoinSigner, Interaction, Prompt, ScriptKind, Signer, SignerError};
use coldlink_sim::{
    fixtures::{spending_psbt, EXTERNAL},
    trezor::{
        positions_for_pin, spawn_udp, InProcess, TrezorModel, TrezorOptions, TrezorSim, UdpServer,
    },
    Control, Decision,
};
use coldlink_trezor::{Session, Trezor};
use coldlink_types::Sensitive;
use miniscript::psbt::PsbtExt;

const ALL: &str = "all all all all all all all all all all all all";

/// The person at the computer: answers the PIN matrix by reading the device's screen (as a
/// person would look at it) and types passphrases; records what the app showed.
struct User {
    control: Control,
    pins: Mutex<VecDeque<String>>,
    passphrase: Option<String>,
    prompts: Mutex<Vec<Prompt>>,
}

impl User {
    fn new(control: &Control) -> Self {
        Self {
            control: control.clone(),
            pins: Mutex::new(VecDeque::new()),
            passphrase: None,
            prompts: Mutex::new(vec![]),
        }
    }
}

impl Interaction for User {
    fn confirm_on_device(&self, prompt: &Prompt) {
        self.prompts.lock().expect("lock").push(prompt.clone());
    }
    fn pin_matrix(&self) -> Option<Sensitive<String>> {
        let pin = self.pins.lock().expect("lock").pop_front()?;
        let screen = self.control.last_screen()?;
        positions_for_pin(screen.field("Matrix")?, &pin).map(Sensitive::new)
    }
    fn passphrase(&self) -> Option<Sensitive<String>> {
        self.passphrase.clone().map(Sensitive::new)
    }
}

fn udp(
    sim: TrezorSim,
    user: impl FnOnce(&Control) -> User,
) -> (UdpServer, Control, Arc<User>, Trezor) {
    let control = sim.control();
    let user = Arc::new(user(&control));
    let (server, _) = spawn_udp(sim).expect("serve");
    let t = UdpTransport::connect(server.addr()).expect("connect");
    let dev = Trezor::open(Box::new(t), Network::Bitcoin, user.clone()).expect("open");
    (server, control, user, dev)
}

fn model_t() -> TrezorSim {
    TrezorSim::new(ALL, TrezorOptions::default()).expect("sim")
}

fn path(p: &str) -> DerivationPath {
    DerivationPath::from_str(p).expect("path")
}

#[test]
fn features_fingerprint_xpubs_and_addresses_match_trezors_fixtures() {
    let (_s, _c, user, mut dev) = udp(model_t(), User::new);
    let info = dev.info().clone();
    assert_eq!(info.model_name, "Trezor Model T");
    assert_eq!(info.firmware, "2.8.1");
    assert!(info.initialized && info.unlocked && !info.pin_matrix);
    assert_eq!(
        dev.master_fingerprint().expect("fp").to_string(),
        "5c9e228d"
    );
    let xpubs = [
        ("m/44'/0'/0'", "xpub6BiVtCpG9fQPxnPmHXG8PhtzQdWC2Su4qWu6XW9tpWFYhxydCLJGrWBJZ5H6qTAHdPQ7pQhtpjiYZVZARo14qHiay2fvrX996oEP42u8wZy"),
        ("m/49'/0'/0'", "xpub6CVKsQYXc9awxgV1tWbG4foDvdcnieK2JkbpPEBKB5WwAPKBZ1mstLbKVB4ov7QzxzjaxNK6EfmNY5Jsk2cG26EVcEkycGW4tchT2dyUhrx"),
        ("m/84'/0'/0'", "xpub6DDUPHpUo4pcy43iJeZjbSVWGav1SMMmuWdMHiGtkK8rhKmfbomtkwW6GKs1GGAKehT6QRocrmda3WWxXawpjmwaUHfFRXuKrXSapdckEYF"),
        ("m/86'/0'/0'", "xpub6Bw885JisRbcKmowfBvMmCxaFHodKn1VpmRmctmJJoM8D4DzyP4qJv8ZdD9V9r3SSGjmK2KJEDnvLH6f1Q4HrobEvnCeKydNvf1eir3RHZk"),
    ];
    for (p, want) in xpubs {
        assert_eq!(dev.xpub(&path(p), false).expect(p).to_string(), want, "{p}");
    }
    let addresses = [
        (
            ScriptKind::Legacy,
            "m/44'/0'/0'/0/0",
            "1JAd7XCBzGudGpJQSDSfpmJhiygtLQWaGL",
        ),
        (
            ScriptKind::NestedSegwit,
            "m/49'/0'/0'/0/0",
            "3L6TyTisPBmrDAj6RoKmDzNnj4eQi54gD2",
        ),
        (
            ScriptKind::NativeSegwit,
            "m/84'/0'/0'/0/0",
            "bc1qannfxke2tfd4l7vhepehpvt05y83v3qsf6nfkk",
        ),
        (
            ScriptKind::NativeSegwit,
            "m/84'/0'/0'/1/0",
            "bc1qktmhrsmsenepnnfst8x6j27l0uqv7ggrg8x38q",
        ),
        (
            ScriptKind::Taproot,
            "m/86'/0'/0'/0/0",
            "bc1ptxs597p3fnpd8gwut5p467ulsydae3rp9z75hd99w8k3ljr9g9rqx6ynaw",
        ),
        (
            ScriptKind::Taproot,
            "m/86'/0'/0'/1/0",
            "bc1pgypgja2hmcx2l6s2ssq75k6ev68ved6nujcspt47dgvkp8euc70s6uegk6",
        ),
    ];
    for (kind, p, want) in addresses {
        assert_eq!(
            dev.address(kind, &path(p), false, user.as_ref()).expect(p),
            want
        );
    }
    assert_eq!(
        dev.eth_address(&path("m/44'/60'/0'/0/0"), false)
            .expect("eth")
            .to_checksum(None),
        "0x73d0385F4d8E00C5e6504C6030F47BF6212736A8"
    );
    assert_eq!(
        dev.eth_address(&path("m/44'/60'/0'/0/100"), false)
            .expect("eth")
            .to_checksum(None),
        "0x1e6E3708a059aEa1241a81c7aAe84b6CDbC54d59"
    );
}

#[test]
fn showing_an_address_puts_the_same_one_on_both_screens() {
    let (_s, control, user, mut dev) = udp(model_t(), User::new);
    let account = path("m/84'/0'/0'");
    let shown = dev
        .display_address(ScriptKind::NativeSegwit, &account, false, 0, user.as_ref())
        .expect("shown");
    assert_eq!(shown, "bc1qannfxke2tfd4l7vhepehpvt05y83v3qsf6nfkk");
    assert_eq!(
        control.last_screen().expect("screen").field("Address"),
        Some(shown.as_str())
    );
    assert_eq!(
        user.prompts.lock().expect("lock").last(),
        Some(&Prompt::Address(shown.clone()))
    );
    control.then([Decision::Reject]);
    assert!(matches!(
        dev.display_address(ScriptKind::NativeSegwit, &account, false, 0, user.as_ref()),
        Err(SignerError::Rejected)
    ));
    // A path whose purpose does not fit the script type is refused by the device.
    assert!(matches!(
        dev.address(
            ScriptKind::Taproot,
            &path("m/84'/0'/0'/0/0"),
            false,
            user.as_ref()
        ),
        Err(SignerError::InvalidRequest(_))
    ));
    // And the session is still good afterwards.
    assert!(dev
        .address(
            ScriptKind::NativeSegwit,
            &path("m/84'/0'/0'/0/0"),
            false,
            user.as_ref()
        )
        .is_ok());
}

fn eip1559(
    nonce: u64,
    gas: u64,
    max_fee: u128,
    tip: u128,
    to: &str,
    value: u128,
    data: &str,
) -> TypedTransaction {
    TypedTransaction::Eip1559(TxEip1559 {
        chain_id: 1,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: tip,
        to: TxKind::Call(Address::from_str(to).expect("to")),
        value: U256::from(value),
        access_list: Default::default(),
        input: Bytes::from(hex::decode(data).expect("hex")),
    })
}

#[test]
fn ethereum_signatures_match_trezors_fixtures() {
    let (_s, control, _u, mut dev) = udp(model_t(), User::new);
    // sign_tx_eip1559.json: "nodata", "erc20", "long_fees".
    let cases = [
        ("m/44'/60'/0'/0/100", eip1559(0, 0x14, 0x14, 1, "0x1d1c328764a41bda0492b66baa30c4a339ff85ef", 10, ""),
         "2ceeaabc994fbce2fbd66551f9d48fc711c8db2a12e93779eeddede11e41f636", "2db4a9ecc73da91206f84397ae9287a399076fdc01ed7f3c6554b1c57c39bf8c"),
        ("m/44'/60'/0'/0/1", eip1559(0, 0x14, 0x14, 1, "0xfc6b5d6af8a13258f7cbd0d39e11b35e01a32f93", 0,
            "a9059cbb000000000000000000000000574bbb36871ba6b78e27f4b4dcfb76ea0091880b0000000000000000000000000000000000000000000000000000000000000123"),
         "e631b56bcc596844cb8686b2046e36cf33634aa396e7e1ea94a97aac02c18bda", "399bff8752539176c4b2f1d5d2a8f6029f79841d28802149ab339a033ffe4c1f"),
        ("m/44'/60'/0'/0/0", eip1559(0, 0xff, 0x6b14e9f812f366fb9, 0x15681d9b48e13b1e2, "0x1d1c328764a41bda0492b66baa30c4a339ff85ef", 10, ""),
         "ece384bf1922afff7b99e017a7326f11f1610c5a08ee87dda7f19572d8019ed9", "4e9e2ecbcd032dbc67fb3fc71e24cb21930f68d8788502383ae4a6fd4397af4f"),
    ];
    for (p, tx, r, s) in cases {
        let signed = dev.eth_sign_transaction(&path(p), tx).expect("signed");
        let sig = signed.signature();
        assert_eq!(hex::encode(sig.r().to_be_bytes::<32>()), r, "{p}");
        assert_eq!(hex::encode(sig.s().to_be_bytes::<32>()), s, "{p}");
        assert!(sig.v(), "fixture v = 1");
    }
    let review = control.last_screen().expect("screen");
    assert_eq!(review.field("Chain ID"), Some("1"));
    // sign_tx_eip155.json "Ethereum": legacy with EIP-155, v = 38.
    let legacy = TypedTransaction::Legacy(TxLegacy {
        chain_id: Some(1),
        nonce: 0,
        gas_price: 0x4a817c800,
        gas_limit: 0x5208,
        to: TxKind::Call(
            Address::from_str("0x8eA7a3fccC211ED48b763b4164884DDbcF3b0A98").expect("to"),
        ),
        value: U256::from(0x2540be400_u64),
        input: Bytes::new(),
    });
    let signed = dev
        .eth_sign_transaction(&path("m/44'/60'/0'/0/0"), legacy)
        .expect("legacy");
    assert_eq!(
        hex::encode(signed.signature().r().to_be_bytes::<32>()),
        "6a6349bddb5749bb8b96ce2566a035ef87a09dbf89b5c7e3dfdf9ed725912f24"
    );
    assert_eq!(
        hex::encode(signed.signature().s().to_be_bytes::<32>()),
        "4ae58ccd3bacee07cdc4a3e8540544fd009c4311af7048122da60f2054c07ee4"
    );
    // signmessage.json.
    let (sig, from) = dev
        .eth_sign_message(
            &path("m/44'/60'/0'/0/0"),
            b"This is an example of a signed message.",
        )
        .expect("message");
    assert_eq!(
        from.to_checksum(None),
        "0x73d0385F4d8E00C5e6504C6030F47BF6212736A8"
    );
    assert_eq!(hex::encode(sig.as_bytes()), "af4eac50f21acc6daeb0ab036f616f5d19fccade46e47100642b3dfc798c9b740d5873887bdc2f02502c90777a082d10dca113bd1ec29d08108396401421c8cc1b");
}

#[test]
fn long_contract_data_is_sent_in_the_chunks_the_device_asks_for() {
    let (_s, control, _u, mut dev) = udp(model_t(), User::new);
    let data = "ab".repeat(2500);
    let tx = eip1559(
        3,
        100_000,
        30,
        2,
        "0x1d1c328764a41bda0492b66baa30c4a339ff85ef",
        0,
        &data,
    );
    let signed = dev
        .eth_sign_transaction(&path("m/44'/60'/0'/0/0"), tx)
        .expect("signed");
    assert_eq!(
        signed.recover_signer().expect("recover").to_checksum(None),
        "0x73d0385F4d8E00C5e6504C6030F47BF6212736A8"
    );
    assert_eq!(
        control.last_screen().expect("screen").field("Data"),
        Some("2500 bytes")
    );
}

/// Finalises and checks every input with Bitcoin Core's interpreter.
fn finalize_and_verify(mut psbt: Psbt, prevouts: &BTreeMap<OutPoint, TxOut>) -> Transaction {
    psbt.finalize_mut(&Secp256k1::new()).expect("finalizes");
    let tx = psbt.extract_tx_unchecked_fee_rate();
    coldlink_btc::consensus::verify_tx(
        &tx,
        &tx.input
            .iter()
            .map(|i| prevouts[&i.previous_output].clone())
            .collect::<Vec<_>>(),
    )
    .expect("Bitcoin Core's script interpreter accepts every input");
    tx
}

#[test]
fn signs_psbts_of_every_script_type_and_bitcoin_core_accepts_them() {
    let (_s, control, user, mut dev) = udp(model_t(), User::new);
    for kind in [
        ScriptKind::Legacy,
        ScriptKind::NestedSegwit,
        ScriptKind::NativeSegwit,
        ScriptKind::Taproot,
    ] {
        let (mut psbt, prevouts) = spending_psbt(ALL, kind, 3);
        let before = control.screens().len();
        assert_eq!(
            dev.sign_psbt(&mut psbt, user.as_ref()).expect("signed"),
            3,
            "{kind:?}"
        );
        finalize_and_verify(psbt, &prevouts);
        // One output to confirm (the change is recognised by its path), then the total.
        let screens = control.screens();
        let shown: Vec<_> = screens[before..].iter().collect();
        assert_eq!(shown.len(), 2, "{kind:?}: {shown:?}");
        assert_eq!(shown[0].field("Address"), Some(EXTERNAL));
        assert_eq!(shown[0].field("Amount"), Some("0.0006 BTC"));
        assert_eq!(shown[1].field("Including fee"), Some("0.000015 BTC"));
        assert_eq!(shown[1].field("Total amount"), Some("0.000615 BTC"));
    }
    let prompts = user.prompts.lock().expect("lock");
    assert!(prompts.iter().any(|p| matches!(p, Prompt::Transaction(lines) if lines.iter().any(|(k, v)| k == "Fee" && v == "0.000015 BTC"))));
}

#[test]
fn a_segwit_psbt_without_previous_transactions_is_refused_before_the_device_is_asked() {
    let (_s, control, user, mut dev) = udp(model_t(), User::new);
    let (mut psbt, _) = spending_psbt(ALL, ScriptKind::NativeSegwit, 1);
    psbt.inputs[0].non_witness_utxo = None;
    let before = control.screens().len();
    assert!(
        matches!(dev.sign_psbt(&mut psbt, user.as_ref()), Err(SignerError::InvalidRequest(m)) if m.contains("previous transaction"))
    );
    assert_eq!(control.screens().len(), before);
    // Taproot needs none: its signature commits to every amount.
    let (mut psbt, prevouts) = spending_psbt(ALL, ScriptKind::Taproot, 2);
    for i in &mut psbt.inputs {
        i.non_witness_utxo = None;
    }
    dev.sign_psbt(&mut psbt, user.as_ref()).expect("taproot");
    finalize_and_verify(psbt, &prevouts);
    // Another wallet's PSBT is not signed.
    let (mut other, _) = spending_psbt("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about", ScriptKind::NativeSegwit, 1);
    assert!(matches!(
        dev.sign_psbt(&mut other, user.as_ref()),
        Err(SignerError::Unsupported(_))
    ));
}

#[test]
fn trezor_one_pin_matrix_wrong_then_right() {
    let sim = TrezorSim::new(
        ALL,
        TrezorOptions {
            model: TrezorModel::One,
            pin: Some("1234".into()),
            ..Default::default()
        },
    )
    .expect("sim");
    let (_s, control, user, mut dev) = udp(sim, User::new);
    assert!(dev.info().pin_matrix && !dev.info().unlocked);
    assert_eq!(dev.info().model_name, "Trezor Model One");
    user.pins
        .lock()
        .expect("lock")
        .extend(["9999".to_owned(), "1234".to_owned()]);
    assert!(matches!(dev.fingerprint(), Err(SignerError::WrongPin)));
    assert!(control.is_locked());
    assert_eq!(
        dev.fingerprint().expect("after the right PIN").to_string(),
        "5c9e228d"
    );
    assert!(!control.is_locked());
    // The matrix the device showed is scrambled digits 1–9; the host only ever sent positions.
    let matrix = control
        .screens()
        .iter()
        .rev()
        .find(|s| s.title == "Enter PIN")
        .and_then(|s| s.field("Matrix").map(str::to_owned))
        .expect("matrix");
    let mut digits: Vec<char> = matrix.chars().filter(char::is_ascii_digit).collect();
    digits.sort_unstable();
    assert_eq!(digits.into_iter().collect::<String>(), "123456789");
    // Cancelling the pad (no PIN given) is a typed cancel and the device stays usable.
    let sim = TrezorSim::new(
        ALL,
        TrezorOptions {
            model: TrezorModel::One,
            pin: Some("1234".into()),
            ..Default::default()
        },
    )
    .expect("sim");
    let (_s, _c, user, mut dev) = udp(sim, User::new);
    assert!(matches!(dev.fingerprint(), Err(SignerError::Cancelled)));
    user.pins.lock().expect("lock").push_back("1234".into());
    assert!(dev.fingerprint().is_ok());
}

#[test]
fn model_t_pin_and_passphrase_on_the_device_or_in_the_app() {
    let sim = TrezorSim::new(
        ALL,
        TrezorOptions {
            pin: Some("777".into()),
            passphrase_protection: true,
            ..Default::default()
        },
    )
    .expect("sim");
    let control = sim.control();
    control.type_on_device("777");
    control.type_on_device("TREZOR");
    // No passphrase from the app: the user types it on the device.
    let (_s, control, _u, mut dev) = udp(sim, User::new);
    let on_device = dev.fingerprint().expect("fp").to_string();
    assert_ne!(on_device, "5c9e228d", "a passphrase gives another wallet");
    assert!(control
        .screens()
        .iter()
        .any(|s| s.title == "Enter passphrase"));
    // The same passphrase typed in the app gives the same wallet.
    let sim = TrezorSim::new(
        ALL,
        TrezorOptions {
            passphrase_protection: true,
            ..Default::default()
        },
    )
    .expect("sim");
    let (_s, _c, _u, mut dev) = udp(sim, |c| User {
        passphrase: Some("TREZOR".into()),
        ..User::new(c)
    });
    assert_eq!(dev.fingerprint().expect("fp").to_string(), on_device);
    // The empty passphrase is the plain wallet.
    let sim = TrezorSim::new(
        ALL,
        TrezorOptions {
            passphrase_protection: true,
            ..Default::default()
        },
    )
    .expect("sim");
    let (_s, _c, _u, mut dev) = udp(sim, |c| User {
        passphrase: Some(String::new()),
        ..User::new(c)
    });
    assert_eq!(dev.fingerprint().expect("fp").to_string(), "5c9e228d");
}

fn plugged(sim: &Arc<Mutex<TrezorSim>>, user: Arc<User>, timeout: Duration) -> Trezor {
    let session = Session::new(Box::new(InProcess::new(Arc::clone(sim)))).with_timeout(timeout);
    Trezor::open_session(session, Network::Bitcoin, user).expect("open")
}

#[test]
fn reject_timeout_and_cancel_leave_the_device_usable() {
    let sim = Arc::new(Mutex::new(model_t()));
    let control = sim.lock().expect("lock").control();
    let user = Arc::new(User::new(&control));
    let mut dev = plugged(&sim, user.clone(), Duration::from_millis(200));
    let (mut psbt, _) = spending_psbt(ALL, ScriptKind::NativeSegwit, 1);
    control.then([Decision::Reject]);
    assert!(matches!(
        dev.sign_psbt(&mut psbt.clone(), user.as_ref()),
        Err(SignerError::Rejected)
    ));
    control.then([Decision::Approve, Decision::Silent]);
    assert!(matches!(
        dev.sign_psbt(&mut psbt.clone(), user.as_ref()),
        Err(SignerError::Timeout)
    ));
    // The session cancelled the waiting device; the next request starts clean.
    assert_eq!(dev.sign_psbt(&mut psbt, user.as_ref()).expect("signed"), 1);
    assert!(psbt.inputs[0].partial_sigs.len() == 1);
}

#[test]
fn unplugging_at_every_step_of_signtx_is_a_clean_error_and_nothing_half_done() {
    let sim = Arc::new(Mutex::new(model_t()));
    let control = sim.lock().expect("lock").control();
    let user = Arc::new(User::new(&control));
    let (psbt, _) = spending_psbt(ALL, ScriptKind::NativeSegwit, 2);
    // Count the messages of one whole signing first.
    let mut dev = plugged(&sim, user.clone(), Duration::from_secs(5));
    let fp_messages = 1; // the fingerprint read that starts sign_psbt
    let mut count = 0;
    for n in 1.. {
        control.disconnect_at_apdu(n);
        let mut attempt = psbt.clone();
        match dev.sign_psbt(&mut attempt, user.as_ref()) {
            Err(SignerError::Disconnected) => {
                assert_eq!(
                    attempt, psbt,
                    "nothing merged after an unplug at message {n}"
                );
                count += 1;
                dev = plugged(&sim, user.clone(), Duration::from_secs(5));
            }
            Ok(_) => {
                control.stay_connected();
                break;
            }
            Err(e) => panic!("unplug at message {n}: {e}"),
        }
    }
    // 2 inputs, 2 outputs: every TxAck and ButtonAck of the stream was a place to fail.
    assert!(count > 20 + fp_messages, "only {count} steps");
    let mut ok = psbt.clone();
    assert_eq!(
        dev.sign_psbt(&mut ok, user.as_ref())
            .expect("signed after replug"),
        2
    );
}

#[test]
fn keepkey_speaks_its_own_ethereum_layouts_and_has_no_taproot() {
    let sim = TrezorSim::new(
        ALL,
        TrezorOptions {
            model: TrezorModel::KeepKey,
            ..Default::default()
        },
    )
    .expect("sim");
    let (_s, control, user, mut dev) = udp(sim, User::new);
    assert_eq!(dev.info().model_name, "KeepKey");
    assert!(dev.info().pin_matrix);
    assert!(!dev.capabilities().taproot);
    // Bitcoin is the shared protocol: same keys, same fixtures.
    assert_eq!(
        dev.master_fingerprint().expect("fp").to_string(),
        "5c9e228d"
    );
    assert_eq!(
        dev.address(
            ScriptKind::NativeSegwit,
            &path("m/84'/0'/0'/0/0"),
            false,
            user.as_ref()
        )
        .expect("addr"),
        "bc1qannfxke2tfd4l7vhepehpvt05y83v3qsf6nfkk"
    );
    let before = control.screens().len();
    assert!(matches!(
        dev.address(ScriptKind::Taproot, &path("m/86'/0'/0'/0/0"), true, user.as_ref()),
        Err(SignerError::Unsupported(m)) if m.contains("KeepKey")
    ));
    let (mut psbt, _) = spending_psbt(ALL, ScriptKind::Taproot, 1);
    assert!(matches!(
        dev.sign_psbt(&mut psbt, user.as_ref()),
        Err(SignerError::Unsupported(_))
    ));
    assert_eq!(
        control.screens().len(),
        before,
        "refused before the device was asked"
    );
    let (mut psbt, prevouts) = spending_psbt(ALL, ScriptKind::NativeSegwit, 2);
    dev.sign_psbt(&mut psbt, user.as_ref()).expect("segwit");
    finalize_and_verify(psbt, &prevouts);

    // Ethereum through KeepKey's messages gives the same signatures as Trezor's fixtures
    // (RFC 6979 makes ECDSA deterministic): the bytes hashed are the same transaction.
    assert_eq!(
        dev.eth_address(&path("m/44'/60'/0'/0/0"), true)
            .expect("eth")
            .to_checksum(None),
        "0x73d0385F4d8E00C5e6504C6030F47BF6212736A8"
    );
    let signed = dev
        .eth_sign_transaction(
            &path("m/44'/60'/0'/0/100"),
            eip1559(
                0,
                0x14,
                0x14,
                1,
                "0x1d1c328764a41bda0492b66baa30c4a339ff85ef",
                10,
                "",
            ),
        )
        .expect("1559");
    assert_eq!(
        hex::encode(signed.signature().r().to_be_bytes::<32>()),
        "2ceeaabc994fbce2fbd66551f9d48fc711c8db2a12e93779eeddede11e41f636"
    );
    let legacy = TypedTransaction::Legacy(TxLegacy {
        chain_id: Some(1),
        nonce: 0,
        gas_price: 0x4a817c800,
        gas_limit: 0x5208,
        to: TxKind::Call(
            Address::from_str("0x8eA7a3fccC211ED48b763b4164884DDbcF3b0A98").expect("to"),
        ),
        value: U256::from(0x2540be400_u64),
        input: Bytes::new(),
    });
    let signed = dev
        .eth_sign_transaction(&path("m/44'/60'/0'/0/0"), legacy)
        .expect("legacy");
    assert_eq!(
        hex::encode(signed.signature().r().to_be_bytes::<32>()),
        "6a6349bddb5749bb8b96ce2566a035ef87a09dbf89b5c7e3dfdf9ed725912f24"
    );
    let (sig, _) = dev
        .eth_sign_message(
            &path("m/44'/60'/0'/0/0"),
            b"This is an example of a signed message.",
        )
        .expect("message");
    assert_eq!(hex::encode(sig.as_bytes()), "af4eac50f21acc6daeb0ab036f616f5d19fccade46e47100642b3dfc798c9b740d5873887bdc2f02502c90777a082d10dca113bd1ec29d08108396401421c8cc1b");
    // Its firmware hashes an EIP-1559 chain id as one byte: larger ones are refused up front.
    let mut big = eip1559(
        0,
        21_000,
        2,
        1,
        "0x1d1c328764a41bda0492b66baa30c4a339ff85ef",
        1,
        "",
    );
    if let TypedTransaction::Eip1559(t) = &mut big {
        t.chain_id = 31337;
    }
    assert!(matches!(
        dev.eth_sign_transaction(&path("m/44'/60'/0'/0/0"), big),
        Err(SignerError::Unsupported(_))
    ));
}
