//! Counters of what the edge answered, served as Prometheus text at `GET /metrics` to loopback
//! clients only (a scraper on the same host, or behind the operator's own proxy).
//!
//! Requests refused before a token verifies are counted here and nowhere else: logging them
//! would let anyone on the network fill the disk (the licence log holds authenticated requests
//! only). Counters are relaxed atomics: a scrape may see one counter a request ahead of another.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::http;
use super::Edge;
use crate::licence::{Answer, Refusal};

/// The edge's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    licence_issued: AtomicU64,
    licence_refused: AtomicU64,
    licence_missing_token: AtomicU64,
    licence_bad_token: AtomicU64,
    licence_body_refused: AtomicU64,
    viewer_refused: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    /// A licence request refused at its token (missing, bad, expired, other content).
    pub(crate) fn licence_unauthenticated(&self, refusal: &Refusal) {
        match refusal {
            Refusal::MissingToken => bump(&self.licence_missing_token),
            _ => bump(&self.licence_bad_token),
        }
    }

    /// A licence request with a valid token whose body was too large or too slow.
    pub(crate) fn licence_body_refused(&self) {
        bump(&self.licence_body_refused);
    }

    /// An authenticated licence request the service answered (and logged).
    pub(crate) fn licence_answered(&self, answer: &Answer) {
        match answer {
            Answer::Issued { .. } => bump(&self.licence_issued),
            Answer::Refused(_) => bump(&self.licence_refused),
        }
    }

    /// A manifest or segment request refused at its token.
    pub(crate) fn viewer_refused(&self) {
        bump(&self.viewer_refused);
    }

    /// The Prometheus text exposition (version 0.0.4).
    pub fn render(&self, log_lines_dropped: u64) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut family = |name: &str, help: &str, samples: &[(&str, u64)]| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n"));
            for (labels, value) in samples {
                out.push_str(&format!("{name}{labels} {value}\n"));
            }
        };
        family(
            "abmark_licence_answers_total",
            "Licence requests with a valid token, by decision (each one is in the licence log).",
            &[
                ("{decision=\"issued\"}", get(&self.licence_issued)),
                ("{decision=\"refused\"}", get(&self.licence_refused)),
            ],
        );
        family(
            "abmark_licence_unauthenticated_total",
            "Licence requests refused at the token, before the body is read (not logged).",
            &[
                ("{reason=\"missing_token\"}", get(&self.licence_missing_token)),
                ("{reason=\"bad_token\"}", get(&self.licence_bad_token)),
            ],
        );
        family(
            "abmark_licence_body_refused_total",
            "Licence requests with a valid token whose body was too large or too slow.",
            &[("", get(&self.licence_body_refused))],
        );
        family(
            "abmark_viewer_refused_total",
            "Manifest and segment requests refused at the token (not logged).",
            &[("", get(&self.viewer_refused))],
        );
        family(
            "abmark_log_lines_dropped_total",
            "Session and licence log lines dropped because the writer fell behind.",
            &[("", log_lines_dropped)],
        );
        out
    }
}

pub(crate) fn routes() -> Router<Arc<Edge>> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(
    State(edge): State<Arc<Edge>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
) -> Response {
    // The TCP peer, never a forwarded address (`super::client`): a header anyone can write
    // must not open the metrics.
    if !client.ip().is_loopback() {
        return http::not_found("such resource");
    }
    let dropped =
        edge.log.dropped() + edge.licence.as_ref().map_or(0, |l| l.service.log().dropped());
    let mut response = Response::new(edge.metrics.render(dropped).into());
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::licence::token::LicenceTokenError;

    #[test]
    fn counts_each_kind_once() {
        let m = Metrics::default();
        m.licence_unauthenticated(&Refusal::MissingToken);
        m.licence_unauthenticated(&Refusal::BadToken(LicenceTokenError::Expired));
        m.licence_unauthenticated(&Refusal::BadToken(LicenceTokenError::BadSignature));
        m.licence_answered(&Answer::Issued { jwk_set: String::new() });
        m.viewer_refused();
        let text = m.render(3);
        assert!(text.contains("abmark_licence_unauthenticated_total{reason=\"missing_token\"} 1"));
        assert!(text.contains("abmark_licence_unauthenticated_total{reason=\"bad_token\"} 2"));
        assert!(text.contains("abmark_licence_answers_total{decision=\"issued\"} 1"));
        assert!(text.contains("abmark_licence_answers_total{decision=\"refused\"} 0"));
        assert!(text.contains("abmark_viewer_refused_total 1"));
        assert!(text.contains("abmark_log_lines_dropped_total 3"));
    }
}
