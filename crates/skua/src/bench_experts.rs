//! `skua bench experts`: the expert plane's benchmark studies (`skua_moe::study`) on the shared
//! data, rendered as text tables with ratio columns; `--json` writes the full report.
//!
//! Each section of [`skua_moe::study::StudyReport`] has its own renderer here, so a new study
//! adds one function and one line in [`render`].

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;
use skua_moe::locmoe::RoutingStats;
use skua_moe::study::{
    ADAPT_BUDGET, CrossBudgetRow, CrossRow, GPUS, GoldenRow, HeldOutRow, IncrementalRow,
    LOCALITY_FUTURES, LOCALITY_TRIALS, LocMoeStudy, LocalityStudy, StudyOptions, StudyReport,
    run_all,
};
use skua_moe::synth::{CalibrationReport, TraceStats};

use crate::Outcome;
use crate::output::{stage, table, thousands, write_json};

/// `skua bench experts`.
#[derive(Debug, Args)]
pub struct BenchExpertsArgs {
    /// The expert data folder (with eplb_golden/ and esft/).
    #[arg(
        long,
        env = "SKUA_MOE_DATA",
        default_value = "../shared/data/moe",
        value_name = "DIR"
    )]
    pub data: PathBuf,
    /// Timing repeats per planner and case (the median is reported).
    #[arg(long, default_value_t = 5, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub repeats: u64,
    /// Seed of every random draw (sampled futures, noise floor, generator).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Write the full report as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// What `--json` gets: the options, then the study report's own fields.
#[derive(Serialize)]
struct JsonReport<'a> {
    data: String,
    repeats: usize,
    seed: u64,
    elapsed_s: f64,
    #[serde(flatten)]
    report: &'a StudyReport,
}

/// Entry point of `skua bench experts`.
pub fn experts(a: &BenchExpertsArgs, quiet: bool) -> Result<Outcome> {
    if !a.data.is_dir() {
        bail!(
            "the expert data folder {} is missing: pass --data DIR (the folder holding \
             eplb_golden/ and esft/, e.g. ../shared/data/moe) or set SKUA_MOE_DATA",
            a.data.display()
        );
    }
    let t0 = Instant::now();
    let mut opts = StudyOptions::new(a.data.clone());
    opts.repeats = usize::try_from(a.repeats).unwrap_or(1);
    opts.seed = a.seed;
    let mut progress = |what: &str| stage(quiet, "study", what);
    let report = run_all(&opts, &mut progress)
        .with_context(|| format!("the expert-plane benchmark failed on {}", a.data.display()))?;
    let elapsed_s = t0.elapsed().as_secs_f64();
    println!("{}", render(&report, &opts, elapsed_s));
    if let Some(p) = &a.json {
        write_json(
            p,
            &JsonReport {
                data: a.data.display().to_string(),
                repeats: opts.repeats,
                seed: opts.seed,
                elapsed_s,
                report: &report,
            },
        )?;
    }
    Ok(Outcome::Ok)
}

/// Everything printed on stdout: one section per study.
fn render(r: &StudyReport, opts: &StudyOptions, elapsed_s: f64) -> String {
    let mut out = format!(
        "skua bench experts — {} (repeats {}, seed {})\n\n",
        opts.data_dir.display(),
        opts.repeats,
        opts.seed
    );
    out.push_str(&render_golden(&r.golden));
    out.push_str(&render_held_out(&r.held_out));
    out.push_str(&render_cross_task(&r.cross_task));
    out.push_str(&render_cross_budget(&r.cross_task_wide));
    out.push_str(&render_locality(&r.locality));
    out.push_str(&render_incremental(&r.incremental));
    out.push_str(&render_locmoe(&r.locmoe));
    out.push_str(&format!("done in {elapsed_s:.1} s\n"));
    out
}

