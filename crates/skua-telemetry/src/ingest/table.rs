//! The delimited-text engine shared by the CSV formats: header and separator checks,
//! format detection, time-format detection on the first rows, then one pass over the rows
//! with a reused `ByteRecord`, interned series ids and no per-row allocation.

use std::path::Path;

use csv::ByteRecord;
use skua_core::{SeriesMeta, Unit};

use super::columns::{Header, SERIES_NAMES, VALUE_NAMES};
use super::rows::Run;
use super::source::{Separator, Source, choose_separator, other_separators, separator_name};
use super::timestamp::{self, TimeFormat, TimeReader};
use super::{
    FileRead, FileReport, Format, IngestError, IngestOptions, UsedColumns, bitbrains, long, single,
    wide,
};

/// Rows looked at to detect the time format (and numeric columns of wide files).
pub(crate) const SNIFF_ROWS: usize = 100;

/// How rows map to series.
pub(crate) enum Layout {
    /// A series column (and optional metric column) names the series of each row.
    Long {
        series: usize,
        metric: Option<usize>,
        /// Value columns with their names; one series per server, or per (server, column)
        /// when `per_column`.
        values: Vec<(usize, String)>,
        /// Several value columns: series ids are `server/column` and the metric is the column.
        per_column: bool,
        labels: Vec<(String, usize)>,
        unit: Option<Unit>,
        file_hint: String,
    },
    /// Each listed column is one series.
    Columns(Vec<(usize, SeriesMeta)>),
}

/// What a format's planner decided from the header and the first rows.
pub(crate) struct Plan {
    pub time: usize,
    pub layout: Layout,
    pub columns: UsedColumns,
    pub ignored: Vec<String>,
    pub units: Vec<String>,
}

/// Reads a delimited text file (already checked to be text).
pub(crate) fn read_csv(
    path: &Path,
    src: Source,
    opts: &IngestOptions,
) -> Result<FileRead, IngestError> {
    let given = opts
        .delimiter_byte()
        .map_err(|message| IngestError::Options {
            path: path.to_path_buf(),
            message,
        })?;
    let first_line = src.first_line().to_string();
    let sep = choose_separator(&first_line, given);
    let gzip = src.gzip;
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(sep.byte)
        .flexible(true)
        .has_headers(true)
        .trim(if sep.trim {
            csv::Trim::All
        } else {
            csv::Trim::None
        })
        .from_reader(src.into_reader());
    let names: Vec<String> = rdr
        .byte_headers()
        .map_err(|e| csv_error(path, e))?
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let s = String::from_utf8_lossy(f);
            let s = if i == 0 {
                s.trim_start_matches('\u{feff}')
            } else {
                &s
            };
            s.trim().to_string()
        })
        .collect();
    if names.len() <= 1 {
        return Err(wrong_separator(path, &first_line, sep, given.is_some()));
    }
    let header = Header { path, names };

    let mut sniff = Vec::with_capacity(SNIFF_ROWS);
    while sniff.len() < SNIFF_ROWS {
        let mut r = ByteRecord::new();
        if !rdr
            .read_byte_record(&mut r)
            .map_err(|e| csv_error(path, e))?
        {
            break;
        }
        sniff.push(r);
    }
    if sniff.is_empty() {
        return Err(IngestError::Empty {
            path: path.to_path_buf(),
            detail: "only a header line (line 1), no data rows".into(),
        });
    }

    let (format, format_reason) = match opts.format {
        Some(f) => (f, "set in the options".to_string()),
        None => detect_format(&header, sep, opts)?,
    };
    let plan = match format {
        Format::Long => long::plan(&header, opts)?,
        Format::Wide => wide::plan(&header, &sniff, opts)?,
        Format::Single => single::plan(&header, opts)?,
        Format::BitbrainsRaw => bitbrains::plan(&header, opts)?,
        Format::Parquet => unreachable!("parquet is not read by the text engine"),
    };
    if !opts.columns.values.is_empty() && format != Format::Long {
        return Err(IngestError::Options {
            path: path.to_path_buf(),
            message: format!(
                "several value columns (`values`) are read from long files only; this file is {format}"
            ),
        });
    }
    let mut report = FileReport::new(path, format, format_reason, gzip);
    report.delimiter = Some(if sep.trim {
        format!("{} followed by whitespace", separator_name(sep.byte))
    } else {
        separator_name(sep.byte)
    });
    report.columns = plan.columns;
    report.ignored_columns = plan.ignored;
    report.units = plan.units;

    let time_name = header.names[plan.time].clone();
    let (reader, reason) = choose_time_format(path, &sniff, plan.time, &time_name, opts)?;
    report.time_format = reader.format;
    report.time_reason = reason;

    let mut run = Run::new(
        path.display().to_string(),
        &header.names,
        sep.byte,
        (plan.time, time_name, reader),
        plan.layout,
        report,
    );
    for r in &sniff {
        run.row(r);
    }
    drop(sniff);
    let mut rec = ByteRecord::new();
    while rdr
        .read_byte_record(&mut rec)
        .map_err(|e| csv_error(path, e))?
    {
        run.row(&rec);
    }
    let (mut report, series) = run.finish();
    report.series_found = series.len();
    Ok(FileRead { report, series })
}

