//! Robust statistics of a population: the median, the median absolute deviation (MAD), and how
//! far a value stands above the population in MAD units (a robust z-score). A few percent of
//! abusers move neither the median nor the MAD, so the honest majority sets the scale.

use serde::Serialize;

/// The centre and spread of one feature over the population.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct Population {
    /// How many subjects or sessions had the feature.
    pub n: usize,
    pub median: f64,
    /// Median absolute deviation (raw, not scaled).
    pub mad: f64,
}

impl Population {
    /// The population of `values` (non-finite values are left out).
    pub fn of(values: impl Iterator<Item = f64>) -> Population {
        let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
        let median = median(&mut v);
        let mut dev: Vec<f64> = v.iter().map(|x| (x - median).abs()).collect();
        let mad = median_of(&mut dev);
        Population { n: v.len(), median, mad }
    }

    /// How many robust standard deviations `x` lies above the median. The spread is
    /// 1.4826·MAD (the standard deviation of a normal population) but at least `min_spread`,
    /// because most honest values of a count are equal (every session in one network) and a
    /// MAD of 0 would make any difference infinitely significant.
    pub fn z(&self, x: f64, min_spread: f64) -> f64 {
        let spread = (1.4826 * self.mad).max(min_spread);
        (x - self.median) / spread
    }
}

fn median(v: &mut [f64]) -> f64 {
    median_of(v)
}

fn median_of(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_outliers_do_not_move_the_scale() {
        let mut values: Vec<f64> = (0..97).map(|i| 1.0 + f64::from(i % 3)).collect();
        values.extend([40.0, 50.0, 60.0]);
        let p = Population::of(values.iter().copied());
        assert_eq!(p.median, 2.0);
        assert_eq!(p.mad, 1.0);
        assert!(p.z(50.0, 0.5) > 30.0);
        assert!(p.z(3.0, 0.5) < 1.0);
    }

    #[test]
    fn zero_mad_uses_the_minimum_spread() {
        let p = Population::of([1.0; 50].into_iter());
        assert_eq!(p.mad, 0.0);
        assert_eq!(p.z(3.0, 0.5), 4.0);
    }

    #[test]
    fn empty_and_nan_are_harmless() {
        let p = Population::of([f64::NAN].into_iter());
        assert_eq!(p.n, 0);
        assert!(p.z(1.0, 1.0).is_finite());
    }
}
