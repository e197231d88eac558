//! A small Esplora-compatible HTTP adapter over a regtest node, for testing Coldlink's real
//! Esplora client (Blockstream's Esplora server is in no reachable registry). It answers the
//! endpoints wallet sync and broadcasting use — tip height and hash, block hash by height,
//! block status, transactions of a script hash (mempool first, then confirmed newest first, 25
//! per page), a transaction, fee estimates, POST /tx — from an index of the node's blocks
//! (rebuilt when the tip moves) and its mempool. Test code: single-threaded, no keep-alive.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use bitcoin::hashes::{sha256, Hash};
use serde_json::{json, Value};

use crate::Bitcoind;

/// The adapter; stops when dropped.
pub struct EsploraAdapter {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    stop: Arc<AtomicBool>,
}

impl Drop for EsploraAdapter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

/// JSON-RPC to the node over plain HTTP with the harness's login.
pub(crate) fn rpc(port: u16, method: &str, params: Value) -> Result<Value, String> {
    rpc_at(port, "/", method, params)
}

/// [`rpc`] at an endpoint path (`/wallet/<name>` for one wallet of several).
pub(crate) fn rpc_at(port: u16, path: &str, method: &str, params: Value) -> Result<Value, String> {
    let body = json!({"jsonrpc": "1.0", "id": 1, "method": method, "params": params}).to_string();
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    // "coldlink:coldlink"
    let req = format!(
        "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Basic Y29sZGxpbms6Y29sZGxpbms=\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("");
    let v: Value = serde_json::from_str(body).map_err(|e| format!("{e}: {body}"))?;
    if !v["error"].is_null() {
        return Err(v["error"]["message"].as_str().unwrap_or("error").to_owned());
    }
    Ok(v["result"].clone())
}

fn sats(btc: &Value) -> u64 {
    (btc.as_f64().unwrap_or(0.0) * 1e8).round() as u64
}

/// Every transaction the node knows (blocks and mempool) in Esplora's JSON form, by txid, and
/// the txids touching each script hash, newest first.
#[derive(Default)]
struct Index {
    tip: String,
    txs: HashMap<String, Value>,
    by_script: HashMap<String, Vec<String>>,
}

fn script_hash(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    format!("{:x}", sha256::Hash::hash(&bytes))
}

impl Index {
    fn add(&mut self, tx: &Value, status: Value) {
        let txid = tx["txid"].as_str().unwrap_or_default().to_owned();
        let mut touched = Vec::new();
        let mut fee_in = 0u64;
        let vin: Vec<Value> = tx["vin"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|i| {
                if i.get("coinbase").is_some() {
                    return json!({"txid": "0".repeat(64), "vout": u32::MAX, "prevout": null,
                        "scriptsig": i["coinbase"], "witness": i["txinwitness"].as_array().cloned().unwrap_or_default(),
                        "sequence": i["sequence"], "is_coinbase": true});
                }
                let prev_txid = i["txid"].as_str().unwrap_or_default();
                let n = i["vout"].as_u64().unwrap_or(0) as usize;
                let prevout = self.txs.get(prev_txid).map(|p| p["vout"][n].clone()).or_else(|| {
                    i.get("prevout").map(|p| {
                        json!({"scriptpubkey": p["scriptPubKey"]["hex"], "value": sats(&p["value"])})
                    })
                });
                if let Some(p) = &prevout {
                    fee_in += p["value"].as_u64().unwrap_or(0);
                    touched.push(script_hash(p["scriptpubkey"].as_str().unwrap_or("")));
                }
                json!({"txid": prev_txid, "vout": n, "prevout": prevout,
                    "scriptsig": i["scriptSig"]["hex"], "witness": i["txinwitness"].as_array().cloned().unwrap_or_default(),
                    "sequence": i["sequence"], "is_coinbase": false})
            })
            .collect();
        let vout: Vec<Value> = tx["vout"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|o| {
                let spk = o["scriptPubKey"]["hex"].as_str().unwrap_or("").to_owned();
                touched.push(script_hash(&spk));
                json!({"scriptpubkey": spk, "value": sats(&o["value"])})
            })
            .collect();
        let out: u64 = vout.iter().map(|o| o["value"].as_u64().unwrap_or(0)).sum();
        let coinbase = vin.iter().any(|i| i["is_coinbase"] == true);
        let entry = json!({
            "txid": txid, "version": tx["version"], "locktime": tx["locktime"],
            "vin": vin, "vout": vout, "size": tx["size"], "weight": tx["weight"],
            "fee": if coinbase { 0 } else { fee_in.saturating_sub(out) }, "status": status,
        });
        self.txs.insert(txid.clone(), entry);
        touched.dedup();
        for sh in touched {
            let list = self.by_script.entry(sh).or_default();
            if !list.contains(&txid) {
                list.insert(0, txid.clone());
            }
        }
    }

    fn build(port: u16) -> Result<Self, String> {
        let mut ix = Index {
            tip: rpc(port, "getbestblockhash", json!([]))?
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            ..Default::default()
        };
        let height = rpc(port, "getblockcount", json!([]))?.as_u64().unwrap_or(0);
        for h in 0..=height {
            let hash = rpc(port, "getblockhash", json!([h]))?;
            let block = rpc(port, "getblock", json!([hash, 3]))?;
            let status = json!({"confirmed": true, "block_height": h, "block_hash": hash, "block_time": block["time"]});
            for tx in block["tx"].as_array().cloned().unwrap_or_default() {
                ix.add(&tx, status.clone());
            }
        }
        Ok(ix)
    }

    fn with_mempool(mut self, port: u16) -> Result<Self, String> {
        let ids = rpc(port, "getrawmempool", json!([]))?;
        // Parents before children: retry until every transaction's inputs are known.
        let mut pending: Vec<Value> = ids
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|id| rpc(port, "getrawtransaction", json!([id, true])).ok())
            .collect();
        for _ in 0..pending.len() + 1 {
            let (ready, rest): (Vec<Value>, Vec<Value>) = pending.into_iter().partition(|t| {
                t["vin"].as_array().is_some_and(|v| {
                    v.iter()
                        .all(|i| self.txs.contains_key(i["txid"].as_str().unwrap_or("")))
                })
            });
            for t in &ready {
                self.add(t, json!({"confirmed": false}));
            }
            pending = rest;
            if pending.is_empty() {
                break;
            }
        }
        Ok(self)
    }
}

