//! The single-stage commands: ingest, validate, forecast, plan, evaluate, demo.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use rayon::prelude::*;
use skua_core::time::{format_duration, format_ts};
use skua_core::{RegularSeries, SeriesMeta};
use skua_fleet::{EvalConfig, EvalSummary, Policy, Schedule, SeriesEval, ServerForecast};
use skua_forecast::classify::classify_unit;
use skua_forecast::protocol::DecisionPolicy;
use skua_forecast::{BacktestConfig, SeriesClass, backtest};
use skua_store::RunStatus;

use crate::Outcome;
use crate::cli::{
    EvalArgs, EvaluateArgs, ForecastArgs, IngestArgs, PlanArgs, PolicyArg, ValidateOnlyArgs,
};
use crate::output::{progress, stage, table, write_atomic, write_json};
use crate::pipeline::{self, forecast_from, load_selected, open_store, stage_done};

/// `skua ingest`: read, validate, store. Exit code 3 when anything was refused.
pub fn ingest(a: &IngestArgs, quiet: bool) -> Result<Outcome> {
    let opts = a.read.to_options()?;
    let cfg = a.check.to_config(PolicyArg::Reject);
    let mut store = open_store(&a.store.store)?;
    let run = store.start_run(
        "ingest",
        serde_json::json!({ "paths": a.paths, "options": opts, "validate": cfg }),
    )?;
    let ing = pipeline::read_and_validate(&a.paths, &opts, &cfg, quiet)?;
    pipeline::print_ingest_summary(&ing, a.all);
    let t0 = Instant::now();
    let puts = pipeline::store_ingested(store.as_mut(), run, &ing, quiet)?;
    stage_done(quiet, "store", t0, &pipeline::describe_puts(&puts));
    if let Some(p) = &a.json {
        write_json(p, &ing.report_json())?;
    }
    let refused = ing.anything_refused();
    store.finish_run(
        run,
        if refused {
            RunStatus::Rejected
        } else {
            RunStatus::Ok
        },
        serde_json::json!({
            "rows": ing.rows, "files": ing.files.len(), "failed_files": ing.failures.len(),
            "series": ing.outcomes.len(), "rejected": ing.rejected(), "stored": puts.len(),
        }),
    )?;
    stage(
        quiet,
        "ingest",
        &format!(
            "{} rows from {} file(s) in {:.2} s ({:.0} rows/s); store {}",
            ing.rows,
            ing.files.len(),
            ing.secs,
            ing.rows as f64 / ing.secs.max(1e-9),
            a.store.store.display()
        ),
    );
    Ok(refused_outcome(&ing, &cfg))
}

fn refused_outcome(ing: &pipeline::Ingested, cfg: &skua_telemetry::ValidateConfig) -> Outcome {
    if !ing.anything_refused() {
        return Outcome::Ok;
    }
    let mut parts = Vec::new();
    if !ing.failures.is_empty() {
        parts.push(format!("{} file(s) could not be read", ing.failures.len()));
    }
    if ing.rejected() > 0 {
        parts.push(format!(
            "{} series rejected by the {} policy",
            ing.rejected(),
            match cfg.policy {
                skua_telemetry::Policy::Reject => "reject",
                skua_telemetry::Policy::Repair => "repair",
            }
        ));
    }
    let hint = if cfg.policy == skua_telemetry::Policy::Reject && ing.rejected() > 0 {
        "fix the data, or repair what can be repaired with --policy repair"
    } else {
        "fix the data"
    };
    Outcome::Rejected(format!(
        "{}; nothing of them was stored ({hint})",
        parts.join(" and ")
    ))
}

/// `skua validate`: read and validate without storing.
pub fn validate(a: &ValidateOnlyArgs) -> Result<Outcome> {
    let opts = a.read.to_options()?;
    let cfg = a.check.to_config(PolicyArg::Reject);
    let ing = pipeline::read_and_validate(&a.paths, &opts, &cfg, true)?;
    pipeline::print_ingest_summary(&ing, a.all);
    if let Some(p) = &a.json {
        write_json(p, &ing.report_json())?;
    }
    Ok(refused_outcome(&ing, &cfg))
}

