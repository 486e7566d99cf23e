//! skua's best policy against the best non-oracle baseline on one trace: the goodput ratio and
//! the attainment difference at each speed-up.

use super::goodput::GoodputBound;
use super::matrix::{PolicyResult, TraceResult};

/// skua's attainment at one speed-up against the best baseline there.
#[derive(Debug, Clone, PartialEq)]
pub struct AttainmentGap {
    /// Arrival speed-up.
    pub scale: f64,
    /// skua's best policy's attainment.
    pub skua: f64,
    /// The baseline with the highest attainment at this speed-up.
    pub baseline: String,
    /// Its attainment.
    pub baseline_attainment: f64,
    /// `(skua − baseline) × 100`, percentage points.
    pub points: f64,
}

/// skua against the baselines on one trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The skua policy compared ([`TraceResult::comparison`]: skua's best — highest goodput,
    /// then mean attainment, then catalog order).
    pub skua: String,
    /// The best non-oracle baseline by the same ranking.
    pub baseline: String,
    /// skua's goodput scale.
    pub skua_goodput: f64,
    /// The baseline's goodput scale.
    pub baseline_goodput: f64,
    /// `skua_goodput / baseline_goodput`; `None` when the baseline's goodput is 0.
    pub goodput_ratio: Option<f64>,
    /// True when either goodput is a bound of the searched range rather than a crossing, so
    /// the ratio is a bound too.
    pub bounded: bool,
    /// Per measured speed-up, in order.
    pub attainment: Vec<AttainmentGap>,
}

/// Ranking key: goodput scale, then mean attainment over the measured speed-ups.
fn key(p: &PolicyResult) -> (f64, f64) {
    let mean = if p.at.is_empty() {
        0.0
    } else {
        p.at.iter().map(|r| r.attainment).sum::<f64>() / p.at.len() as f64
    };
    (p.goodput.scale, mean)
}

/// The best of `it` by [`key`]; the first wins ties.
fn best<'a>(it: impl Iterator<Item = &'a PolicyResult>) -> Option<&'a PolicyResult> {
    it.fold(None, |acc: Option<&PolicyResult>, p| match acc {
        Some(a) if key(a) >= key(p) => Some(a),
        _ => Some(p),
    })
}

impl TraceResult {
    /// The non-oracle baselines (neither skua's nor oracles), in order.
    pub fn baselines(&self) -> impl Iterator<Item = &PolicyResult> {
        self.policies.iter().filter(|p| !p.skua && !p.oracle)
    }

    /// skua's best policy against the best baseline; `None` unless the trace has both.
    pub fn comparison(&self) -> Option<Comparison> {
        let skua = best(self.policies.iter().filter(|p| p.skua && !p.oracle))?;
        self.compare(skua)
    }

    /// Policy `name` against the best baseline; `None` if it is not in the trace or there is no
    /// baseline.
    pub fn comparison_of(&self, name: &str) -> Option<Comparison> {
        self.compare(self.policies.iter().find(|p| p.name == name)?)
    }

    fn compare(&self, skua: &PolicyResult) -> Option<Comparison> {
        let baseline = best(self.baselines())?;
        let attainment = skua
            .at
            .iter()
            .filter_map(|run| {
                let top = best_at(self.baselines(), run.scale)?;
                Some(AttainmentGap {
                    scale: run.scale,
                    skua: run.attainment,
                    baseline: top.0.to_string(),
                    baseline_attainment: top.1,
                    points: (run.attainment - top.1) * 100.0,
                })
            })
            .collect();
        let (s, b) = (skua.goodput.scale, baseline.goodput.scale);
        Some(Comparison {
            skua: skua.name.clone(),
            baseline: baseline.name.clone(),
            skua_goodput: s,
            baseline_goodput: b,
            goodput_ratio: (b > 0.0).then(|| s / b),
            bounded: skua.goodput.bound != GoodputBound::Found
                || baseline.goodput.bound != GoodputBound::Found,
            attainment,
        })
    }
}

