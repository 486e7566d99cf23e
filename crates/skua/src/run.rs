//! `skua run`: the main job. ingest → validate → store → evaluate → forecast + plan → report.
//!
//! The evaluation comes before the plan on purpose: the model that planned best on the
//! fleet's own history (lowest median regret, day by day) is the one that plans tomorrow.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use skua_core::time::{format_duration, format_ts};
use skua_store::RunStatus;

use crate::Outcome;
use crate::cli::{PolicyArg, RunArgs};
use crate::commands::{self, evaluate_fleet, plan_fleet, schedule_rows, write_schedule};
use crate::output::{stage, write_atomic, write_json};
use crate::pipeline::{self, open_store, stage_done};
use crate::report_build;

/// Runs the whole pipeline and writes the report; returns where it is.
pub fn run(a: &RunArgs, quiet: bool) -> Result<Outcome> {
    let t_all = Instant::now();
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create output directory {}", a.out.display()))?;
    let mut read = a.read.clone();
    let mut constraint_args = a.constraints.clone();
    let (paths, source) = if a.demo {
        let cfg = skua_telemetry::demo::DemoConfig {
            seed: a.demo_seed,
            ..Default::default()
        };
        let fleet = skua_telemetry::demo::generate(&cfg);
        let path = a.out.join("demo").join("demo_fleet_cpu.csv");
        write_atomic(&path, skua_telemetry::demo::to_long_csv(&fleet).as_bytes())?;
        for l in ["cluster", "region", "role"] {
            if !read.labels.iter().any(|x| x == l) {
                read.labels.push(l.into());
            }
        }
        // The demo fleet shows the group constraint at work unless the user set their own.
        if constraint_args.constraints.is_none() && constraint_args.group_by.is_none() {
            constraint_args.group_by = Some("cluster".into());
            constraint_args.max_concurrent = constraint_args.max_concurrent.or(Some(3));
        }
        stage(
            quiet,
            "demo",
            &format!(
                "generated {} servers × {} days (seed {}) → {}",
                fleet.len(),
                cfg.days,
                cfg.seed,
                path.display()
            ),
        );
        (
            vec![path],
            format!("built-in demo fleet (seed {})", a.demo_seed),
        )
    } else {
        if a.paths.is_empty() {
            anyhow::bail!(
                "give telemetry files or directories to run on, or --demo for the built-in fleet"
            );
        }
        let src = a
            .paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        (a.paths.clone(), src)
    };
    let opts = read.to_options()?;
    let cfg = a.check.to_config(PolicyArg::Repair);
    let constraints = constraint_args.to_constraints()?;
    let store_path: PathBuf = a.store.clone().unwrap_or_else(|| a.out.join("skua.db"));
    let mut store = open_store(&store_path)?;
    let run = store.start_run(
        "run",
        serde_json::json!({ "source": source, "options": opts, "validate": cfg, "constraints": constraints }),
    )?;

    // observe: ingest + validate + store
    let ing = pipeline::read_and_validate(&paths, &opts, &cfg, quiet)?;
    stage(
        quiet,
        "ingest",
        &format!(
            "{} rows, {} file(s), {} series ({} rejected) in {:.2} s",
            ing.rows,
            ing.files.len(),
            ing.outcomes.len(),
            ing.rejected(),
            ing.secs
        ),
    );
    for f in &ing.failures {
        eprintln!("warning: {}", f.error);
    }
    let t0 = Instant::now();
    let puts = pipeline::store_ingested(store.as_mut(), run, &ing, quiet)?;
    stage_done(quiet, "store", t0, &pipeline::describe_puts(&puts));
    write_json(&a.out.join("validation.json"), &ing.report_json())?;

    // What is planned is what the store holds: read it back.
    let t0 = Instant::now();
    let stored_ids: std::collections::HashSet<String> = ing
        .outcomes
        .iter()
        .filter(|o| o.series.is_some())
        .map(|o| o.meta.id.clone())
        .collect();
    let series: Vec<_> = pipeline::load_selected(store.as_ref(), &Default::default())?
        .into_iter()
        .filter(|(m, _)| stored_ids.contains(&m.id))
        .collect();
    if series.is_empty() {
        anyhow::bail!(
            "no series survived validation; see {}",
            a.out.join("validation.json").display()
        );
    }
    stage_done(
        quiet,
        "load",
        t0,
        &format!("{} series from {}", series.len(), store_path.display()),
    );

    // check: day-by-day evaluation of every policy
    let t0 = Instant::now();
    let crate::commands::FleetEval {
        evals,
        summary,
        classes,
    } = evaluate_fleet(&series, &a.eval, constraints.duration, quiet)?;
    stage_done(
        quiet,
        "evaluate",
        t0,
        &format!(
            "{} series, {} policies",
            summary.series,
            summary.policies.len()
        ),
    );
    write_json(&a.out.join("evaluation.json"), &summary)?;

    // predict + allocate: plan tomorrow with the model that planned best historically
    let best = summary
        .best
        .as_ref()
        .map(|b| b.policy.clone())
        .unwrap_or_else(|| "mean_7d".into());
    // A decision policy (`<model>+<selector>`) forecasts with its model and ranks windows by
    // its selector's costs; the group-constrained planner takes both.
    let decision = crate::commands::policies(&a.eval)?
        .into_iter()
        .find_map(|p| match p {
            skua_fleet::Policy::Decision(d) if d.name() == best => Some(d),
            _ => None,
        });
    let model_name = if skua_forecast::by_name(&best).is_some() {
        best.clone()
    } else {
        best.split('+').next().unwrap_or("mean_7d").to_string()
    };
    if decision.is_some() {
        stage(
            quiet,
            "plan",
            &format!(
                "best policy {best}: {model_name} forecasts, its selector's window costs rank the windows under the group constraints"
            ),
        );
    }
    let model = pipeline::model(&model_name)?;
    let origin = pipeline::plan_origin(None, &series)?;
    let (plannable, stale) = pipeline::drop_stale(series.clone(), origin, 2 * 86_400);
    for w in &stale {
        eprintln!("warning: {w}");
    }
    let t0 = Instant::now();
    let (schedule, forecasts, warnings) = plan_fleet(
        &plannable,
        model.as_ref(),
        decision.as_deref(),
        &constraints,
        origin,
    )?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let (csv, json) = write_schedule(&a.out.join("schedule"), &schedule)?;
    store.put_schedule(run, &schedule_rows(&schedule))?;
    let fc: Vec<_> = forecasts
        .iter()
        .map(|f| (f.server.clone(), origin, f.forecast.clone()))
        .collect();
    // Forecasts are stored under the series id; one series per server was selected.
    let id_of: std::collections::HashMap<&str, &str> = plannable
        .iter()
        .map(|(m, _)| (m.server.as_str(), m.id.as_str()))
        .collect();
    let fc: Vec<_> = fc
        .into_iter()
        .map(|(server, o, f)| {
            (
                id_of
                    .get(server.as_str())
                    .map(|s| s.to_string())
                    .unwrap_or(server),
                o,
                f,
            )
        })
        .collect();
    pipeline::store_forecasts(store.as_mut(), run, &model_name, &fc)?;
    stage_done(
        quiet,
        "plan",
        t0,
        &format!(
            "{} jobs of {} with {} from {}",
            schedule.entries.len(),
            format_duration(constraints.duration),
            model_name,
            format_ts(origin)
        ),
    );

    // report
    let t0 = Instant::now();
    let report = report_build::build(report_build::Inputs {
        source: &source,
        ingested: &ing,
        series: &series,
        evals: &evals,
        summary: &summary,
        classes: &classes,
        schedule: &schedule,
        model_name: &model_name,
        constraints: &constraints,
        eval: &a.eval,
        panels: a.panels,
        warnings: stale.iter().chain(&warnings).cloned().collect(),
    });
    let html = skua_report::render_html(&report);
    let html_path = a.out.join("report.html");
    write_atomic(&html_path, html.as_bytes())?;
    write_json(&a.out.join("report.json"), &report)?;
    stage_done(
        quiet,
        "report",
        t0,
        &format!("{} ({} KiB)", html_path.display(), html.len() / 1024),
    );

    println!("{}", summary.render_table());
    println!("{}", commands::verdict(&summary));
    if let Some(note) = report_build::mixed_units_note(&series) {
        println!("note: {note}");
    }
    commands::print_schedule(&schedule, 10);
    println!(
        "report: {}\nschedule: {} and {}\nstore: {}",
        html_path.display(),
        csv.display(),
        json.display(),
        store_path.display()
    );
    store.finish_run(
        run,
        RunStatus::Ok,
        serde_json::json!({
            "rows": ing.rows, "series": ing.outcomes.len(), "rejected": ing.rejected(),
            "evaluation": summary, "model": model_name, "jobs": schedule.entries.len(),
            "report": html_path,
        }),
    )?;
    stage(
        quiet,
        "done",
        &format!("in {:.1} s", t_all.elapsed().as_secs_f64()),
    );
    Ok(Outcome::Ok)
}
