//! Where a Bitcoin node's RPC password is kept: in the system keyring (the Secret Service)
//! when there is one, else in Coldlink's database under a `secret.` setting — which the store
//! never copies into the backup of the user's data or an export. Never in the node's settings,
//! which are exported (they were, before: such a password is moved out when next read).
//!
//! The kernel keyring is not used here, unlike for the software wallet's unlock key: it forgets
//! at logout, and a node password has no other copy to fall back on.

use bitcoin::{hashes::Hash, Network};
use coldlink_keyring::{Backend, KeyringError, OsKeyring};
use coldlink_store::SECRET_PREFIX;
use coldlink_types::Sensitive;

use crate::{AppError, Coldlink, ErrorKind};

/// Where a node's password went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kept {
    /// The system keyring (Secret Service).
    Keyring,
    /// Coldlink's database (never in its exports).
    Database,
}

impl Kept {
    /// What Settings tells the user.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Kept::Keyring => "The password is kept in the system keyring.",
            Kept::Database => {
                "The password is kept in Coldlink's database, readable only by you, and left out \
                 of exports (there is no system keyring here). A cookie file keeps no password."
            }
        }
    }
}

fn db_key(network: Network) -> String {
    format!("{SECRET_PREFIX}btc.node.{network}.password")
}

impl Coldlink {
    /// The keyring entry of `network`'s node password for this data folder (two data folders
    /// keep two passwords).
    fn node_password_id(&self, network: Network) -> Vec<u8> {
        let tag = format!(
            "coldlink node password|{}|{network}",
            self.config.data_dir().display()
        );
        bitcoin::hashes::sha256::Hash::hash(tag.as_bytes())
            .to_byte_array()
            .to_vec()
    }

    fn keyring(&self) -> Option<OsKeyring> {
        if !self.config.system_keyring {
            return None;
        }
        OsKeyring::open(Backend::SecretService).ok()
    }

    /// Keeps `password` for `network`'s node (replacing any earlier one); says where.
    pub(crate) fn keep_node_password(
        &self,
        network: Network,
        password: &Sensitive<String>,
    ) -> Result<Kept, AppError> {
        let id = self.node_password_id(network);
        if let Some(ring) = self.keyring() {
            if ring.put_text(&id, password).is_ok() {
                self.with_store(|s| {
                    s.remove_settings(&db_key(network))
                        .map_err(|e| AppError::internal(e.to_string()))
                })?;
                return Ok(Kept::Keyring);
            }
        }
        self.with_store(|s| {
            s.set_setting(&db_key(network), password.expose())
                .map_err(|e| AppError::internal(e.to_string()))
        })?;
        Ok(Kept::Database)
    }

    /// The password kept for `network`'s node, if any.
    pub(crate) fn node_password(
        &self,
        network: Network,
    ) -> Result<Option<Sensitive<String>>, AppError> {
        let in_db = self.with_store(|s| {
            s.setting(&db_key(network))
                .map_err(|e| AppError::internal(e.to_string()))
        })?;
        if let Some(p) = in_db {
            return Ok(Some(Sensitive::new(p)));
        }
        let Some(ring) = self.keyring() else {
            return Ok(None);
        };
        match ring.get_text(&self.node_password_id(network)) {
            Ok(p) => Ok(Some(p)),
            Err(KeyringError::NotFound) => Ok(None),
            Err(KeyringError::Locked) => Err(AppError::new(
                ErrorKind::Disconnected,
                "the system keyring is locked, and the node's password is kept there: unlock it \
                 (log in again), or enter the password again in Settings",
            )),
            Err(e) => Err(AppError::new(ErrorKind::Disconnected, e.to_string())),
        }
    }

