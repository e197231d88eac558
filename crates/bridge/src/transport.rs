//! The packet transport seam and its implementations for USB HID and UDP emulators.
//!
//! Every hardware wallet we support speaks in 64-byte packets on USB; the Trezor emulator
//! carries the same packets in UDP datagrams. Speculos (Ledger's emulator) is the exception:
//! it carries whole APDUs over TCP, so its transport lives with the Ledger framing instead.

use std::{
    net::{SocketAddr, UdpSocket},
    time::Duration,
};

/// Size of one USB HID report / Trezor packet, without the HID report-id byte.
pub const PACKET_SIZE: usize = 64;

/// Why a packet could not be moved. Messages are written for the person at the keyboard.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The device did not answer in time.
    #[error("the device did not answer within {0:?}")]
    Timeout(Duration),
    /// The device went away (unplugged, emulator stopped).
    #[error("the device was disconnected")]
    Disconnected,
    /// The OS refused access.
    #[error("no permission to open the device: on Linux, install Coldlink's udev rules (see README) and re-plug it")]
    NoPermission,
    /// Another program holds the device.
    #[error("the device is in use by another program (Ledger Live, Trezor Suite or Bridge?): close it and try again")]
    Busy,
    /// A packet of the wrong size was handed to the transport.
    #[error("packets are {PACKET_SIZE} bytes; got {0}")]
    BadPacket(usize),
    /// Any other I/O failure, with the OS's words.
    #[error("device I/O failed: {0}")]
    Io(String),
}

/// Moves packets to and from one device. Implementations are blocking: device I/O runs on a
/// worker thread, one operation per device at a time.
pub trait Transport: Send {
    /// Sends one packet of exactly [`PACKET_SIZE`] bytes.
    fn write_packet(&mut self, packet: &[u8]) -> Result<(), TransportError>;
    /// Receives one packet, waiting at most `timeout`.
    fn read_packet(&mut self, timeout: Duration) -> Result<[u8; PACKET_SIZE], TransportError>;
}

/// A USB HID device opened through hidapi.
pub struct HidTransport {
    device: hidapi::HidDevice,
}

impl HidTransport {
    /// Opens the HID device at `path` (as listed by discovery).
    pub fn open_path(path: &str) -> Result<Self, TransportError> {
        let api = hidapi::HidApi::new().map_err(map_hid_error)?;
        Self::open(&api, path)
    }

    /// Opens the HID device at `path` (as listed by discovery).
    pub fn open(api: &hidapi::HidApi, path: &str) -> Result<Self, TransportError> {
        let cpath = std::ffi::CString::new(path).map_err(|_| TransportError::Disconnected)?;
        let device = api.open_path(&cpath).map_err(map_hid_error)?;
        Ok(Self { device })
    }
}

fn map_hid_error(e: hidapi::HidError) -> TransportError {
    let text = e.to_string();
    let lower = text.to_lowercase();
    if lower.contains("permission") || lower.contains("access") {
        TransportError::NoPermission
    } else if lower.contains("busy") {
        TransportError::Busy
    } else if lower.contains("no such device") || lower.contains("not found") {
        TransportError::Disconnected
    } else {
        TransportError::Io(text)
    }
}

impl Transport for HidTransport {
    fn write_packet(&mut self, packet: &[u8]) -> Result<(), TransportError> {
        if packet.len() != PACKET_SIZE {
            return Err(TransportError::BadPacket(packet.len()));
        }
        // hidapi wants the report id first; our devices use unnumbered reports (id 0).
        let mut report = [0u8; PACKET_SIZE + 1];
        report[1..].copy_from_slice(packet);
        let n = self.device.write(&report).map_err(map_hid_error)?;
        if n < PACKET_SIZE {
            return Err(TransportError::Io(format!("short write of {n} bytes")));
        }
        Ok(())
    }

    fn read_packet(&mut self, timeout: Duration) -> Result<[u8; PACKET_SIZE], TransportError> {
        let mut buf = [0u8; PACKET_SIZE];
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        match self
            .device
            .read_timeout(&mut buf, ms)
            .map_err(map_hid_error)?
        {
            0 => Err(TransportError::Timeout(timeout)),
            PACKET_SIZE => Ok(buf),
            n => Err(TransportError::Io(format!("short read of {n} bytes"))),
        }
    }
}

/// Packets in UDP datagrams, as the Trezor and KeepKey emulators carry them.
pub struct UdpTransport {
    socket: UdpSocket,
}

