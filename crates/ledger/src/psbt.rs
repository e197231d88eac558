//! The Bitcoin app's wallet-policy protocol: addresses of the default single-signature
//! wallets (shown on the device) and PSBT signing, through LedgerHQ's own client library
//! (`ledger_bitcoin_client`), which merkleizes the PSBT and answers the device's
//! interrupted-execution requests. We supply the transport and turn its results into typed
//! errors and signatures merged into the PSBT.

use std::{cell::RefCell, collections::BTreeMap, str::FromStr};

use bitcoin::{
    bip32::{ChildNumber, DerivationPath, Fingerprint, Xpub},
    psbt::Psbt,
    Address, Network,
};
use coldlink_signer::{ScriptKind, SignerError};
use ledger_bitcoin_client::{
    apdu::{APDUCommand, StatusWord},
    error::BitcoinClientError,
    wallet::Version,
    BitcoinClient, PartialSignature, SignPsbtYieldedObject, Transport, WalletPolicy, WalletPubKey,
};

use crate::{
    apdu::{status_error, sw, Apdu},
    btc, dashboard,
    exchange::Exchange,
};

const APP: &str = "Bitcoin";

/// Adapts our [`Exchange`] to the client's transport. Status words other than success and
/// "interrupted" become our typed errors here, because the client folds codes it does not
/// know (such as 0x5515, locked) into "unknown".
///
/// Bitcoin apps before 2.1 yield a signature as `<input index><signature>`, without the key
/// that later versions put in between and the client expects; `legacy_keys` holds, per input,
/// the key to insert (found in the PSBT's BIP32 origins for this device).
struct ClientTransport<'a> {
    dev: RefCell<&'a mut dyn Exchange>,
    legacy_keys: Option<BTreeMap<u64, Vec<u8>>>,
}

impl<'a> ClientTransport<'a> {
    fn new(dev: &'a mut dyn Exchange) -> Self {
        Self {
            dev: RefCell::new(dev),
            legacy_keys: None,
        }
    }
}

/// A client command "YIELD <input index varint><signature>" rewritten with the input's key.
fn add_key_to_yield(data: &[u8], keys: &BTreeMap<u64, Vec<u8>>) -> Option<Vec<u8>> {
    let (&cmd, rest) = data.split_first()?;
    if cmd != 0x10 {
        return None;
    }
    let (index, used) = read_compact(rest)?;
    let key = keys.get(&index)?;
    let mut out = Vec::with_capacity(data.len() + 1 + key.len());
    out.push(cmd);
    out.extend_from_slice(&rest[..used]);
    out.push(key.len() as u8);
    out.extend_from_slice(key);
    out.extend_from_slice(&rest[used..]);
    Some(out)
}

fn read_compact(b: &[u8]) -> Option<(u64, usize)> {
    let (&first, rest) = b.split_first()?;
    let n = |len: usize| -> Option<u64> {
        let bytes = rest.get(..len)?;
        Some(
            bytes
                .iter()
                .rev()
                .fold(0u64, |acc, x| (acc << 8) | u64::from(*x)),
        )
    };
    Some(match first {
        0xfd => (n(2)?, 3),
        0xfe => (n(4)?, 5),
        0xff => (n(8)?, 9),
        v => (u64::from(v), 1),
    })
}

impl Transport for ClientTransport<'_> {
    type Error = SignerError;

    fn exchange(&self, c: &APDUCommand) -> Result<(StatusWord, Vec<u8>), SignerError> {
        let apdu = Apdu::new(c.cla, c.ins, c.p1, c.p2, c.data.clone());
        let r = self.dev.borrow_mut().exchange(&apdu)?;
        match r.sw {
            sw::OK => Ok((StatusWord::OK, r.data)),
            sw::INTERRUPTED => {
                let data = self
                    .legacy_keys
                    .as_ref()
                    .and_then(|k| add_key_to_yield(&r.data, k))
                    .unwrap_or(r.data);
                Ok((StatusWord::InterruptedExecution, data))
            }
            other => Err(status_error(other, APP)),
        }
    }
}

