//! Arrival times inside one ServeGen window.
//!
//! A window of length `L` with `n` requests is filled by drawing `n + 1` inter-arrival gaps
//! `G_0..G_n` from the window's family and placing request `j` at
//! `start + L · (G_0 + … + G_{j-1}) / ΣG`. The count is exactly the one asked for (the trace's
//! `rate` is a count over the window), the gaps keep the family's shape and therefore its CV,
//! and with exponential gaps this is exactly a Poisson process conditioned on `n` arrivals.
//! Only the shape of the gap distribution matters; its scale cancels.

use rand::Rng;
use rand_distr::{Distribution, Exp1, Gamma, Weibull};

/// CVs below this are treated as perfectly regular arrivals.
const REGULAR_CV: f64 = 1e-6;

/// The unit-scale gap distribution of a window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum GapShape {
    /// Exponential gaps (CV 1): a Poisson process.
    Exponential,
    /// Gamma gaps with this shape (CV = 1/√shape).
    Gamma(f64),
    /// Weibull gaps with this shape.
    Weibull(f64),
    /// Evenly spaced arrivals (CV 0).
    Regular,
}

impl GapShape {
    /// Gamma gaps with the given CV.
    pub fn gamma_for_cv(cv: f64) -> Self {
        if cv < REGULAR_CV {
            Self::Regular
        } else {
            Self::Gamma(1.0 / (cv * cv))
        }
    }

    /// Weibull gaps with the given CV.
    pub fn weibull_for_cv(cv: f64) -> Self {
        if cv < REGULAR_CV {
            Self::Regular
        } else {
            Self::Weibull(weibull_shape_for_cv(cv))
        }
    }

    /// Coefficient of variation of the gaps.
    #[cfg(test)]
    pub fn cv(self) -> f64 {
        match self {
            Self::Exponential => 1.0,
            Self::Gamma(k) => 1.0 / k.sqrt(),
            Self::Weibull(k) => weibull_cv(k),
            Self::Regular => 0.0,
        }
    }

    fn gaps<R: Rng + ?Sized>(self, count: usize, rng: &mut R) -> Vec<f64> {
        match self {
            Self::Exponential => (0..count).map(|_| Exp1.sample(rng)).collect(),
            Self::Gamma(k) => match Gamma::new(k, 1.0) {
                Ok(d) if k.is_finite() => (0..count).map(|_| d.sample(rng)).collect(),
                _ => vec![1.0; count],
            },
            Self::Weibull(k) => match Weibull::new(1.0, k) {
                Ok(d) if k.is_finite() => (0..count).map(|_| d.sample(rng)).collect(),
                _ => vec![1.0; count],
            },
            Self::Regular => vec![1.0; count],
        }
    }
}

/// `n` arrival times in `[start, start + len)` (sorted) with gaps of the given shape.
pub(crate) fn window_arrivals<R: Rng + ?Sized>(
    start: f64,
    len: f64,
    n: usize,
    shape: GapShape,
    rng: &mut R,
) -> Vec<f64> {
    if n == 0 {
        return Vec::new();
    }
    let mut gaps = shape.gaps(n + 1, rng);
    let total: f64 = gaps.iter().sum();
    if !(total.is_finite() && total > 0.0) {
        // Every gap underflowed to 0 or one overflowed: fall back to even spacing.
        gaps.iter_mut().for_each(|g| *g = 1.0);
    }
    let total: f64 = gaps.iter().sum();
    // A last gap that underflowed to 0 would put an arrival on the next window's start; the
    // float just below the end keeps it inside (`start + len` is positive and finite).
    let last = f64::from_bits((start + len).to_bits() - 1);
    let mut acc = 0.0;
    gaps[..n]
        .iter()
        .map(|g| {
            acc += g;
            (start + len * (acc / total)).min(last)
        })
        .collect()
}

/// CV of a Weibull distribution with shape `k`: `√(Γ(1+2/k) / Γ(1+1/k)² − 1)`.
pub(crate) fn weibull_cv(k: f64) -> f64 {
    (ln_gamma(1.0 + 2.0 / k) - 2.0 * ln_gamma(1.0 + 1.0 / k))
        .exp_m1()
        .max(0.0)
        .sqrt()
}

/// The Weibull shape whose CV is `cv` (bisection on `ln k`; the CV falls as `k` grows),
/// limited to shapes in `[0.02, 1000]` (CVs from about 3e14 down to 0.0013).
pub(crate) fn weibull_shape_for_cv(cv: f64) -> f64 {
    let (mut lo, mut hi) = (0.02f64.ln(), 1000f64.ln());
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if weibull_cv(mid.exp()) > cv {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (0.5 * (lo + hi)).exp()
}

/// `ln Γ(x)` for `x > 0`: shifted up by the recurrence `Γ(x+1) = x·Γ(x)` until `x ≥ 15`, then
/// Stirling's series to the `x⁻⁷` term (truncation error below 3e-14 there).
pub(crate) fn ln_gamma(x: f64) -> f64 {
    let mut x = x;
    let mut shift = 0.0;
    while x < 15.0 {
        shift -= x.ln();
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    let series = inv * (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 * (1.0 / 1260.0 - inv2 / 1680.0)));
    shift + (x - 0.5) * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI).ln() + series
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    use super::*;

    #[test]
    fn ln_gamma_matches_factorials_and_half_integers() {
        // Γ(n) = (n-1)!, Γ(1/2) = √π.
        assert!(ln_gamma(1.0).abs() < 1e-13);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-13);
        assert!((ln_gamma(21.0) - 2_432_902_008_176_640_000f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-13);
    }

    #[test]
    fn weibull_cv_known_points_and_inverse() {
        // k = 1 is exponential (CV 1); k = 1/2 has CV √(Γ(5)/Γ(3)² − 1) = √5.
        assert!((weibull_cv(1.0) - 1.0).abs() < 1e-12);
        assert!((weibull_cv(0.5) - 5f64.sqrt()).abs() < 1e-12);
        for cv in [0.3, 1.0, 2.0, 8.6, 19.0] {
            let k = weibull_shape_for_cv(cv);
            assert!((weibull_cv(k) / cv - 1.0).abs() < 1e-9, "cv {cv} k {k}");
        }
    }

    #[test]
    fn arrivals_fill_the_window_in_order_with_the_right_cv() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let shape = GapShape::gamma_for_cv(2.0);
        let t = window_arrivals(600.0, 600.0, 50_000, shape, &mut rng);
        assert_eq!(t.len(), 50_000);
        assert!(t.windows(2).all(|p| p[0] <= p[1]));
        assert!(t[0] >= 600.0 && t[t.len() - 1] < 1200.0);
        let gaps: Vec<f64> = t.windows(2).map(|p| p[1] - p[0]).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        // Gamma sample-CV standard error: c·√((1+c²)/(2n)) ≈ 0.02 here.
        assert!(
            (var.sqrt() / mean - 2.0).abs() < 0.1,
            "{}",
            var.sqrt() / mean
        );
    }

    #[test]
    fn regular_and_degenerate_shapes_space_evenly() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let t = window_arrivals(0.0, 10.0, 4, GapShape::Regular, &mut rng);
        assert_eq!(t, vec![2.0, 4.0, 6.0, 8.0]);
        assert_eq!(GapShape::gamma_for_cv(0.0), GapShape::Regular);
        assert!(window_arrivals(0.0, 10.0, 0, GapShape::Exponential, &mut rng).is_empty());
        assert_eq!(
            GapShape::Weibull(weibull_shape_for_cv(3.0)).cv().round(),
            3.0
        );
    }
}
