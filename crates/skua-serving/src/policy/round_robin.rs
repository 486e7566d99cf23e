//! Round robin over accepting mixed instances (SGLang's and vLLM's router baseline).

use super::{ClusterView, InstanceRole, RejectReason, RouteDecision, Router};
use crate::workload::Request;

/// Sends each request to the next accepting `Mixed` instance in id order, wrapping around.
#[derive(Debug, Clone, Default)]
pub struct RoundRobin {
    next: usize,
}

impl RoundRobin {
    /// A round robin starting at instance 0.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Router for RoundRobin {
    fn name(&self) -> &str {
        "round_robin"
    }

    fn route(&mut self, _req: &Request, view: &ClusterView) -> RouteDecision {
        let n = view.instances.len();
        for step in 0..n {
            let i = (self.next + step) % n;
            let load = &view.instances[i];
            if load.accepting && load.role == InstanceRole::Mixed {
                self.next = (i + 1) % n;
                return RouteDecision::Mixed { instance: i };
            }
        }
        RouteDecision::Reject {
            reason: RejectReason::NoInstance {
                role: InstanceRole::Mixed,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::test_support::{loads, request};

    fn pick(rr: &mut RoundRobin, view: &ClusterView) -> Option<usize> {
        match rr.route(&request(0), view) {
            RouteDecision::Mixed { instance } => Some(instance),
            _ => None,
        }
    }

    #[test]
    fn cycles_and_skips_draining_and_non_mixed() {
        use InstanceRole::*;
        let mut l = loads(&[Mixed, Prefill, Mixed, Mixed]);
        l[3].accepting = false;
        let view = ClusterView::new(0.0, &l);
        let mut rr = RoundRobin::new();
        let picks: Vec<_> = (0..4).map(|_| pick(&mut rr, &view)).collect();
        assert_eq!(picks, vec![Some(0), Some(2), Some(0), Some(2)]);
    }

    #[test]
    fn rejects_without_mixed_instances() {
        let l = loads(&[InstanceRole::Prefill, InstanceRole::Decode]);
        let view = ClusterView::new(0.0, &l);
        let d = RoundRobin::new().route(&request(0), &view);
        assert_eq!(
            d,
            RouteDecision::Reject {
                reason: RejectReason::NoInstance {
                    role: InstanceRole::Mixed
                }
            }
        );
    }
}
