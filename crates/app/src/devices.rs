//! Device discovery as a service: list what is connected now, and watch for changes.
//!
//! The watcher polls rather than subscribing to hot-plug events because emulator sockets have
//! no hot-plug, libusb's hot-plug is not available on every platform, and a 500 ms poll is well
//! inside the one-second latency users expect from the device chip.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        mpsc::{self, RecvTimeoutError},
        Arc, Condvar, Mutex,
    },
    thread,
    time::Duration,
};

use coldlink_bridge::{
    scan, EmulatorEndpoint, HidTransport, Transport, UdpTransport, UsbTransport,
};
use coldlink_ledger::{read_status, Exchange, HidExchange, SpeculosExchange};
use coldlink_signer::{Headless, SignerError};
use coldlink_trezor::{Session, Trezor};
use coldlink_types::{ConnectionKind, DeviceDescriptor, DeviceState, Fingerprint, Model, Vendor};
use serde::Serialize;

/// How long an emulator endpoint may take to answer a liveness probe.
const PROBE_TIMEOUT: Duration = Duration::from_millis(150);
/// How long a Ledger may take to say which app is open. Longer than a probe: real firmware
/// answers in ~70 ms, but a busy machine should not make the details flicker.
const STATUS_TIMEOUT: Duration = Duration::from_millis(600);
/// How long an operation waits for a status probe of the same device to end.
const CLAIM_WAIT: Duration = Duration::from_secs(3);

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
    /// Endpoints added while running (the demo device), with the name to show for each.
    extra: Arc<Mutex<Vec<(EmulatorEndpoint, String)>>>,
    /// Last status read per device id, kept while a device is busy with another session.
    last_status: Arc<Mutex<HashMap<String, Status>>>,
    /// The master fingerprint last read from each connected device: a Ledger shows it only in
    /// its Bitcoin app, but the seed does not change when the user opens another app.
    fingerprints: Arc<Mutex<HashMap<String, Fingerprint>>>,
    /// Devices being talked to now (by an operation or a status probe): one conversation per
    /// device at a time, or a probe's GetFeatures would cut into a PIN prompt.
    in_use: Arc<(Mutex<HashSet<String>>, Condvar)>,
}

/// What a scan learns by asking a device.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Status {
    locked: bool,
    app: Option<(String, String)>,
    fingerprint: Option<Fingerprint>,
    model_name: Option<String>,
    /// The model the device reports, more precise than its USB id.
    model: Option<Model>,
}

impl DeviceService {
    /// A service watching USB and the given emulator endpoints.
    pub fn new(endpoints: Vec<EmulatorEndpoint>) -> Self {
        Self {
            endpoints,
            extra: Arc::default(),
            last_status: Arc::default(),
            fingerprints: Arc::default(),
            in_use: Arc::default(),
        }
    }

    /// Marks `id` as in use by an operation until [`DeviceService::release`], waiting (a
    /// moment at most: probes are short) for a status probe to finish first.
    pub(crate) fn claim(&self, id: &str) {
        let (lock, cv) = &*self.in_use;
        let g = lock.lock().unwrap_or_else(|p| p.into_inner());
        let (mut g, _) = cv
            .wait_timeout_while(g, CLAIM_WAIT, |set| set.contains(id))
            .unwrap_or_else(|p| p.into_inner());
        g.insert(id.to_owned());
    }

