//! A simulated Trezor (Model T behaviour, or Model One with its scrambled PIN matrix) that
//! speaks the `?##` protobuf protocol: sessions, PIN and passphrase, Bitcoin keys, addresses
//! and SignTx streaming, Ethereum addresses, transactions and messages.
//!
//! Requests that need the user or more data from the host run as a [`Program`]: straight-line
//! code that asks (ButtonRequest, PinMatrixRequest, TxRequest, …) and waits for the answer.
//! As on the device, a message that is not the awaited answer abandons the running workflow
//! and is handled afresh; `Initialize` and `Cancel` end it too.

mod btc;
mod eth;
mod port;

use std::{
    collections::hash_map::RandomState,
    hash::{BuildHasher, Hasher},
    sync::{Arc, Mutex, MutexGuard},
};

use bitcoin::{
    bip32::{DerivationPath, Xpriv},
    secp256k1::{All, Secp256k1},
    NetworkKind,
};
use coldlink_trezor::messages::{self as m, FailureType, Wire};

pub use port::{serve_udp, spawn_udp, InProcess, UdpServer};

use crate::{
    program::{Host, Program, Step},
    Control, Decision, Screen,
};

/// Which device the simulator behaves as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrezorModel {
    /// Model T: PIN and passphrase typed on its touchscreen.
    ModelT,
    /// Model One: PIN through the host's scrambled matrix, passphrase typed on the host.
    One,
    /// KeepKey: the Model One's PIN matrix and host passphrase, no taproot, and its own
    /// Ethereum message layouts.
    KeepKey,
}

/// How the simulated device is set up.
#[derive(Clone, Debug)]
pub struct TrezorOptions {
    /// Behaviour.
    pub model: TrezorModel,
    /// PIN digits, if one is set (the device starts locked).
    pub pin: Option<String>,
    /// Passphrase protection on.
    pub passphrase_protection: bool,
    /// The owner's label.
    pub label: String,
}

impl Default for TrezorOptions {
    fn default() -> Self {
        Self {
            model: TrezorModel::ModelT,
            pin: None,
            passphrase_protection: false,
            label: "Coldlink simulator".into(),
        }
    }
}

/// Why a simulator could not be created.
#[derive(Debug, thiserror::Error)]
pub enum TrezorSimError {
    /// The mnemonic is not valid BIP39.
    #[error("invalid mnemonic: {0}")]
    Mnemonic(String),
}

/// What the device does after a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Out {
    /// Sends this message.
    Send(u16, Vec<u8>),
    /// Says nothing (the user is not reacting).
    Silent,
    /// The cable is pulled.
    Disconnect,
}

fn send<M: Wire>(msg: &M) -> Out {
    Out::Send(M::TYPE, msg.encode_to_vec())
}

fn failure(code: FailureType, message: &str) -> Out {
    send(&m::Failure {
        code: Some(code as i32),
        message: Some(message.into()),
    })
}

type Msg = (u16, Vec<u8>);
type Running = Program<Msg, Msg, Out>;

/// State shared with running programs.
struct Shared {
    seed_words: bip39::Mnemonic,
    /// Master key of the current session (after any passphrase), once known.
    session: Option<Xpriv>,
}

/// What a running program may use.
#[derive(Clone)]
pub(crate) struct Ctx {
    secp: Secp256k1<All>,
    control: Control,
    options: TrezorOptions,
    shared: Arc<Mutex<Shared>>,
}

