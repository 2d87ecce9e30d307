//! `serve`: the HTTP edge that turns one set of variants into a personal stream per viewer.
//!
//! It owns everything between a viewer's token and the bytes they receive: checking the token
//! (ETSI TS 104 002 WM token, CWT or JWT, see [`crate::token`]), turning it into the viewer's bit
//! pattern (direct mode: the pattern itself; indirect mode: our session code of `wmid`, see
//! [`abmark_wm::payload`]), and answering in either of two ways:
//! - personalised manifests ([`personal`]): `/hls/master.m3u8?token=T` and
//!   `/dash/manifest.mpd?token=T` list segment `i` under the keyed name of the variant the
//!   pattern bit at the segment's position picks ([`media`]), so a viewer can fetch only the
//!   stream their session was given, and every segment stays a static, cacheable file;
//! - the standard's edge mode ([`neutral`]): the same neutral manifests for everybody, and each
//!   segment request rewritten to the `variantPath` of the bit at the position the origin
//!   published in WMPaceInfo ([`PaceTable`]).
//!
//! Only media files the layout names are served ([`media`]); the variant directories are not
//! served as such, so neither variant can be fetched whole and nothing else in the output
//! directory is reachable.
//!
//! With content keys (`--keys`), `POST /license` ([`licence_route`]) answers W3C ClearKey
//! licence requests through [`crate::licence`]. With `--player-js`, `/watch/{content}` is a
//! player page for embedding ([`watch`]). Manifests, licences and the page are refused to pages
//! on sites `--allow-origin` does not list, and CORS answers the listed ones
//! ([`crate::origin`]).
//!
//! Connections come through [`listener`] (limits, and HTTPS with [`tls`] when a certificate is
//! given); the client address the logs record is the peer's, or the viewer's behind a trusted
//! proxy ([`client`]).
//!
//! Each issued session is appended to a JSONL session log ([`session_log`]): the registry that
//! detection uses to name a viewer. With `--access-log`, every request answered for a viewer is
//! a line of the access log ([`access`], which also counts requests for [`metrics`]). With
//! `--deny-list`, subjects on that file ([`crate::deny_file`]) are refused manifests, playlists
//! and segments (and licences). With `--live-rules`, a session fetching segments far faster
//! than real time is refused further segments ([`live_rules`]: the one piece of per-session
//! state, bounded). Otherwise nothing is kept between requests, so any number of `serve`
//! processes with the same key answer the same token identically.

pub mod access;
pub mod client;
mod http;
mod idle;
mod licence_route;
pub mod listener;
pub mod live_rules;
pub mod media;
pub mod metrics;
pub mod neutral;
pub mod personal;
mod prerender;
pub mod session_log;
pub mod tls;
pub mod viewer;
pub mod watch;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;

use crate::deny_file::DenyListFile;
use crate::licence::LicenceService;
use crate::origin::{OriginPolicy, SiteList};
use crate::token::TokenKeys;
use abmark_delivery::ids::ContentId;
use abmark_delivery::layout::{manifests::presentation, JobFile, LayoutError};
use abmark_delivery::manifest::{
    dash_mpd, hls_video_playlist, PathScheme, Presentation, SegmentSource,
};
use abmark_wm::key::WatermarkKey;
use abmark_wm::payload::{PayloadError, SessionCoder};
use axum::http::HeaderMap;
use viewer::{Refusal, Viewer};

pub use abmark_delivery::pace::PaceTable;
pub use client::{parse_trusted_proxy, ClientAddr, TrustedProxies};
pub use http::REFUSAL_HEADER;
pub use ipnet::IpNet;
pub use listener::ConnectionLimits;
pub use tls::{Tls, TlsError, TlsFiles};

/// How long a stopping server lets open requests finish.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(10);
use prerender::Prerendered;
pub use session_log::SessionLog;

