//! The report of `skua bench serving` as its own serde structs (the wire format of `--json`),
//! converted once from the harness's types; the text and HTML renderings read only these.

use std::collections::BTreeMap;

use serde::Serialize;
use skua_serving::bench::{
    Comparison, GoodputBound, Matrix, MatrixConfig, PolicyResult, PolicyRun, TraceResult,
};
use skua_serving::profile::SloSpec;
use skua_serving::sim::Percentiles;

use super::setup::TraceInfo;

/// p50/p90/p99.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Pcts {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl Pcts {
    fn of(p: Option<Percentiles>, factor: f64) -> Option<Self> {
        p.map(|p| Pcts {
            p50: p.p50 * factor,
            p90: p.p90 * factor,
            p99: p.p99 * factor,
        })
    }
}

/// The rules every figure follows.
#[derive(Debug, Clone, Serialize)]
pub struct Protocol {
    /// The SLO rule in words.
    pub slo_rule: String,
    /// Multiple of the idle time allowed.
    pub slo_factor: f64,
    /// Lowest TTFT threshold, ms.
    pub ttft_floor_ms: f64,
    /// How attainment is counted.
    pub attainment_rule: &'static str,
    /// How goodput is searched.
    pub goodput_rule: String,
    /// Arrival speed-ups reported.
    pub speedups: Vec<f64>,
    /// Goodput search range (scales).
    pub goodput_range: (f64, f64),
    /// Seed of randomised policies and generated scenarios.
    pub seed: u64,
    /// Worker threads used.
    pub threads: usize,
}

/// Attainment at one speed-up.
#[derive(Debug, Clone, Serialize)]
pub struct ScalePoint {
    /// Arrival speed-up.
    pub scale: f64,
    /// Attained / offered.
    pub attainment: f64,
    /// Requests that met their SLO.
    pub attained: usize,
    /// Rejected requests.
    pub rejected: usize,
}

/// Goodput of one policy.
#[derive(Debug, Clone, Serialize)]
pub struct GoodputReport {
    /// Scale (0 below the range, the range's top when at least that).
    pub scale: f64,
    /// Requests/s.
    pub req_per_s: f64,
    /// `found`, `below_range` or `at_least_range_top`.
    pub bound: &'static str,
    /// Lowest failing scale seen above it.
    pub fail_scale: Option<f64>,
    /// Every probe of the search: (scale, attainment), in order.
    pub probes: Vec<(f64, f64)>,
}

/// Figures of one run (the ×1 run in the report).
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Requests offered.
    pub offered: usize,
    /// Finished requests.
    pub finished: usize,
    /// Finished within their SLO.
    pub attained: usize,
    /// Attained / offered.
    pub attainment: f64,
    /// Rejected requests.
    pub rejected: usize,
    /// Rejections per reason.
    pub rejected_by_reason: BTreeMap<&'static str, usize>,
    /// TTFT of finished requests, ms.
    pub ttft_ms: Option<Pcts>,
    /// TPOT of finished requests with more than one output token, ms.
    pub tpot_ms: Option<Pcts>,
    /// TTFT / the request's TTFT SLO over finished requests (≤ 1 within the SLO).
    pub ttft_over_slo: Option<Pcts>,
    /// First arrival to last completion, seconds.
    pub makespan_s: f64,
    /// Mean busy share of the instances.
    pub mean_utilisation: f64,
    /// Busy share per instance.
    pub utilisation: Vec<f64>,
    /// Completed role flips.
    pub role_flips: u64,
    /// Prompt tokens served from prefix caches.
    pub prefix_hit_tokens: u64,
    /// Preemptions.
    pub preemptions: u64,
}

/// One policy on one trace.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyReport {
    /// Catalog name.
    pub name: String,
    /// What it does and where the rule comes from.
    pub description: String,
    /// Router name.
    pub router: String,
    /// Role controller name.
    pub controller: String,
    /// Age of the engine metrics it reads, ms.
    pub staleness_ms: f64,
    /// Knows the future (never a baseline).
    pub oracle: bool,
    /// One of skua's policies.
    pub skua: bool,
    /// Attainment per speed-up.
    pub attainment: Vec<ScalePoint>,
    /// Goodput.
    pub goodput: GoodputReport,
    /// The ×1 run.
    pub at_1: RunReport,
}

/// skua's attainment at one speed-up against the best baseline there.
#[derive(Debug, Clone, Serialize)]
pub struct GapReport {
    /// Arrival speed-up.
    pub scale: f64,
    /// skua's attainment.
    pub skua: f64,
    /// The best baseline at this speed-up.
    pub baseline: String,
    /// Its attainment.
    pub baseline_attainment: f64,
    /// Difference, percentage points.
    pub points: f64,
}

/// skua's best policy against the best non-oracle baseline.
#[derive(Debug, Clone, Serialize)]
pub struct ComparisonReport {
    /// skua's best policy.
    pub skua: String,
    /// The best baseline.
    pub baseline: String,
    /// Goodput scales.
    pub skua_goodput: f64,
    /// The baseline's goodput scale.
    pub baseline_goodput: f64,
    /// skua / baseline goodput (`null` when the baseline's is 0).
    pub goodput_ratio: Option<f64>,
    /// Either goodput is a bound of the search range, so the ratio is a bound too.
    pub bounded: bool,
    /// Per speed-up.
    pub attainment: Vec<GapReport>,
}

