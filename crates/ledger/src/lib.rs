//! Ledger devices: APDUs and status words, HID framing, the Speculos TCP transport, and the
//! dashboard, Bitcoin and Ethereum app protocols built on them.
//!
//! The same code drives a Ledger on USB, Ledger's Speculos emulator running real firmware,
//! and Coldlink's own simulator; only the [`Exchange`] underneath differs.

pub mod apdu;
pub mod btc;
pub mod dashboard;
pub mod eth;
pub mod exchange;
pub mod framing;
pub mod path;
pub mod psbt;
pub mod status;

pub use apdu::{status_error, sw, Apdu, ApduError, Response};
pub use dashboard::AppAndVersion;
pub use exchange::{Exchange, ExchangeError, HidExchange, SpeculosExchange, DEFAULT_TIMEOUT};
pub use framing::{frame, FramingError, Reassembler};
pub use psbt::DefaultWallet;
pub use status::{read_status, LedgerStatus};
