//! `skua experts evaluate`: plan on training data, score on held-out data, every planner side by
//! side, with the noise floor of the held-out counts.
//!
//! The noise floor of a planner: plan with it on the held-out counts themselves, then score that
//! plan on multinomial redraws of those counts (as many draws per layer as the held-out data has
//! token–expert assignments) and average the imbalance. It is the imbalance a plan that knew the
//! held-out distribution exactly would still see from sampling alone; a held-out imbalance near
//! it leaves little for a better forecast to win.

use std::time::Instant;

use anyhow::{Result, bail};
use serde::Serialize;
use skua_moe::eval::{EvalConfig, Score, score};
use skua_moe::forecast::multinomial_noise;

use skua_moe::plan::PlanRequest;
use skua_moe::{ExpertLoad, Topology};

use super::args::{ExpertsEvaluateArgs, PlannerArg, SplitArg};
use super::input::{self, Data, Input, Source, futures_for};
use crate::Outcome;
use crate::output::{stage, table, thousands, write_json};

/// Everything `--json` gets.
#[derive(Debug, Serialize)]
struct EvalReport {
    train: InputInfo,
    test: InputInfo,
    split: Option<&'static str>,
    topology: String,
    groups: usize,
    capacity_factor: f64,
    seed: u64,
    noise_draws: usize,
    /// Draws per layer of each noise-floor redraw (the held-out mean layer total).
    noise_assignments_per_layer: f64,
    planners: Vec<PlannerResult>,
}

#[derive(Debug, Serialize)]
struct InputInfo {
    what: String,
    layers: usize,
    experts: usize,
    windows: usize,
    tokens: Option<usize>,
    sequences: Option<usize>,
}

impl InputInfo {
    fn of(i: &Input) -> Self {
        Self {
            what: i.what.clone(),
            layers: i.load.layers(),
            experts: i.load.experts(),
            windows: i.history.len(),
            tokens: i.trace.as_ref().map(|t| t.tokens()),
            sequences: i.trace.as_ref().map(|t| t.sequences()),
        }
    }
}

#[derive(Debug, Serialize)]
struct PlannerResult {
    planner: String,
    futures: usize,
    /// Why the planner produced no placement (the rest is then empty).
    error: Option<String>,
    plan_seconds: Option<f64>,
    /// The placement on the training load it was planned for.
    train: Option<Score>,
    /// The placement on the held-out load (and tokens, when the held-out data has them).
    test: Option<Score>,
    noise_floor: Option<NoiseFloor>,
}

#[derive(Debug, Serialize)]
struct NoiseFloor {
    /// Mean imbalance over the draws.
    mean_imbalance: f64,
    /// Lowest and highest draw.
    min_imbalance: f64,
    max_imbalance: f64,
    /// The plan made on the held-out counts, scored on those counts.
    in_sample_imbalance: f64,
}

