//! Bitcoin accounts kept current: the backend each network syncs from (node RPC, Electrum or
//! Esplora, set after a connection test), the sync of every account of a network into the
//! balances the portfolio reads (a single watched address asks the backend for its balance;
//! an account that cannot be read keeps its last balance and says why), progress for long
//! syncs, and account discovery.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
};

use bitcoin::{Amount, Network};
use coldlink_btc::{
    backend::Backend,
    electrum::Electrum,
    esplora::Esplora,
    node::{Node, NodeAuth},
    parse_watch,
    sync::AccountWallet,
    Watched,
};
use coldlink_store::BalanceRow;
use serde::{Deserialize, Serialize};

use crate::{
    btc_send::{btc_text, network_key},
    AppError, Coldlink, ErrorKind,
};

/// How far a running sync is, for the UI to show on long syncs.
#[derive(Clone, Copy, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SyncProgress {
    /// The account being synced.
    pub account_id: u32,
    /// Addresses checked so far (Electrum discovery).
    pub addresses: u32,
}

/// The running sync's progress, if any.
#[derive(Clone, Default)]
pub(crate) struct ProgressSlot(Arc<Mutex<Option<SyncProgress>>>);

impl std::fmt::Debug for ProgressSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressSlot")
    }
}

/// The node Coldlink syncs a network from. Its `Debug` leaves the password out.
#[derive(Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct NodeSettings {
    /// `http://127.0.0.1:8332`.
    pub url: String,
    /// Path of the node's `.cookie` file (preferred), or empty.
    pub cookie_file: String,
    /// `rpcuser` when no cookie file is used.
    pub user: String,
    /// `rpcpassword` when no cookie file is used. Never sent back to the UI.
    #[serde(default)]
    pub password: String,
    /// "rpc" (a Bitcoin Core / Knots node; the default), "electrum" (then `url` is
    /// tcp://host:port or ssl://host:port) or "esplora" (an Esplora HTTP API base URL).
    #[serde(default)]
    pub kind: String,
}

impl std::fmt::Debug for NodeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeSettings")
            .field("url", &self.url)
            .field("cookie_file", &self.cookie_file)
            .field("user", &self.user)
            .field(
                "password",
                &if self.password.is_empty() {
                    ""
                } else {
                    "<hidden>"
                },
            )
            .field("kind", &self.kind)
            .finish()
    }
}

/// What the connection test found.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatusView {
    /// The node's chain name.
    pub chain: String,
    /// Best block.
    pub blocks: u32,
    /// Still downloading the chain.
    pub syncing: bool,
    /// Where the password was kept, when one was given.
    pub password_kept: Option<String>,
}

/// An account after a sync.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BtcBalanceView {
    /// Account id.
    pub account_id: u32,
    /// Confirmed, in BTC.
    pub confirmed: String,
    /// Unconfirmed, in BTC (ours and incoming).
    pub pending: String,
    /// Best block seen.
    pub tip: u32,
    /// Why this account could not be synced now (its last known balance is shown).
    pub error: Option<String>,
}

impl Coldlink {
    /// Keeps what the server said of a single-address account: its transactions, and the
    /// tip they were read at (for confirmations later, offline too).
    fn keep_address_history(
        &self,
        account_id: i64,
        network: Network,
        tip: u64,
        list: &[coldlink_btc::backend::AddressTx],
    ) -> Result<(), AppError> {
        let sats = |a: Amount| i64::try_from(a.to_sat()).unwrap_or(i64::MAX);
        let rows: Vec<coldlink_store::AddressTxRow> = list
            .iter()
            .map(|t| coldlink_store::AddressTxRow {
                txid: t.txid.to_string(),
                height: t.height.map(i64::from),
                time: t.time.and_then(|x| i64::try_from(x).ok()),
                received: sats(t.received),
                sent: sats(t.sent),
                fee: t.fee.map(sats),
            })
            .collect();
        self.with_store(|s| {
            s.put_address_txs(account_id, &rows)
                .and_then(|()| s.set_position(&tip_key(network), &tip.to_string()))
                .map_err(|e| AppError::internal(e.to_string()))
        })
    }

