//! The NEON paths of the kernels in [`super::scalar`], for aarch64.
//!
//! NEON is part of aarch64's baseline, so every aarch64 CPU this runs on has it; the paths still
//! go through a [`Token`], made once the CPU has been asked, exactly as the AVX2 ones do, so that
//! the dispatch in `super` treats both instruction sets alike. Each kernel is a safe function
//! compiled with `#[target_feature(enable = "neon")]`. Vectors are 128 bits, half the AVX2
//! width: 16 pixels, 8 i16/u16, 4 u32/f32 or 2 f64 per register. Every remainder that does not
//! fill a vector goes to the scalar twin (or continues its running sum), so the two paths differ
//! only in how many lanes they advance at a time. Memory is touched only through the load and
//! store helpers of `memory`, which take slices and check their length.
//!
//! `expand_row` has no NEON path: each output reads two samples at an arbitrary index, and
//! NEON has no gather, so a vector version would load the lanes one by one and then do the two
//! multiplies and the add the compiler already vectorises in the twin. It runs the twin.
//!
//! This file holds the token and the per-pixel kernels of the embed and the block statistics;
//! `sums` the running sums and reductions.

mod memory;
mod sums;

use std::arch::aarch64::*;

use memory::*;
use sums::{add_rows, integral_row, paired_sums, prefix_sums, sum_every_other};

use super::{scalar, ColumnSums, PairedSums};
use crate::frame::Luma;

/// Proof that this CPU runs NEON (Advanced SIMD) instructions: only [`Token::detect`] makes
/// one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token(());

impl Token {
    pub fn detect() -> Option<Self> {
        std::arch::is_aarch64_feature_detected!("neon").then_some(Self(()))
    }

    pub fn blend_row(self, row: &mut [u8], h0: &[i16], h1: &[i16], w0: i16, w1: i16, sign: i16) {
        // SAFETY: a Token exists only on a CPU with NEON (`detect`).
        unsafe { blend_row(row, h0, h1, w0, w1, sign) }
    }

    pub fn round_to_i16(self, values: &[f32], scale: f32, limit: f32, out: &mut [i16]) {
        // SAFETY: as in `blend_row`.
        unsafe { round_to_i16(values, scale, limit, out) }
    }

    pub fn box3(self, src: &[f32], cols: usize, rows: usize, dst: &mut [f32]) {
        // SAFETY: as in `blend_row`.
        unsafe { box3(src, cols, rows, dst) }
    }

    /// The scalar twin itself: see the module's second paragraph.
    pub fn expand_row(self, out: &mut [i16], samples: &[i16], i0: &[u32], w: &[[i16; 2]]) {
        scalar::expand_row(out, samples, i0, w)
    }

    pub fn block_columns(self, luma: &Luma<'_>, rows: (usize, usize), out: ColumnSums<'_>) -> u32 {
        // SAFETY: as in `blend_row`.
        unsafe { block_columns(luma, rows, out) }
    }

    pub fn block_sums(self, columns: &[u16], block: usize, out: &mut [u32]) {
        // SAFETY: as in `blend_row`.
        unsafe { block_sums(columns, block, out) }
    }

    pub fn integral_row(self, pixels: &[u8], mirrored: bool, above: &[u32], below: &mut [u32]) {
        // SAFETY: as in `blend_row`.
        unsafe { integral_row(pixels, mirrored, above, below) }
    }

    pub fn add_rows(
        self,
        columns: &mut [u32],
        luma: &Luma<'_>,
        rows: (usize, usize),
        mirrored: bool,
    ) {
        // SAFETY: as in `blend_row`.
        unsafe { add_rows(columns, luma, rows, mirrored) }
    }

    pub fn prefix_sums(self, values: &[u32], out: &mut [u32]) {
        // SAFETY: as in `blend_row`.
        unsafe { prefix_sums(values, out) }
    }

    pub fn paired_sums(self, reference: &[f32], copy: &[Option<f32>]) -> PairedSums {
        // SAFETY: as in `blend_row`.
        unsafe { paired_sums(reference, copy) }
    }

    pub fn sum_every_other(self, pixels: &[u8]) -> u64 {
        // SAFETY: as in `blend_row`.
        unsafe { sum_every_other(pixels) }
    }
}

