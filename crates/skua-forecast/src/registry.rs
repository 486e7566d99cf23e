//! The model registry's policy: which version of a series' model serves, when a new one is
//! deployed, and when to fall back to the last known good one.
//!
//! Seagull (Poppe et al., "Seagull: An Infrastructure for Load Prediction and Optimized
//! Resource Allocation", VLDB 2021) keeps every trained model, continually re-evaluates the
//! deployed one against what happened, and falls back to the last known good model when a
//! new one fails. This module is that policy, pure: the caller passes the versions, their
//! scores, the live track record and `now`, and applies the [`Decision`] (the binary stores
//! it; `skua-store` keeps the records).
//!
//! A version's artefact is its recipe (model name and configuration) plus the training range
//! it was scored on: skua's models fit in microseconds, so serving a version means applying
//! its recipe to the current history.
//!
//! States: `candidate` (scored, not serving), `deployed` (serving; at most one per series),
//! `retired` (served before, replaced: a last known good), `failed` (fit error, invalid
//! forecast or degraded live; never served again).

use serde::{Deserialize, Serialize};
use skua_core::window::{argmin, rolling_means};
use skua_core::{SECONDS_PER_DAY, Ts};

pub use skua_core::VersionStatus;

/// Backtest scores of a version (NaN = unknown).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scores {
    /// Mean absolute error over the backtest windows.
    pub mae: f64,
    /// Mean absolute scaled error.
    pub mase: f64,
    /// Share of actuals inside the 80 % interval.
    pub coverage_80: f64,
    /// Decision score: mean absolute regret of the lowest-predicted window.
    pub regret: f64,
}

impl Scores {
    /// Every score unknown.
    pub const UNKNOWN: Scores = Scores {
        mae: f64::NAN,
        mase: f64::NAN,
        coverage_80: f64::NAN,
        regret: f64::NAN,
    };
}

/// What the policy needs to know of a stored version.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    /// Store id (increasing: a larger id is newer).
    pub id: i64,
    /// Model (recipe) name.
    pub model: String,
    /// Current state.
    pub status: VersionStatus,
    /// Backtest scores.
    pub scores: Scores,
}

/// One day of a version's live track record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveRecord {
    /// The version that made the forecast.
    pub version: i64,
    /// The UTC day the forecast covered.
    pub day: Ts,
    /// MAE against what happened.
    pub mae: f64,
}

/// How training a new version went.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainOutcome {
    /// Fitted, forecast valid, backtested.
    Trained(Scores),
    /// The fit (or the prediction) returned an error.
    FitFailed(String),
    /// The forecast had NaN/infinite values or crossing quantiles.
    InvalidForecast(String),
}

/// Thresholds of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RegistryPolicy {
    /// A candidate is deployed only if its backtest MAE ≤ (1 + margin) × the last known
    /// good's (0.05: at most 5 % worse, so that noise does not flap versions).
    pub deploy_margin: f64,
    /// Live accuracy is degraded when the mean live MAE exceeds this factor × the
    /// version's backtest MAE (1.5)…
    pub degrade_factor: f64,
    /// … and exceeds it by at least this much, in the series' units (0.5: on an idle
    /// server a MAE of 0.1 doubling to 0.2 is noise, not a broken model).
    pub degrade_floor: f64,
    /// Live days considered: those within this many days before `now` (3).
    pub degrade_window_days: i64,
    /// Least live days in the window before judging (1).
    pub min_live_days: usize,
}

impl Default for RegistryPolicy {
    fn default() -> Self {
        RegistryPolicy {
            deploy_margin: 0.05,
            degrade_factor: 1.5,
            degrade_floor: 0.5,
            degrade_window_days: 3,
            min_live_days: 1,
        }
    }
}

/// What happened, for the log and the alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A new version's fit failed.
    FitFailed,
    /// A new version forecast invalid values.
    InvalidForecast,
    /// The deployed version's live accuracy degraded past the threshold.
    AccuracyDegraded,
    /// A candidate was scored worse than the last known good by more than the margin.
    NotDeployed,
}

impl EventKind {
    /// Stable name (`fit_failed`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::FitFailed => "fit_failed",
            EventKind::InvalidForecast => "invalid_forecast",
            EventKind::AccuracyDegraded => "accuracy_degraded",
            EventKind::NotDeployed => "not_deployed",
        }
    }

    /// True if the event made the series fall back (or try to) to a last known good.
    pub fn is_fallback(self) -> bool {
        !matches!(self, EventKind::NotDeployed)
    }
}

