//! JSON-RPC 2.0 over HTTP, blocking (device I/O and chain I/O both run on worker threads).
//! [`Rpc::batch`] sends many calls in one request, which is how balances of many accounts and
//! tokens take one round trip. Every answer is read defensively: a node is input.

use std::{
    sync::atomic::{AtomicU64, AtomicUsize, Ordering},
    time::Duration,
};

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::EvmError;

/// An error object from the node for one call of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpcError {
    /// JSON-RPC code.
    pub code: i64,
    /// Message.
    pub message: String,
}

impl From<RpcError> for EvmError {
    fn from(e: RpcError) -> Self {
        EvmError::Node {
            code: e.code,
            message: e.message,
        }
    }
}

/// A node.
pub struct Rpc {
    url: String,
    agent: ureq::Agent,
    next_id: AtomicU64,
    round_trips: AtomicUsize,
}

/// Largest answer accepted (a batch of a few hundred calls is far below).
const MAX_BODY: u64 = 16 << 20;

impl Rpc {
    /// A client for the node at `url` (http or https).
    pub fn new(url: &str) -> Result<Self, EvmError> {
        let url = url.trim();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(EvmError::Invalid(format!("“{url}” is not an http(s) URL")));
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(15)))
            .http_status_as_error(false)
            .build()
            .new_agent();
        Ok(Self {
            url: url.into(),
            agent,
            next_id: AtomicU64::new(1),
            round_trips: AtomicUsize::new(0),
        })
    }

    /// How many HTTP requests this client has made.
    pub fn round_trips(&self) -> usize {
        self.round_trips.load(Ordering::Relaxed)
    }

    fn post(&self, body: &Value) -> Result<Value, EvmError> {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let unreachable = |reason: String| EvmError::Unreachable {
            url: self.url.clone(),
            reason,
        };
        let mut resp = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .map_err(|e| unreachable(e.to_string()))?;
        let status = resp.status();
        let text = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .map_err(|e| unreachable(e.to_string()))?;
        if !status.is_success() {
            // Some nodes put a JSON-RPC error in a 4xx/5xx body; prefer it.
            if let Ok(v) = serde_json::from_str::<Value>(&text) {
                if v.get("error").is_some() {
                    return Ok(v);
                }
            }
            return Err(EvmError::Node {
                code: i64::from(status.as_u16()),
                message: format!("HTTP {status}"),
            });
        }
        serde_json::from_str(&text).map_err(|e| EvmError::BadResponse(e.to_string()))
    }

    fn result(v: &Value) -> Result<Value, RpcError> {
        if let Some(e) = v.get("error") {
            return Err(RpcError {
                code: e.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: e
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown error")
                    .to_owned(),
            });
        }
        Ok(v.get("result").cloned().unwrap_or(Value::Null))
    }

    /// One call.
    pub fn call<T: DeserializeOwned>(&self, method: &str, params: Value) -> Result<T, EvmError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let v =
            self.post(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))?;
        let r = Self::result(&v)?;
        serde_json::from_value(r).map_err(|e| EvmError::BadResponse(format!("{method}: {e}")))
    }

    /// Many calls in one round trip; answers in the order of `calls`, each its own result.
    pub fn batch(&self, calls: &[(&str, Value)]) -> Result<Vec<Result<Value, RpcError>>, EvmError> {
        if calls.is_empty() {
            return Ok(vec![]);
        }
        let first = self
            .next_id
            .fetch_add(calls.len() as u64, Ordering::Relaxed);
        let body: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, (m, p))| json!({"jsonrpc": "2.0", "id": first + i as u64, "method": m, "params": p}))
            .collect();
        let v = self.post(&Value::Array(body))?;
        let Value::Array(items) = v else {
            // A node without batch support answers with one error object.
            return Err(match Self::result(&v) {
                Err(e) => e.into(),
                Ok(_) => EvmError::BadResponse("a batch was answered with one result".into()),
            });
        };
        // Answers may come in any order: match them by id.
        let mut out: Vec<Option<Result<Value, RpcError>>> = vec![None; calls.len()];
        for item in &items {
            let Some(id) = item.get("id").and_then(Value::as_u64) else {
                continue;
            };
            if let Some(slot) = id.checked_sub(first).and_then(|i| out.get_mut(i as usize)) {
                *slot = Some(Self::result(item));
            }
        }
        out.into_iter()
            .map(|r| r.ok_or_else(|| EvmError::BadResponse("a batch answer is missing".into())))
            .collect()
    }

    /// `eth_chainId`.
    pub fn chain_id(&self) -> Result<u64, EvmError> {
        let hex: String = self.call("eth_chainId", json!([]))?;
        quantity_u64(&hex)
    }
}

/// A JSON-RPC quantity ("0x1a") as u64.
pub fn quantity_u64(s: &str) -> Result<u64, EvmError> {
    s.strip_prefix("0x")
        .filter(|h| !h.is_empty() && h.len() <= 16)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .ok_or_else(|| EvmError::BadResponse(format!("“{s}” is not a quantity")))
}

/// A JSON-RPC quantity as U256.
pub fn quantity(v: &Value) -> Result<alloy_primitives::U256, EvmError> {
    let s = v
        .as_str()
        .ok_or_else(|| EvmError::BadResponse(format!("{v} is not a quantity")))?;
    let h = s
        .strip_prefix("0x")
        .filter(|h| !h.is_empty() && h.len() <= 64)
        .ok_or_else(|| EvmError::BadResponse(format!("“{s}” is not a quantity")))?;
    alloy_primitives::U256::from_str_radix(h, 16)
        .map_err(|_| EvmError::BadResponse(format!("“{s}” is not a quantity")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_checked() {
        assert_eq!(quantity_u64("0x7a69").ok(), Some(31337));
        assert!(quantity_u64("7a69").is_err());
        assert!(quantity_u64("0x").is_err());
        assert!(quantity(&json!("0xzz")).is_err());
        assert!(quantity(&json!(5)).is_err());
    }

    #[test]
    fn only_http_urls() {
        assert!(Rpc::new("ftp://x").is_err());
        assert!(Rpc::new("localhost:8545").is_err());
        assert!(Rpc::new(" http://127.0.0.1:1 ").is_ok());
    }

    #[test]
    fn a_node_that_is_down_is_a_clear_error() {
        let rpc = Rpc::new("http://127.0.0.1:9").expect("url");
        let e = rpc.chain_id().expect_err("nothing listens");
        assert!(matches!(e, EvmError::Unreachable { .. }), "{e}");
        assert!(e.to_string().contains("cannot be reached"));
    }
}
