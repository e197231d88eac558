//! An Electrum server over a [`Bitcoind`] for tests and benchmarks: electrs (built by
//! `scripts/setup`) on a free loopback port with a throwaway index.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::{free_port, Bitcoind};

/// An Electrum server (electrs, built by `scripts/setup` under `~/.cache/coldlink/tools`) over
/// a [`Bitcoind`], on a free loopback port, with a throwaway index.
pub struct Electrs {
    child: Child,
    dir: std::path::PathBuf,
    /// `tcp://127.0.0.1:<port>`.
    pub url: String,
}

impl Drop for Electrs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Electrs {
    /// Starts electrs on `node` and waits until it has indexed the node's tip.
    pub fn start(node: &Bitcoind) -> Self {
        let bin = std::env::var_os("COLDLINK_ELECTRS")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default())
                    .join(".cache/coldlink/tools/electrs/bin/electrs")
            });
        assert!(
            bin.exists(),
            "no electrs at {}: run scripts/setup",
            bin.display()
        );
        let dir = node.dir.join("electrs");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("electrs dir: {e}"));
        // The login goes in a config file, not on the command line.
        let conf = dir.join("electrs.toml");
        std::fs::write(&conf, "auth = \"coldlink:coldlink\"\n")
            .unwrap_or_else(|e| panic!("electrs config: {e}"));
        // A port found free can be taken by a parallel test's server before ours binds it;
        // then ours stops, and our calls would reach that other server (over another node).
        // So the port must be listened on by our own process, or we start again elsewhere.
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(&bin)
                .arg(format!("--conf={}", conf.display()))
                .args(["--skip-default-conf-files", "--network", "regtest"])
                .args(["--log-filters", "WARN", "--wait-duration-secs", "1"])
                .arg(format!("--db-dir={}", dir.display()))
                .arg(format!("--daemon-rpc-addr=127.0.0.1:{}", node.rpc_port))
                .arg(format!("--daemon-p2p-addr=127.0.0.1:{}", node.p2p_port))
                .arg(format!("--electrum-rpc-addr=127.0.0.1:{port}"))
                .arg(format!("--monitoring-addr=127.0.0.1:{}", free_port()))
                .stdout(Stdio::null())
                .stderr(if std::env::var_os("COLDLINK_TEST_VERBOSE").is_some() {
                    Stdio::inherit()
                } else {
                    Stdio::null()
                })
                .spawn()
                .unwrap_or_else(|e| panic!("start electrs: {e}"));
            let deadline = Instant::now() + Duration::from_secs(30);
            let ours = loop {
                if listens(child.id(), port) {
                    break true;
                }
                if child.try_wait().ok().flatten().is_some() || Instant::now() > deadline {
                    break false;
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            if !ours {
                let _ = child.kill();
                let _ = child.wait();
                continue;
            }
            let e = Self {
                child,
                dir,
                url: format!("tcp://127.0.0.1:{port}"),
            };
            e.wait_synced(node);
            return e;
        }
        panic!("electrs found no free port in 5 tries")
    }

    /// Waits until the server reports the node's best height.
    pub fn wait_synced(&self, node: &Bitcoind) {
        let want: u64 = node
            .cli(&["getblockcount"])
            .ok()
            .and_then(|h| h.trim().parse().ok())
            .unwrap_or(0);
        let port = self.url.rsplit(':').next().unwrap_or("0").to_owned();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(h) = electrum_height(&port) {
                if h >= want {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "electrs did not catch up with block {want}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Whether process `pid` listens on 127.0.0.1:`port` (Linux: its sockets in `/proc/<pid>/fd`
/// against the listening sockets in `/proc/net/tcp`).
fn listens(pid: u32, port: u16) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
        return false;
    };
    let local = format!("0100007F:{port:04X}");
    // Columns: slot, local address, remote address, state (0A: listening), …, inode (10th).
    let inodes: Vec<String> = table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|c| c.get(1) == Some(&local.as_str()) && c.get(3) == Some(&"0A"))
        .filter_map(|c| c.get(9).map(|i| format!("socket:[{i}]")))
        .collect();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .map(|l| inodes.iter().any(|i| l.as_os_str() == i.as_str()))
            .unwrap_or(false)
    })
}

