//! The simulated cluster of `skua simulate run`: profile, instances and roles, router and engine
//! knobs, with the benchmark protocol's defaults per trace.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use serde::Serialize;
use skua_serving::policy::{
    InstanceRole, PdPair, PolicyContext, RoleController, Router, StaticRoles, catalog,
};
use skua_serving::profile::{LatencyModel, ProfileSource, ProfileSpec, SloSpec, SplitwiseData};
use skua_serving::sim::{EngineConfig, SimConfig};

use super::input::Kind;
use crate::cli::SimRunArgs;

/// The protocol's default profile for long-prompt (Mooncake) traces.
const LONG_PROMPT_PROFILE: &str = "llama2-70b:tp4@a100";

/// Everything the simulator needs besides the workload, and what it was built from.
pub struct Cluster {
    /// The simulator configuration.
    pub config: SimConfig,
    /// The router.
    pub router: Box<dyn Router>,
    /// The role controller (static roles unless the policy flips them).
    pub controller: Box<dyn RoleController>,
    /// The engine profile every instance runs (SLOs are derived from it).
    pub model: Arc<dyn LatencyModel>,
    /// The description printed and written to JSON.
    pub info: ClusterInfo,
}

/// The cluster as reported.
#[derive(Debug, Serialize)]
pub struct ClusterInfo {
    /// Canonical profile spec, e.g. `opt-13b:tp1@a100`.
    pub profile: String,
    /// The latency model's name.
    pub model: String,
    /// Instances in all.
    pub instances: usize,
    /// Prefill instances (P/D only).
    pub prefill: Option<usize>,
    /// Decode instances (P/D only).
    pub decode: Option<usize>,
    /// The router's name.
    pub router: String,
    /// The role controller's name.
    pub controller: String,
    /// Chunked prefill on.
    pub chunked_prefill: bool,
    /// Prefix cache on.
    pub prefix_cache: bool,
    /// Token budget of one iteration in effect.
    pub token_budget: u32,
    /// Age of scraped metrics, ms.
    pub staleness_ms: f64,
    /// Time limit after the last arrival, seconds (`null`: run to completion).
    pub time_limit_s: Option<f64>,
    /// KV capacity of one instance, tokens.
    pub kv_capacity_tokens: u64,
    /// KV bytes per token.
    pub kv_bytes_per_token: u64,
    /// Longest prompt the profile was measured at, when it extrapolates beyond it (Splitwise).
    pub max_measured_prompt: Option<u32>,
}

/// Builds profile `spec` from the serving data folder, with the longest prompt its source
/// measured when it extrapolates beyond it (SplitwiseSim fits).
pub(crate) fn build_profile(
    spec: &ProfileSpec,
    data: &Path,
) -> Result<(Arc<dyn LatencyModel>, Option<u32>)> {
    let model: Arc<dyn LatencyModel> = Arc::from(spec.build(data).with_context(|| {
        format!(
            "cannot build the profile {spec} from {}",
            data.join(spec.source.relative_path()).display()
        )
    })?);
    let max_measured_prompt = match spec.source {
        ProfileSource::Splitwise => {
            let fit = SplitwiseData::load(data.join(spec.source.relative_path()))
                .and_then(|d| d.fit(spec.model, spec.gpu, spec.tp))
                .with_context(|| format!("cannot fit the profile {spec}"))?;
            Some(fit.max_measured_prompt())
        }
        ProfileSource::DistServe | ProfileSource::Vllm => None,
    };
    Ok((model, max_measured_prompt))
}

/// Builds the cluster of `a` for a workload of `kind` whose longest prompt is `longest_prompt`.
pub fn build(
    a: &SimRunArgs,
    kind: Kind,
    data: &Path,
    longest_prompt: u32,
    block_tokens: u32,
) -> Result<Cluster> {
    let long_prompts = kind == Kind::Mooncake;
    let spec_text = a.profile.clone().unwrap_or_else(|| {
        if long_prompts {
            LONG_PROMPT_PROFILE.to_string()
        } else {
            ProfileSpec::default().to_string()
        }
    });
    let spec: ProfileSpec = spec_text
        .parse()
        .context("invalid --profile (list them with `skua simulate profiles`)")?;
    let (model, max_measured_prompt) = build_profile(&spec, data)?;
    type Policy = (
        Vec<InstanceRole>,
        Box<dyn Router>,
        Box<dyn RoleController>,
        f64,
    );
    let (roles, router, controller, policy_staleness_s): Policy = match a.pd {
        Some((p, d)) => {
            let mut roles = vec![InstanceRole::Prefill; p];
            roles.extend(std::iter::repeat_n(InstanceRole::Decode, d));
            (roles, Box::new(PdPair::new()), Box::new(StaticRoles), 0.05)
        }
        None => {
            let n = a
                .instances
                .map_or(if long_prompts { 16 } else { 8 }, |n| n as usize);
            let name = a.router.as_deref().unwrap_or("least_outstanding");
            let ctx = PolicyContext {
                models: vec![Arc::clone(&model); n],
                slo: SloSpec::default(),
                block_tokens,
                seed: 0,
            };
            let setup = catalog::build(name, &ctx).context("invalid --router")?;
            (
                setup.roles,
                setup.router,
                setup.controller,
                setup.staleness_s,
            )
        }
    };
    let mut config = SimConfig::homogeneous(roles.len(), InstanceRole::Mixed, Arc::clone(&model));
    for (inst, role) in config.instances.iter_mut().zip(&roles) {
        inst.role = *role;
    }
    config.engine = EngineConfig {
        chunked_prefill: !a.no_chunked_prefill,
        prefix_cache: !a.no_prefix_cache,
        max_batched_tokens: a.token_budget,
        ..EngineConfig::default()
    };
    let staleness_ms = a.staleness_ms.unwrap_or(policy_staleness_s * 1e3);
    config.staleness_s = staleness_ms / 1e3;
    config.time_limit_after_last_arrival_s = a.time_limit;
    // The controller is asked every second only when the policy flips roles.
    config.controller_interval_s = (controller.name() != StaticRoles.name()).then_some(1.0);
    config
        .validate()
        .context("the cluster configuration is not valid")?;
    let count = |r| roles.iter().filter(|&&x| x == r).count();
    let split = (count(InstanceRole::Mixed) == 0)
        .then(|| (count(InstanceRole::Prefill), count(InstanceRole::Decode)));
    let info = ClusterInfo {
        profile: spec.to_string(),
        model: model.name().to_string(),
        instances: roles.len(),
        prefill: split.map(|(p, _)| p),
        decode: split.map(|(_, d)| d),
        router: router.name().to_string(),
        controller: controller.name().to_string(),
        chunked_prefill: config.engine.chunked_prefill,
        prefix_cache: config.engine.prefix_cache,
        token_budget: config.engine.token_budget(longest_prompt),
        staleness_ms,
        time_limit_s: a.time_limit,
        kv_capacity_tokens: model.kv_capacity_tokens(),
        kv_bytes_per_token: model.kv_bytes_per_token(),
        max_measured_prompt,
    };
    Ok(Cluster {
        config,
        router,
        controller,
        model,
        info,
    })
}
