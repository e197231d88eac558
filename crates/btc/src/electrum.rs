//! An Electrum server (the way most people reach their own node: electrs, Fulcrum, ElectrumX)
//! over TCP (`tcp://host:port`) or TLS (`ssl://host:port`): the connection test (its genesis
//! block names the network), gap-limit discovery and re-sync of an account with progress,
//! fee estimates and broadcasting. The wallet side is BDK's (`bdk_electrum`).

use std::time::Duration;

use bdk_electrum::{
    bdk_core::spk_client::SyncRequest,
    electrum_client::{self, ElectrumApi},
    BdkElectrumClient,
};
use bdk_wallet::{chain::SpkIterator, KeychainKind};
use bitcoin::{Amount, Network, Transaction, Txid};

use crate::electrum_batch::ChunkedClient;
pub use crate::electrum_batch::{request_stats, RequestStat};
use crate::electrum_watch::{self, Seen};
pub use crate::electrum_watch::{close_all as close_watches, quick_syncs, watches_starting};
use crate::{
    node::{FeeEstimates, NodeError, NodeStatus},
    sync::{AccountWallet, SyncError},
};

/// Scripts whose histories one scan request carries.
const SCAN_BATCH: usize = 50;

/// An Electrum server.
#[derive(Clone, Debug)]
pub struct Electrum {
    /// `tcp://host:port` or `ssl://host:port`.
    pub url: String,
}

/// The networks whose genesis block a server may report.
const NETWORKS: [(Network, &str); 5] = [
    (Network::Bitcoin, "main"),
    (Network::Testnet, "test"),
    (Network::Testnet4, "testnet4"),
    (Network::Signet, "signet"),
    (Network::Regtest, "regtest"),
];

impl Electrum {
    fn unreachable(&self, e: electrum_client::Error) -> NodeError {
        NodeError::Unreachable {
            url: self.url.clone(),
            reason: crate::failure::electrum(&e),
        }
    }

    fn client(&self) -> Result<electrum_client::Client, NodeError> {
        let url = self.url.trim();
        if !url.starts_with("tcp://") && !url.starts_with("ssl://") {
            return Err(NodeError::Refused(
                "an Electrum server address starts with tcp:// or ssl:// (for example tcp://127.0.0.1:50001)".into(),
            ));
        }
        self.connect().map_err(|e| self.unreachable(e))
    }

    /// A connection to the server (whose address [`Self::client`] checks).
    fn connect(&self) -> Result<electrum_client::Client, electrum_client::Error> {
        let config = electrum_client::ConfigBuilder::new()
            // A first sync of a large wallet asks for hundreds of Merkle proofs in one batch;
            // a server reading them from its node can take well over 10 s to answer.
            .timeout(Some(Duration::from_secs(60)))
            .retry(1)
            .build();
        electrum_client::Client::from_config(self.url.trim(), config)
    }

    /// What `address` holds: confirmed, and the mempool's effect.
    pub fn address_balance(
        &self,
        address: &bitcoin::Address,
    ) -> Result<crate::backend::AddressBalance, NodeError> {
        let b = self
            .client()?
            .script_get_balance(&address.script_pubkey())
            .map_err(|e| self.unreachable(e))?;
        Ok(crate::backend::AddressBalance {
            confirmed: Amount::from_sat(b.confirmed),
            pending: bitcoin::SignedAmount::from_sat(b.unconfirmed),
        })
    }

    /// The transactions of one address: its script's history, the transactions themselves
    /// and their blocks' times, each asked in batches.
    pub fn address_history(
        &self,
        address: &bitcoin::Address,
    ) -> Result<Vec<crate::backend::AddressTx>, NodeError> {
        let c = self.client()?;
        let script = address.script_pubkey();
        let history = c
            .script_get_history(&script)
            .map_err(|e| self.unreachable(e))?;
        let mut txs = Vec::with_capacity(history.len());
        for chunk in history.chunks(100) {
            let got = c
                .batch_transaction_get(chunk.iter().map(|h| &h.tx_hash))
                .map_err(|e| self.unreachable(e))?;
            let heights: Vec<u32> = chunk
                .iter()
                .filter_map(|h| u32::try_from(h.height).ok().filter(|x| *x > 0))
                .collect();
            let headers = c
                .batch_block_header(heights.iter().copied())
                .map_err(|e| self.unreachable(e))?;
            let times: std::collections::HashMap<u32, u64> = heights
                .iter()
                .zip(&headers)
                .map(|(h, header)| (*h, u64::from(header.time)))
                .collect();
            for (h, tx) in chunk.iter().zip(got) {
                let height = u32::try_from(h.height).ok().filter(|x| *x > 0);
                txs.push((tx, height, height.and_then(|x| times.get(&x).copied())));
            }
        }
        Ok(crate::backend::tally(&script, &txs))
    }