/// A registry event. Serialisable: the store keeps it verbatim until alerts are sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistryEvent {
    /// What happened.
    pub kind: EventKind,
    /// Model of the version concerned.
    pub model: String,
    /// The version concerned (`None`: the new version of the same decision).
    pub version: Option<i64>,
    /// The last known good now serving, if the event is a fallback and one exists.
    pub fallback_to: Option<i64>,
    /// Its model.
    pub fallback_model: Option<String>,
    /// One sentence for a human.
    pub detail: String,
    /// Mean live MAE over the window (degradation only).
    pub live_mae: Option<f64>,
    /// The version's backtest MAE (degradation and non-deployment).
    pub backtest_mae: Option<f64>,
}

/// Which version serves the series after a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serve {
    /// The new version.
    New,
    /// An existing version (the incumbent or a fallback).
    Existing(i64),
    /// Nothing can serve: no valid new version and no last known good.
    Nothing,
}

/// The policy's answer: states to write and what serves.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// State of the new version (`None` when the decision adds none).
    pub new_status: Option<VersionStatus>,
    /// State changes of existing versions, in the order to apply them.
    pub changes: Vec<(i64, VersionStatus)>,
    /// What serves afterwards.
    pub serve: Serve,
    /// What happened.
    pub events: Vec<RegistryEvent>,
}

/// The deployed version, if any.
pub fn deployed(versions: &[Version]) -> Option<&Version> {
    versions
        .iter()
        .find(|v| v.status == VersionStatus::Deployed)
}

/// The last known good: the deployed version, else the newest retired one.
pub fn last_known_good(versions: &[Version]) -> Option<&Version> {
    deployed(versions).or_else(|| {
        versions
            .iter()
            .filter(|v| v.status == VersionStatus::Retired)
            .max_by_key(|v| v.id)
    })
}

/// Serving `v`: redeploys it first if it is retired.
fn serve_existing(v: &Version, changes: &mut Vec<(i64, VersionStatus)>) -> Serve {
    if v.status == VersionStatus::Retired {
        changes.push((v.id, VersionStatus::Deployed));
    }
    Serve::Existing(v.id)
}

/// Decides the state of a newly trained version of `model` for a series with `versions`.
///
/// `incumbent_now` is the last known good's recipe scored on the same backtest windows as
/// the candidate (a fair comparison); without it, its stored scores are used.
pub fn decide_new(
    versions: &[Version],
    model: &str,
    outcome: &TrainOutcome,
    incumbent_now: Option<&Scores>,
    policy: &RegistryPolicy,
) -> Decision {
    let good = last_known_good(versions);
    let mut changes = Vec::new();
    let failure = match outcome {
        TrainOutcome::FitFailed(e) => Some((EventKind::FitFailed, e)),
        TrainOutcome::InvalidForecast(e) => Some((EventKind::InvalidForecast, e)),
        TrainOutcome::Trained(_) => None,
    };
    if let Some((kind, error)) = failure {
        let serve = good.map_or(Serve::Nothing, |g| serve_existing(g, &mut changes));
        let detail = match good {
            Some(g) => format!(
                "{model}: {error}; falling back to the last known good {} (v{})",
                g.model, g.id
            ),
            None => format!("{model}: {error}; no last known good version to fall back to"),
        };
        return Decision {
            new_status: Some(VersionStatus::Failed),
            changes,
            serve,
            events: vec![RegistryEvent {
                kind,
                model: model.to_string(),
                version: None,
                fallback_to: good.map(|g| g.id),
                fallback_model: good.map(|g| g.model.clone()),
                detail,
                live_mae: None,
                backtest_mae: None,
            }],
        };
    }
    let TrainOutcome::Trained(scores) = outcome else {
        unreachable!("failures returned above")
    };
    let Some(good) = good else {
        return Decision {
            new_status: Some(VersionStatus::Deployed),
            changes,
            serve: Serve::New,
            events: Vec::new(),
        };
    };
    let reference = incumbent_now.map_or(good.scores.mae, |s| s.mae);
    let not_worse = scores.mae.is_finite()
        && (!reference.is_finite() || scores.mae <= reference * (1.0 + policy.deploy_margin));
    if not_worse {
        if good.status == VersionStatus::Deployed {
            changes.push((good.id, VersionStatus::Retired));
        }
        return Decision {
            new_status: Some(VersionStatus::Deployed),
            changes,
            serve: Serve::New,
            events: Vec::new(),
        };
    }
    let serve = serve_existing(good, &mut changes);
    Decision {
        new_status: Some(VersionStatus::Candidate),
        changes,
        serve,
        events: vec![RegistryEvent {
            kind: EventKind::NotDeployed,
            model: model.to_string(),
            version: None,
            fallback_to: None,
            fallback_model: None,
            detail: format!(
                "{model}: backtest MAE {:.3} is more than {:.0} % worse than {} (v{}) at {:.3}; \
                 kept as a candidate",
                scores.mae,
                100.0 * policy.deploy_margin,
                good.model,
                good.id,
                reference
            ),
            live_mae: None,
            backtest_mae: Some(scores.mae),
        }],
    }
}

