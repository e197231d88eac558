//! An Esplora HTTP server (Blockstream's API, also served by mempool.space and by electrs'
//! Esplora build): the connection test (its genesis block names the network), gap-limit
//! discovery and re-sync with progress, fee estimates and broadcasting. The wallet side is
//! BDK's (`bdk_esplora`, blocking client).

use std::{sync::Arc, time::Duration};

use bdk_esplora::{esplora_client, EsploraExt};
use bitcoin::{Amount, Network, Transaction, Txid};

use crate::{
    node::{FeeEstimates, NodeError, NodeStatus},
    sync::{AccountWallet, SyncError},
};

/// An Esplora server.
#[derive(Clone, Debug)]
pub struct Esplora {
    /// Base URL, e.g. `https://blockstream.info/api` or `http://127.0.0.1:3002`.
    pub url: String,
}

const NETWORKS: [(Network, &str); 5] = [
    (Network::Bitcoin, "main"),
    (Network::Testnet, "test"),
    (Network::Testnet4, "testnet4"),
    (Network::Signet, "signet"),
    (Network::Regtest, "regtest"),
];

impl Esplora {
    fn unreachable(&self, e: esplora_client::Error) -> NodeError {
        NodeError::Unreachable {
            url: self.url.clone(),
            reason: crate::failure::esplora(&e),
        }
    }

