//! Sending from accounts against a real node (Bitcoin Knots, regtest), signed by the software
//! wallet: segwit v0 and taproot sends settle to the satoshi; every reject path says why and
//! broadcasts nothing; RBF and CPFP reach the mempool at the asked rate; a watch-only account
//! exports an unsigned PSBT, another signer signs it, and the import is checked and broadcast.

use std::str::FromStr;

use bitcoin::{Amount, Network, Psbt, Txid};
use coldlink_btc::{
    account_path,
    node::{Node, NodeAuth},
    parse_watch,
    send::{parse_address, parse_amount, parse_psbt, SendError, SendRequest, Unit},
    sync::{AccountWallet, SyncError},
    BtcAccount, ScriptKind, Watched,
};
use coldlink_signer::{BitcoinSigner, Headless, Signer};
use coldlink_soft::SoftWallet;
use coldlink_testkit::Bitcoind;
use coldlink_types::Sensitive;

const MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

fn soft() -> SoftWallet {
    SoftWallet::from_mnemonic(
        &Sensitive::new(MNEMONIC.to_owned()),
        &Sensitive::new(String::new()),
    )
    .expect("wallet")
}

fn account(signer: &mut SoftWallet, kind: ScriptKind) -> BtcAccount {
    let path = account_path(kind, Network::Regtest, 0);
    let xpub = signer.xpub(&path, false).expect("xpub");
    let fp = signer.master_fingerprint().expect("fp");
    BtcAccount::from_xpub(
        kind,
        Network::Regtest,
        bitcoin::bip32::Fingerprint::from(fp.0),
        &path,
        &xpub,
    )
    .expect("account")
}

struct Chain {
    node: Bitcoind,
    miner: String,
}

impl Chain {
    fn start(tag: &str) -> Self {
        let node = Bitcoind::start(tag);
        node.cli(&["createwallet", "miner"]).expect("wallet");
        let miner = node.cli(&["getnewaddress", "", "bech32"]).expect("address");
        node.cli(&["generatetoaddress", "101", &miner])
            .expect("mine");
        Self { node, miner }
    }
    fn rpc(&self) -> Node {
        Node {
            url: self.node.url(),
            auth: NodeAuth::UserPass("coldlink".into(), "coldlink".into()),
        }
    }
    fn mine(&self) {
        self.node
            .cli(&["generatetoaddress", "1", &self.miner])
            .expect("mine");
    }
    fn fund(&self, w: &mut AccountWallet, btc: &str) {
        let a = w.next_receive().expect("address").to_string();
        self.node.cli(&["sendtoaddress", &a, btc]).expect("fund");
    }
    fn mempool(&self) -> Vec<String> {
        let v: serde_json::Value =
            serde_json::from_str(&self.node.cli(&["getrawmempool"]).expect("mempool"))
                .expect("json");
        v.as_array()
            .expect("array")
            .iter()
            .map(|t| t.as_str().expect("txid").to_owned())
            .collect()
    }
    fn dir(&self) -> std::path::PathBuf {
        let d = self.node.dir.join("coldlink");
        std::fs::create_dir_all(&d).expect("dir");
        d
    }
}

fn sign(signer: &mut SoftWallet, psbt: &Psbt) -> Psbt {
    let mut p = psbt.clone();
    let n = signer.sign_psbt(&mut p, &Headless).expect("signs");
    assert_eq!(n, p.inputs.len(), "every input signed");
    p
}

fn sats(n: u64) -> Amount {
    Amount::from_sat(n)
}

