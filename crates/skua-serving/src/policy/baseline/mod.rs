//! The baseline policies of the benchmark, reproduced from their public documentation and
//! source descriptions (each file cites its source and the defaults it uses).
//!
//! | name | rule | signals (staleness) |
//! |---|---|---|
//! | `random` | uniform over mixed instances | none |
//! | `round_robin` | next mixed instance in turn | none |
//! | `least_outstanding` | fewest router-local in-flight requests | router-local |
//! | `power_of_two` | less loaded of two random instances | router-local |
//! | `shortest_queue` | fewest waiting (then running) requests | scraped, 0.05 s |
//! | `least_kv` | lowest KV usage | scraped, 0.05 s |
//! | `sglang_cache_aware` | SGLang `cache_aware`, launcher defaults | router-local + approximate prefix tree |
//! | `dynamo_kv` | Dynamo KV router, linear cost | router-local + exact KV events |
//! | `dynamo_kv_lmetric` | Dynamo KV router, `lmetric` cost | router-local + exact KV events |
//! | `production_stack_loadaware` | cache hit − β·relative load, β = 1 | router-local + exact KV; engine stats 30 s |
//! | `pd_static_<p>to<d>` | fixed P:D split, [`PdPair`] routing | scraped prefill backlog, 0.05 s |
//! | `dynamo_conditional` | ¼ prefill pool, remote prefill above 1,000 new tokens | router-local + KV events + scraped queue, 0.05 s |
//!
//! Router-local bookkeeping and KV events are exact whatever the staleness; `staleness_s` only
//! ages the scraped fields. Policies that read no scraped field run at the protocol's default
//! 0.05 s, which then has no effect on their decisions.

mod approx_tree;
mod block_keys;
mod choose;
mod dynamo_conditional;
mod dynamo_kv;
mod dynamo_load;
mod least_kv;
pub mod pd_static;
mod power_of_two;
mod production_stack;
mod random;
mod sglang_cache_aware;
mod shortest_queue;

#[cfg(test)]
mod sim_tests;

pub use dynamo_conditional::{
    DynamoConditional, MAX_LOCAL_PREFILL_LENGTH, MAX_PREFILL_QUEUE_SIZE, PREFILL_SHARE,
};
pub use dynamo_kv::{DynamoCost, DynamoKv};
pub use least_kv::LeastKv;
pub use power_of_two::PowerOfTwo;
pub use production_stack::{LOADAWARE_BETA, ProductionStackLoadAware, REQUEST_STATS_WINDOW_S};
pub use random::RandomRouter;
pub use sglang_cache_aware::{CacheAwareConfig, SglangCacheAware};
pub use shortest_queue::ShortestQueue;

use super::catalog::{PolicyContext, PolicyError, PolicySetup};
use super::{InstanceRole, LeastOutstanding, PdPair, RoundRobin, Router};

/// Baseline names, in report order.
pub const NAMES: &[&str] = &[
    "random",
    "round_robin",
    "least_outstanding",
    "power_of_two",
    "shortest_queue",
    "least_kv",
    "sglang_cache_aware",
    "dynamo_kv",
    "dynamo_kv_lmetric",
    "production_stack_loadaware",
    "pd_static_3to1",
    "pd_static_1to1",
    "pd_static_1to2",
    "pd_static_1to3",
    "pd_static_1to7",
    "dynamo_conditional",
];

/// Scrape age of the llm-d-style policies and the protocol's default, seconds.
pub const SCRAPE_STALENESS_S: f64 = 0.05;

/// production-stack's engine-stats scrape interval (`--engine-stats-interval`), seconds.
pub const PRODUCTION_STACK_STALENESS_S: f64 = 30.0;

