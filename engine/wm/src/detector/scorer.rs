//! The per-frame work of detection: read a copy frame at the reference's blocks, pick the
//! reference frame it shows, subtract, and add the residual to its segment's matched filter.

use std::collections::BTreeMap;

use super::reference::Reference;
use crate::dsp::{Fft2, IntegralImage};
use crate::embed::frame_gain;
use crate::frame::Luma;
use crate::key::WatermarkKey;
use crate::register::refine::PairedSums;
use crate::register::sample::rows_read;
use crate::register::{sample_grid, ToneCurve, Transform};
use crate::{BlockGrid, PatternBank, SegmentAccumulator, SegmentScore, WatermarkParams};

/// Scores copy frames against reference frames, one accumulator per segment.
pub struct FrameScorer {
    grid: BlockGrid,
    params: WatermarkParams,
    transform: Transform,
    /// Read copy frames mirrored left to right (a flipped copy).
    mirrored: bool,
    patterns: PatternBank,
    segments: BTreeMap<u64, SegmentAccumulator>,
    copy_integral: IntegralImage,
    /// The integral-image rows sampling reads, once worked out for a copy size.
    rows_read: Option<RowsRead>,
    copy_cells: Vec<Option<f32>>,
    residual: Vec<Option<f32>>,
    /// Scratch for the residual's robust spread.
    spread: Vec<f32>,
}

/// The integral-image rows sampling reads from copy frames of one size (`rows: None`: the
/// transform reads anywhere, so the whole table is built).
struct RowsRead {
    size: (usize, usize),
    rows: Option<Vec<usize>>,
}

