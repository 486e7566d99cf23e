//! The three workload scenarios of FlowKV (a disaggregated-inference framework with load-aware
//! scheduling and flexible P/D allocation, Apr 2025), as the benchmark protocol states them:
//!
//! - [`normal_scenario`]: a trace as it is;
//! - [`imbalance_scenario`]: computational imbalance — prefill-heavy requests (8–16k tokens in,
//!   ~100 out) for the first half, then decode-heavy ones (~200 in, ~1k out), so a fixed
//!   prefill/decode split is wrong for one half or the other;
//! - [`overload_scenario`]: extreme overload — a base stream plus bursts of 2–8× the cluster's
//!   capacity lasting 1–5 minutes, at seeded positions and heights, reported as
//!   [`BurstWindow`]s.
//!
//! The generators take rates, not a cluster: the benchmark derives them from the cluster's
//! capacity (`bench::flowkv_imbalance`, `bench::flowkv_overload`). A Poisson base for
//! [`overload_scenario`] is [`synthetic`](super::synthetic) at the base rate.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Exp, LogNormal};

use super::error::WorkloadError;
use super::{Request, Workload};

/// Prompt lengths of the prefill-heavy phase, tokens (uniform, inclusive).
pub const PREFILL_HEAVY_INPUT: (u32, u32) = (8192, 16384);
/// Mean output length of the prefill-heavy phase, tokens.
pub const PREFILL_HEAVY_OUTPUT_MEAN: f64 = 100.0;
/// Mean prompt length of the decode-heavy phase, tokens.
pub const DECODE_HEAVY_INPUT_MEAN: f64 = 200.0;
/// Mean output length of the decode-heavy phase, tokens.
pub const DECODE_HEAVY_OUTPUT_MEAN: f64 = 1000.0;
/// Coefficient of variation of the log-normal "~N tokens" lengths.
const LENGTH_CV: f64 = 0.25;

/// A scenario workload and what it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The requests.
    pub workload: Workload,
    /// One line for report headers.
    pub description: String,
    /// When the imbalance scenario switches from prefill-heavy to decode-heavy, seconds.
    pub phase_switch_s: Option<f64>,
    /// The overload scenario's bursts, in time order (empty otherwise).
    pub bursts: Vec<BurstWindow>,
}

/// One burst of the overload scenario.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurstWindow {
    /// Start, seconds since the workload start.
    pub start_s: f64,
    /// End (exclusive), seconds.
    pub end_s: f64,
    /// Burst arrival rate as a multiple of the capacity given.
    pub multiple: f64,
    /// Burst arrival rate, requests/s (on top of the base stream).
    pub rate_per_s: f64,
    /// Burst requests generated in the window.
    pub requests: usize,
}

/// FlowKV's "normal" scenario: the trace as it is.
pub fn normal_scenario(trace: &Workload) -> Scenario {
    let s = trace.stats();
    Scenario {
        workload: trace.clone(),
        description: format!(
            "FlowKV normal: `{}` as it is ({} requests over {:.0} s, {:.2} req/s)",
            trace.name, s.count, s.duration_s, s.mean_rate_per_s
        ),
        phase_switch_s: None,
        bursts: Vec::new(),
    }
}

/// Settings of the imbalance scenario.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImbalanceSpec {
    /// Length of the whole run, seconds; the switch is at half of it.
    pub duration_s: f64,
    /// Poisson arrival rate of the prefill-heavy first half, requests/s.
    pub prefill_heavy_rate_per_s: f64,
    /// Poisson arrival rate of the decode-heavy second half, requests/s.
    pub decode_heavy_rate_per_s: f64,
    /// Seed.
    pub seed: u64,
}

