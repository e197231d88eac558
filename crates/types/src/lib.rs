//! Coldlink's shared domain vocabulary: coins, networks, exact amounts, key fingerprints,
//! hardware-wallet descriptors and a `Sensitive<T>` wrapper for secrets.
//!
//! Everything here is pure data with validation; no I/O, so every other crate can depend on it.

mod amount;
mod coin;
mod device;
mod fingerprint;
mod sensitive;

pub use amount::{Amount, AmountError};
pub use coin::{BitcoinNetwork, Coin};
pub use device::{
    identify_usb, recognised_models, ConnectionKind, DeviceDescriptor, DeviceState, KnownUsbDevice,
    Model, UsbIdentity, Vendor, KNOWN_USB_VENDORS,
};
pub use fingerprint::{Fingerprint, FingerprintError};
pub use sensitive::Sensitive;
