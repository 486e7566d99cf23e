//! skua's own serving policies.
//!
//! - [`SkuaRouter`]: routes each request to the placement with the most predicted headroom
//!   against its own SLO — TTFT from the instance's prefill backlog plus the request's own
//!   prefill (less its cached prefix, known exactly from KV events), TPOT from the decode batch
//!   and context the request would join plus the prefill chunks that share its iterations —
//!   using the engine latency model and an online output-length estimator
//!   ([`OutputLengthEstimator`], refined as requests stream). It decides per request whether to
//!   split prefill and decode across instances, and refuses requests no placement can serve
//!   within its SLO (early rejection with a reason, as Mooncake's conductor does), so that the
//!   admitted ones keep theirs.
//! - [`FlowController`]: flips instances between prefill and decode as the forecast demand
//!   shifts (FlowKV), with hysteresis and draining.
//!
//! Catalog names: `skua` (mixed instances, admission control), `skua_no_admission` (the same
//! router admitting everything — the ablation), `skua_pd` (a P/D cluster starting at 1:1 with the
//! role controller), `oracle` (`skua` told every output length: an upper bound, not a baseline).

mod controller;
mod demand;
mod estimator;
mod router;
mod state;

use std::sync::{Arc, Mutex};

pub use controller::{FlipRecord, FlowConfig, FlowController};
pub use demand::{DemandLog, TickForecaster};
pub use estimator::OutputLengthEstimator;
pub use router::{SkuaConfig, SkuaRouter, SkuaStats};

use super::catalog::{PolicyContext, PolicyError, PolicySetup};
use super::{InstanceRole, StaticRoles};

/// skua's policy names, in report order.
pub const NAMES: &[&str] = &["skua", "skua_no_admission", "skua_pd", "oracle"];

/// Builds skua policy `name`, or `Ok(None)` when `name` is not one of skua's.
pub fn build(name: &str, ctx: &PolicyContext) -> Result<Option<PolicySetup>, PolicyError> {
    let n = ctx.instances();
    let cfg = SkuaConfig {
        slo: ctx.slo,
        ..SkuaConfig::default()
    };
    let mixed = |router: SkuaRouter, description: &str, oracle: bool| PolicySetup {
        name: name.to_string(),
        description: description.to_string(),
        router: Box::new(router),
        controller: Box::new(StaticRoles),
        roles: vec![InstanceRole::Mixed; n],
        staleness_s: 0.05,
        oracle,
    };
    let setup = match name {
        "skua" => mixed(
            SkuaRouter::new(name, ctx.models.clone(), cfg, false),
            "skua: SLO-headroom routing (engine model + online output-length estimate, exact prefix state from KV events), admission control",
            false,
        ),
        "skua_no_admission" => mixed(
            SkuaRouter::new(
                name,
                ctx.models.clone(),
                SkuaConfig {
                    reject_below_headroom: None,
                    ..cfg
                },
                false,
            ),
            "skua without admission control (ablation)",
            false,
        ),
        "oracle" => mixed(
            SkuaRouter::new(name, ctx.models.clone(), cfg, true),
            "oracle: skua's router told every request's output length (upper bound, not a baseline)",
            true,
        ),
        "skua_pd" => {
            if n < 2 {
                return Err(PolicyError::Cluster {
                    name: name.to_string(),
                    instances: n,
                    why: "prefill/decode needs at least two instances".into(),
                });
            }
            let log = Arc::new(Mutex::new(DemandLog::default()));
            let router = SkuaRouter::new(name, ctx.models.clone(), cfg, false)
                .with_demand_log(Arc::clone(&log));
            let controller = FlowController::new(
                FlowConfig {
                    slo: ctx.slo,
                    ..FlowConfig::default()
                },
                log,
                ctx.models.clone(),
            );
            let n_p = n / 2;
            let roles = (0..n)
                .map(|i| {
                    if i < n_p {
                        InstanceRole::Prefill
                    } else {
                        InstanceRole::Decode
                    }
                })
                .collect();
            PolicySetup {
                name: name.to_string(),
                description: "skua P/D: SLO-headroom pair routing, admission control, forecast-driven role flips (start 1:1)".to_string(),
                router: Box::new(router),
                controller: Box::new(controller),
                roles,
                staleness_s: 0.05,
                oracle: false,
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(setup))
}

#[cfg(test)]
pub(super) mod toy {
    use std::sync::Arc;

    use crate::profile::{Iteration, LatencyModel};

    /// prefill = 10 + 0.1 ms per new token; decode = 10 + 0.5 ms per sequence; 100k KV tokens.
    #[derive(Debug)]
    pub struct Toy;

    impl LatencyModel for Toy {
        fn name(&self) -> &str {
            "toy"
        }
        fn iteration_ms(&self, it: &Iteration) -> f64 {
            let p: u32 = it.prefill.iter().map(|c| c.0).sum();
            let prefill = if p > 0 {
                10.0 + 0.1 * f64::from(p)
            } else {
                0.0
            };
            let decode = if it.decode_batch > 0 {
                10.0 + 0.5 * f64::from(it.decode_batch)
            } else {
                0.0
            };
            prefill + decode
        }
        fn kv_capacity_tokens(&self) -> u64 {
            100_000
        }
        fn kv_bytes_per_token(&self) -> u64 {
            1000
        }
    }

    /// `n` toy models.
    pub fn models(n: usize) -> Vec<Arc<dyn LatencyModel>> {
        (0..n)
            .map(|_| Arc::new(Toy) as Arc<dyn LatencyModel>)
            .collect()
    }
}
