//! The licence token: what the viewer's player presents (`Authorization: Bearer T`) to get
//! content keys. A JWT (RFC 7519) signed with HMAC-SHA256 under a key derived from the
//! deployment's abmark key (its own derivation label, so a WM token can never pass for a
//! licence token or the other way round), short-lived (10 minutes by default), and bound to the
//! content id, the subject (viewer) and the watermark session that viewer was given.
//!
//! Header `{"typ":"abmark-licence+jwt","alg":"HS256"}`. Claims: `sub`, `cid` (content id),
//! `sid` (watermark session index), `iat`, `exp`, `jti` (random, base64url) and an optional
//! `lic` (`temporary` or `persistent-license`, the most the token allows). The JWT itself —
//! size bound, HS256 only, `typ` required, constant-time MAC check — is `crate::jwt`'s, shared
//! with the WM token; a token is not valid before its `iat`. Messages never contain the token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use abmark_delivery::ids::{ContentId, SessionId};
use abmark_wm::key::WatermarkKey;

use super::clearkey::SessionType;
use crate::jwt::{self, JwtError, Kind, Window};
use crate::origin::SiteList;
use crate::secret::Secret32;

const KIND: Kind = Kind { typ: "abmark-licence+jwt", typ_required: true };
const MAC_LABEL: &str = "abmark/licence-token/hs256/v1";
/// Default lifetime of a licence token.
pub const DEFAULT_TTL_SECONDS: u64 = 600;
/// Clock skew tolerated between the minting site and the licence server.
pub const LEEWAY_SECONDS: u64 = 30;
/// The longest lifetime (`exp - iat`) a licence token may have: a token is handed to one player
/// for one viewing; a longer-lived one is a standing credential.
pub const MAX_LIFETIME_SECONDS: u64 = 24 * 3600;
/// The longest subject (bytes).
pub const MAX_SUBJECT_BYTES: usize = 256;

/// What a licence token grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenceClaims {
    /// The viewer: a canonical, opaque id (the site's account id), compared byte for byte by
    /// the deny list and the stream limit, so the site must always spell a viewer the same
    /// way. Tokens whose `sub` is empty, longer than [`MAX_SUBJECT_BYTES`], has control
    /// characters or surrounding white space are refused as malformed: those are the spellings
    /// that make one viewer look like two.
    pub sub: String,
    /// A token whose `cid` is not a valid [`ContentId`] does not deserialise: it is refused as
    /// malformed.
    pub cid: ContentId,
    pub sid: SessionId,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
    /// The session types allowed; `None` = temporary only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lic: Option<SessionType>,
    /// The sites (origin patterns) whose pages may use this token; `None` = any the edge
    /// allows. A token minted for one customer's site then fails on another's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<SiteList>,
}

/// Why a licence token was refused. Each maps to HTTP 401 or 403 at the edge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LicenceTokenError {
    #[error("no licence token (Authorization: Bearer)")]
    Missing,
    #[error("licence token is malformed")]
    Malformed,
    #[error("licence token has a bad signature")]
    BadSignature,
    #[error("licence token expired")]
    Expired,
    #[error("licence token is not valid yet")]
    NotYetValid,
    #[error("licence token is for another content")]
    OtherContent,
    #[error("licence token lives longer than {MAX_LIFETIME_SECONDS} s")]
    Lifetime,
    #[error("licence token subject is not a canonical id")]
    Subject,
    #[error("no random source: {0}")]
    Random(String),
}

/// The licence-token MAC key. `Debug` is redacted.
#[derive(Clone, Debug)]
pub struct LicenceKey(Secret32);

impl LicenceKey {
    pub fn derive(key: &WatermarkKey) -> Self {
        Self(Secret32(key.derive(MAC_LABEL, &[])))
    }
}

/// Mints a licence token for `subject` watching `content` with watermark session `session`,
/// valid from `now` for `ttl` seconds.
pub fn mint(
    key: &LicenceKey,
    subject: &str,
    content: &ContentId,
    session: SessionId,
    lic: Option<SessionType>,
    now: u64,
    ttl: u64,
) -> Result<String, LicenceTokenError> {
    sign(key, &claims(subject, content, session, lic, now, ttl)?)
}