    /// Remembers the fingerprint an operation read from device `id`.
    pub(crate) fn remember_fingerprint(&self, id: &str, fp: Fingerprint) {
        self.fingerprints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_owned(), fp);
    }

    /// Claims `id` only if nobody is talking to it.
    fn try_claim(&self, id: &str) -> bool {
        let mut g = self.in_use.0.lock().unwrap_or_else(|p| p.into_inner());
        g.insert(id.to_owned())
    }

    /// Ends [`DeviceService::claim`].
    pub(crate) fn release(&self, id: &str) {
        let (lock, cv) = &*self.in_use;
        lock.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
        cv.notify_all();
    }

    /// Scans now, and asks each Ledger which app is open (and, in the Bitcoin app, its
    /// fingerprint).
    pub fn list(&self) -> DeviceList {
        let extra = self.extra.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut endpoints = self.endpoints.clone();
        endpoints.extend(extra.iter().map(|(e, _)| *e));
        let s = scan(&endpoints, PROBE_TIMEOUT);
        let mut devices = s.devices;
        let mut cache = self.last_status.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|id, _| devices.iter().any(|d| &d.id == id));
        let mut fps = self.fingerprints.lock().unwrap_or_else(|p| p.into_inner());
        fps.retain(|id, _| devices.iter().any(|d| &d.id == id));
        for d in devices.iter_mut() {
            if !matches!(d.vendor, Vendor::Ledger | Vendor::Trezor | Vendor::Keepkey) {
                continue;
            }
            let probe = if self.try_claim(&d.id) {
                let r = if d.vendor == Vendor::Ledger {
                    ledger_status(d)
                } else {
                    trezor_status(d)
                };
                self.release(&d.id);
                r
            } else {
                // In use by an operation: show what we knew.
                Err(SignerError::Timeout)
            };
            let status = match probe {
                Ok(st) => {
                    cache.insert(d.id.clone(), st.clone());
                    Some(st)
                }
                // Busy with another session: show what we knew.
                Err(SignerError::Timeout) => cache.get(&d.id).cloned(),
                Err(_) => {
                    cache.remove(&d.id);
                    None
                }
            };
            if let Some(st) = status {
                apply(d, st);
            }
            match d.fingerprint {
                Some(fp) => {
                    fps.insert(d.id.clone(), fp);
                }
                None if d.state != DeviceState::Locked => d.fingerprint = fps.get(&d.id).copied(),
                None => {}
            }
        }
        for d in devices.iter_mut() {
            if let Some((_, name)) = extra.iter().find(|(e, _)| e.id() == d.id) {
                d.model_name = name.clone();
            }
        }
        DeviceList {
            devices,
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

impl DeviceService {
    /// Watches `endpoint` too, showing it as `name`, until [`DeviceService::unwatch`].
    pub fn watch_endpoint(&self, endpoint: EmulatorEndpoint, name: &str) {
        let mut extra = self.extra.lock().unwrap_or_else(|p| p.into_inner());
        extra.retain(|(e, _)| *e != endpoint);
        extra.push((endpoint, name.to_owned()));
    }

    /// Stops watching an endpoint added with [`DeviceService::watch_endpoint`].
    pub fn unwatch(&self, endpoint: &EmulatorEndpoint) {
        self.extra
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(e, _)| e != endpoint);
    }
}

fn ledger_status(d: &DeviceDescriptor) -> Result<Status, SignerError> {
    let mut dev: Box<dyn Exchange> = match d.connection {
        ConnectionKind::SpeculosTcp => {
            let addr = d
                .id
                .strip_prefix("speculos:")
                .and_then(|a| a.parse().ok())
                .ok_or_else(|| SignerError::InvalidRequest(format!("bad device id {}", d.id)))?;
            Box::new(SpeculosExchange::connect(addr, STATUS_TIMEOUT)?)
        }
        ConnectionKind::UsbHid if d.state == DeviceState::Available => {
            let path = d.id.strip_prefix("hid:").unwrap_or(&d.id);
            let t = HidTransport::open_path(path).map_err(coldlink_ledger::ExchangeError::from)?;
            Box::new(HidExchange::new(t).with_timeout(STATUS_TIMEOUT))
        }
        _ => return Err(SignerError::Unsupported("report its status")),
    };
    let st = read_status(dev.as_mut())?;
    Ok(Status {
        locked: st.locked,
        app: st.app,
        fingerprint: st.fingerprint.map(|f| Fingerprint(f.to_bytes())),
        model_name: None,
        model: None,
    })
}

