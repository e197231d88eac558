//! An EVM transaction as a person or script describes it (JSON), checked and turned into the
//! transaction the signer signs. Amounts are decimal strings of wei, so nothing passes
//! through floating point; addresses must carry a valid EIP-55 checksum when mixed-case.

use alloy_consensus::{TxEip1559, TxLegacy, TypedTransaction};
use alloy_primitives::{Address, Bytes, TxKind, U256};
use serde::Deserialize;

use crate::AppError;

/// An unsigned transaction request. With `maxFeePerGas` it is EIP-1559; with `gasPrice`
/// a legacy EIP-155 transaction.
#[derive(Clone, Debug, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EvmTxRequest {
    /// Chain id; always signed in, so the transaction cannot be replayed on another chain.
    pub chain_id: u64,
    /// Sender's nonce.
    pub nonce: u64,
    /// Recipient; omitted for contract creation.
    pub to: Option<String>,
    /// Amount in wei, decimal.
    pub value: String,
    /// Gas limit.
    pub gas_limit: u64,
    /// EIP-1559 fee cap in wei, decimal.
    pub max_fee_per_gas: Option<String>,
    /// EIP-1559 priority fee in wei, decimal.
    pub max_priority_fee_per_gas: Option<String>,
    /// Legacy gas price in wei, decimal.
    pub gas_price: Option<String>,
    /// Call data, 0x-prefixed hex.
    #[serde(default)]
    pub data: Option<String>,
}

fn wei(field: &str, v: &str) -> Result<u128, AppError> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::invalid(format!(
            "{field} must be a whole number of wei in decimal digits; got “{v}”"
        )));
    }
    v.parse()
        .map_err(|_| AppError::invalid(format!("{field} is too large")))
}

/// Parses an address; mixed-case input must have a correct EIP-55 checksum.
pub fn parse_address(text: &str) -> Result<Address, AppError> {
    let t = text.trim();
    let hex = t.strip_prefix("0x").unwrap_or(t);
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::invalid(format!(
            "“{t}” is not an Ethereum address (0x followed by 40 hex digits)"
        )));
    }
    let mixed =
        hex.bytes().any(|b| b.is_ascii_lowercase()) && hex.bytes().any(|b| b.is_ascii_uppercase());
    let with_prefix = format!("0x{hex}");
    if mixed {
        Address::parse_checksummed(&with_prefix, None).map_err(|_| {
            AppError::invalid(format!(
                "“{t}” has a wrong checksum (EIP-55): check for a typo"
            ))
        })
    } else {
        with_prefix
            .parse()
            .map_err(|_| AppError::invalid(format!("“{t}” is not an Ethereum address")))
    }
}

impl EvmTxRequest {
    /// Parses JSON.
    pub fn from_json(text: &str) -> Result<Self, AppError> {
        serde_json::from_str(text)
            .map_err(|e| AppError::invalid(format!("transaction request: {e}")))
    }

