//! EVM accounts as the app keeps them: added from any signer (a device, named by its master
//! fingerprint so it is found again whatever port it is on; the software wallet; or an address
//! to watch), stored in the local database with the tokens the user added, shown with their
//! balances (or, offline, with why not). Sending from them is `evm_send`.

use std::{
    str::FromStr,
    sync::{Arc, Mutex},
};

use alloy_primitives::Address;
use coldlink_evm::{balances, format_units, token_info, EvmNetwork, Token, NETWORKS};
use coldlink_store::Store;
use serde::Serialize;

use crate::{evm_request::parse_address, AppError, Coldlink};

/// The open database, opened on first use, and what opening it found that the user must hear.
#[derive(Clone, Default)]
pub(crate) struct StoreSlot(Arc<Mutex<Option<Store>>>, Arc<Mutex<Option<String>>>);

impl std::fmt::Debug for StoreSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreSlot")
    }
}

/// A network as the UI lists it.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct EvmNetworkView {
    /// Key.
    pub key: String,
    /// Name.
    pub name: String,
    /// Chain id (decimal; may exceed 2^53).
    pub chain_id: String,
    /// Native symbol.
    pub symbol: String,
    /// Explorer.
    pub explorer: String,
    /// RPC URL.
    pub rpc_url: String,
}

/// A token amount.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct TokenAmountView {
    /// Ticker.
    pub symbol: String,
    /// Contract.
    pub contract: String,
    /// Decimal amount; `None` when unreadable.
    pub amount: Option<String>,
}

/// An account with its balances.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct EvmAccountView {
    /// Id.
    pub id: u32,
    /// Label.
    pub label: String,
    /// Address (EIP-55).
    pub address: String,
    /// Signer key: fingerprint, "soft" or "watch".
    pub signer: String,
    /// Signer's name.
    pub signer_name: String,
    /// Path, if a signer holds the key.
    pub path: Option<String>,
    /// Watch-only (cannot send).
    pub watch_only: bool,
    /// Native balance (decimal), when the node answered.
    pub balance: Option<String>,
    /// Native symbol.
    pub symbol: String,
    /// Token balances.
    pub tokens: Vec<TokenAmountView>,
    /// Why balances could not be read now (node unreachable …); the last ones read are
    /// shown instead when there are any.
    pub balance_error: Option<String>,
    /// When the balances shown were read (unix seconds): now, or the last time it worked.
    pub synced_at: Option<u32>,
}

pub(crate) fn store_error(e: coldlink_store::StoreError) -> AppError {
    AppError::internal(crate::error::capitalise(&e.to_string()))
}

