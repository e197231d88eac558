//! Fiat prices from a CoinGecko-compatible HTTP API (the base URL is configurable): spot
//! prices with their 24-hour change, and daily history. Prices are exact decimals read from
//! the JSON text (never through floating point). Rate limits are respected: after a 429 the
//! client says when to try again and does not call before then; errors are typed so the app
//! can keep showing its cached prices with their age.

use std::{
    collections::BTreeMap,
    str::FromStr,
    sync::Mutex,
    time::{Duration, Instant},
};

pub use rust_decimal::Decimal;
use serde_json::value::RawValue;

/// The fiat currencies Coldlink offers.
pub const CURRENCIES: [&str; 5] = ["usd", "eur", "gbp", "chf", "jpy"];

/// Why prices could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    /// Nothing answered (offline, DNS, refused, timeout).
    #[error("the price service cannot be reached ({0}); showing the last known prices")]
    Unreachable(String),
    /// Too many requests: wait.
    #[error("the price service asks to slow down; next try in {} s", .0.as_secs())]
    RateLimited(Duration),
    /// The service failed (5xx) or refused (4xx).
    #[error("the price service answered HTTP {0}")]
    Http(u16),
    /// The answer was not the expected JSON.
    #[error("the price service's answer could not be read: {0}")]
    Malformed(String),
}

/// A spot price.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spot {
    /// Price of one coin.
    pub price: Decimal,
    /// Change over 24 h in percent, when given.
    pub change_24h: Option<Decimal>,
}

/// A client for one API base URL.
pub struct PriceClient {
    base: String,
    agent: ureq::Agent,
    /// No request before this instant (after a 429).
    not_before: Mutex<Option<Instant>>,
}

/// A JSON number read from its exact text (never through `f64`).
fn decimal(raw: &RawValue) -> Option<Decimal> {
    let t = raw.get().trim();
    if !t.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return None;
    }
    Decimal::from_str(t)
        .or_else(|_| Decimal::from_scientific(t))
        .ok()
}

type Raw = Box<RawValue>;

impl PriceClient {
    /// A client for `base` ("https://api.coingecko.com/api/v3" or a compatible service).
    pub fn new(base: &str, timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .new_agent();
        Self {
            base: base.trim_end_matches('/').to_owned(),
            agent,
            not_before: Mutex::new(None),
        }
    }

