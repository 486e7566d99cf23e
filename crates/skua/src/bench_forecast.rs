//! `skua bench forecast`: every skua decision policy through the fleet benchmark protocol
//! (`../shared/docs/fleet-benchmark-protocol.md`, executed by [`skua_forecast::protocol`]) on
//! Bitbrains-500 and ASD (m0, m5), side by side with statsforecast 2.1.1
//! (`bench/forecast_peer.py`) when `--peer` is given.
//!
//! Both datasets are read through skua's own ingestion (ASD with the step-index time format and
//! two value columns), then prepared as the protocol says: Bitbrains on an hourly grid from
//! 2013-07-01 00:00 with interior gaps linearly interpolated; ASD as hourly means of 12 steps.
//!
//! Cost: each fit (one series, one cutoff: `fit` + `predict`, plus the window choices made
//! from it) is timed with the calling thread's CPU clock (`cpu_time::ThreadTime`), so the
//! figure is single-threaded CPU time even though series run in parallel on rayon's pool; the
//! peer times one `model.forecast` call with `time.process_time()` in one process. The
//! backtest wall time is the whole parallel run.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Result;
use cpu_time::ThreadTime;
use rayon::prelude::*;
use serde::Serialize;
use skua_core::{Forecast, RegularSeries};
use skua_forecast::FitError;
use skua_forecast::models::{all_models, by_name};
use skua_forecast::protocol::{
    DecisionPolicy, ProtocolConfig, SeriesResult, SummaryRow, fixed_window_ceiling, run_series,
    summarize,
};
use skua_forecast::select::{HindsightSelector, LowestMean, ModelPolicy};

mod data;
mod peer;

use data::{Dataset, load_asd, load_bitbrains};
use peer::{peer_lines, read_peer, run_peer};

use crate::Outcome;
use crate::cli::BenchForecastArgs;
use crate::output::{table, write_json};

/// One skua policy's results on one dataset.
struct SkuaRun {
    /// Per series, the CPU milliseconds of each fit.
    cpu_by_series: HashMap<String, Vec<f64>>,
    wall_s: f64,
    results: Vec<SeriesResult>,
}

/// One printed line, for either tool.
#[derive(Debug, Clone, Serialize)]
struct Line {
    tool: String,
    model: String,
    class: String,
    scope: String,
    series: usize,
    n: usize,
    flat: usize,
    tol2: f64,
    areg2: f64,
    busiest2: f64,
    hit2: f64,
    mae: Option<f64>,
    coverage_80: Option<f64>,
    fits: usize,
    cpu_median_ms: Option<f64>,
    cpu_p95_ms: Option<f64>,
    wall_s: Option<f64>,
}

/// A policy wrapper that times each forecast with the calling thread's CPU clock.
struct Timed<'a> {
    inner: &'a dyn DecisionPolicy,
    cpu_ms: Mutex<Vec<f64>>,
}

impl DecisionPolicy for Timed<'_> {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn forecast(&self, history: &RegularSeries, horizon: usize) -> Result<Forecast, FitError> {
        let t0 = ThreadTime::now();
        let f = self.inner.forecast(history, horizon);
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        self.cpu_ms.lock().expect("timing lock").push(ms);
        f
    }

    /// The window choices of a cutoff run on the same thread right after its forecast, so
    /// their CPU time is added to that fit: a policy's cost includes its selector.
    fn choose(&self, forecast: &Forecast, history: &RegularSeries, len: usize) -> usize {
        let t0 = ThreadTime::now();
        let start = self.inner.choose(forecast, history, len);
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        if let Some(last) = self.cpu_ms.lock().expect("timing lock").last_mut() {
            *last += ms;
        }
        start
    }
}

/// Every skua decision policy: each model of the registry with the protocol's lowest-mean
/// window selector, then skua's own selectors (the hindsight rules of
/// `skua_forecast::select`, which decide from the history's past days) on the 7-day mean.
fn policies() -> Vec<Box<dyn DecisionPolicy>> {
    let mut out: Vec<Box<dyn DecisionPolicy>> = all_models()
        .into_iter()
        .map(|model| {
            Box::new(ModelPolicy {
                model,
                selector: Box::new(LowestMean),
            }) as Box<dyn DecisionPolicy>
        })
        .collect();
    for selector in [
        HindsightSelector::long_memory(),
        HindsightSelector::recent(),
    ] {
        let model = by_name("mean_7d").expect("mean_7d is a registered model");
        out.push(Box::new(ModelPolicy {
            model,
            selector: Box::new(selector),
        }));
    }
    out
}

