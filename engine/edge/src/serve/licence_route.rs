//! `POST /license`: the W3C ClearKey licence endpoint. The bearer token is checked first, before
//! the body is read (a client without a valid token holds no buffer and writes no log line: it
//! is counted in [`super::metrics`]); then the body, at most [`MAX_REQUEST_BYTES`] and within
//! [`BODY_TIMEOUT`], goes to [`crate::licence::LicenceService`] on a blocking thread (its store
//! and the customer's backend block). The answer is the JWK set or a one-line JSON refusal,
//! never cached, and the token is never echoed. Once the token verifies, the page's site must be
//! one the edge and the token allow ([`crate::origin`]); a refusal is logged. CORS (preflights
//! included) is the edge-wide layer of [`crate::origin::OriginPolicy::cors`].
//!
//! Only a few answers run at once (see [`concurrent_answers`]); the rest wait in a FIFO queue.
//! Without the bound every waiting request holds a blocking thread that queues on the store's
//! connection locks, which are not fair: on a loaded 2-core machine that, not the work, made
//! the slowest percentile (measured with `eval/scripts/licence-load.sh`, Redis store: p99 27 ms
//! unbounded, 5 ms with 8 at once).

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;

use super::access::Attribution;
use super::client::ClientAddr;
use super::http;
use super::Edge;
use crate::licence::clearkey::MAX_REQUEST_BYTES;
use crate::licence::token::LicenceClaims;
use crate::licence::{Answer, LicenceService, PLAYER_HEADER};
use crate::origin::SiteList;

/// Answers running at once. Without an authorization backend an answer is CPU work and one
/// store round trip: 4 per core overlap the round trips and keep the threads within the cores'
/// reach. With a backend most of an answer is waiting for the customer's server, so many more
/// may wait at once (else a 50-ms backend would cap the service at 160 licences/s per 8).
fn concurrent_answers(with_backend: bool) -> usize {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    if with_backend {
        256
    } else {
        4 * cores
    }
}

/// The licence service and the queue in front of it.
pub(crate) struct LicenceEndpoint {
    pub(crate) service: Arc<LicenceService>,
    slots: tokio::sync::Semaphore,
}

impl LicenceEndpoint {
    pub(crate) fn new(service: LicenceService) -> Self {
        let slots = tokio::sync::Semaphore::new(concurrent_answers(service.has_backend()));
        Self { service: Arc::new(service), slots }
    }
}

pub(crate) fn routes() -> Router<Arc<Edge>> {
    Router::new().route("/license", post(license)).route("/license/release", post(release))
}

/// Longest a licence request body may take to arrive once the token has verified: a ClearKey
/// request is a few hundred bytes, so a slower body is a client holding a connection open.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn license(
    State(edge): State<Arc<Edge>>,
    client: ClientAddr,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(endpoint) = edge.licence.as_ref() else {
        return http::not_found("licence service (start serve with --keys)");
    };
    let metrics = &edge.metrics;
    // The token first, before a byte of the body is read: an unauthenticated client costs a
    // header parse and an HMAC, holds no buffer, and is counted rather than logged.
    let now = super::viewer::now_unix();
    let bearer = http::token(None, &headers);
    let claims = match endpoint.service.check_token(bearer, now) {
        Ok(claims) => claims,
        Err(refusal) => {
            metrics.licence_unauthenticated(&refusal);
            return answer(&Answer::Refused(refusal));
        }
    };
    let tag = edge.access.is_some().then(|| Attribution::licence(&claims));
    let token = bearer.unwrap_or_default().to_owned();
    let response = answer_verified(&edge, endpoint, claims, token, client, headers, body, now);
    edge.attributed(response.await, || tag.unwrap_or_default())
}

impl Attribution {
    /// A request whose licence token verified.
    fn licence(claims: &LicenceClaims) -> Self {
        Self {
            session: Some(claims.sid),
            subject: Some(claims.sub.clone()),
            content: Some(claims.cid.clone()),
            ..Self::default()
        }
    }
}