/// Re-evaluates the deployed version against its live track record (`live`: the series'
/// records, any version) at `now`. Returns a decision only when it degraded: the version
/// fails and the newest retired version, if any, is redeployed.
pub fn decide_live(
    versions: &[Version],
    live: &[LiveRecord],
    now: Ts,
    policy: &RegistryPolicy,
) -> Option<Decision> {
    let current = deployed(versions)?;
    let since = now - policy.degrade_window_days * SECONDS_PER_DAY;
    let recent: Vec<f64> = live
        .iter()
        .filter(|r| r.version == current.id && r.day >= since && r.day <= now && r.mae.is_finite())
        .map(|r| r.mae)
        .collect();
    let backtest = current.scores.mae;
    if recent.len() < policy.min_live_days.max(1) || !backtest.is_finite() {
        return None;
    }
    let live_mae = recent.iter().sum::<f64>() / recent.len() as f64;
    if live_mae <= policy.degrade_factor * backtest || live_mae - backtest < policy.degrade_floor {
        return None;
    }
    let mut changes = vec![(current.id, VersionStatus::Failed)];
    let fallback = versions
        .iter()
        .filter(|v| v.status == VersionStatus::Retired)
        .max_by_key(|v| v.id);
    let serve = fallback.map_or(Serve::Nothing, |f| serve_existing(f, &mut changes));
    let detail = format!(
        "{} (v{}): live MAE {live_mae:.3} over {} day(s) is {:.1}× its backtest MAE {backtest:.3}; {}",
        current.model,
        current.id,
        recent.len(),
        live_mae / backtest.max(f64::MIN_POSITIVE),
        match fallback {
            Some(f) => format!(
                "falling back to the last known good {} (v{})",
                f.model, f.id
            ),
            None => "no last known good version to fall back to".into(),
        }
    );
    Some(Decision {
        new_status: None,
        changes,
        serve,
        events: vec![RegistryEvent {
            kind: EventKind::AccuracyDegraded,
            model: current.model.clone(),
            version: Some(current.id),
            fallback_to: fallback.map(|f| f.id),
            fallback_model: fallback.map(|f| f.model.clone()),
            detail,
            live_mae: Some(live_mae),
            backtest_mae: Some(backtest),
        }],
    })
}

/// Absolute regret of choosing the lowest-predicted window of `len` steps: the actual mean
/// in that window minus the lowest actual window mean (the fleet protocol's `areg_L`).
/// NaN if either path has no complete window.
pub fn window_regret(predicted: &[f64], actual: &[f64], len: usize) -> f64 {
    let n = predicted.len().min(actual.len());
    let pred = rolling_means(&predicted[..n], len);
    let act = rolling_means(&actual[..n], len);
    match (argmin(&pred), argmin(&act)) {
        (Some(chosen), Some(best)) if act[chosen].is_finite() => act[chosen] - act[best],
        _ => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regret_of_the_lowest_predicted_window() {
        // Predicted lows at 0–1, actual lows at 2–3.
        let pred = [1.0, 1.0, 5.0, 5.0];
        let act = [4.0, 4.0, 1.0, 1.0];
        assert_eq!(window_regret(&pred, &act, 2), 3.0);
        assert_eq!(window_regret(&act, &act, 2), 0.0);
        assert!(window_regret(&pred, &[f64::NAN; 4], 2).is_nan());
    }
}
