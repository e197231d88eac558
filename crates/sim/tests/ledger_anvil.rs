//! Transactions signed through Coldlink's Ledger host code by the simulated Ledger are
//! accepted by a real Ethereum node (anvil, installed by `scripts/setup`), which executes them
//! exactly; a transaction signed for another chain is refused.
//!
//! anvil is started with the public "abandon … about" mnemonic, so the simulated device's
//! first account is pre-funded.

// Test helpers outside #[test] functions may fail the test loudly.
#![allow(clippy::panic)]

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    str::FromStr,
    time::{Duration, Instant},
};

use alloy_consensus::{TxEip1559, TxEip2930, TxEnvelope, TxLegacy, TypedTransaction};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{address, Address, Bytes, TxKind, U256};
use bitcoin::bip32::DerivationPath;
use coldlink_ledger::{eth, SpeculosExchange};
use coldlink_sim::ledger::{spawn_speculos, LedgerSim};
use serde_json::{json, Value};

const MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const CHAIN: u64 = 31337;
const TO: Address = address!("00000000000000000000000000000000c0ffee01");

struct Anvil {
    child: Child,
    port: u16,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn anvil_binary() -> String {
    std::env::var("COLDLINK_ANVIL").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/coldlink/tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
    })
}

fn start_anvil() -> Anvil {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let bin = anvil_binary();
    let child = Command::new(&bin)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--chain-id", &CHAIN.to_string(), "--mnemonic", MNEMONIC])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start anvil at {bin} ({e}): run scripts/setup"));
    let anvil = Anvil { child, port };
    let deadline = Instant::now() + Duration::from_secs(20);
    while rpc_raw(port, "eth_chainId", json!([])).is_err() {
        assert!(Instant::now() < deadline, "anvil did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    anvil
}

/// JSON-RPC over HTTP/1.0 (so the node answers without chunked encoding).
fn rpc_raw(port: u16, method: &str, params: Value) -> Result<Value, String> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    let req = format!(
        "POST / HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).map_err(|e| e.to_string())?;
    let json = resp.split_once("\r\n\r\n").map(|x| x.1).ok_or("no body")?;
    let v: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    match v.get("error") {
        Some(e) => Err(e.to_string()),
        None => Ok(v["result"].clone()),
    }
}

fn u256(v: &Value) -> U256 {
    U256::from_str(v.as_str().expect("hex string")).expect("quantity")
}

#[test]
fn anvil_accepts_what_the_simulated_ledger_signed() {
    let node = start_anvil();
    let rpc = |m: &str, p: Value| rpc_raw(node.port, m, p);
    let (server, user) = spawn_speculos(LedgerSim::new(MNEMONIC).expect("sim")).expect("serve");
    user.set_app(Some("Ethereum"));
    let mut dev = SpeculosExchange::connect(server.addr(), Duration::from_secs(10)).expect("c");
    let path = DerivationPath::from_str("m/44'/60'/0'/0/0").expect("path");
    let from = eth::address(&mut dev, &path, false, false)
        .expect("address")
        .address;

    let one_eth = U256::from(10u128.pow(18));
    let txs = [
        TypedTransaction::Eip1559(TxEip1559 {
            chain_id: CHAIN,
            nonce: 0,
            gas_limit: 21_000,
            max_fee_per_gas: 20_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: TxKind::Call(TO),
            value: one_eth,
            access_list: Default::default(),
            input: Bytes::new(),
        }),
        TypedTransaction::Legacy(TxLegacy {
            chain_id: Some(CHAIN),
            nonce: 1,
            gas_price: 20_000_000_000,
            gas_limit: 21_000,
            to: TxKind::Call(TO),
            value: U256::from(2u8),
            input: Bytes::new(),
        }),
        TypedTransaction::Eip2930(TxEip2930 {
            chain_id: CHAIN,
            nonce: 2,
            gas_price: 20_000_000_000,
            gas_limit: 21_000,
            to: TxKind::Call(TO),
            value: U256::from(3u8),
            access_list: Default::default(),
            input: Bytes::new(),
        }),
    ];
    for tx in txs {
        let signed = eth::sign_transaction(&mut dev, &path, tx).expect("signed");
        let raw = TxEnvelope::from(signed).encoded_2718();
        let hash = rpc(
            "eth_sendRawTransaction",
            json!([format!("0x{}", hex(&raw))]),
        )
        .expect("the node accepts the signed transaction");
        // anvil mines each transaction at once, but the receipt can lag the submission.
        let deadline = Instant::now() + Duration::from_secs(10);
        let receipt = loop {
            let r = rpc("eth_getTransactionReceipt", json!([hash])).expect("receipt");
            if !r.is_null() || Instant::now() > deadline {
                break r;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(receipt["status"], "0x1", "{receipt}");
        assert_eq!(
            Address::from_str(receipt["from"].as_str().expect("from")).expect("addr"),
            from
        );
    }
    let balance = u256(&rpc("eth_getBalance", json!([TO.to_string(), "latest"])).expect("bal"));
    assert_eq!(balance, one_eth + U256::from(5u8), "to the wei");

    // Replay protection: the same account, signing for chain 1, is refused by this chain.
    let foreign = TypedTransaction::Eip1559(TxEip1559 {
        chain_id: 1,
        nonce: 3,
        gas_limit: 21_000,
        max_fee_per_gas: 20_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(TO),
        value: U256::from(1u8),
        access_list: Default::default(),
        input: Bytes::new(),
    });
    let signed = eth::sign_transaction(&mut dev, &path, foreign).expect("device signs it");
    let raw = TxEnvelope::from(signed).encoded_2718();
    let err = rpc(
        "eth_sendRawTransaction",
        json!([format!("0x{}", hex(&raw))]),
    )
    .expect_err("a node of another chain must refuse it");
    assert!(err.to_lowercase().contains("chain"), "{err}");
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
