//! An address's own transactions — the native coin in and out, and the fee it paid — from
//! nodes that index addresses through the Otterscan API (`ots_*`: Erigon, anvil; Reth
//! announces it but, at the time of writing, does not implement the search, and the caller
//! then treats the node as one without an index). Plain
//! JSON-RPC has no "transactions of an address", and a payment in the native coin leaves no
//! event log, so without that index the app cannot list what an account received;
//! [`indexes_addresses`] tells which case a node is.
//!
//! Pages come newest first and hold whole blocks, so reading forward page by page from the
//! last block already read never splits a block.

use alloy_primitives::{Address, B256, U256};
use serde_json::{json, Value};

use crate::{
    rpc::{quantity, quantity_u64},
    transfer::paid_fee,
    EvmError, Rpc,
};

/// Transactions asked per page (a page may hold more: it never splits a block).
const PAGE: u64 = 25;

/// Pages read in one call; the rest waits for the next refresh.
const MAX_PAGES: usize = 200;

/// One movement of the native coin that concerns the address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NativeMove {
    /// Transaction hash.
    pub tx_hash: B256,
    /// -1 for the transaction itself, -2, -3, … for value moved inside it by contracts.
    pub index: i64,
    /// Sender.
    pub from: Address,
    /// Recipient (the created contract's address is not followed: `0x0…0`).
    pub to: Address,
    /// Wei moved (0 when the transaction failed or moved nothing).
    pub value: U256,
    /// Block number.
    pub block: u64,
    /// Block time, unix seconds, when the node says.
    pub time: Option<u64>,
    /// Fee the sender paid, on the transaction's own row when the address sent it.
    pub fee: Option<U256>,
}

/// What one reading found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// Oldest first.
    pub moves: Vec<NativeMove>,
    /// Every block up to this one has been read (whole pages hold whole blocks).
    pub through: Option<u64>,
    /// True when the newest page was reached (a page shorter than asked); false when
    /// [`MAX_PAGES`] stopped it.
    pub complete: bool,
}

