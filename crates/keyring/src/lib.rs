//! The OS keyring, for the software wallet's "unlock without typing the password" option (a
//! random 32-byte key stored under the wallet's keyring id) and for a node's RPC password. On Linux: the Secret Service
//! (GNOME Keyring, KWallet) or, where there is none, the kernel keyring (which forgets the key
//! at logout). Built on keyring-core and its stores directly rather than the `keyring` crate's
//! v1 wrapper, because the wrapper offers only one store per platform and we need both.
//!
//! When the keyring is missing or locked the caller falls back to the password; every error
//! says so.

use std::sync::Arc;

use coldlink_types::Sensitive;
use keyring_core::{CredentialStore, Error};

/// Service name under which keys are filed.
pub const SERVICE: &str = "org.coldlink.wallet";

/// Which store holds the keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Freedesktop Secret Service over D-Bus.
    SecretService,
    /// The Linux kernel's session keyring (keyutils).
    KernelKeyring,
}

/// Why the keyring could not be used. The wallet still opens with its password.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// No such keyring on this system (no D-Bus session, no Secret Service).
    #[error("the system keyring is not available ({0}); unlock with your password")]
    Unavailable(String),
    /// The keyring is locked.
    #[error("the system keyring is locked: unlock it (log in again) or use your password")]
    Locked,
    /// No key stored for this wallet.
    #[error("no key for this wallet in the system keyring; unlock with your password")]
    NotFound,
    /// Something else went wrong in the keyring.
    #[error("the system keyring failed ({0}); unlock with your password")]
    Failed(String),
}

fn map(e: Error) -> KeyringError {
    match e {
        Error::NoEntry => KeyringError::NotFound,
        Error::NoStorageAccess(_) => KeyringError::Locked,
        Error::NoDefaultStore | Error::NotSupportedByStore(_) => {
            KeyringError::Unavailable(e.to_string())
        }
        other => KeyringError::Failed(other.to_string()),
    }
}

/// A keyring to keep wallet keys in.
pub struct OsKeyring {
    store: Arc<CredentialStore>,
    backend: Backend,
}

impl std::fmt::Debug for OsKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OsKeyring({:?})", self.backend)
    }
}

fn user(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

impl OsKeyring {
    /// Opens `backend`.
    pub fn open(backend: Backend) -> Result<Self, KeyringError> {
        #[cfg(target_os = "linux")]
        {
            let store: Arc<CredentialStore> = match backend {
                Backend::SecretService => dbus_secret_service_keyring_store::Store::new()
                    .map_err(|e| KeyringError::Unavailable(e.to_string()))?,
                Backend::KernelKeyring => linux_keyutils_keyring_store::Store::new()
                    .map_err(|e| KeyringError::Unavailable(e.to_string()))?,
            };
            Ok(Self { store, backend })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = backend;
            Err(KeyringError::Unavailable(
                "not implemented on this platform yet".into(),
            ))
        }
    }

    /// The Secret Service if the session has one, else the kernel keyring.
    pub fn best() -> Result<Self, KeyringError> {
        Self::open(Backend::SecretService).or_else(|_| Self::open(Backend::KernelKeyring))
    }

    /// Which store this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn entry(&self, id: &[u8]) -> Result<keyring_core::Entry, KeyringError> {
        self.store.build(SERVICE, &user(id), None).map_err(map)
    }

    /// Stores `key` for the wallet `id` (replacing any earlier one).
    pub fn put(&self, id: &[u8], key: &Sensitive<[u8; 32]>) -> Result<(), KeyringError> {
        self.entry(id)?.set_secret(key.expose()).map_err(map)
    }

    /// The key stored for the wallet `id`.
    pub fn get(&self, id: &[u8]) -> Result<Sensitive<[u8; 32]>, KeyringError> {
        let mut bytes = self.entry(id)?.get_secret().map_err(map)?;
        let key: Result<[u8; 32], _> = bytes.as_slice().try_into();
        // Wipe the copy whatever its length.
        bytes.iter_mut().for_each(|b| *b = 0);
        key.map(Sensitive::new)
            .map_err(|_| KeyringError::Failed("the stored key has the wrong length".into()))
    }

    /// Stores the text secret `value` (a node's RPC password) under `id`, replacing any earlier.
    pub fn put_text(&self, id: &[u8], value: &Sensitive<String>) -> Result<(), KeyringError> {
        self.entry(id)?
            .set_secret(value.expose().as_bytes())
            .map_err(map)
    }

    /// The text secret stored under `id`.
    pub fn get_text(&self, id: &[u8]) -> Result<Sensitive<String>, KeyringError> {
        let bytes = self.entry(id)?.get_secret().map_err(map)?;
        String::from_utf8(bytes).map(Sensitive::new).map_err(|e| {
            let mut bytes = e.into_bytes();
            bytes.iter_mut().for_each(|b| *b = 0);
            KeyringError::Failed("the stored secret is not text".into())
        })
    }

    /// Removes the key for the wallet `id`; removing a missing key is not an error.
    pub fn delete(&self, id: &[u8]) -> Result<(), KeyringError> {
        match self.entry(id)?.delete_credential() {
            Ok(()) | Err(Error::NoEntry) => Ok(()),
            Err(e) => Err(map(e)),
        }
    }
}
