//! A Trezor or KeepKey as a signer: what Coldlink asks of it (fingerprint, xpubs, addresses,
//! Ethereum) in terms of the protocol's messages, with every answer checked before use.

use std::{str::FromStr, sync::Arc};

use bitcoin::{
    bip32::{ChildNumber, DerivationPath, Xpub},
    Network, NetworkKind,
};
use coldlink_bridge::Transport;
use coldlink_signer::{Interaction, Prompt, ScriptKind, SignerError};
use coldlink_types::{Fingerprint, Model, Vendor};

use crate::{
    messages::{self as m, InputScriptType},
    session::Session,
};

/// What the device said about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Maker, from the vendor string.
    pub vendor: Vendor,
    /// Model as far as the Features tell.
    pub model: Model,
    /// Human name ("Trezor Model T", "Trezor Safe 3", "KeepKey").
    pub model_name: String,
    /// Firmware version "major.minor.patch".
    pub firmware: String,
    /// The owner's label.
    pub label: Option<String>,
    /// Holds a seed.
    pub initialized: bool,
    /// A PIN is set.
    pub pin_protection: bool,
    /// Passphrases are on.
    pub passphrase_protection: bool,
    /// PIN entered (or none set).
    pub unlocked: bool,
    /// Running the bootloader.
    pub bootloader: bool,
    /// Trezor One or KeepKey: the PIN is entered on a scrambled pad in the app.
    pub pin_matrix: bool,
}

impl DeviceInfo {
    /// Reads the Features message.
    pub fn from_features(f: &m::Features) -> Self {
        let keepkey = f
            .vendor
            .as_deref()
            .is_some_and(|v| v.to_ascii_lowercase().contains("keepkey"));
        let code = f
            .internal_model
            .clone()
            .or_else(|| f.model.clone())
            .unwrap_or_default();
        let (model, model_name, pin_matrix) = if keepkey {
            (Model::Keepkey, "KeepKey".to_owned(), true)
        } else {
            match code.as_str() {
                "1" | "T1B1" => (Model::TrezorOne, "Trezor Model One".to_owned(), true),
                "T" | "T2T1" => (Model::Trezor, "Trezor Model T".to_owned(), false),
                "Safe 3" | "T2B1" | "T3B1" => (Model::Trezor, "Trezor Safe 3".to_owned(), false),
                "Safe 5" | "T3T1" => (Model::Trezor, "Trezor Safe 5".to_owned(), false),
                other => (
                    Model::Trezor,
                    format!("Trezor {other}").trim().to_owned(),
                    false,
                ),
            }
        };
        Self {
            vendor: if keepkey {
                Vendor::Keepkey
            } else {
                Vendor::Trezor
            },
            model,
            model_name,
            firmware: format!(
                "{}.{}.{}",
                f.major_version, f.minor_version, f.patch_version
            ),
            label: f.label.clone().filter(|l| !l.is_empty()),
            initialized: f.initialized.unwrap_or(false),
            pin_protection: f.pin_protection.unwrap_or(false),
            passphrase_protection: f.passphrase_protection.unwrap_or(false),
            // Old firmware has no `unlocked`: then only a PIN makes it locked until asked.
            unlocked: f.unlocked.unwrap_or(!f.pin_protection.unwrap_or(false)),
            bootloader: f.bootloader_mode.unwrap_or(false),
            pin_matrix,
        }
    }
}

/// The coin name the firmware knows a network by.
pub fn coin_name(network: Network) -> &'static str {
    match network {
        Network::Bitcoin => "Bitcoin",
        Network::Regtest => "Regtest",
        _ => "Testnet",
    }
}

/// Trezor's script type for a single-sig account kind.
pub fn input_script_type(kind: ScriptKind) -> InputScriptType {
    match kind {
        ScriptKind::Legacy => InputScriptType::SpendAddress,
        ScriptKind::NestedSegwit => InputScriptType::SpendP2shWitness,
        ScriptKind::NativeSegwit => InputScriptType::SpendWitness,
        ScriptKind::Taproot => InputScriptType::SpendTaproot,
    }
}

/// A path as the protocol's `address_n`.
pub fn address_n(path: &DerivationPath) -> Vec<u32> {
    path.into_iter().map(|c| u32::from(*c)).collect()
}