/// `skua forecast`: next-horizon forecasts for every stored series, optionally a backtest.
pub fn forecast(a: &ForecastArgs, quiet: bool) -> Result<Outcome> {
    let model = pipeline::model(&a.model)?;
    let mut store = open_store(&a.store.store)?;
    let series = load_selected(store.as_ref(), &a.select)?;
    let run = store.start_run(
        "forecast",
        serde_json::json!({ "model": a.model, "horizon": a.horizon, "backtest": a.backtest }),
    )?;
    let t0 = Instant::now();
    // Every series gets a new model version in the registry; what serves (the new version,
    // the incumbent, or the last known good after a failure) is forecast and stored.
    let served = crate::live::register_and_forecast(
        store.as_mut(),
        run,
        &series,
        &crate::live::Training {
            model: model.as_ref(),
            resolve: &|name: &str| skua_forecast::by_name(name),
            horizon_secs: a.horizon,
            now: crate::live::wall_clock(),
            policy: skua_forecast::registry::RegistryPolicy::default(),
        },
    )?;
    let results: Vec<_> = series
        .par_iter()
        .zip(&served)
        .map(|((m, s), sv)| {
            let class = classify_unit(s, m.unit).class;
            let r = match (&sv.forecast, sv.decision.events.first()) {
                (Some((_, f)), _) => Ok(f.clone()),
                (None, Some(e)) => Err(e.detail.clone()),
                (None, None) => Err("no version could serve".to_string()),
            };
            (m, class, r)
        })
        .collect();
    for sv in &served {
        for e in &sv.decision.events {
            eprintln!("warning: {}: {}", sv.series_id, e.detail);
        }
    }
    let mut rows = Vec::new();
    let mut stored = Vec::new();
    let mut failed = 0;
    for (m, class, r) in &results {
        match r {
            Ok(f) => {
                let (lo, hi) = f
                    .point
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                        (a.min(*v), b.max(*v))
                    });
                let mean = f.point.iter().sum::<f64>() / f.point.len().max(1) as f64;
                let low = skua_core::window::argmin(&f.point).unwrap_or(0);
                rows.push(vec![
                    m.id.clone(),
                    class.as_str().to_string(),
                    format_ts(f.start),
                    format!("{lo:.2}"),
                    format!("{mean:.2}"),
                    format!("{hi:.2}"),
                    format_ts(f.start + low as i64 * f.step),
                ]);
                stored.push((m.id.clone(), f.start, f.clone()));
            }
            Err(e) => {
                failed += 1;
                eprintln!("warning: {}: forecast failed: {e}", m.id);
            }
        }
    }
    println!(
        "{}",
        table(
            &[
                "series",
                "class",
                "from",
                "min",
                "mean",
                "max",
                "lowest step"
            ],
            &rows
        )
    );
    stage_done(
        quiet,
        "forecast",
        t0,
        &format!(
            "{} series with {} ({} failed)",
            stored.len(),
            a.model,
            failed
        ),
    );
    let mut bt_json = serde_json::Value::Null;
    if a.backtest {
        let summaries = backtest_all(&series, quiet)?;
        bt_json = serde_json::to_value(&summaries)?;
    }
    if let Some(p) = &a.json {
        write_json(
            p,
            &serde_json::json!({
                "model": a.model,
                "forecasts": stored.iter().map(|(id, _, f)| serde_json::json!({"series": id, "forecast": f})).collect::<Vec<_>>(),
                "backtest": bt_json,
            }),
        )?;
    }
    store.finish_run(
        run,
        if failed == 0 {
            RunStatus::Ok
        } else {
            RunStatus::Failed
        },
        serde_json::json!({ "forecasts": stored.len(), "failed": failed, "backtest": bt_json }),
    )?;
    Ok(Outcome::Ok)
}

