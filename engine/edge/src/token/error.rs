//! Why a token could not be minted or verified.
//!
//! Messages are one line and name what failed, never the token, a claim value or any key: tokens
//! travel in URLs and logs, so an error message must be safe to print next to them.

/// Why minting or verifying a WM token failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Not base64url, not CBOR/JSON of the expected shape, or a required claim is missing.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The HMAC does not verify: tampered, truncated tag or made with another key.
    #[error("token MAC does not verify")]
    BadSignature,
    /// `exp` (plus the leeway) has passed. The message does not show `now`: refusals reach
    /// clients, and the server's clock is none of theirs.
    #[error("token expired at {expired_at}")]
    Expired { expired_at: u64, now: u64 },
    /// `nbf` (minus the leeway) is still in the future.
    #[error("token not valid before {not_before}")]
    NotYetValid { not_before: u64, now: u64 },
    /// A well-formed token using a feature abmark does not implement (ES256, alg "none", ...).
    #[error("unsupported token: {0}")]
    Unsupported(String),
    /// The encrypted `wmpattern` does not authenticate under our pattern key.
    #[error("the token's wmpattern does not decrypt")]
    PatternDecrypt,
    /// `wmpatlen` does not match the pattern bytes carried or decrypted.
    #[error("wmpatlen is {bits} bits but the pattern holds {bytes} bytes")]
    PatternLength { bits: u16, bytes: usize },
    /// Claims handed to `mint` that cannot make a valid token.
    #[error("invalid claims: {0}")]
    InvalidClaims(String),
    /// The operating system's random source failed while drawing an IV.
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    /// An encoder refused our own data (should not happen).
    #[error("cannot encode token: {0}")]
    Encode(String),
}

impl TokenError {
    /// The token was genuine but its `exp` has passed.
    pub fn is_expired(&self) -> bool {
        matches!(self, Self::Expired { .. })
    }

    /// The token was genuine but is outside its validity window (expired or not yet valid).
    pub fn is_out_of_time(&self) -> bool {
        matches!(self, Self::Expired { .. } | Self::NotYetValid { .. })
    }

    /// The token was not made with our key, or was altered after minting.
    pub fn is_bad_signature(&self) -> bool {
        matches!(self, Self::BadSignature)
    }

    pub(crate) fn malformed(what: &str) -> Self {
        Self::Malformed(what.to_owned())
    }
}