impl UdpTransport {
    /// Connects (in the UDP sense) to an emulator at `addr`.
    pub fn connect(addr: SocketAddr) -> Result<Self, TransportError> {
        let local: SocketAddr = if addr.is_ipv4() {
            ([127, 0, 0, 1], 0).into()
        } else {
            (std::net::Ipv6Addr::LOCALHOST, 0).into()
        };
        let socket = UdpSocket::bind(local).map_err(|e| TransportError::Io(e.to_string()))?;
        socket
            .connect(addr)
            .map_err(|e| TransportError::Io(e.to_string()))?;
        Ok(Self { socket })
    }

    /// Sends raw bytes (used for the emulator's out-of-band `PINGPING` liveness check).
    pub(crate) fn send_raw(&self, data: &[u8]) -> Result<(), TransportError> {
        self.socket.send(data).map(|_| ()).map_err(map_udp_error)
    }

    /// Receives one datagram of up to `buf.len()` bytes.
    pub(crate) fn recv_raw(
        &self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<usize, TransportError> {
        // A zero timeout would mean "block forever" to the OS.
        let t = timeout.max(Duration::from_millis(1));
        self.socket
            .set_read_timeout(Some(t))
            .map_err(|e| TransportError::Io(e.to_string()))?;
        self.socket.recv(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                TransportError::Timeout(timeout)
            }
            _ => map_udp_error(e),
        })
    }
}

fn map_udp_error(e: std::io::Error) -> TransportError {
    // ICMP "port unreachable" surfaces as ConnectionRefused on the next call: nobody listens.
    if e.kind() == std::io::ErrorKind::ConnectionRefused {
        TransportError::Disconnected
    } else {
        TransportError::Io(e.to_string())
    }
}

impl Transport for UdpTransport {
    fn write_packet(&mut self, packet: &[u8]) -> Result<(), TransportError> {
        if packet.len() != PACKET_SIZE {
            return Err(TransportError::BadPacket(packet.len()));
        }
        self.send_raw(packet)
    }

    fn read_packet(&mut self, timeout: Duration) -> Result<[u8; PACKET_SIZE], TransportError> {
        let mut buf = [0u8; PACKET_SIZE + 1];
        let n = self.recv_raw(&mut buf, timeout)?;
        if n != PACKET_SIZE {
            return Err(TransportError::BadPacket(n));
        }
        let mut out = [0u8; PACKET_SIZE];
        out.copy_from_slice(&buf[..PACKET_SIZE]);
        Ok(out)
    }
}

/// Raw 64-byte HID reports over a TCP stream: how Coldlink's simulators expose a device's
/// USB side, so the host's HID framing runs end to end without hardware.
pub struct TcpReportTransport {
    stream: std::net::TcpStream,
}

impl TcpReportTransport {
    /// Connects to a report socket at `addr`.
    pub fn connect(addr: SocketAddr) -> Result<Self, TransportError> {
        let stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3))
            .map_err(map_stream_error)?;
        let _ = stream.set_nodelay(true);
        Ok(Self { stream })
    }
}

fn map_stream_error(e: std::io::Error) -> TransportError {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused | ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
        | NotConnected => TransportError::Disconnected,
        _ => TransportError::Io(e.to_string()),
    }
}

impl Transport for TcpReportTransport {
    fn write_packet(&mut self, packet: &[u8]) -> Result<(), TransportError> {
        use std::io::Write;
        if packet.len() != PACKET_SIZE {
            return Err(TransportError::BadPacket(packet.len()));
        }
        self.stream.write_all(packet).map_err(map_stream_error)
    }

    fn read_packet(&mut self, timeout: Duration) -> Result<[u8; PACKET_SIZE], TransportError> {
        use std::io::Read;
        self.stream
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))
            .map_err(map_stream_error)?;
        let mut buf = [0u8; PACKET_SIZE];
        self.stream
            .read_exact(&mut buf)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                    TransportError::Timeout(timeout)
                }
                _ => map_stream_error(e),
            })?;
        Ok(buf)
    }
}

/// The USB vendor interface ("WebUSB") of a Trezor or KeepKey, through libusb: interface 0,
/// 64-byte interrupt transfers on endpoint 1 (out) and 0x81 (in).
pub struct UsbTransport {
    handle: rusb::DeviceHandle<rusb::GlobalContext>,
}

const USB_INTERFACE: u8 = 0;
const USB_EP_OUT: u8 = 0x01;
const USB_EP_IN: u8 = 0x81;

fn map_usb_error(e: rusb::Error, timeout: Duration) -> TransportError {
    match e {
        rusb::Error::Timeout => TransportError::Timeout(timeout),
        rusb::Error::NoDevice | rusb::Error::NotFound | rusb::Error::Pipe => {
            TransportError::Disconnected
        }
        rusb::Error::Access => TransportError::NoPermission,
        // Claiming fails with Busy while Trezor Bridge, Suite or a browser holds the interface.
        rusb::Error::Busy => TransportError::Busy,
        other => TransportError::Io(other.to_string()),
    }
}

