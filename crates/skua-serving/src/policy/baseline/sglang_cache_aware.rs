//! SGLang model gateway's `cache_aware` policy, with its launcher defaults.
//!
//! Rule, per request, over the accepting `Mixed` instances:
//! 1. load = router-local in-flight requests (SGLang's `Worker::load`, here `outstanding`);
//!    the cluster is *imbalanced* when `max − min > balance_abs_threshold` **and**
//!    `max > min × balance_rel_threshold`. Imbalanced: route to the least-loaded worker.
//! 2. Balanced: find the worker whose approximate tree shares the longest prefix with the prompt;
//!    if `matched / prompt > cache_threshold` (strictly, as the code has it), route there;
//!    otherwise route to the worker with the smallest tree ("most available cache").
//! 3. Either way, insert the prompt into the chosen worker's tree. Every `eviction_interval`
//!    the trees are cut back to `max_tree_size`, least recently used leaves first.
//!
//! Sources: sgl-project/sglang `sgl-router/src/policies/cache_aware.rs` and `tree.rs` (the rule;
//! the newer `sgl-model-gateway/src/policies/cache_aware.rs` sends a below-threshold request to the
//! least-loaded worker instead of the smallest tree — this baseline keeps the long-standing
//! smallest-tree rule); defaults from `sgl-router/py_src/sglang_router/router_args.py`, what
//! `python -m sglang_router.launch_router` runs with: `cache_threshold = 0.3`,
//! `balance_abs_threshold = 64`, `balance_rel_threshold = 1.5`, `eviction_interval_secs = 120`,
//! `max_tree_size = 2^26`. (The Rust library's `CacheAwareConfig::default()` differs: 0.5, 32,
//! 1.1, 30 s, 10,000 — it only applies when the policy is built in code.)
//!
//! Approximations: SGLang's tree holds raw request text; here it holds the workload's prefix-block
//! hashes (`PolicyContext::block_tokens` tokens each), so a match is counted in whole blocks.
//! `max_tree_size` counts characters; it is scaled at 4 characters per token (typical BPE on
//! English text) to 2^24 = 16,777,216 tokens per worker. Ties (equal match length, equal tree
//! size, equal load) go to the lowest id; SGLang takes the first tenant of a hash map, an
//! arbitrary but fixed choice. When the trace has no hashes (Azure) the match ratio is 0 and each
//! prompt is a unique entry of its length, so the below-threshold branch balances cumulative
//! routed tokens, as SGLang's does on unshared text.

use super::approx_tree::ApproxTrees;
use super::block_keys::{PrefixUnit, prefix_units};
use super::choose::no_instance;
use crate::policy::{ClusterView, InstanceLoad, InstanceRole, RouteDecision, Router};
use crate::workload::Request;

/// Parameters of [`SglangCacheAware`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CacheAwareConfig {
    /// Match ratio above which the best-matching worker is chosen (SGLang default 0.3).
    pub cache_threshold: f64,
    /// Absolute load spread above which load balancing may take over (default 64 requests).
    pub balance_abs_threshold: u32,
    /// Relative load spread above which load balancing may take over (default 1.5).
    pub balance_rel_threshold: f64,
    /// Seconds between tree evictions (default 120).
    pub eviction_interval_s: f64,
    /// Per-worker tree size limit in tokens (default 2^26 characters / 4 = 2^24 tokens).
    pub max_tree_tokens: u64,
}

impl Default for CacheAwareConfig {
    fn default() -> Self {
        Self {
            cache_threshold: 0.3,
            balance_abs_threshold: 64,
            balance_rel_threshold: 1.5,
            eviction_interval_s: 120.0,
            max_tree_tokens: (1 << 26) / 4,
        }
    }
}

/// SGLang's cache-aware router over an approximate, routing-history prefix tree per worker.
#[derive(Debug, Clone)]
pub struct SglangCacheAware {
    config: CacheAwareConfig,
    block_tokens: u32,
    trees: ApproxTrees,
    next_eviction_s: Option<f64>,
    units: Vec<PrefixUnit>,
}

