//! Each SIMD kernel against its scalar twin on seeded random inputs of awkward sizes: empty and
//! one-element inputs, lengths just off a multiple of the vector width, strides wider than the
//! plane. Integer kernels must agree bit for bit; `paired_sums` within the stated tolerance.

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{scalar, ColumnSums, Kernels};
use crate::frame::Luma;

/// The kernels under test: the path [`expected_name`] names, or every comparison below could
/// be the twin against itself.
fn fast() -> Kernels {
    let k = Kernels::detect();
    assert_eq!(k.name(), expected_name());
    k
}

/// The path [`Kernels::detect`] must pick on this CPU: AVX2 on an x86-64 with AVX2 and FMA,
/// NEON on every aarch64 (its baseline), the twins elsewhere.
fn expected_name() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        return "avx2";
    }
    if cfg!(target_arch = "aarch64") {
        "neon"
    } else {
        "scalar"
    }
}

#[test]
fn detect_picks_avx2_or_neon_where_the_cpu_has_it() {
    assert_eq!(Kernels::detect().name(), expected_name());
    assert_eq!(Kernels::scalar().name(), "scalar");
}

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// A value in `lo..=hi`.
fn uniform(rng: &mut ChaCha8Rng, lo: i64, hi: i64) -> i64 {
    lo + (rng.next_u64() % (hi - lo + 1) as u64) as i64
}

fn bytes(rng: &mut ChaCha8Rng, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rng.fill_bytes(&mut v);
    v
}

/// Lengths around every multiple of the widest vector step (32), and a 1080p row.
fn lengths() -> impl Iterator<Item = usize> {
    (0..=100).chain([127, 128, 129, 1919, 1920, 1921])
}

#[test]
fn blend_row_equals_scalar() {
    let (k, mut r) = (fast(), rng(1));
    for n in lengths() {
        // The Q8 range the upsampler produces: |h| <= 112 * 16.
        let h0: Vec<i16> = (0..n + 3).map(|_| uniform(&mut r, -1792, 1792) as i16).collect();
        let h1: Vec<i16> = (0..n + 5).map(|_| uniform(&mut r, -1792, 1792) as i16).collect();
        let pixels = bytes(&mut r, n);
        for sign in [1, 0, -1] {
            let w1 = uniform(&mut r, 0, 16) as i16;
            let (mut a, mut b) = (pixels.clone(), pixels.clone());
            k.blend_row(&mut a, &h0, &h1, 16 - w1, w1, sign);
            scalar::blend_row(&mut b, &h0, &h1, 16 - w1, w1, sign);
            assert_eq!(a, b, "length {n} sign {sign} w1 {w1}");
            if n >= 64 {
                assert_ne!(a, pixels, "the blend changed nothing at length {n}");
            }
        }
    }
}

#[test]
fn round_to_i16_equals_scalar() {
    let (k, mut r) = (fast(), rng(10));
    for n in lengths() {
        // Around every half, past the limit on both sides, and the odd special value.
        let mut values: Vec<f32> =
            (0..n).map(|_| uniform(&mut r, -16_000, 16_000) as f32 / 1000.0).collect();
        let special = [0.5 / 16.0, -2.5 / 16.0, -0.0, f32::NAN, f32::INFINITY, 1e9, -7.03125];
        for (i, v) in values.iter_mut().enumerate().filter(|(i, _)| i % 3 == 1) {
            *v = special[(i / 3) % special.len()];
        }
        for (scale, limit) in [(16.0, 112.0), (1.0, 3.0), (16.0, 0.0)] {
            let (mut a, mut b) = (vec![5i16; n + 1], vec![5i16; n + 1]);
            k.round_to_i16(&values, scale, limit, &mut a);
            scalar::round_to_i16(&values, scale, limit, &mut b);
            assert_eq!(a, b, "length {n} scale {scale} limit {limit}");
            assert_eq!(a[n], 5);
        }
    }
}

#[test]
fn box3_equals_scalar_bit_for_bit() {
    let (k, mut r) = (fast(), rng(11));
    for (cols, rows) in [(1, 1), (2, 3), (3, 1), (9, 2), (10, 5), (17, 4), (160, 90), (161, 7)] {
        let src: Vec<f32> =
            (0..cols * rows).map(|_| uniform(&mut r, 1, 3_000_000) as f32 / 1e6).collect();
        let (mut a, mut b) = (vec![0f32; cols * rows], vec![0f32; cols * rows]);
        k.box3(&src, cols, rows, &mut a);
        scalar::box3(&src, cols, rows, &mut b);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&b), "{cols} x {rows}");
    }
}

