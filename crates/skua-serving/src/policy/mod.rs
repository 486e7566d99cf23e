//! Routing and role policies: the one decision interface shared by the simulator and the live gateway.
//!
//! A [`Router`] picks the instance (or prefill/decode pair) for each request from a read-only
//! [`ClusterView`]; a [`RoleController`] reassigns instance roles (mixed, prefill, decode) from the
//! same view. Policies never read the clock (they get `now_s` in the view) and never see simulator
//! types, so the gateway runs exactly the values the simulator evaluates. One file per policy,
//! after SGLang's model gateway (`src/policies/`).
//!
//! Architecture invariant: nothing in this module depends on `crate::sim`.

pub mod baseline;
pub mod catalog;
mod least_outstanding;
mod pd_pair;
mod round_robin;
pub mod skua;

pub use catalog::{PolicyContext, PolicyError, PolicySetup};
pub use least_outstanding::LeastOutstanding;
pub use pd_pair::PdPair;
pub use round_robin::RoundRobin;

use std::fmt;

use crate::workload::Request;

/// What an instance serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstanceRole {
    /// Prefill and decode of the same request (colocated, vLLM-style).
    Mixed,
    /// Prefill only; the KV cache is handed to a decode instance after the first token.
    Prefill,
    /// Decode only; receives KV from a prefill instance.
    Decode,
}

impl InstanceRole {
    /// Whether this role can run the prefill leg of a disaggregated request.
    pub fn can_prefill(self) -> bool {
        matches!(self, Self::Mixed | Self::Prefill)
    }

    /// Whether this role can run the decode leg of a disaggregated request.
    pub fn can_decode(self) -> bool {
        matches!(self, Self::Mixed | Self::Decode)
    }
}

impl fmt::Display for InstanceRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Mixed => "mixed",
            Self::Prefill => "prefill",
            Self::Decode => "decode",
        })
    }
}

/// A snapshot of one instance's load as a policy sees it.
///
/// Two kinds of field: **immediate** ones are the router's (or control plane's) own bookkeeping and
/// always exact; **scraped** ones come from the engine's metrics endpoint and are as old as the
/// last scrape (`scraped_at_s`), like Prometheus-scraped vLLM metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceLoad {
    /// Instance index (position in `ClusterView::instances`). Immediate.
    pub id: usize,
    /// Current role. Immediate (set by the control plane).
    pub role: InstanceRole,
    /// False while the instance drains before a role flip: route nothing to it. Immediate.
    pub accepting: bool,
    /// Request legs routed here and not finished (a prefill leg ends when its KV has been handed
    /// off, a decode or mixed leg at the last token). Immediate, router-local.
    pub outstanding: u32,
    /// Requests queued and not yet admitted to the running batch (KV transfers still in flight
    /// to a decode instance are not counted). Scraped.
    pub waiting: u32,
    /// Requests in the running batch. Scraped.
    pub running: u32,
    /// Prompt tokens still to prefill (queued prompts plus the rest of partly prefilled ones). Scraped.
    pub waiting_prefill_tokens: u64,
    /// KV tokens held by queued or running requests (whole blocks). Scraped.
    pub kv_used_tokens: u64,
    /// KV tokens held only by the prefix cache (reusable, evicted on demand). Scraped.
    pub kv_cached_tokens: u64,
    /// KV capacity in tokens (whole blocks). Static, exact.
    pub kv_capacity_tokens: u64,
    /// Paged-KV block size in tokens. Static, exact.
    pub block_size: u32,
    /// Time of the scrape the scraped fields come from, seconds since the workload start.
    pub scraped_at_s: f64,
}

impl InstanceLoad {
    /// An idle, accepting instance with the given capacity (scraped fields zero, scraped at 0 s).
    pub fn idle(id: usize, role: InstanceRole, kv_capacity_tokens: u64, block_size: u32) -> Self {
        Self {
            id,
            role,
            accepting: true,
            outstanding: 0,
            waiting: 0,
            running: 0,
            waiting_prefill_tokens: 0,
            kv_used_tokens: 0,
            kv_cached_tokens: 0,
            kv_capacity_tokens,
            block_size,
            scraped_at_s: 0.0,
        }
    }

    /// Fraction of KV capacity held by requests, in [0, 1] (0 for a zero-capacity instance).
    pub fn kv_usage(&self) -> f64 {
        if self.kv_capacity_tokens == 0 {
            0.0
        } else {
            self.kv_used_tokens as f64 / self.kv_capacity_tokens as f64
        }
    }
}

