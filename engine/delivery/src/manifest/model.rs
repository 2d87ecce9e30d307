//! What a manifest is written from: the renditions of a presentation and their segment timeline.
//!
//! Plain data with public fields, filled by whoever cut the segments; [`Presentation::validate`]
//! turns what no manifest can express into a [`ManifestError`], and every writer calls it first.

use std::collections::BTreeSet;
use std::num::NonZeroU32;

use super::error::ManifestError;
use super::protection::Protection;
use super::seconds::Seconds;

/// The segment durations of one track, shared by all its renditions (closed GOPs cut at the same
/// frames in every rendition and both variants).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeline {
    /// Units per second of `segment_durations`; best the track's own media timescale, so the
    /// values are exact.
    pub timescale: u32,
    /// Duration of each segment in order, in `timescale` units. Usually all equal but the last;
    /// any positive values are accepted.
    pub segment_durations: Vec<u64>,
}

/// One video rendition (a rung of the ladder), identical in every variant but for the pixels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoRendition {
    /// Names the rendition in paths (`{rendition}`), HLS and DASH (`Representation@id`), e.g.
    /// `"720p"`. 1 to 64 of `A-Z a-z 0-9 . _ -`.
    pub id: String,
    pub width: u32,
    pub height: u32,
    /// Peak segment bit rate in bits/s: the largest `8 * bytes / duration` over the segments.
    /// That is what HLS BANDWIDTH must be (RFC 8216 4.3.4.2), and with `minBufferTime` at least
    /// the longest segment it also meets the DASH `@bandwidth` bucket rule (ISO/IEC 23009-1
    /// 5.3.5.2). Take the larger of the two variants'.
    pub bandwidth: u32,
    /// Mean bit rate over the whole rendition in bits/s, for HLS AVERAGE-BANDWIDTH.
    pub average_bandwidth: Option<u32>,
    /// RFC 6381 codec id, e.g. `"avc1.64001f"`.
    pub codecs: String,
    /// Frames per second as `(numerator, denominator)`, e.g. `(30000, 1001)`.
    pub frame_rate: (u32, u32),
}

/// The audio rendition; audio is never marked, so one copy serves both variants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioRendition {
    /// As [`VideoRendition::id`]; must differ from every video id.
    pub id: String,
    /// Peak segment bit rate in bits/s (see [`VideoRendition::bandwidth`]).
    pub bandwidth: u32,
    pub average_bandwidth: Option<u32>,
    /// RFC 6381 codec id, e.g. `"mp4a.40.2"`.
    pub codecs: String,
    pub sample_rate: u32,
    pub channels: u16,
}

/// The audio track: its rendition and its own timeline (AAC frames do not fall on video segment
/// boundaries, so audio segments last slightly different times).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioTrack {
    pub rendition: AudioRendition,
    pub timeline: Timeline,
    /// How the audio is encrypted, if it is.
    pub protection: Option<Protection>,
}

/// Everything a manifest describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Presentation {
    /// In the order the manifests list them (conventionally lowest first).
    pub video: Vec<VideoRendition>,
    /// The video timeline, shared by every video rendition.
    pub timeline: Timeline,
    pub audio: Option<AudioTrack>,
    /// How the video is encrypted, if it is (both variants share it).
    pub protection: Option<Protection>,
}

/// A timeline that passed validation: non-zero timescale, at least one segment, none empty.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CheckedTimeline<'a> {
    pub timescale: NonZeroU32,
    pub durations: &'a [u64],
}

/// A run of equal consecutive segment durations: one DASH `S` element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub duration: u64,
    pub count: u64,
}

impl Timeline {
    pub fn segment_count(&self) -> usize {
        self.segment_durations.len()
    }

