//! Trezor host overhead and simulator round trips. A benchmark, not a test: prints figures,
//! each beside a baseline measured in the same run. Run: `cargo bench -p coldlink-sim --bench
//! trezor`.
//!
//! - host overhead per message: protobuf encode + `?##` framing of a GetAddress, reassembly and
//!   decoding of its Address answer, against copying the same bytes;
//! - round trip of one message (GetFeatures → Features) to the simulator over UDP, against a
//!   bare UDP echo of one 64-byte packet;
//! - signing a 10-input, 2-output PSBT through the simulator over UDP (P2WPKH, which streams
//!   every previous transaction, and taproot, which does not).

mod common;

use std::{
    hint::black_box,
    net::UdpSocket,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use bitcoin::Network;
use coldlink_bridge::{Transport, TransportError, UdpTransport, PACKET_SIZE};
use coldlink_signer::{Headless, ScriptKind};
use coldlink_sim::{
    fixtures::spending_psbt,
    trezor::{spawn_udp, TrezorOptions, TrezorSim},
};
use coldlink_trezor::{frame, messages as m, Reassembler, Trezor};
use common::{median, per_iter};
use prost::Message;

const ALL: &str = "all all all all all all all all all all all all";

fn host_overhead() -> (Duration, Duration) {
    let req = m::GetAddress {
        address_n: vec![0x8000_0054, 0x8000_0000, 0x8000_0000, 0, 7],
        coin_name: Some("Bitcoin".into()),
        show_display: Some(false),
        script_type: Some(m::InputScriptType::SpendWitness as i32),
    };
    let answer = m::Address {
        address: "bc1qannfxke2tfd4l7vhepehpvt05y83v3qsf6nfkk".into(),
    }
    .encode_to_vec();
    let answer_packets = frame(30, &answer).expect("frame");
    let ours = median(
        (0..7)
            .map(|_| {
                per_iter(200_000, || {
                    let bytes = req.encode_to_vec();
                    black_box(frame(29, &bytes).expect("frame"));
                    let mut r = Reassembler::new();
                    let mut got = None;
                    for p in &answer_packets {
                        got = r.push(p).expect("push");
                    }
                    let (_, body) = got.expect("whole");
                    black_box(m::Address::decode(body.as_slice()).expect("decode"));
                })
            })
            .collect(),
    );
    let req_len = req.encode_to_vec().len();
    let copy = median(
        (0..7)
            .map(|_| {
                per_iter(200_000, || {
                    let mut v = Vec::with_capacity(req_len + answer.len());
                    v.extend_from_slice(black_box(&answer[..]));
                    v.extend_from_slice(black_box(&answer[..req_len.min(answer.len())]));
                    black_box(v);
                })
            })
            .collect(),
    );
    (ours, copy)
}

fn udp_echo_round_trip(n: u32) -> Duration {
    let server = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = server.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        while let Ok((len, from)) = server.recv_from(&mut buf) {
            if server.send_to(&buf[..len], from).is_err() {
                break;
            }
        }
    });
    let c = UdpSocket::bind("127.0.0.1:0").expect("bind");
    c.connect(addr).expect("connect");
    let msg = [7u8; 64];
    let mut buf = [0u8; 64];
    per_iter(n, || {
        c.send(&msg).expect("send");
        c.recv(&mut buf).expect("recv");
    })
}

/// Counts the packets sent to the device.
struct Counting(UdpTransport, Arc<AtomicUsize>);

impl Transport for Counting {
    fn write_packet(&mut self, packet: &[u8]) -> Result<(), TransportError> {
        self.1.fetch_add(1, Ordering::Relaxed);
        self.0.write_packet(packet)
    }
    fn read_packet(&mut self, timeout: Duration) -> Result<[u8; PACKET_SIZE], TransportError> {
        self.0.read_packet(timeout)
    }
}

fn main() {
    println!("Trezor host and simulator figures (median of 7 batches)");
    let (ours, copy) = host_overhead();
    println!(
        "host overhead per message (GetAddress out, Address in): {:.2} µs   (copying the bytes: {:.3} µs; ratio {:.0}×)",
        ours.as_secs_f64() * 1e6,
        copy.as_secs_f64() * 1e6,
        ours.as_secs_f64() / copy.as_secs_f64()
    );

    let (server, _user) =
        spawn_udp(TrezorSim::new(ALL, TrezorOptions::default()).expect("sim")).expect("serve");
    let packets = Arc::new(AtomicUsize::new(0));
    let t = Counting(
        UdpTransport::connect(server.addr()).expect("connect"),
        Arc::clone(&packets),
    );
    let mut dev = Trezor::open(Box::new(t), Network::Bitcoin, Arc::new(Headless)).expect("open");
    let rt = median(
        (0..7)
            .map(|_| {
                per_iter(1_000, || {
                    black_box(dev.refresh().expect("features"));
                })
            })
            .collect(),
    );
    let echo = median((0..7).map(|_| udp_echo_round_trip(2_000)).collect());
    println!(
        "round trip to the simulator over UDP (GetFeatures → Features, 1 + 2 packets): {:.1} µs   (bare UDP echo of one packet: {:.1} µs; ratio {:.1}×)",
        rt.as_secs_f64() * 1e6,
        echo.as_secs_f64() * 1e6,
        rt.as_secs_f64() / echo.as_secs_f64()
    );

    for kind in [ScriptKind::NativeSegwit, ScriptKind::Taproot] {
        let (psbt, _) = spending_psbt(ALL, kind, 10);
        let before = packets.load(Ordering::Relaxed);
        let mut p = psbt.clone();
        dev.sign_psbt(&mut p, &Headless).expect("signed");
        let sent = packets.load(Ordering::Relaxed) - before;
        let time = median(
            (0..5)
                .map(|_| {
                    per_iter(3, || {
                        let mut p = psbt.clone();
                        black_box(dev.sign_psbt(&mut p, &Headless).expect("signed"));
                    })
                })
                .collect(),
        );
        println!(
            "sign a 10-input, 2-output {kind:?} PSBT over UDP: {:.1} ms, {sent} packets to the device   ({:.0}× the message round trip; target < 150 ms)",
            time.as_secs_f64() * 1e3,
            time.as_secs_f64() / rt.as_secs_f64()
        );
    }
}
