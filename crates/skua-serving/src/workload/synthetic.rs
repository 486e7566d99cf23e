//! A fast synthetic workload for large benchmarks: Poisson arrivals and log-normal prompt and
//! output lengths.

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand_distr::{Distribution, Exp, LogNormal};

use super::error::WorkloadError;
use super::{Request, Workload};

/// A log-normal token-length distribution given by its mean and coefficient of variation,
/// rounded to whole tokens and clamped to `[1, max]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LengthDist {
    /// Mean of the (unclamped) log-normal, in tokens (≥ 1).
    pub mean: f64,
    /// Standard deviation / mean (≥ 0; 0 gives a constant length).
    pub cv: f64,
    /// Largest length produced (e.g. the model's context length).
    pub max: u32,
}

impl LengthDist {
    /// A log-normal length with the given mean and CV and no practical cap.
    pub fn log_normal(mean: f64, cv: f64) -> Self {
        Self {
            mean,
            cv,
            max: u32::MAX,
        }
    }

    /// The same distribution capped at `max` tokens.
    pub fn capped(self, max: u32) -> Self {
        Self { max, ..self }
    }

    fn sampler(&self, what: &'static str) -> Result<LogNormal<f64>, WorkloadError> {
        let invalid = |expected| WorkloadError::InvalidArgument {
            what,
            value: format!("mean {} cv {} max {}", self.mean, self.cv, self.max),
            expected,
        };
        if !(self.mean.is_finite() && self.mean >= 1.0) || self.max == 0 {
            return Err(invalid("a finite mean ≥ 1 token and a max ≥ 1"));
        }
        if !(self.cv.is_finite() && self.cv >= 0.0) {
            return Err(invalid("a finite cv ≥ 0"));
        }
        LogNormal::from_mean_cv(self.mean, self.cv).map_err(|_| invalid("a valid log-normal"))
    }
}

/// `n` requests with Poisson arrivals at `rate_per_s` (the first at its own exponential
/// gap after 0), prompt lengths from `input` and output lengths from `output`; the same seed
/// gives the same workload.
pub fn synthetic(
    n: usize,
    rate_per_s: f64,
    seed: u64,
    input: LengthDist,
    output: LengthDist,
) -> Result<Workload, WorkloadError> {
    let gaps = Exp::new(rate_per_s)
        .ok()
        .filter(|_| rate_per_s.is_finite() && rate_per_s > 0.0)
        .ok_or(WorkloadError::InvalidArgument {
            what: "synthetic rate",
            value: rate_per_s.to_string(),
            expected: "a finite number of requests per second > 0",
        })?;
    let input_len = input.sampler("input length distribution")?;
    let output_len = output.sampler("output length distribution")?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut t = 0.0;
    let requests = (0..n)
        .map(|i| {
            t += gaps.sample(&mut rng);
            Request {
                id: i as u64,
                arrival_s: t,
                input_tokens: to_tokens(input_len.sample(&mut rng), input.max),
                output_tokens: to_tokens(output_len.sample(&mut rng), output.max),
                prefix_blocks: Vec::new(),
            }
        })
        .collect();
    Ok(Workload {
        name: format!("synthetic-{n}-{rate_per_s}rps-seed{seed}"),
        block_tokens: 1,
        requests,
    })
}

/// Rounds a positive sample to whole tokens in `[1, max]` (`as` saturates, NaN → 0 → 1).
fn to_tokens(x: f64, max: u32) -> u32 {
    (x.round() as u32).clamp(1, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_and_mean_lengths_match_the_request() {
        let w = synthetic(
            200_000,
            50.0,
            7,
            LengthDist::log_normal(1000.0, 1.0),
            LengthDist::log_normal(200.0, 0.5),
        )
        .expect("valid");
        let s = w.stats();
        // Poisson count over the span: relative error ~ 1/sqrt(n) = 0.2 %.
        assert!(
            (s.mean_rate_per_s / 50.0 - 1.0).abs() < 0.01,
            "{}",
            s.mean_rate_per_s
        );
        // Sample mean of a CV-1 log-normal: standard error 1000/sqrt(n) ≈ 2.2 tokens.
        assert!((s.input.mean - 1000.0).abs() < 15.0, "{}", s.input.mean);
        assert!((s.output.mean - 200.0).abs() < 2.0, "{}", s.output.mean);
        // The median of a log-normal is mean / sqrt(1 + cv²).
        assert!(
            (s.input.p50 - 1000.0 / 2f64.sqrt()).abs() < 15.0,
            "{}",
            s.input.p50
        );
    }

    #[test]
    fn deterministic_per_seed_and_capped() {
        let d = LengthDist::log_normal(500.0, 2.0).capped(800);
        let a = synthetic(1000, 5.0, 1, d, d).expect("valid");
        let b = synthetic(1000, 5.0, 1, d, d).expect("valid");
        let c = synthetic(1000, 5.0, 2, d, d).expect("valid");
        assert_eq!(a, b);
        assert_ne!(a.requests, c.requests);
        assert!(
            a.requests
                .iter()
                .all(|r| (1..=800).contains(&r.input_tokens))
        );
        assert!(
            a.requests
                .windows(2)
                .all(|p| p[0].arrival_s <= p[1].arrival_s)
        );
    }

    #[test]
    fn rejects_bad_parameters() {
        let d = LengthDist::log_normal(100.0, 1.0);
        assert!(synthetic(1, 0.0, 1, d, d).is_err());
        assert!(synthetic(1, f64::INFINITY, 1, d, d).is_err());
        assert!(synthetic(1, 1.0, 1, LengthDist::log_normal(0.5, 1.0), d).is_err());
        assert!(synthetic(1, 1.0, 1, d, LengthDist::log_normal(10.0, f64::NAN)).is_err());
        assert!(synthetic(1, 1.0, 1, d, d.capped(0)).is_err());
    }
}
