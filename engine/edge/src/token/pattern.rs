//! The direct-mode `wmpattern` claim: the viewer's A/B bit pattern sealed in a COSE_Encrypt0.
//!
//! We write `[protected {1: 3 (A256GCM)}, unprotected {5: 12-byte random IV}, ciphertext]`, with
//! the pattern bytes as plaintext and COSE's `Enc_structure` (empty external AAD) as AAD. On input
//! the claim may also be tagged (16) or a plain bstr holding unencrypted pattern bytes; COSE_Encrypt
//! with recipients is refused as unsupported. This file knows nothing of bit order or length: the
//! caller carries `wmpatlen`.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::Aes256Gcm;
use ciborium::Value;
use coset::{iana, AsCborValue, CoseEncrypt0, CoseEncrypt0Builder, HeaderBuilder};

use super::TokenError;

/// CBOR tag of a COSE_Encrypt0 (RFC 9052).
const TAG_COSE_ENCRYPT0: u64 = 16;
/// CBOR tag of a multi-recipient COSE_Encrypt.
const TAG_COSE_ENCRYPT: u64 = 96;
/// AES-GCM nonce length.
const IV_LEN: usize = 12;

/// What a `wmpattern` claim value holds, before decryption.
#[derive(Clone, Debug)]
pub(crate) enum SealedPattern {
    Encrypted(Box<CoseEncrypt0>),
    Plain(Vec<u8>),
}

/// Encrypts `pattern` under `key` with a fresh random IV.
pub(crate) fn seal(key: &[u8; 32], pattern: &[u8]) -> Result<CoseEncrypt0, TokenError> {
    let mut iv = [0u8; IV_LEN];
    getrandom::fill(&mut iv).map_err(|e| TokenError::Random(e.to_string()))?;
    let cipher = Aes256Gcm::new(&(*key).into());
    let nonce = iv.into();
    let sealed = CoseEncrypt0Builder::new()
        .protected(HeaderBuilder::new().algorithm(iana::Algorithm::A256GCM).build())
        .unprotected(HeaderBuilder::new().iv(iv.to_vec()).build())
        .try_create_ciphertext(pattern, &[], |msg, aad| {
            cipher
                .encrypt(&nonce, Payload { msg, aad })
                .map_err(|_| TokenError::Encode("AES-GCM refused the pattern".into()))
        })?
        .build();
    Ok(sealed)
}

/// Decrypts a COSE_Encrypt0 made by `seal` (or any A256GCM COSE_Encrypt0 with a 12-byte IV).
pub(crate) fn open(key: &[u8; 32], sealed: &CoseEncrypt0) -> Result<Vec<u8>, TokenError> {
    let protected = &sealed.protected.header;
    if protected.alg != Some(coset::Algorithm::Assigned(iana::Algorithm::A256GCM)) {
        return Err(TokenError::Unsupported(
            "wmpattern is not protected with A256GCM (COSE alg 3)".into(),
        ));
    }
    if sealed.unprotected.alg.is_some() || !protected.crit.is_empty() {
        return Err(TokenError::Unsupported("wmpattern carries headers we do not process".into()));
    }
    if !protected.partial_iv.is_empty() || !sealed.unprotected.partial_iv.is_empty() {
        return Err(TokenError::Unsupported("wmpattern uses a partial IV".into()));
    }
    let iv = match (protected.iv.is_empty(), sealed.unprotected.iv.is_empty()) {
        (false, true) => &protected.iv,
        (true, false) => &sealed.unprotected.iv,
        _ => return Err(TokenError::malformed("wmpattern needs exactly one IV header")),
    };
    let iv: [u8; IV_LEN] = iv
        .as_slice()
        .try_into()
        .map_err(|_| TokenError::malformed("wmpattern IV is not 12 bytes"))?;
    let cipher = Aes256Gcm::new(&(*key).into());
    let nonce = iv.into();
    sealed.decrypt_ciphertext(
        &[],
        || TokenError::malformed("wmpattern has no ciphertext"),
        |msg, aad| {
            cipher.decrypt(&nonce, Payload { msg, aad }).map_err(|_| TokenError::PatternDecrypt)
        },
    )
}

