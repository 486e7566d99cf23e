//! Telemetry readers: long, wide and single-series CSV, Bitbrains raw files and Parquet,
//! plain or gzip-compressed, detected from the content and overridable by [`IngestOptions`].
//!
//! Readers only turn bytes into [`RawSeries`] (irregular, possibly broken samples with their
//! line numbers); deciding what is acceptable is [`crate::validate`]'s job. File-level problems
//! are an [`IngestError`]; row-level problems are collected as [`RowError`]s.

mod bitbrains;
mod columns;
mod long;
mod options;
mod parquet;
mod rows;
mod single;
mod source;
mod table;
mod timestamp;
mod unit;
mod wide;

use std::path::{Path, PathBuf};

use serde::Serialize;
use skua_core::{SeriesMeta, Ts};

pub use options::{ColumnMap, Format, IngestOptions};
pub use timestamp::TimeFormat;
pub use unit::infer_unit;

use source::Source;

/// One sample as read, before validation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawSample {
    /// Timestamp, Unix seconds.
    pub ts: Ts,
    /// Value as written (may be NaN or infinite if the file said so; empty fields are NaN).
    pub value: f64,
    /// 1-based line (CSV) or row (Parquet) in its source file.
    pub line: u64,
    /// Index into [`RawSeries::sources`] of the file the sample came from.
    pub source: u32,
}

/// A row that could not be read, located precisely.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// The file, as given.
    pub file: String,
    /// 1-based line (CSV) or row (Parquet).
    pub line: u64,
    /// The column at fault, when one is.
    pub column: Option<String>,
    /// What is wrong, quoting the offending text.
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        if let Some(c) = &self.column {
            write!(f, "column `{c}`: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Row errors kept per series; beyond this only the count grows.
pub const MAX_KEPT_ROW_ERRORS: usize = 10_000;

/// The irregular samples of one series from one or more files.
#[derive(Debug, Clone, PartialEq)]
pub struct RawSeries {
    /// Identity, unit and labels.
    pub meta: SeriesMeta,
    /// Files the samples came from ([`RawSample::source`] indexes this).
    pub sources: Vec<String>,
    /// Samples in file order.
    pub samples: Vec<RawSample>,
    /// Rows of this series that could not be read (at most [`MAX_KEPT_ROW_ERRORS`] kept).
    pub bad_rows: Vec<RowError>,
    /// Number of unreadable rows, including those not kept in `bad_rows`.
    pub bad_row_count: u64,
}

impl RawSeries {
    /// An empty series from one source.
    pub fn new(meta: SeriesMeta, source: impl Into<String>) -> Self {
        RawSeries {
            meta,
            sources: vec![source.into()],
            samples: Vec::new(),
            bad_rows: Vec::new(),
            bad_row_count: 0,
        }
    }

    /// Records an unreadable row.
    pub fn push_bad_row(&mut self, e: RowError) {
        self.bad_row_count += 1;
        if self.bad_rows.len() < MAX_KEPT_ROW_ERRORS {
            self.bad_rows.push(e);
        }
    }
}

/// Which columns a reader used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UsedColumns {
    /// Series column (long formats).
    pub series: Option<String>,
    /// Timestamp column.
    pub timestamp: String,
    /// Value column(s): one for long formats, one per series for wide.
    pub values: Vec<String>,
    /// Metric column, if any.
    pub metric: Option<String>,
    /// Label columns.
    pub labels: Vec<String>,
}

/// What reading one file found, for the ingest report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileReport {
    /// The file, as given.
    pub path: String,
    /// Format used, and whether it was detected or set.
    pub format: Format,
    /// Why this format.
    pub format_reason: String,
    /// True if the file was gzip-compressed (detected by magic bytes).
    pub gzip: bool,
    /// Field separator (text formats).
    pub delimiter: Option<String>,
    /// Columns used.
    pub columns: UsedColumns,
    /// Columns present but not used.
    pub ignored_columns: Vec<String>,
    /// Timestamp format used.
    pub time_format: TimeFormat,
    /// Why this time format, e.g. `unix seconds (by magnitude, …; the header says [ms])`.
    pub time_reason: String,
    /// Unit inference, one line per distinct outcome (`percent: file name mentions cpu`).
    pub units: Vec<String>,
    /// Data rows read (header excluded).
    pub rows_read: u64,
    /// Rows that could not be read.
    pub bad_rows: u64,
    /// The first few unreadable rows.
    pub bad_row_examples: Vec<RowError>,
    /// Number of series found.
    pub series_found: usize,
}

impl FileReport {
    fn new(path: &Path, format: Format, format_reason: String, gzip: bool) -> Self {
        FileReport {
            path: path.display().to_string(),
            format,
            format_reason,
            gzip,
            delimiter: None,
            columns: UsedColumns::default(),
            ignored_columns: Vec::new(),
            time_format: TimeFormat::Auto,
            time_reason: String::new(),
            units: Vec::new(),
            rows_read: 0,
            bad_rows: 0,
            bad_row_examples: Vec::new(),
            series_found: 0,
        }
    }

