//! The schema, as numbered steps: a file's `PRAGMA user_version` is the number of steps it has
//! had. A step is never edited once released; a change is a new step.

/// The migrations, in order; index + 1 is the schema version they lead to.
pub(crate) const MIGRATIONS: &[&str] = &[
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
    // 9: when each transfer happened and the fees paid, for the transactions export; native
    // coin movements join the transfers.
    "ALTER TABLE evm_transfers ADD COLUMN time INTEGER;
     ALTER TABLE evm_transfers ADD COLUMN fee TEXT;
     ALTER TABLE evm_sends ADD COLUMN fee_paid TEXT;",
    // 10: the history of Bitcoin accounts that are one watched address (no descriptor, so no
    // BDK wallet file), as the Electrum or Esplora server last told it.
    "CREATE TABLE btc_address_txs (
         account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
         txid TEXT NOT NULL,
         height INTEGER,
         time INTEGER,
         received INTEGER NOT NULL,
         sent INTEGER NOT NULL,
         fee INTEGER,
         PRIMARY KEY (account_id, txid)
     );",
    // 11: token transfers read before schema 9 have no time; reading the logs again fills it
    // in (kept rows are not doubled).
    "DELETE FROM settings WHERE substr(key, 1, 14) = 'evm.transfers.';",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;
