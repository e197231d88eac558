//! EVM use cases: networks, balances of accounts and tokens, and sending native coins or
//! ERC-20 tokens from any signer (a device by id, or the unlocked software wallet): prepare
//! with the node, have the signer sign (the device shows the same), check the recovered signer
//! is the account, broadcast and follow it to its receipt.

use std::{str::FromStr, time::Duration};

use alloy_consensus::TxEnvelope;
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, U256};
use bitcoin::Network;
use coldlink_evm::{
    balances, broadcast, format_units, parse_units, prepare_transfer, token_info, wait_for_receipt,
    Asset, EvmError, EvmNetwork, FeeChoice, Review, Rpc, TransferRequest, NETWORKS,
};
use coldlink_signer::SignerError;
use serde::Serialize;

use crate::{evm_request::parse_address, hardware::parse_path, AppError, Coldlink, ErrorKind};

impl From<EvmError> for AppError {
    fn from(e: EvmError) -> Self {
        let kind = match &e {
            EvmError::Unreachable { .. } => ErrorKind::Disconnected,
            EvmError::Node { .. } | EvmError::BadResponse(_) => ErrorKind::DeviceError,
            EvmError::ChainMismatch { .. } | EvmError::Invalid(_) => ErrorKind::InvalidInput,
        };
        AppError::new(kind, crate::error::capitalise(&e.to_string()))
    }
}

/// Where to find a network: a built-in key, optionally with another RPC URL, or a custom URL
/// with the chain id the user expects.
#[derive(Clone, Debug, Default)]
pub struct NetworkChoice {
    /// Built-in key ("ethereum", "base", …).
    pub key: Option<String>,
    /// RPC URL (overrides the built-in one, or defines a custom network).
    pub rpc_url: Option<String>,
    /// Chain id of a custom network.
    pub chain_id: Option<u64>,
}

/// One account's balances, for people and scripts: exact base units and decimal text.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BalanceView {
    /// The account (EIP-55).
    pub address: String,
    /// Native coin symbol.
    pub symbol: String,
    /// Native balance in wei (decimal string).
    pub wei: String,
    /// Native balance as a decimal.
    pub amount: String,
    /// Token balances.
    pub tokens: Vec<TokenBalanceView>,
}

/// One token balance.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenBalanceView {
    /// Ticker.
    pub symbol: String,
    /// Contract (EIP-55).
    pub contract: String,
    /// Base units; `None` when the contract failed.
    pub units: Option<String>,
    /// As a decimal.
    pub amount: Option<String>,
}

/// A sent transaction.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SentEvmTx {
    /// Transaction hash.
    pub hash: String,
    /// What was reviewed and signed.
    pub review: Review,
    /// "pending", "confirmed" or "failed" (mined but reverted).
    pub status: String,
    /// The block, once mined.
    pub block: Option<u64>,
}

impl Coldlink {
    /// The built-in networks.
    pub fn evm_networks(&self) -> Vec<EvmNetwork> {
        NETWORKS.clone()
    }

