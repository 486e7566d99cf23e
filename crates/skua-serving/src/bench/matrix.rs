//! The policy matrix: every trace × every policy, attainment at a few speed-ups, latencies at ×1
//! and goodput, run on a few threads with results independent of the thread count.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::workload::Workload;

use super::evaluate::{PolicyRun, evaluate};
use super::goodput::{Goodput, GoodputSearch, Probe};
use super::plan::ClusterPlan;
use super::{BenchError, is_skua};

/// One workload of the matrix and the cluster it runs on.
#[derive(Debug, Clone)]
pub struct BenchTrace {
    /// Name for reports, e.g. `azure-conv`.
    pub name: String,
    /// The requests (at ×1).
    pub workload: Workload,
    /// The cluster.
    pub plan: ClusterPlan,
}

/// What the matrix measures.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixConfig {
    /// Arrival speed-ups at which attainment is reported (default ×1, ×2, ×4).
    pub speedups: Vec<f64>,
    /// The goodput search.
    pub search: GoodputSearch,
    /// Worker threads (default 2); results do not depend on it.
    pub threads: usize,
}

impl Default for MatrixConfig {
    fn default() -> Self {
        Self {
            speedups: vec![1.0, 2.0, 4.0],
            search: GoodputSearch::default(),
            threads: 2,
        }
    }
}

/// Progress of a matrix run, reported from the worker threads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Progress<'a> {
    /// One simulation finished.
    Simulated {
        /// The trace.
        trace: &'a str,
        /// The policy.
        policy: &'a str,
        /// Its arrival speed-up.
        scale: f64,
        /// Its SLO attainment.
        attainment: f64,
    },
    /// One policy's row on one trace is complete.
    PolicyDone {
        /// The trace.
        trace: &'a str,
        /// The policy.
        policy: &'a str,
        /// Rows complete so far (all traces).
        done: usize,
        /// Rows in all.
        total: usize,
    },
}

/// One policy on one trace.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyResult {
    /// Catalog name.
    pub name: String,
    /// The catalog's one-line description.
    pub description: String,
    /// The router's name.
    pub router: String,
    /// The role controller's name.
    pub controller: String,
    /// Age of the engine metrics it reads, seconds.
    pub staleness_s: f64,
    /// Knows the future (never counted as a baseline).
    pub oracle: bool,
    /// One of skua's own policies.
    pub skua: bool,
    /// One run per configured speed-up, in the configured order.
    pub at: Vec<PolicyRun>,
    /// The run at ×1 (latencies, rejections and makespan are reported from it).
    pub base: PolicyRun,
    /// Goodput.
    pub goodput: Goodput,
}

impl PolicyResult {
    /// The run at speed-up `scale`, if it was measured.
    pub fn at_scale(&self, scale: f64) -> Option<&PolicyRun> {
        self.at.iter().find(|r| r.scale == scale)
    }
}

/// Every policy on one trace, in the requested policy order.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceResult {
    /// The trace's name.
    pub trace: String,
    /// Requests in the workload.
    pub requests: usize,
    /// Mean arrival rate at ×1, requests/s.
    pub rate_per_s: f64,
    /// The speed-ups measured.
    pub speedups: Vec<f64>,
    /// One entry per policy.
    pub policies: Vec<PolicyResult>,
}

/// The whole matrix, traces in the order given.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// One entry per trace.
    pub traces: Vec<TraceResult>,
}

