//! The live loop of the model registry: `skua forecast` trains and registers a version per
//! series (deploying it only if it is not worse than the last known good), and
//! `skua evaluate --live` scores stored forecasts whose horizon has been observed, appends
//! them to the track record, falls back where live accuracy degraded, and raises alerts
//! (JSON lines and Alertmanager). The policy is `skua_forecast::registry`; the rules
//! `skua_forecast::alerts`; this module wires them to the store, the clock and the network.

mod deliver;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use rayon::prelude::*;
use skua_core::metrics::mae;
use skua_core::time::{day_start, format_ts};
use skua_core::{Forecast, RegularSeries, SeriesMeta, Ts};
use skua_forecast::alerts::{self, Alert, AlertRules, RejectedSeries};
use skua_forecast::registry::{
    self, Decision, LiveRecord, RegistryEvent, RegistryPolicy, Scores, Serve, TrainOutcome, Version,
};
use skua_forecast::{BacktestConfig, FitError, Forecaster, backtest};
use skua_store::{
    ForecastBy, ForecastWrite, LiveScore, ModelVersionRecord, ModelVersionWrite,
    RegistryEventWrite, RegistryUpdate, ReportScope, RunId, RunStatus, Store, VersionId,
};

use crate::Outcome;
use crate::cli::EvaluateArgs;
use crate::output::{stage, table, write_json};
use crate::pipeline::{LEVELS, open_store};

pub use deliver::{post_alertmanager, write_jsonl};

/// Length of the window whose regret is the decision score (the protocol's headline L = 2 h).
const REGRET_WINDOW_SECS: i64 = 2 * 3_600;

/// Looks up a model recipe by name (production: `skua_forecast::by_name`).
pub type Resolver<'a> = &'a (dyn Fn(&str) -> Option<Box<dyn Forecaster>> + Sync);

/// The wall clock, Unix seconds: the binary's only clock (libraries take `now`).
pub fn wall_clock() -> Ts {
    jiff::Timestamp::now().as_second()
}

/// The policy's view of a stored version.
fn view(r: &ModelVersionRecord) -> Version {
    Version {
        id: r.id.0,
        model: r.version.model.clone(),
        status: r.version.status,
        scores: Scores {
            mae: r.version.mae,
            mase: r.version.mase,
            coverage_80: r.version.coverage_80,
            regret: r.version.regret,
        },
    }
}

/// Stored versions grouped by series.
fn versions_by_series(store: &dyn Store) -> Result<HashMap<String, Vec<Version>>> {
    let mut by: HashMap<String, Vec<Version>> = HashMap::new();
    for r in store
        .model_versions(None)
        .context("cannot read the model registry")?
    {
        by.entry(r.version.series_id.clone())
            .or_default()
            .push(view(&r));
    }
    Ok(by)
}

/// Fits `model` on `history` and forecasts `horizon_steps` after it; a failure says whether
/// the fit failed or the forecast was invalid (NaN, infinite, crossing quantiles).
pub fn predict_checked(
    model: &dyn Forecaster,
    history: &RegularSeries,
    horizon_steps: usize,
) -> Result<Forecast, TrainOutcome> {
    let fitted = model
        .fit(history)
        .map_err(|e| TrainOutcome::FitFailed(e.to_string()))?;
    let f = fitted
        .predict(horizon_steps, &LEVELS)
        .map_err(|e| match e {
            FitError::NonFinite { .. } => TrainOutcome::InvalidForecast(e.to_string()),
            other => TrainOutcome::FitFailed(other.to_string()),
        })?;
    f.check().map_err(TrainOutcome::InvalidForecast)?;
    Ok(f)
}

/// Backtest scores of a recipe on a history (the fleet protocol's 14 daily windows).
pub fn backtest_scores(model: &dyn Forecaster, history: &RegularSeries) -> Scores {
    let Some(spd) = history.steps_per_day() else {
        return Scores::UNKNOWN;
    };
    let Ok(bt) = backtest(model, history, &BacktestConfig::daily(spd)) else {
        return Scores::UNKNOWN;
    };
    let len = ((REGRET_WINDOW_SECS / history.step()).max(1)) as usize;
    let regrets: Vec<f64> = bt
        .windows
        .iter()
        .map(|w| registry::window_regret(&w.forecast.point, &w.actuals, len))
        .collect();
    Scores {
        mae: bt.summary.mae,
        mase: bt.summary.mase,
        coverage_80: bt.summary.coverage_80,
        regret: skua_core::metrics::nanmean(&regrets),
    }
}

