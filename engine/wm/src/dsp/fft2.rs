//! A planned 2-D complex FFT over a row-major `rows x cols` buffer (rustfft underneath).
//!
//! Forward is unnormalised, inverse divides by `rows * cols`, so `inverse(forward(x)) == x`.

use std::sync::Arc;

use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

/// Plans for one size; reusable across calls, keeps its own scratch so that repeated transforms
/// do not allocate.
pub struct Fft2 {
    pub rows: usize,
    pub cols: usize,
    row_fwd: Arc<dyn Fft<f32>>,
    row_inv: Arc<dyn Fft<f32>>,
    col_fwd: Arc<dyn Fft<f32>>,
    col_inv: Arc<dyn Fft<f32>>,
    transposed: Vec<Complex32>,
    scratch: Vec<Complex32>,
}

impl Fft2 {
    pub fn new(rows: usize, cols: usize) -> Self {
        let mut planner = FftPlanner::<f32>::new();
        let row_fwd = planner.plan_fft_forward(cols);
        let row_inv = planner.plan_fft_inverse(cols);
        let col_fwd = planner.plan_fft_forward(rows);
        let col_inv = planner.plan_fft_inverse(rows);
        let scratch_len = [&row_fwd, &row_inv, &col_fwd, &col_inv]
            .iter()
            .map(|f| f.get_inplace_scratch_len())
            .max()
            .unwrap_or(0);
        Self {
            rows,
            cols,
            row_fwd,
            row_inv,
            col_fwd,
            col_inv,
            transposed: vec![Complex32::default(); rows * cols],
            scratch: vec![Complex32::default(); scratch_len],
        }
    }

    /// In-place forward transform (no normalisation).
    pub fn forward(&mut self, data: &mut [Complex32]) {
        self.run(data, true);
    }

    /// In-place inverse transform, divided by `rows * cols`.
    pub fn inverse(&mut self, data: &mut [Complex32]) {
        self.run(data, false);
        let scale = 1.0 / (self.rows * self.cols) as f32;
        data.iter_mut().for_each(|v| *v *= scale);
    }

    fn run(&mut self, data: &mut [Complex32], forward: bool) {
        assert_eq!(data.len(), self.rows * self.cols, "buffer does not match the FFT plan");
        let (row, col) =
            if forward { (&self.row_fwd, &self.col_fwd) } else { (&self.row_inv, &self.col_inv) };
        row.process_with_scratch(data, &mut self.scratch);
        transpose(data, &mut self.transposed, self.rows, self.cols);
        col.process_with_scratch(&mut self.transposed, &mut self.scratch);
        transpose(&self.transposed, data, self.cols, self.rows);
    }
}

fn transpose(src: &[Complex32], dst: &mut [Complex32], rows: usize, cols: usize) {
    for r in 0..rows {
        for c in 0..cols {
            dst[c * rows + r] = src[r * cols + c];
        }
    }
}

/// Signed frequency of bin `k` of an `n`-point DFT, in cycles per sample, in [-0.5, 0.5).
pub fn bin_frequency(k: usize, n: usize) -> f32 {
    let k = k as f32;
    let n = n as f32;
    if k < n / 2.0 {
        k / n
    } else {
        (k - n) / n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_single_tone() {
        let (rows, cols) = (6, 10);
        let mut fft = Fft2::new(rows, cols);
        let orig: Vec<Complex32> =
            (0..rows * cols).map(|i| Complex32::new((i as f32 * 0.37).sin(), 0.0)).collect();
        let mut data = orig.clone();
        fft.forward(&mut data);
        fft.inverse(&mut data);
        for (a, b) in orig.iter().zip(&data) {
            assert!((a - b).norm() < 1e-5);
        }
        // A cosine with 2 cycles across the columns puts its energy in bins (0, 2) and (0, 8).
        let mut tone: Vec<Complex32> = (0..rows * cols)
            .map(|i| {
                let c = (i % cols) as f32;
                Complex32::new((2.0 * std::f32::consts::PI * 2.0 * c / cols as f32).cos(), 0.0)
            })
            .collect();
        fft.forward(&mut tone);
        assert!((tone[2].re - (rows * cols) as f32 / 2.0).abs() < 1e-3);
        assert!(tone[3].norm() < 1e-3);
        assert_eq!(bin_frequency(8, 10), -0.2);
    }
}
