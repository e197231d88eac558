//! Everything the accounts moved, across networks, as one list: what the transactions export
//! writes and what the value-over-time chart walks back from today's balances. Sources:
//! Bitcoin accounts' own wallets (BDK's transaction graph), EVM transfers read from the nodes
//! (token logs; native coin where the node indexes addresses) and the app's own EVM sends,
//! which fill in what a plain node cannot tell (a native payment, the fee paid).
//!
//! Amounts are exact base units. `units` never includes the fee: a send's balance change is
//! `-units - fee` when the fee is in the same asset.

use std::{
    collections::{BTreeMap, HashMap},
    str::FromStr,
};

use alloy_primitives::{Address, U256};
use coldlink_store::{AccountRow, SendRow, TransferRow};

use crate::{
    evm_accounts::store_error, evm_transfers::NATIVE, portfolio::keys, AppError, Coldlink,
};

/// One change of one asset in one account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Movement {
    /// Unix seconds (block time, first seen, or when the app sent it); `None` when unknown.
    pub time: Option<i64>,
    /// Block (height), when mined: orders movements of the same second.
    pub block: Option<i64>,
    /// Portfolio key of the network ("local", "bitcoin:regtest").
    pub network: String,
    /// The account.
    pub account_id: i64,
    /// Ticker ("BTC", "ETH", "USDC").
    pub symbol: String,
    /// Decimal places of `units`.
    pub decimals: u8,
    /// Into the account (true) or out of it.
    pub incoming: bool,
    /// Base units moved, fee excluded.
    pub units: U256,
    /// Fee the account paid, in the network's coin.
    pub fee: Option<U256>,
    /// The network's coin and its decimals (what `fee` is in).
    pub fee_symbol: String,
    /// Decimal places of `fee`.
    pub fee_decimals: u8,
    /// Transaction id.
    pub txid: String,
    /// "confirmed", "pending", "failed".
    pub status: String,
    /// The other side, when one address says it (EVM).
    pub counterparty: String,
    /// The user's label on the transaction.
    pub label: Option<String>,
}

impl Movement {
    /// The change to the balance of `symbol`: (increase, decrease).
    pub(crate) fn change_of(&self, symbol: &str) -> (U256, U256) {
        let mut up = U256::ZERO;
        let mut down = U256::ZERO;
        if self.symbol == symbol {
            if self.incoming {
                up = self.units;
            } else {
                down = self.units;
            }
        }
        if self.fee_symbol == symbol {
            down = down.saturating_add(self.fee.unwrap_or_default());
        }
        (up, down)
    }
}

/// The sender of a review (its `from`).
fn from_of(review: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(review).ok()?;
    Some(v.get("from")?.as_str()?.to_owned())
}

/// The symbol and amount of a review's "12.5 CLD".
fn split_amount(text: &str) -> Option<(&str, &str)> {
    let (amount, symbol) = text.trim().split_once(' ')?;
    Some((amount, symbol.trim()))
}

impl Coldlink {
    /// What the accounts on `networks` (portfolio keys, comma-separated) moved, oldest first
    /// (unknown times last).
    pub(crate) fn movements(&self, networks: &str) -> Result<Vec<Movement>, AppError> {
        let (accounts, labels) = self.with_store(|s| {
            Ok((
                s.accounts().map_err(store_error)?,
                s.labels().map_err(store_error)?,
            ))
        })?;
        let labels: HashMap<String, String> = labels
            .into_iter()
            .filter(|l| l.kind == "tx")
            .map(|l| (l.reference.to_lowercase(), l.label))
            .collect();
        let mut out = Vec::new();
        for key in keys(networks) {
            match key.strip_prefix("bitcoin:") {
                Some(chain) => self.btc_movements(chain, &accounts, &mut out)?,
                None => self.evm_movements(key, &accounts, &mut out)?,
            }
        }
        for m in &mut out {
            m.label = labels.get(&m.txid.to_lowercase()).cloned();
        }
        out.sort_by_key(|m| (m.time.is_none(), m.time, m.block.is_none(), m.block));
        Ok(out)
    }