    /// Records a unit inference outcome once.
    pub(crate) fn note_unit(&mut self, line: String) {
        if !self.units.contains(&line) && self.units.len() < 20 {
            self.units.push(line);
        }
    }
}

/// The result of reading one file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRead {
    /// What was found.
    pub report: FileReport,
    /// The series, in order of first appearance.
    pub series: Vec<RawSeries>,
}

/// A file passed over by [`expand_inputs`], and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedFile {
    /// The file.
    pub path: PathBuf,
    /// Why it was skipped.
    pub reason: String,
}

/// File-level problems: the file cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The path does not exist.
    #[error("{path}: no such file or directory")]
    NotFound {
        /// The path.
        path: PathBuf,
    },
    /// An I/O error (including a corrupt gzip stream).
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Nothing to read.
    #[error("{path}: empty file: {detail}")]
    Empty {
        /// The path.
        path: PathBuf,
        /// What was there (nothing, or only a header line).
        detail: String,
    },
    /// Binary content where text was expected.
    #[error("{path}: not a text file ({detail}); expected CSV, gzip or Parquet")]
    NotText {
        /// The path.
        path: PathBuf,
        /// NUL byte or invalid UTF-8 position.
        detail: String,
    },
    /// The header splits into one column: the separator is probably wrong.
    #[error(
        "{path}:1: only one column found in the header `{header}` with separator {separator}; {hint}"
    )]
    WrongSeparator {
        /// The path.
        path: PathBuf,
        /// The header line.
        header: String,
        /// The separator used.
        separator: String,
        /// What was seen and which option to set.
        hint: String,
    },
    /// A needed column is missing or a mapped column does not exist.
    #[error("{path}:1: {message}; columns are: {columns}")]
    Column {
        /// The path.
        path: PathBuf,
        /// What is missing.
        message: String,
        /// The header's columns, comma-separated.
        columns: String,
    },
    /// The timestamp format could not be detected.
    #[error("{path}:{line}: column `{column}`: {message}")]
    Timestamp {
        /// The path.
        path: PathBuf,
        /// Line of the first value no format explains.
        line: u64,
        /// The timestamp column.
        column: String,
        /// What was seen.
        message: String,
    },
    /// The options are invalid for this file.
    #[error("{path}: invalid ingest options: {message}")]
    Options {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A Parquet file that cannot be read.
    #[error("{path}: parquet: {message}")]
    Parquet {
        /// The path.
        path: PathBuf,
        /// The reader's message or the unsupported type.
        message: String,
    },
}

/// Expands files and directories (recursively, sorted) into the files to read, skipping
/// licences, JSON, PDF, Markdown and unknown extensions with a reason.
pub fn expand_inputs(paths: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<SkippedFile>), IngestError> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => IngestError::NotFound { path: p.clone() },
            _ => IngestError::Io {
                path: p.clone(),
                source: e,
            },
        })?;
        if meta.is_dir() {
            walk(p, &mut files, &mut skipped)?;
        } else {
            classify(p.clone(), &mut files, &mut skipped);
        }
    }
    Ok((files, skipped))
}

fn walk(
    dir: &Path,
    files: &mut Vec<PathBuf>,
    skipped: &mut Vec<SkippedFile>,
) -> Result<(), IngestError> {
    let io = |source| IngestError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io)?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, files, skipped)?;
        } else {
            classify(p, files, skipped);
        }
    }
    Ok(())
}

fn classify(p: PathBuf, files: &mut Vec<PathBuf>, skipped: &mut Vec<SkippedFile>) {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let reason = if name.starts_with("license") || name.starts_with("licence") {
        Some("licence file")
    } else if name.starts_with('.') {
        Some("hidden file")
    } else if [".json", ".json.gz", ".jsonl"]
        .iter()
        .any(|e| name.ends_with(e))
    {
        Some("JSON is not a telemetry format (labels or metadata)")
    } else if name.ends_with(".pdf") || name.ends_with(".md") {
        Some("documentation")
    } else if [
        ".csv", ".csv.gz", ".tsv", ".txt", ".txt.gz", ".parquet", ".pq", ".gz",
    ]
    .iter()
    .any(|e| name.ends_with(e))
    {
        None
    } else {
        Some("unknown extension (expected .csv, .tsv, .txt, .parquet or .gz)")
    };
    match reason {
        None => files.push(p),
        Some(r) => skipped.push(SkippedFile {
            path: p,
            reason: r.into(),
        }),
    }
}

/// Reads one file: detects compression, format, separator, columns and time format (unless
/// set in `opts`), and returns its series with every unreadable row located.
pub fn read_path(path: &Path, opts: &IngestOptions) -> Result<FileRead, IngestError> {
    if !path.exists() {
        return Err(IngestError::NotFound {
            path: path.to_path_buf(),
        });
    }
    if path.is_dir() {
        return Err(IngestError::Options {
            path: path.to_path_buf(),
            message: "this is a directory; expand it with expand_inputs first".into(),
        });
    }
    let src = Source::open(path)?;
    let empty = |detail: &str| IngestError::Empty {
        path: path.to_path_buf(),
        detail: detail.into(),
    };
    if src.head.is_empty() {
        return Err(empty(if src.gzip {
            "the gzip stream decompresses to nothing"
        } else {
            "0 bytes"
        }));
    }
    if src.is_parquet() || opts.format == Some(Format::Parquet) {
        return parquet::read(path, src, opts);
    }
    src.check_text(path)?;
    if src.head.iter().all(u8::is_ascii_whitespace) {
        return Err(empty("only whitespace"));
    }
    table::read_csv(path, src, opts)
}