fn client_error(e: BitcoinClientError<SignerError>) -> SignerError {
    match e {
        BitcoinClientError::Transport(e) => e,
        BitcoinClientError::Device { status, .. } => status_error(status as u16, APP),
        BitcoinClientError::InvalidPsbt => {
            SignerError::InvalidRequest("the PSBT cannot be sent to the device".into())
        }
        BitcoinClientError::UnsupportedAppVersion => SignerError::Device {
            code: 0,
            message: "this version of the Bitcoin app is not supported: update it with Ledger Live"
                .into(),
        },
        other => SignerError::BadResponse(format!("{other:?}")),
    }
}

/// The descriptor template of each default single-signature wallet.
fn template(kind: ScriptKind) -> &'static str {
    match kind {
        ScriptKind::Legacy => "pkh(@0/**)",
        ScriptKind::NestedSegwit => "sh(wpkh(@0/**))",
        ScriptKind::NativeSegwit => "wpkh(@0/**)",
        ScriptKind::Taproot => "tr(@0/**)",
    }
}

/// The BIP44/49/84/86 purpose of each kind.
pub fn purpose(kind: ScriptKind) -> u32 {
    match kind {
        ScriptKind::Legacy => 44,
        ScriptKind::NestedSegwit => 49,
        ScriptKind::NativeSegwit => 84,
        ScriptKind::Taproot => 86,
    }
}

/// The standard account path: m/purpose'/coin'/account'.
pub fn account_path(kind: ScriptKind, network: Network, account: u32) -> DerivationPath {
    let coin = if network == Network::Bitcoin { 0 } else { 1 };
    let h = |i| ChildNumber::from_hardened_idx(i).unwrap_or(ChildNumber::Hardened { index: 0 });
    DerivationPath::from(vec![h(purpose(kind)), h(coin), h(account)])
}

/// A default single-signature wallet (no registration needed on the device).
pub struct DefaultWallet {
    /// Script type.
    pub kind: ScriptKind,
    /// Network the account is on.
    pub network: Network,
    policy: WalletPolicy,
    fingerprint: Fingerprint,
}

impl DefaultWallet {
    /// The wallet for account `account` of `kind`, reading its key from the device. Apps
    /// before 2.1 speak version 1 of the policy format, later ones version 2.
    pub fn read(
        dev: &mut dyn Exchange,
        kind: ScriptKind,
        network: Network,
        account: u32,
    ) -> Result<Self, SignerError> {
        let app = dashboard::app_and_version(dev)?;
        if !app.name.starts_with(APP) {
            return Err(SignerError::WrongApp {
                expected: APP.into(),
            });
        }
        let version = if version_at_least(&app.version, 2, 1) {
            Version::V2
        } else {
            Version::V1
        };
        let fp = btc::master_fingerprint(dev)?;
        let path = account_path(kind, network, account);
        let xpub: Xpub = btc::extended_pubkey(dev, &path, false)?;
        let key: WalletPubKey = if version == Version::V2 {
            ((fp, path), xpub).into()
        } else {
            ((fp, path), xpub, "/**".to_owned()).into()
        };
        let template = if version == Version::V2 {
            template(kind).to_owned()
        } else {
            template(kind).replace("/**", "")
        };
        Ok(Self {
            kind,
            network,
            policy: WalletPolicy::new(String::new(), version, template, [key]),
            fingerprint: fp,
        })
    }

    /// The receive (`change = false`) or change address `index`; with `display` the device
    /// shows it and waits for the user. The client re-derives it from the policy and refuses
    /// a mismatch.
    pub fn address(
        &self,
        dev: &mut dyn Exchange,
        change: bool,
        index: u32,
        display: bool,
    ) -> Result<Address, SignerError> {
        let client = BitcoinClient::new(ClientTransport::new(dev));
        let a = client
            .get_wallet_address(&self.policy, None, change, index, display)
            .map_err(client_error)?;
        // The Bitcoin Test app writes regtest addresses in testnet form: same script.
        let a = if self.network == Network::Regtest && a.is_valid_for_network(Network::Testnet) {
            Address::from_script(&a.assume_checked().script_pubkey(), Network::Regtest)
                .map_err(|e| SignerError::BadResponse(e.to_string()))?
        } else {
            a.require_network(self.network)
                .map_err(|_| SignerError::BadResponse("address for another network".into()))?
        };
        Ok(a)
    }

