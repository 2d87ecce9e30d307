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
    /// For each bin, the knots of the bins below it: where [`ToneCurve::map`] starts looking
    /// (a knot lies in its own bin, so the answer is there or one further).
    below: [u8; BINS],
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
        for b in 0..BINS {
            curve.below[b] = curve.len as u8;
            if count[b] >= MIN_COUNT {
                let n = count[b] as f64;
                curve.knots[curve.len] = ((sum_r[b] / n) as f32, (sum_c[b] / n) as f32);
                curve.len += 1;
            }
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
                let i = self.knots_below(r);
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

impl ToneCurve {
    /// How many knots lie below `r`: `knots.partition_point(|k| k.0 < r)`, found from `r`'s bin
    /// instead of by binary search (this runs for every block of every candidate frame). The
    /// steps either way make it exact whatever the knots' rounding.
    #[inline]
    fn knots_below(&self, r: f32) -> usize {
        let k = &self.knots[..self.len];
        let bin = ((r / BIN_WIDTH) as usize).min(BINS - 1);
        let mut i = usize::from(self.below[bin]);
        while i > 0 && k[i - 1].0 >= r {
            i -= 1;
        }
        while i < k.len() && k[i].0 < r {
            i += 1;
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knots_below_is_the_binary_search() {
        use rand_chacha::rand_core::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut unit = || (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32;
        for round in 0..200 {
            // Sparse and dense fits, levels everywhere in range and a little beyond.
            let n = 50 + round * 20;
            let reference: Vec<f32> = (0..n).map(|_| unit() * 255.0).collect();
            let copy: Vec<Option<f32>> =
                reference.iter().map(|&r| (unit() > 0.2).then_some(r * 0.9 + 10.0)).collect();
            let curve = ToneCurve::fit(&reference, &copy);
            let k = &curve.knots[..curve.len];
            for _ in 0..500 {
                let r = unit() * 300.0 - 20.0;
                assert_eq!(curve.knots_below(r), k.partition_point(|&(kr, _)| kr < r), "{r}");
            }
            for &(kr, _) in k {
                assert_eq!(curve.knots_below(kr), k.partition_point(|&(x, _)| x < kr));
            }
        }
    }

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
