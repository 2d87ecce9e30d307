//! Per-segment symbol detection of a copy against its reference, both as video files.
//!
//! This is the informed detector of the watermark core: a piece of the copy, at a known offset
//! from the reference (any frame rate), is registered in space against the reference
//! ([`abmark_wm::register`]), and then every copy frame is matched to the nearest reference frame in
//! time, read at the reference's block grid, tone-corrected, and its residual accumulated into
//! its segment's matched filter ([`abmark_wm::score`]). Each frame also says how well it matched;
//! the core's [`LossMonitor`](abmark_wm::detector::LossMonitor) turns that into "the alignment is
//! lost here", so the leak detector (which adds the temporal search) can read an edited or
//! re-framed copy piece by piece. The per-frame work is the core's ([`abmark_wm::detector`]);
//! this module decides which frames of which file to decode and feeds them to it.

mod reference;
mod registration;
mod report;

pub use registration::{frames_near, open_at};
pub use report::{PieceSummary, SegmentDecision, SymbolReport, VideoSummary};

use std::path::{Path, PathBuf};

use crate::copy::{CopyFrames, HeldFrames};
use crate::video::ReferenceVideo;
use abmark_media::{MediaError, VideoInfo};
use abmark_wm::detector::{
    candidate_times, register_frames, Fit, FrameScorer, LossMonitor, NearestFrames,
};
use abmark_wm::key::WatermarkKey;
use abmark_wm::{BlockGrid, SegmentScore, WatermarkParams};
use reference::{ReferenceFeed, ReferenceWindow};

/// Knobs of the detector.
#[derive(Clone, Debug)]
pub struct SymbolOptions {
    pub params: WatermarkParams,
    /// `|z|` at or above which a segment is decided. Under "no watermark" `z` is standard normal,
    /// so 4.5 means a false decision on about 7 in a million unmarked segments.
    pub z_threshold: f64,
    /// Frame pairs used for spatial registration.
    pub registration_frames: usize,
    /// Reference time of the copy's time 0 (seconds): an excerpt's start in the reference, as
    /// found by temporal registration. 0 for a copy that starts where the reference starts.
    pub time_offset: f64,
}

impl Default for SymbolOptions {
    fn default() -> Self {
        Self {
            params: WatermarkParams::default(),
            z_threshold: 4.5,
            registration_frames: 5,
            time_offset: 0.0,
        }
    }
}

/// Why detection could not run. One line each, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum SymbolsError {
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error("{path}: no video frames could be decoded")]
    Empty { path: PathBuf },
}

/// Progress of a detection: copy frames scored so far and the expected total, if known.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub frames: u64,
    pub total: Option<u64>,
}

