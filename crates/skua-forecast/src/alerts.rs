//! Alert rules: accuracy degradation, validation failures, stale data and fallbacks, and
//! their Alertmanager v2 wire shape. Pure: the caller passes `now` and emits the alerts.
//!
//! Every alert is "firing until `ends_at`": `ends_at = now + resolve_after`, so an alert that
//! is not raised again by the next evaluation resolves by itself in Alertmanager (the
//! client-side resolution Alertmanager's API documents for `endsAt`). Labels identify an
//! alert (Alertmanager deduplicates on them), so they never carry changing numbers;
//! figures go in the annotations.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use skua_core::Ts;
use skua_core::time::{format_duration, format_ts};

use crate::registry::{EventKind, RegistryEvent};

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// For the record.
    Info,
    /// Someone should look today.
    Warning,
    /// Decisions are being made without a trustworthy model.
    Critical,
}

impl Severity {
    /// Lower-case name (`warning`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// The alert rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The deployed model's live accuracy degraded past the registry's threshold.
    AccuracyDegraded,
    /// The last ingest run rejected series.
    ValidationFailed,
    /// A series' newest sample is older than the staleness limit.
    StaleData,
    /// A series fell back to its last known good model (or had none to fall back to).
    Fallback,
}

impl AlertKind {
    /// The Alertmanager `alertname`.
    pub fn alertname(self) -> &'static str {
        match self {
            AlertKind::AccuracyDegraded => "SkuaAccuracyDegraded",
            AlertKind::ValidationFailed => "SkuaValidationFailed",
            AlertKind::StaleData => "SkuaStaleData",
            AlertKind::Fallback => "SkuaModelFallback",
        }
    }
}

/// Thresholds of the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRules {
    /// A series is stale when its last sample is older than this before `now` (seconds).
    pub stale_after: i64,
    /// An alert resolves this long after it was last raised unless raised again (seconds).
    pub resolve_after: i64,
}

impl Default for AlertRules {
    /// Stale after 2 days (the planner's `--max-staleness`); resolve after 25 h, so a daily
    /// evaluation keeps a persisting condition firing without gaps.
    fn default() -> Self {
        AlertRules {
            stale_after: 2 * 86_400,
            resolve_after: 25 * 3_600,
        }
    }
}

/// An alert, independent of where it is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Which rule raised it.
    pub kind: AlertKind,
    /// How urgent.
    pub severity: Severity,
    /// The series concerned, if any.
    pub series: Option<String>,
    /// Extra identifying labels (model, version, reason…).
    pub labels: BTreeMap<String, String>,
    /// One line.
    pub summary: String,
    /// The details, with figures.
    pub description: String,
    /// When the condition began.
    pub starts_at: Ts,
    /// When the alert resolves unless raised again.
    pub ends_at: Ts,
}

/// One alert in Alertmanager's v2 API shape (`POST /api/v2/alerts` takes an array of them).
/// skua's JSON lines use the same shape, one alert per line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertmanagerAlert {
    /// `alertname`, `severity`, `service` = `skua`, `series` and the alert's own labels.
    pub labels: BTreeMap<String, String>,
    /// `summary` and `description`.
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339 UTC.
    #[serde(rename = "startsAt")]
    pub starts_at: String,
    /// RFC 3339 UTC.
    #[serde(rename = "endsAt")]
    pub ends_at: String,
    /// Where the alert came from.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
}

impl Alert {
    /// The Alertmanager v2 shape of this alert.
    pub fn to_alertmanager(&self, generator_url: &str) -> AlertmanagerAlert {
        let mut labels = self.labels.clone();
        labels.insert("alertname".into(), self.kind.alertname().into());
        labels.insert("severity".into(), self.severity.as_str().into());
        labels.insert("service".into(), "skua".into());
        if let Some(s) = &self.series {
            labels.insert("series".into(), s.clone());
        }
        let annotations = BTreeMap::from([
            ("summary".to_string(), self.summary.clone()),
            ("description".to_string(), self.description.clone()),
        ]);
        AlertmanagerAlert {
            labels,
            annotations,
            starts_at: format_ts(self.starts_at),
            ends_at: format_ts(self.ends_at),
            generator_url: generator_url.to_string(),
        }
    }
}

