//! `skua simulate fidelity`: DistServe's 37 measured runs replayed through the simulator, the
//! per-run and per-system comparison, and the headline against the acceptance bars.
//!
//! By default the replay is `skua_serving::fidelity::study`: one prefill and one decode factor
//! per engine are fitted on every other run of each system (the *tuning* runs) and every run is
//! replayed with them; `--uncalibrated` replays the published profiles as they are.
//!
//! The bars: the median |relative error| of TTFT p50 and of TPOT p50 over the runs below the
//! measured knee is at most 15 % — over all those runs and over the held-out ones alone — and
//! every system's simulated knee lies within ±0.5 req/s of the measured one. A system without a
//! measured knee (p90 TTFT never crosses 1 s in the measured rates, or is above it already at
//! the lowest) passes when the simulation shows none either. The command reports; it exits 0
//! whether or not a bar is met.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;
use skua_serving::fidelity::{
    Calibration, FidelityReport, KNEE_TTFT_P90_MS, Knee, ReplayConfig, RunComparison, Scales,
    is_tuning_run, knees, median_abs_errors, read_runs, replay, study,
};

use super::input::check_data_dir;
use crate::Outcome;
use crate::cli::SimFidelityArgs;
use crate::output::{stage, table, write_json};

/// Acceptance bar on the median |relative error| of the p50s.
pub const ERROR_BAR: f64 = 0.15;
/// Acceptance bar on |simulated − measured knee|, requests/s.
pub const KNEE_BAR_RPS: f64 = 0.5;

/// One run, measured against simulated (ms).
#[derive(Debug, Serialize)]
struct RunRow {
    name: String,
    system: String,
    rate: f64,
    requests: usize,
    /// Whether the run tuned the calibration (the others are held out).
    tuning: bool,
    measured_ttft_p50_ms: f64,
    simulated_ttft_p50_ms: f64,
    measured_ttft_p90_ms: f64,
    simulated_ttft_p90_ms: f64,
    measured_tpot_p50_ms: f64,
    simulated_tpot_p50_ms: f64,
    measured_tpot_p90_ms: f64,
    simulated_tpot_p90_ms: f64,
    ttft_p50_rel_error: f64,
    tpot_p50_rel_error: f64,
    below_knee: bool,
}

impl RunRow {
    fn new(c: &RunComparison, tuning: bool) -> Self {
        RunRow {
            name: c.name.clone(),
            system: c.system.clone(),
            rate: c.rate,
            requests: c.requests,
            tuning,
            measured_ttft_p50_ms: c.real_ttft.0,
            simulated_ttft_p50_ms: c.sim_ttft.0,
            measured_ttft_p90_ms: c.real_ttft.1,
            simulated_ttft_p90_ms: c.sim_ttft.1,
            measured_tpot_p50_ms: c.real_tpot.0,
            simulated_tpot_p50_ms: c.sim_tpot.0,
            measured_tpot_p90_ms: c.real_tpot.1,
            simulated_tpot_p90_ms: c.sim_tpot.1,
            ttft_p50_rel_error: c.ttft_p50_error(),
            tpot_p50_rel_error: c.tpot_p50_error(),
            below_knee: c.below_knee,
        }
    }
}

/// One system's knee.
#[derive(Debug, Serialize)]
struct KneeRow {
    system: String,
    measured_rps: Option<f64>,
    simulated_rps: Option<f64>,
    difference_rps: Option<f64>,
    within_bar: bool,
}

impl From<&Knee> for KneeRow {
    fn from(k: &Knee) -> Self {
        let difference_rps = match (k.real, k.sim) {
            (Some(r), Some(s)) => Some(s - r),
            _ => None,
        };
        KneeRow {
            system: k.system.clone(),
            measured_rps: k.real,
            simulated_rps: k.sim,
            difference_rps,
            within_bar: match (k.real, k.sim) {
                (None, None) => true,
                (Some(_), Some(_)) => difference_rps.is_some_and(|d| d.abs() <= KNEE_BAR_RPS),
                _ => false,
            },
        }
    }
}

/// Median |errors| of the p50s over one set of runs below the knee.
#[derive(Debug, Serialize)]
struct Errors {
    runs_below_knee: usize,
    ttft_p50_median_abs_error: f64,
    tpot_p50_median_abs_error: f64,
    /// Both at most the bar (a NaN, from no run below the knee, is not met).
    met: bool,
}

