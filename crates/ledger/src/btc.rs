//! The Bitcoin app (CLA 0xE1, the PSBT-based protocol of app versions 2.x): master
//! fingerprint and extended public keys.
//!
//! Wallet addresses and PSBT signing use the app's interrupted-execution protocol (the device
//! asks the host for merkleized data through client commands); they are the next step here.

use std::str::FromStr;

use bitcoin::bip32::{DerivationPath, Fingerprint, Xpub};
use coldlink_signer::SignerError;

use crate::{apdu::Apdu, exchange::Exchange, path};

const CLA: u8 = 0xe1;
const INS_GET_EXTENDED_PUBKEY: u8 = 0x00;
const INS_GET_MASTER_FINGERPRINT: u8 = 0x05;
const APP: &str = "Bitcoin";

/// The seed's master-key fingerprint.
pub fn master_fingerprint(dev: &mut dyn Exchange) -> Result<Fingerprint, SignerError> {
    let d = dev
        .exchange(&Apdu::new(CLA, INS_GET_MASTER_FINGERPRINT, 0, 0, vec![]))?
        .ok(APP)?;
    let bytes: [u8; 4] = d
        .as_slice()
        .try_into()
        .map_err(|_| SignerError::BadResponse(format!("fingerprint of {} bytes", d.len())))?;
    Ok(Fingerprint::from(bytes))
}

/// The extended public key at `path`; with `display` the device shows it for checking.
pub fn extended_pubkey(
    dev: &mut dyn Exchange,
    path: &DerivationPath,
    display: bool,
) -> Result<Xpub, SignerError> {
    let mut data = vec![u8::from(display)];
    data.extend_from_slice(&path::encode(path)?);
    let d = dev
        .exchange(&Apdu::new(CLA, INS_GET_EXTENDED_PUBKEY, 0, 0, data))?
        .ok(APP)?;
    let text =
        std::str::from_utf8(&d).map_err(|_| SignerError::BadResponse("xpub is not text".into()))?;
    let xpub = Xpub::from_str(text)
        .map_err(|e| SignerError::BadResponse(format!("invalid xpub from device: {e}")))?;
    if xpub.depth as usize != path.len() {
        return Err(SignerError::BadResponse(format!(
            "device returned a key of depth {} for a path of depth {}",
            xpub.depth,
            path.len()
        )));
    }
    Ok(xpub)
}