    /// The chain's height when a single-address account was last read.
    pub(crate) fn btc_tip(&self, network: Network) -> u32 {
        self.with_store(|s| Ok(s.setting(&tip_key(network)).ok().flatten()))
            .ok()
            .flatten()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0)
    }

    /// The node configured for `network`, if any, without its password.
    pub fn btc_node(&self, network: Network) -> Result<Option<NodeSettings>, AppError> {
        self.node_settings(network)
    }

    /// The settings kept for `network`'s node, without a password. A password an earlier
    /// version kept in them (and so in exports) is moved out first (`node_password`).
    fn node_settings(&self, network: Network) -> Result<Option<NodeSettings>, AppError> {
        let raw = self.with_store(|s| {
            s.setting(&node_key(network))
                .map_err(|e| AppError::internal(e.to_string()))
        })?;
        let Some(mut s) = raw.and_then(|r| serde_json::from_str::<NodeSettings>(&r).ok()) else {
            return Ok(None);
        };
        if !s.password.is_empty() {
            let password = coldlink_types::Sensitive::new(std::mem::take(&mut s.password));
            self.keep_node_password(network, &password)?;
            self.save_node_settings(network, &s)?;
        }
        Ok(Some(s))
    }

    fn save_node_settings(&self, network: Network, s: &NodeSettings) -> Result<(), AppError> {
        let mut s = s.clone();
        s.password.clear();
        let text = serde_json::to_string(&s).map_err(|e| AppError::internal(e.to_string()))?;
        self.with_store(|st| {
            st.set_setting(&node_key(network), &text)
                .map_err(|e| AppError::internal(e.to_string()))
        })
    }

    pub(crate) fn node(&self, network: Network) -> Result<Backend, AppError> {
        let mut s = self.node_settings(network)?.ok_or_else(|| {
            AppError::new(
                ErrorKind::Disconnected,
                format!("no Bitcoin node is set for {network}: add one in Settings"),
            )
        })?;
        if uses_password(&s) {
            s.password = self
                .node_password(network)?
                .map(|p| p.expose().clone())
                .ok_or_else(|| {
                    AppError::new(
                        ErrorKind::Disconnected,
                        format!(
                            "the password of the {network} node is not kept any more: enter it again in Settings"
                        ),
                    )
                })?;
        }
        Ok(to_backend(&s))
    }

    /// Tests `settings` against the node and keeps them for `network` when it answers on that
    /// network. The password goes to the system keyring (or the database), never into the
    /// settings; left empty for the same user, the one kept is used.
    pub fn btc_set_node(
        &self,
        network: Network,
        mut settings: NodeSettings,
    ) -> Result<NodeStatusView, AppError> {
        let electrum = settings.kind == "electrum";
        let url = settings.url.trim();
        if electrum && !url.starts_with("tcp://") && !url.starts_with("ssl://") {
            return Err(AppError::invalid(
                "an Electrum server address starts with tcp:// or ssl:// (for example tcp://127.0.0.1:50001)",
            ));
        }
        if !electrum && !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(AppError::invalid(
                "the address must start with http:// (for example http://127.0.0.1:8332)",
            ));
        }
        let with_password = uses_password(&settings);
        if with_password && settings.password.is_empty() {
            let same_user = self
                .node_settings(network)?
                .is_some_and(|old| uses_password(&old) && old.user == settings.user);
            if same_user {
                if let Some(p) = self.node_password(network)? {
                    settings.password = p.expose().clone();
                }
            }
        }
        let status = to_backend(&settings).check_network(network)?;
        let password = coldlink_types::Sensitive::new(std::mem::take(&mut settings.password));
        let kept = if with_password && !password.expose().is_empty() {
            Some(self.keep_node_password(network, &password)?)
        } else {
            self.forget_node_password(network)?;
            None
        };
        self.save_node_settings(network, &settings)?;
        Ok(NodeStatusView {
            chain: status.chain,
            blocks: u32::try_from(status.blocks).unwrap_or(u32::MAX),
            syncing: status.initial_download,
            password_kept: kept.map(|k| k.describe().to_owned()),
        })
    }

    /// Syncs every Bitcoin account on `network` from its node and caches their balances for
    /// the portfolio. An account that fails keeps its last known balance and says why.
    pub fn btc_sync(&self, network: Network) -> Result<Vec<BtcBalanceView>, AppError> {
        let node = self.node(network)?;
        let rows =
            self.with_store(|s| s.accounts().map_err(|e| AppError::internal(e.to_string())))?;
        let mut views = Vec::new();
        let mut cache = Vec::new();
        // Last known balances, kept for accounts that cannot be read now.
        let before: std::collections::HashMap<i64, BalanceRow> = self
            .with_store(|s| {
                s.balances(&network_key(network))
                    .map_err(|e| AppError::internal(e.to_string()))
            })?
            .into_iter()
            .map(|b| (b.account_id, b))
            .collect();
        for r in rows
            .iter()
            .filter(|r| r.chain == "bitcoin" && r.network.as_deref() == Some(&network.to_string()))
        {
            let Ok(id) = u32::try_from(r.id) else {
                continue;
            };
            if let Ok(Watched::Address(a)) = parse_watch(&r.address, network, None) {
                // One address, no descriptor: its balance comes from the backend directly.
                let got = node
                    .check_network(network)
                    .and_then(|st| Ok((node.address_balance(&a)?, st.blocks)));
                match got {
                    Ok((b, blocks)) => {
                        // The history is asked apart: a server that refuses it (too many
                        // transactions for its limit) still gives the balance, and the last
                        // history read is kept. A node has no address index (`None`).
                        if let Ok(Some(list)) = node.address_history(&a) {
                            self.keep_address_history(r.id, network, blocks, &list)?;
                        }
                        let total = b
                            .confirmed
                            .to_signed()
                            .ok()
                            .and_then(|c| c.checked_add(b.pending))
                            .and_then(|t| t.to_unsigned().ok())
                            .unwrap_or(Amount::ZERO);
                        cache.push(btc_balance_row(r.id, network, total));
                        views.push(BtcBalanceView {
                            account_id: id,
                            confirmed: btc_text(b.confirmed),
                            pending: match b.pending.to_unsigned() {
                                Ok(p) => btc_text(p),
                                Err(_) => format!("-{}", btc_text(b.pending.unsigned_abs())),
                            },
                            tip: u32::try_from(blocks).unwrap_or(u32::MAX),
                            error: None,
                        });
                    }
                    Err(e) => {
                        if let Some(old) = before.get(&r.id) {
                            cache.push(old.clone());
                        }
                        views.push(BtcBalanceView {
                            account_id: id,
                            confirmed: before
                                .get(&r.id)
                                .and_then(|b| b.units.parse().ok())
                                .map(|u| btc_text(Amount::from_sat(u)))
                                .unwrap_or_else(|| "0".into()),
                            pending: "0".into(),
                            tip: 0,
                            error: Some(AppError::from(e).message),
                        });
                    }
                }
                continue;
            }
            let Ok((_, _, mut w)) = self.open_wallet(id) else {
                continue;
            };
            let gap = self.setting_u64("btc.gap_limit").unwrap_or(20) as usize;
            let (tip, error) = match w.sync(&node, gap, self.sync_progress(id)) {
                Ok(t) => (t, None),
                Err(e) => (w.tip(), Some(AppError::from(e).message)),
            };
            let b = w.balances();
            let total = b.confirmed + b.trusted_pending + b.untrusted_pending;
            cache.push(btc_balance_row(r.id, network, total));
            views.push(BtcBalanceView {
                account_id: id,
                confirmed: btc_text(b.confirmed),
                pending: btc_text(b.trusted_pending + b.untrusted_pending),
                tip,
                error,
            });
        }
        *self
            .btc_progress
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
        let key = network_key(network);
        self.with_store(|s| {
            s.put_balances(&key, &cache)
                .map_err(|e| AppError::internal(e.to_string()))
        })?;
        Ok(views)
    }

    /// Account discovery: adds account 0, 1, … of `kind` held by `signer` (device id or
    /// "soft") while each has history on the chain (account 0 always; one empty account ends
    /// it, as BIP44 has it). Accounts already kept are not added twice. Returns those added.
    pub fn btc_discover_accounts(
        &self,
        signer: &str,
        kind: coldlink_signer::ScriptKind,
        network: Network,
    ) -> Result<Vec<crate::BtcAccountView>, AppError> {
        let backend = self.node(network)?;
        let gap = self.setting_u64("btc.gap_limit").unwrap_or(20) as usize;
        let kept: Vec<String> = self
            .btc_accounts(network)?
            .into_iter()
            .map(|a| a.descriptor)
            .collect();
        let dir = self.data_dir().join("bitcoin");
        std::fs::create_dir_all(&dir).map_err(|e| AppError::internal(e.to_string()))?;
        let mut added = Vec::new();
        for index in 0..100 {
            let (_, _, account, _) = self.signer_account(signer, kind, network, index)?;
            let probe = dir.join(format!("probe-{network}-{index}.sqlite"));
            let _ = std::fs::remove_file(&probe);
            let used = {
                let mut w = AccountWallet::open(&probe, &account)?;
                // The probe is deleted below: no connection is kept open for it.
                w.keep_connection(false);
                w.sync(&backend, gap, Arc::new(|_| {}))?;
                !w.history().is_empty()
            };
            let _ = std::fs::remove_file(&probe);
            if index > 0 && !used {
                break;
            }
            if !kept.contains(&account.external.to_string()) {
                added.push(self.btc_add_account(signer, kind, network, index, None, "")?);
            }
            if !used {
                break;
            }
        }
        Ok(added)
    }

    fn sync_progress(&self, account_id: u32) -> Arc<dyn Fn(u32) + Send + Sync> {
        let slot = self.btc_progress.0.clone();
        *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(SyncProgress {
            account_id,
            addresses: 0,
        });
        Arc::new(move |addresses| {
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(SyncProgress {
                account_id,
                addresses,
            });
        })
    }

    /// How far the running Bitcoin sync is (none when no sync runs).
    pub fn btc_sync_progress(&self) -> Option<SyncProgress> {
        *self
            .btc_progress
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}