/// What serves a series after `skua forecast`.
#[derive(Debug, Clone)]
pub struct Served {
    /// Series id.
    pub series_id: String,
    /// The serving recipe and its forecast (`None`: nothing could serve).
    pub forecast: Option<(String, Forecast)>,
    /// The registry's decision.
    pub decision: Decision,
    /// Id of the version created for this series.
    pub new_version: Option<VersionId>,
    /// Id of the serving version.
    pub serving: Option<VersionId>,
}

/// What `skua forecast` trains and how it registers it.
pub struct Training<'a> {
    /// The recipe to train.
    pub model: &'a dyn Forecaster,
    /// Recipes of existing versions, by name (to serve a fallback).
    pub resolve: Resolver<'a>,
    /// Forecast horizon in seconds.
    pub horizon_secs: i64,
    /// Creation time of the versions.
    pub now: Ts,
    /// Deployment margin and thresholds.
    pub policy: RegistryPolicy,
}

/// Trains `model` on every series, registers the new versions under the registry policy
/// and stores the forecast of whatever serves each series (the new version, the incumbent,
/// or the last known good after a failure), all in one transaction.
pub fn register_and_forecast(
    store: &mut dyn Store,
    run: RunId,
    series: &[(SeriesMeta, RegularSeries)],
    t: &Training<'_>,
) -> Result<Vec<Served>> {
    let existing = versions_by_series(store)?;
    let empty = Vec::new();
    let name = t.model.name();
    let planned: Vec<(RegistryUpdate, Served)> = series
        .par_iter()
        .map(|(meta, s)| {
            let versions = existing.get(&meta.id).unwrap_or(&empty);
            plan_one(meta, s, versions, t, &name)
        })
        .collect();
    let (updates, mut served): (Vec<_>, Vec<_>) = planned.into_iter().unzip();
    let ids = store
        .apply_registry_updates(Some(run), &updates)
        .context("cannot record the model versions in the registry")?;
    for (s, id) in served.iter_mut().zip(ids) {
        s.new_version = id;
        s.serving = match s.decision.serve {
            Serve::New => id,
            Serve::Existing(v) => Some(VersionId(v)),
            Serve::Nothing => None,
        };
    }
    Ok(served)
}

fn plan_one(
    meta: &SeriesMeta,
    s: &RegularSeries,
    versions: &[Version],
    t: &Training<'_>,
    name: &str,
) -> (RegistryUpdate, Served) {
    let Training {
        model,
        resolve,
        horizon_secs,
        now,
        ref policy,
    } = *t;
    let step = s.step();
    let horizon_steps = ((horizon_secs + step - 1) / step).max(1) as usize;
    let candidate = predict_checked(model, s, horizon_steps);
    let (outcome, scores) = match &candidate {
        Ok(_) => {
            let sc = backtest_scores(model, s);
            (TrainOutcome::Trained(sc), sc)
        }
        Err(failure) => (failure.clone(), Scores::UNKNOWN),
    };
    // The last known good's recipe on the same windows, for a fair comparison.
    let incumbent_now = match registry::last_known_good(versions) {
        Some(g) if g.model == name => Some(scores),
        Some(g) => resolve(&g.model).map(|m| backtest_scores(m.as_ref(), s)),
        None => None,
    };
    let decision = registry::decide_new(versions, name, &outcome, incumbent_now.as_ref(), policy);
    let forecast: Option<(String, Forecast, ForecastBy)> = match decision.serve {
        Serve::New => candidate
            .ok()
            .map(|f| (name.to_string(), f, ForecastBy::NewVersion)),
        Serve::Existing(id) => versions.iter().find(|v| v.id == id).and_then(|v| {
            let recipe = resolve(&v.model)?;
            let f = predict_checked(recipe.as_ref(), s, horizon_steps).ok()?;
            Some((v.model.clone(), f, ForecastBy::Version(VersionId(id))))
        }),
        Serve::Nothing => None,
    };
    let note = match &outcome {
        TrainOutcome::FitFailed(e) | TrainOutcome::InvalidForecast(e) => Some(e.clone()),
        TrainOutcome::Trained(_) => None,
    };
    let update = RegistryUpdate {
        series_id: meta.id.clone(),
        new_version: decision.new_status.map(|st| ModelVersionWrite {
            series_id: meta.id.clone(),
            model: name.to_string(),
            train_first: s.start(),
            train_last: s.end() - step,
            mae: scores.mae,
            mase: scores.mase,
            coverage_80: scores.coverage_80,
            regret: scores.regret,
            created_at: now,
            status: st,
            note,
        }),
        status_changes: decision
            .changes
            .iter()
            .map(|(v, st)| (VersionId(*v), *st))
            .collect(),
        events: events_to_store(&decision.events, now),
        forecast: forecast.as_ref().map(|(m, f, by)| {
            (
                ForecastWrite {
                    series_id: meta.id.clone(),
                    model: m.clone(),
                    origin: s.end(),
                    forecast: f.clone(),
                },
                *by,
            )
        }),
    };
    let served = Served {
        series_id: meta.id.clone(),
        forecast: forecast.map(|(m, f, _)| (m, f)),
        decision,
        new_version: None,
        serving: None,
    };
    (update, served)
}

