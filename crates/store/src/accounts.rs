//! What the user adds and the app remembers about it: accounts (with where reading their
//! transfers stopped), hardware wallets seen, and labels (BIP329 records).

use rusqlite::{params, OptionalExtension};

use crate::{now, AccountRow, DeviceRow, LabelRow, Store, StoreError};

impl Store {
    /// Every label, by type and reference.
    pub fn labels(&self) -> Result<Vec<LabelRow>, StoreError> {
        let mut q = self
            .conn
            .prepare("SELECT kind, ref, label, spendable FROM labels ORDER BY kind, ref")?;
        let rows = q
            .query_map([], |r| {
                Ok(LabelRow {
                    kind: r.get(0)?,
                    reference: r.get(1)?,
                    label: r.get(2)?,
                    spendable: r.get::<_, Option<i64>>(3)?.map(|v| v != 0),
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Sets (or with an empty label and no `spendable`, removes) a label.
    pub fn set_label(&mut self, l: &LabelRow) -> Result<(), StoreError> {
        if l.label.is_empty() && l.spendable.is_none() {
            self.conn.execute(
                "DELETE FROM labels WHERE kind = ?1 AND ref = ?2",
                params![l.kind, l.reference],
            )?;
        } else {
            self.conn.execute(
                "INSERT OR REPLACE INTO labels (kind, ref, label, spendable) VALUES (?1, ?2, ?3, ?4)",
                params![l.kind, l.reference, l.label, l.spendable.map(i64::from)],
            )?;
        }
        self.save_user_data()
    }

    /// Adds an account (or returns the existing one with the same chain, signer and address).
    pub fn add_account(
        &self,
        chain: &str,
        signer: &str,
        signer_name: &str,
        label: &str,
        address: &str,
        path: Option<&str>,
    ) -> Result<AccountRow, StoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO accounts (chain, signer, signer_name, label, address, path, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![chain, signer, signer_name, label, address, path, now()],
        )?;
        self.save_user_data()?;
        self.conn
            .query_row(
                "SELECT id, chain, signer, signer_name, label, address, path, created_at, network FROM accounts
                 WHERE chain = ?1 AND signer = ?2 AND address = ?3",
                params![chain, signer, address],
                row_account,
            )
            .map_err(StoreError::from)
    }

    /// Ties account `id` to a network.
    pub fn set_account_network(&self, id: i64, network: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE accounts SET network = ?1 WHERE id = ?2",
            params![network, id],
        )?;
        self.save_user_data()
    }

    /// Every account, oldest first.
    pub fn accounts(&self) -> Result<Vec<AccountRow>, StoreError> {
        // Exports run before migrations: read what the file's own schema has.
        let network = if self.version()? >= 5 {
            "network"
        } else {
            "NULL"
        };
        let mut q = self.conn.prepare(&format!(
            "SELECT id, chain, signer, signer_name, label, address, path, created_at, {network} FROM accounts ORDER BY id"
        ))?;
        let rows = q.query_map([], row_account)?.collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Records that a device with this fingerprint is connected now (the model as last seen).
    pub fn device_seen(&self, d: &DeviceRow) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO devices (fingerprint, vendor, model_name, emulated, first_seen, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT (fingerprint) DO UPDATE SET
                 vendor = excluded.vendor, model_name = excluded.model_name,
                 emulated = excluded.emulated, last_seen = excluded.last_seen",
            params![
                d.fingerprint,
                d.vendor,
                d.model_name,
                d.emulated,
                d.last_seen
            ],
        )?;
        Ok(())
    }

    /// Devices seen, most recent first.
    pub fn devices(&self) -> Result<Vec<DeviceRow>, StoreError> {
        let mut q = self.conn.prepare(
            "SELECT fingerprint, vendor, model_name, emulated, first_seen, last_seen
             FROM devices ORDER BY last_seen DESC, fingerprint",
        )?;
        let rows = q
            .query_map([], |r| {
                Ok(DeviceRow {
                    fingerprint: r.get(0)?,
                    vendor: r.get(1)?,
                    model_name: r.get(2)?,
                    emulated: r.get(3)?,
                    first_seen: r.get(4)?,
                    last_seen: r.get(5)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// One account.
    pub fn account(&self, id: i64) -> Result<Option<AccountRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, chain, signer, signer_name, label, address, path, created_at, network FROM accounts WHERE id = ?1",
                params![id],
                row_account,
            )
            .optional()?)
    }

    /// Removes an account (its sends stay, detached).
    pub fn remove_account(&self, id: i64) -> Result<bool, StoreError> {
        let removed = self
            .conn
            .execute("DELETE FROM accounts WHERE id = ?1", params![id])?
            > 0;
        // Its id may be given to the next account added: that one starts reading afresh.
        self.forget_read_positions(Some(id))?;
        self.save_user_data()?;
        Ok(removed)
    }

    /// Forgets where reading each account's transfers stopped (all accounts, or one), so
    /// the next refresh reads them from the start again (rows kept are not doubled).
    pub fn forget_read_positions(&self, account: Option<i64>) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "DELETE FROM settings
             WHERE (substr(key, 1, 14) = 'evm.transfers.' OR substr(key, 1, 11) = 'evm.native.')
               AND (?1 IS NULL OR key LIKE '%.' || ?1)",
            params![account],
        )?)
    }
}

fn row_account(r: &rusqlite::Row<'_>) -> rusqlite::Result<AccountRow> {
    Ok(AccountRow {
        id: r.get(0)?,
        chain: r.get(1)?,
        signer: r.get(2)?,
        signer_name: r.get(3)?,
        label: r.get(4)?,
        address: r.get(5)?,
        path: r.get(6)?,
        created_at: r.get(7)?,
        network: r.get(8)?,
    })
}
