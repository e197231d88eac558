//! An Electrum connection whose batch requests go out in bounded chunks.
//!
//! `electrum-client` 0.25 wakes every other waiter of a batch each time one answer arrives,
//! and nothing reads those wake-ups until the batch ends: a batch of n requests queues about
//! n²/2 messages. `bdk_electrum` asks for the Merkle proof of every confirmed history entry of
//! a full scan in one batch (an entry per address a transaction touches), so an account with
//! 10,000 transactions to 2,000 addresses sent 50,000 requests at once and grew past 15 GiB
//! before anything came back (measured: `cargo bench -p coldlink-btc --bench sync`). Here each
//! batch is at most [`CHUNK`] requests, and Merkle proofs are asked once per transaction.
//!
//! It also reads ahead: `bdk_electrum` fetches each transaction of a history in its own round
//! trip, so when a batch of histories arrives, the transactions in it that the wallet does not
//! hold yet are fetched in batches and handed out from memory when asked for one by one.
//!
//! And it remembers: histories and block headers asked for before a scan (see
//! [`crate::electrum_anchors`]) are handed to the scan from memory, once.
//!
//! And it keeps the server busy: the chunks of a batch go out side by side, each on a spare
//! connection of its own ([`crate::electrum_pool`]), so that electrs always has the next one queued when it
//! finishes one (it looks at its node whenever its queue is empty, ~25 ms each time).

use std::{
    borrow::Borrow,
    collections::{HashMap, HashSet},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Mutex,
    },
};

use bdk_electrum::electrum_client::{
    Batch, BroadcastPackageRes, Client, ElectrumApi, Error, EstimationMode, GetBalanceRes,
    GetHeadersRes, GetHistoryRes, GetMerkleRes, ListUnspentRes, MempoolInfoRes, Param,
    RawHeaderNotification, ScriptStatus, ServerFeaturesRes, TxidFromPosRes,
};
use bitcoin::{Script, ScriptBuf, Txid};

use crate::electrum_pool::Pool;

/// The most requests one batch carries: few enough that the client's per-answer work stays
/// small, enough that round trips are few — electrs does its own bookkeeping (a look at its
/// node for new blocks and mempool) whenever it has nothing queued, about 25 ms here, so each
/// round trip costs that much more than its requests (measured: 10,000 transactions in 120
/// batches 3.8 s, in 40 batches 1.4 s). And under Fulcrum's default `max_batch` (345), which
/// refuses larger batches.
pub(crate) const CHUNK: usize = 300;

/// [`Client`] with chunked batches and transactions read ahead.
pub(crate) struct ChunkedClient {
    /// The connection `bdk_electrum` and the watch use (subscriptions live here).
    client: Client,
    /// Further connections for the batches sent side by side.
    spares: Pool,
    /// Held while a batch uses the main connection in place of a spare one.
    main_turn: Mutex<()>,
    /// Transactions the wallet already holds (never read ahead).
    known: HashSet<Txid>,
    /// Transactions read ahead.
    ahead: Mutex<Ahead>,
    /// Transactions the ones read ahead spend from, for [`Self::fetch_parents`].
    parents: Mutex<Vec<Txid>>,
    /// Histories read before the scan, until asked for again.
    histories: Mutex<HashMap<ScriptBuf, Vec<GetHistoryRes>>>,
    /// Raw block headers read, by height.
    headers: Mutex<HashMap<u32, Vec<u8>>>,
}

impl ChunkedClient {
    /// Wraps `client`; `connect` opens another connection to the same server (for batches
    /// sent side by side); `known` are the transactions the caller already has.
    pub(crate) fn new(
        client: Client,
        connect: impl Fn() -> Result<Client, Error> + Send + Sync + 'static,
        known: impl IntoIterator<Item = Txid>,
    ) -> Self {
        Self {
            client,
            spares: Pool::new(connect),
            main_turn: Mutex::new(()),
            known: known.into_iter().collect(),
            ahead: Mutex::default(),
            parents: Mutex::default(),
            histories: Mutex::default(),
            headers: Mutex::default(),
        }
    }

