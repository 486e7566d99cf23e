//! Latency percentiles, throughput and SLO attainment of a simulation result.

use skua_core::metrics::quantile_sorted;

use super::SimError;
use super::result::{RequestOutcome, SimResult};

/// p50/p90/p99 of one latency, seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl Percentiles {
    /// Percentiles of `values` (linear interpolation between order statistics, NumPy's default);
    /// `None` when empty.
    pub fn of(mut values: Vec<f64>) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        Some(Self {
            p50: quantile_sorted(&values, 0.5),
            p90: quantile_sorted(&values, 0.9),
            p99: quantile_sorted(&values, 0.99),
        })
    }
}

/// Per-request latency objectives, seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slo {
    /// Time-to-first-token limit.
    pub ttft_s: f64,
    /// Time-per-output-token limit.
    pub tpot_s: f64,
}

/// The headline numbers of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Requests offered.
    pub offered: usize,
    /// Finished requests.
    pub finished: usize,
    /// Rejected requests.
    pub rejected: usize,
    /// Unfinished requests.
    pub unfinished: usize,
    /// TTFT over finished requests.
    pub ttft: Option<Percentiles>,
    /// TPOT over finished requests with more than one output token (vLLM's benchmark convention:
    /// a one-token output has no inter-token time).
    pub tpot: Option<Percentiles>,
    /// End-to-end latency over finished requests.
    pub e2e: Option<Percentiles>,
    /// First arrival to last completion, seconds.
    pub makespan_s: f64,
    /// Finished requests per second of makespan.
    pub throughput_rps: f64,
    /// Output tokens of finished requests per second of makespan.
    pub output_tokens_per_s: f64,
    /// Mean of the instances' utilisation.
    pub mean_utilisation: f64,
    /// Preemptions over all instances.
    pub preemptions: u64,
}

impl SimResult {
    /// Percentiles, throughput and counts over the finished requests.
    pub fn summary(&self) -> Summary {
        let finished: Vec<&RequestOutcome> =
            self.requests.iter().filter(|r| r.is_finished()).collect();
        let ttft = Percentiles::of(finished.iter().filter_map(|r| r.ttft_s()).collect());
        let tpot = Percentiles::of(
            finished
                .iter()
                .filter(|r| r.output_tokens > 1)
                .filter_map(|r| r.tpot_s())
                .collect(),
        );
        let e2e = Percentiles::of(finished.iter().filter_map(|r| r.e2e_s()).collect());
        let makespan_s = self.makespan_s();
        let per_s = |x: f64| {
            if makespan_s > 0.0 {
                x / makespan_s
            } else {
                0.0
            }
        };
        let out_tokens: u64 = finished.iter().map(|r| u64::from(r.output_tokens)).sum();
        let mean_utilisation = if self.instances.is_empty() {
            0.0
        } else {
            self.instances.iter().map(|i| i.utilisation).sum::<f64>() / self.instances.len() as f64
        };
        Summary {
            offered: self.totals.offered,
            finished: finished.len(),
            rejected: self.totals.rejected,
            unfinished: self.totals.unfinished,
            ttft,
            tpot,
            e2e,
            makespan_s,
            throughput_rps: per_s(finished.len() as f64),
            output_tokens_per_s: per_s(out_tokens as f64),
            mean_utilisation,
            preemptions: self.totals.preemptions,
        }
    }

    /// Fraction of offered requests that finished within their SLO (`slos[i]` belongs to
    /// `requests[i]`). Rejected and unfinished requests count as misses.
    pub fn slo_attainment(&self, slos: &[Slo]) -> Result<f64, SimError> {
        if slos.len() != self.requests.len() {
            return Err(SimError::SloCount {
                expected: self.requests.len(),
                got: slos.len(),
            });
        }
        let mut it = slos.iter();
        Ok(self.slo_attainment_by(|_| *it.next().unwrap_or(&NEVER)))
    }

    /// Like [`SimResult::slo_attainment`], with the SLO computed per request by `slo`.
    pub fn slo_attainment_by(&self, mut slo: impl FnMut(&RequestOutcome) -> Slo) -> f64 {
        if self.requests.is_empty() {
            return 0.0;
        }
        let attained = self
            .requests
            .iter()
            .filter(|r| {
                let s = slo(r);
                matches!((r.ttft_s(), r.tpot_s()), (Some(a), Some(b)) if r.is_finished() && a <= s.ttft_s && b <= s.tpot_s)
            })
            .count();
        attained as f64 / self.requests.len() as f64
    }
}

/// An SLO nothing meets (never used: lengths are checked first).
const NEVER: Slo = Slo {
    ttft_s: f64::NEG_INFINITY,
    tpot_s: f64::NEG_INFINITY,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_like_numpy() {
        // numpy.percentile([1, 2, 3, 4], [50, 90, 99]) = [2.5, 3.7, 3.97]
        let p = Percentiles::of(vec![4.0, 1.0, 3.0, 2.0]).expect("non-empty");
        assert!((p.p50 - 2.5).abs() < 1e-12);
        assert!((p.p90 - 3.7).abs() < 1e-12);
        assert!((p.p99 - 3.97).abs() < 1e-12);
        assert_eq!(Percentiles::of(vec![]), None);
        let one = Percentiles::of(vec![7.0]).expect("non-empty");
        assert_eq!((one.p50, one.p99), (7.0, 7.0));
    }
}
