//! Stored record types: what goes into the store and what comes back out.

use std::fmt;

use serde::{Deserialize, Serialize};
use skua_core::{Forecast, RegularSeries, SeriesMeta, Ts};

/// One series to store: its metadata and its values on a regular grid.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesWrite {
    /// Identity and labels; `meta.id` is the key.
    pub meta: SeriesMeta,
    /// Values; only present (non-NaN) values are written.
    pub series: RegularSeries,
}

/// What [`Store::put_series_batch`](crate::Store::put_series_batch) did to one series' samples.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutOutcome {
    /// The series id.
    pub id: String,
    /// Samples that were not stored before.
    pub inserted: u64,
    /// Samples that were stored with a different value.
    pub updated: u64,
    /// Samples that were already stored with the same value.
    pub unchanged: u64,
}

/// A stored series' metadata with what its samples cover.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesSummary {
    /// Identity and labels.
    pub meta: SeriesMeta,
    /// Grid step in seconds.
    pub step: i64,
    /// Number of stored (present) samples.
    pub n_samples: u64,
    /// Timestamp of the first stored sample.
    pub first_ts: Option<Ts>,
    /// Timestamp of the last stored sample.
    pub last_ts: Option<Ts>,
}

/// Identifier of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// State of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Started and not finished (or the process died before finishing it).
    Running,
    /// Finished successfully.
    Ok,
    /// Finished with an error.
    Failed,
    /// Refused its input (e.g. validation rejected the data).
    Rejected,
}

impl RunStatus {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Ok => "ok",
            RunStatus::Failed => "failed",
            RunStatus::Rejected => "rejected",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => RunStatus::Running,
            "ok" => RunStatus::Ok,
            "failed" => RunStatus::Failed,
            "rejected" => RunStatus::Rejected,
            _ => return None,
        })
    }
}

/// A stored run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Run id (increasing).
    pub id: RunId,
    /// What ran: `ingest`, `forecast`, `plan`, `evaluate`…
    pub kind: String,
    /// Parameters the run was started with.
    pub params: serde_json::Value,
    /// Current state.
    pub status: RunStatus,
    /// Summary written when the run finished.
    pub summary: Option<serde_json::Value>,
    /// Wall-clock start, Unix seconds.
    pub started_at: Ts,
    /// Wall-clock end, Unix seconds.
    pub finished_at: Option<Ts>,
}

/// What a validation report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportScope {
    /// A whole input file.
    File,
    /// One series.
    Series,
}

impl ReportScope {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportScope::File => "file",
            ReportScope::Series => "series",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "file" => Some(ReportScope::File),
            "series" => Some(ReportScope::Series),
            _ => None,
        }
    }
}

/// A validation report (its JSON is owned by the validator; the store keeps it verbatim).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    /// File or series.
    pub scope: ReportScope,
    /// The file path or series id.
    pub subject: String,
    /// The report itself.
    pub report: serde_json::Value,
}

/// A forecast to store.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastWrite {
    /// The series forecast (must be stored).
    pub series_id: String,
    /// Model name, e.g. `seasonal_naive`.
    pub model: String,
    /// The forecast origin: the last time the model saw data for.
    pub origin: Ts,
    /// The forecast.
    pub forecast: Forecast,
}

/// A stored forecast with the run that wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredForecast {
    /// The run that wrote it.
    pub run: RunId,
    /// The series forecast.
    pub series_id: String,
    /// Model name.
    pub model: String,
    /// The forecast origin.
    pub origin: Ts,
    /// The forecast (values stored bit-exact).
    pub forecast: Forecast,
}

/// One scheduled maintenance job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleRow {
    /// The server the job runs on.
    pub server: String,
    /// The constraint group (cluster, rack…) the server belongs to, if any.
    pub group: Option<String>,
    /// Window start.
    pub start: Ts,
    /// Window end (exclusive).
    pub end: Ts,
    /// Predicted load in the window (NaN if unknown).
    pub predicted: f64,
    /// Start of the second-best window, if any.
    pub runner_up_start: Option<Ts>,
    /// Predicted load in the second-best window.
    pub runner_up_predicted: Option<f64>,
}

/// Result of [`Store::check_consistency`](crate::Store::check_consistency).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyReport {
    /// Problems reported by the database's own integrity check (empty when it says `ok`).
    pub integrity: Vec<String>,
    /// Rows whose foreign key points nowhere.
    pub foreign_keys: Vec<String>,
    /// Series whose row disagrees with its samples (count, first or last timestamp) or whose
    /// samples are off its grid.
    pub series: Vec<String>,
    /// Runs still marked running (informational: a process died or is still working).
    pub unfinished_runs: Vec<RunId>,
}

