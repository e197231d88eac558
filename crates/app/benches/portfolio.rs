//! Portfolio recompute: 20 accounts × (native + 4 tokens) from the local database with cached
//! prices, after one balance changed — median time, beside reading the same balance rows alone
//! in the same run (the least any recompute must do). Target: under 20 ms.
//! Run: `cargo bench -p coldlink-app --bench portfolio`.

use std::time::Instant;

use coldlink_app::{AppConfig, Coldlink};
use coldlink_store::{BalanceRow, Store};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let dir = std::env::temp_dir().join(format!("coldlink-bench-portfolio-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = dir.join("coldlink.db");
    let symbols = [
        ("native", "ETH", 18u8),
        ("0x01", "USDC", 6),
        ("0x02", "DAI", 18),
        ("0x03", "WBTC", 8),
        ("0x04", "LINK", 18),
    ];
    {
        let (mut s, _) = Store::open(&db).expect("store");
        let mut rows = Vec::new();
        for i in 0..20u32 {
            let a = s
                .add_account(
                    "evm",
                    "watch",
                    "Watch-only",
                    &format!("Account {i}"),
                    &format!("0x{:040x}", i + 1),
                    None,
                )
                .expect("account");
            for (asset, symbol, decimals) in symbols {
                rows.push(BalanceRow {
                    account_id: a.id,
                    network: "local".into(),
                    asset: asset.into(),
                    symbol: symbol.into(),
                    decimals,
                    units: format!("{}", 1_234_567_890_123u64 * u64::from(i + 1)),
                    updated_at: 1,
                });
            }
        }
        s.put_balances("local", &rows).expect("balances");
        for (coin, price) in [
            ("ethereum", "3012.47"),
            ("usd-coin", "0.9998"),
            ("dai", "1.0001"),
            ("wrapped-bitcoin", "97012.5"),
            ("chainlink", "14.2"),
        ] {
            s.put_price(coin, "usd", 0, price, Some("0.5"))
                .expect("price");
        }
    }
    let app = Coldlink::new(AppConfig {
        data_dir: Some(dir.clone()),
        evm_rpc: Some("http://127.0.0.1:9#31337".into()),
        ..Default::default()
    });
    let p = app.portfolio("local").expect("warm");
    assert_eq!(p.assets.len(), 5);
    let (store, _) = Store::open(&db).expect("second connection");
    let baseline = median(
        (0..50)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(store.balances("local").expect("rows"));
                t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    let recompute = median(
        (0..50)
            .map(|i| {
                // One balance changes, then the portfolio is recomputed.
                let mut rows = store.balances("local").expect("rows");
                rows[0].units = format!("{}", 1000 + i);
                let mut s = Store::open(&db).expect("writer").0;
                s.put_balances("local", &rows).expect("write");
                let t = Instant::now();
                std::hint::black_box(app.portfolio("local").expect("portfolio"));
                t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    println!(
        "portfolio recompute, 20 accounts x 5 assets, cached prices: {:.2} ms   (reading the 100 balance rows alone: {:.3} ms; ratio {:.0}x; target < 20 ms)",
        recompute * 1e3,
        baseline * 1e3,
        recompute / baseline
    );
    let _ = std::fs::remove_dir_all(&dir);
}
