//! A TCP relay in front of a local server that can go away in the middle of a conversation:
//! a test points the client at the relay, lets a set number of the server's bytes through,
//! and from then on every connection is cut (the last answer broken off where the count ran
//! out) and every new one is closed as soon as it is taken. That is how a backend dropping out
//! mid-sync looks to the client: a half-read answer, then nothing.

use std::{
    collections::HashMap,
    io::{Read, Write},
    net::{Shutdown, TcpListener, TcpStream},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
};

/// A relay on a free port of 127.0.0.1; stops when dropped.
pub struct Relay {
    /// The port clients connect to.
    pub port: u16,
    state: Arc<State>,
}

#[derive(Default)]
struct State {
    /// Bytes the server sent that went through to clients.
    answered: AtomicU64,
    /// Cut once `answered` reaches this (0: never).
    limit: AtomicU64,
    cut: AtomicBool,
    stop: AtomicBool,
    /// The next connection's number.
    next: AtomicU64,
    /// The streams of every open connection (by number), to cut them all at once.
    streams: Mutex<HashMap<u64, [TcpStream; 2]>>,
}

impl State {
    fn cut_all(&self) {
        self.cut.store(true, Ordering::SeqCst);
        let streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        for s in streams.values().flatten() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Relay {
    /// Relays to the server listening on 127.0.0.1:`target`.
    pub fn start(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("relay port");
        let port = listener.local_addr().expect("relay address").port();
        let state = Arc::new(State::default());
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                if shared.cut.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let (Ok(c2), Ok(s2), Ok(c3), Ok(s3)) = (
                    client.try_clone(),
                    server.try_clone(),
                    client.try_clone(),
                    server.try_clone(),
                ) else {
                    continue;
                };
                let id = shared.next.fetch_add(1, Ordering::SeqCst);
                shared
                    .streams
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(id, [c3, s3]);
                let up = Arc::clone(&shared);
                std::thread::spawn(move || pump(client, server, &up, false));
                let down = Arc::clone(&shared);
                std::thread::spawn(move || {
                    pump(s2, c2, &down, true);
                    // Each pump shuts both ends when it stops, so the other stops too.
                    down.streams
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&id);
                });
            }
        });
        Self { port, state }
    }

    /// The server's bytes passed to clients so far.
    pub fn answered(&self) -> u64 {
        self.state.answered.load(Ordering::SeqCst)
    }

    /// Cuts every connection once `bytes` of the server's bytes (counted from the start) have
    /// gone through.
    pub fn cut_after(&self, bytes: u64) {
        self.state.limit.store(bytes.max(1), Ordering::SeqCst);
    }

    /// Whether the relay has cut its connections.
    pub fn was_cut(&self) -> bool {
        self.state.cut.load(Ordering::SeqCst)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        self.state.cut_all();
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Copies `from` to `to` until either ends or the relay cuts; `counted` is the server's side.
fn pump(mut from: TcpStream, mut to: TcpStream, state: &State, counted: bool) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if state.cut.load(Ordering::SeqCst) {
            break;
        }
        let mut pass = n;
        let mut last = false;
        if counted {
            let before = state.answered.fetch_add(n as u64, Ordering::SeqCst);
            let limit = state.limit.load(Ordering::SeqCst);
            if limit > 0 && before + n as u64 >= limit {
                pass = usize::try_from(limit.saturating_sub(before))
                    .unwrap_or(n)
                    .min(n);
                last = true;
            }
        }
        if to.write_all(&buf[..pass]).is_err() {
            break;
        }
        if last {
            state.cut_all();
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
