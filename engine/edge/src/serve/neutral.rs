//! Edge mode (ETSI TS 104 002): the same neutral manifests for every viewer, and each video
//! segment request answered from the variant the viewer's token picks.
//!
//! - `GET /edge/hls/master.m3u8`, `/edge/hls/<rendition>.m3u8`, `/edge/dash/manifest.mpd`:
//!   neutral manifests (no token, cacheable); video segments are listed as
//!   `/edge/segments/<rendition>/seg-<n>.m4s`, init and audio as the shared static files.
//! - `GET /edge/segments/<rendition>/seg-<n>.m4s` with the token (`?token=` or
//!   `Authorization: Bearer`): the edge looks up the segment's WMPaceInfo position (published
//!   by the origin), takes the token pattern's bit there, and answers with the file under that
//!   variant's `variantPath` (`0/` or `1/`). The response is personal (`private`) and does not
//!   say which variant it is; the variant directories themselves are not served. A subject on
//!   the deny list is refused, and so is a session over the live rules
//!   ([`super::live_rules`]); the access log records the segment, rendition and variant.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::access::Attribution;
use super::client::ClientAddr;
use super::http::{self, DASH_TYPE, HLS_TYPE};
use super::media::segment_index;
use super::personal::TokenQuery;
use super::Edge;
use abmark_delivery::manifest::{
    dash_mpd, hls_audio_playlist, hls_multivariant, hls_video_playlist, SegmentSource,
};

pub(crate) fn routes() -> Router<Arc<Edge>> {
    Router::new()
        .route("/edge/hls/master.m3u8", get(master))
        .route("/edge/hls/{file}", get(media_playlist))
        .route("/edge/dash/manifest.mpd", get(mpd))
        .route("/edge/segments/{rendition}/{file}", get(segment))
}

async fn master(State(edge): State<Arc<Edge>>) -> Response {
    let response = match hls_multivariant(&edge.presentation, |id| format!("/edge/hls/{id}.m3u8")) {
        Ok(text) => http::shared(HLS_TYPE, text),
        Err(e) => http::server_error(&format!("playlist: {e}")),
    };
    edge.attributed(response, Attribution::default)
}

async fn media_playlist(State(edge): State<Arc<Edge>>, Path(file): Path<String>) -> Response {
    let Some(id) = file.strip_suffix(".m3u8") else { return http::not_found("such playlist") };
    let p = &edge.presentation;
    let text = if p.audio.as_ref().is_some_and(|a| a.rendition.id == id) {
        hls_audio_playlist(p, &edge.neutral_scheme)
    } else if p.video.iter().any(|r| r.id == id) {
        hls_video_playlist(p, id, &edge.neutral_scheme, SegmentSource::Variant(0))
    } else {
        return http::not_found("such rendition");
    };
    let response = match text {
        Ok(text) => http::shared(HLS_TYPE, text),
        Err(e) => http::server_error(&format!("playlist: {e}")),
    };
    edge.attributed(response, || Attribution::default().rendition(id))
}

async fn mpd(State(edge): State<Arc<Edge>>) -> Response {
    let response =
        match dash_mpd(&edge.presentation, &edge.neutral_scheme, SegmentSource::Variant(0)) {
            Ok(text) => http::shared(DASH_TYPE, text),
            Err(e) => http::server_error(&format!("manifest: {e}")),
        };
    edge.attributed(response, Attribution::default)
}

async fn segment(
    State(edge): State<Arc<Edge>>,
    client: ClientAddr,
    Path((rendition, file)): Path<(String, String)>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Response {
    if !edge.pace.published() {
        return http::server_error(
            "edge mode needs WMPaceInfo; this output has none (re-run variants)",
        );
    }
    let token = http::token(q.token.as_deref(), &headers);
    let viewer = match edge.viewer(token) {
        Ok(v) => v,
        Err(refusal) => return refusal.into_response(),
    };
    let Some(index) = segment_index(&file) else { return http::not_found("such segment") };
    let Some(position) = edge.pace.position(index) else { return http::not_found("such segment") };
    if !edge.is_rendition(&rendition) {
        return http::not_found("such rendition");
    }
    let variant = viewer.variant_at(position);
    let tag = || Attribution::viewer(&viewer).segment(index, &rendition, Some(variant));
    if let Err(refusal) = edge.admit(&headers, &viewer).and_then(|()| edge.pace(&viewer, index)) {
        return edge.attributed(refusal.into_response(), tag);
    }
    edge.log.record(token.unwrap_or_default(), &viewer, client);
    // variantPath (TS 104 002 5.3): `<variantId>/` — our origin keeps both variants under it.
    // The answer does not say which variant it is (no header names it): only the bytes do.
    let path = edge.out.join(format!("{variant}/{rendition}/{file}"));
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let mut response = http::personal("video/iso.segment", bytes);
            response.headers_mut().insert(header::VARY, HeaderValue::from_static("Authorization"));
            edge.attributed(response, tag)
        }
        Err(_) => http::not_found("such segment"),
    }
}