/// Rolling-origin backtest (24 h horizon and stride, last 14 windows) of every baseline over
/// the fleet; prints one row per model with the metrics averaged over series.
fn backtest_all(
    series: &[(SeriesMeta, RegularSeries)],
    quiet: bool,
) -> Result<Vec<serde_json::Value>> {
    let models = skua_forecast::baselines();
    let mut rows = Vec::new();
    let mut out = Vec::new();
    for m in &models {
        let t0 = Instant::now();
        let pb = progress(series.len() as u64, "backtest", quiet);
        let sums: Vec<_> = series
            .par_iter()
            .filter_map(|(_, s)| {
                pb.inc(1);
                let cfg = BacktestConfig::daily(s.steps_per_day()?);
                backtest(m.as_ref(), s, &cfg).ok().map(|b| b.summary)
            })
            .collect();
        pb.finish_and_clear();
        let mean = |f: &dyn Fn(&skua_forecast::BacktestSummary) -> f64| {
            skua_core::metrics::nanmean(&sums.iter().map(f).collect::<Vec<_>>())
        };
        let windows: usize = sums.iter().map(|s| s.windows).sum();
        let r = [
            mean(&|s| s.mae),
            mean(&|s| s.rmse),
            mean(&|s| s.mase),
            mean(&|s| s.smape),
            mean(&|s| s.coverage_80),
        ];
        rows.push(vec![
            m.name(),
            sums.len().to_string(),
            windows.to_string(),
            format!("{:.3}", r[0]),
            format!("{:.3}", r[1]),
            format!("{:.3}", r[2]),
            format!("{:.2}", r[3]),
            format!("{:.1}%", 100.0 * r[4]),
            format!("{:.2}", t0.elapsed().as_secs_f64()),
        ]);
        out.push(serde_json::json!({
            "model": m.name(), "series": sums.len(), "windows": windows,
            "mae": r[0], "rmse": r[1], "mase": r[2], "smape": r[3], "coverage_80": r[4],
        }));
    }
    println!("rolling-origin backtest: 24 h horizon, 24 h stride, last 14 windows per series");
    println!(
        "{}",
        table(
            &[
                "model",
                "series",
                "windows",
                "MAE",
                "RMSE",
                "MASE",
                "sMAPE",
                "80% cover",
                "secs"
            ],
            &rows
        )
    );
    Ok(out)
}

/// Forecasts every series over `[origin, origin + horizon)` and plans the fleet.
pub fn plan_fleet(
    series: &[(SeriesMeta, RegularSeries)],
    model: &dyn skua_forecast::Forecaster,
    decision: Option<&dyn DecisionPolicy>,
    constraints: &skua_fleet::PlanConstraints,
    origin: i64,
) -> Result<(Schedule, Vec<ServerForecast>, Vec<String>)> {
    let results: Vec<_> = series
        .par_iter()
        .map(|(m, s)| {
            let f = forecast_from(model, s, origin, constraints.horizon);
            // A decision policy's own window costs (e.g. hindsight), for jobs of the
            // planned duration on this series' grid.
            let cost = match (&f, decision) {
                (Ok(f), Some(d)) => {
                    let steps = (constraints.duration + f.step - 1) / f.step;
                    usize::try_from(steps)
                        .ok()
                        .filter(|&n| n >= 1 && n <= f.horizon())
                        .and_then(|n| d.window_costs(f, s, n))
                }
                _ => None,
            };
            (m, f, cost)
        })
        .collect();
    let mut servers = Vec::new();
    let mut warnings = Vec::new();
    for (m, r, window_cost) in results {
        match r {
            Ok(f) => servers.push(ServerForecast {
                window_cost,
                server: m.server.clone(),
                labels: m.labels.clone(),
                forecast: f,
            }),
            Err(e) => warnings.push(format!("{}: forecast failed ({e}); not planned", m.id)),
        }
    }
    let schedule = skua_fleet::plan(&servers, constraints, origin).context("planning failed")?;
    Ok((schedule, servers, warnings))
}

/// Writes the schedule as CSV and JSON beside `out` (extension replaced).
pub fn write_schedule(out: &Path, schedule: &Schedule) -> Result<(PathBuf, PathBuf)> {
    let csv = out.with_extension("csv");
    let json = out.with_extension("json");
    write_atomic(&csv, schedule.to_csv().as_bytes())?;
    write_json(&json, schedule)?;
    Ok((csv, json))
}

/// Prints the schedule as a table (at most `max` rows).
pub fn print_schedule(s: &Schedule, max: usize) {
    let rows: Vec<Vec<String>> = s
        .entries
        .iter()
        .take(max)
        .map(|e| {
            vec![
                e.server.clone(),
                e.group.clone().unwrap_or_default(),
                format_ts(e.start),
                format_ts(e.end),
                format!("{:.2}", e.predicted_mean),
                e.runner_up
                    .as_ref()
                    .map(|r| format!("{} ({:.2})", format_ts(r.start), r.predicted_mean))
                    .unwrap_or_default(),
                if e.displaced { "yes" } else { "" }.into(),
            ]
        })
        .collect();
    println!(
        "{}",
        table(
            &[
                "server",
                "group",
                "start",
                "end",
                "predicted",
                "runner-up",
                "displaced"
            ],
            &rows
        )
    );
    if s.entries.len() > max {
        println!("… {} more in the CSV/JSON", s.entries.len() - max);
    }
}