/// FlowKV's computational imbalance: Poisson arrivals, prefill-heavy (prompts uniform in
/// 8,192–16,384 tokens, outputs log-normal around 100) during `[0, duration/2)`, decode-heavy
/// (prompts around 200, outputs around 1,000; log-normal, CV 0.25) during `[duration/2,
/// duration)`. The same seed gives the same workload.
pub fn imbalance_scenario(spec: &ImbalanceSpec) -> Result<Scenario, WorkloadError> {
    positive(
        "imbalance duration",
        spec.duration_s,
        "a finite number of seconds > 0",
    )?;
    let first = exp("prefill-heavy rate", spec.prefill_heavy_rate_per_s)?;
    let second = exp("decode-heavy rate", spec.decode_heavy_rate_per_s)?;
    let short_out = log_normal(PREFILL_HEAVY_OUTPUT_MEAN)?;
    let short_in = log_normal(DECODE_HEAVY_INPUT_MEAN)?;
    let long_out = log_normal(DECODE_HEAVY_OUTPUT_MEAN)?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(spec.seed);
    let switch = spec.duration_s / 2.0;
    let mut requests = Vec::new();
    let mut t = first.sample(&mut rng);
    while t < switch {
        let input = rng.random_range(PREFILL_HEAVY_INPUT.0..=PREFILL_HEAVY_INPUT.1);
        let output = tokens(short_out.sample(&mut rng));
        requests.push(request(requests.len(), t, input, output));
        t += first.sample(&mut rng);
    }
    let mut t = switch + second.sample(&mut rng);
    while t < spec.duration_s {
        let input = tokens(short_in.sample(&mut rng));
        let output = tokens(long_out.sample(&mut rng));
        requests.push(request(requests.len(), t, input, output));
        t += second.sample(&mut rng);
    }
    Ok(Scenario {
        workload: Workload {
            name: format!("flowkv-imbalance-seed{}", spec.seed),
            block_tokens: 1,
            requests,
        },
        description: format!(
            "FlowKV computational imbalance: 0–{switch:.0} s prefill-heavy ({}–{} tokens in / ~{} out) \
             at {:.2} req/s, then {switch:.0}–{:.0} s decode-heavy (~{} in / ~{} out) at {:.2} req/s; \
             Poisson arrivals, seed {}",
            PREFILL_HEAVY_INPUT.0,
            PREFILL_HEAVY_INPUT.1,
            PREFILL_HEAVY_OUTPUT_MEAN,
            spec.prefill_heavy_rate_per_s,
            spec.duration_s,
            DECODE_HEAVY_INPUT_MEAN,
            DECODE_HEAVY_OUTPUT_MEAN,
            spec.decode_heavy_rate_per_s,
            spec.seed
        ),
        phase_switch_s: Some(switch),
        bursts: Vec::new(),
    })
}

/// Settings of the overload scenario.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OverloadSpec {
    /// The cluster's capacity, requests/s, for requests like the base's.
    pub capacity_rps: f64,
    /// Number of bursts; `None`: one per 20 minutes of the base's span, at least one.
    pub bursts: Option<usize>,
    /// Burst height range, multiples of `capacity_rps` (FlowKV: 2–8).
    pub multiple: (f64, f64),
    /// Burst length range, seconds (FlowKV: 1–5 minutes).
    pub burst_s: (f64, f64),
    /// Seed.
    pub seed: u64,
}

impl OverloadSpec {
    /// FlowKV's ranges (2–8× capacity, 60–300 s) with automatic burst count.
    pub fn new(capacity_rps: f64, seed: u64) -> Self {
        Self {
            capacity_rps,
            bursts: None,
            multiple: (2.0, 8.0),
            burst_s: (60.0, 300.0),
            seed,
        }
    }
}

