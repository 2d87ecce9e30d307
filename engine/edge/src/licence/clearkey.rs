//! W3C ClearKey licence messages (Encrypted Media Extensions, "Clear Key" 9.1.3 and 9.1.4):
//! the request a browser's CDM sends — `{"kids":["<base64url KID>",…],"type":"temporary"}` — and
//! the JSON Web Key set that answers it — `{"keys":[{"kty":"oct","kid":…,"k":…}],"type":…}`.
//!
//! Requests are untrusted: the body is bounded, every KID must decode to exactly 16 bytes, and
//! errors name what is wrong without echoing the body.

use abmark_delivery::ids::Kid;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// Largest request body read (a request names a handful of KIDs).
pub const MAX_REQUEST_BYTES: usize = 16 * 1024;
/// Most KIDs one request may ask for (key rotation can name a few dozen).
pub const MAX_KIDS: usize = 256;

/// The session type a request asks for (EME `MediaKeySessionType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionType {
    Temporary,
    PersistentLicense,
}

/// A parsed licence request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenceRequest {
    pub kids: Vec<Kid>,
    pub session_type: SessionType,
}

/// Why a request was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("licence request larger than {MAX_REQUEST_BYTES} bytes")]
    TooLarge,
    #[error("licence request is not ClearKey JSON ({0})")]
    NotJson(String),
    #[error("licence request names no KID")]
    NoKids,
    #[error("licence request names more than {MAX_KIDS} KIDs")]
    TooManyKids,
    #[error("licence request KID {0} is not 16 bytes of base64url")]
    BadKid(usize),
}

#[derive(Deserialize)]
struct RequestJson {
    kids: Vec<String>,
    #[serde(rename = "type", default = "temporary")]
    session_type: SessionType,
}

fn temporary() -> SessionType {
    SessionType::Temporary
}

/// Parses a ClearKey licence request body.
pub fn parse_request(body: &[u8]) -> Result<LicenceRequest, RequestError> {
    if body.len() > MAX_REQUEST_BYTES {
        return Err(RequestError::TooLarge);
    }
    // serde_json's own messages can quote the input ("invalid type: string ..."): only the
    // kind of error and where it is are reported.
    let json: RequestJson = serde_json::from_slice(body).map_err(|e| {
        RequestError::NotJson(format!(
            "{:?} error at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        ))
    })?;
    if json.kids.is_empty() {
        return Err(RequestError::NoKids);
    }
    if json.kids.len() > MAX_KIDS {
        return Err(RequestError::TooManyKids);
    }
    let mut kids = Vec::with_capacity(json.kids.len());
    for (i, text) in json.kids.iter().enumerate() {
        let bytes = decode_b64url(text).ok_or(RequestError::BadKid(i))?;
        let kid = <[u8; 16]>::try_from(bytes).map_err(|_| RequestError::BadKid(i))?;
        let kid = Kid::from_bytes(kid);
        if !kids.contains(&kid) {
            kids.push(kid);
        }
    }
    Ok(LicenceRequest { kids, session_type: json.session_type })
}

/// base64url with or without padding (browsers send it unpadded; some tools pad).
fn decode_b64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

#[derive(Serialize)]
struct Jwk<'a> {
    kty: &'a str,
    kid: String,
    k: String,
}

#[derive(Serialize)]
struct ResponseJson<'a> {
    keys: Vec<Jwk<'a>>,
    #[serde(rename = "type")]
    session_type: SessionType,
}

/// The JWK set answering a request: one `oct` key per (KID, key).
pub fn response(keys: &[(Kid, [u8; 16])], session_type: SessionType) -> String {
    let json = ResponseJson {
        keys: keys
            .iter()
            .map(|(kid, key)| Jwk {
                kty: "oct",
                kid: URL_SAFE_NO_PAD.encode(kid.as_bytes()),
                k: URL_SAFE_NO_PAD.encode(key),
            })
            .collect(),
        session_type,
    };
    // Serialising plain strings cannot fail.
    serde_json::to_string(&json).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_browser_request() {
        // What Chromium's ClearKey CDM sends for one KID.
        let r =
            parse_request(br#"{"kids":["ASNFZ4mrze8BI0VniavN7w"],"type":"temporary"}"#).unwrap();
        assert_eq!(
            r.kids,
            vec![Kid::from_bytes([
                0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
                0xcd, 0xef
            ])]
        );
        assert_eq!(r.session_type, SessionType::Temporary);
        let r =
            parse_request(br#"{"kids":["ASNFZ4mrze8BI0VniavN7w=="],"type":"persistent-license"}"#)
                .unwrap();
        assert_eq!(r.session_type, SessionType::PersistentLicense);
    }

    #[test]
    fn refuses_bad_requests_without_echoing_them() {
        assert_eq!(parse_request(br#"{"kids":[]}"#), Err(RequestError::NoKids));
        assert_eq!(parse_request(br#"{"kids":["AAAA"]}"#), Err(RequestError::BadKid(0)));
        let e = parse_request(b"{\"kids\": secret-stuff").unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
        assert_eq!(parse_request(&vec![b' '; MAX_REQUEST_BYTES + 1]), Err(RequestError::TooLarge));
    }

    #[test]
    fn answers_with_a_jwk_set() {
        let text = response(&[(Kid::from_bytes([1; 16]), [2; 16])], SessionType::Temporary);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["type"], "temporary");
        assert_eq!(v["keys"][0]["kty"], "oct");
        assert_eq!(v["keys"][0]["kid"], "AQEBAQEBAQEBAQEBAQEBAQ");
        assert_eq!(v["keys"][0]["k"], "AgICAgICAgICAgICAgICAg");
    }
}
