//! The cluster a benchmark workload runs on, and what follows from it: the simulator config for a
//! policy, each request's SLO, and an estimate of the cluster's capacity.

use std::sync::Arc;

use crate::policy::catalog::{self, PolicyContext, PolicySetup};
use crate::profile::{Iteration, LatencyModel, SloSpec};
use crate::sim::{
    DEFAULT_KV_LINK_BYTES_PER_S, EngineConfig, InstanceSpec, RequestOutcome, SimConfig, Slo,
};
use crate::workload::Workload;

use super::BenchError;

/// The cluster of one benchmark: what every policy is given to work with.
#[derive(Debug, Clone)]
pub struct ClusterPlan {
    /// The latency model of each instance, indexed by instance id (its length is the cluster size).
    pub models: Vec<Arc<dyn LatencyModel>>,
    /// Scheduler knobs shared by all instances.
    pub engine: EngineConfig,
    /// KV transfer bandwidth into each decode instance, bytes/s.
    pub kv_link_bytes_per_s: f64,
    /// The SLO rule requests are judged by.
    pub slo: SloSpec,
    /// Seed handed to randomised policies.
    pub seed: u64,
}

impl ClusterPlan {
    /// `n` instances of `model` with the default engine, KV link and SLO rule, seed 0.
    pub fn homogeneous(n: usize, model: Arc<dyn LatencyModel>) -> Self {
        Self {
            models: vec![model; n],
            engine: EngineConfig::default(),
            kv_link_bytes_per_s: DEFAULT_KV_LINK_BYTES_PER_S,
            slo: SloSpec::default(),
            seed: 0,
        }
    }

    /// Number of instances.
    pub fn instances(&self) -> usize {
        self.models.len()
    }

    /// What a policy may know when it is set up on this cluster for `workload`.
    pub fn context(&self, workload: &Workload) -> PolicyContext {
        let has_prefix = workload
            .requests
            .iter()
            .any(|r| !r.prefix_blocks.is_empty());
        PolicyContext {
            models: self.models.clone(),
            slo: self.slo,
            block_tokens: if has_prefix { workload.block_tokens } else { 0 },
            seed: self.seed,
        }
    }

    /// A fresh policy `name` from the catalog, set up for `workload` on this cluster.
    pub fn build_policy(&self, name: &str, workload: &Workload) -> Result<PolicySetup, BenchError> {
        Ok(catalog::build(name, &self.context(workload))?)
    }

    /// The simulator config for `setup`: its initial roles and staleness on this cluster.
    pub fn sim_config(&self, setup: &PolicySetup) -> Result<SimConfig, BenchError> {
        if setup.roles.len() != self.models.len() {
            return Err(BenchError::Invalid {
                what: "roles",
                why: format!(
                    "policy `{}` set up {} instance roles for a cluster of {}",
                    setup.name,
                    setup.roles.len(),
                    self.models.len()
                ),
            });
        }
        let instances = self
            .models
            .iter()
            .zip(&setup.roles)
            .map(|(model, &role)| InstanceSpec {
                role,
                model: Arc::clone(model),
            })
            .collect();
        let mut config = SimConfig::new(instances);
        config.engine = self.engine.clone();
        config.kv_link_bytes_per_s = self.kv_link_bytes_per_s;
        config.staleness_s = setup.staleness_s;
        Ok(config)
    }

    /// The protocol's SLO of a simulated request: TTFT from the model of the instance that ran its
    /// prefill, TPOT from the one that ran its decode (the same instance unless disaggregated).
    /// A request that never reached an instance is judged by instance 0's model (it misses anyway).
    pub fn slo_of(&self, r: &RequestOutcome) -> Slo {
        let prefill = self.model(r.instance);
        let decode = self.model(r.decode_instance.or(r.instance));
        let context = u64::from(r.input_tokens) + u64::from(r.output_tokens) / 2;
        Slo {
            ttft_s: self.slo.ttft_ms(prefill, r.input_tokens) / 1e3,
            tpot_s: self.slo.tpot_ms(decode, context) / 1e3,
        }
    }