/// `a / b` with three significant digits (`×0.983`, `×0.00232`, `×104`), or `-` when `b` is
/// not positive.
fn ratio(a: f64, b: f64) -> String {
    let r = a / b;
    if !(b > 0.0 && r.is_finite()) {
        return "-".into();
    }
    if r == 0.0 {
        return "×0".into();
    }
    let decimals = (2 - r.abs().log10().floor() as i32).max(0) as usize;
    format!("×{r:.decimals$}")
}

/// An imbalance (or any small share) with four decimals.
fn imb(x: f64) -> String {
    format!("{x:.4}")
}

/// A share as a percentage with one decimal.
fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// A number with three significant digits, in scientific notation when tiny.
fn sig(x: f64) -> String {
    if x != 0.0 && x.abs() < 1e-3 {
        format!("{x:.2e}")
    } else {
        let decimals = if x == 0.0 {
            0
        } else {
            (2 - x.abs().log10().floor() as i32).max(0) as usize
        };
        format!("{x:.decimals$}")
    }
}

/// Seconds with a precision that suits their size.
fn secs(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2}")
    } else if s >= 0.01 {
        format!("{s:.3}")
    } else {
        format!("{s:.5}")
    }
}

/// The EPLB golden files: exactness of the EPLB-equivalent, skua's peak against the reference,
/// planning times against the reference's.
fn render_golden(rows: &[GoldenRow]) -> String {
    let mut out = String::from(
        "== EPLB golden files ==\n\
         peak = mean over layers of max/mean GPU load; reference = DeepSeek's EPLB (its time \
         measured on a 2-core machine)\n",
    );
    if rows.is_empty() {
        out.push_str("(no golden files)\n\n");
        return out;
    }
    let quality: Vec<Vec<String>> = rows
        .iter()
        .map(|g| {
            vec![
                g.name.clone(),
                g.policy.clone(),
                format!("{}/{}", g.identical_layers, g.layers),
                g.eplb_worse_layers.to_string(),
                g.skua_worse_layers.to_string(),
                g.skua_better_layers.to_string(),
                format!("{:.4}", g.reference_peak),
                format!("{:.4}", g.eplb_peak),
                format!("{:.4}", g.skua_peak),
                ratio(g.skua_peak, g.reference_peak),
                format!("{}/{}", g.reference_duplicate_gpus, g.skua_duplicate_gpus),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "case",
            "policy",
            "identical",
            "eplb worse",
            "skua worse",
            "skua better",
            "ref peak",
            "eplb peak",
            "skua peak",
            "skua/ref",
            "dup GPUs ref/skua",
        ],
        &quality,
    ));
    out.push('\n');
    let times: Vec<Vec<String>> = rows
        .iter()
        .map(|g| {
            vec![
                g.name.clone(),
                g.shape.clone(),
                secs(g.reference_seconds),
                secs(g.eplb_seconds),
                secs(g.skua_seconds),
                ratio(g.eplb_seconds, g.reference_seconds),
                ratio(g.skua_seconds, g.reference_seconds),
                ratio(g.skua_seconds, g.eplb_seconds),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "case",
            "shape",
            "ref s",
            "eplb s",
            "skua s",
            "eplb/ref",
            "skua/ref",
            "skua/eplb",
        ],
        &times,
    ));
    out.push('\n');
    out
}

/// ESFT held-out halves: each planner's held-out imbalance against the noise floor.
fn render_held_out(rows: &[HeldOutRow]) -> String {
    let mut out = String::from(
        "== ESFT held-out halves ==\n\
         plan on one half of a task, score on the other (tokens: even/odd tokens; sequences: \
         even/odd requests); floor = skua's plan on the held-out half scored on multinomial \
         redraws of it (what sampling alone costs)\n",
    );
    if rows.is_empty() {
        out.push_str("(no rows)\n\n");
        return out;
    }
    let t: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.task.clone(),
                r.split.clone(),
                imb(r.eplb),
                imb(r.skua),
                imb(r.floor),
                ratio(r.skua, r.eplb),
                ratio(r.eplb, r.floor),
                ratio(r.skua, r.floor),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "task",
            "split",
            "eplb imb",
            "skua imb",
            "floor",
            "skua/eplb",
            "eplb/floor",
            "skua/floor",
        ],
        &t,
    ));
    out.push('\n');
    out
}

