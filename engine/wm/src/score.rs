//! Scoring: from residuals (copy minus reference, on the block grid) to a symbol decision.
//!
//! Within a segment the pattern is fixed, so the matched filter over all its frames is one
//! correlation: accumulate `A += gain * mask * residual` per frame, then `c = <A, pattern>`.
//!
//! The null distribution is exact, not estimated. The pattern is `h * n` with `n` white Gaussian
//! noise from the key and `h` the band-pass filter, so for any accumulated residual `A` that does
//! not depend on the key (an unmarked copy, other content, a failed alignment), `c` given `A` is
//! Gaussian with variance `sum_k |H_k|^2 |A_k|^2 / sum_k |H_k|^2`. Dividing by that standard
//! deviation gives `z`, standard normal under "no watermark" whatever the content, codec or
//! attack. A marked copy pushes `z` to `+mu` (symbol 0) or `-mu` (symbol 1).

use rustfft::num_complex::Complex32;

use super::grid::BlockGrid;
use super::pattern::{BandFilter, Pattern};
use super::Symbol;
use crate::dsp::Fft2;

/// The matched-filter sum of one segment.
pub struct SegmentAccumulator {
    pub segment: u64,
    grid: BlockGrid,
    acc: Vec<f32>,
    /// Sum over frames and valid blocks of (gain * mask * pattern)^2: the correlation a copy
    /// with the full embedded amplitude would reach, per unit of strength.
    expected: f64,
    frames: u32,
}

/// The outcome for one segment.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SegmentScore {
    pub segment: u64,
    /// Frames of the copy that contributed.
    pub frames: u32,
    /// Standard-normal statistic: positive favours symbol 0, negative symbol 1.
    pub z: f64,
    /// Share of the embedded amplitude found in the copy (1 = untouched, 0 = none).
    pub retained: f64,
}

impl SegmentAccumulator {
    pub fn new(segment: u64, grid: BlockGrid) -> Self {
        Self { segment, grid, acc: vec![0.0; grid.len()], expected: 0.0, frames: 0 }
    }

    pub fn frames(&self) -> u32 {
        self.frames
    }

    /// Adds one frame: `residual[b]` is copy minus reference at block `b` (`None` where the copy
    /// does not cover the block), `mask` the reference frame's mask, `gain` its frame gain.
    pub fn add_frame(
        &mut self,
        residual: &[Option<f32>],
        mask: &[f32],
        pattern: &Pattern,
        gain: f32,
    ) {
        let mut expected = 0.0f64;
        for (((a, r), m), p) in self.acc.iter_mut().zip(residual).zip(mask).zip(&pattern.values) {
            if let Some(r) = r {
                let w = gain * m;
                *a += w * r;
                expected += ((w * p) as f64).powi(2);
            }
        }
        self.expected += expected;
        self.frames += 1;
    }

    /// Correlates the accumulated residual with `pattern` and normalises by the exact null.
    /// `strength` is the embedding strength, used only for the `retained` diagnostic.
    pub fn finish(
        &self,
        pattern: &Pattern,
        filter: &BandFilter,
        fft: &mut Fft2,
        strength: f32,
    ) -> SegmentScore {
        let c: f64 =
            self.acc.iter().zip(&pattern.values).map(|(a, p)| (*a as f64) * (*p as f64)).sum();
        let mut spectrum: Vec<Complex32> =
            self.acc.iter().map(|&a| Complex32::new(a, 0.0)).collect();
        fft.forward(&mut spectrum);
        let weighted: f64 = spectrum
            .iter()
            .zip(&filter.gain)
            .map(|(v, g)| (g * g) as f64 * v.norm_sqr() as f64)
            .sum();
        let variance = weighted / filter.energy as f64;
        let z = if variance > 0.0 { c / variance.sqrt() } else { 0.0 };
        let retained =
            if self.expected > 0.0 { c / (strength as f64 * self.expected) } else { 0.0 };
        debug_assert_eq!(self.grid.len(), pattern.values.len());
        SegmentScore { segment: self.segment, frames: self.frames, z, retained }
    }
}