    /// The connection test: which chain the server follows and its height.
    pub fn status(&self) -> Result<NodeStatus, NodeError> {
        let c = self.client()?;
        let features = c.server_features().map_err(|e| self.unreachable(e))?;
        let tip = c
            .block_headers_subscribe()
            .map_err(|e| self.unreachable(e))?;
        let mut genesis = features.genesis_hash;
        genesis.reverse();
        let chain = NETWORKS
            .iter()
            .find(|(n, _)| {
                let g = bitcoin::constants::genesis_block(*n).block_hash();
                let bytes: &[u8] = g.as_ref();
                bytes == features.genesis_hash || bytes == genesis
            })
            .map(|(_, name)| (*name).to_owned())
            .unwrap_or_else(|| "an unknown chain".into());
        Ok(NodeStatus {
            chain,
            blocks: tip.height as u64,
            initial_download: false,
        })
    }

    /// Checks that the server follows `network`.
    pub fn check_network(&self, network: Network) -> Result<NodeStatus, NodeError> {
        let s = self.status()?;
        if !crate::node::chain_name(network).contains(&s.chain.as_str()) {
            return Err(NodeError::WrongNetwork {
                found: s.chain,
                expected: network.to_string(),
            });
        }
        Ok(s)
    }

    /// Fee estimates for about 144, 6 and 2 blocks; the relay minimum when it has none.
    pub fn fee_estimates(&self) -> Result<FeeEstimates, NodeError> {
        let c = self.client()?;
        let per_vb = |btc_kvb: f64| {
            Amount::from_btc(btc_kvb)
                .map(|a| a.to_sat().div_ceil(1000).max(1))
                .ok()
        };
        let mut rates = [0u64; 3];
        let mut from_node = true;
        for (slot, blocks) in rates.iter_mut().zip([144usize, 6, 2]) {
            match c.estimate_fee(blocks, None) {
                Ok(r) if r > 0.0 => *slot = per_vb(r).unwrap_or(1),
                Ok(_) => from_node = false,
                Err(e) => return Err(self.unreachable(e)),
            }
        }
        if !from_node {
            let relay = c.relay_fee().ok().and_then(per_vb).unwrap_or(1);
            rates = [relay, relay * 2, relay * 5];
        }
        Ok(FeeEstimates {
            slow: rates[0],
            normal: rates[1].max(rates[0]),
            fast: rates[2].max(rates[1]),
            from_node,
        })
    }

    /// Broadcasts `tx`; the server's (node's) refusal is passed on.
    pub fn broadcast(&self, tx: &Transaction) -> Result<Txid, NodeError> {
        self.client()?
            .transaction_broadcast(tx)
            .map_err(|e| match e {
                electrum_client::Error::Protocol(v) => NodeError::Refused(v.to_string()),
                other => self.unreachable(other),
            })
    }
}

