//! Coldlink's local database: one SQLite file in the app-data folder, in WAL mode with foreign
//! keys on, migrated forward by numbered steps (`PRAGMA user_version` says where a file is).
//!
//! What the user typed (accounts, labels, networks, tokens, settings) is precious; balances and
//! history can be read from chains again. So before any migration the user's data is written
//! to a JSON export beside the database, and a file that fails SQLite's integrity check is
//! moved aside (never deleted) and a fresh database started, with a note of where the old one
//! and its last export are.

use std::{
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

/// The migrations, in order; index + 1 is the schema version they lead to.
const MIGRATIONS: &[&str] = &[
    // 1: accounts, EVM networks and tokens the user added, EVM sends, settings.
    "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE accounts (
         id INTEGER PRIMARY KEY,
         chain TEXT NOT NULL CHECK (chain IN ('evm', 'bitcoin')),
         signer TEXT NOT NULL,
         signer_name TEXT NOT NULL,
         label TEXT NOT NULL,
         address TEXT NOT NULL,
         path TEXT,
         created_at INTEGER NOT NULL,
         UNIQUE (chain, signer, address)
     );
     CREATE TABLE evm_networks (key TEXT PRIMARY KEY, body TEXT NOT NULL);
     CREATE TABLE evm_tokens (
         network TEXT NOT NULL,
         address TEXT NOT NULL,
         symbol TEXT NOT NULL,
         decimals INTEGER NOT NULL,
         PRIMARY KEY (network, address)
     );
     CREATE TABLE evm_sends (
         hash TEXT PRIMARY KEY,
         network TEXT NOT NULL,
         account_id INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
         review TEXT NOT NULL,
         status TEXT NOT NULL,
         block INTEGER,
         created_at INTEGER NOT NULL
     );",
    // 2: fiat prices: spot (day 0) and daily history, as exact decimal text.
    "CREATE TABLE prices (
         coin TEXT NOT NULL,
         currency TEXT NOT NULL,
         day INTEGER NOT NULL,
         price TEXT NOT NULL,
         change_24h TEXT,
         fetched_at INTEGER NOT NULL,
         PRIMARY KEY (coin, currency, day)
     );",
    // 3: the signing journal, hash-chained.
    "CREATE TABLE journal (
         seq INTEGER PRIMARY KEY,
         at INTEGER NOT NULL,
         signer TEXT NOT NULL,
         account TEXT NOT NULL,
         chain TEXT NOT NULL,
         review TEXT NOT NULL,
         outcome TEXT NOT NULL,
         txid TEXT,
         prev TEXT NOT NULL,
         hash TEXT NOT NULL
     );",
    // 4: the last balances read, so the portfolio shows at once before any network call.
    "CREATE TABLE balances (
         account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
         network TEXT NOT NULL,
         asset TEXT NOT NULL,
         symbol TEXT NOT NULL,
         decimals INTEGER NOT NULL,
         units TEXT NOT NULL,
         updated_at INTEGER NOT NULL,
         PRIMARY KEY (account_id, network, asset)
     );",
    // 5: the network a (Bitcoin) account is on.
    "ALTER TABLE accounts ADD COLUMN network TEXT;",
    // 6: labels as BIP329 has them (type, ref, label; `spendable` for outputs, false = frozen).
    "CREATE TABLE labels (
         kind TEXT NOT NULL,
         ref TEXT NOT NULL,
         label TEXT NOT NULL,
         spendable INTEGER,
         PRIMARY KEY (kind, ref)
     );",
    // 7: hardware wallets seen, by master fingerprint (a device's USB path changes; its seed
    // does not), so the app can name a signer that is not plugged in.
    "CREATE TABLE devices (
         fingerprint TEXT PRIMARY KEY,
         vendor TEXT NOT NULL,
         model_name TEXT NOT NULL,
         emulated INTEGER NOT NULL,
         first_seen INTEGER NOT NULL,
         last_seen INTEGER NOT NULL
     );",
    // 8: token transfers to and from EVM accounts, from the node's event logs (what the
    // accounts received, not only what the app sent).
    "CREATE TABLE evm_transfers (
         network TEXT NOT NULL,
         tx_hash TEXT NOT NULL,
         log_index INTEGER NOT NULL,
         token TEXT NOT NULL,
         from_addr TEXT NOT NULL,
         to_addr TEXT NOT NULL,
         units TEXT NOT NULL,
         block INTEGER NOT NULL,
         PRIMARY KEY (network, tx_hash, log_index)
     );",
];