/// Exact prefix-cache state per instance, as KV-cache events give it (vLLM and SGLang publish
/// block stored/removed events; Dynamo's KV router subscribes to them). Only routers that
/// [`Router::subscribes_kv_events`] get one; the others must infer prefix state themselves.
pub trait PrefixIndex {
    /// Leading prompt tokens of `req` whose KV is cached on `instance` right now.
    fn cached_prefix_tokens(&self, instance: usize, req: &Request) -> u64;
}

/// A read-only view of the cluster at one decision.
#[derive(Clone, Copy)]
pub struct ClusterView<'a> {
    /// The decision time, seconds since the workload start (policies never read the clock).
    pub now_s: f64,
    /// One load snapshot per instance, indexed by instance id.
    pub instances: &'a [InstanceLoad],
    /// Exact prefix-cache state, for routers that subscribe to KV events; `None` otherwise.
    pub prefix: Option<&'a dyn PrefixIndex>,
}

impl fmt::Debug for ClusterView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterView")
            .field("now_s", &self.now_s)
            .field("instances", &self.instances)
            .field("prefix", &self.prefix.map(|_| "KV events"))
            .finish()
    }
}

impl<'a> ClusterView<'a> {
    /// A view without prefix-cache state.
    pub fn new(now_s: f64, instances: &'a [InstanceLoad]) -> Self {
        Self {
            now_s,
            instances,
            prefix: None,
        }
    }

    /// The same view with exact prefix-cache state.
    pub fn with_prefix(self, prefix: &'a dyn PrefixIndex) -> Self {
        Self {
            prefix: Some(prefix),
            ..self
        }
    }

    /// Leading prompt tokens of `req` cached on `instance`, when the view carries KV events
    /// (0 otherwise).
    pub fn cached_prefix_tokens(&self, instance: usize, req: &Request) -> u64 {
        self.prefix
            .map_or(0, |p| p.cached_prefix_tokens(instance, req))
    }

    /// Instances accepting new work whose role is `role`, in id order.
    pub fn accepting(&self, role: InstanceRole) -> impl Iterator<Item = &InstanceLoad> {
        self.instances
            .iter()
            .filter(move |l| l.accepting && l.role == role)
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum RejectReason {
    /// No accepting instance has the role the policy needs.
    NoInstance {
        /// The role that was needed.
        role: InstanceRole,
    },
    /// The request's KV (prompt plus output) can never fit the instance's KV cache.
    ExceedsKvCapacity {
        /// Instance the request was routed to.
        instance: usize,
        /// KV tokens the request needs at its longest (whole blocks).
        needed_tokens: u64,
        /// The instance's KV capacity in tokens.
        capacity_tokens: u64,
    },
    /// Without chunked prefill, the prompt exceeds the per-iteration token budget.
    ExceedsBatchBudget {
        /// Instance the request was routed to.
        instance: usize,
        /// Prompt length in tokens.
        prompt_tokens: u32,
        /// The engine's `max_batched_tokens`.
        budget_tokens: u32,
    },
    /// Admission control shed the request (overload).
    Overloaded,
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoInstance { role } => write!(f, "no accepting {role} instance"),
            Self::ExceedsKvCapacity {
                instance,
                needed_tokens,
                capacity_tokens,
            } => write!(
                f,
                "needs {needed_tokens} KV tokens but instance {instance} holds {capacity_tokens}"
            ),
            Self::ExceedsBatchBudget {
                instance,
                prompt_tokens,
                budget_tokens,
            } => write!(
                f,
                "prompt of {prompt_tokens} tokens exceeds the {budget_tokens}-token batch budget of instance {instance} (chunked prefill off)"
            ),
            Self::Overloaded => f.write_str("shed by admission control"),
        }
    }
}

/// Where one request goes.
#[derive(Debug, Clone, PartialEq)]
pub enum RouteDecision {
    /// Prefill and decode on one `Mixed` instance.
    Mixed {
        /// The instance.
        instance: usize,
    },
    /// Prefill on one instance, decode on another (after the KV transfer).
    Disaggregated {
        /// Instance running the prefill (role `Prefill` or `Mixed`).
        prefill: usize,
        /// Instance running the decode (role `Decode` or `Mixed`).
        decode: usize,
    },
    /// Refuse the request.
    Reject {
        /// Why.
        reason: RejectReason,
    },
}

