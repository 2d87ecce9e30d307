//! `POST /license`: the W3C ClearKey licence endpoint. The bearer token and the request body go
//! to [`crate::licence::LicenceService`] on a blocking thread (its store and the customer's
//! backend block); the answer is the JWK set or a one-line JSON refusal, never cached, and the
//! token is never echoed. Browsers call it cross-origin when the player page lives elsewhere,
//! so tower-http's [`CorsLayer`] answers CORS preflights and marks answers readable by any
//! origin: bearer tokens are not cookies, so any origin may ask.
//!
//! Only a few answers run at once (see [`concurrent_answers`]); the rest wait in a FIFO queue.
//! Without the bound every waiting request holds a blocking thread that queues on the store's
//! connection locks, which are not fair: on a loaded 2-core machine that, not the work, made
//! the slowest percentile (measured with `eval/scripts/licence-load.sh`, Redis store: p99 27 ms
//! unbounded, 5 ms with 8 at once).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use tower_http::cors::{Any, CorsLayer};

use super::http;
use super::Edge;
use crate::licence::LicenceService;

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
    Router::new().route("/license", post(license)).layer(cors())
}

/// Any origin may POST with a bearer token; browsers may cache the preflight for 10 minutes.
fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(std::time::Duration::from_secs(600))
}

async fn license(
    State(edge): State<Arc<Edge>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(endpoint) = edge.licence.as_ref() else {
        return http::not_found("licence service (start serve with --keys)");
    };
    // The semaphore is never closed, so acquiring only fails if it were.
    let Ok(_slot) = endpoint.slots.acquire().await else {
        return http::server_error("licence service stopped");
    };
    let service = endpoint.service.clone();
    let bearer = http::token(None, &headers).map(str::to_owned);
    let now = super::viewer::now_unix();
    let client = client.to_string();
    // Oversized bodies are refused by the service's parser (and logged) like any bad request.
    let answer =
        tokio::task::spawn_blocking(move || service.answer(bearer.as_deref(), &body, &client, now))
            .await;
    let Ok(answer) = answer else {
        return http::server_error("licence service failed");
    };
    let mut response = Response::new(answer.body().into());
    *response.status_mut() = StatusCode::from_u16(answer.status()).unwrap_or(StatusCode::FORBIDDEN);
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
