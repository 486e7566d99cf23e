//! `skua bench fleet`: the fleet plane's figures on the 1M-row Bitbrains file, side by side
//! with pandas + statsforecast (bench/fleet_peer.py) when `--peer` is given.
//!
//! Every step is timed `--repeat` times and the median is printed. skua's forecast and plan
//! timings are single-threaded (one core), as statsforecast runs with `n_jobs=1`.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use skua_core::{RegularSeries, SeriesMeta};
use skua_telemetry::{IngestOptions, Policy, ValidateConfig, merge_series, read_path, validate};

use crate::Outcome;
use crate::cli::{BenchFleetArgs, EvalArgs};
use crate::output::{table, thousands, write_json};
use crate::pipeline::{self, LEVELS};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn timed<T>(repeat: usize, mut f: impl FnMut() -> Result<T>) -> Result<(f64, T)> {
    let mut times = Vec::with_capacity(repeat);
    let mut last = None;
    for _ in 0..repeat.max(1) {
        let t0 = Instant::now();
        let out = f()?;
        times.push(t0.elapsed().as_secs_f64());
        last = Some(out);
    }
    Ok((median(times), last.expect("at least one repetition")))
}

/// Reads, merges and validates one file with the repair policy; returns rows and series.
fn ingest_validate(path: &Path) -> Result<(u64, Vec<(SeriesMeta, RegularSeries)>)> {
    let read = read_path(path, &IngestOptions::default())
        .with_context(|| format!("cannot read {}", path.display()))?;
    let rows = read.report.rows_read;
    let cfg = ValidateConfig {
        policy: Policy::Repair,
        ..Default::default()
    };
    let series = merge_series(read.series)
        .into_iter()
        .filter_map(|r| {
            let o = validate(r, &cfg);
            o.series.map(|s| (o.meta, s))
        })
        .collect();
    Ok((rows, series))
}

