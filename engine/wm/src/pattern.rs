//! Keyed watermark patterns: smooth, band-limited Gaussian fields on the block grid.
//!
//! For each segment the key gives a ChaCha20 stream, which gives white Gaussian noise on the
//! grid; a radial band-pass filter keeps periods of roughly 4 to 25 blocks (on a 1280x720 frame,
//! blobs 30 to 200 pixels wide). That band is what H.264 keeps: quantisation, deblocking and
//! psycho-visual tuning remove fine texture first, and downscaling to a quarter of the area or a
//! blur of a few pixels leaves it intact. The pattern is scaled to unit RMS by its *expected*
//! RMS, so the detector's null distribution is exactly Gaussian (see `score`). Segments get
//! independent patterns, so one leaked segment says nothing about the next.

use std::sync::Arc;

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rustfft::num_complex::Complex32;

use super::grid::BlockGrid;
use crate::dsp::fft2::{bin_frequency, Fft2};
use crate::key::WatermarkKey;

/// Label that separates pattern secrets from every other use of the key.
const PATTERN_LABEL: &str = "abmark/wm/pattern/v1";

/// Radial pass band in cycles per block: zero below `F0`, raised-cosine up to `F1`, flat to `F2`,
/// raised-cosine down to zero at `F3`.
const F0: f32 = 0.02;
const F1: f32 = 0.05;
const F2: f32 = 0.15;
const F3: f32 = 0.25;

/// The band-pass filter's gain for every bin of the grid's DFT, and its total energy.
#[derive(Clone, Debug)]
pub struct BandFilter {
    pub gain: Vec<f32>,
    /// Sum over bins of gain squared.
    pub energy: f32,
}

impl BandFilter {
    pub fn for_grid(grid: &BlockGrid) -> Self {
        let mut gain = Vec::with_capacity(grid.len());
        for r in 0..grid.rows {
            let fy = bin_frequency(r, grid.rows);
            for c in 0..grid.cols {
                let fx = bin_frequency(c, grid.cols);
                gain.push(radial_gain((fx * fx + fy * fy).sqrt()));
            }
        }
        let energy = gain.iter().map(|g| g * g).sum();
        Self { gain, energy }
    }
}

fn radial_gain(f: f32) -> f32 {
    let ramp = |x: f32| 0.5 - 0.5 * (std::f32::consts::PI * x).cos();
    if f <= F0 || f >= F3 {
        0.0
    } else if f < F1 {
        ramp((f - F0) / (F1 - F0))
    } else if f <= F2 {
        1.0
    } else {
        ramp((F3 - f) / (F3 - F2))
    }
}

/// One segment's pattern on the block grid, row-major, unit expected RMS. Symbol 0 adds it,
/// symbol 1 subtracts it.
#[derive(Clone, Debug)]
pub struct Pattern {
    pub segment: u64,
    pub values: Vec<f32>,
}

/// Generates patterns for one key and grid, caching the most recent ones: frames arrive in time
/// order, so a segment's pattern is made once and used for all its frames.
pub struct PatternBank {
    key: WatermarkKey,
    grid: BlockGrid,
    filter: BandFilter,
    fft: Fft2,
    buf: Vec<Complex32>,
    recent: Vec<Arc<Pattern>>,
}

/// How many patterns the bank keeps: enough for a frame-rate change that revisits the previous
/// segment, small enough to stay a few hundred kilobytes.
const CACHE_LEN: usize = 4;

impl PatternBank {
    pub fn new(key: &WatermarkKey, grid: BlockGrid) -> Self {
        Self {
            key: key.clone(),
            grid,
            filter: BandFilter::for_grid(&grid),
            fft: Fft2::new(grid.rows, grid.cols),
            buf: vec![Complex32::default(); grid.len()],
            recent: Vec::with_capacity(CACHE_LEN),
        }
    }

    pub fn grid(&self) -> &BlockGrid {
        &self.grid
    }

    pub fn filter(&self) -> &BandFilter {
        &self.filter
    }

    /// The pattern of `segment`, from the cache or freshly generated.
    pub fn get(&mut self, segment: u64) -> Arc<Pattern> {
        if let Some(p) = self.recent.iter().find(|p| p.segment == segment) {
            return Arc::clone(p);
        }
        let pattern = Arc::new(self.generate(segment));
        if self.recent.len() == CACHE_LEN {
            self.recent.remove(0);
        }
        self.recent.push(Arc::clone(&pattern));
        pattern
    }

    fn generate(&mut self, segment: u64) -> Pattern {
        let seed = self
            .key
            .derive(PATTERN_LABEL, &[segment, self.grid.cols as u64, self.grid.rows as u64]);
        let mut rng = ChaCha20Rng::from_seed(seed);
        for v in self.buf.iter_mut() {
            *v = Complex32::new(gaussian(&mut rng), 0.0);
        }
        self.fft.forward(&mut self.buf);
        for (v, g) in self.buf.iter_mut().zip(&self.filter.gain) {
            *v *= *g;
        }
        self.fft.inverse(&mut self.buf);
        // Expected variance of a filtered unit white field is energy / N.
        let expected_rms = (self.filter.energy / self.grid.len() as f32).sqrt();
        let values = self.buf.iter().map(|v| v.re / expected_rms).collect();
        Pattern { segment, values }
    }
}

/// A standard normal sample (Box-Muller on two 53-bit uniforms).
fn gaussian(rng: &mut ChaCha20Rng) -> f32 {
    let u = |rng: &mut ChaCha20Rng| ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let (u1, u2) = (u(rng), u(rng));
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bank(seed: u8) -> PatternBank {
        PatternBank::new(&WatermarkKey::from_bytes([seed; 32]), BlockGrid::for_frame(1280, 720))
    }

    fn correlation(a: &[f32], b: &[f32]) -> f32 {
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
        dot / (na * nb)
    }

    #[test]
    fn patterns_are_keyed_deterministic_and_unit_rms() {
        let mut a = bank(1);
        let p0 = a.get(0);
        let rms = (p0.values.iter().map(|v| v * v).sum::<f32>() / p0.values.len() as f32).sqrt();
        assert!((0.8..1.2).contains(&rms), "rms {rms}");
        assert_eq!(bank(1).get(0).values, p0.values);
        // Other segment, other key: nearly orthogonal.
        assert!(correlation(&p0.values, &a.get(1).values).abs() < 0.1);
        assert!(correlation(&p0.values, &bank(2).get(0).values).abs() < 0.1);
    }

    #[test]
    fn patterns_are_smooth() {
        // Neighbouring blocks are strongly correlated: the energy sits at periods of many blocks.
        let p = bank(3).get(5);
        let shifted: Vec<f32> = p.values.iter().skip(1).copied().collect();
        let c = correlation(&p.values[..p.values.len() - 1], &shifted);
        assert!(c > 0.7, "lag-1 correlation {c}");
        let far: Vec<f32> = p.values.iter().skip(40).copied().collect();
        assert!(correlation(&p.values[..p.values.len() - 40], &far).abs() < 0.2);
    }
}
