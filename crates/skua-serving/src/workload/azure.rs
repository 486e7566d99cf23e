//! The Azure LLM inference trace 2023 (Patel et al., Splitwise, ISCA 2024):
//! `TIMESTAMP,ContextTokens,GeneratedTokens`, one row per request.

use std::io::Read;
use std::path::Path;

use super::Workload;
use super::error::WorkloadError;
use super::load::{
    Cell, LoadReport, RawRow, assemble, csv_error, csv_reader, data_record, parse_tokens,
    require_column,
};
use super::source::{open_path, stem_name, wrap_reader};
use super::timestamp::{Instant, parse_timestamp};

const HINT: &str = "an Azure LLM trace has the columns TIMESTAMP,ContextTokens,GeneratedTokens";

/// Loads an Azure LLM 2023 trace (plain or gzip); arrivals are seconds since the earliest
/// request. Columns are found by header name, case-insensitively.
pub fn load_azure(path: impl AsRef<Path>) -> Result<(Workload, LoadReport), WorkloadError> {
    let path = path.as_ref();
    let reader = open_path(path)?;
    parse(reader, &path.display().to_string(), stem_name(path))
}

/// Like [`load_azure`], from any reader; `name` names the workload and appears in errors.
pub fn read_azure<R: Read>(reader: R, name: &str) -> Result<(Workload, LoadReport), WorkloadError> {
    let reader = wrap_reader(reader, name)?;
    parse(reader, name, name.to_owned())
}

fn parse<R: Read>(
    reader: R,
    file: &str,
    name: String,
) -> Result<(Workload, LoadReport), WorkloadError> {
    let mut csv = csv_reader(reader);
    let headers = csv.headers().map_err(|e| csv_error(e, file))?.clone();
    let ts_col = require_column(&headers, "TIMESTAMP", file, HINT)?;
    let in_col = require_column(&headers, "ContextTokens", file, HINT)?;
    let out_col = require_column(&headers, "GeneratedTokens", file, HINT)?;

    let mut report = LoadReport::default();
    let mut stamped: Vec<(Instant, u64, u64)> = Vec::new();
    let mut record = csv::StringRecord::new();
    while csv
        .read_record(&mut record)
        .map_err(|e| csv_error(e, file))?
    {
        if !data_record(&record, headers.len(), file, &mut report)? {
            continue;
        }
        let line = record.position().map_or(0, csv::Position::line);
        let field = |i: usize| record.get(i).unwrap_or("");
        let ts_text = field(ts_col);
        let at = parse_timestamp(ts_text).map_err(|reason| {
            Cell {
                file,
                line,
                column: &headers[ts_col],
            }
            .error(ts_text, reason)
        })?;
        let input = parse_tokens(
            field(in_col),
            &Cell {
                file,
                line,
                column: &headers[in_col],
            },
        )?;
        let output = parse_tokens(
            field(out_col),
            &Cell {
                file,
                line,
                column: &headers[out_col],
            },
        )?;
        stamped.push((at, input, output));
    }
    let origin = stamped.iter().map(|s| s.0).min();
    let rows = stamped
        .into_iter()
        .map(|(at, input_tokens, output_tokens)| RawRow {
            arrival_s: origin.map_or(0.0, |o| at.seconds_since(o)),
            input_tokens,
            output_tokens,
            prefix_blocks: Vec::new(),
        })
        .collect();
    // The Azure trace has no prefix hashes; 1 is a neutral block size.
    assemble(name, 1, rows, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_in_any_column_order_and_case() {
        let text = "generatedtokens,Timestamp,CONTEXTTOKENS\n\
                    44,2023-11-16 18:15:46.6805900,374\n\
                    109,2023-11-16 18:15:50.9951690,396\n";
        let (w, r) = read_azure(text.as_bytes(), "t").expect("valid");
        assert_eq!(w.requests.len(), 2);
        assert_eq!(w.requests[0].input_tokens, 374);
        assert_eq!(w.requests[0].output_tokens, 44);
        // 50.9951690 - 46.6805900 = 4.3145790 s.
        assert!((w.requests[1].arrival_s - 4.314_579).abs() < 1e-9);
        assert_eq!(r.rows, 2);
    }

    #[test]
    fn bad_timestamp_names_line_and_column() {
        let text = "TIMESTAMP,ContextTokens,GeneratedTokens\n\
                    2023-11-16 18:15:46.6805900,374,44\n\
                    2023-11-16 25:00:00.0000000,396,109\n";
        let err = read_azure(text.as_bytes(), "t.csv").expect_err("bad hour");
        assert_eq!(err.line(), Some(3));
        let msg = err.to_string();
        assert!(
            msg.contains("t.csv:3") && msg.contains("TIMESTAMP"),
            "{msg}"
        );
    }

    #[test]
    fn windows_line_endings_keep_line_numbers_right() {
        let text = "TIMESTAMP,ContextTokens,GeneratedTokens\r\n\
                    2023-11-16 18:15:46.6805900,374,44\r\n\
                    2023-11-16 18:15:47.0000000,396,109\r\n\
                    2023-11-16 18:15:48.0000000,-3,109\r\n";
        let err = read_azure(text.as_bytes(), "t").expect_err("negative");
        assert_eq!(err.line(), Some(4), "{err}");
    }

    #[test]
    fn missing_column_is_reported_with_the_header() {
        let text = "TIMESTAMP,ContextTokens\n2023-11-16 18:15:46.68,374\n";
        let err = read_azure(text.as_bytes(), "t").expect_err("no output column");
        assert!(
            matches!(err, WorkloadError::MissingColumn { ref column, .. } if column == "GeneratedTokens")
        );
    }

    #[test]
    fn header_only_file_is_empty() {
        let text = "TIMESTAMP,ContextTokens,GeneratedTokens\n";
        let err = read_azure(text.as_bytes(), "t").expect_err("empty");
        assert!(matches!(err, WorkloadError::Empty { .. }));
    }
}
