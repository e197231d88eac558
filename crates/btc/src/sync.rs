//! An account's wallet state kept by BDK (`bdk_wallet`, persisted in SQLite next to the app's
//! database), synced from the user's own Bitcoin Core / Knots node over RPC
//! (`bdk_bitcoind_rpc`): new blocks from the last checkpoint, then the mempool. Balances and
//! the next unused receive address come from it.

use std::path::Path;

use bdk_bitcoind_rpc::Emitter;
use bdk_wallet::{rusqlite::Connection, KeychainKind, PersistedWallet, Wallet};
use bitcoin::{Address, Amount};

pub use crate::node::NodeAuth;
use crate::{node::Node, BtcAccount};

/// Why a wallet could not be opened or synced.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The node did not answer or refused.
    #[error("the Bitcoin node cannot be used: {0}")]
    Node(String),
    /// The wallet file could not be read or written.
    #[error("the account's wallet data could not be read or written: {0}")]
    Store(String),
    /// The stored wallet is for other descriptors or another network.
    #[error("the stored wallet does not match this account: {0}")]
    Mismatch(String),
}

/// Balances, in satoshis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Balances {
    /// In blocks.
    pub confirmed: Amount,
    /// Unconfirmed and ours (change).
    pub trusted_pending: Amount,
    /// Unconfirmed from others.
    pub untrusted_pending: Amount,
}

/// An account's wallet.
pub struct AccountWallet {
    pub(crate) wallet: PersistedWallet<Connection>,
    conn: Connection,
    /// Where it is stored (names the wallet for the kept Electrum connections).
    pub(crate) db: std::path::PathBuf,
    /// Whether an Electrum sync leaves its connection open for quick re-syncs.
    pub(crate) keep_connection: bool,
    scan_floor: u32,
}

/// The first block a node (RPC) scan of a new account needs to read: on mainnet no output of
/// a segwit account can predate segwit's activation (block 481,824), nor a taproot one
/// taproot's (709,632), so a first scan skips those years of blocks instead of reading every
/// block since 2009. Legacy accounts and the test networks (short chains) start at genesis.
/// Electrum and Esplora servers index by script and need no floor.
pub fn rpc_scan_floor(kind: crate::ScriptKind, network: bitcoin::Network) -> u32 {
    use crate::ScriptKind::*;
    match (network, kind) {
        (bitcoin::Network::Bitcoin, NativeSegwit | NestedSegwit) => 481_824,
        (bitcoin::Network::Bitcoin, Taproot) => 709_632,
        _ => 0,
    }
}

impl AccountWallet {
    /// Opens (or creates) the wallet of `account` stored at `db`.
    pub fn open(db: &Path, account: &BtcAccount) -> Result<Self, SyncError> {
        let mut conn = Connection::open(db).map_err(|e| SyncError::Store(e.to_string()))?;
        let external = account.external.to_string();
        let internal = account.internal.to_string();
        let loaded = Wallet::load()
            .descriptor(KeychainKind::External, Some(external.clone()))
            .descriptor(KeychainKind::Internal, Some(internal.clone()))
            .check_network(account.network)
            .load_wallet(&mut conn)
            .map_err(|e| SyncError::Mismatch(e.to_string()))?;
        let wallet = match loaded {
            Some(w) => w,
            None => Wallet::create(external, internal)
                .network(account.network)
                .create_wallet(&mut conn)
                .map_err(|e| SyncError::Store(e.to_string()))?,
        };
        Ok(Self {
            wallet,
            conn,
            db: db.to_owned(),
            keep_connection: true,
            scan_floor: rpc_scan_floor(account.kind, account.network),
        })
    }

    /// Whether an Electrum sync leaves its connection open, subscribed to the wallet's
    /// scripts, so the next sync with nothing new is one round trip (the default). A wallet
    /// about to be deleted — account discovery's probes — says no.
    pub fn keep_connection(&mut self, keep: bool) {
        self.keep_connection = keep;
    }

    pub(crate) fn persist(&mut self) -> Result<(), SyncError> {
        self.wallet
            .persist(&mut self.conn)
            .map(|_| ())
            .map_err(|e| SyncError::Store(e.to_string()))
    }

