//! Bitcoin accounts through the application services against a real node (Bitcoin Knots,
//! regtest): a taproot account on the simulated Ledger, a segwit v0 account on the simulated
//! Trezor One (PIN entered on the app's pad) and one on the software wallet are funded, synced,
//! and each sends through review → sign on its signer → checks → broadcast, settling to the
//! satoshi; "Verify on device" records the check; a device rejection, too much, a bad address
//! and a node that goes away each say why and broadcast nothing; a watch-only account exports
//! its PSBT, another signer signs it, and the import is checked and broadcast.

use coldlink_app::{
    AppConfig, Coldlink, DevicePrompt, ErrorKind, FeeWarningSettings, NodeSettings, RecipientInput,
    SaveRequest,
};
use coldlink_signer::ScriptKind;
use coldlink_testkit::{Bitcoind, Electrs};
use coldlink_types::Sensitive;

fn unlock_trezor(app: &Coldlink, id: &str, pin: &str) {
    let unlocking = {
        let app = app.clone();
        let id = id.to_owned();
        std::thread::spawn(move || app.master_fingerprint(&id))
    };
    while app.device_prompt() != Some(DevicePrompt::PinMatrix) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let screen = app
        .demo_screens()
        .into_iter()
        .find(|s| s.device_id == id)
        .expect("screen");
    let positions = coldlink_sim::trezor::positions_for_pin(&screen.fields[0].1, pin).expect("pad");
    app.answer_pin_matrix(&positions).expect("answered");
    unlocking.join().expect("thread").expect("unlocked");
}

fn mempool(node: &Bitcoind) -> Vec<String> {
    serde_json::from_str::<Vec<String>>(&node.cli(&["getrawmempool"]).expect("mempool"))
        .expect("json")
}

fn sats(btc: &str) -> u64 {
    bitcoin::Amount::from_str_in(btc, bitcoin::Denomination::Bitcoin)
        .expect("amount")
        .to_sat()
}