    /// Asks for the histories of `scripts` and keeps them for the scan to be handed.
    pub(crate) fn histories_kept(
        &self,
        scripts: &[&Script],
    ) -> Result<Vec<Vec<GetHistoryRes>>, Error> {
        let got = self.batch_script_get_history(scripts.iter())?;
        let mut kept = self.histories.lock().unwrap_or_else(|p| p.into_inner());
        for (s, h) in scripts.iter().zip(&got) {
            kept.insert((*s).to_owned(), h.clone());
        }
        Ok(got)
    }

    /// Forgets the histories, headers and transactions kept for a scan and closes the spare
    /// connections: the main one lives on as a watch, and a header kept there would outlive a
    /// chain reorganisation.
    pub(crate) fn forget_kept(&self) {
        self.spares.close_idle();
        *self.ahead.lock().unwrap_or_else(|p| p.into_inner()) = Ahead::default();
        self.parents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.histories
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.headers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Fetches, in batches, the transactions of `histories` not held or asked for yet, and
    /// notes the transactions their inputs spend (the scan's fees need those outputs; see
    /// `electrum::spent_outputs_of`) for [`Self::fetch_parents`]. Runs beside other reads:
    /// nothing is asked twice, and the lock is not held while waiting. Best effort: what fails
    /// here is fetched later, as without reading ahead.
    fn read_ahead(&self, histories: &[Vec<GetHistoryRes>]) {
        let want = self.not_asked(histories.iter().flatten().map(|h| h.tx_hash));
        let Ok(raws) = counted("transactions", want.clone(), |c| {
            self.spare(|s| s.batch_transaction_get_raw(c.iter()))
        }) else {
            return;
        };
        let parents = raws.iter().flat_map(|raw| {
            bitcoin::consensus::deserialize::<bitcoin::Transaction>(raw)
                .map(|tx| {
                    tx.input
                        .iter()
                        .map(|i| i.previous_output)
                        .filter(|op| !op.is_null())
                        .map(|op| op.txid)
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        });
        // Noted, not asked: one may be the account's own, listed by a history still to come.
        self.parents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(parents);
        self.keep_ahead(want.into_iter().zip(raws));
    }

    /// Fetches the transactions the ones read ahead spend from, other than those the scan has
    /// (its own, read or held), in one batch (chunked as any): after the scan, so that the
    /// server reads them while the wallet applies it — electrs reads a whole block for each,
    /// and during the pre-scan that time adds to the histories' (the benchmark's 595 take it
    /// ~0.1–0.2 s). Best effort, as reading ahead is.
    pub(crate) fn fetch_parents(&self) {
        let noted = std::mem::take(&mut *self.parents.lock().unwrap_or_else(|p| p.into_inner()));
        let parents = self.not_asked(noted.into_iter());
        if let Ok(raws) = counted("spent transactions", parents.clone(), |c| {
            self.spare(|s| s.batch_transaction_get_raw(c.iter()))
        }) {
            self.keep_ahead(parents.into_iter().zip(raws));
        }
    }

    /// Runs `f` on a spare connection, one no other thread is using; on the main one, one
    /// thread at a time, when the server takes no second connection.
    fn spare<R>(&self, f: impl FnOnce(&Client) -> Result<R, Error>) -> Result<R, Error> {
        match self.spares.lease() {
            Ok(lease) => match lease.client.as_ref() {
                Some(client) => f(client),
                None => Err(Error::Message("a connection was given back early".into())),
            },
            Err(_) => {
                let _turn = self.main_turn.lock().unwrap_or_else(|p| p.into_inner());
                f(&self.client)
            }
        }
    }

    /// Of `txids`, those neither held nor asked for yet, sorted; they count as asked from now.
    fn not_asked(&self, txids: impl Iterator<Item = Txid>) -> Vec<Txid> {
        let mut ahead = self.ahead.lock().unwrap_or_else(|p| p.into_inner());
        let mut want: Vec<Txid> = txids
            .filter(|t| !self.known.contains(t) && !ahead.asked.contains(t))
            .collect();
        want.sort_unstable();
        want.dedup();
        ahead.asked.extend(want.iter().copied());
        want
    }

    fn keep_ahead(&self, raws: impl Iterator<Item = (Txid, Vec<u8>)>) {
        self.ahead
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .raw
            .extend(raws);
    }

    /// Takes transaction `txid` if it was read ahead.
    fn take_ahead(&self, txid: &Txid) -> Option<Vec<u8>> {
        self.ahead
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .raw
            .remove(txid)
    }

    /// The transactions `txids` (checked against their ids by the caller): those read ahead,
    /// the rest in batches.
    pub(crate) fn transactions(&self, txids: Vec<Txid>) -> Result<Vec<Vec<u8>>, Error> {
        let mut got: Vec<Option<Vec<u8>>> = txids.iter().map(|t| self.take_ahead(t)).collect();
        let missing: Vec<Txid> = txids
            .iter()
            .zip(&got)
            .filter(|(_, g)| g.is_none())
            .map(|(t, _)| *t)
            .collect();
        let mut fetched = counted("spent transactions", missing, |c| {
            self.spare(|s| s.batch_transaction_get_raw(c.iter()))
        })?
        .into_iter();
        for slot in got.iter_mut().filter(|g| g.is_none()) {
            *slot = fetched.next();
        }
        got.into_iter()
            .map(|g| g.ok_or_else(|| Error::Message("the server left a transaction out".into())))
            .collect()
    }
}

/// Transactions read ahead of the scan.
#[derive(Default)]
struct Ahead {
    /// Raw transactions, until asked for.
    raw: HashMap<Txid, Vec<u8>>,
    /// Every transaction asked for (answered or still on its way): never asked twice.
    asked: HashSet<Txid>,
}

/// Round trips of one kind of request: how many, for how many items, and the time waited.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RequestStat {
    /// "histories", "transactions", "spent transactions", "transaction (one)", "headers",
    /// "proofs".
    pub kind: &'static str,
    /// Requests or batches sent.
    pub round_trips: u64,
    /// Items asked for in them.
    pub items: u64,
    /// Time until the answers were in, ms: per batch (its chunks side by side count once),
    /// summed over batches — batches of the two chains and pipelined reads overlap, so this
    /// can exceed the sync's own time.
    pub millis: f64,
}

static STATS: Mutex<Vec<RequestStat>> = Mutex::new(Vec::new());

fn record(kind: &'static str, rounds: u64, items: usize, since: std::time::Instant) {
    let mut stats = STATS.lock().unwrap_or_else(|p| p.into_inner());
    let at = match stats.iter().position(|s| s.kind == kind) {
        Some(i) => i,
        None => {
            stats.push(RequestStat {
                kind,
                ..RequestStat::default()
            });
            stats.len() - 1
        }
    };
    let s = &mut stats[at];
    s.round_trips += rounds;
    s.items += items as u64;
    s.millis += since.elapsed().as_secs_f64() * 1e3;
}

/// What the scans of this process asked Electrum servers, by kind (for the benchmark and
/// diagnostics); `reset` starts the count again.
pub fn request_stats(reset: bool) -> Vec<RequestStat> {
    let mut stats = STATS.lock().unwrap_or_else(|p| p.into_inner());
    if reset {
        std::mem::take(&mut *stats)
    } else {
        stats.clone()
    }
}

/// How many chunks of one batch are on the wire at once. electrs handles requests one after
/// another, but whenever it finds nothing queued it first looks at its node for news (about
/// 25 ms here): a chunk sent while the one before is being answered keeps that out of the way,
/// and our own work on an answer overlaps the server's on the next. More in flight adds
/// nothing on a serial server and opens more connections.
const IN_FLIGHT: usize = 2;

/// Runs `call` over `items` in chunks of at most [`CHUNK`], up to [`IN_FLIGHT`] at once, and
/// joins the answers in order. The first failed chunk (in order) fails the whole; chunks not
/// sent yet are not sent after a failure.
fn chunked<T: Sync, R: Send>(
    items: Vec<T>,
    call: impl Fn(&[T]) -> Result<Vec<R>, Error> + Sync,
) -> Result<Vec<R>, Error> {
    let chunks: Vec<&[T]> = items.chunks(CHUNK).collect();
    if chunks.len() <= 1 {
        return chunks.first().map_or(Ok(Vec::new()), |c| call(c));
    }
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    // One slot per chunk, filled by whichever thread sent it.
    type Slot<R> = Mutex<Option<Result<Vec<R>, Error>>>;
    let answers: Vec<Slot<R>> = chunks.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..IN_FLIGHT.min(chunks.len()) {
            s.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let (Some(c), Some(slot)) = (chunks.get(i), answers.get(i)) else {
                        break;
                    };
                    let answer = call(c);
                    if answer.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(answer);
                }
            });
        }
    });
    let mut out = Vec::with_capacity(items.len());
    // Chunks are taken in order, so every chunk before one not sent was sent and answered,
    // and a failure comes before the first chunk not sent.
    for slot in answers {
        match slot.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(answer) => out.extend(answer?),
            None => return Err(Error::Message("a batch was cut short".into())),
        }
    }
    Ok(out)
}

