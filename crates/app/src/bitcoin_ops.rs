//! Bitcoin use cases on a device: default-wallet addresses (shown on the device), PSBT
//! signing, and the descriptors an external wallet (Bitcoin Core) imports. Which wallets sign a
//! PSBT is read from the PSBT itself: the BIP32 origins of its inputs that carry this device's
//! fingerprint name the script type (purpose) and account.

use std::{collections::BTreeSet, str::FromStr};

use bitcoin::{
    bip32::{ChildNumber, Fingerprint},
    psbt::Psbt,
    Network,
};
use coldlink_ledger::{btc, psbt::account_path, DefaultWallet, Exchange};
use coldlink_signer::{ScriptKind, SignerError};
use miniscript::{Descriptor, DescriptorPublicKey, ForEachKey};
use serde::Serialize;

use crate::{hardware::Opened, AppError, Coldlink, ErrorKind};

/// Parses a script type as people and HWI write it.
pub fn parse_kind(s: &str) -> Result<ScriptKind, AppError> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "pkh" | "legacy" | "p2pkh" => ScriptKind::Legacy,
        "sh-wpkh" | "sh_wpkh" | "nested" | "p2sh-p2wpkh" | "sh_wit" => ScriptKind::NestedSegwit,
        "wpkh" | "segwit" | "p2wpkh" | "wit" => ScriptKind::NativeSegwit,
        "tr" | "taproot" | "p2tr" => ScriptKind::Taproot,
        _ => {
            return Err(AppError::invalid(format!(
                "unknown script type “{s}”: use wpkh, tr, sh-wpkh or pkh"
            )))
        }
    })
}

/// Parses a network as Bitcoin Core and HWI name it.
pub fn parse_chain(s: &str) -> Result<Network, AppError> {
    Ok(match s {
        "main" | "mainnet" | "bitcoin" => Network::Bitcoin,
        "test" | "testnet" | "testnet4" => Network::Testnet,
        "signet" => Network::Signet,
        "regtest" => Network::Regtest,
        _ => return Err(AppError::invalid(format!("unknown chain “{s}”"))),
    })
}

fn kind_of_purpose(p: u32) -> Option<ScriptKind> {
    Some(match p {
        44 => ScriptKind::Legacy,
        49 => ScriptKind::NestedSegwit,
        84 => ScriptKind::NativeSegwit,
        86 => ScriptKind::Taproot,
        _ => return None,
    })
}

/// A signed PSBT.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SignedPsbt {
    /// The PSBT with the device's signatures merged in, base64.
    pub psbt: String,
    /// How many signatures the device added.
    pub signatures: u32,
}

/// Output descriptors of the default wallets, as HWI's `getdescriptors` returns them.
#[derive(Clone, Debug, Serialize)]
pub struct Descriptors {
    /// Receive chain (…/0/*).
    pub receive: Vec<String>,
    /// Change chain (…/1/*).
    pub internal: Vec<String>,
}

/// Parses a PSBT given as base64 (or raw bytes, e.g. read from a .psbt file).
pub fn parse_psbt(input: &[u8]) -> Result<Psbt, AppError> {
    let bad = |e: String| AppError::invalid(format!("not a valid PSBT: {e}"));
    if input.starts_with(b"psbt\xff") {
        return Psbt::deserialize(input).map_err(|e| bad(e.to_string()));
    }
    let text = std::str::from_utf8(input).map_err(|_| bad("neither base64 nor binary".into()))?;
    Psbt::from_str(text.trim()).map_err(|e| bad(e.to_string()))
}

/// The (script type, account) pairs under which `fingerprint` owns inputs of `psbt`.
fn wallets_in(psbt: &Psbt, fingerprint: Fingerprint) -> BTreeSet<(u32, u32)> {
    let mut found = BTreeSet::new();
    let mut note = |fp: &Fingerprint, path: &[ChildNumber]| {
        if fp != &fingerprint {
            return;
        }
        if let [ChildNumber::Hardened { index: purpose }, ChildNumber::Hardened { .. }, ChildNumber::Hardened { index: account }, ..] =
            path
        {
            if kind_of_purpose(*purpose).is_some() {
                found.insert((*purpose, *account));
            }
        }
    };
    for input in &psbt.inputs {
        for (fp, path) in input.bip32_derivation.values() {
            note(fp, path.as_ref());
        }
        for (_, (fp, path)) in input.tap_key_origins.values() {
            note(fp, path.as_ref());
        }
    }
    found
}

