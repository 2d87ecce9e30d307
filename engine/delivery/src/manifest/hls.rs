//! HLS playlists (RFC 8216) for CMAF fMP4 segments: the multivariant playlist and media
//! playlists, VOD only.
//!
//! Each playlist is a typed value ([`MultivariantPlaylist`], [`MediaPlaylist`]) built from a
//! [`Presentation`] and written by its `Display`; tags that later work adds (EXT-X-KEY,
//! EXT-X-SESSION-KEY) become fields there, not string edits. Attribute values go through
//! [`AttributeList`], which refuses what would break the attribute syntax.

use std::fmt;

use super::error::ManifestError;
use super::model::{CheckedTimeline, Presentation, Timeline};
use super::paths::{PathScheme, SegmentSource, FIRST_SEGMENT_NUMBER};
use super::protection::{HlsKey, Protection};
use super::seconds::{three_decimals, Rounding, Seconds};

/// EXT-X-MAP outside an I-frame playlist needs version 6 (RFC 8216 7); 7 is what fMP4 HLS is
/// commonly published with and every fMP4-capable client accepts.
const VERSION: u32 = 7;

/// GROUP-ID of the one audio rendition group.
const AUDIO_GROUP: &str = "audio";

/// An RFC 8216 4.2 attribute list, in insertion order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttributeList {
    items: Vec<(&'static str, String)>,
}

impl AttributeList {
    pub fn new() -> Self {
        Self::default()
    }

    /// A decimal-integer.
    pub fn int(mut self, name: &'static str, value: u64) -> Self {
        self.items.push((name, value.to_string()));
        self
    }

    /// An enumerated-string or other unquoted token (`AUDIO`, `YES`, `1280x720`, `25.000`).
    /// Crate-private: only constants and numbers formatted here are passed, which cannot hold
    /// the `,` or `"` that would break the list.
    pub(crate) fn token(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.items.push((name, value.into()));
        self
    }

    /// A quoted-string: may not hold `"`, CR or LF (RFC 8216 4.2).
    pub fn quoted(mut self, name: &'static str, value: &str) -> Result<Self, ManifestError> {
        if value.contains(['"', '\r', '\n']) {
            return Err(ManifestError::BadQuotedString { value: value.to_owned() });
        }
        self.items.push((name, format!("\"{value}\"")));
        Ok(self)
    }
}

impl fmt::Display for AttributeList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, value)) in self.items.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            write!(f, "{sep}{name}={value}")?;
        }
        Ok(())
    }
}

/// A URI written on a line or in a quoted string: non-empty, no control characters or `"`,
/// and not starting with `#` (which would read as a tag, RFC 8216 4.1).
fn check_uri(uri: &str) -> Result<&str, ManifestError> {
    if uri.is_empty() || uri.starts_with('#') || uri.contains(|c: char| c.is_control() || c == '"')
    {
        return Err(ManifestError::BadUri { uri: uri.to_owned() });
    }
    Ok(uri)
}

/// One `#EXT-X-MEDIA` audio rendition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioMedia {
    pub attributes: AttributeList,
}

/// One `#EXT-X-STREAM-INF` and the URI of its media playlist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VariantStream {
    pub attributes: AttributeList,
    pub uri: String,
}

/// The multivariant ("master") playlist: one variant stream per video rendition, all sharing
/// the audio group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultivariantPlaylist {
    pub audio: Vec<AudioMedia>,
    pub streams: Vec<VariantStream>,
    /// `EXT-X-SESSION-KEY`s (RFC 8216 4.3.4.5): lets players fetch licences before the first
    /// media playlist.
    pub session_keys: Vec<HlsKey>,
}