/// Entry point of `skua bench forecast`.
pub fn forecast(a: &BenchForecastArgs, quiet: bool) -> Result<Outcome> {
    let t_load = Instant::now();
    let datasets = vec![load_bitbrains(&a.data_dir)?, load_asd(&a.data_dir)?];
    if !quiet {
        eprintln!(
            "bench: data read through skua's ingestion and prepared in {:.1} s",
            t_load.elapsed().as_secs_f64()
        );
    }
    let peer = if let Some(p) = &a.peer_json {
        Some(read_peer(p)?)
    } else if a.peer {
        Some(run_peer(a)?)
    } else {
        None
    };
    let base = ProtocolConfig::default();
    let policies = policies();
    println!(
        "skua bench forecast — fleet benchmark protocol: horizon {} h, stride {} h, last {} windows, \
         job {} h (tol2 = within 10 % of the day's range of the best window)",
        base.horizon, base.stride, base.windows, base.lens[0]
    );
    println!(
        "skua: {} policies, rayon on {} threads; CPU per fit = thread CPU time of one fit+predict \
         plus its window choices (one series, one cutoff)",
        policies.len(),
        rayon::current_num_threads()
    );
    let mut json = serde_json::Map::new();
    for ds in &datasets {
        let cfg = ProtocolConfig {
            classify: skua_forecast::classify::ClassifyThresholds::for_unit(ds.unit),
            ..base.clone()
        };
        let t0 = Instant::now();
        let runs: Vec<SkuaRun> = policies
            .iter()
            .map(|p| run_policy(ds, p.as_ref(), &cfg))
            .collect();
        let wall = t0.elapsed().as_secs_f64();
        let classes = class_map(&runs);
        let mut lines = skua_lines(&runs, &classes, None);
        println!();
        println!("== {} ==", ds.title);
        println!(
            "skua backtest: {} policies × {} series × {} windows in {wall:.2} s wall",
            runs.len(),
            ds.series.len(),
            cfg.windows
        );
        println!("{}", render(&lines));
        let ceiling = fixed_window_ceilings(ds, &cfg, &classes);
        println!(
            "ceiling in hindsight (not a policy: the best fixed window per series, picked on the \
             scored days themselves): tol2 {}",
            ceiling
                .iter()
                .map(|(class, v)| format!("{class} {v:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut ds_json = serde_json::json!({
            "series": ds.series.len(),
            "skua_wall_s": wall,
            "classes": class_counts(&classes),
            "fixed_window_ceiling_tol2": ceiling,
        });
        if let Some(peer) = peer.as_ref().and_then(|p| p.datasets.get(ds.key)) {
            let peer_lines = peer_lines(peer, &classes);
            println!(
                "statsforecast {} (peer, n_jobs=1, time.process_time()): slow models on a seeded \
                 sample of {} of {} series (seed {})",
                peer.version,
                peer.sample.len(),
                peer.series,
                peer.sample_seed
            );
            println!("{}", render(&peer_lines));
            let sample: Vec<String> = peer.sample.clone();
            let sample_lines = skua_lines(&runs, &classes, Some(&sample));
            let cmp = comparison(&lines, &sample_lines, &peer_lines);
            println!(
                "side by side (Δtol2 = skua − peer; CPU ratio = peer / skua, median per fit):"
            );
            println!("{}", render_comparison(&cmp));
            lines.extend(sample_lines);
            ds_json["peer"] = serde_json::to_value(&peer_lines)?;
            ds_json["comparison"] = serde_json::to_value(&cmp)?;
        }
        ds_json["skua"] = serde_json::to_value(&lines)?;
        json.insert(ds.key.to_string(), ds_json);
    }
    if let Some(p) = &a.json {
        write_json(p, &serde_json::Value::Object(json))?;
    }
    Ok(Outcome::Ok)
}

fn run_policy(ds: &Dataset, policy: &dyn DecisionPolicy, cfg: &ProtocolConfig) -> SkuaRun {
    let t0 = Instant::now();
    let out: Vec<(SeriesResult, Vec<f64>)> = ds
        .series
        .par_iter()
        .map(|(id, s)| {
            let timed = Timed {
                inner: policy,
                cpu_ms: Mutex::new(Vec::new()),
            };
            let r = run_series(id, s, &timed, cfg);
            (r, timed.cpu_ms.into_inner().expect("timing lock"))
        })
        .collect();
    let wall_s = t0.elapsed().as_secs_f64();
    let mut cpu_by_series = HashMap::new();
    let mut results = Vec::with_capacity(out.len());
    for (r, cpu) in out {
        cpu_by_series.insert(r.id.clone(), cpu);
        results.push(r);
    }
    SkuaRun {
        cpu_by_series,
        wall_s,
        results,
    }
}

/// Each series' class (from history before its first cutoff, as `run_series` computed it).
fn class_map(runs: &[SkuaRun]) -> HashMap<String, String> {
    runs.first()
        .map(|r| {
            r.results
                .iter()
                .map(|s| {
                    let c = s.class.map_or("unknown", |c| c.as_str());
                    (s.id.clone(), c.to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// tol2 of [`fixed_window_ceiling`] over the dataset (`all`) and per class.
fn fixed_window_ceilings(
    ds: &Dataset,
    cfg: &ProtocolConfig,
    classes: &HashMap<String, String>,
) -> BTreeMap<String, f64> {
    let mut sums: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (id, s) in &ds.series {
        let (ok, n) = fixed_window_ceiling(s, cfg);
        let class = classes.get(id).cloned().unwrap_or_else(|| "unknown".into());
        for key in ["all".to_string(), class] {
            let e = sums.entry(key).or_default();
            e.0 += ok;
            e.1 += n;
        }
    }
    sums.into_iter()
        .filter(|(_, (_, n))| *n > 0)
        .map(|(k, (ok, n))| (k, ok as f64 / n as f64))
        .collect()
}

fn class_counts(classes: &HashMap<String, String>) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for c in classes.values() {
        *m.entry(c.clone()).or_default() += 1;
    }
    m
}

/// Median and p95 (linear interpolation) of CPU times.
fn cpu_stats(mut v: Vec<f64>) -> (Option<f64>, Option<f64>) {
    if v.is_empty() {
        return (None, None);
    }
    v.sort_by(f64::total_cmp);
    (
        Some(skua_core::metrics::quantile_sorted(&v, 0.5)),
        Some(skua_core::metrics::quantile_sorted(&v, 0.95)),
    )
}

fn skua_lines(
    runs: &[SkuaRun],
    classes: &HashMap<String, String>,
    only: Option<&[String]>,
) -> Vec<Line> {
    let mut lines = Vec::new();
    for run in runs {
        let results: Vec<SeriesResult> = match only {
            Some(ids) => run
                .results
                .iter()
                .filter(|r| ids.contains(&r.id))
                .cloned()
                .collect(),
            None => run.results.clone(),
        };
        let summary = summarize(&results, &|id| classes.get(id).cloned());
        let cpu: Vec<f64> = results
            .iter()
            .flat_map(|r| run.cpu_by_series[&r.id].iter().copied())
            .collect();
        let fits = cpu.len();
        let (med, p95) = cpu_stats(cpu);
        for row in &summary.rows {
            let all = row.class == "all";
            if only.is_some() && !all {
                continue;
            }
            let mut l = line_from_row("skua", row, if only.is_some() { "sample" } else { "all" });
            if all {
                (l.fits, l.cpu_median_ms, l.cpu_p95_ms) = (fits, med, p95);
                l.wall_s = only.is_none().then_some(run.wall_s);
            }
            lines.push(l);
        }
    }
    lines
}

fn line_from_row(tool: &str, row: &SummaryRow, scope: &str) -> Line {
    let h = row.headline();
    Line {
        tool: tool.into(),
        model: row.policy.clone(),
        class: row.class.clone(),
        scope: scope.into(),
        series: row.series,
        n: row.n,
        flat: row.flat_excluded,
        tol2: h.tol,
        areg2: h.areg,
        busiest2: h.busiest,
        hit2: h.hit,
        mae: Some(row.mae).filter(|x| x.is_finite()),
        coverage_80: Some(row.coverage_80).filter(|x| x.is_finite()),
        fits: 0,
        cpu_median_ms: None,
        cpu_p95_ms: None,
        wall_s: None,
    }
}

fn fmt(x: Option<f64>, digits: usize) -> String {
    x.map_or("—".into(), |v| format!("{v:.digits$}"))
}

fn render(lines: &[Line]) -> String {
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            vec![
                l.model.clone(),
                l.class.clone(),
                l.scope.clone(),
                l.series.to_string(),
                l.n.to_string(),
                l.flat.to_string(),
                format!("{:.3}", l.tol2),
                format!("{:.3}", l.areg2),
                format!("{:.1}%", 100.0 * l.busiest2),
                format!("{:.3}", l.hit2),
                fmt(l.mae, 3),
                fmt(l.coverage_80.map(|c| 100.0 * c), 1),
                fmt(l.cpu_median_ms, 3),
                fmt(l.cpu_p95_ms, 3),
                fmt(l.wall_s, 2),
            ]
        })
        .collect();
    table(
        &[
            "model",
            "class",
            "scope",
            "ser",
            "n",
            "flat",
            "tol2",
            "areg2",
            "busy2",
            "hit2",
            "mae",
            "cov80%",
            "cpu_ms_p50",
            "cpu_ms_p95",
            "wall_s",
        ],
        &rows,
    )
}

/// One skua model against one peer model.
#[derive(Debug, Clone, Serialize)]
struct Pair {
    skua: String,
    peer: String,
    scope: String,
    tol2_skua: f64,
    tol2_peer: f64,
    tol2_diff: f64,
    cpu_ms_skua: Option<f64>,
    cpu_ms_peer: Option<f64>,
    cpu_ratio: Option<f64>,
}

/// skua's counterpart of each peer model (same rule, or the same model family).
const PAIRS: &[(&str, &str)] = &[
    ("previous_day", "SeasonalNaive(24)"),
    ("previous_week", "SeasonalNaive(168)"),
    ("mean_7d", "SeasonalWindowAverage(24;7)"),
    ("seasonal_ets", "AutoETS(24)"),
    ("mstl", "MSTL([24;168];AutoETS-ZZN)"),
];

fn comparison(all: &[Line], sample: &[Line], peer: &[Line]) -> Vec<Pair> {
    let find = |ls: &[Line], m: &str| {
        ls.iter()
            .find(|l| l.model == m && l.class == "all")
            .cloned()
    };
    let best_skua = all
        .iter()
        .filter(|l| l.class == "all")
        .max_by(|a, b| a.tol2.total_cmp(&b.tol2))
        .map(|l| l.model.clone());
    let mut pairs: Vec<(String, String)> = PAIRS
        .iter()
        .map(|(s, p)| (s.to_string(), p.to_string()))
        .collect();
    if let Some(best) = best_skua {
        for l in peer.iter().filter(|l| l.class == "all") {
            if !pairs.contains(&(best.clone(), l.model.clone())) {
                pairs.push((best.clone(), l.model.clone()));
            }
        }
    }
    pairs
        .into_iter()
        .filter_map(|(s, p)| {
            let pl = find(peer, &p)?;
            let sl = if pl.scope == "sample" {
                find(sample, &s)?
            } else {
                find(all, &s)?
            };
            Some(Pair {
                tol2_diff: sl.tol2 - pl.tol2,
                cpu_ratio: match (pl.cpu_median_ms, sl.cpu_median_ms) {
                    (Some(p), Some(s)) if s > 0.0 => Some(p / s),
                    _ => None,
                },
                skua: s,
                peer: p,
                scope: pl.scope.clone(),
                tol2_skua: sl.tol2,
                tol2_peer: pl.tol2,
                cpu_ms_skua: sl.cpu_median_ms,
                cpu_ms_peer: pl.cpu_median_ms,
            })
        })
        .collect()
}

fn render_comparison(pairs: &[Pair]) -> String {
    let rows: Vec<Vec<String>> = pairs
        .iter()
        .map(|p| {
            vec![
                p.skua.clone(),
                p.peer.clone(),
                p.scope.clone(),
                format!("{:.3}", p.tol2_skua),
                format!("{:.3}", p.tol2_peer),
                format!("{:+.3}", p.tol2_diff),
                fmt(p.cpu_ms_skua, 3),
                fmt(p.cpu_ms_peer, 3),
                p.cpu_ratio.map_or("—".into(), |r| {
                    if r < 10.0 {
                        format!("{r:.2}x")
                    } else {
                        format!("{r:.0}x")
                    }
                }),
            ]
        })
        .collect();
    table(
        &[
            "skua",
            "peer",
            "scope",
            "tol2_skua",
            "tol2_peer",
            "Δtol2",
            "cpu_ms_skua",
            "cpu_ms_peer",
            "cpu_ratio",
        ],
        &rows,
    )
}
