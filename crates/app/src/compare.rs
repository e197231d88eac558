//! The Compare page's data: the device catalogue, and what Coldlink can do with each model,
//! computed from the code rather than typed in. Each driver is exercised once against its
//! simulator — read an xpub, show an address, sign a segwit and a taproot PSBT, sign an EVM
//! transaction — through the same services the app uses, so a capability shows only if the
//! code path really works; "detect" is whether USB discovery recognises the model's ids.

use std::{collections::BTreeMap, sync::OnceLock};

use bitcoin::Network;
use coldlink_catalogue::{Catalogue, DeviceModel, Driver, Support};
use coldlink_signer::{Headless, ScriptKind};
use coldlink_sim::fixtures::spending_psbt;
use serde::Serialize;

use crate::{AppConfig, AppError, Coldlink, EvmTxRequest, DEMO_MNEMONIC, TREZOR_DEMO_MNEMONIC};

/// Whether PSBTs can be exported to and imported from files or QR codes (air-gapped signers).
/// Not yet: it comes with the Bitcoin accounts' send flow.
const PSBT_FILE_EXCHANGE: bool = false;

/// The catalogue with Coldlink's computed support per model id.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CompareData {
    /// Models, coins and facts with sources.
    pub catalogue: Catalogue,
    /// What Coldlink does with each model, by model id.
    pub support: BTreeMap<String, Support>,
}

fn probe(id: &str, mnemonic: &str) -> Support {
    // A private instance with a throwaway data folder: probes must not touch the UI's prompt
    // slot, the device list, or the user's database and signing journal.
    let dir = std::env::temp_dir()
        .join(format!("coldlink-probe-{}-{id}", std::process::id()).replace(':', "-"));
    let app = Coldlink::new(AppConfig {
        data_dir: Some(dir.clone()),
        ..AppConfig::default()
    })
    .with_interaction(std::sync::Arc::new(Headless));
    let signs = |kind: ScriptKind| {
        let (psbt, _) = spending_psbt(mnemonic, kind, 1);
        app.btc_sign_psbt(id, Network::Bitcoin, psbt.to_string().as_bytes())
            .is_ok_and(|s| s.signatures > 0)
    };
    let evm = EvmTxRequest::from_json(
        r#"{"chainId":1,"nonce":0,"to":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed","value":"1","gasLimit":21000,"maxFeePerGas":"2","maxPriorityFeePerGas":"1"}"#,
    );
    let support = Support {
        detect: false,
        xpub: app.xpub(id, "m/84'/0'/0'", false).is_ok(),
        verify_address: app
            .btc_address(
                id,
                ScriptKind::NativeSegwit,
                Network::Bitcoin,
                0,
                false,
                0,
                true,
            )
            .is_ok(),
        sign_bitcoin: signs(ScriptKind::NativeSegwit),
        taproot: app
            .btc_address(
                id,
                ScriptKind::Taproot,
                Network::Bitcoin,
                0,
                false,
                0,
                false,
            )
            .is_ok()
            && signs(ScriptKind::Taproot),
        sign_evm: evm.is_ok_and(|r| app.eth_sign_transaction(id, "m/44'/60'/0'/0/0", &r).is_ok()),
        psbt_file: PSBT_FILE_EXCHANGE,
    };
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
    support
}

/// Each driver's capabilities, probed once per process.
fn drivers() -> &'static BTreeMap<Driver, Support> {
    static PROBED: OnceLock<BTreeMap<Driver, Support>> = OnceLock::new();
    PROBED.get_or_init(|| {
        BTreeMap::from([
            (Driver::Ledger, probe("sim:ledger", DEMO_MNEMONIC)),
            (Driver::Trezor, probe("sim:trezor", TREZOR_DEMO_MNEMONIC)),
            (Driver::Keepkey, probe("sim:keepkey", TREZOR_DEMO_MNEMONIC)),
        ])
    })
}

/// What Coldlink does with `model`, computed from the code.
pub fn computed_support(model: &DeviceModel) -> Support {
    let known = coldlink_types::recognised_models();
    let detect = !model.usb_models.is_empty() && model.usb_models.iter().all(|m| known.contains(m));
    let driven = model
        .driver
        .and_then(|d| drivers().get(&d).copied())
        .unwrap_or_default();
    Support {
        detect,
        // Without discovery a driver is only reachable by explicit id; without a driver,
        // discovery is all there is.
        psbt_file: PSBT_FILE_EXCHANGE,
        ..if detect { driven } else { Support::default() }
    }
}

impl Coldlink {
    /// The device catalogue (fast: no probing).
    pub fn catalogue(&self) -> Result<Catalogue, AppError> {
        Catalogue::load().map_err(|e| AppError::internal(e.to_string()))
    }

    /// Coldlink's support for each model, by id (the first call exercises every driver).
    pub fn support(&self) -> Result<BTreeMap<String, Support>, AppError> {
        Ok(self
            .catalogue()?
            .models
            .iter()
            .map(|m| (m.id.clone(), computed_support(m)))
            .collect())
    }

    /// The catalogue and Coldlink's support for each model.
    pub fn compare(&self) -> Result<CompareData, AppError> {
        Ok(CompareData {
            catalogue: self.catalogue()?,
            support: self.support()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_claims_nothing_the_code_lacks() {
        let data = Coldlink::new(crate::config::test_config())
            .compare()
            .expect("compare");
        for m in &data.catalogue.models {
            let computed = data.support[&m.id];
            let overclaimed = m.coldlink_claims.beyond(&computed);
            assert!(
                overclaimed.is_empty(),
                "{}: the catalogue claims {overclaimed:?}, the code does not do it ({computed:?})",
                m.id
            );
        }
    }

    #[test]
    fn support_follows_the_drivers() {
        let data = Coldlink::new(crate::config::test_config())
            .compare()
            .expect("compare");
        let s = |id: &str| data.support[id];
        let full = Support {
            detect: true,
            xpub: true,
            verify_address: true,
            sign_bitcoin: true,
            taproot: true,
            sign_evm: true,
            psbt_file: false,
        };
        assert_eq!(s("ledger-nano-x"), full);
        assert_eq!(s("trezor-model-t"), full);
        // KeepKey: everything but taproot, as its firmware.
        assert_eq!(
            s("keepkey"),
            Support {
                taproot: false,
                ..full
            }
        );
        // Recognised on USB, no driver yet.
        assert_eq!(
            s("bitbox02-multi"),
            Support {
                detect: true,
                ..Support::default()
            }
        );
        // Air-gapped only: not even listed.
        assert_eq!(s("safepal-s1"), Support::default());
    }
}
