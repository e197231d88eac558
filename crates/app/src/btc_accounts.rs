//! Bitcoin accounts as the app keeps them: descriptors built from a signer's xpub (a device, by
//! master fingerprint; the software wallet) or from what the user pastes to watch (xpub / ypub /
//! zpub, a checksummed descriptor, or one address), on one network, stored in the local
//! database and listed per signer with their next receive address. Chain sync comes with the
//! Bitcoin backends.

use std::str::FromStr;

use bitcoin::{bip32::Xpub, Network};
use coldlink_btc::{account_path, parse_watch, BtcAccount, ScriptKind, Watched};
use coldlink_signer::{BitcoinSigner, Signer};
use serde::Serialize;

use crate::{AppError, Coldlink};

impl From<coldlink_btc::AccountError> for AppError {
    fn from(e: coldlink_btc::AccountError) -> Self {
        AppError::invalid(crate::error::capitalise(&e.to_string()))
    }
}

/// A Bitcoin account for people and scripts.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BtcAccountView {
    /// Id.
    pub id: u32,
    /// Label.
    pub label: String,
    /// Signer key: fingerprint, "soft" or "watch".
    pub signer: String,
    /// Signer's name.
    pub signer_name: String,
    /// The receive descriptor (or the watched address).
    pub descriptor: String,
    /// The first receive address.
    pub first_address: String,
    /// Network ("bitcoin", "testnet", "signet", "regtest").
    pub network: String,
    /// Balance in BTC as of the last sync (confirmed and pending), if synced.
    pub balance: Option<String>,
    /// When it was last synced (unix seconds).
    pub synced_at: Option<u32>,
    /// Its signer can sign here (not watch-only).
    pub can_sign: bool,
}

fn view(r: &coldlink_store::AccountRow) -> Option<BtcAccountView> {
    let network = Network::from_str(r.network.as_deref()?).ok()?;
    let first = match parse_watch(&r.address, network, None).ok()? {
        Watched::Account(a) => a.address(false, 0).ok()?.to_string(),
        Watched::Address(a) => a.to_string(),
    };
    Some(BtcAccountView {
        id: u32::try_from(r.id).ok()?,
        label: r.label.clone(),
        signer: r.signer.clone(),
        signer_name: r.signer_name.clone(),
        descriptor: r.address.clone(),
        first_address: first,
        network: network.to_string(),
        balance: None,
        synced_at: None,
        can_sign: r.signer != "watch",
    })
}

impl Coldlink {
    /// Account `index` of `kind` held by `signer` (a device id or "soft"): its signer key
    /// (fingerprint or "soft"), signer name, descriptors and path.
    pub(crate) fn signer_account(
        &self,
        signer: &str,
        kind: ScriptKind,
        network: Network,
        index: u32,
    ) -> Result<(String, String, BtcAccount, bitcoin::bip32::DerivationPath), AppError> {
        let path = account_path(kind, network, index);
        if signer == "soft" {
            let (fp, xpub) =
                self.with_soft_wallet(|w| Ok((w.master_fingerprint()?, w.xpub(&path, false)?)))?;
            let a = BtcAccount::from_xpub(
                kind,
                network,
                bitcoin::bip32::Fingerprint::from(fp.0),
                &path,
                &xpub,
            )?;
            return Ok(("soft".into(), "Software wallet".into(), a, path));
        }
        let fp = self.master_fingerprint(signer)?;
        let xpub = Xpub::from_str(&self.xpub(signer, &path.to_string(), false)?)
            .map_err(|e| AppError::internal(e.to_string()))?;
        let fingerprint = bitcoin::bip32::Fingerprint::from_str(&fp)
            .map_err(|e| AppError::internal(e.to_string()))?;
        let a = BtcAccount::from_xpub(kind, network, fingerprint, &path, &xpub)?;
        let name = self
            .devices()
            .list()
            .devices
            .into_iter()
            .find(|d| d.id == signer)
            .map(|d| d.model_name)
            .unwrap_or_else(|| "Hardware wallet".into());
        Ok((fp, name, a, path))
    }