    /// Brings the wallet up to the node's tip and mempool; returns the tip height. A first
    /// scan starts at [`rpc_scan_floor`].
    pub fn sync_node(&mut self, node: &Node) -> Result<u32, SyncError> {
        self.sync_node_from(node, self.scan_floor)
    }

    /// Like [`Self::sync_node`], a first scan starting at block `floor` (blocks below it are
    /// never read, so payments in them are not seen).
    pub fn sync_node_from(&mut self, node: &Node, floor: u32) -> Result<u32, SyncError> {
        node.check_network(self.wallet.network())
            .map_err(|e| SyncError::Node(e.to_string()))?;
        let client = node.client().map_err(|e| SyncError::Node(e.to_string()))?;
        let start = self.wallet.latest_checkpoint();
        let pending: Vec<_> = self
            .wallet
            .transactions()
            .filter(|t| !t.chain_position.is_confirmed())
            .map(|t| t.tx_node.tx.clone())
            .collect();
        let from = start.height().max(floor);
        let mut emitter = Emitter::new(&client, start.clone(), from, pending);
        while let Some(ev) = emitter
            .next_block()
            .map_err(|e| SyncError::Node(e.to_string()))?
        {
            self.wallet
                .apply_block_connected_to(&ev.block, ev.block_height(), ev.connected_to())
                .map_err(|e| SyncError::Node(e.to_string()))?;
        }
        let mempool = emitter
            .mempool()
            .map_err(|e| SyncError::Node(e.to_string()))?;
        self.wallet.apply_unconfirmed_txs(mempool.update);
        self.wallet.apply_evicted_txs(mempool.evicted);
        self.persist()?;
        Ok(self.wallet.latest_checkpoint().height())
    }

    /// The balances as of the last sync.
    pub fn balances(&self) -> Balances {
        let b = self.wallet.balance();
        Balances {
            confirmed: b.confirmed,
            trusted_pending: b.trusted_pending,
            untrusted_pending: b.untrusted_pending,
        }
    }

    /// The best block this wallet has seen.
    pub fn tip(&self) -> u32 {
        self.wallet.latest_checkpoint().height()
    }

    /// The next unused receive address and its index (kept, so it is not handed out twice).
    pub fn next_receive_info(&mut self) -> Result<(Address, u32), SyncError> {
        let a = self.wallet.next_unused_address(KeychainKind::External);
        self.persist()?;
        Ok((a.address, a.index))
    }

    /// The next receive address nobody has paid yet (kept, so it is not handed out twice).
    pub fn next_receive(&mut self) -> Result<Address, SyncError> {
        let a = self
            .wallet
            .next_unused_address(KeychainKind::External)
            .address;
        self.persist()?;
        Ok(a)
    }
}

/// One transaction of an account, as the history shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Txid.
    pub txid: bitcoin::Txid,
    /// Block height, when confirmed.
    pub height: Option<u32>,
    /// Confirmations (0 while unconfirmed).
    pub confirmations: u32,
    /// Block time, or when first seen in the mempool (unix seconds).
    pub time: Option<u64>,
    /// Net effect on the account in satoshis (received − sent, fee included).
    pub net_sats: i64,
    /// Fee, when every input is known (always for our own sends).
    pub fee: Option<Amount>,
    /// What the account's own coins put in (0: it paid nothing, so no fee either).
    pub sent_sats: u64,
    /// Replaceable (RBF) and still unconfirmed: a fee bump is possible.
    pub replaceable: bool,
}

impl AccountWallet {
    /// The account's transactions, newest first.
    pub fn history(&self) -> Vec<HistoryEntry> {
        use bdk_wallet::chain::ChainPosition;
        let tip = self.wallet.latest_checkpoint().height();
        let mut list: Vec<HistoryEntry> = self
            .wallet
            .transactions()
            .map(|t| {
                let tx = &t.tx_node.tx;
                let (sent, received) = self.wallet.sent_and_received(tx);
                let (height, time) = match &t.chain_position {
                    ChainPosition::Confirmed { anchor, .. } => {
                        (Some(anchor.block_id.height), Some(anchor.confirmation_time))
                    }
                    ChainPosition::Unconfirmed { first_seen, .. } => (None, *first_seen),
                };
                let net = i64::try_from(received.to_sat()).unwrap_or(i64::MAX)
                    - i64::try_from(sent.to_sat()).unwrap_or(i64::MAX);
                HistoryEntry {
                    txid: t.tx_node.txid,
                    height,
                    confirmations: height.map_or(0, |h| tip.saturating_sub(h) + 1),
                    time,
                    net_sats: net,
                    fee: self.wallet.calculate_fee(tx).ok(),
                    sent_sats: sent.to_sat(),
                    replaceable: height.is_none() && tx.is_explicitly_rbf(),
                }
            })
            .collect();
        list.sort_by(|a, b| {
            let key = |e: &HistoryEntry| (e.height.unwrap_or(u32::MAX), e.time.unwrap_or(0));
            key(b).cmp(&key(a))
        });
        list
    }
}