/// Asks a Trezor-family device for its Features without starting a session (so a passphrase
/// session in use elsewhere is not reset), and, when no PIN or passphrase stands in the way,
/// for its fingerprint.
fn trezor_status(d: &DeviceDescriptor) -> Result<Status, SignerError> {
    let t: Box<dyn Transport> = match d.connection {
        ConnectionKind::TrezorEmulatorUdp => {
            let addr = d
                .id
                .strip_prefix("trezor-emu:")
                .and_then(|a| a.parse().ok())
                .ok_or_else(|| SignerError::InvalidRequest(format!("bad device id {}", d.id)))?;
            Box::new(UdpTransport::connect(addr).map_err(|_| SignerError::Disconnected)?)
        }
        ConnectionKind::WebUsb if d.state == DeviceState::Available => {
            let location = d.id.strip_prefix("usb:").unwrap_or(&d.id);
            Box::new(UsbTransport::open(location).map_err(|_| SignerError::Timeout)?)
        }
        ConnectionKind::UsbHid if d.state == DeviceState::Available => {
            let path = d.id.strip_prefix("hid:").unwrap_or(&d.id);
            Box::new(HidTransport::open_path(path).map_err(|_| SignerError::Timeout)?)
        }
        _ => return Err(SignerError::Unsupported("report its status")),
    };
    let mut session = Session::new(t).with_timeout(STATUS_TIMEOUT);
    // Never type a passphrase "on the device" on behalf of a scan.
    session.set_passphrase_on_device(false);
    let mut dev = Trezor::from_features(
        session,
        bitcoin::Network::Bitcoin,
        std::sync::Arc::new(Headless),
    )?;
    let info = dev.info().clone();
    let fingerprint = if info.initialized && info.unlocked && !info.passphrase_protection {
        dev.fingerprint().ok()
    } else {
        None
    };
    Ok(Status {
        locked: !info.unlocked,
        app: Some(("Firmware".to_owned(), info.firmware.clone())),
        fingerprint,
        model: Some(info.model),
        model_name: Some(match &info.label {
            Some(l) => format!("{} “{l}”", info.model_name),
            None => info.model_name.clone(),
        }),
    })
}

fn apply(d: &mut DeviceDescriptor, st: Status) {
    if st.locked {
        d.state = DeviceState::Locked;
    }
    if let Some((app, version)) = st.app {
        d.app = Some(app);
        d.app_version = Some(version);
    }
    if let Some(name) = st.model_name {
        d.model_name = name;
    }
    if let Some(model) = st.model {
        d.model = model;
    }
    d.fingerprint = st.fingerprint;
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
    fn a_simulated_ledger_shows_its_app_lock_state_and_fingerprint() {
        let sim = coldlink_sim::ledger::LedgerSim::new(crate::DEMO_MNEMONIC).expect("sim");
        let (server, control) = coldlink_sim::ledger::spawn_speculos(sim).expect("serve");
        let service = DeviceService::new(vec![EmulatorEndpoint {
            kind: EmulatorKind::Speculos,
            addr: server.addr(),
        }]);
        let id = format!("speculos:{}", server.addr());
        let find = |l: DeviceList| l.devices.into_iter().find(|d| d.id == id).expect("listed");

        let d = find(service.list());
        assert_eq!((d.app, d.fingerprint), (None, None), "dashboard");
        assert_eq!(d.state, DeviceState::Available);

        control.set_app(Some("Bitcoin"));
        let d = find(service.list());
        assert_eq!(d.app.as_deref(), Some("Bitcoin"));
        assert_eq!(d.app_version.as_deref(), Some("2.1.3"));
        assert_eq!(
            d.fingerprint.map(|f| f.to_string()).as_deref(),
            Some("73c5da0a")
        );

        control.set_locked(true);
        let d = find(service.list());
        assert_eq!(d.state, DeviceState::Locked);
        assert_eq!(d.fingerprint, None);

        // In another app the fingerprint cannot be read, but the seed is the same: the one
        // read earlier from this connected device is kept.
        control.set_locked(false);
        control.set_app(Some("Ethereum"));
        let d = find(service.list());
        assert_eq!(
            (d.app.as_deref(), d.state),
            (Some("Ethereum"), DeviceState::Available)
        );
        assert_eq!(
            d.fingerprint.map(|f| f.to_string()).as_deref(),
            Some("73c5da0a")
        );
        // Unplugged and plugged in again, it is forgotten until read again.
        drop(server);
        assert!(service.list().devices.iter().all(|d| d.id != id));
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
