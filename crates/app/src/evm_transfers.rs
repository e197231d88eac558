//! What the EVM accounts moved, read at each refresh and kept in the store, so an account's
//! list shows what it received, not only what the app sent: token transfers from the node's
//! event logs, and the native coin in and out (with the fee paid) from nodes that index
//! addresses (the Otterscan API of Erigon and anvil). A payment in the native coin
//! leaves no log, so on a plain node it is not listed and the account says so.
//! Each account remembers the last block read for it; a first read of logs on a public
//! network looks back [`FIRST_SCAN_BLOCKS`] blocks, a local node is read from its first block;
//! an address index is read from the start.

use std::{collections::HashMap, str::FromStr};

use alloy_primitives::Address;
use coldlink_store::TransferRow;
use serde::Serialize;
use serde_json::json;

use crate::{
    evm_accounts::{link, store_error},
    AppError, Coldlink,
};

/// The `token` of a native-coin row.
pub(crate) const NATIVE: &str = "native";

fn indexed_key(network: &str) -> String {
    format!("evm.indexed.{network}")
}

/// How far back a first read of a public network goes (about two weeks of Ethereum blocks).
pub const FIRST_SCAN_BLOCKS: u64 = 100_000;

/// A transfer (token or native coin) as an account's list shows it.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct TransferView {
    /// The account it concerns.
    pub account_id: u32,
    /// Received (true) or sent.
    pub incoming: bool,
    /// "12.5 CLD".
    pub amount: String,
    /// The other side's address.
    pub counterparty: String,
    /// Transaction hash.
    pub hash: String,
    /// Block number (text).
    pub block: String,
    /// Block time (unix seconds), when known.
    pub time: Option<u32>,
    /// Explorer link, when the network has one.
    pub link: Option<String>,
}

impl Coldlink {
    /// Reads what every EVM account on `network` moved since the block last read for it
    /// (token logs; the native coin where the node indexes addresses), and keeps it.
    pub(crate) fn evm_scan_transfers(&self, network: &str) -> Result<(), AppError> {
        let net = self.network_by_key(network)?;
        let rpc = net.check()?;
        let latest: String = rpc.call("eth_blockNumber", json!([]))?;
        let latest = coldlink_evm::rpc::quantity_u64(&latest)?;
        let tokens: Vec<Address> = self.tokens_of(&net)?.iter().map(|t| t.address).collect();
        let accounts = self.with_store(|s| s.accounts().map_err(store_error))?;
        let mut indexed = coldlink_evm::indexes_addresses(&rpc)?;
        for a in accounts.iter().filter(|a| a.chain == "evm") {
            let Ok(address) = Address::from_str(&a.address) else {
                continue;
            };
            let key = format!("evm.transfers.{}.{}", net.key, a.id);
            let from = match self
                .with_store(|s| s.setting(&key).map_err(store_error))?
                .and_then(|b| b.parse::<u64>().ok())
            {
                Some(done) => done + 1,
                None if net.key == "local" => 0,
                None => latest.saturating_sub(FIRST_SCAN_BLOCKS),
            };
            let found = coldlink_evm::token_transfers(&rpc, &tokens, &[address], from, latest)?;
            let mut rows: Vec<TransferRow> = found
                .into_iter()
                .map(|t| TransferRow {
                    network: net.key.clone(),
                    tx_hash: t.tx_hash.to_string(),
                    log_index: i64::try_from(t.log_index).unwrap_or(i64::MAX),
                    token: t.token.to_checksum(None),
                    from_addr: t.from.to_checksum(None),
                    to_addr: t.to.to_checksum(None),
                    units: t.value.to_string(),
                    block: i64::try_from(t.block).unwrap_or(i64::MAX),
                    time: t.time.and_then(|x| i64::try_from(x).ok()),
                    fee: None,
                })
                .collect();
            let native_key = format!("evm.native.{}.{}", net.key, a.id);
            let mut native_done = None;
            if indexed {
                let after = self
                    .with_store(|s| s.setting(&native_key).map_err(store_error))?
                    .and_then(|b| b.parse::<u64>().ok())
                    .unwrap_or(0);
                let h = match coldlink_evm::native_history(&rpc, address, after) {
                    Ok(h) => h,
                    // A node that announces the index but refuses the search (Reth, or an
                    // address it has no state for) is a node without one: the token logs are
                    // still read, and the account says native payments are not listed.
                    Err(
                        coldlink_evm::EvmError::Node { .. }
                        | coldlink_evm::EvmError::BadResponse(_),
                    ) => {
                        indexed = false;
                        coldlink_evm::History::default()
                    }
                    Err(e) => return Err(e.into()),
                };
                native_done = if !indexed {
                    None
                } else if h.complete {
                    Some(latest.max(h.through.unwrap_or(0)))
                } else {
                    h.through
                };
                rows.extend(h.moves.into_iter().map(|m| TransferRow {
                    network: net.key.clone(),
                    tx_hash: m.tx_hash.to_string(),
                    log_index: m.index,
                    token: NATIVE.into(),
                    from_addr: m.from.to_checksum(None),
                    to_addr: m.to.to_checksum(None),
                    units: m.value.to_string(),
                    block: i64::try_from(m.block).unwrap_or(i64::MAX),
                    time: m.time.and_then(|x| i64::try_from(x).ok()),
                    fee: m.fee.map(|f| f.to_string()),
                }));
            }
            self.with_store(|s| {
                s.put_transfers(&rows).map_err(store_error)?;
                if let Some(done) = native_done {
                    s.set_position(&native_key, &done.to_string())
                        .map_err(store_error)?;
                }
                s.set_position(&key, &latest.to_string())
                    .map_err(store_error)
            })?;
        }
        self.with_store(|s| {
            s.set_position(&indexed_key(&net.key), if indexed { "1" } else { "0" })
                .map_err(store_error)
        })?;
        Ok(())
    }

