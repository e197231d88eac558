//! The chain `Backend` seam: Electrum, Esplora, a Bitcoin Core/Knots node or an EVM JSON-RPC
//! endpoint each implement it, one module per backend, so the account logic above never knows
//! which one the user chose.
//!
//! Following BDK's split, syncing produces updates that the wallet applies; a backend never
//! mutates wallet state itself. Sync lives with each chain's account code; this trait covers
//! what every backend shares: is it reachable and on which chain, and broadcasting.

use std::fmt;

/// Why a backend call failed. Backend failures keep the last known state on screen.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// Nothing answered at the configured address.
    #[error("cannot reach {0}: check the address in Settings and that the server is running")]
    Unreachable(String),
    /// It answered, but for a different network than the account's.
    #[error("the server is on {found}, but this account is on {expected}")]
    WrongNetwork {
        /// The account's network.
        expected: String,
        /// What the server reports.
        found: String,
    },
    /// The server refused a broadcast; its reason is kept verbatim for the user.
    #[error("the network refused the transaction: {0}")]
    Rejected(String),
    /// The server answered something we could not parse.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
}

/// A backend's view of its chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendStatus {
    /// Chain name or EVM chain id as the server reports it ("regtest", "1").
    pub network: String,
    /// Height of the best block.
    pub tip_height: u64,
}

/// Something that serves chain data and relays transactions.
pub trait Backend: Send + Sync + fmt::Debug {
    /// Human-readable endpoint ("Electrum at 127.0.0.1:50001").
    fn describe(&self) -> String;
    /// Connection test for Settings: reachable, which chain, how far synced.
    fn status(&self) -> Result<BackendStatus, BackendError>;
    /// Relays a fully signed, serialised transaction; returns its id as the chain writes it.
    fn broadcast(&self, raw_tx: &[u8]) -> Result<String, BackendError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_next_step() {
        let e = BackendError::Unreachable("Electrum at 127.0.0.1:50001".into());
        assert!(e.to_string().contains("check the address in Settings"));
        let e = BackendError::WrongNetwork {
            expected: "signet".into(),
            found: "mainnet".into(),
        };
        assert_eq!(
            e.to_string(),
            "the server is on mainnet, but this account is on signet"
        );
    }
}
