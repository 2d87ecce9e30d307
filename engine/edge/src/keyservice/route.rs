//! `POST /speke/v2.0/copyProtection`: the key service over HTTP, SPEKE v2.0's path and headers
//! (`X-Speke-Version: 2.0` in and out, `X-Speke-User-Agent`, `application/xml`), and
//! `GET /metrics` for loopback clients.
//!
//! The API key is checked first, before a byte of the body is read, so a client without one
//! holds no buffer and writes no log line (it is counted); then the body, at most
//! [`MAX_BODY_BYTES`] and within [`BODY_TIMEOUT`], goes to [`KeyService::answer`] on a
//! blocking thread. Refusals are one line of text. Nothing is cached.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use super::service::{KeyService, Refusal};
use crate::apikey::presented;

/// Largest request body: a CPIX request for [`super::service::MAX_KEYS`] keys with four DRM
/// systems each is about 200 KiB.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Longest a body may take to arrive once the API key has been accepted.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// The SPEKE version spoken.
pub const SPEKE_VERSION: &str = "2.0";
/// The path encoders POST to.
pub const PATH: &str = "/speke/v2.0/copyProtection";

/// What the route counts (Prometheus text at `GET /metrics`).
#[derive(Debug, Default)]
struct Counters {
    answered: AtomicU64,
    refused: AtomicU64,
    missing_key: AtomicU64,
    bad_key: AtomicU64,
}

struct Shared {
    service: Arc<KeyService>,
    counters: Counters,
    /// Answers running at once; the rest wait (each holds a blocking thread otherwise).
    slots: tokio::sync::Semaphore,
}

/// The key service's routes.
pub fn router(service: KeyService) -> Router {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let shared = Arc::new(Shared {
        service: Arc::new(service),
        counters: Counters::default(),
        slots: tokio::sync::Semaphore::new(4 * cores),
    });
    Router::new()
        .route(PATH, post(copy_protection))
        .route("/metrics", get(metrics))
        .with_state(shared)
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

async fn copy_protection(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let counters = &shared.counters;
    let key = presented(&headers).map(str::to_owned);
    let service = shared.service.clone();
    let customer =
        match tokio::task::spawn_blocking(move || service.authenticate(key.as_deref())).await {
            Ok(Ok(customer)) => customer,
            Ok(Err(refusal)) => {
                match refusal {
                    Refusal::MissingKey => bump(&counters.missing_key),
                    Refusal::BadKey => bump(&counters.bad_key),
                    _ => bump(&counters.refused),
                }
                return refuse(&refusal);
            }
            Err(_) => return text(StatusCode::INTERNAL_SERVER_ERROR, "key service failed"),
        };
    if let Some(v) =
        headers.get("x-speke-version").filter(|v| v.as_bytes() != SPEKE_VERSION.as_bytes())
    {
        bump(&counters.refused);
        let shown: String = v.to_str().unwrap_or("?").chars().take(16).collect();
        return text(
            StatusCode::BAD_REQUEST,
            &format!("X-Speke-Version {shown:?} (2.0 is supported)"),
        );
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        bump(&counters.refused);
        return too_large();
    }
    let body = match tokio::time::timeout(BODY_TIMEOUT, to_bytes(body, MAX_BODY_BYTES)).await {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => {
            bump(&counters.refused);
            return too_large();
        }
        Err(_) => {
            bump(&counters.refused);
            return text(StatusCode::REQUEST_TIMEOUT, "CPIX request body too slow");
        }
    };
    let Ok(_slot) = shared.slots.acquire().await else {
        return text(StatusCode::INTERNAL_SERVER_ERROR, "key service stopped");
    };
    let service = shared.service.clone();
    let name = customer.name.clone();
    let answered = tokio::task::spawn_blocking(move || service.answer(&customer, &body)).await;
    match answered {
        Ok(Ok(answered)) => {
            bump(&counters.answered);
            // KIDs and key values stay out of the log; the customer's CPIX has them.
            eprintln!(
                "key-service: {client} {name}: content {}: {} keys ({} new)",
                answered.content, answered.keys, answered.new_keys
            );
            let mut response = Response::new(Body::from(answered.xml));
            let h = response.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
            speke_headers(h);
            response
        }
        Ok(Err(refusal)) => {
            bump(&counters.refused);
            eprintln!("key-service: {client} {name}: refused: {}", refusal.reason());
            refuse(&refusal)
        }
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "key service failed"),
    }
}

fn speke_headers(h: &mut HeaderMap) {
    h.insert("x-speke-version", HeaderValue::from_static(SPEKE_VERSION));
    h.insert(
        "x-speke-user-agent",
        HeaderValue::from_static(concat!("abmark/", env!("CARGO_PKG_VERSION"))),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn refuse(refusal: &Refusal) -> Response {
    let status = StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::FORBIDDEN);
    let mut response = text(status, &refusal.public_reason());
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

fn too_large() -> Response {
    text(StatusCode::PAYLOAD_TOO_LARGE, &format!("CPIX request larger than {MAX_BODY_BYTES} bytes"))
}

/// A one-line text answer (SPEKE: a client or server error message).
fn text(status: StatusCode, why: &str) -> Response {
    let line = why.replace(['\n', '\r'], " ");
    let mut response = Response::new(Body::from(format!("{line}\n")));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    speke_headers(h);
    response
}

async fn metrics(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
) -> Response {
    if !client.ip().is_loopback() {
        return text(StatusCode::NOT_FOUND, "no such resource");
    }
    let c = &shared.counters;
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let body = format!(
        "# HELP abmark_keyservice_answers_total Authenticated key requests, by outcome.\n\
         # TYPE abmark_keyservice_answers_total counter\n\
         abmark_keyservice_answers_total{{outcome=\"answered\"}} {}\n\
         abmark_keyservice_answers_total{{outcome=\"refused\"}} {}\n\
         # HELP abmark_keyservice_unauthenticated_total Key requests refused at the API key (not logged).\n\
         # TYPE abmark_keyservice_unauthenticated_total counter\n\
         abmark_keyservice_unauthenticated_total{{reason=\"missing_key\"}} {}\n\
         abmark_keyservice_unauthenticated_total{{reason=\"bad_key\"}} {}\n",
        get(&c.answered),
        get(&c.refused),
        get(&c.missing_key),
        get(&c.bad_key)
    );
    let mut response = Response::new(Body::from(body));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
