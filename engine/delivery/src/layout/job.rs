//! `OUT/job.json`: what was made, for the packager, the edge and the detector. It names the
//! key by fingerprint only. `abmark variants` fills it; everyone else reads it through
//! [`JobFile::load`], which checks it describes a usable output.

use std::path::Path;

use abmark_bmff::cmaf::TrackKind;
use abmark_wm::Symbol;
use serde::{Deserialize, Serialize};

use super::LayoutError;

/// What one written segment holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentInfo {
    /// Duration in the track's timescale.
    pub duration: u64,
    pub samples: u32,
    pub bytes: u64,
}

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
    pub kind: TrackKind,
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
    pub wm_symbol: Option<Symbol>,
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

impl JobFile {
    /// Reads `OUT/job.json` and checks that it describes a usable output: one duration per
    /// segment, both variants of every rendition, every output with that many segments.
    /// Loads and checks `OUT/job.json`: segment counts agree, and every rendition id and output
    /// path is one of the layout's plain names (`0/<id>`, `1/<id>`, `audio`).
    pub fn load(out: &Path) -> Result<Self, LayoutError> {
        let path = out.join("job.json");
        let text = std::fs::read(&path).map_err(|e| LayoutError::io(&path, e))?;
        Self::parse(&text, &path)
    }

    /// [`Self::load`] on bytes already read; `path` names them in errors.
    pub fn parse(text: &[u8], path: &Path) -> Result<Self, LayoutError> {
        let bad = |reason: String| LayoutError::BadOutput { path: path.to_owned(), reason };
        let job: JobFile =
            serde_json::from_slice(text).map_err(|e| bad(format!("not a job file ({e})")))?;
        if job.segment_count == 0 || job.segment_durations.len() != job.segment_count {
            return Err(bad("segment count and durations disagree".into()));
        }
        if job.renditions.is_empty() {
            return Err(bad("no video rendition".into()));
        }
        // Every name that becomes a path must be one of the layout's own: a job.json from an
        // untrusted directory (`decrypt`, `serve`) must not lead a reader or writer elsewhere.
        for r in &job.renditions {
            if !is_safe_name(&r.id) {
                return Err(bad(format!("rendition id {:?} is not a plain name", r.id)));
            }
        }
        for o in &job.outputs {
            let layout = o.path == "audio"
                || o.path.split_once('/').is_some_and(|(v, id)| {
                    (v == "0" || v == "1") && job.renditions.iter().any(|r| r.id == id)
                });
            if !layout {
                return Err(bad(format!("output path {:?} is not part of the layout", o.path)));
            }
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
    pub fn rendition(&self, id: Option<&str>) -> Result<&RenditionEntry, LayoutError> {
        let found = match id {
            Some(id) => self.renditions.iter().find(|r| r.id == id),
            None => self.renditions.iter().max_by_key(|r| u64::from(r.width) * u64::from(r.height)),
        };
        found.ok_or_else(|| LayoutError::UnknownRendition {
            id: id.unwrap_or_default().to_owned(),
            available: self.renditions.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(", "),
        })
    }

    /// The shared audio output, if the source had audio.
    pub fn audio(&self) -> Option<&OutputEntry> {
        self.outputs.iter().find(|o| o.kind == TrackKind::Audio)
    }

    /// Recomputes each rendition's mean and peak bit rate from its outputs' segment sizes
    /// (packaging adds encryption boxes to every segment).
    pub fn refresh_bitrates(&mut self) {
        let timescale = f64::from(self.timescale.max(1));
        for r in &mut self.renditions {
            let suffix = format!("/{}", r.id);
            let segments: Vec<&SegmentInfo> = self
                .outputs
                .iter()
                .filter(|o| o.kind == TrackKind::Video && o.path.ends_with(&suffix))
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

    /// Writes `dir/job.json`.
    pub fn write(&self, dir: &Path) -> Result<(), LayoutError> {
        let path = dir.join("job.json");
        let text =
            serde_json::to_string_pretty(self).map_err(|e| LayoutError::io(&path, e.into()))?;
        std::fs::write(&path, text).map_err(|e| LayoutError::io(&path, e))
    }
}

/// A rendition id usable as one path component: 1 to 64 of `A-Z a-z 0-9 . _ -`, not `.` or `..`.
pub fn is_safe_name(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id != "."
        && id != ".."
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}
