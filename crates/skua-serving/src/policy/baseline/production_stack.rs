//! vLLM production-stack's `loadaware` routing logic, β = 1.
//!
//! Rule, over the accepting `Mixed` instances:
//!
//! ```text
//! score(i)         = min(matched_tokens(i), prompt) / prompt − β × relative_load(i)
//! relative_load(i) = (load(i) − mean load) / max(1, mean load)
//! ```
//!
//! with `load` the router's own in-flight request count (prefilling + decoding, from its
//! event-driven `request_stats`, deliberately not the scrape-lagged `engine_stats`) and
//! `matched_tokens` the cached prefix the LMCache controller reports for the worker (exact KV
//! locations — here the engine prefix cache through KV events). The highest score wins; ties go
//! to the first endpoint in URL order (here: lowest id). When no worker holds any of the prompt,
//! the upstream fallback applies: the endpoint with the lowest QPS over the request-stats window
//! (here: fewest requests routed there in the last 60 s, lowest id on ties).
//!
//! Source: vllm-project/production-stack PR #1035 "loadaware routing: KV-cache-aware placement
//! weighted by live load" (`src/vllm_router/routers/routing_logic.py`, `LoadAwareRouter`),
//! `DEFAULT_LOADAWARE_BETA = 1.0`; `--request-stats-window` default 60 s and
//! `--engine-stats-interval` default 30 s from `src/vllm_router/parsers/parser.py`. The policy runs
//! with 30 s-old scraped engine metrics (the protocol's production-stack staleness), which by its
//! design it does not read.

use std::collections::VecDeque;

use super::choose::no_instance;
use crate::policy::{ClusterView, InstanceLoad, InstanceRole, RouteDecision, Router};
use crate::workload::Request;

/// The default load weight β.
pub const LOADAWARE_BETA: f64 = 1.0;

/// The default request-stats window, seconds.
pub const REQUEST_STATS_WINDOW_S: f64 = 60.0;

/// production-stack's KV-cache-aware placement weighted by relative in-flight load.
#[derive(Debug, Clone)]
pub struct ProductionStackLoadAware {
    beta: f64,
    window_s: f64,
    /// Per instance, arrival times of the requests routed there within the window.
    recent: Vec<VecDeque<f64>>,
}

impl ProductionStackLoadAware {
    /// The policy with load weight `beta` and a `window_s` QPS window for the fallback.
    pub fn new(beta: f64, window_s: f64) -> Self {
        Self {
            beta,
            window_s,
            recent: Vec::new(),
        }
    }

    fn score(&self, matched: u64, prompt: u32, load: u32, mean: f64) -> f64 {
        let prompt = u64::from(prompt);
        let benefit = matched.min(prompt) as f64 / prompt.max(1) as f64;
        let relative = (f64::from(load) - mean) / mean.max(1.0);
        benefit - self.beta * relative
    }

    fn lowest_qps(&mut self, now_s: f64, candidates: &[&InstanceLoad]) -> usize {
        let horizon = now_s - self.window_s;
        let mut best = (usize::MAX, candidates[0].id);
        for l in candidates {
            let n = self.recent.get_mut(l.id).map_or(0, |q| {
                forget_before(q, horizon);
                q.len()
            });
            if n < best.0 {
                best = (n, l.id);
            }
        }
        best.1
    }

    fn record(&mut self, instance: usize, now_s: f64) {
        if self.recent.len() <= instance {
            self.recent.resize_with(instance + 1, VecDeque::new);
        }
        let q = &mut self.recent[instance];
        forget_before(q, now_s - self.window_s);
        q.push_back(now_s);
    }
}

/// Drops arrivals at or before `horizon` (they have left the window).
fn forget_before(q: &mut VecDeque<f64>, horizon: f64) {
    while q.front().is_some_and(|&t| t <= horizon) {
        q.pop_front();
    }
}

impl Default for ProductionStackLoadAware {
    fn default() -> Self {
        Self::new(LOADAWARE_BETA, REQUEST_STATS_WINDOW_S)
    }
}

impl Router for ProductionStackLoadAware {
    fn name(&self) -> &str {
        "production_stack_loadaware"
    }

