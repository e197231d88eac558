//! Start-up configuration: which emulator endpoints to watch.
//!
//! Defaults are the vendors' own emulator ports on loopback, so a developer running Speculos
//! or the Trezor emulator sees it without any setting. Environment variables override them
//! (`off` disables one); Settings will persist the same choices once the store lands.

use std::net::SocketAddr;

use coldlink_bridge::{EmulatorEndpoint, EmulatorKind};
use serde::Serialize;

use crate::AppError;

/// Overrides the Speculos endpoint (`HOST:PORT`, or `off`).
pub const ENV_SPECULOS: &str = "COLDLINK_SPECULOS";
/// Overrides the Trezor emulator endpoint (`HOST:PORT`, or `off`).
pub const ENV_TREZOR_EMULATOR: &str = "COLDLINK_TREZOR_EMULATOR";

const DEFAULT_SPECULOS: &str = "127.0.0.1:9999";
const DEFAULT_TREZOR_EMULATOR: &str = "127.0.0.1:21324";

/// One watched emulator endpoint, as shown in Settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct EmulatorSetting {
    /// `speculos` or `trezorEmulator`.
    pub kind: String,
    /// `HOST:PORT`.
    pub address: String,
}

/// Overrides where Coldlink keeps its files (wallet keystore, later the database).
pub const ENV_DATA_DIR: &str = "COLDLINK_DATA_DIR";
/// Where saved files go (default: the downloads folder).
pub const ENV_EXPORT_DIR: &str = "COLDLINK_EXPORT_DIR";
/// An extra EVM network, `URL#chainId` (a local node for development and tests).
pub const ENV_EVM_RPC: &str = "COLDLINK_EVM_RPC";
/// The price service's base URL (a CoinGecko-compatible API).
pub const ENV_PRICES_URL: &str = "COLDLINK_PRICES_URL";
/// `off` keeps node passwords out of the system keyring (in Coldlink's database instead).
pub const ENV_KEYRING: &str = "COLDLINK_KEYRING";

/// The configuration the services start from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppConfig {
    /// Emulator endpoints to watch.
    pub emulators: Vec<EmulatorSetting>,
    /// Where Coldlink keeps its files; `None` means the platform's data folder.
    pub data_dir: Option<std::path::PathBuf>,
    /// An extra EVM network ("URL#chainId"), e.g. a local node; from `COLDLINK_EVM_RPC`.
    pub evm_rpc: Option<String>,
    /// The CoinGecko-compatible price service's base URL; from `COLDLINK_PRICES_URL`.
    pub prices_url: Option<String>,
    /// Where files the user saves (PSBTs, CSV, labels) go; `None` means their downloads
    /// folder. From `COLDLINK_EXPORT_DIR`.
    pub export_dir: Option<std::path::PathBuf>,
    /// Keep node passwords in the system keyring (Secret Service) when there is one; on
    /// unless `COLDLINK_KEYRING=off`. Off by default here, so tests built from `Default` never
    /// write to a developer's own keyring.
    pub system_keyring: bool,
}

impl AppConfig {
    /// The data folder: the override, else `$XDG_DATA_HOME/coldlink`, else
    /// `~/.local/share/coldlink`.
    pub fn data_dir(&self) -> std::path::PathBuf {
        if let Some(d) = &self.data_dir {
            return d.clone();
        }
        let base = std::env::var_os("XDG_DATA_HOME")
            .map(std::path::PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".local/share"))
            })
            .unwrap_or_else(|| std::path::PathBuf::from("."));
        base.join("coldlink")
    }
}

impl AppConfig {
    /// The folder saved files go to: the override, else the user's downloads folder, else
    /// their home.
    pub fn export_dir(&self) -> std::path::PathBuf {
        self.export_dir
            .clone()
            .or_else(dirs::download_dir)
            .or_else(dirs::home_dir)
            .unwrap_or_else(|| std::path::PathBuf::from("."))
    }
}