/// ESFT cross-task: plan on one task, score on another, against a data-blind plan and the
/// in-sample ideal.
fn render_cross_task(rows: &[CrossRow]) -> String {
    let mut out = String::from(
        "== ESFT cross-task ==\n\
         plan on one task, score on another; uniform = a plan that ignores the data, oracle = \
         skua planned on the scored task itself; load corr = mean over layers of the correlation \
         of the two tasks' per-expert loads (how much the planning task tells about the other)\n",
    );
    if rows.is_empty() {
        out.push_str("(no rows)\n\n");
        return out;
    }
    let t: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.plan_on.clone(),
                r.score_on.clone(),
                format!("{:.2}", r.load_corr),
                imb(r.uniform),
                imb(r.eplb),
                imb(r.skua),
                imb(r.oracle),
                ratio(r.skua, r.eplb),
                ratio(r.eplb, r.uniform),
                ratio(r.skua, r.uniform),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "plan on",
            "score on",
            "load corr",
            "uniform",
            "eplb",
            "skua",
            "oracle",
            "skua/eplb",
            "eplb/uniform",
            "skua/uniform",
        ],
        &t,
    ));
    out.push_str(&format!(
        "\nadapting after the first quarter of the scored task's requests (all columns are scored on the \
         remaining three quarters): skua re-plans incrementally from its plan on the first task, moving at \
         most {:.0} % of each layer's slots; EPLB re-plans from scratch\n",
        ADAPT_BUDGET * 100.0
    ));
    let t: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.plan_on.clone(),
                r.score_on.clone(),
                imb(r.eplb),
                imb(r.skua_adapted),
                thousands(r.skua_adapted_moves as u64),
                imb(r.eplb_replanned),
                thousands(r.eplb_replanned_moves as u64),
                ratio(r.skua_adapted, r.eplb),
                ratio(r.skua_adapted, r.eplb_replanned),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "plan on",
            "score on",
            "eplb static",
            "skua adapted",
            "moves",
            "eplb re-planned",
            "moves",
            "adapted/static",
            "adapted/re-planned",
        ],
        &t,
    ));
    out.push('\n');
    out
}

/// Cross-task at a wider slot budget: static plans on the first task against the data-blind plan.
fn render_cross_budget(rows: &[CrossBudgetRow]) -> String {
    let Some(first) = rows.first() else {
        return String::new();
    };
    let mut out = format!(
        "the same at {} slots ({} per GPU), static plans only: with spare slots for every expert, \
         a plan made on the wrong task's hot experts loses to the data-blind plan\n",
        first.slots,
        first.slots / GPUS
    );
    let t: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.plan_on.clone(),
                r.score_on.clone(),
                imb(r.uniform),
                imb(r.eplb),
                imb(r.skua),
                ratio(r.skua, r.eplb),
                ratio(r.uniform, r.eplb),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "plan on",
            "score on",
            "uniform",
            "eplb",
            "skua",
            "skua/eplb",
            "uniform/eplb",
        ],
        &t,
    ));
    out.push('\n');
    out
}