/// How to run the edge.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// When set, a token must name this content id (its content claim) to be served.
    pub content: Option<ContentId>,
    /// Where issued sessions are appended (JSONL, created 0600).
    pub session_log: PathBuf,
    /// Seconds of clock skew tolerated on `exp`/`nbf`.
    pub leeway: u64,
    /// When set, a WM token's `iss` must be this.
    pub issuer: Option<String>,
    /// When set, a WM token's `aud` must be this (the edge's own name).
    pub audience: Option<String>,
    /// The sites whose pages may play (`--allow-origin`), and the CORS answers to them.
    pub origins: Arc<OriginPolicy>,
    /// Peers whose `Forwarded` / `X-Forwarded-For` name the client in the logs ([`client`]).
    pub trusted_proxies: TrustedProxies,
}

/// Why the edge could not start. One line each.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error("session code: {0}")]
    Payload(#[from] PayloadError),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
    #[error("{0}")]
    Pace(String),
}

/// Everything a request needs, loaded once at start; shared read-only by all requests.
pub struct Edge {
    pub(crate) out: PathBuf,
    pub(crate) job: JobFile,
    pub(crate) presentation: Presentation,
    /// Personalised manifests: `/media/{rendition}/init.mp4` and `/audio/...` from the host root;
    /// video segments by keyed name ([`media`]).
    pub(crate) scheme: PathScheme,
    /// The keyed names of variant segments.
    pub(crate) names: media::VariantNames,
    /// Edge mode: neutral `/edge/segments/{rendition}/seg-{number}.m4s` video segments.
    pub(crate) neutral_scheme: PathScheme,
    pub(crate) tokens: TokenKeys,
    pub(crate) coder: SessionCoder,
    pub(crate) pace: PaceTable,
    pub(crate) log: SessionLog,
    pub(crate) options: ServeOptions,
    /// Personal manifests as pre-rendered text plus per-segment digits (see [`prerender`]).
    pub(crate) mpd: Option<Prerendered>,
    pub(crate) hls_video: HashMap<String, Prerendered>,
    /// The ClearKey licence service behind `POST /license`, when keys were given.
    pub(crate) licence: Option<Arc<licence_route::LicenceEndpoint>>,
    pub(crate) metrics: metrics::Metrics,
    /// shaka-player's build for the player page (`/watch/{content}`), when turned on.
    pub(crate) player: Option<watch::PlayerScript>,
    /// The access log (`--access-log`), when on.
    pub(crate) access: Option<access::AccessLog>,
    /// The deny-list file (`--deny-list`), when given.
    pub(crate) deny: Option<Arc<DenyListFile>>,
    /// The live rules (`--live-rules`), when on.
    pub(crate) live: Option<live_rules::LiveRules>,
}

