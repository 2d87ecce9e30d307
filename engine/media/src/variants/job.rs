//! Filling `OUT/job.json` ([`JobFile`], defined with the output layout in `abmark-delivery`)
//! from what the encoders wrote.

use std::path::Path;

use abmark_bmff::cmaf::TrackKind;
use abmark_delivery::layout::{
    EncodeEntry, JobFile, OutputEntry, OutputMeta, RenditionEntry, SegmentInfo,
};
use abmark_wm::Symbol;

use super::audio::AudioOutput;
use super::worker::WorkerResult;
use super::Rendition;
use crate::EncodeSettings;

pub(super) struct JobInputs<'a> {
    pub source: &'a Path,
    /// The key's public fingerprint (never the key).
    pub key_fingerprint: &'a str,
    pub segment_seconds: f64,
    pub keyint: u64,
    pub frame_rate: (u32, u32),
    pub timescale: u32,
    pub frames: u64,
    pub ladder: &'a [Rendition],
    pub results: &'a [(u8, String, WorkerResult)],
    pub audio: Option<&'a AudioOutput>,
    pub encode: &'a EncodeSettings,
}

/// The job file of a finished encode.
pub(super) fn job_file(i: JobInputs<'_>) -> JobFile {
    let mut outputs = Vec::new();
    let mut renditions = Vec::new();
    for r in i.ladder {
        let of = |v: u8| i.results.iter().find(|x| x.0 == v && x.1 == r.id).map(|x| &x.2);
        let (Some(a), Some(b)) = (of(0), of(1)) else { continue };
        let seconds = |s: &SegmentInfo| s.duration as f64 / i.timescale as f64;
        let total_bytes: u64 = a.segments.iter().chain(&b.segments).map(|s| s.bytes).sum();
        let total_seconds: f64 = a.segments.iter().chain(&b.segments).map(seconds).sum();
        let peak = a
            .segments
            .iter()
            .chain(&b.segments)
            .map(|s| (s.bytes as f64 * 8.0 / seconds(s).max(1e-9)) as u64)
            .max()
            .unwrap_or(0);
        renditions.push(RenditionEntry {
            id: r.id.clone(),
            width: r.width,
            height: r.height,
            codecs: a.codec.clone(),
            bitrate: (total_bytes as f64 * 8.0 / total_seconds.max(1e-9)) as u64,
            peak_bitrate: peak,
        });
        for (v, res) in [(0u8, a), (1u8, b)] {
            outputs.push(OutputEntry {
                path: format!("{v}/{}", r.id),
                kind: TrackKind::Video,
                meta: OutputMeta {
                    width: Some(r.width),
                    height: Some(r.height),
                    wm_symbol: Symbol::from_bit(v),
                    codecs: Some(res.codec.clone()),
                    sample_rate: None,
                    channels: None,
                },
                segments: res.segments.clone(),
            });
        }
    }
    if let Some(audio) = i.audio {
        outputs.push(OutputEntry {
            path: "audio".into(),
            kind: TrackKind::Audio,
            meta: OutputMeta {
                width: None,
                height: None,
                wm_symbol: None,
                codecs: Some(audio.codec.clone()),
                sample_rate: Some(audio.sample_rate),
                channels: Some(audio.channels),
            },
            segments: audio.segments.clone(),
        });
    }
    let durations = i
        .results
        .first()
        .map(|r| r.2.segments.iter().map(|s| s.duration).collect())
        .unwrap_or_default();
    JobFile {
        source: i.source.display().to_string(),
        segment_seconds: i.segment_seconds,
        keyint: i.keyint,
        frame_rate: i.frame_rate,
        segment_count: i.results.first().map_or(0, |r| r.2.segments.len()),
        frames: i.frames,
        timescale: i.timescale,
        segment_durations: durations,
        renditions,
        outputs,
        encode: EncodeEntry {
            codec: "h264 (libx264)".into(),
            crf: i.encode.bitrate_kbps.is_none().then_some(i.encode.crf),
            bitrate_kbps: i.encode.bitrate_kbps,
            preset: i.encode.preset.clone(),
        },
        key_fingerprint: i.key_fingerprint.to_owned(),
        protection: None,
    }
}