    fn btc_movements(
        &self,
        chain: &str,
        accounts: &[AccountRow],
        out: &mut Vec<Movement>,
    ) -> Result<(), AppError> {
        let network = crate::bitcoin_ops::parse_chain(chain)?;
        let key = crate::btc_send::network_key(network);
        for a in accounts
            .iter()
            .filter(|a| a.chain == "bitcoin" && a.network.as_deref() == Some(&network.to_string()))
        {
            let Ok(id) = u32::try_from(a.id) else {
                continue;
            };
            // A single watched address has no wallet: its history is kept in the store.
            if let Some((_, rows)) = self.address_txs(id)? {
                for r in rows {
                    let paid = r.fee.filter(|_| r.sent > 0);
                    let moved = r
                        .received
                        .saturating_sub(r.sent)
                        .saturating_add(paid.unwrap_or(0));
                    let mut m =
                        btc_movement(&key, a.id, &r.txid, moved, paid.map(i64::unsigned_abs));
                    // Unconfirmed: counted in today's balance, so it happened "now".
                    m.time = r
                        .time
                        .or_else(|| r.height.is_none().then(crate::prices::now));
                    m.block = r.height;
                    m.status = if r.height.is_some() {
                        "confirmed"
                    } else {
                        "pending"
                    }
                    .into();
                    out.push(m);
                }
                continue;
            }
            let Ok((_, _, wallet)) = self.open_wallet(id) else {
                continue;
            };
            for e in wallet.history() {
                let paid = e.sent_sats > 0;
                let fee = if paid {
                    e.fee.map(|f| f.to_sat())
                } else {
                    None
                };
                // Net includes the fee when the account paid it; the movement does not.
                let moved = e.net_sats + i64::try_from(fee.unwrap_or(0)).unwrap_or(0);
                let mut m = btc_movement(&key, a.id, &e.txid.to_string(), moved, fee);
                m.time = e.time.and_then(|t| i64::try_from(t).ok());
                m.block = e.height.map(i64::from);
                m.status = if e.confirmations > 0 {
                    "confirmed"
                } else {
                    "pending"
                }
                .into();
                out.push(m);
            }
        }
        Ok(())
    }

    fn evm_movements(
        &self,
        key: &str,
        accounts: &[AccountRow],
        out: &mut Vec<Movement>,
    ) -> Result<(), AppError> {
        let net = self.network_by_key(key)?;
        let (transfers, sends) = self.with_store(|s| {
            Ok((
                s.transfers(&net.key).map_err(store_error)?,
                s.sends(&net.key).map_err(store_error)?,
            ))
        })?;
        let tokens: HashMap<String, (String, u8)> = self
            .tokens_of(&net)?
            .into_iter()
            .map(|t| (t.address.to_checksum(None), (t.symbol, t.decimals)))
            .collect();
        let ours: Vec<(i64, Address)> = accounts
            .iter()
            .filter(|a| a.chain == "evm")
            .filter_map(|a| Some((a.id, Address::from_str(&a.address).ok()?)))
            .collect();
        let base = |account_id: i64, txid: &str| Movement {
            time: None,
            block: None,
            network: net.key.clone(),
            account_id,
            symbol: net.symbol.clone(),
            decimals: 18,
            incoming: false,
            units: U256::ZERO,
            fee: None,
            fee_symbol: net.symbol.clone(),
            fee_decimals: 18,
            txid: txid.to_owned(),
            status: "confirmed".into(),
            counterparty: String::new(),
            label: None,
        };
        let mut found: Vec<Movement> = Vec::new();
        for r in &transfers {
            found.extend(transfer_movements(r, &ours, &tokens, &base));
        }
        fold_fees(&mut found);
        for s in &sends {
            let Some(account_id) = s.account_id else {
                continue;
            };
            let fee = s.fee_paid.as_deref().and_then(|f| U256::from_str(f).ok());
            let Some(m) = send_movement(s, account_id, fee, &tokens, &base) else {
                continue;
            };
            // Read from the node already (same transaction, account, asset, direction): only
            // the fee may be missing (token logs do not say what the sender paid).
            if let Some(known) = found.iter_mut().find(|k| {
                k.txid.eq_ignore_ascii_case(&m.txid)
                    && k.account_id == account_id
                    && !k.incoming
                    && k.symbol == m.symbol
            }) {
                if let Some(fee) = fee {
                    known.fee.get_or_insert(fee);
                }
                continue;
            }
            // Between two of the accounts, the other one received it (a plain node does not
            // say so for the native coin).
            if let Some((to_id, _)) = ours
                .iter()
                .find(|(_, a)| Address::from_str(&m.counterparty).is_ok_and(|c| c == *a))
            {
                let already = found.iter().any(|k| {
                    k.txid.eq_ignore_ascii_case(&m.txid) && k.account_id == *to_id && k.incoming
                });
                if !already {
                    found.push(Movement {
                        account_id: *to_id,
                        incoming: true,
                        fee: None,
                        counterparty: from_of(&s.review).unwrap_or_default(),
                        ..m.clone()
                    });
                }
            }
            found.push(m);
        }
        out.extend(found);
        Ok(())
    }
}