/// Builds baseline `name`, or `Ok(None)` when `name` is not a baseline.
pub fn build(name: &str, ctx: &PolicyContext) -> Result<Option<PolicySetup>, PolicyError> {
    let n = ctx.instances();
    let mixed = || vec![InstanceRole::Mixed; n];
    let (seed, bt) = (ctx.seed, ctx.block_tokens);
    let fixed = |router: Box<dyn Router>, description: &str, staleness_s: f64| {
        Ok(Some(PolicySetup::fixed(
            name,
            description,
            router,
            mixed(),
            staleness_s,
        )))
    };
    match name {
        "random" => fixed(
            Box::new(RandomRouter::new(seed)),
            "uniform random instance (seeded)",
            SCRAPE_STALENESS_S,
        ),
        "round_robin" => fixed(
            Box::new(RoundRobin::new()),
            "next instance in turn",
            SCRAPE_STALENESS_S,
        ),
        "least_outstanding" => fixed(
            Box::new(LeastOutstanding::new()),
            "fewest router-local in-flight requests",
            SCRAPE_STALENESS_S,
        ),
        "power_of_two" => fixed(
            Box::new(PowerOfTwo::new(seed)),
            "less loaded (router-local) of two random instances (SGLang power_of_two)",
            SCRAPE_STALENESS_S,
        ),
        "shortest_queue" => fixed(
            Box::new(ShortestQueue::new(seed)),
            "fewest waiting then running requests, scraped every 50 ms (llm-d queue scorer)",
            SCRAPE_STALENESS_S,
        ),
        "least_kv" => fixed(
            Box::new(LeastKv::new(seed)),
            "lowest KV usage, scraped every 50 ms (llm-d kv-cache-utilization scorer)",
            SCRAPE_STALENESS_S,
        ),
        "sglang_cache_aware" => fixed(
            Box::new(SglangCacheAware::new(CacheAwareConfig::default(), bt)),
            "SGLang cache_aware: threshold 0.3, balance 64 / 1.5, approximate tree, 120 s eviction",
            SCRAPE_STALENESS_S,
        ),
        "dynamo_kv" => fixed(
            Box::new(DynamoKv::linear(bt, seed)),
            "Dynamo KV router: prefill blocks − overlap + active decode blocks (KV events)",
            SCRAPE_STALENESS_S,
        ),
        "dynamo_kv_lmetric" => fixed(
            Box::new(DynamoKv::lmetric(bt, seed)),
            "Dynamo KV router, lmetric: (prefill blocks − overlap) × (decode blocks + 1)",
            SCRAPE_STALENESS_S,
        ),
        "production_stack_loadaware" => fixed(
            Box::new(ProductionStackLoadAware::new(
                LOADAWARE_BETA,
                REQUEST_STATS_WINDOW_S,
            )),
            "production-stack loadaware: cache hit − 1.0 × relative in-flight load",
            PRODUCTION_STACK_STALENESS_S,
        ),
        "dynamo_conditional" => {
            let roles = conditional_roles(name, n)?;
            Ok(Some(PolicySetup::fixed(
                name,
                "Dynamo conditional disaggregation: 1/4 prefill pool, remote above 1,000 new tokens unless 2 queued",
                Box::new(DynamoConditional::new(bt, seed)),
                roles,
                SCRAPE_STALENESS_S,
            )))
        }
        _ => match pd_static::parse(name) {
            Some((p, d)) => {
                let roles = pd_static::roles(name, p, d, n)?;
                Ok(Some(PolicySetup::fixed(
                    name,
                    &format!(
                        "static {p}:{d} prefill:decode split, least-backlog prefill / least-outstanding decode"
                    ),
                    Box::new(PdPair::new()),
                    roles,
                    SCRAPE_STALENESS_S,
                )))
            }
            None => Ok(None),
        },
    }
}

