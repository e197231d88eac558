//! The error every service returns: a stable `kind` for code and a message for people.

use coldlink_bridge::TransportError;
use coldlink_signer::SignerError;
use serde::Serialize;

/// Stable error categories. UIs and scripts branch on these, never on message text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum ErrorKind {
    /// The request was malformed (bad address, amount, path, setting).
    InvalidInput,
    /// The named thing (device, account) does not exist.
    NotFound,
    /// The device is locked.
    DeviceLocked,
    /// The wrong app is open on the device.
    WrongApp,
    /// The user rejected on the device.
    Rejected,
    /// The PIN entered was wrong.
    WrongPin,
    /// PIN/passphrase entry or the operation was cancelled.
    Cancelled,
    /// The device or server did not answer in time.
    Timeout,
    /// The device went away.
    Disconnected,
    /// The OS refused access to the device (udev rules).
    NoPermission,
    /// Another program holds the device.
    Busy,
    /// The signer cannot do this.
    Unsupported,
    /// The device answered something unusable or unverifiable.
    DeviceError,
    /// A bug in Coldlink; the message says what failed, never a secret.
    Internal,
}

/// A failed service call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, specta::Type, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[error("{message}")]
pub struct AppError {
    /// Category to branch on.
    pub kind: ErrorKind,
    /// What happened and what to do, for people.
    pub message: String,
}

impl AppError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// Malformed input.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// A bug; used where a panic was caught at the edge.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
}

impl From<SignerError> for AppError {
    fn from(e: SignerError) -> Self {
        let kind = match &e {
            SignerError::Rejected => ErrorKind::Rejected,
            SignerError::Locked => ErrorKind::DeviceLocked,
            SignerError::WrongApp { .. } => ErrorKind::WrongApp,
            SignerError::Timeout => ErrorKind::Timeout,
            SignerError::WrongPin => ErrorKind::WrongPin,
            SignerError::Cancelled => ErrorKind::Cancelled,
            SignerError::Disconnected => ErrorKind::Disconnected,
            SignerError::Unsupported(_) => ErrorKind::Unsupported,
            SignerError::Device { .. } | SignerError::BadResponse(_) => ErrorKind::DeviceError,
            SignerError::InvalidRequest(_) => ErrorKind::InvalidInput,
        };
        Self::new(kind, capitalise(&e.to_string()))
    }
}

impl From<TransportError> for AppError {
    fn from(e: TransportError) -> Self {
        let kind = match &e {
            TransportError::Timeout(_) => ErrorKind::Timeout,
            TransportError::Disconnected => ErrorKind::Disconnected,
            TransportError::NoPermission => ErrorKind::NoPermission,
            TransportError::Busy => ErrorKind::Busy,
            TransportError::BadPacket(_) | TransportError::Io(_) => ErrorKind::DeviceError,
        };
        Self::new(kind, capitalise(&e.to_string()))
    }
}

pub(crate) fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_with_a_stable_kind() {
        let e: AppError = SignerError::WrongApp {
            expected: "Bitcoin".into(),
        }
        .into();
        assert_eq!(e.kind, ErrorKind::WrongApp);
        assert_eq!(
            serde_json::to_value(&e).ok(),
            Some(
                serde_json::json!({"kind": "wrongApp", "message": "Open the Bitcoin app on the device"})
            )
        );
        let e: AppError = TransportError::NoPermission.into();
        assert_eq!(e.kind, ErrorKind::NoPermission);
        assert!(e.message.contains("udev"));
    }
}
