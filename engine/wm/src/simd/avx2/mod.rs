//! The AVX2 paths of the kernels in [`super::scalar`], for x86-64 CPUs with AVX2 and FMA.
//!
//! Each kernel is a safe function compiled with `#[target_feature(enable = "avx2,fma")]`; only
//! a [`Token`], which exists once the CPU has been asked, may call one. Every remainder that
//! does not fill a vector goes to the scalar twin (or continues its running sum), so the two
//! paths differ only in how many lanes they advance at a time. Memory is touched only through
//! the load and store helpers of `memory`, which take slices and check their length (and the
//! one gather of `expand_row`). This file holds the token and the per-pixel kernels of the
//! embed and the block statistics; `sums` the running sums and reductions.

mod memory;
mod sums;

use std::arch::x86_64::*;

use memory::*;
use sums::{add_rows, integral_row, paired_sums, prefix_sums, sum_every_other};

use super::{scalar, ColumnSums, PairedSums};
use crate::frame::Luma;

/// Proof that this CPU runs AVX2 and FMA instructions: only [`Token::detect`] makes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token(());

impl Token {
    pub fn detect() -> Option<Self> {
        (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")).then_some(Self(()))
    }

    pub fn blend_row(self, row: &mut [u8], h0: &[i16], h1: &[i16], w0: i16, w1: i16, sign: i16) {
        // SAFETY: a Token exists only on a CPU with AVX2 and FMA (`detect`).
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

    pub fn expand_row(self, out: &mut [i16], samples: &[i16], i0: &[u32], w: &[[i16; 2]]) {
        // SAFETY: as in `blend_row`.
        unsafe { expand_row(out, samples, i0, w) }
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

/// 32 pixels at a time: widen to i16, add the rounded blend of the two expanded rows, pack
/// back with unsigned saturation (exactly the scalar clamp to 0..=255).
#[target_feature(enable = "avx2,fma")]
fn blend_row(row: &mut [u8], h0: &[i16], h1: &[i16], w0: i16, w1: i16, sign: i16) {
    let n = row.len().min(h0.len()).min(h1.len());
    let (vw0, vw1) = (_mm256_set1_epi16(w0), _mm256_set1_epi16(w1));
    let round = _mm256_set1_epi16(2048);
    // `_mm256_sign_epi16` by +1 or -1: the scalar adds for any sign >= 0, including 0.
    let direction = _mm256_set1_epi16(if sign >= 0 { 1 } else { -1 });
    let delta = |x: usize| {
        let d = _mm256_add_epi16(
            _mm256_add_epi16(
                _mm256_mullo_epi16(load_i16x16(&h0[x..]), vw0),
                _mm256_mullo_epi16(load_i16x16(&h1[x..]), vw1),
            ),
            round,
        );
        _mm256_sign_epi16(_mm256_srai_epi16::<12>(d), direction)
    };
    let mut x = 0;
    while x + 32 <= n {
        let p = load_u8x32(&row[x..]);
        let lo = _mm256_add_epi16(_mm256_cvtepu8_epi16(_mm256_castsi256_si128(p)), delta(x));
        let hi =
            _mm256_add_epi16(_mm256_cvtepu8_epi16(_mm256_extracti128_si256::<1>(p)), delta(x + 16));
        // packus interleaves the 128-bit lanes of its inputs: put the four quarters back in order.
        let packed = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packus_epi16(lo, hi));
        store_u8x32(&mut row[x..], packed);
        x += 32;
    }
    scalar::blend_row(&mut row[x..n], &h0[x..n], &h1[x..n], w0, w1, sign);
}

/// 16 values at a time. `f32::round` (halves away from zero) has no single instruction:
/// truncate, and step one away from zero where the dropped fraction (exact) is at least a half.
/// NaN becomes 0, as `as i16` makes it; the clamp keeps every value inside i16.
#[target_feature(enable = "avx2,fma")]
fn round_to_i16(values: &[f32], scale: f32, limit: f32, out: &mut [i16]) {
    let n = values.len().min(out.len());
    let (by, high, low) = (_mm256_set1_ps(scale), _mm256_set1_ps(limit), _mm256_set1_ps(-limit));
    let (half, one, sign) = (_mm256_set1_ps(0.5), _mm256_set1_ps(1.0), _mm256_set1_ps(-0.0));
    let rounded = |x: usize| {
        let v = _mm256_mul_ps(load_f32x8(&values[x..]), by);
        let t = _mm256_round_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(v);
        let fraction = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
        let away = _mm256_or_ps(_mm256_and_ps(sign, v), one);
        let step = _mm256_and_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(fraction, half), away);
        let r = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(t, step), low), high);
        let r = _mm256_and_ps(r, _mm256_cmp_ps::<_CMP_ORD_Q>(v, v));
        _mm256_cvttps_epi32(r)
    };
    // Outside this range the twin panics (a negative limit) or `as` saturates differently.
    let (limit_ok, mut x) = ((0.0..=i16::MAX as f32).contains(&limit), 0);
    while limit_ok && x + 16 <= n {
        let packed = _mm256_packs_epi32(rounded(x), rounded(x + 8));
        store_i16x16(&mut out[x..], _mm256_permute4x64_epi64::<0b11_01_10_00>(packed));
        x += 16;
    }
    scalar::round_to_i16(&values[x..n], scale, limit, &mut out[x..n]);
}