    /// Whether `network`'s node lists native-coin payments (it indexes addresses), as found at
    /// the last refresh; `None` before the first.
    pub fn evm_lists_native(&self, network: &str) -> Result<Option<bool>, AppError> {
        let v = self.with_store(|s| s.setting(&indexed_key(network)).map_err(store_error))?;
        Ok(v.map(|v| v == "1"))
    }

    /// The transfers kept for `network`'s accounts, newest first; a transfer between two of
    /// the accounts is listed for each. Rows that moved no value (a contract call's fee) are
    /// left to the export.
    pub fn evm_transfers(&self, network: &str) -> Result<Vec<TransferView>, AppError> {
        let net = self.network_by_key(network)?;
        let (rows, accounts) = self.with_store(|s| {
            Ok((
                s.transfers(&net.key).map_err(store_error)?,
                s.accounts().map_err(store_error)?,
            ))
        })?;
        let tokens: HashMap<Address, (String, u8)> = self
            .tokens_of(&net)?
            .into_iter()
            .map(|t| (t.address, (t.symbol, t.decimals)))
            .collect();
        let ours: Vec<(u32, Address)> = accounts
            .iter()
            .filter(|a| a.chain == "evm")
            .filter_map(|a| {
                Some((
                    u32::try_from(a.id).ok()?,
                    Address::from_str(&a.address).ok()?,
                ))
            })
            .collect();
        let mut out = Vec::new();
        for r in &rows {
            let (Ok(from), Ok(to), Ok(units)) = (
                Address::from_str(&r.from_addr),
                Address::from_str(&r.to_addr),
                alloy_primitives::U256::from_str(&r.units),
            ) else {
                continue;
            };
            if units.is_zero() {
                continue;
            }
            let amount = if r.token == NATIVE {
                format!("{} {}", coldlink_evm::format_units(units, 18), net.symbol)
            } else {
                match Address::from_str(&r.token)
                    .ok()
                    .and_then(|t| tokens.get(&t))
                {
                    Some((symbol, decimals)) => {
                        format!("{} {symbol}", coldlink_evm::format_units(units, *decimals))
                    }
                    None => format!("{} units of {}", r.units, r.token),
                }
            };
            for (id, a) in &ours {
                for (incoming, other) in [(true, from), (false, to)] {
                    let mine = if incoming { to } else { from };
                    if mine == *a {
                        out.push(TransferView {
                            account_id: *id,
                            incoming,
                            amount: amount.clone(),
                            counterparty: other.to_checksum(None),
                            hash: r.tx_hash.clone(),
                            block: r.block.to_string(),
                            time: r.time.and_then(|t| u32::try_from(t).ok()),
                            link: link(&net, &r.tx_hash),
                        });
                    }
                }
            }
        }
        Ok(out)
    }
}