#[test]
fn fund_sync_send_with_every_signer_and_refuse_what_is_wrong() {
    let node = Bitcoind::start("app-btc");
    node.cli(&["createwallet", "miner"]).expect("wallet");
    let miner = node.cli(&["getnewaddress", "", "bech32"]).expect("address");
    let mine = |n: &str| {
        node.cli(&["generatetoaddress", n, &miner]).expect("mine");
    };
    mine("101");
    let dir = std::env::temp_dir().join(format!("coldlink-app-btc-data-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let exports = dir.join("exports");
    // Spot 50,000 USD; daily history yesterday 48,000 and today 50,000.
    let chart = coldlink_testkit::two_day_chart("48000", "50000");
    let prices = coldlink_testkit::price_server_routes(vec![
        (
            "/simple/price",
            r#"{"bitcoin":{"usd":50000,"usd_24h_change":1.5}}"#,
        ),
        ("/coins/bitcoin/market_chart", chart),
    ]);
    let app = Coldlink::new(AppConfig {
        data_dir: Some(dir.clone()),
        prices_url: Some(prices),
        export_dir: Some(exports.clone()),
        ..Default::default()
    });
    let regtest = bitcoin::Network::Regtest;

    // The node: tested before it is kept, on the right network only.
    let settings = NodeSettings {
        url: node.url(),
        cookie_file: String::new(),
        user: "coldlink".into(),
        password: "coldlink".into(),
        kind: String::new(),
    };
    let e = app
        .btc_set_node(bitcoin::Network::Bitcoin, settings.clone())
        .expect_err("a regtest node for mainnet");
    assert!(e.message.contains("runs regtest"), "{}", e.message);
    let mut wrong = settings.clone();
    wrong.password = "nope".into();
    assert!(app.btc_set_node(regtest, wrong).is_err(), "bad login");
    let status = app.btc_set_node(regtest, settings).expect("node");
    assert_eq!(status.chain, "regtest");
    assert_eq!(status.blocks, 101);
    assert_eq!(
        app.btc_node(regtest).expect("read").expect("set").password,
        "",
        "the password is not handed back"
    );

    // Three signers.
    let demo = app.start_demo().expect("demo devices");
    unlock_trezor(&app, &demo.trezor_id, &demo.trezor_pin);
    app.wallet_set_kdf(coldlink_keystore::KdfParams::INSECURE_FOR_TESTS);
    app.wallet_restore(
        &Sensitive::new(
            "legal winner thank year wave sausage worth useful legal winner thank yellow".into(),
        ),
        &Sensitive::new(String::new()),
        &Sensitive::new("password1".into()),
        false,
    )
    .expect("software wallet");
    let ledger = app
        .btc_add_account(&demo.id, ScriptKind::Taproot, regtest, 0, None, "")
        .expect("ledger taproot");
    let trezor = app
        .btc_add_account(
            &demo.trezor_id,
            ScriptKind::NativeSegwit,
            regtest,
            0,
            None,
            "",
        )
        .expect("trezor segwit");
    let soft = app
        .btc_add_account("soft", ScriptKind::NativeSegwit, regtest, 0, None, "")
        .expect("software segwit");

    // Receive, verified on the device before it is used.
    let r = app.btc_receive(ledger.id).expect("receive");
    assert!(r.address.starts_with("bcrt1p"));
    assert_eq!(r.address, ledger.first_address);
    assert!(r.can_verify && !r.verified);
    assert_eq!(r.uri, format!("bitcoin:{}", r.address));
    let v = app
        .btc_verify_address(ledger.id, r.index)
        .expect("shown on the device");
    assert!(v.verified);
    // The Ledger's Bitcoin Test app writes regtest addresses in testnet form; the app says
    // what the screen will show, and it is what the screen shows.
    let shows = v.device_shows.clone().expect("testnet form");
    assert!(shows.starts_with("tb1p"), "{shows}");
    assert_eq!(r.device_shows.as_deref(), Some(shows.as_str()));
    let screens = app.demo_screens();
    assert!(
        screens
            .iter()
            .any(|s| s.fields.iter().any(|(_, value)| *value == shows)),
        "the device screen showed the address: {screens:?}"
    );
    let again = app.btc_receive(ledger.id).expect("receive");
    assert_eq!(again.address, r.address, "unused, so the same address");
    assert!(again.verified, "and remembered as verified");
    let rs = app.btc_receive(soft.id).expect("receive");
    assert!(!rs.can_verify);
    let e = app.btc_verify_address(soft.id, 0).expect_err("no screen");
    assert_eq!(e.kind, ErrorKind::Unsupported);

    // Fund all three, sync, balances exact.
    for a in [&ledger, &trezor, &soft] {
        let to = app.btc_receive(a.id).expect("receive").address;
        node.cli(&["sendtoaddress", &to, "0.5"]).expect("fund");
    }
    mine("1");
    let synced = app.btc_sync(regtest).expect("sync");
    assert_eq!(synced.len(), 3);
    for s in &synced {
        assert_eq!(s.confirmed, "0.5", "{s:?}");
        assert_eq!(s.tip, 102);
        assert!(s.error.is_none());
    }

    // Each signer sends 0.1 BTC: review, sign, check, broadcast; then settle to the satoshi.
    let pay = |amount: &str, unit: &str| {
        vec![RecipientInput {
            address: miner.clone(),
            amount: amount.into(),
            unit: unit.into(),
        }]
    };
    let mut fees = Vec::new();
    for a in [&ledger, &trezor, &soft] {
        let review = app
            .btc_prepare_send(a.id, &pay("10000000", "sats"), None, "3", &[])
            .expect("review");
        assert_eq!(review.outputs.len(), 2);
        assert_eq!(review.outputs.iter().filter(|o| o.change).count(), 1);
        let out = review.outputs.iter().find(|o| !o.change).expect("payment");
        assert_eq!(
            (out.address.as_str(), out.amount.as_str()),
            (miner.as_str(), "0.1")
        );
        assert_eq!(review.fee_rate, "3.0", "{review:?}");
        assert!(review.rbf);
        assert!(review.warning.is_none());
        assert!(review.can_sign);
        let sent = app
            .btc_confirm_send(review.id)
            .expect("signed and broadcast");
        assert!(
            mempool(&node).contains(&sent.txid),
            "{} in the mempool",
            sent.txid
        );
        assert!(
            app.btc_confirm_send(review.id).is_err(),
            "a review is used once"
        );
        fees.push(review.fee_sats.parse::<u64>().expect("fee"));
    }
    mine("1");
    let synced = app.btc_sync(regtest).expect("sync");
    for (s, fee) in synced.iter().zip(&fees) {
        assert_eq!(
            sats(&s.confirmed),
            50_000_000 - 10_000_000 - fee,
            "to the satoshi: {s:?}"
        );
    }
    let journal = app.journal_entries().expect("journal");
    assert_eq!(
        journal.iter().filter(|j| j.outcome == "broadcast").count(),
        3
    );

    // History: the payment in and the send out, with confirmations and fee.
    let h = app.btc_history(trezor.id).expect("history");
    assert_eq!(h.len(), 2, "{h:?}");
    assert!(h[0].net.starts_with('-'));
    assert_eq!(sats(&h[0].net[1..]), 10_000_000 + fees[1]);
    assert_eq!(h[0].fee_sats.as_deref(), Some(fees[1].to_string().as_str()));
    assert_eq!((h[0].confirmations, h[1].confirmations), (1, 2));
    assert_eq!(h[1].net, "0.5");
    assert!(!h[0].replaceable, "confirmed: nothing to bump");

    // Labels, out and back in as BIP329 JSON Lines.
    app.btc_set_label("tx", &h[0].txid, "Rent").expect("label");
    assert_eq!(
        app.btc_history(trezor.id).expect("history")[0]
            .label
            .as_deref(),
        Some("Rent")
    );
    // The transactions export: the send as -0.1 BTC and its fee apart, with its label; the
    // payment in as 0.5.
    let csv = app.export_transactions_csv("bitcoin:regtest").expect("csv");
    let fee_btc = format!("0.{:08}", fees[1]);
    let fee_btc = fee_btc.trim_end_matches('0');
    let send_line = csv
        .lines()
        .find(|l| l.contains(&h[0].txid))
        .expect("the send");
    assert!(
        send_line.contains(&format!(",bitcoin:regtest,BTC,-0.1,{fee_btc},BTC,"))
            && send_line.ends_with(",confirmed,,Rent"),
        "{send_line}"
    );
    let in_line = csv
        .lines()
        .find(|l| l.contains(&h[1].txid))
        .expect("the payment in");
    assert!(in_line.contains(",BTC,0.5,,,25000.00,USD,"), "{in_line}");
    // Value over time: today the three accounts' balances at 50,000; yesterday, with today's
    // payments in and sends out (fees included) walked back, exactly nothing.
    let held: u64 = synced.iter().map(|s| sats(&s.confirmed)).sum();
    let chart = app
        .portfolio_history("bitcoin:regtest", 7)
        .expect("history");
    assert_eq!(chart.len(), 2, "{chart:?}");
    assert_eq!(chart[0].value, "0", "{chart:?}");
    assert_eq!(
        chart[1].value,
        (coldlink_prices::Decimal::from(held) * coldlink_prices::Decimal::from(50_000)
            / coldlink_prices::Decimal::from(100_000_000u64))
        .round_dp(2)
        .to_string()
    );
    let jsonl = app.btc_export_labels().expect("export");
    assert!(
        jsonl.contains(&format!(
            r#"{{"type":"tx","ref":"{}","label":"Rent"}}"#,
            h[0].txid
        )),
        "{jsonl}"
    );
    let e = app
        .btc_import_labels("{\"type\":\"addr\"}\nnot json")
        .expect_err("bad line");
    assert!(e.message.contains("line 1"), "{}", e.message);
    assert_eq!(
        app.btc_import_labels(&format!(
            "{{\"type\":\"addr\",\"ref\":\"{miner}\",\"label\":\"Miner\"}}\n"
        ))
        .expect("import"),
        1
    );
    assert!(app.btc_export_labels().expect("export").contains("Miner"));
    let saved = app.save_file(&SaveRequest::Labels).expect("labels saved");
    assert!(saved.path.ends_with(".jsonl"), "{}", saved.path);
    let text = std::fs::read_to_string(&saved.path).expect("file");
    assert_eq!(text, app.btc_export_labels().expect("export"));
    let csv = app
        .save_file(&SaveRequest::PortfolioCsv {
            network: "bitcoin:regtest".into(),
        })
        .expect("snapshot saved");
    let text = std::fs::read_to_string(&csv.path).expect("file");
    assert!(text.starts_with("asset,amount,price,value"), "{text}");
    assert!(text.contains("\nBTC,"), "{text}");

    // Coin control: a frozen coin is not spent; unfrozen, it is.
    let coins = app.btc_coins(trezor.id).expect("coins");
    assert_eq!(coins.len(), 1, "the change");
    assert!(coins[0].change && coins[0].confirmed && !coins[0].frozen);
    app.btc_freeze(&coins[0].outpoint, true).expect("freeze");
    assert!(app.btc_coins(trezor.id).expect("coins")[0].frozen);
    let e = app
        .btc_prepare_send(trezor.id, &pay("0.01", "btc"), None, "2", &[])
        .expect_err("only a frozen coin");
    assert!(e.message.contains("Not enough funds"), "{}", e.message);
    app.btc_freeze(&coins[0].outpoint, false).expect("unfreeze");
    app.btc_prepare_send(trezor.id, &pay("0.01", "btc"), None, "2", &[])
        .expect("spendable again");

    // Refusals: the device says no, too much, a bad address, a fee warning.
    app.demo_reject_next(&demo.id).expect("demo control");
    let review = app
        .btc_prepare_send(ledger.id, &pay("0.01", "btc"), None, "2", &[])
        .expect("review");
    let e = app.btc_confirm_send(review.id).expect_err("rejected");
    assert_eq!(e.kind, ErrorKind::Rejected, "{}", e.message);
    assert!(mempool(&node).is_empty(), "nothing broadcast");
    assert_eq!(
        app.journal_entries().expect("journal")[0].outcome,
        "rejected"
    );
    let e = app
        .btc_prepare_send(trezor.id, &pay("5", "btc"), None, "2", &[])
        .expect_err("too much");
    assert!(e.message.contains("Not enough funds"), "{}", e.message);
    let e = app
        .btc_prepare_send(
            trezor.id,
            &[RecipientInput {
                address: "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu".into(),
                amount: "0.01".into(),
                unit: "btc".into(),
            }],
            None,
            "2",
            &[],
        )
        .expect_err("mainnet address");
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert!(e.message.contains("mainnet"), "{}", e.message);
    let small = app
        .btc_prepare_send(soft.id, &pay("1000", "sats"), None, "50", &[])
        .expect("review");
    assert!(
        small
            .warning
            .as_deref()
            .is_some_and(|w| w.contains("% of the amount sent")),
        "{small:?}"
    );

    // The thresholds are the user's: a share and an absolute fee, checked when set.
    assert_eq!(
        app.btc_fee_warning(),
        FeeWarningSettings {
            share_percent: "5".into(),
            max_fee_sats: String::new()
        }
    );
    for (share, sats) in [
        ("0", ""),
        ("abc", ""),
        ("101", ""),
        ("1.234", ""),
        ("5", "-5"),
        ("5", "x"),
    ] {
        let e = app
            .btc_set_fee_warning(&FeeWarningSettings {
                share_percent: share.into(),
                max_fee_sats: sats.into(),
            })
            .expect_err("refused");
        assert_eq!(e.kind, ErrorKind::InvalidInput, "{share} {sats}");
    }
    let set = app
        .btc_set_fee_warning(&FeeWarningSettings {
            share_percent: "2.5 %".into(),
            max_fee_sats: "1_000".into(),
        })
        .expect("set");
    assert_eq!(
        (set.share_percent.as_str(), set.max_fee_sats.as_str()),
        ("2.5", "1000")
    );
    let big = app
        .btc_prepare_send(soft.id, &pay("0.01", "btc"), None, "20", &[])
        .expect("review");
    assert!(
        big.warning
            .as_deref()
            .is_some_and(|w| w.contains("above your limit of 1000 sats")),
        "{big:?}"
    );
    app.btc_set_fee_warning(&FeeWarningSettings {
        share_percent: "5".into(),
        max_fee_sats: String::new(),
    })
    .expect("back to the default");
    assert!(app
        .btc_prepare_send(soft.id, &pay("0.01", "btc"), None, "20", &[])
        .expect("review")
        .warning
        .is_none());

    // An amount in the user's currency: 100 USD at 50 000 USD per BTC is 200 000 sats exactly.
    let r = app
        .btc_prepare_send(soft.id, &pay("100", "fiat"), None, "2", &[])
        .expect("fiat amount");
    let out = r.outputs.iter().find(|o| !o.change).expect("payment");
    assert_eq!(out.sats, "200000");
    assert!(
        out.fiat.as_deref().is_some_and(|f| f.starts_with("100.00")),
        "{out:?}"
    );

    // Malformed amounts in the user's currency and unknown units: typed errors, nothing built.
    for (amount, unit) in [
        ("abc", "fiat"),
        ("-5", "fiat"),
        ("0", "usd"),
        ("1", "furlongs"),
    ] {
        let e = app
            .btc_prepare_send(soft.id, &pay(amount, unit), None, "2", &[])
            .expect_err("refused");
        assert_eq!(
            e.kind,
            ErrorKind::InvalidInput,
            "{amount} {unit}: {}",
            e.message
        );
    }
    // Saving a review that does not exist (or has expired) says so.
    let e = app
        .save_file(&SaveRequest::Psbt { review: 999_999 })
        .expect_err("no such review");
    assert_eq!(e.kind, ErrorKind::NotFound);

    // Watch-only: export, sign elsewhere (the Ledger), import; a wrong file keeps the review.
    let watch = app
        .btc_add_account(
            "watch",
            ScriptKind::Taproot,
            regtest,
            0,
            Some(&ledger.descriptor),
            "Cold",
        )
        .expect("watch");
    app.btc_sync(regtest).expect("sync");
    let review = app
        .btc_prepare_send(watch.id, &[], Some(&miner), "2", &[])
        .expect("send max");
    assert!(!review.can_sign);
    assert_eq!(review.outputs.len(), 1);
    let e = app.btc_confirm_send(review.id).expect_err("cannot sign");
    assert_eq!(e.kind, ErrorKind::Unsupported);
    let review = app
        .btc_prepare_send(watch.id, &[], Some(&miner), "2", &[])
        .expect("send max");
    let psbt = app.btc_export_psbt(review.id).expect("export");
    // Saved as a BIP174 file (what an SD card carries) into the export folder, never over
    // another file.
    let saved = app
        .save_file(&SaveRequest::Psbt { review: review.id })
        .expect("saved");
    let again = app
        .save_file(&SaveRequest::Psbt { review: review.id })
        .expect("saved again");
    assert!(
        saved.path.starts_with(&*exports.to_string_lossy()),
        "{}",
        saved.path
    );
    assert!(saved.path.ends_with(".psbt"), "{}", saved.path);
    assert_ne!(saved.path, again.path);
    let file = std::fs::read(&saved.path).expect("file");
    assert_eq!(&file[..5], b"psbt\xff");
    assert_eq!(file.len() as u32, saved.bytes);
    let signed = app
        .btc_sign_psbt(&demo.id, regtest, &file)
        .expect("signed elsewhere from the file");
    let signed_file = std::str::FromStr::from_str(&signed.psbt)
        .map(|p: bitcoin::Psbt| p.serialize())
        .expect("signed psbt");
    assert!(app.btc_import_psbt(review.id, b"garbage").is_err());
    let e = app
        .btc_import_psbt(review.id, psbt.as_bytes())
        .expect_err("unsigned");
    assert!(e.message.contains("not signed"), "{}", e.message);
    let sent = app
        .btc_import_psbt(review.id, &signed_file)
        .expect("imported from a binary file and broadcast");
    assert!(mempool(&node).contains(&sent.txid));

    // Account discovery: the Ledger's taproot account 1 has been paid; discovery adds it (0 is
    // kept already) and stops at the first empty account.
    let second = app
        .btc_address(&demo.id, ScriptKind::Taproot, regtest, 1, false, 0, false)
        .expect("account 1's first address");
    node.cli(&["sendtoaddress", &second, "0.03"]).expect("pay");
    mine("1");
    let found = app
        .btc_discover_accounts(&demo.id, ScriptKind::Taproot, regtest)
        .expect("discovery");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].first_address, second);
    assert!(
        app.btc_discover_accounts(&demo.id, ScriptKind::Taproot, regtest)
            .expect("again")
            .is_empty(),
        "nothing added twice"
    );
    let synced = app.btc_sync(regtest).expect("sync");
    let b = synced
        .iter()
        .find(|b| b.account_id == found[0].id)
        .expect("synced");
    assert_eq!(b.confirmed, "0.03");

    // A single watched address: no descriptor to sync, its balance read from the node's UTXO
    // set, valued in the portfolio like the rest.
    let lone = app
        .btc_address(&demo.id, ScriptKind::Taproot, regtest, 7, false, 0, false)
        .expect("an address nobody here watches");
    node.cli(&["sendtoaddress", &lone, "0.021"]).expect("pay");
    mine("1");
    let watched = app
        .btc_add_account(
            "watch",
            ScriptKind::Taproot,
            regtest,
            0,
            Some(&lone),
            "Donations",
        )
        .expect("watch one address");
    let synced = app.btc_sync(regtest).expect("sync");
    let b = synced
        .iter()
        .find(|b| b.account_id == watched.id)
        .expect("the address is synced too");
    assert_eq!((b.confirmed.as_str(), b.pending.as_str()), ("0.021", "0"));
    assert!(b.error.is_none(), "{b:?}");
    // Its transactions need an address index, which a node does not keep: said plainly
    // (Electrum and Esplora list them: crates/btc/tests/backends.rs).
    let e = app.btc_history(watched.id).expect_err("no index");
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert!(e.message.contains("Electrum or Esplora"), "{}", e.message);
    // Through an Electrum server over the same node the address's payment is listed, and it
    // is in the transactions export like any other account's.
    let electrs = Electrs::start(&node);
    let node_settings = NodeSettings {
        url: node.url(),
        cookie_file: String::new(),
        user: "coldlink".into(),
        password: "coldlink".into(),
        kind: String::new(),
    };
    app.btc_set_node(
        regtest,
        NodeSettings {
            url: electrs.url.clone(),
            kind: "electrum".into(),
            ..node_settings.clone()
        },
    )
    .expect("electrum");
    app.btc_sync(regtest).expect("sync over electrum");
    let h = app.btc_history(watched.id).expect("listed");
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!((h[0].net.as_str(), h[0].confirmations), ("0.021", 1));
    let csv = app.export_transactions_csv("bitcoin:regtest").expect("csv");
    assert!(
        csv.lines()
            .any(|l| l.contains(",Donations,bitcoin:regtest,BTC,0.021,") && l.contains(&h[0].txid)),
        "{csv}"
    );
    app.btc_set_node(regtest, node_settings)
        .expect("back to the node");
    drop(electrs);

    // The node goes away: a clear error per account, the last balances kept.
    node.cli(&["stop"]).expect("stop");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let synced = app.btc_sync(regtest).expect("still answers");
    for s in &synced {
        let e = s.error.as_deref().expect("an error");
        assert!(e.contains("cannot be reached"), "{e}");
    }
    assert_eq!(
        sats(&synced[1].confirmed),
        50_000_000 - 10_000_000 - fees[1],
        "last known state"
    );
    let b = synced
        .iter()
        .find(|b| b.account_id == watched.id)
        .expect("listed");
    assert_eq!(b.confirmed, "0.021", "the address's last known balance");
    app.stop_demo();
    let _ = std::fs::remove_dir_all(&dir);
}
