//! The watermark secret: a 256-bit key, how it is stored, and everything derived from it.
//!
//! The key never leaves this type in clear text except when written to its own 0600 file: its
//! `Debug` output is redacted and errors never quote key material. What other modules need is a
//! derived, purpose-labelled secret (`derive`) or the public fingerprint that identifies which key
//! made an output without revealing it.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// Length of a watermark key in bytes.
pub const KEY_LEN: usize = 32;

/// Why a key could not be made, read or written. Messages name the path, never the key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("key file {path} holds {len} bytes; a key is exactly 32 raw bytes or 64 hex digits")]
    WrongLength { path: PathBuf, len: usize },
    #[error("cannot write key file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("key file {path} already exists; refusing to overwrite a key")]
    Exists { path: PathBuf },
    #[error("the operating system's random source failed: {0}")]
    Random(String),
}

/// A 256-bit watermark secret.
#[derive(Clone, PartialEq, Eq)]
pub struct WatermarkKey([u8; KEY_LEN]);

impl fmt::Debug for WatermarkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WatermarkKey({})", self.fingerprint())
    }
}

impl WatermarkKey {
    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, KeyError> {
        let mut bytes = [0u8; KEY_LEN];
        getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Self(bytes))
    }

    /// A key from its raw bytes (tests, benchmarks, key services).
    pub const fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// Reads a key file: 32 raw bytes, or 64 hex digits with optional surrounding whitespace.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let bytes =
            fs::read(path).map_err(|source| KeyError::Read { path: path.into(), source })?;
        let wrong = || KeyError::WrongLength { path: path.into(), len: bytes.len() };
        if bytes.len() == KEY_LEN {
            let mut key = [0u8; KEY_LEN];
            key.copy_from_slice(&bytes);
            return Ok(Self(key));
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| wrong())?.trim();
        let mut key = [0u8; KEY_LEN];
        hex::decode_to_slice(text, &mut key).map_err(|_| wrong())?;
        Ok(Self(key))
    }

    /// Writes the key as 32 raw bytes to a new file created with mode 0600. The bytes go to a
    /// temporary sibling first, so a crash never leaves a short key file behind.
    pub fn save_new(&self, path: &Path) -> Result<(), KeyError> {
        if path.exists() {
            return Err(KeyError::Exists { path: path.into() });
        }
        let write_err = |source| KeyError::Write { path: path.into(), source };
        let tmp = temp_sibling(path);
        let result = (|| {
            let mut file = private_file(&tmp)?;
            file.write_all(&self.0)?;
            file.sync_all()
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(write_err(e));
        }
        // hard_link + unlink refuses to replace a file that appeared meanwhile.
        let linked = fs::hard_link(&tmp, path);
        let _ = fs::remove_file(&tmp);
        linked.map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyError::Exists { path: path.into() }
            } else {
                write_err(e)
            }
        })
    }

    /// Public identifier of the key: the first 8 bytes of a labelled SHA-256, in hex. Safe to log
    /// and to store next to outputs; it does not help recover the key.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"abmark/key-fingerprint/v1");
        h.update(self.0);
        hex::encode(&h.finalize()[..8])
    }

    /// A 256-bit secret for one purpose: HMAC-SHA256 over a label and little-endian integers.
    /// Distinct labels give independent secrets, so no two uses of the key can interfere.
    pub fn derive(&self, label: &str, parts: &[u64]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC accepts keys of any length");
        mac.update(label.as_bytes());
        mac.update(&[0]);
        for p in parts {
            mac.update(&p.to_le_bytes());
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(&mac.finalize().into_bytes());
        out
    }
}

fn temp_sibling(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new().write(true).create_new(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_round_trip_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wm.key");
        let key = WatermarkKey::generate().unwrap();
        key.save_new(&path).unwrap();
        assert_eq!(WatermarkKey::load(&path).unwrap(), key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert!(matches!(key.save_new(&path), Err(KeyError::Exists { .. })));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "no temp file left");
    }

    #[test]
    fn hex_keys_load_and_wrong_lengths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let hex_path = dir.path().join("hex.key");
        fs::write(&hex_path, format!("{}\n", "ab".repeat(32))).unwrap();
        assert_eq!(WatermarkKey::load(&hex_path).unwrap(), WatermarkKey::from_bytes([0xab; 32]));
        let short = dir.path().join("short.key");
        fs::write(&short, [1u8; 31]).unwrap();
        let err = WatermarkKey::load(&short).unwrap_err().to_string();
        assert!(err.contains("31 bytes") && err.contains("short.key"), "{err}");
    }

    #[test]
    fn debug_and_derive_do_not_leak_the_key() {
        let key = WatermarkKey::from_bytes([7; 32]);
        assert!(!format!("{key:?}").contains("0707"));
        assert_ne!(key.derive("a", &[1]), key.derive("a", &[2]));
        assert_ne!(key.derive("a", &[1]), key.derive("b", &[1]));
        assert_eq!(key.derive("a", &[1]), key.derive("a", &[1]));
    }
}