/// A Bitcoin movement of `moved` satoshis (signed, fee excluded) and the fee the account paid.
fn btc_movement(
    network: &str,
    account_id: i64,
    txid: &str,
    moved: i64,
    fee: Option<u64>,
) -> Movement {
    Movement {
        time: None,
        block: None,
        network: network.to_owned(),
        account_id,
        symbol: "BTC".into(),
        decimals: 8,
        incoming: moved > 0,
        units: U256::from(moved.unsigned_abs()),
        fee: fee.map(U256::from),
        fee_symbol: "BTC".into(),
        fee_decimals: 8,
        txid: txid.to_owned(),
        status: "confirmed".into(),
        counterparty: String::new(),
        label: None,
    }
}

/// The movements one stored transfer makes in the accounts (both sides when both are ours).
fn transfer_movements(
    r: &TransferRow,
    ours: &[(i64, Address)],
    tokens: &HashMap<String, (String, u8)>,
    base: &dyn Fn(i64, &str) -> Movement,
) -> Vec<Movement> {
    let (Ok(from), Ok(to), Ok(units)) = (
        Address::from_str(&r.from_addr),
        Address::from_str(&r.to_addr),
        U256::from_str(&r.units),
    ) else {
        return vec![];
    };
    let fee = r.fee.as_deref().and_then(|f| U256::from_str(f).ok());
    let mut list = Vec::new();
    for (id, a) in ours {
        for incoming in [false, true] {
            if (if incoming { to } else { from }) != *a {
                continue;
            }
            let mut m = base(*id, &r.tx_hash);
            m.time = r.time;
            m.block = Some(r.block);
            m.incoming = incoming;
            m.units = units;
            let other = if incoming { from } else { to };
            // A native row to 0x0…0 created a contract: there is nobody on the other side.
            if r.token != NATIVE || !other.is_zero() {
                m.counterparty = other.to_checksum(None);
            }
            if r.token != NATIVE {
                let Some((symbol, decimals)) = Address::from_str(&r.token)
                    .ok()
                    .and_then(|t| tokens.get(&t.to_checksum(None)))
                else {
                    continue;
                };
                m.symbol = symbol.clone();
                m.decimals = *decimals;
            }
            if !incoming {
                m.fee = fee;
            }
            list.push(m);
        }
    }
    list
}

/// A contract call moves no coin but pays a fee: that fee goes on the same transaction's
/// outgoing token movement when there is one, and the empty row is dropped.
fn fold_fees(found: &mut Vec<Movement>) {
    let mut i = 0;
    while i < found.len() {
        let m = &found[i];
        let empty_fee_row = m.units.is_zero() && m.fee.is_some() && m.symbol == m.fee_symbol;
        if empty_fee_row {
            let (txid, account, fee) = (m.txid.clone(), m.account_id, m.fee);
            if let Some(j) = found.iter().position(|o| {
                o.txid == txid && o.account_id == account && !o.incoming && o.symbol != o.fee_symbol
            }) {
                found[j].fee = found[j].fee.or(fee);
                found.remove(i);
                continue;
            }
        }
        i += 1;
    }
}