/// A token transfer from or to one of the accounts (EVM event log).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferRow {
    /// Network key.
    pub network: String,
    /// Transaction hash.
    pub tx_hash: String,
    /// Position of the event in its block.
    pub log_index: i64,
    /// Token contract.
    pub token: String,
    /// Sender.
    pub from_addr: String,
    /// Recipient.
    pub to_addr: String,
    /// Base units, decimal text (exact).
    pub units: String,
    /// Block number.
    pub block: i64,
}

/// A hardware wallet seen at least once with its fingerprint readable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceRow {
    /// Master-key fingerprint, 8 hex digits.
    pub fingerprint: String,
    /// Maker ("ledger", "trezor", …).
    pub vendor: String,
    /// "Ledger Nano X".
    pub model_name: String,
    /// An emulator or simulator.
    pub emulated: bool,
    /// Unix seconds.
    pub first_seen: i64,
    /// Unix seconds.
    pub last_seen: i64,
}

/// A label on a transaction, address or output (BIP329 record).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelRow {
    /// BIP329 type: tx, addr, output, input, pubkey, xpub.
    pub kind: String,
    /// What it labels (txid, address, txid:vout, …).
    pub reference: String,
    /// The label.
    pub label: String,
    /// Outputs only: false when the user froze the coin.
    pub spendable: Option<bool>,
}

/// One cached balance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BalanceRow {
    /// The account.
    pub account_id: i64,
    /// Network key.
    pub network: String,
    /// "native" or the token contract.
    pub asset: String,
    /// Ticker.
    pub symbol: String,
    /// Decimal places.
    pub decimals: u8,
    /// Base units, decimal text (exact).
    pub units: String,
    /// Unix seconds.
    pub updated_at: i64,
}

/// The hash before the first journal entry.
pub const JOURNAL_GENESIS: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// One signing request as the journal keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    /// Position, from 1.
    pub seq: i64,
    /// Unix seconds.
    pub at: i64,
    /// Who was asked to sign (device name and fingerprint, "Software wallet").
    pub signer: String,
    /// Which account.
    pub account: String,
    /// "bitcoin", "evm:<chain id>".
    pub chain: String,
    /// What was shown for review, as JSON (outputs, amounts, fee, chain).
    pub review: String,
    /// "signed", "broadcast", "rejected", "failed: …".
    pub outcome: String,
    /// Transaction id, once broadcast.
    pub txid: Option<String>,
    /// The previous entry's hash.
    pub prev: String,
    /// SHA-256 of this entry's fields and `prev`.
    pub hash: String,
}

/// Where the journal's chain is broken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("journal entry {seq} is not what was written: {reason}")]
pub struct JournalBreak {
    /// The first entry that does not check out.
    pub seq: i64,
    /// How.
    pub reason: String,
}