impl Errors {
    fn new(runs_below_knee: usize, (ttft, tpot): (f64, f64)) -> Self {
        Errors {
            runs_below_knee,
            ttft_p50_median_abs_error: ttft,
            tpot_p50_median_abs_error: tpot,
            met: ttft <= ERROR_BAR && tpot <= ERROR_BAR,
        }
    }
}

/// The headline figures and verdicts.
#[derive(Debug, Serialize)]
struct Headline {
    runs: usize,
    knee_ttft_p90_ms: f64,
    error_bar: f64,
    all: Errors,
    held_out: Errors,
    knee_bar_rps: f64,
    knees_within_bar: usize,
    systems: usize,
    knee_met: bool,
}

#[derive(Debug, Serialize)]
struct CalibrationRow {
    calibrated: bool,
    vllm: ScalesRow,
    distserve: ScalesRow,
}

#[derive(Debug, Serialize)]
struct ScalesRow {
    prefill: f64,
    decode: f64,
    per_sequence_ms: f64,
}

impl From<Scales> for ScalesRow {
    fn from(s: Scales) -> Self {
        ScalesRow {
            prefill: s.prefill,
            decode: s.decode,
            per_sequence_ms: s.per_sequence_ms,
        }
    }
}

#[derive(Debug, Serialize)]
struct Report {
    data: String,
    calibration: CalibrationRow,
    runs: Vec<RunRow>,
    knees: Vec<KneeRow>,
    headline: Headline,
}

/// Runs the fidelity replay and prints the tables.
pub fn fidelity(a: &SimFidelityArgs, quiet: bool) -> Result<Outcome> {
    check_data_dir(&a.data.data)?;
    let dir = a.data.data.join("distserve_ground_truth/csv");
    let base = ReplayConfig::new(&a.data.data);
    let t0 = std::time::Instant::now();
    stage(
        quiet,
        "replay",
        &format!(
            "{} DistServe's measured runs in {} …",
            if a.uncalibrated {
                "replaying"
            } else {
                "calibrating on and replaying"
            },
            dir.display()
        ),
    );
    let found = if a.uncalibrated {
        uncalibrated(&dir, &base)
    } else {
        study(&dir, &base)
    }
    .with_context(|| {
        format!(
            "cannot replay DistServe's measured runs in {}; they ship with the serving data              (--data DIR or SKUA_SERVING_DATA)",
            dir.display()
        )
    })?;
    stage(
        quiet,
        "replay",
        &format!(
            "{} runs in {:.2} s",
            found.rows.len(),
            t0.elapsed().as_secs_f64()
        ),
    );
    let report = build(&dir.display().to_string(), &found, !a.uncalibrated);
    println!("{}", render(&report));
    if let Some(p) = &a.json {
        write_json(p, &report)?;
    }
    Ok(Outcome::Ok)
}

/// Like `study`, with the published profiles as they are.
fn uncalibrated(
    dir: &Path,
    base: &ReplayConfig,
) -> Result<FidelityReport, skua_serving::fidelity::FidelityError> {
    let runs = read_runs(dir)?;
    let mut rows = Vec::with_capacity(runs.len());
    for (i, run) in runs.iter().enumerate() {
        rows.push((replay(run, base)?, is_tuning_run(&runs, i)));
    }
    let all: Vec<RunComparison> = rows.iter().map(|(r, _)| r.clone()).collect();
    let held: Vec<RunComparison> = rows
        .iter()
        .filter(|(_, t)| !t)
        .map(|(r, _)| r.clone())
        .collect();
    Ok(FidelityReport {
        calibration: Calibration::default(),
        knees: knees(&all),
        errors_all: median_abs_errors(&all),
        errors_held_out: median_abs_errors(&held),
        rows,
    })
}