/// Ledger has one Bitcoin app per kind of network: "Bitcoin" for mainnet, "Bitcoin Test" for
/// testnet, signet and regtest.
/// What a PSBT asks to sign, for the journal: outputs (address or script, amount), the fee
/// when every input's amount is known, the transaction id.
fn psbt_review(psbt: &Psbt, network: Network) -> serde_json::Value {
    let outputs: Vec<serde_json::Value> = psbt
        .unsigned_tx
        .output
        .iter()
        .map(|o| {
            let to = bitcoin::Address::from_script(&o.script_pubkey, network)
                .map(|a| a.to_string())
                .unwrap_or_else(|_| o.script_pubkey.to_hex_string());
            serde_json::json!({"to": to, "sats": o.value.to_sat()})
        })
        .collect();
    let inputs: Option<u64> = psbt
        .inputs
        .iter()
        .zip(&psbt.unsigned_tx.input)
        .map(|(i, txin)| {
            i.witness_utxo
                .as_ref()
                .map(|o| o.value.to_sat())
                .or_else(|| {
                    i.non_witness_utxo
                        .as_ref()
                        .and_then(|t| t.output.get(txin.previous_output.vout as usize))
                        .map(|o| o.value.to_sat())
                })
        })
        .sum();
    let out: u64 = psbt
        .unsigned_tx
        .output
        .iter()
        .map(|o| o.value.to_sat())
        .sum();
    serde_json::json!({
        "txid": psbt.unsigned_tx.compute_txid().to_string(),
        "outputs": outputs,
        "feeSats": inputs.and_then(|i| i.checked_sub(out)),
    })
}

fn ensure_bitcoin_app(dev: &mut dyn Exchange, network: Network) -> Result<(), AppError> {
    let app = if network == Network::Bitcoin {
        "Bitcoin"
    } else {
        "Bitcoin Test"
    };
    crate::hardware::ensure_app_exactly(dev, app)
}

impl Coldlink {
    /// Address `index` of the receive (or `change`) chain of a default wallet; with
    /// `display` the device shows it and the user confirms it matches.
    #[allow(clippy::too_many_arguments)]
    pub fn btc_address(
        &self,
        device: &str,
        kind: ScriptKind,
        network: Network,
        account: u32,
        change: bool,
        index: u32,
        display: bool,
    ) -> Result<String, AppError> {
        if index >= 0x8000_0000 || account >= 0x8000_0000 {
            return Err(AppError::invalid(
                "address and account indexes must be below 2^31",
            ));
        }
        let (dev, _in_use) = self.open_device(device, network)?;
        match dev {
            Opened::Ledger(mut dev) => {
                ensure_bitcoin_app(dev.as_mut(), network)?;
                let w = DefaultWallet::read(dev.as_mut(), kind, network, account)?;
                Ok(w.address(dev.as_mut(), change, index, display)?.to_string())
            }
            Opened::Trezor(mut t) => {
                let path = account_path(kind, network, account)
                    .child(ChildNumber::Normal {
                        index: u32::from(change),
                    })
                    .child(ChildNumber::Normal { index });
                Ok(t.address(kind, &path, display, self.interaction().as_ref())?)
            }
        }
    }

    /// The extended public key of account `account` of a default wallet type.
    pub fn btc_account_xpub(
        &self,
        device: &str,
        kind: ScriptKind,
        network: Network,
        account: u32,
    ) -> Result<String, AppError> {
        self.xpub(
            device,
            &account_path(kind, network, account).to_string(),
            false,
        )
    }

    /// Signs every input of `psbt` the device holds keys for, after review on the device.
    pub fn btc_sign_psbt(
        &self,
        device: &str,
        network: Network,
        psbt: &[u8],
    ) -> Result<SignedPsbt, AppError> {
        let parsed = parse_psbt(psbt)?;
        let review = psbt_review(&parsed, network);
        let r = self.btc_sign_psbt_inner(device, network, parsed);
        let outcome = match &r {
            Ok(s) => format!("signed ({} signatures)", s.signatures),
            Err(e) => crate::journal::outcome_of(e),
        };
        self.journal(
            &format!("device {device}"),
            "default wallets",
            &format!("bitcoin:{network}"),
            &review,
            &outcome,
            None,
        );
        r
    }

