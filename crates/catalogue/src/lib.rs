//! The hardware-wallet catalogue behind the Compare page: one entry per model with its price,
//! connections, screen, input, secure element, firmware openness, coin support and the
//! vendor's coin count, every factual cell with the source it was read from. Unknown is stored
//! as unknown, never guessed. The data is `data/devices.json`, versioned with the code;
//! [`Catalogue::load`] parses it and [`Catalogue::problems`] checks what the schema cannot.
//!
//! Which Coldlink driver speaks to a model (`driver`) and which USB identities it shows up as
//! (`usb_models`) are mapping facts; what Coldlink can *do* with a model is computed from the
//! code by the application layer, and `coldlink_claims` (what the docs say) is tested against it.

use std::collections::{BTreeMap, BTreeSet};

use coldlink_types::Model;
use serde::{de::Error as _, Deserialize, Deserializer, Serialize};

const DATA: &str = include_str!("../data/devices.json");

/// Where a fact was read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Page or repository file (pinned to a commit where it is on GitHub).
    pub url: String,
    /// Date shown on the page or of the file's last change, when there is one.
    pub read: Option<String>,
}

/// One fact: its value (`None` when unknown), its source and an optional caveat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Cell<T> {
    /// The value; `None` is "unknown".
    pub value: Option<T>,
    /// Where it was read; `None` only when unknown.
    pub source: Option<Source>,
    /// The exact wording relied on, or a caveat.
    pub note: Option<String>,
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Cell<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            value: serde_json::Value,
            source: Option<Source>,
            #[serde(default)]
            note: Option<String>,
        }
        let raw = Raw::deserialize(d)?;
        let value = match raw.value {
            serde_json::Value::String(s) if s == "unknown" => None,
            v => Some(serde_json::from_value(v).map_err(D::Error::custom)?),
        };
        Ok(Cell {
            value,
            source: raw.source,
            note: raw.note,
        })
    }
}

/// A price as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Decimal amount as written ("49.99").
    pub amount: String,
    /// ISO 4217 code.
    pub currency: String,
    /// When the price was listed, if the page says.
    pub as_of: Option<String>,
}

impl Price {
    /// The amount in hundredths (cents), exactly; `None` if malformed.
    pub fn cents(&self) -> Option<u64> {
        let (whole, frac) = self.amount.split_once('.').unwrap_or((&self.amount, ""));
        if whole.is_empty()
            || frac.len() > 2
            || !(whole.bytes().chain(frac.bytes())).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let frac = format!("{frac:0<2}");
        whole
            .parse::<u64>()
            .ok()?
            .checked_mul(100)?
            .checked_add(frac.parse().ok()?)
    }
}

/// A secure element, if any.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct SecureElement {
    /// Has one.
    pub present: bool,
    /// Which chip, when published.
    pub chip: Option<String>,
}

/// The vendor's own count of supported coins/tokens, as they state it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct CoinCount {
    /// As stated ("5,500+", "Bitcoin only").
    pub value: String,
    /// When, if stated.
    pub as_of: Option<String>,
}

/// Whether the firmware is open source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum Openness {
    /// All of it.
    Yes,
    /// Part (e.g. apps open, secure-element OS closed).
    Partial,
    /// None.
    No,
}

/// Which of Coldlink's device drivers speaks to a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    /// `coldlink-ledger`.
    Ledger,
    /// `coldlink-trezor`, Trezor family.
    Trezor,
    /// `coldlink-trezor`, KeepKey.
    Keepkey,
}

/// What Coldlink does with a model (computed from the code; also the shape of the claims).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Support {
    /// Listed on the Devices page when plugged in.
    pub detect: bool,
    /// Reads xpubs and addresses.
    pub xpub: bool,
    /// Shows an address on the device for checking.
    pub verify_address: bool,
    /// Signs Bitcoin transactions (PSBT).
    pub sign_bitcoin: bool,
    /// Taproot (BIP86) accounts.
    pub taproot: bool,
    /// Signs EVM transactions.
    pub sign_evm: bool,
    /// Exchanges PSBTs by file or QR (air-gapped signers).
    pub psbt_file: bool,
}

