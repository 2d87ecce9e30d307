//! Counters of what the edge answered, served as Prometheus text at `GET /metrics` to loopback
//! clients only (a scraper on the same host, or behind the operator's own proxy).
//!
//! Requests refused before a token verifies are counted here and nowhere else: logging them
//! would let anyone on the network fill the disk (the licence log holds authenticated requests
//! only). Counters are relaxed atomics: a scrape may see one counter a request ahead of another.
//!
//! Every request is also counted by kind (manifest, playlist, init, segment, licence, page,
//! other: [`super::access::kind_of`]) and status class, whether logged or not.

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
use abmark_delivery::access::RequestKind;

const KINDS: [RequestKind; 7] = [
    RequestKind::Manifest,
    RequestKind::Playlist,
    RequestKind::Init,
    RequestKind::Segment,
    RequestKind::Licence,
    RequestKind::Page,
    RequestKind::Other,
];
/// Status classes counted: 1xx..5xx (index 0 to 4).
const CLASSES: usize = 5;

/// The edge's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    licence_issued: AtomicU64,
    licence_refused: AtomicU64,
    licence_missing_token: AtomicU64,
    licence_bad_token: AtomicU64,
    licence_body_refused: AtomicU64,
    viewer_refused: AtomicU64,
    /// Requests by kind (index into [`KINDS`]) and status class.
    requests: [[AtomicU64; CLASSES]; KINDS.len()],
    edge_denied: AtomicU64,
    licence_denied: AtomicU64,
}

/// Figures the metrics read from elsewhere at scrape time.
#[derive(Debug, Default)]
pub struct Gauges {
    /// Session and licence log lines dropped.
    pub log_lines_dropped: u64,
    /// Access log lines dropped (`None`: no access log).
    pub access_lines_dropped: Option<u64>,
    /// Subjects on the deny-list file (`None`: no file).
    pub deny_list_subjects: Option<usize>,
    /// Live rules: (segment requests refused, sessions put over the rule), when on.
    pub live_rules: Option<(u64, u64)>,
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
            Answer::Refused(refusal) => {
                if *refusal == Refusal::Denied {
                    bump(&self.licence_denied);
                }
                bump(&self.licence_refused)
            }
        }
    }

    /// A viewer request refused because its subject is on the deny list.
    pub(crate) fn edge_denied(&self) {
        bump(&self.edge_denied);
    }

    /// Any request, once answered.
    pub(crate) fn request(&self, kind: RequestKind, status: u16) {
        let k = KINDS.iter().position(|&k| k == kind).unwrap_or(KINDS.len() - 1);
        let class = usize::from(status / 100).clamp(1, CLASSES) - 1;
        bump(&self.requests[k][class]);
    }

    /// A manifest or segment request refused at its token.
    pub(crate) fn viewer_refused(&self) {
        bump(&self.viewer_refused);
    }

    /// The Prometheus text exposition (version 0.0.4).
    pub fn render(&self, gauges: &Gauges) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut typed = |kind: &str, name: &str, help: &str, samples: &[(&str, u64)]| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (labels, value) in samples {
                out.push_str(&format!("{name}{labels} {value}\n"));
            }
        };
        let mut requests = Vec::with_capacity(KINDS.len() * CLASSES);
        for (k, kind) in KINDS.iter().enumerate() {
            for class in 0..CLASSES {
                let labels = format!("{{kind=\"{}\",status=\"{}xx\"}}", kind.name(), class + 1);
                requests.push((labels, get(&self.requests[k][class])));
            }
        }
        let requests: Vec<(&str, u64)> = requests.iter().map(|(l, v)| (l.as_str(), *v)).collect();
        let mut family =
            |name: &str, help: &str, samples: &[(&str, u64)]| typed("counter", name, help, samples);
        family(
            "abmark_requests_total",
            "Requests answered, by kind and status class (logged or not).",
            &requests,
        );
        family(
            "abmark_denied_total",
            "Requests refused because the subject is on a deny list, by service.",
            &[
                ("{service=\"edge\"}", get(&self.edge_denied)),
                ("{service=\"licence\"}", get(&self.licence_denied)),
            ],
        );
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
            &[("", gauges.log_lines_dropped)],
        );
        if let Some(dropped) = gauges.access_lines_dropped {
            family(
                "abmark_access_log_lines_dropped_total",
                "Access log lines dropped because the writer fell behind.",
                &[("", dropped)],
            );
        }
        if let Some((refused, tripped)) = gauges.live_rules {
            family(
                "abmark_live_rule_refused_total",
                "Segment requests refused by the live rules (429, too-fast).",
                &[("{rule=\"too_fast\"}", refused)],
            );
            family(
                "abmark_live_rule_sessions_blocked_total",
                "Times a session was put over the live rules and blocked.",
                &[("{rule=\"too_fast\"}", tripped)],
            );
        }
        if let Some(n) = gauges.deny_list_subjects {
            typed(
                "gauge",
                "abmark_deny_list_subjects",
                "Subjects on the deny-list file as last read.",
                &[("", n as u64)],
            );
        }
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
    let gauges = Gauges {
        log_lines_dropped: edge.log.dropped()
            + edge.licence.as_ref().map_or(0, |l| l.service.log().dropped()),
        access_lines_dropped: edge.access.as_ref().map(|a| a.dropped()),
        deny_list_subjects: edge.deny.as_ref().map(|d| d.len()),
        live_rules: edge.live.as_ref().map(|l| l.counts()),
    };
    let mut response = Response::new(edge.metrics.render(&gauges).into());
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
        m.licence_answered(&Answer::Refused(Refusal::Denied));
        m.edge_denied();
        m.request(RequestKind::Segment, 200);
        m.request(RequestKind::Segment, 206);
        m.request(RequestKind::Segment, 429);
        m.request(RequestKind::Licence, 403);
        let gauges = Gauges {
            log_lines_dropped: 3,
            access_lines_dropped: Some(4),
            deny_list_subjects: Some(5),
            live_rules: Some((6, 1)),
        };
        let text = m.render(&gauges);
        assert!(text.contains("abmark_licence_unauthenticated_total{reason=\"missing_token\"} 1"));
        assert!(text.contains("abmark_licence_unauthenticated_total{reason=\"bad_token\"} 2"));
        assert!(text.contains("abmark_licence_answers_total{decision=\"issued\"} 1"));
        assert!(text.contains("abmark_licence_answers_total{decision=\"refused\"} 1"));
        assert!(text.contains("abmark_requests_total{kind=\"segment\",status=\"2xx\"} 2"));
        assert!(text.contains("abmark_requests_total{kind=\"segment\",status=\"4xx\"} 1"));
        assert!(text.contains("abmark_requests_total{kind=\"licence\",status=\"4xx\"} 1"));
        assert!(text.contains("abmark_requests_total{kind=\"page\",status=\"2xx\"} 0"));
        assert!(text.contains("abmark_denied_total{service=\"edge\"} 1"));
        assert!(text.contains("abmark_denied_total{service=\"licence\"} 1"));
        assert!(text.contains("abmark_access_log_lines_dropped_total 4"));
        assert!(
            text.contains("# TYPE abmark_deny_list_subjects gauge\nabmark_deny_list_subjects 5")
        );
        assert!(text.contains("abmark_live_rule_refused_total{rule=\"too_fast\"} 6"));
        assert!(text.contains("abmark_viewer_refused_total 1"));
        assert!(text.contains("abmark_log_lines_dropped_total 3"));
    }
}
