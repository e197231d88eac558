//! Sending from an EVM account the app keeps: a review the user reads (amount, recipient, the
//! most the fee can be, in their currency), then the signer signs exactly what was reviewed,
//! the signature is checked to come from the account, the transaction is broadcast, recorded
//! with the review, and followed to its receipt (status and the fee paid).

use std::{
    collections::HashMap,
    str::FromStr,
    sync::{Arc, Mutex},
    time::Duration,
};

use alloy_consensus::TxEnvelope;
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::Address;
use coldlink_evm::{broadcast, parse_units, EvmNetwork, FeeChoice, PreparedTransfer};
use coldlink_store::SendRow;
use serde::Serialize;

use crate::{
    evm_accounts::{link, store_error},
    evm_request::parse_address,
    AppError, Coldlink, ErrorKind,
};

/// Reviewed transfers waiting for the user's "Send".
#[derive(Clone, Default)]
pub(crate) struct PendingSends(Arc<Mutex<(u32, HashMap<u32, Pending>)>>);

impl std::fmt::Debug for PendingSends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingSends")
    }
}

#[derive(Clone)]
struct Pending {
    network: EvmNetwork,
    account_id: i64,
    signer: String,
    path: String,
    from: Address,
    prepared: PreparedTransfer,
}

/// The review of a transfer, as the UI shows it.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SendReview {
    /// Id to confirm with.
    pub id: u32,
    /// Network name.
    pub chain_name: String,
    /// Chain id.
    pub chain_id: String,
    /// From.
    pub from: String,
    /// Recipient.
    pub recipient: String,
    /// The ENS name the recipient was given as, if any.
    pub recipient_name: Option<String>,
    /// Amount with unit.
    pub amount: String,
    /// Token contract, for tokens.
    pub token_contract: Option<String>,
    /// Maximum fee in the native coin.
    pub max_fee: String,
    /// The maximum fee in the user's currency, when a price is known.
    pub max_fee_fiat: Option<String>,
    /// The amount in the user's currency, when a price is known.
    pub amount_fiat: Option<String>,
    /// The price used, with its age if it is not fresh.
    pub price_note: Option<String>,
    /// Nonce.
    pub nonce: String,
    /// Who signs, for "Confirm on your …".
    pub signer_name: String,
}

/// A send from the app.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SendView {
    /// Hash.
    pub hash: String,
    /// "pending", "confirmed", "failed".
    pub status: String,
    /// Amount with unit.
    pub amount: String,
    /// Recipient.
    pub recipient: String,
    /// Explorer link, if the network has one.
    pub link: Option<String>,
    /// The sending account, if it is still kept.
    pub account_id: Option<u32>,
}