/// Runs `call` over `items` in chunks of at most [`CHUNK`], one after another.
fn serial<T, R>(
    items: Vec<T>,
    mut call: impl FnMut(&[T]) -> Result<Vec<R>, Error>,
) -> Result<Vec<R>, Error> {
    let mut out = Vec::with_capacity(items.len());
    for c in items.chunks(CHUNK) {
        out.extend(call(c)?);
    }
    Ok(out)
}

/// [`chunked`], counted under `kind`: its chunks, items and the time until all were in.
fn counted<T: Sync, R: Send>(
    kind: &'static str,
    items: Vec<T>,
    call: impl Fn(&[T]) -> Result<Vec<R>, Error> + Sync,
) -> Result<Vec<R>, Error> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let t = std::time::Instant::now();
    let (n, rounds) = (items.len(), items.len().div_ceil(CHUNK) as u64);
    let r = chunked(items, call);
    record(kind, rounds, n, t);
    r
}

impl ElectrumApi for ChunkedClient {
    fn raw_call(
        &self,
        method_name: &str,
        params: impl IntoIterator<Item = Param>,
    ) -> Result<serde_json::Value, Error> {
        self.client.raw_call(method_name, params)
    }

    fn batch_call(&self, batch: &Batch) -> Result<Vec<serde_json::Value>, Error> {
        // A `Batch` cannot be split from outside; our own code never builds large ones.
        self.client.batch_call(batch)
    }

