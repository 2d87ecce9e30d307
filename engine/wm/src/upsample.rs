//! Adding a block-grid signal to a full-resolution luma plane: bilinear upsampling in fixed point.
//!
//! The signal (grey levels per block, at block centres) is quantised to Q4 and interpolated with
//! weights in sixteenths, so the whole path is 16-bit integer arithmetic that compilers turn into
//! wide SIMD. [`Upsampler::add_reference`] computes every pixel on its own, straight from the
//! definition; [`Upsampler::add`] expands each grid row horizontally once per frame and then blends
//! two expanded rows per output row in a loop with no gathers, in parallel over row bands. Both
//! produce identical bytes (tested).

use rayon::prelude::*;

use super::grid::BlockGrid;
use crate::frame::LumaMut;

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
    y_taps: Vec<Tap>,
    q4: Vec<i16>,
    /// Grid rows expanded to full width, Q8.
    expanded: Vec<i16>,
}

impl Upsampler {
    pub fn new(grid: BlockGrid) -> Self {
        Self {
            grid,
            x_taps: taps(grid.width, grid.block, grid.cols),
            y_taps: taps(grid.height, grid.block, grid.rows),
            q4: vec![0; grid.len()],
            expanded: vec![0; grid.rows * grid.width],
        }
    }

    /// Loads a new block signal (grey levels) and expands it for [`Upsampler::add`].
    pub fn load(&mut self, signal: &[f32]) {
        for (q, &s) in self.q4.iter_mut().zip(signal) {
            *q = (s * 16.0).round().clamp(-(MAX_Q4 as f32), MAX_Q4 as f32) as i16;
        }
        let (q4, x_taps, cols, width) = (&self.q4, &self.x_taps, self.grid.cols, self.grid.width);
        self.expanded.par_chunks_mut(width).enumerate().for_each(|(r, out)| {
            let row = &q4[r * cols..(r + 1) * cols];
            for (o, t) in out.iter_mut().zip(x_taps) {
                *o = row[t.i0] * (16 - t.w1) + row[t.i1] * t.w1;
            }
        });
    }

    /// Adds (`sign` > 0) or subtracts the loaded signal, rounding and saturating: the fast path.
    pub fn add(&self, luma: &mut LumaMut<'_>, sign: i16) {
        let (width, stride, height) = (luma.width, luma.stride, luma.height);
        assert!(width == self.grid.width && height == self.grid.height, "frame size changed");
        luma.data.par_chunks_mut(stride * BAND_ROWS).enumerate().for_each(|(band, rows)| {
            for (i, row) in rows.chunks_mut(stride).enumerate() {
                let y = band * BAND_ROWS + i;
                if y >= height {
                    break;
                }
                let t = self.y_taps[y];
                let h0 = &self.expanded[t.i0 * width..(t.i0 + 1) * width];
                let h1 = &self.expanded[t.i1 * width..(t.i1 + 1) * width];
                blend_row(&mut row[..width], h0, h1, 16 - t.w1, t.w1, sign);
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

/// One output row: `pixel += sign * round((h0 * w0 + h1 * w1) / 4096)`, saturated to 0..=255.
/// Written as two sign-specialised loops over plain slices so that it vectorises.
#[inline]
fn blend_row(row: &mut [u8], h0: &[i16], h1: &[i16], w0: i16, w1: i16, sign: i16) {
    let n = row.len().min(h0.len()).min(h1.len());
    let (row, h0, h1) = (&mut row[..n], &h0[..n], &h1[..n]);
    if sign >= 0 {
        for ((p, &a), &b) in row.iter_mut().zip(h0).zip(h1) {
            let d = (a * w0 + b * w1 + 2048) >> 12;
            *p = (*p as i16 + d).clamp(0, 255) as u8;
        }
    } else {
        for ((p, &a), &b) in row.iter_mut().zip(h0).zip(h1) {
            let d = (a * w0 + b * w1 + 2048) >> 12;
            *p = (*p as i16 - d).clamp(0, 255) as u8;
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
