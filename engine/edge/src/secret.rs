//! A 32-byte secret derived from the watermark key (a MAC or cipher key): never shown by
//! `Debug`, wiped on drop. The one shape behind the token, licence-token and variant-name keys.

use std::ops::Deref;

#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret32(pub(crate) [u8; 32]);

impl Deref for Secret32 {
    type Target = [u8; 32];

    fn deref(&self) -> &[u8; 32] {
        &self.0
    }
}

impl PartialEq<[u8; 32]> for Secret32 {
    fn eq(&self, other: &[u8; 32]) -> bool {
        self.0 == *other
    }
}

impl Drop for Secret32 {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl std::fmt::Debug for Secret32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}
