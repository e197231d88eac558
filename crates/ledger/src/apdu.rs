//! APDU commands and responses, and what Ledger's status words mean for the user.

use coldlink_signer::SignerError;

/// One command to the device: class, instruction, two parameters and up to 255 data bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Apdu {
    /// Class: which app (or the dashboard) the command is for.
    pub cla: u8,
    /// Instruction.
    pub ins: u8,
    /// First parameter.
    pub p1: u8,
    /// Second parameter.
    pub p2: u8,
    /// Data, at most 255 bytes.
    pub data: Vec<u8>,
}

/// Why bytes are not a valid APDU or response.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApduError {
    /// Data longer than the one-byte length field allows.
    #[error("APDU data of {0} bytes exceeds 255")]
    TooLong(usize),
    /// Fewer than the 5 header bytes, or a length byte that disagrees with the data.
    #[error("malformed APDU of {0} bytes")]
    Malformed(usize),
    /// A response without its 2-byte status word.
    #[error("response of {0} bytes has no status word")]
    NoStatus(usize),
}

impl Apdu {
    /// A command with data.
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8, data: impl Into<Vec<u8>>) -> Self {
        Self {
            cla,
            ins,
            p1,
            p2,
            data: data.into(),
        }
    }

    /// Serialises as CLA INS P1 P2 Lc DATA.
    pub fn encode(&self) -> Result<Vec<u8>, ApduError> {
        let lc = u8::try_from(self.data.len()).map_err(|_| ApduError::TooLong(self.data.len()))?;
        let mut out = Vec::with_capacity(5 + self.data.len());
        out.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2, lc]);
        out.extend_from_slice(&self.data);
        Ok(out)
    }

    /// Parses CLA INS P1 P2 Lc DATA (the device side).
    pub fn decode(bytes: &[u8]) -> Result<Self, ApduError> {
        let [cla, ins, p1, p2, lc, data @ ..] = bytes else {
            // Some hosts omit Lc for commands without data.
            if let [cla, ins, p1, p2] = bytes {
                return Ok(Self::new(*cla, *ins, *p1, *p2, Vec::new()));
            }
            return Err(ApduError::Malformed(bytes.len()));
        };
        if data.len() != usize::from(*lc) {
            return Err(ApduError::Malformed(bytes.len()));
        }
        Ok(Self::new(*cla, *ins, *p1, *p2, data.to_vec()))
    }
}

/// A device's answer: data and a status word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Response data.
    pub data: Vec<u8>,
    /// Status word; 0x9000 is success.
    pub sw: u16,
}

impl Response {
    /// Splits DATA SW1 SW2.
    pub fn parse(bytes: &[u8]) -> Result<Self, ApduError> {
        if bytes.len() < 2 {
            return Err(ApduError::NoStatus(bytes.len()));
        }
        let (data, sw) = bytes.split_at(bytes.len() - 2);
        Ok(Self {
            data: data.to_vec(),
            sw: u16::from_be_bytes([sw[0], sw[1]]),
        })
    }

    /// DATA SW1 SW2.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.data.clone();
        out.extend_from_slice(&self.sw.to_be_bytes());
        out
    }

    /// The data if the status word is success, else the status word's meaning.
    pub fn ok(self, app: &str) -> Result<Vec<u8>, SignerError> {
        match self.sw {
            sw::OK => Ok(self.data),
            other => Err(status_error(other, app)),
        }
    }
}