    /// Adds a Bitcoin account of `kind`, number `index`, on `network`: from a device (id), the
    /// unlocked software wallet ("soft"), or "watch" with `watch` (a key, descriptor or
    /// address).
    pub fn btc_add_account(
        &self,
        signer: &str,
        kind: ScriptKind,
        network: Network,
        index: u32,
        watch: Option<&str>,
        label: &str,
    ) -> Result<BtcAccountView, AppError> {
        if index >= 0x8000_0000 {
            return Err(AppError::invalid("the account index must be below 2^31"));
        }
        let (key, name, descriptor, origin) = match signer {
            "watch" => {
                let text = watch.ok_or_else(|| {
                    AppError::invalid("paste the key, descriptor or address to watch")
                })?;
                let d = match parse_watch(text, network, Some(kind))? {
                    Watched::Account(a) => a.external.to_string(),
                    Watched::Address(a) => a.to_string(),
                };
                ("watch".to_owned(), "Watch-only".to_owned(), d, None)
            }
            signer => {
                let (key, name, a, path) = self.signer_account(signer, kind, network, index)?;
                (key, name, a.external.to_string(), Some(path.to_string()))
            }
        };
        let label = if label.trim().is_empty() {
            format!("{name} · {} {}", kind_name(kind), index + 1)
        } else {
            label.trim().to_owned()
        };
        let row = self.with_store(|s| {
            let e = |x: coldlink_store::StoreError| AppError::internal(x.to_string());
            let row = s
                .add_account(
                    "bitcoin",
                    &key,
                    &name,
                    &label,
                    &descriptor,
                    origin.as_deref(),
                )
                .map_err(e)?;
            s.set_account_network(row.id, &network.to_string())
                .map_err(e)?;
            s.account(row.id)
                .map_err(e)?
                .ok_or_else(|| AppError::internal("account vanished"))
        })?;
        view(&row).ok_or_else(|| AppError::internal("the stored account cannot be read back"))
    }

    /// The Bitcoin accounts on `network`.
    pub fn btc_accounts(&self, network: Network) -> Result<Vec<BtcAccountView>, AppError> {
        let rows =
            self.with_store(|s| s.accounts().map_err(|e| AppError::internal(e.to_string())))?;
        let cached = self.with_store(|s| {
            s.balances(&format!("bitcoin:{network}"))
                .map_err(|e| AppError::internal(e.to_string()))
        })?;
        Ok(rows
            .iter()
            .filter(|r| r.chain == "bitcoin" && r.network.as_deref() == Some(&network.to_string()))
            .filter_map(|r| {
                let mut v = view(r)?;
                if let Some(b) = cached.iter().find(|b| b.account_id == r.id) {
                    v.balance = b
                        .units
                        .parse::<u64>()
                        .ok()
                        .map(|u| crate::btc_send::btc_text(bitcoin::Amount::from_sat(u)));
                    v.synced_at = u32::try_from(b.updated_at).ok();
                }
                Some(v)
            })
            .collect())
    }
}

fn kind_name(kind: ScriptKind) -> &'static str {
    match kind {
        ScriptKind::Legacy => "Legacy",
        ScriptKind::NestedSegwit => "Nested segwit",
        ScriptKind::NativeSegwit => "Native segwit",
        ScriptKind::Taproot => "Taproot",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_from_a_device_and_from_pasted_keys() {
        let app = Coldlink::new(crate::config::test_config());
        let demo = app.start_demo().expect("demo");
        // The demo Ledger's BIP84 and BIP86 accounts give the BIPs' first addresses.
        let a = app
            .btc_add_account(
                &demo.id,
                ScriptKind::NativeSegwit,
                Network::Bitcoin,
                0,
                None,
                "",
            )
            .expect("device account");
        assert_eq!(a.signer, "73c5da0a");
        assert_eq!(
            a.first_address,
            "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
        );
        assert!(
            a.descriptor.starts_with("wpkh([73c5da0a/84'/0'/0']xpub"),
            "{}",
            a.descriptor
        );
        let t = app
            .btc_add_account(&demo.id, ScriptKind::Taproot, Network::Bitcoin, 0, None, "")
            .expect("taproot");
        assert_eq!(
            t.first_address,
            "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr"
        );
        // A pasted zpub (BIP84's published vector) gives the same account as the device.
        let z = app
            .btc_add_account(
                "watch",
                ScriptKind::NativeSegwit,
                Network::Bitcoin,
                0,
                Some("zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs"),
                "Cold",
            )
            .expect("zpub");
        assert_eq!(
            z.first_address,
            "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
        );
        let addr = app
            .btc_add_account(
                "watch",
                ScriptKind::NativeSegwit,
                Network::Bitcoin,
                0,
                Some("1JAd7XCBzGudGpJQSDSfpmJhiygtLQWaGL"),
                "Tip jar",
            )
            .expect("address");
        assert_eq!(addr.first_address, "1JAd7XCBzGudGpJQSDSfpmJhiygtLQWaGL");
        assert!(
            app.btc_add_account(
                "watch",
                ScriptKind::NativeSegwit,
                Network::Regtest,
                0,
                Some("1JAd7XCBzGudGpJQSDSfpmJhiygtLQWaGL"),
                ""
            )
            .is_err(),
            "a mainnet address on regtest"
        );
        let list = app.btc_accounts(Network::Bitcoin).expect("list");
        assert_eq!(list.len(), 4);
        assert!(app
            .btc_accounts(Network::Regtest)
            .expect("regtest")
            .is_empty());
        app.stop_demo();
    }
}
