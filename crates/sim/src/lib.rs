//! Simulated hardware wallets for tests, demos and development without hardware.
//!
//! A simulator *is* the device as far as the host can tell: it speaks the device's wire
//! protocol byte for byte over the same transports as the vendor's emulator, derives real keys
//! from the seed it was given and signs with real cryptography. What a person would do at the
//! device (approve, reject, walk away, pull the cable) is scripted through [`Control`], and
//! every screen the device would show is recorded so tests can assert what the user saw.
//!
//! Never give a simulator a seed that holds real funds.

mod evm;
pub mod fixtures;
pub mod ledger;
mod program;
mod rlp;
pub mod trezor;
mod user;

pub use user::{Control, Decision, Screen};
