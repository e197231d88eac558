//! Serving the simulated Ledger on loopback sockets, the way hosts reach real ones:
//! Speculos' APDU protocol over TCP, or raw 64-byte HID reports over TCP (so the host's HID
//! framing code runs end to end without hardware).
//!
//! One client at a time, like Speculos. Each server runs on its own thread and stops when its
//! [`Server`] handle is dropped.

use std::{
    io::{ErrorKind, Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    thread,
    time::Duration,
};

use coldlink_ledger::{frame, Reassembler};

use super::{LedgerSim, Outcome};

/// A running server; dropping it stops accepting and closes the current client.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Server {
    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

type Device = Arc<Mutex<LedgerSim>>;

fn run(
    listener: TcpListener,
    device: Device,
    session: fn(&mut TcpStream, &Device, &AtomicBool) -> std::io::Result<()>,
) -> std::io::Result<Server> {
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = thread::Builder::new()
        .name(format!("coldlink-sim-{addr}"))
        .spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_nodelay(true);
                        // Short reads let the loop notice a stop request.
                        let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
                        let _ = session(&mut stream, &device, &flag);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        })?;
    Ok(Server {
        addr,
        stop,
        thread: Some(thread),
    })
}

/// Reads exactly `buf.len()` bytes, retrying read timeouts until stopped. `Ok(false)` when the
/// client closed the connection cleanly before the first byte.
fn read_full(s: &mut TcpStream, buf: &mut [u8], stop: &AtomicBool) -> std::io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        if stop.load(Ordering::SeqCst) {
            return Err(ErrorKind::Interrupted.into());
        }
        match s.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn handle(device: &Device, apdu: &[u8]) -> Outcome {
    device
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .handle(apdu)
}

fn speculos_session(s: &mut TcpStream, device: &Device, stop: &AtomicBool) -> std::io::Result<()> {
    loop {
        let mut len = [0u8; 4];
        if !read_full(s, &mut len, stop)? {
            return Ok(());
        }
        let len = u32::from_be_bytes(len) as usize;
        if len > 0x1_0000 {
            return Err(ErrorKind::InvalidData.into());
        }
        let mut apdu = vec![0u8; len];
        read_full(s, &mut apdu, stop)?;
        match handle(device, &apdu) {
            Outcome::Respond(bytes) => {
                let data_len = bytes.len().saturating_sub(2) as u32;
                let mut out = data_len.to_be_bytes().to_vec();
                out.extend_from_slice(&bytes);
                s.write_all(&out)?;
            }
            Outcome::Silent => {}
            Outcome::Disconnect => return Ok(()),
        }
    }
}

fn hid_session(s: &mut TcpStream, device: &Device, stop: &AtomicBool) -> std::io::Result<()> {
    let mut r = Reassembler::new();
    loop {
        let mut report = [0u8; 64];
        if !read_full(s, &mut report, stop)? {
            return Ok(());
        }
        // A malformed report is dropped, as the device's USB stack would.
        let Ok(Some(apdu)) = r.push(&report) else {
            continue;
        };
        match handle(device, &apdu) {
            Outcome::Respond(bytes) => {
                let reports = frame(&bytes).map_err(|_| ErrorKind::InvalidData)?;
                for rep in reports {
                    s.write_all(&rep)?;
                }
            }
            Outcome::Silent => {}
            Outcome::Disconnect => return Ok(()),
        }
    }
}

/// Serves Speculos' APDU protocol on `listener`.
pub fn serve_speculos(
    listener: TcpListener,
    device: Arc<Mutex<LedgerSim>>,
) -> std::io::Result<Server> {
    run(listener, device, speculos_session)
}

/// Starts `sim` behind Speculos' protocol on an ephemeral port of 127.0.0.1 and returns the
/// server and the handle for playing the user. The usual way tests and demos start one.
pub fn spawn_speculos(sim: LedgerSim) -> std::io::Result<(Server, crate::Control)> {
    let control = sim.control();
    let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))?;
    Ok((
        serve_speculos(listener, Arc::new(Mutex::new(sim)))?,
        control,
    ))
}

/// Serves raw 64-byte HID reports on `listener`.
pub fn serve_hid(listener: TcpListener, device: Arc<Mutex<LedgerSim>>) -> std::io::Result<Server> {
    run(listener, device, hid_session)
}
