//! NVIDIA Dynamo's KV router: exact prefix overlap (KV events) against router-tracked load, with
//! the default linear cost and the `lmetric` cost.
//!
//! Per accepting `Mixed` worker, in KV blocks of the worker's block size (Dynamo docs, "Routing
//! Concepts" → Cost Calculation, `docs/components/router/router-concepts.md`):
//!
//! ```text
//! raw_prefill_blocks      = (active prefill tokens + request prompt tokens) / block_size
//! adjusted_prefill_blocks = max(raw_prefill_blocks − overlap_blocks, 0)
//! decode_blocks           = active KV blocks + blocks this request adds
//! linear  cost = prefill_load_scale × adjusted_prefill_blocks + decode_blocks
//! lmetric cost = adjusted_prefill_blocks × (decode_blocks + 1)
//! ```
//!
//! and the lowest cost wins; at the default `router_temperature = 0` ties are broken uniformly at
//! random (`minimum_cost_index` in `lib/kv-router/src/scheduling/selector/default.rs`; seeded
//! here). Defaults (`lib/kv-router/src/scheduling/config.rs`, `KvRouterConfig::default`):
//! `overlap_score_credit = 1.0` (device overlap counts in full), `prefill_load_scale = 1.0` (the
//! old `--router-kv-overlap-score-weight`, default 1), `router_temperature = 0`, KV events on,
//! prefill-token and active-block tracking on, output blocks not tracked. The overlap is exact:
//! the router subscribes to KV events and reads each worker's cached prefix from the view. Load
//! is Dynamo's own router-local bookkeeping ([`ActiveLoad`]), not scraped metrics.
//!
//! `lmetric`: the multiplicative score of Zhang et al., "Simple is Better: Multiplication May Be
//! All You Need for LLM Request Scheduling" (arXiv:2603.15202), added to Dynamo as
//! `router_selection_policy = lmetric` (ai-dynamo/dynamo issue #11029 / PR #11028; documented in
//! `router-concepts.md`); the same idea exists as SGLang's gateway `lmetric` policy
//! (`sgl-model-gateway/src/policies/lmetric.rs`, prefill work × (load + 1)).
//!
//! Not modelled: Dynamo's router-side request queue (`router_queue_threshold`, default 16 ×
//! `max_num_batched_tokens` per worker) — the simulator's `Router` cannot hold a request back;
//! host/disk-tier cache credits (no offload tier here).

use rand::rngs::Xoshiro256PlusPlus;

use super::choose::{MinRandomTies, no_instance, seeded};
use super::dynamo_load::{ActiveLoad, BlockPlan};
use crate::policy::{ClusterView, InstanceLoad, InstanceRole, RequestEvent, RouteDecision, Router};
use crate::workload::Request;

/// Which Dynamo cost function scores the workers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DynamoCost {
    /// The default additive cost, with its prefill scale (default 1.0).
    Linear {
        /// `prefill_load_scale`.
        prefill_load_scale: f64,
    },
    /// `adjusted_prefill_blocks × (decode_blocks + 1)`.
    LMetric,
}

/// One worker's cost terms, in KV blocks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CostTerms {
    /// Prompt tokens of the request cached on the worker.
    pub cached_tokens: u64,
    /// `max(raw_prefill_blocks − overlap_blocks, 0)`.
    pub prefill_blocks: f64,
    /// Active blocks plus the blocks the request adds.
    pub decode_blocks: f64,
}

impl DynamoCost {
    /// The cost of one worker.
    pub(crate) fn of(self, t: CostTerms) -> f64 {
        match self {
            Self::Linear { prefill_load_scale } => {
                prefill_load_scale * t.prefill_blocks + t.decode_blocks
            }
            Self::LMetric => t.prefill_blocks * (t.decode_blocks + 1.0),
        }
    }
}

/// The worker choice and load bookkeeping shared by [`DynamoKv`] and the conditional
/// disaggregation router.
#[derive(Debug, Clone)]
pub(crate) struct DynamoCore {
    cost: DynamoCost,
    block_tokens: u32,
    load: ActiveLoad,
    rng: Xoshiro256PlusPlus,
}

impl DynamoCore {
    /// A core with no active request.
    pub(crate) fn new(cost: DynamoCost, block_tokens: u32, seed: u64) -> Self {
        Self {
            cost,
            block_tokens,
            load: ActiveLoad::new(),
            rng: seeded(seed, 7),
        }
    }

    /// The cost terms of routing `req` to `l`.
    #[cfg(test)]
    fn terms(&self, req: &Request, view: &ClusterView, l: &InstanceLoad) -> CostTerms {
        let plan = BlockPlan::new(req, self.block_tokens, l.block_size);
        self.terms_with(req, view, l, &plan)
    }