impl SglangCacheAware {
    /// The policy for a workload whose prefix blocks are `block_tokens` tokens long.
    pub fn new(config: CacheAwareConfig, block_tokens: u32) -> Self {
        Self {
            config,
            block_tokens,
            trees: ApproxTrees::new(),
            next_eviction_s: None,
            units: Vec::new(),
        }
    }

    fn evict_if_due(&mut self, now_s: f64) {
        let interval = self.config.eviction_interval_s;
        if !(interval.is_finite() && interval > 0.0) {
            return;
        }
        let next = *self.next_eviction_s.get_or_insert(now_s + interval);
        if now_s >= next {
            self.trees.evict_to(self.config.max_tree_tokens);
            let missed = ((now_s - next) / interval).floor() + 1.0;
            self.next_eviction_s = Some(next + missed * interval);
        }
    }

    fn choose(&self, req: &Request, candidates: &[&InstanceLoad]) -> usize {
        let (min, max) = candidates.iter().fold((u32::MAX, 0), |(lo, hi), l| {
            (lo.min(l.outstanding), hi.max(l.outstanding))
        });
        let c = &self.config;
        let imbalanced = max - min > c.balance_abs_threshold
            && f64::from(max) > f64::from(min) * c.balance_rel_threshold;
        if imbalanced {
            return lowest_by(candidates, |l| u64::from(l.outstanding));
        }
        let (best, matched) = candidates
            .iter()
            .map(|l| (l.id, self.trees.matched_tokens(l.id, &self.units)))
            .fold(
                (candidates[0].id, 0),
                |acc, (id, m)| {
                    if m > acc.1 { (id, m) } else { acc }
                },
            );
        let ratio = if req.input_tokens == 0 {
            0.0
        } else {
            matched.min(u64::from(req.input_tokens)) as f64 / f64::from(req.input_tokens)
        };
        if ratio > c.cache_threshold {
            best
        } else {
            lowest_by(candidates, |l| self.trees.size_tokens(l.id))
        }
    }
}

/// The candidate with the smallest `key`, lowest id on ties (`candidates` is in id order).
fn lowest_by(candidates: &[&InstanceLoad], key: impl Fn(&InstanceLoad) -> u64) -> usize {
    candidates.iter().min_by_key(|l| key(l)).map_or(0, |l| l.id)
}

impl Router for SglangCacheAware {
    fn name(&self) -> &str {
        "sglang_cache_aware"
    }