impl AccountWallet {
    /// Discovers and syncs the account from an Electrum server: both chains scanned until
    /// `stop_gap` unused addresses in a row; `progress` hears each address as it is checked.
    /// Returns the tip height.
    pub fn sync_electrum(
        &mut self,
        server: &Electrum,
        stop_gap: usize,
        progress: std::sync::Arc<dyn Fn(u32) + Send + Sync>,
    ) -> Result<u32, SyncError> {
        let node_err = |e: NodeError| SyncError::Node(e.to_string());
        // One watch per wallet, server and gap.
        let key = electrum_watch::Key {
            server: server.url.trim().to_owned(),
            wallet: self.watch_name(),
            gap: stop_gap,
        };
        if let Some(watch) = electrum_watch::get(&key) {
            match watch.look(self.wallet.latest_checkpoint().block_id()) {
                Seen::Nothing => {
                    electrum_watch::count_quick();
                    return Ok(self.wallet.latest_checkpoint().height());
                }
                Seen::NewBlocks => {
                    // Confirmations follow the tip: bring the chain up, no script history.
                    let request = SyncRequest::<()>::builder()
                        .chain_tip(self.wallet.local_chain().tip())
                        .build();
                    let update = watch.client.sync(request, 1, false);
                    // Headers kept past this sync could outlive a reorganisation, and its
                    // spare connection is not needed until the next.
                    watch.client.inner.forget_kept();
                    if let Ok(update) = update {
                        // The block notifications are taken: a watch left after a failure
                        // here would say "nothing new" about blocks the wallet never got.
                        let saved = self
                            .wallet
                            .apply_update(update)
                            .map_err(|e| SyncError::Node(e.to_string()))
                            .and_then(|()| self.persist());
                        if let Err(e) = saved {
                            electrum_watch::forget(&key);
                            return Err(e);
                        }
                        watch.moved_to(self.wallet.latest_checkpoint().block_id());
                        electrum_watch::count_quick();
                        return Ok(self.wallet.latest_checkpoint().height());
                    }
                    electrum_watch::forget(&key);
                }
                Seen::Changes => electrum_watch::forget(&key),
            }
        }
        server
            .check_network(self.wallet.network())
            .map_err(node_err)?;
        let spare = server.clone();
        let client = BdkElectrumClient::new(ChunkedClient::new(
            server.client().map_err(node_err)?,
            move || spare.connect(),
            self.wallet.tx_graph().full_txs().map(|t| t.txid),
        ));
        // Coins this wallet already knows need no download again.
        client.populate_tx_cache(self.wallet.tx_graph().full_txs().map(|t| t.tx));
        // Nor do confirmations it has already checked (a re-sync then costs the history
        // requests and one batch of headers, not a Merkle proof per transaction).
        client.populate_anchor_cache(
            self.wallet
                .tx_graph()
                .full_txs()
                .map(|t| (t.txid, t.anchors.iter().copied().collect::<Vec<_>>())),
        );
        // Deep confirmations without a Merkle proof each (why: `electrum_anchors`).
        let read = crate::electrum_anchors::deep_anchors(
            &client.inner,
            &self.wallet,
            stop_gap.max(1),
            SCAN_BATCH,
        )
        .map_err(|e| SyncError::Node(server.unreachable(e).to_string()))?;
        client.populate_anchor_cache(read.anchors);
        let seen = std::sync::atomic::AtomicU32::new(0);
        // The scripts the pre-scan derived, then the rest as the scan goes, in place of the
        // iterators `start_full_scan` derives them with (its tip and last revealed indices,
        // which the gap rule counts from, stay).
        let mut request = self.wallet.start_full_scan();
        for (keychain, derived) in read.scripts {
            let next = u32::try_from(derived.len()).unwrap_or(u32::MAX);
            let rest = SpkIterator::new_with_range(
                self.wallet.public_descriptor(keychain).clone(),
                next..,
            );
            request = request.spks_for_keychain(keychain, derived.into_iter().chain(rest));
        }
        let request = request
            .inspect(move |_, _, _| {
                let n = seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                progress(n);
            })
            .build();
        let started = request.start_time();
        let wallet = &mut self.wallet;
        let inner = &client.inner;
        let unreachable = |e| SyncError::Node(server.unreachable(e).to_string());
        // Why the outputs our transactions spend did not all come, if they did not (below).
        let mut incomplete = None;
        let applied = std::thread::scope(|s| -> Result<(), SyncError> {
            let mut update = client
                .full_scan(request, stop_gap.max(1), SCAN_BATCH, false)
                .map_err(unreachable)?;
            // The server reads the transactions our payers spent from while the update is
            // applied here (why: `ChunkedClient::fetch_parents`); not during the scan, whose
            // few requests (the tip, recent confirmations' proofs) would wait behind them.
            let parents = s.spawn(|| inner.fetch_parents());
            crate::sync::mark_evicted(wallet, &mut update.tx_update, started);
            let scanned = update.tx_update.txs.clone();
            wallet
                .apply_update(update)
                .map_err(|e| SyncError::Node(e.to_string()))?;
            // What it could not read is asked for now. Should that fail, the update is applied
            // already and right (only some fees are unknown): it is saved, the failure is
            // reported, and no connection is kept, so the next sync scans in full and asks
            // again.
            let _ = parents.join();
            match spent_outputs_of(inner, wallet, &scanned) {
                Ok(txouts) if !txouts.is_empty() => {
                    let mut spent = bdk_wallet::Update::default();
                    spent.tx_update.txouts = txouts;
                    wallet
                        .apply_update(spent)
                        .map_err(|e| SyncError::Node(e.to_string()))?;
                }
                Ok(_) => {}
                Err(e) => incomplete = Some(e),
            }
            Ok(())
        });
        client.inner.forget_kept();
        applied?;
        self.persist()?;
        if let Some(e) = incomplete {
            return Err(unreachable(e));
        }
        // Watch what was handed out and the look-ahead beyond it (BDK keeps 25 scripts past
        // the last revealed one; the default gap is 20). Subscribing costs the server about
        // what the scan did, so it runs after this sync returns. Best effort: without a watch
        // the next sync scans in full, as this one did.
        let scripts: Vec<bitcoin::ScriptBuf> = self
            .wallet
            .spk_index()
            .inner()
            .all_spks()
            .values()
            .cloned()
            .collect();
        if self.keep_connection {
            electrum_watch::start_in_background(
                key,
                client,
                scripts,
                self.wallet.latest_checkpoint().block_id(),
            );
        }
        Ok(self.wallet.latest_checkpoint().height())
    }