    fn block_headers_subscribe_raw(&self) -> Result<RawHeaderNotification, Error> {
        self.client.block_headers_subscribe_raw()
    }

    fn block_headers_pop_raw(&self) -> Result<Option<RawHeaderNotification>, Error> {
        self.client.block_headers_pop_raw()
    }

    fn block_header_raw(&self, height: usize) -> Result<Vec<u8>, Error> {
        self.client.block_header_raw(height)
    }

    fn block_headers(&self, start_height: usize, count: usize) -> Result<GetHeadersRes, Error> {
        self.client.block_headers(start_height, count)
    }

    fn estimate_fee(&self, number: usize, mode: Option<EstimationMode>) -> Result<f64, Error> {
        self.client.estimate_fee(number, mode)
    }

    fn relay_fee(&self) -> Result<f64, Error> {
        self.client.relay_fee()
    }

    fn script_subscribe(&self, script: &Script) -> Result<Option<ScriptStatus>, Error> {
        self.client.script_subscribe(script)
    }

    fn batch_script_subscribe<'s, I>(&self, scripts: I) -> Result<Vec<Option<ScriptStatus>>, Error>
    where
        I: IntoIterator + Clone,
        I::Item: Borrow<&'s Script>,
    {
        let all: Vec<&'s Script> = scripts.into_iter().map(|s| *s.borrow()).collect();
        // On this connection, one chunk at a time: its notifications arrive here.
        serial(all, |c| self.client.batch_script_subscribe(c.iter()))
    }

    fn script_unsubscribe(&self, script: &Script) -> Result<bool, Error> {
        self.client.script_unsubscribe(script)
    }

    fn script_pop(&self, script: &Script) -> Result<Option<ScriptStatus>, Error> {
        self.client.script_pop(script)
    }

    fn script_get_balance(&self, script: &Script) -> Result<GetBalanceRes, Error> {
        self.client.script_get_balance(script)
    }

    fn batch_script_get_balance<'s, I>(&self, scripts: I) -> Result<Vec<GetBalanceRes>, Error>
    where
        I: IntoIterator + Clone,
        I::Item: Borrow<&'s Script>,
    {
        let all: Vec<&'s Script> = scripts.into_iter().map(|s| *s.borrow()).collect();
        chunked(all, |c| {
            self.spare(|s| s.batch_script_get_balance(c.iter()))
        })
    }

    fn script_get_history(&self, script: &Script) -> Result<Vec<GetHistoryRes>, Error> {
        self.client.script_get_history(script)
    }