fn events_to_store(events: &[RegistryEvent], at: Ts) -> Vec<RegistryEventWrite> {
    events
        .iter()
        .map(|e| RegistryEventWrite {
            kind: e.kind.as_str().to_string(),
            version: e.version.map(VersionId),
            at,
            detail: serde_json::to_value(e).unwrap_or_default(),
        })
        .collect()
}

// ---- evaluate --live ----

/// Settings of one live evaluation.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// The evaluation time.
    pub now: Ts,
    /// Registry thresholds.
    pub policy: RegistryPolicy,
    /// Alert thresholds.
    pub rules: AlertRules,
}

/// A registry change made by a live evaluation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LiveChange {
    /// Series.
    pub series: String,
    /// Version that failed.
    pub failed: Option<i64>,
    /// Version now serving.
    pub serving: Option<i64>,
    /// Why.
    pub detail: String,
}

/// What a live evaluation did.
#[derive(Debug, Clone)]
pub struct LiveReport {
    /// Scores appended to the track record.
    pub scored: Vec<LiveScore>,
    /// Fallbacks made.
    pub changes: Vec<LiveChange>,
    /// Alerts raised (registry events, stale data, validation failures).
    pub alerts: Vec<Alert>,
    /// Registry events the alerts came from (mark them alerted once delivered).
    pub event_ids: Vec<i64>,
}

/// Scores the forecasts whose horizon is observed, appends them to the track record,
/// applies the degradation policy and gathers the alerts. Stores everything except the
/// events' "alerted" marks (see [`finish_delivery`]).
pub fn run_live(store: &mut dyn Store, cfg: &LiveConfig) -> Result<LiveReport> {
    let now = cfg.now;
    // 1. Score observed forecasts.
    let pending = store
        .unscored_forecasts()
        .context("cannot read the stored forecasts")?;
    let mut loaded: HashMap<String, RegularSeries> = HashMap::new();
    let mut scored = Vec::new();
    for vf in &pending {
        let id = &vf.stored.series_id;
        if !loaded.contains_key(id) {
            let s = store
                .load_series(id)
                .with_context(|| format!("cannot load series {id}"))?;
            loaded.insert(id.clone(), s);
        }
        let s = &loaded[id];
        let f = &vf.stored.forecast;
        if f.point.is_empty() || f.step != s.step() {
            continue;
        }
        let last = f.start + (f.point.len() as i64 - 1) * f.step;
        // Observed: the series has reached the forecast's last step, and it is not in the
        // future of the evaluation time.
        if s.is_empty() || s.end() - s.step() < last || last > now {
            continue;
        }
        let actual: Vec<f64> = (0..f.point.len())
            .map(|k| {
                let ts = f.start + k as i64 * f.step;
                if ts < s.start() || (ts - s.start()) % s.step() != 0 {
                    return f64::NAN;
                }
                s.values()
                    .get(((ts - s.start()) / s.step()) as usize)
                    .copied()
                    .unwrap_or(f64::NAN)
            })
            .collect();
        let observed = actual.iter().filter(|v| v.is_finite()).count();
        let len = ((REGRET_WINDOW_SECS / f.step).max(1)) as usize;
        scored.push(LiveScore {
            forecast: vf.id,
            version: vf.version,
            series_id: id.clone(),
            day: day_start(f.start),
            mae: mae(&actual, &f.point),
            regret: registry::window_regret(&f.point, &actual, len),
            observed: observed as u32,
            scored_at: now,
        });
    }
    store
        .put_live_scores(&scored)
        .context("cannot append to the live track record")?;

    // 2. Re-evaluate every deployed version against its track record.
    let versions = versions_by_series(store)?;
    let mut track: HashMap<String, Vec<LiveRecord>> = HashMap::new();
    for r in store
        .live_scores(None)
        .context("cannot read the live track record")?
    {
        track
            .entry(r.series_id.clone())
            .or_default()
            .push(LiveRecord {
                version: r.version.0,
                day: r.day,
                mae: r.mae,
            });
    }
    let mut series_ids: Vec<&String> = versions.keys().collect();
    series_ids.sort();
    let mut updates = Vec::new();
    let mut changes = Vec::new();
    for id in series_ids {
        let live = track.get(id).map(Vec::as_slice).unwrap_or(&[]);
        if let Some(d) = registry::decide_live(&versions[id], live, now, &cfg.policy) {
            changes.push(LiveChange {
                series: id.clone(),
                failed: d.events.first().and_then(|e| e.version),
                serving: match d.serve {
                    Serve::Existing(v) => Some(v),
                    _ => None,
                },
                detail: d
                    .events
                    .first()
                    .map(|e| e.detail.clone())
                    .unwrap_or_default(),
            });
            updates.push(RegistryUpdate {
                series_id: id.clone(),
                new_version: None,
                status_changes: d
                    .changes
                    .iter()
                    .map(|(v, st)| (VersionId(*v), *st))
                    .collect(),
                events: events_to_store(&d.events, now),
                forecast: None,
            });
        }
    }
    store
        .apply_registry_updates(None, &updates)
        .context("cannot record the fallbacks in the registry")?;

    // 3. Alerts: pending registry events, stale data, the last ingest's rejections.
    let mut alert_list = Vec::new();
    let mut event_ids = Vec::new();
    for e in store
        .pending_events()
        .context("cannot read the registry events")?
    {
        event_ids.push(e.id);
        match serde_json::from_value::<RegistryEvent>(e.detail.clone()) {
            Ok(ev) => alert_list.extend(alerts::from_event(
                &e.series_id,
                &ev,
                e.version.map(|v| v.0),
                e.at,
                now,
                &cfg.rules,
            )),
            Err(err) => eprintln!(
                "warning: registry event {} of {} is not readable ({err}); skipped",
                e.id, e.series_id
            ),
        }
    }
    let last_samples: Vec<(String, Option<Ts>)> = store
        .series_summaries()
        .context("cannot read the stored series")?
        .into_iter()
        .map(|s| (s.meta.id, s.last_ts))
        .collect();
    alert_list.extend(alerts::stale_data(&last_samples, now, &cfg.rules));
    alert_list.extend(validation_alerts(store, now, &cfg.rules)?);
    Ok(LiveReport {
        scored,
        changes,
        alerts: alert_list,
        event_ids,
    })
}

