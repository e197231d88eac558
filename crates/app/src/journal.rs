//! The signing journal: every signing request Coldlink makes — who was asked, for which
//! account, what was shown for review, and how it ended — appended to a hash-chained log in
//! the local database, so that an edited, removed or reordered entry is found. No secret ever
//! enters it: reviews hold addresses, amounts, fees and chains only.

use serde::Serialize;
use serde_json::{json, Value};

use crate::{AppError, Coldlink, ErrorKind};

/// One journal entry as the Activity view shows it.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct JournalView {
    /// Position, from 1.
    pub seq: u32,
    /// Unix seconds (as text: may exceed 2^31 one day).
    pub at: String,
    /// Who was asked to sign.
    pub signer: String,
    /// Which account.
    pub account: String,
    /// "bitcoin", "evm:<chain id>".
    pub chain: String,
    /// What was shown for review (JSON).
    pub review: String,
    /// How it ended.
    pub outcome: String,
    /// Transaction id, once broadcast.
    pub txid: Option<String>,
}

/// The outcome words for an error.
pub(crate) fn outcome_of(e: &AppError) -> String {
    match e.kind {
        ErrorKind::Rejected => "rejected".into(),
        ErrorKind::Cancelled => "cancelled".into(),
        _ => format!("failed: {}", e.message),
    }
}

impl Coldlink {
    /// Appends to the journal. Best effort: a journal that cannot be written must not stop the
    /// user from using their device, but it is reported on stderr.
    pub(crate) fn journal(
        &self,
        signer: &str,
        account: &str,
        chain: &str,
        review: &Value,
        outcome: &str,
        txid: Option<&str>,
    ) {
        let r = self.with_store(|s| {
            s.journal_append(signer, account, chain, &review.to_string(), outcome, txid)
                .map(|_| ())
                .map_err(|e| AppError::internal(e.to_string()))
        });
        if let Err(e) = r {
            eprintln!(
                "coldlink: the signing journal could not be written: {}",
                e.message
            );
        }
    }

    /// A short review of an EVM signing request for the journal.
    pub(crate) fn journal_evm_review(tx: &alloy_consensus::TypedTransaction) -> Value {
        use alloy_consensus::Transaction;
        json!({
            "chainId": tx.chain_id(),
            "to": tx.to().map(|a| a.to_checksum(None)),
            "valueWei": tx.value().to_string(),
            "gasLimit": tx.gas_limit(),
            "maxFeePerGas": tx.max_fee_per_gas().to_string(),
            "dataBytes": tx.input().len(),
            "nonce": tx.nonce(),
        })
    }

    /// The journal, newest first.
    pub fn journal_entries(&self) -> Result<Vec<JournalView>, AppError> {
        let mut list =
            self.with_store(|s| s.journal().map_err(|e| AppError::internal(e.to_string())))?;
        list.reverse();
        Ok(list
            .into_iter()
            .map(|e| JournalView {
                seq: u32::try_from(e.seq).unwrap_or(u32::MAX),
                at: e.at.to_string(),
                signer: e.signer,
                account: e.account,
                chain: e.chain,
                review: e.review,
                outcome: e.outcome,
                txid: e.txid,
            })
            .collect())
    }

    /// Checks the journal's chain: how many entries are intact, or which entry is not.
    pub fn journal_verify(&self) -> Result<u32, AppError> {
        self.with_store(|s| match s.journal_verify() {
            Ok(n) => Ok(u32::try_from(n).unwrap_or(u32::MAX)),
            Err(coldlink_store::StoreError::Journal(b)) => Err(AppError::new(
                ErrorKind::DeviceError,
                crate::error::capitalise(&b.to_string()),
            )),
            Err(e) => Err(AppError::internal(e.to_string())),
        })
    }
}
