//! The EVM side of the store: tokens the user added, sends made from the app (with the review
//! that was signed and the fee it paid), and what the accounts moved as the nodes tell it: token
//! transfers from event logs, native coin from nodes that index addresses (`token` "native").

use rusqlite::{params, Connection};

use crate::{SendRow, Store, StoreError, TransferRow};

fn insert_send(conn: &Connection, s: &SendRow) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO evm_sends (hash, network, account_id, review, status, block, created_at, fee_paid)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(hash) DO UPDATE SET status = excluded.status, block = excluded.block,
             fee_paid = COALESCE(excluded.fee_paid, fee_paid)",
        params![
            s.hash,
            s.network,
            s.account_id,
            s.review,
            s.status,
            s.block,
            s.created_at,
            s.fee_paid
        ],
    )?;
    Ok(())
}

impl Store {
    /// Remembers a token on a network.
    pub fn add_token(
        &self,
        network: &str,
        address: &str,
        symbol: &str,
        decimals: u8,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO evm_tokens (network, address, symbol, decimals) VALUES (?1, ?2, ?3, ?4)",
            params![network, address, symbol, decimals],
        )?;
        self.save_user_data()?;
        Ok(())
    }

    /// The tokens added on a network: (address, symbol, decimals).
    pub fn tokens(&self, network: &str) -> Result<Vec<(String, String, u8)>, StoreError> {
        let mut q = self.conn.prepare(
            "SELECT address, symbol, decimals FROM evm_tokens WHERE network = ?1 ORDER BY symbol",
        )?;
        let rows = q
            .query_map(params![network], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Records a send (or updates its status).
    pub fn record_send(&self, s: &SendRow) -> Result<(), StoreError> {
        insert_send(&self.conn, s)
    }

    /// Keeps transfers (each once, however often it is read; a time or fee learnt later is added).
    pub fn put_transfers(&mut self, rows: &[TransferRow]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for r in rows {
            tx.execute(
                "INSERT INTO evm_transfers
                 (network, tx_hash, log_index, token, from_addr, to_addr, units, block, time, fee)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT(network, tx_hash, log_index) DO UPDATE SET
                     time = COALESCE(excluded.time, time), fee = COALESCE(excluded.fee, fee)",
                params![
                    r.network,
                    r.tx_hash,
                    r.log_index,
                    r.token,
                    r.from_addr,
                    r.to_addr,
                    r.units,
                    r.block,
                    r.time,
                    r.fee
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Transfers (tokens and native coin) on a network, newest first.
    pub fn transfers(&self, network: &str) -> Result<Vec<TransferRow>, StoreError> {
        let mut q = self.conn.prepare(
            "SELECT network, tx_hash, log_index, token, from_addr, to_addr, units, block, time, fee
             FROM evm_transfers WHERE network = ?1 ORDER BY block DESC, log_index DESC",
        )?;
        let rows = q
            .query_map(params![network], |r| {
                Ok(TransferRow {
                    network: r.get(0)?,
                    tx_hash: r.get(1)?,
                    log_index: r.get(2)?,
                    token: r.get(3)?,
                    from_addr: r.get(4)?,
                    to_addr: r.get(5)?,
                    units: r.get(6)?,
                    block: r.get(7)?,
                    time: r.get(8)?,
                    fee: r.get(9)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Records many sends in one transaction (one disk sync, not one per row).
    pub fn record_sends(&mut self, rows: &[SendRow]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for s in rows {
            insert_send(&tx, s)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Sends on a network, newest first.
    pub fn sends(&self, network: &str) -> Result<Vec<SendRow>, StoreError> {
        let mut q = self.conn.prepare(
            "SELECT hash, network, account_id, review, status, block, created_at, fee_paid FROM evm_sends
             WHERE network = ?1 ORDER BY created_at DESC, rowid DESC",
        )?;
        let rows = q
            .query_map(params![network], |r| {
                Ok(SendRow {
                    hash: r.get(0)?,
                    network: r.get(1)?,
                    account_id: r.get(2)?,
                    review: r.get(3)?,
                    status: r.get(4)?,
                    block: r.get(5)?,
                    created_at: r.get(6)?,
                    fee_paid: r.get(7)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}