/// FlowKV's extreme overload: `base` plus bursts. The base's span is cut into as many equal
/// segments as bursts; each burst lies inside its own segment at a seeded position, lasts a
/// seeded length in `burst_s` (shortened to the segment when it is shorter) and adds Poisson
/// arrivals at a seeded multiple of `capacity_rps`. Burst requests copy the prompt and output
/// lengths of base requests drawn at random (without prefix blocks: new users). The same seed
/// gives the same workload.
pub fn overload_scenario(base: &Workload, spec: &OverloadSpec) -> Result<Scenario, WorkloadError> {
    positive(
        "overload capacity",
        spec.capacity_rps,
        "a finite number of requests/s > 0",
    )?;
    range(
        "burst height",
        spec.multiple,
        "0 < low ≤ high, multiples of capacity",
    )?;
    range("burst length", spec.burst_s, "0 < low ≤ high, seconds")?;
    let span = base.requests.last().map_or(0.0, |r| r.arrival_s);
    if base.requests.is_empty() || span <= 0.0 {
        return Err(WorkloadError::InvalidArgument {
            what: "overload base",
            value: format!("{} requests over {span} s", base.requests.len()),
            expected: "a base workload spanning some time",
        });
    }
    let n = spec
        .bursts
        .unwrap_or(((span / 1200.0).floor() as usize).max(1));
    if n == 0 {
        return Err(WorkloadError::InvalidArgument {
            what: "burst count",
            value: "0".into(),
            expected: "at least 1 burst",
        });
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(spec.seed);
    let segment = span / n as f64;
    let mut bursts = Vec::with_capacity(n);
    let mut extra: Vec<Request> = Vec::new();
    for k in 0..n {
        let len = uniform(&mut rng, spec.burst_s).min(segment);
        let start = k as f64 * segment + uniform(&mut rng, (0.0, segment - len));
        let multiple = uniform(&mut rng, spec.multiple);
        let rate = multiple * spec.capacity_rps;
        let gaps = exp("burst rate", rate)?;
        let before = extra.len();
        let mut t = start + gaps.sample(&mut rng);
        while t < start + len {
            let like = &base.requests[rng.random_range(0..base.requests.len())];
            extra.push(request(0, t, like.input_tokens, like.output_tokens));
            t += gaps.sample(&mut rng);
        }
        bursts.push(BurstWindow {
            start_s: start,
            end_s: start + len,
            multiple,
            rate_per_s: rate,
            requests: extra.len() - before,
        });
    }
    let mut requests: Vec<Request> = base.requests.iter().cloned().chain(extra).collect();
    // Stable: at equal times base requests stay first, in their order.
    requests.sort_by(|a, b| a.arrival_s.total_cmp(&b.arrival_s));
    for (i, r) in requests.iter_mut().enumerate() {
        r.id = i as u64;
    }
    let windows: Vec<String> = bursts
        .iter()
        .map(|b| {
            format!(
                "{:.0}–{:.0} s at {:.1}× ({:.1} req/s)",
                b.start_s, b.end_s, b.multiple, b.rate_per_s
            )
        })
        .collect();
    Ok(Scenario {
        workload: Workload {
            name: format!("{}-overload-seed{}", base.name, spec.seed),
            block_tokens: base.block_tokens,
            requests,
        },
        description: format!(
            "FlowKV extreme overload: `{}` plus {n} burst(s) of {}–{}× a capacity of {:.2} req/s \
             lasting {}–{} s: {}; seed {}",
            base.name,
            spec.multiple.0,
            spec.multiple.1,
            spec.capacity_rps,
            spec.burst_s.0,
            spec.burst_s.1,
            windows.join(", "),
            spec.seed
        ),
        phase_switch_s: None,
        bursts,
    })
}

fn request(id: usize, arrival_s: f64, input_tokens: u32, output_tokens: u32) -> Request {
    Request {
        id: id as u64,
        arrival_s,
        input_tokens,
        output_tokens,
        prefix_blocks: Vec::new(),
    }
}

fn positive(what: &'static str, v: f64, expected: &'static str) -> Result<(), WorkloadError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(WorkloadError::InvalidArgument {
            what,
            value: v.to_string(),
            expected,
        })
    }
}

fn range(what: &'static str, r: (f64, f64), expected: &'static str) -> Result<(), WorkloadError> {
    if r.0.is_finite() && r.1.is_finite() && 0.0 < r.0 && r.0 <= r.1 {
        Ok(())
    } else {
        Err(WorkloadError::InvalidArgument {
            what,
            value: format!("{}..{}", r.0, r.1),
            expected,
        })
    }
}