impl Coldlink {
    /// Prepares a transfer from account `account_id` for review.
    #[allow(clippy::too_many_arguments)]
    pub fn evm_prepare_send(
        &self,
        network: &str,
        account_id: u32,
        to: &str,
        amount: &str,
        token: Option<&str>,
        fee: &str,
    ) -> Result<SendReview, AppError> {
        let net = self.network_by_key(network)?;
        let row = self
            .with_store(|s| s.account(i64::from(account_id)).map_err(store_error))?
            .ok_or_else(|| AppError::new(ErrorKind::NotFound, "no such account"))?;
        let path = row.path.clone().ok_or_else(|| {
            AppError::new(ErrorKind::Unsupported, "a watch-only account cannot send")
        })?;
        let signer = match row.signer.as_str() {
            "soft" => "soft".to_owned(),
            fp => self.device_by_fingerprint(fp).map_err(|_| {
                AppError::new(
                    ErrorKind::NotFound,
                    format!("connect and unlock the device this account belongs to ({}, fingerprint {fp})", row.signer_name),
                )
            })?,
        };
        let from = parse_address(&row.address)?;
        let fee = fee_choice(fee)?;
        let rpc = net.check()?;
        let (to, recipient_name) = if coldlink_evm::ens::is_name(to) {
            if net.chain_id != 1 {
                return Err(AppError::invalid(
                    "ENS names are resolved on Ethereum mainnet only: paste the address",
                ));
            }
            let a = coldlink_evm::ens::resolve(&rpc, coldlink_evm::ens::MAINNET_REGISTRY, to)?
                .ok_or_else(|| AppError::invalid(format!("{} has no address", to.trim())))?;
            (a, Some(to.trim().to_ascii_lowercase()))
        } else {
            (parse_address(to)?, None)
        };
        let prepared = crate::evm_ops::build_transfer(&rpc, &net, from, to, amount, token, fee)?;
        let r = &prepared.review;
        let coin = crate::prices::coin_id(&net.symbol);
        let price = coin.and_then(|c| self.spot_price(c));
        let fiat = |wei: u128| coin.and_then(|c| self.fiat_text(c, wei, 18));
        let max_fee_fiat = r.max_fee_wei.parse::<u128>().ok().and_then(fiat);
        let amount_fiat = match &prepared.tx {
            alloy_consensus::TypedTransaction::Eip1559(t) if !t.value.is_zero() => {
                u128::try_from(t.value).ok().and_then(fiat)
            }
            alloy_consensus::TypedTransaction::Legacy(t) if !t.value.is_zero() => {
                u128::try_from(t.value).ok().and_then(fiat)
            }
            _ => None,
        };
        let price_note = price.map(|p| match p.stale_because {
            Some(why) => format!(
                "{} per {}, {} min old ({why})",
                p.text,
                net.symbol,
                p.age_secs / 60
            ),
            None => format!("{} per {}", p.text, net.symbol),
        });
        let mut pending = self
            .pending_sends
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        pending.0 += 1;
        let id = pending.0;
        let review = SendReview {
            id,
            chain_name: r.chain_name.clone(),
            chain_id: r.chain_id.to_string(),
            from: r.from.clone(),
            recipient: r.recipient.clone(),
            recipient_name,
            amount: r.amount.clone(),
            token_contract: r.token_contract.clone(),
            max_fee: r.max_fee.clone(),
            max_fee_fiat,
            amount_fiat,
            price_note,
            nonce: r.nonce.to_string(),
            signer_name: row.signer_name.clone(),
        };
        pending.1.insert(
            id,
            Pending {
                network: net,
                account_id: row.id,
                signer,
                path,
                from,
                prepared,
            },
        );
        Ok(review)
    }

    /// Signs exactly the reviewed transfer `id` (the device shows the same), checks the
    /// signature is the account's, broadcasts it and records it.
    pub fn evm_confirm_send(&self, id: u32) -> Result<SendView, AppError> {
        let p = self
            .pending_sends
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .remove(&id)
            .ok_or_else(|| {
                AppError::new(
                    ErrorKind::NotFound,
                    "this review has expired: review the transfer again",
                )
            })?;
        let review_json = serde_json::to_value(&p.prepared.review).unwrap_or_default();
        let chain = format!("evm:{}", p.network.chain_id);
        let who = if p.signer == "soft" {
            "Software wallet".to_owned()
        } else {
            format!("device {}", p.signer)
        };
        let signed = self.sign_checked(&p.signer, &p.path, p.prepared.tx.clone(), p.from);
        let signed = match signed {
            Ok(s) => s,
            Err(e) => {
                self.journal(
                    &who,
                    &p.prepared.review.from,
                    &chain,
                    &review_json,
                    &crate::journal::outcome_of(&e),
                    None,
                );
                return Err(e);
            }
        };
        let sent = p
            .network
            .check()
            .and_then(|rpc| broadcast(&rpc, &TxEnvelope::from(signed).encoded_2718()))
            .map_err(AppError::from);
        let hash = match sent {
            Ok(h) => format!("{h:#x}"),
            Err(e) => {
                self.journal(
                    &who,
                    &p.prepared.review.from,
                    &chain,
                    &review_json,
                    &format!("signed, not broadcast: {}", e.message),
                    None,
                );
                return Err(e);
            }
        };
        self.journal(
            &who,
            &p.prepared.review.from,
            &chain,
            &review_json,
            "broadcast",
            Some(&hash),
        );
        let review = serde_json::to_string(&p.prepared.review).unwrap_or_default();
        self.with_store(|s| {
            s.record_send(&SendRow {
                hash: hash.clone(),
                network: p.network.key.clone(),
                account_id: Some(p.account_id),
                review,
                status: "pending".into(),
                block: None,
                created_at: crate::prices::now(),
                fee_paid: None,
            })
            .map_err(store_error)
        })?;
        // A local node mines at once; elsewhere the UI follows it with `evm_send_status`.
        let status = self.evm_send_status(&p.network.key, &hash, Duration::from_millis(1500))?;
        Ok(SendView {
            link: link(&p.network, &hash),
            hash,
            status,
            amount: p.prepared.review.amount.clone(),
            recipient: p.prepared.review.recipient.clone(),
            account_id: u32::try_from(p.account_id).ok(),
        })
    }

