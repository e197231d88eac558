//! The simulated Bitcoin app: master fingerprint and extended public keys.

use bitcoin::bip32::Xpub;
use coldlink_ledger::{path, sw, Apdu};

use super::{interrupt::Running, ok, status, LedgerSim, Outcome};
use crate::Screen;

/// `testnet`: the Bitcoin Test app (keys and addresses in testnet encoding, coin type 1).
pub(super) fn handle(dev: &mut LedgerSim, apdu: &Apdu, testnet: bool) -> Outcome {
    match apdu.ins {
        0x05 => ok(dev.master.fingerprint(&dev.secp).as_bytes().to_vec()),
        0x00 => {
            let Some((&display, rest)) = apdu.data.split_first() else {
                return status(sw::WRONG_DATA);
            };
            let Some((p, [])) = path::decode(rest) else {
                return status(sw::WRONG_DATA);
            };
            let Ok(xpriv) = dev.master.derive_priv(&dev.secp, &p) else {
                return status(sw::WRONG_DATA);
            };
            let mut xpub = Xpub::from_priv(&dev.secp, &xpriv);
            if testnet {
                xpub.network = bitcoin::NetworkKind::Test;
            }
            let xpub = xpub.to_string();
            if display == 0 {
                return ok(xpub.into_bytes());
            }
            let screen = Screen {
                title: "Export public key".into(),
                fields: vec![
                    ("Path".into(), p.to_string()),
                    ("Public key".into(), xpub.clone()),
                ],
            };
            dev.confirm_then(screen, || ok(xpub.into_bytes()))
        }
        0x03 | 0x04 => {
            let master = dev.master;
            let control = dev.control.clone();
            let data = apdu.data.clone();
            let wallet_address = apdu.ins == 0x03;
            let (running, first) = Running::start(move |host| {
                super::btc_sign::run(|| {
                    if wallet_address {
                        super::btc_sign::wallet_address(host, &master, &control, &data, testnet)
                    } else {
                        super::btc_sign::sign_psbt(host, &master, &control, &data, testnet)
                    }
                })
            });
            dev.drive(running, first)
        }
        _ => status(sw::INS_NOT_SUPPORTED),
    }
}
