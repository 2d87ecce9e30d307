//! Integral (summed-area) images: the mean of any axis-aligned rectangle, with fractional
//! corners, in constant time. The detector uses them to read a copy at the reference's block
//! positions whatever the scale between the two.

use crate::frame::Luma;
use crate::simd::kernels;

/// Summed-area table with one row and column of zeros in front: `at(x, y)` is the sum of all
/// pixels left of `x` and above `y`. Sums are `u32`, enough for pictures up to 16.8 Mpixel (8K
/// UHD is 33 Mpixel and would need `u64`).
#[derive(Clone, Debug, Default)]
pub struct IntegralImage {
    pub width: usize,
    pub height: usize,
    sums: Vec<u32>,
    /// After [`IntegralImage::fill_rows_only`]: which table rows hold sums (empty: all do).
    valid: Vec<bool>,
    /// Scratch of `fill_rows_only`: per pixel column, the sum of the rows added so far.
    columns: Vec<u32>,
}

impl IntegralImage {
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds the table for `luma`, reusing the allocation when the size is unchanged.
    pub fn fill(&mut self, luma: &Luma<'_>) {
        self.fill_rows(luma, false);
    }

    /// [`IntegralImage::fill`] of the picture mirrored left to right (a flipped copy read as if
    /// it were not flipped).
    pub fn fill_mirrored(&mut self, luma: &Luma<'_>) {
        self.fill_rows(luma, true);
    }

    fn fill_rows(&mut self, luma: &Luma<'_>, mirrored: bool) {
        let w1 = luma.width + 1;
        self.width = luma.width;
        self.height = luma.height;
        // Every entry but the first row and column is written below: zero only those, not the
        // whole table (8 MB at 1080p, as much memory traffic as filling it).
        self.sums.resize(w1 * (luma.height + 1), 0);
        self.sums[..w1].fill(0);
        self.valid.clear();
        let k = kernels();
        for y in 0..luma.height {
            let (above, below) = self.sums.split_at_mut((y + 1) * w1);
            let (above, below) = (&above[y * w1..], &mut below[..w1]);
            below[0] = 0;
            k.integral_row(luma.row(y), mirrored, above, below);
        }
    }

    /// Like [`IntegralImage::fill`] (or [`IntegralImage::fill_mirrored`]), but builds only the
    /// table rows listed in `rows` (ascending; rows past the picture are ignored): a reader that
    /// knows which rows it will look up, such as a scorer whose separable transform is fixed
    /// ([`crate::register::sample::rows_read`]), needs a few hundred of a 1080p table's 1081
    /// rows, and writing the whole table costs more memory traffic than all the rest of the
    /// frame's work. Each pixel row is added to per-column sums once; a listed row is the prefix
    /// sum of those columns — the same integers `fill` writes. Other rows must not be read
    /// (checked in debug builds).
    pub fn fill_rows_only(&mut self, luma: &Luma<'_>, mirrored: bool, rows: &[usize]) {
        let w1 = luma.width + 1;
        self.width = luma.width;
        self.height = luma.height;
        self.sums.resize(w1 * (luma.height + 1), 0);
        self.valid.clear();
        self.valid.resize(luma.height + 1, false);
        self.columns.clear();
        self.columns.resize(luma.width, 0);
        let k = kernels();
        let mut added = 0;
        for &r in rows.iter().filter(|&&r| r <= luma.height) {
            debug_assert!(r >= added, "rows must ascend");
            k.add_rows(&mut self.columns, luma, (added, r.max(added)), mirrored);
            added = r.max(added);
            let row = &mut self.sums[r * w1..(r + 1) * w1];
            row[0] = 0;
            k.prefix_sums(&self.columns, &mut row[1..]);
            self.valid[r] = true;
        }
    }

    /// The table rows [`IntegralImage::at_real`] reads for the coordinates `ys` (sorted,
    /// without repeats), in a picture `height` rows high.
    pub fn rows_read(ys: &[f32], height: usize) -> Vec<usize> {
        let mut rows: Vec<usize> = ys
            .iter()
            .flat_map(|&y| {
                let y0 = Self::row_below(y, height);
                [y0, y0 + 1]
            })
            .collect();
        rows.sort_unstable();
        rows.dedup();
        rows
    }

    /// The table row at or just above `y` that `at_real` interpolates from (with the next).
    #[inline]
    fn row_below(y: f32, height: usize) -> usize {
        let y = y.clamp(0.0, height as f32) as f64;
        (y as usize).min(height.saturating_sub(1))
    }

    /// The table of the picture mirrored left to right, from this one: column sums of a mirror
    /// are the original's taken from the right edge.
    pub fn mirrored(&self) -> IntegralImage {
        debug_assert!(self.valid.is_empty(), "mirroring a partly built table");
        let (w, w1) = (self.width, self.width + 1);
        let mut sums = vec![0u32; self.sums.len()];
        for (row, out) in self.sums.chunks_exact(w1).zip(sums.chunks_exact_mut(w1)) {
            for x in 0..=w {
                out[x] = row[w] - row[w - x];
            }
        }
        IntegralImage { width: self.width, height: self.height, sums, ..Default::default() }
    }

