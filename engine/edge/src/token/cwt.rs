//! The CWT form: claims map in a COSE_Mac0 (HMAC 256/256, COSE alg 5), base64url.
//!
//! We emit `61(17([protected {1: 5}, {}, claims, tag]))` — the CWT tag around the COSE_Mac0 tag
//! (RFC 8392 §6). On input both tags are optional. COSE_Sign1 (ES256), COSE_Mac with recipients
//! and encrypted CWTs are refused as unsupported. The MAC is checked before the payload is parsed.

use ciborium::Value;
use coset::{iana, AsCborValue, CoseMac0, CoseMac0Builder, HeaderBuilder};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::TokenError;
use abmark_delivery::cbor::{b64_decode, b64_encode, decode_exact, encode};

/// CBOR tag of a CWT (RFC 8392).
pub const TAG_CWT: u64 = 61;
/// CBOR tag of a COSE_Mac0.
pub const TAG_COSE_MAC0: u64 = 17;
const TAG_COSE_SIGN1: u64 = 18;
const TAG_COSE_MAC: u64 = 97;
const TAG_COSE_ENCRYPT0: u64 = 16;
const TAG_COSE_ENCRYPT: u64 = 96;
const TAG_COSE_SIGN: u64 = 98;

/// MACs `payload` and returns the base64url token.
pub(crate) fn seal(mac_key: &[u8; 32], payload: Vec<u8>) -> Result<String, TokenError> {
    let mac0 = CoseMac0Builder::new()
        .protected(HeaderBuilder::new().algorithm(iana::Algorithm::HMAC_256_256).build())
        .payload(payload)
        .create_tag(&[], |data| hmac_sha256(mac_key, data))
        .build();
    let inner = mac0.to_cbor_value().map_err(|_| TokenError::Encode("COSE_Mac0".into()))?;
    let cwt = Value::Tag(TAG_CWT, Box::new(Value::Tag(TAG_COSE_MAC0, Box::new(inner))));
    Ok(b64_encode(&encode(&cwt)))
}

/// Decodes a token, checks algorithm and MAC, and returns the verified claims payload.
pub(crate) fn open(mac_key: &[u8; 32], token: &str) -> Result<Vec<u8>, TokenError> {
    let bytes = b64_decode(token).ok_or_else(|| TokenError::malformed("CWT is not base64url"))?;
    let value = decode_exact(&bytes).ok_or_else(|| TokenError::malformed("CWT is not CBOR"))?;
    let mac0 = parse_mac0(value)?;
    let alg = &mac0.protected.header.alg;
    if *alg != Some(coset::Algorithm::Assigned(iana::Algorithm::HMAC_256_256)) {
        return Err(TokenError::Unsupported("CWT MAC algorithm is not HMAC 256/256".into()));
    }
    if !mac0.protected.header.crit.is_empty() || mac0.unprotected.alg.is_some() {
        return Err(TokenError::Unsupported("CWT carries headers we do not process".into()));
    }
    mac0.verify_payload_tag(
        &[],
        || TokenError::malformed("CWT payload is detached"),
        |tag, data| {
            let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(mac_key)
                .map_err(|_| TokenError::BadSignature)?;
            mac.update(data);
            mac.verify_slice(tag).map_err(|_| TokenError::BadSignature)
        },
    )?;
    mac0.payload.ok_or_else(|| TokenError::malformed("CWT payload is detached"))
}

/// Peels the optional CWT and COSE_Mac0 tags.
fn parse_mac0(value: Value) -> Result<CoseMac0, TokenError> {
    let value = match value {
        Value::Tag(TAG_CWT, inner) => *inner,
        other => other,
    };
    let value = match value {
        Value::Tag(TAG_COSE_MAC0, inner) => *inner,
        Value::Tag(TAG_COSE_SIGN1 | TAG_COSE_SIGN, _) => {
            return Err(TokenError::Unsupported("signed (COSE_Sign/Sign1) CWT".into()))
        }
        Value::Tag(TAG_COSE_MAC, _) => {
            return Err(TokenError::Unsupported("COSE_Mac CWT with recipients".into()))
        }
        Value::Tag(TAG_COSE_ENCRYPT0 | TAG_COSE_ENCRYPT, _) => {
            return Err(TokenError::Unsupported("encrypted CWT".into()))
        }
        Value::Tag(..) => return Err(TokenError::malformed("CWT has an unexpected CBOR tag")),
        other => other,
    };
    CoseMac0::from_cbor_value(value).map_err(|_| TokenError::malformed("CWT is not a COSE_Mac0"))
}

fn hmac_sha256(key: &[u8; 32], data: &[u8]) -> Vec<u8> {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}
