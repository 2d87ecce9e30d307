//! The watermark key's file: 32 raw bytes (or 64 hex digits when written by hand), mode 0600,
//! never overwritten. The key itself and what derives from it are `abmark_wm::key`'s.

use std::fs;
use std::path::{Path, PathBuf};

use abmark_wm::key::WatermarkKey;

use crate::output::{write_private, OutputError};

/// Why a key file could not be read or written. Messages name the path, never the key.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot read key file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("key file {path} holds {len} bytes; a key is exactly 32 raw bytes or 64 hex digits")]
    WrongLength { path: PathBuf, len: usize },
    #[error("cannot write key file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("key file {path} already exists; refusing to overwrite a key")]
    Exists { path: PathBuf },
    #[error("key file {path} is open to other users (mode {mode:o}); run chmod 600 on it")]
    Exposed { path: PathBuf, mode: u32 },
}

/// Reads a key file: 32 raw bytes, or 64 hex digits with optional surrounding whitespace. A
/// file that group or others may read or write is refused (as ssh refuses such private keys):
/// a key anyone on the machine can read is no longer the operator's secret.
pub fn load_key(path: &Path) -> Result<WatermarkKey, KeyFileError> {
    let read_error = |source| KeyFileError::Read { path: path.into(), source };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path).map_err(read_error)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::Exposed { path: path.into(), mode });
        }
    }
    let bytes = fs::read(path).map_err(read_error)?;
    WatermarkKey::from_file_bytes(&bytes)
        .ok_or(KeyFileError::WrongLength { path: path.into(), len: bytes.len() })
}

/// Writes the key as 32 raw bytes to a new file created with mode 0600. The bytes go to a
/// temporary sibling first (tempfile's, 0600 from its creation), which is then linked to
/// `path` without replacing anything: a crash never leaves a short key file behind, and a key
/// file that appeared meanwhile is not overwritten.
pub fn save_new_key(key: &WatermarkKey, path: &Path) -> Result<(), KeyFileError> {
    write_private(path, key.secret_bytes(), false).map_err(|e| match e {
        OutputError::Exists(_) => KeyFileError::Exists { path: path.into() },
        OutputError::Io { source, .. } => KeyFileError::Write { path: path.into(), source },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_round_trip_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wm.key");
        let key = WatermarkKey::generate().unwrap();
        save_new_key(&key, &path).unwrap();
        assert_eq!(load_key(&path).unwrap(), key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert!(matches!(save_new_key(&key, &path), Err(KeyFileError::Exists { .. })));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "no temp file left");
    }

    fn write_0600(path: &Path, bytes: &[u8]) {
        use std::os::unix::fs::PermissionsExt;
        fs::write(path, bytes).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
    }

    #[test]
    fn keys_open_to_others_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wm.key");
        write_0600(&path, &[9u8; 32]);
        assert!(load_key(&path).is_ok());
        for mode in [0o640, 0o604, 0o644, 0o660, 0o602] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let err = load_key(&path).unwrap_err();
            assert!(matches!(err, KeyFileError::Exposed { .. }), "{mode:o}: {err}");
            assert!(err.to_string().contains("chmod 600"), "{err}");
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        assert!(load_key(&path).is_ok(), "read-only for the owner is fine");
    }

    #[test]
    fn hex_keys_load_and_wrong_lengths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let hex_path = dir.path().join("hex.key");
        write_0600(&hex_path, format!("{}\n", "ab".repeat(32)).as_bytes());
        assert_eq!(load_key(&hex_path).unwrap(), WatermarkKey::from_bytes([0xab; 32]));
        let short = dir.path().join("short.key");
        write_0600(&short, &[1u8; 31]);
        let err = load_key(&short).unwrap_err().to_string();
        assert!(err.contains("31 bytes") && err.contains("short.key"), "{err}");
    }
}
