//! The access log (`serve --access-log`) and the per-request counters of the metrics: one
//! middleware around every route.
//!
//! Handlers say what they know about a request by attaching an [`Attribution`] to their answer
//! (who asked, which segment of which rendition and variant); the middleware adds what the
//! request itself says (its kind, from the path; the client address under the trusted proxies;
//! the user agent) and what the answer says (status, body bytes), and hands the line
//! ([`AccessRecord`], the one record type, which analytics reads) to a [`JsonlAppender`]: the
//! request never waits on the disk.
//!
//! What is logged: answers a handler attributed — viewer requests whose token verified (their
//! refusals by site, deny list or live rules included), and the requests that need no token
//! (media files by name, neutral manifests, the player page) when they named something that
//! exists. A request refused at its token, or for nothing that exists, is only counted
//! ([`super::metrics`]): logging it would let anyone on the network fill the disk. Tokens and
//! keys are never in a record.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::body::HttpBody as _;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::Response;

use super::client::{client_addr, ClientAddr};
use super::viewer::Viewer;
use super::{Edge, ServeError};
use abmark_delivery::access::{AccessRecord, RequestKind, MAX_USER_AGENT};
use abmark_delivery::ids::{ContentId, SessionId};
use abmark_files::jsonl::JsonlAppender;

/// Appends [`AccessRecord`]s to a JSONL file (0600) from a background thread.
#[derive(Clone)]
pub struct AccessLog {
    file: JsonlAppender,
}

impl AccessLog {
    pub fn open(path: &Path) -> Result<Self, ServeError> {
        let file = JsonlAppender::open(path, "access-log")
            .map_err(|source| ServeError::Io { path: path.to_owned(), source })?;
        Ok(Self { file })
    }

    /// Waits until every line sent so far is on disk.
    pub fn flush(&self) {
        self.file.flush();
    }

    /// Lines dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.file.dropped()
    }
}

/// What a handler knows about the request it answered (see the module's rules).
#[derive(Clone, Debug, Default)]
pub(crate) struct Attribution {
    pub session: Option<SessionId>,
    pub subject: Option<String>,
    pub content: Option<ContentId>,
    /// Video or audio segment index, 0-based.
    pub segment: Option<u64>,
    pub rendition: Option<String>,
    pub variant: Option<u8>,
}

impl Attribution {
    /// A request whose WM token verified.
    pub fn viewer(viewer: &Viewer) -> Self {
        Self {
            session: viewer.session,
            subject: viewer.claims.subject.clone(),
            content: viewer.claims.content.clone(),
            ..Self::default()
        }
    }

    /// A request of a viewer when known, else anonymous.
    pub fn maybe(viewer: Option<&Viewer>) -> Self {
        viewer.map(Self::viewer).unwrap_or_default()
    }

    pub fn segment(mut self, index: usize, rendition: &str, variant: Option<u8>) -> Self {
        self.segment = Some(index as u64);
        self.rendition = Some(rendition.to_owned());
        self.variant = variant;
        self
    }

    pub fn rendition(mut self, rendition: &str) -> Self {
        self.rendition = Some(rendition.to_owned());
        self
    }
}

impl Edge {
    /// `response`, marked to be logged with what `attribution` says, when the access log is on
    /// (the attribution is not even built otherwise).
    pub(crate) fn attributed(
        &self,
        mut response: Response,
        attribution: impl FnOnce() -> Attribution,
    ) -> Response {
        if self.access.is_some() {
            response.extensions_mut().insert(attribution());
        }
        response
    }
}