/// The baseline with the highest attainment at `scale` (first wins ties).
fn best_at<'a>(it: impl Iterator<Item = &'a PolicyResult>, scale: f64) -> Option<(&'a str, f64)> {
    it.filter_map(|p| p.at_scale(scale).map(|r| (p.name.as_str(), r.attainment)))
        .fold(None, |acc, (n, a)| match acc {
            Some((_, best)) if best >= a => acc,
            _ => Some((n, a)),
        })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::bench::{Goodput, PolicyRun};

    fn run(scale: f64, attainment: f64) -> PolicyRun {
        PolicyRun {
            policy: String::new(),
            scale,
            offered: 100,
            attained: (attainment * 100.0) as usize,
            attainment,
            finished: 100,
            rejected: 0,
            rejected_by_reason: BTreeMap::new(),
            unfinished: 0,
            ttft: None,
            tpot: None,
            ttft_over_slo: None,
            makespan_s: 1.0,
            utilisation: Vec::new(),
            role_flips: 0,
            prefix_hit_tokens: 0,
            preemptions: 0,
        }
    }

    fn policy(name: &str, oracle: bool, goodput: f64, att: [f64; 2]) -> PolicyResult {
        let at = vec![run(1.0, att[0]), run(2.0, att[1])];
        PolicyResult {
            name: name.into(),
            description: String::new(),
            router: name.into(),
            controller: "static".into(),
            staleness_s: 0.0,
            oracle,
            skua: name.starts_with("skua"),
            base: at[0].clone(),
            at,
            goodput: Goodput {
                scale: goodput,
                req_per_s: goodput * 3.0,
                bound: if goodput > 0.0 {
                    GoodputBound::Found
                } else {
                    GoodputBound::BelowLo
                },
                fail_scale: None,
                runs: Vec::new(),
            },
        }
    }

    fn trace(policies: Vec<PolicyResult>) -> TraceResult {
        TraceResult {
            trace: "t".into(),
            requests: 100,
            rate_per_s: 3.0,
            speedups: vec![1.0, 2.0],
            policies,
        }
    }

    #[test]
    fn compares_the_best_of_each_side_and_skips_the_oracle() {
        let t = trace(vec![
            policy("round_robin", false, 1.0, [0.95, 0.50]),
            policy("least_kv", false, 1.5, [0.93, 0.80]),
            policy("oracle", true, 9.0, [1.0, 1.0]),
            policy("skua_a", false, 1.2, [0.99, 0.70]),
            policy("skua_b", false, 2.1, [0.97, 0.78]),
        ]);
        let c = t.comparison().expect("both sides present");
        assert_eq!(
            (c.skua.as_str(), c.baseline.as_str()),
            ("skua_b", "least_kv")
        );
        assert!((c.goodput_ratio.unwrap() - 1.4).abs() < 1e-12);
        assert!(!c.bounded);
        // ×1: best baseline is round_robin (0.95) → +2 points; ×2: least_kv (0.80) → −2 points.
        assert_eq!(c.attainment[0].baseline, "round_robin");
        assert!((c.attainment[0].points - 2.0).abs() < 1e-9);
        assert_eq!(c.attainment[1].baseline, "least_kv");
        assert!((c.attainment[1].points + 2.0).abs() < 1e-9);
        // Any one policy can be compared too.
        let a = t.comparison_of("skua_a").expect("present");
        assert!((a.goodput_ratio.unwrap() - 0.8).abs() < 1e-12);
        assert!((a.attainment[0].points - 4.0).abs() < 1e-9);
        assert!(t.comparison_of("nope").is_none());
    }

    #[test]
    fn no_comparison_without_both_sides_and_no_ratio_over_zero() {
        assert!(
            trace(vec![policy("round_robin", false, 1.0, [0.9, 0.5])])
                .comparison()
                .is_none()
        );
        assert!(
            trace(vec![policy("skua_a", false, 1.0, [0.9, 0.5])])
                .comparison()
                .is_none()
        );
        let c = trace(vec![
            policy("round_robin", false, 0.0, [0.5, 0.2]),
            policy("skua_a", false, 1.0, [0.9, 0.5]),
        ])
        .comparison()
        .expect("both sides");
        assert_eq!(c.goodput_ratio, None);
        assert!(c.bounded);
    }
}