fn respond(mut s: &TcpStream, status: &str, body: &str) {
    let _ = write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn handle(s: TcpStream, port: u16, confirmed: &mut Option<Index>) -> Result<(), String> {
    let mut r = BufReader::new(s.try_clone().map_err(|e| e.to_string())?);
    let mut first = String::new();
    r.read_line(&mut first).map_err(|e| e.to_string())?;
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        r.read_line(&mut h).map_err(|e| e.to_string())?;
        if h.trim().is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).map_err(|e| e.to_string())?;
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or("");
    let path = parts.next().unwrap_or("");
    let seg: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if method == "POST" && path == "/tx" {
        let hex = String::from_utf8_lossy(&body).trim().to_owned();
        match rpc(port, "sendrawtransaction", json!([hex])) {
            Ok(txid) => respond(&s, "200 OK", txid.as_str().unwrap_or_default()),
            Err(e) => respond(
                &s,
                "400 Bad Request",
                &format!("sendrawtransaction RPC error: {e}"),
            ),
        }
        return Ok(());
    }
    let tip = rpc(port, "getbestblockhash", json!([]))?
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if confirmed.as_ref().is_none_or(|ix| ix.tip != tip) {
        *confirmed = Some(Index::build(port)?);
    }
    let ix = Index {
        tip: tip.clone(),
        txs: confirmed
            .as_ref()
            .map(|c| c.txs.clone())
            .unwrap_or_default(),
        by_script: confirmed
            .as_ref()
            .map(|c| c.by_script.clone())
            .unwrap_or_default(),
    }
    .with_mempool(port)?;
    let ok = |b: String| respond(&s, "200 OK", &b);
    match seg.as_slice() {
        ["blocks", "tip", "height"] => ok(rpc(port, "getblockcount", json!([]))?.to_string()),
        ["blocks", "tip", "hash"] => ok(tip),
        ["blocks"] | ["blocks", _] => {
            let top = match seg.get(1) {
                Some(h) => h.parse::<u64>().unwrap_or(0),
                None => rpc(port, "getblockcount", json!([]))?.as_u64().unwrap_or(0),
            };
            let mut list = Vec::new();
            for h in (top.saturating_sub(9)..=top).rev() {
                let hash = rpc(port, "getblockhash", json!([h]))?;
                let b = rpc(port, "getblock", json!([hash, 1]))?;
                let bits = u32::from_str_radix(b["bits"].as_str().unwrap_or("0"), 16).unwrap_or(0);
                list.push(
                    json!({"id": hash, "height": h, "version": b["version"], "timestamp": b["time"],
                    "tx_count": b["nTx"], "size": b["size"], "weight": b["weight"],
                    "merkle_root": b["merkleroot"], "previousblockhash": b.get("previousblockhash"),
                    "mediantime": b["mediantime"], "nonce": b["nonce"], "bits": bits,
                    "difficulty": b["difficulty"]}),
                );
            }
            ok(Value::Array(list).to_string())
        }
        ["block-height", h] => match rpc(
            port,
            "getblockhash",
            json!([h.parse::<u64>().unwrap_or(u64::MAX)]),
        ) {
            Ok(v) => ok(v.as_str().unwrap_or_default().to_owned()),
            Err(_) => respond(&s, "404 Not Found", "Block not found"),
        },
        ["block", hash, "status"] => {
            let h = rpc(port, "getblockheader", json!([hash]))?;
            ok(
                json!({"in_best_chain": h["confirmations"].as_i64().unwrap_or(-1) > 0,
                "height": h["height"], "next_best": h.get("nextblockhash")})
                .to_string(),
            )
        }
        ["block", hash, "header"] => ok(rpc(port, "getblockheader", json!([hash, false]))?
            .as_str()
            .unwrap_or_default()
            .to_owned()),
        ["tx", txid] => match ix.txs.get(*txid) {
            Some(t) => ok(t.to_string()),
            None => respond(&s, "404 Not Found", "Transaction not found"),
        },
        ["tx", txid, "status"] => match ix.txs.get(*txid) {
            Some(t) => ok(t["status"].to_string()),
            None => ok(json!({"confirmed": false}).to_string()),
        },
        ["tx", txid, "raw"] => match rpc(port, "getrawtransaction", json!([txid])) {
            Ok(hex) => {
                let hex = hex.as_str().unwrap_or_default();
                let bytes: Vec<u8> = (0..hex.len() / 2)
                    .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
                    .collect();
                let mut w = &s;
                let _ = write!(
                    w,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    bytes.len()
                );
                let _ = w.write_all(&bytes);
            }
            Err(_) => respond(&s, "404 Not Found", "Transaction not found"),
        },
        ["scripthash", sh] => {
            // Funded and spent sums of this script, in blocks and in the mempool.
            let mut stats = [[0u64; 5]; 2]; // [chain, mempool] × [funded n, funded Σ, spent n, spent Σ, txs]
            for t in ix.by_script.get(*sh).cloned().unwrap_or_default() {
                let tx = &ix.txs[&t];
                let at = usize::from(tx["status"]["confirmed"] != true);
                stats[at][4] += 1;
                for o in tx["vout"].as_array().into_iter().flatten() {
                    if script_hash(o["scriptpubkey"].as_str().unwrap_or("")) == *sh {
                        stats[at][0] += 1;
                        stats[at][1] += o["value"].as_u64().unwrap_or(0);
                    }
                }
                for i in tx["vin"].as_array().into_iter().flatten() {
                    let p = &i["prevout"];
                    if !p.is_null() && script_hash(p["scriptpubkey"].as_str().unwrap_or("")) == *sh
                    {
                        stats[at][2] += 1;
                        stats[at][3] += p["value"].as_u64().unwrap_or(0);
                    }
                }
            }
            let summary = |s: [u64; 5]| {
                json!({"funded_txo_count": s[0], "funded_txo_sum": s[1], "spent_txo_count": s[2],
                    "spent_txo_sum": s[3], "tx_count": s[4]})
            };
            ok(
                json!({"chain_stats": summary(stats[0]), "mempool_stats": summary(stats[1])})
                    .to_string(),
            )
        }
        ["scripthash", sh, "txs", rest @ ..] => {
            let all = ix.by_script.get(*sh).cloned().unwrap_or_default();
            let (mempool, chain): (Vec<&String>, Vec<&String>) = all
                .iter()
                .partition(|t| ix.txs[*t]["status"]["confirmed"] == false);
            let page: Vec<&String> = match rest {
                [] => mempool
                    .into_iter()
                    .chain(chain.into_iter().take(25))
                    .collect(),
                ["chain", last] => chain
                    .iter()
                    .skip_while(|t| t.as_str() != *last)
                    .skip(1)
                    .take(25)
                    .copied()
                    .collect(),
                ["mempool"] => mempool,
                _ => vec![],
            };
            let body = Value::Array(page.iter().map(|t| ix.txs[*t].clone()).collect()).to_string();
            ok(body)
        }
        ["fee-estimates"] => ok(json!({"1": 5.0, "2": 5.0, "6": 2.0, "144": 1.0}).to_string()),
        _ => respond(&s, "404 Not Found", &format!("unknown endpoint {path}")),
    }
    Ok(())
}

impl EsploraAdapter {
    /// Serves the Esplora API for `node` on a free loopback port.
    pub fn start(node: &Bitcoind) -> Self {
        let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let url = format!(
            "http://{}",
            l.local_addr().unwrap_or_else(|e| panic!("addr: {e}"))
        );
        let stop = Arc::new(AtomicBool::new(false));
        let halt = Arc::clone(&stop);
        let port = node.rpc_port;
        std::thread::spawn(move || {
            let mut index = None;
            for s in l.incoming() {
                if halt.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(s) = s else { continue };
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let Ok(c) = s.try_clone() else { continue };
                if let Err(e) = handle(c, port, &mut index) {
                    respond(&s, "500 Internal Server Error", &e);
                }
            }
        });
        Self { url, stop }
    }
}