/// Converts schedule entries into store rows.
pub fn schedule_rows(s: &Schedule) -> Vec<skua_store::ScheduleRow> {
    s.entries
        .iter()
        .map(|e| skua_store::ScheduleRow {
            server: e.server.clone(),
            group: e.group.clone(),
            start: e.start,
            end: e.end,
            predicted: e.predicted_mean,
            runner_up_start: e.runner_up.as_ref().map(|r| r.start),
            runner_up_predicted: e.runner_up.as_ref().map(|r| r.predicted_mean),
        })
        .collect()
}

/// `skua plan`.
pub fn plan(a: &PlanArgs, quiet: bool) -> Result<Outcome> {
    let model = pipeline::model(&a.model)?;
    let constraints = a.constraints.to_constraints()?;
    let mut store = open_store(&a.store.store)?;
    let series = load_selected(store.as_ref(), &a.select)?;
    let origin = pipeline::plan_origin(a.at.as_deref(), &series)?;
    let (series, mut warnings) = pipeline::drop_stale(series, origin, a.max_staleness);
    let run = store.start_run(
        "plan",
        serde_json::json!({ "model": a.model, "origin": origin, "constraints": constraints }),
    )?;
    let t0 = Instant::now();
    let result = plan_fleet(&series, model.as_ref(), None, &constraints, origin);
    let (schedule, _, w) = match result {
        Ok(x) => x,
        Err(e) => {
            store.finish_run(
                run,
                RunStatus::Failed,
                serde_json::json!({ "error": format!("{e:#}") }),
            )?;
            return Err(e);
        }
    };
    warnings.extend(w);
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    print_schedule(&schedule, 50);
    let (csv, json) = write_schedule(&a.out, &schedule)?;
    store.put_schedule(run, &schedule_rows(&schedule))?;
    store.finish_run(
        run,
        RunStatus::Ok,
        serde_json::json!({ "jobs": schedule.entries.len(), "warnings": warnings }),
    )?;
    stage_done(
        quiet,
        "plan",
        t0,
        &format!(
            "{} jobs of {} from {} → {} and {}",
            schedule.entries.len(),
            format_duration(constraints.duration),
            format_ts(origin),
            csv.display(),
            json.display()
        ),
    );
    Ok(Outcome::Ok)
}

/// The policies evaluated: the chosen forecast models, the fixed 00:00 window, a random window.
pub fn policies(e: &EvalArgs) -> Result<Vec<Policy>> {
    let default = e.models.is_empty();
    let models: Vec<Box<dyn skua_forecast::Forecaster>> = if default {
        skua_forecast::baselines()
    } else {
        e.models
            .iter()
            .map(|m| pipeline::model(m))
            .collect::<Result<_>>()?
    };
    let mut p: Vec<Policy> = models
        .into_iter()
        .map(|m| Policy::Model(Arc::from(m)))
        .collect();
    if default {
        // skua's decision policy: mean_7d's forecast, windows chosen by hindsight over the
        // last 8 weeks (the best single rule of `skua bench forecast` on Bitbrains-500).
        p.push(Policy::Decision(Arc::new(
            skua_forecast::select::ModelPolicy {
                model: pipeline::model("mean_7d")?,
                selector: Box::new(skua_forecast::select::HindsightSelector::long_memory()),
            },
        )));
    }
    p.push(Policy::Fixed { start_hour: 0 });
    p.push(Policy::Random { seed: e.seed });
    Ok(p)
}

/// The evaluation of a fleet: per-series scores, the summary, and each series' class.
pub struct FleetEval {
    /// Per-series day-by-day scores.
    pub evals: Vec<SeriesEval>,
    /// Per-policy (and per-class) summary.
    pub summary: EvalSummary,
    /// Class of every series, by id.
    pub classes: Vec<(String, SeriesClass)>,
}

