//! Calibration of the generator to a real trace: fit `expert_skew` and `topic_strength` so the
//! synthetic skew and co-activation statistics match the real ones.
//!
//! Coordinate root-finding, deterministic: the generator reuses the same random streams whatever
//! the two parameters (only their scales change), so each statistic moves smoothly and almost
//! monotonically with its parameter. Each round first solves `expert_skew` on the skew target
//! `½ (cv / cv* + max_over_mean / max_over_mean*) = 1` (both grow with the skew), then
//! `topic_strength` on `top_pair_share = top_pair_share*` (safeguarded secant steps from the
//! current value); three rounds settle the interaction (topics add skew, skew adds pair
//! concentration). When the topics needed for the pair share already skew the experts more than
//! the real trace, the skew fit ends at 0 and the report shows the remaining gap (the ESFT
//! `law` task, 33 long sequences, does this: its few sequence topics skew more than its
//! experts do).

use serde::Serialize;

use super::stats::{TraceStats, trace_stats};
use super::{SynthConfig, generate};
use crate::MoeError;
use crate::load::TokenTrace;

/// Layers generated per evaluation (layers are independent draws of the same model, so a few
/// estimate the per-layer mean).
const FIT_LAYERS: usize = 8;
/// Tokens generated per evaluation at most (longer traces are matched on a prefix-sized sample
/// with the same tokens per sequence).
const FIT_TOKENS: usize = 16_384;
const ROUNDS: usize = 3;
/// Evaluations per one-parameter solve at most.
const MAX_STEPS: usize = 8;
const SKEW_MAX: f64 = 3.0;
const TOPIC_MAX: f64 = 6.0;
/// Relative tolerance on the skew target.
const SKEW_TOL: f64 = 0.005;
/// Absolute tolerance on the pair share.
const PAIR_TOL: f64 = 0.002;

/// The fitted parameters and how the synthetic statistics compare with the real ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationReport {
    /// Fitted σ of the per-expert popularity.
    pub expert_skew: f64,
    /// Fitted topic strength.
    pub topic_strength: f64,
    /// The whole fitted config.
    pub config: SynthConfig,
    /// Statistics of the real trace (all its layers).
    pub real: TraceStats,
    /// Statistics of the fitted generator (`fit_layers` layers, `fit_tokens` tokens).
    pub synthetic: TraceStats,
    /// Layers per evaluation.
    pub fit_layers: usize,
    /// Tokens per evaluation.
    pub fit_tokens: usize,
    /// Traces generated during the fit.
    pub evaluations: usize,
}

/// Fits `base`'s `expert_skew` and `topic_strength` to `trace`; the returned config has the
/// trace's experts, top-k, layers, tokens and sequences, and `base`'s other parameters.
pub fn calibrate_to(
    trace: &TokenTrace,
    base: SynthConfig,
) -> Result<(SynthConfig, CalibrationReport), MoeError> {
    let real = trace_stats(trace);
    let full = SynthConfig {
        experts: trace.experts(),
        top_k: trace.top_k(),
        layers: trace.layers(),
        tokens: trace.tokens(),
        sequences: trace.sequences(),
        ..base
    };
    full.validate()?;
    let fit_tokens = full.tokens.min(FIT_TOKENS);
    let fit = SynthConfig {
        layers: full.layers.min(FIT_LAYERS),
        tokens: fit_tokens,
        sequences: (full.sequences * fit_tokens / full.tokens).clamp(1, fit_tokens),
        ..full.clone()
    };

    let mut evaluations = 0;
    let mut eval = |skew: f64, topic: f64| -> Result<TraceStats, MoeError> {
        evaluations += 1;
        let cfg = SynthConfig {
            expert_skew: skew,
            topic_strength: topic,
            ..fit.clone()
        };
        Ok(trace_stats(&generate(&cfg)?))
    };
    let skew_gap = |s: &TraceStats| {
        0.5 * (s.cv / real.cv.max(1e-9) + s.max_over_mean / real.max_over_mean.max(1e-9)) - 1.0
    };
    let pair_gap = |s: &TraceStats| s.top_pair_share - real.top_pair_share;

    let (mut skew, mut topic) = (full.expert_skew, full.topic_strength);
    for _ in 0..ROUNDS {
        skew = solve(skew, 0.0, SKEW_MAX, SKEW_TOL, |x| {
            eval(x, topic).map(|s| skew_gap(&s))
        })?;
        topic = solve(topic, 0.0, TOPIC_MAX, PAIR_TOL, |x| {
            eval(skew, x).map(|s| pair_gap(&s))
        })?;
    }
    let synthetic = eval(skew, topic)?;
    let config = SynthConfig {
        expert_skew: skew,
        topic_strength: topic,
        ..full
    };
    let report = CalibrationReport {
        expert_skew: skew,
        topic_strength: topic,
        config: config.clone(),
        real,
        synthetic,
        fit_layers: fit.layers,
        fit_tokens: fit.tokens,
        evaluations,
    };
    Ok((config, report))
}