/// Locality on the generator: balance against nodes per token and cross-node traffic.
fn render_locality(l: &LocalityStudy) -> String {
    let g = &l.generator;
    let mut out = format!(
        "== Locality (synthetic, DeepSeek-V3-like router) ==\n\
         {}; {} experts in {} groups (top {} groups), top-{}, {} layers, {} tokens; planned on \
         window 0, scored on window 1; mean over {} generator seeds; skua plans with {} \
         sequence-bootstrap futures of window 0\n",
        l.topology,
        g.experts,
        g.groups,
        g.top_groups,
        g.top_k,
        g.layers,
        thousands(g.tokens as u64),
        LOCALITY_TRIALS,
        LOCALITY_FUTURES
    );
    if l.rows.is_empty() {
        out.push_str("(no rows)\n\n");
        return out;
    }
    let t: Vec<Vec<String>> = l
        .rows
        .iter()
        .map(|r| {
            vec![
                r.planner.clone(),
                imb(r.imbalance),
                imb(r.max_imbalance),
                imb(r.routed_imbalance),
                format!("{:.3}", r.nodes_per_token),
                pct(r.local_share),
                format!("{:.3}", r.cross_node_gb),
                secs(r.seconds),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "planner",
            "imbalance",
            "worst layer",
            "routed imb",
            "nodes/token",
            "local",
            "cross-node GB",
            "plan s",
        ],
        &t,
    ));
    for r in &l.rows {
        let per: Vec<String> = r
            .trials
            .iter()
            .map(|(i, n)| format!("{} at {n:.2}", imb(*i)))
            .collect();
        out.push_str(&format!("{} per seed: {}\n", r.planner, per.join(", ")));
    }
    if let Some(s) = l.rows.iter().find(|r| r.planner == "skua") {
        for e in l.rows.iter().filter(|r| r.planner != "skua") {
            out.push_str(&format!(
                "skua vs {}: imbalance {}, routed imbalance {}, nodes/token {}, cross-node {}\n",
                e.planner,
                ratio(s.imbalance, e.imbalance),
                ratio(s.routed_imbalance, e.routed_imbalance),
                ratio(s.nodes_per_token, e.nodes_per_token),
                ratio(s.cross_node_gb, e.cross_node_gb)
            ));
        }
    }
    out.push('\n');
    out
}

/// Incremental re-planning under drift: moves and imbalance against a full re-plan.
fn render_incremental(rows: &[IncrementalRow]) -> String {
    let mut out = String::from(
        "== Incremental re-planning under drift (synthetic) ==\n\
         plan on window 0; re-plan on window 1 in full or within a move budget; score on window \
         2 (keep = the window-0 plan unchanged)\n",
    );
    if rows.is_empty() {
        out.push_str("(no rows)\n\n");
        return out;
    }
    let mut t: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.trial.to_string(),
                r.full_moves.to_string(),
                r.incremental_moves.to_string(),
                ratio(r.incremental_moves as f64, r.full_moves as f64),
                imb(r.keep),
                imb(r.full),
                imb(r.incremental),
                ratio(r.incremental, r.full),
            ]
        })
        .collect();
    let n = rows.len() as f64;
    let mean = |f: &dyn Fn(&IncrementalRow) -> f64| rows.iter().map(f).sum::<f64>() / n;
    let (fm, im) = (
        mean(&|r| r.full_moves as f64),
        mean(&|r| r.incremental_moves as f64),
    );
    let (full, inc) = (mean(&|r| r.full), mean(&|r| r.incremental));
    t.push(vec![
        "mean".into(),
        format!("{fm:.0}"),
        format!("{im:.0}"),
        ratio(im, fm),
        imb(mean(&|r| r.keep)),
        imb(full),
        imb(inc),
        ratio(inc, full),
    ]);
    out.push_str(&table(
        &[
            "trial",
            "full moves",
            "incr moves",
            "incr/full",
            "keep",
            "full",
            "incremental",
            "incr/full imb",
        ],
        &t,
    ));
    out.push('\n');
    out
}

/// LocMoE's analysis: capacity floors, routing policies and the generator's calibration.
fn render_locmoe(l: &LocMoeStudy) -> String {
    let mut out = String::from("== LocMoE analysis ==\n");
    if !l.capacity_floor_share.is_empty() {
        let t: Vec<Vec<String>> = l
            .capacity_floor_share
            .iter()
            .map(|&(d, e, k, share)| vec![d.to_string(), e.to_string(), k.to_string(), sig(share)])
            .collect();
        out.push_str("capacity floor per expert, as a share of the mean expert load\n");
        out.push_str(&table(&["hidden", "experts", "top-k", "floor/mean"], &t));
        out.push('\n');
    }
    out.push_str(&render_routing(&l.routing));
    if let Some(c) = &l.calibration {
        out.push_str(&render_calibration(c));
    }
    out
}

