//! The keystore file format (see the crate documentation for the layout).

use chacha20poly1305::{
    aead::{Aead, KeyInit, Payload},
    XChaCha20Poly1305, XNonce,
};
use coldlink_types::Sensitive;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::{
    kdf::{derive, KdfParams},
    random, KeystoreError, Unlock,
};

const MAGIC: &[u8; 6] = b"CLDLKS";
const VERSION: u8 = 1;
const HEADER_LEN: usize = 6 + 1 + 12 + 16;
const NONCE: usize = 24;
const WRAPPED: usize = 32 + 16;
/// Length of the random id naming a keystore's entry in the OS keyring.
pub const KEYRING_ID_LEN: usize = 16;
/// Seeds and their metadata are small; anything larger is damage.
const MAX_SECRET: usize = 64 * 1024;

#[derive(Clone)]
pub(crate) struct Slot {
    nonce: [u8; NONCE],
    wrapped: [u8; WRAPPED],
}

#[derive(Clone)]
pub(crate) struct KeyringSlot {
    pub(crate) id: [u8; KEYRING_ID_LEN],
    slot: Slot,
}

pub(crate) struct File {
    params: KdfParams,
    salt: [u8; 16],
    password: Slot,
    pub(crate) keyring: Option<KeyringSlot>,
    data_nonce: [u8; NONCE],
    ciphertext: Vec<u8>,
}

fn aead_seal(
    key: &[u8; 32],
    nonce: &[u8; NONCE],
    aad: &[u8],
    plain: &[u8],
) -> Result<Vec<u8>, KeystoreError> {
    XChaCha20Poly1305::new(key.into())
        .encrypt(XNonce::from_slice(nonce), Payload { msg: plain, aad })
        .map_err(|_| KeystoreError::Corrupt("encryption failed"))
}

fn aead_open(
    key: &[u8; 32],
    nonce: &[u8; NONCE],
    aad: &[u8],
    sealed: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    XChaCha20Poly1305::new(key.into())
        .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad })
        .ok()
        .map(Zeroizing::new)
}

fn wrap(kek: &[u8; 32], aad: &[u8], data_key: &[u8; 32]) -> Result<Slot, KeystoreError> {
    let nonce = *random::<NONCE>()?;
    let sealed = aead_seal(kek, &nonce, aad, data_key)?;
    let wrapped: [u8; WRAPPED] = sealed
        .as_slice()
        .try_into()
        .map_err(|_| KeystoreError::Corrupt("wrapped key length"))?;
    Ok(Slot { nonce, wrapped })
}

fn unwrap(kek: &[u8; 32], aad: &[u8], slot: &Slot) -> Option<Zeroizing<[u8; 32]>> {
    let plain = aead_open(kek, &slot.nonce, aad, &slot.wrapped)?;
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(plain.get(..32)?);
    Some(key)
}