/// The height an Electrum server reports (`blockchain.headers.subscribe`), if it answers.
/// `server.version` goes first, as the protocol asks (ElectrumX closes a session otherwise).
fn electrum_height(port: &str) -> Option<u64> {
    use std::io::{BufRead, BufReader, Write};
    let mut s = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(
        b"{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"server.version\",\"params\":[\"coldlink-test\",\"1.4\"]}\n\
          {\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"blockchain.headers.subscribe\",\"params\":[]}\n",
    )
    .ok()?;
    let mut reader = BufReader::new(s);
    for _ in 0..2 {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let v: Value = serde_json::from_str(&line).ok()?;
        if v["id"] == 1 {
            return v["result"]["height"].as_u64();
        }
    }
    None
}

/// ElectrumX (from PyPI, installed by `scripts/setup` under `~/.cache/coldlink/tools`) over a
/// [`Bitcoind`]: a server that keeps every script's history in its own database, where electrs
/// reads the blocks again at each request. For the sync benchmark's second figure.
pub struct ElectrumX {
    child: Child,
    dir: std::path::PathBuf,
    /// `tcp://127.0.0.1:<port>`.
    pub url: String,
}

impl Drop for ElectrumX {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl ElectrumX {
    /// The server's program, if installed.
    pub fn binary() -> Option<std::path::PathBuf> {
        let bin = std::env::var_os("COLDLINK_ELECTRUMX")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default())
                    .join(".cache/coldlink/tools/electrumx/1.17.0/bin/electrumx_server")
            });
        bin.exists().then_some(bin)
    }

    /// Starts ElectrumX on `node` and waits until it has indexed the node's tip (`timeout`:
    /// a large chain takes a while).
    pub fn start(node: &Bitcoind, timeout: Duration) -> Self {
        let bin = Self::binary().unwrap_or_else(|| panic!("no ElectrumX: run scripts/setup"));
        let dir = node.dir.join("electrumx");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("electrumx dir: {e}"));
        let port = free_port();
        let child = Command::new(&bin)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("COIN", "Bitcoin")
            .env("NET", "regtest")
            .env("DB_DIRECTORY", &dir)
            .env(
                "DAEMON_URL",
                format!("http://coldlink:coldlink@127.0.0.1:{}/", node.rpc_port),
            )
            .env("SERVICES", format!("tcp://127.0.0.1:{port}"))
            // A personal server: no per-session cost throttling (its defaults make a client
            // that sends large batches wait a second or more before each later request).
            .env("COST_SOFT_LIMIT", "0")
            .env("COST_HARD_LIMIT", "0")
            .env("INITIAL_CONCURRENT", "1000")
            .env("MAX_SEND", "100000000")
            .env("ALLOW_ROOT", "1")
            .env("LOG_LEVEL", "warning")
            .stdout(if std::env::var_os("COLDLINK_TEST_VERBOSE").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .stderr(if std::env::var_os("COLDLINK_TEST_VERBOSE").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .unwrap_or_else(|e| panic!("start electrumx: {e}"));
        let want: u64 = node
            .cli(&["getblockcount"])
            .ok()
            .and_then(|h| h.trim().parse().ok())
            .unwrap_or(0);
        let port_s = port.to_string();
        let deadline = Instant::now() + timeout;
        let mut me = Self {
            child,
            dir,
            url: format!("tcp://127.0.0.1:{port}"),
        };
        loop {
            if let Ok(Some(status)) = me.child.try_wait() {
                panic!("ElectrumX stopped ({status}); COLDLINK_TEST_VERBOSE=1 shows why");
            }
            if electrum_height(&port_s).is_some_and(|h| h >= want) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "ElectrumX did not catch up with block {want}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        me
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_listener_is_found_on_its_own_process_only() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("address").port();
        assert!(super::listens(std::process::id(), port));
        // PID 1 is not this process.
        assert!(!super::listens(1, port));
        drop(l);
        assert!(!super::listens(std::process::id(), port));
    }
}
