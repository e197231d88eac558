//! The user's own Bitcoin Core / Knots node over JSON-RPC: the connection test Settings runs,
//! fee estimates, mempool facts for fee bumps, and broadcasting. Answers are read as plain JSON
//! where the typed client lags behind newer node versions.

use std::path::PathBuf;

use bdk_bitcoind_rpc::bitcoincore_rpc::{Auth, Client, RpcApi};
use bitcoin::{Amount, Network, Transaction, Txid};
use serde_json::Value;

/// How to log in to the node.
#[derive(Clone)]
pub enum NodeAuth {
    /// The node's cookie file.
    Cookie(PathBuf),
    /// `rpcuser` / `rpcpassword`.
    UserPass(String, String),
}

/// Leaves the password out (a `Backend` may end up in a log line).
impl std::fmt::Debug for NodeAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NodeAuth::Cookie(p) => f.debug_tuple("Cookie").field(p).finish(),
            NodeAuth::UserPass(u, _) => f
                .debug_tuple("UserPass")
                .field(u)
                .field(&"<hidden>")
                .finish(),
        }
    }
}

/// Why the node could not be used.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Nothing answered, or it refused our login.
    #[error("the Bitcoin node at {url} cannot be reached: {reason}")]
    Unreachable {
        /// Where we looked.
        url: String,
        /// Why.
        reason: String,
    },
    /// The node answered but refused the request.
    #[error("the Bitcoin node refused: {0}")]
    Refused(String),
    /// The node runs another network than the account.
    #[error("the node runs {found}, but the account is on {expected}")]
    WrongNetwork {
        /// The node's chain.
        found: String,
        /// The account's network.
        expected: String,
    },
}

/// A node.
#[derive(Clone, Debug)]
pub struct Node {
    /// `http://host:port`.
    pub url: String,
    /// Login.
    pub auth: NodeAuth,
}

/// What the connection test reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeStatus {
    /// Chain as the node names it ("main", "test", "testnet4", "signet", "regtest").
    pub chain: String,
    /// Best block height.
    pub blocks: u64,
    /// Still catching up with the network.
    pub initial_download: bool,
}

/// Fee estimates in sat/vB, from the node or, when it has none yet (a fresh node, regtest),
/// the relay minimum and small multiples of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeeEstimates {
    /// About a day.
    pub slow: u64,
    /// About an hour.
    pub normal: u64,
    /// Next block or two.
    pub fast: u64,
    /// Whether the node had estimates (false: fallback values).
    pub from_node: bool,
}

/// Mempool facts about an unconfirmed transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MempoolEntry {
    /// Its own fee.
    pub fee: Amount,
    /// Its virtual size.
    pub vsize: u64,
}

/// The chain name a node uses for `network`.
pub fn chain_name(network: Network) -> &'static [&'static str] {
    match network {
        Network::Bitcoin => &["main"],
        Network::Testnet => &["test"],
        Network::Testnet4 => &["testnet4"],
        Network::Signet => &["signet"],
        _ => &["regtest"],
    }
}

impl Node {
    pub(crate) fn client(&self) -> Result<Client, NodeError> {
        let auth = match &self.auth {
            NodeAuth::Cookie(p) => Auth::CookieFile(p.clone()),
            NodeAuth::UserPass(u, p) => Auth::UserPass(u.clone(), p.clone()),
        };
        Client::new(&self.url, auth).map_err(|e| self.unreachable(e))
    }

    pub(crate) fn unreachable(&self, e: impl std::fmt::Display) -> NodeError {
        NodeError::Unreachable {
            url: self.url.clone(),
            reason: e.to_string(),
        }
    }

    /// Any RPC call, answered as JSON (a wallet's calls go to `<url>/wallet/<name>`).
    pub fn call(&self, method: &str, args: &[Value]) -> Result<Value, NodeError> {
        use bdk_bitcoind_rpc::bitcoincore_rpc::Error as E;
        self.client()?.call(method, args).map_err(|e| match e {
            E::JsonRpc(bdk_bitcoind_rpc::bitcoincore_rpc::jsonrpc::Error::Rpc(r)) => {
                NodeError::Refused(r.message)
            }
            other => self.unreachable(other),
        })
    }

