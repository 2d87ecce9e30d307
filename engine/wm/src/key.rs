//! The watermark secret: a 256-bit key and everything derived from it. Its file (0600, raw or
//! hex) is read and written by `abmark-files`; this module only parses the bytes.
//!
//! The key never leaves this type in clear text except when written to its own 0600 file: its
//! `Debug` output is redacted and errors never quote key material. What other modules need is a
//! derived, purpose-labelled secret (`derive`) or the public fingerprint that identifies which key
//! made an output without revealing it.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// Length of a watermark key in bytes.
pub const KEY_LEN: usize = 32;

/// Why a key could not be made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the operating system's random source failed: {0}")]
    Random(String),
}

/// A 256-bit watermark secret.
#[derive(Clone, PartialEq, Eq)]
pub struct WatermarkKey([u8; KEY_LEN]);

/// The bytes are wiped when the key goes (zeroize: the compiler may not elide the writes), so a
/// master key used only to derive others does not outlive its use in memory.
impl Drop for WatermarkKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

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

    /// A key from the contents of a key file: 32 raw bytes, or 64 hex digits with optional
    /// surrounding whitespace. `None` for anything else (the caller names the file).
    pub fn from_file_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() == KEY_LEN {
            let mut key = [0u8; KEY_LEN];
            key.copy_from_slice(bytes);
            return Some(Self(key));
        }
        let text = std::str::from_utf8(bytes).ok()?.trim();
        let mut key = [0u8; KEY_LEN];
        hex::decode_to_slice(text, &mut key).ok()?;
        Some(Self(key))
    }

    /// The raw key, for writing it to its own private file and nothing else.
    pub fn secret_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_hold_raw_bytes_or_hex() {
        let raw = [0xabu8; 32];
        assert_eq!(WatermarkKey::from_file_bytes(&raw), Some(WatermarkKey::from_bytes(raw)));
        let hex = format!("{}\n", "ab".repeat(32));
        assert_eq!(
            WatermarkKey::from_file_bytes(hex.as_bytes()),
            Some(WatermarkKey::from_bytes(raw))
        );
        assert_eq!(WatermarkKey::from_file_bytes(&[1u8; 31]), None);
        assert_eq!(WatermarkKey::from_file_bytes(b"zz"), None);
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