/// The kind of a request, from its method and path (the routes of [`super::Edge::router`]).
pub(crate) fn kind_of(method: &Method, path: &str) -> RequestKind {
    if method == Method::POST {
        return if path == "/license" { RequestKind::Licence } else { RequestKind::Other };
    }
    if method != Method::GET && method != Method::HEAD {
        return RequestKind::Other; // CORS preflights, anything else
    }
    let path = path.strip_prefix("/edge").unwrap_or(path);
    if path == "/hls/master.m3u8" || path == "/dash/manifest.mpd" {
        RequestKind::Manifest
    } else if path.starts_with("/hls/") {
        RequestKind::Playlist
    } else if path.ends_with("/init.mp4") {
        RequestKind::Init
    } else if ["/media/", "/segments/", "/audio/"].iter().any(|p| path.starts_with(p)) {
        RequestKind::Segment
    } else if path.starts_with("/watch/") && !path.starts_with("/watch/assets/") {
        RequestKind::Page
    } else {
        RequestKind::Other
    }
}

/// The middleware: counts every request by kind and status class, and logs the attributed ones.
pub(crate) async fn track(State(edge): State<Arc<Edge>>, request: Request, next: Next) -> Response {
    let kind = kind_of(request.method(), request.uri().path());
    // Read from the request only when there is a log to write: the answer consumes it.
    let seen = edge.access.as_ref().map(|_| {
        let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        let headers = request.headers();
        let client = peer.map(|p| client_addr(p, headers, &edge.options.trusted_proxies));
        (client, headers.get(header::USER_AGENT).cloned())
    });
    let mut response = next.run(request).await;
    let status = response.status().as_u16();
    edge.metrics.request(kind, status);
    let (Some(log), Some((client, agent))) = (&edge.access, seen) else { return response };
    let Some(a) = response.extensions_mut().remove::<Attribution>() else { return response };
    let bytes = response.body().size_hint().exact().unwrap_or(0);
    let user_agent = agent
        .as_ref()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).chars().take(MAX_USER_AGENT).collect())
        .unwrap_or_default();
    log.file.append(&AccessRecord {
        time: rfc3339_millis(std::time::SystemTime::now()),
        session: a.session,
        subject: a.subject,
        content: a.content,
        kind,
        segment: a.segment,
        rendition: a.rendition,
        variant: a.variant,
        client: client.map_or_else(String::new, |c: ClientAddr| c.to_string()),
        user_agent,
        status,
        bytes,
    });
    response
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC), as the access log's `time`.
pub(crate) fn rfc3339_millis(at: std::time::SystemTime) -> String {
    let t = time::OffsetDateTime::from(at);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn times_have_milliseconds() {
        let at = UNIX_EPOCH + Duration::from_millis(1_795_435_199_125);
        assert_eq!(rfc3339_millis(at), "2026-11-23T11:59:59.125Z");
        assert_eq!(rfc3339_millis(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn kinds_follow_the_routes() {
        let get = |p: &str| kind_of(&Method::GET, p);
        assert_eq!(get("/hls/master.m3u8"), RequestKind::Manifest);
        assert_eq!(get("/edge/dash/manifest.mpd"), RequestKind::Manifest);
        assert_eq!(get("/hls/720p.m3u8"), RequestKind::Playlist);
        assert_eq!(get("/edge/hls/audio.m3u8"), RequestKind::Playlist);
        assert_eq!(get("/media/720p/init.mp4"), RequestKind::Init);
        assert_eq!(get("/audio/init.mp4"), RequestKind::Init);
        assert_eq!(get("/media/AAAA/720p/seg-3.m4s"), RequestKind::Segment);
        assert_eq!(get("/edge/segments/720p/seg-3.m4s"), RequestKind::Segment);
        assert_eq!(get("/audio/seg-3.m4s"), RequestKind::Segment);
        assert_eq!(get("/watch/film-1"), RequestKind::Page);
        assert_eq!(get("/watch/assets/watch.js"), RequestKind::Other);
        assert_eq!(get("/metrics"), RequestKind::Other);
        assert_eq!(kind_of(&Method::POST, "/license"), RequestKind::Licence);
        assert_eq!(kind_of(&Method::POST, "/license/release"), RequestKind::Other);
        assert_eq!(kind_of(&Method::OPTIONS, "/license"), RequestKind::Other);
    }
}