impl MultivariantPlaylist {
    /// `media_playlist_uri(id)` gives the URI of the media playlist of rendition `id` (video or
    /// audio), relative to this playlist.
    pub fn new(
        p: &Presentation,
        media_playlist_uri: impl Fn(&str) -> String,
    ) -> Result<Self, ManifestError> {
        p.validate()?;
        let mut audio = Vec::new();
        if let Some(track) = &p.audio {
            let a = &track.rendition;
            let attributes = AttributeList::new()
                .token("TYPE", "AUDIO")
                .quoted("GROUP-ID", AUDIO_GROUP)?
                .quoted("NAME", &a.id)?
                .token("DEFAULT", "YES")
                .token("AUTOSELECT", "YES")
                // RFC 8216 4.3.4.1: the first parameter of CHANNELS is the channel count.
                .quoted("CHANNELS", &a.channels.to_string())?
                .quoted("URI", check_uri(&media_playlist_uri(&a.id))?)?;
            audio.push(AudioMedia { attributes });
        }
        let audio_rendition = p.audio.as_ref().map(|t| &t.rendition);
        let mut streams = Vec::new();
        for v in &p.video {
            // BANDWIDTH is the peak of everything played together (RFC 8216 4.3.4.2): the video
            // plus the audio rendition of its group.
            let bandwidth =
                u64::from(v.bandwidth) + audio_rendition.map_or(0, |a| a.bandwidth.into());
            let average = match (v.average_bandwidth, audio_rendition) {
                (Some(v), None) => Some(u64::from(v)),
                (Some(v), Some(a)) => a.average_bandwidth.map(|a| u64::from(v) + u64::from(a)),
                (None, _) => None,
            };
            let codecs = match audio_rendition {
                Some(a) => format!("{},{}", v.codecs, a.codecs),
                None => v.codecs.clone(),
            };
            let mut attributes = AttributeList::new().int("BANDWIDTH", bandwidth);
            if let Some(average) = average {
                attributes = attributes.int("AVERAGE-BANDWIDTH", average);
            }
            attributes = attributes
                .quoted("CODECS", &codecs)?
                .token("RESOLUTION", format!("{}x{}", v.width, v.height))
                .token("FRAME-RATE", three_decimals(v.frame_rate.0, v.frame_rate.1));
            if audio_rendition.is_some() {
                attributes = attributes.quoted("AUDIO", AUDIO_GROUP)?;
            }
            let uri = check_uri(&media_playlist_uri(&v.id))?.to_owned();
            streams.push(VariantStream { attributes, uri });
        }
        let mut session_keys: Vec<HlsKey> = Vec::new();
        for protection in
            [p.protection.as_ref(), p.audio.as_ref().and_then(|a| a.protection.as_ref())]
                .into_iter()
                .flatten()
        {
            for key in protection.hls_keys_at(0).unwrap_or_default() {
                if !session_keys.contains(key) {
                    session_keys.push(key.clone());
                }
            }
        }
        Ok(MultivariantPlaylist { audio, streams, session_keys })
    }
}

impl fmt::Display for MultivariantPlaylist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "#EXTM3U")?;
        writeln!(f, "#EXT-X-VERSION:{VERSION}")?;
        // Every segment starts with an IDR of a closed GOP (RFC 8216 4.3.5.1); said here it
        // covers all media playlists.
        writeln!(f, "#EXT-X-INDEPENDENT-SEGMENTS")?;
        for key in &self.session_keys {
            writeln!(f, "#EXT-X-SESSION-KEY:{}", key.attributes())?;
        }
        for media in &self.audio {
            writeln!(f, "#EXT-X-MEDIA:{}", media.attributes)?;
        }
        for stream in &self.streams {
            writeln!(f, "#EXT-X-STREAM-INF:{}", stream.attributes)?;
            writeln!(f, "{}", stream.uri)?;
        }
        Ok(())
    }
}

/// One media segment line pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaSegment {
    pub duration: Seconds,
    pub uri: String,
}

/// A VOD media playlist of fMP4 segments sharing one init segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaPlaylist {
    /// Seconds; every segment's duration rounded to the nearest integer is at most this.
    pub target_duration: u128,
    pub media_sequence: u64,
    pub init_uri: String,
    pub segments: Vec<MediaSegment>,
    /// Encryption of the segments: `EXT-X-KEY` tags before the map and at each key period.
    pub protection: Option<Protection>,
}

impl MediaPlaylist {
    /// `segment_uri(i)` gives the URI of the segment at 0-based index `i`.
    pub fn new(
        timeline: &Timeline,
        init_uri: &str,
        segment_uri: impl Fn(usize) -> String,
    ) -> Result<Self, ManifestError> {
        Self::from_checked(timeline.check("media playlist")?, init_uri, segment_uri)
    }

