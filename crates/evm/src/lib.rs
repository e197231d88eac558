//! EVM chains for Coldlink: the preconfigured networks, a JSON-RPC client that batches (one
//! HTTP round trip for many calls), balances of native coins and ERC-20 tokens, fee
//! suggestions from `eth_feeHistory`, building transfers (nonce, gas with a margin, fees),
//! broadcasting and following them to their receipt. Signing is not here: a transaction built
//! here goes to any `Signer` and comes back signed.

pub mod balances;
pub mod ens;
pub mod erc20;
pub mod fees;
pub mod history;
pub mod logs;
pub mod networks;
pub mod rpc;
pub mod tokens;
pub mod transfer;

pub use balances::{balances, AccountBalances, TokenBalance};
pub use erc20::{token_info, Token};
pub use fees::{fee_suggestions, FeeLevel, FeeSuggestions};
pub use history::{indexes_addresses, native_history, History, NativeMove};
pub use logs::{token_transfers, TokenTransfer};
pub use networks::{EvmNetwork, NETWORKS};
pub use rpc::{Rpc, RpcError};
pub use tokens::builtin_tokens;
pub use transfer::{
    broadcast, format_units, parse_units, prepare_transfer, receipt, wait_for_receipt, Asset,
    FeeChoice, PreparedTransfer, Receipt, Review, TransferRequest,
};

/// Why an EVM operation failed. Messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum EvmError {
    /// The node could not be reached at all.
    #[error("the node at {url} cannot be reached ({reason}); check the RPC URL in Settings or your connection")]
    Unreachable {
        /// The RPC URL.
        url: String,
        /// The transport's words.
        reason: String,
    },
    /// The node answered with an error.
    #[error("the node refused: {message} (code {code})")]
    Node {
        /// JSON-RPC error code.
        code: i64,
        /// Its message.
        message: String,
    },
    /// The node's answer could not be read.
    #[error("the node's answer could not be read: {0}")]
    BadResponse(String),
    /// The node serves another chain than configured.
    #[error("the node at this URL serves chain {actual}, not chain {expected}: fix the network's chain id or URL")]
    ChainMismatch {
        /// Configured chain id.
        expected: u64,
        /// What `eth_chainId` said.
        actual: u64,
    },
    /// The request is malformed (address, amount, token).
    #[error("{0}")]
    Invalid(String),
}
