//! Fiat prices for the app: the user's currency (USD, EUR, GBP, CHF or JPY, stored as a
//! setting), spot prices fetched from the configured CoinGecko-compatible service at most once a
//! minute, cached in the local database, and served from the cache with their age when the
//! service is unreachable or rate-limits. With no price at all there is no fiat value — never a
//! made-up zero.

use std::{str::FromStr, time::Duration};

use coldlink_prices::{display, value_of, Decimal, PriceClient, CURRENCIES};
use serde::Serialize;

use crate::{AppError, Coldlink};

/// Where prices come from unless `COLDLINK_PRICES_URL` says otherwise.
pub const DEFAULT_PRICES_URL: &str = "https://api.coingecko.com/api/v3";
/// How old a cached spot price may be before it is fetched again.
const FRESH: i64 = 60;

/// A price as the UI shows it.
#[derive(Clone, Debug, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PriceView {
    /// Price of one coin, for display ("3012.47 USD").
    pub text: String,
    /// Exact decimal.
    pub price: String,
    /// Change over 24 h in percent, if known.
    pub change_24h: Option<String>,
    /// Seconds since it was fetched.
    pub age_secs: u32,
    /// Why it could not be refreshed, when it is an old one.
    pub stale_because: Option<String>,
}

/// The price-service id of a native coin symbol.
pub(crate) fn coin_id(symbol: &str) -> Option<&'static str> {
    match symbol {
        "ETH" => Some("ethereum"),
        "BTC" => Some("bitcoin"),
        "POL" | "MATIC" => Some("polygon-ecosystem-token"),
        _ => None,
    }
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Coldlink {
    /// The user's fiat currency (lower case).
    pub fn currency(&self) -> String {
        self.with_store(|s| Ok(s.setting("currency").ok().flatten()))
            .ok()
            .flatten()
            .filter(|c| CURRENCIES.contains(&c.as_str()))
            .unwrap_or_else(|| "usd".into())
    }

    /// Sets the fiat currency.
    pub fn set_currency(&self, currency: &str) -> Result<(), AppError> {
        let c = currency.trim().to_ascii_lowercase();
        if !CURRENCIES.contains(&c.as_str()) {
            return Err(AppError::invalid(format!(
                "“{currency}” is not offered: one of {}",
                CURRENCIES.join(", ").to_uppercase()
            )));
        }
        self.with_store(|s| {
            s.set_setting("currency", &c)
                .map_err(|e| AppError::internal(e.to_string()))
        })
    }

    pub(crate) fn price_client(&self) -> PriceClient {
        let url = self
            .demo_env()
            .map(|d| d.prices_url)
            .or_else(|| self.config.prices_url.clone())
            .unwrap_or_else(|| DEFAULT_PRICES_URL.to_owned());
        PriceClient::new(&url, Duration::from_secs(3))
    }

    /// The spot price of `coin` (service id) in the user's currency: fresh, or cached with its
    /// age and why it is not fresh; `None` when there has never been one.
    pub fn spot_price(&self, coin: &str) -> Option<PriceView> {
        let currency = self.currency();
        let cached = self
            .with_store(|s| Ok(s.price(coin, &currency, 0).ok().flatten()))
            .ok()
            .flatten();
        if let Some((p, ch, at)) = &cached {
            if now() - at < FRESH {
                return view(p, ch.as_deref(), *at, &currency, None);
            }
        }
        match self.price_client().spot(&[coin], &currency) {
            Ok(map) => match map.get(coin) {
                Some(spot) => {
                    let price = spot.price.to_string();
                    let change = spot.change_24h.map(|c| c.round_dp(2).to_string());
                    let _ = self.with_store(|s| {
                        s.put_price(coin, &currency, 0, &price, change.as_deref())
                            .map_err(|e| AppError::internal(e.to_string()))
                    });
                    view(&price, change.as_deref(), now(), &currency, None)
                }
                None => None,
            },
            Err(e) => cached.and_then(|(p, ch, at)| {
                view(&p, ch.as_deref(), at, &currency, Some(e.to_string()))
            }),
        }
    }

    /// `units` of an asset with `decimals` places in the user's currency, for display.
    pub(crate) fn fiat_text(&self, coin: &str, units: u128, decimals: u8) -> Option<String> {
        let p = self.spot_price(coin)?;
        let price = Decimal::from_str(&p.price).ok()?;
        Some(display(value_of(units, decimals, price)?, &self.currency()))
    }
}

fn view(
    price: &str,
    change: Option<&str>,
    at: i64,
    currency: &str,
    stale: Option<String>,
) -> Option<PriceView> {
    let d = Decimal::from_str(price).ok()?;
    Some(PriceView {
        text: display(d, currency),
        price: price.to_owned(),
        change_24h: change.map(str::to_owned),
        age_secs: u32::try_from((now() - at).max(0)).unwrap_or(u32::MAX),
        stale_because: stale,
    })
}
