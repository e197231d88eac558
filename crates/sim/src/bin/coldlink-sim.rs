//! `coldlink-sim`: run a simulated hardware wallet on loopback for development and demos.
//!
//! `coldlink-sim ledger --seed "abandon … about" --port 9999` serves Speculos' APDU protocol
//! there, so Coldlink (or any Speculos client) sees a Ledger; `--hid-port` also serves raw
//! HID reports. The virtual user approves everything. Never use a seed that holds funds.

use std::{
    net::{Ipv4Addr, TcpListener},
    process::ExitCode,
    sync::{Arc, Mutex},
};

use clap::{Parser, Subcommand};
use coldlink_sim::ledger::{serve_hid, serve_speculos, LedgerSim, APPS};

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
}

fn main() -> ExitCode {
    let Device::Ledger {
        seed,
        port,
        hid_port,
        app,
    } = Cli::parse().device;
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
