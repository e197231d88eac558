//! Use cases that talk to a device: open it by id, make sure the right app is open, then read
//! keys or sign. Every signature is verified by the host layer before it comes back here.

use std::{
    str::FromStr,
    sync::{Arc, Mutex},
    time::Duration,
};

use alloy_consensus::{Signed, TxEnvelope, TypedTransaction};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Signature};
use bitcoin::{
    bip32::{ChildNumber, DerivationPath, Fingerprint, Xpub},
    Network,
};
use coldlink_bridge::{HidTransport, Transport, UdpTransport, UsbTransport};
use coldlink_ledger::{btc, dashboard, eth, Exchange, HidExchange, SpeculosExchange};
use coldlink_signer::SignerError;
use coldlink_sim::{
    ledger::{InProcess, LedgerSim},
    trezor::{self, TrezorOptions, TrezorSim},
};
use coldlink_trezor::{Session, Trezor};
use coldlink_types::Vendor;
use serde::Serialize;

use crate::{evm_request::EvmTxRequest, AppError, Coldlink};

/// The public test mnemonic the demo device holds. Never for funds.
pub const DEMO_MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

/// The seed of the simulated Trezor: the one Trezor's own device tests use. Never for funds.
pub const TREZOR_DEMO_MNEMONIC: &str = "all all all all all all all all all all all all";

/// How long to wait for the person at the device.
const USER_TIMEOUT: Duration = Duration::from_secs(180);

/// A signed EVM transaction, ready to broadcast.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SignedEvmTx {
    /// EIP-2718 encoding, 0x-prefixed hex.
    pub raw: String,
    /// Transaction hash.
    pub hash: String,
    /// The signer, recovered from the signature and checked against the device's address.
    pub from: String,
}

/// A signed EIP-191 message.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SignedMessage {
    /// 65-byte r‖s‖v signature, 0x-prefixed hex.
    pub signature: String,
    /// The address it verifies against.
    pub address: String,
}

pub(crate) fn parse_path(p: &str) -> Result<DerivationPath, AppError> {
    let full = if p.starts_with('m') {
        p.to_owned()
    } else {
        format!("m/{p}")
    };
    DerivationPath::from_str(&full.replace('h', "'")).map_err(|_| {
        AppError::invalid(format!("“{p}” is not a derivation path (like m/84'/0'/0')"))
    })
}

fn hex0x(b: &[u8]) -> String {
    format!("0x{}", alloy_primitives::hex::encode(b))
}

/// A device opened for one operation.
pub(crate) enum Opened {
    /// APDUs to a Ledger.
    Ledger(Box<dyn Exchange>),
    /// A Trezor-family session.
    Trezor(Box<Trezor>),
}

/// The network a path's coin type names (1' is every test network).
fn network_of(path: &DerivationPath) -> Network {
    match path.into_iter().nth(1) {
        Some(ChildNumber::Hardened { index: 1 }) => Network::Testnet,
        _ => Network::Bitcoin,
    }
}

impl Opened {
    /// The master fingerprint (on a Ledger, from the Bitcoin app).
    pub(crate) fn fingerprint(&mut self) -> Result<Fingerprint, AppError> {
        match self {
            Opened::Ledger(dev) => {
                ensure_app(dev.as_mut(), "Bitcoin")?;
                Ok(btc::master_fingerprint(dev.as_mut())?)
            }
            Opened::Trezor(t) => Ok(Fingerprint::from(t.fingerprint()?.0)),
        }
    }

    /// The extended public key at `path`, shown on the device with `display`.
    pub(crate) fn xpub(&mut self, path: &DerivationPath, display: bool) -> Result<Xpub, AppError> {
        match self {
            Opened::Ledger(dev) => {
                ensure_app(dev.as_mut(), "Bitcoin")?;
                Ok(btc::extended_pubkey(dev.as_mut(), path, display)?)
            }
            Opened::Trezor(t) => Ok(t.public_node(path, None, display)?.0),
        }
    }

    fn eth_address(&mut self, path: &DerivationPath, display: bool) -> Result<Address, AppError> {
        match self {
            Opened::Ledger(dev) => {
                ensure_app(dev.as_mut(), "Ethereum")?;
                Ok(eth::address(dev.as_mut(), path, display, false)?.address)
            }
            Opened::Trezor(t) => Ok(t.eth_address(path, display)?),
        }
    }

    pub(crate) fn eth_sign(
        &mut self,
        path: &DerivationPath,
        tx: TypedTransaction,
    ) -> Result<Signed<TypedTransaction>, AppError> {
        match self {
            Opened::Ledger(dev) => {
                ensure_app(dev.as_mut(), "Ethereum")?;
                Ok(eth::sign_transaction(dev.as_mut(), path, tx)?)
            }
            Opened::Trezor(t) => Ok(t.eth_sign_transaction(path, tx)?),
        }
    }