/// The claims [`mint`] signs, with a fresh random `jti`: for a caller that adds more (the
/// sites, `org`) before [`sign`]ing them.
pub fn claims(
    subject: &str,
    content: &ContentId,
    session: SessionId,
    lic: Option<SessionType>,
    now: u64,
    ttl: u64,
) -> Result<LicenceClaims, LicenceTokenError> {
    let mut jti = [0u8; 16];
    getrandom::fill(&mut jti).map_err(|e| LicenceTokenError::Random(e.to_string()))?;
    Ok(LicenceClaims {
        sub: subject.to_owned(),
        cid: content.clone(),
        sid: session,
        iat: now,
        exp: now.saturating_add(ttl),
        jti: URL_SAFE_NO_PAD.encode(jti),
        lic,
        org: None,
    })
}

/// Signs `claims` after the checks [`verify`] would make of their lifetime and subject.
pub fn sign(key: &LicenceKey, claims: &LicenceClaims) -> Result<String, LicenceTokenError> {
    check_lifetime_and_subject(claims)?;
    jwt::sign(KIND, &key.0, claims).map_err(|_| LicenceTokenError::Malformed)
}

/// What both ends check of any licence token: a bounded lifetime and a canonical subject.
fn check_lifetime_and_subject(claims: &LicenceClaims) -> Result<(), LicenceTokenError> {
    if claims.exp.saturating_sub(claims.iat) > MAX_LIFETIME_SECONDS {
        return Err(LicenceTokenError::Lifetime);
    }
    if !canonical_subject(&claims.sub) {
        return Err(LicenceTokenError::Subject);
    }
    Ok(())
}

/// Verifies a licence token at `now` for `content` (the content this server licenses; `None`
/// accepts any). Order: size and header, signature, then times and content.
pub fn verify(
    key: &LicenceKey,
    token: &str,
    content: Option<&ContentId>,
    now: u64,
) -> Result<LicenceClaims, LicenceTokenError> {
    let claims: LicenceClaims = jwt::verify(KIND, &key.0, token).map_err(|e| match e {
        JwtError::BadSignature => LicenceTokenError::BadSignature,
        JwtError::TooLong | JwtError::Malformed(_) | JwtError::Unsupported(_) => {
            LicenceTokenError::Malformed
        }
    })?;
    jwt::check_window(now, claims.exp, Some(claims.iat), LEEWAY_SECONDS).map_err(|w| match w {
        Window::Expired => LicenceTokenError::Expired,
        Window::NotYetValid => LicenceTokenError::NotYetValid,
    })?;
    check_lifetime_and_subject(&claims)?;
    if content.is_some_and(|c| *c != claims.cid) {
        return Err(LicenceTokenError::OtherContent);
    }
    Ok(claims)
}

