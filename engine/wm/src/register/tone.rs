//! Tone mapping between reference and copy: brightness, contrast and gamma changes.
//!
//! Fitted per frame as the conditional mean of the copy given the reference grey level (16
//! bins), joined piecewise-linearly. The watermark is zero-mean and independent of the picture,
//! so it does not bias the fit, while any monotone grey-level change is removed before the
//! residual is correlated.

const BINS: usize = 16;
const BIN_WIDTH: f32 = 256.0 / BINS as f32;
/// Fewer samples than this in a bin and its point is not trusted.
const MIN_COUNT: u32 = 6;

/// A monotone-ish map from reference grey level to expected copy grey level. A fixed array, so
/// fitting one per frame and candidate never allocates.
#[derive(Clone, Debug, Default)]
pub struct ToneCurve {
    /// (reference level, copy level) knots, increasing in reference level; `len` are in use.
    knots: [(f32, f32); BINS],
    len: usize,
}

impl ToneCurve {
    /// Fits the curve to paired block values; pairs with no copy value are skipped.
    pub fn fit(reference: &[f32], copy: &[Option<f32>]) -> Self {
        let mut sum_r = [0f64; BINS];
        let mut sum_c = [0f64; BINS];
        let mut count = [0u32; BINS];
        for (&r, c) in reference.iter().zip(copy) {
            if let Some(c) = c {
                let b = ((r / BIN_WIDTH) as usize).min(BINS - 1);
                sum_r[b] += r as f64;
                sum_c[b] += *c as f64;
                count[b] += 1;
            }
        }
        let mut curve = Self::default();
        for b in (0..BINS).filter(|&b| count[b] >= MIN_COUNT) {
            let n = count[b] as f64;
            curve.knots[curve.len] = ((sum_r[b] / n) as f32, (sum_c[b] / n) as f32);
            curve.len += 1;
        }
        curve
    }

    /// Whether the fit found anything to go on.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Expected copy level for reference level `r`: piecewise linear between knots, a constant
    /// offset beyond the ends.
    #[inline]
    pub fn map(&self, r: f32) -> f32 {
        let k = &self.knots[..self.len];
        match k.len() {
            0 => r,
            1 => r + (k[0].1 - k[0].0),
            _ => {
                let i = k.partition_point(|&(kr, _)| kr < r);
                if i == 0 {
                    r + (k[0].1 - k[0].0)
                } else if i == k.len() {
                    r + (k[i - 1].1 - k[i - 1].0)
                } else {
                    let (r0, c0) = k[i - 1];
                    let (r1, c1) = k[i];
                    c0 + (c1 - c0) * (r - r0) / (r1 - r0).max(1e-3)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_gamma_and_contrast_change() {
        let reference: Vec<f32> = (0..4000).map(|i| 16.0 + (i % 220) as f32).collect();
        let change = |r: f32| 255.0 * (0.9 * r / 255.0 + 0.05).powf(1.0 / 1.2);
        let copy: Vec<Option<f32>> = reference.iter().map(|&r| Some(change(r))).collect();
        let curve = ToneCurve::fit(&reference, &copy);
        for r in [20.0, 64.0, 128.0, 200.0, 230.0] {
            assert!(
                (curve.map(r) - change(r)).abs() < 1.0,
                "at {r}: {} vs {}",
                curve.map(r),
                change(r)
            );
        }
        let empty = ToneCurve::fit(&reference, &vec![None; reference.len()]);
        assert!(empty.is_empty());
        assert_eq!(empty.map(42.0), 42.0);
    }
}
