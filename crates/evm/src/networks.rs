//! The networks Coldlink knows out of the box (all user-editable in Settings) and custom ones,
//! whose chain id is checked against the node before use.

use serde::{Deserialize, Serialize};

use crate::{rpc::Rpc, EvmError};

/// An EVM network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvmNetwork {
    /// Stable key ("ethereum", "base").
    pub key: String,
    /// Name for people.
    pub name: String,
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Native coin symbol.
    pub symbol: String,
    /// Block explorer base URL.
    pub explorer: String,
    /// JSON-RPC URL.
    pub rpc_url: String,
    /// Whether the chain has EIP-1559 fees (otherwise a legacy gas price is used).
    pub eip1559: bool,
}

/// (key, name, chain id, symbol, explorer, public RPC). Chain ids are the chains' registered
/// EIP-155 ids; the RPC URLs are the chains' own public endpoints (rate-limited; users can put
/// their own node).
const BUILT_IN: [(&str, &str, u64, &str, &str, &str); 6] = [
    (
        "ethereum",
        "Ethereum",
        1,
        "ETH",
        "https://etherscan.io",
        "https://ethereum-rpc.publicnode.com",
    ),
    (
        "sepolia",
        "Sepolia (testnet)",
        11_155_111,
        "ETH",
        "https://sepolia.etherscan.io",
        "https://ethereum-sepolia-rpc.publicnode.com",
    ),
    (
        "arbitrum",
        "Arbitrum One",
        42_161,
        "ETH",
        "https://arbiscan.io",
        "https://arb1.arbitrum.io/rpc",
    ),
    (
        "optimism",
        "OP Mainnet",
        10,
        "ETH",
        "https://optimistic.etherscan.io",
        "https://mainnet.optimism.io",
    ),
    (
        "base",
        "Base",
        8453,
        "ETH",
        "https://basescan.org",
        "https://mainnet.base.org",
    ),
    (
        "polygon",
        "Polygon PoS",
        137,
        "POL",
        "https://polygonscan.com",
        "https://polygon-rpc.com",
    ),
];

/// The built-in networks.
pub static NETWORKS: std::sync::LazyLock<Vec<EvmNetwork>> = std::sync::LazyLock::new(|| {
    BUILT_IN
        .iter()
        .map(|(key, name, chain_id, symbol, explorer, rpc)| EvmNetwork {
            key: (*key).into(),
            name: (*name).into(),
            chain_id: *chain_id,
            symbol: (*symbol).into(),
            explorer: (*explorer).into(),
            rpc_url: (*rpc).into(),
            eip1559: true,
        })
        .collect()
});

impl EvmNetwork {
    /// A custom network: its chain id is read from the node and must equal `chain_id`.
    pub fn custom(
        name: &str,
        rpc_url: &str,
        chain_id: u64,
        symbol: &str,
    ) -> Result<Self, EvmError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(EvmError::Invalid("give the network a name".into()));
        }
        let rpc = Rpc::new(rpc_url)?;
        let actual = rpc.chain_id()?;
        if actual != chain_id {
            return Err(EvmError::ChainMismatch {
                expected: chain_id,
                actual,
            });
        }
        // A chain that reports a base fee has EIP-1559.
        let block: serde_json::Value =
            rpc.call("eth_getBlockByNumber", serde_json::json!(["latest", false]))?;
        Ok(Self {
            key: format!("custom-{chain_id}"),
            name: name.into(),
            chain_id,
            symbol: symbol.trim().to_uppercase(),
            explorer: String::new(),
            rpc_url: rpc_url.trim().into(),
            eip1559: block.get("baseFeePerGas").is_some_and(|v| !v.is_null()),
        })
    }

    /// Checks that the node at the network's URL serves its chain.
    pub fn check(&self) -> Result<Rpc, EvmError> {
        let rpc = Rpc::new(&self.rpc_url)?;
        let actual = rpc.chain_id()?;
        if actual != self.chain_id {
            return Err(EvmError::ChainMismatch {
                expected: self.chain_id,
                actual,
            });
        }
        Ok(rpc)
    }
}