    fn client(&self) -> Result<esplora_client::BlockingClient, NodeError> {
        let url = self.url.trim().trim_end_matches('/');
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(NodeError::Refused(
                "an Esplora address starts with http:// or https://".into(),
            ));
        }
        Ok(esplora_client::Builder::new(url)
            .timeout(Duration::from_secs(10).as_secs())
            .build_blocking())
    }

    /// What `address` holds: confirmed, and the mempool's effect.
    pub fn address_balance(
        &self,
        address: &bitcoin::Address,
    ) -> Result<crate::backend::AddressBalance, NodeError> {
        let s = self
            .client()?
            .get_scripthash_stats(&address.script_pubkey())
            .map_err(|e| self.unreachable(e))?;
        let net = |funded: u64, spent: u64| {
            i64::try_from(funded).unwrap_or(i64::MAX) - i64::try_from(spent).unwrap_or(i64::MAX)
        };
        Ok(crate::backend::AddressBalance {
            confirmed: Amount::from_sat(
                s.chain_stats
                    .funded_txo_sum
                    .saturating_sub(s.chain_stats.spent_txo_sum),
            ),
            pending: bitcoin::SignedAmount::from_sat(net(
                s.mempool_stats.funded_txo_sum,
                s.mempool_stats.spent_txo_sum,
            )),
        })
    }

    /// The transactions of one address, 25 confirmed ones a page (the mempool's with the
    /// first), with their spent outputs as the server gives them.
    pub fn address_history(
        &self,
        address: &bitcoin::Address,
    ) -> Result<Vec<crate::backend::AddressTx>, NodeError> {
        let c = self.client()?;
        let script = address.script_pubkey();
        let mut out = Vec::new();
        let mut last = None;
        loop {
            let page = c
                .scripthash_txs(&script, last)
                .map_err(|e| self.unreachable(e))?;
            let confirmed: Vec<bitcoin::Txid> = page
                .iter()
                .filter(|t| t.status.confirmed)
                .map(|t| t.txid)
                .collect();
            for t in &page {
                // Saturating: the figures come from a server.
                let received = t
                    .vout
                    .iter()
                    .filter(|o| o.scriptpubkey == script)
                    .fold(0u64, |a, o| a.saturating_add(o.value));
                let sent = t
                    .vin
                    .iter()
                    .filter_map(|i| i.prevout.as_ref())
                    .filter(|p| p.scriptpubkey == script)
                    .fold(0u64, |a, p| a.saturating_add(p.value));
                let all_ours = t
                    .vin
                    .iter()
                    .all(|i| i.prevout.as_ref().is_some_and(|p| p.scriptpubkey == script));
                out.push(crate::backend::AddressTx {
                    txid: t.txid,
                    height: t.status.block_height.filter(|_| t.status.confirmed),
                    time: t.status.block_time.filter(|_| t.status.confirmed),
                    received: Amount::from_sat(received),
                    sent: Amount::from_sat(sent),
                    fee: (all_ours && !t.vin.is_empty()).then(|| Amount::from_sat(t.fee)),
                });
            }
            // Esplora pages confirmed transactions (25 a page by default, fewer on the first
            // page when the mempool has some): read on until a page brings no confirmed one,
            // and stop if a server hands the same page back.
            match confirmed.last() {
                Some(l) if last != Some(*l) => last = Some(*l),
                _ => break,
            }
        }
        Ok(out)
    }

    /// The connection test: which chain the server follows and its height.
    pub fn status(&self) -> Result<NodeStatus, NodeError> {
        let c = self.client()?;
        let height = c.get_height().map_err(|e| self.unreachable(e))?;
        let genesis = c.get_block_hash(0).map_err(|e| self.unreachable(e))?;
        let chain = NETWORKS
            .iter()
            .find(|(n, _)| bitcoin::constants::genesis_block(*n).block_hash() == genesis)
            .map(|(_, name)| (*name).to_owned())
            .unwrap_or_else(|| "an unknown chain".into());
        Ok(NodeStatus {
            chain,
            blocks: u64::from(height),
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

    /// Fee estimates for about 144, 6 and 2 blocks (sat/vB, rounded up).
    pub fn fee_estimates(&self) -> Result<FeeEstimates, NodeError> {
        let est = self
            .client()?
            .get_fee_estimates()
            .map_err(|e| self.unreachable(e))?;
        let at = |blocks: u16| {
            esplora_client::convert_fee_rate(blocks as usize, est.clone())
                .map(|r| (r.ceil() as u64).max(1))
        };
        let (slow, normal, fast) = (at(144), at(6), at(2));
        Ok(FeeEstimates {
            slow: slow.unwrap_or(1),
            normal: normal.unwrap_or(2).max(slow.unwrap_or(1)),
            fast: fast.unwrap_or(5).max(normal.unwrap_or(2)),
            from_node: slow.is_some() && normal.is_some() && fast.is_some(),
        })
    }

    /// Broadcasts `tx`; the server's refusal is passed on.
    pub fn broadcast(&self, tx: &Transaction) -> Result<Txid, NodeError> {
        self.client()?.broadcast(tx).map_err(|e| match e {
            esplora_client::Error::HttpResponse { message, .. } => NodeError::Refused(message),
            other => self.unreachable(other),
        })?;
        Ok(tx.compute_txid())
    }
}

impl AccountWallet {
    /// Discovers and syncs the account from an Esplora server (both chains scanned until
    /// `stop_gap` unused addresses in a row); returns the tip height.
    pub fn sync_esplora(
        &mut self,
        server: &Esplora,
        stop_gap: usize,
        progress: Arc<dyn Fn(u32) + Send + Sync>,
    ) -> Result<u32, SyncError> {
        let node_err = |e: NodeError| SyncError::Node(e.to_string());
        server
            .check_network(self.wallet.network())
            .map_err(node_err)?;
        let client = server.client().map_err(node_err)?;
        let seen = std::sync::atomic::AtomicU32::new(0);
        let request = self
            .wallet
            .start_full_scan()
            .inspect(move |_, _, _| {
                let n = seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                progress(n);
            })
            .build();
        let started = request.start_time();
        let mut update = client
            .full_scan(request, stop_gap.max(1), 4)
            .map_err(|e| SyncError::Node(server.unreachable(*e).to_string()))?;
        crate::sync::mark_evicted(&self.wallet, &mut update.tx_update, started);
        self.wallet
            .apply_update(update)
            .map_err(|e| SyncError::Node(e.to_string()))?;
        self.persist()?;
        Ok(self.wallet.latest_checkpoint().height())
    }
}
