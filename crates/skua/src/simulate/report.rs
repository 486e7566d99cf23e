//! What `skua simulate run` prints and writes: the summary under the protocol's SLO, the
//! per-instance table and the JSON (its own serde structs: the simulator's types are not a wire
//! format).

use std::collections::BTreeMap;

use serde::Serialize;
use skua_serving::policy::RejectReason;
use skua_serving::profile::{LatencyModel, SloSpec};
use skua_serving::sim::{Percentiles, RequestOutcome, RequestStatus, SimResult, Slo};

use super::cluster::ClusterInfo;
use super::input::Loaded;
use crate::output::{table, thousands};

/// p50/p90/p99 in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Millis {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl Millis {
    fn of(p: Option<Percentiles>) -> Option<Self> {
        p.map(|p| Millis {
            p50: p.p50 * 1e3,
            p90: p.p90 * 1e3,
            p99: p.p99 * 1e3,
        })
    }
}

/// The protocol's SLO as applied.
#[derive(Debug, Serialize)]
pub struct SloInfo {
    /// Multiple of the idle time allowed.
    pub factor: f64,
    /// Lowest TTFT threshold, ms.
    pub ttft_floor_ms: f64,
    /// The rule in words.
    pub rule: &'static str,
}

/// The headline figures of one run.
#[derive(Debug, Serialize)]
pub struct Headline {
    /// Requests offered.
    pub offered: usize,
    /// Requests finished.
    pub finished: usize,
    /// Requests rejected.
    pub rejected: usize,
    /// Requests still in flight at the time limit.
    pub unfinished: usize,
    /// Rejections per reason.
    pub rejected_by_reason: BTreeMap<&'static str, usize>,
    /// TTFT of finished requests.
    pub ttft_ms: Option<Millis>,
    /// TPOT of finished requests with more than one output token.
    pub tpot_ms: Option<Millis>,
    /// End-to-end latency of finished requests.
    pub e2e_ms: Option<Millis>,
    /// Finished requests per second of makespan.
    pub throughput_rps: f64,
    /// Output tokens of finished requests per second of makespan.
    pub output_tokens_per_s: f64,
    /// First arrival to last completion, seconds.
    pub makespan_s: f64,
    /// Mean utilisation of the instances.
    pub mean_utilisation: f64,
    /// Preemptions, all instances.
    pub preemptions: u64,
    /// Prompt tokens served from the prefix cache.
    pub prefix_hit_tokens: u64,
    /// P→D KV transfers and their bytes.
    pub kv_transfers: u64,
    /// Bytes moved by KV transfers.
    pub kv_transfer_bytes: u64,
    /// Share of offered requests that finished within their SLO.
    pub slo_attainment: f64,
}

/// One instance's figures.
#[derive(Debug, Serialize)]
pub struct InstanceRow {
    /// Instance id.
    pub id: usize,
    /// Role at the end.
    pub role: String,
    /// Busy share of the makespan.
    pub utilisation: f64,
    /// Busy seconds.
    pub busy_s: f64,
    /// Iterations run.
    pub iterations: u64,
    /// Mean sequences per iteration.
    pub mean_batch: f64,
    /// Prompt tokens prefilled.
    pub prefill_tokens: u64,
    /// Tokens decoded.
    pub decode_tokens: u64,
    /// Preemptions.
    pub preemptions: u64,
}

/// One request's outcome (`--per-request`).
#[derive(Debug, Serialize)]
pub struct RequestRow {
    /// Request id (position in the simulated workload).
    pub id: u64,
    /// Arrival, seconds.
    pub arrival_s: f64,
    /// Prompt tokens.
    pub input_tokens: u32,
    /// Output tokens asked for.
    pub output_tokens: u32,
    /// `finished`, `rejected` or `unfinished`.
    pub status: &'static str,
    /// Why it was rejected.
    pub reject_reason: Option<String>,
    /// Mixed or prefill instance.
    pub instance: Option<usize>,
    /// Decode instance (P/D).
    pub decode_instance: Option<usize>,
    /// Time to first token, ms.
    pub ttft_ms: Option<f64>,
    /// Time per output token, ms.
    pub tpot_ms: Option<f64>,
    /// End-to-end latency, ms.
    pub e2e_ms: Option<f64>,
    /// Preemptions.
    pub preemptions: u32,
    /// Prompt tokens served from the prefix cache.
    pub prefix_hit_tokens: u64,
    /// TTFT threshold of its SLO, ms.
    pub slo_ttft_ms: f64,
    /// TPOT threshold of its SLO, ms.
    pub slo_tpot_ms: f64,
    /// Whether it finished within both.
    pub slo_met: bool,
}

/// The conservation audit.
#[derive(Debug, Serialize)]
pub struct Conservation {
    /// No invariant broken.
    pub ok: bool,
    /// What broke.
    pub violations: Vec<String>,
}

