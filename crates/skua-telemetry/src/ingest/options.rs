//! How to read a file: format, separator, column mapping, time format and unit.
//!
//! Everything is optional; what is not given is detected from the file and the detection is
//! reported in the [`FileReport`](super::FileReport). The CLI loads the mapping from TOML:
//!
//! ```toml
//! format = "long"            # long | wide | single | bitbrains_raw | parquet (omit: detect)
//! delimiter = ";"            # one character, "\t" for tab (omit: detect , ; tab |)
//! time_format = "datetime"   # auto | rfc3339 | datetime | unix_seconds | unix_millis
//! unit = "percent"           # percent | count | other (omit: infer from names)
//! series_id = "db-01"        # id for single-series files (omit: the file stem)
//!
//! [columns]
//! series = "vm"              # the series (server) column of a long file
//! timestamp = "ts"
//! value = "cpu_pct"          # the value column (Bitbrains raw: e.g. "Memory usage [KB]")
//! metric = "metric"          # optional: series id becomes `server/metric`
//! labels = ["cluster", "region"]
//! ```

use serde::{Deserialize, Serialize};
use skua_core::Unit;

use super::timestamp::TimeFormat;

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
    /// Unit of every series; inferred from names when absent.
    pub unit: Option<Unit>,
    /// Series id for single-series files (default: the file stem).
    pub series_id: Option<String>,
    /// Column mapping.
    pub columns: ColumnMap,
}

impl IngestOptions {
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
