//! One policy at one arrival speed-up: simulate, audit, and score by the protocol.

use std::collections::BTreeMap;

use crate::policy::RejectReason;
use crate::sim::{Percentiles, RequestStatus, SimResult, simulate};
use crate::workload::Workload;

use super::BenchError;
use super::plan::ClusterPlan;

/// What one policy achieved on one workload at one speed-up.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyRun {
    /// The policy's catalog name.
    pub policy: String,
    /// Arrival speed-up (trace timestamps divided by it).
    pub scale: f64,
    /// Requests offered.
    pub offered: usize,
    /// Requests that finished within their SLO.
    pub attained: usize,
    /// `attained / offered` (rejected and unfinished requests miss).
    pub attainment: f64,
    /// Finished requests.
    pub finished: usize,
    /// Rejected requests (by the router or an engine).
    pub rejected: usize,
    /// Rejections per reason (`no_instance`, `exceeds_kv_capacity`, `exceeds_batch_budget`,
    /// `overloaded`).
    pub rejected_by_reason: BTreeMap<&'static str, usize>,
    /// Requests still open at the end (only when the run was cut at its attainment horizon).
    pub unfinished: usize,
    /// TTFT of finished requests, seconds.
    pub ttft: Option<Percentiles>,
    /// TPOT of finished requests with more than one output token, seconds.
    pub tpot: Option<Percentiles>,
    /// TTFT / the request's TTFT SLO, over finished requests (≤ 1 = within the SLO).
    pub ttft_over_slo: Option<Percentiles>,
    /// First arrival to last completion, seconds.
    pub makespan_s: f64,
    /// Busy share of the makespan, per instance.
    pub utilisation: Vec<f64>,
    /// Completed role flips.
    pub role_flips: u64,
    /// Prompt tokens served from prefix caches.
    pub prefix_hit_tokens: u64,
    /// Preemptions, all instances.
    pub preemptions: u64,
}

/// Simulates `policy` (built fresh from the catalog) on `workload` with arrivals `scale` times
/// faster, on the cluster of `plan`, to completion; checks conservation and scores the run.
pub fn evaluate(
    workload: &Workload,
    plan: &ClusterPlan,
    policy: &str,
    scale: f64,
) -> Result<PolicyRun, BenchError> {
    run(workload, plan, policy, scale, false)
}

/// Attainment only: the run stops at the attainment horizon (after which no open request could
/// still meet its SLO), so overloaded probes do not simulate the drain of hopeless queues.
pub(crate) fn attainment(
    workload: &Workload,
    plan: &ClusterPlan,
    policy: &str,
    scale: f64,
) -> Result<f64, BenchError> {
    run(workload, plan, policy, scale, true).map(|r| r.attainment)
}

fn run(
    workload: &Workload,
    plan: &ClusterPlan,
    policy: &str,
    scale: f64,
    cut: bool,
) -> Result<PolicyRun, BenchError> {
    if workload.requests.is_empty() {
        return Err(BenchError::Invalid {
            what: "workload",
            why: format!("`{}` has no requests", workload.name),
        });
    }
    let scaled = workload.speed_up(scale)?;
    let mut setup = plan.build_policy(policy, workload)?;
    let mut config = plan.sim_config(&setup)?;
    if cut {
        config.time_limit_after_last_arrival_s = Some(plan.attainment_horizon_s(&scaled));
    }
    let result = simulate(
        &config,
        &scaled,
        setup.router.as_mut(),
        setup.controller.as_mut(),
    )
    .map_err(|source| BenchError::Sim {
        policy: policy.to_string(),
        scale,
        source,
    })?;
    result
        .check_conservation()
        .map_err(|source| BenchError::Conservation {
            policy: policy.to_string(),
            scale,
            source,
        })?;
    Ok(score(policy, scale, plan, &result))
}