/// An open Trezor-family device.
pub struct Trezor {
    pub(crate) session: Session,
    pub(crate) info: DeviceInfo,
    pub(crate) network: Network,
    pub(crate) ui: Arc<dyn Interaction>,
}

impl Trezor {
    /// Starts a session on `transport` (Initialize → Features). `ui` answers PIN and
    /// passphrase requests of calls that are not given their own.
    pub fn open(
        transport: Box<dyn Transport>,
        network: Network,
        ui: Arc<dyn Interaction>,
    ) -> Result<Self, SignerError> {
        Self::open_session(Session::new(transport), network, ui)
    }

    /// Like [`Trezor::open`] on a prepared session (e.g. with a shorter timeout).
    pub fn open_session(
        mut session: Session,
        network: Network,
        ui: Arc<dyn Interaction>,
    ) -> Result<Self, SignerError> {
        let f: m::Features = session.call(
            &m::Initialize::default(),
            &Prompt::Other("Starting".into()),
            ui.as_ref(),
        )?;
        let info = DeviceInfo::from_features(&f);
        session.set_passphrase_on_device(!info.pin_matrix);
        Ok(Self {
            session,
            info,
            network,
            ui,
        })
    }

    /// Like [`Trezor::open_session`] but reads the Features with GetFeatures, leaving the
    /// device's current session (and its cached passphrase) alone: for status probes.
    pub fn from_features(
        mut session: Session,
        network: Network,
        ui: Arc<dyn Interaction>,
    ) -> Result<Self, SignerError> {
        let f: m::Features = session.call(
            &m::GetFeatures {},
            &Prompt::Other("Reading the device".into()),
            ui.as_ref(),
        )?;
        Ok(Self {
            session,
            info: DeviceInfo::from_features(&f),
            network,
            ui,
        })
    }

    /// What the device said about itself when the session started.
    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// Reads the Features again (e.g. to see whether it is unlocked now).
    pub fn refresh(&mut self) -> Result<&DeviceInfo, SignerError> {
        let f: m::Features = self.session.call(
            &m::GetFeatures {},
            &Prompt::Other("Reading the device".into()),
            self.ui.as_ref(),
        )?;
        self.info = DeviceInfo::from_features(&f);
        Ok(&self.info)
    }

    /// The underlying session, for messages this type has no method for.
    pub fn session(&mut self) -> &mut Session {
        &mut self.session
    }

    /// KeepKey firmware has no taproot: say so before asking the device.
    pub(crate) fn check_kind(&self, kind: ScriptKind) -> Result<(), SignerError> {
        if kind == ScriptKind::Taproot && self.info.vendor == Vendor::Keepkey {
            return Err(SignerError::Unsupported(
                "use taproot (BIP86) on a KeepKey: its firmware does not support it",
            ));
        }
        Ok(())
    }

    fn check_ready(&self) -> Result<(), SignerError> {
        if self.info.bootloader {
            return Err(SignerError::Device {
                code: 0,
                message: "the device is in bootloader mode: restart it normally".into(),
            });
        }
        if !self.info.initialized {
            return Err(SignerError::Device {
                code: m::FailureType::NotInitialized as u32,
                message: "the device has no seed yet: set it up first".into(),
            });
        }
        Ok(())
    }

    /// The BIP32 node at `path`, checked: the xpub string, the node fields and the path agree.
    pub fn public_node(
        &mut self,
        path: &DerivationPath,
        kind: Option<ScriptKind>,
        display: bool,
    ) -> Result<(Xpub, Option<u32>), SignerError> {
        self.check_ready()?;
        let req = m::GetPublicKey {
            address_n: address_n(path),
            show_display: Some(display),
            coin_name: Some(coin_name(self.network).into()),
            script_type: kind.map(|k| input_script_type(k) as i32),
            ignore_xpub_magic: Some(true),
        };
        let prompt = Prompt::Other(format!("Check the public key of {path} on the device"));
        let ui = Arc::clone(&self.ui);
        let pk: m::PublicKey = self.session.call(&req, &prompt, ui.as_ref())?;
        let xpub = Xpub::from_str(&pk.xpub)
            .map_err(|e| SignerError::BadResponse(format!("invalid xpub: {e}")))?;
        let want_kind = NetworkKind::from(self.network);
        let last = path.into_iter().last().copied();
        let consistent = xpub.network == want_kind
            && xpub.public_key.serialize().as_slice() == pk.node.public_key.as_slice()
            && xpub.chain_code.as_bytes().as_slice() == pk.node.chain_code.as_slice()
            && usize::from(xpub.depth) == path.len()
            && u32::from(xpub.depth) == pk.node.depth
            && last.is_none_or(|c| xpub.child_number == c && u32::from(c) == pk.node.child_num);
        if !consistent {
            return Err(SignerError::BadResponse(format!(
                "the device's public key does not match the path {path} asked for"
            )));
        }
        Ok((xpub, pk.root_fingerprint))
    }

