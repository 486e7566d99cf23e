//! The row engine of the delimited-text formats: one pass over the rows with a reused
//! `ByteRecord`, interned series ids and no per-row allocation. A long row feeds one series,
//! or one series per value column; a wide row feeds every column's series.

use std::collections::HashMap;

use csv::ByteRecord;
use skua_core::SeriesMeta;

use super::table::{Layout, parse_value, quote};
use super::timestamp::TimeReader;
use super::unit::choose_unit;
use super::{FileReport, RawSample, RawSeries, RowError};

/// Row errors kept as examples in the file report.
const FILE_EXAMPLES: usize = 10;

/// The state of one file's pass over its rows.
pub(crate) struct Run<'a> {
    file: String,
    header: &'a [String],
    sep: u8,
    time: usize,
    time_name: String,
    reader: TimeReader,
    /// The value columns of a long layout (one series each per server).
    value_cols: Vec<usize>,
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
    /// Series `start..start + n`.
    Range(usize, usize),
    All,
}

impl<'a> Run<'a> {
    /// A pass over a file's rows; `time` is the column index, its name and how to read it.
    pub fn new(
        file: String,
        header: &'a [String],
        sep: u8,
        time: (usize, String, TimeReader),
        layout: Layout,
        report: FileReport,
    ) -> Self {
        let (time, time_name, reader) = time;
        let series = match &layout {
            Layout::Columns(cols) => cols
                .iter()
                .map(|(_, meta)| RawSeries::new(meta.clone(), file.clone()))
                .collect(),
            Layout::Long { .. } => Vec::new(),
        };
        let value_cols = match &layout {
            Layout::Long { values, .. } => values.iter().map(|(c, _)| *c).collect(),
            Layout::Columns(_) => Vec::new(),
        };
        Run {
            file,
            header,
            sep,
            time,
            time_name,
            reader,
            value_cols,
            layout,
            series,
            index: HashMap::new(),
            key: Vec::new(),
            last: None,
            report,
            row_bad: false,
        }
    }

    /// The report and the series found, in order of first appearance.
    pub fn finish(self) -> (FileReport, Vec<RawSeries>) {
        (self.report, self.series)
    }

    /// Reads one data row.
    pub fn row(&mut self, rec: &ByteRecord) {
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
        let Layout::Long { series, metric, .. } = self.layout else {
            return;
        };
        let complete = rec.len() == self.header.len();
        let key_ok = self.build_key(rec, series, metric);
        let k = self.value_cols.len();
        if !complete {
            let target = if key_ok { self.lookup() } else { None };
            let message = self.field_count_error(rec);
            self.bad(
                target.map_or(Target::None, |i| Target::Range(i, k)),
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
        // The k series of one server are created together, so they are idx..idx + k.
        let idx = match self.lookup() {
            Some(i) => i,
            None => self.create(rec),
        };
        let Some(ts) = self.reader.parse(&rec[self.time]) else {
            let msg = format!(
                "unparsable timestamp {} (expected {})",
                quote(&rec[self.time]),
                self.reader.format
            );
            let col = self.time_name.clone();
            self.bad(Target::Range(idx, k), line, Some(col), msg);
            return;
        };
        for j in 0..k {
            let c = self.value_cols[j];
            match parse_value(&rec[c]) {
                Some(v) => self.series[idx + j].samples.push(RawSample {
                    ts,
                    value: v,
                    line,
                    source: 0,
                }),
                None => {
                    let col = self.header[c].clone();
                    let msg = format!(
                        "text {} in the value column is not a number",
                        quote(&rec[c])
                    );
                    self.bad(Target::Range(idx + j, 1), line, Some(col), msg);
                }
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

    /// Creates the series of a new server (one per value column) and returns the first.
    fn create(&mut self, rec: &ByteRecord) -> usize {
        let Layout::Long {
            series,
            metric,
            values,
            per_column,
            labels,
            unit,
            file_hint,
        } = &self.layout
        else {
            unreachable!("create is only called for long layouts")
        };
        let server = String::from_utf8_lossy(rec[*series].trim_ascii()).into_owned();
        let metric_name = metric.map(|m| {
            String::from_utf8_lossy(rec.get(m).unwrap_or_default().trim_ascii()).into_owned()
        });
        let first = self.series.len();
        for (_, value_name) in values {
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
                meta.metric = Some(m.clone());
            } else if *per_column {
                meta.id = format!("{server}/{value_name}");
                meta.metric = Some(value_name.clone());
            }
            meta.unit = unit;
            for (name, i) in labels {
                let v = String::from_utf8_lossy(rec.get(*i).unwrap_or_default().trim_ascii());
                meta.labels.insert(name.clone(), v.into_owned());
            }
            self.report.note_unit(why);
            self.series.push(RawSeries::new(meta, self.file.clone()));
        }
        self.index
            .insert(self.key.clone().into_boxed_slice(), first);
        self.last = Some(first);
        first
    }

    fn columns_row(&mut self, rec: &ByteRecord, line: u64) {
        if rec.len() != self.header.len() {
            let message = self.field_count_error(rec);
            self.bad(Target::All, line, None, message);
            return;
        }
        let Some(ts) = self.reader.parse(&rec[self.time]) else {
            let msg = format!(
                "unparsable timestamp {} (expected {})",
                quote(&rec[self.time]),
                self.reader.format
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
            self.bad(Target::Range(j, 1), line, Some(col), msg);
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
            Target::Range(start, n) => {
                for s in &mut self.series[start..start + n] {
                    s.push_bad_row(e.clone());
                }
            }
            Target::All => {
                for s in &mut self.series {
                    s.push_bad_row(e.clone());
                }
            }
        }
    }
}