impl Coldlink {
    pub(crate) fn with_store<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let mut slot = self.store.0.lock().unwrap_or_else(|p| p.into_inner());
        // Demo mode keeps its data apart: its own database in its own folder.
        let path = self.data_dir().join("coldlink.db");
        if slot.as_ref().is_some_and(|s| s.path() != path) {
            *slot = None;
        }
        if slot.is_none() {
            let (store, report) = Store::open(&path).map_err(store_error)?;
            if let Some(aside) = &report.moved_aside {
                let restored = if report.restored_from.is_some() {
                    "your accounts, labels and settings were restored from the copy kept beside it"
                } else {
                    "no copy of your accounts and settings was found: add them again"
                };
                *self.store.1.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!(
                    "The local database was damaged. It was moved to {} and a new one started; {restored}. Balances and history are read again from the networks.",
                    aside.display()
                ));
            }
            *slot = Some(store);
        }
        match slot.as_mut() {
            Some(s) => f(s),
            None => Err(AppError::internal("the local database is not open")),
        }
    }

    /// What the user must be told about the local database (it was damaged and rebuilt), once.
    pub fn store_notice(&self) -> Option<String> {
        let _ = self.with_store(|_| Ok(()));
        self.store
            .1
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// Built-in networks, and the local one from `COLDLINK_EVM_RPC` first if set.
    pub fn evm_network_list(&self) -> Vec<EvmNetwork> {
        let mut list = Vec::new();
        let local = self
            .demo_env()
            .map(|d| d.evm_rpc)
            .or_else(|| self.config.evm_rpc.clone());
        if let Some((url, chain)) = local.as_deref().and_then(|s| s.rsplit_once('#')) {
            if let Ok(chain_id) = chain.trim().parse::<u64>() {
                list.push(EvmNetwork {
                    key: "local".into(),
                    name: "Local node".into(),
                    chain_id,
                    symbol: "ETH".into(),
                    explorer: String::new(),
                    rpc_url: url.trim().into(),
                    eip1559: true,
                });
            }
        }
        let (user, overrides) = self
            .with_store(|s| {
                let data = s.user_data().map_err(store_error)?;
                Ok((data.evm_networks, data.settings))
            })
            .unwrap_or_default();
        for mut n in NETWORKS.iter().cloned() {
            let key = format!("evm.rpc.{}", n.key);
            if let Some((_, url)) = overrides.iter().find(|(k, _)| *k == key) {
                n.rpc_url = url.clone();
            }
            list.push(n);
        }
        list.extend(
            user.into_iter()
                .filter_map(|(_, body)| serde_json::from_str::<EvmNetwork>(&body).ok()),
        );
        list
    }

    /// Adds a network by RPC URL; the node must serve `chain_id`.
    pub fn evm_add_network(
        &self,
        name: &str,
        rpc_url: &str,
        chain_id: &str,
        symbol: &str,
    ) -> Result<EvmNetworkView, AppError> {
        let chain_id: u64 = chain_id
            .trim()
            .parse()
            .map_err(|_| AppError::invalid(format!("“{chain_id}” is not a chain id")))?;
        if self
            .evm_network_list()
            .iter()
            .any(|n| n.chain_id == chain_id)
        {
            return Err(AppError::invalid(format!(
                "a network with chain id {chain_id} is already configured: edit its RPC URL instead"
            )));
        }
        let symbol = if symbol.trim().is_empty() {
            "ETH"
        } else {
            symbol
        };
        let n = EvmNetwork::custom(name, rpc_url, chain_id, symbol)?;
        let body = serde_json::to_string(&n).map_err(|e| AppError::internal(e.to_string()))?;
        self.with_store(|s| {
            let mut d = coldlink_store::UserData::default();
            d.evm_networks.push((n.key.clone(), body));
            s.import_user_data(&d).map_err(store_error)
        })?;
        Ok(network_view(n))
    }

    /// Points a built-in network at another RPC URL (checked: the node must serve its chain).
    pub fn evm_set_rpc(&self, key: &str, rpc_url: &str) -> Result<EvmNetworkView, AppError> {
        let mut n = self.network_by_key(key)?;
        if !NETWORKS.iter().any(|b| b.key == key) {
            return Err(AppError::invalid(
                "only built-in networks have an editable URL here",
            ));
        }
        n.rpc_url = rpc_url.trim().to_owned();
        n.check()?;
        self.with_store(|s| {
            s.set_setting(&format!("evm.rpc.{key}"), &n.rpc_url)
                .map_err(store_error)
        })?;
        Ok(network_view(n))
    }

    pub(crate) fn network_by_key(&self, key: &str) -> Result<EvmNetwork, AppError> {
        self.evm_network_list()
            .into_iter()
            .find(|n| n.key == key)
            .ok_or_else(|| AppError::invalid(format!("unknown network “{key}”")))
    }

    /// The networks for the UI.
    pub fn evm_network_views(&self) -> Vec<EvmNetworkView> {
        self.evm_network_list()
            .into_iter()
            .map(network_view)
            .collect()
    }

    /// Adds an EVM account: `signer` is a device id, "soft" (the unlocked software wallet) or
    /// "watch" (then `address` is required). `layout` "standard" is m/44'/60'/0'/0/index,
    /// "ledgerLive" is m/44'/60'/index'/0/0.
    pub fn evm_add_account(
        &self,
        signer: &str,
        index: u32,
        layout: &str,
        address: Option<&str>,
        label: &str,
    ) -> Result<EvmAccountView, AppError> {
        if index >= 0x8000_0000 {
            return Err(AppError::invalid("the account index must be below 2^31"));
        }
        let path = match layout {
            "standard" | "" => format!("m/44'/60'/0'/0/{index}"),
            "ledgerLive" => format!("m/44'/60'/{index}'/0/0"),
            other => {
                return Err(AppError::invalid(format!(
                    "unknown layout “{other}”: standard or ledgerLive"
                )))
            }
        };
        let (key, name, addr, path) = match signer {
            "watch" => {
                let a = parse_address(
                    address.ok_or_else(|| AppError::invalid("give the address to watch"))?,
                )?;
                ("watch".to_owned(), "Watch-only".to_owned(), a, None)
            }
            "soft" => (
                "soft".to_owned(),
                "Software wallet".to_owned(),
                self.evm_address_of("soft", &path)?,
                Some(path),
            ),
            device => {
                let fp = self.master_fingerprint(device)?;
                let name = self
                    .devices()
                    .list()
                    .devices
                    .into_iter()
                    .find(|d| d.id == device)
                    .map(|d| d.model_name)
                    .unwrap_or_else(|| "Hardware wallet".into());
                (fp, name, self.evm_address_of(device, &path)?, Some(path))
            }
        };
        let label = if label.trim().is_empty() {
            format!("{name} {}", index + 1)
        } else {
            label.trim().to_owned()
        };
        let row = self.with_store(|s| {
            s.add_account(
                "evm",
                &key,
                &name,
                &label,
                &addr.to_checksum(None),
                path.as_deref(),
            )
            .map_err(store_error)
        })?;
        Ok(view(&row, "ETH"))
    }

    /// Removes an account.
    pub fn evm_remove_account(&self, id: u32) -> Result<(), AppError> {
        self.with_store(|s| {
            s.remove_account(i64::from(id))
                .map(|_| ())
                .map_err(store_error)
        })
    }

    /// Adds a token on a network, after checking it answers like one.
    pub fn evm_add_token(
        &self,
        network: &str,
        contract: &str,
    ) -> Result<TokenAmountView, AppError> {
        let net = self.network_by_key(network)?;
        let rpc = net.check()?;
        let t = token_info(&rpc, parse_address(contract)?)?;
        self.with_store(|s| {
            s.add_token(
                &net.key,
                &t.address.to_checksum(None),
                &t.symbol,
                t.decimals,
            )
            .map_err(store_error)?;
            // The logs read so far did not ask for this token: read them again at the next
            // refresh (rows already kept are not doubled).
            s.remove_settings(&format!("evm.transfers.{}.", net.key))
                .map_err(store_error)
                .map(|_| ())
        })?;
        Ok(TokenAmountView {
            symbol: t.symbol,
            contract: t.address.to_checksum(None),
            amount: None,
        })
    }

    /// The network's built-in tokens, then those the user added.
    pub(crate) fn tokens_of(&self, net: &EvmNetwork) -> Result<Vec<Token>, AppError> {
        let rows = self.with_store(|s| s.tokens(&net.key).map_err(store_error))?;
        let mut list = coldlink_evm::builtin_tokens(net.chain_id);
        for (a, symbol, decimals) in rows {
            if let Ok(address) = Address::from_str(&a) {
                if !list.iter().any(|t| t.address == address) {
                    list.push(Token {
                        symbol,
                        decimals,
                        address,
                    });
                }
            }
        }
        Ok(list)
    }

    /// The EVM accounts with their balances on `network` (one round trip); offline, the
    /// accounts with the reason instead of balances.
    pub fn evm_accounts(&self, network: &str) -> Result<Vec<EvmAccountView>, AppError> {
        let net = self.network_by_key(network)?;
        let rows: Vec<_> = self
            .with_store(|s| s.accounts().map_err(store_error))?
            .into_iter()
            .filter(|a| a.chain == "evm")
            .collect();
        let mut views: Vec<EvmAccountView> = rows.iter().map(|r| view(r, &net.symbol)).collect();
        if rows.is_empty() {
            return Ok(views);
        }
        let tokens = self.tokens_of(&net)?;
        let addrs: Vec<Address> = rows
            .iter()
            .filter_map(|r| Address::from_str(&r.address).ok())
            .collect();
        let result = net.check().and_then(|rpc| balances(&rpc, &addrs, &tokens));
        match result {
            Ok(list) => {
                for (v, b) in views.iter_mut().zip(list) {
                    v.balance = Some(format_units(b.native, 18));
                    v.tokens = b
                        .tokens
                        .into_iter()
                        .map(|t| TokenAmountView {
                            symbol: t.token.symbol.clone(),
                            contract: t.token.address.to_checksum(None),
                            amount: t.amount.map(|a| format_units(a, t.token.decimals)),
                        })
                        .collect();
                }
            }
            Err(e) => {
                let msg = AppError::from(e).message;
                // Honest about stale data: the last balances read, with when.
                let cached = self
                    .with_store(|s| s.balances(&net.key).map_err(store_error))
                    .unwrap_or_default();
                for v in &mut views {
                    v.balance_error = Some(msg.clone());
                    let mine: Vec<_> = cached
                        .iter()
                        .filter(|b| b.account_id == i64::from(v.id))
                        .collect();
                    let amount = |b: &coldlink_store::BalanceRow| {
                        alloy_primitives::U256::from_str(&b.units)
                            .ok()
                            .map(|u| format_units(u, b.decimals))
                    };
                    if let Some(native) = mine.iter().find(|b| b.asset == "native") {
                        v.balance = amount(native);
                        v.synced_at = u32::try_from(native.updated_at).ok();
                    }
                    v.tokens = mine
                        .iter()
                        .filter(|b| b.asset != "native")
                        .map(|b| TokenAmountView {
                            symbol: b.symbol.clone(),
                            contract: b.asset.clone(),
                            amount: amount(b),
                        })
                        .collect();
                }
            }
        }
        if views.iter().all(|v| v.balance_error.is_none()) {
            let now = u32::try_from(crate::prices::now()).ok();
            for v in &mut views {
                v.synced_at = now;
            }
        }
        Ok(views)
    }
}

fn network_view(n: EvmNetwork) -> EvmNetworkView {
    EvmNetworkView {
        key: n.key,
        name: n.name,
        chain_id: n.chain_id.to_string(),
        symbol: n.symbol,
        explorer: n.explorer,
        rpc_url: n.rpc_url,
    }
}

pub(crate) fn link(net: &EvmNetwork, hash: &str) -> Option<String> {
    (!net.explorer.is_empty()).then(|| format!("{}/tx/{hash}", net.explorer))
}

fn view(r: &coldlink_store::AccountRow, symbol: &str) -> EvmAccountView {
    EvmAccountView {
        id: u32::try_from(r.id).unwrap_or(u32::MAX),
        label: r.label.clone(),
        address: r.address.clone(),
        signer: r.signer.clone(),
        signer_name: r.signer_name.clone(),
        path: r.path.clone(),
        watch_only: r.signer == "watch",
        balance: None,
        symbol: symbol.into(),
        tokens: vec![],
        balance_error: None,
        synced_at: None,
    }
}
