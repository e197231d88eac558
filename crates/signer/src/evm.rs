//! Checking an EVM signature a device returned: it must recover to the account's address.

use alloy_primitives::{Address, Signature, B256, U256};

use crate::SignerError;

/// Picks the y-parity whose recovered signer is `expected`. Devices encode `v` differently
/// per transaction type (and some truncate EIP-155 `v` for large chain ids); trying both
/// parities against the known address is exact and doubles as the verification.
pub fn verified_signature(
    r: U256,
    s: U256,
    hash: &B256,
    expected: Address,
) -> Result<Signature, SignerError> {
    for parity in [false, true] {
        let sig = Signature::new(r, s, parity);
        if sig.recover_address_from_prehash(hash).ok() == Some(expected) {
            return Ok(sig);
        }
    }
    Err(SignerError::BadResponse(
        "the signature does not come from this account's key".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_from_another_key_is_refused() {
        // r = s = 1 recovers to some key, never to the zero address.
        let e = verified_signature(U256::from(1), U256::from(1), &B256::ZERO, Address::ZERO);
        assert!(matches!(e, Err(SignerError::BadResponse(_))));
    }
}
