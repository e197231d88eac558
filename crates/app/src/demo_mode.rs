//! Demo mode: everything a new user needs to try Coldlink with no hardware and no network —
//! a local Ethereum chain (anvil) with a test token, the simulated Ledger and Trezor holding
//! funded accounts, and a price source with a fixed history — in a data folder of its own, so
//! nothing mixes with real wallets; and, when the Bitcoin node is installed, a regtest chain
//! (Bitcoin Knots, synced over its RPC: no Electrum server needed) with funded Bitcoin accounts
//! on both devices. Everything it starts is stopped when it ends (or when the app exits).

use std::{
    io::{BufRead, BufReader, Write},
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use coldlink_evm::Rpc;
use serde::Serialize;
use serde_json::json;

use crate::{AppError, Coldlink, DEMO_MNEMONIC};

/// What demo mode points the app at.
#[derive(Clone, Debug)]
pub(crate) struct DemoEnv {
    pub(crate) data_dir: PathBuf,
    pub(crate) evm_rpc: String,
    pub(crate) prices_url: String,
}

struct Running {
    env: DemoEnv,
    anvil: Child,
    bitcoind: Option<Child>,
    /// Where the demo's blocks pay (set once the Bitcoin side is funded).
    btc_miner: Option<(coldlink_btc::node::Node, serde_json::Value)>,
    prices_stop: Arc<AtomicBool>,
}

/// Stops a chain started under the watchdog: TERM (not KILL) so the watchdog's trap stops
/// the node on its way out; KILL only if that takes too long.
fn stop_watched(child: &mut Child, grace: Duration) {
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let end = Instant::now() + grace;
    while Instant::now() < end && !matches!(child.try_wait(), Ok(Some(_))) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Running {
    fn drop(&mut self) {
        stop_watched(&mut self.anvil, Duration::from_secs(3));
        if let Some(b) = self.bitcoind.as_mut() {
            stop_watched(b, Duration::from_secs(3));
        }
        self.prices_stop.store(true, Ordering::SeqCst);
    }
}

/// Runs anvil under a small shell watchdog: anvil stops when demo mode ends (TERM to the
/// watchdog) and also when the app itself dies without cleaning up (its parent is gone).
const WATCHDOG: &str = r#""$0" "$@" & child=$!
trap 'kill $child 2>/dev/null; wait $child; exit 0' TERM INT
while kill -0 $PPID 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 0.3; done
kill $child 2>/dev/null"#;

/// The demo mode slot.
#[derive(Clone, Default)]
pub(crate) struct DemoModeSlot(Arc<Mutex<Option<Running>>>);

impl std::fmt::Debug for DemoModeSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DemoModeSlot")
    }
}

/// Demo mode's state for the UI.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DemoModeView {
    /// On.
    pub active: bool,
    /// The local chain's RPC URL.
    pub rpc: Option<String>,
    /// The network key to show.
    pub network: Option<String>,
    /// The Bitcoin network of the demo accounts, when the demo has a Bitcoin chain.
    pub bitcoin_network: Option<String>,
}

/// The demo Ledger's first EVM address (anvil's funded dev account for the same mnemonic).
const LEDGER: &str = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94";
/// The demo Trezor's first EVM address.
const TREZOR: &str = "0x73d0385F4d8E00C5e6504C6030F47BF6212736A8";
const TOKEN_CODE: &str = include_str!("../../../tests/fixtures/erc20/ColdToken.bin");

fn anvil_binary() -> PathBuf {
    std::env::var_os("COLDLINK_ANVIL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default();
            home.join(".cache/coldlink/tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
        })
}

fn word(n: u128) -> String {
    format!("{n:064x}")
}

fn abi_string(s: &str) -> String {
    let mut hex: String = s.bytes().map(|b| format!("{b:02x}")).collect();
    while !hex.len().is_multiple_of(64) {
        hex.push('0');
    }
    format!("{}{hex}", word(s.len() as u128))
}

