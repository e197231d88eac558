//! A simulated Ledger (Nano X): the dashboard, the Bitcoin app and the Ethereum app, behind
//! Speculos' TCP protocol or raw HID reports.
//!
//! Status words follow the device: 0x5515 while locked, 0x6511 for an app command on the
//! dashboard, 0x6E00 for another app's class, 0x6985 when the user rejects.

mod btc;
mod btc_sign;
mod eth;
mod in_process;
mod interrupt;
mod policy;
mod server;

use bitcoin::{
    bip32::{DerivationPath, Xpriv},
    secp256k1::{All, Secp256k1, SecretKey},
    NetworkKind,
};
use coldlink_ledger::{sw, Apdu, AppAndVersion};

pub use in_process::InProcess;
pub use server::{serve_hid, serve_speculos, spawn_speculos, Server};

use crate::{Control, Decision, Screen};

/// Apps installed on the simulated device, with the versions it reports.
pub const APPS: [(&str, &str); 3] = [
    ("Bitcoin", "2.1.3"),
    ("Bitcoin Test", "2.1.3"),
    ("Ethereum", "1.10.3"),
];
const DASHBOARD_VERSION: &str = "2.2.3";

/// Why a simulator could not be created.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The mnemonic is not valid BIP39.
    #[error("invalid mnemonic: {0}")]
    Mnemonic(String),
    /// A socket could not be opened.
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
}

/// What the device does with one APDU.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Answer with data followed by the status word.
    Respond(Vec<u8>),
    /// Say nothing (the user is not reacting).
    Silent,
    /// Drop the connection (the cable was pulled).
    Disconnect,
}

fn status(sw: u16) -> Outcome {
    Outcome::Respond(sw.to_be_bytes().to_vec())
}

fn ok(mut data: Vec<u8>) -> Outcome {
    data.extend_from_slice(&sw::OK.to_be_bytes());
    Outcome::Respond(data)
}

/// The device.
pub struct LedgerSim {
    secp: Secp256k1<All>,
    master: Xpriv,
    control: Control,
    eth: eth::EthApp,
    /// A Bitcoin-app command waiting for the host (interrupted execution).
    program: Option<interrupt::Running>,
}

impl LedgerSim {
    /// A device holding the seed of `mnemonic` (BIP39, no passphrase), on the dashboard,
    /// unlocked, with a user who approves everything until told otherwise.
    pub fn new(mnemonic: &str) -> Result<Self, SimError> {
        let m = bip39::Mnemonic::parse_normalized(mnemonic)
            .map_err(|e| SimError::Mnemonic(e.to_string()))?;
        let seed = m.to_seed("");
        let master = Xpriv::new_master(NetworkKind::Main, &seed)
            .map_err(|e| SimError::Mnemonic(e.to_string()))?;
        Ok(Self {
            secp: Secp256k1::new(),
            master,
            control: Control::default(),
            eth: eth::EthApp::default(),
            program: None,
        })
    }

    /// The handle for playing the user and reading the screen log.
    pub fn control(&self) -> Control {
        self.control.clone()
    }

    fn key(&self, path: &DerivationPath) -> Option<SecretKey> {
        self.master
            .derive_priv(&self.secp, path)
            .ok()
            .map(|x| x.private_key)
    }

    /// Handles one raw APDU. With `COLDLINK_SIM_TRACE` set, each command and answer is
    /// printed to stderr (hex), for debugging hosts.
    pub fn handle(&mut self, raw: &[u8]) -> Outcome {
        let out = self.handle_inner(raw);
        if std::env::var_os("COLDLINK_SIM_TRACE").is_some() {
            let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
            match &out {
                Outcome::Respond(r) => eprintln!("sim <= {}\nsim => {}", hex(raw), hex(r)),
                other => eprintln!("sim <= {}\nsim => {other:?}", hex(raw)),
            }
        }
        out
    }

    fn handle_inner(&mut self, raw: &[u8]) -> Outcome {
        if self.control.apdu_arrived() {
            return Outcome::Disconnect;
        }
        let Ok(apdu) = Apdu::decode(raw) else {
            return status(sw::WRONG_LENGTH);
        };
        if self.control.is_locked() {
            return status(sw::LOCKED);
        }
        let app = self.control.app();
        // Anything but a continuation abandons a waiting program (the host gave up on it).
        let waiting = self.program.take();
        match (apdu.cla, apdu.ins) {
            (0xf8, 0x01) => match waiting {
                Some(p) => {
                    let next = p.resume(apdu.data);
                    self.drive(p, next)
                }
                None => status(sw::WRONG_DATA),
            },
            (0xb0, 0x01) => {
                let (name, version) = match &app {
                    Some(a) => (a.clone(), app_version(a).to_owned()),
                    None => (
                        coldlink_ledger::dashboard::DASHBOARD.to_owned(),
                        DASHBOARD_VERSION.to_owned(),
                    ),
                };
                ok(AppAndVersion { name, version }.encode())
            }
            (0xb0, 0xa7) => {
                self.control.set_app(None);
                self.eth = eth::EthApp::default();
                ok(vec![])
            }
            (0xe0, 0xd8) if app.is_none() => self.open_app(&apdu.data),
            _ => match app.as_deref() {
                None => status(sw::APP_NOT_OPEN),
                Some("Ethereum") if apdu.cla == 0xe0 => eth::handle(self, &apdu),
                Some(a) if a.starts_with("Bitcoin") && apdu.cla == 0xe1 => {
                    let testnet = a == "Bitcoin Test";
                    btc::handle(self, &apdu, testnet)
                }
                Some(_) => status(sw::CLA_NOT_SUPPORTED),
            },
        }
    }

    /// Turns a program's next step into the device's answer, keeping it if it waits.
    fn drive(&mut self, program: interrupt::Running, step: Option<interrupt::Step>) -> Outcome {
        match step {
            Some(interrupt::Step::Interrupt(request)) => {
                self.program = Some(program);
                let mut out = request;
                out.extend_from_slice(&sw::INTERRUPTED.to_be_bytes());
                Outcome::Respond(out)
            }
            Some(interrupt::Step::Done(outcome)) => outcome,
            None => status(interrupt::BAD_STATE),
        }
    }

    fn open_app(&mut self, name: &[u8]) -> Outcome {
        let name = String::from_utf8_lossy(name).into_owned();
        if !APPS.iter().any(|(a, _)| *a == name) {
            return status(sw::APP_NOT_FOUND);
        }
        let screen = Screen {
            title: "Open application".into(),
            fields: vec![("Application".into(), name.clone())],
        };
        match self.control.confirm(screen) {
            Decision::Approve => {
                self.control.set_app(Some(&name));
                ok(vec![])
            }
            Decision::Reject => status(sw::DENIED),
            Decision::Silent => Outcome::Silent,
            Decision::Disconnect => Outcome::Disconnect,
        }
    }

    /// Shows `screen`, and on approval answers with `data`.
    fn confirm_then(&self, screen: Screen, data: impl FnOnce() -> Outcome) -> Outcome {
        match self.control.confirm(screen) {
            Decision::Approve => data(),
            Decision::Reject => status(sw::DENIED),
            Decision::Silent => Outcome::Silent,
            Decision::Disconnect => Outcome::Disconnect,
        }
    }
}

fn app_version(name: &str) -> &'static str {
    APPS.iter()
        .find(|(a, _)| *a == name)
        .map(|(_, v)| *v)
        .unwrap_or("0.0.0")
}
