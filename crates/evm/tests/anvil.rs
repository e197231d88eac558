//! `coldlink-evm` against a real node: anvil started by the test with the public test mnemonic,
//! a real ERC-20 (`tests/fixtures/erc20/ColdToken.sol`, compiled artefact checked in beside
//! it) deployed, balances read in one round trip, native and token transfers prepared here,
//! signed by the software wallet, broadcast and followed to their receipts; a reverting
//! transfer shows as failed; a node that is down and a wrong chain id are clear errors.

use std::{str::FromStr, time::Duration};

use alloy_consensus::Transaction;
use alloy_consensus::TxEnvelope;
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::Address;
use bitcoin::bip32::DerivationPath;
use coldlink_evm::{
    balances, broadcast, parse_units, prepare_transfer, token_info, wait_for_receipt, Asset,
    EvmError, EvmNetwork, FeeChoice, Rpc, TransferRequest,
};
use coldlink_soft::SoftWallet;
use coldlink_testkit::{start_anvil, CHAIN};
use coldlink_types::Sensitive;

const MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

fn wallet() -> SoftWallet {
    SoftWallet::from_mnemonic(
        &Sensitive::new(MNEMONIC.to_owned()),
        &Sensitive::new(String::new()),
    )
    .expect("wallet")
}

fn path(i: u32) -> DerivationPath {
    DerivationPath::from_str(&format!("m/44'/60'/0'/0/{i}")).expect("path")
}

fn send(
    rpc: &Rpc,
    net: &EvmNetwork,
    w: &SoftWallet,
    from: u32,
    req: TransferRequest,
) -> coldlink_evm::Receipt {
    let prepared = prepare_transfer(rpc, net, &req).expect("prepared");
    let signed = w
        .sign_evm_transaction(&path(from), prepared.tx)
        .expect("signed");
    assert_eq!(signed.recover_signer().expect("recover"), req.from);
    let raw = TxEnvelope::from(signed).encoded_2718();
    let hash = broadcast(rpc, &raw).expect("broadcast");
    wait_for_receipt(rpc, hash, Duration::from_secs(10))
        .expect("receipt")
        .expect("mined")
}