fn build(data: &str, f: &FidelityReport, calibrated: bool) -> Report {
    let knee_rows: Vec<KneeRow> = f.knees.iter().map(KneeRow::from).collect();
    let knees_within_bar = knee_rows.iter().filter(|k| k.within_bar).count();
    let below = |held_out_only: bool| {
        f.rows
            .iter()
            .filter(|(r, tuning)| r.below_knee && !(held_out_only && *tuning))
            .count()
    };
    let headline = Headline {
        runs: f.rows.len(),
        knee_ttft_p90_ms: KNEE_TTFT_P90_MS,
        error_bar: ERROR_BAR,
        all: Errors::new(below(false), f.errors_all),
        held_out: Errors::new(below(true), f.errors_held_out),
        knee_bar_rps: KNEE_BAR_RPS,
        knees_within_bar,
        systems: knee_rows.len(),
        knee_met: !knee_rows.is_empty() && knees_within_bar == knee_rows.len(),
    };
    Report {
        data: data.to_string(),
        calibration: CalibrationRow {
            calibrated,
            vllm: f.calibration.vllm.into(),
            distserve: f.calibration.distserve.into(),
        },
        runs: f.rows.iter().map(|(c, t)| RunRow::new(c, *t)).collect(),
        knees: knee_rows,
        headline,
    }
}

fn f1(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.1}")
    } else {
        "-".into()
    }
}

fn signed_pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:+.1}%", 100.0 * v)
    } else {
        "-".into()
    }
}

fn rps(v: Option<f64>) -> String {
    v.map_or_else(|| "none".into(), |x| format!("{x:.2}"))
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT MET" }
}

