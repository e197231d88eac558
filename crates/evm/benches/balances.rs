//! Balances of 5 accounts × 20 ERC-20 tokens (plus native) from a local anvil node: time and
//! round trips, beside one bare `eth_chainId` round trip measured in the same run (target:
//! under 300 ms and at most 3 round trips). Run: `cargo bench -p coldlink-evm`.

use std::{str::FromStr, time::Instant};

use alloy_primitives::Address;
use coldlink_evm::{balances, token_info, Rpc};
use coldlink_testkit::{deploy_cold_token, start_anvil};

const MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const DEPLOYER: &str = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let node = start_anvil(MNEMONIC);
    let rpc = Rpc::new(&node.url()).expect("rpc");
    let tokens: Vec<_> = (0..20)
        .map(|i| {
            let a = deploy_cold_token(node.port, DEPLOYER, &format!("T{i}"), 1_000_000);
            token_info(&rpc, Address::from_str(&a).expect("address")).expect("token")
        })
        .collect();
    let accounts: Vec<Address> = (0..5u8)
        .map(|i| {
            let mut b = [0u8; 20];
            b[19] = i + 1;
            if i == 0 {
                Address::from_str(DEPLOYER).expect("deployer")
            } else {
                Address::from(b)
            }
        })
        .collect();
    let baseline = median(
        (0..50)
            .map(|_| {
                let t = Instant::now();
                rpc.chain_id().expect("chain id");
                t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    let before = rpc.round_trips();
    balances(&rpc, &accounts, &tokens).expect("warm-up");
    let trips = rpc.round_trips() - before;
    let time = median(
        (0..21)
            .map(|_| {
                let t = Instant::now();
                let b = balances(&rpc, &accounts, &tokens).expect("balances");
                assert_eq!(b[0].tokens.len(), 20);
                t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    println!(
        "balances of 5 accounts x 20 tokens (+ native), local anvil: {:.1} ms in {trips} round trip(s)   (one eth_chainId round trip: {:.2} ms; ratio {:.0}x; target < 300 ms, <= 3 round trips)",
        time * 1e3,
        baseline * 1e3,
        time / baseline
    );
}
