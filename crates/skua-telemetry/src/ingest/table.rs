//! The delimited-text engine shared by the CSV formats: header and separator checks,
//! format detection, time-format detection on the first rows, then one pass over the rows
//! with a reused `ByteRecord`, interned series ids and no per-row allocation.

use std::collections::HashMap;
use std::path::Path;

use csv::ByteRecord;
use skua_core::{SeriesMeta, Unit};

use super::columns::{Header, SERIES_NAMES, VALUE_NAMES};
use super::source::{Separator, Source, choose_separator, other_separators, separator_name};
use super::timestamp::{self, TimeFormat};
use super::unit::choose_unit;
use super::{
    FileRead, FileReport, Format, IngestError, IngestOptions, RawSample, RawSeries, RowError,
    UsedColumns, bitbrains, long, single, wide,
};

/// Rows looked at to detect the time format (and numeric columns of wide files).
pub(crate) const SNIFF_ROWS: usize = 100;
/// Row errors kept as examples in the file report.
const FILE_EXAMPLES: usize = 10;

/// How rows map to series.
pub(crate) enum Layout {
    /// A series column (and optional metric column) names the series of each row.
    Long {
        series: usize,
        metric: Option<usize>,
        value: usize,
        value_name: String,
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
    let (tf, reason) = choose_time_format(path, &sniff, plan.time, &time_name, opts.time_format)?;
    report.time_format = tf;
    report.time_reason = reason;

    let mut run = Run {
        file: path.display().to_string(),
        header: &header.names,
        sep: sep.byte,
        time: plan.time,
        time_name,
        tf,
        layout: plan.layout,
        series: Vec::new(),
        index: HashMap::new(),
        key: Vec::new(),
        last: None,
        report,
        row_bad: false,
    };
    if let Layout::Columns(cols) = &run.layout {
        run.series = cols
            .iter()
            .map(|(_, meta)| RawSeries::new(meta.clone(), run.file.clone()))
            .collect();
    }
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
    let mut report = run.report;
    report.series_found = run.series.len();
    Ok(FileRead {
        report,
        series: run.series,
    })
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
    let time = header.time_column(opts.columns.timestamp.as_deref())?;
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
    given: TimeFormat,
) -> Result<(TimeFormat, String), IngestError> {
    if given != TimeFormat::Auto {
        return Ok((given, format!("{given}: set in the options")));
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
        .map(|d| (d.format, d.reason))
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

struct Run<'a> {
    file: String,
    header: &'a [String],
    sep: u8,
    time: usize,
    time_name: String,
    tf: TimeFormat,
    layout: Layout,
    series: Vec<RawSeries>,
    index: HashMap<Box<[u8]>, usize>,
    key: Vec<u8>,
    /// The series of the previous row, with its key in `key`: rows usually come grouped.
    last: Option<usize>,
    report: FileReport,
    row_bad: bool,
}

enum Target {
    None,
    One(usize),
    All,
}

impl Run<'_> {
    fn row(&mut self, rec: &ByteRecord) {
        let line = rec.position().map_or(0, |p| p.line());
        self.report.rows_read += 1;
        self.row_bad = false;
        if matches!(self.layout, Layout::Long { .. }) {
            self.long_row(rec, line);
        } else {
            self.columns_row(rec, line);
        }
    }

    fn field_count_error(&self, rec: &ByteRecord) -> String {
        let n = self.header.len();
        let sep = (self.sep as char).to_string();
        if rec.len() < n {
            format!(
                "truncated row: {} of {n} fields (header: {})",
                rec.len(),
                self.header.join(&sep)
            )
        } else {
            format!("{} fields but the header has {n}", rec.len())
        }
    }

    fn long_row(&mut self, rec: &ByteRecord, line: u64) {
        let Layout::Long {
            series,
            metric,
            value,
            ..
        } = self.layout
        else {
            return;
        };
        let complete = rec.len() == self.header.len();
        let key_ok = self.build_key(rec, series, metric);
        if !complete {
            let target = if key_ok { self.lookup() } else { None };
            let message = self.field_count_error(rec);
            self.bad(
                target.map_or(Target::None, Target::One),
                line,
                None,
                message,
            );
            return;
        }
        if !key_ok {
            let col = self.header[series].clone();
            self.bad(Target::None, line, Some(col), "empty series id".into());
            return;
        }
        let idx = match self.lookup() {
            Some(i) => i,
            None => self.create(rec),
        };
        let Some(ts) = timestamp::parse(self.tf, &rec[self.time]) else {
            let msg = format!(
                "unparsable timestamp {} (expected {})",
                quote(&rec[self.time]),
                self.tf
            );
            let col = self.time_name.clone();
            self.bad(Target::One(idx), line, Some(col), msg);
            return;
        };
        match parse_value(&rec[value]) {
            Some(v) => self.series[idx].samples.push(RawSample {
                ts,
                value: v,
                line,
                source: 0,
            }),
            None => {
                let col = self.header[value].clone();
                let msg = format!(
                    "text {} in the value column is not a number",
                    quote(&rec[value])
                );
                self.bad(Target::One(idx), line, Some(col), msg);
            }
        }
    }

    /// Builds the interning key of a row into `self.key`; false if the series id is missing.
    fn build_key(&mut self, rec: &ByteRecord, series: usize, metric: Option<usize>) -> bool {
        let Some(s) = rec
            .get(series)
            .map(<[u8]>::trim_ascii)
            .filter(|s| !s.is_empty())
        else {
            return false;
        };
        let m = metric.map(|m| rec.get(m).unwrap_or_default().trim_ascii());
        let same = self.last.is_some()
            && match m {
                None => self.key == s,
                Some(m) => {
                    self.key.len() == s.len() + 1 + m.len()
                        && self.key.starts_with(s)
                        && self.key.ends_with(m)
                        && self.key[s.len()] == 0x1f
                }
            };
        if same {
            return true;
        }
        self.last = None;
        self.key.clear();
        self.key.extend_from_slice(s);
        if let Some(m) = m {
            self.key.push(0x1f);
            self.key.extend_from_slice(m);
        }
        true
    }

    fn lookup(&mut self) -> Option<usize> {
        if self.last.is_none() {
            self.last = self.index.get(self.key.as_slice()).copied();
        }
        self.last
    }

    fn create(&mut self, rec: &ByteRecord) -> usize {
        let Layout::Long {
            series,
            metric,
            value_name,
            labels,
            unit,
            file_hint,
            ..
        } = &self.layout
        else {
            unreachable!("create is only called for long layouts")
        };
        let server = String::from_utf8_lossy(rec[*series].trim_ascii()).into_owned();
        let metric_name = metric.map(|m| {
            String::from_utf8_lossy(rec.get(m).unwrap_or_default().trim_ascii()).into_owned()
        });
        let (unit, why) = match &metric_name {
            Some(m) => choose_unit(*unit, &[("metric", m), ("value column", value_name)]),
            None => choose_unit(
                *unit,
                &[("value column", value_name), ("file name", file_hint)],
            ),
        };
        let mut meta = SeriesMeta::simple(server.clone());
        if let Some(m) = &metric_name {
            meta.id = format!("{server}/{m}");
        }
        meta.metric = metric_name;
        meta.unit = unit;
        for (name, i) in labels {
            let v = String::from_utf8_lossy(rec.get(*i).unwrap_or_default().trim_ascii());
            meta.labels.insert(name.clone(), v.into_owned());
        }
        self.report.note_unit(why);
        let idx = self.series.len();
        self.series.push(RawSeries::new(meta, self.file.clone()));
        self.index.insert(self.key.clone().into_boxed_slice(), idx);
        self.last = Some(idx);
        idx
    }

    fn columns_row(&mut self, rec: &ByteRecord, line: u64) {
        if rec.len() != self.header.len() {
            let message = self.field_count_error(rec);
            self.bad(Target::All, line, None, message);
            return;
        }
        let Some(ts) = timestamp::parse(self.tf, &rec[self.time]) else {
            let msg = format!(
                "unparsable timestamp {} (expected {})",
                quote(&rec[self.time]),
                self.tf
            );
            let col = self.time_name.clone();
            self.bad(Target::All, line, Some(col), msg);
            return;
        };
        let Layout::Columns(cols) = &self.layout else {
            return;
        };
        let mut bad = Vec::new();
        for (j, (c, _)) in cols.iter().enumerate() {
            match parse_value(&rec[*c]) {
                Some(v) => self.series[j].samples.push(RawSample {
                    ts,
                    value: v,
                    line,
                    source: 0,
                }),
                None => bad.push((j, *c)),
            }
        }
        for (j, c) in bad {
            let col = self.header[c].clone();
            let msg = format!(
                "text {} in the value column is not a number",
                quote(&rec[c])
            );
            self.bad(Target::One(j), line, Some(col), msg);
        }
    }

    fn bad(&mut self, target: Target, line: u64, column: Option<String>, message: String) {
        let e = RowError {
            file: self.file.clone(),
            line,
            column,
            message,
        };
        if !self.row_bad {
            self.row_bad = true;
            self.report.bad_rows += 1;
        }
        if self.report.bad_row_examples.len() < FILE_EXAMPLES {
            self.report.bad_row_examples.push(e.clone());
        }
        match target {
            Target::None => {}
            Target::One(i) => self.series[i].push_bad_row(e),
            Target::All => {
                for s in &mut self.series {
                    s.push_bad_row(e.clone());
                }
            }
        }
    }
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