    fn eth_sign_message(
        &mut self,
        path: &DerivationPath,
        message: &[u8],
    ) -> Result<(Signature, Address), AppError> {
        match self {
            Opened::Ledger(dev) => {
                ensure_app(dev.as_mut(), "Ethereum")?;
                Ok(eth::sign_personal_message(dev.as_mut(), path, message)?)
            }
            Opened::Trezor(t) => Ok(t.eth_sign_message(path, message)?),
        }
    }
}

/// Marks a device as in use by an operation (discovery leaves it alone meanwhile) and clears
/// the prompt shown for it when the operation ends, however it ends.
pub(crate) struct InUse<'a> {
    app: &'a Coldlink,
    id: String,
}

impl Drop for InUse<'_> {
    fn drop(&mut self) {
        self.app.devices().release(&self.id);
        self.app.prompts.clear();
    }
}

impl Coldlink {
    /// Opens a device by its `--device` id for an operation on `network` (which only
    /// Trezor-family devices need to know up front).
    pub(crate) fn open_device(
        &self,
        id: &str,
        network: Network,
    ) -> Result<(Opened, InUse<'_>), AppError> {
        let guard = InUse {
            app: self,
            id: id.to_owned(),
        };
        self.devices().claim(id);
        let opened = self.open_unguarded(id, network)?;
        Ok((opened, guard))
    }

    fn trezor(&self, t: Box<dyn Transport>, network: Network) -> Result<Opened, AppError> {
        let session = Session::new(t).with_timeout(USER_TIMEOUT);
        let ui = self.interaction();
        Ok(Opened::Trezor(Box::new(Trezor::open_session(
            session, network, ui,
        )?)))
    }

    fn open_unguarded(&self, id: &str, network: Network) -> Result<Opened, AppError> {
        let bad_addr = |kind: &str| {
            AppError::invalid(format!(
                "“{id}”: expected {kind}:HOST:PORT with a numeric IP"
            ))
        };
        if let Some(addr) = id.strip_prefix("speculos:") {
            let addr = addr.parse().map_err(|_| bad_addr("speculos"))?;
            let ex = SpeculosExchange::connect(addr, USER_TIMEOUT).map_err(SignerError::from)?;
            return Ok(Opened::Ledger(Box::new(ex)));
        }
        if let Some(addr) = id.strip_prefix("trezor-emu:") {
            let addr = addr.parse().map_err(|_| bad_addr("trezor-emu"))?;
            return self.trezor(Box::new(UdpTransport::connect(addr)?), network);
        }
        if let Some(location) = id
            .strip_prefix("usb:")
            .or_else(|| id.strip_prefix("webusb:"))
        {
            return self.trezor(Box::new(UsbTransport::open(location)?), network);
        }
        if let Some(path) = id.strip_prefix("hid:") {
            // The same HID framing name covers Ledgers and old Trezor One / KeepKey firmware;
            // the USB vendor says which protocol the device speaks.
            let vendor = coldlink_bridge::usb_devices()
                .devices
                .into_iter()
                .find(|d| d.id == id)
                .map(|d| d.vendor);
            let t = HidTransport::open_path(path)?;
            return match vendor {
                Some(Vendor::Trezor | Vendor::Keepkey) => self.trezor(Box::new(t), network),
                _ => Ok(Opened::Ledger(Box::new(
                    HidExchange::new(t).with_timeout(USER_TIMEOUT),
                ))),
            };
        }
        if id == "sim:ledger" {
            let sim =
                LedgerSim::new(DEMO_MNEMONIC).map_err(|e| AppError::internal(e.to_string()))?;
            return Ok(Opened::Ledger(Box::new(InProcess(Arc::new(Mutex::new(
                sim,
            ))))));
        }
        if id == "sim:trezor" || id == "sim:keepkey" {
            let options = TrezorOptions {
                model: if id == "sim:keepkey" {
                    trezor::TrezorModel::KeepKey
                } else {
                    trezor::TrezorModel::ModelT
                },
                ..TrezorOptions::default()
            };
            let sim = TrezorSim::new(TREZOR_DEMO_MNEMONIC, options)
                .map_err(|e| AppError::internal(e.to_string()))?;
            let t = trezor::InProcess::new(Arc::new(Mutex::new(sim)));
            return self.trezor(Box::new(t), network);
        }
        Err(AppError::invalid(format!(
            "unknown device “{id}”: use an id from `coldlink devices` (hid:…, usb:…, speculos:HOST:PORT, trezor-emu:HOST:PORT) or sim:ledger / sim:trezor / sim:keepkey"
        )))
    }
}

