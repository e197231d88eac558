//! What the portfolio reads before any network call: the last balances read per account and
//! asset, and prices (spot and daily history) as exact decimal text.

use rusqlite::{params, OptionalExtension};

use crate::{now, BalanceRow, Store, StoreError};

impl Store {
    /// Stores a price: `day` 0 is the spot price, otherwise unix days.
    pub fn put_price(
        &self,
        coin: &str,
        currency: &str,
        day: i64,
        price: &str,
        change_24h: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO prices (coin, currency, day, price, change_24h, fetched_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(coin, currency, day) DO UPDATE SET price = excluded.price,
                 change_24h = excluded.change_24h, fetched_at = excluded.fetched_at",
            params![coin, currency, day, price, change_24h, now()],
        )?;
        Ok(())
    }

    /// A stored price: (price, 24 h change, fetched at unix seconds).
    pub fn price(
        &self,
        coin: &str,
        currency: &str,
        day: i64,
    ) -> Result<Option<(String, Option<String>, i64)>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT price, change_24h, fetched_at FROM prices WHERE coin = ?1 AND currency = ?2 AND day = ?3",
                params![coin, currency, day],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?)
    }

    /// Replaces the cached balances of `network` with `rows`.
    pub fn put_balances(&mut self, network: &str, rows: &[BalanceRow]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM balances WHERE network = ?1", params![network])?;
        for r in rows {
            tx.execute(
                "INSERT OR REPLACE INTO balances (account_id, network, asset, symbol, decimals, units, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![r.account_id, network, r.asset, r.symbol, r.decimals, r.units, r.updated_at],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The cached balances of `network`.
    pub fn balances(&self, network: &str) -> Result<Vec<BalanceRow>, StoreError> {
        let mut q = self.conn.prepare(
            "SELECT account_id, network, asset, symbol, decimals, units, updated_at FROM balances
             WHERE network = ?1 ORDER BY account_id, asset",
        )?;
        let rows = q
            .query_map(params![network], |r| {
                Ok(BalanceRow {
                    account_id: r.get(0)?,
                    network: r.get(1)?,
                    asset: r.get(2)?,
                    symbol: r.get(3)?,
                    decimals: r.get(4)?,
                    units: r.get(5)?,
                    updated_at: r.get(6)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Daily prices of `coin` since `from_day` (unix days): (day, price).
    pub fn price_history(
        &self,
        coin: &str,
        currency: &str,
        from_day: i64,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let mut q = self.conn.prepare(
            "SELECT day, price FROM prices WHERE coin = ?1 AND currency = ?2 AND day >= ?3 AND day > 0 ORDER BY day",
        )?;
        let rows = q
            .query_map(params![coin, currency, from_day], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}