/// The fixed demo prices: a base per coin and a gentle 16-day wave, in whole cents.
fn demo_price_cents(coin: &str, currency: &str, day: i64) -> Option<u128> {
    let base: u128 = match coin {
        "ethereum" | "weth" => 300_000,
        "bitcoin" | "wrapped-bitcoin" => 9_500_000,
        _ => return None,
    };
    let fx: u128 = match currency {
        "usd" => 100,
        "eur" => 92,
        "gbp" => 79,
        "chf" => 88,
        "jpy" => 15_000,
        _ => return None,
    };
    const WAVE: [u128; 16] = [
        100, 102, 104, 103, 101, 99, 97, 96, 98, 100, 103, 105, 107, 106, 104, 102,
    ];
    let m = WAVE[day.rem_euclid(16) as usize];
    Some(base * fx / 100 * m / 100)
}

fn cents_json(c: u128) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

/// Serves CoinGecko's two endpoints with the fixed demo prices.
fn serve_prices(stop: Arc<AtomicBool>) -> std::io::Result<String> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", l.local_addr()?);
    l.set_nonblocking(true)?;
    std::thread::Builder::new()
        .name("coldlink-demo-prices".into())
        .spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let Ok((mut s, _)) = l.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                let _ = s.set_nonblocking(false);
                let Ok(clone) = s.try_clone() else { continue };
                let mut r = BufReader::new(clone);
                let mut line = String::new();
                let _ = r.read_line(&mut line);
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).map_or(true, |n| n == 0) || h == "\r\n" {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let query = |k: &str| {
                    path.split(['?', '&'])
                        .find_map(|p| p.strip_prefix(&format!("{k}=")))
                        .unwrap_or("")
                        .to_owned()
                };
                let today = (std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0)
                    / 86_400) as i64;
                let body = if path.starts_with("/simple/price") {
                    let cur = query("vs_currencies");
                    let mut parts = Vec::new();
                    for coin in query("ids").split(',') {
                        if let (Some(now), Some(before)) = (
                            demo_price_cents(coin, &cur, today),
                            demo_price_cents(coin, &cur, today - 1),
                        ) {
                            // Percent with two decimals, in integers: hundredths of a percent.
                            let bp = (now as i128 * 10_000 / before as i128) - 10_000;
                            let change = format!(
                                "{}{}.{:02}",
                                if bp < 0 { "-" } else { "" },
                                bp.abs() / 100,
                                bp.abs() % 100
                            );
                            parts.push(format!(
                                "\"{coin}\":{{\"{cur}\":{},\"{cur}_24h_change\":{change}}}",
                                cents_json(now)
                            ));
                        }
                    }
                    format!("{{{}}}", parts.join(","))
                } else if let Some(rest) = path.strip_prefix("/coins/") {
                    let coin = rest.split('/').next().unwrap_or("");
                    let cur = query("vs_currency");
                    let days: i64 = query("days").parse().unwrap_or(30).clamp(1, 365);
                    let points: Vec<String> = (0..=days)
                        .filter_map(|i| {
                            let d = today - days + i;
                            demo_price_cents(coin, &cur, d)
                                .map(|c| format!("[{},{}]", d * 86_400_000, cents_json(c)))
                        })
                        .collect();
                    format!("{{\"prices\":[{}]}}", points.join(","))
                } else {
                    "{}".to_owned()
                };
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        })?;
    Ok(url)
}

