//! Manifest text for CMAF fMP4 outputs: HLS playlists and DASH MPDs.
//!
//! This module owns turning a description of a presentation — renditions ([`model`]), their
//! shared segment timeline, a file layout ([`PathScheme`]) and which variant each segment comes
//! from ([`SegmentSource`]) — into manifest text: per-variant manifests, and mixed ones whose
//! segment `i` comes from `0/` or `1/`. It does not choose those bits (the caller, and later the
//! per-viewer edge, does), does not read or write files, and does not speak HTTP.
//!
//! Map: [`model`] (what is described, and its validation), [`paths`] (where segment bytes live),
//! [`seconds`] (exact durations and their decimal spellings), [`hls`] (RFC 8216 playlists),
//! [`dash`] (the ISO/IEC 23009-1 MPD model), `mpd_xml` (its XML form) and [`protection`]
//! (ContentProtection / EXT-X-KEY signalling of encrypted tracks). Writers build a
//! typed document first and print it second; the same input always gives the same bytes.

pub mod dash;
mod error;
pub mod hls;
pub mod model;
mod mpd_xml;
pub mod paths;
pub mod protection;
pub mod seconds;

pub use dash::mpd as dash_mpd;
pub use error::ManifestError;
pub use hls::{
    audio_playlist as hls_audio_playlist, media_playlist as hls_media_playlist,
    multivariant as hls_multivariant, video_playlist as hls_video_playlist,
};
pub use model::{AudioRendition, AudioTrack, Presentation, Timeline, VideoRendition};
pub use paths::{PathScheme, PathTemplate, SegmentNamer, SegmentSource, FIRST_SEGMENT_NUMBER};
pub use protection::{DrmSignal, HlsKey, KeyPeriod, Protection};
pub use seconds::{Rounding, Seconds};