    /// The cost terms of routing `req` to `l`, the request's blocks at `l`'s block size given.
    fn terms_with(
        &self,
        req: &Request,
        view: &ClusterView,
        l: &InstanceLoad,
        plan: &BlockPlan,
    ) -> CostTerms {
        let input = u64::from(req.input_tokens);
        let bs = f64::from(l.block_size.max(1));
        let cached = view.cached_prefix_tokens(l.id, req).min(input);
        let raw = (self.load.prefill_tokens(l.id) + input) as f64 / bs;
        CostTerms {
            cached_tokens: cached,
            prefill_blocks: (raw - cached as f64 / bs).max(0.0),
            decode_blocks: (self.load.decode_blocks(l.id) + self.load.new_blocks(l.id, plan))
                as f64,
        }
    }

    /// The lowest-cost accepting instance of `role`, with the prompt tokens cached there.
    pub(crate) fn pick(
        &mut self,
        req: &Request,
        view: &ClusterView,
        role: InstanceRole,
    ) -> Option<(usize, u64)> {
        let mut best = MinRandomTies::new();
        // Instances normally share one block size: build the request's block plan once per size.
        let mut plan: Option<(u32, BlockPlan)> = None;
        for l in view.accepting(role) {
            if plan.as_ref().is_none_or(|(bs, _)| *bs != l.block_size) {
                plan = Some((
                    l.block_size,
                    BlockPlan::new(req, self.block_tokens, l.block_size),
                ));
            }
            let Some((_, p)) = &plan else { continue };
            let t = self.terms_with(req, view, l, p);
            best.offer_with(l.id, self.cost.of(t), t.cached_tokens, &mut self.rng);
        }
        best.pick_with()
    }

    /// Records `req` routed to `worker` (KV blocks of `block_size`) with `prefill` prompt tokens
    /// to compute there.
    pub(crate) fn admit(&mut self, req: &Request, worker: usize, block_size: u32, prefill: u64) {
        let plan = BlockPlan::new(req, self.block_tokens, block_size);
        self.load.add(req.id, worker, plan, prefill);
    }

    /// Requests routed and not finished.
    pub(crate) fn active_requests(&self) -> usize {
        self.load.active_requests()
    }

    /// Forwards a finished leg.
    pub(crate) fn on_finish(&mut self, req_id: u64, instance: usize) {
        self.load.finish(req_id, instance);
    }

    /// Forwards a stream event (the first token ends the prefill load).
    pub(crate) fn on_event(&mut self, event: &RequestEvent) {
        if let RequestEvent::FirstToken { id, .. } = *event {
            self.load.first_token(id);
        }
    }
}

/// Dynamo's KV router over `Mixed` instances.
#[derive(Debug, Clone)]
pub struct DynamoKv {
    name: &'static str,
    core: DynamoCore,
}

impl DynamoKv {
    /// The default linear cost (`prefill_load_scale = 1.0`).
    pub fn linear(block_tokens: u32, seed: u64) -> Self {
        Self {
            name: "dynamo_kv",
            core: DynamoCore::new(
                DynamoCost::Linear {
                    prefill_load_scale: 1.0,
                },
                block_tokens,
                seed,
            ),
        }
    }

    /// The `lmetric` cost.
    pub fn lmetric(block_tokens: u32, seed: u64) -> Self {
        Self {
            name: "dynamo_kv_lmetric",
            core: DynamoCore::new(DynamoCost::LMetric, block_tokens, seed),
        }
    }

    /// Requests routed whose work has not ended (the router-local tracker's size).
    pub fn active_requests(&self) -> usize {
        self.core.active_requests()
    }
}

impl Router for DynamoKv {
    fn name(&self) -> &str {
        self.name
    }

    fn route(&mut self, req: &Request, view: &ClusterView) -> RouteDecision {
        let Some((instance, cached)) = self.core.pick(req, view, InstanceRole::Mixed) else {
            return no_instance(InstanceRole::Mixed);
        };
        let bs = view.instances[instance].block_size;
        let prefill = u64::from(req.input_tokens) - cached;
        self.core.admit(req, instance, bs, prefill);
        RouteDecision::Mixed { instance }
    }

    fn on_finish(&mut self, req_id: u64, instance: usize) {
        self.core.on_finish(req_id, instance);
    }

    fn on_event(&mut self, event: &RequestEvent) {
        self.core.on_event(event);
    }