/// `round(n × PREFILL_SHARE)` prefill instances (at least one, at most `n − 1`), the rest mixed.
fn conditional_roles(name: &str, n: usize) -> Result<Vec<InstanceRole>, PolicyError> {
    if n < 2 {
        return Err(PolicyError::Cluster {
            name: name.to_string(),
            instances: n,
            why: "conditional disaggregation needs a prefill and a decode instance".into(),
        });
    }
    let prefill = ((n as f64 * PREFILL_SHARE).round() as usize).clamp(1, n - 1);
    Ok((0..n)
        .map(|i| {
            if i < prefill {
                InstanceRole::Prefill
            } else {
                InstanceRole::Mixed
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::profile::{Iteration, LatencyModel, SloSpec};

    #[derive(Debug)]
    struct Flat;

    impl LatencyModel for Flat {
        fn name(&self) -> &str {
            "flat"
        }
        fn iteration_ms(&self, _it: &Iteration) -> f64 {
            1.0
        }
        fn kv_capacity_tokens(&self) -> u64 {
            1000
        }
        fn kv_bytes_per_token(&self) -> u64 {
            1
        }
    }

    fn ctx(n: usize) -> PolicyContext {
        let model: Arc<dyn LatencyModel> = Arc::new(Flat);
        PolicyContext {
            models: vec![model; n],
            slo: SloSpec::default(),
            block_tokens: 16,
            seed: 1,
        }
    }

    #[test]
    fn every_name_builds_with_its_roles_and_staleness() {
        for &name in NAMES {
            let s = build(name, &ctx(8)).expect("builds").expect("a baseline");
            assert_eq!(s.name, name);
            assert_eq!(s.roles.len(), 8, "{name}");
            assert!(!s.oracle && !s.description.is_empty(), "{name}");
            let count = |r| s.roles.iter().filter(|&&x| x == r).count();
            let expected_staleness = if name == "production_stack_loadaware" {
                PRODUCTION_STACK_STALENESS_S
            } else {
                SCRAPE_STALENESS_S
            };
            assert_eq!(s.staleness_s, expected_staleness, "{name}");
            if name.starts_with(pd_static::PREFIX) {
                assert_eq!(count(InstanceRole::Mixed), 0, "{name}");
                assert!(count(InstanceRole::Prefill) >= 1 && count(InstanceRole::Decode) >= 1);
            } else if name == "dynamo_conditional" {
                assert_eq!(count(InstanceRole::Prefill), 2, "a quarter of 8");
                assert_eq!(count(InstanceRole::Mixed), 6);
            } else {
                assert_eq!(count(InstanceRole::Mixed), 8, "{name}");
            }
        }
    }

    #[test]
    fn routers_report_their_policy_names_and_kv_subscriptions() {
        for &name in NAMES.iter().filter(|n| !n.starts_with(pd_static::PREFIX)) {
            let s = build(name, &ctx(4)).expect("builds").expect("a baseline");
            assert_eq!(s.router.name(), name);
            let exact_prefix = matches!(
                name,
                "dynamo_kv"
                    | "dynamo_kv_lmetric"
                    | "production_stack_loadaware"
                    | "dynamo_conditional"
            );
            assert_eq!(s.router.subscribes_kv_events(), exact_prefix, "{name}");
            assert!(!s.router.knows_output_lengths(), "{name}");
        }
    }

    #[test]
    fn listed_static_ratios_are_the_exposed_names() {
        let listed: Vec<String> = NAMES
            .iter()
            .filter_map(|n| pd_static::parse(n).map(|(p, d)| format!("{p}to{d}")))
            .collect();
        let ratios: Vec<String> = pd_static::RATIOS
            .iter()
            .map(|(p, d)| format!("{p}to{d}"))
            .collect();
        assert_eq!(listed, ratios);
    }

    #[test]
    fn unknown_names_and_too_small_clusters() {
        assert!(build("oracle", &ctx(4)).expect("not an error").is_none());
        assert!(
            build("pd_static_0to1", &ctx(4))
                .expect("not an error")
                .is_none()
        );
        // Any well-formed ratio builds, listed or not.
        let s = build("pd_static_2to5", &ctx(7))
            .expect("builds")
            .expect("a baseline");
        assert_eq!(
            s.roles
                .iter()
                .filter(|&&r| r == InstanceRole::Prefill)
                .count(),
            2
        );
        for name in ["pd_static_1to1", "dynamo_conditional"] {
            let e = build(name, &ctx(1)).expect_err("one instance");
            assert!(
                matches!(e, PolicyError::Cluster { instances: 1, .. }),
                "{e}"
            );
        }
        // Mixed-only baselines run on a single instance.
        assert!(build("dynamo_kv", &ctx(1)).expect("builds").is_some());
    }
}