fn exp(what: &'static str, rate: f64) -> Result<Exp<f64>, WorkloadError> {
    positive(what, rate, "a finite number of requests/s > 0")?;
    Exp::new(rate).map_err(|_| WorkloadError::InvalidArgument {
        what,
        value: rate.to_string(),
        expected: "a finite number of requests/s > 0",
    })
}

fn log_normal(mean: f64) -> Result<LogNormal<f64>, WorkloadError> {
    LogNormal::from_mean_cv(mean, LENGTH_CV).map_err(|_| WorkloadError::InvalidArgument {
        what: "length distribution",
        value: format!("mean {mean} cv {LENGTH_CV}"),
        expected: "a valid log-normal",
    })
}

/// A uniform draw in `[lo, hi)` (exactly `lo` when the range is empty).
fn uniform(rng: &mut Xoshiro256PlusPlus, (lo, hi): (f64, f64)) -> f64 {
    if hi > lo {
        rng.random_range(lo..hi)
    } else {
        lo
    }
}

/// Rounds a positive sample to whole tokens, at least 1 (`as` saturates; NaN → 0 → 1).
fn tokens(x: f64) -> u32 {
    (x.round() as u32).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(seed: u64) -> ImbalanceSpec {
        ImbalanceSpec {
            duration_s: 2000.0,
            prefill_heavy_rate_per_s: 2.0,
            decode_heavy_rate_per_s: 8.0,
            seed,
        }
    }

    fn mean(v: impl Iterator<Item = u32>) -> f64 {
        let v: Vec<u32> = v.collect();
        v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64
    }

    #[test]
    fn imbalance_switches_from_prefill_heavy_to_decode_heavy_at_half_time() {
        let s = imbalance_scenario(&spec(3)).expect("valid");
        assert_eq!(s.phase_switch_s, Some(1000.0));
        let (first, second): (Vec<&Request>, Vec<&Request>) = s
            .workload
            .requests
            .iter()
            .partition(|r| r.arrival_s < 1000.0);
        // Poisson counts: 2,000 ± 45 and 8,000 ± 90 (1 σ); 5 σ bounds.
        assert!(
            (first.len() as f64 - 2000.0).abs() < 225.0,
            "{}",
            first.len()
        );
        assert!(
            (second.len() as f64 - 8000.0).abs() < 450.0,
            "{}",
            second.len()
        );
        assert!(
            first
                .iter()
                .all(|r| (8192..=16384).contains(&r.input_tokens))
        );
        // Uniform 8,192–16,384: mean 12,288, σ of the mean ≈ 2,365 / √2,000 ≈ 53.
        let m = mean(first.iter().map(|r| r.input_tokens));
        assert!((m - 12288.0).abs() < 300.0, "{m}");
        // Log-normal, CV 0.25: σ of the mean = 0.25 × mean / √n.
        let m = mean(first.iter().map(|r| r.output_tokens));
        assert!((m - 100.0).abs() < 3.0, "{m}");
        let m = mean(second.iter().map(|r| r.input_tokens));
        assert!((m - 200.0).abs() < 3.0, "{m}");
        let m = mean(second.iter().map(|r| r.output_tokens));
        assert!((m - 1000.0).abs() < 15.0, "{m}");
        assert!(second.iter().all(|r| r.input_tokens < 8192));
        let w = &s.workload;
        assert!(
            w.requests
                .windows(2)
                .all(|p| p[0].arrival_s <= p[1].arrival_s)
        );
        assert!(w.requests.iter().enumerate().all(|(i, r)| r.id == i as u64));
        assert!(w.requests.last().unwrap().arrival_s < 2000.0);
    }

    #[test]
    fn scenarios_are_deterministic_per_seed() {
        assert_eq!(
            imbalance_scenario(&spec(1)).unwrap(),
            imbalance_scenario(&spec(1)).unwrap()
        );
        assert_ne!(
            imbalance_scenario(&spec(1)).unwrap().workload.requests,
            imbalance_scenario(&spec(2)).unwrap().workload.requests
        );
        let base = imbalance_scenario(&spec(5)).unwrap().workload;
        let o = |seed| overload_scenario(&base, &OverloadSpec::new(4.0, seed)).unwrap();
        assert_eq!(o(1), o(1));
        assert_ne!(o(1).bursts, o(2).bursts);
    }

    #[test]
    fn bad_settings_are_refused() {
        let bad = |s: ImbalanceSpec| imbalance_scenario(&s).is_err();
        assert!(bad(ImbalanceSpec {
            duration_s: 0.0,
            ..spec(0)
        }));
        assert!(bad(ImbalanceSpec {
            prefill_heavy_rate_per_s: -1.0,
            ..spec(0)
        }));
        assert!(bad(ImbalanceSpec {
            decode_heavy_rate_per_s: f64::NAN,
            ..spec(0)
        }));
        let base = imbalance_scenario(&spec(0)).unwrap().workload;
        assert!(overload_scenario(&base, &OverloadSpec::new(0.0, 0)).is_err());
        assert!(
            overload_scenario(
                &base,
                &OverloadSpec {
                    multiple: (8.0, 2.0),
                    ..OverloadSpec::new(1.0, 0)
                }
            )
            .is_err()
        );
        assert!(
            overload_scenario(
                &base,
                &OverloadSpec {
                    bursts: Some(0),
                    ..OverloadSpec::new(1.0, 0)
                }
            )
            .is_err()
        );
        let empty = Workload {
            name: "e".into(),
            block_tokens: 1,
            requests: Vec::new(),
        };
        assert!(overload_scenario(&empty, &OverloadSpec::new(1.0, 0)).is_err());
    }
    #[test]
    fn bursts_lie_where_they_say_at_the_height_they_say() {
        let d = super::super::LengthDist::log_normal(500.0, 1.0);
        let base = super::super::synthetic(3600, 1.0, 9, d, d).expect("valid");
        let span = base.requests.last().unwrap().arrival_s;
        let s = overload_scenario(&base, &OverloadSpec::new(2.0, 4)).expect("valid");
        // One burst per 20 minutes of the base.
        let n = ((span / 1200.0).floor() as usize).max(1);
        assert_eq!(s.bursts.len(), n);
        let segment = span / n as f64;
        let in_window = |w: &Workload, b: &BurstWindow| {
            w.requests
                .iter()
                .filter(|r| (b.start_s..b.end_s).contains(&r.arrival_s))
                .count()
        };
        for (k, b) in s.bursts.iter().enumerate() {
            let len = b.end_s - b.start_s;
            assert!((60.0..=300.0).contains(&len), "{b:?}");
            assert!(
                b.start_s >= k as f64 * segment && b.end_s <= (k + 1) as f64 * segment,
                "{b:?}"
            );
            assert!((2.0..=8.0).contains(&b.multiple), "{b:?}");
            assert!((b.rate_per_s - 2.0 * b.multiple).abs() < 1e-12);
            // The window holds the base's requests plus exactly the burst's.
            assert_eq!(in_window(&s.workload, b), in_window(&base, b) + b.requests);
            // Poisson count: mean rate × length, 5 σ.
            let expected = b.rate_per_s * len;
            assert!(
                (b.requests as f64 - expected).abs() < 5.0 * expected.sqrt(),
                "{} vs {expected}",
                b.requests
            );
        }
        let extra: usize = s.bursts.iter().map(|b| b.requests).sum();
        assert_eq!(s.workload.requests.len(), base.requests.len() + extra);
        let w = &s.workload;
        assert!(
            w.requests
                .windows(2)
                .all(|p| p[0].arrival_s <= p[1].arrival_s)
        );
        assert!(w.requests.iter().enumerate().all(|(i, r)| r.id == i as u64));
        // Burst requests take their lengths from base requests.
        assert!(w.requests.iter().all(|r| {
            base.requests
                .iter()
                .any(|b| b.input_tokens == r.input_tokens && b.output_tokens == r.output_tokens)
        }));
    }
}
