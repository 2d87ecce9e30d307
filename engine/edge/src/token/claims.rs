//! The WM token's claims as a CWT claims map: integer keys, deterministic CBOR.
//!
//! Owns the claim key numbers (TS 104 002 clause 5.4, RFC 8392, and our private keys), the
//! encoding of `WmClaims` into a canonically ordered map, and the decoding of a received map into
//! `RawClaims` — typed but not yet checked against the clock or decrypted. Unknown claims are
//! ignored, duplicate keys refused.

use std::collections::BTreeSet;

use ciborium::Value;

use super::pattern::{self, SealedPattern};
use super::{TokenError, WmClaims, WmPattern};
use crate::origin::SiteList;
use abmark_delivery::cbor::{as_u64, canonical_map, decode_exact, encode};
use abmark_delivery::ids::{ContentId, SessionId};

/// `iss` (RFC 8392).
pub const ISS: i64 = 1;
/// `sub`.
pub const SUB: i64 = 2;
/// `aud`.
pub const AUD: i64 = 3;
/// `exp` (required by TS 104 002).
pub const EXP: i64 = 4;
/// `nbf`.
pub const NBF: i64 = 5;
/// `iat` (required by TS 104 002).
pub const IAT: i64 = 6;
/// `cti`.
pub const CTI: i64 = 7;
/// `wmver`: token version, 1.
pub const WMVER: i64 = 300;
/// `wmvnd`: vendor id, one byte.
pub const WMVND: i64 = 301;
/// `wmpatlen`: pattern length in bits, two bytes.
pub const WMPATLEN: i64 = 302;
/// `wmsegduration`: `[ticks, timescale]`.
pub const WMSEGDURATION: i64 = 303;
/// `wmpattern` (direct mode).
pub const WMPATTERN: i64 = 304;
/// `wmid` (indirect mode).
pub const WMID: i64 = 305;
/// `wmopid` (indirect mode).
pub const WMOPID: i64 = 306;
/// `wmkeyver` (indirect mode).
pub const WMKEYVER: i64 = 307;
/// abmark private claim (RFC 8392 private range < -65536): session index, u32.
pub const ABM_SESSION: i64 = -65537;
/// abmark private claim: content id, text.
pub const ABM_CONTENT: i64 = -65538;
/// abmark private claim: the sites the token plays on, origin patterns, comma-separated text.
pub const ABM_ORIGINS: i64 = -65539;

/// How the pattern arrived, before decryption.
#[derive(Clone, Debug)]
pub(crate) enum PatternClaim {
    Direct(SealedPattern),
    Indirect { wmid: String, opid: u64, keyver: u64 },
}

/// Claims decoded from either token form, range-checked but not yet validated or decrypted.
#[derive(Clone, Debug)]
pub(crate) struct RawClaims {
    pub version: u64,
    pub vendor: u8,
    pub bits: u16,
    pub segment_duration: Option<(u64, u64)>,
    pub pattern: PatternClaim,
    pub issuer: Option<String>,
    pub subject: Option<String>,
    pub audience: Option<String>,
    pub session: Option<SessionId>,
    pub content: Option<ContentId>,
    pub origins: Option<SiteList>,
    pub issued_at: u64,
    pub not_before: Option<u64>,
    pub expires_at: u64,
    pub token_id: Option<Vec<u8>>,
}

/// The optional and mode-specific claims every form reads the same way.
#[derive(Default)]
pub(crate) struct PartialClaims {
    pub version: Option<u64>,
    pub vendor: Option<u64>,
    pub bits: Option<u64>,
    pub segment_duration: Option<(u64, u64)>,
    pub pattern: Option<SealedPattern>,
    pub wmid: Option<String>,
    pub opid: Option<u64>,
    pub keyver: Option<u64>,
    pub issuer: Option<String>,
    pub subject: Option<String>,
    pub audience: Option<String>,
    pub session: Option<SessionId>,
    pub content: Option<String>,
    pub origins: Option<String>,
    pub issued_at: Option<u64>,
    pub not_before: Option<u64>,
    pub expires_at: Option<u64>,
    pub token_id: Option<Vec<u8>>,
}

impl PartialClaims {
    /// Checks presence, one-byte / two-byte ranges and the direct/indirect split.
    pub fn finish(self) -> Result<RawClaims, TokenError> {
        let need = |v: Option<u64>, name: &str| {
            v.ok_or_else(|| TokenError::Malformed(format!("required claim {name} is missing")))
        };
        let vendor = u8::try_from(need(self.vendor, "wmvnd")?)
            .map_err(|_| TokenError::malformed("wmvnd does not fit one byte"))?;
        let bits = u16::try_from(need(self.bits, "wmpatlen")?)
            .map_err(|_| TokenError::malformed("wmpatlen does not fit two bytes"))?;
        let indirect = self.wmid.is_some() || self.opid.is_some() || self.keyver.is_some();
        let pattern = match (self.pattern, indirect) {
            (Some(p), false) => PatternClaim::Direct(p),
            (None, true) => PatternClaim::Indirect {
                wmid: self
                    .wmid
                    .ok_or_else(|| TokenError::malformed("indirect token lacks wmid"))?,
                opid: need(self.opid, "wmopid")?,
                keyver: need(self.keyver, "wmkeyver")?,
            },
            (Some(_), true) => {
                return Err(TokenError::malformed("both wmpattern and indirect-mode claims"))
            }
            (None, false) => return Err(TokenError::malformed("neither wmpattern nor wmid")),
        };
        Ok(RawClaims {
            version: need(self.version, "wmver")?,
            vendor,
            bits,
            segment_duration: self.segment_duration,
            pattern,
            issuer: self.issuer,
            subject: self.subject,
            audience: self.audience,
            session: self.session,
            content: self
                .content
                .map(ContentId::new)
                .transpose()
                .map_err(|e| TokenError::Malformed(format!("abm_content: {e}")))?,
            origins: self
                .origins
                .map(|o| o.parse::<SiteList>())
                .transpose()
                .map_err(|e| TokenError::Malformed(format!("abm_origins: {e}")))?,
            issued_at: need(self.issued_at, "iat")?,
            not_before: self.not_before,
            expires_at: need(self.expires_at, "exp")?,
            token_id: self.token_id,
        })
    }
}