    /// Checks every field and builds the transaction.
    pub fn build(&self) -> Result<TypedTransaction, AppError> {
        let to = match &self.to {
            Some(a) => TxKind::Call(parse_address(a)?),
            None => TxKind::Create,
        };
        let value = U256::from(wei("value", &self.value)?);
        let input = match self.data.as_deref().map(str::trim) {
            None | Some("") | Some("0x") => Bytes::new(),
            Some(h) => {
                let hex = h.strip_prefix("0x").unwrap_or(h);
                alloy_primitives::hex::decode(hex)
                    .map(Bytes::from)
                    .map_err(|_| AppError::invalid("data must be 0x-prefixed hex"))?
            }
        };
        if self.chain_id == 0 {
            return Err(AppError::invalid("chainId must be set (replay protection)"));
        }
        match (&self.max_fee_per_gas, &self.gas_price) {
            (Some(max_fee), None) => {
                let max_fee = wei("maxFeePerGas", max_fee)?;
                let tip = wei(
                    "maxPriorityFeePerGas",
                    self.max_priority_fee_per_gas.as_deref().unwrap_or("0"),
                )?;
                if tip > max_fee {
                    return Err(AppError::invalid(
                        "maxPriorityFeePerGas cannot exceed maxFeePerGas",
                    ));
                }
                Ok(TypedTransaction::Eip1559(TxEip1559 {
                    chain_id: self.chain_id,
                    nonce: self.nonce,
                    gas_limit: self.gas_limit,
                    max_fee_per_gas: max_fee,
                    max_priority_fee_per_gas: tip,
                    to,
                    value,
                    access_list: Default::default(),
                    input,
                }))
            }
            (None, Some(price)) => Ok(TypedTransaction::Legacy(TxLegacy {
                chain_id: Some(self.chain_id),
                nonce: self.nonce,
                gas_price: wei("gasPrice", price)?,
                gas_limit: self.gas_limit,
                to,
                value,
                input,
            })),
            _ => Err(AppError::invalid(
                "give either maxFeePerGas (EIP-1559) or gasPrice (legacy), not both or neither",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn req(json: &str) -> Result<TypedTransaction, AppError> {
        EvmTxRequest::from_json(json)?.build()
    }

    #[test]
    fn builds_eip1559_and_legacy() {
        let t = req(r#"{"chainId":1,"nonce":0,"to":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed","value":"1000000000000000000","gasLimit":21000,"maxFeePerGas":"30000000000","maxPriorityFeePerGas":"1000000000"}"#).expect("1559");
        assert!(
            matches!(t, TypedTransaction::Eip1559(ref x) if x.value == U256::from(10u128.pow(18)))
        );
        let t = req(r#"{"chainId":5,"nonce":3,"to":"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed","value":"0","gasLimit":21000,"gasPrice":"1","data":"0xdeadbeef"}"#).expect("legacy");
        assert!(
            matches!(t, TypedTransaction::Legacy(ref x) if x.chain_id == Some(5) && x.input.len() == 4)
        );
    }

    #[test]
    fn every_malformed_field_is_a_clear_input_error() {
        let base = r#"{"chainId":1,"nonce":0,"to":"TO","value":"VALUE","gasLimit":21000,"maxFeePerGas":"FEE"}"#;
        let with = |to: &str, value: &str, fee: &str| {
            req(&base
                .replace("TO", to)
                .replace("VALUE", value)
                .replace("FEE", fee))
        };
        let good_to = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
        let cases = [
            (
                with("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", "1", "1"),
                "checksum",
            ),
            (with("0x1234", "1", "1"), "not an Ethereum address"),
            (with(good_to, "1.5", "1"), "whole number of wei"),
            (with(good_to, "-1", "1"), "whole number of wei"),
            (with(good_to, "1e18", "1"), "whole number of wei"),
            (
                with(good_to, "999999999999999999999999999999999999999999", "1"),
                "too large",
            ),
            (with(good_to, "1", ""), "maxFeePerGas"),
            (req("{"), "transaction request"),
            (req(r#"{"chainId":1}"#), "transaction request"),
            (
                req(&base
                    .replace("TO", good_to)
                    .replace("VALUE", "1")
                    .replace("FEE", "1")
                    .replace("\"chainId\":1", "\"chainId\":0")),
                "chainId",
            ),
            (
                req(&base
                    .replace("TO", good_to)
                    .replace("VALUE", "1")
                    .replace("FEE", "1")
                    .replace('}', r#","gasPrice":"1"}"#)),
                "not both",
            ),
            (
                req(&base
                    .replace("TO", good_to)
                    .replace("VALUE", "1")
                    .replace("FEE", "1")
                    .replace('}', r#","maxPriorityFeePerGas":"2"}"#)),
                "cannot exceed",
            ),
            (
                req(&base
                    .replace("TO", good_to)
                    .replace("VALUE", "1")
                    .replace("FEE", "1")
                    .replace('}', r#","data":"0xzz"}"#)),
                "hex",
            ),
            (
                req(&base
                    .replace("TO", good_to)
                    .replace("VALUE", "1")
                    .replace("FEE", "1")
                    .replace('}', r#","extra":1}"#)),
                "unknown field",
            ),
        ];
        for (r, needle) in cases {
            let e = r.expect_err(needle);
            assert_eq!(e.kind, ErrorKind::InvalidInput, "{needle}");
            assert!(e.message.contains(needle), "{needle}: {}", e.message);
        }
    }
}