/// One workload: what it is and every policy on it.
#[derive(Debug, Clone, Serialize)]
pub struct TraceReport {
    /// The workload and cluster.
    pub info: TraceInfo,
    /// One entry per policy, in the order asked.
    pub policies: Vec<PolicyReport>,
    /// skua's best policy vs the best baseline (`null` without both).
    pub comparison: Option<ComparisonReport>,
    /// Every skua policy vs the best baseline, in policy order.
    pub comparisons: Vec<ComparisonReport>,
}

/// Everything `--json` holds.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The rules.
    pub protocol: Protocol,
    /// One entry per workload.
    pub traces: Vec<TraceReport>,
    /// Wall-clock seconds of the whole benchmark.
    pub elapsed_s: f64,
}

/// Builds the report from the matrix and the workloads' descriptions (same order).
pub fn build(
    infos: Vec<TraceInfo>,
    matrix: &Matrix,
    config: &MatrixConfig,
    slo: &SloSpec,
    seed: u64,
    elapsed_s: f64,
) -> Report {
    let s = &config.search;
    let protocol = Protocol {
        slo_rule: format!(
            "TTFT ≤ max({} ms, {} × the prompt's TTFT on an idle instance); TPOT ≤ {} × the \
             batch-1 decode time at the request's mean context",
            slo.ttft_floor_ms, slo.factor, slo.factor
        ),
        slo_factor: slo.factor,
        ttft_floor_ms: slo.ttft_floor_ms,
        attainment_rule: "attained / offered; rejected and unfinished requests miss",
        goodput_rule: format!(
            "highest arrival speed-up with attainment ≥ {:.0} %: from ×{} stepping ×{} up (or \
             down) to a bracket, then bisected to {:.0} %; searched within ×{}–×{}",
            s.target * 100.0,
            s.start,
            s.step,
            s.tolerance * 100.0,
            s.lo,
            s.hi
        ),
        speedups: config.speedups.clone(),
        goodput_range: (s.lo, s.hi),
        seed,
        threads: config.threads,
    };
    let traces = infos
        .into_iter()
        .zip(&matrix.traces)
        .map(|(info, t)| trace(info, t))
        .collect();
    Report {
        protocol,
        traces,
        elapsed_s,
    }
}

fn trace(info: TraceInfo, t: &TraceResult) -> TraceReport {
    TraceReport {
        info,
        policies: t.policies.iter().map(policy).collect(),
        comparison: t.comparison().map(comparison),
        comparisons: t
            .policies
            .iter()
            .filter(|p| p.skua && !p.oracle)
            .filter_map(|p| t.comparison_of(&p.name))
            .map(comparison)
            .collect(),
    }
}

fn policy(p: &PolicyResult) -> PolicyReport {
    let g = &p.goodput;
    PolicyReport {
        name: p.name.clone(),
        description: p.description.clone(),
        router: p.router.clone(),
        controller: p.controller.clone(),
        staleness_ms: p.staleness_s * 1e3,
        oracle: p.oracle,
        skua: p.skua,
        attainment: p
            .at
            .iter()
            .map(|r| ScalePoint {
                scale: r.scale,
                attainment: r.attainment,
                attained: r.attained,
                rejected: r.rejected,
            })
            .collect(),
        goodput: GoodputReport {
            scale: g.scale,
            req_per_s: g.req_per_s,
            bound: match g.bound {
                GoodputBound::Found => "found",
                GoodputBound::BelowLo => "below_range",
                GoodputBound::AtLeastHi => "at_least_range_top",
            },
            fail_scale: g.fail_scale,
            probes: g.runs.iter().map(|r| (r.scale, r.attainment)).collect(),
        },
        at_1: run(&p.base),
    }
}

fn run(r: &PolicyRun) -> RunReport {
    let n = r.utilisation.len().max(1) as f64;
    RunReport {
        offered: r.offered,
        finished: r.finished,
        attained: r.attained,
        attainment: r.attainment,
        rejected: r.rejected,
        rejected_by_reason: r.rejected_by_reason.clone(),
        ttft_ms: Pcts::of(r.ttft, 1e3),
        tpot_ms: Pcts::of(r.tpot, 1e3),
        ttft_over_slo: Pcts::of(r.ttft_over_slo, 1.0),
        makespan_s: r.makespan_s,
        mean_utilisation: r.utilisation.iter().sum::<f64>() / n,
        utilisation: r.utilisation.clone(),
        role_flips: r.role_flips,
        prefix_hit_tokens: r.prefix_hit_tokens,
        preemptions: r.preemptions,
    }
}

fn comparison(c: Comparison) -> ComparisonReport {
    ComparisonReport {
        skua: c.skua,
        baseline: c.baseline,
        skua_goodput: c.skua_goodput,
        baseline_goodput: c.baseline_goodput,
        goodput_ratio: c.goodput_ratio,
        bounded: c.bounded,
        attainment: c
            .attainment
            .into_iter()
            .map(|g| GapReport {
                scale: g.scale,
                skua: g.skua,
                baseline: g.baseline,
                baseline_attainment: g.baseline_attainment,
                points: g.points,
            })
            .collect(),
    }
}