/// Everything `--json` holds.
#[derive(Debug, Serialize)]
pub struct RunReport<'a> {
    /// The workload.
    pub workload: &'a Loaded,
    /// The cluster.
    pub cluster: &'a ClusterInfo,
    /// The SLO rule.
    pub slo: SloInfo,
    /// Headline figures.
    pub summary: Headline,
    /// Prompts longer than the profile's longest measured prompt (their prefill is extrapolated).
    pub prompts_beyond_measured: usize,
    /// The conservation audit.
    pub conservation: Conservation,
    /// Per instance.
    pub instances: Vec<InstanceRow>,
    /// Wall-clock seconds the simulation took.
    pub simulated_in_s: f64,
    /// Per request (only with `--per-request`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests: Option<Vec<RequestRow>>,
}

fn reason_label(r: &RejectReason) -> &'static str {
    match r {
        RejectReason::NoInstance { .. } => "no_instance",
        RejectReason::ExceedsKvCapacity { .. } => "exceeds_kv_capacity",
        RejectReason::ExceedsBatchBudget { .. } => "exceeds_batch_budget",
        RejectReason::Overloaded => "overloaded",
    }
}

/// The protocol's per-request SLO, seconds.
fn slo_of(spec: &SloSpec, model: &dyn LatencyModel, r: &RequestOutcome) -> Slo {
    let t = spec.for_request(model, r.input_tokens, r.output_tokens);
    Slo {
        ttft_s: t.ttft_ms / 1e3,
        tpot_s: t.tpot_ms / 1e3,
    }
}

/// Builds the report of one simulation.
pub fn build<'a>(
    loaded: &'a Loaded,
    cluster: &'a ClusterInfo,
    model: &dyn LatencyModel,
    result: &SimResult,
    simulated_in_s: f64,
    per_request: bool,
) -> RunReport<'a> {
    let spec = SloSpec::default();
    let s = result.summary();
    let mut rejected_by_reason = BTreeMap::new();
    for r in &result.requests {
        if let RequestStatus::Rejected { reason } = &r.status {
            *rejected_by_reason.entry(reason_label(reason)).or_insert(0) += 1;
        }
    }
    let summary = Headline {
        offered: s.offered,
        finished: s.finished,
        rejected: s.rejected,
        unfinished: s.unfinished,
        rejected_by_reason,
        ttft_ms: Millis::of(s.ttft),
        tpot_ms: Millis::of(s.tpot),
        e2e_ms: Millis::of(s.e2e),
        throughput_rps: s.throughput_rps,
        output_tokens_per_s: s.output_tokens_per_s,
        makespan_s: s.makespan_s,
        mean_utilisation: s.mean_utilisation,
        preemptions: s.preemptions,
        prefix_hit_tokens: result.totals.prefix_hit_tokens,
        kv_transfers: result.totals.transfers,
        kv_transfer_bytes: result.totals.transfer_bytes,
        slo_attainment: result.slo_attainment_by(|r| slo_of(&spec, model, r)),
    };
    let conservation = match result.check_conservation() {
        Ok(()) => Conservation {
            ok: true,
            violations: Vec::new(),
        },
        Err(e) => Conservation {
            ok: false,
            violations: e.violations.iter().map(ToString::to_string).collect(),
        },
    };
    let instances = result
        .instances
        .iter()
        .map(|i| InstanceRow {
            id: i.id,
            role: i.final_role.to_string(),
            utilisation: i.utilisation,
            busy_s: i.busy_s,
            iterations: i.iterations,
            mean_batch: i.mean_batch,
            prefill_tokens: i.prefill_tokens,
            decode_tokens: i.decode_tokens,
            preemptions: i.preemptions,
        })
        .collect();
    let prompts_beyond_measured = cluster.max_measured_prompt.map_or(0, |max| {
        loaded
            .workload
            .requests
            .iter()
            .filter(|r| r.input_tokens > max)
            .count()
    });
    let requests = per_request.then(|| {
        result
            .requests
            .iter()
            .map(|r| request_row(r, slo_of(&spec, model, r)))
            .collect()
    });
    RunReport {
        workload: loaded,
        cluster,
        slo: SloInfo {
            factor: spec.factor,
            ttft_floor_ms: spec.ttft_floor_ms,
            rule: "TTFT ≤ max(floor, factor × idle TTFT of the prompt); TPOT ≤ factor × batch-1 \
                   decode time at the mean context; rejected and unfinished requests miss",
        },
        summary,
        prompts_beyond_measured,
        conservation,
        instances,
        simulated_in_s,
        requests,
    }
}