    fn batch_script_get_history<'s, I>(&self, scripts: I) -> Result<Vec<Vec<GetHistoryRes>>, Error>
    where
        I: IntoIterator + Clone,
        I::Item: Borrow<&'s Script>,
    {
        let all: Vec<&'s Script> = scripts.into_iter().map(|s| *s.borrow()).collect();
        let mut kept: Vec<Option<Vec<GetHistoryRes>>> = {
            let mut memo = self.histories.lock().unwrap_or_else(|p| p.into_inner());
            all.iter().map(|s| memo.remove(*s)).collect()
        };
        let missing: Vec<&'s Script> = all
            .iter()
            .zip(&kept)
            .filter(|(_, k)| k.is_none())
            .map(|(s, _)| *s)
            .collect();
        let fetched = counted("histories", missing, |c| {
            self.spare(|s| s.batch_script_get_history(c.iter()))
        })?;
        self.read_ahead(&fetched);
        let mut fetched = fetched.into_iter();
        for slot in kept.iter_mut().filter(|k| k.is_none()) {
            *slot = fetched.next();
        }
        Ok(kept.into_iter().map(Option::unwrap_or_default).collect())
    }

    fn script_list_unspent(&self, script: &Script) -> Result<Vec<ListUnspentRes>, Error> {
        self.client.script_list_unspent(script)
    }

