//! Building a transfer (native coin or ERC-20) for a signer: the nonce from the node's pending
//! state, the gas limit from `eth_estimateGas` with a margin, fees from the suggestions or the
//! user's choice; then broadcasting what the signer returned and following it to its receipt.
//! Every transaction carries its chain id.

use std::time::{Duration, Instant};

use alloy_consensus::{TxEip1559, TxLegacy, TypedTransaction};
use alloy_primitives::{Address, Bytes, TxKind, B256, U256};
use serde::Serialize;
use serde_json::{json, Value};

use crate::{
    erc20::{transfer_data, Token},
    fees::{fee_suggestions, max_cost, FeeLevel},
    networks::EvmNetwork,
    rpc::{quantity, quantity_u64, Rpc},
    EvmError,
};

/// What is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Asset {
    /// The chain's coin.
    Native,
    /// An ERC-20 token.
    Token(Token),
}

/// How fees are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeeChoice {
    /// Low tip.
    Slow,
    /// Median tip.
    Normal,
    /// High tip.
    Fast,
    /// The user's own.
    Custom(FeeLevel),
}

/// A transfer to prepare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferRequest {
    /// The sending account.
    pub from: Address,
    /// The recipient.
    pub to: Address,
    /// What.
    pub asset: Asset,
    /// How much, in base units.
    pub amount: U256,
    /// Fees.
    pub fee: FeeChoice,
}

/// What the review screen shows (and the device shows the same).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Review {
    /// Network name.
    pub chain_name: String,
    /// Chain id.
    pub chain_id: u64,
    /// Sender.
    pub from: String,
    /// Recipient (the person, not the token contract).
    pub recipient: String,
    /// Amount with its unit ("1.5 ETH", "12.25 CLD").
    pub amount: String,
    /// The token contract, for token transfers.
    pub token_contract: Option<String>,
    /// Gas limit.
    pub gas_limit: u64,
    /// The most the fee can be, in the native coin ("0.00042 ETH").
    pub max_fee: String,
    /// The same in wei.
    pub max_fee_wei: String,
    /// Nonce.
    pub nonce: u64,
}

/// A transaction ready for a signer, and its review.
#[derive(Clone, Debug, PartialEq)]
pub struct PreparedTransfer {
    /// Unsigned.
    pub tx: TypedTransaction,
    /// What the user reviews.
    pub review: Review,
}

/// A mined transaction's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// Executed without revert.
    pub success: bool,
    /// Block.
    pub block_number: u64,
    /// Gas used.
    pub gas_used: u64,
    /// What the sender paid (gas used × effective gas price), in wei, when the node says.
    pub fee: Option<U256>,
}

/// `value` of `decimals` places as a decimal string without trailing zeros.
pub fn format_units(value: U256, decimals: u8) -> String {
    let s = value.to_string();
    let d = usize::from(decimals);
    if d == 0 {
        return s;
    }
    let padded = format!("{s:0>width$}", width = d + 1);
    let (whole, frac) = padded.split_at(padded.len() - d);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        whole.to_owned()
    } else {
        format!("{whole}.{frac}")
    }
}

/// Parses a decimal amount ("1.5") of `decimals` places into base units, exactly.
pub fn parse_units(text: &str, decimals: u8) -> Result<U256, EvmError> {
    let bad = || {
        EvmError::Invalid(format!(
            "“{text}” is not an amount with at most {decimals} decimals"
        ))
    };
    let t = text.trim();
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if (whole.is_empty() && frac.is_empty())
        || !whole
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
        || frac.len() > usize::from(decimals)
    {
        return Err(bad());
    }
    let digits = format!("{whole}{frac:0<width$}", width = usize::from(decimals));
    U256::from_str_radix(if digits.is_empty() { "0" } else { &digits }, 10).map_err(|_| bad())
}