fn render(r: &Report) -> String {
    let runs: Vec<Vec<String>> = r
        .runs
        .iter()
        .map(|x| {
            vec![
                x.name.clone(),
                x.system.clone(),
                format!("{}", x.rate),
                x.requests.to_string(),
                if x.tuning { "tuning" } else { "held out" }.into(),
                format!(
                    "{} / {}",
                    f1(x.measured_ttft_p50_ms),
                    f1(x.simulated_ttft_p50_ms)
                ),
                format!(
                    "{} / {}",
                    f1(x.measured_ttft_p90_ms),
                    f1(x.simulated_ttft_p90_ms)
                ),
                format!(
                    "{} / {}",
                    f1(x.measured_tpot_p50_ms),
                    f1(x.simulated_tpot_p50_ms)
                ),
                format!(
                    "{} / {}",
                    f1(x.measured_tpot_p90_ms),
                    f1(x.simulated_tpot_p90_ms)
                ),
                signed_pct(x.ttft_p50_rel_error),
                signed_pct(x.tpot_p50_rel_error),
                if x.below_knee { "below" } else { "above" }.into(),
            ]
        })
        .collect();
    let mut out = table(
        &[
            "run",
            "system",
            "req/s",
            "requests",
            "split",
            "TTFT p50 meas/sim ms",
            "TTFT p90 meas/sim ms",
            "TPOT p50 meas/sim ms",
            "TPOT p90 meas/sim ms",
            "TTFT p50 err",
            "TPOT p50 err",
            "knee",
        ],
        &runs,
    );
    out.push('\n');
    let c = &r.calibration;
    out.push_str(&if c.calibrated {
        format!(
            "calibration (fitted on the tuning runs below the knee): vLLM prefill × {:.2}, decode × {:.2}, \
             {:.2} ms per sequence; DistServe prefill × {:.2}, decode × {:.2}, {:.2} ms per sequence\n\n",
            c.vllm.prefill,
            c.vllm.decode,
            c.vllm.per_sequence_ms,
            c.distserve.prefill,
            c.distserve.decode,
            c.distserve.per_sequence_ms
        )
    } else {
        "calibration: none (--uncalibrated: the published profiles as they are)\n\n".to_string()
    });
    let knees: Vec<Vec<String>> = r
        .knees
        .iter()
        .map(|k| {
            vec![
                k.system.clone(),
                rps(k.measured_rps),
                rps(k.simulated_rps),
                k.difference_rps
                    .map_or_else(|| "-".into(), |d| format!("{d:+.2}")),
                if k.within_bar { "yes" } else { "no" }.into(),
            ]
        })
        .collect();
    out.push_str(&format!(
        "knee: the rate (req/s) at which p90 TTFT crosses {} ms\n",
        r.headline.knee_ttft_p90_ms
    ));
    out.push_str(&table(
        &[
            "system",
            "measured",
            "simulated",
            "difference",
            "within ±0.5",
        ],
        &knees,
    ));
    out.push('\n');
    let h = &r.headline;
    let bar = format!("≤ {:.0}%", 100.0 * h.error_bar);
    let err = |v: f64| {
        if v.is_finite() {
            format!("{:.1}%", 100.0 * v)
        } else {
            "-".into()
        }
    };
    let mut headline = Vec::new();
    for (set, e) in [("all", &h.all), ("held-out", &h.held_out)] {
        for (what, v) in [
            ("TTFT", e.ttft_p50_median_abs_error),
            ("TPOT", e.tpot_p50_median_abs_error),
        ] {
            headline.push(vec![
                format!(
                    "median |error| {what} p50, {set} runs below the knee ({})",
                    e.runs_below_knee
                ),
                err(v),
                bar.clone(),
                verdict(v <= h.error_bar).into(),
            ]);
        }
    }
    headline.push(vec![
        "knee within ±0.5 req/s".into(),
        format!("{} of {} systems", h.knees_within_bar, h.systems),
        "all systems".into(),
        verdict(h.knee_met).into(),
    ]);
    out.push_str(&table(&["fidelity", "value", "bar", "verdict"], &headline));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comparison(system: &str, rate: f64, real: (f64, f64), sim: (f64, f64)) -> RunComparison {
        RunComparison {
            name: format!("{system}-{rate}"),
            system: system.into(),
            rate,
            requests: 100,
            real_ttft: real,
            sim_ttft: sim,
            real_tpot: (50.0, 60.0),
            sim_tpot: (55.0, 66.0),
            below_knee: real.1 <= KNEE_TTFT_P90_MS,
        }
    }

    fn study_of(rows: Vec<(RunComparison, bool)>) -> FidelityReport {
        let all: Vec<RunComparison> = rows.iter().map(|(r, _)| r.clone()).collect();
        let held: Vec<RunComparison> = rows
            .iter()
            .filter(|(_, t)| !t)
            .map(|(r, _)| r.clone())
            .collect();
        FidelityReport {
            calibration: Calibration::default(),
            knees: knees(&all),
            errors_all: median_abs_errors(&all),
            errors_held_out: median_abs_errors(&held),
            rows,
        }
    }

    #[test]
    fn knee_rows_judge_the_difference_and_missing_knees() {
        let k = |real, sim| {
            KneeRow::from(&Knee {
                system: "s".into(),
                real,
                sim,
            })
        };
        assert!(k(Some(3.0), Some(3.4)).within_bar);
        assert!(!k(Some(3.0), Some(3.6)).within_bar);
        assert!(!k(Some(3.0), None).within_bar);
        assert!(!k(None, Some(3.0)).within_bar);
        assert!(k(None, None).within_bar);
        assert_eq!(k(Some(3.0), Some(2.5)).difference_rps, Some(-0.5));
    }

    #[test]
    fn headline_marks_bars_met_or_not() {
        // TTFT p50 errors +10 % (tuning) and +12 % (held out) below the knee; TPOT p50 +10 % in
        // every run (55 vs 50 ms); the run above the knee (TTFT −89 %) does not count.
        let f = study_of(vec![
            (comparison("a", 1.0, (100.0, 200.0), (110.0, 220.0)), true),
            (comparison("a", 2.0, (100.0, 800.0), (112.0, 900.0)), false),
            (comparison("a", 3.0, (900.0, 1800.0), (100.0, 1200.0)), true),
        ]);
        let r = build("d", &f, true);
        let h = &r.headline;
        assert_eq!(
            (h.runs, h.all.runs_below_knee, h.held_out.runs_below_knee),
            (3, 2, 1)
        );
        assert!((h.all.ttft_p50_median_abs_error - 0.11).abs() < 1e-12);
        assert!((h.held_out.ttft_p50_median_abs_error - 0.12).abs() < 1e-12);
        assert!((h.all.tpot_p50_median_abs_error - 0.10).abs() < 1e-12);
        assert!(h.all.met && h.held_out.met);
        // Measured knee: 800 → 1800 ms between 2 and 3 req/s, 1,000 ms at 2.2; simulated: 900 →
        // 1200 ms, 1,000 ms at 2.33: within 0.5.
        assert_eq!(r.knees.len(), 1);
        assert!(h.knee_met);
        assert!(!render(&r).contains("NOT MET"));

        // A TTFT error of 30 % fails the bar and the table says so.
        let f = study_of(vec![(
            comparison("b", 1.0, (100.0, 200.0), (130.0, 260.0)),
            false,
        )]);
        let r = build("d", &f, false);
        assert!(!r.headline.all.met && !r.headline.held_out.met);
        let text = render(&r);
        assert!(
            text.contains("NOT MET") && text.contains("--uncalibrated"),
            "{text}"
        );
    }
}
