//! CSV exports for accounting and records. Columns (documented in the README):
//!
//! - transactions, one row per asset an account moved in a transaction, oldest first: `date`
//!   (UTC, ISO 8601; block time, first seen, or when the app sent it), `account` (label),
//!   `network`, `asset`, `amount` (signed decimal in the asset's unit, negative when it left
//!   the account, fee excluded), `fee` (what the account paid, when it paid and it is known),
//!   `fee_asset`, `fiat_value` (amount × that day's price in the user's currency, signed; empty
//!   when no price), `currency`, `txid`, `status` (confirmed/pending/failed), `counterparty`
//!   (the other address, when one says it), `label` (the user's label on the transaction);
//! - portfolio: `asset`, `amount`, `price`, `value`, `share_percent`, `currency`, `balances_at`
//!   (UTC, ISO 8601).
//!
//! Fields are quoted when they hold a comma, a quote or a line break (RFC 4180).

use std::{collections::BTreeMap, str::FromStr};

use coldlink_prices::{value_of, Decimal};

use crate::{AppError, Coldlink};

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn row(fields: &[&str]) -> String {
    let mut line = fields
        .iter()
        .map(|f| field(f))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

/// Unix seconds as ISO 8601 UTC (civil date from days, no time-zone database needed).
pub fn iso(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The price of the day `at_ms` falls in (the last daily price at or before it), from a
/// history sorted by time; `None` before the history starts.
pub(crate) fn price_on(history: &[(i64, Decimal)], at_ms: i64) -> Option<Decimal> {
    history
        .iter()
        .rev()
        .find(|(t, _)| *t <= at_ms)
        .map(|(_, p)| *p)
}

impl Coldlink {
    /// Every transaction of the accounts on `networks` (portfolio keys, comma-separated), oldest
    /// first, as CSV.
    pub fn export_transactions_csv(&self, networks: &str) -> Result<String, AppError> {
        let currency = self.currency();
        let moves = self.movements(networks)?;
        let accounts =
            self.with_store(|s| s.accounts().map_err(|e| AppError::internal(e.to_string())))?;
        let labels: BTreeMap<i64, String> = accounts.into_iter().map(|a| (a.id, a.label)).collect();
        let mut out = row(&[
            "date",
            "account",
            "network",
            "asset",
            "amount",
            "fee",
            "fee_asset",
            "fiat_value",
            "currency",
            "txid",
            "status",
            "counterparty",
            "label",
        ]);
        let mut day_prices: BTreeMap<&'static str, Vec<(i64, Decimal)>> = BTreeMap::new();
        for m in &moves {
            let amount = coldlink_evm::format_units(m.units, m.decimals);
            let signed = if m.incoming || m.units.is_zero() {
                amount
            } else {
                format!("-{amount}")
            };
            let fiat = m
                .time
                .zip(crate::portfolio::price_id(&m.symbol))
                .and_then(|(t, id)| {
                    let history = day_prices
                        .entry(id)
                        .or_insert_with(|| self.daily_prices(id, &currency, 3650));
                    let price = price_on(history, t * 1000)?;
                    let v = value_of(u128::try_from(m.units).ok()?, m.decimals, price)?;
                    let v = v.round_dp(2);
                    Some(if m.incoming || v.is_zero() {
                        v.to_string()
                    } else {
                        format!("-{v}")
                    })
                });
            out.push_str(&row(&[
                &m.time.map(iso).unwrap_or_default(),
                labels.get(&m.account_id).map(String::as_str).unwrap_or(""),
                &m.network,
                &m.symbol,
                &signed,
                &m.fee
                    .map(|f| coldlink_evm::format_units(f, m.fee_decimals))
                    .unwrap_or_default(),
                if m.fee.is_some() { &m.fee_symbol } else { "" },
                fiat.as_deref().unwrap_or(""),
                &currency.to_uppercase(),
                &m.txid,
                &m.status,
                &m.counterparty,
                m.label.as_deref().unwrap_or(""),
            ]));
        }
        Ok(out)
    }

    /// The portfolio on `network` (from the cache) as CSV.
    pub fn export_portfolio_csv(&self, network: &str) -> Result<String, AppError> {
        let p = self.portfolio(network)?;
        let at = p
            .balances_at
            .as_deref()
            .and_then(|t| i64::from_str(t).ok())
            .map(iso)
            .unwrap_or_default();
        let mut out = row(&[
            "asset",
            "amount",
            "price",
            "value",
            "share_percent",
            "currency",
            "balances_at",
        ]);
        for a in &p.assets {
            let price = a
                .price
                .as_deref()
                .and_then(|t| t.split_whitespace().next())
                .unwrap_or("");
            out.push_str(&row(&[
                &a.symbol,
                &a.amount,
                price,
                a.value_exact.as_deref().unwrap_or(""),
                a.share.as_deref().unwrap_or(""),
                &p.currency,
                &at,
            ]));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(
            row(&["a", "b,c", "say \"hi\""]),
            "a,\"b,c\",\"say \"\"hi\"\"\"\r\n"
        );
    }

    #[test]
    fn dates_are_utc_iso() {
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(iso(951_782_400), "2000-02-29T00:00:00Z");
    }
}
