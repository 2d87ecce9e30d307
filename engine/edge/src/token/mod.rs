//! The WM token of ETSI TS 104 002 (clause 5.4): who a stream is for and which A/B pattern it
//! follows, minted by our origin and verified at the edge.
//!
//! Map of the module:
//! - `claims`: claim keys (300..307, RFC 8392 1..7, our private -65537/-65538) and the CBOR map.
//! - `cwt`: the COSE_Mac0 (HMAC 256/256) CWT form, tags 61/17.
//! - `jwt`: the HS256 JWT form of the same claims, over `crate::jwt` (shared with the licence
//!   token).
//! - `pattern`: the direct-mode pattern sealed in a COSE_Encrypt0 (A256GCM).
//! - `cbor`: deterministic CBOR and base64url, shared with `abmark_delivery::pace`.
//!
//! Not here: the bit order of the pattern (position 0 = MSB of byte 0 is the caller's convention;
//! we carry bytes and a bit length) and which segment variant a position maps to.

pub mod claims;
mod cwt;
mod error;
mod jwt;
mod pattern;

use crate::secret::Secret32;
use std::fmt;

use crate::origin::SiteList;
use abmark_delivery::ids::{ContentId, SessionId};
use abmark_wm::key::WatermarkKey;

pub use crate::jwt::MAX_TOKEN_BYTES;
pub use cwt::{TAG_COSE_MAC0, TAG_CWT};
pub use error::TokenError;

use crate::jwt::Window;
use claims::{PatternClaim, RawClaims};
use pattern::SealedPattern;

/// `wmver`: the token version of TS 104 002 V1.1.1.
pub const WM_VERSION: u8 = 1;
/// `wmvnd`: abmark's vendor id, 0xAB. Not registered with DASH-IF; a private value.
pub const ABMARK_VENDOR: u8 = 171;
/// Clock skew tolerated by `verify` on `exp` and `nbf`, in seconds.
pub const DEFAULT_LEEWAY_SECS: u64 = 60;
/// The longest lifetime (`exp - iat`) of a WM token: a viewing session, not a subscription.
pub const MAX_LIFETIME_SECS: u64 = 7 * 24 * 3600;

/// Derivation label of the token MAC key (HMAC 256/256).
const MAC_LABEL: &str = "abmark/token/hmac-256-256/v1";
/// Derivation label of the `wmpattern` encryption key (A256GCM).
const PATTERN_LABEL: &str = "abmark/token/wmpattern-a256gcm/v1";

/// The two secrets a token needs, derived from the watermark key. `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenKeys {
    mac: Secret32,
    pattern: Secret32,
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKeys(<redacted>)")
    }
}

impl TokenKeys {
    /// MAC key and pattern key, each from its own derivation label.
    pub fn derive(key: &WatermarkKey) -> Self {
        Self {
            mac: Secret32(key.derive(MAC_LABEL, &[])),
            pattern: Secret32(key.derive(PATTERN_LABEL, &[])),
        }
    }
}

/// The viewer's pattern: carried in the token (direct) or named for a lookup (indirect).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WmPattern {
    /// `wmpattern`: `bits` bits, big-endian within `bytes` (exactly `ceil(bits / 8)` bytes).
    Direct { bytes: Vec<u8>, bits: u16 },
    /// `wmid` / `wmopid` / `wmkeyver`: the edge derives the pattern from these.
    Indirect { wmid: String, opid: u64, keyver: u64, bits: u16 },
}

impl WmPattern {
    /// `wmpatlen`.
    pub fn bits(&self) -> u16 {
        match self {
            Self::Direct { bits, .. } | Self::Indirect { bits, .. } => *bits,
        }
    }
}

/// Everything a WM token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WmClaims {
    pub version: u8,
    pub vendor: u8,
    /// `wmsegduration`: `(ticks, timescale)`.
    pub segment_duration: Option<(u64, u64)>,
    pub pattern: WmPattern,
    pub issuer: Option<String>,
    pub subject: Option<String>,
    pub audience: Option<String>,
    /// Private claim -65537 / `abm_session`.
    pub session: Option<SessionId>,
    /// Private claim -65538 / `abm_content`. A token whose content id is not a valid
    /// [`ContentId`] is refused as malformed.
    pub content: Option<ContentId>,
    /// Private claim -65539 / `abm_origins`: the sites (origin patterns) this token plays on.
    /// The edge refuses its manifests to pages elsewhere, even on sites its own list allows.
    pub origins: Option<SiteList>,
    pub issued_at: u64,
    pub not_before: Option<u64>,
    pub expires_at: u64,
    /// `cti` (CWT) / `jti` as base64url (JWT).
    pub token_id: Option<Vec<u8>>,
}

/// Which serialization `mint` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenFormat {
    /// base64url of `61(17(COSE_Mac0))`.
    Cwt,
    /// `header.claims.signature`, HS256.
    Jwt,
}

/// Mints a token. A direct-mode pattern is encrypted under a fresh random IV, so two mints of
/// the same claims differ.
pub fn mint(
    keys: &TokenKeys,
    claims: &WmClaims,
    format: TokenFormat,
) -> Result<String, TokenError> {
    check_for_mint(claims)?;
    let sealed = match &claims.pattern {
        WmPattern::Direct { bytes, .. } => Some(pattern::seal(&keys.pattern, bytes)?),
        WmPattern::Indirect { .. } => None,
    };
    let token = match format {
        TokenFormat::Cwt => cwt::seal(&keys.mac, claims::to_cbor(claims, sealed)?)?,
        TokenFormat::Jwt => jwt::mint(&keys.mac, claims, sealed)?,
    };
    // Never mint what `verify` would refuse.
    if token.len() > MAX_TOKEN_BYTES {
        let why = format!("the token would be longer than {MAX_TOKEN_BYTES} bytes");
        return Err(TokenError::InvalidClaims(why));
    }
    Ok(token)
}

