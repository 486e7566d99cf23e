//! The report's input: plain serde data. The CLI converts its own types into these once, so this
//! crate depends on no other skua crate but `skua-core`, and the same structs are the JSON that is
//! written beside the HTML.
//!
//! Conventions: timestamps are Unix seconds (UTC); shares and rates are fractions in `0..=1`;
//! missing samples are `NaN` in memory and `null` in JSON.

use serde::{Deserialize, Serialize};
use skua_core::{TimeWindow, Ts};

/// Everything one `skua run` report shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Page title, e.g. `skua run — bitbrains fastStorage`.
    pub title: String,
    /// When the run happened, as text (the renderer never reads the clock).
    pub generated_at: String,
    /// Where the telemetry came from (paths or a query), shown verbatim.
    pub source: String,
    /// Unit of the load values, for axis labels (`CPU %`, `req/s`); may be empty.
    #[serde(default)]
    pub unit: String,
    /// Key facts for the header, as (label, value) pairs, in display order.
    #[serde(default)]
    pub summary: Vec<(String, String)>,
    /// What ingestion and validation found.
    pub validation: ValidationSection,
    /// How the planner's choices compared with the actual load; `None` if there were no actuals.
    #[serde(default)]
    pub evaluation: Option<EvaluationSection>,
    /// Detailed panels for a bounded selection of servers, in display order.
    #[serde(default)]
    pub servers: Vec<ServerPanel>,
    /// One planned maintenance window per server.
    #[serde(default)]
    pub schedule: Vec<ScheduleRow>,
    /// Free-form remarks shown at the end (warnings, parameters).
    #[serde(default)]
    pub notes: Vec<String>,
}

/// Ingestion and validation results.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ValidationSection {
    /// One row per input file.
    #[serde(default)]
    pub files: Vec<FileRow>,
    /// One row per series (all of them; the renderer shows the most problematic first and caps).
    #[serde(default)]
    pub series: Vec<SeriesRow>,
    /// Fleet-wide issue counts by issue code.
    #[serde(default)]
    pub issue_counts: Vec<(String, usize)>,
    /// Share of series with data per time bucket, fleet-wide.
    #[serde(default)]
    pub coverage: Option<CoverageStrip>,
    /// The longest gaps in the fleet, longest first.
    #[serde(default)]
    pub longest_gaps: Vec<GapRow>,
}

/// One input file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRow {
    /// Path as given.
    pub path: String,
    /// Detected format (`csv`, `parquet`, …).
    pub format: String,
    /// Detected time format (`unix seconds`, `rfc3339`, …).
    pub time_format: String,
    /// Why that time format was chosen.
    #[serde(default)]
    pub time_format_reason: String,
    /// Data rows read.
    pub rows: u64,
    /// Rows that could not be parsed.
    pub bad_rows: u64,
    /// Series found in the file.
    pub series: usize,
}

/// What validation decided about a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeriesStatus {
    /// Used as is.
    Accepted,
    /// Used after repairs (gap filling, clipping, deduplication).
    Repaired,
    /// Not used.
    Rejected,
}

impl SeriesStatus {
    /// Lower-case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            SeriesStatus::Accepted => "accepted",
            SeriesStatus::Repaired => "repaired",
            SeriesStatus::Rejected => "rejected",
        }
    }
}

/// Validation summary of one series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesRow {
    /// Series id.
    pub id: String,
    /// Sampling interval in seconds.
    pub interval_secs: i64,
    /// Samples present.
    pub points: usize,
    /// Share of the expected grid points that are present, `0..=1`.
    pub coverage: f64,
    /// Number of gaps.
    pub gaps: usize,
    /// Longest gap in seconds.
    pub longest_gap_secs: i64,
    /// Issues found, as (issue code, count).
    #[serde(default)]
    pub issues: Vec<(String, usize)>,
    /// Outcome.
    pub status: SeriesStatus,
}