    fn route(&mut self, req: &Request, view: &ClusterView) -> RouteDecision {
        let candidates: Vec<&InstanceLoad> = view.accepting(InstanceRole::Mixed).collect();
        if candidates.is_empty() {
            return no_instance(InstanceRole::Mixed);
        }
        let matched: Vec<u64> = candidates
            .iter()
            .map(|l| view.cached_prefix_tokens(l.id, req))
            .collect();
        let instance = if matched.iter().all(|&m| m == 0) {
            self.lowest_qps(view.now_s, &candidates)
        } else {
            let mean = candidates
                .iter()
                .map(|l| f64::from(l.outstanding))
                .sum::<f64>()
                / candidates.len() as f64;
            let mut best = (f64::NEG_INFINITY, candidates[0].id);
            for (l, &m) in candidates.iter().zip(&matched) {
                let s = self.score(m, req.input_tokens, l.outstanding, mean);
                if s > best.0 {
                    best = (s, l.id);
                }
            }
            best.1
        };
        self.record(instance, view.now_s);
        RouteDecision::Mixed { instance }
    }

    fn subscribes_kv_events(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::baseline::dynamo_kv::tests::FixedCache;
    use crate::policy::test_support::{loads, request};

    fn req(id: u64, input: u32) -> Request {
        Request {
            input_tokens: input,
            ..request(id)
        }
    }

    fn pick(
        r: &mut ProductionStackLoadAware,
        l: &[InstanceLoad],
        cached: Vec<u64>,
        t: f64,
    ) -> usize {
        let cache = FixedCache(cached);
        let view = ClusterView::new(t, l).with_prefix(&cache);
        match r.route(&req(0, 1000), &view) {
            RouteDecision::Mixed { instance } => instance,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_full_hit_outweighs_load_up_to_one_mean_above_average() {
        use InstanceRole::*;
        let mut l = loads(&[Mixed, Mixed]);
        // Loads 6 and 2: mean 4, relative +0.5 and −0.5. Worker 0 holds the whole prompt:
        // 1 − 0.5 = 0.5 against 0 + 0.5 = 0.5 — a tie, the lower id wins.
        l[0].outstanding = 6;
        l[1].outstanding = 2;
        let mut r = ProductionStackLoadAware::default();
        assert_eq!(pick(&mut r, &l, vec![1000, 0], 0.0), 0);
        // Loads 7 and 1: 1 − 0.75 = 0.25 < 0.75: the idle worker wins despite the cache.
        l[0].outstanding = 7;
        l[1].outstanding = 1;
        assert_eq!(pick(&mut r, &l, vec![1000, 0], 0.0), 1);
        // A half hit at equal load: worker 0.
        l[0].outstanding = 3;
        l[1].outstanding = 3;
        assert_eq!(pick(&mut r, &l, vec![500, 0], 0.0), 0);
    }

    #[test]
    fn relative_load_is_clamped_on_a_near_idle_fleet() {
        let r = ProductionStackLoadAware::default();
        // Mean 1/3 in-flight: one request is +2/3 of a unit (denominator clamped to 1), not
        // +200 % — so a full hit scores 1 − 2/3, not 1 − 2.
        let s = r.score(1000, 1000, 1, 1.0 / 3.0);
        assert!((s - 1.0 / 3.0).abs() < 1e-12, "{s}");
        // Above a mean of 1 the load is relative: 6 in flight at mean 4 is +50 %.
        assert!((r.score(0, 1000, 6, 4.0) + 0.5).abs() < 1e-12);
        // A match longer than the prompt (rounded up to a chunk) is capped at a full hit.
        assert!((r.score(2048, 1000, 4, 4.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn without_any_holder_it_falls_back_to_the_lowest_recent_rate() {
        use InstanceRole::*;
        let l = loads(&[Mixed, Mixed, Mixed]);
        let mut r = ProductionStackLoadAware::default();
        // Nothing cached anywhere: 0, 1, 2, then 0 again (all at one request in the window).
        let picks: Vec<usize> = (0..4)
            .map(|i| pick(&mut r, &l, vec![0, 0, 0], f64::from(i)))
            .collect();
        assert_eq!(picks, vec![0, 1, 2, 0]);
        // 61 s later the requests at t = 0 and 1 have left the 60 s window: 0 has one left (t=3),
        // 1 has none, 2 has one (t=2) → worker 1.
        assert_eq!(pick(&mut r, &l, vec![0, 0, 0], 61.5), 1);
    }
}
