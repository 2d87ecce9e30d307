//! HS256 JWTs (RFC 7519 / RFC 7515 compact form): the one implementation behind both JWT kinds
//! abmark reads, the WM token's JWT form ([`crate::token`]) and the licence token
//! ([`crate::licence::token`]). Each kind keeps its own claims, `typ` and MAC key (derived under
//! its own label); this module owns what they share.
//!
//! [`jsonwebtoken`] does the compact form: splitting, base64url, the `alg` allow-list (HS256
//! only), `crit`/`b64`, and the signature check through a [`CryptoProvider`] of ours that knows
//! HS256 alone, on RustCrypto's `hmac` (whose `verify_slice` compares in constant time). Around
//! it this module adds what the crate leaves to its caller or does differently:
//! - a bound on the size of a token a client sends ([`MAX_TOKEN_BYTES`]), checked first;
//! - a header policy read before the signature is looked at: `alg` must be `HS256` (`none`
//!   above all is refused), `typ` must be the kind's, and no `crit` parameter is understood;
//! - the validity window against a `now` the caller passes ([`check_window`]): the crate's own
//!   check reads the system clock, so it is turned off, and so are its `aud` rules (neither
//!   kind names an audience to check against).
//!
//! Errors never contain the token, a claim value or a key.

use std::sync::Once;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The longest token accepted, in bytes: far above any token abmark mints (a few hundred
/// bytes), and below what a client could make us decode and parse for nothing. The bound also
/// holds for the WM token's CWT form.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Why a JWT was refused. Messages name what failed, never the token or a value in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum JwtError {
    /// Longer than [`MAX_TOKEN_BYTES`].
    TooLong,
    /// Not three base64url parts, not JSON, or claims that do not fit the kind's schema.
    Malformed(String),
    /// Well-formed, but signed with something other than HS256 (or unsigned), of another `typ`,
    /// or with header parameters we do not process.
    Unsupported(&'static str),
    /// The HMAC does not verify: tampered, truncated or made with another key.
    BadSignature,
}

/// The `typ` header of one JWT kind.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Kind {
    /// Written by [`sign`]; compared without regard to ASCII case (RFC 7515 §4.1.9).
    pub typ: &'static str,
    /// Whether a token without `typ` is refused (else only a different `typ` is).
    pub typ_required: bool,
}

/// What [`check_window`] found wrong with a genuine token's times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Window {
    Expired,
    NotYetValid,
}

/// Valid while `now < exp + leeway` and, with a start, `now + leeway >= not_before` (RFC 7519
/// §4.1.4-5, with `leeway` seconds of clock skew either way).
pub(crate) fn check_window(
    now: u64,
    expires_at: u64,
    not_before: Option<u64>,
    leeway: u64,
) -> Result<(), Window> {
    if now >= expires_at.saturating_add(leeway) {
        return Err(Window::Expired);
    }
    if not_before.is_some_and(|nbf| now.saturating_add(leeway) < nbf) {
        return Err(Window::NotYetValid);
    }
    Ok(())
}

/// Signs `claims` as `header.claims.signature` with HS256 under `key`.
pub(crate) fn sign<C: Serialize>(kind: Kind, key: &[u8; 32], claims: &C) -> Result<String, String> {
    install_provider();
    let header = Header { typ: Some(kind.typ.to_owned()), ..Header::new(Algorithm::HS256) };
    let key = EncodingKey::from_secret(key).map_err(|e| e.to_string())?;
    let token = jsonwebtoken::encode(&header, claims, &key).map_err(|e| e.to_string())?;
    if token.len() > MAX_TOKEN_BYTES {
        return Err(format!("the token would be longer than {MAX_TOKEN_BYTES} bytes"));
    }
    Ok(token)
}

/// The header parameters the policy reads; the rest are jsonwebtoken's to check.
#[derive(Deserialize)]
struct HeaderPolicy {
    alg: String,
    typ: Option<String>,
    crit: Option<serde_json::Value>,
}

