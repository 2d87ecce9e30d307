//! The NEON paths of the running sums and reductions: integral-image rows (whole, or built from
//! column sums), prefix sums, the Pearson sums and the fingerprint's subsampled sums.

use std::arch::aarch64::*;

use super::memory::*;
use crate::frame::Luma;
use crate::simd::{scalar, PairedSums};

/// The 16 bytes in reverse order: `rev64` reverses each half, `ext` swaps the halves.
#[target_feature(enable = "neon")]
fn reverse_u8x16(v: uint8x16_t) -> uint8x16_t {
    let v = vrev64q_u8(v);
    vextq_u8::<8>(v, v)
}

/// Prefix sums of eight u16 lanes, in three shifted adds (`ext` against zero shifts lanes up).
/// Eight pixels sum to at most 2040, so u16 holds them.
#[target_feature(enable = "neon")]
fn prefix8_u16(v: uint16x8_t) -> uint16x8_t {
    let zero = vdupq_n_u16(0);
    let v = vaddq_u16(v, vextq_u16::<7>(zero, v));
    let v = vaddq_u16(v, vextq_u16::<6>(zero, v));
    vaddq_u16(v, vextq_u16::<4>(zero, v))
}

/// Prefix sums of four u32 lanes, as [`prefix8_u16`].
#[target_feature(enable = "neon")]
fn prefix4_u32(v: uint32x4_t) -> uint32x4_t {
    let zero = vdupq_n_u32(0);
    let v = vaddq_u32(v, vextq_u32::<3>(zero, v));
    vaddq_u32(v, vextq_u32::<2>(zero, v))
}

/// 16 pixels at a time: each half's prefix sums in u16 ([`prefix8_u16`]), widened to u32 and
/// added to the running total of the row so far (in every lane), which advances by one
/// broadcast per eight pixels. u32 arithmetic wraps as the twin's does.
#[target_feature(enable = "neon")]
pub(super) fn integral_row(pixels: &[u8], mirrored: bool, above: &[u32], below: &mut [u32]) {
    let n = pixels.len();
    assert!(above.len() > n && below.len() > n, "integral row shorter than its pixels");
    let mut carry = vdupq_n_u32(0);
    let mut emit = |x: usize, v: uint16x8_t, carry: uint32x4_t| {
        let v = prefix8_u16(v);
        let lo = vaddq_u32(vmovl_u16(vget_low_u16(v)), carry);
        let hi = vaddq_u32(vmovl_high_u16(v), carry);
        store_u32x4(&mut below[x + 1..], vaddq_u32(lo, load_u32x4(&above[x + 1..])));
        store_u32x4(&mut below[x + 5..], vaddq_u32(hi, load_u32x4(&above[x + 5..])));
        vdupq_laneq_u32::<3>(hi)
    };
    let mut x = 0;
    while x + 16 <= n {
        let p = if mirrored {
            reverse_u8x16(load_u8x16(&pixels[n - x - 16..]))
        } else {
            load_u8x16(&pixels[x..])
        };
        carry = emit(x, vmovl_u8(vget_low_u8(p)), carry);
        carry = emit(x + 8, vmovl_high_u8(p), carry);
        x += 16;
    }
    let mut run = vgetq_lane_u32::<0>(carry);
    for x in x..n {
        run += u32::from(if mirrored { pixels[n - 1 - x] } else { pixels[x] });
        below[x + 1] = above[x + 1] + run;
    }
}

/// Row by row, 16 pixels at a time (reversed within the vector when mirrored), each widened
/// to u16 and added to four u32x4 column sums by `uaddw`. Rows are read in order, as in the
/// AVX2 path (the prefetcher follows them). The last columns go to the scalar twin.
#[target_feature(enable = "neon")]
pub(super) fn add_rows(
    columns: &mut [u32],
    luma: &Luma<'_>,
    (y0, y1): (usize, usize),
    mirrored: bool,
) {
    let w = luma.width;
    let n = columns.len().min(w);
    let full = n - n % 16;
    for y in y0..y1 {
        let row = luma.row(y);
        for x in (0..full).step_by(16) {
            let p = if mirrored {
                reverse_u8x16(load_u8x16(&row[w - x - 16..]))
            } else {
                load_u8x16(&row[x..])
            };
            let (lo, hi) = (vmovl_u8(vget_low_u8(p)), vmovl_high_u8(p));
            let quarters =
                [vget_low_u16(lo), vget_high_u16(lo), vget_low_u16(hi), vget_high_u16(hi)];
            for (k, quarter) in quarters.into_iter().enumerate() {
                let at = x + 4 * k;
                let sum = vaddw_u16(load_u32x4(&columns[at..]), quarter);
                store_u32x4(&mut columns[at..], sum);
            }
        }
    }
    // The remaining columns: as a plane of their own (for a mirrored one, the row's first bytes).
    let rest = if mirrored {
        Luma { width: w - full, ..*luma }
    } else {
        Luma { data: luma.data.get(full..).unwrap_or_default(), width: w - full, ..*luma }
    };
    if rest.width > 0 {
        scalar::add_rows(&mut columns[full..], &rest, (y0, y1), mirrored);
    }
}