/// A transaction first seen this recently is never marked gone: one just broadcast may not be
/// in the server's mempool yet (servers poll their node; a send may have gone out through
/// another backend). A replaced payment is noticed at the next scan after this.
const EVICTION_GRACE_SECS: u64 = 3;

/// Marks as gone the wallet's unconfirmed transactions that no script of the scan lists any
/// more: a payment the sender replaced by one elsewhere (or one dropped from the mempool)
/// would otherwise stay pending in the history and the balance for good. `bdk_electrum` and
/// `bdk_esplora` notice this in a sync, not in a full scan; the scan covers every script
/// handed out and the gap past them, so what it did not list is no longer in the mempool or
/// a block. Seen again later, a transaction comes back (seen after gone wins).
pub(crate) fn mark_evicted(
    wallet: &bdk_wallet::Wallet,
    update: &mut bdk_electrum::bdk_core::TxUpdate<bdk_electrum::bdk_core::ConfirmationBlockTime>,
    now: u64,
) {
    let listed: std::collections::HashSet<bitcoin::Txid> =
        update.txs.iter().map(|t| t.compute_txid()).collect();
    let gone: Vec<bitcoin::Txid> = wallet
        .transactions()
        .filter(|t| !t.chain_position.is_confirmed())
        .filter(|t| {
            t.tx_node
                .first_seen
                .is_none_or(|first| first.saturating_add(EVICTION_GRACE_SECS) <= now)
        })
        .map(|t| t.tx_node.txid)
        .filter(|txid| !listed.contains(txid))
        .collect();
    update
        .evicted_ats
        .extend(gone.into_iter().map(|txid| (txid, now)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::{absolute::LockTime, transaction::Version, OutPoint, Transaction, TxIn, TxOut};

    #[test]
    fn a_payment_seen_just_now_is_not_taken_for_gone() {
        // BIP84's published account key ("abandon … about").
        let zpub = "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs";
        let acc = match crate::parse_watch(zpub, bitcoin::Network::Bitcoin, None).expect("zpub") {
            crate::Watched::Account(a) => Some(*a),
            crate::Watched::Address(_) => None,
        }
        .expect("an account");
        let dir = std::env::temp_dir().join(format!("coldlink-evict-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let mut w = AccountWallet::open(&dir.join("a.db"), &acc).expect("open");
        let tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::new(
                    "0707070707070707070707070707070707070707070707070707070707070707"
                        .parse()
                        .expect("txid"),
                    0,
                ),
                ..TxIn::default()
            }],
            output: vec![TxOut {
                value: Amount::from_sat(50_000),
                script_pubkey: acc.address(false, 0).expect("address").script_pubkey(),
            }],
        };
        let txid = tx.compute_txid();
        w.wallet.apply_unconfirmed_txs([(tx, 1_000)]);
        // Not listed by a scan 2 s after it was first seen: too soon to say it is gone.
        let mut update = bdk_electrum::bdk_core::TxUpdate::default();
        mark_evicted(&w.wallet, &mut update, 1_002);
        assert!(update.evicted_ats.is_empty());
        // 3 s and more: gone, and no longer pending once applied.
        mark_evicted(&w.wallet, &mut update, 1_003);
        assert!(update.evicted_ats.contains(&(txid, 1_003)));
        assert_eq!(w.balances().untrusted_pending, Amount::from_sat(50_000));
        w.wallet
            .apply_update(bdk_wallet::Update {
                tx_update: update,
                ..Default::default()
            })
            .expect("applies");
        assert_eq!(w.balances().untrusted_pending, Amount::ZERO);
        assert!(w.history().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
