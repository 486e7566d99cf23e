//! Fitting the calibration on half of the runs, and the whole study.

use std::path::Path;

use super::{
    Calibration, FidelityError, KNEE_TTFT_P90_MS, Knee, MeasuredRun, ReplayConfig, RunComparison,
    Scales, System, knees, median_abs_errors, p50_p90, read_runs, replay,
};
use crate::sim::Percentiles;

/// Which runs tune the calibration: every other run of each system in (rate, requests) order,
/// starting with the first; the others are held out.
pub fn is_tuning_run(runs: &[MeasuredRun], index: usize) -> bool {
    let system = runs[index].system.label();
    let mut same: Vec<usize> = (0..runs.len())
        .filter(|&i| runs[i].system.label() == system)
        .collect();
    same.sort_by(|&a, &b| {
        runs[a]
            .rate
            .total_cmp(&runs[b].rate)
            .then(runs[a].requests_sent.cmp(&runs[b].requests_sent))
            .then(a.cmp(&b))
    });
    same.iter()
        .position(|&i| i == index)
        .is_some_and(|p| p % 2 == 0)
}

/// The per-sequence overhead's grids: 0.1 to 1 ms in 0.1 ms steps, then 0.05 ms around the best.
const PER_SEQ_COARSE_MS: f64 = 0.1;
const PER_SEQ_FINE_MS: f64 = 0.05;
/// Least improvement of the tuning runs' median |TPOT p50 error| (a share) that keeps the
/// per-sequence overhead.
const PER_SEQ_MIN_GAIN: f64 = 0.02;

/// Fits the calibration on the tuning runs below the knee (see [`is_tuning_run`]), per engine:
/// the decode factor that minimises the median |TPOT p50 error|, then the prefill factor that
/// minimises the median |TTFT p50 error|, each on a grid of 0.02 steps.
pub fn calibrate(runs: &[MeasuredRun], base: &ReplayConfig) -> Result<Calibration, FidelityError> {
    let mut cal = Calibration::default();
    for vllm in [true, false] {
        let tuning: Vec<&MeasuredRun> = runs
            .iter()
            .enumerate()
            .filter(|(i, r)| is_tuning_run(runs, *i) && (r.system == System::Vllm) == vllm)
            .map(|(_, r)| r)
            .filter(|r| {
                p50_p90(r.requests.iter().map(|q| q.ttft_ms).collect()).1 <= KNEE_TTFT_P90_MS
            })
            .collect();
        if tuning.is_empty() {
            continue;
        }
        let set = |cal: &mut Calibration, s: Scales| {
            if vllm {
                cal.vllm = s;
            } else {
                cal.distserve = s;
            }
        };
        let score = |cal: Calibration, tpot: bool| -> Result<f64, FidelityError> {
            let cfg = ReplayConfig {
                calibration: cal,
                ..base.clone()
            };
            let mut errs = Vec::new();
            for r in &tuning {
                let c = replay(r, &cfg)?;
                let e = if tpot {
                    c.tpot_p50_error()
                } else {
                    c.ttft_p50_error()
                };
                if e.is_finite() {
                    errs.push(e.abs());
                }
            }
            Ok(Percentiles::of(errs).map_or(f64::INFINITY, |p| p.p50))
        };
        // Decode: the factor alone, then with a per-sequence overhead (it grows with the batch,
        // so it is what a load-dependent TPOT error calls for): a coarse grid, then a finer one
        // around its best. The overhead is a second parameter: it is kept only when it improves
        // the tuning runs' median error by PER_SEQ_MIN_GAIN.
        let fit =
            |grid: &mut dyn Iterator<Item = (f64, f64)>| -> Result<(f64, f64, f64), FidelityError> {
                let mut best = (f64::INFINITY, 1.0, 0.0);
                for (d, s) in grid {
                    let mut c = cal;
                    set(
                        &mut c,
                        Scales {
                            prefill: 1.0,
                            decode: d,
                            per_sequence_ms: s,
                        },
                    );
                    let e = score(c, true)?;
                    if e < best.0 - 1e-12 {
                        best = (e, d, s);
                    }
                }
                Ok(best)
            };
        let factor = |k: i32, step: f64| 0.8 + step * f64::from(k);
        let without = fit(&mut (0..=40).map(|k| (factor(k, 0.02), 0.0)))?;
        let coarse = fit(&mut (1..=10).flat_map(|j| {
            (0..=20).map(move |k| (factor(k, 0.04), PER_SEQ_COARSE_MS * f64::from(j)))
        }))?;
        let fine = fit(&mut (-1..=1).flat_map(|j| {
            (-2..=2).map(move |k| {
                (
                    coarse.1 + 0.02 * f64::from(k),
                    (coarse.2 + PER_SEQ_FINE_MS * f64::from(j)).max(PER_SEQ_FINE_MS),
                )
            })
        }))?;
        let with = if fine.0 <= coarse.0 { fine } else { coarse };
        let best = if without.0 - with.0 >= PER_SEQ_MIN_GAIN {
            with
        } else {
            without
        };
        let per_sequence_ms = best.2;
        let decode = best.1;
        let mut best = (f64::INFINITY, 1.0);
        for k in 0..=30 {
            let p = 0.7 + 0.02 * f64::from(k);
            let mut c = cal;
            set(
                &mut c,
                Scales {
                    prefill: p,
                    decode,
                    per_sequence_ms,
                },
            );
            let e = score(c, false)?;
            if e < best.0 - 1e-12 {
                best = (e, p);
            }
        }
        set(
            &mut cal,
            Scales {
                prefill: best.1,
                decode,
                per_sequence_ms,
            },
        );
    }
    Ok(cal)
}

/// The whole fidelity study: calibration, every run, the knees and the headline errors.
#[derive(Debug, Clone)]
pub struct FidelityReport {
    /// The fitted calibration.
    pub calibration: Calibration,
    /// Every run, in [`read_runs`] order, with whether it tuned the calibration.
    pub rows: Vec<(RunComparison, bool)>,
    /// Knees per system (all runs).
    pub knees: Vec<Knee>,
    /// Median |TTFT p50 error| and |TPOT p50 error| below the knee, all runs.
    pub errors_all: (f64, f64),
    /// The same over the held-out runs only.
    pub errors_held_out: (f64, f64),
}

/// Reads the runs in `ground_truth_dir`, fits the calibration on the tuning runs, replays every
/// run with it and summarises.
pub fn study(
    ground_truth_dir: &Path,
    base: &ReplayConfig,
) -> Result<FidelityReport, FidelityError> {
    let runs = read_runs(ground_truth_dir)?;
    let calibration = calibrate(&runs, base)?;
    let cfg = ReplayConfig {
        calibration,
        ..base.clone()
    };
    let mut rows = Vec::with_capacity(runs.len());
    for (i, run) in runs.iter().enumerate() {
        rows.push((replay(run, &cfg)?, is_tuning_run(&runs, i)));
    }
    let all: Vec<RunComparison> = rows.iter().map(|(r, _)| r.clone()).collect();
    let held: Vec<RunComparison> = rows
        .iter()
        .filter(|(_, tuning)| !tuning)
        .map(|(r, _)| r.clone())
        .collect();
    Ok(FidelityReport {
        calibration,
        knees: knees(&all),
        errors_all: median_abs_errors(&all),
        errors_held_out: median_abs_errors(&held),
        rows,
    })
}