    fn get<T: serde::de::DeserializeOwned>(&self, path_and_query: &str) -> Result<T, PriceError> {
        {
            let nb = self.not_before.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(t) = *nb {
                let now = Instant::now();
                if now < t {
                    return Err(PriceError::RateLimited(t - now));
                }
            }
        }
        let url = format!("{}{path_and_query}", self.base);
        let mut resp = self
            .agent
            .get(&url)
            .header("Accept", "application/json")
            .call()
            .map_err(|e| PriceError::Unreachable(e.to_string()))?;
        let status = resp.status().as_u16();
        if status == 429 {
            let wait = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(60)
                .clamp(1, 3600);
            let wait = Duration::from_secs(wait);
            *self.not_before.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(Instant::now() + wait);
            return Err(PriceError::RateLimited(wait));
        }
        if !(200..300).contains(&status) {
            return Err(PriceError::Http(status));
        }
        let text = resp
            .body_mut()
            .with_config()
            .limit(8 << 20)
            .read_to_string()
            .map_err(|e| PriceError::Unreachable(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| PriceError::Malformed(e.to_string()))
    }

    /// Spot prices of `coins` (API ids like "bitcoin", "ethereum") in `currency`; coins the
    /// service does not know are absent from the answer, never zero.
    pub fn spot(
        &self,
        coins: &[&str],
        currency: &str,
    ) -> Result<BTreeMap<String, Spot>, PriceError> {
        let cur = currency.to_ascii_lowercase();
        let obj: BTreeMap<String, BTreeMap<String, Raw>> = self.get(&format!(
            "/simple/price?ids={}&vs_currencies={cur}&include_24hr_change=true",
            coins.join(",")
        ))?;
        let mut out = BTreeMap::new();
        for (coin, prices) in obj {
            if !coins.contains(&coin.as_str()) {
                continue;
            }
            let Some(price) = prices.get(&cur).and_then(|r| decimal(r)) else {
                return Err(PriceError::Malformed(format!("no {cur} price for {coin}")));
            };
            if price.is_sign_negative() {
                return Err(PriceError::Malformed(format!("negative price for {coin}")));
            }
            let change_24h = prices
                .get(&format!("{cur}_24h_change"))
                .and_then(|r| decimal(r));
            out.insert(coin, Spot { price, change_24h });
        }
        Ok(out)
    }

    /// Daily prices of `coin` in `currency` over the last `days`: (unix ms, price), oldest
    /// first.
    pub fn history(
        &self,
        coin: &str,
        currency: &str,
        days: u32,
    ) -> Result<Vec<(i64, Decimal)>, PriceError> {
        #[derive(serde::Deserialize)]
        struct Chart {
            prices: Vec<(Raw, Raw)>,
        }
        let chart: Chart = self.get(&format!(
            "/coins/{coin}/market_chart?vs_currency={}&days={days}&interval=daily",
            currency.to_ascii_lowercase()
        ))?;
        let mut out = Vec::with_capacity(chart.prices.len());
        for (t, p) in &chart.prices {
            let ts = decimal(t).and_then(|d| i64::try_from(d.trunc()).ok());
            let (Some(ts), Some(price)) = (ts, decimal(p)) else {
                return Err(PriceError::Malformed(
                    "a history point is not [time, price]".into(),
                ));
            };
            out.push((ts, price));
        }
        out.sort_by_key(|(t, _)| *t);
        Ok(out)
    }
}

/// The value of `units` base units of an asset with `decimals` places at `price`, exactly;
/// `None` if it does not fit (far beyond any real balance).
pub fn value_of(units: u128, decimals: u8, price: Decimal) -> Option<Decimal> {
    let amount =
        Decimal::from_i128_with_scale(i128::try_from(units).ok()?, u32::from(decimals.min(28)));
    amount.checked_mul(price)
}

/// A fiat amount for display: rounded half away from zero to 2 places (0 for JPY).
pub fn display(value: Decimal, currency: &str) -> String {
    let places = if currency.eq_ignore_ascii_case("jpy") {
        0
    } else {
        2
    };
    let v =
        value.round_dp_with_strategy(places, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    format!("{v:.*} {}", places as usize, currency.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_exact() {
        let price = Decimal::from_str("3012.47").expect("d");
        // 1.5 ETH in wei.
        let v = value_of(1_500_000_000_000_000_000, 18, price).expect("fits");
        assert_eq!(v, Decimal::from_str("4518.705").expect("d"));
        assert_eq!(display(v, "usd"), "4518.71 USD");
        assert_eq!(
            display(Decimal::from_str("1234.5").expect("d"), "jpy"),
            "1235 JPY"
        );
        // 1 sat at a high price.
        let one_sat = value_of(1, 8, Decimal::from_str("97000.12").expect("d")).expect("fits");
        assert_eq!(one_sat, Decimal::from_str("0.0009700012").expect("d"));
    }

    #[test]
    fn json_numbers_keep_their_digits() {
        let v: BTreeMap<String, Raw> =
            serde_json::from_str(r#"{"p": 0.1, "q": 1e-3, "r": 64123.123456789012, "s": "7"}"#)
                .expect("json");
        assert_eq!(decimal(&v["p"]), Decimal::from_str("0.1").ok());
        assert_eq!(decimal(&v["q"]), Decimal::from_str("0.001").ok());
        assert_eq!(
            decimal(&v["r"]),
            Decimal::from_str("64123.123456789012").ok()
        );
        assert_eq!(decimal(&v["s"]), None, "a string is not a number");
    }
}
