//! The expert-capacity floor from the angle between tokens and gating vectors (after LocMoE,
//! Li et al., IJCAI 2024, §3.2 "Critical Value of Expert Capacity").
//!
//! LocMoE states that expert capacity has a minimum threshold "calculated through the maximal
//! angular deviation between the gating weights of the experts and the assigned tokens", under
//! uniformly distributed tokens and (near-)orthogonal gating weights. The stored sources reachable
//! here give only that sentence, not the paper's theorem, so the bound below is derived here from
//! the same premises, and is what this module computes.
//!
//! **Setting.** Token `x ∈ ℝ^d`; expert `i` scores `⟨w_i, x⟩`; the gating vectors
//! `w_1 … w_E` are orthonormal (`E ≤ d`; LocMoE's orthogonality loss aims at exactly this); the
//! router keeps the top `k` scores. Let `θ_i(x)` be the angle between `x` and `w_i`.
//!
//! **Lemma (unambiguous tokens).** If `cos θ_i(x) > 1/√(k+1)`, expert `i` is among the top `k`
//! of `x`. *Proof.* The scores are `|x| cos θ_j`. If `i` were not in the top `k`, `k` other
//! experts would have `cos θ_j ≥ cos θ_i > 0`, so `Σ_j cos² θ_j > (k+1)/(k+1) = 1` over those
//! `k+1` experts; but for orthonormal `w_j`, `Σ_j cos² θ_j = Σ_j ⟨w_j, x/|x|⟩² ≤ 1` (Bessel's
//! inequality). ∎ So every token within the angle `δ_k = arccos(1/√(k+1))` of `w_i` (45° for
//! top-1, 54.7° for top-2, 70.5° for top-8) must be served by expert `i`.
//!
//! **Bound.** A capacity below the number of such tokens drops tokens that have no other
//! choice. With token directions uniform on the sphere `S^{d−1}` (LocMoE's assumption), the
//! expected number is `C_min = T · A_d(δ_k)`, where `A_d(δ)` is the share of the sphere within
//! `δ` of a fixed direction, `A_d(δ) = ∫₀^δ sin^{d−2}θ dθ / ∫₀^π sin^{d−2}θ dθ` (`=
//! ½ I_{sin²δ}((d−1)/2, ½)` for `δ ≤ π/2`, the hyperspherical-cap formula).
//!
//! **What it guarantees.** In every realisation, `load_i ≥ #{x : θ_i(x) < δ_k}` (the lemma). A
//! token lies within `δ_k` of at most `k` gates (else Bessel fails again), so
//! `E · A_d(δ_k) ≤ k`, i.e. `C_min ≤ kT/E` = the mean expert load ≤ the hottest expert's load.
//! With `δ` = an expert's *maximal* angular deviation (the widest angle among the tokens it
//! received), the cap holds all of its tokens, so `T · A_d(δ)` ([`capacity_for_angle`]) is the
//! expected capacity that keeps them all: the expert's load sits between the two caps.
//!
//! For isotropic tokens in high dimension the floor is tiny (`A_7168(70.5°) ≈ 10⁻¹⁸⁰`: random
//! directions are nearly orthogonal to every gate); it bites when token features concentrate in
//! few directions, which is what trained routers see.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};
use serde::Serialize;

use crate::MoeError;

/// Share of the unit sphere `S^{d−1} ⊂ ℝ^d` within `angle` (radians, `[0, π]`) of a fixed
/// direction (`hidden_dim ≥ 2`).
pub fn cap_fraction(hidden_dim: usize, angle: f64) -> Result<f64, MoeError> {
    use std::f64::consts::{FRAC_PI_2, PI};
    if hidden_dim < 2 {
        return Err(MoeError::Shape(format!(
            "a spherical cap needs hidden_dim ≥ 2, got {hidden_dim}"
        )));
    }
    if !(0.0..=PI).contains(&angle) {
        return Err(MoeError::Shape(format!(
            "angle {angle} is not in [0, π] radians"
        )));
    }
    if angle > FRAC_PI_2 {
        return Ok(1.0 - cap_fraction(hidden_dim, PI - angle)?);
    }
    let m = (hidden_dim - 2) as f64;
    if hidden_dim == 2 {
        return Ok(angle / PI);
    }
    // sin^m θ, computed through its logarithm (it underflows harmlessly to 0 far from π/2).
    let f = |t: f64| {
        if t <= 0.0 {
            0.0
        } else {
            (m * t.sin().ln()).exp()
        }
    };
    // Intervals: 16 per unit of dimension resolve the 1/√d-wide peak at π/2; the cap (2^21)
    // still puts ten points across it for d up to 10^10.
    let n = 2 * (8 * hidden_dim).clamp(512, 1 << 20);
    let half = simpson(f, 0.0, FRAC_PI_2, n);
    Ok((simpson(f, 0.0, angle, n) / (2.0 * half)).clamp(0.0, 0.5))
}

/// `δ_k = arccos(1/√(k+1))`: with orthonormal gates, a token this close to an expert's gate is
/// in that expert's top-`k` whatever the other scores.
pub fn guaranteed_angle(top_k: usize) -> Result<f64, MoeError> {
    if top_k == 0 {
        return Err(MoeError::Shape("top_k must be positive".into()));
    }
    Ok((1.0 / (top_k as f64 + 1.0).sqrt()).acos())
}

/// LocMoE's angular-deviation capacity for `angle`: the expected number of `tokens` (uniform
/// directions in `ℝ^hidden_dim`) within `angle` of an expert's gate, `T · A_d(angle)`.
pub fn capacity_for_angle(tokens: usize, hidden_dim: usize, angle: f64) -> Result<f64, MoeError> {
    Ok(tokens as f64 * cap_fraction(hidden_dim, angle)?)
}

