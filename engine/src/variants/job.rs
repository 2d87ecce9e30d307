//! `OUT/job.json`: what was made, for the packager, the edge and the detector. It names the
//! key by fingerprint only.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::segmenter::SegmentInfo;
use super::worker::WorkerResult;
use super::{Rendition, VariantsError};
use crate::key::WatermarkKey;
use crate::media::{AudioTrackInfo, EncodeSettings};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobFile {
    pub source: String,
    /// Actual segment duration: a whole number of frames (`keyint`).
    pub segment_seconds: f64,
    pub keyint: u64,
    /// Frames per second as (numerator, denominator).
    pub frame_rate: (u32, u32),
    pub segment_count: usize,
    pub frames: u64,
    pub timescale: u32,
    /// Duration of each video segment in `timescale` units (the same in every output).
    pub segment_durations: Vec<u64>,
    pub renditions: Vec<RenditionEntry>,
    pub outputs: Vec<OutputEntry>,
    pub encode: EncodeEntry,
    pub key_fingerprint: String,
    /// Set by `abmark package`: how the video and audio are encrypted (public signalling only;
    /// keys live in the CPIX document the packager writes elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protection: Option<JobProtection>,
}

/// The manifests' protection signalling of a packaged output.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobProtection {
    pub video: crate::manifest::Protection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<crate::manifest::Protection>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RenditionEntry {
    pub id: String,
    pub width: u32,
    pub height: u32,
    pub codecs: String,
    /// Average and peak (largest segment) bitrate over both variants, bits per second.
    pub bitrate: u64,
    pub peak_bitrate: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OutputEntry {
    /// Relative to OUT: `0/720p`, `1/720p`, `audio`.
    pub path: String,
    pub kind: String,
    pub meta: OutputMeta,
    pub segments: Vec<SegmentInfo>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct OutputMeta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wm_symbol: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codecs: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<u16>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EncodeEntry {
    pub codec: String,
    /// Constant quality, or `None` in bitrate mode.
    pub crf: Option<f32>,
    /// Top rendition's target in kbit/s (bitrate mode).
    pub bitrate_kbps: Option<u32>,
    pub preset: String,
}

pub(super) struct JobInputs<'a> {
    pub source: &'a Path,
    pub key: &'a WatermarkKey,
    pub segment_seconds: f64,
    pub keyint: u64,
    pub frame_rate: (u32, u32),
    pub timescale: u32,
    pub frames: u64,
    pub ladder: &'a [Rendition],
    pub results: &'a [(u8, String, WorkerResult)],
    pub audio: Option<&'a (Vec<SegmentInfo>, String, AudioTrackInfo)>,
    pub encode: &'a EncodeSettings,
}

impl JobFile {
    pub(super) fn new(i: JobInputs<'_>) -> Self {
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
                    kind: "video".into(),
                    meta: OutputMeta {
                        width: Some(r.width),
                        height: Some(r.height),
                        wm_symbol: Some(v),
                        codecs: Some(res.codec.clone()),
                        sample_rate: None,
                        channels: None,
                    },
                    segments: res.segments.clone(),
                });
            }
        }
        if let Some((segments, codecs, info)) = i.audio {
            outputs.push(OutputEntry {
                path: "audio".into(),
                kind: "audio".into(),
                meta: OutputMeta {
                    width: None,
                    height: None,
                    wm_symbol: None,
                    codecs: Some(codecs.clone()),
                    sample_rate: Some(info.sample_rate),
                    channels: Some(info.channels),
                },
                segments: segments.clone(),
            });
        }
        let durations = i
            .results
            .first()
            .map(|r| r.2.segments.iter().map(|s| s.duration).collect())
            .unwrap_or_default();
        Self {
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
            key_fingerprint: i.key.fingerprint(),
            protection: None,
        }
    }

    /// Reads `OUT/job.json` and checks that it describes a usable output: one duration per
    /// segment, both variants of every rendition, every output with that many segments.
    pub fn load(out: &Path) -> Result<Self, VariantsError> {
        let path = out.join("job.json");
        let text = std::fs::read(&path).map_err(|e| VariantsError::io(&path, e))?;
        let bad = |reason: String| VariantsError::BadOutput { path: path.clone(), reason };
        let job: JobFile =
            serde_json::from_slice(&text).map_err(|e| bad(format!("not a job file ({e})")))?;
        if job.segment_count == 0 || job.segment_durations.len() != job.segment_count {
            return Err(bad("segment count and durations disagree".into()));
        }
        if job.renditions.is_empty() {
            return Err(bad("no video rendition".into()));
        }
        for r in &job.renditions {
            for v in 0..2u8 {
                let want = format!("{v}/{}", r.id);
                let output = job.outputs.iter().find(|o| o.path == want);
                match output {
                    Some(o) if o.segments.len() == job.segment_count => {}
                    Some(_) => return Err(bad(format!("{want} has a different segment count"))),
                    None => return Err(bad(format!("{want} is missing"))),
                }
            }
        }
        Ok(job)
    }

    /// The rendition called `id`, or the largest one when `id` is `None`.
    pub fn rendition(&self, id: Option<&str>) -> Result<&RenditionEntry, VariantsError> {
        let found = match id {
            Some(id) => self.renditions.iter().find(|r| r.id == id),
            None => self.renditions.iter().max_by_key(|r| u64::from(r.width) * u64::from(r.height)),
        };
        found.ok_or_else(|| VariantsError::UnknownRendition {
            id: id.unwrap_or_default().to_owned(),
            available: self.renditions.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(", "),
        })
    }

    /// The shared audio output, if the source had audio.
    pub fn audio(&self) -> Option<&OutputEntry> {
        self.outputs.iter().find(|o| o.kind == "audio")
    }

    /// Recomputes each rendition's mean and peak bit rate from its outputs' segment sizes
    /// (packaging adds encryption boxes to every segment).
    pub(crate) fn refresh_bitrates(&mut self) {
        let timescale = f64::from(self.timescale.max(1));
        for r in &mut self.renditions {
            let suffix = format!("/{}", r.id);
            let segments: Vec<&SegmentInfo> = self
                .outputs
                .iter()
                .filter(|o| o.kind != "audio" && o.path.ends_with(&suffix))
                .flat_map(|o| &o.segments)
                .collect();
            let seconds = |s: &SegmentInfo| s.duration as f64 / timescale;
            let bytes: u64 = segments.iter().map(|s| s.bytes).sum();
            let total: f64 = segments.iter().map(|s| seconds(s)).sum();
            r.bitrate = (bytes as f64 * 8.0 / total.max(1e-9)) as u64;
            r.peak_bitrate = segments
                .iter()
                .map(|s| (s.bytes as f64 * 8.0 / seconds(s).max(1e-9)) as u64)
                .max()
                .unwrap_or(0);
        }
    }

    pub(crate) fn write(&self, dir: &Path) -> Result<(), VariantsError> {
        let path = dir.join("job.json");
        let text =
            serde_json::to_string_pretty(self).map_err(|e| VariantsError::io(&path, e.into()))?;
        std::fs::write(&path, text).map_err(|e| VariantsError::io(&path, e))
    }
}
