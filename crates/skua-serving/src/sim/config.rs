//! Simulator configuration: the cluster, the engine knobs and the signal model.

use std::sync::Arc;

use crate::policy::InstanceRole;
use crate::profile::LatencyModel;

use super::SimError;

/// One engine instance of the simulated cluster.
#[derive(Debug, Clone)]
pub struct InstanceSpec {
    /// Initial role.
    pub role: InstanceRole,
    /// Iteration latency and KV capacity (instances may differ: heterogeneous clusters).
    pub model: Arc<dyn LatencyModel>,
}

/// Scheduler knobs of every engine (vLLM's names).
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// Most sequences in one iteration's batch (vLLM `max_num_seqs`, default 256).
    pub max_num_seqs: u32,
    /// Token budget of one iteration (vLLM `max_num_batched_tokens`). `None`: 2,048 with chunked
    /// prefill, max(2,560, longest prompt of the workload) without (vLLM's defaults).
    pub max_batched_tokens: Option<u32>,
    /// Chunked prefill (default on). Off = vLLM 0.2: a waiting prompt runs whole in a prefill-only
    /// iteration, prefills are prioritised over decodes.
    pub chunked_prefill: bool,
    /// Paged-KV block size in tokens (default 16).
    pub block_size: u32,
    /// Automatic prefix caching over `Request::prefix_blocks` (default on).
    pub prefix_cache: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            max_num_seqs: 256,
            max_batched_tokens: None,
            chunked_prefill: true,
            block_size: 16,
            prefix_cache: true,
        }
    }
}

impl EngineConfig {
    /// The token budget in effect for a workload whose longest prompt is `longest_prompt`.
    pub fn token_budget(&self, longest_prompt: u32) -> u32 {
        match (self.max_batched_tokens, self.chunked_prefill) {
            (Some(b), _) => b,
            (None, true) => 2048,
            (None, false) => longest_prompt.max(2560),
        }
    }
}

/// Default P→D KV link bandwidth: 25 GB/s, roughly a PCIe 4.0 x16 or 200 Gb/s RDMA path — a
/// cluster without NVLink between prefill and decode GPUs (DistServe's "low node-affinity" case).
pub const DEFAULT_KV_LINK_BYTES_PER_S: f64 = 25e9;

/// Everything the simulator needs besides the workload and the policies.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The instances, indexed by id.
    pub instances: Vec<InstanceSpec>,
    /// Scheduler knobs shared by all instances.
    pub engine: EngineConfig,
    /// KV transfer bandwidth into each decode instance, bytes/s. Transfers into one instance are
    /// serialised FIFO (one inbound link per instance; sources share it).
    pub kv_link_bytes_per_s: f64,
    /// Age of scraped engine metrics: the view's scraped fields are refreshed every `staleness_s`
    /// seconds (the scrape interval); 0 = exact at every decision. Router-local fields are always
    /// exact. Default 0.05 s (llm-d's scrape interval in the benchmark protocol).
    pub staleness_s: f64,
    /// How often the role controller is asked, seconds (default 1 s). `None`: never.
    pub controller_interval_s: Option<f64>,
    /// Interval of the per-instance queue/KV time series, seconds (default 1 s).
    pub sample_interval_s: f64,
    /// Stop this long after the last arrival; requests still in flight are unfinished.
    /// `None` (default): run until every request is finished or rejected.
    pub time_limit_after_last_arrival_s: Option<f64>,
}

impl SimConfig {
    /// A cluster of the given instances with default knobs.
    pub fn new(instances: Vec<InstanceSpec>) -> Self {
        Self {
            instances,
            engine: EngineConfig::default(),
            kv_link_bytes_per_s: DEFAULT_KV_LINK_BYTES_PER_S,
            staleness_s: 0.05,
            controller_interval_s: Some(1.0),
            sample_interval_s: 1.0,
            time_limit_after_last_arrival_s: None,
        }
    }

    /// `n` identical instances of one role.
    pub fn homogeneous(n: usize, role: InstanceRole, model: Arc<dyn LatencyModel>) -> Self {
        Self::new(
            (0..n)
                .map(|_| InstanceSpec {
                    role,
                    model: Arc::clone(&model),
                })
                .collect(),
        )
    }

    /// Checks every knob; the first bad one is reported.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |field: &'static str, why: String| Err(SimError::Config { field, why });
        if self.instances.is_empty() {
            return bad("instances", "the cluster has no instances".into());
        }
        let e = &self.engine;
        if e.max_num_seqs == 0 {
            return bad("engine.max_num_seqs", "must be at least 1".into());
        }
        if e.max_batched_tokens == Some(0) {
            return bad("engine.max_batched_tokens", "must be at least 1".into());
        }
        if e.block_size == 0 {
            return bad("engine.block_size", "must be at least 1 token".into());
        }
        if !(self.kv_link_bytes_per_s.is_finite() && self.kv_link_bytes_per_s > 0.0) {
            return bad(
                "kv_link_bytes_per_s",
                format!(
                    "must be positive and finite, got {}",
                    self.kv_link_bytes_per_s
                ),
            );
        }
        if !(self.staleness_s.is_finite() && self.staleness_s >= 0.0) {
            return bad(
                "staleness_s",
                format!("must be ≥ 0 and finite, got {}", self.staleness_s),
            );
        }
        if !(self.sample_interval_s.is_finite() && self.sample_interval_s > 0.0) {
            return bad(
                "sample_interval_s",
                format!("must be positive, got {}", self.sample_interval_s),
            );
        }
        if let Some(c) = self
            .controller_interval_s
            .filter(|c| !(c.is_finite() && *c > 0.0))
        {
            return bad(
                "controller_interval_s",
                format!("must be positive, got {c}"),
            );
        }
        if let Some(t) = self
            .time_limit_after_last_arrival_s
            .filter(|t| t.is_nan() || *t < 0.0)
        {
            return bad(
                "time_limit_after_last_arrival_s",
                format!("must be ≥ 0, got {t}"),
            );
        }
        for (i, s) in self.instances.iter().enumerate() {
            if s.model.kv_capacity_tokens() < u64::from(e.block_size) {
                return bad(
                    "instances",
                    format!(
                        "instance {i} ({}) has {} KV tokens, less than one {}-token block",
                        s.model.name(),
                        s.model.kv_capacity_tokens(),
                        e.block_size
                    ),
                );
            }
        }
        Ok(())
    }
}
