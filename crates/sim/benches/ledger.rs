//! Ledger host overhead and simulator round trips. A benchmark, not a test: prints figures,
//! each beside a baseline measured in the same run. Run: `cargo bench -p coldlink-sim`.
//!
//! - host overhead per APDU: encode + HID framing + reassembly + response parsing, against
//!   copying the same bytes (the least any transport must do);
//! - round trip of one APDU to the simulator over TCP (Speculos protocol), against a bare TCP
//!   echo of the same size on the same machine;
//! - signing an EIP-1559 transaction through the simulator, end to end;
//! - signing a 10-input, 2-output P2WPKH PSBT through the simulator with LedgerHQ's client
//!   (interrupted execution: every PSBT field travels as a merkle leaf with its proof).

mod common;

use std::{
    hint::black_box,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    str::FromStr,
    time::Duration,
};

use alloy_consensus::{TxEip1559, TypedTransaction};
use alloy_primitives::{Bytes, TxKind, U256};
use bitcoin::bip32::DerivationPath;
use coldlink_ledger::{dashboard, eth, frame, Apdu, Reassembler, Response, SpeculosExchange};
use coldlink_sim::ledger::{spawn_speculos, LedgerSim};
use common::{median, per_iter};

const MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

fn host_overhead(data_len: usize) -> (Duration, Duration) {
    let apdu = Apdu::new(0xe0, 0x04, 0x00, 0x00, vec![0x5a; data_len]);
    let answer = [vec![0x11; 65], vec![0x90, 0x00]].concat();
    let answer_reports = frame(&answer).expect("frame");
    let ours = median(
        (0..7)
            .map(|_| {
                per_iter(200_000, || {
                    let bytes = apdu.encode().expect("encode");
                    let reports = frame(&bytes).expect("frame");
                    black_box(&reports);
                    let mut r = Reassembler::new();
                    let mut msg = None;
                    for rep in &answer_reports {
                        msg = r.push(rep).expect("push");
                    }
                    black_box(Response::parse(&msg.expect("whole")).expect("parse"));
                })
            })
            .collect(),
    );
    let copy = median(
        (0..7)
            .map(|_| {
                per_iter(200_000, || {
                    let mut v = Vec::with_capacity(5 + data_len + answer.len());
                    v.extend_from_slice(black_box(&apdu.data));
                    v.extend_from_slice(black_box(&answer));
                    black_box(v);
                })
            })
            .collect(),
    );
    (ours, copy)
}

fn tcp_echo_round_trip(len: usize, n: u32) -> Duration {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = l.accept() {
            let _ = s.set_nodelay(true);
            let mut buf = vec![0u8; len];
            while s.read_exact(&mut buf).is_ok() && s.write_all(&buf).is_ok() {}
        }
    });
    let mut c = TcpStream::connect(addr).expect("connect");
    c.set_nodelay(true).expect("nodelay");
    let msg = vec![7u8; len];
    let mut buf = vec![0u8; len];
    per_iter(n, || {
        c.write_all(&msg).expect("write");
        c.read_exact(&mut buf).expect("read");
    })
}

fn main() {
    println!("Ledger host and simulator figures (median of 7 batches)");
    for len in [5usize, 255] {
        let (ours, copy) = host_overhead(len);
        println!(
            "host overhead per APDU, {len:>3} data bytes: {:>6.2} µs   (copying the bytes: {:.3} µs; ratio {:.0}×)",
            ours.as_secs_f64() * 1e6,
            copy.as_secs_f64() * 1e6,
            ours.as_secs_f64() / copy.as_secs_f64()
        );
    }

    let (server, user) = spawn_speculos(LedgerSim::new(MNEMONIC).expect("sim")).expect("serve");
    user.set_app(Some("Ethereum"));
    let mut dev = SpeculosExchange::connect(server.addr(), Duration::from_secs(5)).expect("c");
    let rt = median(
        (0..7)
            .map(|_| {
                per_iter(2_000, || {
                    black_box(dashboard::app_and_version(&mut dev).expect("answer"));
                })
            })
            .collect(),
    );
    let echo = median((0..7).map(|_| tcp_echo_round_trip(24, 2_000)).collect());
    println!(
        "round trip to the simulator over TCP (GET_APP_AND_VERSION): {:.1} µs   (bare TCP echo: {:.1} µs; ratio {:.1}×)",
        rt.as_secs_f64() * 1e6,
        echo.as_secs_f64() * 1e6,
        rt.as_secs_f64() / echo.as_secs_f64()
    );

    let path = DerivationPath::from_str("m/44'/60'/0'/0/0").expect("path");
    let tx = TypedTransaction::Eip1559(TxEip1559 {
        chain_id: 1,
        nonce: 0,
        gas_limit: 50_000,
        max_fee_per_gas: 30_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Create,
        value: U256::ZERO,
        access_list: Default::default(),
        input: Bytes::from(vec![0x60; 1000]),
    });
    let sign = median(
        (0..7)
            .map(|_| {
                per_iter(20, || {
                    black_box(eth::sign_transaction(&mut dev, &path, tx.clone()).expect("signed"));
                })
            })
            .collect(),
    );
    println!(
        "sign an EIP-1559 transaction with 1000 bytes of data (6 APDUs + address check) through the simulator: {:.2} ms   ({:.0}× the APDU round trip)",
        sign.as_secs_f64() * 1e3,
        sign.as_secs_f64() / rt.as_secs_f64()
    );

    user.set_app(Some("Bitcoin"));
    let wallet = coldlink_ledger::DefaultWallet::read(
        &mut dev,
        coldlink_signer::ScriptKind::NativeSegwit,
        bitcoin::Network::Bitcoin,
        0,
    )
    .expect("wallet");
    let psbt = ten_input_psbt();
    let counter = Counting(std::cell::Cell::new(0), &mut dev);
    let mut counted = counter;
    let mut p = psbt.clone();
    wallet.sign_psbt(&mut counted, &mut p).expect("signed");
    let apdus = counted.0.get();
    let sign_psbt = median(
        (0..5)
            .map(|_| {
                per_iter(3, || {
                    let mut p = psbt.clone();
                    black_box(wallet.sign_psbt(&mut dev, &mut p).expect("signed"));
                })
            })
            .collect(),
    );
    println!(
        "sign a 10-input, 2-output P2WPKH PSBT through the simulator: {:.1} ms in {apdus} APDUs   ({:.0}× the APDU round trip; target < 150 ms)",
        sign_psbt.as_secs_f64() * 1e3,
        sign_psbt.as_secs_f64() / rt.as_secs_f64()
    );
}

/// Counts the APDUs an operation takes.
struct Counting<'a>(std::cell::Cell<usize>, &'a mut SpeculosExchange);

impl coldlink_ledger::Exchange for Counting<'_> {
    fn exchange(&mut self, a: &Apdu) -> Result<Response, coldlink_ledger::ExchangeError> {
        self.0.set(self.0.get() + 1);
        self.1.exchange(a)
    }
}

fn ten_input_psbt() -> bitcoin::Psbt {
    coldlink_sim::fixtures::spending_psbt(MNEMONIC, coldlink_signer::ScriptKind::NativeSegwit, 10).0
}