/// Makes sure an app whose name starts with `app` is open, opening it if the device is on the
/// dashboard or in another app (the user confirms on the device).
pub(crate) fn ensure_app(dev: &mut dyn Exchange, app: &str) -> Result<(), AppError> {
    switch_app(dev, app, |open| open.starts_with(app))
}

/// Like [`ensure_app`], but only the app named exactly `app` will do.
pub(crate) fn ensure_app_exactly(dev: &mut dyn Exchange, app: &str) -> Result<(), AppError> {
    switch_app(dev, app, |open| open == app)
}

fn switch_app(
    dev: &mut dyn Exchange,
    app: &str,
    good: impl Fn(&str) -> bool,
) -> Result<(), AppError> {
    let now = dashboard::app_and_version(dev)?;
    if good(&now.name) {
        return Ok(());
    }
    if !now.is_dashboard() {
        dashboard::quit_app(dev)?;
        // The device needs a moment to return to the dashboard.
        std::thread::sleep(Duration::from_millis(300));
    }
    dashboard::open_app(dev, app)?;
    std::thread::sleep(Duration::from_millis(300));
    Ok(())
}

impl Coldlink {
    /// Resolves `--fingerprint` to a connected device id.
    pub fn device_by_fingerprint(&self, fingerprint: &str) -> Result<String, AppError> {
        let want = fingerprint.trim().to_lowercase();
        self.devices()
            .list()
            .devices
            .into_iter()
            .find(|d| d.fingerprint.is_some_and(|f| f.to_string() == want))
            .map(|d| d.id)
            .ok_or_else(|| {
                AppError::new(
                    crate::ErrorKind::NotFound,
                    format!("no connected device has fingerprint {want} (open its Bitcoin app so it can be read)"),
                )
            })
    }

    /// The device's master fingerprint (opens the Bitcoin app if needed; asks a Trezor's PIN
    /// or passphrase through the device prompt).
    pub fn master_fingerprint(&self, device: &str) -> Result<String, AppError> {
        let (mut dev, _in_use) = self.open_device(device, Network::Bitcoin)?;
        let fp = dev.fingerprint()?;
        self.devices()
            .remember_fingerprint(device, coldlink_types::Fingerprint(fp.to_bytes()));
        Ok(fp.to_string())
    }

    /// The extended public key at `path`, shown on the device with `display`.
    pub fn xpub(&self, device: &str, path: &str, display: bool) -> Result<String, AppError> {
        let path = parse_path(path)?;
        let (mut dev, _in_use) = self.open_device(device, network_of(&path))?;
        Ok(dev.xpub(&path, display)?.to_string())
    }

    /// The Ethereum address at `path` (EIP-55), shown on the device with `display`.
    pub fn eth_address(&self, device: &str, path: &str, display: bool) -> Result<String, AppError> {
        let path = parse_path(path)?;
        let (mut dev, _in_use) = self.open_device(device, Network::Bitcoin)?;
        Ok(dev.eth_address(&path, display)?.to_checksum(None))
    }

    /// Signs an EVM transaction after the user confirms it on the device.
    pub fn eth_sign_transaction(
        &self,
        device: &str,
        path: &str,
        request: &EvmTxRequest,
    ) -> Result<SignedEvmTx, AppError> {
        let tx = request.build()?;
        let path = parse_path(path)?;
        let review = Self::journal_evm_review(&tx);
        let chain = format!(
            "evm:{}",
            alloy_consensus::Transaction::chain_id(&tx).unwrap_or_default()
        );
        let signed = self
            .open_device(device, Network::Bitcoin)
            .and_then(|(mut dev, _in_use)| dev.eth_sign(&path, tx));
        let account = path.to_string();
        let signed = match signed {
            Ok(s) => {
                self.journal(
                    &format!("device {device}"),
                    &account,
                    &chain,
                    &review,
                    "signed",
                    None,
                );
                s
            }
            Err(e) => {
                self.journal(
                    &format!("device {device}"),
                    &account,
                    &chain,
                    &review,
                    &crate::journal::outcome_of(&e),
                    None,
                );
                return Err(e);
            }
        };
        let from = signed
            .recover_signer()
            .map_err(|e| AppError::from(SignerError::BadResponse(e.to_string())))?;
        let hash = *signed.hash();
        let raw = TxEnvelope::from(signed).encoded_2718();
        Ok(SignedEvmTx {
            raw: hex0x(&raw),
            hash: hex0x(hash.as_slice()),
            from: from.to_checksum(None),
        })
    }

