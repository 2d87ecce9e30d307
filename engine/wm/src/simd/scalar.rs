//! The scalar twins: each hot kernel written plainly, straight from its definition. They are
//! the reference the SIMD paths are tested against, and the code that runs where there is no
//! SIMD path: on an x86-64 CPU without AVX2 and on architectures other than x86-64 and aarch64
//! (the compiler vectorises them for the baseline, such as SSE2 on x86-64), and for
//! `expand_row` on aarch64, whose other kernels have NEON paths. Nothing here may change
//! behaviour: these are the loops the engine ran before it had explicit SIMD, moved here with
//! their arithmetic unchanged; only their frame changed (plain slices in, `block_columns`
//! writing its sums rather than adding to zeroed ones, `add_rows` looping over a range of rows,
//! `box3_at` as one output of `box3`).

use super::{ColumnSums, PairedSums};
use crate::frame::Luma;

/// `pixel += sign * round((h0 * w0 + h1 * w1) / 4096)`, saturated to 0..=255, over the shortest
/// of the three slices. Written as two sign-specialised loops so that it vectorises.
pub fn blend_row(row: &mut [u8], h0: &[i16], h1: &[i16], w0: i16, w1: i16, sign: i16) {
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

/// `out[i] = round(values[i] * scale)` (halves away from zero), clamped to `-limit..=limit`,
/// over the shorter of the two: the upsampler's quantisation of the block signal to Q4.
pub fn round_to_i16(values: &[f32], scale: f32, limit: f32, out: &mut [i16]) {
    for (q, &v) in out.iter_mut().zip(values) {
        *q = (v * scale).round().clamp(-limit, limit) as i16;
    }
}

/// One grid row expanded horizontally: `out[x] = s[i0[x]] * w[x][0] + s[i0[x] + 1] * w[x][1]`,
/// where the second sample is clamped to the row (its weight is then zero). Over the shortest
/// of `out`, `i0` and `w`.
pub fn expand_row(out: &mut [i16], samples: &[i16], i0: &[u32], w: &[[i16; 2]]) {
    let last = samples.len().saturating_sub(1);
    for ((o, &i), &[w0, w1]) in out.iter_mut().zip(i0).zip(w) {
        let i = i as usize;
        *o = samples[i] * w0 + samples[(i + 1).min(last)] * w1;
    }
}

/// The column sums of rows `y0, y0 + 2, ...` below `y1` (and each one's lower neighbour) for
/// pixel columns `xa..xb`, written to `out` (which they replace); returns how many rows were
/// sampled. Per column: sampled rows, all rows of the band, |horizontal difference| to the
/// right neighbour (none for the last column) and |vertical difference| to the row below (the
/// last row of the plane is its own neighbour).
pub fn block_columns(
    luma: &Luma<'_>,
    (y0, y1): (usize, usize),
    (xa, xb): (usize, usize),
    out: ColumnSums<'_>,
) -> u32 {
    let ColumnSums { sampled, all, horizontal, vertical } = out;
    let w = luma.width;
    let (xa, xb) = (xa.min(w), xb.min(w));
    let (sampled, all) = (&mut sampled[xa..xb], &mut all[xa..xb]);
    let (horizontal, vertical) = (&mut horizontal[xa..xb], &mut vertical[xa..xb]);
    for sums in [&mut *sampled, &mut *all, &mut *horizontal, &mut *vertical] {
        sums.fill(0);
    }
    let mut rows = 0u32;
    for y in (y0..y1).step_by(2) {
        let row = luma.row(y);
        let below = luma.row((y + 1).min(luma.height - 1));
        let below_counts = u16::from(y + 1 < y1);
        rows += 1;
        let (right, row, below) = (&row[(xa + 1).min(w)..], &row[xa..xb], &below[xa..xb]);
        for (((s, a), &p), &q) in sampled.iter_mut().zip(all.iter_mut()).zip(row).zip(below) {
            *s += p as u16;
            *a += p as u16 + below_counts * q as u16;
        }
        for ((h, &p), &n) in horizontal.iter_mut().zip(row).zip(right) {
            *h += p.abs_diff(n) as u16;
        }
        for ((v, &p), &q) in vertical.iter_mut().zip(row).zip(below) {
            *v += p.abs_diff(q) as u16;
        }
    }
    rows
}

/// 3x3 box mean of a `rows x cols` grid with edge clamping: the mask's smoothing. Each output
/// adds its nine inputs row by row, left to right, then divides by 9.
pub fn box3(src: &[f32], cols: usize, rows: usize, dst: &mut [f32]) {
    for r in 0..rows {
        for c in 0..cols {
            dst[r * cols + c] = box3_at(src, cols, rows, r, c);
        }
    }
}

/// One output of [`box3`].
#[inline]
pub fn box3_at(src: &[f32], cols: usize, rows: usize, r: usize, c: usize) -> f32 {
    let rs = [r.saturating_sub(1), r, (r + 1).min(rows - 1)];
    let cs = [c.saturating_sub(1), c, (c + 1).min(cols - 1)];
    let mut s = 0.0;
    for &rr in &rs {
        for &cc in &cs {
            s += src[rr * cols + cc];
        }
    }
    s / 9.0
}

/// Per-block totals of column sums: `out[c]` is the sum of `columns[c * block..]`, `block`
/// columns or up to the end, for every `c` of `out`.
pub fn block_sums(columns: &[u16], block: usize, out: &mut [u32]) {
    for (c, o) in out.iter_mut().enumerate() {
        let x1 = ((c + 1) * block).min(columns.len());
        let x0 = (c * block).min(x1);
        *o = columns[x0..x1].iter().map(|&x| x as u32).sum::<u32>();
    }
}

/// One row of an integral image: `below[x + 1] = above[x + 1] + pixels[0] + ... + pixels[x]`,
/// with the pixels taken right to left when `mirrored`. `below[0]` is left alone.
pub fn integral_row(pixels: &[u8], mirrored: bool, above: &[u32], below: &mut [u32]) {
    // Two monomorphic loops rather than a boxed iterator: this runs for every frame.
    if mirrored {
        accumulate_row(pixels.iter().rev(), above, below);
    } else {
        accumulate_row(pixels.iter(), above, below);
    }
}

#[inline]
fn accumulate_row<'a>(pixels: impl Iterator<Item = &'a u8>, above: &[u32], below: &mut [u32]) {
    let mut run = 0u32;
    for (x, &p) in pixels.enumerate() {
        run += p as u32;
        below[x + 1] = above[x + 1] + run;
    }
}

