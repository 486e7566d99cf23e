//! Parquet in long layout (same column names and mapping as long CSV). The timestamp column
//! may be an Arrow Timestamp of any unit, an integer (seconds or milliseconds by magnitude)
//! or a string in any supported text form. Row numbers (1-based) stand in for line numbers.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchReader};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use skua_core::{SeriesMeta, Ts};

use super::columns::{Header, SERIES_NAMES, VALUE_NAMES};
use super::source::Source;
use super::table::quote;
use super::timestamp::{self, TimeFormat};
use super::unit::choose_unit;
use super::{
    FileRead, FileReport, Format, IngestError, IngestOptions, RawSample, RawSeries, RowError,
    UsedColumns, file_stem,
};

/// How to turn the timestamp column into seconds.
#[derive(Clone, Copy)]
enum TimeKind {
    /// Arrow timestamp: divide by this many units per second.
    Arrow(i64),
    /// Integer seconds or milliseconds.
    Int(TimeFormat),
    /// Text in a known format.
    Text(TimeFormat),
}

/// Reads a Parquet file (gzip-compressed ones are decompressed into memory first).
pub(crate) fn read(
    path: &Path,
    src: Source,
    opts: &IngestOptions,
) -> Result<FileRead, IngestError> {
    let perr = |e: parquet::errors::ParquetError| IngestError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let gzip = src.gzip;
    let builder_reader: ParquetRecordBatchReader = if gzip {
        let bytes = bytes::Bytes::from(src.into_bytes(path)?);
        ParquetRecordBatchReaderBuilder::try_new(bytes)
            .map_err(perr)?
            .build()
            .map_err(perr)?
    } else {
        drop(src);
        let f = File::open(path).map_err(|source| IngestError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        ParquetRecordBatchReaderBuilder::try_new(f)
            .map_err(perr)?
            .build()
            .map_err(perr)?
    };
    let schema = builder_reader.schema();
    let header = Header {
        path,
        names: schema.fields().iter().map(|f| f.name().clone()).collect(),
    };
    let c = &opts.columns;
    if opts.steps() || !c.values.is_empty() {
        return Err(IngestError::Options {
            path: path.to_path_buf(),
            message: "step-index timestamps and several value columns are read from CSV only; \
                      this is a Parquet file"
                .into(),
        });
    }
    let series_col = header.resolve(c.series.as_deref(), SERIES_NAMES, "series")?;
    let time = header.time_column(c.timestamp.as_deref(), false)?;
    let value = header.require(c.value.as_deref(), VALUE_NAMES, "value")?;
    let metric = header.resolve(c.metric.as_deref(), &["metric"], "metric")?;
    let labels = header.labels(&c.labels)?;
    let mut used = vec![time, value];
    used.extend(series_col);
    used.extend(metric);
    used.extend(labels.iter().map(|(_, i)| *i));

    let mut report = FileReport::new(
        path,
        Format::Parquet,
        "Parquet magic bytes `PAR1`".into(),
        gzip,
    );
    report.columns = UsedColumns {
        series: series_col.map(|i| header.names[i].clone()),
        timestamp: header.names[time].clone(),
        values: vec![header.names[value].clone()],
        metric: metric.map(|i| header.names[i].clone()),
        labels: labels.iter().map(|(n, _)| n.clone()).collect(),
    };
    report.ignored_columns = header.ignored(&used);
    let unsupported = |role: &str, i: usize, dt: &DataType| IngestError::Parquet {
        path: path.to_path_buf(),
        message: format!(
            "the {role} column `{}` has type {dt}, which is not supported",
            header.names[i]
        ),
    };
    let time_type = schema.field(time).data_type().clone();
    match schema.field(value).data_type() {
        DataType::Float64 | DataType::Float32 | DataType::Int64 | DataType::Int32 => {}
        dt => return Err(unsupported("value", value, dt)),
    }

    let file = path.display().to_string();
    let stem = file_stem(path);
    let mut st = State {
        file: file.clone(),
        series: Vec::new(),
        index: HashMap::new(),
        key: String::new(),
        report,
    };
    let mut kind: Option<TimeKind> = None;
    let mut row0: u64 = 0;
    for batch in builder_reader {
        let batch: RecordBatch = batch.map_err(|e| IngestError::Parquet {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let tcol = batch.column(time);
        let k = match kind {
            Some(k) => k,
            None => {
                let (k, tf, reason) = time_kind(
                    path,
                    &header.names[time],
                    &time_type,
                    tcol,
                    opts.time_format,
                )
                .ok_or_else(|| unsupported("timestamp", time, &time_type))??;
                st.report.time_format = tf;
                st.report.time_reason = reason;
                kind = Some(k);
                k
            }
        };
        let vcol = batch.column(value);
        for i in 0..batch.num_rows() {
            let line = row0 + i as u64 + 1;
            st.report.rows_read += 1;
            let server = match series_col {
                Some(s) => match str_at(batch.column(s), i) {
                    Some(v) if !v.trim().is_empty() => v,
                    _ => {
                        st.bad(
                            None,
                            line,
                            Some(header.names[s].clone()),
                            "empty series id".into(),
                        );
                        continue;
                    }
                },
                None => Cow::Owned(opts.series_id.clone().unwrap_or_else(|| stem.clone())),
            };
            let metric_name = metric.and_then(|m| str_at(batch.column(m), i));
            st.key.clear();
            st.key.push_str(server.trim());
            if let Some(m) = &metric_name {
                st.key.push('/');
                st.key.push_str(m.trim());
            }
            let idx = match st.index.get(st.key.as_str()) {
                Some(&i) => i,
                None => {
                    let mut meta = SeriesMeta::simple(st.key.clone());
                    meta.server = server.trim().to_string();
                    meta.metric = metric_name.as_ref().map(|m| m.trim().to_string());
                    let vname = &header.names[value];
                    let (unit, why) = match &meta.metric {
                        Some(m) => {
                            choose_unit(opts.unit, &[("metric", m), ("value column", vname)])
                        }
                        None => {
                            choose_unit(opts.unit, &[("value column", vname), ("file name", &stem)])
                        }
                    };
                    meta.unit = unit;
                    for (name, li) in &labels {
                        if let Some(v) = str_at(batch.column(*li), i) {
                            meta.labels.insert(name.clone(), v.into_owned());
                        }
                    }
                    st.report.note_unit(why);
                    st.series.push(RawSeries::new(meta, file.clone()));
                    st.index.insert(st.key.clone(), st.series.len() - 1);
                    st.series.len() - 1
                }
            };
            let ts = match time_at(tcol, i, k) {
                Ok(ts) => ts,
                Err(msg) => {
                    st.bad(Some(idx), line, Some(header.names[time].clone()), msg);
                    continue;
                }
            };
            st.series[idx].samples.push(RawSample {
                ts,
                value: f64_at(vcol, i),
                line,
                source: 0,
            });
        }
        row0 += batch.num_rows() as u64;
    }
    if row0 == 0 {
        return Err(IngestError::Empty {
            path: path.to_path_buf(),
            detail: "the Parquet file has no rows".into(),
        });
    }
    st.report.series_found = st.series.len();
    Ok(FileRead {
        report: st.report,
        series: st.series,
    })
}

struct State {
    file: String,
    series: Vec<RawSeries>,
    index: HashMap<String, usize>,
    key: String,
    report: FileReport,
}

impl State {
    fn bad(&mut self, idx: Option<usize>, line: u64, column: Option<String>, message: String) {
        let e = RowError {
            file: self.file.clone(),
            line,
            column,
            message,
        };
        self.report.bad_rows += 1;
        if self.report.bad_row_examples.len() < 10 {
            self.report.bad_row_examples.push(e.clone());
        }
        if let Some(i) = idx {
            self.series[i].push_bad_row(e);
        }
    }
}

type KindResult = Result<(TimeKind, TimeFormat, String), IngestError>;

/// Chooses how to read the timestamp column from its type and, for integers and text,
/// from its first values. `None` if the type is not supported.
fn time_kind(
    path: &Path,
    name: &str,
    dt: &DataType,
    col: &ArrayRef,
    given: TimeFormat,
) -> Option<KindResult> {
    if let DataType::Timestamp(unit, _) = dt {
        let (per_sec, label) = match unit {
            TimeUnit::Second => (1, "seconds"),
            TimeUnit::Millisecond => (1_000, "milliseconds"),
            TimeUnit::Microsecond => (1_000_000, "microseconds"),
            TimeUnit::Nanosecond => (1_000_000_000, "nanoseconds"),
        };
        return Some(Ok((
            TimeKind::Arrow(per_sec),
            TimeFormat::UnixSeconds,
            format!("arrow timestamp in {label}"),
        )));
    }
    let is_int = matches!(dt, DataType::Int64 | DataType::Int32);
    if !is_int
        && str_at(col, 0).is_none()
        && !matches!(
            dt,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        )
    {
        return None;
    }
    let wrap = |tf| {
        if is_int {
            TimeKind::Int(tf)
        } else {
            TimeKind::Text(tf)
        }
    };
    if given != TimeFormat::Auto {
        return Some(Ok((
            wrap(given),
            given,
            format!("{given}: set in the options"),
        )));
    }
    let n = col.len().min(super::table::SNIFF_ROWS);
    let texts: Vec<String> = (0..n)
        .filter_map(|i| {
            if is_int {
                int_at(col, i).map(|v| v.to_string())
            } else {
                str_at(col, i).map(Cow::into_owned)
            }
        })
        .collect();
    let refs: Vec<&[u8]> = texts.iter().map(|s| s.trim().as_bytes()).collect();
    Some(
        timestamp::detect(&refs, name)
            .map(|d| (wrap(d.format), d.format, d.reason))
            .map_err(|(i, message)| IngestError::Timestamp {
                path: path.to_path_buf(),
                line: i as u64 + 1,
                column: name.to_string(),
                message,
            }),
    )
}

fn time_at(col: &ArrayRef, i: usize, kind: TimeKind) -> Result<Ts, String> {
    let ts = raw_time_at(col, i, kind)?;
    timestamp::in_range(ts).ok_or_else(|| format!("timestamp {ts} is outside years 0000..9999"))
}

fn raw_time_at(col: &ArrayRef, i: usize, kind: TimeKind) -> Result<Ts, String> {
    if col.is_null(i) {
        return Err("missing timestamp (null)".into());
    }
    match kind {
        TimeKind::Arrow(per_sec) => {
            let v = col
                .as_primitive_opt::<TimestampSecondType>()
                .map(|a| a.value(i))
                .or_else(|| {
                    col.as_primitive_opt::<TimestampMillisecondType>()
                        .map(|a| a.value(i))
                })
                .or_else(|| {
                    col.as_primitive_opt::<TimestampMicrosecondType>()
                        .map(|a| a.value(i))
                })
                .or_else(|| {
                    col.as_primitive_opt::<TimestampNanosecondType>()
                        .map(|a| a.value(i))
                })
                .ok_or("timestamp column changed type")?;
            Ok(v.div_euclid(per_sec))
        }
        TimeKind::Int(tf) => {
            let v = int_at(col, i).ok_or("missing timestamp")?;
            Ok(if tf == TimeFormat::UnixMillis {
                v.div_euclid(1000)
            } else {
                v
            })
        }
        TimeKind::Text(tf) => {
            let s = str_at(col, i).ok_or("missing timestamp")?;
            timestamp::parse(tf, s.as_bytes()).ok_or_else(|| {
                format!(
                    "unparsable timestamp {} (expected {tf})",
                    quote(s.as_bytes())
                )
            })
        }
    }
}

fn int_at(col: &ArrayRef, i: usize) -> Option<i64> {
    if col.is_null(i) {
        return None;
    }
    col.as_primitive_opt::<Int64Type>()
        .map(|a| a.value(i))
        .or_else(|| {
            col.as_primitive_opt::<Int32Type>()
                .map(|a| i64::from(a.value(i)))
        })
}

fn f64_at(col: &ArrayRef, i: usize) -> f64 {
    if col.is_null(i) {
        return f64::NAN;
    }
    col.as_primitive_opt::<Float64Type>()
        .map(|a| a.value(i))
        .or_else(|| {
            col.as_primitive_opt::<Float32Type>()
                .map(|a| f64::from(a.value(i)))
        })
        .or_else(|| int_at(col, i).map(|v| v as f64))
        .unwrap_or(f64::NAN)
}

fn str_at(col: &ArrayRef, i: usize) -> Option<Cow<'_, str>> {
    if col.is_null(i) {
        return None;
    }
    if let Some(a) = col.as_string_opt::<i32>() {
        return Some(Cow::Borrowed(a.value(i)));
    }
    if let Some(a) = col.as_string_opt::<i64>() {
        return Some(Cow::Borrowed(a.value(i)));
    }
    if let Some(a) = col.as_string_view_opt() {
        return Some(Cow::Borrowed(a.value(i)));
    }
    int_at(col, i).map(|v| Cow::Owned(v.to_string()))
}
