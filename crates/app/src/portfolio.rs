//! The portfolio: what the accounts hold, valued in the user's currency, exactly. It is built
//! from the last balances kept in the local database, so it shows at once before any network
//! call; a refresh reads balances from the node and updates that cache. Assets without a price
//! are listed with their amount and left out of the total (never counted as zero). The value
//! over time is each day's holdings — today's balances walked back through the accounts'
//! transactions — at that day's price.

use std::{collections::BTreeMap, str::FromStr};

use coldlink_prices::{display, value_of, Decimal};
use coldlink_store::BalanceRow;
use serde::Serialize;

use crate::{
    movements::{BalanceKey, Rewind},
    AppError, Coldlink,
};
use alloy_primitives::U256;

/// One asset line.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AssetLine {
    /// Ticker.
    pub symbol: String,
    /// Amount, exact decimal.
    pub amount: String,
    /// Price of one, for display, when known.
    pub price: Option<String>,
    /// Value for display, when priced.
    pub value: Option<String>,
    /// Value, exact decimal, when priced.
    pub value_exact: Option<String>,
    /// Share of the total in percent (2 places), when priced.
    pub share: Option<String>,
}

/// One account's part.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AccountSlice {
    /// Label.
    pub label: String,
    /// Signer name.
    pub signer_name: String,
    /// Value, exact decimal (priced assets only).
    pub value_exact: String,
    /// For display.
    pub value: String,
}

/// What one signer (a hardware wallet, the software wallet, watch-only) holds.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SignerSlice {
    /// The signer's name ("Ledger Nano X", "Software wallet", "Watch-only").
    pub name: String,
    /// Master fingerprint, "soft" or "watch".
    pub signer: String,
    /// Value, exact decimal (priced assets only).
    pub value_exact: String,
    /// For display.
    pub value: String,
    /// Share of the total in percent (2 places), when there is a total.
    pub share: Option<String>,
}

/// The portfolio.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PortfolioView {
    /// Currency code.
    pub currency: String,
    /// Total for display (priced assets).
    pub total: String,
    /// Total, exact.
    pub total_exact: String,
    /// Change over 24 h in percent (2 places), when every priced asset has one.
    pub change_24h: Option<String>,
    /// Per asset, largest value first.
    pub assets: Vec<AssetLine>,
    /// Per account.
    pub accounts: Vec<AccountSlice>,
    /// Per signer (device), largest first: two devices of one model stay apart.
    pub signers: Vec<SignerSlice>,
    /// Assets without a price (not in the total).
    pub unpriced: Vec<String>,
    /// When the balances were read (unix seconds, text), if ever.
    pub balances_at: Option<String>,
    /// Why the numbers may be old.
    pub note: Option<String>,
}

/// A point of the value-over-time chart.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ValuePoint {
    /// Day, unix milliseconds (text).
    pub at: String,
    /// Value, exact decimal.
    pub value: String,
}

/// The price-service id of a token or coin symbol Coldlink knows.
pub(crate) fn price_id(symbol: &str) -> Option<&'static str> {
    crate::prices::coin_id(symbol).or(match symbol {
        "USDC" => Some("usd-coin"),
        "USDT" | "USDT0" => Some("tether"),
        "DAI" => Some("dai"),
        "WETH" => Some("weth"),
        "WBTC" => Some("wrapped-bitcoin"),
        "LINK" => Some("chainlink"),
        "WMATIC" | "WPOL" => Some("wmatic"),
        _ => None,
    })
}

fn hundred() -> Decimal {
    Decimal::from(100)
}

/// The networks a portfolio spans: keys separated by commas ("ethereum,bitcoin:bitcoin").
pub(crate) fn keys(networks: &str) -> impl Iterator<Item = &str> {
    networks.split(',').map(str::trim).filter(|k| !k.is_empty())
}

impl Coldlink {
    /// The cached balances of every network in `networks`.
    fn balance_rows(&self, networks: &str) -> Result<Vec<BalanceRow>, AppError> {
        let mut rows = Vec::new();
        for k in keys(networks) {
            rows.extend(
                self.with_store(|s| s.balances(k).map_err(|e| AppError::internal(e.to_string())))?,
            );
        }
        Ok(rows)
    }