/// Stale data: one alert per series whose last sample (`None`: no sample) is older than
/// `rules.stale_after` before `now`.
pub fn stale_data(
    last_samples: &[(String, Option<Ts>)],
    now: Ts,
    rules: &AlertRules,
) -> Vec<Alert> {
    last_samples
        .iter()
        .filter_map(|(id, last)| {
            let age = last.map(|t| now - t);
            if age.is_some_and(|a| a <= rules.stale_after) {
                return None;
            }
            let description = match last {
                Some(t) => format!(
                    "the newest sample of {id} is from {} ({} before {}); the limit is {}",
                    format_ts(*t),
                    format_duration(now - t),
                    format_ts(now),
                    format_duration(rules.stale_after)
                ),
                None => format!("{id} has no stored sample"),
            };
            Some(Alert {
                kind: AlertKind::StaleData,
                severity: Severity::Warning,
                series: Some(id.clone()),
                labels: BTreeMap::new(),
                summary: format!("no fresh data for {id}"),
                description,
                starts_at: last.map_or(now, |t| (t + rules.stale_after).min(now)),
                ends_at: now + rules.resolve_after,
            })
        })
        .collect()
}

/// A series the validation rejected, with its error issues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedSeries {
    /// Series id.
    pub series: String,
    /// The error issue codes (e.g. `non_finite`, `too_short`).
    pub issues: Vec<String>,
}

/// Validation failures: one alert per series rejected by ingest run `run` (which began at
/// `run_at`).
pub fn validation_failures(
    rejected: &[RejectedSeries],
    run: i64,
    run_at: Ts,
    now: Ts,
    rules: &AlertRules,
) -> Vec<Alert> {
    rejected
        .iter()
        .map(|r| Alert {
            kind: AlertKind::ValidationFailed,
            severity: Severity::Warning,
            series: Some(r.series.clone()),
            labels: BTreeMap::from([("ingest_run".to_string(), run.to_string())]),
            summary: format!("{} was rejected by validation", r.series),
            description: format!(
                "ingest run {run} rejected {} ({}): nothing of it was stored; fix the data or \
                 ingest with --policy repair",
                r.series,
                if r.issues.is_empty() {
                    "no issue recorded".to_string()
                } else {
                    r.issues.join(", ")
                }
            ),
            starts_at: run_at.min(now),
            ends_at: now + rules.resolve_after,
        })
        .collect()
}

/// The alerts of a registry event on `series` (`version`: the version it concerns, as
/// stored): a degradation raises an accuracy alert and a fallback alert; a failed fit or an
/// invalid forecast a fallback alert. A fallback with nothing to fall back to is critical.
/// `not_deployed` raises nothing: keeping the incumbent is the policy working.
pub fn from_event(
    series: &str,
    event: &RegistryEvent,
    version: Option<i64>,
    at: Ts,
    now: Ts,
    rules: &AlertRules,
) -> Vec<Alert> {
    if !event.kind.is_fallback() {
        return Vec::new();
    }
    let mut labels = BTreeMap::from([
        ("model".to_string(), event.model.clone()),
        ("reason".to_string(), event.kind.as_str().to_string()),
    ]);
    if let Some(v) = version.or(event.version) {
        labels.insert("version".into(), v.to_string());
    }
    let mut out = Vec::new();
    if event.kind == EventKind::AccuracyDegraded {
        out.push(Alert {
            kind: AlertKind::AccuracyDegraded,
            severity: Severity::Warning,
            series: Some(series.to_string()),
            labels: labels.clone(),
            summary: format!("forecast accuracy of {series} degraded"),
            description: event.detail.clone(),
            starts_at: at,
            ends_at: now + rules.resolve_after,
        });
    }
    labels.insert(
        "fallback_to".into(),
        event
            .fallback_to
            .map_or_else(|| "none".to_string(), |v| v.to_string()),
    );
    out.push(Alert {
        kind: AlertKind::Fallback,
        severity: if event.fallback_to.is_some() {
            Severity::Warning
        } else {
            Severity::Critical
        },
        series: Some(series.to_string()),
        labels,
        summary: match (&event.fallback_model, event.fallback_to) {
            (Some(m), Some(v)) => {
                format!("{series} fell back to its last known good model {m} (v{v})")
            }
            _ => format!("{series} has no last known good model to fall back to"),
        },
        description: event.detail.clone(),
        starts_at: at,
        ends_at: now + rules.resolve_after,
    });
    out
}
