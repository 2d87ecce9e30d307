//! The JWT form (RFC 7519) of the same claims, HS256 only.
//!
//! Header `{"alg":"HS256","typ":"JWT"}`; claim names as in TS 104 002 (`wmver`, `wmpattern`, ...)
//! plus the registered `iss`/`sub`/`aud`/`exp`/`nbf`/`iat`/`jti` and our `abm_session` and
//! `abm_content`. `wmpattern` is the base64url of the serialized COSE_Encrypt0 and `jti` the
//! base64url of the token id bytes. Any `alg` other than HS256 — `none` above all — is refused
//! before the signature is looked at, and the signature is compared in constant time.

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::claims::{PartialClaims, RawClaims};
use super::pattern;
use super::{TokenError, WmClaims, WmPattern};
use abmark_delivery::cbor::{b64_decode, b64_encode, decode_exact, encode};

/// The only header we write.
const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

#[derive(Deserialize)]
struct Header {
    alg: String,
    typ: Option<String>,
    crit: Option<serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    wmver: u64,
    wmvnd: u64,
    wmpatlen: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wmsegduration: Option<(u64, u64)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wmpattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wmid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wmopid: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wmkeyver: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aud: Option<String>,
    exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<u64>,
    iat: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    abm_session: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    abm_content: Option<String>,
}

/// Builds and signs the JWT. `sealed` is the encrypted pattern in direct mode.
pub(crate) fn mint(
    mac_key: &[u8; 32],
    claims: &WmClaims,
    sealed: Option<coset::CoseEncrypt0>,
) -> Result<String, TokenError> {
    let (wmpattern, wmid, wmopid, wmkeyver) = match (&claims.pattern, sealed) {
        (WmPattern::Direct { .. }, Some(sealed)) => {
            let bytes = encode(&pattern::to_claim_value(sealed)?);
            (Some(b64_encode(&bytes)), None, None, None)
        }
        (WmPattern::Indirect { wmid, opid, keyver, .. }, None) => {
            (None, Some(wmid.clone()), Some(*opid), Some(*keyver))
        }
        _ => return Err(TokenError::Encode("pattern mode and sealed pattern disagree".into())),
    };
    let payload = Payload {
        wmver: claims.version.into(),
        wmvnd: claims.vendor.into(),
        wmpatlen: claims.pattern.bits().into(),
        wmsegduration: claims.segment_duration,
        wmpattern,
        wmid,
        wmopid,
        wmkeyver,
        iss: claims.issuer.clone(),
        sub: claims.subject.clone(),
        aud: claims.audience.clone(),
        exp: claims.expires_at,
        nbf: claims.not_before,
        iat: claims.issued_at,
        jti: claims.token_id.as_deref().map(b64_encode),
        abm_session: claims.session,
        abm_content: claims.content.clone(),
    };
    let json = serde_json::to_vec(&payload).map_err(|_| TokenError::Encode("JWT claims".into()))?;
    let signing_input = format!("{}.{}", b64_encode(HEADER.as_bytes()), b64_encode(&json));
    let mut mac = hmac(mac_key);
    mac.update(signing_input.as_bytes());
    let signature = b64_encode(&mac.finalize().into_bytes());
    Ok(format!("{signing_input}.{signature}"))
}

/// Checks header and signature, then decodes the claims.
pub(crate) fn open(mac_key: &[u8; 32], token: &str) -> Result<RawClaims, TokenError> {
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(sig_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::malformed("a JWT has exactly three dot-separated parts"));
    };
    let header_json = b64_decode(header_b64)
        .ok_or_else(|| TokenError::malformed("JWT header is not base64url"))?;
    let header: Header = serde_json::from_slice(&header_json)
        .map_err(|_| TokenError::malformed("JWT header is not a JSON object with alg"))?;
    if header.alg == "none" {
        return Err(TokenError::Unsupported("unsigned JWT (alg none)".into()));
    }
    if header.alg != "HS256" {
        return Err(TokenError::Unsupported("JWT alg other than HS256".into()));
    }
    if header.typ.as_deref().is_some_and(|t| !t.eq_ignore_ascii_case("JWT")) {
        return Err(TokenError::Unsupported("JWT typ other than JWT".into()));
    }
    if header.crit.is_some() {
        return Err(TokenError::Unsupported("JWT with critical header parameters".into()));
    }
    let signature = b64_decode(sig_b64)
        .ok_or_else(|| TokenError::malformed("JWT signature is not base64url"))?;
    let signing_input = token.rsplit_once('.').map_or("", |(input, _)| input);
    let mut mac = hmac(mac_key);
    mac.update(signing_input.as_bytes());
    mac.verify_slice(&signature).map_err(|_| TokenError::BadSignature)?;

    let json =
        b64_decode(payload_b64).ok_or_else(|| TokenError::malformed("JWT claims not base64url"))?;
    let p: Payload = serde_json::from_slice(&json).map_err(|e| {
        TokenError::Malformed(format!("JWT claims do not fit the schema (column {})", e.column()))
    })?;
    let wmpattern = match p.wmpattern {
        Some(text) => {
            let cbor = b64_decode(&text)
                .and_then(|b| decode_exact(&b))
                .ok_or_else(|| TokenError::malformed("wmpattern is not base64url CBOR"))?;
            Some(pattern::from_claim_value(cbor)?)
        }
        None => None,
    };
    let token_id = match p.jti {
        Some(text) => {
            Some(b64_decode(&text).ok_or_else(|| TokenError::malformed("jti is not base64url"))?)
        }
        None => None,
    };
    PartialClaims {
        version: Some(p.wmver),
        vendor: Some(p.wmvnd),
        bits: Some(p.wmpatlen),
        segment_duration: p.wmsegduration,
        pattern: wmpattern,
        wmid: p.wmid,
        opid: p.wmopid,
        keyver: p.wmkeyver,
        issuer: p.iss,
        subject: p.sub,
        audience: p.aud,
        session: p.abm_session,
        content: p.abm_content,
        issued_at: Some(p.iat),
        not_before: p.nbf,
        expires_at: Some(p.exp),
        token_id,
    }
    .finish()
}

fn hmac(key: &[u8; 32]) -> Hmac<Sha256> {
    <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length")
}
