//! Adding a block-grid signal to a full-resolution luma plane: bilinear upsampling in fixed point.
//!
//! The signal (grey levels per block, at block centres) is quantised to Q4 and interpolated with
//! weights in sixteenths, so the whole path is 16-bit integer arithmetic.
//! [`Upsampler::add_reference`] computes every pixel on its own, straight from the definition;
//! [`Upsampler::add`] expands each grid row horizontally once per frame and then blends two
//! expanded rows per output row, in parallel over row bands, with the kernels of
//! [`crate::simd`] (`expand_row`, `blend_row`). Both produce identical bytes (tested).

use rayon::prelude::*;

use super::grid::BlockGrid;
use crate::frame::LumaMut;
use crate::simd::kernels;

/// Q4 amplitude limit: keeps every intermediate of the blend inside i16.
const MAX_Q4: i16 = 112;
/// Output rows handled by one rayon task.
const BAND_ROWS: usize = 32;

/// Where output coordinate `i` falls between grid samples: the two sample indices and the
/// weight of the second, in sixteenths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tap {
    i0: usize,
    i1: usize,
    w1: i16,
}

fn taps(len: usize, block: usize, samples: usize) -> Vec<Tap> {
    (0..len)
        .map(|i| {
            // Sample k sits at the centre of block k: pixel coordinate (k + 0.5) * block - 0.5.
            let u = ((i as f64 + 0.5) / block as f64 - 0.5).max(0.0);
            let i0 = (u.floor() as usize).min(samples - 1);
            let i1 = (i0 + 1).min(samples - 1);
            let w1 = ((u - i0 as f64) * 16.0).round().clamp(0.0, 16.0) as i16;
            Tap { i0, i1, w1: if i1 == i0 { 0 } else { w1 } }
        })
        .collect()
}

/// Tables and buffers for one frame size; reused for every frame, so nothing is allocated per frame.
pub struct Upsampler {
    grid: BlockGrid,
    x_taps: Vec<Tap>,
    /// `x_taps` as the expansion kernel takes them: first sample, and both weights.
    x_i0: Vec<u32>,
    x_weights: Vec<[i16; 2]>,
    y_taps: Vec<Tap>,
    q4: Vec<i16>,
    /// Grid rows expanded to full width, Q8.
    expanded: Vec<i16>,
}

impl Upsampler {
    pub fn new(grid: BlockGrid) -> Self {
        let x_taps = taps(grid.width, grid.block, grid.cols);
        Self {
            grid,
            // `taps` makes i1 = i0 + 1, or i0 with weight 0 at the row's end: what the kernel
            // assumes.
            x_i0: x_taps.iter().map(|t| t.i0 as u32).collect(),
            x_weights: x_taps.iter().map(|t| [16 - t.w1, t.w1]).collect(),
            x_taps,
            y_taps: taps(grid.height, grid.block, grid.rows),
            q4: vec![0; grid.len()],
            expanded: vec![0; grid.rows * grid.width],
        }
    }

    /// Loads a new block signal (grey levels) and expands it for [`Upsampler::add`].
    pub fn load(&mut self, signal: &[f32]) {
        let k = kernels();
        k.round_to_i16(signal, 16.0, MAX_Q4 as f32, &mut self.q4);
        let (q4, cols, width) = (&self.q4, self.grid.cols, self.grid.width);
        let (i0, weights) = (&self.x_i0, &self.x_weights);
        self.expanded.par_chunks_mut(width).enumerate().for_each(|(r, out)| {
            k.expand_row(out, &q4[r * cols..(r + 1) * cols], i0, weights);
        });
    }

    /// Adds (`sign` > 0) or subtracts the loaded signal, rounding and saturating: the fast path.
    pub fn add(&self, luma: &mut LumaMut<'_>, sign: i16) {
        let (width, stride, height) = (luma.width, luma.stride, luma.height);
        assert!(width == self.grid.width && height == self.grid.height, "frame size changed");
        let k = kernels();
        luma.data.par_chunks_mut(stride * BAND_ROWS).enumerate().for_each(|(band, rows)| {
            for (i, row) in rows.chunks_mut(stride).enumerate() {
                let y = band * BAND_ROWS + i;
                if y >= height {
                    break;
                }
                let t = self.y_taps[y];
                let h0 = &self.expanded[t.i0 * width..(t.i0 + 1) * width];
                let h1 = &self.expanded[t.i1 * width..(t.i1 + 1) * width];
                k.blend_row(&mut row[..width], h0, h1, 16 - t.w1, t.w1, sign);
            }
        });
    }

    /// Same result as [`Upsampler::add`], one pixel at a time from the definition: the reference
    /// the fast path is tested against.
    pub fn add_reference(&self, luma: &mut LumaMut<'_>, sign: i16) {
        let cols = self.grid.cols;
        for y in 0..luma.height {
            let ty = self.y_taps[y];
            for x in 0..luma.width {
                let tx = self.x_taps[x];
                let q = |r: usize, c: usize| self.q4[r * cols + c] as i32;
                let h = |r: usize| q(r, tx.i0) * (16 - tx.w1 as i32) + q(r, tx.i1) * tx.w1 as i32;
                let v = h(ty.i0) * (16 - ty.w1 as i32) + h(ty.i1) * ty.w1 as i32;
                let delta = (v + 2048) >> 12;
                let p = &mut luma.data[y * luma.stride + x];
                *p = (*p as i32 + sign as i32 * delta).clamp(0, 255) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::LumaMut;

    fn pseudo_random(n: usize, seed: u64) -> Vec<u64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s
            })
            .collect()
    }

    #[test]
    fn fast_path_equals_reference_on_odd_sizes_and_strides() {
        for &(w, h, stride) in
            &[(1280, 720, 1280), (321, 241, 352), (1920, 1080, 1984), (33, 17, 40)]
        {
            let grid = BlockGrid::for_frame(w, h);
            let signal: Vec<f32> = pseudo_random(grid.len(), w as u64)
                .iter()
                .map(|r| ((r % 20001) as f32 / 1000.0) - 10.0)
                .collect();
            let mut up = Upsampler::new(grid);
            up.load(&signal);
            let pixels: Vec<u8> =
                pseudo_random(stride * h, 7).iter().map(|r| (r % 256) as u8).collect();
            for sign in [1, -1] {
                let (mut a, mut b) = (pixels.clone(), pixels.clone());
                up.add(&mut LumaMut::new(&mut a, w, h, stride).unwrap(), sign);
                up.add_reference(&mut LumaMut::new(&mut b, w, h, stride).unwrap(), sign);
                assert!(a == b, "fast and reference differ at {w}x{h} stride {stride}");
                assert_ne!(a, pixels, "signal changed nothing");
                // Padding bytes beyond the width are never touched.
                for y in 0..h {
                    assert_eq!(
                        &a[y * stride + w..y * stride + stride],
                        &pixels[y * stride + w..y * stride + stride]
                    );
                }
            }
        }
    }

    #[test]
    fn a_constant_signal_adds_a_constant() {
        let grid = BlockGrid::for_frame(64, 48);
        let mut up = Upsampler::new(grid);
        up.load(&vec![2.0; grid.len()]);
        let mut px = vec![100u8; 64 * 48];
        up.add(&mut LumaMut::new(&mut px, 64, 48, 64).unwrap(), 1);
        assert!(px.iter().all(|&p| p == 102));
        up.add(&mut LumaMut::new(&mut px, 64, 48, 64).unwrap(), -1);
        assert!(px.iter().all(|&p| p == 100));
    }
}
