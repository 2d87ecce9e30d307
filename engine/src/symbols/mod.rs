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

pub use report::{SegmentDecision, SymbolReport, VideoSummary};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::dsp::{Fft2, IntegralImage};
use crate::key::WatermarkKey;
use crate::media::{MediaError, VideoDecoder};
use crate::register::{sample_grid, ToneCurve, Transform};
use crate::wm::embed::frame_gain;
use crate::wm::{BlockGrid, PatternBank, SegmentAccumulator, WatermarkParams};
use reference::{Reference, ReferenceWindow};

/// Knobs of the detector.
#[derive(Clone, Debug)]
pub struct SymbolOptions {
    pub params: WatermarkParams,
    /// `|z|` at or above which a segment is decided. Under "no watermark" `z` is standard normal,
    /// so 4.5 means a false decision on about 7 in a million unmarked segments.
    pub z_threshold: f64,
    /// Frame pairs used for spatial registration.
    pub registration_frames: usize,
}

impl Default for SymbolOptions {
    fn default() -> Self {
        Self { params: WatermarkParams::default(), z_threshold: 4.5, registration_frames: 5 }
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
    let fit = registration::register_files(copy, reference, options.registration_frames)?;
    let mut ref_decoder = VideoDecoder::open(reference)?;
    let mut copy_decoder = VideoDecoder::open(copy)?;
    let ref_info = ref_decoder.info().clone();
    let copy_info = copy_decoder.info().clone();
    let grid = BlockGrid::for_frame(ref_info.width, ref_info.height);
    let mut window = ReferenceWindow::new(grid, ref_info.fps);
    let mut scorer = FrameScorer::new(key, grid, options.params.clone(), fit.transform);
    let total = copy_info.duration_seconds.map(|d| (d * copy_info.fps).round() as u64);

    let mut frames = 0u64;
    while let Some(frame) = copy_decoder.next_frame()? {
        let t = frame.pts_seconds;
        if !window.advance_to(t, &mut ref_decoder)? {
            break; // the copy runs past the end of the reference
        }
        scorer.add(&frame.luma(), t, window.candidates(t));
        frames += 1;
        progress(Progress { frames, total });
    }
    if frames == 0 {
        return Err(SymbolsError::Empty { path: copy.to_path_buf() });
    }
    Ok(scorer.finish(options, fit, &ref_info, &copy_info))
}

/// Scores copy frames against reference frames, one accumulator per segment.
struct FrameScorer {
    grid: BlockGrid,
    params: WatermarkParams,
    transform: Transform,
    patterns: PatternBank,
    segments: BTreeMap<u64, SegmentAccumulator>,
    copy_integral: IntegralImage,
    copy_cells: Vec<Option<f32>>,
    residual: Vec<Option<f32>>,
}

impl FrameScorer {
    fn new(
        key: &WatermarkKey,
        grid: BlockGrid,
        params: WatermarkParams,
        transform: Transform,
    ) -> Self {
        Self {
            grid,
            params,
            transform,
            patterns: PatternBank::new(key, grid),
            segments: BTreeMap::new(),
            copy_integral: IntegralImage::new(),
            copy_cells: Vec::with_capacity(grid.len()),
            residual: Vec::with_capacity(grid.len()),
        }
    }

    /// Adds one copy frame, matched to whichever of the `candidates` it resembles most (frame-rate
    /// changes and timestamp jitter make "nearest in time" off by one frame now and then).
    fn add(&mut self, luma: &crate::frame::Luma<'_>, _t: f64, candidates: &[Reference]) {
        self.copy_integral.fill(luma);
        let cells = reference::region_grid(&self.grid);
        sample_grid(
            &self.copy_integral,
            &cells,
            (self.grid.width, self.grid.height),
            &self.transform,
            &mut self.copy_cells,
        );
        let Some((best, curve)) = candidates
            .iter()
            .map(|r| {
                let curve = ToneCurve::fit(&r.means, &self.copy_cells);
                (r, mean_square_residual(&r.means, &self.copy_cells, &curve), curve)
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(r, _, c)| (r, c))
        else {
            return;
        };
        self.residual.clear();
        self.residual.extend(
            best.means.iter().zip(&self.copy_cells).map(|(&r, c)| c.map(|c| c - curve.map(r))),
        );
        let segment = self.params.segment_of(best.pts);
        let pattern = self.patterns.get(segment);
        let gain = frame_gain(&self.params, &best.mask, &pattern.values, best.pts);
        let grid = self.grid;
        self.segments
            .entry(segment)
            .or_insert_with(|| SegmentAccumulator::new(segment, grid))
            .add_frame(&self.residual, &best.mask, &pattern, gain);
    }

    fn finish(
        mut self,
        options: &SymbolOptions,
        fit: registration::Fit,
        ref_info: &crate::media::VideoInfo,
        copy_info: &crate::media::VideoInfo,
    ) -> SymbolReport {
        let mut fft = Fft2::new(self.grid.rows, self.grid.cols);
        let filter = self.patterns.filter().clone();
        let scores: Vec<_> = std::mem::take(&mut self.segments)
            .into_values()
            .map(|acc| {
                let pattern = self.patterns.get(acc.segment);
                acc.finish(&pattern, &filter, &mut fft, self.params.strength)
            })
            .collect();
        report::build(scores, options, fit, ref_info, copy_info)
    }
}

fn mean_square_residual(reference: &[f32], copy: &[Option<f32>], curve: &ToneCurve) -> f64 {
    let (mut sum, mut n) = (0f64, 0usize);
    for (&r, c) in reference.iter().zip(copy) {
        if let Some(c) = c {
            let d = (c - curve.map(r)) as f64;
            sum += d * d;
            n += 1;
        }
    }
    if n == 0 {
        f64::INFINITY
    } else {
        sum / n as f64
    }
}
