//! Coarse registration: which scale, and which shift, maps the reference onto the copy.
//!
//! Both pictures are reduced to about 96 cells across the reference. For each candidate scale
//! on a 3 % logarithmic ladder (0.45x to 1.7x for a start, [`SMALL`] when that finds nothing), the copy is read with cells scaled to match,
//! and phase correlation (the whitened cross-power spectrum, summed over several frames) finds the
//! shift; the scale whose correlation peak is highest wins. Whitening makes the peak depend on
//! structure rather than contrast, so tone changes, letterbox bars and re-encoding barely move it.
//! The result is good to a few percent in scale and about one cell in shift; [`super::refine`]
//! takes it from there.

use rustfft::num_complex::Complex32;

use super::sample::{sample_grid, RegionGrid};
use super::Transform;
use crate::dsp::{Fft2, IntegralImage};

/// Cells across the reference at the coarse level.
const COARSE_COLS: usize = 96;

/// The scales (copy size over reference size) a search tries.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScaleRange {
    pub min: f64,
    pub max: f64,
}

/// Where almost every copy is: quarter area to 1.7x. Searched first.
pub const USUAL: ScaleRange = ScaleRange { min: 0.45, max: 1.7 };
/// Thumbnail-sized copies (a 1080p or 720p source leaked at 360p or 240p): searched only when
/// [`USUAL`] finds no fit, so the common case pays nothing for it.
pub const SMALL: ScaleRange = ScaleRange { min: 0.25, max: 0.47 };
const SCALE_STEP: f64 = 1.03;
const MAX_PAIRS: usize = 3;

/// The smallest number >= n whose only prime factors are 2, 3 and 5: FFTs of such sizes are
/// nearly as fast as powers of two, and much smaller than the next power of two.
fn smooth_at_least(n: usize) -> usize {
    (n.max(1)..)
        .find(|&m| {
            let mut m = m;
            for p in [2, 3, 5] {
                while m % p == 0 {
                    m /= p;
                }
            }
            m == 1
        })
        .unwrap_or(n)
}

/// The coarse estimate and how clearly it stood out.
#[derive(Clone, Copy, Debug)]
pub struct CoarseFit {
    pub transform: Transform,
    /// Height of the winning phase-correlation peak (1 = perfect match everywhere).
    pub peak: f32,
}

/// A frame pair to register: the reference frame and the copy frame, as integral images.
pub struct FramePair<'a> {
    pub reference: &'a IntegralImage,
    pub copy: &'a IntegralImage,
}