    /// Reads balances from the chains into the cache (the portfolio's refresh), for every
    /// network in `networks` (comma-separated; Bitcoin ones as "bitcoin:<network>"). The
    /// first failure is reported after the others were refreshed.
    pub fn portfolio_refresh(&self, networks: &str) -> Result<(), AppError> {
        let mut first_error = None;
        for k in keys(networks) {
            let r = match k.strip_prefix("bitcoin:") {
                Some(n) => crate::bitcoin_ops::parse_chain(n)
                    .and_then(|n| self.btc_sync(n))
                    .and_then(|list| match list.into_iter().find_map(|b| b.error) {
                        Some(e) => Err(AppError::new(crate::ErrorKind::Disconnected, e)),
                        None => Ok(()),
                    }),
                None => self.evm_refresh(k),
            };
            if let Err(e) = r {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn evm_refresh(&self, network: &str) -> Result<(), AppError> {
        let accounts = self.evm_accounts(network)?;
        if let Some(e) = accounts.iter().find_map(|a| a.balance_error.clone()) {
            return Err(AppError::new(crate::ErrorKind::Disconnected, e));
        }
        let now = crate::prices::now();
        let mut rows = Vec::new();
        for a in &accounts {
            let to_units = |amount: &str, decimals: u8| {
                coldlink_evm::parse_units(amount, decimals)
                    .map(|u| u.to_string())
                    .ok()
            };
            if let Some(units) = a.balance.as_deref().and_then(|b| to_units(b, 18)) {
                rows.push(BalanceRow {
                    account_id: i64::from(a.id),
                    network: network.into(),
                    asset: "native".into(),
                    symbol: a.symbol.clone(),
                    decimals: 18,
                    units,
                    updated_at: now,
                });
            }
            let tokens = self.tokens_decimals(network)?;
            for t in &a.tokens {
                let decimals = tokens
                    .get(&t.contract.to_lowercase())
                    .copied()
                    .unwrap_or(18);
                if let Some(units) = t.amount.as_deref().and_then(|x| to_units(x, decimals)) {
                    if units != "0" {
                        rows.push(BalanceRow {
                            account_id: i64::from(a.id),
                            network: network.into(),
                            asset: t.contract.clone(),
                            symbol: t.symbol.clone(),
                            decimals,
                            units,
                            updated_at: now,
                        });
                    }
                }
            }
        }
        self.with_store(|s| {
            s.put_balances(network, &rows)
                .map_err(|e| AppError::internal(e.to_string()))
        })?;
        // What the accounts received (and sent) since the last refresh, from the logs (after
        // the balances, which are kept whatever happens here).
        self.evm_scan_transfers(network)
    }

    /// The portfolio on `network` from the cache (no network call for balances; prices are
    /// the cached ones, refreshed when older than a minute).
    pub fn portfolio(&self, network: &str) -> Result<PortfolioView, AppError> {
        let currency = self.currency();
        let rows = self.balance_rows(network)?;
        let labels: BTreeMap<i64, (String, String, String)> = self
            .with_store(|s| s.accounts().map_err(|e| AppError::internal(e.to_string())))?
            .into_iter()
            .map(|a| (a.id, (a.label, a.signer_name, a.signer)))
            .collect();
        // Sum units per asset, exactly.
        let mut per_asset: BTreeMap<(String, String, u8), u128> = BTreeMap::new();
        for r in &rows {
            let u = u128::from_str(&r.units).unwrap_or(0);
            let e = per_asset
                .entry((r.asset.clone(), r.symbol.clone(), r.decimals))
                .or_insert(0);
            *e = e.saturating_add(u);
        }
        let mut prices: BTreeMap<String, Option<crate::PriceView>> = BTreeMap::new();
        let mut price_of = |symbol: &str| -> Option<crate::PriceView> {
            let id = price_id(symbol)?;
            prices
                .entry(id.to_owned())
                .or_insert_with(|| self.spot_price(id))
                .clone()
        };
        let mut total = Decimal::ZERO;
        let mut ago = Decimal::ZERO;
        let mut every_change = true;
        let mut assets = Vec::new();
        let mut unpriced = Vec::new();
        for ((_, symbol, decimals), units) in &per_asset {
            let amount =
                coldlink_evm::format_units(alloy_primitives::U256::from(*units), *decimals);
            let p = price_of(symbol);
            let value = p
                .as_ref()
                .and_then(|p| Decimal::from_str(&p.price).ok())
                .and_then(|price| value_of(*units, *decimals, price));
            if let Some(v) = value {
                total += v;
                match p
                    .as_ref()
                    .and_then(|p| p.change_24h.as_deref())
                    .and_then(|c| Decimal::from_str(c).ok())
                {
                    Some(c) if c > -hundred() => ago += v / (Decimal::ONE + c / hundred()),
                    _ => every_change = false,
                }
            } else {
                unpriced.push(symbol.clone());
            }
            assets.push(AssetLine {
                symbol: symbol.clone(),
                amount,
                price: p.map(|p| p.text),
                value: value.map(|v| display(v, &currency)),
                value_exact: value.map(|v| v.normalize().to_string()),
                share: None,
            });
        }
        for a in &mut assets {
            if let Some(v) = a
                .value_exact
                .as_deref()
                .and_then(|v| Decimal::from_str(v).ok())
            {
                if !total.is_zero() {
                    a.share = Some((v * hundred() / total).round_dp(2).to_string());
                }
            }
        }
        assets.sort_by(|a, b| {
            let v = |x: &AssetLine| {
                x.value_exact
                    .as_deref()
                    .and_then(|v| Decimal::from_str(v).ok())
                    .unwrap_or(Decimal::MIN)
            };
            v(b).cmp(&v(a)).then(a.symbol.cmp(&b.symbol))
        });
        // Per account: its priced assets.
        let mut per_account: BTreeMap<i64, Decimal> = BTreeMap::new();
        for r in &rows {
            let units = u128::from_str(&r.units).unwrap_or(0);
            let v = price_of(&r.symbol)
                .and_then(|p| Decimal::from_str(&p.price).ok())
                .and_then(|price| value_of(units, r.decimals, price));
            *per_account.entry(r.account_id).or_default() += v.unwrap_or_default();
        }
        let mut per_signer: BTreeMap<String, (String, Decimal)> = BTreeMap::new();
        let accounts = per_account
            .into_iter()
            .map(|(id, v)| {
                let (label, signer_name, signer) = labels.get(&id).cloned().unwrap_or_default();
                let e = per_signer
                    .entry(signer)
                    .or_insert_with(|| (signer_name.clone(), Decimal::ZERO));
                e.1 += v;
                AccountSlice {
                    label,
                    signer_name,
                    value_exact: v.normalize().to_string(),
                    value: display(v, &currency),
                }
            })
            .collect();
        let mut signers: Vec<SignerSlice> = per_signer
            .into_iter()
            .map(|(signer, (name, v))| SignerSlice {
                name,
                signer,
                value_exact: v.normalize().to_string(),
                value: display(v, &currency),
                share: (!total.is_zero()).then(|| (v * hundred() / total).round_dp(2).to_string()),
            })
            .collect();
        signers.sort_by(|a, b| {
            let v = |s: &SignerSlice| Decimal::from_str(&s.value_exact).unwrap_or(Decimal::MIN);
            v(b).cmp(&v(a)).then(a.signer.cmp(&b.signer))
        });
        let change_24h = (every_change && !ago.is_zero() && !total.is_zero())
            .then(|| ((total - ago) * hundred() / ago).round_dp(2).to_string());
        let balances_at = rows.iter().map(|r| r.updated_at).max();
        Ok(PortfolioView {
            total: display(total, &currency),
            total_exact: total.normalize().to_string(),
            currency: currency.to_uppercase(),
            change_24h,
            assets,
            accounts,
            signers,
            unpriced,
            balances_at: balances_at.map(|t| t.to_string()),
            note: balances_at
                .is_none()
                .then(|| "No balances read yet: refresh to read them from the network.".to_owned()),
        })
    }

    fn tokens_decimals(&self, network: &str) -> Result<BTreeMap<String, u8>, AppError> {
        let net = self
            .evm_network_list()
            .into_iter()
            .find(|n| n.key == network)
            .ok_or_else(|| AppError::invalid(format!("unknown network “{network}”")))?;
        let mut m: BTreeMap<String, u8> = coldlink_evm::builtin_tokens(net.chain_id)
            .into_iter()
            .map(|t| (t.address.to_checksum(None).to_lowercase(), t.decimals))
            .collect();
        for (a, _, d) in self.with_store(|s| {
            s.tokens(network)
                .map_err(|e| AppError::internal(e.to_string()))
        })? {
            m.insert(a.to_lowercase(), d);
        }
        Ok(m)
    }

    /// Daily prices of `coin` over `days`: from the local database when fetched within the
    /// hour, else from the price service (and kept); the cache again when the service fails.
    pub(crate) fn daily_prices(
        &self,
        coin: &str,
        currency: &str,
        days: u32,
    ) -> Vec<(i64, Decimal)> {
        let key = format!("prices.history.{coin}.{currency}.{days}");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let from_day = now / 86_400 - i64::from(days);
        let cached = || -> Vec<(i64, Decimal)> {
            self.with_store(|s| {
                s.price_history(coin, currency, from_day)
                    .map_err(|e| AppError::internal(e.to_string()))
            })
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(day, p)| Decimal::from_str(&p).ok().map(|p| (day * 86_400_000, p)))
            .collect()
        };
        let fresh = self
            .with_store(|s| Ok(s.setting(&key).ok().flatten()))
            .ok()
            .flatten()
            .and_then(|t| t.parse::<i64>().ok())
            .is_some_and(|t| now - t < 3600);
        if fresh {
            return cached();
        }
        match self.price_client().history(coin, currency, days) {
            Ok(points) => {
                let _ = self.with_store(|s| {
                    for (ts, p) in &points {
                        let day = ts.div_euclid(86_400_000);
                        if day > 0 {
                            s.put_price(coin, currency, day, &p.to_string(), None)
                                .map_err(|e| AppError::internal(e.to_string()))?;
                        }
                    }
                    s.set_position(&key, &now.to_string())
                        .map_err(|e| AppError::internal(e.to_string()))
                });
                cached()
            }
            Err(_) => cached(),
        }
    }

    /// Value over the last `days`: each day's holdings (today's balances walked back through
    /// the accounts' transactions) at that day's price, from the price service's daily history
    /// (cached). Assets without a price are left out.
    pub fn portfolio_history(&self, network: &str, days: u32) -> Result<Vec<ValuePoint>, AppError> {
        const DAY_MS: i64 = 86_400_000;
        let currency = self.currency();
        let rows = self.balance_rows(network)?;
        // Without a readable history the chart still shows today's holdings at past prices.
        let moves = self.movements(network).unwrap_or_default();
        // Per network: a token called "BTC" on an EVM chain is not bitcoin's 8 decimals.
        let mut decimals: BTreeMap<(String, String), u8> = BTreeMap::new();
        let mut today: BTreeMap<BalanceKey, U256> = BTreeMap::new();
        for r in &rows {
            decimals.insert((r.network.clone(), r.symbol.clone()), r.decimals);
            today.insert(
                (r.network.clone(), r.account_id, r.symbol.clone()),
                U256::from_str(&r.units).unwrap_or_default(),
            );
        }
        for m in &moves {
            decimals
                .entry((m.network.clone(), m.symbol.clone()))
                .or_insert(m.decimals);
        }
        let coins: std::collections::BTreeSet<&'static str> = today
            .keys()
            .map(|k| k.2.as_str())
            .chain(moves.iter().map(|m| m.symbol.as_str()))
            .filter_map(price_id)
            .collect();
        let mut days_prices: BTreeMap<i64, Vec<(&'static str, Decimal)>> = BTreeMap::new();
        for id in coins {
            for (ts, price) in self.daily_prices(id, &currency, days.clamp(1, 3650)) {
                days_prices
                    .entry(ts - ts.rem_euclid(DAY_MS))
                    .or_default()
                    .push((id, price));
            }
        }
        let mut rewind = Rewind::new(today, &moves);
        let mut series = Vec::with_capacity(days_prices.len());
        for (day, prices) in days_prices.iter().rev() {
            // Holdings at the end of that day.
            let held = rewind.before((day + DAY_MS) / 1000);
            let mut v = Decimal::ZERO;
            for ((network, _, symbol), units) in held {
                let Some(id) = price_id(symbol) else {
                    continue;
                };
                let (Some((_, price)), Ok(units)) = (
                    prices.iter().find(|(c, _)| *c == id),
                    u128::try_from(*units),
                ) else {
                    continue;
                };
                let places = decimals
                    .get(&(network.clone(), symbol.clone()))
                    .copied()
                    .unwrap_or(18);
                v += value_of(units, places, *price).unwrap_or_default();
            }
            series.push(ValuePoint {
                at: day.to_string(),
                value: v.round_dp(2).to_string(),
            });
        }
        series.reverse();
        Ok(series)
    }
}
