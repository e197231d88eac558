//! The hardware wallets this app has seen, kept by master fingerprint, so a signer that is not
//! plugged in still has a name, a model and a "last seen", and its accounts can be counted.

use std::collections::HashSet;

use crate::DeviceList;
use coldlink_store::DeviceRow;
use serde::Serialize;

use crate::{AppError, Coldlink};

/// A device seen before, for the window.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct KnownDeviceView {
    /// Master fingerprint (8 hex digits).
    pub fingerprint: String,
    /// "Ledger Nano X".
    pub model_name: String,
    /// An emulator or simulator, never a place for real funds.
    pub emulated: bool,
    /// Unix seconds (as text: the window takes no 64-bit integers).
    pub first_seen: String,
    /// Unix seconds.
    pub last_seen: String,
    /// Plugged in and readable now.
    pub connected: bool,
    /// Accounts this device signs for.
    pub accounts: u32,
}

impl Coldlink {
    /// Notes every listed device whose fingerprint is readable as seen now. Called with each
    /// device list the window or the command line gets; costs one upsert per such device.
    pub fn record_devices(&self, list: &DeviceList) {
        let at = crate::prices::now();
        let rows: Vec<DeviceRow> = list
            .devices
            .iter()
            .filter_map(|d| {
                Some(DeviceRow {
                    fingerprint: d.fingerprint?.to_string(),
                    vendor: serde_json::to_value(d.vendor)
                        .ok()?
                        .as_str()
                        .unwrap_or("unknown")
                        .to_owned(),
                    model_name: d.model_name.clone(),
                    emulated: d.emulated,
                    first_seen: at,
                    last_seen: at,
                })
            })
            .collect();
        if rows.is_empty() {
            return;
        }
        // Best effort: a store that cannot be written must not hide the device list.
        let _ = self.with_store(|s| {
            for r in &rows {
                s.device_seen(r)
                    .map_err(|e| AppError::internal(e.to_string()))?;
            }
            Ok(())
        });
    }

    /// The devices listed now, recorded as seen.
    pub fn list_devices(&self) -> DeviceList {
        let list = self.devices().list();
        self.record_devices(&list);
        list
    }

    /// Every device seen, most recent first, with whether it is connected now (from the last
    /// list, not a new scan) and how many accounts it signs for.
    pub fn known_devices(&self, connected: &DeviceList) -> Result<Vec<KnownDeviceView>, AppError> {
        let (rows, accounts) = self.with_store(|s| {
            let e = |e: coldlink_store::StoreError| AppError::internal(e.to_string());
            Ok((s.devices().map_err(e)?, s.accounts().map_err(e)?))
        })?;
        let now: HashSet<String> = connected
            .devices
            .iter()
            .filter_map(|d| d.fingerprint.map(|f| f.to_string()))
            .collect();
        Ok(rows
            .into_iter()
            .map(|r| KnownDeviceView {
                accounts: accounts
                    .iter()
                    .filter(|a| a.signer.eq_ignore_ascii_case(&r.fingerprint))
                    .count() as u32,
                connected: now.contains(&r.fingerprint),
                fingerprint: r.fingerprint,
                model_name: r.model_name,
                emulated: r.emulated,
                first_seen: r.first_seen.to_string(),
                last_seen: r.last_seen.to_string(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use crate::Coldlink;

    #[test]
    fn a_device_is_remembered_by_fingerprint_after_it_is_unplugged() {
        let app = Coldlink::new(crate::config::test_config());
        assert!(app
            .known_devices(&app.list_devices())
            .expect("none")
            .is_empty());
        let demo = app.start_demo().expect("started");
        app.evm_add_account(&demo.id, 0, "standard", None, "Daily")
            .expect("account");
        let known = app.known_devices(&app.list_devices()).expect("known");
        // The demo Trezor is locked (no fingerprint yet), so only the Ledger is remembered.
        assert_eq!(known.len(), 1, "{known:?}");
        let k = &known[0];
        assert_eq!(k.fingerprint, "73c5da0a");
        assert_eq!(k.model_name, crate::DEMO_NAME);
        assert!(k.emulated && k.connected);
        assert_eq!(k.accounts, 1);
        app.stop_demo();
        let known = app.known_devices(&app.list_devices()).expect("known");
        assert_eq!(known.len(), 1);
        assert!(!known[0].connected, "unplugged, still known");
        assert!(
            known[0].last_seen.parse::<i64>().expect("secs")
                >= known[0].first_seen.parse::<i64>().expect("secs")
        );
    }
}