    #[inline]
    fn at(&self, x: usize, y: usize) -> f64 {
        debug_assert!(self.valid.is_empty() || self.valid[y], "table row {y} was not built");
        self.sums[y * (self.width + 1) + x] as f64
    }

    /// The table extended to real coordinates by bilinear interpolation (exact for a picture
    /// whose pixels are constant squares). Coordinates are clamped to the picture.
    #[inline]
    /// f64 because block sums are small differences of large totals: f32 would lose whole grey
    /// levels on a 1080p frame.
    fn at_real(&self, x: f32, y: f32) -> f64 {
        let x = x.clamp(0.0, self.width as f32) as f64;
        let y0 = Self::row_below(y, self.height);
        let y = y.clamp(0.0, self.height as f32) as f64;
        let x0 = (x as usize).min(self.width.saturating_sub(1));
        let fx = x - x0 as f64;
        let fy = y - y0 as f64;
        let a = self.at(x0, y0);
        let b = self.at(x0 + 1, y0);
        let c = self.at(x0, y0 + 1);
        let d = self.at(x0 + 1, y0 + 1);
        let top = a + (b - a) * fx;
        let bottom = c + (d - c) * fx;
        top + (bottom - top) * fy
    }

    /// Mean of the rectangle `[x0, x1) x [y0, y1)` in pixel units (fractions allowed), or `None`
    /// when less than `min_inside` of its area lies inside the picture.
    #[inline]
    pub fn mean(&self, x0: f32, x1: f32, y0: f32, y1: f32, min_inside: f32) -> Option<f32> {
        let area = (x1 - x0) * (y1 - y0);
        let cx0 = x0.max(0.0);
        let cy0 = y0.max(0.0);
        let cx1 = x1.min(self.width as f32);
        let cy1 = y1.min(self.height as f32);
        let inside = (cx1 - cx0).max(0.0) * (cy1 - cy0).max(0.0);
        if area <= 0.0 || inside < min_inside * area {
            return None;
        }
        let sum = self.at_real(cx1, cy1) - self.at_real(cx0, cy1) - self.at_real(cx1, cy0)
            + self.at_real(cx0, cy0);
        Some((sum / inside as f64) as f32)
    }