impl Ctx {
    fn shared(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The program's side: ask the host and keep going, or stop with the answer.
pub(crate) type Io = Host<Msg, Msg, Out>;
pub(crate) type Flow<T> = Result<T, Out>;

/// Sends `q` and returns the host's answer; a dropped program just stops.
pub(crate) fn ask<M: Wire>(io: &Io, q: &M) -> Flow<Msg> {
    io.ask((M::TYPE, q.encode_to_vec())).ok_or(Out::Silent)
}

/// Reads the answer as `A`, or fails the way the device does.
pub(crate) fn expect<A: Wire>(answer: Msg) -> Flow<A> {
    if answer.0 != A::TYPE {
        return Err(failure(
            FailureType::UnexpectedMessage,
            "Unexpected message",
        ));
    }
    A::decode(answer.1.as_slice()).map_err(|_| failure(FailureType::DataError, "Invalid message"))
}

/// Shows `screen`, waits for the button (ButtonRequest → ButtonAck) and for the user.
pub(crate) fn confirm(io: &Io, ctx: &Ctx, code: m::ButtonRequestType, screen: Screen) -> Flow<()> {
    expect::<m::ButtonAck>(ask(
        io,
        &m::ButtonRequest {
            code: Some(code as i32),
            pages: None,
        },
    )?)?;
    match ctx.control.confirm(screen) {
        Decision::Approve => Ok(()),
        Decision::Reject => Err(failure(FailureType::ActionCancelled, "Cancelled")),
        Decision::Silent => Err(Out::Silent),
        Decision::Disconnect => Err(Out::Disconnect),
    }
}

/// A fresh random number, for the PIN matrix.
fn random() -> u64 {
    RandomState::new().build_hasher().finish()
}

/// A random arrangement of the digits 1–9 on the 3×3 pad.
fn scrambled() -> [u8; 9] {
    let mut digits = [1u8, 2, 3, 4, 5, 6, 7, 8, 9];
    for i in (1..digits.len()).rev() {
        let j = (random() % (i as u64 + 1)) as usize;
        digits.swap(i, j);
    }
    digits
}

/// Positions are numbered like a numeric keypad: 7 8 9 on the top row, 1 2 3 at the bottom.
/// `pad[k]` is the digit shown at position k+1.
fn pad_rows(pad: &[u8; 9]) -> String {
    [[7, 8, 9], [4, 5, 6], [1, 2, 3]]
        .iter()
        .map(|row| {
            row.iter()
                .map(|p: &usize| (b'0' + pad[p - 1]) as char)
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Decodes clicked positions through the pad shown.
pub fn pin_from_positions(pad: &[u8; 9], positions: &str) -> Option<String> {
    positions
        .bytes()
        .map(|b| match b {
            b'1'..=b'9' => Some((b'0' + pad[usize::from(b - b'1')]) as char),
            _ => None,
        })
        .collect()
}

/// The positions a person would click to enter `pin` on the pad shown as `rows`
/// ("789/456/123" layout, as in the "Enter PIN" screen's "Matrix" field).
pub fn positions_for_pin(rows: &str, pin: &str) -> Option<String> {
    let digits: Vec<u8> = rows.bytes().filter(|b| b.is_ascii_digit()).collect();
    if digits.len() != 9 {
        return None;
    }
    let order = [7, 8, 9, 4, 5, 6, 1, 2, 3];
    pin.bytes()
        .map(|d| {
            let i = digits.iter().position(|x| *x == d)?;
            Some((b'0' + order[i]) as char)
        })
        .collect()
}

/// Unlocks with the PIN if needed (matrix on a One, touchscreen on a T).
fn unlock(io: &Io, ctx: &Ctx) -> Flow<()> {
    let Some(pin) = ctx.options.pin.as_deref() else {
        return Ok(());
    };
    if !ctx.control.is_locked() {
        return Ok(());
    }
    let entered = match ctx.options.model {
        TrezorModel::One | TrezorModel::KeepKey => {
            let pad = scrambled();
            ctx.control.show(Screen {
                title: "Enter PIN".into(),
                fields: vec![("Matrix".into(), pad_rows(&pad))],
            });
            let a = ask(
                io,
                &m::PinMatrixRequest {
                    r#type: Some(m::PinMatrixRequestType::Current as i32),
                },
            )?;
            if a.0 == m::Cancel::TYPE {
                return Err(failure(FailureType::PinCancelled, "PIN entry cancelled"));
            }
            let ack: m::PinMatrixAck = expect(a)?;
            pin_from_positions(&pad, &ack.pin)
                .ok_or_else(|| failure(FailureType::PinInvalid, "PIN invalid"))?
        }
        TrezorModel::ModelT => {
            expect::<m::ButtonAck>(ask(
                io,
                &m::ButtonRequest {
                    code: Some(m::ButtonRequestType::PinEntry as i32),
                    pages: None,
                },
            )?)?;
            ctx.control.show(Screen {
                title: "Enter PIN".into(),
                fields: vec![],
            });
            ctx.control.typed().ok_or(Out::Silent)?
        }
    };
    if entered != pin {
        return Err(failure(FailureType::PinInvalid, "PIN invalid"));
    }
    ctx.control.set_locked(false);
    Ok(())
}

/// The session's master key, asking for the passphrase first if protection is on.
fn session_master(io: &Io, ctx: &Ctx) -> Flow<Xpriv> {
    unlock(io, ctx)?;
    if let Some(k) = ctx.shared().session {
        return Ok(k);
    }
    let passphrase = if ctx.options.passphrase_protection {
        let a = ask(io, &m::PassphraseRequest::default())?;
        if a.0 == m::Cancel::TYPE {
            return Err(failure(
                FailureType::ActionCancelled,
                "Passphrase cancelled",
            ));
        }
        let ack: m::PassphraseAck = expect(a)?;
        match (ack.passphrase, ack.on_device) {
            (Some(_), Some(true)) => {
                return Err(failure(
                    FailureType::DataError,
                    "Passphrase provided when it should not be",
                ))
            }
            (Some(p), _) => p,
            (None, Some(true)) if ctx.options.model != TrezorModel::ModelT => {
                return Err(failure(
                    FailureType::DataError,
                    "This firmware is incapable of passphrase entry on the device.",
                ))
            }
            (None, Some(true)) => {
                expect::<m::ButtonAck>(ask(
                    io,
                    &m::ButtonRequest {
                        code: Some(m::ButtonRequestType::PassphraseEntry as i32),
                        pages: None,
                    },
                )?)?;
                ctx.control.show(Screen {
                    title: "Enter passphrase".into(),
                    fields: vec![],
                });
                ctx.control.typed().ok_or(Out::Silent)?
            }
            (None, _) => {
                return Err(failure(
                    FailureType::DataError,
                    "Passphrase not provided and on_device is False. Use empty string to set an empty passphrase.",
                ))
            }
        }
    } else {
        String::new()
    };
    let seed = ctx.shared().seed_words.to_seed(&passphrase);
    let master = Xpriv::new_master(NetworkKind::Main, &seed)
        .map_err(|_| failure(FailureType::FirmwareError, "Key derivation failed"))?;
    ctx.shared().session = Some(master);
    Ok(master)
}

/// A derived private key, or the device's error for an unusable path.
pub(crate) fn derive(ctx: &Ctx, master: &Xpriv, path: &DerivationPath) -> Flow<Xpriv> {
    if path.len() > 8 {
        return Err(failure(FailureType::DataError, "Forbidden key path"));
    }
    master
        .derive_priv(&ctx.secp, path)
        .map_err(|_| failure(FailureType::DataError, "Invalid path"))
}

/// The device.
pub struct TrezorSim {
    ctx: Ctx,
    program: Option<Running>,
}

impl TrezorSim {
    /// A device holding `mnemonic` (BIP39), set up as `options`, with a user who approves
    /// everything until told otherwise.
    pub fn new(mnemonic: &str, options: TrezorOptions) -> Result<Self, TrezorSimError> {
        let words = bip39::Mnemonic::parse_normalized(mnemonic)
            .map_err(|e| TrezorSimError::Mnemonic(e.to_string()))?;
        let control = Control::default();
        control.set_locked(options.pin.is_some());
        Ok(Self {
            ctx: Ctx {
                secp: Secp256k1::new(),
                control,
                options,
                shared: Arc::new(Mutex::new(Shared {
                    seed_words: words,
                    session: None,
                })),
            },
            program: None,
        })
    }

    /// The handle for playing the user and reading the screen log.
    pub fn control(&self) -> Control {
        self.ctx.control.clone()
    }

    fn features(&self) -> m::Features {
        let (vendor, model, internal, version) = match self.ctx.options.model {
            TrezorModel::ModelT => ("trezor.io", "T", Some("T2T1"), (2, 8, 1)),
            TrezorModel::One => ("trezor.io", "1", Some("T1B1"), (1, 12, 1)),
            TrezorModel::KeepKey => ("keepkey.com", "K1-14AM", None, (7, 10, 0)),
        };
        m::Features {
            vendor: Some(vendor.into()),
            major_version: version.0,
            minor_version: version.1,
            patch_version: version.2,
            bootloader_mode: None,
            device_id: Some("C0LDL1NKS1M00001".into()),
            pin_protection: Some(self.ctx.options.pin.is_some()),
            passphrase_protection: Some(self.ctx.options.passphrase_protection),
            language: Some("en-US".into()),
            label: Some(self.ctx.options.label.clone()),
            initialized: Some(true),
            revision: None,
            unlocked: Some(!self.ctx.control.is_locked()),
            model: Some(model.into()),
            session_id: Some(vec![0x5e; 32]),
            passphrase_always_on_device: Some(false),
            internal_model: internal.map(str::to_owned),
        }
    }

    /// Handles one message from the host. With `COLDLINK_SIM_TRACE` set, each message and
    /// answer is printed to stderr.
    pub fn handle(&mut self, msg_type: u16, payload: &[u8]) -> Out {
        let out = self.handle_inner(msg_type, payload);
        if std::env::var_os("COLDLINK_SIM_TRACE").is_some() {
            let name = |t: u16| m::type_name(t).unwrap_or("?");
            match &out {
                Out::Send(t, _) => eprintln!("trezor-sim <= {} => {}", name(msg_type), name(*t)),
                other => eprintln!("trezor-sim <= {} => {other:?}", name(msg_type)),
            }
        }
        out
    }

    fn handle_inner(&mut self, msg_type: u16, payload: &[u8]) -> Out {
        if self.ctx.control.apdu_arrived() {
            self.program = None;
            return Out::Disconnect;
        }
        let continuation = matches!(
            msg_type,
            m::ButtonAck::TYPE
                | m::PinMatrixAck::TYPE
                | m::PassphraseAck::TYPE
                | m::TxAck::TYPE
                | m::EthereumTxAck::TYPE
        );
        let waiting = self.program.take();
        match msg_type {
            m::Initialize::TYPE => {
                self.ctx.shared().session = None;
                return send(&self.features());
            }
            m::GetFeatures::TYPE => return send(&self.features()),
            m::Cancel::TYPE if waiting.is_some() => {
                // The program may be waiting for a PIN or passphrase: let it see the Cancel.
                if let Some(p) = waiting {
                    return self.step(p, (msg_type, payload.to_vec()));
                }
            }
            m::Cancel::TYPE => return failure(FailureType::ActionCancelled, "Cancelled"),
            m::LockDevice::TYPE => {
                // Passphrases stay cached; only the PIN is needed again.
                if self.ctx.options.pin.is_some() {
                    self.ctx.control.set_locked(true);
                }
                return send(&m::Success::default());
            }
            m::EndSession::TYPE => {
                self.ctx.shared().session = None;
                return send(&m::Success::default());
            }
            _ => {}
        }
        if continuation {
            return match waiting {
                Some(p) => self.step(p, (msg_type, payload.to_vec())),
                None => failure(FailureType::UnexpectedMessage, "Unexpected message"),
            };
        }
        let ctx = self.ctx.clone();
        let request = (msg_type, payload.to_vec());
        let (program, first) =
            Program::start("trezor-sim", move |io: &Io| match run(io, &ctx, request) {
                Ok(out) | Err(out) => out,
            });
        self.drive(program, first)
    }

    fn step(&mut self, program: Running, answer: Msg) -> Out {
        let next = program.resume(answer);
        self.drive(program, next)
    }

    fn drive(&mut self, program: Running, step: Option<Step<Msg, Out>>) -> Out {
        match step {
            Some(Step::Ask((t, body))) => {
                self.program = Some(program);
                Out::Send(t, body)
            }
            Some(Step::Done(out)) => out,
            None => failure(FailureType::FirmwareError, "Firmware error"),
        }
    }
}

/// One request, start to finish.
fn run(io: &Io, ctx: &Ctx, (t, body): Msg) -> Flow<Out> {
    if ctx.options.model == TrezorModel::KeepKey {
        match t {
            m::EthereumGetAddress::TYPE => {
                return eth::keepkey_get_address(io, ctx, expect((t, body))?)
            }
            m::EthereumSignTx::TYPE => return eth::keepkey_sign(io, ctx, expect((t, body))?),
            108 => return eth::keepkey_sign_message(io, ctx, expect((t, body))?),
            m::EthereumSignTxEip1559::TYPE | m::EthereumSignMessage::TYPE => {
                return Ok(failure(FailureType::UnexpectedMessage, "Unknown message"))
            }
            _ => {}
        }
    }
    match t {
        m::Ping::TYPE => {
            let p: m::Ping = expect((t, body))?;
            if p.button_protection == Some(true) {
                confirm(
                    io,
                    ctx,
                    m::ButtonRequestType::ProtectCall,
                    Screen {
                        title: "Confirm".into(),
                        fields: vec![("Message".into(), p.message.clone().unwrap_or_default())],
                    },
                )?;
            }
            Ok(send(&m::Success { message: p.message }))
        }
        m::GetPublicKey::TYPE => btc::get_public_key(io, ctx, expect((t, body))?),
        m::GetAddress::TYPE => btc::get_address(io, ctx, expect((t, body))?),
        m::SignTx::TYPE => btc::sign_tx(io, ctx, expect((t, body))?),
        m::EthereumGetAddress::TYPE => eth::get_address(io, ctx, expect((t, body))?),
        m::EthereumSignTx::TYPE => eth::sign_legacy(io, ctx, expect((t, body))?),
        m::EthereumSignTxEip1559::TYPE => eth::sign_eip1559(io, ctx, expect((t, body))?),
        m::EthereumSignMessage::TYPE => eth::sign_message(io, ctx, expect((t, body))?),
        _ => Ok(failure(
            FailureType::UnexpectedMessage,
            "Unexpected message",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_positions_round_trip_through_the_pad() {
        for _ in 0..20 {
            let pad = scrambled();
            let mut sorted = pad;
            sorted.sort_unstable();
            assert_eq!(sorted, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
            let rows = pad_rows(&pad);
            let pos = positions_for_pin(&rows, "1234").expect("positions");
            assert_eq!(pin_from_positions(&pad, &pos).as_deref(), Some("1234"));
        }
        assert_eq!(pin_from_positions(&[1, 2, 3, 4, 5, 6, 7, 8, 9], "0"), None);
        // Keypad layout: position 7 is the top-left cell.
        assert_eq!(pad_rows(&[1, 2, 3, 4, 5, 6, 7, 8, 9]), "789/456/123");
    }
}