#[test]
fn segwit_and_taproot_sends_settle_to_the_satoshi() {
    let chain = Chain::start("btc-send");
    let node = chain.rpc();
    let mut signer = soft();
    for (n, kind) in [ScriptKind::NativeSegwit, ScriptKind::Taproot]
        .into_iter()
        .enumerate()
    {
        let acc = account(&mut signer, kind);
        let mut w = AccountWallet::open(&chain.dir().join(format!("a{n}.db")), &acc).expect("open");
        chain.fund(&mut w, "1.0");
        chain.fund(&mut w, "0.5");
        chain.mine();
        w.sync_node(&node).expect("sync");
        assert_eq!(w.balances().confirmed, sats(150_000_000));
        assert_eq!(w.coins().len(), 2);

        let to = parse_address(&chain.miner, Network::Regtest).expect("address");
        let amount = parse_amount("1.2", Unit::Btc).expect("amount");
        let draft = w
            .build_send(&SendRequest {
                recipients: vec![(to.clone(), amount)],
                fee_rate: 5,
                ..Default::default()
            })
            .expect("build");
        let r = &draft.review;
        assert!(r.rbf, "replace-by-fee signalled by default");
        assert_eq!(r.inputs.len(), 2);
        assert_eq!(r.sent, amount);
        assert_eq!(r.outputs.len(), 2);
        let change = r.outputs.iter().find(|o| o.change).expect("change");
        assert_eq!(r.outputs.iter().filter(|o| o.change).count(), 1);
        assert!(r
            .outputs
            .iter()
            .any(|o| !o.change && o.address == chain.miner));
        assert_eq!(
            r.fee + change.amount + amount,
            sats(150_000_000),
            "inputs = outputs + fee"
        );
        assert_eq!(r.fee_rate_decis / 10, 5, "{r:?}");
        assert!(r.fee_warning(500, None).is_none());

        let tx = w
            .finish(&draft, &sign(&mut signer, &draft.psbt))
            .expect("checks pass");
        // The review's size is an upper bound of the signed size, and close to it.
        let real = tx.vsize() as u64;
        assert!(
            r.vsize >= real && r.vsize <= real + 2,
            "{} vs {real}",
            r.vsize
        );
        let txid = node.broadcast(&tx).expect("broadcast");
        assert_eq!(txid, tx.compute_txid());
        w.record_broadcast(tx, 1).expect("record");
        assert_eq!(
            w.balances().trusted_pending,
            change.amount,
            "change shows at once"
        );
        chain.mine();
        w.sync_node(&node).expect("sync");
        assert_eq!(
            w.balances().confirmed,
            sats(150_000_000) - amount - r.fee,
            "{kind:?}"
        );
    }
}

