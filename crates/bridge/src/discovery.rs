//! Finding hardware wallets: USB HID through hidapi, the USB vendor interface through rusb,
//! and the vendors' emulators on loopback sockets.
//!
//! Enumeration never opens a device for I/O, so scanning cannot disturb a signing session.
//! A failure to enumerate one bus becomes a [`ScanWarning`] beside whatever the other bus
//! found, because "no device" and "could not look" mean different things to a user.

use std::{
    fmt,
    net::{SocketAddr, TcpStream},
    time::Duration,
};

use coldlink_types::{
    identify_usb, ConnectionKind, DeviceDescriptor, DeviceState, Model, UsbIdentity, Vendor,
};

use crate::transport::UdpTransport;

/// Which vendor emulator listens at an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EmulatorKind {
    /// Ledger's Speculos: APDUs over TCP (default 127.0.0.1:9999).
    Speculos,
    /// Trezor's emulator: packets over UDP (default 127.0.0.1:21324).
    TrezorEmulator,
}

/// An emulator address the user (or a test) asked Coldlink to watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EmulatorEndpoint {
    /// What speaks there.
    pub kind: EmulatorKind,
    /// Where.
    pub addr: SocketAddr,
}

impl EmulatorEndpoint {
    /// The `--device` key for this endpoint.
    pub fn id(&self) -> String {
        match self.kind {
            EmulatorKind::Speculos => format!("speculos:{}", self.addr),
            EmulatorKind::TrezorEmulator => format!("trezor-emu:{}", self.addr),
        }
    }
}

/// Something that kept part of a scan from happening.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScanWarning {
    /// hidapi could not start or enumerate.
    HidUnavailable(String),
    /// libusb could not start or enumerate.
    UsbUnavailable(String),
}

impl fmt::Display for ScanWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScanWarning::HidUnavailable(e) => write!(f, "USB HID devices could not be listed: {e}"),
            ScanWarning::UsbUnavailable(e) => write!(f, "USB devices could not be listed: {e}"),
        }
    }
}

/// What one scan found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// Devices, sorted by id so two scans compare equal when nothing changed.
    pub devices: Vec<DeviceDescriptor>,
    /// Buses that could not be read.
    pub warnings: Vec<ScanWarning>,
}

/// Lists every recognised hardware wallet on USB, then probes the given emulator endpoints.
pub fn scan(endpoints: &[EmulatorEndpoint], probe_timeout: Duration) -> Scan {
    let mut out = usb_devices();
    out.devices.extend(
        endpoints
            .iter()
            .filter_map(|e| probe_emulator(e, probe_timeout)),
    );
    out.devices.sort_by(|a, b| a.id.cmp(&b.id));
    out.devices.dedup_by(|a, b| a.id == b.id);
    out
}

/// Lists recognised hardware wallets on USB (HID and vendor interface).
pub fn usb_devices() -> Scan {
    let mut scan = Scan::default();
    match hid_devices() {
        Ok(mut d) => scan.devices.append(&mut d),
        Err(w) => scan.warnings.push(w),
    }
    match webusb_devices() {
        Ok(mut d) => scan.devices.append(&mut d),
        Err(w) => scan.warnings.push(w),
    }
    scan.devices.sort_by(|a, b| a.id.cmp(&b.id));
    scan
}

fn hid_devices() -> Result<Vec<DeviceDescriptor>, ScanWarning> {
    let api = hidapi::HidApi::new().map_err(|e| ScanWarning::HidUnavailable(e.to_string()))?;
    let mut found = Vec::new();
    for info in api.device_list() {
        let Some(known) = identify_usb(info.vendor_id(), info.product_id(), info.product_string())
        else {
            continue;
        };
        // Wallets expose extra HID interfaces (U2F/FIDO); the wallet protocol is on interface 0
        // (-1 where the platform does not report interfaces).
        if known.connection != ConnectionKind::UsbHid || info.interface_number() > 0 {
            continue;
        }
        let path = info.path().to_string_lossy().into_owned();
        found.push(DeviceDescriptor {
            id: format!("hid:{path}"),
            vendor: known.vendor,
            model: known.model,
            model_name: known.model.display_name().to_owned(),
            connection: ConnectionKind::UsbHid,
            usb: Some(UsbIdentity {
                vendor_id: info.vendor_id(),
                product_id: info.product_id(),
            }),
            product: info.product_string().map(str::to_owned),
            state: hid_access(&path),
            fingerprint: None,
            app: None,
            app_version: None,
            emulated: false,
        });
    }
    Ok(found)
}

/// On Linux, a hidraw node we cannot open means the udev rules are missing. Opening it does
/// not claim the device (hidraw is shared), so this check is harmless.
fn hid_access(path: &str) -> DeviceState {
    if !path.starts_with("/dev/") {
        return DeviceState::Available;
    }
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
    {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => DeviceState::NoPermission,
        _ => DeviceState::Available,
    }
}