    fn subscribes_kv_events(&self) -> bool {
        true
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::policy::PrefixIndex;
    use crate::policy::test_support::{loads, request};

    /// A KV-event view that reports fixed cached prefix tokens per instance.
    pub(crate) struct FixedCache(pub Vec<u64>);

    impl PrefixIndex for FixedCache {
        fn cached_prefix_tokens(&self, instance: usize, req: &Request) -> u64 {
            self.0[instance].min(u64::from(req.input_tokens))
        }
    }

    fn req(id: u64, input: u32) -> Request {
        Request {
            input_tokens: input,
            ..request(id)
        }
    }

    /// Worker 0 has 16 of the request's 20 blocks cached and `busy0` active blocks; worker 1 has
    /// nothing cached and 30 active blocks. Block size 16, no active prefill.
    fn setup(cost: DynamoCost, busy0: u32) -> (DynamoCore, Vec<InstanceLoad>) {
        let mut core = DynamoCore::new(cost, 0, 1);
        // Active blocks from earlier requests (no prefix hashes, so nothing is shared).
        core.admit(&req(100, busy0 * 16), 0, 16, 0);
        core.admit(&req(101, 30 * 16), 1, 16, 0);
        (core, loads(&[InstanceRole::Mixed, InstanceRole::Mixed]))
    }

    fn choice(core: &mut DynamoCore, l: &[InstanceLoad]) -> usize {
        let cache = FixedCache(vec![256, 0]);
        let view = ClusterView::new(0.0, l).with_prefix(&cache);
        core.pick(&req(0, 320), &view, InstanceRole::Mixed)
            .expect("a worker")
            .0
    }

    #[test]
    fn linear_cost_trades_overlap_against_active_blocks() {
        // Worker 0: prefill 20 − 16 = 4, decode 40 + 20 = 60 → 64.
        // Worker 1: prefill 20,          decode 30 + 20 = 50 → 70.
        let linear = DynamoCost::Linear {
            prefill_load_scale: 1.0,
        };
        let (mut core, l) = setup(linear, 40);
        let view_terms = {
            let cache = FixedCache(vec![256, 0]);
            let view = ClusterView::new(0.0, &l).with_prefix(&cache);
            (
                core.terms(&req(0, 320), &view, &l[0]),
                core.terms(&req(0, 320), &view, &l[1]),
            )
        };
        assert_eq!(linear.of(view_terms.0), 64.0);
        assert_eq!(linear.of(view_terms.1), 70.0);
        assert_eq!(choice(&mut core, &l), 0);
        // 47 active blocks on worker 0: 4 + 67 = 71 > 70, so worker 1 wins.
        let (mut core, l) = setup(linear, 47);
        assert_eq!(choice(&mut core, &l), 1);
    }

    #[test]
    fn lmetric_multiplies_prefill_work_by_decode_load() {
        // Worker 0: 4 × (60 + 1) = 244; worker 1: 20 × (50 + 1) = 1020 → worker 0, where the
        // linear cost (64 vs 70) was close.
        let (mut core, l) = setup(DynamoCost::LMetric, 40);
        assert_eq!(choice(&mut core, &l), 0);
        // Even at 200 active blocks: 4 × 221 = 884 < 1020, while linear would give 224 > 70.
        let (mut core, l) = setup(DynamoCost::LMetric, 200);
        assert_eq!(choice(&mut core, &l), 0);
        // At 250: 4 × 271 = 1084 > 1020.
        let (mut core, l) = setup(DynamoCost::LMetric, 250);
        assert_eq!(choice(&mut core, &l), 1);
    }

    #[test]
    fn active_prefill_counts_until_the_first_token() {
        let mut r = DynamoKv::linear(0, 3);
        let l = loads(&[InstanceRole::Mixed, InstanceRole::Mixed]);
        let cache = FixedCache(vec![0, 0]);
        let view = ClusterView::new(0.0, &l).with_prefix(&cache);
        // Equal costs: a random tie. Whichever worker gets the 1,600-token prompt is then
        // charged 100 prefill + 100 decode blocks, so the next request goes to the other one.
        let RouteDecision::Mixed { instance: a } = r.route(&req(1, 1600), &view) else {
            panic!("routed")
        };
        assert_eq!(
            r.route(&req(2, 16), &view),
            RouteDecision::Mixed { instance: 1 - a }
        );
        // Once request 1 has its first token and both requests are done on their workers,
        // the tracker is empty again.
        r.on_event(&RequestEvent::FirstToken {
            id: 1,
            instance: a,
            at_s: 1.0,
        });
        assert_eq!(r.core.load.prefill_tokens(a), 0);
        r.on_finish(1, a);
        r.on_finish(2, 1 - a);
        assert_eq!(r.active_requests(), 0);
    }

    #[test]
    fn rejects_without_mixed_and_subscribes_to_kv_events() {
        let mut r = DynamoKv::lmetric(16, 1);
        assert!(r.subscribes_kv_events());
        let l = loads(&[InstanceRole::Decode]);
        assert_eq!(
            r.route(&request(0), &ClusterView::new(0.0, &l)),
            no_instance(InstanceRole::Mixed)
        );
    }
}
