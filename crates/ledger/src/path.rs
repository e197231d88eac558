//! BIP32 paths as Ledger apps take them: a count byte, then each index as 4 big-endian bytes.

use bitcoin::bip32::{ChildNumber, DerivationPath};
use coldlink_signer::SignerError;

/// Ledger apps accept at most 10 path components.
pub const MAX_DEPTH: usize = 10;

/// Serialises `path` for an APDU.
pub fn encode(path: &DerivationPath) -> Result<Vec<u8>, SignerError> {
    let items: Vec<ChildNumber> = path.into_iter().copied().collect();
    if items.len() > MAX_DEPTH {
        return Err(SignerError::InvalidRequest(format!(
            "derivation paths may have at most {MAX_DEPTH} levels; {path} has {}",
            items.len()
        )));
    }
    let mut out = Vec::with_capacity(1 + 4 * items.len());
    out.push(items.len() as u8);
    for c in items {
        out.extend_from_slice(&u32::from(c).to_be_bytes());
    }
    Ok(out)
}

/// Parses a serialised path (the device side); returns it and the bytes after it.
pub fn decode(bytes: &[u8]) -> Option<(DerivationPath, &[u8])> {
    let (&n, rest) = bytes.split_first()?;
    let n = usize::from(n);
    if n > MAX_DEPTH || rest.len() < 4 * n {
        return None;
    }
    let (raw, rest) = rest.split_at(4 * n);
    let path: Vec<ChildNumber> = raw
        .chunks_exact(4)
        .map(|c| ChildNumber::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
        .collect();
    Some((DerivationPath::from(path), rest))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn round_trips_and_rejects_bad_input() {
        let p = DerivationPath::from_str("m/44'/60'/0'/0/0").expect("path");
        let bytes = encode(&p).expect("encode");
        assert_eq!(bytes[..5], [5, 0x80, 0, 0, 44]);
        assert_eq!(bytes.len(), 21);
        let with_tail = [&bytes[..], &[0xaa]].concat();
        let (back, rest) = decode(&with_tail).expect("decode");
        assert_eq!((back, rest), (p, &[0xaa][..]));
        assert!(decode(&[]).is_none());
        assert!(decode(&[2, 0, 0, 0, 1]).is_none(), "truncated");
        assert!(decode(&[11]).is_none(), "too deep");
        let deep = DerivationPath::from_str("m/1/2/3/4/5/6/7/8/9/10/11").expect("path");
        assert!(matches!(encode(&deep), Err(SignerError::InvalidRequest(_))));
    }
}