/// The rest of a licence request once its token verified (every answer of it is logged).
#[allow(clippy::too_many_arguments)] // one request's parts, passed on once
async fn answer_verified(
    edge: &Edge,
    endpoint: &LicenceEndpoint,
    claims: LicenceClaims,
    token: String,
    client: ClientAddr,
    headers: HeaderMap,
    body: Body,
    now: u64,
) -> Response {
    let metrics = &edge.metrics;
    let sites = claims.org.as_ref().map(SiteList::patterns);
    if let Err(refused) = edge.options.origins.check(&headers, sites) {
        let why = refused.to_string();
        return answer(&endpoint.service.refuse_site(&claims, why, &client.to_string(), now));
    }
    let player = player_id(&headers);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_REQUEST_BYTES as u64) {
        metrics.licence_body_refused();
        return too_large();
    }
    let body = match tokio::time::timeout(BODY_TIMEOUT, to_bytes(body, MAX_REQUEST_BYTES)).await {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => {
            metrics.licence_body_refused();
            return too_large();
        }
        Err(_) => {
            metrics.licence_body_refused();
            return json_status(StatusCode::REQUEST_TIMEOUT, "licence request body too slow");
        }
    };
    // The semaphore is never closed, so acquiring only fails if it were.
    let Ok(_slot) = endpoint.slots.acquire().await else {
        return http::server_error("licence service stopped");
    };
    let service = endpoint.service.clone();
    let client = client.to_string();
    let answered = tokio::task::spawn_blocking(move || {
        service.answer(&token, &claims, player.as_deref(), &body, &client, now)
    })
    .await;
    let Ok(answered) = answered else {
        return http::server_error("licence service failed");
    };
    metrics.licence_answered(&answered);
    answer(&answered)
}

/// The `Abmark-Player` header, if present and text.
fn player_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(PLAYER_HEADER)?.to_str().ok()?;
    Some(value.trim().to_owned())
}

/// `POST /license/release` with the licence token and `Abmark-Player`: the player's stream
/// ends now (closing, reloading), so the subject's slot is free without waiting for expiry.
/// 204 when done (also when there was nothing to release), else the refusal.
async fn release(
    State(edge): State<Arc<Edge>>,
    client: ClientAddr,
    headers: HeaderMap,
) -> Response {
    let Some(endpoint) = edge.licence.as_ref() else {
        return http::not_found("licence service (start serve with --keys)");
    };
    let now = super::viewer::now_unix();
    let claims = match endpoint.service.check_token(http::token(None, &headers), now) {
        Ok(claims) => claims,
        Err(refusal) => {
            edge.metrics.licence_unauthenticated(&refusal);
            return answer(&Answer::Refused(refusal));
        }
    };
    let tag = edge.access.is_some().then(|| Attribution::licence(&claims));
    let player = player_id(&headers).unwrap_or_default();
    let service = endpoint.service.clone();
    let client = client.to_string();
    let released =
        tokio::task::spawn_blocking(move || service.release(&claims, &player, &client, now)).await;
    let response = match released {
        Ok(Ok(())) => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::NO_CONTENT;
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Ok(Err(refusal)) => answer(&Answer::Refused(refusal)),
        Err(_) => http::server_error("licence service failed"),
    };
    edge.attributed(response, || tag.unwrap_or_default())
}

/// The service's answer as an HTTP response: JSON, never cached.
fn answer(answer: &Answer) -> Response {
    let status = StatusCode::from_u16(answer.status()).unwrap_or(StatusCode::FORBIDDEN);
    let mut response = json_body(status, answer.body());
    if let Answer::Refused(refusal) = answer {
        response
            .headers_mut()
            .insert(http::REFUSAL_HEADER, HeaderValue::from_static(refusal.code()));
    }
    response
}

fn too_large() -> Response {
    let why = format!("licence request larger than {MAX_REQUEST_BYTES} bytes");
    json_status(StatusCode::PAYLOAD_TOO_LARGE, &why)
}

fn json_status(status: StatusCode, why: &str) -> Response {
    json_body(status, serde_json::json!({ "error": why }).to_string())
}

fn json_body(status: StatusCode, body: String) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::UNAUTHORIZED {
        h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}
