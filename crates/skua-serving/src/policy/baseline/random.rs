//! Uniform random choice (SGLang gateway `random`, Dynamo `--router-mode random`): the
//! no-information baseline.
//!
//! Source: sgl-project/sglang `sgl-model-gateway/src/policies/random.rs` (uniform over healthy
//! workers); Dynamo docs "Routing Concepts" (random is the client's default strategy). No
//! parameters. Seeded from `PolicyContext::seed`, so a run is reproducible.

use rand::RngExt;
use rand::rngs::Xoshiro256PlusPlus;

use super::choose::{no_instance, seeded};
use crate::policy::{ClusterView, InstanceRole, RouteDecision, Router};
use crate::workload::Request;

/// Sends each request to an accepting `Mixed` instance drawn uniformly at random.
#[derive(Debug, Clone)]
pub struct RandomRouter {
    rng: Xoshiro256PlusPlus,
    scratch: Vec<usize>,
}

impl RandomRouter {
    /// A random router drawing from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: seeded(seed, 1),
            scratch: Vec::new(),
        }
    }
}

impl Router for RandomRouter {
    fn name(&self) -> &str {
        "random"
    }

    fn route(&mut self, _req: &Request, view: &ClusterView) -> RouteDecision {
        self.scratch.clear();
        self.scratch
            .extend(view.accepting(InstanceRole::Mixed).map(|l| l.id));
        if self.scratch.is_empty() {
            return no_instance(InstanceRole::Mixed);
        }
        let i = self.rng.random_range(0..self.scratch.len());
        RouteDecision::Mixed {
            instance: self.scratch[i],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::test_support::{loads, request};

    fn picks(seed: u64, view: &ClusterView) -> Vec<usize> {
        let mut r = RandomRouter::new(seed);
        (0..200)
            .map(|i| match r.route(&request(i), view) {
                RouteDecision::Mixed { instance } => instance,
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn covers_only_accepting_mixed_and_is_deterministic_per_seed() {
        use InstanceRole::*;
        let mut l = loads(&[Mixed, Prefill, Mixed, Mixed, Decode]);
        l[3].accepting = false;
        let view = ClusterView::new(0.0, &l);
        let a = picks(7, &view);
        assert!(a.iter().all(|&i| i == 0 || i == 2), "{a:?}");
        // Both eligible instances are drawn (each with probability 1/2 over 200 draws).
        assert!(a.contains(&0) && a.contains(&2));
        assert_eq!(a, picks(7, &view));
        assert_ne!(a, picks(8, &view));
    }

    #[test]
    fn rejects_without_mixed_instances() {
        let l = loads(&[InstanceRole::Prefill]);
        let d = RandomRouter::new(1).route(&request(0), &ClusterView::new(0.0, &l));
        assert_eq!(d, no_instance(InstanceRole::Mixed));
    }
}
