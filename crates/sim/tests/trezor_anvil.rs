//! Transactions signed through Coldlink's Trezor host code by the simulated Trezor are
//! accepted by a real Ethereum node (anvil) and executed exactly; one signed for another
//! chain is refused. anvil runs with Trezor's test seed (`all` ×12), so the device's first
//! account is funded.

use std::{str::FromStr, sync::Arc};

use alloy_consensus::{TxEip1559, TxEnvelope, TxLegacy, TypedTransaction};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{address, Address, Bytes, TxKind, U256};
use bitcoin::{bip32::DerivationPath, Network};
use coldlink_bridge::UdpTransport;
use coldlink_signer::Headless;
use coldlink_sim::trezor::{spawn_udp, TrezorOptions, TrezorSim};
use coldlink_testkit::{hex, rpc_raw, send_and_confirm, start_anvil, CHAIN};
use coldlink_trezor::Trezor;
use serde_json::json;

const ALL: &str = "all all all all all all all all all all all all";
const TO: Address = address!("00000000000000000000000000000000c0ffee02");

#[test]
fn anvil_accepts_what_the_simulated_trezor_signed() {
    let node = start_anvil(ALL);
    let (server, _user) =
        spawn_udp(TrezorSim::new(ALL, TrezorOptions::default()).expect("sim")).expect("serve");
    let t = UdpTransport::connect(server.addr()).expect("connect");
    let mut dev = Trezor::open(Box::new(t), Network::Bitcoin, Arc::new(Headless)).expect("open");
    let path = DerivationPath::from_str("m/44'/60'/0'/0/0").expect("path");
    let from = dev.eth_address(&path, false).expect("address");
    // A contract call's worth of data (3000 bytes, sent in three chunks) to a plain account.
    let data = Bytes::from(vec![0x5a; 3000]);
    let txs = [
        TypedTransaction::Eip1559(TxEip1559 {
            chain_id: CHAIN,
            nonce: 0,
            // 21 000 + the EIP-7623 calldata floor (10 gas per token, 4 tokens per non-zero byte).
            gas_limit: 200_000,
            max_fee_per_gas: 20_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: TxKind::Call(TO),
            value: U256::from(10u128.pow(18)),
            access_list: Default::default(),
            input: data,
        }),
        TypedTransaction::Legacy(TxLegacy {
            chain_id: Some(CHAIN),
            nonce: 1,
            gas_price: 20_000_000_000,
            gas_limit: 21_000,
            to: TxKind::Call(TO),
            value: U256::from(7u8),
            input: Bytes::new(),
        }),
    ];
    for tx in txs {
        let signed = dev.eth_sign_transaction(&path, tx).expect("signed");
        let receipt = send_and_confirm(node.port, &TxEnvelope::from(signed).encoded_2718());
        assert_eq!(receipt["status"], "0x1", "{receipt}");
        assert_eq!(
            Address::from_str(receipt["from"].as_str().expect("from")).expect("addr"),
            from
        );
    }
    let balance = u256(
        &rpc_raw(
            node.port,
            "eth_getBalance",
            json!([TO.to_string(), "latest"]),
        )
        .expect("bal"),
    );
    assert_eq!(
        balance,
        U256::from(10u128.pow(18)) + U256::from(7u8),
        "to the wei"
    );

    // Replay protection: signed for chain 1, refused by this chain.
    let foreign = TypedTransaction::Eip1559(TxEip1559 {
        chain_id: 1,
        nonce: 2,
        gas_limit: 21_000,
        max_fee_per_gas: 20_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(TO),
        value: U256::from(1u8),
        access_list: Default::default(),
        input: Bytes::new(),
    });
    let signed = dev
        .eth_sign_transaction(&path, foreign)
        .expect("device signs it");
    let raw = TxEnvelope::from(signed).encoded_2718();
    let err = rpc_raw(
        node.port,
        "eth_sendRawTransaction",
        json!([format!("0x{}", hex(&raw))]),
    )
    .expect_err("a node of another chain must refuse it");
    assert!(err.to_lowercase().contains("chain"), "{err}");
}

fn u256(v: &serde_json::Value) -> U256 {
    U256::from_str(v.as_str().expect("hex string")).expect("quantity")
}