fn request_row(r: &RequestOutcome, slo: Slo) -> RequestRow {
    let ms = |v: Option<f64>| v.map(|s| s * 1e3);
    let (ttft, tpot) = (r.ttft_s(), r.tpot_s());
    RequestRow {
        id: r.id,
        arrival_s: r.arrival_s,
        input_tokens: r.input_tokens,
        output_tokens: r.output_tokens,
        status: match r.status {
            RequestStatus::Finished => "finished",
            RequestStatus::Rejected { .. } => "rejected",
            RequestStatus::Unfinished => "unfinished",
        },
        reject_reason: match &r.status {
            RequestStatus::Rejected { reason } => Some(reason.to_string()),
            _ => None,
        },
        instance: r.instance,
        decode_instance: r.decode_instance,
        ttft_ms: ms(ttft),
        tpot_ms: ms(tpot),
        e2e_ms: ms(r.e2e_s()),
        preemptions: r.preemptions,
        prefix_hit_tokens: r.prefix_hit_tokens,
        slo_ttft_ms: slo.ttft_s * 1e3,
        slo_tpot_ms: slo.tpot_s * 1e3,
        slo_met: matches!((ttft, tpot), (Some(a), Some(b)) if r.is_finished() && a <= slo.ttft_s && b <= slo.tpot_s),
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn ms3(m: Option<Millis>) -> [String; 3] {
    match m {
        Some(m) => [m.p50, m.p90, m.p99].map(|v| format!("{v:.1}")),
        None => ["-".into(), "-".into(), "-".into()],
    }
}

impl RunReport<'_> {
    /// The summary table, the per-instance table and the notes, as printed.
    pub fn render(&self) -> String {
        let s = &self.summary;
        let mut out = String::new();
        let c = self.cluster;
        let shape = match (c.prefill, c.decode) {
            (Some(p), Some(d)) => format!("{p} prefill + {d} decode"),
            _ => format!("{} mixed", c.instances),
        };
        out.push_str(&format!(
            "workload  {} ({} requests, {:.0} s, {:.2} req/s)\ncluster   {shape} × {} ({}), router {}, \
             chunked prefill {}, prefix cache {}, token budget {}, KV {} tokens/instance at {} B/token\n\n",
            self.workload.source,
            thousands(s.offered as u64),
            self.workload.stats.duration_s,
            self.workload.stats.mean_rate_per_s,
            c.profile,
            c.model,
            c.router,
            on_off(c.chunked_prefill),
            on_off(c.prefix_cache),
            c.token_budget,
            thousands(c.kv_capacity_tokens),
            thousands(c.kv_bytes_per_token),
        ));
        let rows = vec![
            row("requests offered", thousands(s.offered as u64)),
            row("finished", thousands(s.finished as u64)),
            row("rejected", thousands(s.rejected as u64)),
            row("unfinished", thousands(s.unfinished as u64)),
            row("throughput (req/s)", format!("{:.2}", s.throughput_rps)),
            row("output tokens/s", format!("{:.0}", s.output_tokens_per_s)),
            row("makespan (s)", format!("{:.1}", s.makespan_s)),
            row("mean utilisation", pct(s.mean_utilisation)),
            row("preemptions", thousands(s.preemptions)),
            row("SLO attainment", pct(s.slo_attainment)),
        ];
        out.push_str(&table(&["figure", "value"], &rows));
        out.push('\n');
        let latency: Vec<Vec<String>> = [
            ("TTFT", s.ttft_ms),
            ("TPOT", s.tpot_ms),
            ("end-to-end", s.e2e_ms),
        ]
        .into_iter()
        .map(|(name, ms)| {
            let mut r = vec![name.to_string()];
            r.extend(ms3(ms));
            r
        })
        .collect();
        out.push_str(&table(&["latency (ms)", "p50", "p90", "p99"], &latency));
        out.push('\n');
        let inst: Vec<Vec<String>> = self
            .instances
            .iter()
            .map(|i| {
                vec![
                    i.id.to_string(),
                    i.role.clone(),
                    pct(i.utilisation),
                    thousands(i.iterations),
                    format!("{:.1}", i.mean_batch),
                    thousands(i.preemptions),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "instance",
                "role",
                "utilisation",
                "iterations",
                "mean batch",
                "preemptions",
            ],
            &inst,
        ));
        out.push('\n');
        if !s.rejected_by_reason.is_empty() {
            let parts: Vec<String> = s
                .rejected_by_reason
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            out.push_str(&format!("rejections: {}\n", parts.join(", ")));
        }
        let beyond = self.prompts_beyond_measured;
        if let Some(max) = c.max_measured_prompt.filter(|_| beyond > 0) {
            out.push_str(&format!(
                "note: {} of {} prompts exceed the longest measured prompt of {} ({} tokens); \
                 their prefill time is the fitted polynomial's extrapolation\n",
                thousands(beyond as u64),
                thousands(s.offered as u64),
                c.profile,
                thousands(u64::from(max)),
            ));
        }
        out.push_str(&format!(
            "SLO: {} (factor {}, floor {} ms)\n",
            self.slo.rule, self.slo.factor, self.slo.ttft_floor_ms
        ));
        out.push_str(&if self.conservation.ok {
            "conservation: ok (finished + rejected + unfinished = offered; tokens and KV blocks balance)\n"
                .to_string()
        } else {
            format!(
                "conservation: BROKEN ({} violation(s))\n",
                self.conservation.violations.len()
            )
        });
        out
    }
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

fn row(name: &str, value: String) -> Vec<String> {
    vec![name.to_string(), value]
}
