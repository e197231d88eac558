//! The signing journal: every signing request and its outcome, appended as a hash chain so an
//! edited, deleted or reordered entry is found by [`Store::journal_verify`].

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::{now, Store, StoreError};

/// The hash before the first journal entry.
pub const JOURNAL_GENESIS: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// One signing request as the journal keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    /// Position, from 1.
    pub seq: i64,
    /// Unix seconds.
    pub at: i64,
    /// Who was asked to sign (device name and fingerprint, "Software wallet").
    pub signer: String,
    /// Which account.
    pub account: String,
    /// "bitcoin", "evm:<chain id>".
    pub chain: String,
    /// What was shown for review, as JSON (outputs, amounts, fee, chain).
    pub review: String,
    /// "signed", "broadcast", "rejected", "failed: …".
    pub outcome: String,
    /// Transaction id, once broadcast.
    pub txid: Option<String>,
    /// The previous entry's hash.
    pub prev: String,
    /// SHA-256 of this entry's fields and `prev`.
    pub hash: String,
}

/// Where the journal's chain is broken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("journal entry {seq} is not what was written: {reason}")]
pub struct JournalBreak {
    /// The first entry that does not check out.
    pub seq: i64,
    /// How.
    pub reason: String,
}

fn entry_hash(e: &JournalEntry) -> String {
    use sha2::{Digest, Sha256};
    // Length-prefixed fields: no two different entries hash the same text.
    let mut h = Sha256::new();
    for f in [
        e.seq.to_string().as_str(),
        e.at.to_string().as_str(),
        &e.signer,
        &e.account,
        &e.chain,
        &e.review,
        &e.outcome,
        e.txid.as_deref().unwrap_or(""),
        &e.prev,
    ] {
        h.update((f.len() as u64).to_be_bytes());
        h.update(f.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl Store {
    /// Appends a signing request to the journal; returns the entry with its hash.
    #[allow(clippy::too_many_arguments)]
    pub fn journal_append(
        &mut self,
        signer: &str,
        account: &str,
        chain: &str,
        review: &str,
        outcome: &str,
        txid: Option<&str>,
    ) -> Result<JournalEntry, StoreError> {
        let tx = self.conn.transaction()?;
        let last: Option<(i64, String)> = tx
            .query_row(
                "SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (seq, prev) = match last {
            Some((s, h)) => (s + 1, h),
            None => (1, JOURNAL_GENESIS.to_owned()),
        };
        let mut e = JournalEntry {
            seq,
            at: now(),
            signer: signer.into(),
            account: account.into(),
            chain: chain.into(),
            review: review.into(),
            outcome: outcome.into(),
            txid: txid.map(str::to_owned),
            prev,
            hash: String::new(),
        };
        e.hash = entry_hash(&e);
        tx.execute(
            "INSERT INTO journal (seq, at, signer, account, chain, review, outcome, txid, prev, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![e.seq, e.at, e.signer, e.account, e.chain, e.review, e.outcome, e.txid, e.prev, e.hash],
        )?;
        // The head is kept apart so that removing the newest entries shows too.
        tx.execute(
            "INSERT INTO settings (key, value) VALUES ('journal.head', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![format!("{}:{}", e.seq, e.hash)],
        )?;
        tx.commit()?;
        Ok(e)
    }

    /// The journal, oldest first.
    pub fn journal(&self) -> Result<Vec<JournalEntry>, StoreError> {
        let mut q = self.conn.prepare(
            "SELECT seq, at, signer, account, chain, review, outcome, txid, prev, hash FROM journal ORDER BY rowid",
        )?;
        let rows = q
            .query_map([], |r| {
                Ok(JournalEntry {
                    seq: r.get(0)?,
                    at: r.get(1)?,
                    signer: r.get(2)?,
                    account: r.get(3)?,
                    chain: r.get(4)?,
                    review: r.get(5)?,
                    outcome: r.get(6)?,
                    txid: r.get(7)?,
                    prev: r.get(8)?,
                    hash: r.get(9)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Checks the whole chain: each entry's hash, its link to the one before, the numbering,
    /// and the recorded head. Names the first entry that fails.
    pub fn journal_verify(&self) -> Result<usize, StoreError> {
        let entries = self.journal()?;
        let broken = |seq: i64, reason: &str| {
            StoreError::Journal(JournalBreak {
                seq,
                reason: reason.into(),
            })
        };
        let mut prev = JOURNAL_GENESIS.to_owned();
        for (i, e) in entries.iter().enumerate() {
            let expected_seq = i as i64 + 1;
            if e.seq != expected_seq {
                return Err(broken(expected_seq, "missing or out of order"));
            }
            if e.prev != prev {
                return Err(broken(
                    e.seq,
                    "its link to the entry before is broken (an entry was removed or reordered)",
                ));
            }
            if entry_hash(e) != e.hash {
                return Err(broken(e.seq, "its contents were changed"));
            }
            prev = e.hash.clone();
        }
        let head = self.setting("journal.head")?;
        let last = entries.last().map(|e| format!("{}:{}", e.seq, e.hash));
        if head != last {
            let seq = entries.len() as i64 + 1;
            return Err(broken(seq, "the newest entries are missing"));
        }
        Ok(entries.len())
    }
}