/// Fleet-wide coverage over time: `values[i]` is the share of series with data in
/// `[start + i·step, start + (i+1)·step)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageStrip {
    /// Start of the first bucket.
    pub start: Ts,
    /// Bucket width in seconds.
    pub step: i64,
    /// Share of series with data per bucket, `0..=1` (`NaN`/`null` = unknown).
    #[serde(with = "nan_as_null")]
    pub values: Vec<f64>,
}

/// One gap in one series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GapRow {
    /// Series id.
    pub series: String,
    /// First missing second.
    pub start: Ts,
    /// First second with data again.
    pub end: Ts,
}

/// Evaluation of the planner's choices against actual load.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EvaluationSection {
    /// One row per policy.
    pub policies: Vec<PolicyRow>,
    /// Per policy name, the regret of every evaluated server-day, for distribution plots.
    #[serde(default)]
    pub regret_samples: Vec<RegretSamples>,
    /// Name of the policy the evaluator judged best, if any.
    #[serde(default)]
    pub best_policy: Option<String>,
    /// One or two sentences: the conclusion.
    #[serde(default)]
    pub verdict: String,
    /// How a "hit" is defined, e.g. `actual window load within 5 points of the day's lowest`.
    #[serde(default)]
    pub hit_rule: String,
    /// Results broken down by series class.
    #[serde(default)]
    pub by_class: Vec<ClassRow>,
}

/// The regret of every evaluated server-day of one policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegretSamples {
    /// Policy name (matches [`PolicyRow::name`]).
    pub policy: String,
    /// Absolute regrets, any order; non-finite values are ignored.
    #[serde(with = "nan_as_null")]
    pub values: Vec<f64>,
}

/// The kind of a window-choosing policy; the plots colour them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyKind {
    /// Chooses from a forecast.
    Model,
    /// A fixed time of day (the usual practice).
    Fixed,
    /// A random window (the floor).
    Random,
}

impl PolicyKind {
    /// Lower-case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::Model => "model",
            PolicyKind::Fixed => "fixed",
            PolicyKind::Random => "random",
        }
    }
}

/// Evaluation results of one policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyRow {
    /// Policy name (matches `regret_samples`).
    pub name: String,
    /// Policy kind.
    pub kind: PolicyKind,
    /// Server-days evaluated.
    pub n: usize,
    /// Median absolute regret (load units).
    pub median_regret: f64,
    /// 90th percentile of absolute regret.
    pub p90_regret: f64,
    /// Mean absolute regret.
    pub mean_regret: f64,
    /// Median regret relative to the day's lowest window load, if defined.
    #[serde(default)]
    pub median_rel_regret: Option<f64>,
    /// Share of server-days whose window fell in the lowest-load bucket, `0..=1`.
    pub hit_rate: f64,
    /// Share of server-days whose window was exactly the best one, `0..=1`.
    pub exact_hit_rate: f64,
    /// Share of server-days whose window fell in the day's busiest quarter, `0..=1` (lower is better).
    pub busiest_quarter: f64,
    /// Forecast mean absolute error over the horizon, for model policies.
    #[serde(default)]
    pub mae: Option<f64>,
}

/// Results of one policy on one class of series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassRow {
    /// Series class (`stable`, `daily`, `weekly`, `unpredictable`).
    pub class: String,
    /// Policy name.
    pub policy: String,
    /// Servers in the class.
    pub servers: usize,
    /// Median absolute regret.
    pub median_regret: f64,
    /// Hit rate, `0..=1`.
    pub hit_rate: f64,
}

