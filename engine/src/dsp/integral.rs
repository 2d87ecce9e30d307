//! Integral (summed-area) images: the mean of any axis-aligned rectangle, with fractional
//! corners, in constant time. The detector uses them to read a copy at the reference's block
//! positions whatever the scale between the two.

use crate::frame::Luma;

/// Summed-area table with one row and column of zeros in front: `at(x, y)` is the sum of all
/// pixels left of `x` and above `y`. Sums are `u32`, enough for pictures up to 16.8 Mpixel (8K
/// UHD is 33 Mpixel and would need `u64`).
#[derive(Clone, Debug, Default)]
pub struct IntegralImage {
    pub width: usize,
    pub height: usize,
    sums: Vec<u32>,
}

impl IntegralImage {
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds the table for `luma`, reusing the allocation when the size is unchanged.
    pub fn fill(&mut self, luma: &Luma<'_>) {
        let w1 = luma.width + 1;
        self.width = luma.width;
        self.height = luma.height;
        self.sums.clear();
        self.sums.resize(w1 * (luma.height + 1), 0);
        for y in 0..luma.height {
            let (above, below) = self.sums.split_at_mut((y + 1) * w1);
            let above = &above[y * w1..];
            let below = &mut below[..w1];
            let mut run = 0u32;
            for (x, &p) in luma.row(y).iter().enumerate() {
                run += p as u32;
                below[x + 1] = above[x + 1] + run;
            }
        }
    }

    #[inline]
    fn at(&self, x: usize, y: usize) -> f64 {
        self.sums[y * (self.width + 1) + x] as f64
    }

    /// The table extended to real coordinates by bilinear interpolation (exact for a picture
    /// whose pixels are constant squares). Coordinates are clamped to the picture.
    #[inline]
    /// f64 because block sums are small differences of large totals: f32 would lose whole grey
    /// levels on a 1080p frame.
    fn at_real(&self, x: f32, y: f32) -> f64 {
        let x = x.clamp(0.0, self.width as f32) as f64;
        let y = y.clamp(0.0, self.height as f32) as f64;
        let x0 = (x as usize).min(self.width.saturating_sub(1));
        let y0 = (y as usize).min(self.height.saturating_sub(1));
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
}
