//! Carrying APDUs to a Ledger: over HID reports (a real device, or raw reports on a socket) or
//! over Speculos' TCP protocol. Both sit behind [`Exchange`], so everything above is the same
//! code whichever way the device is reached.

use std::{
    io::{ErrorKind, Read, Write},
    net::{SocketAddr, TcpStream},
    time::Duration,
};

use coldlink_bridge::{Transport, TransportError};
use coldlink_signer::SignerError;

use crate::{
    apdu::{Apdu, ApduError, Response},
    framing::{frame, FramingError, Reassembler},
};

/// How long to wait for an answer by default: long enough for a person to read the screen
/// and press both buttons, short enough that a hung device is noticed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// Why an APDU exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// The transport failed (timeout, unplugged, …).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The reports did not form a valid message.
    #[error(transparent)]
    Framing(#[from] FramingError),
    /// The bytes were not a valid APDU or response.
    #[error(transparent)]
    Apdu(#[from] ApduError),
}

impl From<ExchangeError> for SignerError {
    fn from(e: ExchangeError) -> Self {
        match e {
            ExchangeError::Transport(TransportError::Timeout(_)) => SignerError::Timeout,
            ExchangeError::Transport(TransportError::Disconnected) => SignerError::Disconnected,
            ExchangeError::Transport(t) => SignerError::Device {
                code: 0,
                message: t.to_string(),
            },
            other => SignerError::BadResponse(other.to_string()),
        }
    }
}

/// Sends one APDU and waits for the device's answer.
pub trait Exchange: Send {
    /// One command, one response.
    fn exchange(&mut self, apdu: &Apdu) -> Result<Response, ExchangeError>;
}

/// APDUs framed into 64-byte HID reports over any packet [`Transport`].
pub struct HidExchange<T: Transport> {
    transport: T,
    timeout: Duration,
}

impl<T: Transport> HidExchange<T> {
    /// Wraps a packet transport.
    pub fn new(transport: T) -> Self {
        Self {
            transport,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Sets how long to wait for each response report.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl<T: Transport> Exchange for HidExchange<T> {
    fn exchange(&mut self, apdu: &Apdu) -> Result<Response, ExchangeError> {
        for report in frame(&apdu.encode()?)? {
            self.transport.write_packet(&report)?;
        }
        let mut r = Reassembler::new();
        loop {
            let report = self.transport.read_packet(self.timeout)?;
            if let Some(message) = r.push(&report)? {
                return Ok(Response::parse(&message)?);
            }
        }
    }
}

/// Speculos' APDU socket: the command as a 4-byte big-endian length and the APDU; the answer
/// as a 4-byte big-endian length of its data, the data, then the 2-byte status word.
pub struct SpeculosExchange {
    stream: TcpStream,
    timeout: Duration,
}

impl SpeculosExchange {
    /// Connects to Speculos (or Coldlink's simulator) at `addr`.
    pub fn connect(addr: SocketAddr, timeout: Duration) -> Result<Self, ExchangeError> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3))
            .map_err(|e| io_error(&e, timeout))?;
        let _ = stream.set_nodelay(true);
        Ok(Self { stream, timeout })
    }
}

fn io_error(e: &std::io::Error, timeout: Duration) -> TransportError {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => TransportError::Timeout(timeout),
        ErrorKind::ConnectionRefused
        | ErrorKind::ConnectionReset
        | ErrorKind::ConnectionAborted
        | ErrorKind::BrokenPipe
        | ErrorKind::UnexpectedEof
        | ErrorKind::NotConnected => TransportError::Disconnected,
        _ => TransportError::Io(e.to_string()),
    }
}

impl Exchange for SpeculosExchange {
    fn exchange(&mut self, apdu: &Apdu) -> Result<Response, ExchangeError> {
        let bytes = apdu.encode()?;
        let t = self.timeout;
        let mut msg = Vec::with_capacity(4 + bytes.len());
        msg.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        msg.extend_from_slice(&bytes);
        self.stream.write_all(&msg).map_err(|e| io_error(&e, t))?;
        self.stream
            .set_read_timeout(Some(t.max(Duration::from_millis(1))))
            .map_err(|e| io_error(&e, t))?;
        let mut len = [0u8; 4];
        self.stream
            .read_exact(&mut len)
            .map_err(|e| io_error(&e, t))?;
        let len = u32::from_be_bytes(len) as usize;
        // A response can carry at most 64 KiB; anything larger is a broken peer.
        if len > 0x1_0000 {
            return Err(ApduError::Malformed(len).into());
        }
        let mut body = vec![0u8; len + 2];
        self.stream
            .read_exact(&mut body)
            .map_err(|e| io_error(&e, t))?;
        Ok(Response::parse(&body)?)
    }
}
