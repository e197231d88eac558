//! Software signing throughput. A benchmark, not a test: prints figures, each beside raw
//! secp256k1 signing measured in the same run (the floor any signer pays). Run:
//! `cargo bench -p coldlink-soft`.

use std::{
    hint::black_box,
    str::FromStr,
    time::{Duration, Instant},
};

use alloy_consensus::{TxEip1559, TypedTransaction};
use alloy_primitives::{Address, Bytes, TxKind, U256};
use bitcoin::{
    bip32::DerivationPath,
    secp256k1::{Message, Secp256k1, SecretKey},
};
use coldlink_signer::{BitcoinSigner, ScriptKind};
use coldlink_soft::SoftWallet;
use coldlink_types::Sensitive;

const MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let mut w = SoftWallet::from_mnemonic(
        &Sensitive::new(MNEMONIC.to_owned()),
        &Sensitive::new(String::new()),
    )
    .expect("wallet");
    let (psbt, _) = coldlink_sim::fixtures::spending_psbt(MNEMONIC, ScriptKind::NativeSegwit, 100);
    let psbt_times: Vec<Duration> = (0..7)
        .map(|_| {
            let mut p = psbt.clone();
            let t = Instant::now();
            assert_eq!(
                w.sign_psbt(&mut p, &coldlink_signer::Headless)
                    .expect("signed"),
                100
            );
            t.elapsed()
        })
        .collect();
    let secp = Secp256k1::new();
    let key = SecretKey::from_slice(&[0x11; 32]).expect("key");
    let raw_times: Vec<Duration> = (0..7)
        .map(|_| {
            let t = Instant::now();
            for i in 0..100u8 {
                black_box(secp.sign_ecdsa(&Message::from_digest([i; 32]), &key));
            }
            t.elapsed()
        })
        .collect();
    let (p, r) = (median(psbt_times), median(raw_times));
    println!(
        "sign a 100-input P2WPKH PSBT: {:.1} ms   (100 bare ECDSA signatures: {:.1} ms; ratio {:.1}×; target < 50 ms)",
        p.as_secs_f64() * 1e3,
        r.as_secs_f64() * 1e3,
        p.as_secs_f64() / r.as_secs_f64()
    );

    let path = DerivationPath::from_str("m/44'/60'/0'/0/0").expect("path");
    let tx = |nonce| {
        TypedTransaction::Eip1559(TxEip1559 {
            chain_id: 1,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: 30_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: TxKind::Call(Address::ZERO),
            value: U256::from(1u8),
            access_list: Default::default(),
            input: Bytes::new(),
        })
    };
    let n = 2_000u64;
    let t = Instant::now();
    for nonce in 0..n {
        black_box(w.sign_evm_transaction(&path, tx(nonce)).expect("signed"));
    }
    let evm = n as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for i in 0..n {
        black_box(secp.sign_ecdsa_recoverable(&Message::from_digest([i as u8; 32]), &key));
    }
    let raw = n as f64 / t.elapsed().as_secs_f64();
    println!(
        "EIP-1559 transactions signed: {evm:.0}/s   (bare recoverable ECDSA: {raw:.0}/s; ratio {:.2}; target > 5000/s)",
        evm / raw
    );
}