/// `skua experts evaluate`.
pub fn evaluate(a: &ExpertsEvaluateArgs, quiet: bool) -> Result<Outcome> {
    let t0 = Instant::now();
    let (mut train, test) = inputs(a)?;
    train.load = input::forecast(&train, a.forecaster)?;
    for (side, i) in [("train", &train), ("test", &test)] {
        stage(quiet, side, &format!("{}: {}", i.what, i.shape()));
    }
    stage(
        quiet,
        "load",
        &format!("read in {:.2} s", t0.elapsed().as_secs_f64()),
    );
    check_same_shape(&train, &test)?;
    let topo = input::topology(&a.topology, None)?;
    let groups = input::groups(&a.topology, None);
    let planners = if a.planners.is_empty() {
        default_planners(groups, &topo, quiet)
    } else {
        let mut v = a.planners.clone();
        let mut seen = Vec::new();
        v.retain(|p| {
            let new = !seen.contains(p);
            seen.push(*p);
            new
        });
        v
    };
    let cfg = EvalConfig {
        capacity_factor: a.capacity_factor,
        ..EvalConfig::default()
    };
    let futures = if a.futures > 0
        && planners.contains(&PlannerArg::Skua)
        && !input::skips_futures(a.forecaster)
    {
        futures_for(
            &train.load,
            train.trace.as_ref(),
            &train.history,
            a.futures,
            a.seed,
        )
    } else {
        Vec::new()
    };
    let draws_per_layer = test.mean_layer_total();
    let draws = multinomial_noise(&test.load, draws_per_layer, a.noise_draws, a.seed);
    let mut results = Vec::with_capacity(planners.len());
    for &p in &planners {
        let label = input::planner_label(p, groups, &topo);
        stage(quiet, "plan", &format!("{label} …"));
        let r = evaluate_one(
            (p, a.locality_slack),
            &label,
            &train,
            &test,
            &topo,
            groups,
            &futures,
            &draws,
            &cfg,
        );
        if let Some(e) = &r.error {
            stage(quiet, "plan", &format!("{label} failed: {e}"));
        }
        results.push(r);
    }
    let report = EvalReport {
        train: InputInfo::of(&train),
        test: InputInfo::of(&test),
        split: a.split.map(|s| match s {
            SplitArg::Halves => "halves",
            SplitArg::NextWindow => "next-window",
        }),
        topology: input::describe_topology(&topo, groups),
        groups,
        capacity_factor: a.capacity_factor,
        seed: a.seed,
        noise_draws: a.noise_draws,
        noise_assignments_per_layer: draws_per_layer,
        planners: results,
    };
    print!("{}", render(&report));
    if let Some(p) = &a.json {
        write_json(p, &report)?;
    }
    let failed: Vec<&str> = report
        .planners
        .iter()
        .filter(|r| r.error.is_some())
        .map(|r| r.planner.as_str())
        .collect();
    if !failed.is_empty() {
        bail!(
            "{} of {} planners failed ({}); see the table for why",
            failed.len(),
            report.planners.len(),
            failed.join(", ")
        );
    }
    Ok(Outcome::Ok)
}

/// The training and held-out inputs, from one split input or two inputs.
fn inputs(a: &ExpertsEvaluateArgs) -> Result<(Input, Input)> {
    if let Some(split) = a.split {
        let source = match (&a.load, &a.esft) {
            (Some(p), _) => Source::Load {
                path: p.clone(),
                domain: None,
            },
            (_, Some(d)) => Source::Esft(d.clone()),
            _ => bail!("--split needs one input: --load FILE or --esft DIR"),
        };
        let loaded = input::read(&source, &a.read)?;
        let what = loaded.what;
        return match (split, loaded.data) {
            (SplitArg::Halves, Data::Tokens(t)) => {
                if t.sequences() < 2 {
                    bail!("{what}: --split halves needs at least 2 sequences, it has 1");
                }
                let (even, odd) = t.halves();
                Ok((
                    Input::from_trace(format!("{what}, even sequences"), even),
                    Input::from_trace(format!("{what}, odd sequences"), odd),
                ))
            }
            (SplitArg::Halves, _) => bail!(
                "{what}: --split halves needs per-token data (--esft DIR, or --load FILE \
                 --format tokens)"
            ),
            (SplitArg::NextWindow, Data::Windows(w)) => {
                let n = w.loads.len();
                if n < 2 {
                    bail!("{what}: --split next-window needs at least 2 windows, it has {n}");
                }
                let ids = loaded.layer_ids;
                let train = Input::from_windows(
                    format!("{what}, windows {}…{}", w.windows[0], w.windows[n - 2]),
                    w.loads[..n - 1].to_vec(),
                    ids.clone(),
                );
                let test = Input::from_windows(
                    format!("{what}, window {}", w.windows[n - 1]),
                    vec![w.loads[n - 1].clone()],
                    ids,
                );
                Ok((train, test))
            }
            (SplitArg::NextWindow, _) => {
                bail!("{what}: --split next-window needs windowed data (--format long or trtllm)")
            }
        };
    }
    let side = |load: &Option<std::path::PathBuf>,
                esft: &Option<std::path::PathBuf>,
                domain: &Option<String>,
                windows: &[String],
                flag: &str|
     -> Result<Input> {
        let source = match (load, esft) {
            (Some(p), _) => Source::Load {
                path: p.clone(),
                domain: domain.clone(),
            },
            (_, Some(d)) => Source::Esft(d.clone()),
            _ => bail!("give the {flag} data: --{flag}-load FILE or --{flag}-esft DIR"),
        };
        input::read(&source, &a.read)?.into_input(windows)
    };
    let train = side(
        &a.train_load,
        &a.train_esft,
        &a.train_domain,
        &a.train_window,
        "train",
    )?;
    let test = side(
        &a.test_load,
        &a.test_esft,
        &a.test_domain,
        &a.test_window,
        "test",
    )?;
    Ok((train, test))
}