/// A send the app made that the node has not listed (no address index, or not read yet).
fn send_movement(
    s: &SendRow,
    account_id: i64,
    fee: Option<U256>,
    tokens: &HashMap<String, (String, u8)>,
    base: &dyn Fn(i64, &str) -> Movement,
) -> Option<Movement> {
    let review: serde_json::Value = serde_json::from_str(&s.review).ok()?;
    let (amount, symbol) = split_amount(review.get("amount")?.as_str()?)?;
    let mut m = base(account_id, &s.hash);
    let decimals = match review.get("tokenContract").and_then(|v| v.as_str()) {
        Some(contract) => {
            let checksummed = Address::from_str(contract).ok()?.to_checksum(None);
            tokens.get(&checksummed).map_or(18, |t| t.1)
        }
        None => 18,
    };
    m.symbol = symbol.to_owned();
    m.decimals = decimals;
    // A reverted transaction moved nothing but its fee.
    m.units = if s.status == "failed" {
        U256::ZERO
    } else {
        coldlink_evm::parse_units(amount, decimals).ok()?
    };
    m.fee = fee;
    m.time = Some(s.created_at);
    m.block = s.block;
    m.status = s.status.clone();
    m.counterparty = review
        .get("recipient")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();
    Some(m)
}

/// A balance's key: (network, account, symbol).
pub(crate) type BalanceKey = (String, i64, String);

/// Balances walked back in time through the movements: start from today's, then ask for
/// earlier and earlier moments; each movement is undone once (newest first), so a whole
/// chart costs one pass over the history.
pub(crate) struct Rewind<'a> {
    balances: BTreeMap<BalanceKey, U256>,
    later: Vec<&'a Movement>,
    next: usize,
}

impl<'a> Rewind<'a> {
    /// From today's balances. Every asset a movement names gets a balance (zero today), so an
    /// asset spent entirely still has its past.
    pub(crate) fn new(mut today: BTreeMap<BalanceKey, U256>, moves: &'a [Movement]) -> Self {
        // A pending EVM send is not in balances read at the latest block yet; a pending
        // Bitcoin transaction is (the wallets count unconfirmed coins).
        let mut later: Vec<&Movement> = moves
            .iter()
            .filter(|m| m.time.is_some())
            .filter(|m| m.status != "pending" || m.network.starts_with("bitcoin:"))
            .collect();
        // Newest first; within a second, the later block first (unconfirmed last of all).
        later.sort_by_key(|m| std::cmp::Reverse((m.time, m.block.unwrap_or(i64::MAX))));
        for m in &later {
            for symbol in [&m.symbol, &m.fee_symbol] {
                today
                    .entry((m.network.clone(), m.account_id, symbol.clone()))
                    .or_default();
            }
        }
        Self {
            balances: today,
            later,
            next: 0,
        }
    }

