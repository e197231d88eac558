//! The demo device: a simulated Ledger (Bitcoin app open, public test seed) that Coldlink
//! starts on a loopback port and lists like any other device, so people without hardware can
//! try every flow. It is marked as an emulator everywhere and never holds real funds.

use std::sync::{Arc, Mutex};

use coldlink_bridge::{EmulatorEndpoint, EmulatorKind};
use coldlink_sim::ledger::{spawn_speculos, LedgerSim, Server};
use serde::Serialize;

use crate::{AppError, Coldlink, DEMO_MNEMONIC};

/// Name the demo device is listed under.
pub const DEMO_NAME: &str = "Demo Ledger (simulated)";

/// The running demo device, if any.
#[derive(Clone, Default)]
pub(crate) struct DemoSlot(Arc<Mutex<Option<(Server, EmulatorEndpoint)>>>);

impl std::fmt::Debug for DemoSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DemoSlot")
    }
}

/// Where the demo device answers.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DemoDevice {
    /// Its device id (`speculos:127.0.0.1:PORT`).
    pub id: String,
}

impl Coldlink {
    /// Starts the demo device (or returns the running one).
    pub fn start_demo(&self) -> Result<DemoDevice, AppError> {
        let mut slot = self.demo.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, ep)) = slot.as_ref() {
            return Ok(DemoDevice { id: ep.id() });
        }
        let sim = LedgerSim::new(DEMO_MNEMONIC).map_err(|e| AppError::internal(e.to_string()))?;
        let (server, user) = spawn_speculos(sim)
            .map_err(|e| AppError::internal(format!("cannot start the demo device: {e}")))?;
        user.set_app(Some("Bitcoin"));
        let ep = EmulatorEndpoint {
            kind: EmulatorKind::Speculos,
            addr: server.addr(),
        };
        self.devices().watch_endpoint(ep, DEMO_NAME);
        *slot = Some((server, ep));
        Ok(DemoDevice { id: ep.id() })
    }

    /// Stops the demo device; it disappears from the device list.
    pub fn stop_demo(&self) {
        let mut slot = self.demo.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((server, ep)) = slot.take() {
            self.devices().unwatch(&ep);
            drop(server);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{AppConfig, Coldlink};

    #[test]
    fn the_demo_device_comes_and_goes() {
        let app = Coldlink::new(AppConfig::default());
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
        app.stop_demo();
        assert!(app.devices().list().devices.iter().all(|d| d.id != demo.id));
    }
}