/// Evaluates every series (in parallel) and summarises per policy and class.
pub fn evaluate_fleet(
    series: &[(SeriesMeta, RegularSeries)],
    e: &EvalArgs,
    duration: i64,
    quiet: bool,
) -> Result<FleetEval> {
    let policies = policies(e)?;
    let cfg = EvalConfig {
        duration,
        min_history_days: e.min_history_days,
        ..EvalConfig::default()
    };
    let pb = progress(series.len() as u64, "evaluate", quiet);
    let results: Vec<(SeriesEval, (String, SeriesClass))> = series
        .par_iter()
        .map(|(m, s)| {
            let ev = skua_fleet::evaluate_series(&m.id, s, &policies, &cfg);
            let class = classify_unit(s, m.unit).class;
            pb.inc(1);
            (ev, (m.id.clone(), class))
        })
        .collect();
    pb.finish_and_clear();
    let (evals, classes): (Vec<_>, Vec<_>) = results.into_iter().unzip();
    let class_map: std::collections::HashMap<&str, SeriesClass> =
        classes.iter().map(|(id, c)| (id.as_str(), *c)).collect();
    let summary = skua_fleet::summarize(&evals, &|id: &str| {
        class_map.get(id).map(|c| c.as_str().to_string())
    });
    Ok(FleetEval {
        evals,
        summary,
        classes,
    })
}

/// A one-paragraph verdict on the evaluation.
pub fn verdict(s: &EvalSummary) -> String {
    match &s.best {
        Some(b) => {
            let fixed = s
                .policies
                .iter()
                .find(|p| p.kind == skua_fleet::PolicyKind::Fixed);
            let random = s
                .policies
                .iter()
                .find(|p| p.kind == skua_fleet::PolicyKind::Random);
            let cmp =
                |name: &str, p: Option<&skua_fleet::PolicySummary>, beats: Option<bool>| match (
                    p, beats,
                ) {
                    (Some(p), Some(true)) => format!(
                        "beats the {name} window ({:.3} vs {:.3} median absolute regret)",
                        b.abs_regret_median, p.abs_regret_median
                    ),
                    (Some(p), Some(false)) => format!(
                        "does NOT beat the {name} window ({:.3} vs {:.3} median absolute regret)",
                        b.abs_regret_median, p.abs_regret_median
                    ),
                    _ => format!("has no {name} window to compare with"),
                };
            format!(
                "Best forecast policy: {} — it {}, and {}.",
                b.policy,
                cmp("fixed", fixed, b.beats_fixed),
                cmp("random", random, b.beats_random)
            )
        }
        None => "No forecast policy could be scored (not enough history?).".into(),
    }
}

/// `skua evaluate`.
pub fn evaluate(a: &EvaluateArgs, quiet: bool) -> Result<Outcome> {
    if a.live {
        return crate::live::evaluate_live(a, quiet);
    }
    let mut store = open_store(&a.store.store)?;
    let series = load_selected(store.as_ref(), &a.select)?;
    let run = store.start_run(
        "evaluate",
        serde_json::json!({ "duration": a.duration, "seed": a.eval.seed, "models": a.eval.models }),
    )?;
    let t0 = Instant::now();
    let summary = evaluate_fleet(&series, &a.eval, a.duration, quiet)?.summary;
    println!("{}", summary.render_table());
    println!("{}", verdict(&summary));
    if let Some(p) = &a.json {
        write_json(p, &summary)?;
    }
    store.finish_run(run, RunStatus::Ok, serde_json::to_value(&summary)?)?;
    stage_done(quiet, "evaluate", t0, &format!("{} series", series.len()));
    Ok(Outcome::Ok)
}

/// `skua demo`: write the demo fleet CSV.
pub fn demo(a: &crate::cli::DemoArgs) -> Result<Outcome> {
    let cfg = skua_telemetry::demo::DemoConfig {
        servers: a.servers,
        days: a.days,
        seed: a.seed,
        ..Default::default()
    };
    let fleet = skua_telemetry::demo::generate(&cfg);
    write_atomic(&a.out, skua_telemetry::demo::to_long_csv(&fleet).as_bytes())?;
    println!(
        "wrote {} servers × {} days ({} step) to {}",
        fleet.len(),
        a.days,
        format_duration(cfg.step_secs),
        a.out.display()
    );
    Ok(Outcome::Ok)
}
