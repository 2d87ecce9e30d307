//! `POST /license`: the W3C ClearKey licence endpoint. The bearer token and the request body go
//! to [`crate::licence::LicenceService`] on a blocking thread (its store and the customer's
//! backend block); the answer is the JWK set or a one-line JSON refusal, never cached, and the
//! token is never echoed. Browsers call it cross-origin when the player page lives elsewhere,
//! so it answers CORS preflights: bearer tokens are not cookies, so any origin may ask.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;

use super::http;
use super::Edge;

pub(crate) fn routes() -> Router<Arc<Edge>> {
    Router::new().route("/license", post(license).options(preflight))
}

async fn license(
    State(edge): State<Arc<Edge>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(service) = edge.licence.clone() else {
        return http::not_found("licence service (start serve with --keys)");
    };
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
    let mut response = Response::new(answer.body.into());
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::FORBIDDEN);
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    cors(h);
    response
}

async fn preflight() -> Response {
    let mut response = Response::new(axum::body::Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let h = response.headers_mut();
    cors(h);
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST, OPTIONS"));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type"),
    );
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    response
}

fn cors(h: &mut HeaderMap) {
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
}
