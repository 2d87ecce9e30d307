//! Personalised-manifest mode: each viewer gets manifests whose segment `i` is the keyed name
//! of the variant their pattern bit picks ([`super::media`]); the segments themselves are the
//! static files every viewer with that variant shares.
//!
//! - `GET /hls/master.m3u8?token=T`: the multivariant playlist; its media-playlist URIs carry the
//!   token on (`/hls/<rendition>.m3u8?token=T`, audio included).
//! - `GET /hls/<rendition>.m3u8?token=T`: a video media playlist with the viewer's segments, or
//!   the shared audio playlist.
//! - `GET /dash/manifest.mpd?token=T`: the MPD with a per-segment `SegmentList`.
//!
//! The entry points (multivariant playlist, MPD) append the session to the session log. Every
//! manifest is refused to a page on a site the edge or the token does not allow
//! ([`crate::origin`]) and to a subject on the deny list; each answer to a verified token is in
//! the access log ([`super::access`]).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::access::Attribution;
use super::client::ClientAddr;
use super::http::{self, DASH_TYPE, HLS_TYPE};
use super::viewer::Refusal;
use super::Edge;
use abmark_delivery::manifest::{
    dash_mpd, hls_audio_playlist, hls_multivariant, hls_video_playlist, SegmentSource,
};

#[derive(Debug, Default, Deserialize)]
pub(crate) struct TokenQuery {
    pub(crate) token: Option<String>,
}

pub(crate) fn routes() -> Router<Arc<Edge>> {
    Router::new()
        .route("/hls/master.m3u8", get(master))
        .route("/hls/{file}", get(media_playlist))
        .route("/dash/manifest.mpd", get(mpd))
}

async fn master(
    State(edge): State<Arc<Edge>>,
    client: ClientAddr,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let token = http::token(q.token.as_deref(), &headers);
    let viewer = edge.viewer(token)?;
    let answer = || {
        edge.admit(&headers, &viewer)?;
        // A verified token is base64url (CWT) or three base64url parts (JWT): safe in a URI.
        let token = token.unwrap_or_default();
        edge.log.record(token, &viewer, client);
        let text =
            hls_multivariant(&edge.presentation, |id| format!("/hls/{id}.m3u8?token={token}"));
        Ok(match text {
            Ok(text) => http::personal(HLS_TYPE, text),
            Err(e) => http::server_error(&format!("playlist: {e}")),
        })
    };
    Ok(edge.attributed(answer().unwrap_or_else(Refusal::into_response), || {
        Attribution::viewer(&viewer)
    }))
}

async fn media_playlist(
    State(edge): State<Arc<Edge>>,
    Path(file): Path<String>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let Some(id) = file.strip_suffix(".m3u8") else { return Ok(http::not_found("such playlist")) };
    let viewer = edge.viewer(http::token(q.token.as_deref(), &headers))?;
    let p = &edge.presentation;
    let audio = p.audio.as_ref().is_some_and(|a| a.rendition.id == id);
    if !audio && !p.video.iter().any(|r| r.id == id) {
        return Ok(http::not_found("such rendition"));
    }
    let answer = || {
        edge.admit(&headers, &viewer)?;
        let text = if audio {
            hls_audio_playlist(p, &edge.scheme)
        } else {
            let choices = edge.choices(&viewer);
            if let Some(text) = edge.hls_video.get(id).and_then(|t| t.render(&choices)) {
                return Ok(http::personal(HLS_TYPE, text));
            }
            let namer = |r: &str, i: usize| edge.segment_url(choices[i], r, i);
            hls_video_playlist(p, id, &edge.scheme, SegmentSource::Named(&namer))
        };
        Ok(match text {
            Ok(text) => http::personal(HLS_TYPE, text),
            Err(e) => http::server_error(&format!("playlist: {e}")),
        })
    };
    Ok(edge.attributed(answer().unwrap_or_else(Refusal::into_response), || {
        Attribution::viewer(&viewer).rendition(id)
    }))
}

async fn mpd(
    State(edge): State<Arc<Edge>>,
    client: ClientAddr,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let token = http::token(q.token.as_deref(), &headers);
    let viewer = edge.viewer(token)?;
    let answer = || {
        edge.admit(&headers, &viewer)?;
        edge.log.record(token.unwrap_or_default(), &viewer, client);
        let choices = edge.choices(&viewer);
        if let Some(text) = edge.mpd.as_ref().and_then(|t| t.render(&choices)) {
            return Ok(http::personal(DASH_TYPE, text));
        }
        let namer = |r: &str, i: usize| edge.segment_url(choices[i], r, i);
        Ok(match dash_mpd(&edge.presentation, &edge.scheme, SegmentSource::Named(&namer)) {
            Ok(text) => http::personal(DASH_TYPE, text),
            Err(e) => http::server_error(&format!("manifest: {e}")),
        })
    };
    Ok(edge.attributed(answer().unwrap_or_else(Refusal::into_response), || {
        Attribution::viewer(&viewer)
    }))
}