/// The symbol a statistic decides, or `None` when `|z|` is below `threshold`.
pub fn decide(z: f64, threshold: f64) -> Option<Symbol> {
    if z >= threshold {
        Some(Symbol::Zero)
    } else if z <= -threshold {
        Some(Symbol::One)
    } else {
        None
    }
}

/// Log-likelihood ratio ln P(z | symbol 0) / P(z | symbol 1) for `z ~ N(+-mu, 1)`.
pub fn llr(z: f64, mu: f64) -> f64 {
    2.0 * mu * z
}

/// Two-sided probability that an unmarked segment scores at least `|z|`.
pub fn p_unmarked(z: f64) -> f64 {
    erfc(z.abs() / std::f64::consts::SQRT_2)
}

/// Complementary error function, accurate far into the tail where `1 - erf` would cancel to
/// zero (`libm`'s port of the FreeBSD/musl implementation: double precision, not a fit).
pub fn erfc(x: f64) -> f64 {
    libm::erfc(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::WatermarkKey;
    use crate::PatternBank;

    fn noise(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s % 10_000) as f32 / 10_000.0 - 0.5) * 6.0
            })
            .collect()
    }

    #[test]
    fn null_is_standard_normal_and_signal_is_found() {
        let grid = BlockGrid::for_frame(640, 360);
        let mask = vec![1.0f32; grid.len()];
        let mut zs = Vec::new();
        // 200 keys against residuals that carry no mark: z must look standard normal.
        for k in 0..200u8 {
            let mut bank = PatternBank::new(&WatermarkKey::from_bytes([k; 32]), grid);
            let pattern = bank.get(3);
            let residual: Vec<Option<f32>> = noise(grid.len(), 99).into_iter().map(Some).collect();
            let mut acc = SegmentAccumulator::new(3, grid);
            acc.add_frame(&residual, &mask, &pattern, 1.0);
            let mut fft = Fft2::new(grid.rows, grid.cols);
            zs.push(acc.finish(&pattern, bank.filter(), &mut fft, 1.0).z);
        }
        let mean = zs.iter().sum::<f64>() / zs.len() as f64;
        let var = zs.iter().map(|z| (z - mean).powi(2)).sum::<f64>() / zs.len() as f64;
        assert!(mean.abs() < 0.25 && (0.7..1.3).contains(&var), "mean {mean} var {var}");

        // The same noise plus a weak copy of the pattern (0.3 grey levels under noise of ~1.7).
        let mut bank = PatternBank::new(&WatermarkKey::from_bytes([1; 32]), grid);
        let pattern = bank.get(3);
        let residual: Vec<Option<f32>> = noise(grid.len(), 5)
            .iter()
            .zip(&pattern.values)
            .map(|(n, p)| Some(n - 0.3 * p))
            .collect();
        let mut acc = SegmentAccumulator::new(3, grid);
        acc.add_frame(&residual, &mask, &pattern, 1.0);
        let mut fft = Fft2::new(grid.rows, grid.cols);
        let score = acc.finish(&pattern, bank.filter(), &mut fft, 1.0);
        assert!(score.z < -8.0, "z {}", score.z);
        assert_eq!(decide(score.z, 5.0), Some(Symbol::One));
        assert!((score.retained + 0.3).abs() < 0.1, "retained {}", score.retained);
    }

    #[test]
    fn erfc_matches_known_values() {
        assert!((erfc(0.0) - 1.0).abs() < 1e-7);
        assert!((erfc(1.0) - 0.157_299_207).abs() < 1e-7);
        assert!((p_unmarked(5.0) - 5.733e-7).abs() < 1e-9);
        assert!((erfc(-1.0) - 1.842_700_79).abs() < 1e-7);
    }
}