/// A cursor that refuses to read past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], KeystoreError> {
        if self.0.len() < n {
            return Err(KeystoreError::Corrupt("the file is truncated"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], KeystoreError> {
        self.take(N)?
            .try_into()
            .map_err(|_| KeystoreError::Corrupt("the file is truncated"))
    }
    fn u32(&mut self) -> Result<u32, KeystoreError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn slot(&mut self) -> Result<Slot, KeystoreError> {
        Ok(Slot {
            nonce: self.array()?,
            wrapped: self.array()?,
        })
    }
}

impl File {
    fn header(&self) -> Vec<u8> {
        let mut h = Vec::with_capacity(HEADER_LEN);
        h.extend_from_slice(MAGIC);
        h.push(VERSION);
        h.extend_from_slice(&self.params.m_cost_kib.to_le_bytes());
        h.extend_from_slice(&self.params.t_cost.to_le_bytes());
        h.extend_from_slice(&self.params.lanes.to_le_bytes());
        h.extend_from_slice(&self.salt);
        h
    }

    pub(crate) fn seal(
        secret: &[u8],
        data_key: &[u8; 32],
        password: &Sensitive<String>,
        params: KdfParams,
    ) -> Result<Self, KeystoreError> {
        if secret.len() > MAX_SECRET {
            return Err(KeystoreError::Io("secret too large".into()));
        }
        let mut f = Self {
            params: params.check()?,
            salt: *random::<16>()?,
            password: Slot {
                nonce: [0; NONCE],
                wrapped: [0; WRAPPED],
            },
            keyring: None,
            data_nonce: *random::<NONCE>()?,
            ciphertext: Vec::new(),
        };
        let aad = f.header();
        f.ciphertext = aead_seal(data_key, &f.data_nonce, &aad, secret)?;
        let kek = derive(password.expose().as_bytes(), &f.salt, f.params)?;
        f.password = wrap(&kek, &aad, data_key)?;
        Ok(f)
    }

    pub(crate) fn data_key(&self, how: Unlock<'_>) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
        let aad = self.header();
        match how {
            Unlock::Password(pw) => {
                let kek = derive(pw.expose().as_bytes(), &self.salt, self.params)?;
                unwrap(&kek, &aad, &self.password).ok_or(KeystoreError::WrongPassword)
            }
            Unlock::KeyringKey(key) => {
                let slot = self
                    .keyring
                    .as_ref()
                    .ok_or(KeystoreError::KeyringMismatch)?;
                unwrap(key.expose(), &aad, &slot.slot).ok_or(KeystoreError::KeyringMismatch)
            }
        }
    }

    pub(crate) fn open(&self, data_key: &[u8; 32]) -> Result<Sensitive<Vec<u8>>, KeystoreError> {
        let plain = aead_open(data_key, &self.data_nonce, &self.header(), &self.ciphertext).ok_or(
            KeystoreError::Corrupt("the encrypted secret does not verify"),
        )?;
        Ok(Sensitive::new(plain.to_vec()))
    }

    pub(crate) fn rewrap_password(
        &mut self,
        data_key: &[u8; 32],
        new: &Sensitive<String>,
        params: KdfParams,
    ) -> Result<(), KeystoreError> {
        // New salt and parameters change the header, so every AEAD is redone under it.
        let secret = self.open(data_key)?;
        self.params = params.check()?;
        self.salt = *random::<16>()?;
        self.data_nonce = *random::<NONCE>()?;
        let aad = self.header();
        self.ciphertext = aead_seal(data_key, &self.data_nonce, &aad, secret.expose())?;
        let kek = derive(new.expose().as_bytes(), &self.salt, self.params)?;
        self.password = wrap(&kek, &aad, data_key)?;
        // The keyring slot was bound to the old header: it must be enabled again.
        self.keyring = None;
        Ok(())
    }

    pub(crate) fn set_keyring_slot(
        &mut self,
        data_key: &[u8; 32],
        id: [u8; KEYRING_ID_LEN],
        key: &Sensitive<[u8; 32]>,
    ) -> Result<(), KeystoreError> {
        let aad = self.header();
        self.keyring = Some(KeyringSlot {
            id,
            slot: wrap(key.expose(), &aad, data_key)?,
        });
        Ok(())
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.header();
        out.extend_from_slice(&self.password.nonce);
        out.extend_from_slice(&self.password.wrapped);
        match &self.keyring {
            None => out.push(0),
            Some(k) => {
                out.push(1);
                out.extend_from_slice(&k.id);
                out.extend_from_slice(&k.slot.nonce);
                out.extend_from_slice(&k.slot.wrapped);
            }
        }
        out.extend_from_slice(&self.data_nonce);
        out.extend_from_slice(&(self.ciphertext.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.ciphertext);
        let digest = Sha256::digest(&out);
        out.extend_from_slice(&digest);
        out
    }

    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, KeystoreError> {
        if bytes.len() < HEADER_LEN + 32 {
            return Err(KeystoreError::Corrupt("the file is truncated"));
        }
        let (body, digest) = bytes.split_at(bytes.len() - 32);
        let mut r = Reader(body);
        if r.take(6)? != MAGIC {
            return Err(KeystoreError::Corrupt("not a Coldlink wallet file"));
        }
        let version = r.array::<1>()?[0];
        if version != VERSION {
            // A version byte hit by damage looks the same: check the digest first.
            if Sha256::digest(body).as_slice() != digest {
                return Err(KeystoreError::Corrupt("checksum mismatch"));
            }
            return Err(KeystoreError::UnsupportedVersion(version));
        }
        if Sha256::digest(body).as_slice() != digest {
            return Err(KeystoreError::Corrupt("checksum mismatch"));
        }
        let params = KdfParams {
            m_cost_kib: r.u32()?,
            t_cost: r.u32()?,
            lanes: r.u32()?,
        }
        .check()?;
        let salt = r.array()?;
        let password = r.slot()?;
        let keyring = match r.array::<1>()?[0] {
            0 => None,
            1 => Some(KeyringSlot {
                id: r.array()?,
                slot: r.slot()?,
            }),
            _ => return Err(KeystoreError::Corrupt("unknown keyring flag")),
        };
        let data_nonce = r.array()?;
        let len = r.u32()? as usize;
        if len > MAX_SECRET + 16 {
            return Err(KeystoreError::Corrupt("implausible secret length"));
        }
        let ciphertext = r.take(len)?.to_vec();
        if !r.0.is_empty() {
            return Err(KeystoreError::Corrupt("unexpected bytes at the end"));
        }
        Ok(Self {
            params,
            salt,
            password,
            keyring,
            data_nonce,
            ciphertext,
        })
    }
}