fn to_backend(s: &NodeSettings) -> Backend {
    match s.kind.as_str() {
        "electrum" => {
            return Backend::Electrum(Electrum {
                url: s.url.trim().to_owned(),
            })
        }
        "esplora" => {
            return Backend::Esplora(Esplora {
                url: s.url.trim().to_owned(),
            })
        }
        _ => {}
    }
    Backend::Node(Node {
        url: s.url.trim().to_owned(),
        auth: if s.cookie_file.trim().is_empty() {
            NodeAuth::UserPass(s.user.clone(), s.password.clone())
        } else {
            NodeAuth::Cookie(PathBuf::from(s.cookie_file.trim()))
        },
    })
}

fn node_key(network: Network) -> String {
    format!("btc.node.{network}")
}

/// Whether `s` logs in to a node with a user and password (not a cookie file, not a server).
fn uses_password(s: &NodeSettings) -> bool {
    !matches!(s.kind.as_str(), "electrum" | "esplora")
        && s.cookie_file.trim().is_empty()
        && !s.user.trim().is_empty()
}

fn tip_key(network: Network) -> String {
    format!("btc.tip.{network}")
}

/// A Bitcoin account's balance as the portfolio caches it.
fn btc_balance_row(account_id: i64, network: Network, total: Amount) -> BalanceRow {
    BalanceRow {
        account_id,
        network: network_key(network),
        asset: "BTC".into(),
        symbol: "BTC".into(),
        decimals: 8,
        units: total.to_sat().to_string(),
        updated_at: crate::prices::now(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_node_password_stays_out_of_debug_output() {
        let s = super::NodeSettings {
            url: "http://127.0.0.1:8332".into(),
            cookie_file: String::new(),
            user: "me".into(),
            password: "hunter2-secret".into(),
            kind: "rpc".into(),
        };
        let text = format!("{s:?}");
        assert!(!text.contains("hunter2-secret"), "{text}");
        assert!(text.contains("<hidden>"));
    }
}