/// Eight columns at a time over the interior (every column with both neighbours); the first
/// and last columns, where the clamp repeats a column, go to the scalar twin. Each output adds
/// its nine inputs in the twin's order, starting from zero, and divides by 9: the same bits.
#[target_feature(enable = "avx2,fma")]
fn box3(src: &[f32], cols: usize, rows: usize, dst: &mut [f32]) {
    if cols < 3 || rows == 0 || src.len() < cols * rows || dst.len() < cols * rows {
        scalar::box3(src, cols, rows, dst);
        return;
    }
    let nine = _mm256_set1_ps(9.0);
    for r in 0..rows {
        let rs = [r.saturating_sub(1), r, (r + 1).min(rows - 1)];
        let mut c = 1;
        while c + 8 < cols {
            let mut s = _mm256_setzero_ps();
            for rr in rs {
                let row = &src[rr * cols..(rr + 1) * cols];
                for dc in [c - 1, c, c + 1] {
                    s = _mm256_add_ps(s, load_f32x8(&row[dc..]));
                }
            }
            store_f32x8(&mut dst[r * cols + c..], _mm256_div_ps(s, nine));
            c += 8;
        }
        for c in (c..cols).chain([0]) {
            dst[r * cols + c] = scalar::box3_at(src, cols, rows, r, c);
        }
    }
}

/// 16 outputs at a time: one 32-bit gather at `i0` fetches samples `i0` and `i0 + 1` as a pair,
/// and `madd` applies both weights. Groups that would read past the row (its last sample has
/// no right neighbour) go to the scalar twin. Exact as long as the weighted sums fit in i16,
/// which the upsampler's Q4 limit guarantees (the scalar path would wrap where this saturates).
#[target_feature(enable = "avx2,fma")]
fn expand_row(out: &mut [i16], samples: &[i16], i0: &[u32], w: &[[i16; 2]]) {
    let n = out.len().min(i0.len()).min(w.len());
    if samples.len() < 2 || samples.len() > i32::MAX as usize {
        scalar::expand_row(out, samples, i0, w);
        return;
    }
    // Highest index whose pair lies inside the row.
    let limit = _mm256_set1_epi32((samples.len() - 2) as i32);
    let base = samples.as_ptr().cast::<i32>();
    let gather = |x: usize| -> Option<__m256i> {
        let idx = load_u32x8(&i0[x..]);
        let inside = _mm256_cmpeq_epi32(_mm256_max_epu32(idx, limit), limit);
        if _mm256_movemask_epi8(inside) != -1 {
            return None;
        }
        // SAFETY: every index is at most `samples.len() - 2`, so each 4-byte read at
        // `samples[idx]` covers samples idx and idx + 1, inside the slice; gathers need no
        // alignment.
        let pairs = unsafe { _mm256_i32gather_epi32::<2>(base, idx) };
        Some(_mm256_madd_epi16(pairs, load_pairs_x8(&w[x..])))
    };
    let mut x = 0;
    while x + 16 <= n {
        match (gather(x), gather(x + 8)) {
            (Some(a), Some(b)) => {
                let packed = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packs_epi32(a, b));
                store_i16x16(&mut out[x..], packed);
            }
            _ => scalar::expand_row(&mut out[x..x + 16], samples, &i0[x..x + 16], &w[x..x + 16]),
        }
        x += 16;
    }
    scalar::expand_row(&mut out[x..n], samples, &i0[x..n], &w[x..n]);
}