fn webusb_devices() -> Result<Vec<DeviceDescriptor>, ScanWarning> {
    let list = rusb::devices().map_err(|e| ScanWarning::UsbUnavailable(e.to_string()))?;
    let mut found = Vec::new();
    for device in list.iter() {
        let Ok(desc) = device.device_descriptor() else {
            continue;
        };
        let (vid, pid) = (desc.vendor_id(), desc.product_id());
        let Some(known) = identify_usb(vid, pid, None) else {
            continue;
        };
        if known.connection != ConnectionKind::WebUsb {
            continue;
        }
        // Reading the product string needs the device opened; failure to open is itself the
        // useful fact (missing udev rules).
        let (product, state) = match device.open() {
            Ok(handle) => (
                handle.read_product_string_ascii(&desc).ok(),
                DeviceState::Available,
            ),
            Err(rusb::Error::Access) => (None, DeviceState::NoPermission),
            Err(rusb::Error::Busy) => (None, DeviceState::Busy),
            Err(_) => (None, DeviceState::Available),
        };
        let ports = device
            .port_numbers()
            .map(|p| p.iter().map(u8::to_string).collect::<Vec<_>>().join("."))
            .unwrap_or_else(|_| device.address().to_string());
        found.push(DeviceDescriptor {
            id: format!("usb:{}-{}", device.bus_number(), ports),
            vendor: known.vendor,
            model: known.model,
            model_name: known.model.display_name().to_owned(),
            connection: ConnectionKind::WebUsb,
            usb: Some(UsbIdentity {
                vendor_id: vid,
                product_id: pid,
            }),
            product,
            state,
            fingerprint: None,
            app: None,
            app_version: None,
            emulated: false,
        });
    }
    Ok(found)
}

/// Checks whether an emulator answers at `endpoint`; returns its descriptor if so.
///
/// Speculos is checked with a TCP connect (it accepts one client at a time, so the probe
/// closes at once). The Trezor emulator answers the datagram `PINGPING` with `PONGPONG`.
pub fn probe_emulator(endpoint: &EmulatorEndpoint, timeout: Duration) -> Option<DeviceDescriptor> {
    let alive = match endpoint.kind {
        EmulatorKind::Speculos => TcpStream::connect_timeout(&endpoint.addr, timeout).is_ok(),
        EmulatorKind::TrezorEmulator => trezor_emulator_alive(endpoint.addr, timeout),
    };
    if !alive {
        return None;
    }
    let (vendor, model, connection, name) = match endpoint.kind {
        EmulatorKind::Speculos => (
            Vendor::Ledger,
            Model::LedgerUnknown,
            ConnectionKind::SpeculosTcp,
            "Ledger emulator (Speculos)",
        ),
        EmulatorKind::TrezorEmulator => (
            Vendor::Trezor,
            Model::Trezor,
            ConnectionKind::TrezorEmulatorUdp,
            "Trezor emulator",
        ),
    };
    Some(DeviceDescriptor {
        id: endpoint.id(),
        vendor,
        model,
        model_name: name.to_owned(),
        connection,
        usb: None,
        product: None,
        state: DeviceState::Available,
        fingerprint: None,
        app: None,
        app_version: None,
        emulated: true,
    })
}

fn trezor_emulator_alive(addr: SocketAddr, timeout: Duration) -> bool {
    let Ok(t) = UdpTransport::connect(addr) else {
        return false;
    };
    if t.send_raw(b"PINGPING").is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    matches!(t.recv_raw(&mut buf, timeout), Ok(8) if &buf[..8] == b"PONGPONG")
}

#[cfg(test)]
mod tests {
    use std::{net::TcpListener, net::UdpSocket, thread};

    use super::*;

    const T: Duration = Duration::from_millis(300);

    #[test]
    fn speculos_endpoint_is_seen_only_while_listening() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let ep = EmulatorEndpoint {
            kind: EmulatorKind::Speculos,
            addr: listener.local_addr().expect("addr"),
        };
        let d = probe_emulator(&ep, T).expect("seen");
        assert_eq!(d.id, format!("speculos:{}", ep.addr));
        assert_eq!(d.connection, ConnectionKind::SpeculosTcp);
        assert!(d.emulated);
        drop(listener);
        assert_eq!(probe_emulator(&ep, T), None);
    }

    #[test]
    fn trezor_emulator_needs_the_pong() {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let ep = EmulatorEndpoint {
            kind: EmulatorKind::TrezorEmulator,
            addr: sock.local_addr().expect("addr"),
        };
        let responder = {
            let sock = sock.try_clone().expect("clone");
            thread::spawn(move || {
                let mut buf = [0u8; 64];
                // First ping: answer correctly. Second: answer garbage.
                for reply in [&b"PONGPONG"[..], &b"PONG"[..]] {
                    let (n, from) = sock.recv_from(&mut buf).expect("recv");
                    assert_eq!(&buf[..n], b"PINGPING");
                    sock.send_to(reply, from).expect("send");
                }
            })
        };
        let d = probe_emulator(&ep, Duration::from_secs(2)).expect("alive");
        assert_eq!(d.id, format!("trezor-emu:{}", ep.addr));
        assert_eq!(probe_emulator(&ep, Duration::from_secs(2)), None);
        responder.join().expect("responder");
        // Nobody answering at all.
        drop(sock);
        assert_eq!(probe_emulator(&ep, T), None);
    }

    #[test]
    fn a_scan_without_hardware_lists_emulators_sorted_and_deduplicated() {
        let a = TcpListener::bind("127.0.0.1:0").expect("bind");
        let b = TcpListener::bind("127.0.0.1:0").expect("bind");
        let ep = |l: &TcpListener| EmulatorEndpoint {
            kind: EmulatorKind::Speculos,
            addr: l.local_addr().expect("addr"),
        };
        let eps = [ep(&b), ep(&a), ep(&a)];
        let s = scan(&eps, T);
        let emulated: Vec<_> = s.devices.iter().filter(|d| d.emulated).collect();
        assert_eq!(emulated.len(), 2);
        assert!(emulated[0].id < emulated[1].id);
    }
}
