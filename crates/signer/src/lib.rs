//! The `Signer` seam: what Coldlink asks of anything that holds keys — a Ledger, a Trezor, a
//! simulator or the software wallet — so that every signing path above it is one path.
//!
//! Devices refuse what they cannot do with [`SignerError::Unsupported`], which callers can
//! anticipate through [`Capabilities`] instead of discovering it mid-flow. Anything that needs
//! the person at the device (confirm, PIN, passphrase) goes through [`Interaction`], so the UI
//! can say "Confirm on your Ledger" while the device waits.

use bitcoin::{
    bip32::{DerivationPath, Xpub},
    Psbt,
};
use coldlink_types::{Fingerprint, Model, Sensitive, Vendor};

pub mod evm;

/// What kind of key holder this is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignerKind {
    /// A hardware wallet (or a vendor emulator running its firmware).
    Hardware {
        /// Maker.
        vendor: Vendor,
        /// Model.
        model: Model,
    },
    /// Coldlink's BIP39 software wallet.
    Software,
}

/// What a signer can do; the UI greys out the rest and the Compare page reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Read Bitcoin xpubs and sign Bitcoin PSBTs.
    pub bitcoin: bool,
    /// Taproot (BIP86) single-sig.
    pub taproot: bool,
    /// Sign EVM transactions and messages.
    pub evm: bool,
    /// Show an address on its own screen for the user to compare.
    pub display_address: bool,
}

/// The single-signature script types Coldlink builds accounts for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScriptKind {
    /// BIP44 `pkh`.
    Legacy,
    /// BIP49 `sh(wpkh)`.
    NestedSegwit,
    /// BIP84 `wpkh`.
    NativeSegwit,
    /// BIP86 `tr`.
    Taproot,
}

/// What the device is about to show and wait on, so the app can show the same thing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prompt {
    /// An address to compare with the device screen.
    Address(String),
    /// A transaction to review: one line per field, in the device's order.
    Transaction(Vec<(String, String)>),
    /// Anything else the device asks to be confirmed.
    Other(String),
}

/// Callbacks for the person holding the device. Implemented by the UI layer and by tests.
pub trait Interaction: Send + Sync {
    /// The device now waits for the user to confirm `prompt` on it.
    fn confirm_on_device(&self, prompt: &Prompt);
    /// A Trezor One / KeepKey PIN matrix: return the positions (1–9, as laid out on the
    /// device's scrambled pad) the user clicked, never digits. `None` cancels.
    fn pin_matrix(&self) -> Option<Sensitive<String>>;
    /// A passphrase typed in the app. `None` means "enter it on the device".
    fn passphrase(&self) -> Option<Sensitive<String>>;
}

/// An `Interaction` for headless use (command line, tests): nobody to show prompts to, no PIN
/// or passphrase to give. Hardware wallets still wait for their buttons.
#[derive(Clone, Copy, Debug, Default)]
pub struct Headless;

impl Interaction for Headless {
    fn confirm_on_device(&self, _prompt: &Prompt) {}
    fn pin_matrix(&self) -> Option<Sensitive<String>> {
        None
    }
    fn passphrase(&self) -> Option<Sensitive<String>> {
        None
    }
}

/// Why a signer could not do what was asked. Every variant has a message that tells the user
/// what to do next.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    /// The user said no on the device.
    #[error("rejected on the device")]
    Rejected,
    /// The device is locked.
    #[error("the device is locked: unlock it with its PIN")]
    Locked,
    /// The wrong app (or none) is open on a Ledger.
    #[error("open the {expected} app on the device")]
    WrongApp {
        /// The app that must be open.
        expected: String,
    },
    /// The device did not answer in time (the user walked away, or it hung).
    #[error("the device did not answer in time")]
    Timeout,
    /// Unplugged or emulator stopped.
    #[error("the device was disconnected: plug it in and try again")]
    Disconnected,
    /// This signer cannot do this at all.
    #[error("this device cannot {0}")]
    Unsupported(&'static str),
    /// The device answered with an error code we know no better name for.
    #[error("the device reported an error (code {code:#06x}): {message}")]
    Device {
        /// Vendor status or failure code.
        code: u32,
        /// Its meaning, as far as known.
        message: String,
    },
    /// The device's answer was malformed or failed verification; nothing is used from it.
    #[error("the device's answer could not be verified: {0}")]
    BadResponse(String),
    /// The PIN was wrong. Nothing was done; the device waits longer after each wrong try.
    #[error("wrong PIN: nothing was done, try again (the device makes you wait longer after each wrong try)")]
    WrongPin,
    /// The user (or Coldlink) cancelled PIN or passphrase entry, or the operation itself.
    #[error("cancelled: nothing was signed or changed")]
    Cancelled,
    /// The request itself was malformed (bad path, bad PSBT).
    #[error("{0}")]
    InvalidRequest(String),
}

/// Anything that holds keys.
pub trait Signer: Send {
    /// What it is.
    fn kind(&self) -> SignerKind;
    /// What it can do.
    fn capabilities(&self) -> Capabilities;
    /// The BIP32 master-key fingerprint, which names the seed across sessions.
    fn master_fingerprint(&mut self) -> Result<Fingerprint, SignerError>;
}

/// A signer for Bitcoin single-sig accounts.
pub trait BitcoinSigner: Signer {
    /// The extended public key at `path`; with `display`, the device shows it for checking.
    fn xpub(&mut self, path: &DerivationPath, display: bool) -> Result<Xpub, SignerError>;

    /// Shows the receive (`change = false`) or change address `index` of the account at
    /// `account_path` on the device, waits for the user, and returns the address it showed.
    fn display_address(
        &mut self,
        kind: ScriptKind,
        account_path: &DerivationPath,
        change: bool,
        index: u32,
        ui: &dyn Interaction,
    ) -> Result<String, SignerError>;

    /// Signs every input of `psbt` it holds keys for, after the user confirms on the device,
    /// and merges the signatures into it. Returns how many inputs it signed.
    fn sign_psbt(&mut self, psbt: &mut Psbt, ui: &dyn Interaction) -> Result<usize, SignerError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_tell_the_user_what_to_do() {
        let cases = [
            (SignerError::Locked, "unlock it with its PIN"),
            (
                SignerError::WrongApp {
                    expected: "Bitcoin".into(),
                },
                "open the Bitcoin app",
            ),
            (SignerError::Disconnected, "plug it in"),
            (
                SignerError::Device {
                    code: 0x6a80,
                    message: "invalid data".into(),
                },
                "0x6a80",
            ),
        ];
        for (e, needle) in cases {
            assert!(e.to_string().contains(needle), "{e}");
        }
    }
}