    pub(crate) fn btc_sign_psbt_inner(
        &self,
        device: &str,
        network: Network,
        mut psbt: Psbt,
    ) -> Result<SignedPsbt, AppError> {
        let (dev, _in_use) = self.open_device(device, network)?;
        let mut dev = match dev {
            Opened::Ledger(dev) => dev,
            Opened::Trezor(mut t) => {
                let signatures = t.sign_psbt(&mut psbt, self.interaction().as_ref())? as u32;
                return Ok(SignedPsbt {
                    psbt: psbt.to_string(),
                    signatures,
                });
            }
        };
        ensure_bitcoin_app(dev.as_mut(), network)?;
        let fp = btc::master_fingerprint(dev.as_mut())?;
        let wallets = wallets_in(&psbt, fp);
        if wallets.is_empty() {
            return Err(AppError::new(
                ErrorKind::NotFound,
                format!("no input of this PSBT belongs to the device with fingerprint {fp} (no BIP32 origin for it)"),
            ));
        }
        let mut signatures = 0u32;
        for (purpose, account) in wallets {
            let kind = kind_of_purpose(purpose).ok_or_else(|| AppError::internal("purpose"))?;
            let w = DefaultWallet::read(dev.as_mut(), kind, network, account)?;
            signatures += w.sign_psbt(dev.as_mut(), &mut psbt)? as u32;
        }
        Ok(SignedPsbt {
            psbt: psbt.to_string(),
            signatures,
        })
    }

    /// The default wallets' descriptors for `account`, with checksums.
    pub fn btc_descriptors(
        &self,
        device: &str,
        network: Network,
        account: u32,
    ) -> Result<Descriptors, AppError> {
        let (mut dev, _in_use) = self.open_device(device, network)?;
        if let Opened::Ledger(l) = &mut dev {
            ensure_bitcoin_app(l.as_mut(), network)?;
        }
        let fp = dev.fingerprint()?;
        let mut out = Descriptors {
            receive: vec![],
            internal: vec![],
        };
        for kind in [
            ScriptKind::Legacy,
            ScriptKind::NestedSegwit,
            ScriptKind::NativeSegwit,
            ScriptKind::Taproot,
        ] {
            let path = account_path(kind, network, account);
            let xpub = dev.xpub(&path, false)?;
            let origin = format!("[{fp}/{path}]");
            for (chain, list) in [(0, &mut out.receive), (1, &mut out.internal)] {
                let key = format!("{origin}{xpub}/{chain}/*");
                let text = match kind {
                    ScriptKind::Legacy => format!("pkh({key})"),
                    ScriptKind::NestedSegwit => format!("sh(wpkh({key}))"),
                    ScriptKind::NativeSegwit => format!("wpkh({key})"),
                    ScriptKind::Taproot => format!("tr({key})"),
                };
                let d = Descriptor::<DescriptorPublicKey>::from_str(&text)
                    .map_err(|e| AppError::internal(format!("descriptor: {e}")))?;
                list.push(d.to_string());
            }
        }
        Ok(out)
    }

    /// Shows on the device the address of a single-key descriptor of one of its default
    /// wallets (as Bitcoin Core's `walletdisplayaddress` sends it), and checks that the device
    /// shows exactly the descriptor's address.
    pub fn btc_display_descriptor(
        &self,
        device: &str,
        network: Network,
        desc: &str,
    ) -> Result<String, AppError> {
        let d = Descriptor::<DescriptorPublicKey>::from_str(desc.trim())
            .map_err(|e| AppError::invalid(format!("not a descriptor: {e}")))?;
        let kind = match &d {
            Descriptor::Pkh(_) => ScriptKind::Legacy,
            Descriptor::Sh(_) => ScriptKind::NestedSegwit,
            Descriptor::Wpkh(_) => ScriptKind::NativeSegwit,
            Descriptor::Tr(_) => ScriptKind::Taproot,
            _ => {
                return Err(AppError::new(
                    ErrorKind::Unsupported,
                    "only single-key descriptors can be shown",
                ))
            }
        };
        let mut origin = None;
        d.for_each_key(|k| {
            if let DescriptorPublicKey::Single(s) = k {
                origin = s.origin.clone();
            }
            true
        });
        let (_, path) = origin.ok_or_else(|| {
            AppError::invalid("the descriptor's key has no origin [fingerprint/path]")
        })?;
        let p: Vec<ChildNumber> = path.into();
        let [ChildNumber::Hardened { .. }, ChildNumber::Hardened { .. }, ChildNumber::Hardened { index: account }, ChildNumber::Normal { index: change }, ChildNumber::Normal { index }] =
            p.as_slice()
        else {
            return Err(AppError::invalid(
                "expected a key at purpose'/coin'/account'/change/index",
            ));
        };
        let expected = d
            .at_derivation_index(0)
            .map_err(|e| AppError::invalid(e.to_string()))?
            .address(network)
            .map_err(|e| AppError::invalid(e.to_string()))?
            .to_string();
        let shown =
            self.btc_address(device, kind, network, *account, *change == 1, *index, true)?;
        if shown != expected {
            return Err(AppError::from(SignerError::BadResponse(format!(
                "the device showed {shown}, but the descriptor is {expected}"
            ))));
        }
        Ok(shown)
    }
}
