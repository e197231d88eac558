//! The simulated Trezor's USB side: 64-byte packets in, packets out. Reached in-process as a
//! [`Transport`] (the demo device, fault tests: "unplugging" it makes the next transfer fail
//! as USB does) or over UDP like the vendor's emulator, `PINGPING` liveness check included.

use std::{
    collections::VecDeque,
    net::{SocketAddr, UdpSocket},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    thread,
    time::Duration,
};

use coldlink_bridge::{Transport, TransportError, PACKET_SIZE};
use coldlink_trezor::{frame, Reassembler};

use super::{Out, TrezorSim};
use crate::Control;

/// What one packet from the host led to.
enum Reply {
    Packets(Vec<[u8; PACKET_SIZE]>),
    Disconnect,
}

fn packet_in(sim: &Mutex<TrezorSim>, r: &mut Reassembler, packet: &[u8]) -> Reply {
    match r.push(packet) {
        Ok(Some((t, payload))) => {
            let out = sim
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .handle(t, &payload);
            match out {
                Out::Send(t, body) => Reply::Packets(frame(t, &body).unwrap_or_default()),
                Out::Silent => Reply::Packets(Vec::new()),
                Out::Disconnect => Reply::Disconnect,
            }
        }
        Ok(None) => Reply::Packets(Vec::new()),
        // A malformed packet is dropped, as the device's USB stack would.
        Err(_) => {
            *r = Reassembler::new();
            Reply::Packets(Vec::new())
        }
    }
}

/// The simulated device plugged in directly.
pub struct InProcess {
    sim: Arc<Mutex<TrezorSim>>,
    reassembler: Reassembler,
    outbox: VecDeque<[u8; PACKET_SIZE]>,
    unplugged: bool,
}

impl InProcess {
    /// Plugs `sim` in (again): a fresh connection to the same device.
    pub fn new(sim: Arc<Mutex<TrezorSim>>) -> Self {
        Self {
            sim,
            reassembler: Reassembler::new(),
            outbox: VecDeque::new(),
            unplugged: false,
        }
    }
}

impl Transport for InProcess {
    fn write_packet(&mut self, packet: &[u8]) -> Result<(), TransportError> {
        if self.unplugged {
            return Err(TransportError::Disconnected);
        }
        if packet.len() != PACKET_SIZE {
            return Err(TransportError::BadPacket(packet.len()));
        }
        match packet_in(&self.sim, &mut self.reassembler, packet) {
            Reply::Packets(p) => self.outbox.extend(p),
            Reply::Disconnect => {
                self.unplugged = true;
                self.outbox.clear();
            }
        }
        Ok(())
    }

    fn read_packet(&mut self, timeout: Duration) -> Result<[u8; PACKET_SIZE], TransportError> {
        match self.outbox.pop_front() {
            Some(p) => Ok(p),
            None if self.unplugged => Err(TransportError::Disconnected),
            None => Err(TransportError::Timeout(timeout)),
        }
    }
}

/// A simulator listening on UDP; dropping it stops it.
pub struct UdpServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl UdpServer {
    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for UdpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves `sim` on `socket` the way the Trezor emulator does: one 64-byte packet per
/// datagram, answers to the sender, `PINGPING` answered with `PONGPONG`. A pulled cable
/// means silence, as when the emulator is killed.
pub fn serve_udp(socket: UdpSocket, sim: Arc<Mutex<TrezorSim>>) -> std::io::Result<UdpServer> {
    let addr = socket.local_addr()?;
    socket.set_read_timeout(Some(Duration::from_millis(50)))?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = thread::Builder::new()
        .name(format!("trezor-sim-{addr}"))
        .spawn(move || {
            let mut r = Reassembler::new();
            let mut buf = [0u8; 2048];
            while !flag.load(Ordering::SeqCst) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                if &buf[..n] == b"PINGPING" {
                    let _ = socket.send_to(b"PONGPONG", from);
                    continue;
                }
                if n != PACKET_SIZE {
                    continue;
                }
                match packet_in(&sim, &mut r, &buf[..n]) {
                    Reply::Packets(ps) => {
                        for p in ps {
                            let _ = socket.send_to(&p, from);
                        }
                    }
                    Reply::Disconnect => r = Reassembler::new(),
                }
            }
        })?;
    Ok(UdpServer {
        addr,
        stop,
        thread: Some(thread),
    })
}

/// Starts `sim` on an ephemeral UDP port of 127.0.0.1; returns the server and the handle for
/// playing the user.
pub fn spawn_udp(sim: TrezorSim) -> std::io::Result<(UdpServer, Control)> {
    let control = sim.control();
    let socket = UdpSocket::bind((std::net::Ipv4Addr::LOCALHOST, 0))?;
    Ok((serve_udp(socket, Arc::new(Mutex::new(sim)))?, control))
}