/// 16 pixels at a time: widen to i16, add or subtract the rounded blend of the two expanded
/// rows (i16 arithmetic wraps as the twin's does), narrow back with unsigned saturation
/// (exactly the twin's clamp to 0..=255).
#[target_feature(enable = "neon")]
fn blend_row(row: &mut [u8], h0: &[i16], h1: &[i16], w0: i16, w1: i16, sign: i16) {
    let n = row.len().min(h0.len()).min(h1.len());
    let (vw0, vw1) = (vdupq_n_s16(w0), vdupq_n_s16(w1));
    let round = vdupq_n_s16(2048);
    let delta = |x: usize| {
        // Integer multiply-accumulate is exact (modulo 2^16, like the twin's i16 ops).
        let d = vmlaq_s16(vmulq_s16(load_i16x8(&h0[x..]), vw0), load_i16x8(&h1[x..]), vw1);
        vshrq_n_s16::<12>(vaddq_s16(d, round))
    };
    // The twin adds for any sign >= 0, including 0.
    let subtract = sign < 0;
    let mut x = 0;
    while x + 16 <= n {
        let p = load_u8x16(&row[x..]);
        let lo = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(p)));
        let hi = vreinterpretq_s16_u16(vmovl_high_u8(p));
        let (lo, hi) = if subtract {
            (vsubq_s16(lo, delta(x)), vsubq_s16(hi, delta(x + 8)))
        } else {
            (vaddq_s16(lo, delta(x)), vaddq_s16(hi, delta(x + 8)))
        };
        store_u8x16(&mut row[x..], vqmovun_high_s16(vqmovun_s16(lo), hi));
        x += 16;
    }
    scalar::blend_row(&mut row[x..n], &h0[x..n], &h1[x..n], w0, w1, sign);
}

/// 8 values at a time, the twin's operations one for one: multiply, `frinta` (round to nearest,
/// halves away from zero: `f32::round`), clamp, convert. `fmax`/`fmin` keep a NaN, which the
/// conversion (`fcvtzs`, like `as`) turns into 0; it saturates to i32 and the narrowing to
/// i16, as `as i16` saturates.
#[target_feature(enable = "neon")]
fn round_to_i16(values: &[f32], scale: f32, limit: f32, out: &mut [i16]) {
    let n = values.len().min(out.len());
    let (by, high, low) = (vdupq_n_f32(scale), vdupq_n_f32(limit), vdupq_n_f32(-limit));
    let rounded = |x: usize| {
        let r = vrndaq_f32(vmulq_f32(load_f32x4(&values[x..]), by));
        vcvtq_s32_f32(vminq_f32(vmaxq_f32(r, low), high))
    };
    // A negative or NaN limit makes the twin's clamp panic: leave that to the twin.
    let (limit_ok, mut x) = (limit >= 0.0, 0);
    while limit_ok && x + 8 <= n {
        store_i16x8(&mut out[x..], vqmovn_high_s32(vqmovn_s32(rounded(x)), rounded(x + 4)));
        x += 8;
    }
    scalar::round_to_i16(&values[x..n], scale, limit, &mut out[x..n]);
}

/// Four columns at a time over the interior (every column with both neighbours); the first
/// and last columns, where the clamp repeats a column, go to the scalar twin. Each output adds
/// its nine inputs in the twin's order, starting from zero, with separate adds (no fused
/// operation), and divides by 9 (`fdiv`, correctly rounded like the twin's): the same bits.
#[target_feature(enable = "neon")]
fn box3(src: &[f32], cols: usize, rows: usize, dst: &mut [f32]) {
    if cols < 3 || rows == 0 || src.len() < cols * rows || dst.len() < cols * rows {
        scalar::box3(src, cols, rows, dst);
        return;
    }
    let nine = vdupq_n_f32(9.0);
    for r in 0..rows {
        let rs = [r.saturating_sub(1), r, (r + 1).min(rows - 1)];
        let mut c = 1;
        while c + 4 < cols {
            let mut s = vdupq_n_f32(0.0);
            for rr in rs {
                let row = &src[rr * cols..(rr + 1) * cols];
                for dc in [c - 1, c, c + 1] {
                    s = vaddq_f32(s, load_f32x4(&row[dc..]));
                }
            }
            store_f32x4(&mut dst[r * cols + c..], vdivq_f32(s, nine));
            c += 4;
        }
        for c in (c..cols).chain([0]) {
            dst[r * cols + c] = scalar::box3_at(src, cols, rows, r, c);
        }
    }
}