#[test]
fn balances_transfers_and_failures_against_a_real_node() {
    let node = start_anvil(MNEMONIC);
    let net = EvmNetwork::custom("anvil", &node.url(), CHAIN, "ETH").expect("custom network");
    assert!(net.eip1559);
    let rpc = Rpc::new(&node.url()).expect("rpc");
    let w = wallet();
    let a0 = w.eth_address(&path(0)).expect("a0");
    let a1 = w.eth_address(&path(1)).expect("a1");
    let stranger = Address::from_str("0x00000000000000000000000000000000c0ffee03").expect("addr");

    let supply = 1_000_000u128 * 10u128.pow(18);
    let token_addr = Address::from_str(&coldlink_testkit::deploy_cold_token(
        node.port,
        &a0.to_string(),
        "CLD",
        supply,
    ))
    .expect("address");
    let token = token_info(&rpc, token_addr).expect("a token");
    assert_eq!((token.symbol.as_str(), token.decimals), ("CLD", 18));
    assert!(
        matches!(token_info(&rpc, stranger), Err(EvmError::Invalid(_))),
        "an account is not a token"
    );

    // Native transfer, EIP-1559, normal fee.
    let one = parse_units("1", 18).expect("1");
    let native = TransferRequest {
        from: a0,
        to: stranger,
        asset: Asset::Native,
        amount: one,
        fee: FeeChoice::Normal,
    };
    assert!(send(&rpc, &net, &w, 0, native.clone()).success);
    // Two token transfers in a row: the second takes the next nonce from the pending state.
    let t = Asset::Token(token.clone());
    for amount in ["12.25", "0.75"] {
        let req = TransferRequest {
            from: a0,
            to: a1,
            asset: t.clone(),
            amount: parse_units(amount, 18).expect("amt"),
            fee: FeeChoice::Fast,
        };
        assert!(send(&rpc, &net, &w, 0, req).success);
    }
    // Balances to the wei, every account and token in one round trip.
    let before = rpc.round_trips();
    let b = balances(&rpc, &[a0, a1, stranger], std::slice::from_ref(&token)).expect("balances");
    assert_eq!(rpc.round_trips() - before, 1);
    assert_eq!(b[2].native, one);
    assert_eq!(
        b[1].tokens[0].amount,
        Some(parse_units("13", 18).expect("13"))
    );
    assert_eq!(
        b[0].tokens[0].amount,
        Some(parse_units("999987", 18).expect("rest"))
    );

    // A chain without EIP-1559 fees gets a legacy (EIP-155) transaction; anvil takes both.
    let legacy_net = EvmNetwork {
        eip1559: false,
        ..net.clone()
    };
    let prepared = prepare_transfer(&rpc, &legacy_net, &native).expect("legacy");
    assert!(matches!(
        prepared.tx,
        alloy_consensus::TypedTransaction::Legacy(_)
    ));
    assert_eq!(
        prepared.tx.chain_id(),
        Some(CHAIN),
        "replay protection: the chain id is signed"
    );
    let signed = w
        .sign_evm_transaction(&path(0), prepared.tx)
        .expect("signed");
    let hash = broadcast(&rpc, &TxEnvelope::from(signed).encoded_2718()).expect("legacy accepted");
    assert!(
        wait_for_receipt(&rpc, hash, Duration::from_secs(10))
            .expect("r")
            .expect("mined")
            .success
    );

    // More tokens than held: refused before signing, with the balance in words.
    let too_much = TransferRequest {
        from: a1,
        to: a0,
        asset: t.clone(),
        amount: parse_units("14", 18).expect("14"),
        fee: FeeChoice::Normal,
    };
    let e = prepare_transfer(&rpc, &net, &too_much).expect_err("too much");
    assert!(e.to_string().contains("not enough CLD"), "{e}");

    // A transfer that reverts on chain is reported as failed: prepared for an amount a1 holds,
    // then changed to more than it holds (estimation would have refused it), signed, mined.
    let ok = TransferRequest {
        amount: parse_units("1", 18).expect("1"),
        ..too_much
    };
    let mut prepared = prepare_transfer(&rpc, &net, &ok).expect("prepared");
    if let alloy_consensus::TypedTransaction::Eip1559(tx) = &mut prepared.tx {
        tx.input =
            coldlink_evm::erc20::transfer_data(a0, parse_units("100", 18).expect("100")).into();
    }
    let signed = w
        .sign_evm_transaction(&path(1), prepared.tx)
        .expect("signed");
    let hash = broadcast(&rpc, &TxEnvelope::from(signed).encoded_2718()).expect("accepted");
    let r = wait_for_receipt(&rpc, hash, Duration::from_secs(10))
        .expect("receipt")
        .expect("mined");
    assert!(!r.success, "a reverted transfer is a failure");

    // A network configured with another chain id is refused up front.
    let wrong = EvmNetwork {
        chain_id: 1,
        ..net.clone()
    };
    let e = prepare_transfer(&rpc, &wrong, &native).expect_err("wrong chain");
    assert!(
        matches!(
            e,
            EvmError::ChainMismatch {
                expected: 1,
                actual: CHAIN
            }
        ),
        "{e}"
    );
    assert!(matches!(
        EvmNetwork::custom("x", &node.url(), 5, "ETH"),
        Err(EvmError::ChainMismatch { .. })
    ));

    // ENS: a registry stand-in (tests/fixtures/ens) maps alice.eth to a1; unknown names have
    // no address.
    let ens = deploy_mini_ens(&node, a0);
    let node_hash = coldlink_evm::ens::namehash("alice.eth").expect("namehash");
    let selector = alloy_primitives::keccak256(b"set(bytes32,address)");
    let set = format!(
        "0x{}{}{:0>64}",
        coldlink_testkit::hex(&selector[..4]),
        coldlink_testkit::hex(node_hash.as_slice()),
        coldlink_testkit::hex(a1.as_slice())
    );
    coldlink_testkit::rpc_raw(
        node.port,
        "eth_sendTransaction",
        serde_json::json!([{"from": a0, "to": ens, "data": set}]),
    )
    .expect("set");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        coldlink_evm::ens::resolve(&rpc, ens, "Alice.eth").expect("resolve"),
        Some(a1)
    );
    assert_eq!(
        coldlink_evm::ens::resolve(&rpc, ens, "bob.eth").expect("resolve"),
        None
    );

    // The node goes away: a clear error, not a hang.
    drop(node);
    let e = balances(&rpc, &[a0], &[]).expect_err("down");
    assert!(matches!(e, EvmError::Unreachable { .. }), "{e}");
}