/// Checks size, header and signature, then decodes the claims. Times are the caller's (see
/// [`check_window`]): a JWT kind may carry them under other names.
pub(crate) fn verify<C: DeserializeOwned>(
    kind: Kind,
    key: &[u8; 32],
    token: &str,
) -> Result<C, JwtError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::TooLong);
    }
    // Unpadded base64url only (RFC 7515 §2): a decoder that tolerated `=` or other bytes would
    // give one token several spellings, each a new key for the session log's and the stream
    // limit's bookkeeping.
    if !token.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
        return Err(malformed("a JWT is unpadded base64url parts"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("a JWT has exactly three dot-separated parts"));
    };
    let header =
        URL_SAFE_NO_PAD.decode(header).map_err(|_| malformed("JWT header is not base64url"))?;
    let header: HeaderPolicy = serde_json::from_slice(&header)
        .map_err(|_| malformed("JWT header is not a JSON object with alg"))?;
    if header.alg == "none" {
        return Err(JwtError::Unsupported("unsigned JWT (alg none)"));
    }
    if header.alg != "HS256" {
        return Err(JwtError::Unsupported("JWT alg other than HS256"));
    }
    match header.typ {
        Some(typ) if !typ.eq_ignore_ascii_case(kind.typ) => {
            return Err(JwtError::Unsupported("JWT of another typ"))
        }
        None if kind.typ_required => return Err(JwtError::Unsupported("JWT without typ")),
        _ => {}
    }
    if header.crit.is_some() {
        return Err(JwtError::Unsupported("JWT with critical header parameters"));
    }

    install_provider();
    let mut validation = Validation::new(Algorithm::HS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let key = DecodingKey::from_secret(key).map_err(|_| JwtError::BadSignature)?;
    match jsonwebtoken::decode::<C>(token, &key, &validation) {
        Ok(data) => Ok(data.claims),
        Err(e) => Err(match e.kind() {
            ErrorKind::InvalidSignature => JwtError::BadSignature,
            ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => {
                JwtError::Unsupported("JWT alg other than HS256")
            }
            ErrorKind::Json(e) => JwtError::Malformed(format!(
                "JWT claims do not fit the schema (column {})",
                e.column()
            )),
            ErrorKind::Base64(_) => malformed("JWT part is not base64url"),
            _ => malformed("JWT is not a well-formed JWS"),
        }),
    }
}

fn malformed(what: &str) -> JwtError {
    JwtError::Malformed(what.to_owned())
}

/// jsonwebtoken's signing and verification go through a process-wide [`CryptoProvider`]. Ours
/// builds HS256 signers and verifiers only; installing it is idempotent. Should another part
/// of the process have installed a provider first, that one is used, and `verify` still
/// allows HS256 alone.
fn install_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = HS256_ONLY.install_default();
    });
}

static HS256_ONLY: CryptoProvider = CryptoProvider {
    signer_factory: |alg, key| {
        let mac = hs256(alg, key.as_bytes())?;
        Ok(Box::new(mac) as Box<dyn JwtSigner>)
    },
    verifier_factory: |alg, key| {
        let mac = hs256(alg, key.try_get_as_bytes()?)?;
        Ok(Box::new(mac) as Box<dyn JwtVerifier>)
    },
    // Only needed for JWKs, which abmark neither reads nor writes.
    key_utils: KeyUtils::new_unimplemented(),
};

/// HMAC-SHA256 under a key, as signer and verifier.
struct Hs256(Hmac<Sha256>);

fn hs256(alg: &Algorithm, key: &[u8]) -> jsonwebtoken::errors::Result<Hs256> {
    if *alg != Algorithm::HS256 {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).map_err(|_| ErrorKind::InvalidKeyFormat)?;
    Ok(Hs256(mac))
}

impl signature::Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let mut mac = self.0.clone();
        mac.update(msg);
        Ok(mac.finalize().into_bytes().to_vec())
    }
}