/// The claim value: the COSE_Encrypt0 array itself, untagged (the tag is optional in the claim).
pub(crate) fn to_claim_value(sealed: CoseEncrypt0) -> Result<Value, TokenError> {
    sealed.to_cbor_value().map_err(|_| TokenError::Encode("COSE_Encrypt0".into()))
}

/// Reads a claim value: COSE_Encrypt0 (tag 16 optional) or a bstr of plaintext pattern bytes.
pub(crate) fn from_claim_value(value: Value) -> Result<SealedPattern, TokenError> {
    let value = match value {
        Value::Tag(TAG_COSE_ENCRYPT0, inner) => *inner,
        Value::Tag(TAG_COSE_ENCRYPT, _) => {
            return Err(TokenError::Unsupported("COSE_Encrypt wmpattern (recipients)".into()))
        }
        Value::Tag(..) => return Err(TokenError::malformed("wmpattern has an unexpected tag")),
        Value::Bytes(plain) => return Ok(SealedPattern::Plain(plain)),
        other => other,
    };
    match &value {
        Value::Array(items) if items.len() == 3 => CoseEncrypt0::from_cbor_value(value)
            .map(|enc| SealedPattern::Encrypted(Box::new(enc)))
            .map_err(|_| TokenError::malformed("wmpattern is not a valid COSE_Encrypt0")),
        Value::Array(items) if items.len() == 4 => {
            Err(TokenError::Unsupported("COSE_Encrypt wmpattern (recipients)".into()))
        }
        _ => Err(TokenError::malformed("wmpattern is neither COSE_Encrypt0 nor bytes")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_wrong_key_fails() {
        let key = [9u8; 32];
        let sealed = seal(&key, &[0xde, 0xad, 0xbe, 0xef]).unwrap();
        assert_eq!(sealed.unprotected.iv.len(), 12);
        assert_eq!(open(&key, &sealed).unwrap(), [0xde, 0xad, 0xbe, 0xef]);
        assert!(matches!(open(&[8u8; 32], &sealed), Err(TokenError::PatternDecrypt)));
    }

    #[test]
    fn claim_value_forms() {
        let key = [1u8; 32];
        let sealed = seal(&key, b"ab").unwrap();
        let value = to_claim_value(sealed.clone()).unwrap();
        assert!(matches!(&value, Value::Array(a) if a.len() == 3));
        let tagged = Value::Tag(16, Box::new(value.clone()));
        for v in [value, tagged] {
            let SealedPattern::Encrypted(back) = from_claim_value(v).unwrap() else {
                panic!("not encrypted")
            };
            assert_eq!(open(&key, &back).unwrap(), b"ab");
        }
        assert!(matches!(
            from_claim_value(Value::Bytes(vec![1, 2])).unwrap(),
            SealedPattern::Plain(p) if p == [1, 2]
        ));
        let four = Value::Array(vec![Value::Null; 4]);
        assert!(matches!(from_claim_value(four), Err(TokenError::Unsupported(_))));
        assert!(matches!(from_claim_value(Value::from(3)), Err(TokenError::Malformed(_))));
    }

    #[test]
    fn tampered_ciphertext_or_protected_header_fails() {
        let key = [2u8; 32];
        let mut sealed = seal(&key, b"pattern").unwrap();
        if let Some(ct) = sealed.ciphertext.as_mut() {
            ct[0] ^= 1;
        }
        assert!(matches!(open(&key, &sealed), Err(TokenError::PatternDecrypt)));
        let mut sealed = seal(&key, b"pattern").unwrap();
        sealed.unprotected.iv.pop();
        assert!(matches!(open(&key, &sealed), Err(TokenError::Malformed(_))));
    }
}
