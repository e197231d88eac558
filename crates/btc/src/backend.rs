//! The chain backend an account syncs from, the user's choice: their own node over RPC, an
//! Electrum server, or an Esplora HTTP server. One type for the app to hold; each variant is its own module.

use std::sync::Arc;

use std::collections::HashMap;

use bitcoin::{Address, Amount, Network, OutPoint, Script, SignedAmount, Transaction, Txid};

use crate::{
    electrum::Electrum,
    esplora::Esplora,
    node::{FeeEstimates, Node, NodeError, NodeStatus},
    sync::{AccountWallet, SyncError},
};

/// What one watched address holds (an account that is a single address has no descriptor
/// for BDK to sync; its balance is asked of the backend directly).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddressBalance {
    /// In blocks.
    pub confirmed: Amount,
    /// The mempool's effect: received minus spent, unconfirmed (negative while a spend of its
    /// coins waits). Always zero from a node, whose UTXO scan sees blocks only.
    pub pending: SignedAmount,
}

/// One transaction of a single watched address, as its history lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressTx {
    /// Txid.
    pub txid: Txid,
    /// Block height, when confirmed.
    pub height: Option<u32>,
    /// Block time (unix seconds), when confirmed.
    pub time: Option<u64>,
    /// Paid to the address.
    pub received: Amount,
    /// Spent from the address (its earlier outputs this transaction spends).
    pub sent: Amount,
    /// The fee, when the address paid it (every input was its own).
    pub fee: Option<Amount>,
}

/// A sum that stops at the largest amount instead of overflowing (the values come from a
/// server).
fn total(values: impl Iterator<Item = Amount>) -> Amount {
    values.fold(Amount::ZERO, |a, v| a.checked_add(v).unwrap_or(Amount::MAX))
}

/// What each of `txs` (with height and block time) did to `script`. Spends are recognised
/// from the outputs of the other transactions listed: an address's history holds every
/// transaction that paid it, so every coin it spends is among them.
pub(crate) fn tally(
    script: &Script,
    txs: &[(Transaction, Option<u32>, Option<u64>)],
) -> Vec<AddressTx> {
    let mut values: HashMap<OutPoint, (Amount, bool)> = HashMap::new();
    for (tx, _, _) in txs {
        let txid = tx.compute_txid();
        for (vout, o) in (0u32..).zip(&tx.output) {
            values.insert(
                OutPoint::new(txid, vout),
                (o.value, o.script_pubkey.as_script() == script),
            );
        }
    }
    txs.iter()
        .map(|(tx, height, time)| {
            let received = total(
                tx.output
                    .iter()
                    .filter(|o| o.script_pubkey.as_script() == script)
                    .map(|o| o.value),
            );
            let spent: Vec<Option<(Amount, bool)>> = tx
                .input
                .iter()
                .map(|i| values.get(&i.previous_output).copied())
                .collect();
            let sent = total(
                spent
                    .iter()
                    .flatten()
                    .filter(|(_, ours)| *ours)
                    .map(|(v, _)| *v),
            );
            let all_ours =
                !spent.is_empty() && spent.iter().all(|p| p.is_some_and(|(_, ours)| ours));
            let out = total(tx.output.iter().map(|o| o.value));
            AddressTx {
                txid: tx.compute_txid(),
                height: *height,
                time: *time,
                received,
                sent,
                fee: all_ours.then(|| sent.checked_sub(out)).flatten(),
            }
        })
        .collect()
}

/// Where chain data comes from.
#[derive(Clone, Debug)]
pub enum Backend {
    /// Bitcoin Core / Knots over JSON-RPC.
    Node(Node),
    /// An Electrum server.
    Electrum(Electrum),
    /// An Esplora HTTP server.
    Esplora(Esplora),
}

impl Backend {
    /// The connection test, on the expected network.
    pub fn check_network(&self, network: Network) -> Result<NodeStatus, NodeError> {
        match self {
            Backend::Node(n) => n.check_network(network),
            Backend::Electrum(e) => e.check_network(network),
            Backend::Esplora(e) => e.check_network(network),
        }
    }

    /// Fee estimates (slow / normal / fast).
    pub fn fee_estimates(&self) -> Result<FeeEstimates, NodeError> {
        match self {
            Backend::Node(n) => n.fee_estimates(),
            Backend::Electrum(e) => e.fee_estimates(),
            Backend::Esplora(e) => e.fee_estimates(),
        }
    }

    /// The balance of one address (a watch-only account that is a single address).
    pub fn address_balance(&self, address: &Address) -> Result<AddressBalance, NodeError> {
        match self {
            Backend::Node(n) => n.address_balance(address),
            Backend::Electrum(e) => e.address_balance(address),
            Backend::Esplora(e) => e.address_balance(address),
        }
    }

    /// The transactions of one address, oldest first. Electrum and Esplora servers index
    /// scripts; a node does not (`Ok(None)`: its UTXO scan gives the balance only).
    pub fn address_history(&self, address: &Address) -> Result<Option<Vec<AddressTx>>, NodeError> {
        let mut list = match self {
            Backend::Node(_) => return Ok(None),
            Backend::Electrum(e) => e.address_history(address)?,
            Backend::Esplora(e) => e.address_history(address)?,
        };
        list.sort_by_key(|t| (t.height.is_none(), t.height));
        Ok(Some(list))
    }

    /// Broadcasts a transaction.
    pub fn broadcast(&self, tx: &Transaction) -> Result<Txid, NodeError> {
        match self {
            Backend::Node(n) => n.broadcast(tx),
            Backend::Electrum(e) => e.broadcast(tx),
            Backend::Esplora(e) => e.broadcast(tx),
        }
    }

    /// Fee and size of unconfirmed `txid`, for CPFP: the node's mempool, or what the wallet
    /// learnt during an Electrum sync. `None` when it is not unconfirmed any more.
    pub fn unconfirmed_fee(
        &self,
        wallet: &AccountWallet,
        txid: Txid,
    ) -> Result<Option<(Amount, u64)>, NodeError> {
        match self {
            Backend::Node(n) => Ok(n.mempool_entry(txid)?.map(|m| (m.fee, m.vsize))),
            Backend::Electrum(_) | Backend::Esplora(_) => Ok(wallet.fee_and_vsize(txid)),
        }
    }
}

impl AccountWallet {
    /// Syncs from `backend`; `stop_gap` bounds address discovery on Electrum (a node's block
    /// scan sees every address the descriptors reveal); `progress` hears addresses checked.
    pub fn sync(
        &mut self,
        backend: &Backend,
        stop_gap: usize,
        progress: Arc<dyn Fn(u32) + Send + Sync>,
    ) -> Result<u32, SyncError> {
        match backend {
            Backend::Node(n) => self.sync_node(n),
            Backend::Electrum(e) => self.sync_electrum(e, stop_gap, progress),
            Backend::Esplora(e) => self.sync_esplora(e, stop_gap, progress),
        }
    }
}
