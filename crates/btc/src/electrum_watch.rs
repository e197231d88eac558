//! Electrum connections kept open between syncs, one per wallet (file and account), subscribed
//! to every script the account has handed out or will look at next. The server then says which
//! scripts changed, so a re-sync with nothing new costs one round trip instead of asking the
//! history of every address again (seconds for an account with thousands of them).
//!
//! A watch is only a shortcut: any doubt (an error on the connection, a changed script, a
//! watch older than [`MAX_AGE`]) and the caller does the full scan and starts a new one.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex, OnceLock,
    },
    time::{Duration, Instant},
};

use bdk_electrum::{
    bdk_core::BlockId,
    electrum_client::{ElectrumApi, Error},
    BdkElectrumClient,
};
use bitcoin::ScriptBuf;

use crate::electrum_batch::ChunkedClient;

/// After this long a re-sync scans in full anyway, so whatever a watch could miss (a payment
/// between the scan and the subscription) is found within it.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(600);

/// What the server reported since the last look.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// No script and no block: the wallet is current.
    Nothing,
    /// New blocks only (confirmations move; no payment of ours).
    NewBlocks,
    /// A script changed, or the watch cannot be trusted: scan in full.
    Changes,
}

/// An open, subscribed connection.
pub(crate) struct Watch {
    pub(crate) client: BdkElectrumClient<ChunkedClient>,
    scripts: Vec<ScriptBuf>,
    since: Instant,
    /// The tip of the wallet this watch is current for: a watch says what changed since a
    /// scan of *that* wallet. Another wallet of the same account (removed and added again,
    /// so empty) must scan in full, not hear "nothing new".
    tip: Mutex<BlockId>,
    /// The server's tip when the watch subscribed was another than the wallet's: a block
    /// came between the scan and the subscription, and no notification will say so.
    behind: AtomicBool,
}

static QUICK: AtomicU64 = AtomicU64::new(0);
static STARTING: AtomicU64 = AtomicU64::new(0);

/// How many watches are still subscribing (for tests: wait until none).
pub fn watches_starting() -> u64 {
    STARTING.load(Ordering::SeqCst)
}

/// Which watch: of one wallet (its file and account), on one server, with one gap (a wider
/// gap must scan further).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub(crate) server: String,
    /// The wallet's file and account: a watch is current for one wallet's state, not for
    /// another of the same account (account discovery syncs a fresh probe wallet of an
    /// account that may be open already).
    pub(crate) wallet: String,
    pub(crate) gap: usize,
}

