//! Least outstanding requests (router-local load; Envoy's and vLLM production-stack's "least loaded").

use super::{ClusterView, InstanceRole, RejectReason, RouteDecision, Router};
use crate::workload::Request;

/// Sends each request to the accepting `Mixed` instance with the fewest outstanding requests
/// (ties: lowest id). Uses only immediate, router-local counts, so scrape staleness does not matter.
#[derive(Debug, Clone, Copy, Default)]
pub struct LeastOutstanding;

impl LeastOutstanding {
    /// The policy (it keeps no state of its own: the view carries the counts).
    pub fn new() -> Self {
        Self
    }
}

impl Router for LeastOutstanding {
    fn name(&self) -> &str {
        "least_outstanding"
    }

    fn route(&mut self, _req: &Request, view: &ClusterView) -> RouteDecision {
        // `min_by_key` keeps the first minimum, i.e. the lowest id on ties.
        match view
            .accepting(InstanceRole::Mixed)
            .min_by_key(|l| l.outstanding)
        {
            Some(l) => RouteDecision::Mixed { instance: l.id },
            None => RouteDecision::Reject {
                reason: RejectReason::NoInstance {
                    role: InstanceRole::Mixed,
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::test_support::{loads, request};

    #[test]
    fn picks_fewest_outstanding_lowest_id_on_ties() {
        use InstanceRole::*;
        let mut l = loads(&[Mixed, Mixed, Mixed, Decode]);
        l[0].outstanding = 3;
        l[1].outstanding = 1;
        l[2].outstanding = 1;
        l[3].outstanding = 0;
        let view = ClusterView::new(0.0, &l);
        assert_eq!(
            LeastOutstanding.route(&request(0), &view),
            RouteDecision::Mixed { instance: 1 }
        );
        l[1].accepting = false;
        let view = ClusterView::new(0.0, &l);
        assert_eq!(
            LeastOutstanding.route(&request(0), &view),
            RouteDecision::Mixed { instance: 2 }
        );
    }
}
