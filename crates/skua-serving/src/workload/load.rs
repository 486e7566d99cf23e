//! What every trace loader shares: the load report, CSV header matching, token parsing and
//! the final sort-and-number step.

use serde::Serialize;

use super::error::WorkloadError;
use super::{Request, Workload};

/// What a loader saw and changed on the way from file rows to a [`Workload`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LoadReport {
    /// Data rows read (header and blank lines excluded).
    pub rows: usize,
    /// Requests in the resulting workload.
    pub kept: usize,
    /// Rows whose output length was 0, kept with 1 output token.
    pub zero_output_clamped: usize,
    /// Rows whose prompt length was 0, kept with a 1-token prompt.
    pub zero_input_clamped: usize,
    /// Kept rows whose timestamp is earlier than that of a kept row on an earlier line (the
    /// workload is sorted anyway).
    pub unsorted_rows: usize,
    /// Blank lines skipped.
    pub blank_lines: usize,
    /// Rows left out by a model filter (BurstGPT).
    pub filtered_model: usize,
    /// Failed requests (0 response tokens) left out on request (BurstGPT).
    pub dropped_failed: usize,
}

/// One accepted row before sorting: arrival in the trace's own clock.
pub(crate) struct RawRow {
    pub arrival_s: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub prefix_blocks: Vec<u64>,
}

/// Sorts rows by arrival (stable), re-bases time to the earliest row, clamps 0-token lengths
/// to 1 (counting them) and numbers the requests densely.
pub(crate) fn assemble(
    name: String,
    block_tokens: u32,
    mut rows: Vec<RawRow>,
    mut report: LoadReport,
) -> Result<(Workload, LoadReport), WorkloadError> {
    if rows.is_empty() {
        let detail = if report.rows == 0 {
            "the file has no data rows".to_owned()
        } else {
            format!(
                "all {} rows were filtered out ({} by model, {} failed)",
                report.rows, report.filtered_model, report.dropped_failed
            )
        };
        return Err(WorkloadError::Empty { file: name, detail });
    }
    let mut latest = f64::NEG_INFINITY;
    for row in &rows {
        if row.arrival_s < latest {
            report.unsorted_rows += 1;
        }
        latest = latest.max(row.arrival_s);
    }
    rows.sort_by(|a, b| a.arrival_s.total_cmp(&b.arrival_s));
    let origin = rows[0].arrival_s;
    let requests = rows
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            if row.input_tokens == 0 {
                report.zero_input_clamped += 1;
            }
            if row.output_tokens == 0 {
                report.zero_output_clamped += 1;
            }
            Request {
                id: i as u64,
                arrival_s: row.arrival_s - origin,
                // Parsers reject lengths above u32::MAX, so these casts never truncate.
                input_tokens: row.input_tokens.max(1) as u32,
                output_tokens: row.output_tokens.max(1) as u32,
                prefix_blocks: row.prefix_blocks,
            }
        })
        .collect::<Vec<_>>();
    report.kept = requests.len();
    Ok((
        Workload {
            name,
            block_tokens,
            requests,
        },
        report,
    ))
}

/// Position of `wanted` among `headers`, compared case-insensitively and ignoring
/// surrounding blanks and a UTF-8 byte-order mark.
pub(crate) fn find_column(headers: &csv::StringRecord, wanted: &str) -> Option<usize> {
    headers.iter().position(|h| {
        h.trim_start_matches('\u{feff}')
            .trim()
            .eq_ignore_ascii_case(wanted)
    })
}

/// Like [`find_column`], but a missing column is an error that shows the header.
pub(crate) fn require_column(
    headers: &csv::StringRecord,
    wanted: &str,
    file: &str,
    hint: &str,
) -> Result<usize, WorkloadError> {
    find_column(headers, wanted).ok_or_else(|| WorkloadError::MissingColumn {
        file: file.to_owned(),
        column: wanted.to_owned(),
        header: headers.iter().collect::<Vec<_>>().join(","),
        hint: hint.to_owned(),
    })
}

/// Turns a `csv` reading error into a [`WorkloadError`] with the line it happened on.
pub(crate) fn csv_error(err: csv::Error, file: &str) -> WorkloadError {
    let line = err.position().map_or(0, csv::Position::line);
    match err.into_kind() {
        csv::ErrorKind::Io(source) => WorkloadError::Io {
            path: file.into(),
            source,
        },
        csv::ErrorKind::Utf8 { err, .. } => WorkloadError::Malformed {
            file: file.to_owned(),
            line,
            reason: format!("not valid UTF-8 text ({err})"),
        },
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => WorkloadError::Malformed {
            file: file.to_owned(),
            line,
            reason: format!("{len} fields where the header has {expected_len}"),
        },
        other => WorkloadError::Malformed {
            file: file.to_owned(),
            line,
            reason: format!("{other:?}"),
        },
    }
}

/// Opens a CSV reader over `reader` that tolerates ragged rows, so [`data_record`] can
/// report them with their line.
pub(crate) fn csv_reader<R: std::io::Read>(reader: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(reader)
}

