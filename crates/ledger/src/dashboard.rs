//! Commands every Ledger answers whatever app is open: which app (and version) is running,
//! open an app by name, and quit to the dashboard.

use coldlink_signer::SignerError;

use crate::{
    apdu::{sw, Apdu},
    exchange::Exchange,
};

/// The name the dashboard reports for itself.
pub const DASHBOARD: &str = "BOLOS";

/// The running app and its version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppAndVersion {
    /// App name ("Bitcoin", "Bitcoin Test", "Ethereum", or "BOLOS" for the dashboard).
    pub name: String,
    /// App version ("2.1.0").
    pub version: String,
}

impl AppAndVersion {
    /// True when no app is open.
    pub fn is_dashboard(&self) -> bool {
        self.name == DASHBOARD
    }

    /// Encodes the answer (the device side): format 1, then length-prefixed name, version and
    /// an empty flags field.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![0x01, self.name.len() as u8];
        out.extend_from_slice(self.name.as_bytes());
        out.push(self.version.len() as u8);
        out.extend_from_slice(self.version.as_bytes());
        out.extend_from_slice(&[0x01, 0x00]);
        out
    }

    /// Parses the answer to GET_APP_AND_VERSION.
    pub fn decode(data: &[u8]) -> Result<Self, SignerError> {
        let bad = || SignerError::BadResponse("malformed app-and-version answer".into());
        let (&format, rest) = data.split_first().ok_or_else(bad)?;
        if format != 0x01 {
            return Err(bad());
        }
        let (name, rest) = take_lv(rest).ok_or_else(bad)?;
        let (version, _flags) = take_lv(rest).ok_or_else(bad)?;
        Ok(Self {
            name: String::from_utf8_lossy(name).into_owned(),
            version: String::from_utf8_lossy(version).into_owned(),
        })
    }
}

fn take_lv(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&n, rest) = bytes.split_first()?;
    (rest.len() >= usize::from(n)).then(|| rest.split_at(usize::from(n)))
}

/// Asks which app is open.
pub fn app_and_version(dev: &mut dyn Exchange) -> Result<AppAndVersion, SignerError> {
    let data = dev.exchange(&Apdu::new(0xb0, 0x01, 0, 0, vec![]))?.ok("")?;
    AppAndVersion::decode(&data)
}

/// Asks the dashboard to open `name`; the user confirms on the device.
pub fn open_app(dev: &mut dyn Exchange, name: &str) -> Result<(), SignerError> {
    let r = dev.exchange(&Apdu::new(0xe0, 0xd8, 0, 0, name.as_bytes().to_vec()))?;
    match r.sw {
        sw::OK => Ok(()),
        // Asked while another app runs: the user must go back to the dashboard first.
        sw::CLA_NOT_SUPPORTED | sw::INS_NOT_SUPPORTED => Err(SignerError::WrongApp {
            expected: name.to_owned(),
        }),
        other => Err(crate::status_error(other, name)),
    }
}

/// Quits the open app back to the dashboard.
pub fn quit_app(dev: &mut dyn Exchange) -> Result<(), SignerError> {
    dev.exchange(&Apdu::new(0xb0, 0xa7, 0, 0, vec![]))?
        .ok("")
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_and_version_round_trips_and_rejects_garbage() {
        let a = AppAndVersion {
            name: "Bitcoin".into(),
            version: "2.1.3".into(),
        };
        assert_eq!(AppAndVersion::decode(&a.encode()).expect("decode"), a);
        // The layout a device running the Bitcoin Test app answers with (flags: 1 byte, 0x02).
        let real = b"\x01\x0cBitcoin Test\x052.0.1\x01\x02";
        let parsed = AppAndVersion::decode(real).expect("decode");
        assert_eq!(
            (parsed.name.as_str(), parsed.version.as_str()),
            ("Bitcoin Test", "2.0.1")
        );
        for bad in [
            &b""[..],
            b"\x02\x01a\x01b",
            b"\x01\x09Bit",
            b"\x01\x01a\x05ab",
        ] {
            assert!(AppAndVersion::decode(bad).is_err());
        }
    }
}
