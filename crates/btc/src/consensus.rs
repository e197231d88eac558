//! The last check before a transaction leaves the app: Bitcoin Core's own script interpreter
//! (`libbitcoinconsensus` via the `bitcoinconsensus` crate, Core 26) runs every input against the
//! output it spends, with all spent outputs given so that taproot key-path spends are checked
//! too (BIP341 signs every spent amount and script).

use bitcoin::{consensus::encode::serialize, Transaction, TxOut};

/// Why a transaction does not pass.
#[derive(Debug, thiserror::Error)]
pub enum ConsensusError {
    /// The spent outputs do not match the inputs one to one.
    #[error("the transaction has {inputs} inputs but {spent} spent outputs were given")]
    Count {
        /// Inputs.
        inputs: usize,
        /// Spent outputs.
        spent: usize,
    },
    /// The script interpreter refused input `index`.
    #[error("input {index} does not pass Bitcoin Core's script check ({reason})")]
    Script {
        /// Input index.
        index: usize,
        /// The interpreter's error.
        reason: String,
    },
}

/// Checks that every input of `tx` validly spends `spent[i]` under all of today's soft forks.
pub fn verify_tx(tx: &Transaction, spent: &[TxOut]) -> Result<(), ConsensusError> {
    if spent.len() != tx.input.len() {
        return Err(ConsensusError::Count {
            inputs: tx.input.len(),
            spent: spent.len(),
        });
    }
    let bytes = serialize(tx);
    // `Utxo` holds raw pointers into `spent`, which outlives every call below.
    let utxos: Vec<bitcoinconsensus::Utxo> = spent
        .iter()
        .map(|o| bitcoinconsensus::Utxo {
            script_pubkey: o.script_pubkey.as_bytes().as_ptr(),
            script_pubkey_len: o.script_pubkey.len() as u32,
            value: i64::try_from(o.value.to_sat()).unwrap_or(i64::MAX),
        })
        .collect();
    for (index, o) in spent.iter().enumerate() {
        bitcoinconsensus::verify(
            o.script_pubkey.as_bytes(),
            o.value.to_sat(),
            &bytes,
            Some(&utxos),
            index,
        )
        .map_err(|e| ConsensusError::Script {
            index,
            reason: format!("{e:?}"),
        })?;
    }
    Ok(())
}
