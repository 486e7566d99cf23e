//! The workloads and clusters of `skua bench serving`: the shared traces on the protocol's
//! clusters, sliced as asked, and FlowKV's scenarios sized for those clusters.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;
use skua_serving::bench::{BenchTrace, ClusterPlan, flowkv_imbalance, flowkv_overload};
use skua_serving::profile::ProfileSpec;
use skua_serving::workload::{
    LoadReport, Scenario, Workload, WorkloadError, load_azure, load_mooncake,
};

use super::args::{BenchServingArgs, TraceChoice};

/// The shared Azure conversation trace, relative to the serving data folder.
const AZURE_TRACE: &str = "azure_llm_2023/AzureLLMInferenceTrace_conv.csv";
/// The shared Mooncake conversation trace, relative to the serving data folder.
const MOONCAKE_TRACE: &str = "mooncake/conversation_trace.jsonl";
/// Instances for the Azure trace (the protocol's default cluster).
const AZURE_INSTANCES: usize = 8;
/// Profile and instances for the Mooncake trace.
const MOONCAKE_PROFILE: &str = "llama2-70b:tp8@h100";
const MOONCAKE_INSTANCES: usize = 16;
/// Why the Mooncake cluster departs from the protocol's long-prompt default profile.
const MOONCAKE_NOTE: &str = "profile chosen by the lead instead of the protocol's long-prompt \
     default llama2-70b:tp4@a100, which cannot serve the Mooncake trace at ×1 even with perfect \
     routing";
/// Load of the imbalance scenario, as a share of the estimated capacity of each half.
const IMBALANCE_LOAD: f64 = 0.7;

/// A cluster as reported.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterInfo {
    /// Canonical profile spec, e.g. `opt-13b:tp1@a100`.
    pub profile: String,
    /// The latency model's name.
    pub model: String,
    /// Instances.
    pub instances: usize,
    /// KV capacity of one instance, tokens.
    pub kv_capacity_tokens: u64,
    /// KV bytes per token.
    pub kv_bytes_per_token: u64,
    /// Longest prompt the profile was measured at, when it extrapolates beyond it (Splitwise).
    pub max_measured_prompt: Option<u32>,
    /// Why this cluster, when it is not the protocol's default.
    pub note: Option<&'static str>,
}

/// A scenario's own facts.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioInfo {
    /// One line.
    pub description: String,
    /// Prefill-heavy → decode-heavy switch, seconds (imbalance).
    pub phase_switch_s: Option<f64>,
    /// Burst windows (overload).
    pub bursts: Vec<BurstInfo>,
}

/// One burst window.
#[derive(Debug, Clone, Serialize)]
pub struct BurstInfo {
    /// Start, seconds.
    pub start_s: f64,
    /// End, seconds.
    pub end_s: f64,
    /// Height, multiples of the estimated capacity.
    pub multiple: f64,
    /// Burst arrival rate, requests/s.
    pub rate_per_s: f64,
    /// Burst requests.
    pub requests: usize,
}

/// One workload of the run, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct TraceInfo {
    /// Name in tables, e.g. `azure-conv`.
    pub name: String,
    /// Where it came from.
    pub source: String,
    /// What the loader read and changed (trace files only).
    pub load_report: Option<LoadReport>,
    /// Requests in the file (or generated).
    pub requests_loaded: usize,
    /// `--slice` (seconds; `null` end = to the end).
    pub slice_s: Option<(f64, Option<f64>)>,
    /// `--take`.
    pub take: Option<u64>,
    /// Requests benchmarked.
    pub requests: usize,
    /// First to last arrival at ×1, seconds.
    pub span_s: f64,
    /// Mean arrival rate at ×1, requests/s.
    pub rate_per_s: f64,
    /// Mean prompt tokens.
    pub mean_input_tokens: f64,
    /// Mean output tokens.
    pub mean_output_tokens: f64,
    /// The cluster.
    pub cluster: ClusterInfo,
    /// Prompts longer than the profile's longest measured prompt (prefill extrapolated).
    pub prompts_beyond_measured: usize,
    /// Scenario facts (FlowKV scenarios only).
    pub scenario: Option<ScenarioInfo>,
}

