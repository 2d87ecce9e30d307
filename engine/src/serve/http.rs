//! Small HTTP pieces shared by the handlers: where a token comes from, how a refusal and a
//! manifest are answered, and the cache headers of static files.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::viewer::Refusal;

pub const HLS_TYPE: &str = "application/vnd.apple.mpegurl";
pub const DASH_TYPE: &str = "application/dash+xml";

/// The token of a request: `?token=` first, else `Authorization: Bearer`.
pub fn token<'a>(query: Option<&'a str>, headers: &'a HeaderMap) -> Option<&'a str> {
    query.filter(|t| !t.is_empty()).or_else(|| {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
    })
}

/// 401 for a missing token, 403 for everything else; the body says why in one line and never
/// repeats the token.
pub fn refuse(refusal: &Refusal) -> Response {
    let status = match refusal {
        Refusal::Missing => StatusCode::UNAUTHORIZED,
        _ => StatusCode::FORBIDDEN,
    };
    let mut response = (status, format!("{refusal}\n")).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// A personal (or per-request) body: never stored by shared caches.
pub fn personal(content_type: &'static str, body: impl Into<axum::body::Body>) -> Response {
    let mut response = Response::new(body.into());
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

/// Segment and init files never change once written: long-lived public caching, as a CDN would.
/// Responses that already chose their caching (manifests, refusals) are left alone.
pub async fn static_cache_headers(mut response: Response) -> Response {
    let success = response.status().is_success();
    let headers = response.headers();
    if !headers.contains_key(header::CACHE_CONTROL) && success {
        let mp4 = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("video/") || t.starts_with("audio/"));
        if mp4 {
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
        }
    }
    response
}
