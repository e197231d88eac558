//! The Bitcoin side of the store. Accounts with a descriptor keep their transactions in BDK's
//! own wallet files; an account that is one watched address has none, so its history, as its
//! server last told it, is kept here.

use rusqlite::params;

use crate::{AddressTxRow, Store, StoreError};

impl Store {
    /// Replaces the history of a single-address account (a transaction replaced or dropped
    /// from the mempool disappears with the next reading).
    pub fn put_address_txs(
        &mut self,
        account_id: i64,
        rows: &[AddressTxRow],
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "DELETE FROM btc_address_txs WHERE account_id = ?1",
            params![account_id],
        )?;
        for r in rows {
            tx.execute(
                "INSERT OR REPLACE INTO btc_address_txs
                 (account_id, txid, height, time, received, sent, fee)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![account_id, r.txid, r.height, r.time, r.received, r.sent, r.fee],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The kept history of a single-address account, newest first (unconfirmed on top).
    pub fn address_txs(&self, account_id: i64) -> Result<Vec<AddressTxRow>, StoreError> {
        let mut q = self.conn.prepare(
            "SELECT txid, height, time, received, sent, fee FROM btc_address_txs
             WHERE account_id = ?1 ORDER BY height IS NOT NULL, height DESC, txid",
        )?;
        let rows = q
            .query_map(params![account_id], |r| {
                Ok(AddressTxRow {
                    txid: r.get(0)?,
                    height: r.get(1)?,
                    time: r.get(2)?,
                    received: r.get(3)?,
                    sent: r.get(4)?,
                    fee: r.get(5)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}
