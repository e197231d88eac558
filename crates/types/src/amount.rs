//! Exact amounts in a coin's smallest unit (satoshi, wei, token base unit).
//!
//! Amounts never pass through floating point: parsing and formatting work on decimal strings
//! and integer base units, so what the user typed is exactly what gets signed.

use std::fmt;

/// A non-negative amount of some asset, counted in its smallest unit, with the number of
/// decimals that separate the smallest unit from the display unit (8 for BTC, 18 for ETH).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount {
    units: u128,
    decimals: u8,
}

/// Why a decimal string is not a valid amount.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Nothing was entered.
    #[error("enter an amount")]
    Empty,
    /// A character other than digits and one decimal point.
    #[error("“{0}” is not a number: use digits and at most one “.”")]
    NotANumber(String),
    /// More digits after the point than the asset has.
    #[error("too many decimal places: this asset has at most {max}")]
    TooPrecise {
        /// The asset's number of decimals.
        max: u8,
    },
    /// Larger than can be represented.
    #[error("amount is too large")]
    Overflow,
    /// More decimals than any supported asset uses.
    #[error("an asset cannot have {0} decimals (at most 36)")]
    BadDecimals(u8),
}

/// Largest number of decimals we accept; 10^36 still fits a u128 with room for whole units.
const MAX_DECIMALS: u8 = 36;

impl Amount {
    /// An amount of `units` smallest units of an asset with `decimals` decimals.
    pub fn from_units(units: u128, decimals: u8) -> Result<Self, AmountError> {
        if decimals > MAX_DECIMALS {
            return Err(AmountError::BadDecimals(decimals));
        }
        Ok(Self { units, decimals })
    }

    /// Satoshis (8 decimals).
    pub fn sats(sats: u64) -> Self {
        Self {
            units: u128::from(sats),
            decimals: 8,
        }
    }

    /// Wei (18 decimals).
    pub fn wei(wei: u128) -> Self {
        Self {
            units: wei,
            decimals: 18,
        }
    }

    /// Parses a decimal string in display units ("0.001", "12", "1.50") into base units.
    /// Rejects signs, exponents, separators and more precision than the asset has.
    pub fn parse(text: &str, decimals: u8) -> Result<Self, AmountError> {
        if decimals > MAX_DECIMALS {
            return Err(AmountError::BadDecimals(decimals));
        }
        let text = text.trim();
        if text.is_empty() {
            return Err(AmountError::Empty);
        }
        let (whole, frac) = match text.split_once('.') {
            Some((w, f)) => (w, f),
            None => (text, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && frac.is_empty()) || !all_digits(whole) || !all_digits(frac) {
            return Err(AmountError::NotANumber(text.to_owned()));
        }
        // Trailing zeros beyond the asset's precision are harmless ("1.500000000" BTC).
        let frac = frac.trim_end_matches('0');
        if frac.len() > usize::from(decimals) {
            return Err(AmountError::TooPrecise { max: decimals });
        }
        let scale = 10u128.pow(u32::from(decimals));
        let mut units: u128 = 0;
        for b in whole.bytes() {
            units = units
                .checked_mul(10)
                .and_then(|u| u.checked_add(u128::from(b - b'0')))
                .ok_or(AmountError::Overflow)?;
        }
        units = units.checked_mul(scale).ok_or(AmountError::Overflow)?;
        let mut frac_units: u128 = 0;
        for b in frac.bytes() {
            frac_units = frac_units * 10 + u128::from(b - b'0');
        }
        let pad = u32::from(decimals) - frac.len() as u32;
        frac_units *= 10u128.pow(pad);
        units = units.checked_add(frac_units).ok_or(AmountError::Overflow)?;
        Ok(Self { units, decimals })
    }

    /// The amount in smallest units.
    pub fn units(&self) -> u128 {
        self.units
    }

    /// The asset's number of decimals.
    pub fn decimals(&self) -> u8 {
        self.decimals
    }

    /// Adds two amounts of the same asset; `None` on overflow or mismatched decimals.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        (self.decimals == other.decimals).then_some(())?;
        Some(Self {
            units: self.units.checked_add(other.units)?,
            decimals: self.decimals,
        })
    }

    /// Subtracts; `None` if it would go below zero or decimals differ.
    pub fn checked_sub(self, other: Self) -> Option<Self> {
        (self.decimals == other.decimals).then_some(())?;
        Some(Self {
            units: self.units.checked_sub(other.units)?,
            decimals: self.decimals,
        })
    }
}

/// Formats in display units with no trailing zeros and no exponent: `0.0001`, `21`, `1.5`.
impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scale = 10u128.pow(u32::from(self.decimals));
        let whole = self.units / scale;
        let frac = self.units % scale;
        if frac == 0 {
            return write!(f, "{whole}");
        }
        let digits = format!("{frac:0width$}", width = usize::from(self.decimals));
        write!(f, "{whole}.{}", digits.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_exactly() {
        let cases = [
            ("0.00000001", 8, 1u128, "0.00000001"),
            ("1", 8, 100_000_000, "1"),
            ("1.5", 8, 150_000_000, "1.5"),
            (".5", 8, 50_000_000, "0.5"),
            ("2.", 8, 200_000_000, "2"),
            ("21000000", 8, 2_100_000_000_000_000, "21000000"),
            ("1.500000000000", 8, 150_000_000, "1.5"),
            ("0.000000000000000001", 18, 1, "0.000000000000000001"),
            ("123.456", 18, 123_456_000_000_000_000_000, "123.456"),
            ("007", 0, 7, "7"),
            (" 3 ", 6, 3_000_000, "3"),
        ];
        for (text, dec, units, shown) in cases {
            let a = Amount::parse(text, dec).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(a.units(), units, "{text}");
            assert_eq!(a.to_string(), shown, "{text}");
        }
    }

    #[test]
    fn rejects_malformed_input_with_typed_errors() {
        assert_eq!(Amount::parse("", 8), Err(AmountError::Empty));
        assert_eq!(Amount::parse("   ", 8), Err(AmountError::Empty));
        for bad in [".", "-1", "+1", "1e5", "1,5", "1.2.3", "0x10", "NaN", "１"] {
            assert!(
                matches!(Amount::parse(bad, 8), Err(AmountError::NotANumber(_))),
                "{bad}"
            );
        }
        assert_eq!(
            Amount::parse("0.000000001", 8),
            Err(AmountError::TooPrecise { max: 8 })
        );
        assert_eq!(
            Amount::parse("1", 0).map(|a| a.units()),
            Ok(1),
            "zero-decimal assets"
        );
        assert_eq!(
            Amount::parse("0.1", 0),
            Err(AmountError::TooPrecise { max: 0 })
        );
        assert_eq!(
            Amount::parse("340282366920938463463374607431768211456", 0),
            Err(AmountError::Overflow)
        );
        assert_eq!(
            Amount::parse("1000000000000000000000", 18),
            Err(AmountError::Overflow)
        );
        assert_eq!(Amount::parse("1", 37), Err(AmountError::BadDecimals(37)));
    }

    #[test]
    fn arithmetic_is_checked() {
        let a = Amount::sats(5);
        let b = Amount::sats(7);
        assert_eq!(a.checked_add(b), Some(Amount::sats(12)));
        assert_eq!(a.checked_sub(b), None);
        assert_eq!(Amount::wei(1).checked_add(Amount::sats(1)), None);
        assert_eq!(
            Amount::from_units(u128::MAX, 0)
                .ok()
                .and_then(|m| m.checked_add(Amount::from_units(1, 0).ok()?)),
            None
        );
    }
}
