//! The stages shared by the commands: read + validate, store, load, select and forecast.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use rayon::prelude::*;
use skua_core::time::{format_duration, format_ts};
use skua_core::{Forecast, RegularSeries, SeriesMeta, Ts};
use skua_forecast::Forecaster;
use skua_store::{
    ForecastWrite, PutOutcome, ReportScope, RunId, SeriesWrite, SqliteStore, Store,
    ValidationReport,
};
use skua_telemetry::{
    FileReport, IngestOptions, SeriesOutcome, Status, ValidateConfig, expand_inputs, merge_series,
    read_path, validate,
};

use crate::output::{progress, stage, table, thousands};

/// A file that could not be read at all.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileFailure {
    /// The file.
    pub path: String,
    /// Why (with the line, when there is one).
    pub error: String,
}

/// Everything read and validated from the inputs.
#[derive(Debug, serde::Serialize)]
pub struct Ingested {
    /// Per-file reports of the files that could be read.
    pub files: Vec<FileReport>,
    /// Files that could not be read.
    pub failures: Vec<FileFailure>,
    /// Files skipped on purpose (licences, JSON, PDFs), with the reason.
    pub skipped: Vec<(String, String)>,
    /// Per-series outcomes, sorted by id.
    #[serde(skip)]
    pub outcomes: Vec<SeriesOutcome>,
    /// Rows read over all files.
    pub rows: u64,
    /// Seconds spent reading and validating.
    pub secs: f64,
}

impl Ingested {
    /// Series rejected by validation.
    pub fn rejected(&self) -> usize {
        self.outcomes.iter().filter(|o| o.series.is_none()).count()
    }

    /// True if anything was refused: a file that could not be read or a rejected series.
    pub fn anything_refused(&self) -> bool {
        !self.failures.is_empty() || self.rejected() > 0
    }

    /// The JSON validation report: files, failures, skipped files, fleet summary, series.
    pub fn report_json(&self) -> serde_json::Value {
        let reports: Vec<_> = self.outcomes.iter().map(|o| o.report.clone()).collect();
        serde_json::json!({
            "files": self.files,
            "failures": self.failures,
            "skipped": self.skipped,
            "rows": self.rows,
            "summary": skua_telemetry::FleetSummary::from_reports(&reports),
            "series": reports,
        })
    }
}

