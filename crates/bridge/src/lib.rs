//! The hardware bridge: how Coldlink finds hardware wallets and moves bytes to and from them.
//!
//! Layers, lowest first (the shape trezorlib and HWI use): a [`Transport`] moves fixed-size
//! packets and knows nothing of messages; vendor framing (Ledger APDU-over-HID, Trezor `?##`)
//! sits above it in the device modules; signers sit above that. Emulators are just other
//! transports, so the code that talks to a simulator is the code that talks to a device.

mod discovery;
mod transport;

pub use discovery::{
    probe_emulator, scan, usb_devices, EmulatorEndpoint, EmulatorKind, Scan, ScanWarning,
};
pub use transport::{
    HidTransport, TcpReportTransport, Transport, TransportError, UdpTransport, UsbTransport,
    PACKET_SIZE,
};