fn check_same_shape(train: &Input, test: &Input) -> Result<()> {
    let shape = |i: &Input| (i.load.layers(), i.load.experts());
    if shape(train) != shape(test) {
        bail!(
            "the training data is {} layers × {} experts, the held-out data {} × {}: they must \
             be of one model",
            train.load.layers(),
            train.load.experts(),
            test.load.layers(),
            test.load.experts()
        );
    }
    if let (Some(a), Some(b)) = (&train.layer_ids, &test.layer_ids)
        && a != b
    {
        bail!("the training data covers model layers {a:?}, the held-out data {b:?}");
    }
    Ok(())
}

/// skua and EPLB's own choice, plus EPLB's global policy when its own choice is hierarchical
/// (so both EPLB policies are compared); skua alone when the hardware is not EPLB's shape.
fn default_planners(groups: usize, topo: &Topology, quiet: bool) -> Vec<PlannerArg> {
    if topo.uniform_gpus_per_node().is_none() || topo.uniform_slots_per_gpu().is_none() {
        stage(
            quiet,
            "note",
            "EPLB needs the same GPUs per node and slots per GPU: comparing skua alone",
        );
        return vec![PlannerArg::Skua];
    }
    let mut v = vec![PlannerArg::Skua, PlannerArg::Eplb];
    if topo.nodes() > 1 && input::eplb_auto_policy(groups, topo) == "hierarchical" {
        v.push(PlannerArg::EplbGlobal);
    }
    v
}

#[allow(clippy::too_many_arguments)]
fn evaluate_one(
    (p, locality_slack): (PlannerArg, f64),
    label: &str,
    train: &Input,
    test: &Input,
    topo: &Topology,
    groups: usize,
    futures: &[ExpertLoad],
    draws: &[ExpertLoad],
    cfg: &EvalConfig,
) -> PlannerResult {
    let planner = input::planner(p, locality_slack);
    let skua = p == PlannerArg::Skua;
    let mut req = PlanRequest::new(topo, &train.load, groups);
    if skua {
        req.futures = futures;
        req.tokens = train.trace.as_ref();
    }
    let mut out = PlannerResult {
        planner: label.to_string(),
        futures: req.futures.len(),
        error: None,
        plan_seconds: None,
        train: None,
        test: None,
        noise_floor: None,
    };
    let t = Instant::now();
    let placement = match planner.plan(&req) {
        Ok(x) => x,
        Err(e) => {
            out.error = Some(e.to_string());
            return out;
        }
    };
    out.plan_seconds = Some(t.elapsed().as_secs_f64());
    out.train = Some(score(&placement, topo, &train.load, None, cfg));
    out.test = Some(score(
        &placement,
        topo,
        &test.load,
        test.trace.as_ref(),
        cfg,
    ));
    // A plan that knew the held-out counts: balance only (no futures, no locality).
    match planner.plan(&PlanRequest::new(topo, &test.load, groups)) {
        Ok(knew) => {
            let imb: Vec<f64> = draws
                .iter()
                .map(|d| score(&knew, topo, d, None, cfg).imbalance)
                .collect();
            out.noise_floor = Some(NoiseFloor {
                mean_imbalance: imb.iter().sum::<f64>() / imb.len().max(1) as f64,
                min_imbalance: imb.iter().copied().fold(f64::INFINITY, f64::min),
                max_imbalance: imb.iter().copied().fold(0.0, f64::max),
                in_sample_imbalance: score(&knew, topo, &test.load, None, cfg).imbalance,
            });
        }
        Err(e) => out.error = Some(format!("planning on the held-out counts: {e}")),
    }
    out
}