impl ConsistencyReport {
    /// True if no problem was found (unfinished runs are not problems).
    pub fn is_ok(&self) -> bool {
        self.integrity.is_empty() && self.foreign_keys.is_empty() && self.series.is_empty()
    }
}

// ---- model registry ----

/// Identifier of a stored model version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VersionId(pub i64);

impl fmt::Display for VersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// Identifier of a stored forecast (its row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ForecastId(pub i64);

pub use skua_core::VersionStatus;

/// A model version to store: what was trained on what, how it scored, and its state.
/// Scores are NaN when unknown (stored as NULL).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelVersionWrite {
    /// The series the version forecasts (must be stored).
    pub series_id: String,
    /// Model (recipe) name, e.g. `mean_7d`.
    pub model: String,
    /// First timestamp of the training history.
    pub train_first: Ts,
    /// Last timestamp of the training history.
    pub train_last: Ts,
    /// Backtest MAE.
    pub mae: f64,
    /// Backtest MASE.
    pub mase: f64,
    /// Backtest 80 % interval coverage.
    pub coverage_80: f64,
    /// Backtest decision score: mean absolute window regret.
    pub regret: f64,
    /// When the version was created (passed in by the caller, Unix seconds).
    pub created_at: Ts,
    /// Initial state.
    pub status: VersionStatus,
    /// Why it has this state (e.g. the fit error), if anything worth saying.
    pub note: Option<String>,
}

/// A stored model version.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelVersionRecord {
    /// Version id (increasing over the whole store).
    pub id: VersionId,
    /// The run that created it, if any.
    pub run: Option<RunId>,
    /// Everything written, with the current status.
    pub version: ModelVersionWrite,
    /// When the status last changed.
    pub status_at: Ts,
}

/// Which version produced a forecast written with a registry update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForecastBy {
    /// The update's new version.
    NewVersion,
    /// An existing version (a fallback or the incumbent).
    Version(VersionId),
}

/// An event of the registry (a fallback, a degradation…) kept until alerts are sent.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryEventWrite {
    /// Kind, e.g. `fit_failed`, `invalid_forecast`, `accuracy_degraded`, `not_deployed`.
    pub kind: String,
    /// The version concerned; `None` in an update that adds a version means that new version.
    pub version: Option<VersionId>,
    /// When it happened.
    pub at: Ts,
    /// Details (owned by the registry policy; stored verbatim).
    pub detail: serde_json::Value,
}

/// A stored registry event.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryEventRecord {
    /// Event id (increasing).
    pub id: i64,
    /// The series concerned.
    pub series_id: String,
    /// Kind, as written.
    pub kind: String,
    /// The version concerned.
    pub version: Option<VersionId>,
    /// When it happened.
    pub at: Ts,
    /// Details, as written.
    pub detail: serde_json::Value,
    /// When alerts for it were emitted (`None` = pending).
    pub alerted_at: Option<Ts>,
}

/// One series' registry changes, applied atomically with the others of the same call.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryUpdate {
    /// The series.
    pub series_id: String,
    /// A version to add.
    pub new_version: Option<ModelVersionWrite>,
    /// Status changes of existing versions.
    pub status_changes: Vec<(VersionId, VersionStatus)>,
    /// Events to record.
    pub events: Vec<RegistryEventWrite>,
    /// A forecast to store, linked to the version that produced it.
    pub forecast: Option<(ForecastWrite, ForecastBy)>,
}

/// A stored forecast linked to the model version that produced it.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionedForecast {
    /// The forecast's row id.
    pub id: ForecastId,
    /// The version that produced it.
    pub version: VersionId,
    /// The forecast.
    pub stored: StoredForecast,
}

/// One live score: a stored forecast checked against what happened.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveScore {
    /// The forecast scored (each forecast is scored once).
    pub forecast: ForecastId,
    /// The version that produced it.
    pub version: VersionId,
    /// Its series.
    pub series_id: String,
    /// The UTC day the forecast covers (start of the day of its first step).
    pub day: Ts,
    /// MAE of the point forecast against the actual values.
    pub mae: f64,
    /// Window regret of the lowest-predicted window (NaN if unknown).
    pub regret: f64,
    /// Actual values the scores were computed on.
    pub observed: u32,
    /// When it was scored.
    pub scored_at: Ts,
}
