//! ERC-20 tokens: the calls Coldlink makes (ABI-encoded with alloy's `sol!`), and reading a
//! token the user adds, which must answer `decimals` and `symbol` like a token does.

use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::{sol, SolCall};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{rpc::Rpc, EvmError};

sol! {
    function balanceOf(address owner) external view returns (uint256);
    function transfer(address to, uint256 value) external returns (bool);
    function decimals() external view returns (uint8);
    function symbol() external view returns (string);
}

/// A token on one chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Token {
    /// Ticker as the contract reports it.
    pub symbol: String,
    /// Decimal places.
    pub decimals: u8,
    /// Contract address.
    pub address: Address,
}

/// `eth_call` parameters for `data` to `to` at the latest block.
pub(crate) fn call_params(to: Address, data: Vec<u8>) -> serde_json::Value {
    json!([{"to": to, "data": Bytes::from(data)}, "latest"])
}

/// Calldata of `balanceOf(owner)`.
pub(crate) fn balance_of_data(owner: Address) -> Vec<u8> {
    balanceOfCall { owner }.abi_encode()
}

/// Calldata of `transfer(to, value)`.
pub fn transfer_data(to: Address, value: U256) -> Vec<u8> {
    transferCall { to, value }.abi_encode()
}

/// Decodes an ABI `uint256` answer.
pub(crate) fn decode_uint(v: &serde_json::Value) -> Result<U256, EvmError> {
    let bytes: Bytes = serde_json::from_value(v.clone())
        .map_err(|e| EvmError::BadResponse(format!("eth_call: {e}")))?;
    balanceOfCall::abi_decode_returns(&bytes)
        .map_err(|e| EvmError::BadResponse(format!("not a uint256 answer: {e}")))
}

/// Reads a token's `decimals` and `symbol` (one round trip); refuses an address that does not
/// answer like an ERC-20 token.
pub fn token_info(rpc: &Rpc, address: Address) -> Result<Token, EvmError> {
    let not_token = |why: String| {
        EvmError::Invalid(format!(
            "{address} does not answer like an ERC-20 token on this network ({why})"
        ))
    };
    let answers = rpc.batch(&[
        (
            "eth_call",
            call_params(address, decimalsCall {}.abi_encode()),
        ),
        ("eth_call", call_params(address, symbolCall {}.abi_encode())),
    ])?;
    let bytes = |i: usize| -> Result<Bytes, EvmError> {
        let v = answers
            .get(i)
            .cloned()
            .ok_or_else(|| not_token("no answer".into()))?
            .map_err(|e| not_token(e.message))?;
        serde_json::from_value(v).map_err(|e| not_token(e.to_string()))
    };
    let d = bytes(0)?;
    let s = bytes(1)?;
    if d.is_empty() || s.is_empty() {
        return Err(not_token("no contract code there".into()));
    }
    let decimals = decimalsCall::abi_decode_returns(&d).map_err(|e| not_token(e.to_string()))?;
    let symbol = symbolCall::abi_decode_returns(&s).map_err(|e| not_token(e.to_string()))?;
    let symbol = symbol.trim().to_owned();
    if symbol.is_empty()
        || symbol.len() > 32
        || symbol.chars().any(char::is_control)
        || decimals > 36
    {
        return Err(not_token("implausible symbol or decimals".into()));
    }
    Ok(Token {
        symbol,
        decimals,
        address,
    })
}