    /// Signs every input of `psbt` this wallet holds keys for, after the user reviews the
    /// transaction on the device; merges the signatures in and returns how many it added.
    pub fn sign_psbt(&self, dev: &mut dyn Exchange, psbt: &mut Psbt) -> Result<usize, SignerError> {
        let mut transport = ClientTransport::new(dev);
        if self.policy.version == Version::V1 {
            transport.legacy_keys = Some(self.input_keys(psbt));
        }
        let client = BitcoinClient::new(transport);
        let yielded = client
            .sign_psbt(psbt, &self.policy, None)
            .map_err(client_error)?;
        let mut added = 0;
        for (index, obj) in yielded {
            let input = psbt.inputs.get_mut(index).ok_or_else(|| {
                SignerError::BadResponse(format!(
                    "signature for input {index}, which does not exist"
                ))
            })?;
            match obj {
                SignPsbtYieldedObject::Partial(PartialSignature::Sig(pk, sig)) => {
                    input.partial_sigs.insert(pk, sig);
                }
                SignPsbtYieldedObject::Partial(PartialSignature::TapScriptSig(_, None, sig)) => {
                    input.tap_key_sig = Some(sig);
                }
                SignPsbtYieldedObject::Partial(PartialSignature::TapScriptSig(
                    key,
                    Some(leaf),
                    sig,
                )) => {
                    input.tap_script_sigs.insert((key, leaf), sig);
                }
                other => {
                    return Err(SignerError::BadResponse(format!(
                        "unexpected object from the device: {other:?}"
                    )))
                }
            }
            added += 1;
        }
        Ok(added)
    }
}

impl DefaultWallet {
    /// Per input, the key of this device that signs it (33-byte or x-only), from the PSBT's
    /// BIP32 origins.
    fn input_keys(&self, psbt: &Psbt) -> BTreeMap<u64, Vec<u8>> {
        let mut keys = BTreeMap::new();
        for (i, input) in psbt.inputs.iter().enumerate() {
            let ecdsa = input
                .bip32_derivation
                .iter()
                .find(|(_, (fp, _))| *fp == self.fingerprint)
                .map(|(pk, _)| pk.serialize().to_vec());
            let tap = input
                .tap_key_origins
                .iter()
                .find(|(_, (_, (fp, _)))| *fp == self.fingerprint)
                .map(|(x, _)| x.serialize().to_vec());
            if let Some(k) = ecdsa.or(tap) {
                keys.insert(i as u64, k);
            }
        }
        keys
    }
}

fn version_at_least(v: &str, major: u32, minor: u32) -> bool {
    let mut it = v.split(['.', '-']).map(|p| u32::from_str(p).unwrap_or(0));
    let (a, b) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
    (a, b) >= (major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_yields_get_the_input_key() {
        let keys = BTreeMap::from([(1u64, vec![0x02; 33]), (300u64, vec![0x07; 32])]);
        let y = add_key_to_yield(&[0x10, 0x01, 0x30, 0x44], &keys).expect("rewritten");
        assert_eq!(y[..3], [0x10, 0x01, 33]);
        assert_eq!(y[3..36], [0x02; 33]);
        assert_eq!(y[36..], [0x30, 0x44]);
        let y = add_key_to_yield(&[0x10, 0xfd, 0x2c, 0x01, 0xaa], &keys).expect("varint index");
        assert_eq!(y[..5], [0x10, 0xfd, 0x2c, 0x01, 32]);
        assert_eq!(add_key_to_yield(&[0x40, 0x01], &keys), None, "not a yield");
        assert_eq!(
            add_key_to_yield(&[0x10, 0x05, 0x30], &keys),
            None,
            "unknown input"
        );
        assert_eq!(add_key_to_yield(&[0x10, 0xfd], &keys), None, "truncated");
        assert_eq!(add_key_to_yield(&[], &keys), None);
    }

    #[test]
    fn policy_versions_follow_the_app_version() {
        assert!(version_at_least("2.1.0", 2, 1));
        assert!(version_at_least("2.4.1", 2, 1));
        assert!(version_at_least("3.0.0", 2, 1));
        assert!(!version_at_least("2.0.4", 2, 1));
        assert!(!version_at_least("garbage", 2, 1));
    }

    #[test]
    fn standard_paths() {
        assert_eq!(
            account_path(ScriptKind::Taproot, Network::Bitcoin, 0).to_string(),
            "86'/0'/0'"
        );
        assert_eq!(
            account_path(ScriptKind::NativeSegwit, Network::Regtest, 3).to_string(),
            "84'/1'/3'"
        );
    }
}