/// Runs the fleet benchmark.
pub fn fleet(a: &BenchFleetArgs) -> Result<Outcome> {
    if !a.data.exists() {
        bail!(
            "{} does not exist: pass --data <the Bitbrains hourly file> (it lives in ../shared/data/fleet/bitbrains_rnd/)",
            a.data.display()
        );
    }
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut json = serde_json::Map::new();
    eprintln!(
        "bench: ingest + validate {} ×{} …",
        a.data.display(),
        a.repeat
    );
    let (t_ingest, (n_rows, series)) = timed(a.repeat, || ingest_validate(&a.data))?;
    let rps = n_rows as f64 / t_ingest;
    rows.push(vec![
        "ingest + validate (1 thread)".into(),
        format!("{:.3} s", t_ingest),
        format!("{} rows/s", thousands(rps as u64)),
    ]);
    json.insert("rows".into(), n_rows.into());
    json.insert("series".into(), series.len().into());
    json.insert("ingest_validate_s".into(), t_ingest.into());
    json.insert("ingest_validate_rows_per_s".into(), rps.into());

    // store: a fresh SQLite file each time
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let writes: Vec<skua_store::SeriesWrite> = series
        .iter()
        .map(|(m, s)| skua_store::SeriesWrite {
            meta: m.clone(),
            series: s.clone(),
        })
        .collect();
    let mut k = 0;
    let (t_store, _) = timed(a.repeat, || {
        k += 1;
        let mut st = pipeline::open_store(&dir.path().join(format!("bench-{k}.db")))?;
        for chunk in writes.chunks(64) {
            st.put_series_batch(chunk)?;
        }
        Ok(())
    })?;
    let samples: usize = series.iter().map(|(_, s)| s.present()).sum();
    rows.push(vec![
        "store (SQLite, new file)".into(),
        format!("{:.3} s", t_store),
        format!("{} samples/s", thousands((samples as f64 / t_store) as u64)),
    ]);
    json.insert("store_s".into(), t_store.into());

    // forecast: every baseline, every series, 24 h ahead, one thread
    let mut fc_json = serde_json::Map::new();
    let mut skua_fc = std::collections::HashMap::new();
    for m in skua_forecast::baselines() {
        // The decision path needs the point forecast only; the bands (10/50/90 %) are extra.
        for (what, levels) in [("point", &[][..]), ("10/50/90 %", &LEVELS[..])] {
            let (t, _) = timed(a.repeat, || {
                let mut n = 0;
                for (_, s) in &series {
                    let spd = s.steps_per_day().unwrap_or(24);
                    let f = m.fit(s).map_err(|e| anyhow::anyhow!("{e}"))?;
                    let out = f.predict(spd, levels).map_err(|e| anyhow::anyhow!("{e}"))?;
                    n += out.point.len();
                }
                Ok(n)
            })?;
            rows.push(vec![
                format!("forecast 24 h, {}, {what} (1 thread)", m.name()),
                format!("{:.4} s", t),
                format!("{:.1} µs per series", 1e6 * t / series.len() as f64),
            ]);
            if levels.is_empty() {
                fc_json.insert(format!("{}_point", m.name()), t.into());
            } else {
                fc_json.insert(m.name(), t.into());
                skua_fc.insert(m.name(), t);
            }
        }
    }
    json.insert("forecast_s".into(), fc_json.into());

    // plan: forecast (mean_7d) + plan all servers, no constraints, one thread
    let model = pipeline::model("mean_7d")?;
    let constraints = skua_fleet::PlanConstraints::default();
    let origin = series.iter().map(|(_, s)| s.end()).max().unwrap_or(0);
    let (t_plan, jobs) = timed(a.repeat, || {
        let servers: Vec<_> = series
            .iter()
            .map(|(m, s)| {
                pipeline::forecast_from(model.as_ref(), s, origin, constraints.horizon).map(|f| {
                    skua_fleet::ServerForecast {
                        window_cost: None,
                        server: m.server.clone(),
                        labels: m.labels.clone(),
                        forecast: f,
                    }
                })
            })
            .collect::<Result<_, String>>()
            .map_err(|e| anyhow::anyhow!(e))?;
        Ok(skua_fleet::plan(&servers, &constraints, origin)?
            .entries
            .len())
    })?;
    rows.push(vec![
        format!("forecast (mean_7d) + plan {jobs} servers (1 thread)"),
        format!("{:.4} s", t_plan),
        format!("{:.1} µs per server", 1e6 * t_plan / jobs.max(1) as f64),
    ]);
    json.insert("forecast_plan_s".into(), t_plan.into());

    // evaluate: every policy, every day, all series (all cores)
    let eval = EvalArgs {
        min_history_days: 7,
        seed: 0,
        models: Vec::new(),
    };
    let (t_eval, days) = timed(1, || {
        let evals = crate::commands::evaluate_fleet(&series, &eval, 3600, true)?.evals;
        Ok(evals.iter().map(|e| e.days.len()).sum::<usize>())
    })?;
    rows.push(vec![
        format!(
            "evaluate day by day, {} policies ({} threads)",
            crate::commands::policies(&eval)?.len(),
            rayon::current_num_threads()
        ),
        format!("{:.3} s", t_eval),
        format!("{} server-days", thousands(days as u64)),
    ]);
    json.insert("evaluate_s".into(), t_eval.into());
    json.insert("evaluate_server_days".into(), days.into());

    println!(
        "skua bench fleet — {} ({} rows, {} series), median of {}",
        a.data.display(),
        thousands(n_rows),
        series.len(),
        a.repeat
    );
    println!("{}", table(&["step", "time", "rate"], &rows));

    if a.peer {
        let peer = run_peer(a)?;
        let mut prow = Vec::new();
        if let Some(p) = peer.get("ingest") {
            let wall = p["wall_s"].as_f64().unwrap_or(f64::NAN);
            prow.push(vec![
                "ingest + validate".into(),
                format!("{:.3} s", t_ingest),
                format!("{:.3} s", wall),
                format!("{:.1}×", wall / t_ingest),
            ]);
        }
        if let Some(fc) = peer.get("forecast").and_then(|f| f.as_object()) {
            for (name, v) in fc {
                if let (Some(ours), Some(cpu)) = (skua_fc.get(name), v["cpu_s"].as_f64()) {
                    prow.push(vec![
                        format!("forecast 24 h, {name}, 500 series"),
                        format!("{:.4} s", ours),
                        format!("{:.4} s", cpu),
                        format!("{:.0}×", cpu / ours),
                    ]);
                }
            }
        }
        println!(
            "side by side with {} / {} (peer CPU time for forecasts, n_jobs=1):",
            peer["peer"].as_str().unwrap_or("peer"),
            peer["forecast_peer"].as_str().unwrap_or("statsforecast")
        );
        println!(
            "{}",
            table(&["step", "skua", "peer", "skua faster by"], &prow)
        );
        json.insert("peer".into(), peer);
    }
    if let Some(p) = &a.json {
        write_json(p, &serde_json::Value::Object(json))?;
    }
    Ok(Outcome::Ok)
}

fn run_peer(a: &BenchFleetArgs) -> Result<serde_json::Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/fleet_peer.py");
    let has = Command::new(&a.python)
        .args(["-c", "import pandas, statsforecast"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !has {
        eprintln!("bench: installing the peer (pip install statsforecast==2.1.1 pandas) …");
        let ok = Command::new(&a.python)
            .args([
                "-m",
                "pip",
                "install",
                "-q",
                "statsforecast==2.1.1",
                "pandas",
            ])
            .status()
            .context("cannot run pip")?
            .success();
        if !ok {
            bail!("pip could not install the peer (statsforecast 2.1.1, pandas)");
        }
    }
    eprintln!("bench: running the peer {} …", script.display());
    let out = Command::new(&a.python)
        .arg(&script)
        .arg(&a.data)
        .output()
        .with_context(|| format!("cannot run {}", a.python))?;
    if !out.status.success() {
        bail!(
            "the peer script failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or("");
    serde_json::from_str(last).with_context(|| format!("the peer printed no JSON: {text}"))
}
