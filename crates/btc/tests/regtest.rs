//! An account's wallet synced from a real node (Bitcoin Knots on regtest): coins sent to its
//! next receive address show as pending, then confirmed after a block, exactly; the state
//! persists across reopening; a node that is not there is a clear error.

use std::str::FromStr;

use bitcoin::{
    bip32::{DerivationPath, Xpriv, Xpub},
    secp256k1::Secp256k1,
    Amount, Network,
};
use coldlink_btc::{
    account_path,
    node::{Node, NodeAuth},
    sync::{AccountWallet, SyncError},
    BtcAccount, ScriptKind,
};
use coldlink_testkit::Bitcoind;

const MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

fn account() -> BtcAccount {
    let secp = Secp256k1::new();
    let seed = bip39::Mnemonic::parse_normalized(MNEMONIC)
        .expect("words")
        .to_seed("");
    let master = Xpriv::new_master(Network::Regtest, &seed).expect("master");
    let path: DerivationPath = account_path(ScriptKind::NativeSegwit, Network::Regtest, 0);
    let xpub = Xpub::from_priv(&secp, &master.derive_priv(&secp, &path).expect("derive"));
    BtcAccount::from_xpub(
        ScriptKind::NativeSegwit,
        Network::Regtest,
        master.fingerprint(&secp),
        &path,
        &xpub,
    )
    .expect("account")
}

fn rpc(url: &str) -> Node {
    Node {
        url: url.to_owned(),
        auth: NodeAuth::UserPass("coldlink".into(), "coldlink".into()),
    }
}

#[test]
fn a_synced_account_sees_pending_then_confirmed_coins() {
    let node = Bitcoind::start("btc-sync");
    node.cli(&["createwallet", "miner"]).expect("wallet");
    let miner = node.cli(&["getnewaddress"]).expect("address");
    node.cli(&["generatetoaddress", "101", &miner])
        .expect("mine");

    let dir = node.dir.join("coldlink");
    std::fs::create_dir_all(&dir).expect("dir");
    let db = dir.join("account-0.db");
    let mut w = AccountWallet::open(&db, &account()).expect("open");
    let receive = w.next_receive().expect("address");
    // BDK hands out the account's own first receive address (our derivation and BDK's agree).
    assert_eq!(receive, account().address(false, 0).expect("index 0"));
    assert!(receive.to_string().starts_with("bcrt1q"));
    node.cli(&["sendtoaddress", &receive.to_string(), "1.5"])
        .expect("send");
    w.sync_node(&rpc(&node.url())).expect("sync");
    let b = w.balances();
    assert_eq!(
        b.untrusted_pending,
        Amount::from_btc(1.5).expect("amount"),
        "{b:?}"
    );
    assert_eq!(b.confirmed, Amount::ZERO);
    node.cli(&["generatetoaddress", "1", &miner])
        .expect("confirm");
    let height = w.sync_node(&rpc(&node.url())).expect("sync");
    assert_eq!(height, 102);
    assert_eq!(w.balances().confirmed, Amount::from_sat(150_000_000));
    assert_ne!(
        w.next_receive().expect("next"),
        receive,
        "a paid address is not handed out again"
    );
    drop(w);

    // Reopened: the same state without a sync.
    let w = AccountWallet::open(&db, &account()).expect("reopen");
    assert_eq!(w.balances().confirmed, Amount::from_sat(150_000_000));

    // A first scan from a floor: blocks below it are skipped (mainnet segwit/taproot accounts
    // start at their activation), blocks from it are read.
    node.cli(&["generatetoaddress", "1", &miner]).expect("mine");
    let mut late = AccountWallet::open(&dir.join("late.db"), &account()).expect("open");
    assert_eq!(
        late.sync_node_from(&rpc(&node.url()), 103).expect("sync"),
        103
    );
    assert_eq!(
        late.balances().confirmed,
        Amount::ZERO,
        "the payment is in block 102"
    );
    let mut from = AccountWallet::open(&dir.join("from.db"), &account()).expect("open");
    from.sync_node_from(&rpc(&node.url()), 102).expect("sync");
    assert_eq!(from.balances().confirmed, Amount::from_sat(150_000_000));
    assert_eq!(
        coldlink_btc::sync::rpc_scan_floor(ScriptKind::Taproot, Network::Bitcoin),
        709_632
    );
    assert_eq!(
        coldlink_btc::sync::rpc_scan_floor(ScriptKind::NativeSegwit, Network::Bitcoin),
        481_824
    );
    assert_eq!(
        coldlink_btc::sync::rpc_scan_floor(ScriptKind::Legacy, Network::Bitcoin),
        0
    );
    assert_eq!(
        coldlink_btc::sync::rpc_scan_floor(ScriptKind::Taproot, Network::Regtest),
        0
    );

    // A single watched address, from the node's UTXO set (blocks only).
    let b = rpc(&node.url()).address_balance(&receive).expect("scan");
    assert_eq!(b.confirmed, Amount::from_sat(150_000_000));
    assert_eq!(b.pending, bitcoin::SignedAmount::ZERO);

    // Another account's descriptors on this file: refused, not mixed.
    let other = BtcAccount::from_xpub(
        ScriptKind::Taproot,
        Network::Regtest,
        account().fingerprint().expect("fp"),
        &DerivationPath::from_str("m/86'/1'/0'").expect("path"),
        &Xpub::from_str("tpubDC88gkaZi5HvJGxGDNLADkvtdpni3mLmx6vr2KnXmWMG8zfkBRggsxHVBkUpgcwPe2KKpkyvTJCdXHb1UHEWE64vczyyPQfHr1skBcsRedN").expect("tpub"),
    )
    .expect("other");
    assert!(matches!(
        AccountWallet::open(&db, &other),
        Err(SyncError::Mismatch(_))
    ));

    // Nobody listening.
    let mut w = AccountWallet::open(&db, &account()).expect("reopen");
    assert!(matches!(
        w.sync_node(&rpc("http://127.0.0.1:9")),
        Err(SyncError::Node(_))
    ));
}