impl signature::Verifier<Vec<u8>> for Hs256 {
    /// `verify_slice` compares in constant time.
    fn verify(&self, msg: &[u8], tag: &Vec<u8>) -> Result<(), signature::Error> {
        let mut mac = self.0.clone();
        mac.update(msg);
        mac.verify_slice(tag).map_err(|_| signature::Error::new())
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIND: Kind = Kind { typ: "test+jwt", typ_required: true };

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Claims {
        sub: String,
        exp: u64,
    }

    fn claims() -> Claims {
        Claims { sub: "alice".into(), exp: 1_000 }
    }

    /// An HS256 signature computed here, independently of the module.
    fn resign(header: &str, payload_b64: &str, key: &[u8; 32]) -> String {
        let input = format!("{}.{payload_b64}", URL_SAFE_NO_PAD.encode(header));
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
        mac.update(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn one_token_has_one_spelling() {
        let key = [3; 32];
        let t = sign(KIND, &key, &claims()).unwrap();
        assert_eq!(verify::<Claims>(KIND, &key, &t).unwrap(), claims());
        // The 32-byte signature is 43 base64url characters; a padded spelling of it, or of
        // any part, is another string for the same token and is refused.
        for spelling in
            [format!("{t}="), t.replacen('.', "=.", 1), format!(" {t}"), format!("{t}\n")]
        {
            assert!(
                matches!(verify::<Claims>(KIND, &key, &spelling), Err(JwtError::Malformed(_))),
                "{spelling:?}"
            );
        }
    }

    #[test]
    fn signs_standard_hs256_and_reads_it_back() {
        let key = [9u8; 32];
        let token = sign(KIND, &key, &claims()).unwrap();
        let payload = token.split('.').nth(1).unwrap();
        // Byte for byte what any HS256 implementation computes for this header and payload.
        assert_eq!(token, resign(r#"{"typ":"test+jwt","alg":"HS256"}"#, payload, &key));
        assert_eq!(verify::<Claims>(KIND, &key, &token).unwrap(), claims());
        assert_eq!(verify::<Claims>(KIND, &[8; 32], &token), Err(JwtError::BadSignature));
    }

    #[test]
    fn header_policy_comes_before_the_signature() {
        let key = [9u8; 32];
        let token = sign(KIND, &key, &claims()).unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let refused = |header: &str| verify::<Claims>(KIND, &key, &resign(header, payload, &key));
        for header in [
            r#"{"alg":"none","typ":"test+jwt"}"#,
            r#"{"alg":"HS512","typ":"test+jwt"}"#,
            r#"{"alg":"RS256","typ":"test+jwt"}"#,
            r#"{"alg":"HS256","typ":"JWT"}"#,
            r#"{"alg":"HS256"}"#,
            r#"{"alg":"HS256","typ":"test+jwt","crit":["b64"],"b64":true}"#,
        ] {
            assert!(matches!(refused(header), Err(JwtError::Unsupported(_))), "{header}");
        }
        let unsigned = format!("{}.{payload}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#));
        assert!(matches!(verify::<Claims>(KIND, &key, &unsigned), Err(JwtError::Unsupported(_))));
        // Another key order and a `typ` in other case are the same header.
        assert!(refused(r#"{"typ":"TEST+JWT","alg":"HS256"}"#).is_ok());
        let optional = Kind { typ_required: false, ..KIND };
        let untyped = resign(r#"{"alg":"HS256"}"#, payload, &key);
        assert_eq!(verify::<Claims>(optional, &key, &untyped).unwrap(), claims());
    }

    #[test]
    fn size_shape_and_schema_errors() {
        let key = [9u8; 32];
        let long = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(verify::<Claims>(KIND, &key, &long), Err(JwtError::TooLong));
        for bad in ["", "a.b", "a.b.c.d", "%%.%%.%%", "e30.e30.e30"] {
            assert!(
                matches!(verify::<Claims>(KIND, &key, bad), Err(JwtError::Malformed(_))),
                "{bad}"
            );
        }
        let other = sign(KIND, &key, &serde_json::json!({ "sub": 1 })).unwrap();
        assert!(matches!(verify::<Claims>(KIND, &key, &other), Err(JwtError::Malformed(_))));
        let huge = serde_json::json!({ "sub": "x".repeat(MAX_TOKEN_BYTES), "exp": 1 });
        assert!(sign(KIND, &key, &huge).is_err(), "we never mint what we would refuse");
    }

    #[test]
    fn window_has_leeway_on_both_ends() {
        assert_eq!(check_window(1_059, 1_000, None, 60), Ok(()));
        assert_eq!(check_window(1_060, 1_000, None, 60), Err(Window::Expired));
        assert_eq!(check_window(1_000, 1_000, None, 0), Err(Window::Expired));
        assert_eq!(check_window(439, 1_000, Some(500), 60), Err(Window::NotYetValid));
        assert_eq!(check_window(440, 1_000, Some(500), 60), Ok(()));
        assert_eq!(check_window(u64::MAX, u64::MAX, None, 60), Err(Window::Expired));
    }
}