/// Alerts for the series rejected by the most recent ingest run.
fn validation_alerts(store: &dyn Store, now: Ts, rules: &AlertRules) -> Result<Vec<Alert>> {
    let runs = store.runs().context("cannot read the runs")?;
    let Some(run) = runs.iter().rev().find(|r| r.kind == "ingest") else {
        return Ok(Vec::new());
    };
    let rejected: Vec<RejectedSeries> = store
        .validation_reports(run.id)
        .context("cannot read the validation reports")?
        .into_iter()
        .filter(|r| r.scope == ReportScope::Series && r.report["status"] == "rejected")
        .map(|r| RejectedSeries {
            series: r.subject,
            issues: r.report["issues"]
                .as_array()
                .map(|issues| {
                    issues
                        .iter()
                        .filter(|i| i["severity"] == "error")
                        .filter_map(|i| i["code"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    Ok(alerts::validation_failures(
        &rejected,
        run.id.0,
        run.started_at,
        now,
        rules,
    ))
}

/// Where alerts are sent.
#[derive(Debug, Clone, Default)]
pub struct Delivery<'a> {
    /// JSON lines file (appended); `None` = stdout.
    pub jsonl: Option<&'a Path>,
    /// Alertmanager base URL.
    pub alertmanager: Option<&'a str>,
    /// HTTP timeout.
    pub timeout: Duration,
    /// `generatorURL` of every alert.
    pub generator_url: String,
}

/// Writes the JSON lines, then POSTs to Alertmanager; marks the registry events alerted
/// only when every configured output took them (a failed POST leaves them pending, so the
/// next run sends them again).
pub fn finish_delivery(
    store: &mut dyn Store,
    report: &LiveReport,
    to: &Delivery<'_>,
    now: Ts,
) -> Result<()> {
    let wire: Vec<_> = report
        .alerts
        .iter()
        .map(|a| a.to_alertmanager(&to.generator_url))
        .collect();
    write_jsonl(to.jsonl, &wire)?;
    if let Some(url) = to.alertmanager {
        post_alertmanager(url, &wire, to.timeout).with_context(|| match to.jsonl {
            Some(p) => format!("the alerts were written to {}", p.display()),
            None => "the alerts were printed as JSON lines".to_string(),
        })?;
    }
    if !report.event_ids.is_empty() {
        store
            .mark_events_alerted(&report.event_ids, now)
            .context("cannot mark the registry events as alerted")?;
    }
    Ok(())
}

/// Parses `--now` (RFC 3339) or reads the clock.
fn parse_now(now: Option<&str>) -> Result<Ts> {
    match now {
        None => Ok(wall_clock()),
        Some(text) => {
            let t: jiff::Timestamp = text.parse().with_context(|| {
                format!("--now {text:?} is not an RFC 3339 time (e.g. 2026-10-13T00:00:00Z)")
            })?;
            Ok(t.as_second())
        }
    }
}

/// `skua evaluate --live`.
pub fn evaluate_live(a: &EvaluateArgs, quiet: bool) -> Result<Outcome> {
    let now = parse_now(a.now.as_deref())?;
    let mut store = open_store(&a.store.store)?;
    let cfg = LiveConfig {
        now,
        policy: RegistryPolicy {
            degrade_factor: a.degrade_factor,
            degrade_window_days: a.degrade_days,
            ..RegistryPolicy::default()
        },
        rules: AlertRules {
            stale_after: a.stale_after,
            ..AlertRules::default()
        },
    };
    let run = store.start_run(
        "evaluate_live",
        serde_json::json!({ "now": now, "policy": cfg.policy, "rules": cfg.rules }),
    )?;
    let report = match run_live(store.as_mut(), &cfg) {
        Ok(r) => r,
        Err(e) => {
            store.finish_run(
                run,
                RunStatus::Failed,
                serde_json::json!({ "error": format!("{e:#}") }),
            )?;
            return Err(e);
        }
    };
    // The human summary goes to stdout, unless the alerts' JSON lines do.
    let summary = render_summary(&report, now);
    if a.alerts_jsonl.is_some() {
        println!("{summary}");
    } else {
        eprintln!("{summary}");
    }
    let json = serde_json::json!({
        "now": format_ts(now),
        "scored": report.scored.len(),
        "fallbacks": report.changes,
        "alerts": report.alerts.len(),
    });
    if let Some(p) = &a.json {
        write_json(p, &json)?;
    }
    let generator_url = format!(
        "file://{}?run={run}",
        std::path::absolute(&a.store.store)
            .unwrap_or_else(|_| a.store.store.clone())
            .display()
            .to_string()
            .replace(' ', "%20")
    );
    let delivered = finish_delivery(
        store.as_mut(),
        &report,
        &Delivery {
            jsonl: a.alerts_jsonl.as_deref(),
            alertmanager: a.alertmanager_url.as_deref(),
            timeout: Duration::from_secs(a.alert_timeout.max(1) as u64),
            generator_url,
        },
        now,
    );
    store.finish_run(
        run,
        if delivered.is_ok() {
            RunStatus::Ok
        } else {
            RunStatus::Failed
        },
        json,
    )?;
    delivered?;
    stage(
        quiet,
        "live",
        &format!(
            "{} forecast(s) scored, {} fallback(s), {} alert(s)",
            report.scored.len(),
            report.changes.len(),
            report.alerts.len()
        ),
    );
    Ok(Outcome::Ok)
}

fn render_summary(r: &LiveReport, now: Ts) -> String {
    let mut out = format!(
        "live evaluation at {}: {} forecast(s) scored, {} fallback(s), {} alert(s)\n",
        format_ts(now),
        r.scored.len(),
        r.changes.len(),
        r.alerts.len()
    );
    if !r.scored.is_empty() {
        let rows: Vec<Vec<String>> = r
            .scored
            .iter()
            .map(|s| {
                vec![
                    s.series_id.clone(),
                    s.version.to_string(),
                    format_ts(s.day),
                    format!("{:.3}", s.mae),
                    format!("{:.3}", s.regret),
                    s.observed.to_string(),
                ]
            })
            .collect();
        out.push_str(&table(
            &["series", "version", "day", "live MAE", "regret", "observed"],
            &rows,
        ));
        out.push('\n');
    }
    for c in &r.changes {
        out.push_str(&format!("fallback: {}: {}\n", c.series, c.detail));
    }
    for a in &r.alerts {
        out.push_str(&format!(
            "alert [{}] {}: {}\n",
            a.severity.as_str(),
            a.kind.alertname(),
            a.summary
        ));
    }
    out.trim_end().to_string()
}