/// Whether the node answers the Otterscan API (level 8 or later). A node that refuses the
/// method is `false`; one that cannot be reached is an error.
pub fn indexes_addresses(rpc: &Rpc) -> Result<bool, EvmError> {
    match rpc.call::<Value>("ots_getApiLevel", json!([])) {
        Ok(v) => Ok(v.as_u64().is_some_and(|level| level >= 8)),
        Err(EvmError::Node { .. }) | Err(EvmError::BadResponse(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

fn address_of(v: &Value) -> Option<Address> {
    v.as_str()?.parse().ok()
}

/// The native-coin movements of `address` in blocks after `after` (exclusive; 0 reads from
/// the start), oldest first.
pub fn native_history(rpc: &Rpc, address: Address, after: u64) -> Result<History, EvmError> {
    let mut out = History {
        through: None,
        ..History::default()
    };
    let mut start = after;
    for _ in 0..MAX_PAGES {
        let page: Value = rpc.call("ots_searchTransactionsAfter", json!([address, start, PAGE]))?;
        let txs = page["txs"]
            .as_array()
            .ok_or_else(|| EvmError::BadResponse("ots_searchTransactionsAfter: no txs".into()))?;
        let receipts = page["receipts"].as_array().cloned().unwrap_or_default();
        let mut highest = start;
        let mut found = Vec::new();
        let mut inner = Vec::new();
        for (i, tx) in txs.iter().enumerate() {
            let receipt = receipts.get(i).cloned().unwrap_or(Value::Null);
            let m = top_level(tx, &receipt, address)?;
            highest = highest.max(m.block);
            if succeeded(&receipt) {
                inner.push(m.clone());
            }
            if m.from == address || m.to == address {
                found.push(m);
            }
        }
        found.extend(internal_moves(rpc, address, &inner)?);
        out.moves.extend(found);
        // `firstPage` is not trusted: some servers set it while trimming a page to its size.
        // A page shorter than asked is the last one; a full one is followed by another call.
        if (txs.len() as u64) < PAGE || highest == start {
            out.complete = true;
            out.through = (highest > after).then_some(highest);
            break;
        }
        out.through = Some(highest);
        start = highest;
    }
    out.moves.sort_by_key(|m| (m.block, m.tx_hash, -m.index));
    Ok(out)
}

/// Whether a receipt says the transaction ran: only an explicit status 0 is a failure
/// (receipts from before Byzantium carry a state root instead of a status).
fn succeeded(receipt: &Value) -> bool {
    receipt["status"].as_str() != Some("0x0")
}

/// The transaction's own movement, whoever it concerns (the caller keeps ours).
fn top_level(tx: &Value, receipt: &Value, address: Address) -> Result<NativeMove, EvmError> {
    let bad = |what: &str| EvmError::BadResponse(format!("ots_searchTransactionsAfter: {what}"));
    let Some(hash) = tx["hash"].as_str().and_then(|h| h.parse::<B256>().ok()) else {
        return Err(bad("a transaction without a hash"));
    };
    let from = address_of(&tx["from"]).ok_or_else(|| bad("a transaction without a sender"))?;
    let to = address_of(&tx["to"]).unwrap_or(Address::ZERO);
    let block = quantity_u64(tx["blockNumber"].as_str().unwrap_or_default())?;
    let ok = succeeded(receipt);
    let value = if ok {
        quantity(&tx["value"])?
    } else {
        U256::ZERO
    };
    let time = [&receipt["timestamp"], &tx["blockTimestamp"]]
        .into_iter()
        .find_map(|v| v.as_str().and_then(|t| quantity_u64(t).ok()).or(v.as_u64()));
    Ok(NativeMove {
        tx_hash: hash,
        index: -1,
        from,
        to,
        value,
        block,
        time,
        fee: (from == address).then(|| paid_fee(receipt)).flatten(),
    })
}

/// Value that contracts moved to or from `address` inside the given transactions
/// (`ots_getInternalOperations`: transfers and self-destructs). Some nodes list the
/// transaction's own call among them: that one is already counted.
fn internal_moves(
    rpc: &Rpc,
    address: Address,
    txs: &[NativeMove],
) -> Result<Vec<NativeMove>, EvmError> {
    let calls: Vec<(&str, Value)> = txs
        .iter()
        .map(|t| ("ots_getInternalOperations", json!([t.tx_hash])))
        .collect();
    let mut out = Vec::new();
    for (answer, tx) in rpc.batch(&calls)?.into_iter().zip(txs) {
        let Ok(Value::Array(ops)) = answer else {
            continue;
        };
        let mut index = -1;
        for op in &ops {
            // 0: transfer, 1: self-destruct; 2 and 3 create contracts.
            if !matches!(op["type"].as_u64(), Some(0 | 1)) {
                continue;
            }
            let (Some(from), Some(to), Ok(value)) = (
                address_of(&op["from"]),
                address_of(&op["to"]),
                quantity(&op["value"]),
            ) else {
                continue;
            };
            if from == tx.from && to == tx.to && value == tx.value {
                continue;
            }
            index -= 1;
            if value.is_zero() || (from != address && to != address) {
                continue;
            }
            out.push(NativeMove {
                index,
                from,
                to,
                value,
                fee: None,
                ..tx.clone()
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Address {
        s.parse().expect("address")
    }

    #[test]
    fn a_sent_transaction_carries_its_fee_and_a_failed_one_moves_nothing() {
        let me = addr("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
        let tx = json!({
            "hash": format!("0x{}", "ab".repeat(32)),
            "from": "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266",
            "to": "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
            "value": "0x100",
            "blockNumber": "0x7",
        });
        let receipt = json!({
            "status": "0x1", "gasUsed": "0x5208", "effectiveGasPrice": "0x3b9aca00",
            "timestamp": "0x6b03e667",
        });
        let m = top_level(&tx, &receipt, me).expect("read");
        assert_eq!(m.value, U256::from(0x100));
        assert_eq!(m.block, 7);
        assert_eq!(m.time, Some(0x6b03e667));
        assert_eq!(m.fee, Some(U256::from(21_000u64 * 1_000_000_000)));
        let failed = json!({"status": "0x0", "gasUsed": "0x5208", "effectiveGasPrice": "0x1"});
        let m = top_level(&tx, &failed, me).expect("read");
        assert_eq!((m.value, m.fee), (U256::ZERO, Some(U256::from(21_000u64))));
        // Before Byzantium a receipt has a state root, no status: the transaction ran.
        let old = json!({"root": format!("0x{}", "11".repeat(32)), "gasUsed": "0x5208", "effectiveGasPrice": "0x1"});
        assert_eq!(
            top_level(&tx, &old, me).expect("read").value,
            U256::from(0x100)
        );
        // Received: no fee on our side.
        let other = addr("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
        let m = top_level(&tx, &receipt, other).expect("read");
        assert_eq!(m.fee, None);
        let mut broken = tx.clone();
        broken["blockNumber"] = json!("seven");
        assert!(top_level(&broken, &receipt, me).is_err());
    }
}
