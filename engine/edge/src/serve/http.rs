//! Small HTTP pieces shared by the handlers: where a token comes from, how a refusal and a
//! manifest are answered.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::viewer::Refusal;

pub const HLS_TYPE: &str = "application/vnd.apple.mpegurl";
/// The header naming why a request was refused ([`Refusal::code`]), which CORS exposes to
/// player pages on other sites.
pub const REFUSAL_HEADER: &str = "abmark-refusal";
pub const DASH_TYPE: &str = "application/dash+xml";

/// The token of a request: `?token=` first, else `Authorization: Bearer` (the scheme name is
/// case-insensitive, RFC 9110 11.1).
pub fn token<'a>(query: Option<&'a str>, headers: &'a HeaderMap) -> Option<&'a str> {
    query.filter(|t| !t.is_empty()).or_else(|| {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, credentials) = value.trim_start().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| credentials.trim()).filter(|t| !t.is_empty())
    })
}

/// 401 for a missing token, 429 (with `Retry-After`) for a session over the live rules, 403
/// for everything else; the body says why in one line and never repeats the token.
pub fn refuse(refusal: &Refusal) -> Response {
    let status = match refusal {
        Refusal::Missing => StatusCode::UNAUTHORIZED,
        Refusal::TooFast { .. } => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::FORBIDDEN,
    };
    let mut response = (status, format!("{refusal}\n")).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(REFUSAL_HEADER, HeaderValue::from_static(refusal.code()));
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    if let Refusal::TooFast { retry_after } = refusal {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
    }
    response
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        refuse(&self)
    }
}

/// Header slots a manifest answer is given up front: its own two, `Content-Length` and the CORS
/// layer's four for an allowed `Origin` (`Access-Control-Allow-Origin`, `-Allow-Credentials`,
/// `-Expose-Headers`, `Vary`), and one to spare. An empty map is allocated at its first insert
/// and then regrown (rehashed) when the CORS headers join on the way out, on every request.
const ANSWER_HEADERS: usize = 8;

/// A personal (or per-request) body: never stored by shared caches.
pub fn personal(content_type: &'static str, body: impl Into<axum::body::Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.headers_mut() = HeaderMap::with_capacity(ANSWER_HEADERS);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    response
}

/// A body that is the same for everybody (neutral manifests).
pub fn shared(content_type: &'static str, body: impl Into<axum::body::Body>) -> Response {
    let mut response = Response::new(body.into());
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=2"));
    response
}

pub fn not_found(what: &str) -> Response {
    (StatusCode::NOT_FOUND, format!("no {what}\n")).into_response()
}

pub fn server_error(what: &str) -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, format!("{what}\n")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_is_case_insensitive_and_the_query_wins() {
        let with = |value: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            h
        };
        for value in ["Bearer abc", "bearer abc", "BEARER  abc ", "Bearer\tabc"] {
            let h = with(value);
            let expected = if value.contains('\t') { None } else { Some("abc") };
            assert_eq!(token(None, &h), expected, "{value:?}");
        }
        assert_eq!(token(None, &with("Basic abc")), None);
        assert_eq!(token(None, &with("Bearer ")), None);
        assert_eq!(token(Some("q"), &with("Bearer abc")), Some("q"));
        assert_eq!(token(Some(""), &with("Bearer abc")), Some("abc"));
    }
}