/// Builds the transaction for `req` on `network` (the node is asked for nonce, gas, fees and
/// balances: three round trips) and checks the account can pay for it.
pub fn prepare_transfer(
    rpc: &Rpc,
    network: &EvmNetwork,
    req: &TransferRequest,
) -> Result<PreparedTransfer, EvmError> {
    if req.amount.is_zero() {
        return Err(EvmError::Invalid(
            "the amount must be more than zero".into(),
        ));
    }
    let (call_to, value, data, unit, decimals) = match &req.asset {
        Asset::Native => (req.to, req.amount, Vec::new(), network.symbol.clone(), 18u8),
        Asset::Token(t) => (
            t.address,
            U256::ZERO,
            transfer_data(req.to, req.amount),
            t.symbol.clone(),
            t.decimals,
        ),
    };
    let call =
        json!({"from": req.from, "to": call_to, "value": value, "data": Bytes::from(data.clone())});
    let mut calls = vec![
        ("eth_chainId", json!([])),
        ("eth_getTransactionCount", json!([req.from, "pending"])),
        ("eth_getBalance", json!([req.from, "latest"])),
        ("eth_estimateGas", json!([call])),
    ];
    if let Asset::Token(t) = &req.asset {
        calls.push((
            "eth_call",
            crate::erc20::call_params(t.address, crate::erc20::balance_of_data(req.from)),
        ));
    }
    let answers = rpc.batch(&calls)?;
    let get = |i: usize| -> Result<Value, EvmError> {
        answers
            .get(i)
            .cloned()
            .ok_or_else(|| EvmError::BadResponse("missing answer".into()))?
            .map_err(EvmError::from)
    };
    let chain_id = quantity_u64(get(0)?.as_str().unwrap_or_default())?;
    if chain_id != network.chain_id {
        return Err(EvmError::ChainMismatch {
            expected: network.chain_id,
            actual: chain_id,
        });
    }
    let nonce = quantity_u64(get(1)?.as_str().unwrap_or_default())?;
    let native = quantity(&get(2)?)?;
    if let Asset::Token(t) = &req.asset {
        let have = crate::erc20::decode_uint(&get(4)?)?;
        if have < req.amount {
            return Err(EvmError::Invalid(format!(
                "not enough {}: the account holds {}",
                t.symbol,
                format_units(have, t.decimals)
            )));
        }
    }
    let estimate = match get(3) {
        Ok(v) => quantity_u64(v.as_str().unwrap_or_default())?,
        Err(EvmError::Node { message, .. }) => {
            return Err(EvmError::Invalid(format!(
                "the node says this transfer would fail: {message}"
            )))
        }
        Err(e) => return Err(e),
    };
    // A plain transfer to an account costs exactly 21 000; anything else gets 20 % headroom.
    let gas_limit = if estimate == 21_000 && matches!(req.asset, Asset::Native) {
        estimate
    } else {
        estimate.saturating_add(estimate / 5)
    };
    let level = match req.fee {
        FeeChoice::Custom(l) => l,
        choice => {
            let s = fee_suggestions(rpc)?;
            match choice {
                FeeChoice::Slow => s.slow,
                FeeChoice::Fast => s.fast,
                _ => s.normal,
            }
        }
    };
    let cost = max_cost(&level, gas_limit);
    let needed = cost.saturating_add(value);
    if native < needed {
        return Err(EvmError::Invalid(format!(
            "not enough {} for this transfer and its fee: the account holds {}, needs up to {}",
            network.symbol,
            format_units(native, 18),
            format_units(needed, 18)
        )));
    }
    let input = Bytes::from(data);
    let tx = if network.eip1559 {
        TypedTransaction::Eip1559(TxEip1559 {
            chain_id,
            nonce,
            gas_limit,
            max_fee_per_gas: level.max_fee_per_gas,
            max_priority_fee_per_gas: level.max_priority_fee_per_gas,
            to: TxKind::Call(call_to),
            value,
            access_list: Default::default(),
            input,
        })
    } else {
        TypedTransaction::Legacy(TxLegacy {
            chain_id: Some(chain_id),
            nonce,
            gas_price: level.max_fee_per_gas,
            gas_limit,
            to: TxKind::Call(call_to),
            value,
            input,
        })
    };
    Ok(PreparedTransfer {
        tx,
        review: Review {
            chain_name: network.name.clone(),
            chain_id,
            from: req.from.to_checksum(None),
            recipient: req.to.to_checksum(None),
            amount: format!("{} {unit}", format_units(req.amount, decimals)),
            token_contract: match &req.asset {
                Asset::Token(t) => Some(t.address.to_checksum(None)),
                Asset::Native => None,
            },
            gas_limit,
            max_fee: format!("{} {}", format_units(cost, 18), network.symbol),
            max_fee_wei: cost.to_string(),
            nonce,
        },
    })
}

/// Sends a signed transaction (EIP-2718 bytes); returns its hash.
pub fn broadcast(rpc: &Rpc, raw: &[u8]) -> Result<B256, EvmError> {
    rpc.call(
        "eth_sendRawTransaction",
        json!([Bytes::copy_from_slice(raw)]),
    )
}

/// The receipt, once mined.
pub fn receipt(rpc: &Rpc, hash: B256) -> Result<Option<Receipt>, EvmError> {
    let r: Value = rpc.call("eth_getTransactionReceipt", json!([hash]))?;
    if r.is_null() {
        return Ok(None);
    }
    let field = |k: &str| {
        r.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Ok(Some(Receipt {
        success: field("status") == "0x1",
        block_number: quantity_u64(&field("blockNumber"))?,
        gas_used: quantity_u64(&field("gasUsed"))?,
        fee: paid_fee(&r),
    }))
}

/// Gas used × effective gas price of a receipt (JSON), when both are there.
pub(crate) fn paid_fee(receipt: &Value) -> Option<U256> {
    let gas = crate::rpc::quantity(receipt.get("gasUsed")?).ok()?;
    let price = crate::rpc::quantity(receipt.get("effectiveGasPrice")?).ok()?;
    gas.checked_mul(price)
}

/// Polls for the receipt until `timeout`; `None` if still pending then.
pub fn wait_for_receipt(
    rpc: &Rpc,
    hash: B256,
    timeout: Duration,
) -> Result<Option<Receipt>, EvmError> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(r) = receipt(rpc, hash)? {
            return Ok(Some(r));
        }
        if Instant::now() >= end {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_round_trip_exactly() {
        assert_eq!(
            format_units(U256::from(1_500_000_000_000_000_000u128), 18),
            "1.5"
        );
        assert_eq!(format_units(U256::from(1u8), 18), "0.000000000000000001");
        assert_eq!(format_units(U256::from(1_000_000u64), 6), "1");
        assert_eq!(format_units(U256::ZERO, 6), "0");
        assert_eq!(
            parse_units("1.5", 18).ok(),
            Some(U256::from(1_500_000_000_000_000_000u128))
        );
        assert_eq!(parse_units("0.000001", 6).ok(), Some(U256::from(1u8)));
        assert_eq!(parse_units(".5", 1).ok(), Some(U256::from(5u8)));
        for bad in ["", ".", "1.2345678", "-1", "1e3", "1,5", "abc"] {
            assert!(parse_units(bad, 6).is_err(), "{bad}");
        }
    }
}