/// Reads every input file, merges series that span several files, and validates each series.
pub fn read_and_validate(
    paths: &[PathBuf],
    opts: &IngestOptions,
    cfg: &ValidateConfig,
    quiet: bool,
) -> Result<Ingested> {
    let t0 = Instant::now();
    for p in paths {
        if !p.exists() {
            bail!("{} does not exist", p.display());
        }
    }
    let (files, skipped) = expand_inputs(paths).context("cannot list the input files")?;
    if files.is_empty() {
        bail!(
            "no telemetry files found in {} (looked for .csv, .csv.gz, .parquet, .txt)",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let pb = progress(files.len() as u64, "read", quiet);
    let reads: Vec<(PathBuf, Result<skua_telemetry::FileRead, String>)> = files
        .par_iter()
        .map(|f| {
            let r = read_path(f, opts).map_err(|e| e.to_string());
            pb.inc(1);
            (f.clone(), r)
        })
        .collect();
    pb.finish_and_clear();
    let mut reports = Vec::new();
    let mut failures = Vec::new();
    let mut raw = Vec::new();
    let mut rows = 0;
    for (path, r) in reads {
        match r {
            Ok(read) => {
                rows += read.report.rows_read;
                reports.push(read.report);
                raw.extend(read.series);
            }
            Err(error) => failures.push(FileFailure {
                path: path.display().to_string(),
                error,
            }),
        }
    }
    let merged = merge_series(raw);
    let pb = progress(merged.len() as u64, "validate", quiet);
    let mut outcomes: Vec<SeriesOutcome> = merged
        .into_par_iter()
        .map(|r| {
            let o = validate(r, cfg);
            pb.inc(1);
            o
        })
        .collect();
    pb.finish_and_clear();
    outcomes.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
    Ok(Ingested {
        files: reports,
        failures,
        skipped: skipped
            .into_iter()
            .map(|s| (s.path.display().to_string(), s.reason))
            .collect(),
        outcomes,
        rows,
        secs: t0.elapsed().as_secs_f64(),
    })
}

/// Prints what was read and found: the files, the failures and the series with issues.
pub fn print_ingest_summary(ing: &Ingested, all: bool) {
    let rows: Vec<Vec<String>> = ing
        .files
        .iter()
        .map(|f| {
            vec![
                f.path.clone(),
                format!("{}{}", f.format, if f.gzip { " (gz)" } else { "" }),
                format!("{} — {}", f.time_format, f.time_reason),
                thousands(f.rows_read),
                thousands(f.bad_rows),
                f.series_found.to_string(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        println!(
            "{}",
            table(
                &["file", "format", "timestamps", "rows", "bad rows", "series"],
                &rows
            )
        );
    }
    for f in &ing.files {
        for e in f.bad_row_examples.iter().take(5) {
            println!(
                "  {}:{}: {}{}",
                e.file,
                e.line,
                e.column
                    .as_ref()
                    .map(|c| format!("column {c:?}: "))
                    .unwrap_or_default(),
                e.message
            );
        }
        if f.bad_rows > 5 {
            println!("  … and {} more bad rows in {}", f.bad_rows - 5, f.path);
        }
    }
    // File-level errors already name the file (and the line, when there is one).
    for f in &ing.failures {
        eprintln!("error: {}", f.error);
    }
    let reports: Vec<_> = ing
        .outcomes
        .iter()
        .filter(|o| all || o.report.status != Status::Accepted || !o.report.issues.is_empty())
        .map(|o| o.report.clone())
        .collect();
    const MAX: usize = 40;
    if !reports.is_empty() {
        let shown = if all {
            reports.len()
        } else {
            MAX.min(reports.len())
        };
        println!("{}", skua_telemetry::render_table(&reports[..shown]));
        if shown < reports.len() {
            println!(
                "… {} more series with issues (see the JSON report, or pass --all)\n",
                reports.len() - shown
            );
        }
    }
    // Errors of rejected series, with their locations, so the user can fix the file.
    for o in ing.outcomes.iter().filter(|o| o.series.is_none()).take(20) {
        for i in o
            .report
            .issues
            .iter()
            .filter(|i| i.severity == skua_telemetry::Severity::Error)
        {
            let at = if i
                .locations
                .first()
                .is_none_or(|l| i.message.contains(l.as_str()))
            {
                String::new()
            } else {
                format!(" (at {})", i.locations.join(", "))
            };
            println!("rejected {}: {}{}", o.meta.id, i.message, at);
        }
    }
    let all_reports: Vec<_> = ing.outcomes.iter().map(|o| o.report.clone()).collect();
    println!(
        "{}",
        skua_telemetry::FleetSummary::from_reports(&all_reports).render()
    );
}

/// Opens (or creates) the store file.
pub fn open_store(path: &Path) -> Result<Box<dyn Store>> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create directory {}", dir.display()))?;
    }
    let s =
        SqliteStore::open(path).with_context(|| format!("cannot open store {}", path.display()))?;
    Ok(Box::new(s))
}

/// Stores every accepted series (batches of whole series, each batch one transaction) and
/// the validation reports of the run. Returns the per-series outcomes of the writes.
pub fn store_ingested(
    store: &mut dyn Store,
    run: RunId,
    ing: &Ingested,
    quiet: bool,
) -> Result<Vec<PutOutcome>> {
    let accepted: Vec<SeriesWrite> = ing
        .outcomes
        .iter()
        .filter_map(|o| {
            o.series.as_ref().map(|s| SeriesWrite {
                meta: o.meta.clone(),
                series: s.clone(),
            })
        })
        .collect();
    let pb = progress(accepted.len() as u64, "store", quiet);
    let mut outcomes = Vec::with_capacity(accepted.len());
    // Batches bound the transaction size while keeping every series whole: a crash loses at
    // most the batch in flight, never part of a series.
    for chunk in accepted.chunks(64) {
        outcomes.extend(store.put_series_batch(chunk).with_context(|| {
            format!(
                "cannot store series {}…{}",
                chunk[0].meta.id,
                chunk[chunk.len() - 1].meta.id
            )
        })?);
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    let mut reports: Vec<ValidationReport> = ing
        .files
        .iter()
        .map(|f| ValidationReport {
            scope: ReportScope::File,
            subject: f.path.clone(),
            report: serde_json::to_value(f).unwrap_or_default(),
        })
        .collect();
    reports.extend(ing.outcomes.iter().map(|o| ValidationReport {
        scope: ReportScope::Series,
        subject: o.meta.id.clone(),
        report: serde_json::to_value(&o.report).unwrap_or_default(),
    }));
    store
        .put_validation_reports(run, &reports)
        .context("cannot store the validation reports")?;
    Ok(outcomes)
}

/// One line about what the store writes changed (idempotence made visible).
pub fn describe_puts(puts: &[PutOutcome]) -> String {
    let (i, u, same) = puts.iter().fold((0, 0, 0), |(i, u, s), p| {
        (i + p.inserted, u + p.updated, s + p.unchanged)
    });
    format!(
        "{} series: {} samples inserted, {} updated, {} already stored",
        puts.len(),
        thousands(i),
        thousands(u),
        thousands(same)
    )
}

/// Loads the stored series, keeping one series per server (the selected metric).
pub fn load_selected(
    store: &dyn Store,
    select: &crate::cli::SelectArgs,
) -> Result<Vec<(SeriesMeta, RegularSeries)>> {
    let all = store.load_all().context("cannot load the stored series")?;
    if all.is_empty() {
        bail!("the store holds no series: run `skua ingest <files>` first");
    }
    let mut by_server: BTreeMap<String, Vec<(SeriesMeta, RegularSeries)>> = BTreeMap::new();
    for (m, s) in all {
        if !select.series.is_empty()
            && !select.series.contains(&m.id)
            && !select.series.contains(&m.server)
        {
            continue;
        }
        by_server.entry(m.server.clone()).or_default().push((m, s));
    }
    if by_server.is_empty() {
        bail!(
            "none of the requested series ({}) is in the store",
            select.series.join(", ")
        );
    }
    let mut out = Vec::with_capacity(by_server.len());
    for (server, mut list) in by_server {
        if list.len() == 1 {
            out.push(list.pop().expect("one element"));
            continue;
        }
        let pick = match &select.metric {
            Some(m) => list
                .iter()
                .position(|(meta, _)| meta.metric.as_deref() == Some(m.as_str())),
            None => list
                .iter()
                .position(|(meta, _)| {
                    meta.metric
                        .as_deref()
                        .is_some_and(|m| m.to_ascii_lowercase().contains("cpu"))
                })
                .or(Some(0)),
        };
        match pick {
            Some(i) => out.push(list.swap_remove(i)),
            None => bail!(
                "server {server} has no metric {:?} (it has: {})",
                select.metric.as_deref().unwrap_or(""),
                list.iter()
                    .filter_map(|(m, _)| m.metric.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
    Ok(out)
}

/// Resolves a model name, with the list of valid names in the error.
pub fn model(name: &str) -> Result<Box<dyn Forecaster>> {
    skua_forecast::by_name(name).with_context(|| {
        format!(
            "unknown model {name:?}: use one of {}, or mean_<k>d (e.g. mean_14d)",
            skua_forecast::baselines()
                .iter()
                .map(|m| m.name())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// Quantile levels every forecast carries.
pub const LEVELS: [f64; 3] = [0.1, 0.5, 0.9];

/// Forecasts `series` so that the result covers `[origin, origin + horizon)`: the model is
/// fitted on the whole series and predicts from its end; steps before `origin` are dropped.
pub fn forecast_from(
    model: &dyn Forecaster,
    series: &RegularSeries,
    origin: Ts,
    horizon: i64,
) -> Result<Forecast, String> {
    let step = series.step();
    let lead = (origin - series.end()).max(0);
    let skip = ((lead + step - 1) / step) as usize;
    let steps = skip + ((horizon + step - 1) / step) as usize;
    let fitted = model.fit(series).map_err(|e| e.to_string())?;
    let mut f = fitted.predict(steps, &LEVELS).map_err(|e| e.to_string())?;
    if skip > 0 {
        f.start += skip as i64 * step;
        f.point.drain(..skip);
        for b in &mut f.quantiles {
            b.values.drain(..skip);
        }
    }
    f.check()?;
    Ok(f)
}

/// Stores forecasts of a run (one transaction).
pub fn store_forecasts(
    store: &mut dyn Store,
    run: RunId,
    model: &str,
    forecasts: &[(String, Ts, Forecast)],
) -> Result<()> {
    let writes: Vec<ForecastWrite> = forecasts
        .iter()
        .map(|(id, origin, f)| ForecastWrite {
            series_id: id.clone(),
            model: model.to_string(),
            origin: *origin,
            forecast: f.clone(),
        })
        .collect();
    store
        .put_forecasts(run, &writes)
        .context("cannot store the forecasts")
}

/// The plan origin: `--at` if given, else the end of the newest series.
pub fn plan_origin(at: Option<&str>, series: &[(SeriesMeta, RegularSeries)]) -> Result<Ts> {
    if let Some(text) = at {
        let t: jiff::Timestamp = text.parse().with_context(|| {
            format!("--at {text:?} is not an RFC 3339 time (e.g. 2013-09-29T00:00:00Z)")
        })?;
        return Ok(t.as_second());
    }
    series
        .iter()
        .map(|(_, s)| s.end())
        .max()
        .context("no series to plan")
}

/// Servers whose data ends too long before `origin`, as warnings; the rest are kept.
pub fn drop_stale(
    series: Vec<(SeriesMeta, RegularSeries)>,
    origin: Ts,
    max_staleness: i64,
) -> (Vec<(SeriesMeta, RegularSeries)>, Vec<String>) {
    let mut warnings = Vec::new();
    let kept = series
        .into_iter()
        .filter(|(m, s)| {
            let stale = origin - s.end();
            if stale > max_staleness {
                warnings.push(format!(
                    "{}: data ends {} ({} before the plan origin {}); not planned",
                    m.id,
                    format_ts(s.end()),
                    format_duration(stale),
                    format_ts(origin)
                ));
                false
            } else {
                true
            }
        })
        .collect();
    (kept, warnings)
}

/// Prints a stage line with its duration.
pub fn stage_done(quiet: bool, name: &str, t0: Instant, msg: &str) {
    stage(
        quiet,
        name,
        &format!("{msg} in {:.2} s", t0.elapsed().as_secs_f64()),
    );
}