/// Runs every policy on every trace: attainment at each speed-up, the ×1 run, and goodput.
///
/// Policy names are checked against the catalog (and each trace's cluster) before anything runs,
/// so an unknown name fails fast with the catalog's error. Rows are computed on
/// `config.threads` threads and put back in trace × policy order, so the result is the same
/// for any thread count.
pub fn run_matrix(
    traces: &[BenchTrace],
    policies: &[&str],
    config: &MatrixConfig,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<Matrix, BenchError> {
    validate(traces, policies, config)?;
    let items: Vec<(usize, usize)> = (0..traces.len())
        .flat_map(|t| (0..policies.len()).map(move |p| (t, p)))
        .collect();
    let slots: Vec<Mutex<Option<Result<PolicyResult, BenchError>>>> =
        items.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let worker = || {
        loop {
            let i = next.fetch_add(1, Ordering::SeqCst);
            if i >= items.len() || failed.load(Ordering::SeqCst) {
                break;
            }
            let (t, p) = items[i];
            let result = row(&traces[t], policies[p], config, progress);
            if result.is_err() {
                failed.store(true, Ordering::SeqCst);
            } else {
                progress(&Progress::PolicyDone {
                    trace: &traces[t].name,
                    policy: policies[p],
                    done: done.fetch_add(1, Ordering::SeqCst) + 1,
                    total: items.len(),
                });
            }
            *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
        }
    };
    std::thread::scope(|s| {
        for _ in 0..config.threads.clamp(1, items.len().max(1)) {
            s.spawn(worker);
        }
    });
    let mut rows = Vec::with_capacity(items.len());
    for slot in slots {
        match slot.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(Ok(r)) => rows.push(r),
            Some(Err(e)) => return Err(e),
            // Skipped after another row failed; that failure comes first in item order or
            // is returned below.
            None => {}
        }
    }
    if rows.len() != items.len() {
        return Err(BenchError::Invalid {
            what: "matrix",
            why: "a row failed without reporting its error".into(),
        });
    }
    let mut rows = rows.into_iter();
    let traces = traces
        .iter()
        .map(|t| TraceResult {
            trace: t.name.clone(),
            requests: t.workload.requests.len(),
            rate_per_s: t.workload.stats().mean_rate_per_s,
            speedups: config.speedups.clone(),
            policies: rows.by_ref().take(policies.len()).collect(),
        })
        .collect();
    Ok(Matrix { traces })
}

fn validate(
    traces: &[BenchTrace],
    policies: &[&str],
    config: &MatrixConfig,
) -> Result<(), BenchError> {
    let bad = |what, why: String| Err(BenchError::Invalid { what, why });
    if policies.is_empty() {
        return bad("policies", "no policy to run".into());
    }
    if let Some((i, p)) = policies
        .iter()
        .enumerate()
        .find(|(i, p)| policies[..*i].contains(p))
    {
        return bad(
            "policies",
            format!("`{p}` is listed twice (position {})", i + 1),
        );
    }
    if config.speedups.is_empty() {
        return bad("speedups", "give at least one speed-up".into());
    }
    if let Some(s) = config
        .speedups
        .iter()
        .find(|s| !(s.is_finite() && **s > 0.0))
    {
        return bad("speedups", format!("{s} is not a finite number > 0"));
    }
    if config.threads == 0 {
        return bad("threads", "must be at least 1".into());
    }
    config.search.validate()?;
    for t in traces {
        if t.workload.requests.is_empty() {
            return bad("workload", format!("trace `{}` has no requests", t.name));
        }
        for p in policies {
            let setup = t.plan.build_policy(p, &t.workload)?;
            t.plan
                .sim_config(&setup)?
                .validate()
                .map_err(|source| BenchError::Sim {
                    policy: p.to_string(),
                    scale: 1.0,
                    source,
                })?;
        }
    }
    Ok(())
}

/// One policy's row on one trace.
fn row(
    trace: &BenchTrace,
    policy: &str,
    config: &MatrixConfig,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<PolicyResult, BenchError> {
    let (w, plan) = (&trace.workload, &trace.plan);
    let setup = plan.build_policy(policy, w)?;
    let simulated = |p: Probe| {
        progress(&Progress::Simulated {
            trace: &trace.name,
            policy,
            scale: p.scale,
            attainment: p.attainment,
        })
    };
    let mut at = Vec::with_capacity(config.speedups.len());
    for &scale in &config.speedups {
        let r = evaluate(w, plan, policy, scale)?;
        simulated(Probe {
            scale,
            attainment: r.attainment,
        });
        at.push(r);
    }
    let base = match at.iter().find(|r| r.scale == 1.0) {
        Some(r) => r.clone(),
        None => {
            let r = evaluate(w, plan, policy, 1.0)?;
            simulated(Probe {
                scale: 1.0,
                attainment: r.attainment,
            });
            r
        }
    };
    let known: Vec<Probe> = at
        .iter()
        .chain(std::iter::once(&base))
        .map(|r| Probe {
            scale: r.scale,
            attainment: r.attainment,
        })
        .collect();
    let goodput = config.search.run(w, plan, policy, &known, &simulated)?;
    Ok(PolicyResult {
        name: policy.to_string(),
        description: setup.description.clone(),
        router: setup.router.name().to_string(),
        controller: setup.controller.name().to_string(),
        staleness_s: setup.staleness_s,
        oracle: setup.oracle,
        skua: is_skua(policy),
        at,
        base,
        goodput,
    })
}