#[test]
fn expand_row_equals_scalar() {
    let (k, mut r) = (fast(), rng(2));
    for cols in [1usize, 2, 3, 9, 17, 160, 161] {
        let samples: Vec<i16> = (0..cols).map(|_| uniform(&mut r, -112, 112) as i16).collect();
        for n in lengths() {
            // Any order of taps, the last sample included (weight 0 on its missing neighbour).
            let i0: Vec<u32> = (0..n).map(|_| uniform(&mut r, 0, cols as i64 - 1) as u32).collect();
            let w: Vec<[i16; 2]> = i0
                .iter()
                .map(|&i| {
                    let w1 = if i as usize + 1 == cols { 0 } else { uniform(&mut r, 0, 16) as i16 };
                    [16 - w1, w1]
                })
                .collect();
            let (mut a, mut b) = (vec![7i16; n + 1], vec![7i16; n + 1]);
            k.expand_row(&mut a, &samples, &i0, &w);
            scalar::expand_row(&mut b, &samples, &i0, &w);
            assert_eq!(a, b, "{cols} samples, length {n}");
            assert_eq!(a[n], 7, "wrote past the taps");
        }
    }
}

#[test]
fn block_columns_equal_scalar() {
    let (k, mut r) = (fast(), rng(3));
    for (w, h, stride) in [
        (1, 1, 1),
        (1, 5, 3),
        (2, 2, 2),
        (31, 4, 31),
        (32, 7, 40),
        (33, 13, 33),
        (34, 3, 64),
        (65, 12, 70),
        (100, 25, 128),
        (1920, 24, 1984),
    ] {
        let data = bytes(&mut r, (h - 1) * stride + w);
        let luma = Luma::new(&data, w, h, stride).expect("layout");
        // Bands of odd and even height, the last one reaching the plane's bottom row.
        for (y0, y1) in
            [(0, h), (0, h.min(12)), (h / 3, h), (h - 1, h), (h / 2, (h / 2 + 5).min(h))]
        {
            // Whatever the outputs held before is replaced.
            let start: Vec<u16> = (0..4 * w).map(|_| uniform(&mut r, 0, 900) as u16).collect();
            let (mut a, mut b) = (start.clone(), start.clone());
            let rows_a = k.block_columns(&luma, (y0, y1), split(&mut a, w));
            let rows_b = scalar::block_columns(&luma, (y0, y1), (0, w), split(&mut b, w));
            assert_eq!(rows_a, rows_b);
            assert_eq!(a, b, "{w}x{h} stride {stride}, rows {y0}..{y1}");
            assert_ne!(a, start, "no sums written for {w}x{h} rows {y0}..{y1}");
        }
    }
}

#[test]
fn block_sums_equal_scalar() {
    let (k, mut r) = (fast(), rng(9));
    for block in [1usize, 2, 3, 7, 8, 12, 16, 17, 24, 32, 33, 40] {
        for n in lengths() {
            // Column sums of up to 64 rows of 255, and, once, values past i16::MAX.
            for top in [64 * 255, 65_535] {
                let columns: Vec<u16> = (0..n).map(|_| uniform(&mut r, 0, top) as u16).collect();
                let blocks = n.div_ceil(block);
                let (mut a, mut b) = (vec![9u32; blocks + 1], vec![9u32; blocks + 1]);
                k.block_sums(&columns, block, &mut a[..blocks]);
                scalar::block_sums(&columns, block, &mut b[..blocks]);
                assert_eq!(a, b, "block {block}, {n} columns, values up to {top}");
            }
        }
    }
}

fn split(v: &mut [u16], w: usize) -> ColumnSums<'_> {
    let (sampled, rest) = v.split_at_mut(w);
    let (all, rest) = rest.split_at_mut(w);
    let (horizontal, vertical) = rest.split_at_mut(w);
    ColumnSums { sampled, all, horizontal, vertical }
}

#[test]
fn integral_row_equals_scalar() {
    let (k, mut r) = (fast(), rng(4));
    for n in lengths() {
        let pixels = bytes(&mut r, n);
        // Totals of a 16-Mpixel picture at most: no overflow in either path.
        let above: Vec<u32> = (0..n + 1).map(|_| uniform(&mut r, 0, 1 << 24) as u32).collect();
        for mirrored in [false, true] {
            let (mut a, mut b) = (vec![u32::MAX; n + 2], vec![u32::MAX; n + 2]);
            k.integral_row(&pixels, mirrored, &above, &mut a);
            scalar::integral_row(&pixels, mirrored, &above, &mut b);
            assert_eq!(a, b, "length {n} mirrored {mirrored}");
            assert_eq!((a[0], a[n + 1]), (u32::MAX, u32::MAX), "wrote outside the row");
        }
    }
}

