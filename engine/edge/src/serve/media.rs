//! The media files the edge serves, and nothing else: init segments, audio segments, and video
//! segments under keyed names. No directory of the output is served as such, so a file that
//! does not belong to the layout (a stray key file, job.json, the other variant) is never
//! reachable.
//!
//! - `GET /media/<rendition>/init.mp4`: a video init segment (the same in both variants).
//! - `GET /media/<name>/<rendition>/seg-<n>.m4s`: video segment `n` of the variant whose keyed
//!   name is `<name>`: 128 bits of HMAC-SHA256, under a key derived from the watermark key, over
//!   (rendition, segment, variant). A viewer's personal manifest lists the names of its own
//!   variants only; knowing one variant's name of a segment tells nothing about the other's, so
//!   nobody can assemble a stream other than the one their session was given. The names are the
//!   same for every viewer who gets that variant, so a CDN caches each file once.
//! - `GET /audio/init.mp4`, `/audio/seg-<n>.m4s`: the shared audio.
//!
//! Every answer is a static file with long-lived public caching (segments never change once
//! written) and its media type. A video segment request may also carry the viewer's token
//! (`?token=` or `Authorization: Bearer`; players add it only if told to): it is not needed, but
//! when it verifies, the access log names the viewer and the deny list and live rules apply.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::access::Attribution;
use super::http;
use super::personal::TokenQuery;
use super::Edge;
use crate::secret::Secret32;
use abmark_delivery::manifest::FIRST_SEGMENT_NUMBER;
use abmark_wm::key::WatermarkKey;

const NAME_LABEL: &str = "abmark/edge/variant-path/hs256/v1";
/// Bytes of MAC in a name (base64url: 22 characters).
const NAME_BYTES: usize = 16;

/// The key that names variants. `Debug` is redacted.
#[derive(Clone, Debug)]
pub struct VariantNames(Secret32);

impl VariantNames {
    pub fn derive(key: &WatermarkKey) -> Self {
        Self(Secret32(key.derive(NAME_LABEL, &[])))
    }

    fn mac(&self, variant: u8, rendition: &str, index: usize) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(&*self.0).expect("HMAC takes any key length");
        // Length-prefixed rendition, so no (rendition, index) pair can pass for another.
        mac.update(&(rendition.len() as u64).to_be_bytes());
        mac.update(rendition.as_bytes());
        mac.update(&(index as u64).to_be_bytes());
        mac.update(&[variant]);
        mac
    }

    /// The name of video segment `index` (0-based) of `rendition` in `variant`.
    pub fn name(&self, variant: u8, rendition: &str, index: usize) -> String {
        let tag = self.mac(variant, rendition, index).finalize().into_bytes();
        URL_SAFE_NO_PAD.encode(&tag[..NAME_BYTES])
    }

    /// The variant `name` names for that segment, if any (MACs compared in constant time).
    pub fn variant_of(&self, name: &str, rendition: &str, index: usize) -> Option<u8> {
        if name.len() != 22 {
            return None;
        }
        let tag = URL_SAFE_NO_PAD.decode(name).ok()?;
        if tag.len() != NAME_BYTES {
            return None;
        }
        [0u8, 1]
            .into_iter()
            .find(|&v| self.mac(v, rendition, index).verify_truncated_left(&tag).is_ok())
    }
}

pub(crate) fn routes() -> Router<Arc<Edge>> {
    Router::new()
        .route("/media/{rendition}/{file}", get(video_init))
        .route("/media/{name}/{rendition}/{file}", get(video_segment))
        .route("/audio/{file}", get(audio))
}

/// The 0-based index of `seg-<n>.m4s`.
pub(crate) fn segment_index(file: &str) -> Option<usize> {
    let digits = file.strip_prefix("seg-")?.strip_suffix(".m4s")?;
    // Digits only: `parse` would also take a sign.
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    usize::try_from(n.checked_sub(FIRST_SEGMENT_NUMBER)?).ok()
}

impl Edge {
    /// Whether `rendition` is one of this output's video renditions (which also keeps any
    /// other text, `..` included, out of file paths).
    pub(crate) fn is_rendition(&self, rendition: &str) -> bool {
        self.job.renditions.iter().any(|r| r.id == rendition)
    }
}