/// A detailed panel for one server: recent history, the forecast and the chosen window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerPanel {
    /// Server id.
    pub id: String,
    /// Series class, if classified.
    #[serde(default)]
    pub class: Option<String>,
    /// Grid step in seconds (history, forecast and actuals share it).
    pub step: i64,
    /// Timestamp of `history[0]`.
    pub history_start: Ts,
    /// The last few days of load; `NaN` marks a gap.
    #[serde(with = "nan_as_null")]
    pub history: Vec<f64>,
    /// Timestamp of `point[0]`.
    pub forecast_start: Ts,
    /// Point forecast.
    #[serde(with = "nan_as_null")]
    pub point: Vec<f64>,
    /// Lower edge of the 10–90 % band.
    #[serde(default, with = "opt_nan_as_null")]
    pub lower: Option<Vec<f64>>,
    /// Upper edge of the 10–90 % band.
    #[serde(default, with = "opt_nan_as_null")]
    pub upper: Option<Vec<f64>>,
    /// Actual load over the forecast horizon, when known.
    #[serde(default, with = "opt_nan_as_null")]
    pub actual: Option<Vec<f64>>,
    /// The chosen maintenance window.
    pub window: TimeWindow,
    /// The second-best window, if the planner reported one.
    #[serde(default)]
    pub runner_up: Option<TimeWindow>,
    /// Free text from the planner, appended to the computed caption.
    #[serde(default)]
    pub caption: String,
}

/// One planned maintenance window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleRow {
    /// Server id.
    pub server: String,
    /// Constraint group (cluster, rack), if any.
    #[serde(default)]
    pub group: Option<String>,
    /// Window start.
    pub start: Ts,
    /// Window end (exclusive).
    pub end: Ts,
    /// Mean predicted load in the window.
    pub predicted: f64,
    /// Start of the runner-up window.
    #[serde(default)]
    pub runner_up_start: Option<Ts>,
    /// Mean predicted load in the runner-up window.
    #[serde(default)]
    pub runner_up_predicted: Option<f64>,
}

/// `Vec<f64>` with non-finite values written as `null` (JSON has no NaN) and read back as `NaN`.
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(values: &[f64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(values.iter().map(|v| v.is_finite().then_some(*v)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let raw = Vec::<Option<f64>>::deserialize(d)?;
        Ok(raw.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
    }
}

/// [`nan_as_null`] for optional vectors.
mod opt_nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(values: &Option<Vec<f64>>, s: S) -> Result<S::Ok, S::Error> {
        match values {
            Some(v) => super::nan_as_null::serialize(v, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<f64>>, D::Error> {
        let raw = Option::<Vec<Option<f64>>>::deserialize(d)?;
        Ok(raw.map(|v| v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_round_trips_through_json_as_null() {
        let strip = CoverageStrip {
            start: 0,
            step: 3600,
            values: vec![1.0, f64::NAN, 0.5],
        };
        let json = serde_json::to_string(&strip).unwrap();
        assert!(json.contains("[1.0,null,0.5]"), "{json}");
        let back: CoverageStrip = serde_json::from_str(&json).unwrap();
        assert!(back.values[1].is_nan());
        assert_eq!(back.values[2], 0.5);
    }

    #[test]
    fn optional_band_round_trips() {
        let p = ServerPanel {
            id: "a".into(),
            class: None,
            step: 60,
            history_start: 0,
            history: vec![f64::NAN],
            forecast_start: 60,
            point: vec![1.0],
            lower: Some(vec![f64::NAN]),
            upper: None,
            actual: None,
            window: TimeWindow {
                start: 60,
                end: 120,
            },
            runner_up: None,
            caption: String::new(),
        };
        let json = serde_json::to_string(&p).unwrap();
        let back: ServerPanel = serde_json::from_str(&json).unwrap();
        assert!(back.lower.unwrap()[0].is_nan());
        assert!(back.upper.is_none());
        // Fields with defaults may be left out entirely.
        let minimal = r#"{"id":"b","step":60,"history_start":0,"history":[null,2],
            "forecast_start":120,"point":[1],"window":{"start":120,"end":180}}"#;
        let m: ServerPanel = serde_json::from_str(minimal).unwrap();
        assert!(m.history[0].is_nan() && m.lower.is_none() && m.actual.is_none());
    }
}
