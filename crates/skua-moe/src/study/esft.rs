//! ESFT studies: held-out halves of each task (with the multinomial noise floor) and plan on one
//! task, score on another. Topology: the golden files' ESFT shape (2 nodes, 8 GPUs, 80 slots);
//! DeepSeek-V2-Lite's router is not group-limited, so EPLB runs its global policy.

use serde::Serialize;

use super::StudyOptions;
use crate::MoeError;
use crate::eval::{EvalConfig, score};
use crate::forecast::{bootstrap_futures, multinomial_noise};
use crate::io::esft::{EsftTask, read_esft_task};
use crate::load::{ExpertLoad, TokenTrace};
use crate::placement::Placement;
use crate::plan::eplb::{EplbGreedy, EplbMode};
use crate::plan::skua::SkuaPlanner;
use crate::plan::{PlanRequest, Planner};
use crate::topology::Topology;

/// The ESFT tasks in the shared data.
pub const TASKS: [&str; 3] = ["intent", "law", "summary"];
/// Sampled futures skua plans against.
pub const FUTURES: usize = 16;
/// Multinomial draws for the noise floor.
pub const FLOOR_DRAWS: usize = 20;

/// One held-out split of one task.
#[derive(Debug, Clone, Serialize)]
pub struct HeldOutRow {
    /// Task.
    pub task: String,
    /// `tokens` (even/odd tokens: same requests, sampling noise only) or `sequences` (even/odd
    /// requests: the held-out half is other requests).
    pub split: String,
    /// Mean imbalance of the EPLB-equivalent's plan on the held-out half.
    pub eplb: f64,
    /// The same for skua.
    pub skua: f64,
    /// Multinomial noise floor: skua's plan made on the held-out half itself, scored on
    /// multinomial redraws of it (same size) — what sampling alone costs a plan that knew the
    /// distribution.
    pub floor: f64,
}

/// Plan on one task, score on another.
#[derive(Debug, Clone, Serialize)]
pub struct CrossRow {
    /// Task planned on.
    pub plan_on: String,
    /// Task scored on.
    pub score_on: String,
    /// EPLB-equivalent.
    pub eplb: f64,
    /// skua.
    pub skua: f64,
    /// A plan that ignores the data (skua on a flat load, duplicate-free): how much the planning
    /// task tells.
    pub uniform: f64,
    /// skua planned on the scored task itself (the in-sample ideal).
    pub oracle: f64,
    /// Mean over layers of the Pearson correlation between the two tasks' per-expert loads: how
    /// much the planning task can tell about the scored one.
    pub load_corr: f64,
    /// skua after seeing the first quarter of the scored task's requests: the plan made on the
    /// planning task, re-planned incrementally with at most [`ADAPT_BUDGET`] of the slots moved.
    pub skua_adapted: f64,
    /// Slots skua's adaptation moved (all layers).
    pub skua_adapted_moves: usize,
    /// EPLB re-planned from scratch on the same first quarter.
    pub eplb_replanned: f64,
    /// Slots EPLB's full re-plan moved (all layers).
    pub eplb_replanned_moves: usize,
}

/// Share of a layer's slots skua's adaptation may move.
pub const ADAPT_BUDGET: f64 = 0.1;

/// The golden files' ESFT slot budget (80 slots: 16 spare for 64 experts).
pub const SLOTS: usize = 80;

/// GPUs of the ESFT topology (2 nodes).
pub const GPUS: usize = 8;

/// A wider budget the cross-task study is repeated at: two slots per expert.
pub const WIDE_SLOTS: usize = 128;

/// Plan on one task, score on another, static plans only, at another slot budget.
#[derive(Debug, Clone, Serialize)]
pub struct CrossBudgetRow {
    /// Task planned on.
    pub plan_on: String,
    /// Task scored on.
    pub score_on: String,
    /// Slots (2 nodes × [`GPUS`] GPUs).
    pub slots: usize,
    /// The duplicate-free plan of a flat load (every expert as many replicas as the budget
    /// allows, spread evenly).
    pub uniform: f64,
    /// EPLB-equivalent planned on the first task.
    pub eplb: f64,
    /// skua planned on the first task.
    pub skua: f64,
}

