//! The access log's record: one JSON line per request the edge answered for a viewer
//! (manifests, playlists, init and media segments, licences, the player page), written by
//! `abmark serve` and read by `abmark analytics` to find token sharing, ripping and other abuse.
//!
//! Like the session and licence logs it names subjects and addresses, never tokens or keys.

use serde::{Deserialize, Serialize};

use crate::ids::{ContentId, SessionId};

/// One line of the access log.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessRecord {
    /// RFC 3339 UTC, with milliseconds (rates of segment fetches are measured from it).
    pub time: String,
    /// The watermark session of the token, when the request carried a valid one.
    pub session: Option<SessionId>,
    pub subject: Option<String>,
    pub content: Option<ContentId>,
    pub kind: RequestKind,
    /// Media segment number (0-based), for segment requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<u64>,
    /// Rendition id (e.g. `720p`), for playlists, init and media segments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rendition: Option<String>,
    /// Which variant (0 or 1) a segment request was answered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<u8>,
    /// The viewer's address (behind a trusted proxy: from its forwarding header).
    pub client: String,
    /// The `User-Agent` header, cut to [`MAX_USER_AGENT`] characters.
    #[serde(default)]
    pub user_agent: String,
    /// HTTP status of the answer.
    pub status: u16,
    /// Body bytes of the answer.
    pub bytes: u64,
}

/// Longest user agent kept: a client controls the header, the log must stay bounded.
pub const MAX_USER_AGENT: usize = 256;

/// What a request asked for.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// An HLS multivariant playlist or a DASH MPD.
    Manifest,
    /// An HLS media playlist.
    Playlist,
    Init,
    Segment,
    Licence,
    /// The player page (`/watch/{content}`).
    Page,
    Other,
}

impl RequestKind {
    pub fn name(self) -> &'static str {
        match self {
            RequestKind::Manifest => "manifest",
            RequestKind::Playlist => "playlist",
            RequestKind::Init => "init",
            RequestKind::Segment => "segment",
            RequestKind::Licence => "licence",
            RequestKind::Page => "page",
            RequestKind::Other => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_omits_what_does_not_apply() {
        let r = AccessRecord {
            time: "2026-12-07T10:00:00.125Z".into(),
            session: Some(SessionId(7)),
            subject: Some("alice".into()),
            content: None,
            kind: RequestKind::Manifest,
            segment: None,
            rendition: None,
            variant: None,
            client: "192.0.2.1".into(),
            user_agent: "test".into(),
            status: 200,
            bytes: 1234,
        };
        let line = serde_json::to_string(&r).unwrap();
        assert!(!line.contains("segment"), "{line}");
        assert!(line.contains("\"kind\":\"manifest\""), "{line}");
        let back: AccessRecord = serde_json::from_str(&line).unwrap();
        assert_eq!(back, r);
    }
}
