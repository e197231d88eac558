//! Bitcoin Core itself (Bitcoin Knots 29, a Core derivative, on regtest) using Coldlink as its
//! external signer: `bitcoind -signer="coldlink hwi"` with the simulated Ledger (Bitcoin Test
//! app) behind the Speculos port. Core enumerates the signer, imports its descriptors into an
//! external-signer wallet, shows an address on the device, and sends coins, with the device
//! signing; the transaction confirms and balances add up.
//!
//! The node is fetched by `scripts/setup` (scripts/fetch-bitcoin-node) into
//! ~/.cache/coldlink/tools/knots; `COLDLINK_BITCOIN_NODE_DIR` overrides the location.

// Test helpers outside #[test] functions may fail the test loudly.
#![allow(clippy::panic)]

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use coldlink_sim::ledger::{spawn_speculos, LedgerSim};
use serde_json::Value;

const MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

fn node_dir() -> PathBuf {
    std::env::var_os("COLDLINK_BITCOIN_NODE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default())
                .join(".cache/coldlink/tools/knots")
        })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
}

struct Node {
    child: Child,
    dir: PathBuf,
    rpc_port: u16,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.cli(&["stop"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Node {
    fn cli(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(node_dir().join("bitcoin-cli"))
            .arg("-regtest")
            .arg(format!("-datadir={}", self.dir.display()))
            .arg(format!("-rpcport={}", self.rpc_port))
            .args(["-rpcuser=coldlink", "-rpcpassword=coldlink"])
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }

    fn json(&self, args: &[&str]) -> Value {
        let text = self
            .cli(args)
            .unwrap_or_else(|e| panic!("bitcoin-cli {args:?}: {e}"));
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }
}

fn start_node(speculos: std::net::SocketAddr) -> Node {
    let bin = node_dir().join("bitcoind");
    assert!(
        bin.exists(),
        "no node at {}: run scripts/setup",
        bin.display()
    );
    let dir = std::env::temp_dir().join(format!("coldlink-core-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("datadir");
    let rpc_port = free_port();
    let signer = format!("{} hwi", env!("CARGO_BIN_EXE_coldlink"));
    let child = Command::new(&bin)
        .arg("-regtest")
        .arg(format!("-datadir={}", dir.display()))
        .arg(format!("-rpcport={rpc_port}"))
        .arg(format!("-port={}", free_port()))
        .args([
            "-rpcuser=coldlink",
            "-rpcpassword=coldlink",
            "-rpcbind=127.0.0.1",
            "-rpcallowip=127.0.0.1",
            "-listen=0",
            "-dnsseed=0",
            "-fixedseeds=0",
            "-server=1",
            "-fallbackfee=0.0002",
            // Change on the same (native segwit) account as the coins spent. With a legacy
            // payee Knots would otherwise put change on the legacy account, which the device,
            // signing under the segwit policy, rightly shows as a payment to review.
            "-addresstype=bech32",
            "-changetype=bech32",
            "-printtoconsole=0",
        ])
        .arg(format!("-signer={signer}"))
        // The signer process inherits this environment: it finds the simulator here.
        .env("COLDLINK_SPECULOS", speculos.to_string())
        .env("COLDLINK_TREZOR_EMULATOR", "off")
        .env(
            "COLDLINK_DATA_DIR",
            std::env::temp_dir().join(format!("coldlink-cli-core-{}", std::process::id())),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bitcoind");
    let mut node = Node {
        child,
        dir,
        rpc_port,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while node.cli(&["getblockchaininfo"]).is_err() {
        if let Ok(Some(status)) = node.child.try_wait() {
            let log =
                std::fs::read_to_string(node.dir.join("regtest/debug.log")).unwrap_or_default();
            panic!(
                "bitcoind exited ({status}): {}",
                log.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
            );
        }
        assert!(Instant::now() < deadline, "bitcoind did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
    node
}

#[test]
fn bitcoin_core_uses_coldlink_as_its_external_signer() {
    let (sim, user) = spawn_speculos(LedgerSim::new(MNEMONIC).expect("sim")).expect("serve");
    user.set_app(Some("Bitcoin Test"));
    let node = start_node(sim.addr());

    let signers = node.json(&["enumeratesigners"]);
    assert_eq!(
        signers["signers"][0]["fingerprint"], "73c5da0a",
        "{signers}"
    );

    node.json(&[
        "-named",
        "createwallet",
        "wallet_name=hww",
        "disable_private_keys=true",
        "blank=true",
        "descriptors=true",
        "external_signer=true",
    ]);
    let hww = |args: &[&str]| {
        let mut a = vec!["-rpcwallet=hww"];
        a.extend_from_slice(args);
        node.json(&a)
    };
    let receive = hww(&["getnewaddress", "", "bech32"]);
    let receive = receive.as_str().expect("address").to_owned();
    // The device derives the same address Core derived from the imported descriptor.
    let ours = Command::new(env!("CARGO_BIN_EXE_coldlink"))
        .env(
            "COLDLINK_DATA_DIR",
            std::env::temp_dir().join(format!("coldlink-cli-core-{}", std::process::id())),
        )
        .args(["btc", "address", "--chain", "regtest", "--device"])
        .arg(format!("speculos:{}", sim.addr()))
        .output()
        .expect("coldlink");
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout).trim(),
        receive,
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    let shown = hww(&["walletdisplayaddress", &receive]);
    assert_eq!(shown["address"], receive.as_str(), "{shown}");
    assert_eq!(user.last_screen().expect("screen").title, "Verify address");

    node.json(&["createwallet", "miner"]);
    let miner = |args: &[&str]| {
        let mut a = vec!["-rpcwallet=miner"];
        a.extend_from_slice(args);
        node.json(&a)
    };
    let mine_to = miner(&["getnewaddress"]).as_str().expect("addr").to_owned();
    miner(&["generatetoaddress", "101", &mine_to]);
    miner(&["sendtoaddress", &receive, "1.0"]);
    miner(&["generatetoaddress", "1", &mine_to]);
    assert_eq!(hww(&["getbalance"]).as_f64(), Some(1.0));

    // Core builds the PSBT, Coldlink has the device sign it, Core finalises and broadcasts.
    let pay_to = miner(&["getnewaddress"]).as_str().expect("addr").to_owned();
    let outputs = format!("{{\"{pay_to}\": 0.25}}");
    let sent = hww(&["send", &outputs]);
    assert_eq!(sent["complete"], true, "{sent}");
    let txid = sent["txid"].as_str().expect("txid").to_owned();
    miner(&["generatetoaddress", "1", &mine_to]);
    let tx = hww(&["gettransaction", &txid]);
    assert_eq!(tx["confirmations"], 1, "{tx}");
    let fee = -tx["fee"].as_f64().expect("fee");
    let balance = hww(&["getbalance"]).as_f64().expect("balance");
    assert!(
        (balance - (1.0 - 0.25 - fee)).abs() < 1e-9,
        "{balance} after paying 0.25 + {fee}"
    );
    // The device showed the payment (and not the change), then the fee, before signing.
    let screens = user.screens();
    let last = screens
        .iter()
        .rposition(|s| s.title == "Sign transaction")
        .expect("signed");
    let review = &screens[last - 1];
    assert_eq!(review.title, "Review output");
    assert_eq!(review.field("Output"), Some("#1 of 1"), "{screens:?}");
    assert_eq!(review.field("Amount"), Some("0.25 BTC"));
    let fee_shown = format!(
        "{} BTC",
        coldlink_types::Amount::sats((fee * 1e8).round() as u64)
    );
    assert_eq!(screens[last].field("Fees"), Some(fee_shown.as_str()));
}
