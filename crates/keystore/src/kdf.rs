//! Argon2id parameters: stored in each file, chosen once by measuring this machine.

use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroizing;

use crate::KeystoreError;

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub lanes: u32,
}

impl KdfParams {
    /// Cheap parameters for tests only: they protect nothing.
    pub const INSECURE_FOR_TESTS: Self = Self {
        m_cost_kib: 64,
        t_cost: 1,
        lanes: 1,
    };

    /// 64 MiB and as many passes as it takes this machine to spend at least `target`
    /// deriving one key (the user waits this long once per unlock, an attacker per guess).
    pub fn calibrate(target: Duration) -> Self {
        let mut p = Self {
            m_cost_kib: 64 * 1024,
            t_cost: 1,
            lanes: 1,
        };
        loop {
            let t = Instant::now();
            let _ = derive(b"calibration", &[0u8; 16], p);
            if t.elapsed() >= target || p.t_cost >= 64 {
                return p;
            }
            p.t_cost += 1;
        }
    }

    pub(crate) fn check(self) -> Result<Self, KeystoreError> {
        // Bounds keep a damaged or hostile file from making unlock take forever.
        if self.m_cost_kib < 8
            || self.m_cost_kib > 4 * 1024 * 1024
            || self.t_cost == 0
            || self.t_cost > 100
            || self.lanes == 0
            || self.lanes > 16
        {
            return Err(KeystoreError::Corrupt(
                "implausible key-derivation parameters",
            ));
        }
        Ok(self)
    }
}

/// The 32-byte key Argon2id derives from `password` and `salt`.
pub(crate) fn derive(
    password: &[u8],
    salt: &[u8; 16],
    p: KdfParams,
) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
    let params = Params::new(p.m_cost_kib, p.t_cost, p.lanes, Some(32))
        .map_err(|_| KeystoreError::Corrupt("invalid key-derivation parameters"))?;
    let mut out = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(password, salt, out.as_mut())
        .map_err(|_| KeystoreError::Corrupt("key derivation failed"))?;
    Ok(out)
}