    /// [`IntegralImage::mean`] of every cell of a grid whose cells share their edges: cell
    /// `(c, r)` spans `xs[c]..xs[c + 1]` by `ys[r]..ys[r + 1]`, row by row into `out`. Each
    /// edge crossing is looked up once instead of once per cell touching it (four times fewer
    /// lookups), with results identical to calling `mean` per cell. `table` is scratch.
    pub fn grid_means(
        &self,
        xs: &[f32],
        ys: &[f32],
        min_inside: f32,
        table: &mut Vec<f64>,
        out: &mut Vec<Option<f32>>,
    ) {
        out.clear();
        if xs.len() < 2 || ys.len() < 2 {
            return;
        }
        // `at_real` clamps to the picture, so a crossing's value does not depend on whether
        // `mean` would have clamped it as a cell's low or high edge first.
        table.clear();
        for &y in ys {
            table.extend(xs.iter().map(|&x| self.at_real(x, y)));
        }
        let (w, h) = (self.width as f32, self.height as f32);
        let stride = xs.len();
        for r in 0..ys.len() - 1 {
            let (y0, y1) = (ys[r], ys[r + 1]);
            let (cy0, cy1) = (y0.max(0.0), y1.min(h));
            let top = &table[r * stride..(r + 1) * stride];
            let bottom = &table[(r + 1) * stride..(r + 2) * stride];
            for c in 0..stride - 1 {
                let (x0, x1) = (xs[c], xs[c + 1]);
                let area = (x1 - x0) * (y1 - y0);
                let (cx0, cx1) = (x0.max(0.0), x1.min(w));
                let inside = (cx1 - cx0).max(0.0) * (cy1 - cy0).max(0.0);
                if area <= 0.0 || inside < min_inside * area {
                    out.push(None);
                    continue;
                }
                let sum = bottom[c + 1] - bottom[c] - top[c + 1] + top[c];
                out.push(Some((sum / inside as f64) as f32));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::OwnedLuma;

    #[test]
    fn means_match_direct_sums() {
        let mut img = OwnedLuma::new(13, 7);
        for (i, p) in img.data.iter_mut().enumerate() {
            *p = (i * 37 % 251) as u8;
        }
        let mut ii = IntegralImage::new();
        ii.fill(&img.view());
        let direct = |x0: usize, x1: usize, y0: usize, y1: usize| {
            let mut s = 0.0;
            for y in y0..y1 {
                for x in x0..x1 {
                    s += img.data[y * 13 + x] as f32;
                }
            }
            s / ((x1 - x0) * (y1 - y0)) as f32
        };
        let m = ii.mean(2.0, 9.0, 1.0, 6.0, 1.0).unwrap();
        assert!((m - direct(2, 9, 1, 6)).abs() < 1e-3);
        // Half a pixel on each side of pixel column 3 covers exactly that column's values.
        let half = ii.mean(3.0, 4.0, 0.0, 7.0, 1.0).unwrap();
        assert!((half - direct(3, 4, 0, 7)).abs() < 1e-3);
        assert!(ii.mean(-20.0, -10.0, 0.0, 3.0, 0.5).is_none());
        assert!(ii.mean(10.0, 16.0, 0.0, 7.0, 0.9).is_none());
    }

    #[test]
    fn mirrored_tables_match_a_mirrored_picture() {
        let (w, h) = (11, 5);
        let mut img = OwnedLuma::new(w, h);
        let mut flipped = OwnedLuma::new(w, h);
        for y in 0..h {
            for x in 0..w {
                let v = ((x * 29 + y * 7) % 256) as u8;
                img.data[y * w + x] = v;
                flipped.data[y * w + (w - 1 - x)] = v;
            }
        }
        let (mut a, mut b) = (IntegralImage::new(), IntegralImage::new());
        a.fill(&flipped.view());
        b.fill_mirrored(&img.view());
        let mut plain = IntegralImage::new();
        plain.fill(&img.view());
        let c = plain.mirrored();
        assert_eq!(a.sums, b.sums);
        assert_eq!(a.sums, c.sums);
        assert_ne!(a.sums, plain.sums);
    }

    #[test]
    fn rows_built_alone_equal_the_full_table() {
        let (w, h, stride) = (45, 19, 52);
        let data: Vec<u8> = (0..(h - 1) * stride + w).map(|i| (i * 73 % 256) as u8).collect();
        let luma = Luma::new(&data, w, h, stride).expect("layout");
        for mirrored in [false, true] {
            let mut full = IntegralImage::new();
            if mirrored {
                full.fill_mirrored(&luma);
            } else {
                full.fill(&luma);
            }
            let rows = [0, 1, 2, 7, 8, 18, 19, 40];
            let mut part = IntegralImage::new();
            part.fill(&luma); // stale rows from an earlier frame must not matter
            part.fill_rows_only(&luma, mirrored, &rows);
            for r in rows.into_iter().filter(|&r| r <= h) {
                let span = r * (w + 1)..(r + 1) * (w + 1);
                assert_eq!(part.sums[span.clone()], full.sums[span], "row {r} mirrored {mirrored}");
            }
            // The rows at_real reads for some coordinates are what grid_means then needs.
            let ys = [-2.0f32, 0.0, 3.5, 3.9, 12.25, 19.0, 30.0];
            let xs = [-1.0f32, 0.0, 10.5, 44.9, 45.0];
            part.fill_rows_only(&luma, mirrored, &IntegralImage::rows_read(&ys, h));
            let (mut table, mut a, mut b) = (Vec::new(), Vec::new(), Vec::new());
            part.grid_means(&xs, &ys, 0.0, &mut table, &mut a);
            full.grid_means(&xs, &ys, 0.0, &mut table, &mut b);
            // Bits, not values: zero-area cells are NaN on both sides.
            let bits =
                |v: &[Option<f32>]| v.iter().map(|m| m.map(f32::to_bits)).collect::<Vec<_>>();
            assert_eq!(bits(&a), bits(&b));
            assert!(a.iter().flatten().any(|v| v.is_finite()));
        }
    }

    #[test]
    fn grid_means_equal_per_cell_means_bit_for_bit() {
        let mut img = OwnedLuma::new(37, 23);
        for (i, p) in img.data.iter_mut().enumerate() {
            *p = (i * 91 % 253) as u8;
        }
        let mut ii = IntegralImage::new();
        ii.fill(&img.view());
        // Edges partly outside the picture on every side, fractional, one cell of zero width.
        let xs = [-3.25f32, 0.5, 4.0, 4.0, 11.75, 20.1, 36.4, 41.0];
        let ys = [-1.5f32, 2.25, 9.0, 15.5, 22.9, 26.0];
        let (mut table, mut out) = (Vec::new(), Vec::new());
        for min_inside in [0.0, 0.5, 0.98] {
            ii.grid_means(&xs, &ys, min_inside, &mut table, &mut out);
            let mut want = Vec::new();
            for r in 0..ys.len() - 1 {
                for c in 0..xs.len() - 1 {
                    want.push(ii.mean(xs[c], xs[c + 1], ys[r], ys[r + 1], min_inside));
                }
            }
            assert_eq!(out.len(), want.len());
            for (got, want) in out.iter().zip(&want) {
                assert_eq!(got.map(f32::to_bits), want.map(f32::to_bits));
            }
            assert!(out.iter().any(Option::is_some) && out.iter().any(Option::is_none));
        }
    }
}
