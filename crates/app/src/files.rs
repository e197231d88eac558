//! Files the user saves from the window: an unsigned PSBT for an air-gapped signer, the CSV
//! exports and the BIP329 labels. They go whole (temp file, fsync, rename) into the user's
//! downloads folder under a name that says what they are, and never over an existing file:
//! the window has no file dialog, so the path written is what the user is shown.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{AppError, Coldlink, ErrorKind};

/// What to save.
#[derive(Clone, Debug, Deserialize, specta::Type)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum SaveRequest {
    /// The unsigned PSBT of a Bitcoin review, in the binary BIP174 file format (`.psbt`), as
    /// Coldcard, SafePal and Sparrow read it.
    Psbt {
        /// The review.
        review: u32,
    },
    /// Transactions as CSV (columns in the README).
    TransactionsCsv {
        /// Network key(s) as the portfolio takes them.
        network: String,
    },
    /// The portfolio snapshot as CSV.
    PortfolioCsv {
        /// Network key(s).
        network: String,
    },
    /// Every label, BIP329 JSON Lines.
    Labels,
}

/// A file written.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SavedFile {
    /// Its full path.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u32,
}

/// `dir/stem.ext`, or `dir/stem-2.ext`, `-3`, … when taken.
fn free_name(dir: &Path, stem: &str, ext: &str) -> PathBuf {
    let first = dir.join(format!("{stem}.{ext}"));
    if !first.exists() {
        return first;
    }
    (2..)
        .map(|n| dir.join(format!("{stem}-{n}.{ext}")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

/// A date for file names, `YYYY-MM-DD`, UTC.
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
        .unwrap_or(0);
    crate::export::iso(secs)[..10].to_owned()
}

impl Coldlink {
    /// Writes what `req` names into the export folder and says where.
    pub fn save_file(&self, req: &SaveRequest) -> Result<SavedFile, AppError> {
        let demo = if self.demo_env().is_some() {
            "demo-"
        } else {
            ""
        };
        let (stem, ext, bytes) = match req {
            SaveRequest::Psbt { review } => (
                format!("coldlink-{demo}unsigned-{review}"),
                "psbt",
                self.btc_psbt_bytes(*review)?,
            ),
            SaveRequest::TransactionsCsv { network } => (
                format!("coldlink-{demo}transactions-{}", today()),
                "csv",
                self.export_transactions_csv(network)?.into_bytes(),
            ),
            SaveRequest::PortfolioCsv { network } => (
                format!("coldlink-{demo}portfolio-{}", today()),
                "csv",
                self.export_portfolio_csv(network)?.into_bytes(),
            ),
            SaveRequest::Labels => (
                format!("coldlink-{demo}labels-{}", today()),
                "jsonl",
                self.btc_export_labels()?.into_bytes(),
            ),
        };
        let dir = self.config.export_dir();
        std::fs::create_dir_all(&dir).map_err(|e| {
            AppError::new(
                ErrorKind::InvalidInput,
                format!("the folder {} cannot be created: {e}", dir.display()),
            )
        })?;
        let path = free_name(&dir, &stem, ext);
        coldlink_store::write_atomic(&path, &bytes).map_err(|e| {
            AppError::new(
                ErrorKind::InvalidInput,
                format!("{} could not be written: {e}", path.display()),
            )
        })?;
        Ok(SavedFile {
            path: path.display().to_string(),
            bytes: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_never_overwrite() {
        let dir = std::env::temp_dir().join(format!("coldlink-free-name-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let a = free_name(&dir, "x", "csv");
        assert_eq!(a, dir.join("x.csv"));
        std::fs::write(&a, "1").expect("write");
        let b = free_name(&dir, "x", "csv");
        assert_eq!(b, dir.join("x-2.csv"));
        std::fs::write(&b, "2").expect("write");
        assert_eq!(free_name(&dir, "x", "csv"), dir.join("x-3.csv"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn dates_are_civil() {
        let t = today();
        assert_eq!(t.len(), 10);
        assert!(t.starts_with("20"), "{t}");
        assert_eq!(&t[4..5], "-");
    }
}