    fn from_checked(
        timeline: CheckedTimeline<'_>,
        init_uri: &str,
        segment_uri: impl Fn(usize) -> String,
    ) -> Result<Self, ManifestError> {
        let mut segments = Vec::with_capacity(timeline.durations.len());
        for (index, &ticks) in timeline.durations.iter().enumerate() {
            let uri = check_uri(&segment_uri(index))?.to_owned();
            segments.push(MediaSegment { duration: timeline.seconds(ticks), uri });
        }
        // RFC 8216 4.3.3.1: each EXTINF rounded to the nearest integer must not exceed the
        // target duration; the smallest such value (at least 1) is the tightest honest one.
        let target_duration =
            segments.iter().map(|s| s.duration.round_whole()).max().unwrap_or(1).max(1);
        Ok(MediaPlaylist {
            target_duration,
            media_sequence: FIRST_SEGMENT_NUMBER,
            init_uri: check_uri(init_uri)?.to_owned(),
            segments,
            protection: None,
        })
    }
}

impl fmt::Display for MediaPlaylist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "#EXTM3U")?;
        writeln!(f, "#EXT-X-VERSION:{VERSION}")?;
        writeln!(f, "#EXT-X-TARGETDURATION:{}", self.target_duration)?;
        writeln!(f, "#EXT-X-MEDIA-SEQUENCE:{}", self.media_sequence)?;
        writeln!(f, "#EXT-X-PLAYLIST-TYPE:VOD")?;
        // Repeated from the multivariant playlist so the media playlist stands alone.
        writeln!(f, "#EXT-X-INDEPENDENT-SEGMENTS")?;
        // Keys come first: a SAMPLE-AES key tag before the map covers every segment after it.
        if let Some(keys) = self.protection.as_ref().and_then(|p| p.hls_keys_at(0)) {
            for key in keys {
                writeln!(f, "#EXT-X-KEY:{}", key.attributes())?;
            }
        }
        // The URI was checked when the playlist was built (no quote, no control character).
        writeln!(f, "#EXT-X-MAP:URI=\"{}\"", self.init_uri)?;
        for (index, segment) in self.segments.iter().enumerate() {
            // Key rotation: the new period's key tags replace the old ones from here on.
            if index > 0 {
                if let Some(keys) = self.protection.as_ref().and_then(|p| p.hls_keys_at(index)) {
                    for key in keys {
                        writeln!(f, "#EXT-X-KEY:{}", key.attributes())?;
                    }
                }
            }
            // Decimal durations need version 3 (RFC 8216 4.3.2.1); exact to the microsecond.
            writeln!(f, "#EXTINF:{},", segment.duration.decimal(Rounding::Nearest))?;
            writeln!(f, "{}", segment.uri)?;
        }
        writeln!(f, "#EXT-X-ENDLIST")
    }
}

/// The multivariant playlist text; see [`MultivariantPlaylist::new`].
pub fn multivariant(
    p: &Presentation,
    media_playlist_uri: impl Fn(&str) -> String,
) -> Result<String, ManifestError> {
    Ok(MultivariantPlaylist::new(p, media_playlist_uri)?.to_string())
}

/// A media playlist's text from any timeline and URIs; see [`MediaPlaylist::new`].
pub fn media_playlist(
    timeline: &Timeline,
    init_uri: &str,
    segment_uri: impl Fn(usize) -> String,
) -> Result<String, ManifestError> {
    Ok(MediaPlaylist::new(timeline, init_uri, segment_uri)?.to_string())
}

/// The media playlist of video rendition `rendition_id`, segment `i` taken from the variant
/// `source` names, paths from `scheme` (relative to where this playlist is served).
pub fn video_playlist(
    p: &Presentation,
    rendition_id: &str,
    scheme: &PathScheme,
    source: SegmentSource<'_>,
) -> Result<String, ManifestError> {
    p.validate()?;
    let rendition = p.video_rendition(rendition_id)?;
    let timeline = p.timeline.check("video")?;
    source.check(timeline.durations.len())?;
    let init = scheme.video_init(source.init_variant(), &rendition.id);
    let mut playlist = MediaPlaylist::from_checked(timeline, &init, |i| {
        source.segment_path(scheme, &rendition.id, i)
    })?;
    playlist.protection = p.protection.clone();
    Ok(playlist.to_string())
}

/// The media playlist of the audio rendition, shared by every variant.
pub fn audio_playlist(p: &Presentation, scheme: &PathScheme) -> Result<String, ManifestError> {
    p.validate()?;
    let track = p.audio.as_ref().ok_or(ManifestError::NoAudio)?;
    let id = &track.rendition.id;
    let mut playlist =
        MediaPlaylist::from_checked(track.timeline.check("audio")?, &scheme.audio_init(id), |i| {
            scheme.audio_segment(id, i)
        })?;
    playlist.protection = track.protection.clone();
    Ok(playlist.to_string())
}