fn topology() -> Result<Topology, MoeError> {
    topology_with(SLOTS)
}

fn topology_with(slots: usize) -> Result<Topology, MoeError> {
    Topology::uniform(2, GPUS, slots)
}

/// The data-blind plan: skua on a flat load (duplicate-free, replicas spread evenly; EPLB's
/// greedy on a flat load may put both replicas of an expert on one GPU).
fn uniform_plan(topo: &Topology, layers: usize, experts: usize) -> Result<Placement, MoeError> {
    let flat = ExpertLoad::from_rows(vec![vec![1.0; experts]; layers])?;
    SkuaPlanner::default().plan(&PlanRequest::new(topo, &flat, 1))
}

/// Every ordered pair of different tasks, by index: the pair and the second task's requests
/// before and after its first quarter (the cross-task studies score on the latter).
fn task_pairs(tasks: &[EsftTask]) -> Vec<(usize, usize, TokenTrace, TokenTrace)> {
    let mut out = Vec::new();
    for (ia, a) in tasks.iter().enumerate() {
        for (ib, b) in tasks.iter().enumerate() {
            if a.name == b.name {
                continue;
            }
            let n = b.trace.sequences();
            let first: Vec<usize> = (0..(n / 4).max(1)).collect();
            let rest: Vec<usize> = ((n / 4).max(1)..n).collect();
            out.push((
                ia,
                ib,
                b.trace.select_sequences(&first),
                b.trace.select_sequences(&rest),
            ));
        }
    }
    out
}

/// Per task: the EPLB-equivalent's and skua's static plans on its whole trace.
fn static_plans(
    topo: &Topology,
    tasks: &[EsftTask],
    seed: u64,
) -> Result<Vec<(Placement, Placement)>, MoeError> {
    tasks
        .iter()
        .map(|t| Ok((eplb(topo, &t.trace.counts())?, skua(topo, &t.trace, seed)?)))
        .collect()
}

/// Static plans on one task scored on another, at `slots` slots.
pub fn cross_task_budget(
    opts: &StudyOptions,
    tasks: &[EsftTask],
    slots: usize,
) -> Result<Vec<CrossBudgetRow>, MoeError> {
    let topo = topology_with(slots)?;
    let Some(t0) = tasks.first() else {
        return Ok(Vec::new());
    };
    let uniform = uniform_plan(&topo, t0.trace.layers(), t0.trace.experts())?;
    let plans = static_plans(&topo, tasks, opts.seed)?;
    Ok(task_pairs(tasks)
        .into_iter()
        .map(|(ia, ib, _, unseen)| {
            let test = unseen.counts();
            let (pe, ps) = &plans[ia];
            CrossBudgetRow {
                plan_on: tasks[ia].name.clone(),
                score_on: tasks[ib].name.clone(),
                slots,
                uniform: imbalance(&uniform, &topo, &test),
                eplb: imbalance(pe, &topo, &test),
                skua: imbalance(ps, &topo, &test),
            }
        })
        .collect())
}

fn eplb(topo: &Topology, load: &ExpertLoad) -> Result<Placement, MoeError> {
    EplbGreedy {
        mode: EplbMode::Global,
    }
    .plan(&PlanRequest::new(topo, load, 1))
}

fn skua(topo: &Topology, trace: &TokenTrace, seed: u64) -> Result<Placement, MoeError> {
    let load = trace.counts();
    let futures = bootstrap_futures(trace, FUTURES, seed);
    let mut req = PlanRequest::new(topo, &load, 1);
    req.futures = &futures;
    SkuaPlanner::default().plan(&req)
}

fn imbalance(p: &Placement, topo: &Topology, load: &ExpertLoad) -> f64 {
    score(p, topo, load, None, &EvalConfig::default()).imbalance
}

/// Mean over layers of the Pearson correlation of two loads' per-expert values (a layer where
/// either load is constant counts as 0).
fn mean_layer_correlation(a: &ExpertLoad, b: &ExpertLoad) -> f64 {
    let layers = a.layers().min(b.layers());
    if layers == 0 {
        return 0.0;
    }
    let corr = |x: &[f64], y: &[f64]| {
        let n = x.len() as f64;
        let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
        let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
        for (u, v) in x.iter().zip(y) {
            sxy += (u - mx) * (v - my);
            sxx += (u - mx).powi(2);
            syy += (v - my).powi(2);
        }
        if sxx > 0.0 && syy > 0.0 {
            sxy / (sxx * syy).sqrt()
        } else {
            0.0
        }
    };
    (0..layers)
        .map(|l| corr(a.layer(l), b.layer(l)))
        .sum::<f64>()
        / layers as f64
}