/// Routing policies on the generator, with ratios to the first (plain) policy.
fn render_routing(rows: &[RoutingStats]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let base = &rows[0];
    let t: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.policy.clone(),
                r.tokens.to_string(),
                imb(r.expert_imbalance),
                imb(r.gpu_imbalance),
                format!("{:.3}", r.nodes_per_token),
                pct(r.local_share),
                pct(r.max_expert_share),
                ratio(r.gpu_imbalance, base.gpu_imbalance),
                ratio(r.nodes_per_token, base.nodes_per_token),
            ]
        })
        .collect();
    let mut out = format!(
        "routing policies on the DeepSeek-V3-like generator (ratios to {})\n",
        base.policy
    );
    out.push_str(&table(
        &[
            "policy",
            "tokens",
            "expert imb",
            "GPU imb",
            "nodes/token",
            "local",
            "top expert",
            "GPU imb ×",
            "nodes/token ×",
        ],
        &t,
    ));
    out.push('\n');
    out
}

/// The generator calibrated to a real trace: fitted parameters and the statistics side by side.
fn render_calibration(c: &CalibrationReport) -> String {
    let mut out = format!(
        "generator calibrated to ESFT intent: expert skew σ {:.4}, topic strength {:.4} ({} \
         evaluations of {} layers × {} tokens)\n",
        c.expert_skew,
        c.topic_strength,
        c.evaluations,
        c.fit_layers,
        thousands(c.fit_tokens as u64)
    );
    let row = |name: &str, f: &dyn Fn(&TraceStats) -> f64| {
        vec![
            name.to_string(),
            sig(f(&c.real)),
            sig(f(&c.synthetic)),
            ratio(f(&c.synthetic), f(&c.real)),
        ]
    };
    let t = vec![
        row("max/mean", &|s| s.max_over_mean),
        row("max/mean, lowest layer", &|s| s.max_over_mean_low),
        row("max/mean, highest layer", &|s| s.max_over_mean_high),
        row("CV of expert counts", &|s| s.cv),
        row("top-10% pair share", &|s| s.top_pair_share),
    ];
    out.push_str(&table(
        &["statistic", "real", "synthetic", "synth/real"],
        &t,
    ));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_and_seconds() {
        assert_eq!(ratio(1.0, 2.0), "×0.500");
        assert_eq!(ratio(0.00036, 0.155), "×0.00232");
        assert_eq!(ratio(104.39, 1.0), "×104");
        assert_eq!(ratio(1.0229, 1.0241), "×0.999");
        assert_eq!(ratio(1.0, 0.0), "-");
        assert_eq!(secs(2.0), "2.00");
        assert_eq!(secs(0.0439), "0.044");
        assert_eq!(secs(0.0001234), "0.00012");
        assert_eq!(sig(2.238e-184), "2.24e-184");
        assert_eq!(sig(0.0101776), "0.0102");
    }

    #[test]
    fn held_out_rows_get_ratio_columns() {
        let t = render_held_out(&[HeldOutRow {
            task: "law".into(),
            split: "sequences".into(),
            eplb: 0.04,
            skua: 0.03,
            floor: 0.02,
        }]);
        assert!(t.contains("skua/eplb"), "{t}");
        let row = t.lines().find(|l| l.starts_with("law")).expect("a law row");
        assert!(
            row.contains("×0.750") && row.contains("×2.00") && row.contains("×1.50"),
            "{row}"
        );
        assert!(render_held_out(&[]).contains("(no rows)"));
    }
}
