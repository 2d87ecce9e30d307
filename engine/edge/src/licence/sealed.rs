//! Content keys at rest: every key the licence service holds is sealed with AES-256-GCM under
//! a key derived from the operator's master key (any abmark 256-bit key file, `abmark keygen`),
//! with the content id and the KID as associated data, so a sealed key cannot be moved to another
//! KID or another title (a row copied between contents in the store does not open). Only sealed
//! keys reach the state store (SQLite file or Redis); a key is opened for the one licence
//! response that carries it.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::Aes256Gcm;

use abmark_delivery::ids::{ContentId, Kid};
use abmark_wm::key::WatermarkKey;

const SEAL_LABEL: &str = "abmark/licence/keystore-a256gcm/v1";
const NONCE: usize = 12;

/// The key-sealing key. `Debug` is redacted.
#[derive(Clone)]
pub struct Sealer(Aes256Gcm);

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

/// Why a sealed key could not be opened (wrong master key, or damaged/moved data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("sealed key for KID {0} does not open with this master key (wrong key or damaged)")]
    Open(String),
    #[error("no random source: {0}")]
    Random(String),
}

impl Sealer {
    pub fn new(master: &WatermarkKey) -> Self {
        let key = master.derive(SEAL_LABEL, &[]);
        Self(Aes256Gcm::new(&key.into()))
    }

    /// nonce (12) ‖ ciphertext (16) ‖ tag (16).
    pub fn seal(
        &self,
        content: &ContentId,
        kid: &Kid,
        key: &[u8; 16],
    ) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE];
        getrandom::fill(&mut nonce).map_err(|e| SealError::Random(e.to_string()))?;
        let sealed = self
            .0
            .encrypt(&nonce.into(), Payload { msg: key, aad: &aad(content, kid) })
            .map_err(|_| SealError::Open(kid.hex()))?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(out)
    }

    pub fn open(
        &self,
        content: &ContentId,
        kid: &Kid,
        sealed: &[u8],
    ) -> Result<[u8; 16], SealError> {
        let fail = || SealError::Open(kid.hex());
        if sealed.len() < NONCE {
            return Err(fail());
        }
        let (nonce, body) = sealed.split_at(NONCE);
        let nonce: [u8; NONCE] = nonce.try_into().map_err(|_| fail())?;
        let clear = self
            .0
            .decrypt(&nonce.into(), Payload { msg: body, aad: &aad(content, kid) })
            .map_err(|_| fail())?;
        clear.try_into().map_err(|_| fail())
    }
}

/// `abmark-key/v2`, the content id's length (one byte: at most 128) and bytes, the KID: an
/// unambiguous encoding, so no (content, KID) pair can pass for another.
fn aad(content: &ContentId, kid: &Kid) -> Vec<u8> {
    let id = content.as_str().as_bytes();
    let mut aad = b"abmark-key/v2".to_vec();
    aad.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
    aad.extend_from_slice(id);
    aad.extend_from_slice(kid.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_for_its_content_kid_and_master() {
        let film = |id: &str| ContentId::new(id).unwrap();
        let s = Sealer::new(&WatermarkKey::from_bytes([1; 32]));
        let kid = Kid::from_bytes([3; 16]);
        let sealed = s.seal(&film("film-1"), &kid, &[9; 16]).unwrap();
        assert_eq!(sealed.len(), 44);
        assert!(!sealed.windows(16).any(|w| w == [9; 16]));
        assert_eq!(s.open(&film("film-1"), &kid, &sealed).unwrap(), [9; 16]);
        assert!(s.open(&film("film-1"), &Kid::from_bytes([4; 16]), &sealed).is_err());
        assert!(s.open(&film("film-2"), &kid, &sealed).is_err(), "moved to another title");
        let other = Sealer::new(&WatermarkKey::from_bytes([2; 32]));
        let e = other.open(&film("film-1"), &kid, &sealed).unwrap_err();
        assert!(!e.to_string().contains("0909"), "{e}");
        assert!(s.open(&film("film-1"), &kid, &sealed[..20]).is_err());
    }
}
