//! Summary statistics of a [`Workload`].

use std::collections::HashSet;

use serde::Serialize;

use super::Workload;

/// Summary of one token-length column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct TokenStats {
    /// Sum over all requests.
    pub total: u64,
    /// Mean per request.
    pub mean: f64,
    /// Median (linear interpolation between order statistics, NumPy's default).
    pub p50: f64,
    /// 99th percentile (same interpolation).
    pub p99: f64,
    /// Largest value.
    pub max: u32,
}

/// Summary of a workload; all zero for an empty one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct WorkloadStats {
    /// Number of requests.
    pub count: usize,
    /// Seconds from the first to the last arrival.
    pub duration_s: f64,
    /// `count / duration_s` in requests per second (0 when the workload spans no time).
    pub mean_rate_per_s: f64,
    /// Prompt lengths.
    pub input: TokenStats,
    /// Output lengths.
    pub output: TokenStats,
    /// Share of all prompt tokens that sit in a prefix block already seen in an earlier
    /// request (what an unbounded prefix cache could reuse); 0 without prefix blocks.
    pub prefix_reuse_share: f64,
}

impl Workload {
    /// Counts, rate, token-length percentiles and the reusable-prefix share.
    pub fn stats(&self) -> WorkloadStats {
        let n = self.requests.len();
        if n == 0 {
            return WorkloadStats::default();
        }
        let duration_s = self.requests[n - 1].arrival_s - self.requests[0].arrival_s;
        let mean_rate_per_s = if duration_s > 0.0 {
            n as f64 / duration_s
        } else {
            0.0
        };
        WorkloadStats {
            count: n,
            duration_s,
            mean_rate_per_s,
            input: token_stats(self.requests.iter().map(|r| r.input_tokens).collect()),
            output: token_stats(self.requests.iter().map(|r| r.output_tokens).collect()),
            prefix_reuse_share: self.prefix_reuse_share(),
        }
    }

    /// Reusable prompt tokens / all prompt tokens; block `j` of a request covers its prompt
    /// tokens `[j·B, min((j+1)·B, input))` with `B = block_tokens`.
    fn prefix_reuse_share(&self) -> f64 {
        let block = u64::from(self.block_tokens.max(1));
        let mut seen: HashSet<u64> = HashSet::new();
        let (mut reusable, mut total) = (0u64, 0u64);
        for r in &self.requests {
            let input = u64::from(r.input_tokens);
            total += input;
            for (j, id) in r.prefix_blocks.iter().enumerate() {
                if seen.contains(id) {
                    let start = j as u64 * block;
                    reusable += input.saturating_sub(start).min(block);
                }
            }
            seen.extend(r.prefix_blocks.iter().copied());
        }
        if total == 0 {
            0.0
        } else {
            reusable as f64 / total as f64
        }
    }
}

fn token_stats(mut values: Vec<u32>) -> TokenStats {
    values.sort_unstable();
    let total: u64 = values.iter().map(|&v| u64::from(v)).sum();
    TokenStats {
        total,
        mean: total as f64 / values.len() as f64,
        p50: quantile_sorted(&values, 0.5),
        p99: quantile_sorted(&values, 0.99),
        max: values.last().copied().unwrap_or(0),
    }
}

/// Quantile `q` of sorted, non-empty `values` by linear interpolation at rank `(n-1)·q`.
fn quantile_sorted(values: &[u32], q: f64) -> f64 {
    let h = (values.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(values.len() - 1);
    let (a, b) = (f64::from(values[lo]), f64::from(values[hi]));
    a + (h - lo as f64) * (b - a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Request;

    fn req(t: f64, input: u32, output: u32, blocks: &[u64]) -> Request {
        Request {
            id: 0,
            arrival_s: t,
            input_tokens: input,
            output_tokens: output,
            prefix_blocks: blocks.to_vec(),
        }
    }

    #[test]
    fn empty_workload_has_zero_stats() {
        let w = Workload {
            name: "e".into(),
            block_tokens: 1,
            requests: Vec::new(),
        };
        assert_eq!(w.stats(), WorkloadStats::default());
    }

    #[test]
    fn percentiles_match_numpy_linear() {
        // numpy.percentile([1, 2, 3, 4, 10], [50, 99]) == [3.0, 9.76]
        let s = token_stats(vec![10, 1, 3, 2, 4]);
        assert_eq!(s.p50, 3.0);
        assert!((s.p99 - 9.76).abs() < 1e-12);
        assert_eq!((s.total, s.max), (20, 10));
        assert_eq!(s.mean, 4.0);
    }

    #[test]
    fn reuse_counts_blocks_seen_before_with_partial_last_block() {
        // Block size 4. Request 2 repeats block 7 (4 tokens) and block 8, which covers only
        // its tokens 4..6 (2 tokens); block 9 is new. Prompt tokens in all: 8 + 10 = 18.
        let w = Workload {
            name: "p".into(),
            block_tokens: 4,
            requests: vec![
                req(0.0, 8, 1, &[7, 8]),
                req(2.0, 6, 1, &[7, 8]),
                req(4.0, 4, 1, &[9]),
            ],
        };
        let s = w.stats();
        assert_eq!(s.input.total, 18);
        assert!((s.prefix_reuse_share - 6.0 / 18.0).abs() < 1e-12);
        assert_eq!(s.duration_s, 4.0);
        assert_eq!(s.mean_rate_per_s, 0.75);
    }
}