/// Strips of 16 columns: the four sums of a strip stay in registers (two u16x8 each) over all
/// the band's rows and are stored once; `uaddw` widens and adds each byte in one instruction,
/// `uabd` gives the absolute differences. u16 lanes wrap as the twin's u16 sums do. Columns
/// without a right neighbour inside a full strip (the last few) go to the scalar twin.
#[target_feature(enable = "neon")]
fn block_columns(luma: &Luma<'_>, (y0, y1): (usize, usize), out: ColumnSums<'_>) -> u32 {
    let w = luma.width;
    let ColumnSums { sampled, all, horizontal, vertical } = out;
    let add = |sums: &mut [uint16x8_t], v: uint8x16_t| {
        sums[0] = vaddw_u8(sums[0], vget_low_u8(v));
        sums[1] = vaddw_high_u8(sums[1], v);
    };
    let mut x = 0;
    while x + 17 <= w {
        // sampled, all, horizontal, vertical: low and high eight columns each.
        let mut sums = [vdupq_n_u16(0); 8];
        for y in (y0..y1).step_by(2) {
            let row = luma.row(y);
            let below = luma.row((y + 1).min(luma.height - 1));
            let p = load_u8x16(&row[x..]);
            let q = load_u8x16(&below[x..]);
            add(&mut sums[0..2], p);
            add(&mut sums[2..4], p);
            // The row below counts in `all` only inside the band (the twin's `below_counts`).
            if y + 1 < y1 {
                add(&mut sums[2..4], q);
            }
            add(&mut sums[4..6], vabdq_u8(p, load_u8x16(&row[x + 1..])));
            add(&mut sums[6..8], vabdq_u8(p, q));
        }
        for (k, column) in
            [&mut *sampled, &mut *all, &mut *horizontal, &mut *vertical].into_iter().enumerate()
        {
            store_u16x8(&mut column[x..], sums[2 * k]);
            store_u16x8(&mut column[x + 8..], sums[2 * k + 1]);
        }
        x += 16;
    }
    scalar::block_columns(luma, (y0, y1), (x, w), ColumnSums { sampled, all, horizontal, vertical })
}

/// `MASK[8 - n..][..8]` keeps the first `n` of eight u16 lanes.
const MASK: [u16; 16] = {
    let mut mask = [0; 16];
    let mut i = 0;
    while i < 8 {
        mask[i] = u16::MAX;
        i += 1;
    }
    mask
};

/// Block by block: eight columns at a time added pairwise into four u32 lanes (`uadalp`, which
/// takes any u16, so no range limit), the block's last few columns masked from one more vector
/// when the slice has it, and the lanes added at the end (`addv`). u32 arithmetic wraps, and
/// addition modulo 2^32 does not depend on order: the twin's totals exactly, for any block.
#[target_feature(enable = "neon")]
fn block_sums(columns: &[u16], block: usize, out: &mut [u32]) {
    for (c, o) in out.iter_mut().enumerate() {
        let x1 = ((c + 1) * block).min(columns.len());
        let x0 = (c * block).min(x1);
        let mut acc = vdupq_n_u32(0);
        let mut x = x0;
        while x + 8 <= x1 {
            acc = vpadalq_u16(acc, load_u16x8(&columns[x..]));
            x += 8;
        }
        if x < x1 && x + 8 <= columns.len() {
            let keep = load_u16x8(&MASK[8 - (x1 - x)..]);
            acc = vpadalq_u16(acc, vandq_u16(load_u16x8(&columns[x..]), keep));
            x = x1;
        }
        // Only at the very end of `columns` can a part of a vector remain.
        let rest = columns[x..x1].iter().fold(0u32, |s, &v| s.wrapping_add(u32::from(v)));
        *o = vaddvq_u32(acc).wrapping_add(rest);
    }
}