/// Classifies a record read after the header: `Ok(false)` for a whitespace-only line
/// (counted in the report), `Ok(true)` for a data row (counted too), an error when it has
/// the wrong number of fields.
pub(crate) fn data_record(
    record: &csv::StringRecord,
    header_len: usize,
    file: &str,
    report: &mut LoadReport,
) -> Result<bool, WorkloadError> {
    if record.iter().all(|f| f.trim().is_empty()) {
        report.blank_lines += 1;
        return Ok(false);
    }
    if record.len() != header_len {
        return Err(WorkloadError::Malformed {
            file: file.to_owned(),
            line: record.position().map_or(0, csv::Position::line),
            reason: format!("{} fields where the header has {header_len}", record.len()),
        });
    }
    report.rows += 1;
    Ok(true)
}

/// Where a value sits, for error messages.
pub(crate) struct Cell<'a> {
    pub file: &'a str,
    pub line: u64,
    pub column: &'a str,
}

impl Cell<'_> {
    /// A parse error at this cell.
    pub fn error(&self, value: &str, reason: impl Into<String>) -> WorkloadError {
        WorkloadError::Parse {
            file: self.file.to_owned(),
            line: self.line,
            column: self.column.to_owned(),
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}

/// A token count: a non-negative whole number (an integral decimal such as `472.0` is
/// accepted, since some tools write counts as floats), at most `u32::MAX`.
pub(crate) fn parse_tokens(text: &str, cell: &Cell<'_>) -> Result<u64, WorkloadError> {
    let t = text.trim();
    if let Ok(v) = t.parse::<u64>() {
        return check_token_range(v, text, cell);
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 && v.fract() == 0.0 => {
            check_token_range(v as u64, text, cell)
        }
        _ => Err(cell.error(text, "expected a non-negative whole number of tokens")),
    }
}

fn check_token_range(v: u64, text: &str, cell: &Cell<'_>) -> Result<u64, WorkloadError> {
    if v > u64::from(u32::MAX) {
        Err(cell.error(text, format!("more than {} tokens", u32::MAX)))
    } else {
        Ok(v)
    }
}

/// A finite, non-negative number of seconds (or milliseconds).
pub(crate) fn parse_time(text: &str, cell: &Cell<'_>) -> Result<f64, WorkloadError> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(cell.error(text, "expected a finite, non-negative number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(t: f64, i: u64, o: u64) -> RawRow {
        RawRow {
            arrival_s: t,
            input_tokens: i,
            output_tokens: o,
            prefix_blocks: Vec::new(),
        }
    }

    const CELL: Cell<'static> = Cell {
        file: "f",
        line: 3,
        column: "c",
    };

    #[test]
    fn assemble_sorts_stably_rebases_clamps_and_counts() {
        let rows = vec![
            row(10.0, 5, 1),
            row(12.0, 0, 2),
            row(11.0, 7, 0),
            row(11.0, 8, 3),
        ];
        let report = LoadReport {
            rows: 4,
            ..LoadReport::default()
        };
        let (w, r) = assemble("w".into(), 16, rows, report).expect("non-empty");
        let got: Vec<(u64, f64, u32, u32)> = w
            .requests
            .iter()
            .map(|q| (q.id, q.arrival_s, q.input_tokens, q.output_tokens))
            .collect();
        // The two 11.0 rows keep their file order (7 before 8).
        assert_eq!(
            got,
            vec![
                (0, 0.0, 5, 1),
                (1, 1.0, 7, 1),
                (2, 1.0, 8, 3),
                (3, 2.0, 1, 2)
            ]
        );
        assert_eq!(r.unsorted_rows, 2, "11.0 and 11.0 come after 12.0");
        assert_eq!((r.zero_input_clamped, r.zero_output_clamped), (1, 1));
        assert_eq!(r.kept, 4);
    }

    #[test]
    fn assemble_of_nothing_is_an_empty_error() {
        let err = assemble("w".into(), 1, Vec::new(), LoadReport::default()).expect_err("empty");
        assert!(matches!(err, WorkloadError::Empty { .. }));
    }

    #[test]
    fn tokens_accept_integers_and_integral_floats_only() {
        assert_eq!(parse_tokens(" 472 ", &CELL).ok(), Some(472));
        assert_eq!(parse_tokens("472.0", &CELL).ok(), Some(472));
        for bad in ["-1", "1.5", "abc", "", "NaN", "5000000000"] {
            let err = parse_tokens(bad, &CELL).expect_err(bad);
            assert_eq!(err.line(), Some(3), "{bad}");
        }
    }

    #[test]
    fn columns_match_case_insensitively() {
        let h = csv::StringRecord::from(vec!["\u{feff}TIMESTAMP", " contexttokens "]);
        assert_eq!(find_column(&h, "Timestamp"), Some(0));
        assert_eq!(find_column(&h, "ContextTokens"), Some(1));
        let err = require_column(&h, "GeneratedTokens", "f", "hint").expect_err("missing");
        assert!(err.to_string().contains("GeneratedTokens"));
    }
}
