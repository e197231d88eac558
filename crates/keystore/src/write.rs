//! Atomic replacement of a file: the old content or the new, never a mix, even if the process
//! dies or the machine loses power mid-write.

use std::{fs, io::Write, path::Path};

use crate::KeystoreError;

fn io(e: std::io::Error) -> KeystoreError {
    KeystoreError::Io(e.to_string())
}

/// Writes `bytes` to `path` through a 0600 temporary file in the same folder, fsynced and
/// renamed over the target; then fsyncs the folder so the rename itself is durable.
pub(crate) fn atomic(path: &Path, bytes: &[u8]) -> Result<(), KeystoreError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| KeystoreError::Io("the wallet path has no file name".into()))?;
    let mut suffix = [0u8; 6];
    getrandom::getrandom(&mut suffix).map_err(|_| KeystoreError::Random)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        suffix
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ));
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let result = (|| {
        let mut f = opts.open(&tmp).map_err(io)?;
        f.write_all(bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
        drop(f);
        fs::rename(&tmp, path).map_err(io)?;
        #[cfg(unix)]
        fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
