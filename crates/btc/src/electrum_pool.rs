//! Spare connections to one Electrum server, each lent to one thread at a time, for the
//! batches `electrum_batch` sends side by side.

use std::sync::{Condvar, Mutex};

use bdk_electrum::electrum_client::{Client, Error};

/// The most spare connections one client opens: two chunks for each of the two reads
/// `electrum_anchors` keeps on the wire (`electrum_batch::IN_FLIGHT`).
pub(crate) const SPARES: usize = 4;

/// Connections to one server, each used by one thread at a time. `electrum-client` lets
/// threads share a connection, but it can lose the turn to read: a thread whose answers are
/// all in wakes the others before it stops reading, one that wakes too early finds the reader
/// still taken and waits for a wake-up that never comes (a full sync hung so here). A
/// connection of its own per thread needs none of that, and electrs queues the requests of
/// all its connections together.
pub(crate) struct Pool {
    state: Mutex<PoolState>,
    freed: Condvar,
    connect: Box<dyn Fn() -> Result<Client, Error> + Send + Sync>,
}

#[derive(Default)]
struct PoolState {
    idle: Vec<Client>,
    /// Connections open, idle or lent.
    open: usize,
    /// The server took no more connections: make do with those open.
    full: bool,
    /// The server took none: there are no spare connections.
    refused: bool,
}

impl Pool {
    /// A pool that opens its connections with `connect`, when first needed.
    pub(crate) fn new(connect: impl Fn() -> Result<Client, Error> + Send + Sync + 'static) -> Self {
        Self {
            state: Mutex::default(),
            freed: Condvar::new(),
            connect: Box::new(connect),
        }
    }

    /// Connections open, idle or lent.
    #[cfg(test)]
    pub(crate) fn open(&self) -> usize {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).open
    }

    /// A connection of the caller's own: an idle one, a new one while fewer than [`SPARES`]
    /// are open, else the next one given back. Fails when none could be opened (the caller
    /// then makes do with its main connection).
    pub(crate) fn lease(&self) -> Result<Lease<'_>, Error> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(client) = state.idle.pop() {
                return Ok(Lease {
                    pool: self,
                    client: Some(client),
                });
            }
            if state.refused {
                return Err(Error::Message("the server took no spare connection".into()));
            }
            if state.open < SPARES && !state.full {
                state.open += 1;
                drop(state);
                match (self.connect)() {
                    Ok(client) => {
                        return Ok(Lease {
                            pool: self,
                            client: Some(client),
                        })
                    }
                    Err(e) => {
                        state = self.state.lock().unwrap_or_else(|p| p.into_inner());
                        state.open -= 1;
                        if state.open == 0 {
                            // None open: the server takes no more. Waiters and later
                            // callers are told so at once, not after a connection attempt
                            // each (see `close_idle`).
                            state.refused = true;
                            state.full = false;
                            self.freed.notify_all();
                            return Err(e);
                        }
                        // Others are open or opening: wait for one of them.
                        state.full = true;
                        continue;
                    }
                }
            }
            state = self.freed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Closes the idle connections.
    pub(crate) fn close_idle(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.open -= state.idle.len();
        state.idle.clear();
        state.full = false;
        state.refused = false;
    }
}

/// A connection lent by a [`Pool`], given back when dropped.
pub(crate) struct Lease<'p> {
    pool: &'p Pool,
    pub(crate) client: Option<Client>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let mut state = self.pool.state.lock().unwrap_or_else(|p| p.into_inner());
            state.idle.push(client);
            self.pool.freed.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_that_cannot_connect_says_why() {
        let pool = Pool::new(|| Err(Error::Message("connection refused".into())));
        assert!(
            matches!(pool.lease(), Err(Error::Message(ref m)) if m == "connection refused"),
            "the connection's own error"
        );
        assert_eq!(
            pool.state.lock().expect("state").open,
            0,
            "nothing counted open"
        );
    }

    #[test]
    fn connections_failing_together_wake_their_waiters() {
        use std::sync::{
            atomic::{AtomicUsize, Ordering},
            Arc,
        };
        let tries = Arc::new(AtomicUsize::new(0));
        let counted = tries.clone();
        let pool = Arc::new(Pool::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(50));
            Err(Error::Message("connection refused".into()))
        }));
        // Four threads at once: some connect, the rest wait for them; all must hear.
        let (tx, rx) = std::sync::mpsc::channel();
        for _ in 0..4 {
            let (pool, tx) = (pool.clone(), tx.clone());
            std::thread::spawn(move || {
                let _ = tx.send(pool.lease().is_err());
            });
        }
        for _ in 0..4 {
            let failed = rx
                .recv_timeout(std::time::Duration::from_secs(10))
                .expect("every caller is answered, none waits forever");
            assert!(failed);
        }
        // Once refused, the next caller is told without another attempt.
        let before = tries.load(Ordering::SeqCst);
        assert!(pool.lease().is_err());
        assert_eq!(tries.load(Ordering::SeqCst), before);
        // After the scan (`close_idle`), a new one tries again.
        pool.close_idle();
        assert!(pool.lease().is_err());
        assert_eq!(tries.load(Ordering::SeqCst), before + 1);
    }
}