impl Edge {
    /// Loads the variants output at `out` (its job.json and published WMPaceInfo).
    pub fn open(out: &Path, key: &WatermarkKey, options: ServeOptions) -> Result<Self, ServeError> {
        let job = JobFile::load(out)?;
        let mut presentation = presentation(&job);
        drop_relative_licence_urls(&mut presentation);
        let pace = PaceTable::load(out, &job)?;
        let log = SessionLog::open(&options.session_log)?;
        let path_scheme = |segments: &str| {
            PathScheme::new(
                "/media/{rendition}/init.mp4",
                segments,
                "/audio/init.mp4",
                "/audio/seg-{number}.m4s",
            )
            .map_err(|e| ServeError::Pace(format!("path scheme: {e}")))
        };
        // Personal manifests name every segment (SegmentSource::Named); this template is only
        // the scheme's required form, never listed.
        let scheme = path_scheme("/media/{variant}/{rendition}/seg-{number}.m4s")?;
        let neutral_scheme = path_scheme("/edge/segments/{rendition}/seg-{number}.m4s")?;
        let names = media::VariantNames::derive(key);
        let n = job.segment_count;
        let path = |v: u8, r: &str, i: usize| media_path(&names, v, r, i);
        let mpd = Prerendered::build(
            n,
            |namer| dash_mpd(&presentation, &scheme, SegmentSource::Named(namer)),
            path,
        );
        let hls_video = presentation
            .video
            .iter()
            .filter_map(|r| {
                let render = |namer: abmark_delivery::manifest::SegmentNamer<'_>| {
                    hls_video_playlist(&presentation, &r.id, &scheme, SegmentSource::Named(namer))
                };
                Prerendered::build(n, render, path).map(|p| (r.id.clone(), p))
            })
            .collect();
        Ok(Edge {
            mpd,
            hls_video,
            out: out.to_owned(),
            job,
            presentation,
            scheme,
            names,
            neutral_scheme,
            tokens: TokenKeys::derive(key),
            coder: SessionCoder::new(key)?,
            pace,
            log,
            options,
            licence: None,
            metrics: metrics::Metrics::default(),
            player: None,
            access: None,
            deny: None,
            live: None,
        })
    }

    /// Adds the licence service (`POST /license`).
    pub fn with_licence(mut self, service: LicenceService) -> Self {
        // The key periods of rotated tracks are licensed together (see `with_key_groups`).
        let p = &self.presentation;
        let tracks = [p.protection.as_ref(), p.audio.as_ref().and_then(|a| a.protection.as_ref())];
        let groups = tracks
            .into_iter()
            .flatten()
            .map(|protection| protection.periods.iter().map(|period| period.kid).collect())
            .collect();
        let service = service.with_key_groups(groups);
        self.licence = Some(Arc::new(licence_route::LicenceEndpoint::new(service)));
        self
    }

    /// Writes the access log ([`access`]).
    pub fn with_access_log(mut self, log: access::AccessLog) -> Self {
        self.access = Some(log);
        self
    }

    /// Refuses the subjects of `file` (manifests, playlists, segments; give the same file to
    /// the licence service for licences).
    pub fn with_deny_list(mut self, file: Arc<DenyListFile>) -> Self {
        self.deny = Some(file);
        self
    }

    /// Applies the live rules ([`live_rules`]) to video segment requests whose session is known.
    pub fn with_live_rules(mut self, options: live_rules::LiveRuleOptions) -> Self {
        let timescale = f64::from(self.job.timescale.max(1));
        let mut durations: Vec<f64> =
            self.job.segment_durations.iter().map(|&d| d as f64 / timescale).collect();
        // An output without per-segment durations: every segment the nominal length.
        durations.resize(self.job.segment_count, self.job.segment_seconds);
        self.live = Some(live_rules::LiveRules::new(options, durations));
        self
    }

    /// Turns the player page on (`/watch/{content}`).
    pub fn with_player(mut self, player: watch::PlayerScript) -> Self {
        self.player = Some(player);
        self
    }

    /// The routes: personalised manifests, edge mode, the media files, the licence service
    /// and the metrics.
    pub fn router(self: Arc<Self>) -> Router {
        // CORS on everything a player page on another site fetches; not on the metrics, which
        // only loopback clients read.
        let cors = self.options.origins.cors();
        let track = axum::middleware::from_fn_with_state(self.clone(), access::track);
        Router::new()
            .merge(personal::routes())
            .merge(neutral::routes())
            .merge(media::routes())
            .merge(licence_route::routes())
            .layer(cors)
            .merge(watch::routes())
            .merge(metrics::routes())
            .layer(track)
            .with_state(self)
    }

    /// Whether a verified viewer may have a manifest, playlist or segment: the page's site
    /// ([`Self::check_site`]) and the deny list.
    pub(crate) fn admit(&self, headers: &HeaderMap, viewer: &Viewer) -> Result<(), Refusal> {
        self.check_site(headers, viewer)?;
        let denied = self.deny.as_ref().is_some_and(|deny| {
            viewer.claims.subject.as_deref().is_some_and(|subject| deny.contains(subject))
        });
        if denied {
            self.metrics.edge_denied();
            return Err(Refusal::Denied);
        }
        Ok(())
    }

    /// The live rules' verdict on video segment `index` for `viewer` (a session over them is
    /// refused, with one stderr line when it goes over).
    pub(crate) fn pace(&self, viewer: &Viewer, index: usize) -> Result<(), Refusal> {
        let Some(live) = &self.live else { return Ok(()) };
        match live.check(&viewer.pattern, index) {
            live_rules::Verdict::Allowed => Ok(()),
            live_rules::Verdict::Refused { retry_after, tripped } => {
                if tripped {
                    let o = live.options();
                    eprintln!(
                        "edge: live rule too-fast: session {} (subject {}) fetched segments more \
                         than {} s of content ahead of {}x real time; its segments are refused \
                         for {} s",
                        viewer.session.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                        viewer.claims.subject.as_deref().unwrap_or("-"),
                        o.ahead,
                        o.speed,
                        o.block.as_secs()
                    );
                }
                Err(Refusal::TooFast { retry_after })
            }
        }
    }

    /// Checks the page's site for a viewer's manifest request; a refusal is logged (once the
    /// token verified, refusals are scarce: a client without one is refused before this).
    pub(crate) fn check_site(&self, headers: &HeaderMap, viewer: &Viewer) -> Result<(), Refusal> {
        let sites = viewer.claims.origins.as_ref().map(SiteList::patterns);
        self.options.origins.check(headers, sites).map_err(|refused| {
            self.metrics.viewer_refused();
            eprintln!(
                "edge: refused a manifest to session {}: {refused}",
                viewer.session.map_or_else(|| "-".to_owned(), |s| s.to_string())
            );
            Refusal::Site(refused)
        })
    }

    /// The URL path of video segment `index` of `rendition` in `variant`, as personal
    /// manifests list it.
    pub fn segment_url(&self, variant: u8, rendition: &str, index: usize) -> String {
        media_path(&self.names, variant, rendition, index)
    }
}

