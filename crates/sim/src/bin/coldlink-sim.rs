//! `coldlink-sim`: run a simulated hardware wallet on loopback for development and demos.
//!
//! `coldlink-sim ledger --seed "abandon … about" --port 9999` serves Speculos' APDU protocol
//! there, so Coldlink (or any Speculos client) sees a Ledger; `--hid-port` also serves raw
//! HID reports. `coldlink-sim trezor --port 21324` answers like the Trezor emulator (UDP,
//! `PINGPING`), as a Model T or, with `--model one --pin 1234`, a Model One whose PIN is
//! entered on the host's matrix (the scrambled pad is printed). The virtual user approves
//! everything. Never use a seed that holds funds.

use std::{
    net::{Ipv4Addr, TcpListener, UdpSocket},
    process::ExitCode,
    sync::{Arc, Mutex},
};

use clap::{Parser, Subcommand};
use coldlink_sim::{
    ledger::{serve_hid, serve_speculos, LedgerSim, APPS},
    trezor::{serve_udp, TrezorModel, TrezorOptions, TrezorSim},
};

/// The standard public test mnemonic; fine for a simulator, never for funds.
const TEST_MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

#[derive(Parser)]
#[command(
    name = "coldlink-sim",
    version,
    about = "Simulated hardware wallets on loopback"
)]
struct Cli {
    #[command(subcommand)]
    device: Device,
}

#[derive(Subcommand)]
enum Device {
    /// A Ledger Nano X with the Bitcoin and Ethereum apps.
    Ledger {
        /// BIP39 mnemonic of the simulated seed.
        #[arg(long, default_value = TEST_MNEMONIC)]
        seed: String,
        /// Speculos-protocol APDU port on 127.0.0.1.
        #[arg(long, default_value_t = 9999)]
        port: u16,
        /// Also serve raw 64-byte HID reports on this port.
        #[arg(long)]
        hid_port: Option<u16>,
        /// Start with this app open instead of the dashboard.
        #[arg(long)]
        app: Option<String>,
    },
    /// A Trezor (Model T, or Model One with `--model one`) on the emulator's UDP transport.
    Trezor {
        /// BIP39 mnemonic of the simulated seed (default: Trezor's test seed, `all` ×12).
        #[arg(long, default_value = TREZOR_MNEMONIC)]
        seed: String,
        /// UDP port on 127.0.0.1 (the emulator's default is 21324).
        #[arg(long, default_value_t = 21324)]
        port: u16,
        /// `t`, `one` or `keepkey`.
        #[arg(long, default_value = "t")]
        model: String,
        /// A PIN (Model One only: its PIN is entered on the host's scrambled matrix).
        #[arg(long)]
        pin: Option<String>,
        /// Turn passphrase protection on (the host is asked for it).
        #[arg(long)]
        passphrase: bool,
    },
}

/// Trezor's public test seed. Never for funds.
const TREZOR_MNEMONIC: &str = "all all all all all all all all all all all all";

fn trezor(seed: &str, port: u16, model: &str, pin: Option<String>, passphrase: bool) -> ExitCode {
    let model = match model {
        "t" | "T" => TrezorModel::ModelT,
        "one" | "1" => TrezorModel::One,
        "keepkey" => TrezorModel::KeepKey,
        other => {
            eprintln!("coldlink-sim: unknown model {other:?}; use t, one or keepkey");
            return ExitCode::from(2);
        }
    };
    if pin.is_some() && model == TrezorModel::ModelT {
        eprintln!("coldlink-sim: a Model T takes its PIN on its own screen, which this simulator has no person for; use --model one");
        return ExitCode::from(2);
    }
    let options = TrezorOptions {
        model,
        pin,
        passphrase_protection: passphrase,
        label: "coldlink-sim".into(),
    };
    let sim = match TrezorSim::new(seed, options) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("coldlink-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let control = sim.control();
    let server = match UdpSocket::bind((Ipv4Addr::LOCALHOST, port))
        .and_then(|s| serve_udp(s, Arc::new(Mutex::new(sim))))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("coldlink-sim: cannot listen on udp 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "coldlink-sim: Trezor (simulated) on trezor-emu:{}",
        server.addr()
    );
    // Print each new screen: with a PIN matrix this is what a person would read on the device.
    let mut seen = 0;
    loop {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let screens = control.screens();
        for s in &screens[seen.min(screens.len())..] {
            let fields: Vec<String> = s.fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            println!("screen: {} | {}", s.title, fields.join(" | "));
        }
        seen = screens.len();
    }
}

fn main() -> ExitCode {
    let (seed, port, hid_port, app) = match Cli::parse().device {
        Device::Ledger {
            seed,
            port,
            hid_port,
            app,
        } => (seed, port, hid_port, app),
        Device::Trezor {
            seed,
            port,
            model,
            pin,
            passphrase,
        } => return trezor(&seed, port, &model, pin, passphrase),
    };
    let sim = match LedgerSim::new(&seed) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("coldlink-sim: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(a) = &app {
        if !APPS.iter().any(|(n, _)| n == a) {
            eprintln!("coldlink-sim: unknown app {a:?}; installed: Bitcoin, Ethereum");
            return ExitCode::from(2);
        }
    }
    sim.control().set_app(app.as_deref());
    let device = Arc::new(Mutex::new(sim));
    let bind = |p: u16| TcpListener::bind((Ipv4Addr::LOCALHOST, p));
    let speculos = match bind(port).and_then(|l| serve_speculos(l, Arc::clone(&device))) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("coldlink-sim: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "coldlink-sim: Ledger (simulated) on speculos:{}",
        speculos.addr()
    );
    let _hid = match hid_port.map(|p| bind(p).and_then(|l| serve_hid(l, Arc::clone(&device)))) {
        Some(Ok(s)) => {
            println!(
                "coldlink-sim: raw HID reports on 127.0.0.1:{}",
                s.addr().port()
            );
            Some(s)
        }
        Some(Err(e)) => {
            eprintln!("coldlink-sim: cannot listen for HID reports: {e}");
            return ExitCode::FAILURE;
        }
        None => None,
    };
    loop {
        std::thread::park();
    }
}
