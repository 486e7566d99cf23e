//! FlowKV's scenarios sized for a cluster: rates are set from the cluster's estimated capacity
//! ([`ClusterPlan::capacity_rps`]) so each scenario loads the cluster as intended.

use crate::workload::{
    DECODE_HEAVY_INPUT_MEAN, DECODE_HEAVY_OUTPUT_MEAN, ImbalanceSpec, OverloadSpec,
    PREFILL_HEAVY_INPUT, PREFILL_HEAVY_OUTPUT_MEAN, Scenario, Workload, imbalance_scenario,
    overload_scenario,
};

use super::BenchError;
use super::plan::ClusterPlan;

/// FlowKV's computational imbalance on `plan`: each half's arrival rate is `load` × the cluster's
/// estimated capacity for that half's requests (mean prompt and output lengths), so both halves
/// load the cluster comparably while needing very different prefill/decode splits.
pub fn flowkv_imbalance(
    plan: &ClusterPlan,
    load: f64,
    duration_s: f64,
    seed: u64,
) -> Result<Scenario, BenchError> {
    if !(load.is_finite() && load > 0.0) {
        return Err(BenchError::Invalid {
            what: "imbalance load",
            why: format!("must be a finite fraction of capacity > 0, got {load}"),
        });
    }
    let prefill_in = (PREFILL_HEAVY_INPUT.0 + PREFILL_HEAVY_INPUT.1) / 2;
    let prefill_heavy = plan.capacity_rps(prefill_in, PREFILL_HEAVY_OUTPUT_MEAN as u32);
    let decode_heavy = plan.capacity_rps(
        DECODE_HEAVY_INPUT_MEAN as u32,
        DECODE_HEAVY_OUTPUT_MEAN as u32,
    );
    let mut s = imbalance_scenario(&ImbalanceSpec {
        duration_s,
        prefill_heavy_rate_per_s: load * prefill_heavy,
        decode_heavy_rate_per_s: load * decode_heavy,
        seed,
    })?;
    s.description = format!(
        "{} ({:.0} % of the estimated capacity of each half: {prefill_heavy:.2} and \
         {decode_heavy:.2} req/s)",
        s.description,
        load * 100.0
    );
    Ok(s)
}

/// FlowKV's extreme overload on `base` and `plan`: bursts of 2–8× the cluster's estimated
/// capacity for requests of the base's mean lengths, 1–5 minutes each, one per 20 minutes.
pub fn flowkv_overload(
    base: &Workload,
    plan: &ClusterPlan,
    seed: u64,
) -> Result<Scenario, BenchError> {
    let stats = base.stats();
    let capacity = plan.capacity_rps(
        stats.input.mean.round().max(1.0) as u32,
        stats.output.mean.round().max(1.0) as u32,
    );
    Ok(overload_scenario(base, &OverloadSpec::new(capacity, seed))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::test_support::toy;

    #[test]
    fn imbalance_rates_follow_the_capacity_of_each_half() {
        let plan = ClusterPlan::homogeneous(4, toy(1.0));
        let s = flowkv_imbalance(&plan, 0.5, 4000.0, 1).expect("valid");
        let expect_first = 0.5 * plan.capacity_rps(12288, 100);
        let expect_second = 0.5 * plan.capacity_rps(200, 1000);
        let first = s
            .workload
            .requests
            .iter()
            .filter(|r| r.arrival_s < 2000.0)
            .count() as f64;
        let second = s.workload.requests.len() as f64 - first;
        // Poisson counts over 2,000 s each, 5 σ.
        for (n, rate) in [(first, expect_first), (second, expect_second)] {
            let mean = rate * 2000.0;
            assert!((n - mean).abs() < 5.0 * mean.sqrt(), "{n} vs {mean}");
        }
        assert!(flowkv_imbalance(&plan, 0.0, 100.0, 1).is_err());
    }
}
