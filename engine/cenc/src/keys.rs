//! Content keys: a 16-byte key ID (KID, public: it goes into `tenc`, PSSH and manifests) and
//! a 16-byte AES-128 key (secret: never printed, never written into a packaged output).
//!
//! Keys come from the command line (`KID:KEY[:IV]` in hex), from a CPIX document, or from the
//! operating system's random source.

use crate::error::CencError;

pub use abmark_delivery::ids::Kid;

/// A content key with its ID and, optionally, the IV the key service asked for (CPIX
/// `explicitIV`; used as the `cbcs` constant IV).
#[derive(Clone, PartialEq, Eq)]
pub struct ContentKey {
    pub kid: Kid,
    key: [u8; 16],
    pub iv: Option<[u8; 16]>,
}

/// The key bytes are wiped when the key goes.
impl Drop for ContentKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key);
    }
}

/// Shows the KID only: the key never reaches a log.
impl std::fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContentKey")
            .field("kid", &self.kid.hex())
            .field("key", &"<redacted>")
            .field("iv", &self.iv.map(hex::encode))
            .finish()
    }
}

impl ContentKey {
    pub fn new(kid: Kid, key: [u8; 16], iv: Option<[u8; 16]>) -> Self {
        Self { kid, key, iv }
    }

    /// The AES-128 key. Callers hand it to the cipher and nowhere else.
    pub fn key(&self) -> &[u8; 16] {
        &self.key
    }

    /// A fresh random KID and key from the operating system's random source.
    pub fn generate() -> Result<Self, CencError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| CencError::Random(e.to_string()))?;
        let (mut random_kid, mut key) = ([0u8; 16], [0u8; 16]);
        random_kid.copy_from_slice(&bytes[..16]);
        key.copy_from_slice(&bytes[16..]);
        // A version-4 (random) UUID, as key services issue them.
        let kid =
            Kid::from_bytes(uuid::Builder::from_random_bytes(random_kid).into_uuid().into_bytes());
        Ok(Self { kid, key, iv: None })
    }

    /// Parses `KID:KEY` or `KID:KEY:IV` (hex; the KID may have UUID dashes; the IV 8 or 16
    /// bytes, 8 zero-extended). The error names the field, never the key's value.
    pub fn parse(arg: &str) -> Result<Self, CencError> {
        let parts: Vec<&str> = arg.split(':').collect();
        let bad = |what: &str| CencError::BadKeyArgument(what.into());
        let (kid, key, iv) = match parts.as_slice() {
            [kid, key] => (kid, key, None),
            [kid, key, iv] => (kid, key, Some(iv)),
            _ => return Err(bad("expected KID:KEY or KID:KEY:IV in hex")),
        };
        let kid = hex16(&kid.replace('-', ""))
            .map(Kid::from_bytes)
            .ok_or_else(|| bad("the KID is not 16 bytes of hex"))?;
        let key = hex16(key).ok_or_else(|| bad("the key is not 16 bytes of hex (AES-128)"))?;
        let iv = match iv {
            None => None,
            Some(iv) => {
                Some(iv_from_hex(iv).ok_or_else(|| bad("the IV is not 8 or 16 bytes of hex"))?)
            }
        };
        Ok(Self { kid, key, iv })
    }
}

fn hex16(s: &str) -> Option<[u8; 16]> {
    let v = hex::decode(s).ok()?;
    v.try_into().ok()
}

fn iv_from_hex(s: &str) -> Option<[u8; 16]> {
    let v = hex::decode(s).ok()?;
    let mut iv = [0u8; 16];
    match v.len() {
        8 | 16 => {
            iv[..v.len()].copy_from_slice(&v);
            Some(iv)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_redacts() {
        let k = ContentKey::parse(
            "00112233-4455-6677-8899-aabbccddeeff:0f0e0d0c0b0a09080706050403020100:0102030405060708",
        )
        .unwrap();
        assert_eq!(k.kid.as_bytes()[0], 0x00);
        assert_eq!(k.kid.as_bytes()[15], 0xff);
        assert_eq!(k.key()[0], 0x0f);
        assert_eq!(k.iv.unwrap()[..8], [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(k.iv.unwrap()[8..], [0; 8]);
        let shown = format!("{k:?}");
        assert!(!shown.contains("0f0e0d0c"), "{shown}");
        assert!(shown.contains("00112233"), "{shown}");
    }

    #[test]
    fn bad_arguments_name_the_field_not_the_value() {
        let e = ContentKey::parse("00112233445566778899aabbccddeeff:0f0e0d0c").unwrap_err();
        assert!(e.to_string().contains("key"), "{e}");
        assert!(!e.to_string().contains("0f0e0d0c"), "{e}");
        assert!(ContentKey::parse("zz:00").is_err());
        assert!(ContentKey::parse("a:b:c:d").is_err());
    }

    #[test]
    fn generated_keys_differ_and_are_uuid_v4() {
        let (a, b) = (ContentKey::generate().unwrap(), ContentKey::generate().unwrap());
        assert_ne!(a.kid, b.kid);
        assert_ne!(a.key(), b.key());
        assert_eq!(a.kid.as_bytes()[6] >> 4, 4);
    }
}
