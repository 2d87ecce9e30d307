//! What `symbols` reports: per-segment decisions with their statistics, and how the copy was
//! aligned. Serialisable as the JSON the CLI prints.

use super::SymbolOptions;
use abmark_media::VideoInfo;
use abmark_wm::detector::Fit;
use abmark_wm::register::Transform;
use abmark_wm::score::{decide, llr, p_unmarked};
use abmark_wm::{SegmentScore, Symbol};

/// Minimal description of an input video.
#[derive(Clone, Debug, serde::Serialize, PartialEq)]
pub struct VideoSummary {
    pub width: usize,
    pub height: usize,
    pub fps: f64,
    pub duration_seconds: Option<f64>,
    pub codec: String,
}

impl From<&VideoInfo> for VideoSummary {
    fn from(i: &VideoInfo) -> Self {
        Self {
            width: i.width,
            height: i.height,
            fps: i.fps,
            duration_seconds: i.duration_seconds,
            codec: i.codec.clone(),
        }
    }
}

/// The decision for one segment.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SegmentDecision {
    pub index: u64,
    pub start_seconds: f64,
    pub frames: u32,
    /// 0, 1, or `None` when the evidence is below the threshold.
    pub symbol: Option<Symbol>,
    /// Standard-normal score: > 0 favours symbol 0, < 0 symbol 1.
    pub z: f64,
    /// Log-likelihood ratio ln P(symbol 0) / P(symbol 1), calibrated with the copy's median |z|.
    pub llr: f64,
    /// Posterior probability of the more likely symbol (from `llr`).
    pub confidence: f64,
    /// Probability that an unmarked segment scores this far from zero.
    pub p_unmarked: f64,
    /// Share of the embedded amplitude found in the copy.
    pub retained: f64,
}

/// One piece of the copy read at one alignment: an unedited copy is one piece; an edited or
/// re-framed one is read piece by piece, each aligned afresh.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PieceSummary {
    /// Copy time of the piece's first frame.
    pub from_seconds: f64,
    /// Copy time where it ended: the last frame read, or where the alignment was lost.
    pub to_seconds: f64,
    /// The piece ended because the copy stopped matching the reference at this alignment.
    pub lost: bool,
    /// Reference time = copy time + this.
    pub offset_seconds: f64,
    pub transform: Transform,
    pub mirrored: bool,
    /// Block correlation of the registered piece with the reference.
    pub correlation: f64,
}

/// Everything `symbols` found.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SymbolReport {
    pub reference: VideoSummary,
    pub copy: VideoSummary,
    pub transform: Transform,
    /// The copy is flipped left to right (read mirrored before `transform`).
    pub mirrored: bool,
    /// Block correlation of the registered copy with the reference (about 1: same picture).
    pub match_correlation: f64,
    /// Median |z| over complete segments: the copy's signal strength in noise units.
    pub signal_z: f64,
    pub z_threshold: f64,
    pub segments: Vec<SegmentDecision>,
    /// How the copy was read: the first piece is the alignment above; more than one when the
    /// copy was edited or re-framed.
    pub pieces: Vec<PieceSummary>,
}

impl SymbolReport {
    /// Segments decided, and how many carry each symbol.
    pub fn decided(&self) -> usize {
        self.segments.iter().filter(|s| s.symbol.is_some()).count()
    }
}

pub(super) fn build(
    scores: Vec<SegmentScore>,
    options: &SymbolOptions,
    fit: Fit,
    ref_info: &VideoInfo,
    copy_info: &VideoInfo,
    pieces: Vec<PieceSummary>,
) -> SymbolReport {
    let full = scores.iter().map(|s| s.frames).max().unwrap_or(0);
    let mut magnitudes: Vec<f64> =
        scores.iter().filter(|s| 2 * s.frames >= full).map(|s| s.z.abs()).collect();
    magnitudes.sort_by(f64::total_cmp);
    let signal_z = magnitudes.get(magnitudes.len() / 2).copied().unwrap_or(0.0);
    let segments = scores
        .iter()
        .map(|s| {
            let l = llr(s.z, signal_z);
            SegmentDecision {
                index: s.segment,
                start_seconds: s.segment as f64 * options.params.segment_seconds,
                frames: s.frames,
                symbol: decide(s.z, options.z_threshold),
                z: s.z,
                llr: l,
                confidence: 1.0 / (1.0 + (-l.abs()).exp()),
                p_unmarked: p_unmarked(s.z),
                retained: s.retained,
            }
        })
        .collect();
    SymbolReport {
        reference: ref_info.into(),
        copy: copy_info.into(),
        transform: fit.transform,
        mirrored: fit.mirrored,
        match_correlation: fit.correlation,
        signal_z,
        z_threshold: options.z_threshold,
        segments,
        pieces,
    }
}
