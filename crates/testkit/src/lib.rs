//! A real Ethereum node for tests: anvil (installed by `scripts/setup`, npm
//! `@foundry-rs/anvil-linux-amd64`) on a free port of 127.0.0.1, with a given mnemonic so the
//! test wallets' accounts are funded, and a tiny JSON-RPC client over HTTP/1.0.
//!
//! For tests only: its helpers fail loudly (panic) when the node misbehaves.

#![allow(clippy::panic, clippy::unwrap_used)]

pub mod electrum;
pub mod esplora;
pub mod relay;

pub use electrum::Electrs;

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{json, Value};

/// The chain id the tests' node runs.
pub const CHAIN: u64 = 31337;

/// A running node; dropping it stops the process.
pub struct Anvil {
    child: Child,
    /// Its JSON-RPC port on 127.0.0.1.
    pub port: u16,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where anvil is: `COLDLINK_ANVIL`, or where `scripts/setup` puts it.
pub fn anvil_binary() -> String {
    std::env::var("COLDLINK_ANVIL").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/coldlink/tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
    })
}

/// Starts anvil with `mnemonic` and chain id [`CHAIN`], waiting until it answers.
pub fn start_anvil(mnemonic: &str) -> Anvil {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let bin = anvil_binary();
    let child = Command::new(&bin)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--chain-id", &CHAIN.to_string(), "--mnemonic", mnemonic])
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
pub fn rpc_raw(port: u16, method: &str, params: Value) -> Result<Value, String> {
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

/// Sends a raw signed transaction and waits for its receipt.
pub fn send_and_confirm(port: u16, raw: &[u8]) -> Value {
    let hash = rpc_raw(
        port,
        "eth_sendRawTransaction",
        json!([format!("0x{}", hex(raw))]),
    )
    .unwrap_or_else(|e| panic!("the node refused the signed transaction: {e}"));
    receipt_of(port, &hash)
}

/// Sends a transaction from one of the node's own (unlocked) accounts and waits until it is
/// mined: returns its hash and receipt.
pub fn send_unlocked(port: u16, tx: Value) -> (String, Value) {
    let hash = rpc_raw(port, "eth_sendTransaction", json!([tx]))
        .unwrap_or_else(|e| panic!("the node refused the transaction: {e}"));
    let hash = hash.as_str().unwrap_or_default().to_owned();
    let receipt = receipt_of(port, &json!(hash));
    assert!(!receipt.is_null(), "{hash} was not mined");
    (hash, receipt)
}

/// The receipt of `hash` (a JSON string), waited for: anvil mines each transaction at once, but
/// the receipt can lag the submission. Null after 10 s.
pub fn receipt_of(port: u16, hash: &Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = rpc_raw(port, "eth_getTransactionReceipt", json!([hash])).expect("receipt");
        if !r.is_null() || Instant::now() > deadline {
            return r;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Lower-case hex without prefix.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Anvil {
    /// The node's URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

const COLD_TOKEN: &str = include_str!("../../../tests/fixtures/erc20/ColdToken.bin");

fn word(n: u128) -> String {
    format!("{n:064x}")
}

fn abi_string(s: &str) -> String {
    let mut hex_s = hex(s.as_bytes());
    while !hex_s.len().is_multiple_of(64) {
        hex_s.push('0');
    }
    format!("{}{hex_s}", word(s.len() as u128))
}

/// Deploys the test ERC-20 (`tests/fixtures/erc20/ColdToken.sol`) as `symbol` with 18
/// decimals and `supply` base units, all to `from` (an anvil dev account, which the node signs
/// for); returns the contract address.
pub fn deploy_cold_token(port: u16, from: &str, symbol: &str, supply: u128) -> String {
    // Constructor (string name, string symbol, uint8 decimals, uint256 supply): four head
    // words (two offsets into the tail), then each string as length + padded bytes.
    let name = abi_string(&format!("{symbol} test token"));
    let sym = abi_string(symbol);
    let head = 4 * 32;
    let args = format!(
        "{}{}{}{}{name}{sym}",
        word(head),
        word(head + name.len() as u128 / 2),
        word(18),
        word(supply)
    );
    let data = format!("0x{}{args}", COLD_TOKEN.trim());
    let hash = rpc_raw(
        port,
        "eth_sendTransaction",
        json!([{"from": from, "data": data, "gas": "0x200000"}]),
    )
    .unwrap_or_else(|e| panic!("deploy: {e}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = rpc_raw(port, "eth_getTransactionReceipt", json!([hash])).unwrap_or(Value::Null);
        if let Some(a) = r.get("contractAddress").and_then(Value::as_str) {
            return a.to_owned();
        }
        assert!(Instant::now() < deadline, "the token was not deployed");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A daily price history in CoinGecko's `market_chart` format: yesterday's and today's price
/// (at the start of each UTC day), for `price_server_routes`.
pub fn two_day_chart(yesterday: &str, today: &str) -> &'static str {
    const DAY_MS: u64 = 86_400_000;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let start = now / DAY_MS * DAY_MS;
    Box::leak(
        format!(
            r#"{{"prices":[[{},{yesterday}],[{start},{today}]]}}"#,
            start - DAY_MS
        )
        .into_boxed_str(),
    )
}

/// A stand-in for the CoinGecko-compatible price service: answers every request with `body`
/// (HTTP 200, JSON). Returns its base URL.
pub fn price_server(body: &'static str) -> String {
    price_server_routes(vec![("/", body)])
}

/// Like [`price_server`], answering each request with the body of the first route whose path
/// prefix matches (404 when none does).
pub fn price_server_routes(routes: Vec<(&'static str, &'static str)>) -> String {
    use std::io::{BufRead, BufReader, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let url = format!(
        "http://{}",
        l.local_addr().unwrap_or_else(|e| panic!("addr: {e}"))
    );
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let Ok(clone) = s.try_clone() else { continue };
            let mut r = BufReader::new(clone);
            let mut request_line = String::new();
            let _ = r.read_line(&mut request_line);
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .to_owned();
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).map_or(true, |n| n == 0) || line == "\r\n" {
                    break;
                }
            }
            let (status, body) = routes
                .iter()
                .find(|(prefix, _)| path.starts_with(prefix))
                .map_or(("404 Not Found", "{}"), |(_, b)| ("200 OK", *b));
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

/// A Bitcoin node on regtest (Bitcoin Knots, fetched by `scripts/fetch-bitcoin-node`) in a
/// throwaway data folder, RPC on a free port of 127.0.0.1 with user/password "coldlink".
pub struct Bitcoind {
    child: Child,
    /// Its data folder.
    pub dir: std::path::PathBuf,
    /// Its RPC port.
    pub rpc_port: u16,
    /// Its P2P port (loopback only), for an Electrum server to read blocks from.
    pub p2p_port: u16,
}

impl Drop for Bitcoind {
    fn drop(&mut self) {
        let _ = self.cli(&["stop"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && !matches!(self.child.try_wait(), Ok(Some(_))) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn node_dir() -> std::path::PathBuf {
    std::env::var_os("COLDLINK_BITCOIN_NODE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default())
                .join(".cache/coldlink/tools/knots")
        })
}

#[allow(clippy::panic)]
fn unreachable_node() -> Bitcoind {
    panic!("bitcoind did not start")
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| panic!("free port: {e}"))
        .port()
}

/// Copies the folder `from` into `to` (files and subfolders).
fn copy_tree(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

impl Bitcoind {
    /// Starts the node and waits until it answers.
    pub fn start(tag: &str) -> Self {
        Self::start_from(tag, None)
    }

    /// Starts the node on a copy of the chain [`Self::save_chain`] kept in `seed` (for
    /// benchmarks whose chain takes minutes to build), or on an empty one.
    pub fn start_from(tag: &str, seed: Option<&std::path::Path>) -> Self {
        Self::start_with(tag, seed, &[])
    }

    /// [`Self::start_from`] with more of the node's options (`-txindex=1`, …).
    pub fn start_with(tag: &str, seed: Option<&std::path::Path>, options: &[&str]) -> Self {
        let bin = node_dir().join("bitcoind");
        assert!(
            bin.exists(),
            "no node at {}: run scripts/setup",
            bin.display()
        );
        let dir = std::env::temp_dir().join(format!("coldlink-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("datadir: {e}"));
        if let Some(seed) = seed {
            copy_tree(seed, &dir.join("regtest")).unwrap_or_else(|e| panic!("seed chain: {e}"));
        }
        // A free port can be taken by another test's node between our look and its bind; then
        // this node stops at start, and the other one answers our calls (its chain, not ours:
        // payments seemed to vanish). So the node that answers must name our data folder.
        for attempt in 1.. {
            let rpc_port = free_port();
            let p2p_port = free_port();
            let child = Command::new(&bin)
                .arg("-regtest")
                .arg(format!("-datadir={}", dir.display()))
                .arg(format!("-rpcport={rpc_port}"))
                .arg(format!("-port={p2p_port}"))
                .arg(format!("-bind=127.0.0.1:{p2p_port}"))
                .args([
                    "-rpcuser=coldlink",
                    "-rpcpassword=coldlink",
                    "-rpcbind=127.0.0.1",
                    "-rpcallowip=127.0.0.1",
                    "-listen=1",
                    "-discover=0",
                    "-dnsseed=0",
                    "-fallbackfee=0.0002",
                    "-printtoconsole=0",
                ])
                .args(options)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("start bitcoind: {e}"));
            let mut child = child;
            let deadline = Instant::now() + Duration::from_secs(60);
            let ours = loop {
                assert!(Instant::now() < deadline, "bitcoind did not start");
                if matches!(child.try_wait(), Ok(Some(_))) {
                    break false;
                }
                match esplora::rpc(rpc_port, "getrpcinfo", json!([])) {
                    Ok(info) => {
                        let log = info["logpath"].as_str().unwrap_or_default();
                        break std::path::Path::new(log).starts_with(&dir);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(200)),
                }
            };
            if ours {
                while esplora::rpc(rpc_port, "getblockchaininfo", json!([])).is_err() {
                    assert!(Instant::now() < deadline, "bitcoind did not start");
                    std::thread::sleep(Duration::from_millis(100));
                }
                return Self {
                    child,
                    dir,
                    rpc_port,
                    p2p_port,
                };
            }
            // Not through `Drop`: that would stop the node answering on this port, another
            // test's.
            let _ = child.kill();
            let _ = child.wait();
            assert!(attempt < 5, "bitcoind found no free port in 5 tries");
        }
        unreachable_node()
    }

    /// Stops the node and keeps its chain (blocks and chain state, no wallets) in `to`, for
    /// [`Self::start_from`].
    pub fn save_chain(self, to: &std::path::Path) -> std::io::Result<()> {
        let _ = self.cli(&["stop"]);
        let mut me = self;
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline && !matches!(me.child.try_wait(), Ok(Some(_))) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = std::fs::remove_dir_all(to);
        let from = me.dir.join("regtest");
        for part in ["blocks", "chainstate"] {
            copy_tree(&from.join(part), &to.join(part))?;
        }
        Ok(())
    }

    /// The RPC URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.rpc_port)
    }

    /// One JSON-RPC call over HTTP (no process per call, unlike [`Self::cli`]: for loops).
    pub fn rpc(&self, method: &str, params: Value) -> Result<Value, String> {
        esplora::rpc(self.rpc_port, method, params)
    }

    /// [`Self::rpc`] to one of several loaded wallets.
    pub fn wallet_rpc(&self, wallet: &str, method: &str, params: Value) -> Result<Value, String> {
        esplora::rpc_at(self.rpc_port, &format!("/wallet/{wallet}"), method, params)
    }

    /// Runs `bitcoin-cli` against it; stdout, or stderr as the error.
    pub fn cli(&self, args: &[&str]) -> Result<String, String> {
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
}
