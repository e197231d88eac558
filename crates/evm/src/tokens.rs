//! The built-in token list: the main ERC-20 tokens of each preconfigured network (stablecoins,
//! wrapped native coins, WBTC, LINK), each address with the source it was read from
//! (`data/tokens.json`: the issuers' or chains' own lists, pinned to the commit read). Only
//! tokens with a published address are listed; users add others by contract.

use std::str::FromStr;

use alloy_primitives::Address;
use serde::Deserialize;

use crate::erc20::Token;

const DATA: &str = include_str!("../data/tokens.json");

#[derive(Deserialize)]
struct File {
    networks: std::collections::BTreeMap<String, Vec<Entry>>,
}

#[derive(Deserialize)]
struct Entry {
    symbol: String,
    decimals: u8,
    address: String,
    // Checked by the tests (every address has a source); not needed at run time.
    #[cfg_attr(not(test), allow(dead_code))]
    source: String,
}

/// The built-in tokens of chain `chain_id` (empty for chains without a list).
pub fn builtin_tokens(chain_id: u64) -> Vec<Token> {
    let Ok(file) = serde_json::from_str::<File>(DATA) else {
        return vec![];
    };
    file.networks
        .get(&chain_id.to_string())
        .map(|list| {
            list.iter()
                .filter_map(|e| {
                    Address::parse_checksummed(&e.address, None)
                        .or_else(|_| Address::from_str(&e.address))
                        .ok()
                        .map(|address| Token {
                            symbol: e.symbol.clone(),
                            decimals: e.decimals,
                            address,
                        })
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_token_is_well_formed_and_sourced() {
        let file: File = serde_json::from_str(DATA).expect("the list parses");
        let mut n = 0;
        for (chain, list) in &file.networks {
            assert!(
                crate::NETWORKS
                    .iter()
                    .any(|net| net.chain_id.to_string() == *chain),
                "{chain} is a built-in network"
            );
            for e in list {
                // Mixed-case addresses must carry a valid EIP-55 checksum.
                let mixed = e.address[2..].chars().any(|c| c.is_ascii_uppercase());
                assert!(
                    !mixed || Address::parse_checksummed(&e.address, None).is_ok(),
                    "{chain} {}: checksum",
                    e.symbol
                );
                assert!(
                    e.source.starts_with("https://"),
                    "{chain} {}: source",
                    e.symbol
                );
                assert!(
                    matches!(e.decimals, 6 | 8 | 18),
                    "{chain} {}: decimals",
                    e.symbol
                );
                n += 1;
            }
            assert_eq!(builtin_tokens(chain.parse().expect("id")).len(), list.len());
        }
        assert!(n >= 30);
        let usdc = builtin_tokens(1)
            .into_iter()
            .find(|t| t.symbol == "USDC")
            .expect("USDC on Ethereum");
        assert_eq!(usdc.decimals, 6);
        assert!(builtin_tokens(31337).is_empty());
    }
}
