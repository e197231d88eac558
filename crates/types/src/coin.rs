//! Coins Coldlink handles and the Bitcoin networks it can be pointed at.

use serde::{Deserialize, Serialize};

/// A coin family with its own chain logic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum Coin {
    /// Bitcoin (8 decimals).
    Btc,
    /// Ether and EVM chains (18 decimals for the native coin).
    Eth,
}

impl Coin {
    /// Decimals between the base unit and the display unit of the native coin.
    pub fn decimals(self) -> u8 {
        match self {
            Coin::Btc => 8,
            Coin::Eth => 18,
        }
    }

    /// Ticker shown beside amounts.
    pub fn symbol(self) -> &'static str {
        match self {
            Coin::Btc => "BTC",
            Coin::Eth => "ETH",
        }
    }
}

/// Bitcoin networks. Test networks are first-class because users rehearse with them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum BitcoinNetwork {
    /// The real network.
    Mainnet,
    /// Testnet version 4 (BIP94).
    Testnet4,
    /// The default signet.
    Signet,
    /// A local regression-test chain.
    Regtest,
}

impl BitcoinNetwork {
    /// SLIP-44 coin type used in derivation paths: 0 on mainnet, 1 on every test network.
    pub fn coin_type(self) -> u32 {
        match self {
            BitcoinNetwork::Mainnet => 0,
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_stable() {
        assert_eq!(
            serde_json::to_string(&Coin::Btc).ok().as_deref(),
            Some("\"btc\"")
        );
        assert_eq!(
            serde_json::from_str::<BitcoinNetwork>("\"testnet4\"").ok(),
            Some(BitcoinNetwork::Testnet4)
        );
        assert!(serde_json::from_str::<BitcoinNetwork>("\"testnet3\"").is_err());
        assert_eq!(BitcoinNetwork::Mainnet.coin_type(), 0);
        assert_eq!(BitcoinNetwork::Regtest.coin_type(), 1);
        assert_eq!((Coin::Eth.decimals(), Coin::Eth.symbol()), (18, "ETH"));
    }
}