impl Support {
    /// The capabilities set here but not in `other`, by name.
    pub fn beyond(&self, other: &Support) -> Vec<&'static str> {
        [
            ("detect", self.detect, other.detect),
            ("xpub", self.xpub, other.xpub),
            ("verifyAddress", self.verify_address, other.verify_address),
            ("signBitcoin", self.sign_bitcoin, other.sign_bitcoin),
            ("taproot", self.taproot, other.taproot),
            ("signEvm", self.sign_evm, other.sign_evm),
            ("psbtFile", self.psbt_file, other.psbt_file),
        ]
        .into_iter()
        .filter(|(_, a, b)| *a && !*b)
        .map(|(n, _, _)| n)
        .collect()
    }
}

/// One hardware-wallet model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct DeviceModel {
    /// Stable id ("ledger-nano-x").
    pub id: String,
    /// Maker.
    pub vendor: String,
    /// Model name.
    pub name: String,
    /// Coldlink's driver for it, if any.
    pub driver: Option<Driver>,
    /// The USB identities discovery reports for it.
    pub usb_models: Vec<Model>,
    /// List price.
    pub price: Cell<Price>,
    /// Per connection type (see [`Catalogue::connection_types`]): has it or not.
    pub connections: BTreeMap<String, Cell<bool>>,
    /// Screen.
    pub screen: Cell<String>,
    /// Input (buttons, touch, …).
    pub input: Cell<String>,
    /// Secure element.
    pub secure_element: Cell<SecureElement>,
    /// Firmware openness.
    pub open_source_firmware: Cell<Openness>,
    /// Bitcoin-only firmware.
    pub bitcoin_only: Cell<bool>,
    /// The vendor's coin count.
    pub vendor_coin_count: Cell<CoinCount>,
    /// Per coin of [`Catalogue::coins`]: native support by the firmware or official apps.
    pub coins: BTreeMap<String, Cell<bool>>,
    /// What Coldlink's documentation says it does with the model; tested against the code.
    pub coldlink_claims: Support,
    /// A caveat about the entry as a whole.
    #[serde(default)]
    pub note: Option<String>,
}

impl DeviceModel {
    /// Air-gapped: signs by QR or microSD.
    pub fn air_gapped(&self) -> bool {
        ["qr", "microsd"]
            .iter()
            .any(|k| self.connections.get(*k).and_then(|c| c.value) == Some(true))
    }
}

/// The whole catalogue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// Format version of the file.
    pub schema_version: u32,
    /// The coins every model is rated for, in display order.
    pub coins: Vec<String>,
    /// The connection types every model is rated for.
    pub connection_types: Vec<String>,
    /// The models.
    pub models: Vec<DeviceModel>,
}

/// Why the catalogue cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// The file does not match the schema.
    #[error("the device catalogue is malformed: {0}")]
    Schema(String),
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

fn check_cell<T>(problems: &mut Vec<String>, at: &str, cell: &Cell<T>) {
    match (&cell.value, &cell.source) {
        (Some(_), None) => problems.push(format!("{at}: a known value without a source")),
        (None, Some(_)) => problems.push(format!("{at}: unknown, yet a source is given")),
        _ => {}
    }
    if let Some(s) = &cell.source {
        if !s.url.starts_with("https://") {
            problems.push(format!("{at}: source is not an https URL"));
        }
        if s.read.as_deref().is_some_and(|d| !is_date(d)) {
            problems.push(format!("{at}: read date is not YYYY-MM-DD"));
        }
    }
}

impl Catalogue {
    /// The catalogue shipped with this build.
    pub fn load() -> Result<Self, CatalogueError> {
        Self::parse(DATA)
    }

    /// Parses a catalogue file (schema errors are reported, never a panic).
    pub fn parse(text: &str) -> Result<Self, CatalogueError> {
        serde_json::from_str(text).map_err(|e| CatalogueError::Schema(e.to_string()))
    }