fn entry_hash(e: &JournalEntry) -> String {
    use sha2::{Digest, Sha256};
    // Length-prefixed fields: no two different entries hash the same text.
    let mut h = Sha256::new();
    for f in [
        e.seq.to_string().as_str(),
        e.at.to_string().as_str(),
        &e.signer,
        &e.account,
        &e.chain,
        &e.review,
        &e.outcome,
        e.txid.as_deref().unwrap_or(""),
        &e.prev,
    ] {
        h.update((f.len() as u64).to_be_bytes());
        h.update(f.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite said no.
    #[error("the local database failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The file system said no.
    #[error("the local database's folder is not usable: {0}")]
    Io(#[from] std::io::Error),
    /// The file is from a newer Coldlink.
    #[error("the local database was written by a newer Coldlink (schema {0}); update Coldlink")]
    TooNew(u32),
    /// A stored value could not be read back.
    #[error("a stored value is unreadable: {0}")]
    Corrupt(String),
    /// The signing journal does not check out.
    #[error(transparent)]
    Journal(#[from] JournalBreak),
}

/// An account the user added.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountRow {
    /// Row id.
    pub id: i64,
    /// "evm" or "bitcoin".
    pub chain: String,
    /// Who signs: a master fingerprint, "soft" for the software wallet, "watch" for watch-only.
    pub signer: String,
    /// The signer's name when added ("Ledger Nano X", "Software wallet").
    pub signer_name: String,
    /// The user's label.
    pub label: String,
    /// Address (EVM) or descriptor (Bitcoin).
    pub address: String,
    /// Derivation path, if the signer holds the key.
    pub path: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// The network, for accounts tied to one (Bitcoin: main, testnet4, signet, regtest).
    #[serde(default)]
    pub network: Option<String>,
}

/// A send made from the app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendRow {
    /// Transaction hash.
    pub hash: String,
    /// Network key.
    pub network: String,
    /// The sending account, if still present.
    pub account_id: Option<i64>,
    /// The review shown and signed, as JSON.
    pub review: String,
    /// "pending", "confirmed", "failed".
    pub status: String,
    /// Block, once mined.
    pub block: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
}

/// What the user typed, as exported before migrations.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserData {
    /// Schema version it was read from.
    pub schema_version: u32,
    /// Accounts.
    pub accounts: Vec<AccountRow>,
    /// Settings.
    pub settings: Vec<(String, String)>,
    /// User networks (JSON bodies).
    pub evm_networks: Vec<(String, String)>,
    /// User tokens: (network, address, symbol, decimals).
    pub evm_tokens: Vec<(String, String, String, i64)>,
    /// Labels and frozen coins (absent in exports from before schema 6).
    #[serde(default)]
    pub labels: Vec<LabelRow>,
}

/// What opening found, for the app to tell the user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// A damaged file was moved here and a fresh database started.
    pub moved_aside: Option<PathBuf>,
    /// The user-data export written before a migration.
    pub export: Option<PathBuf>,
    /// The version the file had (0 = new).
    pub from_version: u32,
    /// After a damaged file was moved aside, the user's data was put back from this copy.
    pub restored_from: Option<PathBuf>,
}

/// The open database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

/// Temp file, fsync, rename: a crash leaves the old copy or the new one, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn insert_send(conn: &Connection, s: &SendRow) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO evm_sends (hash, network, account_id, review, status, block, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(hash) DO UPDATE SET status = excluded.status, block = excluded.block",
        params![
            s.hash,
            s.network,
            s.account_id,
            s.review,
            s.status,
            s.block,
            s.created_at
        ],
    )?;
    Ok(())
}

fn healthy(conn: &Connection) -> bool {
    conn.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0))
        .map(|s| s == "ok")
        .unwrap_or(false)
}