    /// The master fingerprint: the parent fingerprint of m/0'.
    pub fn fingerprint(&mut self) -> Result<Fingerprint, SignerError> {
        let path = DerivationPath::from(vec![ChildNumber::Hardened { index: 0 }]);
        let (xpub, root) = self.public_node(&path, None, false)?;
        let parent = xpub.parent_fingerprint.to_bytes();
        if let Some(root) = root {
            if root.to_be_bytes() != parent {
                return Err(SignerError::BadResponse(
                    "the device reports two different master fingerprints".into(),
                ));
            }
        }
        Ok(Fingerprint(parent))
    }

    /// The address of `kind` at the full `path`; with `display`, the device shows it and the
    /// app shows the same one (read first without display) for the user to compare.
    pub fn address(
        &mut self,
        kind: ScriptKind,
        path: &DerivationPath,
        display: bool,
        ui: &dyn Interaction,
    ) -> Result<String, SignerError> {
        self.check_ready()?;
        self.check_kind(kind)?;
        let mut req = m::GetAddress {
            address_n: address_n(path),
            coin_name: Some(coin_name(self.network).into()),
            show_display: Some(false),
            script_type: Some(input_script_type(kind) as i32),
        };
        let quiet = Prompt::Other("Reading the address".into());
        let first: m::Address = self.session.call(&req, &quiet, ui)?;
        let parsed = bitcoin::Address::from_str(&first.address)
            .ok()
            .and_then(|a| a.require_network(self.network).ok())
            .ok_or_else(|| {
                SignerError::BadResponse(format!(
                    "“{}” is not a {} address",
                    first.address, self.network
                ))
            })?;
        if !display {
            return Ok(parsed.to_string());
        }
        req.show_display = Some(true);
        let shown: m::Address =
            self.session
                .call(&req, &Prompt::Address(first.address.clone()), ui)?;
        if shown.address != first.address {
            return Err(SignerError::BadResponse(
                "the device showed a different address than it reported".into(),
            ));
        }
        Ok(shown.address)
    }
}

impl coldlink_signer::Signer for Trezor {
    fn kind(&self) -> coldlink_signer::SignerKind {
        coldlink_signer::SignerKind::Hardware {
            vendor: self.info.vendor,
            model: self.info.model,
        }
    }

    fn capabilities(&self) -> coldlink_signer::Capabilities {
        coldlink_signer::Capabilities {
            bitcoin: true,
            // KeepKey firmware has no taproot.
            taproot: self.info.vendor == Vendor::Trezor,
            evm: true,
            display_address: true,
        }
    }

    fn master_fingerprint(&mut self) -> Result<Fingerprint, SignerError> {
        self.fingerprint()
    }
}

impl coldlink_signer::BitcoinSigner for Trezor {
    fn xpub(&mut self, path: &DerivationPath, display: bool) -> Result<Xpub, SignerError> {
        Ok(self.public_node(path, None, display)?.0)
    }

    fn display_address(
        &mut self,
        kind: ScriptKind,
        account_path: &DerivationPath,
        change: bool,
        index: u32,
        ui: &dyn Interaction,
    ) -> Result<String, SignerError> {
        let child = |i: u32| {
            ChildNumber::from_normal_idx(i).map_err(|_| {
                SignerError::InvalidRequest(format!("address index {i} is out of range"))
            })
        };
        let path = account_path
            .child(child(u32::from(change))?)
            .child(child(index)?);
        self.address(kind, &path, true, ui)
    }

    fn sign_psbt(
        &mut self,
        psbt: &mut bitcoin::Psbt,
        ui: &dyn Interaction,
    ) -> Result<usize, SignerError> {
        Trezor::sign_psbt(self, psbt, ui)
    }
}
