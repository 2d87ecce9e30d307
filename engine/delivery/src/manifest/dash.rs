//! DASH MPDs (ISO/IEC 23009-1) for CMAF fMP4 segments: one static Period, a video
//! AdaptationSet with a Representation per rendition, and an audio AdaptationSet.
//!
//! [`Mpd`] is the typed document, built from a [`Presentation`] and written as XML by its
//! `Display` (in `mpd_xml`); ContentProtection and the like become fields here. Segments are
//! addressed two ways, both with an exact SegmentTimeline:
//! - all from one variant: a `SegmentTemplate` with `$RepresentationID$`/`$Number$`, once per
//!   AdaptationSet (the `isoff-live` profile, which every DASH player handles);
//! - per-segment sources that differ (mixed, personalised): a `SegmentList` per Representation
//!   with one `SegmentURL` per segment. SegmentList is outside the live profile, so such MPDs
//!   declare `isoff-main`, which allows it (ISO/IEC 23009-1 8.5).

use super::error::ManifestError;
use super::model::{CheckedTimeline, Presentation, Run};
use super::paths::{PathScheme, SegmentSource, FIRST_SEGMENT_NUMBER};
use super::seconds::Seconds;

/// ISO/IEC 23009-1 8.4: ISO BMFF live profile (SegmentTemplate addressing).
pub const PROFILE_LIVE: &str = "urn:mpeg:dash:profile:isoff-live:2011";
/// ISO/IEC 23009-1 8.5: ISO BMFF main profile (any addressing, SegmentList included).
pub const PROFILE_MAIN: &str = "urn:mpeg:dash:profile:isoff-main:2011";

/// A static MPD of one Period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mpd {
    pub profiles: Vec<&'static str>,
    /// The longest track's total duration.
    pub media_presentation_duration: Seconds,
    /// The longest segment of any track: with `@bandwidth` the peak segment rate, a client
    /// that buffers this much never stalls (the bucket model of ISO/IEC 23009-1 5.3.5.2).
    pub min_buffer_time: Seconds,
    pub max_segment_duration: Seconds,
    pub adaptation_sets: Vec<AdaptationSet>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdaptationSet {
    pub id: u32,
    /// ContentProtection of an encrypted track.
    pub protection: Option<super::protection::Protection>,
    pub content: Content,
    /// Shared addressing of every Representation; `None` when each has its own list.
    pub segment_template: Option<SegmentTemplate>,
    pub representations: Vec<Representation>,
}

