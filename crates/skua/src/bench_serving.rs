//! `skua bench serving`: every routing/role policy of the catalog side by side on the shared
//! traces, under the serving benchmark protocol (`../shared/docs/serving-benchmark-protocol.md`),
//! run by `skua_serving::bench`.
//!
//! - Workloads ([`setup`]): the Azure conversation trace on 8 × opt-13b:tp1@a100 and the Mooncake
//!   conversation trace on 16 × llama2-70b:tp8@h100 (the lead's choice, stated in the header),
//!   optionally sliced; with `--scenarios`, FlowKV's imbalance and overload scenarios.
//! - Figures: attainment at each `--speedups`, goodput, latencies, rejections and makespan at ×1;
//!   the ratio of skua's best policy to the best non-oracle baseline.
//! - Output: the text tables ([`render`]), `--json` ([`report`], its own wire structs) and
//!   `--html` ([`html`], self-contained with SVG plots).
//!
//! Exit codes: 1 for errors, 2 for usage (an unknown policy name is a usage error: the flag is
//! checked against the catalog), 3 when a trace line cannot be read.

pub(crate) mod args;
mod html;
mod render;
mod report;
mod setup;

use std::time::Instant;

use anyhow::{Context, Result, bail};
use skua_serving::bench::{GoodputSearch, MatrixConfig, Progress, run_matrix};
use skua_serving::policy::catalog;
use skua_serving::profile::SloSpec;

pub use args::BenchServingArgs;

use crate::Outcome;
use crate::output::{progress, stage, thousands, write_atomic, write_json};

/// Entry point of `skua bench serving`.
pub fn serving(a: &BenchServingArgs, quiet: bool) -> Result<Outcome> {
    let t0 = Instant::now();
    let policies: Vec<String> = if a.policies.is_empty() {
        catalog::names().into_iter().map(String::from).collect()
    } else {
        a.policies.clone()
    };
    if policies.is_empty() {
        bail!("the policy catalog is empty: nothing to benchmark");
    }
    let prepared = match setup::prepare(a) {
        Ok(p) => p,
        Err(setup::Failure::Refused(msg)) => return Ok(Outcome::Rejected(msg)),
        Err(setup::Failure::Error(e)) => return Err(e),
    };
    for p in &prepared {
        stage(
            quiet,
            "workload",
            &format!(
                "{}: {} requests on {} × {}",
                p.info.name,
                thousands(p.info.requests as u64),
                p.info.cluster.instances,
                p.info.cluster.profile
            ),
        );
    }
    let config = MatrixConfig {
        speedups: a.speedups.clone(),
        search: GoodputSearch::new(a.goodput_range.0, a.goodput_range.1),
        // Clap bounds it to 1..=64.
        threads: usize::try_from(a.threads).unwrap_or(1),
    };
    let slo = prepared
        .first()
        .map_or_else(SloSpec::default, |p| p.trace.plan.slo);
    let (infos, traces): (Vec<_>, Vec<_>) = prepared.into_iter().map(|p| (p.info, p.trace)).unzip();
    let names: Vec<&str> = policies.iter().map(String::as_str).collect();
    let bar = progress((traces.len() * names.len()) as u64, "bench", quiet);
    let on_progress = |p: &Progress| match *p {
        Progress::Simulated {
            trace,
            policy,
            scale,
            attainment,
        } => bar.set_message(format!(
            "{trace} {policy} {} → {}",
            render::times(scale),
            render::pct(attainment)
        )),
        Progress::PolicyDone { .. } => bar.inc(1),
    };
    let matrix = run_matrix(&traces, &names, &config, &on_progress)
        .context("the serving benchmark failed")?;
    bar.finish_and_clear();
    let report = report::build(
        infos,
        &matrix,
        &config,
        &slo,
        a.seed,
        t0.elapsed().as_secs_f64(),
    );
    println!("{}", report.render());
    if let Some(p) = &a.json {
        write_json(p, &report)?;
    }
    if let Some(p) = &a.html {
        write_atomic(p, html::render(&report).as_bytes())?;
    }
    Ok(Outcome::Ok)
}
