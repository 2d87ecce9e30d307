//! The perceptual mask: how much pattern each block of a frame can hide.
//!
//! Two classic masking effects set the strength per block: texture and edges hide more than
//! flat areas (activity masking, here the mean absolute luma gradient), and dark areas show
//! small changes more than mid-grey ones (luminance masking). Statistics are taken on every other
//! row, which halves the cost and changes the mask by far less than its own smoothing. The mask
//! is a pure function of the frame, so the detector, which holds the reference frames, rebuilds
//! exactly the mask the embedder used.

use ndarray::{Array2, ArrayViewMut1, Axis};
use rayon::prelude::*;

use super::grid::BlockGrid;
use crate::frame::Luma;
use crate::simd::{kernels, ColumnSums};

/// Per-block statistics of one frame on a [`BlockGrid`], each a `rows x cols` grid (index
/// `[[row, col]]`; row-major, so `iter` walks blocks in the order the mask and the detector's
/// flat per-block vectors use).
#[derive(Clone, Debug, Default)]
pub struct BlockStats {
    /// Mean luma of the block (sampled rows): what the mask uses.
    pub mean: Array2<f32>,
    /// Mean luma of the block over all its pixels: what the detector subtracts.
    pub full_mean: Array2<f32>,
    /// Mean absolute horizontal plus vertical luma difference (sampled rows).
    pub activity: Array2<f32>,
    /// Per-pixel-column running sums for each row of blocks (`COLUMN_SUMS` arrays of `width`
    /// each), and their per-block totals (`COLUMN_SUMS` arrays of `cols`), kept between frames
    /// so that no frame allocates.
    columns: Vec<u16>,
    totals: Vec<u32>,
}

/// Column sums kept per row of blocks: sampled pixels, all pixels, horizontal and vertical
/// differences.
const COLUMN_SUMS: usize = 4;

impl BlockStats {
    /// Recomputes the statistics of `luma` on `grid`, reusing the buffers.
    pub fn compute(&mut self, luma: &Luma<'_>, grid: &BlockGrid) {
        for stat in [&mut self.mean, &mut self.full_mean, &mut self.activity] {
            if stat.dim() != (grid.rows, grid.cols) {
                *stat = Array2::zeros((grid.rows, grid.cols));
            }
        }
        self.columns.resize(grid.rows * COLUMN_SUMS * luma.width, 0);
        self.totals.resize(grid.rows * COLUMN_SUMS * grid.cols, 0);
        // One rayon task per row of blocks: the grids' rows, and that row's scratch.
        self.mean
            .axis_iter_mut(Axis(0))
            .into_par_iter()
            .zip(self.full_mean.axis_iter_mut(Axis(0)))
            .zip(self.activity.axis_iter_mut(Axis(0)))
            .zip(self.columns.par_chunks_mut(COLUMN_SUMS * luma.width))
            .zip(self.totals.par_chunks_mut(COLUMN_SUMS * grid.cols))
            .enumerate()
            .for_each(|(r, ((((mean, full), act), columns), totals))| {
                block_row_stats(luma, grid, r, BlockRow { mean, full, act, columns, totals })
            });
    }
}

/// The output rows of one row of blocks, and its column-sum scratch.
struct BlockRow<'a> {
    mean: ArrayViewMut1<'a, f32>,
    full: ArrayViewMut1<'a, f32>,
    act: ArrayViewMut1<'a, f32>,
    columns: &'a mut [u16],
    totals: &'a mut [u32],
}

/// Statistics of one row of blocks in two steps: sum each pixel column over the block's rows
/// ([`crate::simd::Kernels::block_columns`]), then sum columns per block
/// ([`crate::simd::Kernels::block_sums`]). Sums fit in u16 for blocks up to 64 pixels high.
fn block_row_stats(luma: &Luma<'_>, grid: &BlockGrid, r: usize, out: BlockRow<'_>) {
    let BlockRow { mut mean, mut full, mut act, columns, totals } = out;
    let (w, k) = (luma.width, kernels());
    let y0 = r * grid.block;
    let y1 = (y0 + grid.block).min(luma.height);
    let (sampled, rest) = columns.split_at_mut(w);
    let (all, rest) = rest.split_at_mut(w);
    let (horizontal, vertical) = rest.split_at_mut(w);
    let rows = k.block_columns(luma, (y0, y1), ColumnSums { sampled, all, horizontal, vertical });
    for (column, total) in columns.chunks_exact(w).zip(totals.chunks_exact_mut(grid.cols)) {
        k.block_sums(column, grid.block, total);
    }
    let mut totals = totals.chunks_exact(grid.cols);
    let mut next = || totals.next().unwrap_or_default();
    let (sampled, all, horizontal, vertical) = (next(), next(), next(), next());
    for c in 0..grid.cols {
        let (x0, x1, _, _) = grid.block_rect(c, r);
        let n = (rows as usize * (x1 - x0)).max(1) as f32;
        mean[c] = sampled[c] as f32 / n;
        full[c] = all[c] as f32 / ((y1 - y0) * (x1 - x0)) as f32;
        act[c] = (horizontal[c] as f32 + vertical[c] as f32) / n;
    }
}