/// Subscribes on a thread of its own and keeps the watch under `key` when done.
pub(crate) fn start_in_background(
    key: Key,
    client: BdkElectrumClient<ChunkedClient>,
    scripts: Vec<ScriptBuf>,
    tip: BlockId,
) {
    STARTING.fetch_add(1, Ordering::SeqCst);
    let spawned = std::thread::Builder::new()
        .name("coldlink-electrum-watch".into())
        .spawn(move || {
            if let Ok(watch) = Watch::start(client, scripts, tip) {
                keep(key, watch);
            }
            STARTING.fetch_sub(1, Ordering::SeqCst);
        });
    if spawned.is_err() {
        STARTING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How many syncs were answered by a watch (for tests and diagnostics).
pub fn quick_syncs() -> u64 {
    QUICK.load(Ordering::Relaxed)
}

pub(crate) fn count_quick() {
    QUICK.fetch_add(1, Ordering::Relaxed);
}

fn watches() -> &'static Mutex<HashMap<Key, Arc<Watch>>> {
    static W: OnceLock<Mutex<HashMap<Key, Arc<Watch>>>> = OnceLock::new();
    W.get_or_init(Default::default)
}

/// The watch kept under `key`, if any.
pub(crate) fn get(key: &Key) -> Option<Arc<Watch>> {
    watches()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(key)
        .cloned()
}

/// Closes every kept connection (the next sync of each account scans in full, as after a
/// restart).
pub fn close_all() {
    watches().lock().unwrap_or_else(|p| p.into_inner()).clear();
}

/// Drops the watch under `key` (its connection closes).
pub(crate) fn forget(key: &Key) {
    watches()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(key);
}

/// Keeps `watch` under `key`, replacing any older one for the same wallet (another server
/// or gap chosen since: its connection closes).
/// Watches older than [`MAX_AGE`] go too: no sync trusts them, and their wallet may be gone.
pub(crate) fn keep(key: Key, watch: Watch) {
    let mut w = watches().lock().unwrap_or_else(|p| p.into_inner());
    w.retain(|k, old| k.wallet != key.wallet && old.since.elapsed() <= MAX_AGE);
    w.insert(key, Arc::new(watch));
}

impl Watch {
    /// Subscribes to new blocks and to `scripts` on `client` (the connection the full scan
    /// of the wallet now at `tip` just used, with its caches).
    pub(crate) fn start(
        client: BdkElectrumClient<ChunkedClient>,
        scripts: Vec<ScriptBuf>,
        tip: BlockId,
    ) -> Result<Self, Error> {
        let head = client.inner.block_headers_subscribe_raw()?;
        let server_tip = bitcoin::consensus::deserialize::<bitcoin::block::Header>(&head.header)
            .map(|h| BlockId {
                height: u32::try_from(head.height).unwrap_or(u32::MAX),
                hash: h.block_hash(),
            });
        client
            .inner
            .batch_script_subscribe(scripts.iter().map(|s| s.as_script()))?;
        Ok(Self {
            client,
            scripts,
            since: Instant::now(),
            tip: Mutex::new(tip),
            // A header that does not decode: take it for a new block (a quick sync asks).
            behind: AtomicBool::new(server_tip.map_or(true, |t| t != tip)),
        })
    }

    /// Records that the wallet this watch is current for is now at `tip` (the server's).
    pub(crate) fn moved_to(&self, tip: BlockId) {
        *self.tip.lock().unwrap_or_else(|p| p.into_inner()) = tip;
        self.behind.store(false, Ordering::SeqCst);
    }

    /// What changed for the wallet at `tip` since its scan: one round trip (a ping, during
    /// which queued notifications are read), then the notifications themselves, which are
    /// local. A wallet at another tip than the one scanned is not the one watched.
    pub(crate) fn look(&self, tip: BlockId) -> Seen {
        let ours = *self.tip.lock().unwrap_or_else(|p| p.into_inner()) == tip;
        if !ours || self.since.elapsed() > MAX_AGE || self.client.inner.ping().is_err() {
            return Seen::Changes;
        }
        for s in &self.scripts {
            match self.client.inner.script_pop(s) {
                Ok(None) => {}
                _ => return Seen::Changes,
            }
        }
        let mut blocks = self.behind.load(Ordering::SeqCst);
        loop {
            match self.client.inner.block_headers_pop_raw() {
                Ok(Some(_)) => blocks = true,
                Ok(None) => break,
                Err(_) => return Seen::Changes,
            }
        }
        if blocks {
            Seen::NewBlocks
        } else {
            Seen::Nothing
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bdk_electrum::electrum_client::Client;
    use coldlink_testkit::{Bitcoind, Electrs};

    /// The server's tip, as a watch compares it.
    fn server_tip(url: &str) -> BlockId {
        let head = Client::new(url)
            .expect("connect")
            .block_headers_subscribe_raw()
            .expect("tip");
        let header: bitcoin::block::Header =
            bitcoin::consensus::deserialize(&head.header).expect("header");
        BlockId {
            height: u32::try_from(head.height).expect("height"),
            hash: header.block_hash(),
        }
    }

    fn watch(url: &str, tip: BlockId) -> Watch {
        let spare = url.to_owned();
        let inner = ChunkedClient::new(
            Client::new(url).expect("connect"),
            move || Client::new(&spare),
            [],
        );
        Watch::start(BdkElectrumClient::new(inner), Vec::new(), tip).expect("subscribed")
    }

    /// A block found between a scan and the watch's subscription sends no notification (the
    /// subscription already names it): the watch still says there are new blocks.
    #[test]
    fn a_block_before_the_subscription_is_not_missed() {
        let node = Bitcoind::start("btc-watch-behind");
        node.cli(&["createwallet", "miner"]).expect("wallet");
        let miner = node.cli(&["getnewaddress", "", "bech32"]).expect("address");
        node.cli(&["generatetoaddress", "101", &miner])
            .expect("mine");
        let electrs = Electrs::start(&node);
        electrs.wait_synced(&node);
        let scanned_at = server_tip(&electrs.url);
        let current = watch(&electrs.url, scanned_at);
        assert_eq!(current.look(scanned_at), Seen::Nothing);

        node.cli(&["generatetoaddress", "1", &miner]).expect("mine");
        electrs.wait_synced(&node);
        let late = watch(&electrs.url, scanned_at);
        assert_eq!(
            late.look(scanned_at),
            Seen::NewBlocks,
            "the block is reported"
        );
        assert_eq!(current.look(scanned_at), Seen::NewBlocks, "notified");
        // After the quick sync the wallet is at the server's tip.
        let now = server_tip(&electrs.url);
        late.moved_to(now);
        assert_eq!(late.look(now), Seen::Nothing);
    }
}