/// Scale search over `range` with phase correlation over all `pairs` (which must share one
/// geometry).
pub fn estimate(
    pairs: &[FramePair<'_>],
    ref_size: (usize, usize),
    range: ScaleRange,
) -> Option<CoarseFit> {
    // Three frames already make the peak unambiguous; more only cost FFTs.
    let pairs = &pairs[..pairs.len().min(MAX_PAIRS)];
    let first = pairs.first()?;
    let (copy_w, copy_h) = (first.copy.width, first.copy.height);
    let ref_grid = RegionGrid::across(ref_size.0, ref_size.1, COARSE_COLS);
    let q = ref_grid.cell;
    let largest = |len: usize| (len as f64 / (q * range.min)).ceil() as usize;
    let fft_cols = smooth_at_least(ref_grid.cols + largest(copy_w));
    let fft_rows = smooth_at_least(ref_grid.rows + largest(copy_h));
    let mut fft = Fft2::new(fft_rows, fft_cols);

    // Reference spectra, once per frame.
    let mut samples = Vec::new();
    let ref_spectra: Vec<Vec<Complex32>> = pairs
        .iter()
        .map(|p| {
            sample_grid(
                p.reference,
                &ref_grid,
                ref_size,
                &Transform::identity(ref_size.0, ref_size.1),
                &mut samples,
            );
            let mut buf = padded(&samples, ref_grid.cols, ref_grid.rows, fft_cols, fft_rows);
            fft.forward(&mut buf);
            buf
        })
        .collect();

    let mut best: Option<CoarseFit> = None;
    let mut cross = vec![Complex32::default(); fft_rows * fft_cols];
    let mut scale = range.min;
    while scale <= range.max {
        // Copy cells of q * scale copy pixels, i.e. q reference pixels if the scale is right.
        let cell = q * scale;
        let grid = RegionGrid {
            cols: ((copy_w as f64 / cell).floor() as usize).max(1),
            rows: ((copy_h as f64 / cell).floor() as usize).max(1),
            cell,
        };
        let copy_as_ref = Transform::axis_aligned(1.0, 1.0, (0.0, 0.0), (0.0, 0.0));
        cross.iter_mut().for_each(|v| *v = Complex32::default());
        for (pair, ref_spec) in pairs.iter().zip(&ref_spectra) {
            sample_grid(pair.copy, &grid, (copy_w, copy_h), &copy_as_ref, &mut samples);
            let mut buf = padded(&samples, grid.cols, grid.rows, fft_cols, fft_rows);
            fft.forward(&mut buf);
            for ((x, c), r) in cross.iter_mut().zip(&buf).zip(ref_spec) {
                let v = c * r.conj();
                let n = v.norm();
                if n > 1e-9 {
                    *x += v / n;
                }
            }
        }
        fft.inverse(&mut cross);
        let (idx, peak) = cross
            .iter()
            .enumerate()
            .map(|(i, v)| (i, v.re / pairs.len() as f32))
            .fold((0, f32::MIN), |a, b| if b.1 > a.1 { b } else { a });
        if best.is_none_or(|b| peak > b.peak) {
            let signed =
                |k: usize, n: usize| if k < n / 2 { k as f64 } else { k as f64 - n as f64 };
            let dx = signed(idx % fft_cols, fft_cols);
            let dy = signed(idx / fft_cols, fft_rows);
            // Copy cell i holds reference cell i - d: x_copy = scale * x_ref + d * cell.
            let (tx, ty) = (dx * cell, dy * cell);
            let (cx, cy) = (ref_size.0 as f64 / 2.0, ref_size.1 as f64 / 2.0);
            let transform =
                Transform::axis_aligned(scale, scale, (cx, cy), (scale * cx + tx, scale * cy + ty));
            best = Some(CoarseFit { transform, peak });
        }
        scale *= SCALE_STEP;
    }
    best
}

/// Zero-mean, Hann-windowed samples in the top-left corner of a zero `fft_rows x fft_cols` buffer.
/// Cells outside the picture (`None`) count as the mean.
fn padded(
    samples: &[Option<f32>],
    cols: usize,
    rows: usize,
    fft_cols: usize,
    fft_rows: usize,
) -> Vec<Complex32> {
    let (sum, n) =
        samples.iter().flatten().fold((0f64, 0usize), |(s, n), v| (s + *v as f64, n + 1));
    let mean = if n > 0 { (sum / n as f64) as f32 } else { 0.0 };
    let hann = |i: usize, n: usize| {
        0.5 - 0.5 * (2.0 * std::f32::consts::PI * (i as f32 + 0.5) / n as f32).cos()
    };
    let mut buf = vec![Complex32::default(); fft_rows * fft_cols];
    for r in 0..rows.min(fft_rows) {
        let wy = hann(r, rows);
        for c in 0..cols.min(fft_cols) {
            let v = samples[r * cols + c].unwrap_or(mean) - mean;
            buf[r * fft_cols + c] = Complex32::new(v * wy * hann(c, cols), 0.0);
        }
    }
    buf
}

#[cfg(test)]
mod tests {
    #[test]
    fn smooth_sizes() {
        assert_eq!(super::smooth_at_least(309), 320);
        assert_eq!(super::smooth_at_least(174), 180);
        assert_eq!(super::smooth_at_least(7), 8);
        assert_eq!(super::smooth_at_least(1), 1);
    }
}
