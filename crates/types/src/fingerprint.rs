//! BIP32 master-key fingerprints: the four bytes that name a seed without revealing it.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The first four bytes of HASH160 of a master public key, shown as 8 lowercase hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub [u8; 4]);

/// Why a string is not a fingerprint.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a fingerprint is 8 hexadecimal digits, like 73c5da0a; got “{0}”")]
pub struct FingerprintError(pub String);

impl FromStr for Fingerprint {
    type Err = FingerprintError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || FingerprintError(s.chars().take(32).collect());
        let t = s.trim();
        // from_str_radix alone would accept a sign ("+3c5da0a").
        if t.len() != 8 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let mut out = [0u8; 4];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&t[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Self(out))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "specta")]
impl specta::Type for Fingerprint {
    fn definition(types: &mut specta::Types) -> specta::datatype::DataType {
        <String as specta::Type>::definition(types)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let fp: Fingerprint = "73C5DA0A".parse().expect("valid");
        assert_eq!(fp.0, [0x73, 0xc5, 0xda, 0x0a]);
        assert_eq!(fp.to_string(), "73c5da0a");
        assert_eq!(
            serde_json::to_string(&fp).ok().as_deref(),
            Some("\"73c5da0a\"")
        );
        for bad in [
            "",
            "73c5da0",
            "73c5da0a0",
            "zzzzzzzz",
            "73c5da0é",
            "+3c5da0a",
        ] {
            assert!(bad.parse::<Fingerprint>().is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<Fingerprint>("\"nope\"").is_err());
    }
}
