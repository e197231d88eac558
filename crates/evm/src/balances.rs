//! Balances of many accounts in native coin and tokens, in one JSON-RPC batch (one round
//! trip): `eth_getBalance` per account and `balanceOf` per account and token.

use alloy_primitives::{Address, U256};
use serde::Serialize;
use serde_json::json;

use crate::{
    erc20::{balance_of_data, call_params, decode_uint, Token},
    rpc::{quantity, Rpc},
    EvmError,
};

/// One token balance; `None` when the token's contract failed for this account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenBalance {
    /// The token.
    pub token: Token,
    /// Base units.
    pub amount: Option<U256>,
}

/// One account's balances.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountBalances {
    /// The account.
    pub address: Address,
    /// Native coin in wei.
    pub native: U256,
    /// Token balances, in the order asked.
    pub tokens: Vec<TokenBalance>,
}

/// Balances of `accounts` in the native coin and each of `tokens`.
pub fn balances(
    rpc: &Rpc,
    accounts: &[Address],
    tokens: &[Token],
) -> Result<Vec<AccountBalances>, EvmError> {
    let mut calls = Vec::with_capacity(accounts.len() * (1 + tokens.len()));
    for a in accounts {
        calls.push(("eth_getBalance", json!([a, "latest"])));
        for t in tokens {
            calls.push(("eth_call", call_params(t.address, balance_of_data(*a))));
        }
    }
    let mut answers = rpc.batch(&calls)?.into_iter();
    let mut out = Vec::with_capacity(accounts.len());
    for a in accounts {
        let native = answers
            .next()
            .ok_or_else(|| EvmError::BadResponse("missing balance".into()))?
            .map_err(EvmError::from)?;
        let mut list = Vec::with_capacity(tokens.len());
        for t in tokens {
            let amount = match answers.next() {
                Some(Ok(v)) => decode_uint(&v).ok(),
                _ => None,
            };
            list.push(TokenBalance {
                token: t.clone(),
                amount,
            });
        }
        out.push(AccountBalances {
            address: *a,
            native: quantity(&native)?,
            tokens: list,
        });
    }
    Ok(out)
}