/// A share as a percentage with one decimal.
fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// The text report.
fn render(r: &EvalReport) -> String {
    let mut out = String::from("skua experts evaluate — plan on training data, score held out\n");
    let info = |i: &InputInfo| {
        let mut s = format!("{} ({} layers × {} experts", i.what, i.layers, i.experts);
        if let (Some(t), Some(q)) = (i.tokens, i.sequences) {
            s.push_str(&format!(
                ", {} tokens in {} sequences",
                thousands(t as u64),
                thousands(q as u64)
            ));
        }
        s.push(')');
        s
    };
    out.push_str(&format!("train     {}\n", info(&r.train)));
    out.push_str(&format!("test      {}\n", info(&r.test)));
    out.push_str(&format!("hardware  {}\n", r.topology));
    out.push_str(&format!(
        "scores    imbalance = max/mean − 1 of GPU loads (replicas share their expert's load \
         equally), mean over layers; drops above {}× the mean GPU load\n\n",
        r.capacity_factor
    ));
    let routed = r.test.tokens.is_some();
    let mut header = vec![
        "planner",
        "futures",
        "plan s",
        "train imb",
        "test imb",
        "worst layer",
        "balancedness",
        "drops",
    ];
    if routed {
        header.extend(["nodes/token", "local", "cross-node MB"]);
    }
    header.push("noise floor");
    let rows: Vec<Vec<String>> = r
        .planners
        .iter()
        .map(|p| {
            let mut row = vec![p.planner.clone(), p.futures.to_string()];
            match (&p.plan_seconds, &p.train, &p.test) {
                (Some(secs), Some(tr), Some(te)) => {
                    row.extend([
                        format!("{secs:.3}"),
                        format!("{:.4}", tr.imbalance),
                        format!("{:.4}", te.imbalance),
                        format!("{:.4}", te.max_imbalance),
                        format!("{:.4}", te.balancedness),
                        pct(te.drop_rate),
                    ]);
                    if routed {
                        let f =
                            |x: Option<f64>, d: usize| x.map_or("-".into(), |v| format!("{v:.d$}"));
                        row.push(f(te.nodes_per_token, 3));
                        row.push(te.local_share.map_or("-".into(), pct));
                        row.push(
                            te.cross_node_bytes
                                .map_or("-".into(), |b| thousands((b / 1e6).round() as u64)),
                        );
                    }
                    row.push(
                        p.noise_floor
                            .as_ref()
                            .map_or("-".into(), |n| format!("{:.4}", n.mean_imbalance)),
                    );
                }
                _ => {
                    row.push("failed".into());
                    row.resize(header.len(), "-".into());
                }
            }
            row
        })
        .collect();
    out.push_str(&table(&header, &rows));
    out.push('\n');
    for p in &r.planners {
        if let Some(e) = &p.error {
            out.push_str(&format!("{} failed: {e}\n", p.planner));
        }
    }
    let held_out = |name: &str| {
        r.planners
            .iter()
            .find(|p| p.planner.starts_with(name))
            .and_then(|p| p.test.as_ref().map(|s| (p.planner.as_str(), s.imbalance)))
    };
    if let (Some((_, s)), Some((e_name, e))) = (held_out("skua"), held_out("eplb")) {
        let ratio = if e > 0.0 {
            format!("×{:.2}", s / e)
        } else {
            "n/a".into()
        };
        out.push_str(&format!(
            "skua vs {e_name}: held-out imbalance {s:.4} vs {e:.4} ({ratio})\n"
        ));
    }
    out.push_str(&format!(
        "noise floor: the imbalance a plan that knew the held-out distribution exactly would \
         still see from sampling alone (the planner on the held-out counts, scored on {} \
         multinomial redraws of {} assignments per layer, seed {})\n",
        r.noise_draws,
        thousands(r.noise_assignments_per_layer.round() as u64),
        r.seed
    ));
    out
}