impl Store {
    /// Opens (creating, checking and migrating as needed) the database at `path`.
    pub fn open(path: &Path) -> Result<(Self, OpenReport), StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut report = OpenReport::default();
        let conn = match connect(path) {
            Ok(c) if healthy(&c) => c,
            other => {
                drop(other);
                if path.exists() {
                    let aside = path.with_extension(format!("corrupt-{}", now()));
                    std::fs::rename(path, &aside)?;
                    for ext in ["db-wal", "db-shm"] {
                        let _ = std::fs::remove_file(path.with_extension(ext));
                    }
                    report.moved_aside = Some(aside);
                }
                connect(path)?
            }
        };
        let mut store = Self {
            conn,
            path: path.to_owned(),
        };
        report.from_version = store.version()?;
        if report.from_version > SCHEMA_VERSION {
            return Err(StoreError::TooNew(report.from_version));
        }
        if report.from_version > 0 && report.from_version < SCHEMA_VERSION {
            report.export = Some(store.export_user_data()?);
        }
        store.migrate()?;
        if report.moved_aside.is_some() {
            let copy = store.user_data_path();
            if let Ok(text) = std::fs::read(&copy) {
                if let Ok(data) = serde_json::from_slice::<UserData>(&text) {
                    store.import_user_data(&data)?;
                    report.restored_from = Some(copy);
                }
            }
        }
        Ok((store, report))
    }

    fn version(&self) -> Result<u32, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let from = self.version()?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i as u32 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Reads everything the user typed.
    pub fn user_data(&self) -> Result<UserData, StoreError> {
        let v = self.version()?;
        let mut d = UserData {
            schema_version: v,
            ..Default::default()
        };
        if v == 0 {
            return Ok(d);
        }
        d.accounts = self.accounts()?;
        let mut q = self
            .conn
            .prepare("SELECT key, value FROM settings ORDER BY key")?;
        d.settings = q
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut q = self
            .conn
            .prepare("SELECT key, body FROM evm_networks ORDER BY key")?;
        d.evm_networks = q
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut q = self.conn.prepare(
            "SELECT network, address, symbol, decimals FROM evm_tokens ORDER BY network, address",
        )?;
        d.evm_tokens = q
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<Result<_, _>>()?;
        if v >= 6 {
            d.labels = self.labels()?;
        }
        Ok(d)
    }

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

    /// Where the database file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn user_data_path(&self) -> PathBuf {
        self.path.with_extension("userdata.json")
    }

    /// Keeps a copy of what the user typed beside the database (written atomically after every
    /// change to it), from which a fresh database is refilled if the file is ever damaged.
    pub fn save_user_data(&self) -> Result<(), StoreError> {
        let d = self.user_data()?;
        let text = serde_json::to_vec_pretty(&d).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(write_atomic(&self.user_data_path(), &text)?)
    }

    /// Writes the user's data to `<db>.export-v<N>.json` atomically; returns the path.
    pub fn export_user_data(&self) -> Result<PathBuf, StoreError> {
        let d = self.user_data()?;
        let out = self
            .path
            .with_extension(format!("export-v{}.json", d.schema_version));
        let text = serde_json::to_vec_pretty(&d).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        write_atomic(&out, &text)?;
        Ok(out)
    }

    /// Puts exported user data back (after a fresh start); existing rows are kept.
    pub fn import_user_data(&mut self, d: &UserData) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for a in &d.accounts {
            tx.execute(
                "INSERT OR IGNORE INTO accounts (chain, signer, signer_name, label, address, path, created_at, network)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![a.chain, a.signer, a.signer_name, a.label, a.address, a.path, a.created_at, a.network],
            )?;
        }
        for (k, v) in &d.settings {
            tx.execute(
                "INSERT OR IGNORE INTO settings (key, value) VALUES (?1, ?2)",
                params![k, v],
            )?;
        }
        for (k, b) in &d.evm_networks {
            tx.execute(
                "INSERT OR IGNORE INTO evm_networks (key, body) VALUES (?1, ?2)",
                params![k, b],
            )?;
        }
        for (n, a, s, dec) in &d.evm_tokens {
            tx.execute(
                "INSERT OR IGNORE INTO evm_tokens (network, address, symbol, decimals) VALUES (?1, ?2, ?3, ?4)",
                params![n, a, s, dec],
            )?;
        }
        for l in &d.labels {
            tx.execute(
                "INSERT OR IGNORE INTO labels (kind, ref, label, spendable) VALUES (?1, ?2, ?3, ?4)",
                params![l.kind, l.reference, l.label, l.spendable.map(i64::from)],
            )?;
        }
        tx.commit()?;
        Ok(())
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
        self.save_user_data()?;
        Ok(removed)
    }

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

    /// Keeps token transfers (each once, however often it is read).
    pub fn put_transfers(&mut self, rows: &[TransferRow]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for r in rows {
            tx.execute(
                "INSERT OR IGNORE INTO evm_transfers
                 (network, tx_hash, log_index, token, from_addr, to_addr, units, block)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    r.network,
                    r.tx_hash,
                    r.log_index,
                    r.token,
                    r.from_addr,
                    r.to_addr,
                    r.units,
                    r.block
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Token transfers on a network, newest first.
    pub fn transfers(&self, network: &str) -> Result<Vec<TransferRow>, StoreError> {
        let mut q = self.conn.prepare(
            "SELECT network, tx_hash, log_index, token, from_addr, to_addr, units, block
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
            "SELECT hash, network, account_id, review, status, block, created_at FROM evm_sends
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
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

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

    /// Appends a signing request to the journal; returns the entry with its hash.
    #[allow(clippy::too_many_arguments)]
    pub fn journal_append(
        &mut self,
        signer: &str,
        account: &str,
        chain: &str,
        review: &str,
        outcome: &str,
        txid: Option<&str>,
    ) -> Result<JournalEntry, StoreError> {
        let tx = self.conn.transaction()?;
        let last: Option<(i64, String)> = tx
            .query_row(
                "SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (seq, prev) = match last {
            Some((s, h)) => (s + 1, h),
            None => (1, JOURNAL_GENESIS.to_owned()),
        };
        let mut e = JournalEntry {
            seq,
            at: now(),
            signer: signer.into(),
            account: account.into(),
            chain: chain.into(),
            review: review.into(),
            outcome: outcome.into(),
            txid: txid.map(str::to_owned),
            prev,
            hash: String::new(),
        };
        e.hash = entry_hash(&e);
        tx.execute(
            "INSERT INTO journal (seq, at, signer, account, chain, review, outcome, txid, prev, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![e.seq, e.at, e.signer, e.account, e.chain, e.review, e.outcome, e.txid, e.prev, e.hash],
        )?;
        // The head is kept apart so that removing the newest entries shows too.
        tx.execute(
            "INSERT INTO settings (key, value) VALUES ('journal.head', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![format!("{}:{}", e.seq, e.hash)],
        )?;
        tx.commit()?;
        Ok(e)
    }

    /// The journal, oldest first.
    pub fn journal(&self) -> Result<Vec<JournalEntry>, StoreError> {
        let mut q = self.conn.prepare(
            "SELECT seq, at, signer, account, chain, review, outcome, txid, prev, hash FROM journal ORDER BY rowid",
        )?;
        let rows = q
            .query_map([], |r| {
                Ok(JournalEntry {
                    seq: r.get(0)?,
                    at: r.get(1)?,
                    signer: r.get(2)?,
                    account: r.get(3)?,
                    chain: r.get(4)?,
                    review: r.get(5)?,
                    outcome: r.get(6)?,
                    txid: r.get(7)?,
                    prev: r.get(8)?,
                    hash: r.get(9)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Checks the whole chain: each entry's hash, its link to the one before, the numbering,
    /// and the recorded head. Names the first entry that fails.
    pub fn journal_verify(&self) -> Result<usize, StoreError> {
        let entries = self.journal()?;
        let broken = |seq: i64, reason: &str| {
            StoreError::Journal(JournalBreak {
                seq,
                reason: reason.into(),
            })
        };
        let mut prev = JOURNAL_GENESIS.to_owned();
        for (i, e) in entries.iter().enumerate() {
            let expected_seq = i as i64 + 1;
            if e.seq != expected_seq {
                return Err(broken(expected_seq, "missing or out of order"));
            }
            if e.prev != prev {
                return Err(broken(
                    e.seq,
                    "its link to the entry before is broken (an entry was removed or reordered)",
                ));
            }
            if entry_hash(e) != e.hash {
                return Err(broken(e.seq, "its contents were changed"));
            }
            prev = e.hash.clone();
        }
        let head = self.setting("journal.head")?;
        let last = entries.last().map(|e| format!("{}:{}", e.seq, e.hash));
        if head != last {
            let seq = entries.len() as i64 + 1;
            return Err(broken(seq, "the newest entries are missing"));
        }
        Ok(entries.len())
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

    /// A setting.
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM settings WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Sets a setting.
    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        self.save_user_data()?;
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let d = std::env::temp_dir().join(format!(
            "coldlink-store-{}-{}-{n}",
            std::process::id(),
            now()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("dir");
        d
    }

    #[test]
    fn a_new_database_is_created_at_the_latest_schema_with_wal_and_foreign_keys() {
        let p = dir().join("coldlink.db");
        let (s, report) = Store::open(&p).expect("open");
        assert_eq!(report, OpenReport::default());
        assert_eq!(s.version().expect("v"), SCHEMA_VERSION);
        let mode: String = s
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .expect("mode");
        assert_eq!(mode, "wal");
        let fk: i64 = s
            .conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .expect("fk");
        assert_eq!(fk, 1);
        let a = s
            .add_account(
                "evm",
                "73c5da0a",
                "Ledger",
                "Main",
                "0x9858EfFD232B4033E47d90003D41EC34EcaEda94",
                Some("m/44'/60'/0'/0/0"),
            )
            .expect("add");
        assert_eq!(
            s.add_account("evm", "73c5da0a", "Ledger", "Again", &a.address, None)
                .expect("same")
                .id,
            a.id,
            "no duplicates"
        );
        s.record_send(&SendRow {
            hash: "0x01".into(),
            network: "ethereum".into(),
            account_id: Some(a.id),
            review: "{}".into(),
            status: "pending".into(),
            block: None,
            created_at: 1,
        })
        .expect("send");
        s.record_send(&SendRow {
            hash: "0x01".into(),
            network: "ethereum".into(),
            account_id: Some(a.id),
            review: "{}".into(),
            status: "confirmed".into(),
            block: Some(7),
            created_at: 1,
        })
        .expect("update");
        assert_eq!(s.sends("ethereum").expect("sends")[0].status, "confirmed");
        // Removing the account keeps the send, detached.
        assert!(s.remove_account(a.id).expect("rm"));
        assert_eq!(s.sends("ethereum").expect("sends")[0].account_id, None);
        drop(s);
        // Reopening keeps everything and migrates nothing.
        let (s, report) = Store::open(&p).expect("reopen");
        assert_eq!(report.from_version, SCHEMA_VERSION);
        assert_eq!(report.export, None);
        assert_eq!(s.sends("ethereum").expect("sends").len(), 1);
    }

    #[test]
    fn a_corrupt_file_is_moved_aside_and_the_users_data_restored_from_its_export() {
        let d = dir();
        let p = d.join("coldlink.db");
        let (s, _) = Store::open(&p).expect("open");
        s.add_account(
            "evm",
            "watch",
            "Watch-only",
            "Cold storage",
            "0x73d0385F4d8E00C5e6504C6030F47BF6212736A8",
            None,
        )
        .expect("add");
        s.set_setting("currency", "CHF").expect("set");
        let export = s.export_user_data().expect("export");
        drop(s);
        std::fs::write(&p, b"this is not a database, it is garbage written over it")
            .expect("damage");
        let (mut s, report) = Store::open(&p).expect("reopen");
        let aside = report.moved_aside.expect("moved aside");
        assert!(aside.exists(), "the damaged file is kept");
        // What the user typed came back by itself, from the copy kept after every change.
        assert!(report.restored_from.is_some());
        assert_eq!(s.accounts().expect("accounts")[0].label, "Cold storage");
        assert_eq!(s.setting("currency").expect("get").as_deref(), Some("CHF"));
        // The explicit export restores the same (idempotently).
        let data: UserData =
            serde_json::from_slice(&std::fs::read(export).expect("read")).expect("json");
        s.import_user_data(&data).expect("import");
        assert_eq!(s.accounts().expect("accounts").len(), 1);
    }

    #[test]
    fn every_earlier_schema_is_exported_then_migrated_keeping_the_users_data() {
        for version in 1..SCHEMA_VERSION {
            let p = dir().join("coldlink.db");
            {
                // A database exactly as that schema left it, with the user's data in it.
                let conn = connect(&p).expect("connect");
                for m in &MIGRATIONS[..version as usize] {
                    conn.execute_batch(m).expect("old schema");
                }
                conn.pragma_update(None, "user_version", version)
                    .expect("version");
                conn.execute(
                    "INSERT INTO accounts (chain, signer, signer_name, label, address, path, created_at)
                     VALUES ('evm', 'watch', 'Watch-only', 'Savings', '0x73d0385F4d8E00C5e6504C6030F47BF6212736A8', NULL, 1)",
                    [],
                )
                .expect("row");
                conn.execute(
                    "INSERT INTO settings (key, value) VALUES ('currency', 'eur')",
                    [],
                )
                .expect("setting");
            }
            let (mut s, report) = Store::open(&p).expect("migrate");
            assert_eq!(report.from_version, version);
            let export = report.export.expect("exported before migrating");
            let saved: UserData =
                serde_json::from_slice(&std::fs::read(export).expect("read")).expect("json");
            assert_eq!(saved.schema_version, version);
            assert_eq!(saved.accounts[0].label, "Savings");
            assert_eq!(s.version().expect("v"), SCHEMA_VERSION, "from v{version}");
            assert_eq!(s.accounts().expect("kept")[0].label, "Savings");
            assert_eq!(s.setting("currency").expect("kept").as_deref(), Some("eur"));
            // And the newer tables work.
            s.put_price("ethereum", "usd", 0, "3012.47", Some("-1.5"))
                .expect("price");
            s.journal_append("x", "y", "evm:1", "{}", "signed", None)
                .expect("journal");
            let seen = DeviceRow {
                fingerprint: "73c5da0a".into(),
                vendor: "ledger".into(),
                model_name: "Ledger Nano X".into(),
                emulated: false,
                first_seen: 10,
                last_seen: 10,
            };
            s.device_seen(&seen).expect("device");
            let transfer = TransferRow {
                network: "local".into(),
                tx_hash: format!("0x{}", "ab".repeat(32)),
                log_index: 3,
                token: "0x6b175474e89094c44da98b954eedeac495271d0f".into(),
                from_addr: "0x9858EfFD232B4033E47d90003D41EC34EcaEda94".into(),
                to_addr: "0x73d0385F4d8E00C5e6504C6030F47BF6212736A8".into(),
                units: "1000000".into(),
                block: 16,
            };
            s.put_transfers(&[transfer.clone(), transfer.clone()])
                .expect("transfers");
            assert_eq!(s.transfers("local").expect("read"), vec![transfer]);
            s.device_seen(&DeviceRow {
                last_seen: 20,
                ..seen.clone()
            })
            .expect("seen again");
            assert_eq!(
                s.devices().expect("devices"),
                vec![DeviceRow {
                    first_seen: 10,
                    last_seen: 20,
                    ..seen
                }]
            );
            assert_eq!(s.journal_verify().expect("verify"), 1);
            let l = LabelRow {
                kind: "tx".into(),
                reference: "ab".repeat(32),
                label: "Rent".into(),
                spendable: None,
            };
            s.set_label(&l).expect("label");
            assert_eq!(s.labels().expect("labels"), vec![l]);
        }
    }

    fn journal_of_three() -> (Store, PathBuf) {
        let p = dir().join("coldlink.db");
        let (mut s, _) = Store::open(&p).expect("open");
        for (i, outcome) in ["signed", "rejected", "broadcast"].iter().enumerate() {
            s.journal_append(
                "Ledger 73c5da0a",
                "Main",
                "evm:1",
                &format!("{{\"amount\":\"{i} ETH\"}}"),
                outcome,
                None,
            )
            .expect("append");
        }
        (s, p)
    }

    #[test]
    fn the_journal_verifies_and_names_the_first_tampered_entry() {
        let (s, _) = journal_of_three();
        assert_eq!(s.journal_verify().expect("intact"), 3);
        let e = s.journal().expect("list");
        assert_eq!(e[1].prev, e[0].hash);
        assert_eq!(e[0].prev, JOURNAL_GENESIS);

        // Edit one row.
        let (s, _) = journal_of_three();
        s.conn
            .execute("UPDATE journal SET outcome = 'signed' WHERE seq = 2", [])
            .expect("edit");
        assert!(
            matches!(s.journal_verify(), Err(StoreError::Journal(b)) if b.seq == 2 && b.reason.contains("changed"))
        );

        // Delete one row in the middle.
        let (s, _) = journal_of_three();
        s.conn
            .execute("DELETE FROM journal WHERE seq = 2", [])
            .expect("delete");
        assert!(matches!(s.journal_verify(), Err(StoreError::Journal(b)) if b.seq == 2));

        // Delete the newest row.
        let (s, _) = journal_of_three();
        s.conn
            .execute("DELETE FROM journal WHERE seq = 3", [])
            .expect("delete");
        assert!(
            matches!(s.journal_verify(), Err(StoreError::Journal(b)) if b.seq == 3 && b.reason.contains("newest"))
        );

        // Reorder two rows (swap their contents, keeping the numbers).
        let (s, _) = journal_of_three();
        s.conn
            .execute_batch(
                "UPDATE journal SET seq = -1 WHERE seq = 1; UPDATE journal SET seq = 1 WHERE seq = 2; UPDATE journal SET seq = 2 WHERE seq = -1;",
            )
            .expect("swap");
        let r = s.journal_verify();
        assert!(
            matches!(&r, Err(StoreError::Journal(b)) if b.seq == 1),
            "{r:?}"
        );
    }

    #[test]
    fn a_database_from_a_newer_coldlink_is_refused_untouched() {
        let p = dir().join("coldlink.db");
        let (s, _) = Store::open(&p).expect("open");
        s.conn
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .expect("bump");
        drop(s);
        assert!(matches!(Store::open(&p), Err(StoreError::TooNew(_))));
    }
}