/// Status words with a meaning the user can act on.
pub mod sw {
    /// Success.
    pub const OK: u16 = 0x9000;
    /// The user rejected on the device ("conditions of use not satisfied").
    pub const DENIED: u16 = 0x6985;
    /// Device locked (current firmware).
    pub const LOCKED: u16 = 0x5515;
    /// Security status not satisfied: locked, on older firmware.
    pub const SECURITY: u16 = 0x6982;
    /// Class not supported: wrong app or the dashboard.
    pub const CLA_NOT_SUPPORTED: u16 = 0x6E00;
    /// Instruction not supported: wrong app.
    pub const INS_NOT_SUPPORTED: u16 = 0x6D00;
    /// No app open (dashboard answered an app command).
    pub const APP_NOT_OPEN: u16 = 0x6511;
    /// App not installed (open-app asked for an unknown app).
    pub const APP_NOT_FOUND: u16 = 0x6807;
    /// Referenced data not found: wrong app on some firmware.
    pub const NOT_FOUND: u16 = 0x6A83;
    /// Wrong data.
    pub const WRONG_DATA: u16 = 0x6A80;
    /// Incorrect P1/P2.
    pub const WRONG_P1P2: u16 = 0x6B00;
    /// Wrong length.
    pub const WRONG_LENGTH: u16 = 0x6700;
    /// The Bitcoin app asks the host to run a client command (interrupted execution).
    pub const INTERRUPTED: u16 = 0xE000;
}

/// What a failing status word means, as a signer error telling the user what to do.
pub fn status_error(code: u16, app: &str) -> SignerError {
    match code {
        sw::DENIED => SignerError::Rejected,
        sw::LOCKED | sw::SECURITY => SignerError::Locked,
        sw::CLA_NOT_SUPPORTED | sw::INS_NOT_SUPPORTED | sw::APP_NOT_OPEN | sw::NOT_FOUND => {
            SignerError::WrongApp {
                expected: app.to_owned(),
            }
        }
        sw::APP_NOT_FOUND => SignerError::Device {
            code: code.into(),
            message: format!("the {app} app is not installed: install it with Ledger Live"),
        },
        sw::WRONG_DATA | sw::WRONG_P1P2 | sw::WRONG_LENGTH => SignerError::Device {
            code: code.into(),
            message: "the device refused the request as malformed".into(),
        },
        _ => SignerError::Device {
            code: code.into(),
            message: "unknown status".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_and_decodes() {
        let a = Apdu::new(0xe0, 0x02, 0x01, 0x00, vec![1, 2, 3]);
        let bytes = a.encode().expect("encode");
        assert_eq!(bytes, [0xe0, 0x02, 0x01, 0x00, 0x03, 1, 2, 3]);
        assert_eq!(Apdu::decode(&bytes), Ok(a));
        assert_eq!(
            Apdu::decode(&[0xb0, 0x01, 0, 0]).map(|a| a.ins),
            Ok(0x01),
            "Lc may be omitted without data"
        );
        assert_eq!(
            Apdu::new(0, 0, 0, 0, vec![0; 256]).encode(),
            Err(ApduError::TooLong(256))
        );
        assert_eq!(
            Apdu::decode(&[0xe0, 0x02, 0, 0, 5, 1]),
            Err(ApduError::Malformed(6))
        );
        assert_eq!(Apdu::decode(&[0xe0]), Err(ApduError::Malformed(1)));
    }

    #[test]
    fn responses_split_off_the_status_word() {
        let r = Response::parse(&[0xaa, 0xbb, 0x90, 0x00]).expect("parse");
        assert_eq!((r.data.as_slice(), r.sw), (&[0xaa, 0xbb][..], 0x9000));
        assert_eq!(r.to_bytes(), [0xaa, 0xbb, 0x90, 0x00]);
        assert_eq!(Response::parse(&[0x90]), Err(ApduError::NoStatus(1)));
    }

    #[test]
    fn status_words_map_to_actionable_errors() {
        let e = |sw| status_error(sw, "Bitcoin").to_string();
        assert_eq!(e(0x6985), "rejected on the device");
        assert!(e(0x5515).contains("unlock it with its PIN"));
        assert!(e(0x6982).contains("unlock it with its PIN"));
        for wrong in [0x6e00, 0x6d00, 0x6511, 0x6a83] {
            assert_eq!(e(wrong), "open the Bitcoin app on the device");
        }
        assert!(e(0x6807).contains("not installed"));
        assert!(e(0x6f42).contains("0x6f42"));
    }
}