/// The bearer token of a request's `Authorization` header (scheme without case).
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    http::token(None, headers)
}

/// Leaves out of the manifests a licence URL that is relative (`package --la-url /license`):
/// shaka-player takes a ClearKey `Laurl` over its own configuration and resolves it against the
/// page, not the manifest, so on a customer's page it would ask the customer's site for keys.
/// Players are configured with the licence URL anyway (they must add the licence token).
fn drop_relative_licence_urls(p: &mut Presentation) {
    let absolute = |u: &str| u.starts_with("https://") || u.starts_with("http://");
    let tracks = [p.protection.as_mut(), p.audio.as_mut().and_then(|a| a.protection.as_mut())];
    for protection in tracks.into_iter().flatten() {
        for system in &mut protection.systems {
            if system.license_url.as_deref().is_some_and(|u| !absolute(u)) {
                system.license_url = None;
            }
        }
    }
}

/// `/media/<keyed name>/<rendition>/seg-<n>.m4s`.
fn media_path(names: &media::VariantNames, variant: u8, rendition: &str, index: usize) -> String {
    let number = abmark_delivery::manifest::FIRST_SEGMENT_NUMBER + index as u64;
    format!("/media/{}/{rendition}/seg-{number}.m4s", names.name(variant, rendition, index))
}

/// Serves `edge` on `listener` with `limits` (HTTPS with `tls`, whose certificate is reloaded
/// when its files change) until ctrl-c / SIGTERM, lets requests in flight finish (up to 10 s),
/// then flushes the logs.
pub async fn run(
    edge: Edge,
    listener: tokio::net::TcpListener,
    limits: ConnectionLimits,
    tls: Option<Tls>,
) -> Result<(), ServeError> {
    let edge = Arc::new(edge);
    let log = edge.log.clone();
    let access = edge.access.clone();
    let licence_log = edge.licence.as_ref().map(|l| l.service.log().clone());
    let app = edge.router();
    listener::serve_reloading(listener, app, limits, tls, shutdown_signal(), DRAIN).await;
    log.flush();
    if let Some(a) = access {
        a.flush();
    }
    if let Some(l) = licence_log {
        l.flush();
    }
    Ok(())
}

/// Resolves on ctrl-c or SIGTERM (the key service and the detection service stop on the same
/// signals).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        // If the handler cannot be installed there is nothing to wait for but SIGTERM.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
