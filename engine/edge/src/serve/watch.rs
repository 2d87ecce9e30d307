//! The player page: `GET /watch/{content}` plays a viewer's personalised, encrypted stream
//! from this edge in shaka-player, through the edge's ClearKey licence service, and says in
//! words what went wrong when it cannot (expired token, refused by the site's backend, stream
//! limit, denied account, domain not allowed, network).
//!
//! - `/watch/{content}`: the page (`assets/watch/watch.html`). Refused, with the message as a
//!   page, when the embedding site (its `Referer`) is not allowed; framed only by allowed sites
//!   (`Content-Security-Policy: frame-ancestors`, from the same list as the origin checks).
//! - `/watch/assets/watch.js`, `watch.css`: the page's own code, compiled in.
//! - `/watch/assets/shaka-player.js`: shaka-player's compiled build, read at start from the
//!   file `serve --player-js` names (the pinned release `scripts/tools.sh browser` installs);
//!   third-party code is never committed.
//!
//! The tokens never reach a URL: the embedding site passes them in the fragment or by
//! `postMessage` (see `watch.js`), and the page sends them in `Authorization` headers. The
//! page has `Referrer-Policy: no-referrer` and a CSP that allows scripts from this edge only.

use std::path::Path as FsPath;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::Edge;
use crate::origin::OriginRefusal;

const PAGE: &str = include_str!("../../assets/watch/watch.html");
const SCRIPT: &str = include_str!("../../assets/watch/watch.js");
const STYLE: &str = include_str!("../../assets/watch/watch.css");

/// The largest player build accepted (shaka's compiled build is about 700 KB).
const MAX_PLAYER_BYTES: u64 = 16 << 20;

/// shaka-player's compiled build, served as `/watch/assets/shaka-player.js` (shared bytes: an
/// answer costs no copy of its ~800 KB).
pub struct PlayerScript(Bytes);

/// Why the player page cannot be turned on.
#[derive(Debug, thiserror::Error)]
pub enum PlayerScriptError {
    #[error("--player-js {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("--player-js {path}: not shaka-player's compiled build (no `shaka.Player` in it)")]
    NotShaka { path: String },
    #[error("--player-js {path}: larger than {MAX_PLAYER_BYTES} bytes")]
    TooLarge { path: String },
}

impl PlayerScript {
    /// Reads the player build at `path` (e.g. `.../shaka-player/dist/shaka-player.compiled.js`).
    pub fn load(path: &FsPath) -> Result<Self, PlayerScriptError> {
        let shown = path.display().to_string();
        let read = |source| PlayerScriptError::Read { path: shown.clone(), source };
        let size = std::fs::metadata(path).map_err(read)?.len();
        if size > MAX_PLAYER_BYTES {
            return Err(PlayerScriptError::TooLarge { path: shown });
        }
        let bytes = std::fs::read(path).map_err(read)?;
        if !bytes.windows(b"shaka.Player".len()).any(|w| w == b"shaka.Player") {
            return Err(PlayerScriptError::NotShaka { path: shown });
        }
        Ok(PlayerScript(Bytes::from(bytes)))
    }
}

pub(crate) fn routes() -> Router<Arc<Edge>> {
    Router::new()
        .route("/watch/assets/watch.js", get(script))
        .route("/watch/assets/watch.css", get(style))
        .route("/watch/assets/shaka-player.js", get(player))
        .route("/watch/{content}", get(page))
}

async fn page(
    State(edge): State<Arc<Edge>>,
    Path(content): Path<String>,
    headers: HeaderMap,
) -> Response {
    if edge.player.is_none() {
        return super::http::not_found("player page (start serve with --player-js)");
    }
    // The content this edge serves; with no --content, any id is shown (the tokens decide).
    if edge.options.content.as_ref().is_some_and(|c| c.as_str() != content)
        || !content.chars().all(|c| c.is_ascii_graphic())
    {
        return super::http::not_found("such content");
    }
    let frame_ancestors = edge.options.origins.frame_ancestors();
    let response = match edge.options.origins.check(&headers, None) {
        Ok(_) => html(StatusCode::OK, &render(&content, None), &frame_ancestors),
        Err(refused) => {
            eprintln!("edge: refused the player page of {content}: {refused}");
            html(StatusCode::FORBIDDEN, &render(&content, Some(&refused)), &frame_ancestors)
        }
    };
    // The page carries no token (the tokens stay in the fragment): it names its content only.
    edge.attributed(response, || super::access::Attribution {
        content: content.parse().ok(),
        ..Default::default()
    })
}

/// The page: the player, or (refused) only the message, with no script at all.
fn render(content: &str, refused: Option<&OriginRefusal>) -> String {
    let (scripts, error, message) = match refused {
        None => (
            "<script src=\"/watch/assets/shaka-player.js\" defer></script>\n\
             <script src=\"/watch/assets/watch.js\" defer></script>",
            String::new(),
            "Loading…".to_owned(),
        ),
        Some(_) => (
            "",
            "data-abmark-error=\"domain-not-allowed\"".to_owned(),
            "This video cannot be played on this website (domain not allowed).".to_owned(),
        ),
    };
    PAGE.replace("{SCRIPTS}", scripts)
        .replace("{ERROR}", &error)
        .replace("{MESSAGE}", &message)
        .replace("{CONTENT}", &escape(content))
}

/// HTML-escapes text for an attribute or element body (also the detection service's report).
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn html(status: StatusCode, body: &str, frame_ancestors: &str) -> Response {
    let mut response = Response::new(body.to_owned().into());
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Scripts and styles from this edge only; media through MSE (blob:); licences and
    // manifests from this edge. Framed by the allowed sites only.
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' data: \
         blob:; media-src 'self' blob:; img-src 'self' data:; base-uri 'none'; form-action \
         'none'; {frame_ancestors}"
    );
    if let Ok(value) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", Bytes::from_static(SCRIPT.as_bytes()))
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", Bytes::from_static(STYLE.as_bytes()))
}

async fn player(State(edge): State<Arc<Edge>>) -> Response {
    match &edge.player {
        Some(PlayerScript(bytes)) => asset("text/javascript; charset=utf-8", bytes.clone()),
        None => super::http::not_found("player page (start serve with --player-js)"),
    }
}

fn asset(content_type: &'static str, body: Bytes) -> Response {
    let mut response = Response::new(body.into());
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_page_has_the_message_and_no_script() {
        let refused = OriginRefusal::NotAllowed("https://pirate.example".into());
        let page = render("film-1", Some(&refused));
        assert!(page.contains("data-abmark-error=\"domain-not-allowed\""));
        assert!(!page.contains("<script"));
        let ok = render("film-\"1<", None);
        assert!(ok.contains("watch.js") && ok.contains("Loading"));
        assert!(ok.contains("data-content=\"film-&quot;1&lt;\""));
        assert!(!ok.contains("{"), "every placeholder filled");
    }
}