/// The capacity floor `C_min = T · A_d(δ_k)` for `experts` orthonormal gates in `ℝ^hidden_dim`
/// and top-`k` routing (derivation in the module docs); `C_min ≤ k·T/experts` always.
pub fn capacity_lower_bound(
    tokens: usize,
    experts: usize,
    hidden_dim: usize,
    top_k: usize,
) -> Result<f64, MoeError> {
    if experts == 0 || experts > hidden_dim {
        return Err(MoeError::Shape(format!(
            "{experts} orthonormal gates do not fit in dimension {hidden_dim}"
        )));
    }
    if top_k == 0 || top_k > experts {
        return Err(MoeError::Shape(format!(
            "top_k = {top_k} is not in 1..={experts}"
        )));
    }
    capacity_for_angle(tokens, hidden_dim, guaranteed_angle(top_k)?)
}

/// The outcome of routing isotropic tokens through orthonormal gates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AngularRouting {
    /// Tokens routed.
    pub tokens: usize,
    /// Experts chosen per token.
    pub top_k: usize,
    /// Tokens each expert received.
    pub loads: Vec<usize>,
    /// Tokens within [`guaranteed_angle`] of each expert's gate.
    pub aligned: Vec<usize>,
    /// Per expert, the widest angle (radians) between its gate and a token it received.
    pub max_deviation: Vec<f64>,
}

/// Routes `tokens` standard-normal tokens of `ℝ^hidden_dim` through the gates `e_0 … e_{E−1}`
/// (top-`k` by dot product): the setting of [`capacity_lower_bound`], to check it against.
pub fn simulate_angular_routing(
    tokens: usize,
    experts: usize,
    hidden_dim: usize,
    top_k: usize,
    seed: u64,
) -> Result<AngularRouting, MoeError> {
    capacity_lower_bound(tokens, experts, hidden_dim, top_k)?;
    let threshold = 1.0 / (top_k as f64 + 1.0).sqrt();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = AngularRouting {
        tokens,
        top_k,
        loads: vec![0; experts],
        aligned: vec![0; experts],
        max_deviation: vec![0.0; experts],
    };
    let mut x = vec![0.0; hidden_dim];
    let mut order: Vec<usize> = (0..experts).collect();
    for _ in 0..tokens {
        for v in &mut x {
            *v = StandardNormal.sample(&mut rng);
        }
        let norm = x
            .iter()
            .map(|v| v * v)
            .sum::<f64>()
            .sqrt()
            .max(f64::MIN_POSITIVE);
        order.sort_by(|&a, &b| x[b].total_cmp(&x[a]).then(a.cmp(&b)));
        for &i in &order[..top_k] {
            out.loads[i] += 1;
            let angle = (x[i] / norm).clamp(-1.0, 1.0).acos();
            out.max_deviation[i] = out.max_deviation[i].max(angle);
        }
        for (i, a) in out.aligned.iter_mut().enumerate() {
            if x[i] / norm > threshold {
                *a += 1;
            }
        }
    }
    Ok(out)
}

/// Composite Simpson rule with `n` (even) intervals.
fn simpson(f: impl Fn(f64) -> f64, a: f64, b: f64, n: usize) -> f64 {
    let h = (b - a) / n as f64;
    let mut s = f(a) + f(b);
    for i in 1..n {
        s += if i % 2 == 1 { 4.0 } else { 2.0 } * f(a + i as f64 * h);
    }
    s * h / 3.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    #[test]
    fn cap_matches_closed_forms_in_low_dimension() {
        for &t in &[0.1, 0.7, 1.2, PI / 2.0, 2.5] {
            // Circle: arc of ±t out of 2π. Sphere S²: Archimedes, (1 − cos t)/2.
            // S³: (t − sin t cos t)/π.
            assert!((cap_fraction(2, t).unwrap() - t / PI).abs() < 1e-12);
            assert!((cap_fraction(3, t).unwrap() - (1.0 - t.cos()) / 2.0).abs() < 1e-8);
            let s3 = (t - t.sin() * t.cos()) / PI;
            assert!((cap_fraction(4, t).unwrap() - s3).abs() < 1e-8);
        }
        assert_eq!(cap_fraction(50, 0.0).unwrap(), 0.0);
        assert!((cap_fraction(50, PI).unwrap() - 1.0).abs() < 1e-12);
        assert!((cap_fraction(7168, PI / 2.0).unwrap() - 0.5).abs() < 1e-9);
    }

    #[test]
    fn guaranteed_angles() {
        assert!((guaranteed_angle(1).unwrap() - PI / 4.0).abs() < 1e-12);
        assert!((guaranteed_angle(8).unwrap().to_degrees() - 70.528_779).abs() < 1e-5);
        assert!(guaranteed_angle(0).is_err());
    }

    #[test]
    fn floor_never_exceeds_the_mean_load() {
        for (e, d, k) in [
            (8, 8, 1),
            (8, 8, 2),
            (16, 16, 4),
            (64, 64, 6),
            (256, 7168, 8),
        ] {
            let c = capacity_lower_bound(10_000, e, d, k).unwrap();
            assert!(c <= 10_000.0 * k as f64 / e as f64, "{e} {d} {k}: {c}");
        }
        assert!(capacity_lower_bound(100, 9, 8, 1).is_err());
        assert!(cap_fraction(1, 0.3).is_err());
        assert!(cap_fraction(8, -0.1).is_err());
    }
}
