//! The demo devices: a simulated Ledger (Bitcoin app open, public test seed) and a simulated
//! Trezor Model One (PIN 1234, entered on the app's PIN pad, and Trezor's test seed) that
//! Coldlink starts on loopback ports and lists like any other device, so people without
//! hardware can try every flow. What each simulated screen shows is readable in the app, since
//! there is no device to look at. They are marked as emulators and never hold real funds.

use std::sync::{Arc, Mutex};

use coldlink_bridge::{EmulatorEndpoint, EmulatorKind};
use coldlink_sim::{
    ledger::{spawn_speculos, LedgerSim, Server},
    trezor::{spawn_udp, TrezorModel, TrezorOptions, TrezorSim, UdpServer},
    Control,
};
use serde::Serialize;

use crate::{AppError, Coldlink, DEMO_MNEMONIC, TREZOR_DEMO_MNEMONIC};

/// Name the demo Ledger is listed under.
pub const DEMO_NAME: &str = "Demo Ledger (simulated)";
/// Name the demo Trezor is listed under.
pub const DEMO_TREZOR_NAME: &str = "Demo Trezor One (simulated)";
/// The demo Trezor's PIN.
pub const DEMO_TREZOR_PIN: &str = "1234";

struct Running {
    _ledger: Server,
    _trezor: UdpServer,
    endpoints: [EmulatorEndpoint; 2],
    controls: [Control; 2],
}

/// The running demo devices, if any.
#[derive(Clone, Default)]
pub(crate) struct DemoSlot(Arc<Mutex<Option<Running>>>);

impl std::fmt::Debug for DemoSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DemoSlot")
    }
}

/// Where the demo devices answer.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DemoDevice {
    /// The Ledger's device id (`speculos:127.0.0.1:PORT`).
    pub id: String,
    /// The Trezor's device id (`trezor-emu:127.0.0.1:PORT`).
    pub trezor_id: String,
    /// The Trezor's PIN, to type on the PIN pad.
    pub trezor_pin: String,
}

/// What a simulated device's screen shows now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DemoScreen {
    /// The device.
    pub device_id: String,
    /// Screen title.
    pub title: String,
    /// (label, value) lines.
    pub fields: Vec<(String, String)>,
}

impl Coldlink {
    /// Starts the demo devices (or returns the running ones).
    pub fn start_demo(&self) -> Result<DemoDevice, AppError> {
        let mut slot = self.demo.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = slot.as_ref() {
            return Ok(describe(r));
        }
        let cannot =
            |e: std::io::Error| AppError::internal(format!("cannot start the demo device: {e}"));
        let sim = LedgerSim::new(DEMO_MNEMONIC).map_err(|e| AppError::internal(e.to_string()))?;
        let (ledger, ledger_user) = spawn_speculos(sim).map_err(cannot)?;
        ledger_user.set_app(Some("Bitcoin"));
        let options = TrezorOptions {
            model: TrezorModel::One,
            pin: Some(DEMO_TREZOR_PIN.into()),
            passphrase_protection: false,
            label: "Demo".into(),
        };
        let sim = TrezorSim::new(TREZOR_DEMO_MNEMONIC, options)
            .map_err(|e| AppError::internal(e.to_string()))?;
        let (trezor, trezor_user) = spawn_udp(sim).map_err(cannot)?;
        let endpoints = [
            EmulatorEndpoint {
                kind: EmulatorKind::Speculos,
                addr: ledger.addr(),
            },
            EmulatorEndpoint {
                kind: EmulatorKind::TrezorEmulator,
                addr: trezor.addr(),
            },
        ];
        self.devices().watch_endpoint(endpoints[0], DEMO_NAME);
        self.devices()
            .watch_endpoint(endpoints[1], DEMO_TREZOR_NAME);
        let running = Running {
            _ledger: ledger,
            _trezor: trezor,
            endpoints,
            controls: [ledger_user, trezor_user],
        };
        let d = describe(&running);
        *slot = Some(running);
        Ok(d)
    }

    /// Stops the demo devices; they disappear from the device list.
    pub fn stop_demo(&self) {
        let mut slot = self.demo.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = slot.take() {
            for ep in &r.endpoints {
                self.devices().unwatch(ep);
            }
        }
    }