/// Deploys the ENS stand-in; returns its address.
#[allow(clippy::panic)] // a test helper: a node that never deploys fails the test
fn deploy_mini_ens(node: &coldlink_testkit::Anvil, from: Address) -> Address {
    let code = include_str!("../../../tests/fixtures/ens/MiniEns.bin").trim();
    let hash = coldlink_testkit::rpc_raw(
        node.port,
        "eth_sendTransaction",
        serde_json::json!([{"from": from, "data": format!("0x{code}"), "gas": "0x100000"}]),
    )
    .expect("deploy");
    for _ in 0..200 {
        let r = coldlink_testkit::rpc_raw(
            node.port,
            "eth_getTransactionReceipt",
            serde_json::json!([hash]),
        )
        .expect("receipt");
        if let Some(a) = r.get("contractAddress").and_then(|v| v.as_str()) {
            return Address::from_str(a).expect("address");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("not deployed")
}

/// The Otterscan address index: ETH received directly and through a contract (an internal
/// transfer, which no log shows), ETH sent with the fee the receipt says, and paging from a
/// block on. The forwarding contract is 29 bytes of hand-assembled runtime code:
/// `CALL(gas, <to>, CALLVALUE, 0, 0, 0, 0)`.
#[test]
fn native_history_from_the_address_index() {
    use coldlink_testkit::{rpc_raw, send_unlocked};
    use serde_json::json;
    let node = start_anvil(MNEMONIC);
    let rpc = Rpc::new(&node.url()).expect("rpc");
    assert!(coldlink_evm::indexes_addresses(&rpc).expect("asked"));
    let w = wallet();
    let a0 = w.eth_address(&path(0)).expect("a0");
    let me = Address::from_str("0x00000000000000000000000000000000c0ffee07").expect("addr");
    let runtime = format!("5f5f5f5f3473{}5af100", hex_of(me));
    let init = format!("601d600c600039601d6000f3{runtime}");
    let (_, receipt) = send_unlocked(node.port, json!({"from": a0, "data": format!("0x{init}")}));
    let forwarder = receipt["contractAddress"]
        .as_str()
        .expect("created")
        .to_owned();
    let pay = |to: &str, wei: u64, from: String| {
        send_unlocked(
            node.port,
            json!({"from": from, "to": to, "value": format!("0x{wei:x}")}),
        )
        .0
    };
    let direct = pay(&me.to_string(), 1_000, a0.to_string());
    let through = pay(&forwarder, 300, a0.to_string());

    let h = coldlink_evm::native_history(&rpc, me, 0).expect("history");
    assert!(h.complete);
    let got: Vec<(String, i64, u64)> = h
        .moves
        .iter()
        .map(|m| (m.tx_hash.to_string(), m.index, m.value.to::<u64>()))
        .collect();
    assert_eq!(
        got,
        vec![(direct.clone(), -1, 1_000), (through.clone(), -2, 300)],
        "{h:?}"
    );
    let inner = &h.moves[1];
    assert_eq!(
        (inner.from.to_string().to_lowercase(), inner.to, inner.fee),
        (forwarder.to_lowercase(), me, None)
    );
    assert!(inner.time.is_some());

    // The sender's side: each transaction with the fee its receipt says.
    let h = coldlink_evm::native_history(&rpc, a0, 0).expect("sender");
    let sent = h
        .moves
        .iter()
        .find(|m| m.tx_hash.to_string() == direct)
        .expect("listed");
    let r = rpc_raw(node.port, "eth_getTransactionReceipt", json!([direct])).expect("r");
    let q = |k: &str| {
        u128::from_str_radix(r[k].as_str().expect(k).trim_start_matches("0x"), 16).expect(k)
    };
    assert_eq!(
        sent.fee.map(|f| f.to::<u128>()),
        Some(q("gasUsed") * q("effectiveGasPrice"))
    );
    // From a block on: only what came after.
    let after = h
        .moves
        .iter()
        .find(|m| m.tx_hash.to_string() == direct)
        .expect("d")
        .block;
    let later = coldlink_evm::native_history(&rpc, me, after).expect("later");
    assert_eq!(later.moves.len(), 1);
    assert_eq!(later.moves[0].tx_hash.to_string(), through);
}

fn hex_of(a: Address) -> String {
    a.as_slice().iter().map(|b| format!("{b:02x}")).collect()
}

/// A server whose address-index answers are malformed: each is a typed error, never a panic;
/// one that refuses the level call is simply a node without an index.
#[test]
fn malformed_history_answers_are_errors() {
    use coldlink_testkit::price_server;
    let me = Address::from_str("0x00000000000000000000000000000000c0ffee07").expect("addr");
    for body in [
        r#"{"jsonrpc":"2.0","id":1,"result":{"txs":5}}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{"txs":[{"from":"0x1"}],"receipts":[]}}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{"txs":[{"hash":"0x11","from":"0x00000000000000000000000000000000000000aa","blockNumber":"0x1"}]}}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{"txs":[{"hash":"0x1111111111111111111111111111111111111111111111111111111111111111","from":"0x00000000000000000000000000000000000000aa","blockNumber":"seven","value":"0x1"}]}}"#,
        "not json",
    ] {
        let rpc = Rpc::new(&price_server(body)).expect("rpc");
        let e = coldlink_evm::native_history(&rpc, me, 0).expect_err(body);
        assert!(matches!(e, EvmError::BadResponse(_)), "{body}: {e:?}");
    }
    let refusing = Rpc::new(&price_server(
        r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"the method ots_getApiLevel does not exist"}}"#,
    ))
    .expect("rpc");
    assert!(!coldlink_evm::indexes_addresses(&refusing).expect("answered"));
}
