//! Fee suggestions: EIP-1559 max fee and tip for slow / normal / fast from the node's recent
//! blocks (`eth_feeHistory`: the 10th, 50th and 90th percentile tips of the last 10 blocks,
//! with the max fee at twice the next base fee plus the tip, so it survives several full blocks),
//! or a legacy gas price where the chain has no base fee.

use alloy_primitives::U256;
use serde::Serialize;
use serde_json::{json, Value};

use crate::{
    rpc::{quantity, Rpc},
    EvmError,
};

/// One fee level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeeLevel {
    /// EIP-1559 max fee per gas, or the legacy gas price.
    pub max_fee_per_gas: u128,
    /// EIP-1559 priority fee (0 for legacy).
    pub max_priority_fee_per_gas: u128,
}

/// Slow, normal and fast.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeeSuggestions {
    /// Whether these are EIP-1559 fees.
    pub eip1559: bool,
    /// Low tip.
    pub slow: FeeLevel,
    /// Median tip.
    pub normal: FeeLevel,
    /// High tip.
    pub fast: FeeLevel,
}

fn u128_of(v: &Value) -> Result<u128, EvmError> {
    u128::try_from(quantity(v)?).map_err(|_| EvmError::BadResponse("fee out of range".into()))
}

/// Reads fee suggestions from the node (one round trip).
pub fn fee_suggestions(rpc: &Rpc) -> Result<FeeSuggestions, EvmError> {
    let answers = rpc.batch(&[
        ("eth_feeHistory", json!(["0xa", "latest", [10, 50, 90]])),
        ("eth_gasPrice", json!([])),
    ])?;
    let gas_price = match answers.get(1) {
        Some(Ok(v)) => u128_of(v)?,
        _ => 0,
    };
    let legacy = |p: u128| FeeLevel {
        max_fee_per_gas: p,
        max_priority_fee_per_gas: 0,
    };
    let history = match answers.first() {
        Some(Ok(h)) => h.clone(),
        _ => Value::Null,
    };
    let next_base = history
        .get("baseFeePerGas")
        .and_then(Value::as_array)
        .and_then(|b| b.last())
        .map(u128_of)
        .transpose()?;
    let Some(base) = next_base.filter(|b| *b > 0) else {
        let p = gas_price.max(1);
        return Ok(FeeSuggestions {
            eip1559: false,
            slow: legacy(p),
            normal: legacy(p.saturating_mul(11) / 10),
            fast: legacy(p.saturating_mul(13) / 10),
        });
    };
    // Median over the blocks of each percentile column; blocks without transactions report 0.
    let rewards: Vec<Vec<u128>> = history
        .get("reward")
        .and_then(Value::as_array)
        .map(|rows| {
            rows.iter()
                .filter_map(Value::as_array)
                .map(|r| r.iter().filter_map(|x| u128_of(x).ok()).collect())
                .collect()
        })
        .unwrap_or_default();
    let column = |i: usize| -> u128 {
        let mut c: Vec<u128> = rewards
            .iter()
            .filter_map(|r| r.get(i).copied())
            .filter(|x| *x > 0)
            .collect();
        c.sort_unstable();
        c.get(c.len() / 2).copied().unwrap_or(0)
    };
    // At least 1 gwei / 1.5 / 2 gwei of tip where blocks are empty (a quiet test chain).
    let floor = [1_000_000_000u128, 1_500_000_000, 2_000_000_000];
    let level = |i: usize| {
        let tip = column(i).max(floor[i]);
        FeeLevel {
            max_fee_per_gas: base.saturating_mul(2).saturating_add(tip),
            max_priority_fee_per_gas: tip,
        }
    };
    Ok(FeeSuggestions {
        eip1559: true,
        slow: level(0),
        normal: level(1),
        fast: level(2),
    })
}

/// Total of a fee level for `gas` units, in wei.
pub fn max_cost(level: &FeeLevel, gas: u64) -> U256 {
    U256::from(level.max_fee_per_gas) * U256::from(gas)
}