    fn route(&mut self, req: &Request, view: &ClusterView) -> RouteDecision {
        self.evict_if_due(view.now_s);
        let candidates: Vec<&InstanceLoad> = view.accepting(InstanceRole::Mixed).collect();
        if candidates.is_empty() {
            return no_instance(InstanceRole::Mixed);
        }
        self.units.clear();
        self.units.extend(prefix_units(req, self.block_tokens));
        let instance = self.choose(req, &candidates);
        let covered: u32 = self.units.iter().map(|u| u.tokens).sum();
        let tail_key = !req.id;
        self.trees.insert(
            instance,
            &self.units,
            tail_key,
            req.input_tokens.saturating_sub(covered),
        );
        RouteDecision::Mixed { instance }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::test_support::{loads, request};

    fn req(id: u64, input: u32, blocks: &[u64]) -> Request {
        Request {
            input_tokens: input,
            prefix_blocks: blocks.to_vec(),
            ..request(id)
        }
    }

    fn pick(r: &mut SglangCacheAware, req: &Request, l: &[InstanceLoad]) -> usize {
        match r.route(req, &ClusterView::new(0.0, l)) {
            RouteDecision::Mixed { instance } => instance,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn policy() -> SglangCacheAware {
        SglangCacheAware::new(CacheAwareConfig::default(), 16)
    }

    #[test]
    fn balanced_follows_the_prefix_and_imbalanced_follows_the_load() {
        use InstanceRole::*;
        let mut l = loads(&[Mixed, Mixed, Mixed]);
        let mut r = policy();
        // Seed worker 2's tree: force it by making it the only accepting instance.
        l[0].accepting = false;
        l[1].accepting = false;
        assert_eq!(pick(&mut r, &req(0, 64, &[1, 2, 3, 4]), &l), 2);
        l[0].accepting = true;
        l[1].accepting = true;
        // A request sharing 3 of its 4 blocks (ratio 0.75 > 0.3) goes to worker 2 even though
        // worker 2 is the busiest — the spread (40) is within the absolute threshold (64).
        l[0].outstanding = 10;
        l[1].outstanding = 0;
        l[2].outstanding = 40;
        assert_eq!(pick(&mut r, &req(1, 64, &[1, 2, 3, 9]), &l), 2);
        // Spread 70 > 64 and 70 > 0 × 1.5: imbalanced, so the least-loaded worker wins.
        l[2].outstanding = 70;
        assert_eq!(pick(&mut r, &req(2, 64, &[1, 2, 3, 9]), &l), 1);
        // Spread 70 > 64 but 210 ≤ 140 × 1.5: both conditions are needed, so still balanced,
        // and worker 2 holds the whole prompt (worker 1 learned only 3 of its blocks above).
        l[0].outstanding = 140;
        l[1].outstanding = 140;
        l[2].outstanding = 210;
        assert_eq!(pick(&mut r, &req(3, 64, &[1, 2, 3, 4]), &l), 2);
    }

    #[test]
    fn below_threshold_goes_to_the_smallest_tree() {
        use InstanceRole::*;
        let mut l = loads(&[Mixed, Mixed]);
        let mut r = policy();
        // The first request has an empty-tree tie: lowest id.
        assert_eq!(pick(&mut r, &req(0, 100, &[]), &l), 0);
        // Worker 0 now holds 100 tokens, worker 1 none.
        assert_eq!(pick(&mut r, &req(1, 30, &[]), &l), 1);
        assert_eq!(pick(&mut r, &req(2, 30, &[]), &l), 1);
        assert_eq!(pick(&mut r, &req(3, 30, &[]), &l), 1);
        // 100 vs 90: worker 1 is still smaller.
        assert_eq!(pick(&mut r, &req(4, 30, &[]), &l), 1);
        // 100 vs 120: worker 0.
        assert_eq!(pick(&mut r, &req(5, 30, &[]), &l), 0);
        // A weak match does not count: 16 of 64 tokens = 0.25 ≤ 0.3 goes to the smaller tree;
        // a 32-of-48-token match (0.67) goes to the matching worker.
        l[0].accepting = false;
        pick(&mut r, &req(6, 64, &[7, 8]), &l); // worker 1 learns blocks 7, 8
        l[0].accepting = true;
        assert_eq!(pick(&mut r, &req(7, 64, &[7, 5, 5, 5]), &l), 0);
        assert_eq!(pick(&mut r, &req(8, 48, &[7, 8, 5]), &l), 1);
    }

    #[test]
    fn eviction_runs_on_the_interval_and_forgets_old_prefixes() {
        use InstanceRole::*;
        let l = loads(&[Mixed, Mixed]);
        let config = CacheAwareConfig {
            max_tree_tokens: 32,
            ..CacheAwareConfig::default()
        };
        let mut r = SglangCacheAware::new(config, 16);
        let at = |t: f64| ClusterView::new(t, &l);
        // t = 0: worker 0 learns blocks 1, 2 (32 tokens). Next eviction due at 120 s.
        assert_eq!(
            r.route(&req(0, 32, &[1, 2]), &at(0.0)),
            RouteDecision::Mixed { instance: 0 }
        );
        // t = 10: a matching request follows the prefix and adds 16 tokens (48 > 32).
        assert_eq!(
            r.route(&req(1, 48, &[1, 2, 3]), &at(10.0)),
            RouteDecision::Mixed { instance: 0 }
        );
        assert_eq!(r.trees.size_tokens(0), 48);
        // t = 130: eviction first cuts worker 0 back to 32 tokens.
        r.route(&req(2, 16, &[]), &at(130.0));
        assert_eq!(r.trees.size_tokens(0), 32);
    }

    #[test]
    fn rejects_without_mixed() {
        let l = loads(&[InstanceRole::Prefill]);
        assert_eq!(
            policy().route(&request(0), &ClusterView::new(0.0, &l)),
            no_instance(InstanceRole::Mixed)
        );
    }
}
