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

use std::{
    borrow::Borrow,
    collections::{HashMap, HashSet},
    sync::Mutex,
};

use bdk_electrum::electrum_client::{
    Batch, BroadcastPackageRes, Client, ElectrumApi, Error, EstimationMode, GetBalanceRes,
    GetHeadersRes, GetHistoryRes, GetMerkleRes, ListUnspentRes, MempoolInfoRes, Param,
    RawHeaderNotification, ScriptStatus, ServerFeaturesRes, TxidFromPosRes,
};
use bitcoin::{Script, ScriptBuf, Txid};

/// The most requests one batch carries: few enough that the client's per-answer work stays
/// small, enough that round trips are few — electrs does its own bookkeeping (a look at its
/// node for new blocks and mempool) whenever it has nothing queued, about 25 ms here, so each
/// round trip costs that much more than its requests (measured: 10,000 transactions in 120
/// batches 3.8 s, in 40 batches 1.4 s). And under Fulcrum's default `max_batch` (345), which
/// refuses larger batches.
pub(crate) const CHUNK: usize = 300;

/// [`Client`] with chunked batches and transactions read ahead.
pub(crate) struct ChunkedClient {
    client: Client,
    /// Transactions the wallet already holds (never read ahead).
    known: HashSet<Txid>,
    /// Raw transactions read ahead, until asked for.
    ahead: Mutex<HashMap<Txid, Vec<u8>>>,
    /// Histories read before the scan, until asked for again.
    histories: Mutex<HashMap<ScriptBuf, Vec<GetHistoryRes>>>,
    /// Raw block headers read, by height.
    headers: Mutex<HashMap<u32, Vec<u8>>>,
}

impl ChunkedClient {
    /// Wraps `client`; `known` are the transactions the caller already has.
    pub(crate) fn new(client: Client, known: impl IntoIterator<Item = Txid>) -> Self {
        Self {
            client,
            known: known.into_iter().collect(),
            ahead: Mutex::default(),
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

    /// Forgets the histories and headers kept for a scan: the connection lives on as a watch,
    /// and a header kept there would outlive a chain reorganisation.
    pub(crate) fn forget_kept(&self) {
        self.histories
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.headers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Fetches, in batches, the transactions of `histories` not held yet. Best effort: what
    /// fails here is fetched one by one later, as without reading ahead.
    fn read_ahead(&self, histories: &[Vec<GetHistoryRes>]) {
        let mut ahead = self.ahead.lock().unwrap_or_else(|p| p.into_inner());
        let mut want: Vec<Txid> = histories
            .iter()
            .flatten()
            .map(|h| h.tx_hash)
            .filter(|t| !self.known.contains(t) && !ahead.contains_key(t))
            .collect();
        want.sort_unstable();
        want.dedup();
        if let Ok(raws) = counted("transactions", want.clone(), |c| {
            self.client.batch_transaction_get_raw(c.iter())
        }) {
            ahead.extend(want.into_iter().zip(raws));
        }
    }

    /// The transactions `txids`, in batches (checked against their ids by the caller).
    pub(crate) fn transactions(&self, txids: Vec<Txid>) -> Result<Vec<Vec<u8>>, Error> {
        counted("spent transactions", txids, |c| {
            self.client.batch_transaction_get_raw(c.iter())
        })
    }
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
    /// Time until the answers were in, ms.
    pub millis: f64,
}

static STATS: Mutex<Vec<RequestStat>> = Mutex::new(Vec::new());

fn record(kind: &'static str, items: usize, since: std::time::Instant) {
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
    s.round_trips += 1;
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

/// Runs `call` over `items` in chunks and joins the answers in order.
fn chunked<T, R>(
    items: Vec<T>,
    mut call: impl FnMut(&[T]) -> Result<Vec<R>, Error>,
) -> Result<Vec<R>, Error> {
    let mut out = Vec::with_capacity(items.len());
    for c in items.chunks(CHUNK) {
        out.extend(call(c)?);
    }
    Ok(out)
}

/// [`chunked`], each round trip counted under `kind`.
fn counted<T, R>(
    kind: &'static str,
    items: Vec<T>,
    mut call: impl FnMut(&[T]) -> Result<Vec<R>, Error>,
) -> Result<Vec<R>, Error> {
    chunked(items, |c| {
        let t = std::time::Instant::now();
        let r = call(c);
        record(kind, c.len(), t);
        r
    })
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
        chunked(all, |c| self.client.batch_script_subscribe(c.iter()))
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
        chunked(all, |c| self.client.batch_script_get_balance(c.iter()))
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
            self.client.batch_script_get_history(c.iter())
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
        chunked(all, |c| self.client.batch_script_list_unspent(c.iter()))
    }

    fn transaction_get_raw(&self, txid: &Txid) -> Result<Vec<u8>, Error> {
        let ready = self
            .ahead
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(txid);
        match ready {
            Some(raw) => Ok(raw),
            None => {
                let t = std::time::Instant::now();
                let raw = self.client.transaction_get_raw(txid);
                record("transaction (one)", 1, t);
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
        chunked(all, |c| self.client.batch_transaction_get_raw(c.iter()))
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
            self.client.batch_block_header_raw(c.iter())
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
        chunked(all, |c| self.client.batch_estimate_fee(c.iter()))
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
            self.client.batch_transaction_get_merkle(c.iter())
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

    #[test]
    fn chunks_are_bounded_and_answers_keep_their_order() {
        let mut sizes = Vec::new();
        let n = 2 * CHUNK as u32 + 50;
        let out = chunked((0..n).collect(), |c| {
            sizes.push(c.len());
            Ok(c.iter().map(|x| x * 2).collect())
        })
        .expect("answers");
        assert_eq!(sizes, vec![CHUNK, CHUNK, 50]);
        assert_eq!(out, (0..n).map(|x| x * 2).collect::<Vec<_>>());
        let e = chunked((0..n).collect(), |c| {
            if c[0] >= CHUNK as u32 {
                Err(Error::Message("down".into()))
            } else {
                Ok(c.to_vec())
            }
        });
        assert!(e.is_err(), "one failed chunk fails the batch");
    }
}