    fn model(&self, instance: Option<usize>) -> &dyn LatencyModel {
        let i = instance.filter(|&i| i < self.models.len()).unwrap_or(0);
        self.models[i].as_ref()
    }

    /// The latest a request of `workload` could finish and still meet its SLO, seconds after the
    /// last arrival (plus a second of margin): any request open by then misses on every model of
    /// the cluster, so a simulation may stop there without changing attainment.
    pub(crate) fn attainment_horizon_s(&self, workload: &Workload) -> f64 {
        let mut distinct: Vec<&Arc<dyn LatencyModel>> = Vec::new();
        for m in &self.models {
            if !distinct.iter().any(|d| Arc::ptr_eq(d, m)) {
                distinct.push(m);
            }
        }
        let last = workload.requests.last().map_or(0.0, |r| r.arrival_s);
        let latest = workload
            .requests
            .iter()
            .map(|r| {
                let context = u64::from(r.input_tokens) + u64::from(r.output_tokens) / 2;
                let (ttft_ms, tpot_ms) = distinct.iter().fold((0.0f64, 0.0f64), |(t, p), m| {
                    (
                        t.max(self.slo.ttft_ms(m.as_ref(), r.input_tokens)),
                        p.max(self.slo.tpot_ms(m.as_ref(), context)),
                    )
                });
                r.arrival_s
                    + (ttft_ms + f64::from(r.output_tokens.saturating_sub(1)) * tpot_ms) / 1e3
            })
            .fold(last, f64::max);
        latest - last + 1.0
    }

    /// Estimated requests per second the whole cluster sustains for requests of `input_tokens`
    /// in and `output_tokens` out, all instances serving both phases.
    ///
    /// Per instance: the prompt's idle prefill time plus `output − 1` decode steps at the batch the
    /// KV cache holds (capacity / (input + output), at most `max_num_seqs`) and the mean context,
    /// each step's time shared by the batch. A rough bound (chunking overheads, queueing and
    /// P/D transfers are ignored), used only to size scenario rates relative to the cluster.
    pub fn capacity_rps(&self, input_tokens: u32, output_tokens: u32) -> f64 {
        self.models
            .iter()
            .map(|m| instance_capacity_rps(m.as_ref(), &self.engine, input_tokens, output_tokens))
            .sum()
    }
}