    /// Forgets `network`'s node password wherever it is kept.
    pub(crate) fn forget_node_password(&self, network: Network) -> Result<(), AppError> {
        if let Some(ring) = self.keyring() {
            let _ = ring.delete(&self.node_password_id(network));
        }
        self.with_store(|s| {
            s.remove_settings(&db_key(network))
                .map(|_| ())
                .map_err(|e| AppError::internal(e.to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NodeSettings;

    fn login(node: &coldlink_testkit::Bitcoind, password: &str) -> NodeSettings {
        NodeSettings {
            url: node.url(),
            cookie_file: String::new(),
            user: "coldlink".into(),
            password: password.into(),
            kind: String::new(),
        }
    }

    /// What leaves the database: the copy of the user's data beside it and an export.
    fn exported(app: &Coldlink) -> String {
        app.with_store(|s| {
            s.export_user_data()
                .map_err(|e| AppError::internal(e.to_string()))
        })
        .and_then(|p| std::fs::read_to_string(p).map_err(|e| AppError::internal(e.to_string())))
        .expect("export")
    }

    fn raw_setting(app: &Coldlink, key: &str) -> Option<String> {
        app.with_store(|s| {
            s.setting(key)
                .map_err(|e| AppError::internal(e.to_string()))
        })
        .expect("setting")
    }

    #[test]
    fn without_a_keyring_the_password_stays_in_the_database_out_of_settings_and_exports() {
        let node = coldlink_testkit::Bitcoind::start("node-password");
        let app = Coldlink::new(crate::config::test_config());
        let net = Network::Regtest;
        let status = app
            .btc_set_node(net, login(&node, "coldlink"))
            .expect("set");
        assert!(
            status
                .password_kept
                .as_deref()
                .is_some_and(|k| k.contains("database")),
            "{status:?}"
        );
        let settings = raw_setting(&app, "btc.node.regtest").expect("kept");
        let parsed: NodeSettings = serde_json::from_str(&settings).expect("json");
        assert_eq!(parsed.password, "", "not in the settings: {settings}");
        assert_eq!(raw_setting(&app, &db_key(net)).as_deref(), Some("coldlink"));
        assert!(!exported(&app).contains(SECRET_PREFIX));
        // It is used to sync, and kept when the form is saved again with the field empty.
        app.btc_sync(net).expect("sync with the kept password");
        app.btc_set_node(net, login(&node, ""))
            .expect("same user, kept password");
        app.btc_sync(net).expect("still");
        // Another user with no password is a failed login, and changes nothing.
        let mut other = login(&node, "");
        other.user = "someone".into();
        assert!(app.btc_set_node(net, other).is_err());
        assert_eq!(raw_setting(&app, &db_key(net)).as_deref(), Some("coldlink"));
        // A cookie file needs no password: the kept one is forgotten.
        // (This node has no cookie of its own: one with its login stands in.)
        let cookie_file = node.dir.join("login.cookie");
        std::fs::write(&cookie_file, "coldlink:coldlink").expect("cookie");
        let mut cookie = login(&node, "");
        cookie.cookie_file = cookie_file.display().to_string();
        let status = app.btc_set_node(net, cookie).expect("cookie login");
        assert_eq!(status.password_kept, None);
        assert_eq!(raw_setting(&app, &db_key(net)), None);
        app.btc_sync(net).expect("sync with the cookie");
    }

    #[test]
    fn a_password_an_earlier_version_kept_in_the_settings_is_moved_out_when_read() {
        let node = coldlink_testkit::Bitcoind::start("node-password-old");
        let app = Coldlink::new(crate::config::test_config());
        let net = Network::Regtest;
        let old = serde_json::to_string(&login(&node, "coldlink")).expect("json");
        app.with_store(|s| {
            s.set_setting("btc.node.regtest", &old)
                .map_err(|e| AppError::internal(e.to_string()))
        })
        .expect("plant");
        assert!(exported(&app).contains("\"password\\\":\\\"coldlink\\\""));
        let shown = app.btc_node(net).expect("read").expect("set");
        assert_eq!(shown.password, "");
        assert_eq!(shown.user, "coldlink");
        assert!(
            !exported(&app).contains("\\\"password\\\":\\\"coldlink\\\""),
            "gone from exports"
        );
        assert_eq!(raw_setting(&app, &db_key(net)).as_deref(), Some("coldlink"));
        app.btc_sync(net).expect("sync with the moved password");
    }
}