    /// The balances just before `at` (unix seconds); `at` must not increase between calls.
    /// The movements undone in one step are applied together — what left the accounts is
    /// given back before what arrived is taken away — so blocks found in the same second, or
    /// a send and the payment it spent, never clip a balance at zero on the way.
    pub(crate) fn before(&mut self, at: i64) -> &BTreeMap<BalanceKey, U256> {
        let start = self.next;
        while self
            .later
            .get(self.next)
            .is_some_and(|m| m.time >= Some(at))
        {
            self.next += 1;
        }
        let batch = &self.later[start..self.next];
        for give_back in [true, false] {
            for m in batch {
                for ((network, account, symbol), balance) in self.balances.iter_mut() {
                    if *network != m.network || *account != m.account_id {
                        continue;
                    }
                    let (up, down) = m.change_of(symbol);
                    // A history the node told only in part must not make a balance negative.
                    *balance = if give_back {
                        balance.saturating_add(down)
                    } else {
                        balance.saturating_sub(up)
                    };
                }
            }
        }
        &self.balances
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mv(symbol: &str, incoming: bool, units: u64, fee: Option<u64>, time: i64) -> Movement {
        Movement {
            time: Some(time),
            block: None,
            network: "local".into(),
            account_id: 1,
            symbol: symbol.into(),
            decimals: 18,
            incoming,
            units: U256::from(units),
            fee: fee.map(U256::from),
            fee_symbol: "ETH".into(),
            fee_decimals: 18,
            txid: format!("0x{time:x}"),
            status: "confirmed".into(),
            counterparty: String::new(),
            label: None,
        }
    }

    #[test]
    fn balances_walk_back_through_receipts_sends_and_fees() {
        let now: BTreeMap<_, _> = [
            (("local".to_owned(), 1, "ETH".to_owned()), U256::from(70u64)),
            (("local".to_owned(), 1, "CLD".to_owned()), U256::from(5u64)),
        ]
        .into();
        let moves = [
            mv("ETH", true, 100, None, 10),
            mv("ETH", false, 20, Some(1), 20),
            // A token send pays its fee in ETH.
            mv("CLD", false, 5, Some(2), 30),
            mv("CLD", true, 10, None, 25),
        ];
        let mut rewind = Rewind::new(now, &moves);
        let mut at = |t| {
            let b = rewind.before(t);
            (
                b[&("local".to_owned(), 1, "ETH".to_owned())],
                b[&("local".to_owned(), 1, "CLD".to_owned())],
            )
        };
        assert_eq!(at(31), (U256::from(70u64), U256::from(5u64)));
        assert_eq!(at(30), (U256::from(72u64), U256::from(10u64)));
        assert_eq!(at(25), (U256::from(72u64), U256::ZERO));
        assert_eq!(at(20), (U256::from(93u64), U256::ZERO));
        // Before the first receipt: nothing (never below zero).
        assert_eq!(at(0), (U256::ZERO, U256::ZERO));
    }

    #[test]
    fn a_payment_and_the_send_that_spent_it_in_the_same_second_walk_back_to_zero() {
        let now: BTreeMap<_, _> =
            [(("local".to_owned(), 1, "ETH".to_owned()), U256::from(39u64))].into();
        // Listed newest last, both at second 5: the walk must not clip at zero in between.
        let moves = [
            mv("ETH", true, 50, None, 5),
            mv("ETH", false, 10, Some(1), 5),
        ];
        let mut rewind = Rewind::new(now, &moves);
        assert_eq!(
            rewind.before(5)[&("local".to_owned(), 1, "ETH".to_owned())],
            U256::ZERO
        );
    }

    #[test]
    fn a_reverted_send_moves_only_its_fee_and_a_pending_one_is_not_walked_back() {
        let row = |status: &str| {
            SendRow {
            hash: "0x01".into(),
            network: "local".into(),
            account_id: Some(1),
            review: r#"{"amount":"2 ETH","recipient":"0x00000000000000000000000000000000000000bb","from":"0x00000000000000000000000000000000000000aa"}"#.into(),
            status: status.into(),
            block: Some(3),
            created_at: 10,
            fee_paid: Some("21".into()),
        }
        };
        let base = |account_id: i64, txid: &str| Movement {
            account_id,
            txid: txid.to_owned(),
            ..mv("ETH", false, 0, None, 0)
        };
        let tokens = HashMap::new();
        let fee = Some(U256::from(21u64));
        let failed = send_movement(&row("failed"), 1, fee, &tokens, &base).expect("read");
        assert_eq!((failed.units, failed.fee), (U256::ZERO, fee));
        let ok = send_movement(&row("confirmed"), 1, fee, &tokens, &base).expect("read");
        assert_eq!(
            ok.units,
            U256::from(2u64) * U256::from(10u64).pow(U256::from(18u64))
        );
        // Pending: today's EVM balance does not include it yet, so it is not undone.
        let pending = send_movement(&row("pending"), 1, fee, &tokens, &base).expect("read");
        let now: BTreeMap<_, _> =
            [(("local".to_owned(), 1, "ETH".to_owned()), U256::from(5u64))].into();
        let moves = [pending];
        let mut rewind = Rewind::new(now, &moves);
        assert_eq!(
            rewind.before(0)[&("local".to_owned(), 1, "ETH".to_owned())],
            U256::from(5u64)
        );
    }

    #[test]
    fn a_contract_calls_fee_joins_its_token_movement() {
        let mut found = vec![
            Movement {
                txid: "0xaa".into(),
                ..mv("ETH", false, 0, Some(7), 1)
            },
            Movement {
                txid: "0xaa".into(),
                ..mv("CLD", false, 3, None, 1)
            },
            // An approval: a fee and nothing else stays as it is.
            Movement {
                txid: "0xbb".into(),
                ..mv("ETH", false, 0, Some(4), 2)
            },
        ];
        fold_fees(&mut found);
        assert_eq!(found.len(), 2);
        assert_eq!(
            (found[0].symbol.as_str(), found[0].fee),
            ("CLD", Some(U256::from(7u64)))
        );
        assert_eq!(found[1].fee, Some(U256::from(4u64)));
    }
}
