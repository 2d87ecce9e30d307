//! A verified viewer: the token checked, and the bit pattern that decides their segments.
//!
//! Direct-mode tokens carry the pattern (encrypted); indirect-mode tokens carry `wmid`, our
//! session index, from which the pattern is our session code (`abmark_wm::payload`). Either way the
//! bit for a segment is the pattern's big-endian bit at the segment's WMPaceInfo position,
//! modulo the pattern length (ETSI TS 104 002 5.4).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::origin::OriginRefusal;
use crate::token::{verify_with_leeway, TokenError, WmClaims, WmPattern};
use abmark_delivery::ids::SessionId;
use abmark_delivery::sessions::TokenMode;
use abmark_wm::payload::{pattern_bit, CODE_BITS};

use super::Edge;

/// The `wmkeyver` our indirect-mode tokens name: the session code's key derivation version.
pub const SESSION_CODE_KEY_VERSION: u64 = 1;

/// Why a request gets no manifest or segment.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// 401: no token at all.
    #[error("a token is required (?token= or Authorization: Bearer)")]
    Missing,
    /// 403: signature, format, expiry or pattern failed.
    #[error("token refused: {0}")]
    Invalid(#[from] TokenError),
    /// 403: a valid token for other content.
    #[error("token refused: it is for other content")]
    WrongContent,
    /// 403: a valid token whose pattern this edge cannot use.
    #[error("token refused: {0}")]
    Pattern(String),
    /// 403: a valid token, asked for from a page on a site it may not play on.
    #[error("{0}")]
    Site(#[from] OriginRefusal),
    /// 403: a valid token whose subject is on the deny list (`--deny-list`).
    #[error("refused: this account is denied")]
    Denied,
    /// 429: the session fetched segments far faster than real time (`--live-rules`).
    #[error("refused: segments fetched far faster than real time; retry after {retry_after} s")]
    TooFast { retry_after: u64 },
}

impl Refusal {
    /// A stable name for the refusal (the `Abmark-Refusal` header), for a player page to pick
    /// the message it shows.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Missing => "token-missing",
            Refusal::Invalid(TokenError::Expired { .. }) => "token-expired",
            Refusal::Invalid(_) | Refusal::Pattern(_) => "token-invalid",
            Refusal::WrongContent => "wrong-content",
            Refusal::Site(_) => "domain-not-allowed",
            Refusal::Denied => "subject-denied",
            Refusal::TooFast { .. } => "too-fast",
        }
    }
}

/// A viewer whose token verified.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub claims: WmClaims,
    /// The WM pattern, big-endian bits, `bits` of them used.
    pub pattern: Vec<u8>,
    pub bits: usize,
    /// The session index: from an indirect token's `wmid`, else by decoding the pattern (our
    /// 64-bit session codes), else from the token's session claim.
    pub session: Option<SessionId>,
    pub mode: TokenMode,
}

impl Viewer {
    /// The variant (0 or 1) of a segment at WM pattern `position`; a segment published as
    /// not watermarked (position -1) comes from variant 0.
    pub fn variant_at(&self, position: Option<u16>) -> u8 {
        // `bits` was checked against the pattern's length when the viewer was made.
        position.and_then(|p| pattern_bit(&self.pattern, self.bits, u64::from(p))).unwrap_or(0)
    }
}

pub(crate) fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Edge {
    /// Verifies `token` and works out the viewer's pattern; a refusal is counted in the metrics.
    pub fn viewer(&self, token: Option<&str>) -> Result<Viewer, Refusal> {
        let viewer = self.verify_viewer(token);
        if viewer.is_err() {
            self.metrics.viewer_refused();
        }
        viewer
    }

    /// [`Self::viewer`] without counting a refusal (for a token that is optional).
    pub(crate) fn verify_viewer(&self, token: Option<&str>) -> Result<Viewer, Refusal> {
        let token = token.filter(|t| !t.is_empty()).ok_or(Refusal::Missing)?;
        let claims = verify_with_leeway(&self.tokens, token, now_unix(), self.options.leeway)?;
        if let Some(content) = &self.options.content {
            if claims.content.as_ref() != Some(content) {
                return Err(Refusal::WrongContent);
            }
        }
        if self.options.issuer.as_ref().is_some_and(|i| claims.issuer.as_ref() != Some(i)) {
            return Err(Refusal::Pattern(
                "the token's issuer (iss) is not the one expected".into(),
            ));
        }
        if self.options.audience.as_ref().is_some_and(|a| claims.audience.as_ref() != Some(a)) {
            return Err(Refusal::Pattern("the token is for another audience (aud)".into()));
        }
        let (pattern, bits, session, mode) = match &claims.pattern {
            WmPattern::Direct { bytes, bits } => {
                let bits = usize::from(*bits);
                if bits == 0 || bits > bytes.len() * 8 {
                    return Err(Refusal::Pattern(format!(
                        "wmpatlen {bits} does not fit a {}-byte pattern",
                        bytes.len()
                    )));
                }
                let decoded = (bits == CODE_BITS && bytes.len() == CODE_BITS / 8)
                    .then(|| {
                        let received: Vec<Option<u8>> =
                            (0..CODE_BITS).map(|p| pattern_bit(bytes, bits, p as u64)).collect();
                        self.coder.decode_hard(&received).ok()
                    })
                    .flatten()
                    .filter(|d| d.corrected_symbols == 0)
                    .map(|d| SessionId(d.session));
                (bytes.clone(), bits, decoded.or(claims.session), TokenMode::Direct)
            }
            WmPattern::Indirect { wmid, keyver, .. } => {
                if *keyver != SESSION_CODE_KEY_VERSION {
                    return Err(Refusal::Pattern(format!("unknown wmkeyver {keyver}")));
                }
                let session = wmid
                    .parse::<u32>()
                    .map(SessionId)
                    .map_err(|_| Refusal::Pattern("wmid is not a session index".into()))?;
                let code = self.coder.encode(session.index()).to_bytes().to_vec();
                (code, CODE_BITS, Some(session), TokenMode::Indirect)
            }
        };
        Ok(Viewer { claims, pattern, bits, session, mode })
    }

    /// Variant of every video segment for `viewer`, by the published positions.
    pub fn choices(&self, viewer: &Viewer) -> Vec<u8> {
        self.pace.positions().iter().map(|&p| viewer.variant_at(p)).collect()
    }
}