#[test]
fn add_rows_equals_scalar() {
    let (k, mut r) = (fast(), rng(7));
    for (w, h, stride) in [
        (1, 1, 1),
        (5, 3, 9),
        (31, 4, 31),
        (32, 2, 32),
        (33, 7, 40),
        (70, 300, 70),
        (1920, 3, 1984),
    ] {
        let data = bytes(&mut r, (h - 1) * stride + w);
        let luma = Luma::new(&data, w, h, stride).expect("layout");
        // Totals of a 16-Mpixel picture at most; one column more than the plane, left alone.
        let start: Vec<u32> = (0..w + 1).map(|_| uniform(&mut r, 0, 1 << 24) as u32).collect();
        for rows in [(0, h), (h / 2, h), (1.min(h), 1.min(h)), (0, 1)] {
            for mirrored in [false, true] {
                let (mut a, mut b) = (start.clone(), start.clone());
                k.add_rows(&mut a, &luma, rows, mirrored);
                scalar::add_rows(&mut b, &luma, rows, mirrored);
                assert_eq!(a, b, "{w}x{h} stride {stride} rows {rows:?} mirrored {mirrored}");
                assert_eq!(a[w], start[w]);
            }
        }
    }
}

#[test]
fn prefix_sums_equal_scalar() {
    let (k, mut r) = (fast(), rng(8));
    for n in lengths() {
        let values: Vec<u32> = (0..n).map(|_| uniform(&mut r, 0, 1 << 20) as u32).collect();
        let (mut a, mut b) = (vec![u32::MAX; n + 1], vec![u32::MAX; n + 1]);
        k.prefix_sums(&values, &mut a);
        scalar::prefix_sums(&values, &mut b);
        assert_eq!(a, b, "length {n}");
        assert_eq!(a[n], u32::MAX, "wrote past the values");
    }
}

#[test]
fn paired_sums_equal_scalar_within_rounding() {
    let (k, mut r) = (fast(), rng(5));
    for n in lengths().chain([14_400, 14_401, 22_403]) {
        let reference: Vec<f32> =
            (0..n).map(|_| uniform(&mut r, 0, 255_000) as f32 / 1000.0).collect();
        let copy: Vec<Option<f32>> = (0..n)
            .map(|_| {
                let v = uniform(&mut r, -20_000, 275_000) as f32 / 1000.0;
                (r.next_u32() % 5 != 0).then_some(v)
            })
            .collect();
        let (a, b) = (k.paired_sums(&reference, &copy), scalar::paired_sums(&reference, &copy));
        assert_eq!(a.n, b.n, "length {n}");
        // Tolerance: the two paths add the same exact terms in a different order, so they may
        // differ by a few ulps of the sum of the terms' magnitudes.
        let bound = |terms: f64| 1e-13 * terms.max(1.0);
        let magnitude = |f: &dyn Fn(f64, f64) -> f64| -> f64 {
            reference
                .iter()
                .zip(&copy)
                .filter_map(|(&r, c)| c.map(|c| f(r as f64, c as f64).abs()))
                .sum()
        };
        let checks = [
            (a.sr, b.sr, magnitude(&|r, _| r)),
            (a.sc, b.sc, magnitude(&|_, c| c)),
            (a.srr, b.srr, magnitude(&|r, _| r * r)),
            (a.scc, b.scc, magnitude(&|_, c| c * c)),
            (a.src, b.src, magnitude(&|r, c| r * c)),
        ];
        for (i, (x, y, terms)) in checks.into_iter().enumerate() {
            assert!((x - y).abs() <= bound(terms), "sum {i} at length {n}: {x} vs {y}");
        }
    }
}

#[test]
fn sum_every_other_equals_scalar() {
    let (k, mut r) = (fast(), rng(6));
    for n in lengths().chain([4095, 4096, 4097]) {
        let pixels = bytes(&mut r, n);
        assert_eq!(k.sum_every_other(&pixels), scalar::sum_every_other(&pixels), "length {n}");
    }
    // All-255 rows: the largest sums, and every lane's carry.
    let full = vec![255u8; 10_001];
    assert_eq!(k.sum_every_other(&full), 255 * 5001);
}