    /// This wallet, as its kept connection is filed: its file and account.
    fn watch_name(&self) -> String {
        format!(
            "{} {}",
            self.db.display(),
            self.wallet.public_descriptor(KeychainKind::External)
        )
    }

    /// Fee and virtual size of unconfirmed `txid` from what the wallet holds (every input's
    /// previous output is fetched during an Electrum sync), for CPFP without a node.
    pub fn fee_and_vsize(&self, txid: Txid) -> Option<(Amount, u64)> {
        let tx = self.wallet.get_tx(txid)?.tx_node.tx.clone();
        let fee = self.wallet.calculate_fee(&tx).ok()?;
        Some((fee, tx.vsize() as u64))
    }
}

/// The outputs that `scanned` (already applied to `wallet`) spend and the wallet does not know
/// yet (the fee of a payment received needs them). `bdk_electrum` can fetch them, but it asks
/// for the transaction behind every input of every transaction of a scan, one round trip each
/// and at every scan, known or not: 595 round trips for each re-sync of the benchmark's
/// account. Here only the unknown ones are asked for, in batches (most were read already, by
/// `ChunkedClient::fetch_parents`).
fn spent_outputs_of(
    client: &ChunkedClient,
    wallet: &bdk_wallet::Wallet,
    scanned: &[std::sync::Arc<Transaction>],
) -> Result<std::collections::BTreeMap<bitcoin::OutPoint, bitcoin::TxOut>, electrum_client::Error> {
    use std::collections::BTreeMap;
    let graph = wallet.tx_graph();
    let mut missing: BTreeMap<Txid, Vec<bitcoin::OutPoint>> = BTreeMap::new();
    for tx in scanned.iter().filter(|t| !t.is_coinbase()) {
        for op in tx.input.iter().map(|i| i.previous_output) {
            if graph.get_txout(op).is_none() {
                missing.entry(op.txid).or_default().push(op);
            }
        }
    }
    let txids: Vec<Txid> = missing.keys().copied().collect();
    let raws = client.transactions(txids.clone())?;
    let mut found = BTreeMap::new();
    for (txid, raw) in txids.iter().zip(raws) {
        found.extend(spent_outputs(*txid, &raw, &missing[txid])?);
    }
    Ok(found)
}

/// The outputs `outpoints` of the transaction the server sent as `txid`: checked to be that
/// transaction and to have those outputs.
fn spent_outputs(
    txid: Txid,
    raw: &[u8],
    outpoints: &[bitcoin::OutPoint],
) -> Result<Vec<(bitcoin::OutPoint, bitcoin::TxOut)>, electrum_client::Error> {
    let tx: Transaction = bitcoin::consensus::deserialize(raw)
        .map_err(|e| electrum_client::Error::Message(format!("transaction {txid}: {e}")))?;
    if tx.compute_txid() != txid {
        return Err(electrum_client::Error::Message(format!(
            "the server sent another transaction when asked for {txid}"
        )));
    }
    outpoints
        .iter()
        .map(|op| {
            tx.output
                .get(op.vout as usize)
                .map(|out| (*op, out.clone()))
                .ok_or_else(|| {
                    electrum_client::Error::Message(format!(
                        "transaction {txid} has no output {}",
                        op.vout
                    ))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::{absolute::LockTime, transaction::Version, OutPoint, ScriptBuf, TxOut};

    fn tx(value: u64) -> Transaction {
        Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![],
            output: vec![TxOut {
                value: Amount::from_sat(value),
                script_pubkey: ScriptBuf::new(),
            }],
        }
    }

    #[test]
    fn spent_outputs_come_only_from_the_transaction_asked_for() {
        let t = tx(5_000);
        let txid = t.compute_txid();
        let raw = bitcoin::consensus::serialize(&t);
        let got = spent_outputs(txid, &raw, &[OutPoint::new(txid, 0)]).expect("output 0");
        assert_eq!(got[0].1.value, Amount::from_sat(5_000));

        let missing = spent_outputs(txid, &raw, &[OutPoint::new(txid, 1)]).expect_err("vout 1");
        assert!(missing.to_string().contains("has no output 1"), "{missing}");
        let other = tx(6_000);
        let wrong = spent_outputs(txid, &bitcoin::consensus::serialize(&other), &[])
            .expect_err("another transaction");
        assert!(wrong.to_string().contains("another transaction"), "{wrong}");
        for bad in [&raw[..raw.len() - 1], &[][..], &[0xff; 7][..]] {
            let e = spent_outputs(txid, bad, &[]).expect_err("malformed");
            assert!(e.to_string().contains(&txid.to_string()), "{e}");
        }
    }
}