    fn batch_script_list_unspent<'s, I>(
        &self,
        scripts: I,
    ) -> Result<Vec<Vec<ListUnspentRes>>, Error>
    where
        I: IntoIterator + Clone,
        I::Item: Borrow<&'s Script>,
    {
        let all: Vec<&'s Script> = scripts.into_iter().map(|s| *s.borrow()).collect();
        chunked(all, |c| {
            self.spare(|s| s.batch_script_list_unspent(c.iter()))
        })
    }

    fn transaction_get_raw(&self, txid: &Txid) -> Result<Vec<u8>, Error> {
        let ready = self.take_ahead(txid);
        match ready {
            Some(raw) => Ok(raw),
            None => {
                let t = std::time::Instant::now();
                let raw = self.client.transaction_get_raw(txid);
                record("transaction (one)", 1, 1, t);
                raw
            }
        }
    }

    fn batch_transaction_get_raw<'t, I>(&self, txids: I) -> Result<Vec<Vec<u8>>, Error>
    where
        I: IntoIterator + Clone,
        I::Item: Borrow<&'t Txid>,
    {
        let all: Vec<&'t Txid> = txids.into_iter().map(|t| *t.borrow()).collect();
        chunked(all, |c| {
            self.spare(|s| s.batch_transaction_get_raw(c.iter()))
        })
    }

    fn batch_block_header_raw<I>(&self, heights: I) -> Result<Vec<Vec<u8>>, Error>
    where
        I: IntoIterator + Clone,
        I::Item: Borrow<u32>,
    {
        let all: Vec<u32> = heights.into_iter().map(|h| *h.borrow()).collect();
        let mut memo = self.headers.lock().unwrap_or_else(|p| p.into_inner());
        let mut missing: Vec<u32> = all
            .iter()
            .copied()
            .filter(|h| !memo.contains_key(h))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        let raws = counted("headers", missing.clone(), |c| {
            self.spare(|s| s.batch_block_header_raw(c.iter()))
        })?;
        memo.extend(missing.into_iter().zip(raws));
        all.iter()
            .map(|h| {
                memo.get(h)
                    .cloned()
                    .ok_or_else(|| Error::Message("the server left a block header out".into()))
            })
            .collect()
    }

    fn batch_estimate_fee<I>(&self, numbers: I) -> Result<Vec<f64>, Error>
    where
        I: IntoIterator + Clone,
        I::Item: Borrow<usize>,
    {
        let all: Vec<usize> = numbers.into_iter().map(|n| *n.borrow()).collect();
        chunked(all, |c| self.spare(|s| s.batch_estimate_fee(c.iter())))
    }

    fn transaction_broadcast_raw(&self, raw_tx: &[u8]) -> Result<Txid, Error> {
        self.client.transaction_broadcast_raw(raw_tx)
    }

    fn transaction_broadcast_package_raw<T: AsRef<[u8]>>(
        &self,
        raw_txs: &[T],
    ) -> Result<BroadcastPackageRes, Error> {
        self.client.transaction_broadcast_package_raw(raw_txs)
    }

    fn transaction_get_merkle(&self, txid: &Txid, height: usize) -> Result<GetMerkleRes, Error> {
        self.client.transaction_get_merkle(txid, height)
    }

    fn batch_transaction_get_merkle<I>(
        &self,
        txids_and_heights: I,
    ) -> Result<Vec<GetMerkleRes>, Error>
    where
        I: IntoIterator + Clone,
        I::Item: Borrow<(Txid, usize)>,
    {
        // A transaction paying several of our addresses is listed once per address: ask for
        // its proof once, answer every listing.
        let asked: Vec<(Txid, usize)> =
            txids_and_heights.into_iter().map(|x| *x.borrow()).collect();
        let mut unique: Vec<(Txid, usize)> = asked.clone();
        unique.sort_unstable();
        unique.dedup();
        let proofs = counted("proofs", unique.clone(), |c| {
            self.spare(|s| s.batch_transaction_get_merkle(c.iter()))
        })?;
        asked
            .iter()
            .map(|k| {
                unique
                    .binary_search(k)
                    .ok()
                    .and_then(|i| proofs.get(i))
                    .cloned()
                    .ok_or_else(|| Error::Message("the server left a Merkle proof out".into()))
            })
            .collect()
    }

    fn txid_from_pos(&self, height: usize, tx_pos: usize) -> Result<Txid, Error> {
        self.client.txid_from_pos(height, tx_pos)
    }

    fn txid_from_pos_with_merkle(
        &self,
        height: usize,
        tx_pos: usize,
    ) -> Result<TxidFromPosRes, Error> {
        self.client.txid_from_pos_with_merkle(height, tx_pos)
    }

    fn server_features(&self) -> Result<ServerFeaturesRes, Error> {
        self.client.server_features()
    }

    fn protocol_version(&self) -> Result<String, Error> {
        self.client.protocol_version()
    }

    fn mempool_get_info(&self) -> Result<MempoolInfoRes, Error> {
        self.client.mempool_get_info()
    }

    fn ping(&self) -> Result<(), Error> {
        self.client.ping()
    }

    fn calls_made(&self) -> Result<usize, Error> {
        self.client.calls_made()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::electrum_pool::SPARES;

    #[test]
    fn chunks_are_bounded_and_answers_keep_their_order() {
        let sizes = Mutex::new(Vec::new());
        let n = 5 * CHUNK as u32 + 50;
        let out = chunked((0..n).collect(), |c| {
            sizes.lock().expect("sizes").push(c.len());
            // Later chunks answer first: the order must still be the items'.
            std::thread::sleep(std::time::Duration::from_millis(u64::from(
                20 - c[0] / CHUNK as u32 * 3,
            )));
            Ok(c.iter().map(|x| x * 2).collect())
        })
        .expect("answers");
        let mut sizes = sizes.into_inner().expect("sizes");
        sizes.sort_unstable();
        assert_eq!(sizes, vec![50, CHUNK, CHUNK, CHUNK, CHUNK, CHUNK]);
        assert_eq!(out, (0..n).map(|x| x * 2).collect::<Vec<_>>());
        assert!(chunked(Vec::<u32>::new(), |_| Ok(vec![1u32])).is_ok_and(|v| v.is_empty()));
    }

    #[test]
    fn chunks_overlap_but_no_more_than_allowed() {
        let (now, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        chunked((0..8 * CHUNK).collect(), |c| {
            let at = now.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(at, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(10));
            now.fetch_sub(1, Ordering::SeqCst);
            Ok(c.to_vec())
        })
        .expect("answers");
        assert_eq!(most.into_inner(), IN_FLIGHT);
    }

    #[test]
    fn a_failed_chunk_fails_the_batch_and_stops_it() {
        let sent = AtomicUsize::new(0);
        let e = chunked((0..20 * CHUNK as u32).collect(), |c| {
            sent.fetch_add(1, Ordering::SeqCst);
            if c[0] == CHUNK as u32 {
                Err(Error::Message("down".into()))
            } else {
                Ok(c.to_vec())
            }
        });
        assert!(
            matches!(e, Err(Error::Message(ref m)) if m == "down"),
            "the chunk's own error: {e:?}"
        );
        // The second chunk failed: at most the chunks already in flight were sent after it.
        assert!(
            sent.into_inner() <= 2 + IN_FLIGHT,
            "later chunks were not sent"
        );
    }

    /// Batches of several chunks against a real electrs: each chunk on a connection of its
    /// own (never more than [`SPARES`]), the answers those of one plain connection, in order.
    #[test]
    fn chunks_side_by_side_on_spare_connections_answer_in_order() {
        use coldlink_testkit::{Bitcoind, Electrs};
        let node = Bitcoind::start("btc-electrum-spares");
        node.cli(&["createwallet", "miner"]).expect("wallet");
        let miner = node.cli(&["getnewaddress", "", "bech32"]).expect("address");
        node.cli(&["generatetoaddress", "101", &miner])
            .expect("mine");
        // 3 chunks of scripts of another wallet (the miner's would spend what they got);
        // three of them (first, middle, last chunk) paid.
        node.cli(&["createwallet", "payee"]).expect("wallet");
        let addresses: Vec<String> = (0..2 * CHUNK + 10)
            .map(|_| {
                node.wallet_rpc("payee", "getnewaddress", serde_json::json!(["", "bech32"]))
                    .ok()
                    .and_then(|a| a.as_str().map(str::to_owned))
                    .expect("address")
            })
            .collect();
        let paid = [0, CHUNK + 7, 2 * CHUNK + 9];
        let mut txids = Vec::new();
        for i in paid {
            let txid = node
                .wallet_rpc(
                    "miner",
                    "sendtoaddress",
                    serde_json::json!([addresses[i], 0.1]),
                )
                .ok()
                .and_then(|t| t.as_str().map(str::to_owned))
                .expect("pay");
            txids.push(txid.parse::<Txid>().expect("txid"));
        }
        node.cli(&["generatetoaddress", "1", &miner]).expect("mine");
        let electrs = Electrs::start(&node);
        let scripts: Vec<ScriptBuf> = addresses
            .iter()
            .map(|a| {
                a.parse::<bitcoin::Address<bitcoin::address::NetworkUnchecked>>()
                    .expect("address")
                    .assume_checked()
                    .script_pubkey()
            })
            .collect();
        let opened = std::sync::Arc::new(AtomicUsize::new(0));
        let (url, count) = (electrs.url.clone(), opened.clone());
        let client = ChunkedClient::new(
            Client::new(&electrs.url).expect("connect"),
            move || {
                count.fetch_add(1, Ordering::SeqCst);
                Client::new(&url)
            },
            [],
        );
        let plain = Client::new(&electrs.url).expect("connect");
        let refs: Vec<&Script> = scripts.iter().map(|s| s.as_script()).collect();
        let got = client
            .batch_script_get_history(refs.iter())
            .expect("histories");
        let want = plain
            .batch_script_get_history(refs.iter())
            .expect("histories");
        assert_eq!(got.len(), scripts.len());
        let tx_of = |h: &[GetHistoryRes]| h.iter().map(|e| e.tx_hash).collect::<Vec<_>>();
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(tx_of(g), tx_of(w), "script {i}");
        }
        for (i, txid) in paid.iter().zip(&txids) {
            assert_eq!(tx_of(&got[*i]), vec![*txid], "script {i} holds its payment");
        }
        // Read ahead with the histories: the payments, from memory.
        for txid in &txids {
            let raw = client.transaction_get_raw(txid).expect("transaction");
            let tx: bitcoin::Transaction = bitcoin::consensus::deserialize(&raw).expect("decodes");
            assert_eq!(tx.compute_txid(), *txid);
        }
        // A server that takes no second connection: the same answers, on the main one.
        let single = ChunkedClient::new(
            Client::new(&electrs.url).expect("connect"),
            || Err(Error::Message("refused".into())),
            [],
        );
        let alone = single
            .batch_script_get_history(refs.iter())
            .expect("histories on the main connection");
        assert_eq!(
            alone.iter().map(|h| tx_of(h)).collect::<Vec<_>>(),
            want.iter().map(|h| tx_of(h)).collect::<Vec<_>>()
        );
        let n = opened.load(Ordering::SeqCst);
        // (Two when the chunks overlapped, one if the first was answered before the second
        // left: `chunks_overlap_but_no_more_than_allowed` checks the overlap.)
        assert!((1..=SPARES).contains(&n), "{n} spare connections");
        client.forget_kept();
        assert_eq!(client.spares.open(), 0);
    }
}
