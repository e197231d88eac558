//! The Bitcoin app's wallet-policy protocol: addresses of the default single-signature
//! wallets (shown on the device) and PSBT signing, through LedgerHQ's own client library
//! (`ledger_bitcoin_client`), which merkleizes the PSBT and answers the device's
//! interrupted-execution requests. We supply the transport and turn its results into typed
//! errors and signatures merged into the PSBT.

use std::{cell::RefCell, str::FromStr};

use bitcoin::{
    bip32::{ChildNumber, DerivationPath, Xpub},
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
struct ClientTransport<'a>(RefCell<&'a mut dyn Exchange>);

impl Transport for ClientTransport<'_> {
    type Error = SignerError;

    fn exchange(&self, c: &APDUCommand) -> Result<(StatusWord, Vec<u8>), SignerError> {
        let apdu = Apdu::new(c.cla, c.ins, c.p1, c.p2, c.data.clone());
        let r = self.0.borrow_mut().exchange(&apdu)?;
        match r.sw {
            sw::OK => Ok((StatusWord::OK, r.data)),
            sw::INTERRUPTED => Ok((StatusWord::InterruptedExecution, r.data)),
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
        let client = BitcoinClient::new(ClientTransport(RefCell::new(dev)));
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
        let client = BitcoinClient::new(ClientTransport(RefCell::new(dev)));
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

fn version_at_least(v: &str, major: u32, minor: u32) -> bool {
    let mut it = v.split(['.', '-']).map(|p| u32::from_str(p).unwrap_or(0));
    let (a, b) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
    (a, b) >= (major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;

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
