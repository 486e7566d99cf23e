//! Least KV-cache use on scraped engine metrics (llm-d / Gateway API Inference Extension
//! `kv-cache-utilization-scorer`).
//!
//! Rule: the accepting `Mixed` instance with the lowest scraped KV usage
//! `kv_used_tokens / kv_capacity_tokens` (vLLM's `gpu_cache_usage_perc`); among exact ties, a
//! uniformly random one (seeded).
//!
//! Source: llm-d-router scorer docs ("score(endpoint) = 1 − kvCacheUsagePercent", from the
//! `KVCacheUsagePercent` metric) and the extension's max-score picker, which draws uniformly among
//! equal best scores. Scraped every 50 ms (the extension's default refresh interval).

use rand::rngs::Xoshiro256PlusPlus;

use super::choose::{MinRandomTies, no_instance, seeded};
use crate::policy::{ClusterView, InstanceRole, RouteDecision, Router};
use crate::workload::Request;

/// Sends each request to the accepting `Mixed` instance with the lowest scraped KV usage.
#[derive(Debug, Clone)]
pub struct LeastKv {
    rng: Xoshiro256PlusPlus,
}

impl LeastKv {
    /// The policy, breaking ties with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: seeded(seed, 4),
        }
    }
}

impl Router for LeastKv {
    fn name(&self) -> &str {
        "least_kv"
    }

    fn route(&mut self, _req: &Request, view: &ClusterView) -> RouteDecision {
        let mut best = MinRandomTies::new();
        for l in view.accepting(InstanceRole::Mixed) {
            best.offer(l.id, l.kv_usage(), &mut self.rng);
        }
        match best.pick() {
            Some(instance) => RouteDecision::Mixed { instance },
            None => no_instance(InstanceRole::Mixed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::test_support::{loads, request};

    #[test]
    fn lowest_usage_fraction_wins_not_lowest_absolute_use() {
        use InstanceRole::*;
        let mut l = loads(&[Mixed, Mixed, Mixed]);
        // 600 of 1,000 tokens (60 %), 900 of 3,000 (30 %), 400 of 1,000 (40 %).
        l[0].kv_used_tokens = 600;
        l[1].kv_capacity_tokens = 3000;
        l[1].kv_used_tokens = 900;
        l[2].kv_used_tokens = 400;
        let view = ClusterView::new(0.0, &l);
        assert_eq!(
            LeastKv::new(1).route(&request(0), &view),
            RouteDecision::Mixed { instance: 1 }
        );
        l[1].accepting = false;
        assert_eq!(
            LeastKv::new(1).route(&request(0), &ClusterView::new(0.0, &l)),
            RouteDecision::Mixed { instance: 2 }
        );
    }

    #[test]
    fn rejects_without_mixed() {
        let l = loads(&[InstanceRole::Prefill, InstanceRole::Decode]);
        assert_eq!(
            LeastKv::new(1).route(&request(0), &ClusterView::new(0.0, &l)),
            no_instance(InstanceRole::Mixed)
        );
    }
}