/// Residuals further than this many robust standard deviations from the frame's median are
/// not watermark plus noise but something drawn over the picture (a logo, subtitles, a
/// ticker): those blocks are left out of that frame. Gaussian noise passes at this distance in
/// all but 2 of a billion blocks.
const OUTLIER_SIGMAS: f32 = 6.0;

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
            mirrored: false,
            patterns: PatternBank::new(key, grid),
            segments: BTreeMap::new(),
            copy_integral: IntegralImage::new(),
            rows_read: None,
            copy_cells: Vec::with_capacity(grid.len()),
            residual: Vec::with_capacity(grid.len()),
            spread: Vec::with_capacity(grid.len()),
        }
    }

    /// Reads copy frames mirrored left to right (for a copy registered as flipped).
    pub fn mirrored(mut self, mirrored: bool) -> Self {
        self.mirrored = mirrored;
        self
    }

    /// Adds one copy frame, matched to whichever of the `candidates` it resembles most (frame-rate
    /// changes and timestamp jitter make "nearest in time" off by one frame now and then).
    /// Returns how well the frame matched that reference frame ([`block_correlation`]), or
    /// `None` for a frame too flat to tell.
    pub fn add(&mut self, luma: &Luma<'_>, candidates: &[Reference]) -> Option<f64> {
        let cells = super::reference::region_grid(&self.grid);
        let clip = (self.grid.width, self.grid.height);
        // The transform is fixed, so the rows sampling reads depend only on the copy's size:
        // build only those (a fifth of the table at 1080p, with the same sums).
        let size = (luma.width, luma.height);
        if self.rows_read.as_ref().is_none_or(|r| r.size != size) {
            let rows = rows_read(&cells, clip, &self.transform, luma.height);
            self.rows_read = Some(RowsRead { size, rows });
        }
        match self.rows_read.as_ref().and_then(|r| r.rows.as_deref()) {
            Some(rows) => self.copy_integral.fill_rows_only(luma, self.mirrored, rows),
            None if self.mirrored => self.copy_integral.fill_mirrored(luma),
            None => self.copy_integral.fill(luma),
        }
        sample_grid(&self.copy_integral, &cells, clip, &self.transform, &mut self.copy_cells);
        let (best, curve) = candidates
            .iter()
            .map(|r| {
                let curve = ToneCurve::fit(&r.means, &self.copy_cells);
                (r, mean_square_residual(&r.means, &self.copy_cells, &curve), curve)
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(r, _, c)| (r, c))?;
        let matched = block_correlation(&best.means, &self.copy_cells);
        self.residual.clear();
        self.residual.extend(
            best.means.iter().zip(&self.copy_cells).map(|(&r, c)| c.map(|c| c - curve.map(r))),
        );
        drop_outliers(&mut self.residual, &mut self.spread);
        let segment = self.params.segment_of(best.pts);
        let pattern = self.patterns.get(segment);
        let gain = frame_gain(&self.params, &best.mask, &pattern.values, best.pts);
        let grid = self.grid;
        self.segments
            .entry(segment)
            .or_insert_with(|| SegmentAccumulator::new(segment, grid))
            .add_frame(&self.residual, &best.mask, &pattern, gain);
        matched
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
}

/// Leaves out (sets to `None`) the residuals more than [`OUTLIER_SIGMAS`] robust standard
/// deviations (1.4826 x the median absolute deviation) from the median. Median and deviation
/// come from every fourth block: thousands of samples pin them down, at a quarter of the cost.
fn drop_outliers(residual: &mut [Option<f32>], scratch: &mut Vec<f32>) {
    scratch.clear();
    scratch.extend(residual.iter().step_by(4).flatten());
    if scratch.len() < 16 {
        return;
    }
    let mid = scratch.len() / 2;
    let median = *scratch.select_nth_unstable_by(mid, f32::total_cmp).1;
    scratch.iter_mut().for_each(|v| *v = (*v - median).abs());
    let mad = *scratch.select_nth_unstable_by(mid, f32::total_cmp).1;
    // A picture the copy shows unchanged (mad 0) has nothing to reject.
    if mad <= 0.0 {
        return;
    }
    let limit = OUTLIER_SIGMAS * 1.4826 * mad;
    for r in residual.iter_mut() {
        if r.is_some_and(|v| (v - median).abs() > limit) {
            *r = None;
        }
    }
}

/// Reference blocks must vary at least this much (grey levels, standard deviation) for a
/// frame's block correlation to mean anything: black frames and flat fades carry no layout.
const MIN_REFERENCE_SPREAD: f64 = 2.0;

/// Pearson correlation of the reference frame's block means with the copy's registered blocks:
/// about 1 while the copy shows this reference frame at the registered geometry, whatever the
/// re-encode or tone change; near 0 once it shows something else or is framed differently.
/// `None` when the reference frame is too flat or too few blocks are inside the copy.
fn block_correlation(reference: &[f32], copy: &[Option<f32>]) -> Option<f64> {
    let sums = PairedSums::of(reference, copy);
    if sums.n < 64 || sums.n * 4 < reference.len() {
        return None;
    }
    let (cov, vr, vc) = sums.centred();
    let spread = MIN_REFERENCE_SPREAD * MIN_REFERENCE_SPREAD * sums.n as f64;
    if vr < spread || vc <= 0.0 {
        return None;
    }
    Some(cov / (vr * vc).sqrt())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawn_over_blocks_are_dropped_and_noise_is_kept() {
        // Noise of a few grey levels (a fixed pseudo-random sequence), plus a "logo": 3 % of
        // the blocks 40 grey levels brighter, and a few blocks outside the picture.
        let mut state = 12345u32;
        let mut noise = || {
            let mut s = 0.0;
            for _ in 0..12 {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                s += (state >> 8) as f32 / (1u32 << 24) as f32;
            }
            (s - 6.0) * 2.0
        };
        let mut residual: Vec<Option<f32>> = (0..2000).map(|_| Some(noise())).collect();
        for r in residual.iter_mut().skip(100).take(60) {
            *r = r.map(|v| v + 40.0);
        }
        residual[5] = None;
        let mut scratch = Vec::new();
        let before = residual.clone();
        drop_outliers(&mut residual, &mut scratch);
        let dropped: Vec<usize> =
            (0..residual.len()).filter(|&i| before[i].is_some() && residual[i].is_none()).collect();
        assert_eq!(dropped, (100..160).collect::<Vec<_>>());
        // A clean frame loses nothing.
        let mut clean: Vec<Option<f32>> = (0..2000).map(|_| Some(noise())).collect();
        let copy = clean.clone();
        drop_outliers(&mut clean, &mut scratch);
        assert_eq!(clean, copy);
    }
}
