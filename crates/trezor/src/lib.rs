//! Trezor (and KeepKey, same protocol family) devices: the wire framing that carries protobuf
//! messages in 64-byte packets over USB, HID or the emulator's UDP socket.
//!
//! Layers follow trezorlib: a packet [`coldlink_bridge::Transport`] below, this framing above
//! it, then (next) the protobuf messages and the session with PIN, passphrase and button
//! prompts.

pub mod framing;

pub use framing::{frame, FramingError, Reassembler, MAX_MESSAGE};
pub mod device;
pub mod eth;
pub mod messages;
pub mod psbt;
pub mod session;

pub use device::{DeviceInfo, Trezor};
pub use session::Session;