fn detect_format(
    header: &Header,
    sep: Separator,
    opts: &IngestOptions,
) -> Result<(Format, String), IngestError> {
    let first = header.names[0].to_ascii_lowercase();
    if sep.trim || (first.starts_with("timestamp [ms]") && sep.byte == b';') {
        return Ok((
            Format::BitbrainsRaw,
            format!(
                "header starts `{}` with a `;`+tab separator (Bitbrains GWA-T-12 raw)",
                header.names[0]
            ),
        ));
    }
    if let Some(i) = header.resolve(opts.columns.series.as_deref(), SERIES_NAMES, "series")? {
        return Ok((
            Format::Long,
            format!("series column `{}` found", header.names[i]),
        ));
    }
    let time = header.time_column(opts.columns.timestamp.as_deref(), opts.steps())?;
    let others = header.names.len() - 1 - opts.columns.labels.len().min(header.names.len() - 1);
    if others > 1 && opts.columns.value.is_none() {
        // A recognised value column beside other columns reads as a long file whose series
        // column has an unusual name: better to ask than to guess a wide layout.
        if let Some(v) = header.resolve(None, VALUE_NAMES, "value")? {
            return Err(header.error(format!(
                "a value column `{}` but no series column (looked for {}); name it with \
                 `[columns] series = \"…\"`, or set `format = \"single\"` or `\"wide\"`",
                header.names[v],
                SERIES_NAMES.join(", ")
            )));
        }
    }
    if opts.columns.value.is_some() || others == 1 {
        Ok((
            Format::Single,
            format!(
                "no series column; time column `{}` and one value column",
                header.names[time]
            ),
        ))
    } else {
        Ok((
            Format::Wide,
            format!(
                "no series column; time column `{}` and {others} other columns",
                header.names[time]
            ),
        ))
    }
}

fn choose_time_format(
    path: &Path,
    sniff: &[ByteRecord],
    time: usize,
    time_name: &str,
    opts: &IngestOptions,
) -> Result<(TimeReader, String), IngestError> {
    let given = opts.time_reader().map_err(|message| IngestError::Options {
        path: path.to_path_buf(),
        message,
    })?;
    if let Some(r) = given {
        let why = match r.format {
            TimeFormat::Step => format!(
                "set in the options: {} s per step, step 0 = 1970-01-01 00:00 UTC",
                r.step_secs
            ),
            f => format!("{f}: set in the options"),
        };
        return Ok((r, why));
    }
    let mut values = Vec::with_capacity(sniff.len());
    let mut lines = Vec::with_capacity(sniff.len());
    for r in sniff {
        if let Some(v) = r
            .get(time)
            .map(<[u8]>::trim_ascii)
            .filter(|v| !v.is_empty())
        {
            values.push(v);
            lines.push(r.position().map_or(0, |p| p.line()));
        }
    }
    timestamp::detect(&values, time_name)
        .map(|d| {
            let reader = TimeReader {
                format: d.format,
                step_secs: 1,
            };
            (reader, d.reason)
        })
        .map_err(|(i, message)| IngestError::Timestamp {
            path: path.to_path_buf(),
            line: lines.get(i).copied().unwrap_or(2),
            column: time_name.to_string(),
            message,
        })
}

fn wrong_separator(path: &Path, header: &str, sep: Separator, given: bool) -> IngestError {
    let seen = other_separators(header, sep.byte);
    let hint = match seen.first() {
        Some(&c) => {
            let opt = if c == b'\t' {
                "\\t".to_string()
            } else {
                (c as char).to_string()
            };
            format!(
                "the header contains {}: if that is the separator, set `delimiter = \"{opt}\"` in the mapping{}",
                separator_name(c),
                if given {
                    " (a delimiter was given in the options)"
                } else {
                    ""
                }
            )
        }
        None => "no other separator was seen; a file needs a timestamp and a value column".into(),
    };
    IngestError::WrongSeparator {
        path: path.to_path_buf(),
        header: header.chars().take(120).collect(),
        separator: separator_name(sep.byte),
        hint,
    }
}

fn csv_error(path: &Path, e: csv::Error) -> IngestError {
    let line = e.position().map(|p| p.line());
    let msg = match line {
        Some(l) => format!("line {l}: {e}"),
        None => e.to_string(),
    };
    IngestError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(msg),
    }
}

/// Quotes a field for a message, shortened.
pub(crate) fn quote(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    if s.chars().count() > 40 {
        format!("`{}…`", s.chars().take(40).collect::<String>())
    } else {
        format!("`{s}`")
    }
}

/// Parses a value: empty is missing (NaN); `NaN`/`inf` are kept for validation to flag.
#[inline]
pub(crate) fn parse_value(b: &[u8]) -> Option<f64> {
    let b = b.trim_ascii();
    if b.is_empty() {
        return Some(f64::NAN);
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_quotes() {
        assert_eq!(parse_value(b" 1.5 "), Some(1.5));
        assert!(parse_value(b"").unwrap().is_nan());
        assert!(parse_value(b"NaN").unwrap().is_nan());
        assert_eq!(parse_value(b"inf"), Some(f64::INFINITY));
        assert_eq!(parse_value(b"12%"), None);
        assert_eq!(quote(b"abc"), "`abc`");
        assert!(quote(&[b'x'; 100]).ends_with("…`"));
    }
}
