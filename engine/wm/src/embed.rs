//! Embedding: mark a decoded frame's luma plane, in place, with symbol 0 or 1.
//!
//! Per frame: block statistics and mask of the *unmarked* frame, times the segment's pattern,
//! times the fade gain at the frame's time, capped to the frame's RMS budget; then the product is
//! upsampled and added (symbol 0) or subtracted (symbol 1). [`Embedder::prepare`] does everything
//! that does not depend on the symbol, so the two variants of a frame cost one mask and two cheap
//! additions. Buffers live in the embedder: no allocation per frame.

use super::grid::BlockGrid;
use super::mask::{mask_from_stats, BlockStats};
use super::pattern::PatternBank;
use super::upsample::Upsampler;
use super::{Symbol, WatermarkParams};
use crate::frame::{Luma, LumaMut};
use crate::key::WatermarkKey;

/// What was prepared for one frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FramePlan {
    pub segment: u64,
    /// RMS of the block signal in grey levels (before rounding to pixels).
    pub rms: f32,
    /// Combined fade and RMS-cap gain applied on top of strength x mask x pattern.
    pub gain: f32,
}

/// Marks frames of one size with one key.
pub struct Embedder {
    params: WatermarkParams,
    grid: BlockGrid,
    patterns: PatternBank,
    stats: BlockStats,
    mask: Vec<f32>,
    scratch: Vec<f32>,
    signal: Vec<f32>,
    upsampler: Upsampler,
}

impl Embedder {
    pub fn new(key: &WatermarkKey, width: usize, height: usize, params: WatermarkParams) -> Self {
        let grid = BlockGrid::for_frame(width, height);
        Self {
            params,
            grid,
            patterns: PatternBank::new(key, grid),
            stats: BlockStats::default(),
            mask: Vec::with_capacity(grid.len()),
            scratch: Vec::with_capacity(grid.len()),
            signal: vec![0.0; grid.len()],
            upsampler: Upsampler::new(grid),
        }
    }

    pub fn grid(&self) -> &BlockGrid {
        &self.grid
    }

    pub fn params(&self) -> &WatermarkParams {
        &self.params
    }

    /// Computes the frame's signal from the unmarked picture at `pts_seconds`.
    pub fn prepare(&mut self, luma: &Luma<'_>, pts_seconds: f64) -> FramePlan {
        self.stats.compute(luma, &self.grid);
        mask_from_stats(&self.stats, &self.grid, &mut self.mask, &mut self.scratch);
        let segment = self.params.segment_of(pts_seconds);
        let pattern = self.patterns.get(segment);
        let gain = frame_gain(&self.params, &self.mask, &pattern.values, pts_seconds);
        let amplitude = self.params.strength * gain;
        for ((s, m), p) in self.signal.iter_mut().zip(&self.mask).zip(&pattern.values) {
            *s = amplitude * m * p;
        }
        self.upsampler.load(&self.signal);
        let rms = rms(&self.signal);
        FramePlan { segment, rms, gain }
    }

    /// Adds the prepared signal for `symbol` to a frame (the one prepared, or a copy of it).
    pub fn apply(&self, luma: &mut LumaMut<'_>, symbol: Symbol) {
        self.upsampler.add(luma, symbol.sign() as i16);
    }

    /// [`Embedder::apply`] through the per-pixel reference kernel (tests and benchmarks).
    pub fn apply_reference(&self, luma: &mut LumaMut<'_>, symbol: Symbol) {
        self.upsampler.add_reference(luma, symbol.sign() as i16);
    }

    /// Prepares and applies in one call.
    pub fn embed(&mut self, luma: &mut LumaMut<'_>, pts_seconds: f64, symbol: Symbol) -> FramePlan {
        let plan = self.prepare(&luma.as_luma(), pts_seconds);
        self.apply(luma, symbol);
        plan
    }
}

/// Fade gain times the RMS cap for a frame with this mask and pattern. Shared with the detector,
/// which must weight each frame exactly as the embedder scaled it.
pub fn frame_gain(
    params: &WatermarkParams,
    mask: &[f32],
    pattern: &[f32],
    pts_seconds: f64,
) -> f32 {
    let fade = params.fade_gain(pts_seconds);
    let n = mask.len().max(1) as f32;
    let energy: f32 = mask.iter().zip(pattern).map(|(m, p)| (m * p) * (m * p)).sum();
    let rms = params.strength * (energy / n).sqrt();
    let cap = if rms > params.max_frame_rms { params.max_frame_rms / rms } else { 1.0 };
    fade * cap
}

fn rms(v: &[f32]) -> f32 {
    (v.iter().map(|x| x * x).sum::<f32>() / v.len().max(1) as f32).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::OwnedLuma;

    fn textured(w: usize, h: usize) -> OwnedLuma {
        let mut img = OwnedLuma::new(w, h);
        for y in 0..h {
            for x in 0..w {
                let v = 110.0
                    + 40.0 * ((x as f32 / 23.0).sin() * (y as f32 / 17.0).cos())
                    + ((x * 31 + y * 17) % 13) as f32;
                img.data[y * w + x] = v as u8;
            }
        }
        img
    }

    #[test]
    fn symbols_are_antipodal_and_within_the_rms_budget() {
        let key = WatermarkKey::from_bytes([9; 32]);
        let src = textured(640, 360);
        let mut embedder = Embedder::new(&key, 640, 360, WatermarkParams::default());
        let (mut a, mut b) = (src.clone(), src.clone());
        let plan = embedder.prepare(&src.view(), 1.0);
        embedder.apply(&mut a.view_mut(), Symbol::Zero);
        embedder.apply(&mut b.view_mut(), Symbol::One);
        assert!(plan.rms > 0.3 && plan.rms <= 1.25 + 1e-4, "rms {}", plan.rms);
        let mut dot = 0i64;
        let mut mse = 0f64;
        for ((&s, &x), &y) in src.data.iter().zip(&a.data).zip(&b.data) {
            let (da, db) = (x as i64 - s as i64, y as i64 - s as i64);
            dot += da * db;
            mse += (da * da) as f64;
        }
        assert!(dot < 0, "symbol 0 and 1 changes should be opposite");
        let psnr = 10.0 * (255.0f64 * 255.0 / (mse / src.data.len() as f64)).log10();
        assert!(psnr > 44.0, "psnr {psnr}");
    }

    #[test]
    fn fade_silences_segment_edges() {
        let key = WatermarkKey::from_bytes([9; 32]);
        let src = textured(320, 180);
        let mut embedder = Embedder::new(&key, 320, 180, WatermarkParams::default());
        let mut frame = src.clone();
        let plan = embedder.embed(&mut frame.view_mut(), 0.0, Symbol::Zero);
        assert!(plan.gain < 0.01);
        assert_eq!(frame, src);
    }
}
