//! Prefill/decode pair selection for disaggregated clusters (after DistServe and Splitwise).

use super::{ClusterView, InstanceLoad, InstanceRole, RejectReason, RouteDecision, Router};
use crate::workload::Request;

/// Picks a `(prefill, decode)` pair: the accepting `Prefill` instance with the fewest waiting
/// prefill tokens (scraped; ties: fewer outstanding, then lowest id) and the accepting `Decode`
/// instance with the fewest outstanding requests (immediate; ties: lowest id).
#[derive(Debug, Clone, Copy, Default)]
pub struct PdPair;

impl PdPair {
    /// The policy (stateless).
    pub fn new() -> Self {
        Self
    }

    /// The prefill instance this policy would pick, if any.
    pub fn pick_prefill<'v>(view: &ClusterView<'v>) -> Option<&'v InstanceLoad> {
        view.instances
            .iter()
            .filter(|l| l.accepting && l.role == InstanceRole::Prefill)
            .min_by_key(|l| (l.waiting_prefill_tokens, l.outstanding))
    }

    /// The decode instance this policy would pick, if any.
    pub fn pick_decode<'v>(view: &ClusterView<'v>) -> Option<&'v InstanceLoad> {
        view.instances
            .iter()
            .filter(|l| l.accepting && l.role == InstanceRole::Decode)
            .min_by_key(|l| l.outstanding)
    }
}

impl Router for PdPair {
    fn name(&self) -> &str {
        "pd_pair"
    }

    fn route(&mut self, _req: &Request, view: &ClusterView) -> RouteDecision {
        let Some(p) = Self::pick_prefill(view) else {
            return RouteDecision::Reject {
                reason: RejectReason::NoInstance {
                    role: InstanceRole::Prefill,
                },
            };
        };
        let Some(d) = Self::pick_decode(view) else {
            return RouteDecision::Reject {
                reason: RejectReason::NoInstance {
                    role: InstanceRole::Decode,
                },
            };
        };
        RouteDecision::Disaggregated {
            prefill: p.id,
            decode: d.id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::test_support::{loads, request};

    #[test]
    fn picks_least_prefill_backlog_and_least_outstanding_decode() {
        use InstanceRole::*;
        let mut l = loads(&[Prefill, Prefill, Decode, Decode, Mixed]);
        l[0].waiting_prefill_tokens = 5000;
        l[1].waiting_prefill_tokens = 100;
        l[2].outstanding = 7;
        l[3].outstanding = 2;
        let view = ClusterView::new(0.0, &l);
        assert_eq!(
            PdPair.route(&request(0), &view),
            RouteDecision::Disaggregated {
                prefill: 1,
                decode: 3
            }
        );
    }

    #[test]
    fn rejects_when_a_side_is_missing() {
        use InstanceRole::*;
        let mut l = loads(&[Prefill, Decode]);
        l[1].accepting = false;
        let view = ClusterView::new(0.0, &l);
        assert_eq!(
            PdPair.route(&request(0), &view),
            RouteDecision::Reject {
                reason: RejectReason::NoInstance { role: Decode }
            }
        );
    }
}