    /// Follows a send: waits up to `wait` for its receipt, records and returns its status.
    pub fn evm_send_status(
        &self,
        network: &str,
        hash: &str,
        wait: Duration,
    ) -> Result<String, AppError> {
        let net = self.network_by_key(network)?;
        let h = alloy_primitives::B256::from_str(hash.trim())
            .map_err(|_| AppError::invalid(format!("“{hash}” is not a transaction hash")))?;
        let rpc = coldlink_evm::Rpc::new(&net.rpc_url)?;
        let receipt = coldlink_evm::wait_for_receipt(&rpc, h, wait)?;
        let status = crate::evm_ops::status_of(receipt.as_ref());
        if let Some(r) = receipt {
            self.with_store(|s| {
                let rows = s.sends(&net.key).map_err(store_error)?;
                if let Some(mut row) = rows.into_iter().find(|x| x.hash == hash) {
                    row.status = status.into();
                    row.block = i64::try_from(r.block_number).ok();
                    row.fee_paid = r.fee.map(|f| f.to_string());
                    s.record_send(&row).map_err(store_error)?;
                }
                Ok(())
            })?;
        }
        Ok(status.into())
    }

    /// The sends made from the app on `network`, newest first.
    pub fn evm_sends(&self, network: &str) -> Result<Vec<SendView>, AppError> {
        let net = self.network_by_key(network)?;
        let rows = self.with_store(|s| s.sends(&net.key).map_err(store_error))?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let review: serde_json::Value = serde_json::from_str(&r.review).unwrap_or_default();
                let field = |k: &str| {
                    review
                        .get(k)
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_owned()
                };
                SendView {
                    link: link(&net, &r.hash),
                    account_id: r.account_id.and_then(|id| u32::try_from(id).ok()),
                    amount: field("amount"),
                    recipient: field("recipient"),
                    hash: r.hash,
                    status: r.status,
                }
            })
            .collect())
    }
}

/// A fee choice from the UI: "slow", "normal", "fast" or "custom:<max fee gwei>:<tip gwei>".
pub(crate) fn fee_choice(fee: &str) -> Result<FeeChoice, AppError> {
    Ok(match fee {
        "slow" => FeeChoice::Slow,
        "fast" => FeeChoice::Fast,
        "normal" | "" => FeeChoice::Normal,
        custom => {
            let parts: Vec<&str> = custom
                .strip_prefix("custom:")
                .unwrap_or("")
                .split(':')
                .collect();
            let [max, tip] = parts.as_slice() else {
                return Err(AppError::invalid(format!("unknown fee “{fee}”")));
            };
            let gwei = |t: &str| -> Result<u128, AppError> {
                let v = parse_units(t, 9)?;
                u128::try_from(v).map_err(|_| AppError::invalid("fee too large"))
            };
            let (max, tip) = (gwei(max)?, gwei(tip)?);
            if tip > max || max == 0 {
                return Err(AppError::invalid(
                    "the maximum fee must be above zero and at least the priority fee",
                ));
            }
            FeeChoice::Custom(coldlink_evm::FeeLevel {
                max_fee_per_gas: max,
                max_priority_fee_per_gas: tip,
            })
        }
    })
}