impl UsbTransport {
    /// Opens the device at `location` ("BUS-PORTS", as in the `usb:` device ids discovery
    /// gives) and claims its vendor interface.
    pub fn open(location: &str) -> Result<Self, TransportError> {
        let list = rusb::devices().map_err(|e| map_usb_error(e, Duration::ZERO))?;
        let device = list
            .iter()
            .find(|d| {
                let ports = d
                    .port_numbers()
                    .map(|p| p.iter().map(u8::to_string).collect::<Vec<_>>().join("."))
                    .unwrap_or_else(|_| d.address().to_string());
                format!("{}-{}", d.bus_number(), ports) == location
            })
            .ok_or(TransportError::Disconnected)?;
        let handle = device
            .open()
            .map_err(|e| map_usb_error(e, Duration::ZERO))?;
        handle
            .claim_interface(USB_INTERFACE)
            .map_err(|e| map_usb_error(e, Duration::ZERO))?;
        Ok(Self { handle })
    }
}

impl Drop for UsbTransport {
    fn drop(&mut self) {
        let _ = self.handle.release_interface(USB_INTERFACE);
    }
}

impl Transport for UsbTransport {
    fn write_packet(&mut self, packet: &[u8]) -> Result<(), TransportError> {
        if packet.len() != PACKET_SIZE {
            return Err(TransportError::BadPacket(packet.len()));
        }
        let t = Duration::from_secs(5);
        match self.handle.write_interrupt(USB_EP_OUT, packet, t) {
            Ok(n) if n == PACKET_SIZE => Ok(()),
            Ok(n) => Err(TransportError::Io(format!("short write of {n} bytes"))),
            Err(e) => Err(map_usb_error(e, t)),
        }
    }

    fn read_packet(&mut self, timeout: Duration) -> Result<[u8; PACKET_SIZE], TransportError> {
        let mut buf = [0u8; PACKET_SIZE];
        // libusb treats 0 as "forever".
        let t = timeout.max(Duration::from_millis(1));
        match self.handle.read_interrupt(USB_EP_IN, &mut buf, t) {
            Ok(PACKET_SIZE) => Ok(buf),
            Ok(n) => Err(TransportError::Io(format!("short read of {n} bytes"))),
            Err(e) => Err(map_usb_error(e, timeout)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> (UdpSocket, SocketAddr) {
        let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let a = s.local_addr().expect("addr");
        (s, a)
    }

    #[test]
    fn udp_moves_whole_packets_both_ways() {
        let (device, addr) = peer();
        let mut host = UdpTransport::connect(addr).expect("connect");
        let packet: Vec<u8> = (0..64).collect();
        host.write_packet(&packet).expect("write");
        let mut buf = [0u8; 128];
        let (n, from) = device.recv_from(&mut buf).expect("recv");
        assert_eq!(&buf[..n], &packet[..]);
        device.send_to(&[7u8; 64], from).expect("reply");
        assert_eq!(
            host.read_packet(Duration::from_secs(2)).expect("read"),
            [7u8; 64]
        );
    }

    #[test]
    fn udp_rejects_wrong_sizes_and_times_out() {
        let (device, addr) = peer();
        let mut host = UdpTransport::connect(addr).expect("connect");
        assert!(matches!(
            host.write_packet(&[0u8; 63]),
            Err(TransportError::BadPacket(63))
        ));
        assert!(matches!(
            host.read_packet(Duration::from_millis(30)),
            Err(TransportError::Timeout(_))
        ));
        // A short datagram from the device is a typed error, not a panic.
        host.write_packet(&[1u8; 64]).expect("write");
        let mut buf = [0u8; 64];
        let (_, from) = device.recv_from(&mut buf).expect("recv");
        device.send_to(&[1, 2, 3], from).expect("send");
        assert!(matches!(
            host.read_packet(Duration::from_secs(2)),
            Err(TransportError::BadPacket(3))
        ));
    }

    #[test]
    fn udp_to_a_closed_port_reports_disconnected() {
        let addr = {
            let (s, a) = peer();
            drop(s);
            a
        };
        let mut host = UdpTransport::connect(addr).expect("connect");
        // Linux reports the ICMP error on the send after, or on the receive.
        let first = host.write_packet(&[0u8; 64]);
        let second = host.read_packet(Duration::from_millis(200));
        assert!(
            matches!(first, Err(TransportError::Disconnected))
                || matches!(second, Err(TransportError::Disconnected)),
            "{first:?} {second:?}"
        );
    }
}