    /// Unlocks the demo Trezor as if its PIN had been entered (demo mode sets up its accounts).
    pub(crate) fn unlock_demo_trezor(&self) {
        let slot = self.demo.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = slot.as_ref() {
            r.controls[1].set_locked(false);
        }
    }

    /// Makes the demo device `device_id` press "reject" at its next confirmation, as a
    /// person would on a real device (for trying the reject path, and for tests).
    pub fn demo_reject_next(&self, device_id: &str) -> Result<(), AppError> {
        let slot = self.demo.0.lock().unwrap_or_else(|p| p.into_inner());
        let r = slot
            .as_ref()
            .ok_or_else(|| AppError::new(crate::ErrorKind::NotFound, "the demo is not running"))?;
        let i = r
            .endpoints
            .iter()
            .position(|e| e.id() == device_id)
            .ok_or_else(|| AppError::new(crate::ErrorKind::NotFound, "no such demo device"))?;
        r.controls[i].then([coldlink_sim::Decision::Reject]);
        Ok(())
    }

    /// What each running demo device's screen shows now (its most recent screen).
    pub fn demo_screens(&self) -> Vec<DemoScreen> {
        let slot = self.demo.0.lock().unwrap_or_else(|p| p.into_inner());
        let Some(r) = slot.as_ref() else {
            return vec![];
        };
        r.endpoints
            .iter()
            .zip(&r.controls)
            .filter_map(|(ep, c)| {
                c.last_screen().map(|s| DemoScreen {
                    device_id: ep.id(),
                    title: s.title,
                    fields: s.fields,
                })
            })
            .collect()
    }
}

fn describe(r: &Running) -> DemoDevice {
    DemoDevice {
        id: r.endpoints[0].id(),
        trezor_id: r.endpoints[1].id(),
        trezor_pin: DEMO_TREZOR_PIN.into(),
    }
}

#[cfg(test)]
mod tests {
    use crate::Coldlink;

    #[test]
    fn the_demo_device_comes_and_goes() {
        let app = Coldlink::new(crate::config::test_config());
        let demo = app.start_demo().expect("started");
        assert_eq!(
            app.start_demo().expect("same").id,
            demo.id,
            "one demo at a time"
        );
        let d = app
            .devices()
            .list()
            .devices
            .into_iter()
            .find(|d| d.id == demo.id)
            .expect("listed");
        assert_eq!(d.model_name, super::DEMO_NAME);
        assert!(d.emulated);
        assert_eq!(
            d.fingerprint.map(|f| f.to_string()).as_deref(),
            Some("73c5da0a")
        );
        assert_eq!(
            app.master_fingerprint(&demo.id).expect("usable"),
            "73c5da0a"
        );
        // The Trezor is listed locked; unlocking asks for the PIN on the app's pad, and the
        // person reads the scrambled digits off the (simulated) device screen.
        let t = app
            .devices()
            .list()
            .devices
            .into_iter()
            .find(|d| d.id == demo.trezor_id)
            .expect("trezor listed");
        assert_eq!(t.model_name, super::DEMO_TREZOR_NAME);
        assert_eq!(t.state, coldlink_types::DeviceState::Locked);
        assert_eq!(t.fingerprint, None);
        let unlocking = {
            let app = app.clone();
            let id = demo.trezor_id.clone();
            std::thread::spawn(move || app.master_fingerprint(&id))
        };
        while app.device_prompt() != Some(crate::DevicePrompt::PinMatrix) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let screen = app
            .demo_screens()
            .into_iter()
            .find(|s| s.device_id == demo.trezor_id)
            .expect("screen");
        let matrix = &screen.fields[0].1;
        let positions =
            coldlink_sim::trezor::positions_for_pin(matrix, &demo.trezor_pin).expect("pad");
        app.answer_pin_matrix(&positions).expect("answered");
        assert_eq!(
            unlocking.join().expect("thread").expect("unlocked"),
            "5c9e228d"
        );
        let t = app
            .devices()
            .list()
            .devices
            .into_iter()
            .find(|d| d.id == demo.trezor_id)
            .expect("trezor listed");
        assert_eq!(t.state, coldlink_types::DeviceState::Available);
        assert_eq!(
            t.fingerprint.map(|f| f.to_string()).as_deref(),
            Some("5c9e228d")
        );
        assert_eq!(t.app_version.as_deref(), Some("1.12.1"));
        app.stop_demo();
        assert!(app.devices().list().devices.iter().all(|d| d.id != demo.id));
    }
}