/// The claims map in deterministic CBOR. `sealed` is the encrypted pattern in direct mode.
pub(crate) fn to_cbor(
    claims: &WmClaims,
    sealed: Option<coset::CoseEncrypt0>,
) -> Result<Vec<u8>, TokenError> {
    let int = |k: i64| Value::from(k);
    let text = |s: &String| Value::Text(s.clone());
    let mut entries = vec![
        (int(WMVER), Value::from(claims.version)),
        (int(WMVND), Value::from(claims.vendor)),
        (int(WMPATLEN), Value::from(claims.pattern.bits())),
        (int(EXP), Value::from(claims.expires_at)),
        (int(IAT), Value::from(claims.issued_at)),
    ];
    let optional = [
        (ISS, claims.issuer.as_ref().map(text)),
        (SUB, claims.subject.as_ref().map(text)),
        (AUD, claims.audience.as_ref().map(text)),
        (NBF, claims.not_before.map(Value::from)),
        (CTI, claims.token_id.clone().map(Value::Bytes)),
        (
            WMSEGDURATION,
            claims
                .segment_duration
                .map(|(t, s)| Value::Array(vec![Value::from(t), Value::from(s)])),
        ),
        (ABM_SESSION, claims.session.map(|s| Value::from(s.index()))),
        (ABM_CONTENT, claims.content.as_ref().map(|c| Value::Text(c.as_str().to_owned()))),
        (ABM_ORIGINS, claims.origins.as_ref().map(|o| Value::Text(o.to_string()))),
    ];
    entries.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (int(k), v))));
    match (&claims.pattern, sealed) {
        (WmPattern::Direct { .. }, Some(sealed)) => {
            entries.push((int(WMPATTERN), pattern::to_claim_value(sealed)?));
        }
        (WmPattern::Indirect { wmid, opid, keyver, .. }, None) => {
            entries.push((int(WMID), Value::Text(wmid.clone())));
            entries.push((int(WMOPID), Value::from(*opid)));
            entries.push((int(WMKEYVER), Value::from(*keyver)));
        }
        _ => return Err(TokenError::Encode("pattern mode and sealed pattern disagree".into())),
    }
    Ok(encode(&canonical_map(entries)))
}

/// Decodes a CWT claims map.
pub(crate) fn from_cbor(payload: &[u8]) -> Result<RawClaims, TokenError> {
    let Some(Value::Map(entries)) = decode_exact(payload) else {
        return Err(TokenError::malformed("CWT payload is not a CBOR map"));
    };
    let mut seen = BTreeSet::new();
    let mut c = PartialClaims::default();
    for (key, value) in entries {
        // Text-keyed claims are legal in a CWT but none of them concerns us.
        let Value::Integer(key) = key else { continue };
        let key = i128::from(key);
        if !seen.insert(key) {
            return Err(TokenError::Malformed(format!("claim {key} appears twice")));
        }
        let Ok(key) = i64::try_from(key) else { continue };
        let bad = || TokenError::Malformed(format!("claim {key} has the wrong type"));
        let uint = |v: &Value| as_u64(v).ok_or_else(bad);
        let text = |v: Value| match v {
            Value::Text(s) => Ok(s),
            _ => Err(bad()),
        };
        match key {
            WMVER => c.version = Some(uint(&value)?),
            WMVND => c.vendor = Some(uint(&value)?),
            WMPATLEN => c.bits = Some(uint(&value)?),
            WMSEGDURATION => c.segment_duration = Some(segment_duration(&value).ok_or_else(bad)?),
            WMPATTERN => c.pattern = Some(pattern::from_claim_value(value)?),
            WMID => c.wmid = Some(text(value)?),
            WMOPID => c.opid = Some(uint(&value)?),
            WMKEYVER => c.keyver = Some(uint(&value)?),
            ISS => c.issuer = Some(text(value)?),
            SUB => c.subject = Some(text(value)?),
            AUD => c.audience = Some(text(value)?),
            EXP => c.expires_at = Some(numeric_date(&value).ok_or_else(bad)?),
            NBF => c.not_before = Some(numeric_date(&value).ok_or_else(bad)?),
            IAT => c.issued_at = Some(numeric_date(&value).ok_or_else(bad)?),
            CTI => match value {
                Value::Bytes(b) => c.token_id = Some(b),
                _ => return Err(bad()),
            },
            ABM_SESSION => {
                c.session = Some(SessionId(u32::try_from(uint(&value)?).map_err(|_| bad())?));
            }
            ABM_CONTENT => c.content = Some(text(value)?),
            ABM_ORIGINS => c.origins = Some(text(value)?),
            _ => {}
        }
    }
    c.finish()
}

fn segment_duration(value: &Value) -> Option<(u64, u64)> {
    match value {
        Value::Array(items) if items.len() == 2 => Some((as_u64(&items[0])?, as_u64(&items[1])?)),
        _ => None,
    }
}

/// NumericDate (RFC 8392 §2): an integer, or a float which we floor. Negative dates are refused.
fn numeric_date(value: &Value) -> Option<u64> {
    match value {
        Value::Float(f) if f.is_finite() && *f >= 0.0 && *f < u64::MAX as f64 => {
            Some(f.floor() as u64)
        }
        other => as_u64(other),
    }
}