/// Reads the three ESFT tasks.
pub fn read_tasks(opts: &StudyOptions) -> Result<Vec<EsftTask>, MoeError> {
    TASKS
        .iter()
        .map(|t| read_esft_task(&opts.data_dir.join("esft").join(t)))
        .collect()
}

/// Held-out halves of every task.
pub fn held_out(opts: &StudyOptions, tasks: &[EsftTask]) -> Result<Vec<HeldOutRow>, MoeError> {
    let topo = topology()?;
    let mut rows = Vec::new();
    for t in tasks {
        for (split, (train, test)) in [
            ("tokens", t.trace.token_halves()),
            ("sequences", t.trace.halves()),
        ] {
            let test_load = test.counts();
            let pe = eplb(&topo, &train.counts())?;
            let ps = skua(&topo, &train, opts.seed)?;
            let oracle = SkuaPlanner::default().plan(&PlanRequest::new(&topo, &test_load, 1))?;
            let draws =
                multinomial_noise(&test_load, test_load.layer_total(0), FLOOR_DRAWS, opts.seed);
            let floor = draws
                .iter()
                .map(|d| imbalance(&oracle, &topo, d))
                .sum::<f64>()
                / draws.len().max(1) as f64;
            rows.push(HeldOutRow {
                task: t.name.clone(),
                split: split.into(),
                eplb: imbalance(&pe, &topo, &test_load),
                skua: imbalance(&ps, &topo, &test_load),
                floor,
            });
        }
    }
    Ok(rows)
}

/// Every ordered pair of different tasks.
pub fn cross_task(opts: &StudyOptions, tasks: &[EsftTask]) -> Result<Vec<CrossRow>, MoeError> {
    let topo = topology()?;
    let Some(t0) = tasks.first() else {
        return Ok(Vec::new());
    };
    let uniform = uniform_plan(&topo, t0.trace.layers(), t0.trace.experts())?;
    let mut rows = Vec::new();
    // The scored task's first quarter of requests is what an adaptive planner sees before the
    // rest arrives; every column is scored on the rest.
    let plans = static_plans(&topo, tasks, opts.seed)?;
    for (ia, ib, seen, unseen) in task_pairs(tasks) {
        let (a, b) = (&tasks[ia], &tasks[ib]);
        let test = unseen.counts();
        let oracle = SkuaPlanner::default().plan(&PlanRequest::new(&topo, &test, 1))?;
        let (pe, ps) = &plans[ia];
        // Adaptation: incremental from skua's plan on A, on what was seen of B.
        let seen_load = seen.counts();
        let futures = bootstrap_futures(&seen, FUTURES, opts.seed);
        let mut req = PlanRequest::new(&topo, &seen_load, 1);
        req.futures = &futures;
        req.current = Some(ps);
        req.move_budget = Some((topo.slots() as f64 * ADAPT_BUDGET) as usize);
        let adapted = SkuaPlanner::default().plan(&req)?;
        let replanned = eplb(&topo, &seen_load)?;
        rows.push(CrossRow {
            plan_on: a.name.clone(),
            score_on: b.name.clone(),
            eplb: imbalance(pe, &topo, &test),
            skua: imbalance(ps, &topo, &test),
            uniform: imbalance(&uniform, &topo, &test),
            oracle: imbalance(&oracle, &topo, &test),
            load_corr: mean_layer_correlation(&a.trace.counts(), &test),
            skua_adapted: imbalance(&adapted, &topo, &test),
            skua_adapted_moves: ps.slots_moved(&adapted, &topo).iter().sum(),
            eplb_replanned: imbalance(&replanned, &topo, &test),
            eplb_replanned_moves: pe.slots_moved(&replanned, &topo).iter().sum(),
        });
    }
    Ok(rows)
}
