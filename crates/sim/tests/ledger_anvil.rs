//! Transactions signed through Coldlink's Ledger host code by the simulated Ledger are
//! accepted by a real Ethereum node (anvil, installed by `scripts/setup`), which executes them
//! exactly; a transaction signed for another chain is refused.
//!
//! anvil is started with the public "abandon … about" mnemonic, so the simulated device's
//! first account is pre-funded.

use std::{
    str::FromStr,
    time::{Duration, Instant},
};

use alloy_consensus::{TxEip1559, TxEip2930, TxEnvelope, TxLegacy, TypedTransaction};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{address, Address, Bytes, TxKind, U256};
use bitcoin::bip32::DerivationPath;
use coldlink_ledger::{eth, SpeculosExchange};
use coldlink_sim::ledger::{spawn_speculos, LedgerSim};
use coldlink_testkit::{hex, rpc_raw, start_anvil, CHAIN};
use serde_json::{json, Value};

const MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const TO: Address = address!("00000000000000000000000000000000c0ffee01");

#[test]
fn anvil_accepts_what_the_simulated_ledger_signed() {
    let node = start_anvil(MNEMONIC);
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

fn u256(v: &serde_json::Value) -> U256 {
    U256::from_str(v.as_str().expect("hex string")).expect("quantity")
}