/// A workload ready to benchmark and its description.
pub struct Prepared {
    /// What the harness runs.
    pub trace: BenchTrace,
    /// What the report says about it.
    pub info: TraceInfo,
}

/// Why the workloads could not be prepared: refused input (exit 3) or any other error (exit 1).
pub enum Failure {
    /// A trace line the loader cannot read; the message names the file and line.
    Refused(String),
    /// Anything else.
    Error(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Error(e)
    }
}

/// A cluster plan and its description.
struct Cluster {
    plan: ClusterPlan,
    info: ClusterInfo,
}

/// Every workload `a` asks for, in report order: the traces, then the scenarios.
pub fn prepare(a: &BenchServingArgs) -> Result<Vec<Prepared>, Failure> {
    let data = a.data.data.as_path();
    if !data.is_dir() {
        return Err(anyhow!(
            "the serving data folder {} does not exist; pass --data DIR or set SKUA_SERVING_DATA \
             to the folder that holds azure_llm_2023/, mooncake/ and distserve_profile/",
            data.display()
        )
        .into());
    }
    let wanted: &[TraceChoice] = match a.trace {
        TraceChoice::Azure => &[TraceChoice::Azure],
        TraceChoice::Mooncake => &[TraceChoice::Mooncake],
        TraceChoice::All => &[TraceChoice::Azure, TraceChoice::Mooncake],
    };
    let mut out = Vec::new();
    for &t in wanted {
        out.push(shared_trace(a, data, t)?);
    }
    if a.scenarios {
        let long = cluster(
            data,
            MOONCAKE_PROFILE,
            MOONCAKE_INSTANCES,
            a.seed,
            Some(MOONCAKE_NOTE),
        )?;
        let s = flowkv_imbalance(&long.plan, IMBALANCE_LOAD, a.scenario_seconds, a.seed)
            .context("cannot build the imbalance scenario")?;
        out.push(scenario(
            "flowkv-imbalance",
            s,
            long,
            "generated (FlowKV imbalance)",
        ));
        let first = &out[0];
        let base = &first.trace.workload;
        let s = flowkv_overload(base, &first.trace.plan, a.seed)
            .context("cannot build the overload scenario")?;
        let c = Cluster {
            plan: first.trace.plan.clone(),
            info: first.info.cluster.clone(),
        };
        let source = format!("{} plus generated bursts", first.info.name);
        out.push(scenario("flowkv-overload", s, c, &source));
    }
    Ok(out)
}

fn shared_trace(a: &BenchServingArgs, data: &Path, t: TraceChoice) -> Result<Prepared, Failure> {
    let (name, rel, profile, n, note) = match t {
        TraceChoice::Mooncake => (
            "mooncake-conv",
            MOONCAKE_TRACE,
            MOONCAKE_PROFILE.to_string(),
            MOONCAKE_INSTANCES,
            Some(MOONCAKE_NOTE),
        ),
        TraceChoice::Azure | TraceChoice::All => (
            "azure-conv",
            AZURE_TRACE,
            ProfileSpec::default().to_string(),
            AZURE_INSTANCES,
            None,
        ),
    };
    let path = data.join(rel);
    if !path.is_file() {
        return Err(anyhow!(
            "the {name} trace is missing: expected {} in the serving data folder; pass --data DIR \
             or set SKUA_SERVING_DATA to the folder that holds {rel}",
            path.display()
        )
        .into());
    }
    let loaded = match t {
        TraceChoice::Mooncake => load_mooncake(&path),
        TraceChoice::Azure | TraceChoice::All => load_azure(&path),
    };
    let (full, report) = loaded.map_err(|e| {
        if refused(&e) {
            Failure::Refused(format!(
                "cannot read {} as the {name} trace: {e}; nothing was benchmarked",
                path.display()
            ))
        } else {
            Failure::Error(anyhow::Error::new(e).context(format!("cannot load {}", path.display())))
        }
    })?;
    let mut w = full.clone();
    if let Some((start, end)) = a.slice {
        w = w.slice(start, end).context("invalid --slice")?;
    }
    if let Some(n) = a.take {
        w = w.take(usize::try_from(n).unwrap_or(usize::MAX));
    }
    if w.requests.is_empty() {
        let span = full.requests.last().map_or(0.0, |r| r.arrival_s);
        return Err(anyhow!(
            "nothing to benchmark: the slice holds no arrivals of {name} (it spans 0–{span:.0} s)"
        )
        .into());
    }
    let c = cluster(data, &profile, n, a.seed, note)?;
    let mut info = info(name, path.display().to_string(), &w, &c.info, None);
    info.load_report = Some(report);
    info.requests_loaded = full.requests.len();
    info.slice_s = a.slice.map(|(s, e)| (s, e.is_finite().then_some(e)));
    info.take = a.take;
    Ok(Prepared {
        trace: BenchTrace {
            name: name.to_string(),
            workload: w,
            plan: c.plan,
        },
        info,
    })
}

