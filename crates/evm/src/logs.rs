//! ERC-20 transfers to and from the app's accounts, read from the node's event logs
//! (`eth_getLogs` on the `Transfer` event). JSON-RPC has no "history of an address"; token
//! transfers are the part of it a plain node can answer. Only tokens the app knows are asked
//! for: an unknown contract's "transfers" are mostly spam airdrops. Blocks are read in
//! ranges, halved when a node refuses a range as too large.

use alloy_primitives::{b256, Address, B256, U256};
use serde_json::{json, Value};

use crate::{rpc::quantity_u64, EvmError, Rpc};

/// `keccak256("Transfer(address,address,uint256)")`.
pub const TRANSFER_TOPIC: B256 =
    b256!("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");

/// The most blocks asked in one request before a node says otherwise.
const SPAN: u64 = 10_000;

/// One token transfer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenTransfer {
    /// The token contract.
    pub token: Address,
    /// Sender (`0x0…0` for a mint).
    pub from: Address,
    /// Recipient.
    pub to: Address,
    /// Base units.
    pub value: U256,
    /// Block number.
    pub block: u64,
    /// Transaction hash.
    pub tx_hash: B256,
    /// Position of the event in its block.
    pub log_index: u64,
    /// Block time, unix seconds, when known.
    pub time: Option<u64>,
}

fn topic_of(a: &Address) -> B256 {
    a.into_word()
}

/// Reads one log; `None` for anything that is not an ERC-20 `Transfer` (ERC-721 has the same
/// event with a third indexed topic and no data).
fn parse(v: &Value) -> Option<TokenTransfer> {
    let topics: Vec<B256> = v["topics"]
        .as_array()?
        .iter()
        .filter_map(|t| t.as_str()?.parse().ok())
        .collect();
    if topics.len() != 3 || topics[0] != TRANSFER_TOPIC {
        return None;
    }
    let data = v["data"].as_str()?.trim_start_matches("0x");
    if data.len() != 64 {
        return None;
    }
    Some(TokenTransfer {
        token: v["address"].as_str()?.parse().ok()?,
        from: Address::from_word(topics[1]),
        to: Address::from_word(topics[2]),
        value: U256::from_str_radix(data, 16).ok()?,
        block: quantity_u64(v["blockNumber"].as_str()?).ok()?,
        tx_hash: v["transactionHash"].as_str()?.parse().ok()?,
        log_index: quantity_u64(v["logIndex"].as_str()?).ok()?,
        // Newer nodes put the block's time on each log; the others are asked per block.
        time: v["blockTimestamp"]
            .as_str()
            .and_then(|t| quantity_u64(t).ok()),
    })
}

/// Transfers of `tokens` from or to any of `accounts` in blocks `from..=to`, oldest first,
/// each once (a transfer between two of the accounts is both sent and received).
pub fn token_transfers(
    rpc: &Rpc,
    tokens: &[Address],
    accounts: &[Address],
    from: u64,
    to: u64,
) -> Result<Vec<TokenTransfer>, EvmError> {
    let mut out = Vec::new();
    if tokens.is_empty() || accounts.is_empty() || from > to {
        return Ok(out);
    }
    let who: Vec<B256> = accounts.iter().map(topic_of).collect();
    let mut start = from;
    let mut span = SPAN;
    while start <= to {
        let end = to.min(start.saturating_add(span - 1));
        let filter = |topics: Value| {
            json!([{
                "fromBlock": format!("0x{start:x}"),
                "toBlock": format!("0x{end:x}"),
                "address": tokens,
                "topics": topics,
            }])
        };
        let answers = rpc.batch(&[
            (
                "eth_getLogs",
                filter(json!([TRANSFER_TOPIC, Value::Null, who])),
            ),
            ("eth_getLogs", filter(json!([TRANSFER_TOPIC, who]))),
        ])?;
        let mut logs = Vec::new();
        let mut refused = None;
        for a in answers {
            match a {
                Ok(Value::Array(list)) => logs.extend(list),
                Ok(_) => return Err(EvmError::BadResponse("eth_getLogs: not a list".into())),
                Err(e) => refused = Some(e),
            }
        }
        if let Some(e) = refused {
            // Public nodes cap the range or the number of results: ask for less.
            if span > 1 {
                span = (span / 2).max(1);
                continue;
            }
            return Err(e.into());
        }
        out.extend(logs.iter().filter_map(parse));
        start = end + 1;
    }
    out.sort_by_key(|t| (t.block, t.log_index));
    out.dedup_by_key(|t| (t.tx_hash, t.log_index));
    let mut missing: Vec<u64> = out
        .iter()
        .filter(|t| t.time.is_none())
        .map(|t| t.block)
        .collect();
    missing.dedup();
    let times = block_times(rpc, &missing)?;
    for t in out.iter_mut().filter(|t| t.time.is_none()) {
        t.time = times.get(&t.block).copied();
    }
    Ok(out)
}

/// The times (unix seconds) of `blocks`, asked in batches; a block the node does not answer
/// is left out.
pub fn block_times(
    rpc: &Rpc,
    blocks: &[u64],
) -> Result<std::collections::HashMap<u64, u64>, EvmError> {
    let mut out = std::collections::HashMap::new();
    for chunk in blocks.chunks(100) {
        let calls: Vec<(&str, Value)> = chunk
            .iter()
            .map(|b| ("eth_getBlockByNumber", json!([format!("0x{b:x}"), false])))
            .collect();
        for (b, answer) in chunk.iter().zip(rpc.batch(&calls)?) {
            if let Some(t) = answer
                .ok()
                .and_then(|v| v["timestamp"].as_str().and_then(|t| quantity_u64(t).ok()))
            {
                out.insert(*b, t);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transfer_log_is_read_and_anything_else_is_not() {
        assert_eq!(
            TRANSFER_TOPIC,
            alloy_primitives::keccak256("Transfer(address,address,uint256)")
        );
        let log = json!({
            "address": "0x6b175474e89094c44da98b954eedeac495271d0f",
            "topics": [
                "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef",
                "0x0000000000000000000000009858effd232b4033e47d90003d41ec34ecaeda94",
                "0x000000000000000000000000f39fd6e51aad88f6f4ce6ab8827279cfffb92266"
            ],
            "data": "0x00000000000000000000000000000000000000000000000000000000000f4240",
            "blockNumber": "0x10",
            "transactionHash": "0x88df016429689c079f3b2f6ad39fa052532c56795b733da78a91ebe6a713944b",
            "logIndex": "0x2"
        });
        let t = parse(&log).expect("a transfer");
        assert_eq!(t.value, U256::from(1_000_000u64));
        assert_eq!(
            t.from,
            "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"
                .parse::<Address>()
                .expect("address")
        );
        assert_eq!((t.block, t.log_index), (16, 2));
        // ERC-721: the token id is a fourth topic.
        let mut nft = log.clone();
        nft["topics"].as_array_mut().expect("topics").push(json!(
            "0x0000000000000000000000000000000000000000000000000000000000000001"
        ));
        nft["data"] = json!("0x");
        assert!(parse(&nft).is_none());
        let mut other = log;
        other["topics"][0] = json!(format!("0x{}", "11".repeat(32)));
        assert!(parse(&other).is_none());
    }
}