    /// Resolves a network choice, checking a custom network's chain id against its node.
    pub fn evm_network(&self, choice: &NetworkChoice) -> Result<EvmNetwork, AppError> {
        match (&choice.key, &choice.rpc_url, choice.chain_id) {
            (Some(key), url, _) => {
                let mut n = NETWORKS
                    .iter()
                    .find(|n| &n.key == key)
                    .cloned()
                    .ok_or_else(|| {
                        AppError::invalid(format!(
                            "unknown network “{key}”: one of {}",
                            NETWORKS
                                .iter()
                                .map(|n| n.key.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    })?;
                if let Some(u) = url {
                    n.rpc_url = u.clone();
                }
                Ok(n)
            }
            (None, Some(url), Some(chain_id)) => Ok(EvmNetwork::custom(
                &format!("chain {chain_id}"),
                url,
                chain_id,
                "ETH",
            )?),
            _ => Err(AppError::invalid(
                "choose a network by name, or give its RPC URL and chain id",
            )),
        }
    }

    /// Balances of `addresses` in the native coin and `tokens` (contract addresses), read in
    /// one round trip after the tokens are identified.
    pub fn evm_balances(
        &self,
        network: &EvmNetwork,
        addresses: &[String],
        tokens: &[String],
    ) -> Result<Vec<BalanceView>, AppError> {
        let accounts = addresses
            .iter()
            .map(|a| parse_address(a))
            .collect::<Result<Vec<_>, _>>()?;
        let rpc = network.check()?;
        let tokens = tokens
            .iter()
            .map(|t| Ok(token_info(&rpc, parse_address(t)?)?))
            .collect::<Result<Vec<_>, AppError>>()?;
        let list = balances(&rpc, &accounts, &tokens)?;
        Ok(list
            .into_iter()
            .map(|b| BalanceView {
                address: b.address.to_checksum(None),
                symbol: network.symbol.clone(),
                wei: b.native.to_string(),
                amount: format_units(b.native, 18),
                tokens: b
                    .tokens
                    .into_iter()
                    .map(|t| TokenBalanceView {
                        symbol: t.token.symbol.clone(),
                        contract: t.token.address.to_checksum(None),
                        units: t.amount.map(|a| a.to_string()),
                        amount: t.amount.map(|a| format_units(a, t.token.decimals)),
                    })
                    .collect(),
            })
            .collect())
    }

    /// The EVM address of `signer` ("soft" for the software wallet, else a device id) at `path`.
    pub fn evm_address_of(&self, signer: &str, path: &str) -> Result<Address, AppError> {
        if signer == "soft" {
            let path = parse_path(path)?;
            return self.with_soft_wallet(|w| Ok(w.eth_address(&path)?));
        }
        Address::from_str(&self.eth_address(signer, path, false)?)
            .map_err(|e| AppError::internal(e.to_string()))
    }

    /// Sends `amount` (decimal, in the asset's unit) of the native coin or of the token at
    /// `token` to `to`, signed by `signer` at `path`; waits up to `wait` for the receipt.
    #[allow(clippy::too_many_arguments)]
    pub fn evm_send(
        &self,
        network: &EvmNetwork,
        signer: &str,
        path: &str,
        to: &str,
        amount: &str,
        token: Option<&str>,
        fee: &str,
        wait: Duration,
    ) -> Result<SentEvmTx, AppError> {
        let to = parse_address(to)?;
        let fee = crate::evm_send::fee_choice(fee)?;
        let rpc = network.check()?;
        let from = self.evm_address_of(signer, path)?;
        let prepared = build_transfer(&rpc, network, from, to, amount, token, fee)?;
        let signed = self.sign_checked(signer, path, prepared.tx.clone(), from)?;
        let raw = TxEnvelope::from(signed).encoded_2718();
        let hash = broadcast(&rpc, &raw)?;
        let receipt = wait_for_receipt(&rpc, hash, wait)?;
        Ok(SentEvmTx {
            hash: format!("{hash:#x}"),
            review: prepared.review,
            status: status_of(receipt.as_ref()).into(),
            block: receipt.map(|r| r.block_number),
        })
    }

    /// Signs `tx` with `signer` ("soft" or a device id) at `path` (the device shows it) and
    /// checks the signature comes from `from`.
    pub(crate) fn sign_checked(
        &self,
        signer: &str,
        path: &str,
        tx: alloy_consensus::TypedTransaction,
        from: Address,
    ) -> Result<alloy_consensus::Signed<alloy_consensus::TypedTransaction>, AppError> {
        let p = parse_path(path)?;
        let signed = if signer == "soft" {
            self.with_soft_wallet(|w| Ok(w.sign_evm_transaction(&p, tx)?))?
        } else {
            let (mut dev, _in_use) = self.open_device(signer, Network::Bitcoin)?;
            dev.eth_sign(&p, tx)?
        };
        let recovered = signed
            .recover_signer()
            .map_err(|e| AppError::from(SignerError::BadResponse(e.to_string())))?;
        if recovered != from {
            return Err(SignerError::BadResponse(
                "the signature is not from the sending account".into(),
            )
            .into());
        }
        Ok(signed)
    }

    /// Follows a sent transaction: "pending", "confirmed" or "failed".
    pub fn evm_tx_status(&self, network: &EvmNetwork, hash: &str) -> Result<String, AppError> {
        let h = alloy_primitives::B256::from_str(hash.trim())
            .map_err(|_| AppError::invalid(format!("“{hash}” is not a transaction hash")))?;
        let rpc = Rpc::new(&network.rpc_url)?;
        Ok(status_of(coldlink_evm::receipt(&rpc, h)?.as_ref()).into())
    }
}

/// "pending", "confirmed" or "failed" (mined but reverted).
pub(crate) fn status_of(receipt: Option<&coldlink_evm::Receipt>) -> &'static str {
    match receipt {
        None => "pending",
        Some(r) if r.success => "confirmed",
        Some(_) => "failed",
    }
}

/// A transfer of `amount` (decimal, in the asset's unit) of the native coin or of the token at
/// `token`, from `from` to `to`, prepared with the node.
pub(crate) fn build_transfer(
    rpc: &Rpc,
    network: &EvmNetwork,
    from: Address,
    to: Address,
    amount: &str,
    token: Option<&str>,
    fee: FeeChoice,
) -> Result<coldlink_evm::PreparedTransfer, AppError> {
    let (asset, decimals) = match token.filter(|t| !t.is_empty()) {
        Some(t) => {
            let t = token_info(rpc, parse_address(t)?)?;
            let d = t.decimals;
            (Asset::Token(t), d)
        }
        None => (Asset::Native, 18),
    };
    let amount: U256 = parse_units(amount, decimals)?;
    Ok(prepare_transfer(
        rpc,
        network,
        &TransferRequest {
            from,
            to,
            asset,
            amount,
            fee,
        },
    )?)
}