/// A root of an increasing `f` on `[lo, hi]` near `start`: secant steps from `start` (a first
/// step of a tenth of the range while no slope is known), kept inside the bracket the evaluations
/// have established, halving it when a step would repeat a point. Stops when `|f| < tol`, after
/// [`MAX_STEPS`] evaluations, or at an end where `f` keeps its sign (the target is out of
/// reach); returns the evaluated point with the smallest `|f|` (the latest on ties).
fn solve(
    start: f64,
    lo0: f64,
    hi0: f64,
    tol: f64,
    mut f: impl FnMut(f64) -> Result<f64, MoeError>,
) -> Result<f64, MoeError> {
    let (mut lo, mut hi) = (lo0, hi0);
    let mut x = start.clamp(lo, hi);
    let mut fx = f(x)?;
    let mut seen = vec![x];
    let mut best = (fx.abs(), x);
    let mut prev: Option<(f64, f64)> = None;
    while seen.len() < MAX_STEPS {
        if fx.abs() < tol || (x <= lo0 && fx > 0.0) || (x >= hi0 && fx < 0.0) {
            break;
        }
        if fx < 0.0 {
            lo = x;
        } else {
            hi = x;
        }
        if hi - lo < 1e-6 {
            break;
        }
        let slope = prev
            .map(|(px, pf)| (fx - pf) / (x - px))
            .filter(|s| s.is_finite() && *s > 0.0);
        let mut next = match slope {
            Some(s) => x - fx / s,
            None => x - fx.signum() * 0.1 * (hi0 - lo0),
        }
        .clamp(lo, hi);
        if seen.contains(&next) {
            next = 0.5 * (lo + hi);
        }
        prev = Some((x, fx));
        x = next;
        fx = f(x)?;
        seen.push(x);
        if fx.abs() <= best.0 {
            best = (fx.abs(), x);
        }
    }
    Ok(best.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solver_finds_roots_and_stops_at_unreachable_ends() {
        let mut n = 0;
        let r = solve(0.5, 0.0, 4.0, 1e-6, |x| {
            n += 1;
            Ok(x * x - 2.0)
        })
        .unwrap();
        assert!((r - 2f64.sqrt()).abs() < 1e-3, "{r}");
        assert!(n <= MAX_STEPS);
        let low = solve(1.0, 0.0, 4.0, 1e-6, |x| Ok(x + 1.0)).unwrap();
        assert!(low < 0.01, "{low}");
        let high = solve(1.0, 0.0, 4.0, 1e-6, |x| Ok(x - 9.0)).unwrap();
        assert!(high > 3.99, "{high}");
        // A step function (no slope to follow) still ends near its jump.
        let r = solve(0.0, 0.0, 4.0, 1e-6, |x| {
            Ok(if x < 1.3 { -1.0 } else { 1.0 })
        })
        .unwrap();
        assert!((r - 1.3).abs() < 0.8, "{r}");
    }

    #[test]
    fn recovers_the_parameters_of_a_synthetic_trace() {
        // A trace from known parameters; calibration from other starting values must land near
        // them (same seed, so the same draws: the fit is an inversion, not a guess).
        let truth = SynthConfig {
            experts: 32,
            top_k: 4,
            layers: 3,
            tokens: 3000,
            sequences: 30,
            expert_skew: 0.6,
            topic_strength: 1.5,
            ..SynthConfig::esft_like()
        };
        let trace = generate(&truth).unwrap();
        let base = SynthConfig {
            expert_skew: 0.2,
            topic_strength: 0.5,
            ..truth.clone()
        };
        let (fitted, report) = calibrate_to(&trace, base).unwrap();
        assert!((fitted.expert_skew - 0.6).abs() < 0.1, "{report:?}");
        assert!((fitted.topic_strength - 1.5).abs() < 0.3, "{report:?}");
        assert_eq!(fitted.layers, 3);
    }
}