/// Progress of a routed request, as a gateway sees it in the response stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RequestEvent {
    /// The first output token was produced (by `instance`, the prefill leg's instance).
    FirstToken {
        /// Request id.
        id: u64,
        /// Instance that produced it.
        instance: usize,
        /// When, seconds since the workload start.
        at_s: f64,
    },
    /// The last output token was produced; the output length is known from here on.
    Finished {
        /// Request id.
        id: u64,
        /// Output tokens generated.
        output_tokens: u32,
        /// When, seconds since the workload start.
        at_s: f64,
    },
}

/// A request-routing policy.
///
/// The request a router sees carries its prompt (length and prefix blocks) but **not** its output
/// length: `Request::output_tokens` is 0 unless the router [`knows_output_lengths`](Self::knows_output_lengths)
/// (the oracle). A live gateway does not know it either.
pub trait Router: Send {
    /// Short name for reports, e.g. `round_robin`.
    fn name(&self) -> &str;
    /// Picks where `req` goes. Must pick only accepting instances of a fitting role.
    fn route(&mut self, req: &Request, view: &ClusterView) -> RouteDecision;
    /// Called once per instance a routed request used, when its work there ends (finished, handed
    /// off to decode, or rejected by the engine after routing).
    fn on_finish(&mut self, req_id: u64, instance: usize) {
        let _ = (req_id, instance);
    }
    /// Called as a routed request streams: first token, then completion.
    fn on_event(&mut self, event: &RequestEvent) {
        let _ = event;
    }
    /// True only for oracles: `route` then sees each request's real output length.
    fn knows_output_lengths(&self) -> bool {
        false
    }
    /// True when the router subscribes to KV-cache events: the view then carries exact
    /// prefix-cache state ([`ClusterView::prefix`]).
    fn subscribes_kv_events(&self) -> bool {
        false
    }
}

/// A policy that reassigns instance roles.
pub trait RoleController: Send {
    /// Short name for reports, e.g. `static`.
    fn name(&self) -> &str;
    /// Role changes to make now: `(instance, new_role)`. An instance given a new role stops
    /// accepting work, drains what it has, then switches.
    fn decide(&mut self, view: &ClusterView) -> Vec<(usize, InstanceRole)>;
}

/// The default role controller: roles never change.
#[derive(Debug, Clone, Copy, Default)]
pub struct StaticRoles;

impl RoleController for StaticRoles {
    fn name(&self) -> &str {
        "static"
    }

    fn decide(&mut self, _view: &ClusterView) -> Vec<(usize, InstanceRole)> {
        Vec::new()
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::{InstanceLoad, InstanceRole};
    use crate::workload::Request;

    /// Loads for instances with the given roles, idle, 1,000-token KV.
    pub fn loads(roles: &[InstanceRole]) -> Vec<InstanceLoad> {
        roles
            .iter()
            .enumerate()
            .map(|(i, &r)| InstanceLoad::idle(i, r, 1000, 16))
            .collect()
    }

    /// A plain request.
    pub fn request(id: u64) -> Request {
        Request {
            id,
            arrival_s: 0.0,
            input_tokens: 10,
            output_tokens: 5,
            prefix_blocks: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_roles_never_flip() {
        let loads = test_support::loads(&[InstanceRole::Mixed, InstanceRole::Prefill]);
        let view = ClusterView::new(5.0, &loads);
        assert!(StaticRoles.decide(&view).is_empty());
    }

    #[test]
    fn accepting_filters_role_and_draining() {
        let mut loads = test_support::loads(&[
            InstanceRole::Mixed,
            InstanceRole::Decode,
            InstanceRole::Mixed,
        ]);
        loads[2].accepting = false;
        let view = ClusterView::new(0.0, &loads);
        let ids: Vec<usize> = view.accepting(InstanceRole::Mixed).map(|l| l.id).collect();
        assert_eq!(ids, vec![0]);
    }

    #[test]
    fn role_capabilities() {
        assert!(InstanceRole::Mixed.can_prefill() && InstanceRole::Mixed.can_decode());
        assert!(InstanceRole::Prefill.can_prefill() && !InstanceRole::Prefill.can_decode());
        assert!(!InstanceRole::Decode.can_prefill() && InstanceRole::Decode.can_decode());
    }

    #[test]
    fn kv_usage_is_a_fraction() {
        let mut l = InstanceLoad::idle(0, InstanceRole::Mixed, 1000, 16);
        l.kv_used_tokens = 250;
        assert_eq!(l.kv_usage(), 0.25);
        assert_eq!(
            InstanceLoad::idle(0, InstanceRole::Mixed, 0, 16).kv_usage(),
            0.0
        );
    }
}
