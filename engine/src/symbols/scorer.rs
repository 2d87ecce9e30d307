//! The per-frame work of detection: read a copy frame at the reference's blocks, pick the
//! reference frame it shows, subtract, and add the residual to its segment's matched filter.

use std::collections::BTreeMap;

use super::reference::Reference;
use super::registration::Fit;
use super::report::{self, SymbolReport};
use super::SymbolOptions;
use crate::dsp::{Fft2, IntegralImage};
use crate::frame::Luma;
use crate::key::WatermarkKey;
use crate::media::VideoInfo;
use crate::register::{sample_grid, ToneCurve, Transform};
use crate::wm::embed::frame_gain;
use crate::wm::{BlockGrid, PatternBank, SegmentAccumulator, SegmentScore, WatermarkParams};

/// Scores copy frames against reference frames, one accumulator per segment.
pub struct FrameScorer {
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
    pub fn new(
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
    pub fn add(&mut self, luma: &Luma<'_>, candidates: &[Reference]) {
        self.copy_integral.fill(luma);
        let cells = super::reference::region_grid(&self.grid);
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

    /// The score of every segment seen so far, in segment order.
    pub fn scores(&mut self) -> Vec<SegmentScore> {
        let mut fft = Fft2::new(self.grid.rows, self.grid.cols);
        let filter = self.patterns.filter().clone();
        let segments = std::mem::take(&mut self.segments);
        let scores = segments
            .values()
            .map(|acc| {
                let pattern = self.patterns.get(acc.segment);
                acc.finish(&pattern, &filter, &mut fft, self.params.strength)
            })
            .collect();
        self.segments = segments;
        scores
    }

    pub(super) fn finish(
        mut self,
        options: &SymbolOptions,
        fit: Fit,
        ref_info: &VideoInfo,
        copy_info: &VideoInfo,
    ) -> SymbolReport {
        let scores = self.scores();
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