/// Merges series with the same id (e.g. the monthly Bitbrains raw files of one VM) into one,
/// recording every source. Each file's samples keep their order; files are concatenated by
/// their first timestamp so that file order on the command line does not look like disorder.
pub fn merge_series(reads: Vec<RawSeries>) -> Vec<RawSeries> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: std::collections::HashMap<String, Vec<RawSeries>> = Default::default();
    for s in reads {
        let g = groups.entry(s.meta.id.clone()).or_default();
        if g.is_empty() {
            order.push(s.meta.id.clone());
        }
        g.push(s);
    }
    order
        .into_iter()
        .filter_map(|id| groups.remove(&id))
        .map(merge_group)
        .collect()
}

fn merge_group(mut parts: Vec<RawSeries>) -> RawSeries {
    if parts.len() == 1 {
        return parts.pop().expect("one part");
    }
    parts.sort_by_key(|p| p.samples.first().map_or(Ts::MAX, |s| s.ts));
    let mut out = RawSeries {
        meta: parts[0].meta.clone(),
        sources: Vec::new(),
        samples: Vec::with_capacity(parts.iter().map(|p| p.samples.len()).sum()),
        bad_rows: Vec::new(),
        bad_row_count: 0,
    };
    for p in parts {
        let offset = out.sources.len() as u32;
        out.sources.extend(p.sources);
        out.samples.extend(p.samples.into_iter().map(|s| RawSample {
            source: s.source + offset,
            ..s
        }));
        out.bad_row_count += p.bad_row_count;
        for e in p.bad_rows {
            if out.bad_rows.len() < MAX_KEPT_ROW_ERRORS {
                out.bad_rows.push(e);
            }
        }
        for (k, v) in p.meta.labels {
            out.meta.labels.entry(k).or_insert(v);
        }
    }
    out
}

/// The file name without `.gz` and the data extension: `ec2_cpu_utilization_5f5533`.
pub(crate) fn file_stem(path: &Path) -> String {
    let mut name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for ext in [".gz", ".csv", ".tsv", ".txt", ".parquet", ".pq"] {
        if name.len() > ext.len() && name.to_ascii_lowercase().ends_with(ext) {
            name.truncate(name.len() - ext.len());
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(id: &str, src: &str, ts: &[Ts]) -> RawSeries {
        let mut s = RawSeries::new(SeriesMeta::simple(id), src);
        s.samples = ts
            .iter()
            .enumerate()
            .map(|(i, &ts)| RawSample {
                ts,
                value: 1.0,
                line: i as u64 + 2,
                source: 0,
            })
            .collect();
        s
    }

    #[test]
    fn stems() {
        assert_eq!(file_stem(Path::new("a/ec2_cpu_x.csv")), "ec2_cpu_x");
        assert_eq!(file_stem(Path::new("hourly.csv.gz")), "hourly");
        assert_eq!(file_stem(Path::new("2013-7/1.csv")), "1");
        assert_eq!(file_stem(Path::new(".csv")), ".csv");
    }

    #[test]
    fn merge_orders_files_by_first_timestamp_and_remaps_sources() {
        let merged = merge_series(vec![
            series("a", "aug.csv", &[300, 400]),
            series("b", "b.csv", &[1]),
            series("a", "jul.csv", &[100, 200]),
        ]);
        assert_eq!(merged.len(), 2);
        let a = &merged[0];
        assert_eq!(a.sources, ["jul.csv", "aug.csv"]);
        assert_eq!(
            a.samples.iter().map(|s| s.ts).collect::<Vec<_>>(),
            [100, 200, 300, 400]
        );
        assert_eq!(
            a.samples.iter().map(|s| s.source).collect::<Vec<_>>(),
            [0, 0, 1, 1]
        );
        assert_eq!(merged[1].meta.id, "b");
    }

    #[test]
    fn bad_rows_are_capped_but_counted() {
        let mut s = series("a", "f", &[]);
        for line in 0..(MAX_KEPT_ROW_ERRORS as u64 + 5) {
            s.push_bad_row(RowError {
                file: "f".into(),
                line,
                column: None,
                message: "x".into(),
            });
        }
        assert_eq!(s.bad_rows.len(), MAX_KEPT_ROW_ERRORS);
        assert_eq!(s.bad_row_count, MAX_KEPT_ROW_ERRORS as u64 + 5);
        let e = RowError {
            file: "f.csv".into(),
            line: 3,
            column: Some("y".into()),
            message: "bad".into(),
        };
        assert_eq!(e.to_string(), "f.csv:3: column `y`: bad");
    }
}