/// Verifies a token with `DEFAULT_LEEWAY_SECS` of clock skew. A JWT is three dot-separated
/// base64url parts; anything else is read as a CWT. Order: size (at most [`MAX_TOKEN_BYTES`]),
/// MAC/signature, then `exp`/`nbf`,
/// version, pattern length, and last the decryption of `wmpattern`.
pub fn verify(keys: &TokenKeys, token: &str, now_unix: u64) -> Result<WmClaims, TokenError> {
    verify_with_leeway(keys, token, now_unix, DEFAULT_LEEWAY_SECS)
}

/// `verify` with an explicit leeway in seconds.
pub fn verify_with_leeway(
    keys: &TokenKeys,
    token: &str,
    now_unix: u64,
    leeway: u64,
) -> Result<WmClaims, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::Malformed(format!("token longer than {MAX_TOKEN_BYTES} bytes")));
    }
    let raw = if token.contains('.') {
        jwt::open(&keys.mac, token)?
    } else {
        claims::from_cbor(&cwt::open(&keys.mac, token)?)?
    };
    finish(keys, raw, now_unix, leeway)
}

fn finish(keys: &TokenKeys, raw: RawClaims, now: u64, leeway: u64) -> Result<WmClaims, TokenError> {
    if raw.expires_at.saturating_sub(raw.issued_at) > MAX_LIFETIME_SECS {
        return Err(TokenError::malformed("token lifetime (exp - iat) longer than 7 days"));
    }
    // A token is not valid before it was issued, whatever its `nbf` says.
    let start = raw.not_before.map_or(raw.issued_at, |nbf| nbf.max(raw.issued_at));
    match crate::jwt::check_window(now, raw.expires_at, Some(start), leeway) {
        Ok(()) => {}
        Err(Window::Expired) => {
            return Err(TokenError::Expired { expired_at: raw.expires_at, now })
        }
        Err(Window::NotYetValid) => {
            return Err(TokenError::NotYetValid { not_before: start, now });
        }
    }
    if raw.version != u64::from(WM_VERSION) {
        return Err(TokenError::Unsupported(format!("wmver {} (we read 1)", raw.version)));
    }
    if raw.bits == 0 {
        return Err(TokenError::malformed("wmpatlen is zero"));
    }
    if raw.segment_duration.is_some_and(|(_, timescale)| timescale == 0) {
        return Err(TokenError::malformed("wmsegduration has a zero timescale"));
    }
    let pattern = match raw.pattern {
        PatternClaim::Direct(sealed) => {
            let bytes = match sealed {
                SealedPattern::Encrypted(enc) => {
                    // The ciphertext carries a 16-byte GCM tag after the pattern bytes.
                    let ct_len = enc.ciphertext.as_ref().map_or(0, Vec::len);
                    check_pattern_len(raw.bits, ct_len.saturating_sub(16))?;
                    pattern::open(&keys.pattern, &enc)?
                }
                SealedPattern::Plain(bytes) => bytes,
            };
            check_pattern_len(raw.bits, bytes.len())?;
            WmPattern::Direct { bytes, bits: raw.bits }
        }
        PatternClaim::Indirect { wmid, opid, keyver } => {
            WmPattern::Indirect { wmid, opid, keyver, bits: raw.bits }
        }
    };
    Ok(WmClaims {
        version: WM_VERSION,
        vendor: raw.vendor,
        segment_duration: raw.segment_duration,
        pattern,
        issuer: raw.issuer,
        subject: raw.subject,
        audience: raw.audience,
        session: raw.session,
        content: raw.content,
        origins: raw.origins,
        issued_at: raw.issued_at,
        not_before: raw.not_before,
        expires_at: raw.expires_at,
        token_id: raw.token_id,
    })
}

/// A pattern of `bits` bits occupies exactly `ceil(bits / 8)` bytes.
fn check_pattern_len(bits: u16, bytes: usize) -> Result<(), TokenError> {
    if usize::from(bits).div_ceil(8) == bytes {
        Ok(())
    } else {
        Err(TokenError::PatternLength { bits, bytes })
    }
}

fn check_for_mint(claims: &WmClaims) -> Result<(), TokenError> {
    let invalid = |what: &str| Err(TokenError::InvalidClaims(what.to_owned()));
    if claims.version != WM_VERSION {
        return invalid("version must be 1");
    }
    if claims.pattern.bits() == 0 {
        return invalid("pattern length is zero bits");
    }
    if let WmPattern::Direct { bytes, bits } = &claims.pattern {
        check_pattern_len(*bits, bytes.len())?;
    }
    if claims.expires_at <= claims.issued_at {
        return invalid("expires_at must be after issued_at");
    }
    if claims.expires_at - claims.issued_at > MAX_LIFETIME_SECS {
        return invalid("lifetime longer than 7 days");
    }
    if claims.not_before.is_some_and(|nbf| nbf >= claims.expires_at) {
        return invalid("not_before must be before expires_at");
    }
    if claims.segment_duration.is_some_and(|(_, timescale)| timescale == 0) {
        return invalid("segment duration timescale is zero");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