/// Strips of 32 columns: the four sums of a strip stay in registers over all the band's rows
/// and are stored once, instead of loading and storing four arrays per row pair.
/// Columns without a right neighbour inside a full strip (the last few) go to the scalar twin.
#[target_feature(enable = "avx2,fma")]
fn block_columns(luma: &Luma<'_>, (y0, y1): (usize, usize), out: ColumnSums<'_>) -> u32 {
    let w = luma.width;
    let zero = _mm256_setzero_si256();
    let widen = |v: __m256i| {
        (
            _mm256_cvtepu8_epi16(_mm256_castsi256_si128(v)),
            _mm256_cvtepu8_epi16(_mm256_extracti128_si256::<1>(v)),
        )
    };
    let abs_diff =
        |a: __m256i, b: __m256i| _mm256_or_si256(_mm256_subs_epu8(a, b), _mm256_subs_epu8(b, a));
    let ColumnSums { sampled, all, horizontal, vertical } = out;
    let mut x = 0;
    while x + 33 <= w {
        let mut sums = [zero; 8];
        for y in (y0..y1).step_by(2) {
            let row = luma.row(y);
            let below = luma.row((y + 1).min(luma.height - 1));
            let p = load_u8x32(&row[x..]);
            let q = load_u8x32(&below[x..]);
            let q_counts = if y + 1 < y1 { q } else { zero };
            let (p_lo, p_hi) = widen(p);
            let (q_lo, q_hi) = widen(q_counts);
            let (h_lo, h_hi) = widen(abs_diff(p, load_u8x32(&row[x + 1..])));
            let (v_lo, v_hi) = widen(abs_diff(p, q));
            let parts = [p_lo, p_hi, p_lo, p_hi, h_lo, h_hi, v_lo, v_hi];
            for (s, part) in sums.iter_mut().zip(parts) {
                *s = _mm256_add_epi16(*s, part);
            }
            sums[2] = _mm256_add_epi16(sums[2], q_lo);
            sums[3] = _mm256_add_epi16(sums[3], q_hi);
        }
        for (k, column) in
            [&mut *sampled, &mut *all, &mut *horizontal, &mut *vertical].into_iter().enumerate()
        {
            store_u16x16(&mut column[x..], sums[2 * k]);
            store_u16x16(&mut column[x + 16..], sums[2 * k + 1]);
        }
        x += 32;
    }
    scalar::block_columns(luma, (y0, y1), (x, w), ColumnSums { sampled, all, horizontal, vertical })
}

/// Eight blocks at a time: each block's columns (up to 32) loaded, masked to the block, and
/// summed in pairs by `madd` against ones; a tree of horizontal adds then turns the eight
/// vectors into eight totals. `madd` reads u16 as i16, so the values must stay below 32768:
/// true for the block statistics (at most 64 rows x 255), and checked, falling back to the
/// scalar twin otherwise. Blocks wider than 32, and the last few, go to the twin.
#[target_feature(enable = "avx2,fma")]
fn block_sums(columns: &[u16], block: usize, out: &mut [u32]) {
    if block == 0 || block > 32 {
        scalar::block_sums(columns, block, out);
        return;
    }
    let lanes = |n: usize| {
        let mut m = [0u16; 16];
        m.iter_mut().take(n).for_each(|v| *v = u16::MAX);
        load_u16x16(&m)
    };
    let (first, second) = (lanes(block.min(16)), lanes(block.saturating_sub(16)));
    let span = if block > 16 { 32 } else { 16 };
    let ones = _mm256_set1_epi16(1);
    let mut seen = _mm256_setzero_si256();
    let mut c = 0;
    while c + 8 <= out.len() && (c + 7) * block + span <= columns.len() {
        let mut pairs = [_mm256_setzero_si256(); 8];
        for (j, p) in pairs.iter_mut().enumerate() {
            let x0 = (c + j) * block;
            let v = _mm256_and_si256(load_u16x16(&columns[x0..]), first);
            seen = _mm256_or_si256(seen, v);
            *p = _mm256_madd_epi16(v, ones);
            if block > 16 {
                let v = _mm256_and_si256(load_u16x16(&columns[x0 + 16..]), second);
                seen = _mm256_or_si256(seen, v);
                *p = _mm256_add_epi32(*p, _mm256_madd_epi16(v, ones));
            }
        }
        // hadd works within 128-bit lanes: after two levels, lane 0 holds the low halves'
        // totals of four blocks and lane 1 their high halves'.
        let h = |a: usize| _mm256_hadd_epi32(pairs[a], pairs[a + 1]);
        let (q0, q1) = (_mm256_hadd_epi32(h(0), h(2)), _mm256_hadd_epi32(h(4), h(6)));
        let totals = _mm256_add_epi32(
            _mm256_permute2x128_si256::<0x20>(q0, q1),
            _mm256_permute2x128_si256::<0x31>(q0, q1),
        );
        store_u32x8(&mut out[c..], totals);
        c += 8;
    }
    if _mm256_testz_si256(seen, _mm256_set1_epi16(i16::MIN)) == 0 {
        // A value of 32768 or more was read as negative: redo all of it exactly.
        scalar::block_sums(columns, block, out);
        return;
    }
    let start = (c * block).min(columns.len());
    scalar::block_sums(&columns[start..], block, &mut out[c..]);
}