/// See [`LicenceClaims::sub`].
fn canonical_subject(sub: &str) -> bool {
    !sub.is_empty()
        && sub.len() <= MAX_SUBJECT_BYTES
        && sub.trim() == sub
        && !sub.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> LicenceKey {
        LicenceKey::derive(&WatermarkKey::from_bytes([7; 32]))
    }

    fn film(id: &str) -> ContentId {
        ContentId::new(id).unwrap()
    }

    #[test]
    fn round_trip_and_binding() {
        let t =
            mint(&key(), "alice", &film("film-1"), SessionId(424242), None, 1_000, 600).unwrap();
        let c = verify(&key(), &t, Some(&film("film-1")), 1_100).unwrap();
        assert_eq!(
            (c.sub.as_str(), c.cid.as_str(), c.sid, c.exp),
            ("alice", "film-1", SessionId(424242), 1_600)
        );
        assert_eq!(
            verify(&key(), &t, Some(&film("film-2")), 1_100),
            Err(LicenceTokenError::OtherContent)
        );
        assert_eq!(
            verify(&key(), &t, None, 1_600 + LEEWAY_SECONDS + 1),
            Err(LicenceTokenError::Expired)
        );
        assert_eq!(
            verify(&key(), &t, None, 1_000 - LEEWAY_SECONDS - 1),
            Err(LicenceTokenError::NotYetValid)
        );
    }

    #[test]
    fn tampering_and_other_keys_fail() {
        let t = mint(&key(), "alice", &film("film-1"), SessionId(1), None, 1_000, 600).unwrap();
        let other = LicenceKey::derive(&WatermarkKey::from_bytes([8; 32]));
        assert_eq!(verify(&other, &t, None, 1_000), Err(LicenceTokenError::BadSignature));
        let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
        let forged =
            br#"{"sub":"mallory","cid":"film-1","sid":1,"iat":1000,"exp":99999999,"jti":"x"}"#;
        parts[1] = URL_SAFE_NO_PAD.encode(forged);
        assert_eq!(
            verify(&key(), &parts.join("."), None, 1_000),
            Err(LicenceTokenError::BadSignature)
        );
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"abmark-licence+jwt"}"#),
            parts[1]
        );
        assert_eq!(verify(&key(), &none, None, 1_000), Err(LicenceTokenError::Malformed));
        assert_eq!(verify(&key(), "garbage", None, 1_000), Err(LicenceTokenError::Malformed));
        let oversized = format!("{t}{}", "A".repeat(crate::jwt::MAX_TOKEN_BYTES));
        assert_eq!(verify(&key(), &oversized, None, 1_000), Err(LicenceTokenError::Malformed));
        let untyped = format!("{}.{}", URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#), parts[1]);
        assert_eq!(verify(&key(), &untyped, None, 1_000), Err(LicenceTokenError::Malformed));
    }

    #[test]
    fn lifetimes_and_subjects_are_bounded() {
        let f1 = film("film-1");
        assert_eq!(
            mint(&key(), "alice", &f1, SessionId(1), None, 1_000, MAX_LIFETIME_SECONDS + 1),
            Err(LicenceTokenError::Lifetime)
        );
        let sign = |sub: &str, iat: u64, exp: u64| {
            let claims = serde_json::json!({
                "sub": sub, "cid": "film-1", "sid": 1, "iat": iat, "exp": exp, "jti": "x",
            });
            jwt::sign(KIND, &key().0, &claims).unwrap()
        };
        let forever = sign("alice", 1_000, u64::MAX);
        assert_eq!(verify(&key(), &forever, None, 1_000), Err(LicenceTokenError::Lifetime));
        // A token issued in the future is not valid yet.
        let future = sign("alice", 10_000, 10_600);
        assert_eq!(verify(&key(), &future, None, 1_000), Err(LicenceTokenError::NotYetValid));
        for sub in ["", " alice", "alice ", "al\u{0}ice", "al\nice", &"a".repeat(257)] {
            let t = sign(sub, 1_000, 1_600);
            assert_eq!(verify(&key(), &t, None, 1_000), Err(LicenceTokenError::Subject), "{sub:?}");
        }
        assert!(verify(&key(), &sign("user:42/é", 1_000, 1_600), None, 1_000).is_ok());
    }

    #[test]
    fn a_bad_content_id_is_a_malformed_token() {
        for cid in ["", "two words", &"x".repeat(ContentId::MAX_LEN + 1)] {
            let claims = serde_json::json!({
                "sub": "alice", "cid": cid, "sid": 1, "iat": 1_000, "exp": 2_000, "jti": "x",
            });
            let t = jwt::sign(KIND, &key().0, &claims).unwrap();
            assert_eq!(verify(&key(), &t, None, 1_000), Err(LicenceTokenError::Malformed), "{cid}");
        }
    }

    #[test]
    fn a_wm_token_key_is_not_a_licence_key() {
        let wm = WatermarkKey::from_bytes([7; 32]);
        let t = mint(&key(), "alice", &film("film-1"), SessionId(1), None, 1_000, 600).unwrap();
        let as_token_mac = LicenceKey(Secret32(wm.derive("abmark/token/hmac-256-256/v1", &[])));
        assert_eq!(verify(&as_token_mac, &t, None, 1_000), Err(LicenceTokenError::BadSignature));
    }
}
