//! Device discovery as a service: list what is connected now, and watch for changes.
//!
//! The watcher polls rather than subscribing to hot-plug events because emulator sockets have
//! no hot-plug, libusb's hot-plug is not available on every platform, and a 500 ms poll is well
//! inside the one-second latency users expect from the device chip.

use std::{
    sync::mpsc::{self, RecvTimeoutError},
    thread,
    time::Duration,
};

use coldlink_bridge::{scan, EmulatorEndpoint};
use coldlink_types::DeviceDescriptor;
use serde::Serialize;

/// How long an emulator endpoint may take to answer a liveness probe.
const PROBE_TIMEOUT: Duration = Duration::from_millis(150);

/// What the Devices page and `coldlink devices` show.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DeviceList {
    /// Connected devices and live emulator endpoints, sorted by id.
    pub devices: Vec<DeviceDescriptor>,
    /// Buses that could not be read, in words for people.
    pub warnings: Vec<String>,
}

/// Finds devices.
#[derive(Clone, Debug)]
pub struct DeviceService {
    endpoints: Vec<EmulatorEndpoint>,
}

impl DeviceService {
    /// A service watching USB and the given emulator endpoints.
    pub fn new(endpoints: Vec<EmulatorEndpoint>) -> Self {
        Self { endpoints }
    }

    /// Scans now.
    pub fn list(&self) -> DeviceList {
        let s = scan(&self.endpoints, PROBE_TIMEOUT);
        DeviceList {
            devices: s.devices,
            warnings: s.warnings.iter().map(ToString::to_string).collect(),
        }
    }

    /// Scans every `interval` on a background thread and calls `on_change` with the new list
    /// whenever it differs from the last one (and once at the start). Stops when the returned
    /// handle is dropped.
    pub fn watch(
        &self,
        interval: Duration,
        on_change: impl Fn(&DeviceList) + Send + 'static,
    ) -> DeviceWatch {
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let service = self.clone();
        let thread = thread::Builder::new()
            .name("coldlink-device-watch".into())
            .spawn(move || {
                let mut last: Option<DeviceList> = None;
                loop {
                    let now = service.list();
                    if last.as_ref() != Some(&now) {
                        on_change(&now);
                        last = Some(now);
                    }
                    match stop_rx.recv_timeout(interval) {
                        Err(RecvTimeoutError::Timeout) => continue,
                        _ => break,
                    }
                }
            })
            .ok();
        DeviceWatch {
            stop: Some(stop_tx),
            thread,
        }
    }
}

/// A running device watch; dropping it stops the thread.
pub struct DeviceWatch {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for DeviceWatch {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{
        net::TcpListener,
        sync::{Arc, Mutex},
        time::Instant,
    };

    use coldlink_bridge::EmulatorKind;

    use super::*;

    fn wait_for(seen: &Mutex<Vec<DeviceList>>, pred: impl Fn(&[DeviceList]) -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if pred(&seen.lock().expect("lock")) {
                return true;
            }
            thread::sleep(Duration::from_millis(20));
        }
        false
    }

    #[test]
    fn watch_reports_an_emulator_appearing_and_disappearing() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let service = DeviceService::new(vec![EmulatorEndpoint {
            kind: EmulatorKind::Speculos,
            addr,
        }]);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let watch = service.watch(Duration::from_millis(50), move |l| {
            sink.lock().expect("lock").push(l.clone())
        });
        let id = format!("speculos:{addr}");
        let has = |l: &DeviceList| l.devices.iter().any(|d| d.id == id);
        assert!(wait_for(&seen, |v| v.last().is_some_and(has)), "appeared");
        drop(listener);
        assert!(
            wait_for(&seen, |v| v.last().is_some_and(|l| !has(l))),
            "disappeared"
        );
        drop(watch);
        // Unchanged scans are not reported again: one report per state.
        let n = seen.lock().expect("lock").len();
        assert_eq!(n, 2, "one report when seen, one when gone");
    }
}
