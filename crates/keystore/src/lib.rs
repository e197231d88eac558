//! Coldlink's encrypted keystore: the software wallet's seed at rest.
//!
//! Envelope encryption: a random 32-byte data key encrypts the secret (XChaCha20-Poly1305);
//! the data key itself is stored wrapped once per way of unlocking — a password slot (key from
//! Argon2id with the parameters stored in the file) and, if the user opts in, a keyring slot
//! (a random key kept in the OS keyring). Changing the password re-wraps the data key only.
//!
//! File layout, version 1 (integers little-endian):
//! `"CLDLKS" | version 1 | m_cost KiB u32 | t_cost u32 | lanes u32 | salt 16 |`
//! `password slot: nonce 24, wrapped key 48 | keyring flag u8 [| keyring id 16, nonce 24, wrapped key 48] |`
//! `data: nonce 24, length u32, ciphertext | SHA-256 of everything before`.
//! Every AEAD uses the header (magic to salt) as associated data, and the trailing digest tells
//! a damaged file (`Corrupt`) apart from a wrong password (`WrongPassword`).
//!
//! Writes are atomic: a temporary file in the same folder (mode 0600), fsync, rename, fsync of
//! the folder. A file that does not verify is never overwritten.

mod format;
mod kdf;
mod write;

use std::path::Path;

use coldlink_types::Sensitive;
use zeroize::Zeroizing;

pub use format::KEYRING_ID_LEN;
pub use kdf::KdfParams;

/// Why a keystore operation failed. Messages never contain secret material.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    /// The password does not open this keystore.
    #[error("wrong password")]
    WrongPassword,
    /// The keyring key does not open this keystore (or it has no keyring slot).
    #[error("the key in the OS keyring does not open this wallet: unlock with the password")]
    KeyringMismatch,
    /// The file is damaged or was changed; it is left as it is.
    #[error("the wallet file is damaged ({0}); it was not changed. Restore it from a backup or from the recovery phrase")]
    Corrupt(&'static str),
    /// A file from a newer Coldlink.
    #[error("the wallet file has format version {0}, which this Coldlink does not know: update Coldlink")]
    UnsupportedVersion(u8),
    /// No keystore at that path.
    #[error("no wallet file at {0}")]
    NotFound(String),
    /// The disk said no.
    #[error("cannot write the wallet file: {0}")]
    Io(String),
    /// The OS random source failed.
    #[error("the system random number generator failed")]
    Random,
}

/// How to open a keystore.
pub enum Unlock<'a> {
    /// With the user's password.
    Password(&'a Sensitive<String>),
    /// With the key kept in the OS keyring.
    KeyringKey(&'a Sensitive<[u8; 32]>),
}

fn random<const N: usize>() -> Result<Zeroizing<[u8; N]>, KeystoreError> {
    let mut b = Zeroizing::new([0u8; N]);
    getrandom::getrandom(b.as_mut()).map_err(|_| KeystoreError::Random)?;
    Ok(b)
}

/// Creates a keystore at `path` holding `secret`, unlockable with `password`. Refuses to
/// replace an existing file.
pub fn create(
    path: &Path,
    secret: &[u8],
    password: &Sensitive<String>,
    params: KdfParams,
) -> Result<(), KeystoreError> {
    if path.exists() {
        return Err(KeystoreError::Io(format!(
            "{} already exists; delete the wallet first",
            path.display()
        )));
    }
    let data_key = random::<32>()?;
    let file = format::File::seal(secret, &data_key, password, params)?;
    write::atomic(path, &file.to_bytes())
}

fn read(path: &Path) -> Result<format::File, KeystoreError> {
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => KeystoreError::NotFound(path.display().to_string()),
        _ => KeystoreError::Io(e.to_string()),
    })?;
    format::File::parse(&bytes)
}

/// Opens the keystore and returns the secret.
pub fn unlock(path: &Path, how: Unlock<'_>) -> Result<Sensitive<Vec<u8>>, KeystoreError> {
    let file = read(path)?;
    let data_key = file.data_key(how)?;
    file.open(&data_key)
}

/// Re-wraps the data key under a new password (the secret is not re-encrypted). Atomic.
pub fn change_password(
    path: &Path,
    old: &Sensitive<String>,
    new: &Sensitive<String>,
    params: KdfParams,
) -> Result<(), KeystoreError> {
    let mut file = read(path)?;
    let data_key = file.data_key(Unlock::Password(old))?;
    file.rewrap_password(&data_key, new, params)?;
    write::atomic(path, &file.to_bytes())
}

/// Adds (or replaces) the keyring slot: returns the id under which to store `key` in the OS
/// keyring. The password proves the user may do this.
pub fn enable_keyring(
    path: &Path,
    password: &Sensitive<String>,
    key: &Sensitive<[u8; 32]>,
) -> Result<[u8; KEYRING_ID_LEN], KeystoreError> {
    let mut file = read(path)?;
    let data_key = file.data_key(Unlock::Password(password))?;
    let id = *random::<KEYRING_ID_LEN>()?;
    file.set_keyring_slot(&data_key, id, key)?;
    write::atomic(path, &file.to_bytes())?;
    Ok(id)
}

/// Removes the keyring slot; only the password opens the keystore afterwards.
pub fn disable_keyring(path: &Path, password: &Sensitive<String>) -> Result<(), KeystoreError> {
    let mut file = read(path)?;
    file.data_key(Unlock::Password(password))?;
    file.keyring = None;
    write::atomic(path, &file.to_bytes())
}

/// The id of the keyring entry that opens this keystore, if the keyring slot is enabled.
pub fn keyring_id(path: &Path) -> Result<Option<[u8; KEYRING_ID_LEN]>, KeystoreError> {
    Ok(read(path)?.keyring.map(|k| k.id))
}

/// Deletes the keystore after checking the password.
pub fn delete(path: &Path, password: &Sensitive<String>) -> Result<(), KeystoreError> {
    read(path)?.data_key(Unlock::Password(password))?;
    std::fs::remove_file(path).map_err(|e| KeystoreError::Io(e.to_string()))
}