fn instance_capacity_rps(
    model: &dyn LatencyModel,
    engine: &EngineConfig,
    input_tokens: u32,
    output_tokens: u32,
) -> f64 {
    let prefill_ms = model.idle_ttft_ms(input_tokens.max(1));
    let per_seq = u64::from(input_tokens) + u64::from(output_tokens);
    let batch = (model.kv_capacity_tokens() / per_seq.max(1))
        .clamp(1, u64::from(engine.max_num_seqs.max(1)));
    let context = u64::from(input_tokens) + u64::from(output_tokens) / 2;
    let step_ms = model.iteration_ms(&Iteration {
        prefill: Vec::new(),
        // `batch` ≤ max_num_seqs, a u32.
        decode_batch: batch as u32,
        decode_context: batch * context,
    });
    let decode_ms = f64::from(output_tokens.saturating_sub(1)) * step_ms / batch as f64;
    let total_ms = prefill_ms + decode_ms;
    if total_ms > 0.0 && total_ms.is_finite() {
        1e3 / total_ms
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::toy;
    use super::*;
    use crate::policy::{InstanceRole, RoundRobin};
    use crate::sim::RequestStatus;

    fn outcome(instance: Option<usize>, decode: Option<usize>) -> RequestOutcome {
        RequestOutcome {
            id: 0,
            input_tokens: 1000,
            output_tokens: 200,
            arrival_s: 0.0,
            instance,
            decode_instance: decode,
            first_token_s: None,
            finish_s: None,
            status: RequestStatus::Unfinished,
            generated_tokens: 0,
            preemptions: 0,
            prefix_hit_tokens: 0,
        }
    }

    #[test]
    fn slo_follows_the_prefill_and_decode_instances_models() {
        let plan = ClusterPlan {
            models: vec![toy(1.0), toy(2.0)],
            ..ClusterPlan::homogeneous(0, toy(1.0))
        };
        // Idle prefill of 1,000 tokens: 110 ms × factor → 550 ms (×5), 1,100 ms on the slow one.
        // Decode at context 1,100: 31 ms → 155 ms, 310 ms on the slow one.
        let s = plan.slo_of(&outcome(Some(0), Some(1)));
        assert!(
            (s.ttft_s - 0.55).abs() < 1e-9 && (s.tpot_s - 0.31).abs() < 1e-9,
            "{s:?}"
        );
        let s = plan.slo_of(&outcome(Some(1), None));
        assert!(
            (s.ttft_s - 1.1).abs() < 1e-9 && (s.tpot_s - 0.31).abs() < 1e-9,
            "{s:?}"
        );
        // Never routed: instance 0's model.
        let s = plan.slo_of(&outcome(None, None));
        assert!((s.ttft_s - 0.55).abs() < 1e-9, "{s:?}");
    }

    #[test]
    fn sim_config_takes_roles_and_staleness_from_the_setup() {
        let plan = ClusterPlan::homogeneous(3, toy(1.0));
        let roles = vec![
            InstanceRole::Prefill,
            InstanceRole::Decode,
            InstanceRole::Mixed,
        ];
        let setup = PolicySetup::fixed(
            "t",
            "test",
            Box::new(RoundRobin::new()),
            roles.clone(),
            30.0,
        );
        let c = plan.sim_config(&setup).expect("valid");
        assert_eq!(
            c.instances.iter().map(|i| i.role).collect::<Vec<_>>(),
            roles
        );
        assert_eq!(c.staleness_s, 30.0);
        let short = PolicySetup::fixed(
            "t",
            "test",
            Box::new(RoundRobin::new()),
            roles[..2].to_vec(),
            0.0,
        );
        assert!(matches!(
            plan.sim_config(&short),
            Err(BenchError::Invalid { .. })
        ));
    }

    #[test]
    fn capacity_adds_prefill_and_shared_decode_time() {
        let plan = ClusterPlan::homogeneous(2, toy(1.0));
        // 1,000 in / 11 out: prefill 110 ms; batch = 10,000 / 1,011 = 9; context 1,005;
        // step = 20 + 0.01 × 9 × 1,005 = 110.45 ms; 10 steps shared by 9 → 122.72 ms.
        let per_instance = 1e3 / (110.0 + 10.0 * 110.45 / 9.0);
        assert!((plan.capacity_rps(1000, 11) - 2.0 * per_instance).abs() < 1e-9);
        // Longer outputs cost more.
        assert!(plan.capacity_rps(1000, 500) < plan.capacity_rps(1000, 11));
    }

    #[test]
    fn the_attainment_horizon_covers_the_slowest_possible_attaining_request() {
        let plan = ClusterPlan::homogeneous(1, toy(1.0));
        let mut w = Workload {
            name: "w".into(),
            block_tokens: 1,
            requests: vec![crate::workload::Request {
                id: 0,
                arrival_s: 0.0,
                input_tokens: 1000,
                output_tokens: 201,
                prefix_blocks: Vec::new(),
            }],
        };
        // TTFT 550 ms + 200 tokens × 5 × (20 + 0.01 × 1,100) ms = 0.55 + 31 s, + 1 s margin.
        assert!((plan.attainment_horizon_s(&w) - 32.55).abs() < 1e-9);
        w.requests.push(crate::workload::Request {
            id: 1,
            arrival_s: 100.0,
            input_tokens: 10,
            output_tokens: 1,
            prefix_blocks: Vec::new(),
        });
        // The late tiny request: floor 200 ms after the last arrival.
        assert!((plan.attainment_horizon_s(&w) - 1.2).abs() < 1e-9);
    }
}