/// Stable label of a rejection reason (for counts and JSON keys).
pub(crate) fn reason_key(r: &RejectReason) -> &'static str {
    match r {
        RejectReason::NoInstance { .. } => "no_instance",
        RejectReason::ExceedsKvCapacity { .. } => "exceeds_kv_capacity",
        RejectReason::ExceedsBatchBudget { .. } => "exceeds_batch_budget",
        RejectReason::Overloaded => "overloaded",
    }
}

fn score(policy: &str, scale: f64, plan: &ClusterPlan, result: &SimResult) -> PolicyRun {
    let summary = result.summary();
    let mut rejected_by_reason = BTreeMap::new();
    let mut attained = 0;
    let mut ttft_ratio = Vec::new();
    for r in &result.requests {
        if let RequestStatus::Rejected { reason } = &r.status {
            *rejected_by_reason.entry(reason_key(reason)).or_insert(0) += 1;
        }
        if !r.is_finished() {
            continue;
        }
        let slo = plan.slo_of(r);
        if let (Some(ttft), Some(tpot)) = (r.ttft_s(), r.tpot_s()) {
            if ttft <= slo.ttft_s && tpot <= slo.tpot_s {
                attained += 1;
            }
            ttft_ratio.push(ttft / slo.ttft_s);
        }
    }
    let offered = result.requests.len();
    PolicyRun {
        policy: policy.to_string(),
        scale,
        offered,
        attained,
        attainment: if offered == 0 {
            0.0
        } else {
            attained as f64 / offered as f64
        },
        finished: summary.finished,
        rejected: summary.rejected,
        rejected_by_reason,
        unfinished: summary.unfinished,
        ttft: summary.ttft,
        tpot: summary.tpot,
        ttft_over_slo: Percentiles::of(ttft_ratio),
        makespan_s: summary.makespan_s,
        utilisation: result.instances.iter().map(|i| i.utilisation).collect(),
        role_flips: result.totals.flips,
        prefix_hit_tokens: result.totals.prefix_hit_tokens,
        preemptions: result.totals.preemptions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{RequestOutcome, Slo};

    #[test]
    fn scoring_agrees_with_the_simulators_own_attainment() {
        // A hand-made result: one attains, one is too slow to first token, one rejected.
        let mk = |id: u64, first: Option<f64>, finish: Option<f64>, status: RequestStatus| {
            RequestOutcome {
                id,
                input_tokens: 100,
                output_tokens: 11,
                arrival_s: 0.0,
                instance: Some(0),
                decode_instance: None,
                first_token_s: first,
                finish_s: finish,
                generated_tokens: if status == RequestStatus::Finished {
                    11
                } else {
                    0
                },
                status,
                preemptions: 0,
                prefix_hit_tokens: 0,
            }
        };
        let requests = vec![
            mk(0, Some(0.1), Some(0.2), RequestStatus::Finished),
            mk(1, Some(5.0), Some(5.1), RequestStatus::Finished),
            mk(
                2,
                None,
                None,
                RequestStatus::Rejected {
                    reason: RejectReason::Overloaded,
                },
            ),
        ];
        let result = SimResult {
            router: "r".into(),
            controller: "c".into(),
            requests,
            instances: Vec::new(),
            totals: crate::sim::Totals {
                offered: 3,
                finished: 2,
                rejected: 1,
                ..Default::default()
            },
            start_s: 0.0,
            end_s: 5.1,
        };
        let plan = ClusterPlan::homogeneous(1, super::super::test_support::toy(1.0));
        let run = score("p", 1.0, &plan, &result);
        let by_sim = result.slo_attainment_by(|r| -> Slo { plan.slo_of(r) });
        assert_eq!(run.attainment, by_sim);
        assert_eq!((run.attained, run.offered), (1, 3));
        assert_eq!(run.rejected_by_reason.get("overloaded"), Some(&1));
        let ratio = run.ttft_over_slo.expect("two finished");
        assert!(ratio.p50 > 0.0 && ratio.p99 > 1.0, "{ratio:?}");
    }
}
