//! How to read a file: format, separator, column mapping, time format and unit.
//!
//! Everything is optional; what is not given is detected from the file and the detection is
//! reported in the [`FileReport`](super::FileReport). The CLI loads the mapping from TOML:
//!
//! ```toml
//! format = "long"            # long | wide | single | bitbrains_raw | parquet (omit: detect)
//! delimiter = ";"            # one character, "\t" for tab (omit: detect , ; tab |)
//! time_format = "datetime"   # auto | rfc3339 | datetime | unix_seconds | unix_millis | step
//! step_secs = 300            # seconds per step when time_format = "step" (ASD: 5 minutes)
//! unit = "percent"           # percent | count | other (omit: infer from names)
//! series_id = "db-01"        # id for single-series files (omit: the file stem)
//!
//! [columns]
//! series = "vm"              # the series (server) column of a long file
//! timestamp = "ts"
//! value = "cpu_pct"          # the value column (Bitbrains raw: e.g. "Memory usage [KB]")
//! # or, in a long file, several value columns: one series `server/column` per column
//! # values = ["m0", "m5"]
//! metric = "metric"          # optional: series id becomes `server/metric`
//! labels = ["cluster", "region"]
//! ```

use serde::{Deserialize, Serialize};
use skua_core::Unit;

use super::timestamp::{TimeFormat, TimeReader};

/// The layout of a telemetry file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// One row per sample: `series,timestamp,value[,metric][,labels…]`.
    Long,
    /// A time column plus one numeric column per series.
    Wide,
    /// `timestamp,value` for one series (NAB); the id is the file stem.
    Single,
    /// Bitbrains GWA-T-12 raw per-VM file (`;` + tab separated, seconds timestamps).
    BitbrainsRaw,
    /// Apache Parquet in long layout.
    Parquet,
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Long => "long csv",
            Format::Wide => "wide csv",
            Format::Single => "single-series csv",
            Format::BitbrainsRaw => "bitbrains raw",
            Format::Parquet => "parquet",
        })
    }
}

/// Column names to use instead of the recognised defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ColumnMap {
    /// Series (server) column; default: one of series, unique_id, id, server, host, instance, vm.
    pub series: Option<String>,
    /// Timestamp column; default: one of timestamp, ds, time, date, datetime.
    pub timestamp: Option<String>,
    /// Value column; default: value or y.
    pub value: Option<String>,
    /// Several value columns of a long file (instead of `value`): each row gives one sample to
    /// each series `server/column`, whose metric is the column name.
    pub values: Vec<String>,
    /// Metric column; default: `metric` when present.
    pub metric: Option<String>,
    /// Columns copied into the series labels (first row of each series wins).
    pub labels: Vec<String>,
}

/// Options for [`read_path`](super::read_path); `Default` detects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestOptions {
    /// Force a format instead of detecting it.
    pub format: Option<Format>,
    /// Field separator (one character; `"\t"` for tab).
    pub delimiter: Option<String>,
    /// Timestamp format; `auto` detects from the first values.
    pub time_format: TimeFormat,
    /// Seconds per step for `time_format = "step"` (given alone, it implies `step`).
    pub step_secs: Option<u64>,
    /// Unit of every series; inferred from names when absent.
    pub unit: Option<Unit>,
    /// Series id for single-series files (default: the file stem).
    pub series_id: Option<String>,
    /// Column mapping.
    pub columns: ColumnMap,
}

impl IngestOptions {
    /// True when timestamps are step indices (`time_format = "step"` or `step_secs` given).
    pub(crate) fn steps(&self) -> bool {
        self.time_format == TimeFormat::Step || self.step_secs.is_some()
    }

    /// The time format with `step_secs` applied: `step_secs` alone implies
    /// [`TimeFormat::Step`], `step` needs it, and it means nothing to the other formats.
    pub(crate) fn time_reader(&self) -> Result<Option<TimeReader>, String> {
        match (self.time_format, self.step_secs) {
            (TimeFormat::Step | TimeFormat::Auto, Some(0)) => {
                Err("step_secs must be a positive number of seconds, got 0".into())
            }
            (TimeFormat::Step | TimeFormat::Auto, Some(s)) => Ok(Some(TimeReader {
                format: TimeFormat::Step,
                step_secs: i64::try_from(s).map_err(|_| format!("step_secs {s} is too large"))?,
            })),
            (TimeFormat::Step, None) => Err(
                "time_format = \"step\" needs step_secs, the seconds per step (e.g. 300 for 5 minutes)"
                    .into(),
            ),
            (TimeFormat::Auto, None) => Ok(None),
            (f, Some(_)) => Err(format!(
                "step_secs applies to time_format = \"step\" only, but the time format is {f}"
            )),
            (f, None) => Ok(Some(TimeReader {
                format: f,
                step_secs: 1,
            })),
        }
    }

    /// The delimiter as one byte, if one was given; an error names the bad value.
    pub(crate) fn delimiter_byte(&self) -> Result<Option<u8>, String> {
        match self.delimiter.as_deref() {
            None => Ok(None),
            Some("\\t") | Some("tab") => Ok(Some(b'\t')),
            Some(s) if s.len() == 1 => Ok(Some(s.as_bytes()[0])),
            Some(s) => Err(format!(
                "delimiter must be one ASCII character (or \"\\t\"), got {s:?}"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiter_forms() {
        let mut o = IngestOptions::default();
        assert_eq!(o.delimiter_byte(), Ok(None));
        o.delimiter = Some("\t".into());
        assert_eq!(o.delimiter_byte(), Ok(Some(b'\t')));
        o.delimiter = Some("\\t".into());
        assert_eq!(o.delimiter_byte(), Ok(Some(b'\t')));
        o.delimiter = Some(";;".into());
        assert!(o.delimiter_byte().unwrap_err().contains("\";;\""));
    }

    #[test]
    fn step_secs_goes_with_the_step_format() {
        let mut o = IngestOptions::default();
        assert_eq!(o.time_reader(), Ok(None));
        o.step_secs = Some(300);
        let step = Some(TimeReader {
            format: TimeFormat::Step,
            step_secs: 300,
        });
        assert_eq!(o.time_reader(), Ok(step));
        o.time_format = TimeFormat::Step;
        assert_eq!(o.time_reader(), Ok(step));
        o.step_secs = None;
        assert!(o.time_reader().unwrap_err().contains("needs step_secs"));
        o.step_secs = Some(0);
        assert!(o.time_reader().unwrap_err().contains("positive"));
        o.time_format = TimeFormat::UnixSeconds;
        o.step_secs = Some(300);
        assert!(o.time_reader().unwrap_err().contains("unix seconds"));
        o.step_secs = None;
        assert_eq!(
            o.time_reader().unwrap().unwrap().format,
            TimeFormat::UnixSeconds
        );
    }

    #[test]
    fn options_round_trip_through_json() {
        let o = IngestOptions {
            format: Some(Format::BitbrainsRaw),
            time_format: TimeFormat::UnixSeconds,
            ..Default::default()
        };
        let json = serde_json::to_string(&o).unwrap();
        assert!(
            json.contains("\"bitbrains_raw\"") && json.contains("\"unix_seconds\""),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<IngestOptions>(&json).unwrap(), o);
    }
}