    /// What the schema cannot say: every known fact has a source, unknowns have none, every
    /// model is rated for every coin and connection type, ids are unique, prices and dates
    /// are well-formed. Empty when the catalogue is sound.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.schema_version != 1 {
            p.push(format!(
                "unsupported schema version {}",
                self.schema_version
            ));
        }
        let mut ids = BTreeSet::new();
        let coins: BTreeSet<&String> = self.coins.iter().collect();
        let conns: BTreeSet<&String> = self.connection_types.iter().collect();
        for m in &self.models {
            let id = &m.id;
            if !ids.insert(id.clone()) {
                p.push(format!("{id}: duplicate id"));
            }
            check_cell(&mut p, &format!("{id}.price"), &m.price);
            if let Some(price) = &m.price.value {
                if price.cents().is_none() || price.currency.len() != 3 {
                    p.push(format!("{id}.price: malformed amount or currency"));
                }
                if price.as_of.as_deref().is_some_and(|d| !is_date(d)) {
                    p.push(format!("{id}.price: as_of is not YYYY-MM-DD"));
                }
            }
            check_cell(&mut p, &format!("{id}.screen"), &m.screen);
            check_cell(&mut p, &format!("{id}.input"), &m.input);
            check_cell(&mut p, &format!("{id}.secure_element"), &m.secure_element);
            check_cell(
                &mut p,
                &format!("{id}.open_source_firmware"),
                &m.open_source_firmware,
            );
            check_cell(&mut p, &format!("{id}.bitcoin_only"), &m.bitcoin_only);
            check_cell(
                &mut p,
                &format!("{id}.vendor_coin_count"),
                &m.vendor_coin_count,
            );
            if m.connections.keys().collect::<BTreeSet<_>>() != conns {
                p.push(format!(
                    "{id}: connections must rate exactly {:?}",
                    self.connection_types
                ));
            }
            for (k, c) in &m.connections {
                check_cell(&mut p, &format!("{id}.connections.{k}"), c);
            }
            if m.coins.keys().collect::<BTreeSet<_>>() != coins {
                p.push(format!("{id}: coins must rate exactly {:?}", self.coins));
            }
            for (k, c) in &m.coins {
                check_cell(&mut p, &format!("{id}.coins.{k}"), c);
            }
            if m.bitcoin_only.value == Some(true)
                && m.coins
                    .iter()
                    .any(|(k, c)| k != "BTC" && c.value == Some(true))
            {
                p.push(format!(
                    "{id}: Bitcoin-only, yet another coin is marked supported"
                ));
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_catalogue_matches_the_schema_and_every_fact_has_a_source() {
        let c = Catalogue::load().expect("parses");
        assert_eq!(c.problems(), Vec::<String>::new());
        let ids: Vec<&str> = c.models.iter().map(|m| m.id.as_str()).collect();
        for want in [
            "ledger-nano-x",
            "ledger-nano-s-plus",
            "ledger-stax",
            "ledger-flex",
            "trezor-model-t",
            "trezor-model-one",
            "trezor-safe-3",
            "trezor-safe-5",
            "coldcard-mk4",
            "coldcard-q",
            "keepkey",
            "safepal-s1",
            "bitbox02-multi",
            "bitbox02-bitcoin-only",
            "blockstream-jade",
        ] {
            assert!(ids.contains(&want), "{want} missing");
        }
        for coin in [
            "BTC", "ETH", "ERC20", "LTC", "DOGE", "SOL", "XRP", "ADA", "DOT", "BNB", "POL", "TRX",
            "XMR",
        ] {
            assert!(c.coins.iter().any(|x| x == coin), "{coin} not rated");
        }
    }

    #[test]
    fn a_fact_without_a_source_or_a_malformed_file_is_caught() {
        let mut c = Catalogue::load().expect("parses");
        c.models[0].screen.source = None;
        c.models[1].price.value = Some(Price {
            amount: "12.345".into(),
            currency: "USD".into(),
            as_of: None,
        });
        c.models[2].coins.remove("XMR");
        let p = c.problems();
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("without a source"));
        // A schema error is an error, not a panic.
        assert!(Catalogue::parse("{}").is_err());
        assert!(Catalogue::parse(&DATA.replace("\"driver\"", "\"drivr\"")).is_err());
    }

    #[test]
    fn prices_are_exact_cents() {
        let p = |a: &str| {
            Price {
                amount: a.into(),
                currency: "USD".into(),
                as_of: None,
            }
            .cents()
        };
        assert_eq!(p("49.99"), Some(4999));
        assert_eq!(p("79"), Some(7900));
        assert_eq!(p("79.5"), Some(7950));
        assert_eq!(p("-1"), None);
        assert_eq!(p("1e3"), None);
    }
}
