//! Per-segment symbol detection of a copy against its reference, both as video files.
//!
//! This is the informed detector of the watermark core: the copy is assumed to start where the
//! reference starts (any frame rate), is registered in space against the reference once
//! ([`crate::register`]), and then every copy frame is matched to the nearest reference frame in
//! time, read at the reference's block grid, tone-corrected, and its residual accumulated into
//! its segment's matched filter ([`crate::wm::score`]). The leak detector of a later stage adds
//! temporal search on top; the per-frame work is this module's.

mod reference;
mod registration;
mod report;
mod scorer;

pub use reference::{Reference, ReferenceReducer};
pub use registration::{candidate_times, Fit, NearestFrames};
pub use report::{SegmentDecision, SymbolReport, VideoSummary};
pub use scorer::FrameScorer;

use std::path::{Path, PathBuf};

use crate::key::WatermarkKey;
use crate::media::{MediaError, VideoDecoder};
use crate::wm::{BlockGrid, WatermarkParams};
use reference::{ReferenceFeed, ReferenceWindow};
use registration::register_frames;

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
/// copy's start is decoded once more for them.
pub fn detect_symbols_with(
    copy: &Path,
    reference: &Path,
    key: &WatermarkKey,
    options: &SymbolOptions,
    copy_frames: Option<NearestFrames>,
    progress: &mut dyn FnMut(Progress),
) -> Result<SymbolReport, SymbolsError> {
    let offset = options.time_offset;
    let times = candidate_times(options.registration_frames, offset);
    let ref_decoder = VideoDecoder::open(reference)?;
    let ref_info = ref_decoder.info().clone();
    let grid = BlockGrid::for_frame(ref_info.width, ref_info.height);
    let reach = 2.0 / ref_info.fps.max(1.0);
    let ref_times = NearestFrames::new(times.iter().map(|t| t + offset).collect());
    // The reference is decoded once, from here on: it gathers its registration frames while
    // the copy's are (if need be) read.
    let mut feed = ReferenceFeed::start(ref_decoder, reference, grid, offset - reach, ref_times)?;
    let copy_frames = match copy_frames {
        Some(c) if c.times() == times.as_slice() && c.is_complete() => c,
        _ => {
            let mut c = NearestFrames::new(times);
            registration::frames_near(copy, &mut c)?;
            c
        }
    };
    let fit = register_frames(copy_frames, feed.registration()?, options.registration_frames);
    let mut copy_decoder = VideoDecoder::open(copy)?;
    let copy_info = copy_decoder.info().clone();
    let mut window = ReferenceWindow::new(ref_info.fps);
    let mut scorer =
        FrameScorer::new(key, grid, options.params.clone(), fit.transform).mirrored(fit.mirrored);
    let total = copy_info.duration_seconds.map(|d| (d * copy_info.fps).round() as u64);

    let mut frames = 0u64;
    while let Some(frame) = copy_decoder.next_frame()? {
        let t = frame.pts_seconds + offset;
        if t < -0.5 / ref_info.fps.max(1.0) {
            continue; // before the reference starts
        }
        if !window.advance_to(t, &mut feed)? {
            break; // the copy runs past the end of the reference
        }
        scorer.add(&frame.luma(), window.candidates(t));
        frames += 1;
        progress(Progress { frames, total });
    }
    if frames == 0 {
        return Err(SymbolsError::Empty { path: copy.to_path_buf() });
    }
    Ok(scorer.finish(options, fit, &ref_info, &copy_info))
}