fn wait_receipt(rpc: &Rpc, hash: &str) -> Result<serde_json::Value, AppError> {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let r: serde_json::Value = rpc.call("eth_getTransactionReceipt", json!([hash]))?;
        if !r.is_null() {
            return Ok(r);
        }
        if Instant::now() > end {
            return Err(AppError::internal("the demo chain did not mine"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

const DEMO_RPC_USER: &str = "coldlink-demo";
const DEMO_RPC_PASSWORD: &str = "coldlink-demo";

fn bitcoind_binary() -> PathBuf {
    std::env::var_os("COLDLINK_BITCOIN_NODE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default()
                .join(".cache/coldlink/tools/knots")
        })
        .join("bitcoind")
}

/// Starts a regtest node in the demo folder under the watchdog, if one is installed (demo
/// mode works without Bitcoin otherwise).
fn start_bitcoind(data_dir: &std::path::Path) -> Option<(Child, coldlink_btc::node::Node)> {
    let bin = bitcoind_binary();
    if !bin.exists() {
        return None;
    }
    let free = || {
        TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .ok()
    };
    let (rpc, p2p) = (free()?, free()?);
    let dir = data_dir.join("bitcoind");
    std::fs::create_dir_all(&dir).ok()?;
    let child = Command::new("sh")
        .arg("-c")
        .arg(WATCHDOG)
        .arg(&bin)
        .arg("-regtest")
        .arg(format!("-datadir={}", dir.display()))
        .arg(format!("-rpcport={rpc}"))
        .arg(format!("-port={p2p}"))
        .arg(format!("-rpcuser={DEMO_RPC_USER}"))
        .arg(format!("-rpcpassword={DEMO_RPC_PASSWORD}"))
        .args([
            "-rpcbind=127.0.0.1",
            "-rpcallowip=127.0.0.1",
            "-listen=0",
            "-dnsseed=0",
            "-fallbackfee=0.0002",
            "-printtoconsole=0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    Some((
        child,
        coldlink_btc::node::Node {
            url: format!("http://127.0.0.1:{rpc}"),
            auth: coldlink_btc::node::NodeAuth::UserPass(
                DEMO_RPC_USER.into(),
                DEMO_RPC_PASSWORD.into(),
            ),
        },
    ))
}

impl Coldlink {
    pub(crate) fn demo_env(&self) -> Option<DemoEnv> {
        self.demo_mode
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|r| r.env.clone())
    }

    /// The data folder in use: demo mode's own while it runs.
    pub(crate) fn data_dir(&self) -> PathBuf {
        self.demo_env()
            .map(|d| d.data_dir)
            .unwrap_or_else(|| self.config.data_dir())
    }

    /// Whether demo mode is on, and where its chain is.
    pub fn demo_mode(&self) -> DemoModeView {
        match self.demo_env() {
            Some(e) => DemoModeView {
                active: true,
                rpc: e.evm_rpc.split('#').next().map(str::to_owned),
                network: Some("local".into()),
                bitcoin_network: self
                    .demo_mode
                    .0
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .as_ref()
                    .and_then(|r| r.bitcoind.as_ref())
                    .map(|_| "regtest".into()),
            },
            None => DemoModeView {
                active: false,
                rpc: None,
                network: None,
                bitcoin_network: None,
            },
        }
    }

    /// Starts demo mode (or returns the running one): the simulated devices, a local chain
    /// with funded accounts and a test token, demo prices, and demo accounts — in a data
    /// folder of their own.
    pub fn start_demo_mode(&self) -> Result<DemoModeView, AppError> {
        if self.demo_env().is_some() {
            return Ok(self.demo_mode());
        }
        let demo = self.start_demo()?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| AppError::internal(e.to_string()))?
            .port();
        let bin = anvil_binary();
        if !bin.exists() {
            return Err(AppError::new(
                crate::ErrorKind::Unsupported,
                format!(
                    "demo mode needs anvil at {}: run ./scripts/setup",
                    bin.display()
                ),
            ));
        }
        let anvil = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg(&bin)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--chain-id",
                "31337",
            ])
            .args(["--mnemonic", DEMO_MNEMONIC])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                AppError::new(
                    crate::ErrorKind::Unsupported,
                    format!(
                        "demo mode needs anvil ({}): {e}; run ./scripts/setup",
                        bin.display()
                    ),
                )
            })?;
        let stop = Arc::new(AtomicBool::new(false));
        let prices_url =
            serve_prices(Arc::clone(&stop)).map_err(|e| AppError::internal(e.to_string()))?;
        let url = format!("http://127.0.0.1:{port}");
        let data_dir = self.config.data_dir().join("demo");
        let _ = std::fs::remove_dir_all(&data_dir);
        let (bitcoind, btc_node) = match start_bitcoind(&data_dir) {
            Some((child, node)) => (Some(child), Some(node)),
            None => (None, None),
        };
        *self.demo_mode.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(Running {
            env: DemoEnv {
                data_dir,
                evm_rpc: format!("{url}#31337"),
                prices_url,
            },
            anvil,
            bitcoind,
            btc_miner: None,
            prices_stop: stop,
        });
        let mut r = self.fund_demo(&url, &demo);
        if let (Ok(()), Some(node)) = (&r, &btc_node) {
            r = self.fund_demo_bitcoin(node, &demo);
        }
        if r.is_err() {
            self.stop_demo_mode();
        }
        r.map(|()| self.demo_mode())
    }

    fn fund_demo(&self, url: &str, demo: &crate::DemoDevice) -> Result<(), AppError> {
        let rpc = Rpc::new(url)?;
        let end = Instant::now() + Duration::from_secs(20);
        while rpc.chain_id().is_err() {
            if Instant::now() > end {
                return Err(AppError::internal("the demo chain did not start"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // The test token: 1000 CLD to the Ledger's account, 100 of them on to the Trezor's,
        // and 5 ETH to the Trezor's.
        let name = abi_string("Coldlink demo token");
        let sym = abi_string("CLD");
        let args = format!(
            "{}{}{}{}{name}{sym}",
            word(128),
            word(128 + name.len() as u128 / 2),
            word(18),
            word(1000 * 10u128.pow(18))
        );
        let hash: String = rpc.call(
            "eth_sendTransaction",
            json!([{"from": LEDGER, "data": format!("0x{}{args}", TOKEN_CODE.trim()), "gas": "0x200000"}]),
        )?;
        let receipt = wait_receipt(&rpc, &hash)?;
        let token = receipt
            .get("contractAddress")
            .and_then(|v| v.as_str())
            .ok_or_else(|| AppError::internal("the demo token was not deployed"))?
            .to_owned();
        let transfer = format!(
            "0xa9059cbb{:0>64}{}",
            TREZOR.trim_start_matches("0x").to_lowercase(),
            word(100 * 10u128.pow(18))
        );
        let h: String = rpc.call(
            "eth_sendTransaction",
            json!([{"from": LEDGER, "to": token, "data": transfer}]),
        )?;
        wait_receipt(&rpc, &h)?;
        let h: String = rpc.call(
            "eth_sendTransaction",
            json!([{"from": LEDGER, "to": TREZOR, "value": "0x4563918244f40000"}]),
        )?;
        wait_receipt(&rpc, &h)?;
        // The demo accounts: the Trezor is unlocked for this (its PIN pad stays for the
        // Devices page), then both devices' first EVM accounts and the token.
        self.unlock_demo_trezor();
        self.set_currency("usd")?;
        self.evm_add_account(&demo.id, 0, "standard", None, "Demo Ledger")?;
        self.evm_add_account(&demo.trezor_id, 0, "standard", None, "Demo Trezor")?;
        self.evm_add_token("local", &token)?;
        self.portfolio_refresh("local")?;
        Ok(())
    }

    /// The Bitcoin side of the demo: the regtest node set for "regtest", a taproot account on
    /// the Ledger and a segwit one on the Trezor, each paid from mined coins and synced.
    fn fund_demo_bitcoin(
        &self,
        node: &coldlink_btc::node::Node,
        demo: &crate::DemoDevice,
    ) -> Result<(), AppError> {
        use bitcoin::Network::Regtest;
        let end = Instant::now() + Duration::from_secs(60);
        while node.status().is_err() {
            if Instant::now() > end {
                return Err(AppError::internal("the demo Bitcoin node did not start"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let e = |e: coldlink_btc::node::NodeError| AppError::internal(e.to_string());
        node.call("createwallet", &[json!("demo-miner")])
            .map_err(e)?;
        let miner = coldlink_btc::node::Node {
            url: format!("{}/wallet/demo-miner", node.url),
            auth: node.auth.clone(),
        };
        let mine_to = miner.call("getnewaddress", &[]).map_err(e)?;
        node.call("generatetoaddress", &[json!(101), mine_to.clone()])
            .map_err(e)?;
        self.btc_set_node(
            Regtest,
            crate::NodeSettings {
                url: node.url.clone(),
                cookie_file: String::new(),
                user: DEMO_RPC_USER.into(),
                password: DEMO_RPC_PASSWORD.into(),
                kind: String::new(),
            },
        )?;
        let ledger = self.btc_add_account(
            &demo.id,
            coldlink_signer::ScriptKind::Taproot,
            Regtest,
            0,
            None,
            "Demo Ledger · Bitcoin",
        )?;
        let trezor = self.btc_add_account(
            &demo.trezor_id,
            coldlink_signer::ScriptKind::NativeSegwit,
            Regtest,
            0,
            None,
            "Demo Trezor · Bitcoin",
        )?;
        for (id, btc) in [(ledger.id, 0.5), (trezor.id, 0.25)] {
            let to = self.btc_receive(id)?.address;
            miner
                .call("sendtoaddress", &[json!(to), json!(btc)])
                .map_err(e)?;
        }
        node.call("generatetoaddress", &[json!(1), mine_to.clone()])
            .map_err(e)?;
        self.btc_sync(Regtest)?;
        if let Some(r) = self
            .demo_mode
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            r.btc_miner = Some((node.clone(), mine_to));
        }
        Ok(())
    }

    /// In demo mode, a block right after a Bitcoin broadcast, so that sends confirm as on a
    /// living chain (anvil mines Ethereum's at once, too).
    pub(crate) fn demo_mine_block(&self) {
        let miner = self
            .demo_mode
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .and_then(|r| r.btc_miner.clone());
        if let Some((node, to)) = miner {
            let _ = node.call("generatetoaddress", &[json!(1), to]);
        }
    }

    /// Ends demo mode: stops the chain, the price source and the simulated devices; the app is
    /// back on the user's own data.
    pub fn stop_demo_mode(&self) {
        let running = self
            .demo_mode
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        drop(running);
        self.stop_demo();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_prices_are_exact_and_move() {
        assert_eq!(demo_price_cents("ethereum", "usd", 0), Some(300_000));
        assert_eq!(demo_price_cents("ethereum", "usd", 2), Some(312_000));
        assert_eq!(demo_price_cents("ethereum", "eur", 0), Some(276_000));
        assert_eq!(demo_price_cents("dogecoin", "usd", 0), None);
        assert_eq!(cents_json(312_005), "3120.05");
    }

    #[test]
    fn demo_mode_starts_funded_and_stops_everything() {
        let app = Coldlink::new(crate::config::test_config());
        let v = app.start_demo_mode().expect("demo mode");
        assert!(v.active);
        let rpc = v.rpc.clone().expect("rpc");
        let p = app.portfolio("local").expect("portfolio");
        let eth = p.assets.iter().find(|a| a.symbol == "ETH").expect("eth");
        assert!(eth.value.is_some(), "priced by the demo price source");
        assert!(p
            .assets
            .iter()
            .any(|a| a.symbol == "CLD" && a.amount == "1000"));
        assert_eq!(app.evm_accounts("local").expect("accounts").len(), 2);
        assert!(!app
            .portfolio_history("local", 30)
            .expect("history")
            .is_empty());
        // Bitcoin: regtest accounts on both devices, paid and synced, in the portfolio.
        assert_eq!(v.bitcoin_network.as_deref(), Some("regtest"));
        let btc = app
            .btc_accounts(bitcoin::Network::Regtest)
            .expect("bitcoin accounts");
        let balances: Vec<_> = btc.iter().map(|a| a.balance.clone()).collect();
        assert_eq!(
            balances,
            [Some("0.5".to_owned()), Some("0.25".to_owned())],
            "{btc:?}"
        );
        let p = app
            .portfolio("local,bitcoin:regtest")
            .expect("portfolio over both chains");
        let b = p.assets.iter().find(|a| a.symbol == "BTC").expect("btc");
        assert_eq!(b.amount, "0.75");
        assert!(b.value.is_some());
        let node = app
            .btc_node(bitcoin::Network::Regtest)
            .expect("read")
            .expect("the demo node is set");
        // Its data is apart from the user's.
        assert!(app.data_dir().ends_with("demo"));
        app.stop_demo_mode();
        assert!(!app.demo_mode().active);
        assert!(!app.data_dir().ends_with("demo"));
        assert!(app.evm_accounts("ethereum").expect("own data").is_empty());
        // The chain is gone.
        assert!(
            Rpc::new(&rpc).expect("url").chain_id().is_err(),
            "anvil was stopped"
        );
        let gone = coldlink_btc::node::Node {
            url: node.url,
            auth: coldlink_btc::node::NodeAuth::UserPass(
                DEMO_RPC_USER.into(),
                DEMO_RPC_PASSWORD.into(),
            ),
        };
        assert!(gone.status().is_err(), "the Bitcoin node was stopped");
    }
}
