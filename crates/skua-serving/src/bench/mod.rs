//! The serving benchmark harness: every catalog policy on the same workloads and clusters, judged
//! by the benchmark protocol (`../shared/docs/serving-benchmark-protocol.md`).
//!
//! - [`ClusterPlan`]: the cluster a workload runs on (instances, engine knobs, KV link, SLO rule);
//!   it turns a catalog [`PolicySetup`](crate::policy::PolicySetup) into a
//!   [`SimConfig`](crate::sim::SimConfig).
//! - [`evaluate`]: one policy at one arrival speed-up → [`PolicyRun`] (attainment, latencies,
//!   rejections, makespan, utilisation, role flips, prefix hits).
//! - [`goodput`] / [`GoodputSearch`]: the highest speed-up with attainment ≥ 90 %, bracketed
//!   geometrically then bisected to 2 %.
//! - [`run_matrix`]: traces × policies on a few threads, deterministic whatever the thread count;
//!   [`TraceResult::comparison`] sets skua's best policy against the best non-oracle baseline.
//! - [`flowkv_imbalance`] / [`flowkv_overload`]: FlowKV's scenarios with rates taken from the
//!   cluster's estimated capacity ([`ClusterPlan::capacity_rps`]).
//!
//! Policies are built through [`crate::policy::catalog`] only, fresh for every simulation
//! (policies keep state), so whatever the catalog registers is benchmarked the way it runs
//! everywhere else. Nothing here prints or reads files; progress goes to a callback.

mod compare;
mod evaluate;
mod goodput;
mod matrix;
mod plan;
mod scenario;

pub use compare::{AttainmentGap, Comparison};
pub use evaluate::{PolicyRun, evaluate};
pub use goodput::{Goodput, GoodputBound, GoodputSearch, Probe, goodput};
pub use matrix::{
    BenchTrace, Matrix, MatrixConfig, PolicyResult, Progress, TraceResult, run_matrix,
};
pub use plan::ClusterPlan;
pub use scenario::{flowkv_imbalance, flowkv_overload};

use crate::policy::PolicyError;
use crate::sim::{ConservationError, SimError};
use crate::workload::WorkloadError;

/// Name prefix of skua's own policies (the ones compared against the baselines).
pub const SKUA_PREFIX: &str = "skua";

/// The protocol's attainment bar for goodput.
pub const GOODPUT_TARGET: f64 = 0.90;

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The catalog refused the policy (unknown name, or it cannot run on this cluster).
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The workload could not be transformed (e.g. a bad speed-up factor).
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    /// The simulator refused the run or a policy made an invalid decision.
    #[error("policy `{policy}` at ×{scale}: {source}")]
    Sim {
        /// The policy.
        policy: String,
        /// The arrival speed-up.
        scale: f64,
        /// What went wrong.
        #[source]
        source: SimError,
    },
    /// A simulation broke conservation (a simulator bug; its figures cannot be trusted).
    #[error("policy `{policy}` at ×{scale}: {source}")]
    Conservation {
        /// The policy.
        policy: String,
        /// The arrival speed-up.
        scale: f64,
        /// The violations.
        #[source]
        source: ConservationError,
    },
    /// A benchmark setting is out of range.
    #[error("invalid benchmark setting `{what}`: {why}")]
    Invalid {
        /// The setting.
        what: &'static str,
        /// What is wrong and what is allowed.
        why: String,
    },
}

/// Whether `policy` is one of skua's own (its name starts with [`SKUA_PREFIX`]).
pub fn is_skua(policy: &str) -> bool {
    policy.starts_with(SKUA_PREFIX)
}

#[cfg(test)]
pub(crate) mod test_support {
    use std::sync::Arc;

    use crate::profile::{Iteration, LatencyModel};

    /// prefill = 10 + 0.1·tokens ms, decode = 20 + 0.01·context ms, both × the factor;
    /// 10,000 KV tokens.
    #[derive(Debug)]
    struct Toy(f64);

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
                20.0 + 0.01 * it.decode_context as f64
            } else {
                0.0
            };
            self.0 * (prefill + decode)
        }
        fn kv_capacity_tokens(&self) -> u64 {
            10_000
        }
        fn kv_bytes_per_token(&self) -> u64 {
            1
        }
    }

    /// The toy model, `factor` times slower than the base one.
    pub fn toy(factor: f64) -> Arc<dyn LatencyModel> {
        Arc::new(Toy(factor))
    }
}
