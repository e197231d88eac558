//! HWI compatibility: `coldlink hwi …` honours the command line and JSON shapes of HWI
//! (bitcoin-core/HWI), so Coldlink can serve as Bitcoin Core's external signer
//! (`bitcoind -signer="coldlink hwi"`). Core calls, in order of a wallet's life:
//! `enumerate`; `--fingerprint F --chain C getdescriptors --account N`;
//! `--fingerprint F --chain C displayaddress --desc D`; and `--stdin --fingerprint F --chain C`
//! with `signtx <base64 psbt>` written to standard input.
//!
//! As HWI does, failures are reported as `{"error": …, "code": …}` on standard output (exit 0),
//! which is where Core looks for them; the codes follow HWI's list as far as they apply.

use std::io::Read;

use coldlink_app::{parse_chain, parse_kind, AppError, Coldlink, ErrorKind};
use serde_json::{json, Value};

/// HWI's numeric error codes (hwilib/errors.py).
fn code(kind: ErrorKind) -> i32 {
    match kind {
        ErrorKind::InvalidInput => -7, // BAD_ARGUMENT
        ErrorKind::NotFound | ErrorKind::Disconnected | ErrorKind::Timeout => -3, // DEVICE_CONN_ERROR
        ErrorKind::Rejected | ErrorKind::Cancelled => -14,                        // ACTION_CANCELED
        ErrorKind::WrongPin => -12, // DEVICE_NOT_READY
        ErrorKind::DeviceLocked | ErrorKind::WrongApp => -12, // DEVICE_NOT_READY
        ErrorKind::Busy => -15,     // DEVICE_BUSY
        ErrorKind::Unsupported => -9, // UNAVAILABLE_ACTION
        ErrorKind::NoPermission => -16, // NEED_TO_BE_ROOT (HWI's name for missing udev rules)
        ErrorKind::DeviceError | ErrorKind::Internal => -13, // UNKNOWN_ERROR
    }
}

struct Options {
    fingerprint: Option<String>,
    device: Option<String>,
    chain: String,
    stdin: bool,
    rest: Vec<String>,
}

fn parse_options(args: &[String]) -> Result<Options, AppError> {
    let mut o = Options {
        fingerprint: None,
        device: None,
        chain: "main".into(),
        stdin: false,
        rest: vec![],
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| AppError::invalid(format!("{name} needs a value")))
        };
        match a.as_str() {
            "--fingerprint" | "-f" => o.fingerprint = Some(value(a)?),
            "--device-path" | "-d" => o.device = Some(value(a)?),
            "--chain" => o.chain = value(a)?,
            "--device-type" | "-t" => {
                value(a)?;
            }
            "--testnet" => o.chain = "test".into(),
            "--stdin" => o.stdin = true,
            "--emulators" | "--expert" => {}
            _ => {
                o.rest.push(a.clone());
                o.rest.extend(it.by_ref().cloned());
                break;
            }
        }
    }
    Ok(o)
}

/// Runs one HWI command line; returns what to print.
pub(crate) fn run(app: &Coldlink, args: &[String]) -> Value {
    match dispatch(app, args) {
        Ok(v) => v,
        Err(e) => json!({ "error": e.message, "code": code(e.kind) }),
    }
}

fn flag(rest: &[String], name: &str) -> Option<String> {
    rest.iter()
        .position(|a| a == name)
        .and_then(|i| rest.get(i + 1).cloned())
}

fn dispatch(app: &Coldlink, args: &[String]) -> Result<Value, AppError> {
    let mut o = parse_options(args)?;
    if o.stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| AppError::invalid(format!("cannot read standard input: {e}")))?;
        o.rest.extend(text.split_whitespace().map(str::to_owned));
    }
    let network = parse_chain(&o.chain)?;
    let Some(command) = o.rest.first().cloned() else {
        return Err(AppError::invalid("no command given"));
    };
    if command == "enumerate" {
        return Ok(enumerate(app));
    }
    let device = match (&o.device, &o.fingerprint) {
        (Some(d), _) => d.clone(),
        (None, Some(fp)) => app.device_by_fingerprint(fp)?,
        (None, None) => return Err(AppError::invalid("give --fingerprint or --device-path")),
    };
    let rest = &o.rest[1..];
    let account: u32 = flag(rest, "--account")
        .map(|a| {
            a.parse()
                .map_err(|_| AppError::invalid("--account takes a number"))
        })
        .transpose()?
        .unwrap_or(0);
    match command.as_str() {
        "getmasterxpub" => {
            let kind = parse_kind(&flag(rest, "--addr-type").unwrap_or_else(|| "wpkh".into()))?;
            Ok(json!({ "xpub": app.btc_account_xpub(&device, kind, network, account)? }))
        }
        "getxpub" => {
            let path = rest
                .iter()
                .find(|a| !a.starts_with("--"))
                .ok_or_else(|| AppError::invalid("getxpub needs a derivation path"))?;
            Ok(json!({ "xpub": app.xpub(&device, path, rest.iter().any(|a| a == "--expert"))? }))
        }
        "getdescriptors" => Ok(json!(app.btc_descriptors(&device, network, account)?)),
        "displayaddress" => {
            let desc = flag(rest, "--desc")
                .ok_or_else(|| AppError::invalid("displayaddress needs --desc"))?;
            Ok(json!({ "address": app.btc_display_descriptor(&device, network, &desc)? }))
        }
        "signtx" => {
            let psbt = rest
                .first()
                .ok_or_else(|| AppError::invalid("signtx needs a base64 PSBT"))?;
            let signed = app.btc_sign_psbt(&device, network, psbt.as_bytes())?;
            Ok(json!({ "psbt": signed.psbt, "signed": signed.signatures > 0 }))
        }
        other => Err(AppError::new(
            ErrorKind::Unsupported,
            format!("the HWI command “{other}” is not supported by Coldlink"),
        )),
    }
}

fn enumerate(app: &Coldlink) -> Value {
    use coldlink_types::{DeviceState, Vendor};
    let list = app.devices().list();
    let entries: Vec<Value> = list
        .devices
        .iter()
        .filter(|d| matches!(d.vendor, Vendor::Ledger | Vendor::Trezor | Vendor::Keepkey))
        .map(|d| {
            let (kind, sim) = match d.vendor {
                Vendor::Ledger => ("ledger", "ledger_simulator"),
                Vendor::Keepkey => ("keepkey", "keepkey_simulator"),
                _ => ("trezor", "trezor_simulator"),
            };
            let trezor_like = d.vendor != Vendor::Ledger;
            let locked = d.state == DeviceState::Locked;
            let mut e = json!({
                "type": kind,
                "model": if d.emulated { sim.to_owned() } else {
                    d.model_name.to_lowercase().replace(' ', "_")
                },
                "label": null,
                "path": d.id,
                // A Trezor One / KeepKey takes its PIN through the host's matrix.
                "needs_pin_sent": trezor_like && locked,
                "needs_passphrase_sent": false,
            });
            match (&d.fingerprint, d.state) {
                (Some(fp), _) => e["fingerprint"] = json!(fp.to_string()),
                (None, DeviceState::Locked) => {
                    e["error"] = json!("The device is locked: unlock it with its PIN");
                    e["code"] = json!(-12);
                }
                (None, _) if trezor_like => {
                    e["error"] = json!("The fingerprint could not be read (is a passphrase set?)");
                    e["code"] = json!(-12);
                }
                (None, _) => {
                    e["error"] = json!("Open the Bitcoin app on the device");
                    e["code"] = json!(-12);
                }
            }
            e
        })
        .collect();
    Value::Array(entries)
}
