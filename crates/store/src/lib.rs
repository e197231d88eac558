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

mod accounts;
mod bitcoin;
mod evm;
mod journal;
mod market;
mod migrations;
mod rows;

pub use journal::{JournalBreak, JournalEntry, JOURNAL_GENESIS};
use migrations::MIGRATIONS;
pub use migrations::SCHEMA_VERSION;
pub use rows::{
    AccountRow, AddressTxRow, BalanceRow, DeviceRow, LabelRow, SendRow, TransferRow, UserData,
};

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

/// Makes `path` readable and writable by its owner only (Unix; elsewhere the folder's rights
/// apply).
fn owner_only(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Creates the folder `dir` (and its parents) readable by its owner only.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    // SQLite gives the -wal and -shm files the database file's rights.
    owner_only(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

/// Settings under this prefix (a node's password when there is no system keyring) stay in the
/// database: never in the copy of the user's data kept beside it, nor in an export.
pub const SECRET_PREFIX: &str = "secret.";

/// Temp file, fsync, rename: a crash leaves the old copy or the new one, never half of one.
/// The file is readable by its owner only (it holds accounts, labels, addresses).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        // An older temp file keeps its mode through `open`: set it.
        owner_only(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
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
        if let Some(dir) = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty() && !d.exists())
        {
            create_private_dir(dir)?;
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
                    // The transfers read are gone with the old file: read them again.
                    store.forget_read_positions(None)?;
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
        let mut q = self.conn.prepare(
            "SELECT key, value FROM settings WHERE substr(key, 1, length(?1)) != ?1 ORDER BY key",
        )?;
        d.settings = q
            .query_map([SECRET_PREFIX], |r| Ok((r.get(0)?, r.get(1)?)))?
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
        for (k, v) in d
            .settings
            .iter()
            .filter(|(k, _)| !k.starts_with(SECRET_PREFIX))
        {
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

    /// Removes every setting whose key starts with `prefix` (one export of the user's data).
    pub fn remove_settings(&self, prefix: &str) -> Result<usize, StoreError> {
        let n = self.conn.execute(
            "DELETE FROM settings WHERE substr(key, 1, length(?1)) = ?1",
            params![prefix],
        )?;
        self.save_user_data()?;
        Ok(n)
    }

    /// Sets a value the app can work out again (where reading stopped, a chain's height, when
    /// prices were fetched). Unlike [`Store::set_setting`] it does not rewrite the export of
    /// the user's data, so a refresh does not write that file once per account.
    pub fn set_position(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
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
    fn a_position_is_kept_without_rewriting_the_users_export() {
        let (s, _) = Store::open(&dir().join("coldlink.db")).expect("open");
        s.set_setting("currency", "CHF").expect("set");
        let before = std::fs::read(s.user_data_path()).expect("export");
        s.set_position("evm.native.local.9", "1234")
            .expect("position");
        assert_eq!(
            s.setting("evm.native.local.9").expect("read").as_deref(),
            Some("1234")
        );
        assert_eq!(std::fs::read(s.user_data_path()).expect("export"), before);
    }

    #[test]
    fn secret_settings_stay_in_the_database_never_in_the_copy_or_an_export() {
        let (mut s, _) = Store::open(&dir().join("coldlink.db")).expect("open");
        s.set_setting("currency", "CHF").expect("set");
        s.set_setting("secret.btc.node.regtest.password", "hunter2-node")
            .expect("set secret");
        assert_eq!(
            s.setting("secret.btc.node.regtest.password")
                .expect("read")
                .as_deref(),
            Some("hunter2-node")
        );
        let copy = std::fs::read_to_string(s.user_data_path()).expect("copy");
        let export = std::fs::read_to_string(s.export_user_data().expect("export")).expect("read");
        for text in [&copy, &export] {
            assert!(text.contains("CHF"), "the user's settings are kept: {text}");
            assert!(!text.contains("hunter2-node") && !text.contains("secret."));
        }
        // An export carrying one (made by hand) does not bring it back.
        let mut d = s.user_data().expect("data");
        d.settings
            .push(("secret.planted".into(), "from a file".into()));
        s.import_user_data(&d).expect("import");
        assert_eq!(s.setting("secret.planted").expect("read"), None);
    }

    #[cfg(unix)]
    #[test]
    fn the_database_its_copy_and_a_new_data_folder_are_the_owners_only() {
        use std::os::unix::fs::PermissionsExt;
        let folder = dir().join("new-data");
        let (s, _) = Store::open(&folder.join("coldlink.db")).expect("open");
        s.set_setting("currency", "CHF").expect("set");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&folder), 0o700);
        assert_eq!(mode(&folder.join("coldlink.db")), 0o600);
        assert_eq!(mode(&s.user_data_path()), 0o600);
        assert_eq!(mode(&s.export_user_data().expect("export")), 0o600);
        // A database left readable by others by an older version is tightened on open.
        drop(s);
        std::fs::set_permissions(
            folder.join("coldlink.db"),
            std::fs::Permissions::from_mode(0o644),
        )
        .expect("loosen");
        let (_s, _) = Store::open(&folder.join("coldlink.db")).expect("reopen");
        assert_eq!(mode(&folder.join("coldlink.db")), 0o600);
        assert_eq!(mode(&folder.join("coldlink.db-wal")), 0o600);
    }

    #[test]
    fn removing_an_account_forgets_where_its_reading_stopped_and_only_its() {
        let (s, _) = Store::open(&dir().join("coldlink.db")).expect("open");
        let a = s
            .add_account("evm", "watch", "Watch-only", "A", "0xaa", None)
            .expect("a");
        for id in [a.id, a.id + 11] {
            for kind in ["transfers", "native"] {
                s.set_setting(&format!("evm.{kind}.local.{id}"), "100")
                    .expect("set");
            }
        }
        assert!(s.remove_account(a.id).expect("rm"));
        let left = |id: i64, kind: &str| {
            s.setting(&format!("evm.{kind}.local.{id}"))
                .expect("read")
                .is_some()
        };
        assert!(!left(a.id, "transfers") && !left(a.id, "native"));
        assert!(left(a.id + 11, "transfers") && left(a.id + 11, "native"));
        assert_eq!(s.forget_read_positions(None).expect("all"), 2);
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
            fee_paid: None,
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
            fee_paid: Some("21000".into()),
        })
        .expect("update");
        assert_eq!(s.sends("ethereum").expect("sends")[0].status, "confirmed");
        // A later update that does not know the fee keeps it.
        s.record_send(&SendRow {
            hash: "0x01".into(),
            network: "ethereum".into(),
            account_id: Some(a.id),
            review: "{}".into(),
            status: "confirmed".into(),
            block: Some(7),
            created_at: 1,
            fee_paid: None,
        })
        .expect("again");
        assert_eq!(
            s.sends("ethereum").expect("sends")[0].fee_paid.as_deref(),
            Some("21000")
        );
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
                time: None,
                fee: None,
            };
            s.put_transfers(&[transfer.clone(), transfer.clone()])
                .expect("transfers");
            assert_eq!(s.transfers("local").expect("read"), vec![transfer.clone()]);
            // Read again with its block's time: kept once, time learnt.
            let timed = TransferRow {
                time: Some(1_700_000_000),
                ..transfer
            };
            s.put_transfers(std::slice::from_ref(&timed))
                .expect("again");
            assert_eq!(s.transfers("local").expect("read"), vec![timed]);
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
