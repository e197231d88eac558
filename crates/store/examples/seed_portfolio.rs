//! Fills a data folder with a large portfolio for the start-up benchmark
//! (`scripts/bench-startup`): N watch-only EVM accounts on the "local" network with cached ETH
//! and token balances, M cached transactions spread over them, and cached spot and daily
//! prices. Usage: `seed_portfolio <data-dir> [accounts=20] [transactions=50000]`.

use std::path::PathBuf;

use coldlink_store::{BalanceRow, SendRow, Store};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("give the data folder")?);
    let accounts: u32 = args.next().map_or(Ok(20), |a| a.parse())?;
    let txs: u32 = args.next().map_or(Ok(50_000), |a| a.parse())?;
    std::fs::create_dir_all(&dir)?;
    let (mut store, _) = Store::open(&dir.join("coldlink.db"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let mut ids = Vec::new();
    for i in 0..accounts {
        let a = store.add_account(
            "evm",
            "watch",
            "Watch-only",
            &format!("Account {}", i + 1),
            &format!("0x{:040x}", 0xC01D_0000u64 + u64::from(i)),
            None,
        )?;
        ids.push(a.id);
    }
    let mut balances = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        balances.push(BalanceRow {
            account_id: *id,
            network: "local".into(),
            asset: "native".into(),
            symbol: "ETH".into(),
            decimals: 18,
            units: format!("{}000000000000000", 1_000 + i * 37),
            updated_at: now,
        });
        balances.push(BalanceRow {
            account_id: *id,
            network: "local".into(),
            asset: "0x00000000000000000000000000000000000000d0".into(),
            symbol: "USDC".into(),
            decimals: 6,
            units: format!("{}", 250_000_000 + i * 1_000_001),
            updated_at: now,
        });
    }
    store.put_balances("local", &balances)?;
    let rows: Vec<SendRow> = (0..txs)
        .map(|n| SendRow {
            hash: format!("0x{n:064x}"),
            network: "local".into(),
            account_id: Some(ids[n as usize % ids.len()]),
            review: format!(
                r#"{{"amount":"0.{:04} ETH","recipient":"0x{:040x}","maxFee":"0.0001 ETH"}}"#,
                n % 10_000,
                n
            ),
            status: "confirmed".into(),
            block: Some(i64::from(n)),
            created_at: now - i64::from(txs - n) * 60,
            fee_paid: Some("21000000000000".into()),
        })
        .collect();
    store.record_sends(&rows)?;
    for coin in ["ethereum", "usd-coin"] {
        let price = if coin == "ethereum" {
            "3012.47"
        } else {
            "1.0001"
        };
        store.put_price(coin, "usd", 0, price, Some("1.25"))?;
        for d in 0..400 {
            store.put_price(coin, "usd", now / 86_400 - d, price, None)?;
        }
    }
    println!(
        "{}: {accounts} accounts, {} balances, {txs} transactions",
        dir.display(),
        balances.len()
    );
    Ok(())
}
