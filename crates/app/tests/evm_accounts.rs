//! EVM accounts through the application services, against a real node (anvil) and the demo
//! Ledger: add accounts (device, watch-only), add a real ERC-20, read balances, review a token
//! transfer, confirm it (the device signs exactly what was reviewed), follow it to confirmed,
//! find it in the history; a watch-only account cannot send; offline, accounts still list.

use coldlink_app::{AppConfig, Coldlink, ErrorKind};
use coldlink_testkit::{
    deploy_cold_token, price_server, rpc_raw, send_unlocked, start_anvil, CHAIN,
};
use serde_json::json;

const MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const LEDGER: &str = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94";
const TREZOR: &str = "0x73d0385F4d8E00C5e6504C6030F47BF6212736A8";

#[test]
fn accounts_tokens_review_send_and_history() {
    let node = start_anvil(MNEMONIC);
    let token = deploy_cold_token(node.port, LEDGER, "CLD", 500 * 10u128.pow(18));
    let dir = std::env::temp_dir().join(format!("coldlink-evm-accounts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let prices = price_server(r#"{"ethereum":{"chf":2500.5,"chf_24h_change":1.234}}"#);
    let app = Coldlink::new(AppConfig {
        data_dir: Some(dir.clone()),
        evm_rpc: Some(format!("{}#{CHAIN}", node.url())),
        prices_url: Some(prices.clone()),
        ..Default::default()
    });
    assert_eq!(app.evm_network_views()[0].key, "local");
    app.set_currency("CHF").expect("currency");
    assert!(app.set_currency("XAU").is_err());
    let demo = app.start_demo().expect("demo devices");

    let ledger = app
        .evm_add_account(&demo.id, 0, "standard", None, "")
        .expect("from the demo Ledger");
    assert_eq!(ledger.address, LEDGER);
    assert_eq!(ledger.signer, "73c5da0a", "named by fingerprint, not port");
    let watched = app
        .evm_add_account("watch", 0, "standard", Some(TREZOR), "Friend")
        .expect("watch-only");
    assert!(watched.watch_only);
    let t = app.evm_add_token("local", &token).expect("token");
    assert_eq!(t.symbol, "CLD");
    assert!(
        app.evm_add_token("local", TREZOR).is_err(),
        "an account is not a token"
    );

    let accounts = app.evm_accounts("local").expect("accounts");
    assert_eq!(accounts.len(), 2);
    assert_eq!(accounts[0].tokens[0].amount.as_deref(), Some("500"));
    assert_eq!(accounts[1].balance.as_deref(), Some("0"));

    // Review, then confirm: the demo Ledger signs, the node mines.
    let review = app
        .evm_prepare_send("local", ledger.id, TREZOR, "12.5", Some(&token), "normal")
        .expect("review");
    assert_eq!(review.amount, "12.5 CLD");
    assert_eq!(review.recipient, TREZOR);
    assert_eq!(review.chain_id, CHAIN.to_string());
    assert!(review.token_contract.is_some());
    assert!(review.max_fee.ends_with(" ETH"));
    let sent = app.evm_confirm_send(review.id).expect("sent");
    assert_eq!(sent.status, "confirmed", "{sent:?}");
    assert!(
        app.evm_confirm_send(review.id).is_err(),
        "a review is used once"
    );
    let accounts = app.evm_accounts("local").expect("accounts");
    assert_eq!(accounts[1].tokens[0].amount.as_deref(), Some("12.5"));
    let history = app.evm_sends("local").expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].hash, sent.hash);
    assert_eq!(history[0].status, "confirmed");
    assert_eq!(
        history[0].account_id,
        Some(ledger.id),
        "listed under its account"
    );
    // What the watched account received shows too (read from the node's logs on refresh):
    // the same transfer, received by one and sent by the other, each once however often read.
    // So does ETH paid to it from outside the app (anvil indexes addresses, as Erigon and
    // Reth do through the Otterscan API).
    let (outside, _) = send_unlocked(
        node.port,
        json!({"from": LEDGER, "to": TREZOR, "value": "0xde0b6b3a7640000"}),
    );
    app.portfolio_refresh("local").expect("refresh");
    assert_eq!(app.evm_lists_native("local").expect("read"), Some(true));
    app.portfolio_refresh("local").expect("again");
    let transfers = app.evm_transfers("local").expect("transfers");
    let got: Vec<_> = transfers.iter().filter(|t| t.hash == sent.hash).collect();
    assert_eq!(got.len(), 2, "{transfers:?}");
    let received = got.iter().find(|t| t.incoming).expect("received");
    assert_eq!(received.account_id, watched.id);
    assert_eq!(received.amount, "12.5 CLD");
    assert_eq!(received.counterparty, LEDGER);
    let out = got.iter().find(|t| !t.incoming).expect("sent");
    assert_eq!(
        (out.account_id, out.counterparty.as_str()),
        (ledger.id, TREZOR)
    );
    assert!(received.time.is_some(), "with its block's time");
    let eth: Vec<_> = transfers.iter().filter(|t| t.hash == outside).collect();
    assert_eq!(
        eth.len(),
        2,
        "received by one, sent by the other: {transfers:?}"
    );
    let got_eth = eth.iter().find(|t| t.incoming).expect("received ETH");
    assert_eq!(
        (got_eth.account_id, got_eth.amount.as_str()),
        (watched.id, "1 ETH")
    );
    // A token added after its transfers were read: its past transfers are read at the next
    // refresh (here the mint of 7 TWO to the Ledger's account, before anything else).
    let two = deploy_cold_token(node.port, LEDGER, "TWO", 7 * 10u128.pow(18));
    app.portfolio_refresh("local").expect("refresh");
    let minted = |app: &Coldlink| {
        app.evm_transfers("local")
            .expect("transfers")
            .into_iter()
            .filter(|t| t.amount == "7 TWO")
            .count()
    };
    assert_eq!(minted(&app), 0, "not asked for yet");
    app.evm_add_token("local", &two).expect("token");
    app.portfolio_refresh("local").expect("refresh");
    assert_eq!(minted(&app), 1, "read back once added");
    app.portfolio_refresh("local").expect("again");
    assert_eq!(minted(&app), 1, "and kept once");

    // A custom fee, in gwei; nonsense is refused before the device is asked. The review shows
    // the amount and the maximum fee in the user's currency, exactly: 0.001 ETH at 2500.5 CHF.
    let r = app
        .evm_prepare_send("local", ledger.id, TREZOR, "0.001", None, "custom:3:1.5")
        .expect("custom fee");
    assert_eq!(r.amount, "0.001 ETH");
    assert_eq!(r.amount_fiat.as_deref(), Some("2.50 CHF"));
    // 21 000 gas × 3 gwei = 0.000063 ETH = 0.1575315 CHF.
    assert_eq!(r.max_fee_fiat.as_deref(), Some("0.16 CHF"));
    assert_eq!(r.price_note.as_deref(), Some("2500.50 CHF per ETH"));
    for bad in ["custom:1:2", "custom:x:1", "custom:1", "warp"] {
        assert_eq!(
            app.evm_prepare_send("local", ledger.id, TREZOR, "0.001", None, bad)
                .expect_err(bad)
                .kind,
            ErrorKind::InvalidInput
        );
    }
    // Networks: adding one whose node serves another chain id is refused; pointing a built-in
    // network at this node is refused too (wrong chain), and the list is unchanged.
    let url = node.url();
    assert_eq!(
        app.evm_add_network("Mine", &url, "5", "ETH")
            .expect_err("wrong id")
            .kind,
        ErrorKind::InvalidInput
    );
    assert!(
        app.evm_add_network("Again", &url, &CHAIN.to_string(), "ETH")
            .is_err(),
        "already configured"
    );
    assert!(
        app.evm_set_rpc("ethereum", &url).is_err(),
        "chain 31337 is not Ethereum"
    );

    // ENS names resolve on Ethereum mainnet only; here they are refused with that reason.
    let e = app
        .evm_prepare_send("local", ledger.id, "alice.eth", "1", None, "normal")
        .expect_err("not mainnet");
    assert!(e.message.contains("mainnet"), "{e:?}");

    // Every movement as CSV: the token send with the fee the node says was paid (in ETH),
    // its receipt on the other account, the ETH from outside (the token has no price: no fiat
    // value, never zero).
    let csv = app.export_transactions_csv("local").expect("csv");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("date,account,network,asset,amount,fee,fee_asset,fiat_value,currency,txid,status,counterparty,label")
    );
    let receipt =
        rpc_raw(node.port, "eth_getTransactionReceipt", json!([sent.hash])).expect("receipt");
    let quantity = |k: &str| {
        u128::from_str_radix(receipt[k].as_str().expect(k).trim_start_matches("0x"), 16).expect(k)
    };
    let fee = quantity("gasUsed") * quantity("effectiveGasPrice");
    let fee = coldlink_evm::format_units(alloy_primitives::U256::from(fee), 18);
    let line = csv
        .lines()
        .find(|l| l.contains(&sent.hash) && l.contains(",-12.5,"))
        .expect("the send");
    assert!(
        line.contains(&format!(",local,CLD,-12.5,{fee},ETH,,CHF,{}", sent.hash))
            && line.ends_with(&format!(",confirmed,{TREZOR},")),
        "{line}"
    );
    let line = csv
        .lines()
        .find(|l| l.contains(&sent.hash) && l.contains(",12.5,"))
        .expect("received");
    assert!(
        line.contains(",Friend,local,CLD,12.5,,,,CHF,"),
        "no fee on the receiving side, no fiat for an unpriced token: {line}"
    );
    let line = csv
        .lines()
        .find(|l| l.contains(&outside) && l.contains(",Friend,"))
        .expect("ETH from outside");
    assert!(line.contains(",local,ETH,1,,,"), "{line}");

    // Watch-only cannot send.
    let e = app
        .evm_prepare_send("local", watched.id, LEDGER, "1", None, "normal")
        .expect_err("watch-only");
    assert_eq!(e.kind, ErrorKind::Unsupported);

    // Accounts persist across restarts.
    drop(app);
    let app = Coldlink::new(AppConfig {
        data_dir: Some(dir.clone()),
        evm_rpc: Some(format!("{}#{CHAIN}", node.url())),
        ..Default::default()
    });
    assert_eq!(app.evm_accounts("local").expect("again").len(), 2);
    // Offline: still listed, with the reason and the last balances read.
    drop(node);
    let offline = app.evm_accounts("local").expect("offline");
    assert_eq!(offline.len(), 2);
    assert!(
        offline[0].balance.is_some() && offline[0].synced_at.is_some(),
        "the last balances read, with when: {:?}",
        offline[0]
    );
    assert!(offline[0]
        .balance_error
        .as_deref()
        .is_some_and(|m| m.contains("cannot be reached")));
    let _ = std::fs::remove_dir_all(&dir);
}