/// Activity (mean |gradient|, grey levels) at which a block takes the nominal strength.
const NOMINAL_ACTIVITY: f32 = 4.0;
/// Bounds of the activity factor: flat blocks still carry some signal, busy ones not too much.
const MIN_ACTIVITY_GAIN: f32 = 0.4;
const MAX_ACTIVITY_GAIN: f32 = 2.2;
/// Luminance factor ramps from `DARK_GAIN` at `DARK_LUMA` up to 1 at `MID_LUMA`.
const DARK_GAIN: f32 = 0.4;
const DARK_LUMA: f32 = 32.0;
const MID_LUMA: f32 = 96.0;

/// The mask (relative strength per block, around 1) from block statistics, smoothed over 3x3
/// blocks so that strength never jumps between neighbours. `scratch` avoids an allocation.
pub fn mask_from_stats(
    stats: &BlockStats,
    grid: &BlockGrid,
    out: &mut Vec<f32>,
    scratch: &mut Vec<f32>,
) {
    scratch.clear();
    // Over the contiguous slices (the grids are made row-major), the loop vectorises; ndarray's
    // element iterator would push one block at a time.
    match (stats.mean.as_slice(), stats.activity.as_slice()) {
        (Some(mean), Some(activity)) => {
            scratch.extend(mean.iter().zip(activity).map(|(&m, &a)| block_gain(m, a)))
        }
        _ => {
            scratch.extend(stats.mean.iter().zip(&stats.activity).map(|(&m, &a)| block_gain(m, a)))
        }
    }
    out.resize(grid.len(), 0.0);
    kernels().box3(scratch, grid.cols, grid.rows, out);
}

#[inline]
fn block_gain(mean: f32, activity: f32) -> f32 {
    let act = (activity / NOMINAL_ACTIVITY).sqrt().clamp(MIN_ACTIVITY_GAIN, MAX_ACTIVITY_GAIN);
    let t = ((mean - DARK_LUMA) / (MID_LUMA - DARK_LUMA)).clamp(0.0, 1.0);
    act * (DARK_GAIN + (1.0 - DARK_GAIN) * t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::OwnedLuma;
    use ndarray::s;

    #[test]
    fn texture_gets_more_than_flat_and_dark_gets_less() {
        // Left third flat mid-grey, middle third noisy mid-grey, right third flat dark.
        let (w, h) = (480, 96);
        let mut img = OwnedLuma::new(w, h);
        for y in 0..h {
            for x in 0..w {
                img.data[y * w + x] = if x < 160 {
                    128
                } else if x < 320 {
                    (128 + ((x * 7919 + y * 104729) % 41) as i32 - 20) as u8
                } else {
                    20
                };
            }
        }
        let grid = BlockGrid::for_frame(w, h);
        let mut stats = BlockStats::default();
        stats.compute(&img.view(), &grid);
        let (mut mask, mut scratch) = (Vec::new(), Vec::new());
        mask_from_stats(&stats, &grid, &mut mask, &mut scratch);
        let at = |x: usize| mask[(h / grid.block / 2) * grid.cols + x / grid.block];
        assert!(at(240) > 1.5 * at(80), "texture {} flat {}", at(240), at(80));
        assert!(at(400) < at(80), "dark {} flat {}", at(400), at(80));
        assert!((stats.mean[[0, 0]] - 128.0).abs() < 1e-3);
        // Full means cover every pixel: compare with a direct sum on a busy block.
        let c = 240 / grid.block;
        let (x0, x1, y0, y1) = grid.block_rect(c, 1);
        let block = img.view().array().expect("plane").slice_move(s![y0..y1, x0..x1]);
        let direct = block.iter().map(|&p| p as f32).sum::<f32>() / block.len() as f32;
        assert!((stats.full_mean[[1, c]] - direct).abs() < 1e-3);
    }
}