/// [`prefix4_u32`] per vector plus the running total, as in `integral_row`. Still a serial
/// scan, but the chain from one vector to the next is one add and one broadcast per four
/// values instead of one add per value.
#[target_feature(enable = "neon")]
pub(super) fn prefix_sums(values: &[u32], out: &mut [u32]) {
    let n = values.len().min(out.len());
    let mut carry = vdupq_n_u32(0);
    let mut x = 0;
    while x + 4 <= n {
        let v = vaddq_u32(prefix4_u32(load_u32x4(&values[x..])), carry);
        store_u32x4(&mut out[x..], v);
        carry = vdupq_laneq_u32::<3>(v);
        x += 4;
    }
    let mut run = vgetq_lane_u32::<0>(carry);
    for (o, &v) in out[x..n].iter_mut().zip(&values[x..n]) {
        run += v;
        *o = run;
    }
}

/// Four partial sums per quantity (two f64x2 registers), added together at the end; cells the
/// copy lacks enter as zeros, which leave every sum unchanged.
#[target_feature(enable = "neon")]
pub(super) fn paired_sums(reference: &[f32], copy: &[Option<f32>]) -> PairedSums {
    let len = reference.len().min(copy.len());
    let mut n = 0usize;
    let zero = [vdupq_n_f64(0.0); 2];
    let (mut sr, mut sc, mut srr, mut scc, mut src) = (zero, zero, zero, zero, zero);
    let mut i = 0;
    while i + 4 <= len {
        let (mut r, mut c) = ([0f64; 4], [0f64; 4]);
        for k in 0..4 {
            if let Some(v) = copy[i + k] {
                r[k] = reference[i + k] as f64;
                c[k] = v as f64;
                n += 1;
            }
        }
        for h in 0..2 {
            let (r, c) = (load_f64x2(&r[2 * h..]), load_f64x2(&c[2 * h..]));
            sr[h] = vaddq_f64(sr[h], r);
            sc[h] = vaddq_f64(sc[h], c);
            // Products of two f32 are exact in f64, so fusing them with the add rounds once, as
            // the scalar twin's separate multiply and add do.
            srr[h] = vfmaq_f64(srr[h], r, r);
            scc[h] = vfmaq_f64(scc[h], c, c);
            src[h] = vfmaq_f64(src[h], r, c);
        }
        i += 4;
    }
    let total = |v: [float64x2_t; 2]| vaddvq_f64(v[0]) + vaddvq_f64(v[1]);
    let tail = scalar::paired_sums(&reference[i..len], &copy[i..len]);
    PairedSums {
        n: n + tail.n,
        sr: total(sr) + tail.sr,
        sc: total(sc) + tail.sc,
        srr: total(srr) + tail.srr,
        scc: total(scc) + tail.scc,
        src: total(src) + tail.src,
    }
}

/// 32 bytes at a time: `ld2` splits them into even- and odd-indexed bytes, and the even ones
/// are added pairwise into eight u16 lanes (`uadalp`). Each step adds at most 2 x 255 to a lane,
/// so after 128 steps (4096 bytes) the lanes are folded into two u64 before they could wrap.
#[target_feature(enable = "neon")]
pub(super) fn sum_every_other(pixels: &[u8]) -> u64 {
    let full = pixels.len() - pixels.len() % 32;
    let mut total = vdupq_n_u64(0);
    for chunk in pixels[..full].chunks(128 * 32) {
        let mut acc = vdupq_n_u16(0);
        for x in (0..chunk.len()).step_by(32) {
            acc = vpadalq_u8(acc, load_u8x16x2_deinterleaved(&chunk[x..]).0);
        }
        total = vpadalq_u32(total, vpaddlq_u16(acc));
    }
    // `full` is a multiple of 32, so the tail starts on an even index like the whole.
    vaddvq_u64(total) + scalar::sum_every_other(&pixels[full..])
}
