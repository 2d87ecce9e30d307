//! Small HTTP pieces shared by the handlers: where a token comes from, how a refusal and a
//! manifest are answered, and the cache headers of static files.

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
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

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        refuse(&self)
    }
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

/// The static files under `/0`, `/1` and `/audio`: segment and init files never change once
/// written, so they get long-lived public caching, as a CDN would give them, and their media
/// type (MIME guessing knows `.mp4` but not `.m4s`). WMPaceInfo sidecars are CBOR.
pub async fn static_file_headers(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    let is_static = ["/0/", "/1/", "/audio/"].iter().any(|p| path.starts_with(p));
    if !is_static || !response.status().is_success() {
        return response;
    }
    let content_type = if path.contains("/WMPaceInfo/") {
        "application/cbor"
    } else if path.ends_with(".m4s") && path.starts_with("/audio/") {
        "audio/mp4"
    } else if path.ends_with(".m4s") {
        "video/iso.segment"
    } else if path.ends_with(".mp4") {
        "video/mp4"
    } else {
        return response;
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    response
}
