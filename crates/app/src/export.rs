//! CSV exports for accounting and records. Columns (documented in the README):
//!
//! - transactions: `date` (UTC, ISO 8601), `account` (label), `asset`, `amount` (decimal, in
//!   the asset's unit), `max_fee` (the fee ceiling reviewed and signed, in the native coin: the
//!   fee paid is at most this), `fiat_value` (amount × that day's price in the user's currency,
//!   empty when no price), `currency`, `txid`, `status`, `recipient`;
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

impl Coldlink {
    /// The sends made from the app on `network`, as CSV.
    pub fn export_transactions_csv(&self, network: &str) -> Result<String, AppError> {
        let currency = self.currency();
        let (sends, accounts) = self.with_store(|s| {
            let e = |x: coldlink_store::StoreError| AppError::internal(x.to_string());
            Ok((s.sends(network).map_err(e)?, s.accounts().map_err(e)?))
        })?;
        let labels: BTreeMap<i64, String> = accounts.into_iter().map(|a| (a.id, a.label)).collect();
        let mut out = row(&[
            "date",
            "account",
            "asset",
            "amount",
            "max_fee",
            "fiat_value",
            "currency",
            "txid",
            "status",
            "recipient",
        ]);
        let mut day_prices: BTreeMap<String, Vec<(i64, Decimal)>> = BTreeMap::new();
        for s in sends.iter().rev() {
            let review: serde_json::Value = serde_json::from_str(&s.review).unwrap_or_default();
            let text = |k: &str| {
                review
                    .get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            let amount_text = text("amount");
            let (amount, asset) = amount_text
                .split_once(' ')
                .unwrap_or((amount_text.as_str(), ""));
            let fiat = crate::portfolio::price_id(asset).and_then(|id| {
                let history = day_prices.entry(id.to_owned()).or_insert_with(|| {
                    self.price_client()
                        .history(id, &currency, 365)
                        .unwrap_or_default()
                });
                let day_ms = s.created_at * 1000;
                let price = history
                    .iter()
                    .rev()
                    .find(|(t, _)| *t <= day_ms)
                    .or_else(|| history.first())
                    .map(|(_, p)| *p)?;
                let units = coldlink_evm::parse_units(amount, 18).ok()?;
                let v = value_of(u128::try_from(units).ok()?, 18, price)?;
                Some(v.round_dp(2).to_string())
            });
            out.push_str(&row(&[
                &iso(s.created_at),
                s.account_id
                    .and_then(|id| labels.get(&id))
                    .map(String::as_str)
                    .unwrap_or(""),
                asset,
                amount,
                &text("maxFee"),
                fiat.as_deref().unwrap_or(""),
                &currency.to_uppercase(),
                &s.hash,
                &s.status,
                &text("recipient"),
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
