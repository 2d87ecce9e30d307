//! [`TempFile`]: an output file while it is being written, beside its final name. Removed on
//! drop unless persisted, so a failed or interrupted write never leaves a half-written output.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::MediaError;

/// The output while it is being written: removed on drop unless persisted.
pub(crate) struct TempFile {
    pub(crate) path: PathBuf,
    keep: bool,
}

impl TempFile {
    /// A fresh name beside `out` (same directory, hence same file system: the rename is atomic).
    pub(crate) fn beside(out: &Path) -> Result<Self, MediaError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        if out.to_str().is_none() {
            return Err(MediaError::NonUtf8Path { path: out.to_owned() });
        }
        let name = out.file_name().ok_or_else(|| MediaError::Io {
            path: out.to_owned(),
            error: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
        })?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp_name = format!(".{}.partial-{}-{n}", name.to_string_lossy(), std::process::id());
        Ok(Self { path: out.with_file_name(temp_name), keep: false })
    }

    pub(crate) fn persist(mut self, out: &Path) -> Result<(), MediaError> {
        std::fs::rename(&self.path, out)
            .map_err(|error| MediaError::Io { path: out.to_owned(), error })?;
        self.keep = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            // Nothing to report from a destructor: the file may well not exist yet.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