/// Adds rows `y0..y1` of the plane to per-column sums: `columns[x] += row[x]`, or
/// `row[width - 1 - x]` when `mirrored`, for every row; over the shorter of `columns` and a row.
pub fn add_rows(columns: &mut [u32], luma: &Luma<'_>, (y0, y1): (usize, usize), mirrored: bool) {
    for y in y0..y1 {
        let pixels = luma.row(y);
        if mirrored {
            for (c, &p) in columns.iter_mut().zip(pixels.iter().rev()) {
                *c += p as u32;
            }
        } else {
            for (c, &p) in columns.iter_mut().zip(pixels) {
                *c += p as u32;
            }
        }
    }
}

/// Running sums: `out[x] = values[0] + ... + values[x]`, over the shorter of the two.
pub fn prefix_sums(values: &[u32], out: &mut [u32]) {
    let mut run = 0u32;
    for (o, &v) in out.iter_mut().zip(values) {
        run += v;
        *o = run;
    }
}

/// The sums of a Pearson correlation over the pairs whose copy value is present, in order.
pub fn paired_sums(reference: &[f32], copy: &[Option<f32>]) -> PairedSums {
    let (mut n, mut sr, mut sc, mut srr, mut scc, mut src) = (0usize, 0f64, 0f64, 0f64, 0f64, 0f64);
    for (&r, c) in reference.iter().zip(copy) {
        if let Some(c) = c {
            let (r, c) = (r as f64, *c as f64);
            n += 1;
            sr += r;
            sc += c;
            srr += r * r;
            scc += c * c;
            src += r * c;
        }
    }
    PairedSums { n, sr, sc, srr, scc, src }
}

/// Sum of `pixels[0] + pixels[2] + pixels[4] + ...`.
pub fn sum_every_other(pixels: &[u8]) -> u64 {
    pixels.iter().step_by(2).map(|&p| u64::from(p)).sum()
}
