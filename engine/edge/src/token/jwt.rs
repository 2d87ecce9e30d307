//! The JWT form (RFC 7519) of the same claims, HS256 only.
//!
//! Header `{"typ":"JWT","alg":"HS256"}` (`typ` optional on input); claim names as in TS 104 002
//! (`wmver`, `wmpattern`, ...) plus the registered `iss`/`sub`/`aud`/`exp`/`nbf`/`iat`/`jti` and
//! our `abm_session` and `abm_content`. `wmpattern` is the base64url of the serialized
//! COSE_Encrypt0 and `jti` the base64url of the token id bytes. Signing and checking the JWT —
//! size bound, HS256 only (`none` above all refused before the signature is looked at),
//! constant-time MAC comparison — is `crate::jwt`'s, shared with the licence token; this file
//! maps the claims.

use serde::{Deserialize, Serialize};

use super::claims::{PartialClaims, RawClaims};
use super::pattern;
use super::{TokenError, WmClaims, WmPattern};
use crate::jwt::{self, JwtError, Kind, MAX_TOKEN_BYTES};
use abmark_delivery::cbor::{b64_decode, b64_encode, decode_exact, encode};
use abmark_delivery::ids::SessionId;

const KIND: Kind = Kind { typ: "JWT", typ_required: false };

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
    abm_session: Option<SessionId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    abm_content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    abm_origins: Option<String>,
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
        abm_content: claims.content.as_ref().map(|c| c.as_str().to_owned()),
        abm_origins: claims.origins.as_ref().map(ToString::to_string),
    };
    jwt::sign(KIND, mac_key, &payload).map_err(TokenError::InvalidClaims)
}

/// Checks header and signature, then decodes the claims.
pub(crate) fn open(mac_key: &[u8; 32], token: &str) -> Result<RawClaims, TokenError> {
    let p: Payload = jwt::verify(KIND, mac_key, token).map_err(|e| match e {
        JwtError::TooLong => {
            TokenError::Malformed(format!("token longer than {MAX_TOKEN_BYTES} bytes"))
        }
        JwtError::Malformed(what) => TokenError::Malformed(what),
        JwtError::Unsupported(what) => TokenError::Unsupported(what.to_owned()),
        JwtError::BadSignature => TokenError::BadSignature,
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
        origins: p.abm_origins,
        issued_at: Some(p.iat),
        not_before: p.nbf,
        expires_at: Some(p.exp),
        token_id,
    }
    .finish()
}
