//! The portfolio through the application services, against a real node (anvil) and a stand-in
//! price service in CoinGecko's format: before any refresh it shows at once and says balances
//! were never read; after a refresh the total is exact (balances × price, decimal arithmetic),
//! the 24-hour change follows the prices' changes, an asset without a price is listed apart and
//! not counted as zero, balances survive a restart with the node gone, and the value over time
//! comes from the daily history.

use std::str::FromStr;

use coldlink_app::{AppConfig, Coldlink};
use coldlink_prices::Decimal;
use coldlink_testkit::{
    deploy_cold_token, price_server_routes, rpc_raw, send_unlocked, start_anvil, two_day_chart,
    CHAIN,
};
use serde_json::json;

const MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const LEDGER: &str = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94";
const WATCHED: &str = "0x73d0385F4d8E00C5e6504C6030F47BF6212736A8";

#[test]
fn totals_are_exact_and_the_cache_shows_first() {
    let node = start_anvil(MNEMONIC);
    let token = deploy_cold_token(node.port, LEDGER, "CLD", 40 * 10u128.pow(18));
    send_unlocked(
        node.port,
        json!({"from": LEDGER, "to": WATCHED, "value": "0x1bc16d674ec80000"}),
    );
    // Two recent days of history (yesterday at 2400, today at 2500.5).
    let chart = two_day_chart("2400", "2500.5");
    let prices = price_server_routes(vec![
        (
            "/simple/price",
            r#"{"ethereum":{"chf":2500.5,"chf_24h_change":1.234}}"#,
        ),
        ("/coins/ethereum/market_chart", chart),
    ]);
    let dir = std::env::temp_dir().join(format!("coldlink-portfolio-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = AppConfig {
        data_dir: Some(dir.clone()),
        evm_rpc: Some(format!("{}#{CHAIN}", node.url())),
        prices_url: Some(prices),
        ..Default::default()
    };
    let app = Coldlink::new(config.clone());
    app.set_currency("chf").expect("currency");
    app.evm_add_account("watch", 0, "standard", Some(LEDGER), "Main")
        .expect("ledger account");
    app.evm_add_account("watch", 0, "standard", Some(WATCHED), "Savings")
        .expect("second");
    app.evm_add_token("local", &token).expect("token");

    let p = app.portfolio("local").expect("instant");
    assert!(
        p.balances_at.is_none() && p.note.is_some(),
        "nothing read yet, and it says so"
    );
    assert!(p.assets.is_empty());

    app.portfolio_refresh("local").expect("refresh");
    let p = app.portfolio("local").expect("portfolio");
    // Exactly: the node's two balances, summed in wei, times 2500.5.
    let wei: u128 = [LEDGER, WATCHED]
        .iter()
        .map(|a| {
            let v = rpc_raw(node.port, "eth_getBalance", json!([a, "latest"])).expect("balance");
            u128::from_str_radix(v.as_str().expect("hex").trim_start_matches("0x"), 16)
                .expect("wei")
        })
        .sum();
    let expected =
        Decimal::from_i128_with_scale(wei as i128, 18) * Decimal::from_str("2500.5").expect("d");
    assert_eq!(
        Decimal::from_str(&p.total_exact).expect("total"),
        expected.normalize()
    );
    assert_eq!(p.currency, "CHF");
    assert_eq!(p.change_24h.as_deref(), Some("1.23"));
    let eth = p
        .assets
        .iter()
        .find(|a| a.symbol == "ETH")
        .expect("eth line");
    assert_eq!(eth.share.as_deref(), Some("100"));
    let cld = p
        .assets
        .iter()
        .find(|a| a.symbol == "CLD")
        .expect("token line");
    assert_eq!(
        (cld.amount.as_str(), cld.value.as_ref()),
        ("40", None),
        "listed, not valued"
    );
    assert_eq!(p.unpriced, vec!["CLD".to_owned()]);
    assert_eq!(p.accounts.len(), 2);
    let savings = p
        .accounts
        .iter()
        .find(|a| a.label == "Savings")
        .expect("savings");
    assert_eq!(savings.value, "5001.00 CHF");
    // By signer: both are watch-only, so one slice holding everything.
    assert_eq!(p.signers.len(), 1, "{:?}", p.signers);
    assert_eq!(p.signers[0].signer, "watch");
    assert_eq!(p.signers[0].value_exact, p.total_exact);
    assert_eq!(
        Decimal::from_str(p.signers[0].share.as_deref().expect("share")).expect("share"),
        Decimal::from(100)
    );

    // The snapshot as CSV, exact values.
    let csv = app.export_portfolio_csv("local").expect("csv");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("asset,amount,price,value,share_percent,currency,balances_at")
    );
    let eth_line = lines.next().expect("eth");
    assert!(
        eth_line.starts_with("ETH,")
            && eth_line.contains(",2500.50,")
            && eth_line.contains(&p.total_exact),
        "{eth_line}"
    );
    assert!(csv.contains("CLD,40,,,,CHF,"), "{csv}");

    // Value over time: each day's holdings at that day's price. Today: what the accounts hold,
    // at 2500.5. Yesterday, before today's transactions were walked back: the Ledger account's
    // 10,000 ETH from anvil's genesis (the fees it paid since and the 2 ETH it sent are given
    // back; the 2 ETH the other received are taken away), at 2400.
    let h = app.portfolio_history("local", 7).expect("history");
    assert_eq!(h.len(), 2);
    // Within the hour the history comes from the local database, not the service.
    assert_eq!(app.portfolio_history("local", 7).expect("cached").len(), 2);
    assert_eq!(
        Decimal::from_str(&h[0].value).expect("v"),
        Decimal::from(10_000 * 2400)
    );
    assert_eq!(
        Decimal::from_str(&h[1].value).expect("v"),
        (Decimal::from_i128_with_scale(wei as i128, 18) * Decimal::from_str("2500.5").expect("d"))
            .round_dp(2)
    );
    // The transactions export values each movement at its day's price: 2 ETH at 2500.5.
    let csv = app.export_transactions_csv("local").expect("csv");
    let received = csv
        .lines()
        .find(|l| l.contains(",Savings,"))
        .expect("the 2 ETH received");
    assert!(
        received.contains(",local,ETH,2,,,5001.00,CHF,") && received.contains(LEDGER),
        "{received}"
    );
    let sent = csv
        .lines()
        .find(|l| l.contains(",Main,local,ETH,-2,"))
        .expect("the 2 ETH sent");
    assert!(sent.contains(",-5001.00,CHF,"), "{sent}");
    // Networks it does not know are refused with a typed error, whatever their spelling.
    for bad in ["nowhere", "bitcoin:mars", "local,bitcoin:"] {
        let e = app.export_transactions_csv(bad).expect_err(bad);
        assert!(
            matches!(
                e.kind,
                coldlink_app::ErrorKind::InvalidInput | coldlink_app::ErrorKind::NotFound
            ),
            "{bad}: {e:?}"
        );
    }

    // Restart with the node gone: the last portfolio shows at once, with its balances' time.
    drop(node);
    drop(app);
    let app = Coldlink::new(config);
    let again = app.portfolio("local").expect("cached");
    assert_eq!(again.total_exact, p.total_exact);
    assert!(again.balances_at.is_some());
    assert!(
        app.portfolio_refresh("local").is_err(),
        "refresh fails clearly offline"
    );
    // The Accounts page offline: the reason, and the last balances read with their time.
    let accounts = app.evm_accounts("local").expect("offline");
    let savings = accounts
        .iter()
        .find(|a| a.label == "Savings")
        .expect("listed");
    assert!(savings.balance_error.is_some());
    assert!(savings.balance.is_some(), "{savings:?}");
    assert_eq!(
        savings.synced_at.map(|t| t.to_string()),
        again.balances_at,
        "read when the portfolio last was"
    );

    // The database is damaged between runs: the next start says so, keeps the damaged file,
    // and brings the accounts back from the copy kept beside it.
    drop(app);
    std::fs::write(dir.join("coldlink.db"), b"garbage, not SQLite").expect("damage");
    let _ = std::fs::remove_file(dir.join("coldlink.db-wal"));
    let app = Coldlink::new(AppConfig {
        data_dir: Some(dir.clone()),
        ..Default::default()
    });
    let notice = app.store_notice().expect("told");
    assert!(
        notice.contains("damaged") && notice.contains("restored"),
        "{notice}"
    );
    assert_eq!(app.store_notice(), None, "told once");
    assert_eq!(app.currency(), "chf");
    let _ = std::fs::remove_dir_all(&dir);
}