/// Decides, per segment, which symbol `copy` carries, with `reference` as the unmarked original.
pub fn detect_symbols(
    copy: &Path,
    reference: &Path,
    key: &WatermarkKey,
    options: &SymbolOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<SymbolReport, SymbolsError> {
    detect_symbols_with(copy, reference, key, options, None, progress)
}

/// [`detect_symbols`] with the copy's registration frames already gathered by a pass that
/// decoded the start of the copy anyway (the leak detector's temporal probe). They are used if
/// they were gathered at the times this detection needs ([`candidate_times`]); otherwise the
/// copy's start is decoded once more for them. The whole copy is read at one alignment.
pub fn detect_symbols_with(
    copy: &Path,
    reference: &Path,
    key: &WatermarkKey,
    options: &SymbolOptions,
    copy_frames: Option<NearestFrames>,
    progress: &mut dyn FnMut(Progress),
) -> Result<SymbolReport, SymbolsError> {
    let piece = PieceRequest {
        from: 0.0,
        copy_frames,
        held: None,
        stop_when_lost: false,
        min_fit: f64::MIN,
    };
    let reference = ReferenceVideo::from(reference);
    let scored = score_piece(copy, &reference, key, options, piece, 0, progress)?;
    Ok(scored.report(options, Vec::new()))
}

/// Where a piece of the copy starts and how to read it.
pub struct PieceRequest {
    /// Copy time (seconds) of the piece's first frame; `options.time_offset` is its offset.
    pub from: f64,
    /// The copy's registration frames at [`candidate_times`]`(.., from, offset)`, if a pass
    /// over that part of the copy gathered them.
    pub copy_frames: Option<NearestFrames>,
    /// The planes that pass decoded from `from` on ([`HeldFrames`]): read instead of decoding
    /// that part of the copy again.
    pub held: Option<HeldFrames>,
    /// Stop at the first frame where the alignment is lost ([`LossMonitor`]), so the
    /// rest can be aligned afresh; otherwise read to the end whatever happens.
    pub stop_when_lost: bool,
    /// A spatial fit below this block correlation is not read at all (the piece comes back
    /// with its fit and no scores): it is not this content, or not at this offset.
    pub min_fit: f64,
}

/// One piece of a copy, read at one alignment: its segment scores and how it was aligned.
pub struct ScoredPiece {
    pub piece: PieceSummary,
    pub fit: Fit,
    pub scores: Vec<SegmentScore>,
    pub frames: u64,
    pub ref_info: VideoInfo,
    pub copy_info: VideoInfo,
}

impl ScoredPiece {
    /// The report of this piece and of `more` pieces after it (their segments join this
    /// piece's; a segment seen in two pieces keeps the reading from more frames).
    pub fn report(self, options: &SymbolOptions, more: Vec<ScoredPiece>) -> SymbolReport {
        let mut pieces = vec![self.piece];
        let mut scores: std::collections::BTreeMap<u64, SegmentScore> =
            self.scores.into_iter().map(|s| (s.segment, s)).collect();
        for p in more {
            pieces.push(p.piece);
            for s in p.scores {
                match scores.get(&s.segment) {
                    Some(kept) if kept.frames >= s.frames => {}
                    _ => {
                        scores.insert(s.segment, s);
                    }
                }
            }
        }
        let scores = scores.into_values().collect();
        report::build(scores, options, self.fit, &self.ref_info, &self.copy_info, pieces)
    }
}

/// Scores the copy from `piece.from` at `options.time_offset`: registers that part of the copy
/// in space, then reads every frame until the copy (or the reference) ends, or, with
/// `stop_when_lost`, until the alignment no longer holds. `frames_before`: frames scored by
/// earlier pieces (for progress).
pub fn score_piece(
    copy: &Path,
    reference: &ReferenceVideo,
    key: &WatermarkKey,
    options: &SymbolOptions,
    piece: PieceRequest,
    frames_before: u64,
    progress: &mut dyn FnMut(Progress),
) -> Result<ScoredPiece, SymbolsError> {
    let (from, offset) = (piece.from, options.time_offset);
    let times = candidate_times(options.registration_frames, from, offset);
    let ref_info = reference.info()?;
    let grid = BlockGrid::for_frame(ref_info.width, ref_info.height);
    // A smaller variants rung has the same blocks, each fewer pixels wide.
    let decoded_grid = reference.decoded_size().map_or(grid, |(w, h)| BlockGrid::for_frame(w, h));
    let reach = 2.0 / ref_info.fps.max(1.0);
    let ref_times = NearestFrames::new(times.iter().map(|t| t + offset).collect());
    // The reference is decoded once, from here on: it gathers its registration frames while
    // the copy's are (if need be) read.
    let start = from + offset - reach;
    let geometry = (ref_info.width, ref_info.height);
    let mut feed = ReferenceFeed::start(reference, decoded_grid, geometry, start, ref_times)?;
    let copy_frames = match piece.copy_frames {
        Some(c) if c.times() == times.as_slice() && c.is_complete() => c,
        _ => {
            let mut c = NearestFrames::new(times);
            registration::frames_near(copy, from, &mut c)?;
            c
        }
    };
    let fit = register_frames(copy_frames, feed.registration()?, options.registration_frames);
    let mut copy_reader = CopyFrames::open(copy, from, piece.held)?;
    let copy_info = copy_reader.info().clone();
    let summary = |to_seconds: f64, lost: bool| PieceSummary {
        from_seconds: from,
        to_seconds,
        lost,
        offset_seconds: offset,
        transform: fit.transform,
        mirrored: fit.mirrored,
        correlation: fit.correlation,
    };
    if fit.correlation < piece.min_fit {
        let (piece, scores) = (summary(from, false), Vec::new());
        return Ok(ScoredPiece { piece, fit, scores, frames: 0, ref_info, copy_info });
    }
    let mut window = ReferenceWindow::new(ref_info.fps);
    let mut scorer =
        FrameScorer::new(key, grid, options.params.clone(), fit.transform).mirrored(fit.mirrored);
    let mut monitor = LossMonitor::new(copy_info.fps);
    let total = copy_info.duration_seconds.map(|d| (d * copy_info.fps).round() as u64);

    let (mut frames, mut last, mut lost) = (0u64, from, None);
    while let Some(frame) = copy_reader.next_frame()? {
        let pts = frame.pts();
        if from > 0.0 && pts < from {
            continue; // before this piece (a jump lands on the keyframe before it)
        }
        let t = pts + offset;
        if t < -0.5 / ref_info.fps.max(1.0) {
            continue; // before the reference starts
        }
        if !window.advance_to(t, &mut feed)? {
            break; // the copy runs past the end of the reference
        }
        let matched = scorer.add(&frame.luma(), window.candidates(t));
        frames += 1;
        last = pts;
        progress(Progress { frames: frames_before + frames, total });
        if piece.stop_when_lost {
            lost = monitor.observe(pts, matched);
            if lost.is_some() {
                break;
            }
        }
    }
    if frames == 0 && frames_before == 0 {
        return Err(SymbolsError::Empty { path: copy.to_path_buf() });
    }
    let piece = summary(lost.unwrap_or(last), lost.is_some());
    Ok(ScoredPiece { piece, fit, scores: scorer.scores(), frames, ref_info, copy_info })
}
