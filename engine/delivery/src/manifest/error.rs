//! The one error type of the manifest module: what in the caller's description is unusable.
//!
//! Writing text cannot fail; every variant names an input that no valid manifest can be made from
//! (an empty timeline, a rendition id that cannot be a URI segment, a choice per segment that
//! does not cover the timeline...).

/// Why a manifest cannot be written from the given description.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// Durations are counted in `1/timescale` seconds; zero would make them meaningless.
    #[error("{what} timeline has a zero timescale")]
    ZeroTimescale { what: &'static str },

    #[error("{what} timeline has no segments")]
    EmptyTimeline { what: &'static str },

    /// A zero-length segment cannot be listed (EXTINF and S@d must be positive).
    #[error("{what} timeline: segment {index} has zero duration")]
    ZeroDuration { what: &'static str, index: usize },

    #[error("the presentation has no video rendition")]
    NoVideo,

    /// Ids become path segments, HLS quoted strings and DASH `Representation@id`s, so they are
    /// limited to `A-Z a-z 0-9 . _ -`.
    #[error("rendition id {id:?} is not usable: use 1 to 64 of A-Z a-z 0-9 . _ -")]
    BadRenditionId { id: String },

    /// `Representation@id` must be unique within a Period (ISO/IEC 23009-1 5.3.5.2), and the
    /// caller's playlist names are keyed by id.
    #[error("rendition id {id:?} is used twice")]
    DuplicateRenditionId { id: String },

    #[error("rendition {id:?}: {field} must be non-zero")]
    ZeroField { id: String, field: &'static str },

    /// A codecs string is an RFC 6381 list item: no spaces, quotes or commas.
    #[error("rendition {id:?}: codecs {codecs:?} is not an RFC 6381 codec id")]
    BadCodecs { id: String, codecs: String },

    #[error("no rendition has id {id:?}")]
    UnknownRendition { id: String },

    #[error("the presentation has no audio")]
    NoAudio,

    /// A per-segment choice must name the variant of every segment, no more, no less.
    #[error("{got} per-segment choices given for a timeline of {expected} segments")]
    ChoiceCount { expected: usize, got: usize },

    #[error("path template {template:?}: {reason}")]
    BadPathTemplate { template: String, reason: &'static str },

    /// RFC 8216 4.2: a quoted-string holds no `"`, CR or LF.
    #[error("{value:?} cannot be an HLS quoted-string")]
    BadQuotedString { value: String },

    /// A caller-supplied URI that would break the playlist syntax (RFC 8216 4.2: quoted strings
    /// hold no `"`, CR or LF; a URI line must not start with `#`) or is empty.
    #[error("URI {uri:?} cannot be written into a playlist")]
    BadUri { uri: String },
}