fn scenario(name: &str, s: Scenario, c: Cluster, source: &str) -> Prepared {
    let facts = ScenarioInfo {
        description: s.description.clone(),
        phase_switch_s: s.phase_switch_s,
        bursts: s
            .bursts
            .iter()
            .map(|b| BurstInfo {
                start_s: b.start_s,
                end_s: b.end_s,
                multiple: b.multiple,
                rate_per_s: b.rate_per_s,
                requests: b.requests,
            })
            .collect(),
    };
    let info = info(name, source.to_string(), &s.workload, &c.info, Some(facts));
    Prepared {
        trace: BenchTrace {
            name: name.to_string(),
            workload: s.workload,
            plan: c.plan,
        },
        info,
    }
}

fn info(
    name: &str,
    source: String,
    w: &Workload,
    cluster: &ClusterInfo,
    scenario: Option<ScenarioInfo>,
) -> TraceInfo {
    let stats = w.stats();
    let prompts_beyond_measured = cluster.max_measured_prompt.map_or(0, |max| {
        w.requests.iter().filter(|r| r.input_tokens > max).count()
    });
    TraceInfo {
        name: name.to_string(),
        source,
        load_report: None,
        requests_loaded: w.requests.len(),
        slice_s: None,
        take: None,
        requests: w.requests.len(),
        span_s: stats.duration_s,
        rate_per_s: stats.mean_rate_per_s,
        mean_input_tokens: stats.input.mean,
        mean_output_tokens: stats.output.mean,
        cluster: cluster.clone(),
        prompts_beyond_measured,
        scenario,
    }
}

/// `n` instances of profile `spec_text`, built from the serving data folder.
fn cluster(
    data: &Path,
    spec_text: &str,
    n: usize,
    seed: u64,
    note: Option<&'static str>,
) -> Result<Cluster> {
    let spec: ProfileSpec = spec_text
        .parse()
        .with_context(|| format!("invalid profile {spec_text}"))?;
    let (model, max_measured_prompt) = crate::simulate::cluster::build_profile(&spec, data)?;
    if n == 0 {
        bail!("a cluster needs at least one instance");
    }
    let info = ClusterInfo {
        profile: spec.to_string(),
        model: model.name().to_string(),
        instances: n,
        kv_capacity_tokens: model.kv_capacity_tokens(),
        kv_bytes_per_token: model.kv_bytes_per_token(),
        max_measured_prompt,
        note,
    };
    let mut plan = ClusterPlan::homogeneous(n, model);
    plan.seed = seed;
    Ok(Cluster { plan, info })
}

/// Whether a loader error is about the file's content (refused input) rather than access.
fn refused(e: &WorkloadError) -> bool {
    !matches!(
        e,
        WorkloadError::Io { .. } | WorkloadError::InvalidArgument { .. }
    )
}