#[test]
fn bad_sends_say_why_and_broadcast_nothing() {
    let chain = Chain::start("btc-reject");
    let node = chain.rpc();
    let mut signer = soft();
    let mut w = AccountWallet::open(
        &chain.dir().join("a.db"),
        &account(&mut signer, ScriptKind::Taproot),
    )
    .expect("open");
    chain.fund(&mut w, "0.1");
    chain.mine();
    w.sync_node(&node).expect("sync");
    let to = parse_address(&chain.miner, Network::Regtest).expect("address");
    let req = |amount: u64| SendRequest {
        recipients: vec![(to.clone(), sats(amount))],
        fee_rate: 2,
        ..Default::default()
    };

    // Addresses and amounts, each with its message.
    let typo = {
        let mut s = chain.miner.clone();
        let last = s.pop().expect("char");
        s.push(if last == 'q' { 'p' } else { 'q' });
        s
    };
    let e = parse_address(&typo, Network::Regtest).expect_err("typo");
    assert!(e.to_string().contains("check it for a typo"), "{e}");
    let e = parse_address(
        "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu",
        Network::Regtest,
    )
    .expect_err("mainnet");
    assert!(
        e.to_string()
            .contains("for mainnet, but this account is on regtest"),
        "{e}"
    );
    assert!(
        parse_amount("1.000000001", Unit::Btc).is_err(),
        "9 decimals"
    );
    assert!(parse_amount("0", Unit::Sats).is_err());
    assert!(parse_amount("-5", Unit::Sats).is_err());

    let e = w.build_send(&req(20_000_000)).expect_err("too much");
    assert!(
        matches!(
            e,
            SendError::InsufficientFunds {
                available: 10_000_000,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("not enough funds"), "{e}");
    let e = w.build_send(&req(100)).expect_err("dust");
    assert!(matches!(e, SendError::Dust { limit: 294, .. }), "{e}");
    assert!(e.to_string().contains("below the dust limit"), "{e}");

    // A device that changed an output, one that signed nothing, one whose signature is bad.
    let draft = w.build_send(&req(1_000_000)).expect("build");
    let mut changed = sign(&mut signer, &draft.psbt);
    changed.unsigned_tx.output[0].value += sats(1);
    let e = w.finish(&draft, &changed).expect_err("changed");
    assert!(matches!(e, SendError::Changed(_)), "{e}");
    assert!(e.to_string().contains("has another amount"), "{e}");
    let e = w.finish(&draft, &draft.psbt).expect_err("unsigned");
    assert!(matches!(e, SendError::Unsigned(0)), "{e}");
    let mut forged = sign(&mut signer, &draft.psbt);
    let sig = forged.inputs[0]
        .tap_key_sig
        .as_mut()
        .expect("taproot signature");
    let mut bytes = sig.signature.serialize();
    bytes[10] ^= 1;
    sig.signature = bitcoin::secp256k1::schnorr::Signature::from_slice(&bytes).expect("sig");
    let e = w.finish(&draft, &forged).expect_err("forged");
    assert!(matches!(e, SendError::Invalid(_)), "{e}");
    assert!(e.to_string().contains("script check"), "{e}");
    assert!(chain.mempool().is_empty(), "nothing was broadcast");

    // Backend down mid-use: a clear error, the last known state kept.
    let down = Node {
        url: "http://127.0.0.1:9".into(),
        auth: NodeAuth::UserPass("x".into(), "y".into()),
    };
    let e = w.sync_node(&down).expect_err("down");
    assert!(matches!(e, SyncError::Node(_)));
    assert!(e.to_string().contains("cannot be reached"), "{e}");
    assert_eq!(w.balances().confirmed, sats(10_000_000));
    // A node of another network is refused before anything is read from it.
    let mainnet_acc = {
        let path = account_path(ScriptKind::NativeSegwit, Network::Bitcoin, 0);
        let xpub = signer.xpub(&path, false).expect("xpub");
        BtcAccount::from_xpub(
            ScriptKind::NativeSegwit,
            Network::Bitcoin,
            bitcoin::bip32::Fingerprint::from(signer.master_fingerprint().expect("fp").0),
            &path,
            &xpub,
        )
        .expect("account")
    };
    let mut m = AccountWallet::open(&chain.dir().join("main.db"), &mainnet_acc).expect("open");
    let e = m
        .sync_node(&node)
        .expect_err("regtest node for a mainnet account");
    assert!(
        e.to_string()
            .contains("runs regtest, but the account is on bitcoin"),
        "{e}"
    );
    // The node's own refusal (a double spend) comes through as it is.
    let a = w.build_send(&req(1_000_000)).expect("a");
    let tx_a = w.finish(&a, &sign(&mut signer, &a.psbt)).expect("a ok");
    node.broadcast(&tx_a).expect("first");
    let mut conflict = tx_a.clone();
    conflict.output[0].value -= sats(10);
    let e = node.broadcast(&conflict).expect_err("invalid");
    assert!(e.to_string().contains("refused"), "{e}");
}

#[test]
fn rbf_and_cpfp_reach_the_mempool_at_the_asked_rate() {
    let chain = Chain::start("btc-bump");
    let node = chain.rpc();
    let mut signer = soft();
    let mut w = AccountWallet::open(
        &chain.dir().join("a.db"),
        &account(&mut signer, ScriptKind::NativeSegwit),
    )
    .expect("open");
    chain.fund(&mut w, "0.5");
    chain.mine();
    w.sync_node(&node).expect("sync");
    let to = parse_address(&chain.miner, Network::Regtest).expect("address");

    // RBF: a 1 sat/vB send replaced at 12 sat/vB.
    let slow = w
        .build_send(&SendRequest {
            recipients: vec![(to, sats(10_000_000))],
            fee_rate: 1,
            ..Default::default()
        })
        .expect("build");
    let tx = w.finish(&slow, &sign(&mut signer, &slow.psbt)).expect("ok");
    let old = node.broadcast(&tx).expect("broadcast");
    w.record_broadcast(tx, 1).expect("record");
    let e = w.bump_fee(old, 1).expect_err("same rate");
    assert!(e.to_string().contains("at least"), "{e}");
    let bump = w.bump_fee(old, 12).expect("bump");
    assert_eq!(
        bump.review.sent,
        sats(10_000_000),
        "the payment itself is unchanged"
    );
    assert!(bump.review.fee > slow.review.fee);
    let tx = w.finish(&bump, &sign(&mut signer, &bump.psbt)).expect("ok");
    let new = node.broadcast(&tx).expect("replacement accepted");
    assert_eq!(
        chain.mempool(),
        vec![new.to_string()],
        "the old one is gone"
    );
    let entry = node.mempool_entry(new).expect("node").expect("in mempool");
    // BDK pays 12 sat/vB on the exact weight; the node rounds the size up to whole vbytes.
    assert!(entry.fee.to_sat() >= 12 * (entry.vsize - 1), "{entry:?}");
    assert!(node.mempool_entry(old).expect("node").is_none());
    chain.mine();
    w.sync_node(&node).expect("sync");
    let e = w.bump_fee(new, 20).expect_err("confirmed");
    assert!(e.to_string().contains("already confirmed"), "{e}");

    // CPFP: an incoming payment stuck at 1 sat/vB without RBF, pulled up to 25 sat/vB.
    let a = w.next_receive().expect("address").to_string();
    let parent: Txid = chain
        .node
        .cli(&[
            "-named",
            "sendtoaddress",
            &format!("address={a}"),
            "amount=0.2",
            "fee_rate=1",
            "replaceable=false",
        ])
        .expect("send")
        .parse()
        .expect("txid");
    w.sync_node(&node).expect("sync");
    let p = node.mempool_entry(parent).expect("node").expect("parent");
    let child = w.cpfp(parent, p.fee, p.vsize, 25).expect("cpfp");
    assert_eq!(child.review.inputs.len(), 1);
    assert_eq!(child.review.inputs[0].0.txid, parent);
    assert!(child.review.outputs.iter().all(|o| o.change));
    let tx = w
        .finish(&child, &sign(&mut signer, &child.psbt))
        .expect("ok");
    let c = node.broadcast(&tx).expect("child accepted");
    w.record_broadcast(tx, 2).expect("record");
    let ce = node.mempool_entry(c).expect("node").expect("child");
    let package_rate = (p.fee + ce.fee).to_sat() as f64 / (p.vsize + ce.vsize) as f64;
    assert!(
        (25.0..26.0).contains(&package_rate),
        "package {package_rate} sat/vB"
    );
    let e = w
        .cpfp(parent, p.fee, p.vsize, 1)
        .expect_err("already enough");
    assert!(
        matches!(e, SendError::Bump(_) | SendError::UnknownCoin(_)),
        "{e}"
    );
}

#[test]
fn watch_only_exports_a_psbt_another_signer_signs_and_the_import_is_checked() {
    let chain = Chain::start("btc-psbt");
    let node = chain.rpc();
    let mut signer = soft();
    // What an air-gapped signer exports: a descriptor with its key origin.
    let desc = account(&mut signer, ScriptKind::NativeSegwit)
        .external
        .to_string();
    let Watched::Account(acc) = parse_watch(&desc, Network::Regtest, None).expect("descriptor")
    else {
        panic!("an account")
    };
    let mut w = AccountWallet::open(&chain.dir().join("w.db"), &acc).expect("open");
    chain.fund(&mut w, "0.3");
    chain.mine();
    w.sync_node(&node).expect("sync");
    let to = parse_address(&chain.miner, Network::Regtest).expect("address");
    let draft = w
        .build_send(&SendRequest {
            recipients: vec![],
            send_max_to: Some(to),
            fee_rate: 3,
            ..Default::default()
        })
        .expect("send max");
    assert_eq!(draft.review.outputs.len(), 1, "send max leaves no change");
    assert_eq!(draft.review.sent + draft.review.fee, sats(30_000_000));

    // Out as base64 text, signed elsewhere, back in as a binary file.
    let exported = draft.psbt.to_string();
    let mut elsewhere = Psbt::from_str(&exported).expect("parse");
    signer.sign_psbt(&mut elsewhere, &Headless).expect("signs");
    let file = elsewhere.serialize();
    let imported = parse_psbt(&file).expect("binary");
    assert!(parse_psbt(b"not a psbt").is_err());
    let tx = w.finish(&draft, &imported).expect("checks pass");
    node.broadcast(&tx).expect("broadcast");
    chain.mine();
    w.sync_node(&node).expect("sync");
    assert_eq!(w.balances().confirmed, Amount::ZERO);
}
