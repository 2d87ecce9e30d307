//! The AVX2 paths of the running sums and reductions: integral-image rows (whole, or built from
//! column sums), prefix sums, the Pearson sums and the fingerprint's subsampled sums.

use std::arch::x86_64::*;

use super::memory::*;
use crate::frame::Luma;
use crate::simd::{scalar, PairedSums};

/// 8 pixels at a time: [`prefix8`] plus the running total of the row so far, which advances by
/// one add per vector, so rows stream at memory speed.
#[target_feature(enable = "avx2,fma")]
pub(super) fn integral_row(pixels: &[u8], mirrored: bool, above: &[u32], below: &mut [u32]) {
    let n = pixels.len();
    assert!(above.len() > n && below.len() > n, "integral row shorter than its pixels");
    let reverse = _mm256_setr_epi32(7, 6, 5, 4, 3, 2, 1, 0);
    let last = _mm256_set1_epi32(7);
    let mut carry = _mm256_setzero_si256();
    let mut x = 0;
    while x + 8 <= n {
        let v = prefix8(if mirrored {
            _mm256_permutevar8x32_epi32(widen_u8x8(&pixels[n - x - 8..]), reverse)
        } else {
            widen_u8x8(&pixels[x..])
        });
        let sums = _mm256_add_epi32(v, carry);
        carry = _mm256_add_epi32(carry, _mm256_permutevar8x32_epi32(v, last));
        store_u32x8(&mut below[x + 1..], _mm256_add_epi32(sums, load_u32x8(&above[x + 1..])));
        x += 8;
    }
    let mut run = _mm256_extract_epi32::<0>(carry) as u32;
    for x in x..n {
        run += u32::from(if mirrored { pixels[n - 1 - x] } else { pixels[x] });
        below[x + 1] = above[x + 1] + run;
    }
}

/// Prefix sums of eight u32 lanes: two shifts within each 128-bit lane, then the low lane's
/// total added to the high lane.
#[target_feature(enable = "avx2,fma")]
fn prefix8(v: __m256i) -> __m256i {
    let v = _mm256_add_epi32(v, _mm256_slli_si256::<4>(v));
    let v = _mm256_add_epi32(v, _mm256_slli_si256::<8>(v));
    let low_total = _mm256_shuffle_epi32::<0xFF>(v);
    _mm256_add_epi32(v, _mm256_permute2x128_si256::<0x08>(low_total, low_total))
}

/// Row by row, 16 pixels at a time (reversed within the vector when mirrored), widened to u32
/// and added. Rows are read in order, which the hardware prefetcher follows: keeping a strip's
/// sums in registers across rows, as `block_columns` does, measured slower here, each strip then
/// jumping from row to row for little arithmetic. The last columns go to the scalar twin.
#[target_feature(enable = "avx2,fma")]
pub(super) fn add_rows(
    columns: &mut [u32],
    luma: &Luma<'_>,
    (y0, y1): (usize, usize),
    mirrored: bool,
) {
    let w = luma.width;
    let n = columns.len().min(w);
    let full = n - n % 16;
    let reverse = _mm_setr_epi8(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    for y in y0..y1 {
        let row = luma.row(y);
        for x in (0..full).step_by(16) {
            let p = if mirrored {
                _mm_shuffle_epi8(load_u8x16(&row[w - x - 16..]), reverse)
            } else {
                load_u8x16(&row[x..])
            };
            let lo = _mm256_add_epi32(load_u32x8(&columns[x..]), _mm256_cvtepu8_epi32(p));
            let hi = _mm256_add_epi32(
                load_u32x8(&columns[x + 8..]),
                _mm256_cvtepu8_epi32(_mm_srli_si128::<8>(p)),
            );
            store_u32x8(&mut columns[x..], lo);
            store_u32x8(&mut columns[x + 8..], hi);
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

/// [`prefix8`] per vector plus the running total, as in `integral_row`.
#[target_feature(enable = "avx2,fma")]
pub(super) fn prefix_sums(values: &[u32], out: &mut [u32]) {
    let n = values.len().min(out.len());
    let last = _mm256_set1_epi32(7);
    let mut carry = _mm256_setzero_si256();
    let mut x = 0;
    while x + 8 <= n {
        let v = prefix8(load_u32x8(&values[x..]));
        store_u32x8(&mut out[x..], _mm256_add_epi32(v, carry));
        carry = _mm256_add_epi32(carry, _mm256_permutevar8x32_epi32(v, last));
        x += 8;
    }
    let mut run = _mm256_extract_epi32::<0>(carry) as u32;
    for (o, &v) in out[x..n].iter_mut().zip(&values[x..n]) {
        run += v;
        *o = run;
    }
}

/// Four partial sums per quantity (one per f64 lane), added together at the end; cells the
/// copy lacks enter as zeros, which leave every sum unchanged.
#[target_feature(enable = "avx2,fma")]
pub(super) fn paired_sums(reference: &[f32], copy: &[Option<f32>]) -> PairedSums {
    let len = reference.len().min(copy.len());
    let mut n = 0usize;
    let zero = _mm256_setzero_pd();
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
        let (r, c) = (load_f64x4(&r), load_f64x4(&c));
        sr = _mm256_add_pd(sr, r);
        sc = _mm256_add_pd(sc, c);
        // Products of two f32 are exact in f64, so fusing them with the add rounds once, as the
        // scalar twin's separate multiply and add do.
        srr = _mm256_fmadd_pd(r, r, srr);
        scc = _mm256_fmadd_pd(c, c, scc);
        src = _mm256_fmadd_pd(r, c, src);
        i += 4;
    }
    let tail = scalar::paired_sums(&reference[i..len], &copy[i..len]);
    PairedSums {
        n: n + tail.n,
        sr: sum_lanes(sr) + tail.sr,
        sc: sum_lanes(sc) + tail.sc,
        srr: sum_lanes(srr) + tail.srr,
        scc: sum_lanes(scc) + tail.scc,
        src: sum_lanes(src) + tail.src,
    }
}

/// Even-indexed bytes kept by a mask, summed eight at a time by `sad` against zero.
#[target_feature(enable = "avx2,fma")]
pub(super) fn sum_every_other(pixels: &[u8]) -> u64 {
    let even = _mm256_set1_epi16(0x00FF);
    let zero = _mm256_setzero_si256();
    let mut acc = zero;
    let mut x = 0;
    while x + 32 <= pixels.len() {
        let v = _mm256_and_si256(load_u8x32(&pixels[x..]), even);
        acc = _mm256_add_epi64(acc, _mm256_sad_epu8(v, zero));
        x += 32;
    }
    let mut lanes = [0u64; 4];
    store_u64x4(&mut lanes, acc);
    // `x` is a multiple of 32, so the tail starts on an even index like the whole.
    lanes.iter().sum::<u64>() + scalar::sum_every_other(&pixels[x..])
}

#[target_feature(enable = "avx2,fma")]
fn sum_lanes(v: __m256d) -> f64 {
    let mut lanes = [0f64; 4];
    // SAFETY: `lanes` is 32 writable bytes; storeu needs no alignment.
    unsafe { _mm256_storeu_pd(lanes.as_mut_ptr(), v) };
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3])
}
