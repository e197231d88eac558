//! Token transfers of the EVM accounts, read from the node's event logs at each refresh and
//! kept in the store, so an account's list shows what it received, not only what the app sent.
//! Each account remembers the last block read for it; a first read of a public network looks
//! back [`FIRST_SCAN_BLOCKS`] blocks, a local node is read from its first block. Native coin
//! transfers from others do not appear in logs and need an indexer: they are not listed.

use std::{collections::HashMap, str::FromStr};

use alloy_primitives::Address;
use coldlink_store::TransferRow;
use serde::Serialize;
use serde_json::json;

use crate::{
    evm_accounts::{link, store_error},
    AppError, Coldlink,
};

/// How far back a first read of a public network goes (about two weeks of Ethereum blocks).
pub const FIRST_SCAN_BLOCKS: u64 = 100_000;

/// A token transfer as an account's list shows it.
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
    /// Explorer link, when the network has one.
    pub link: Option<String>,
}

impl Coldlink {
    /// Reads the token transfers of every EVM account on `network` since the block last read
    /// for it, and keeps them.
    pub(crate) fn evm_scan_transfers(&self, network: &str) -> Result<(), AppError> {
        let net = self.network_by_key(network)?;
        let rpc = net.check()?;
        let latest: String = rpc.call("eth_blockNumber", json!([]))?;
        let latest = coldlink_evm::rpc::quantity_u64(&latest)?;
        let tokens: Vec<Address> = self.tokens_of(&net)?.iter().map(|t| t.address).collect();
        let accounts = self.with_store(|s| s.accounts().map_err(store_error))?;
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
            let rows: Vec<TransferRow> = found
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
                })
                .collect();
            self.with_store(|s| {
                s.put_transfers(&rows).map_err(store_error)?;
                s.set_setting(&key, &latest.to_string())
                    .map_err(store_error)
            })?;
        }
        Ok(())
    }

    /// The token transfers kept for `network`'s accounts, newest first; a transfer between
    /// two of the accounts is listed for each.
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
            let (Ok(token), Ok(from), Ok(to)) = (
                Address::from_str(&r.token),
                Address::from_str(&r.from_addr),
                Address::from_str(&r.to_addr),
            ) else {
                continue;
            };
            let amount = match (
                tokens.get(&token),
                alloy_primitives::U256::from_str(&r.units),
            ) {
                (Some((symbol, decimals)), Ok(u)) => {
                    format!("{} {symbol}", coldlink_evm::format_units(u, *decimals))
                }
                _ => format!("{} units of {}", r.units, r.token),
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
                            link: link(&net, &r.tx_hash),
                        });
                    }
                }
            }
        }
        Ok(out)
    }
}