    /// What `address` holds in the node's UTXO set (`scantxoutset`: blocks only, no mempool;
    /// seconds on mainnet, as the whole set is read).
    pub fn address_balance(
        &self,
        address: &bitcoin::Address,
    ) -> Result<crate::backend::AddressBalance, NodeError> {
        use bdk_bitcoind_rpc::bitcoincore_rpc::json::ScanTxOutRequest;
        let r = self
            .client()?
            .scan_tx_out_set_blocking(&[ScanTxOutRequest::Single(format!("addr({address})"))])
            .map_err(|e| self.unreachable(e))?;
        Ok(crate::backend::AddressBalance {
            confirmed: r.total_amount,
            pending: bitcoin::SignedAmount::ZERO,
        })
    }

    /// The connection test: chain, height, and whether it is still syncing.
    pub fn status(&self) -> Result<NodeStatus, NodeError> {
        let v = self.call("getblockchaininfo", &[])?;
        Ok(NodeStatus {
            chain: v["chain"].as_str().unwrap_or("?").to_owned(),
            blocks: v["blocks"].as_u64().unwrap_or(0),
            initial_download: v["initialblockdownload"].as_bool().unwrap_or(false),
        })
    }

    /// Checks that the node is on `network`.
    pub fn check_network(&self, network: Network) -> Result<NodeStatus, NodeError> {
        let s = self.status()?;
        if !chain_name(network).contains(&s.chain.as_str()) {
            return Err(NodeError::WrongNetwork {
                found: s.chain,
                expected: network.to_string(),
            });
        }
        Ok(s)
    }

    /// Fee estimates for about 144, 6 and 2 blocks.
    pub fn fee_estimates(&self) -> Result<FeeEstimates, NodeError> {
        let mut rates = [0u64; 3];
        let mut from_node = true;
        for (slot, blocks) in rates.iter_mut().zip([144u64, 6, 2]) {
            let v = self.call("estimatesmartfee", &[Value::from(blocks)])?;
            // BTC per kvB → sat/vB, rounded up so a "fast" estimate is never under-paid.
            match v["feerate"].as_f64() {
                Some(btc_kvb) if btc_kvb > 0.0 => {
                    let sat_kvb = Amount::from_btc(btc_kvb)
                        .map(|a| a.to_sat())
                        .unwrap_or(1000);
                    *slot = sat_kvb.div_ceil(1000).max(1);
                }
                _ => from_node = false,
            }
        }
        if !from_node {
            let relay = self
                .call("getnetworkinfo", &[])
                .ok()
                .and_then(|v| v["relayfee"].as_f64())
                .and_then(|b| Amount::from_btc(b).ok())
                .map(|a| a.to_sat().div_ceil(1000).max(1))
                .unwrap_or(1);
            rates = [relay, relay * 2, relay * 5];
        }
        Ok(FeeEstimates {
            slow: rates[0],
            normal: rates[1].max(rates[0]),
            fast: rates[2].max(rates[1]),
            from_node,
        })
    }

    /// Fee and size of an unconfirmed transaction, or `None` when it is not in the mempool.
    pub fn mempool_entry(&self, txid: Txid) -> Result<Option<MempoolEntry>, NodeError> {
        match self.call("getmempoolentry", &[Value::from(txid.to_string())]) {
            Ok(v) => {
                let fee = v["fees"]["base"]
                    .as_f64()
                    .and_then(|b| Amount::from_btc(b).ok())
                    .ok_or_else(|| NodeError::Refused("no fee in the mempool entry".into()))?;
                let vsize = v["vsize"]
                    .as_u64()
                    .ok_or_else(|| NodeError::Refused("no size in the mempool entry".into()))?;
                Ok(Some(MempoolEntry { fee, vsize }))
            }
            Err(NodeError::Refused(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Broadcasts `tx`; the node's refusal (fee too low, conflict, non-standard) is passed on.
    pub fn broadcast(&self, tx: &Transaction) -> Result<Txid, NodeError> {
        let hex = bitcoin::consensus::encode::serialize_hex(tx);
        let v = self.call("sendrawtransaction", &[Value::from(hex)])?;
        v.as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| NodeError::Refused(format!("unexpected answer {v}")))
    }
}

#[cfg(test)]
mod debug_tests {
    #[test]
    fn the_rpc_password_stays_out_of_debug_output() {
        let auth = super::NodeAuth::UserPass("me".into(), "hunter2-secret".into());
        let text = format!("{auth:?}");
        assert!(
            !text.contains("hunter2-secret") && text.contains("me"),
            "{text}"
        );
    }
}