/// What an AdaptationSet carries, with the set-level attributes that follow from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    Video { max_width: u32, max_height: u32, max_frame_rate: (u32, u32) },
    Audio,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Representation {
    pub id: String,
    pub bandwidth: u32,
    pub codecs: String,
    pub media: RepresentationMedia,
    /// This Representation's own segment list (mixed sources only).
    pub segment_list: Option<SegmentList>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RepresentationMedia {
    Video { width: u32, height: u32, frame_rate: (u32, u32) },
    Audio { sample_rate: u32, channels: u16 },
}

/// One `S` element: `repeat + 1` consecutive segments of `duration` (S@d, S@r).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimelineEntry {
    pub duration: u64,
    pub repeat: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentTemplate {
    pub timescale: u32,
    pub initialization: String,
    pub media: String,
    pub start_number: u64,
    pub timeline: Vec<TimelineEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentList {
    pub timescale: u32,
    pub initialization: String,
    pub timeline: Vec<TimelineEntry>,
    /// `SegmentURL@media` of each segment, in order.
    pub media: Vec<String>,
}

fn timeline_entries(timeline: &CheckedTimeline<'_>) -> Vec<TimelineEntry> {
    // S@t is left out: the first segment starts at 0 and the rest follow without gaps.
    let entries = timeline.runs().into_iter();
    entries.map(|Run { duration, count }| TimelineEntry { duration, repeat: count - 1 }).collect()
}

/// The larger of two frame rates, compared exactly.
fn max_rate(a: (u32, u32), b: (u32, u32)) -> (u32, u32) {
    let (an, ad, bn, bd) = (u64::from(a.0), u64::from(a.1), u64::from(b.0), u64::from(b.1));
    if bn * ad > an * bd {
        b
    } else {
        a
    }
}

impl Mpd {
    /// The MPD of `p` with video segments from `source` and paths from `scheme` (relative to
    /// where the MPD is served).
    pub fn new(
        p: &Presentation,
        scheme: &PathScheme,
        source: SegmentSource<'_>,
    ) -> Result<Self, ManifestError> {
        p.validate()?;
        let video_timeline = p.timeline.check("video")?;
        source.check(video_timeline.durations.len())?;
        let video_entries = timeline_entries(&video_timeline);
        let timescale = video_timeline.timescale.get();
        let (init, media) = scheme.video_templates();

        let uniform = source.uniform();
        let segment_template = uniform.map(|variant| SegmentTemplate {
            timescale,
            initialization: init.dash_template(variant),
            media: media.dash_template(variant),
            start_number: FIRST_SEGMENT_NUMBER,
            timeline: video_entries.clone(),
        });
        let mut representations = Vec::with_capacity(p.video.len());
        for v in &p.video {
            let segment_list = match uniform {
                Some(_) => None,
                None => Some(SegmentList {
                    timescale,
                    initialization: scheme.video_init(source.init_variant(), &v.id),
                    timeline: video_entries.clone(),
                    media: (0..video_timeline.durations.len())
                        .map(|i| source.segment_path(scheme, &v.id, i))
                        .collect(),
                }),
            };
            representations.push(Representation {
                id: v.id.clone(),
                bandwidth: v.bandwidth,
                codecs: v.codecs.clone(),
                media: RepresentationMedia::Video {
                    width: v.width,
                    height: v.height,
                    frame_rate: v.frame_rate,
                },
                segment_list,
            });
        }
        let content = Content::Video {
            max_width: p.video.iter().map(|v| v.width).max().unwrap_or(0),
            max_height: p.video.iter().map(|v| v.height).max().unwrap_or(0),
            max_frame_rate: p.video.iter().map(|v| v.frame_rate).fold((0, 1), max_rate),
        };
        let mut adaptation_sets = vec![AdaptationSet {
            id: 0,
            protection: p.protection.clone(),
            content,
            segment_template,
            representations,
        }];

        let mut duration = video_timeline.total();
        let mut longest = video_timeline.longest();
        if let Some(track) = &p.audio {
            let timeline = track.timeline.check("audio")?;
            duration = duration.max(timeline.total());
            longest = longest.max(timeline.longest());
            let (init, media) = scheme.audio_templates();
            let a = &track.rendition;
            adaptation_sets.push(AdaptationSet {
                id: 1,
                protection: track.protection.clone(),
                content: Content::Audio,
                // Audio is the same for every viewer, so it is always templated.
                segment_template: Some(SegmentTemplate {
                    timescale: timeline.timescale.get(),
                    initialization: init.dash_template(0),
                    media: media.dash_template(0),
                    start_number: FIRST_SEGMENT_NUMBER,
                    timeline: timeline_entries(&timeline),
                }),
                representations: vec![Representation {
                    id: a.id.clone(),
                    bandwidth: a.bandwidth,
                    codecs: a.codecs.clone(),
                    media: RepresentationMedia::Audio {
                        sample_rate: a.sample_rate,
                        channels: a.channels,
                    },
                    segment_list: None,
                }],
            });
        }

        let profile = if uniform.is_some() { PROFILE_LIVE } else { PROFILE_MAIN };
        Ok(Mpd {
            profiles: vec![profile],
            media_presentation_duration: duration,
            min_buffer_time: longest,
            max_segment_duration: longest,
            adaptation_sets,
        })
    }
}

/// The MPD text; see [`Mpd::new`].
pub fn mpd(
    p: &Presentation,
    scheme: &PathScheme,
    source: SegmentSource<'_>,
) -> Result<String, ManifestError> {
    Ok(Mpd::new(p, scheme, source)?.to_string())
}