    /// Signs `message` (EIP-191) after the user confirms it on the device.
    pub fn eth_sign_message(
        &self,
        device: &str,
        path: &str,
        message: &[u8],
    ) -> Result<SignedMessage, AppError> {
        let path = parse_path(path)?;
        let (mut dev, _in_use) = self.open_device(device, Network::Bitcoin)?;
        let (sig, address) = dev.eth_sign_message(&path, message)?;
        Ok(SignedMessage {
            signature: hex0x(&sig.as_bytes()),
            address: address.to_checksum(None),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn app() -> Coldlink {
        Coldlink::new(crate::config::test_config())
    }

    #[test]
    fn the_demo_device_answers_known_vectors() {
        let a = app();
        assert_eq!(a.master_fingerprint("sim:ledger").expect("fp"), "73c5da0a");
        assert_eq!(
            a.eth_address("sim:ledger", "m/44'/60'/0'/0/0", false)
                .expect("addr"),
            "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"
        );
        assert_eq!(
            a.xpub("sim:ledger", "84h/0h/0h", false).expect("xpub"),
            "xpub6CatWdiZiodmUeTDp8LT5or8nmbKNcuyvz7WyksVFkKB4RHwCD3XyuvPEbvqAQY3rAPshWcMLoP2fMFMKHPJ4ZeZXYVUhLv1VMrjPC7PW6V"
        );
    }

    #[test]
    fn the_simulated_trezor_answers_trezors_own_fixtures() {
        let a = app();
        assert_eq!(a.master_fingerprint("sim:trezor").expect("fp"), "5c9e228d");
        assert_eq!(
            a.eth_address("sim:trezor", "m/44'/60'/0'/0/0", false)
                .expect("addr"),
            "0x73d0385F4d8E00C5e6504C6030F47BF6212736A8"
        );
        assert_eq!(
            a.xpub("sim:trezor", "84h/0h/0h", false).expect("xpub"),
            "xpub6DDUPHpUo4pcy43iJeZjbSVWGav1SMMmuWdMHiGtkK8rhKmfbomtkwW6GKs1GGAKehT6QRocrmda3WWxXawpjmwaUHfFRXuKrXSapdckEYF"
        );
        let req = EvmTxRequest::from_json(r#"{"chainId":1,"nonce":0,"to":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed","value":"1","gasLimit":21000,"maxFeePerGas":"2","maxPriorityFeePerGas":"1"}"#).expect("req");
        let s = a
            .eth_sign_transaction("sim:trezor", "m/44'/60'/0'/0/0", &req)
            .expect("signed");
        assert_eq!(s.from, "0x73d0385F4d8E00C5e6504C6030F47BF6212736A8");
        assert_eq!(
            a.device_prompt(),
            None,
            "the prompt is cleared after the operation"
        );
    }

    #[test]
    fn signing_returns_a_verified_transaction() {
        let req = EvmTxRequest::from_json(r#"{"chainId":1,"nonce":0,"to":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed","value":"1","gasLimit":21000,"maxFeePerGas":"2","maxPriorityFeePerGas":"1"}"#).expect("req");
        let s = app()
            .eth_sign_transaction("sim:ledger", "m/44'/60'/0'/0/0", &req)
            .expect("signed");
        assert_eq!(s.from, "0x9858EfFD232B4033E47d90003D41EC34EcaEda94");
        assert!(s.raw.starts_with("0x02"), "EIP-1559 envelope");
        let m = app()
            .eth_sign_message("sim:ledger", "m/44'/60'/0'/0/0", b"hello")
            .expect("message");
        assert_eq!(m.signature.len(), 2 + 130);
    }

    #[test]
    fn bad_device_ids_and_paths_are_input_errors() {
        let a = app();
        for id in [
            "",
            "usb",
            "speculos:localhost:9999",
            "trezor-emu:localhost:1",
            "sim:bitbox",
        ] {
            assert_eq!(
                a.master_fingerprint(id).expect_err(id).kind,
                ErrorKind::InvalidInput
            );
        }
        for p in ["m/x", "84'/0'/-1", "m//1", "m/2147483648'"] {
            assert_eq!(
                a.xpub("sim:ledger", p, false).expect_err(p).kind,
                ErrorKind::InvalidInput
            );
        }
        let unreachable = a
            .master_fingerprint("speculos:127.0.0.1:1")
            .expect_err("closed port");
        assert_eq!(unreachable.kind, ErrorKind::Disconnected);
        assert_eq!(
            a.device_by_fingerprint("deadbeef").expect_err("none").kind,
            ErrorKind::NotFound
        );
    }
}