    /// `what` names the track in errors ("video", "audio").
    pub(crate) fn check(&self, what: &'static str) -> Result<CheckedTimeline<'_>, ManifestError> {
        let timescale =
            NonZeroU32::new(self.timescale).ok_or(ManifestError::ZeroTimescale { what })?;
        if self.segment_durations.is_empty() {
            return Err(ManifestError::EmptyTimeline { what });
        }
        if let Some(index) = self.segment_durations.iter().position(|&d| d == 0) {
            return Err(ManifestError::ZeroDuration { what, index });
        }
        Ok(CheckedTimeline { timescale, durations: &self.segment_durations })
    }
}

impl CheckedTimeline<'_> {
    pub fn seconds(&self, ticks: u64) -> Seconds {
        Seconds::new(u128::from(ticks), self.timescale)
    }

    pub fn total(&self) -> Seconds {
        Seconds::new(self.durations.iter().map(|&d| u128::from(d)).sum(), self.timescale)
    }

    pub fn longest(&self) -> Seconds {
        self.seconds(self.durations.iter().copied().max().unwrap_or(0))
    }

    /// Run-length form of the durations, in order.
    pub fn runs(&self) -> Vec<Run> {
        let mut runs: Vec<Run> = Vec::new();
        for &duration in self.durations {
            match runs.last_mut() {
                Some(run) if run.duration == duration => run.count += 1,
                _ => runs.push(Run { duration, count: 1 }),
            }
        }
        runs
    }
}

impl Presentation {
    /// Checks everything the writers rely on; each writer calls this first.
    pub fn validate(&self) -> Result<(), ManifestError> {
        if self.video.is_empty() {
            return Err(ManifestError::NoVideo);
        }
        self.timeline.check("video")?;
        let mut ids = BTreeSet::new();
        for v in &self.video {
            check_id(&v.id, &mut ids)?;
            check_codecs(&v.id, &v.codecs)?;
            let zero = [
                ("width", v.width == 0),
                ("height", v.height == 0),
                ("bandwidth", v.bandwidth == 0),
                ("average_bandwidth", v.average_bandwidth == Some(0)),
                ("frame rate", v.frame_rate.0 == 0 || v.frame_rate.1 == 0),
            ];
            check_nonzero(&v.id, &zero)?;
        }
        if let Some(audio) = &self.audio {
            let a = &audio.rendition;
            check_id(&a.id, &mut ids)?;
            check_codecs(&a.id, &a.codecs)?;
            let zero = [
                ("bandwidth", a.bandwidth == 0),
                ("average_bandwidth", a.average_bandwidth == Some(0)),
                ("sample_rate", a.sample_rate == 0),
                ("channels", a.channels == 0),
            ];
            check_nonzero(&a.id, &zero)?;
            audio.timeline.check("audio")?;
        }
        Ok(())
    }

    pub(crate) fn video_rendition(&self, id: &str) -> Result<&VideoRendition, ManifestError> {
        self.video
            .iter()
            .find(|v| v.id == id)
            .ok_or_else(|| ManifestError::UnknownRendition { id: id.to_owned() })
    }
}

fn check_id(id: &str, seen: &mut BTreeSet<String>) -> Result<(), ManifestError> {
    let ok = (1..=64).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        // "." and ".." would walk the directory tree when substituted into a path.
        && id.bytes().any(|b| b != b'.');
    if !ok {
        return Err(ManifestError::BadRenditionId { id: id.to_owned() });
    }
    if !seen.insert(id.to_owned()) {
        return Err(ManifestError::DuplicateRenditionId { id: id.to_owned() });
    }
    Ok(())
}

fn check_codecs(id: &str, codecs: &str) -> Result<(), ManifestError> {
    // RFC 6381 ids are dot-separated tokens (`avc1.64001f`, `hvc1.1.6.L93.B0`, `ec-3`); the
    // quote and the comma would end the HLS CODECS list early.
    let ok = !codecs.is_empty()
        && codecs
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+'));
    if ok {
        Ok(())
    } else {
        Err(ManifestError::BadCodecs { id: id.to_owned(), codecs: codecs.to_owned() })
    }
}

fn check_nonzero(id: &str, fields: &[(&'static str, bool)]) -> Result<(), ManifestError> {
    match fields.iter().find(|(_, is_zero)| *is_zero) {
        Some(&(field, _)) => Err(ManifestError::ZeroField { id: id.to_owned(), field }),
        None => Ok(()),
    }
}