async fn video_init(
    State(edge): State<Arc<Edge>>,
    Path((rendition, file)): Path<(String, String)>,
) -> Response {
    if file != "init.mp4" || !edge.is_rendition(&rendition) {
        return http::not_found("such file");
    }
    let response = send(&edge, format!("0/{rendition}/init.mp4"), "video/mp4").await;
    if !response.status().is_success() {
        return response;
    }
    edge.attributed(response, || Attribution::default().rendition(&rendition))
}

async fn video_segment(
    State(edge): State<Arc<Edge>>,
    Path((name, rendition, file)): Path<(String, String, String)>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(index) = segment_index(&file) else { return http::not_found("such file") };
    if index >= edge.job.segment_count || !edge.is_rendition(&rendition) {
        return http::not_found("such file");
    }
    let Some(variant) = edge.names.variant_of(&name, &rendition, index) else {
        return http::not_found("such file");
    };
    // The keyed name is what authorises a segment here; a token alongside it (optional) names
    // the viewer, who is then held to the deny list and the live rules like in edge mode.
    let token = http::token(q.token.as_deref(), &headers);
    let viewer = token.and_then(|t| edge.verify_viewer(Some(t)).ok());
    let tag = || Attribution::maybe(viewer.as_ref()).segment(index, &rendition, Some(variant));
    if let Some(viewer) = &viewer {
        if let Err(refusal) = edge.admit(&headers, viewer).and_then(|()| edge.pace(viewer, index)) {
            return edge.attributed(refusal.into_response(), tag);
        }
    }
    let response = send(&edge, format!("{variant}/{rendition}/{file}"), "video/iso.segment").await;
    edge.attributed(response, tag)
}

async fn audio(State(edge): State<Arc<Edge>>, Path(file): Path<String>) -> Response {
    let index = segment_index(&file);
    if file != "init.mp4" && index.is_none() {
        return http::not_found("such file");
    }
    let response = send(&edge, format!("audio/{file}"), "audio/mp4").await;
    if !response.status().is_success() {
        return response;
    }
    let rendition = edge.presentation.audio.as_ref().map_or("audio", |a| a.rendition.id.as_str());
    edge.attributed(response, || match index {
        Some(i) => Attribution::default().segment(i, rendition, None),
        None => Attribution::default().rendition(rendition),
    })
}

/// A file of the output, by a path built from checked parts only.
async fn send(edge: &Edge, relative: String, content_type: &'static str) -> Response {
    match tokio::fs::read(edge.out.join(relative)).await {
        Ok(bytes) => {
            let mut response = Response::new(bytes.into());
            let h = response.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            response
        }
        Err(_) => http::not_found("such file"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_keyed_per_variant_rendition_and_segment() {
        let names = VariantNames::derive(&WatermarkKey::from_bytes([5; 32]));
        let a = names.name(0, "720p", 3);
        assert_eq!(a.len(), 22);
        assert_eq!(names.variant_of(&a, "720p", 3), Some(0));
        assert_eq!(names.variant_of(&names.name(1, "720p", 3), "720p", 3), Some(1));
        // Another segment, rendition or key: not a name.
        assert_eq!(names.variant_of(&a, "720p", 4), None);
        assert_eq!(names.variant_of(&a, "360p", 3), None);
        let other = VariantNames::derive(&WatermarkKey::from_bytes([6; 32]));
        assert_eq!(other.variant_of(&a, "720p", 3), None);
        // The two variants' names share nothing guessable.
        assert_ne!(names.name(0, "720p", 3), names.name(1, "720p", 3));
        for junk in ["", "0", "1", "AAAAAAAAAAAAAAAAAAAAAA", "../../../etc/passwd", &a[..21]] {
            assert_eq!(names.variant_of(junk, "720p", 3), None, "{junk}");
        }
    }

    #[test]
    fn segment_file_names() {
        assert_eq!(segment_index("seg-1.m4s"), Some(0));
        assert_eq!(segment_index("seg-12.m4s"), Some(11));
        for bad in ["seg-0.m4s", "seg-+1.m4s", "seg-.m4s", "seg-1.mp4", "init.mp4", "seg-1.m4s/.."]
        {
            assert_eq!(segment_index(bad), None, "{bad}");
        }
    }
}
