//! `skua simulate`: the serving plane's commands.
//!
//! - `run`: a workload ([`input`]) on a cluster ([`cluster`]) through the discrete-event
//!   simulator of `skua-serving`; the summary under the benchmark protocol's SLO, per-instance
//!   figures and the conservation audit ([`report`]).
//! - `profiles`: the engine profiles `--profile` accepts.
//! - `fidelity`: DistServe's measured runs against the simulator ([`fidelity`]).
//!
//! Exit codes: a trace line the loader cannot read is refused input (3, the message names the
//! file and line); a broken conservation invariant is an error (1, after the results are
//! printed, with every violation).

pub(crate) mod cluster;
mod fidelity;
mod input;
mod report;

use std::time::Instant;

use anyhow::{Result, bail};
use skua_serving::profile;
use skua_serving::sim::simulate;

use crate::Outcome;
use crate::cli::SimRunArgs;
use crate::output::{stage, table, thousands, write_json};

pub use fidelity::fidelity;

/// `skua simulate run`.
pub fn run(a: &SimRunArgs, quiet: bool) -> Result<Outcome> {
    let data = &a.data.data;
    input::check_data_dir(data)?;
    let t0 = Instant::now();
    let loaded = match input::load(a, data) {
        Ok(l) => l,
        Err(input::LoadFailure::Refused(msg)) => return Ok(Outcome::Rejected(msg)),
        Err(input::LoadFailure::Error(e)) => return Err(e),
    };
    stage(
        quiet,
        "workload",
        &format!(
            "{} requests ({} loaded) from {} in {:.2} s",
            thousands(loaded.workload.requests.len() as u64),
            thousands(loaded.requests_loaded as u64),
            loaded.source,
            t0.elapsed().as_secs_f64()
        ),
    );
    let longest_prompt = loaded
        .workload
        .requests
        .iter()
        .map(|r| r.input_tokens)
        .max()
        .unwrap_or(0);
    let mut cluster = cluster::build(
        a,
        loaded.kind,
        data,
        longest_prompt,
        loaded.workload.block_tokens,
    )?;
    stage(
        quiet,
        "simulate",
        &format!(
            "{} instances of {}, router {} …",
            cluster.info.instances, cluster.info.profile, cluster.info.router
        ),
    );
    let t1 = Instant::now();
    let result = simulate(
        &cluster.config,
        &loaded.workload,
        cluster.router.as_mut(),
        cluster.controller.as_mut(),
    )?;
    let secs = t1.elapsed().as_secs_f64();
    stage(
        quiet,
        "simulate",
        &format!(
            "done in {secs:.2} s ({} requests/s simulated)",
            thousands((result.requests.len() as f64 / secs.max(1e-9)) as u64)
        ),
    );
    let report = report::build(
        &loaded,
        &cluster.info,
        cluster.model.as_ref(),
        &result,
        secs,
        a.per_request,
    );
    println!("{}", report.render());
    if let Some(p) = &a.json {
        write_json(p, &report)?;
    }
    if !report.conservation.ok {
        bail!(
            "the simulation broke {} conservation invariant(s) (a simulator bug; please report it \
             with the command line): {}",
            report.conservation.violations.len(),
            report.conservation.violations.join("; ")
        );
    }
    Ok(Outcome::Ok)
}

/// `skua simulate profiles`.
pub fn profiles() -> Result<Outcome> {
    let rows: Vec<Vec<String>> = profile::list()
        .into_iter()
        .map(|p| vec![p.spec, p.description])
        .collect();
    println!("{}", table(&["profile", "description"], &rows));
    Ok(Outcome::Ok)
}