impl AppConfig {
    /// Reads the environment; a malformed value is an error naming the variable.
    pub fn from_env() -> Result<Self, AppError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Same as [`AppConfig::from_env`] over any key lookup (for tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, AppError> {
        let mut emulators = Vec::new();
        for (var, default, kind) in [
            (ENV_SPECULOS, DEFAULT_SPECULOS, "speculos"),
            (
                ENV_TREZOR_EMULATOR,
                DEFAULT_TREZOR_EMULATOR,
                "trezorEmulator",
            ),
        ] {
            let value = get(var).unwrap_or_else(|| default.to_owned());
            let value = value.trim();
            if value.eq_ignore_ascii_case("off") || value.is_empty() {
                continue;
            }
            let addr: SocketAddr = value.parse().map_err(|_| {
                AppError::invalid(format!(
                    "{var} must be HOST:PORT with a numeric IP (like {default}) or “off”; got “{value}”"
                ))
            })?;
            emulators.push(EmulatorSetting {
                kind: kind.to_owned(),
                address: addr.to_string(),
            });
        }
        Ok(Self {
            emulators,
            data_dir: get(ENV_DATA_DIR).filter(|d| !d.is_empty()).map(Into::into),
            evm_rpc: get(ENV_EVM_RPC).filter(|d| !d.trim().is_empty()),
            prices_url: get(ENV_PRICES_URL).filter(|d| !d.trim().is_empty()),
            export_dir: get(ENV_EXPORT_DIR)
                .filter(|d| !d.is_empty())
                .map(Into::into),
            system_keyring: !get(ENV_KEYRING).is_some_and(|v| v.trim().eq_ignore_ascii_case("off")),
        })
    }

    /// The endpoints in the bridge's terms.
    pub fn emulator_endpoints(&self) -> Vec<EmulatorEndpoint> {
        self.emulators
            .iter()
            .filter_map(|e| {
                let kind = match e.kind.as_str() {
                    "speculos" => EmulatorKind::Speculos,
                    "trezorEmulator" => EmulatorKind::TrezorEmulator,
                    _ => return None,
                };
                Some(EmulatorEndpoint {
                    kind,
                    addr: e.address.parse().ok()?,
                })
            })
            .collect()
    }
}

/// A configuration for tests: no emulators watched, and a fresh data folder of its own so that
/// nothing (keystore, database, journal) touches the developer's real one.
#[cfg(test)]
pub(crate) fn test_config() -> AppConfig {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "coldlink-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    AppConfig {
        data_dir: Some(dir),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<AppConfig, AppError> {
        AppConfig::from_lookup(|k| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn defaults_are_the_vendor_emulator_ports() {
        let c = with(&[]).expect("defaults");
        let eps = c.emulator_endpoints();
        assert_eq!(eps.len(), 2);
        assert_eq!(eps[0].id(), "speculos:127.0.0.1:9999");
        assert_eq!(eps[1].id(), "trezor-emu:127.0.0.1:21324");
        assert!(
            c.system_keyring,
            "the app keeps node passwords in the keyring"
        );
        assert!(!with(&[(ENV_KEYRING, " Off ")]).expect("off").system_keyring);
        assert!(!AppConfig::default().system_keyring, "tests stay out of it");
    }

    #[test]
    fn overrides_and_off() {
        let c = with(&[
            (ENV_SPECULOS, "127.0.0.1:40000"),
            (ENV_TREZOR_EMULATOR, "OFF"),
        ])
        .expect("valid");
        assert_eq!(
            c.emulators,
            vec![EmulatorSetting {
                kind: "speculos".into(),
                address: "127.0.0.1:40000".into()
            }]
        );
    }

    #[test]
    fn malformed_values_name_the_variable() {
        for bad in ["localhost:9999", "127.0.0.1", "127.0.0.1:99999", "::1:9"] {
            let e = with(&[(ENV_SPECULOS, bad)]).expect_err(bad);
            assert_eq!(e.kind, crate::ErrorKind::InvalidInput);
            assert!(e.message.contains(ENV_SPECULOS), "{}", e.message);
        }
    }
}
