//! What the Devices page shows about a Ledger: open app and version, lock state, and the
//! master fingerprint when the Bitcoin app is open. Read in two short exchanges, so it is
//! cheap enough to refresh on every discovery scan.

use bitcoin::bip32::Fingerprint;
use coldlink_signer::SignerError;

use crate::{btc, dashboard, exchange::Exchange};

/// A Ledger's state as far as the host can see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerStatus {
    /// Locked (PIN not entered).
    pub locked: bool,
    /// Open app and its version; `None` on the dashboard or while locked.
    pub app: Option<(String, String)>,
    /// Master fingerprint, when the Bitcoin app is open.
    pub fingerprint: Option<Fingerprint>,
}

/// Reads the device's state. A locked device is a normal answer here, not an error.
pub fn read_status(dev: &mut dyn Exchange) -> Result<LedgerStatus, SignerError> {
    let av = match dashboard::app_and_version(dev) {
        Ok(av) => av,
        Err(SignerError::Locked) => {
            return Ok(LedgerStatus {
                locked: true,
                app: None,
                fingerprint: None,
            })
        }
        Err(e) => return Err(e),
    };
    if av.is_dashboard() {
        return Ok(LedgerStatus {
            locked: false,
            app: None,
            fingerprint: None,
        });
    }
    let fingerprint = if av.name.starts_with("Bitcoin") {
        Some(btc::master_fingerprint(dev)?)
    } else {
        None
    };
    Ok(LedgerStatus {
        locked: false,
        app: Some((av.name, av.version)),
        fingerprint,
    })
}
