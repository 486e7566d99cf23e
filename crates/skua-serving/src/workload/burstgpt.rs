//! BurstGPT (Wang et al., "BurstGPT: A Real-world Workload Dataset to Optimize LLM Serving
//! Systems", arXiv 2401.17644), the Azure OpenAI GPT-3.5/GPT-4 trace of HPMLL/BurstGPT.
//!
//! Two public layouts exist, both read here by header name:
//! - release v1.1 (`BurstGPT_1.csv`, `BurstGPT_2.csv`, `…without_fails…`):
//!   `Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type`;
//! - release v2.0 (`BurstGPT_3.csv`): `Timestamp,Session ID,Elapsed time,Model,Request tokens,
//!   Response tokens,Total tokens,Log Type`.
//!
//! `Timestamp` is seconds (v1.1 counts from the first day, v2.0 continues that clock); arrivals
//! are re-based to the earliest kept row. A request with 0 response tokens is a failure.

use std::io::Read;
use std::path::Path;

use super::Workload;
use super::error::WorkloadError;
use super::load::{
    Cell, LoadReport, RawRow, assemble, csv_error, csv_reader, data_record, parse_time,
    parse_tokens, require_column,
};
use super::source::{open_path, stem_name, wrap_reader};

const HINT: &str = "a BurstGPT trace has the columns Timestamp,Model,Request tokens,Response tokens \
                    (Session ID, Elapsed time, Total tokens and Log Type are optional)";

/// Which BurstGPT rows to keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BurstGptOptions {
    /// Keep only this model (`ChatGPT`, `GPT-4`; compared case-insensitively). `None` keeps all.
    pub model: Option<String>,
    /// Leave out failed requests (0 response tokens) instead of clamping them to 1 token;
    /// either way they are counted in the [`LoadReport`].
    pub drop_failed: bool,
}

/// Loads a BurstGPT CSV trace of either layout (plain or gzip).
pub fn load_burstgpt(
    path: impl AsRef<Path>,
    options: &BurstGptOptions,
) -> Result<(Workload, LoadReport), WorkloadError> {
    let path = path.as_ref();
    let reader = open_path(path)?;
    parse(
        reader,
        &path.display().to_string(),
        stem_name(path),
        options,
    )
}

/// Like [`load_burstgpt`], from any reader; `name` names the workload and appears in errors.
pub fn read_burstgpt<R: Read>(
    reader: R,
    name: &str,
    options: &BurstGptOptions,
) -> Result<(Workload, LoadReport), WorkloadError> {
    let reader = wrap_reader(reader, name)?;
    parse(reader, name, name.to_owned(), options)
}

fn parse<R: Read>(
    reader: R,
    file: &str,
    name: String,
    options: &BurstGptOptions,
) -> Result<(Workload, LoadReport), WorkloadError> {
    let mut csv = csv_reader(reader);
    let headers = csv.headers().map_err(|e| csv_error(e, file))?.clone();
    let ts_col = require_column(&headers, "Timestamp", file, HINT)?;
    let model_col = require_column(&headers, "Model", file, HINT)?;
    let in_col = require_column(&headers, "Request tokens", file, HINT)?;
    let out_col = require_column(&headers, "Response tokens", file, HINT)?;
    let wanted_model = options.model.as_deref().map(str::trim);

    let mut report = LoadReport::default();
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    while csv
        .read_record(&mut record)
        .map_err(|e| csv_error(e, file))?
    {
        if !data_record(&record, headers.len(), file, &mut report)? {
            continue;
        }
        let line = record.position().map_or(0, csv::Position::line);
        let cell = |col: usize| Cell {
            file,
            line,
            column: &headers[col],
        };
        let field = |col: usize| record.get(col).unwrap_or("");
        // Values are checked before filtering, so a broken row is reported even if it would
        // have been filtered out.
        let arrival_s = parse_time(field(ts_col), &cell(ts_col))?;
        let input_tokens = parse_tokens(field(in_col), &cell(in_col))?;
        let output_tokens = parse_tokens(field(out_col), &cell(out_col))?;
        if let Some(model) = wanted_model {
            if !field(model_col).trim().eq_ignore_ascii_case(model) {
                report.filtered_model += 1;
                continue;
            }
        }
        if output_tokens == 0 && options.drop_failed {
            report.dropped_failed += 1;
            continue;
        }
        rows.push(RawRow {
            arrival_s,
            input_tokens,
            output_tokens,
            prefix_blocks: Vec::new(),
        });
    }
    // BurstGPT has no prefix hashes; 1 is a neutral block size.
    assemble(name, 1, rows, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n\
                      5,ChatGPT,472,18,490,Conversation log\n\
                      45,GPT-4,1087,0,1087,Conversation log\n\
                      118,gpt-4,417,276,693,API log\n";

    #[test]
    fn model_filter_and_failure_handling() {
        let keep_all = BurstGptOptions::default();
        let (w, r) = read_burstgpt(V1.as_bytes(), "b", &keep_all).expect("valid");
        assert_eq!(w.requests.len(), 3);
        assert_eq!(r.zero_output_clamped, 1);
        assert_eq!(w.requests[2].arrival_s, 113.0);

        let gpt4_ok = BurstGptOptions {
            model: Some("GPT-4".into()),
            drop_failed: true,
        };
        let (w, r) = read_burstgpt(V1.as_bytes(), "b", &gpt4_ok).expect("valid");
        assert_eq!(w.requests.len(), 1);
        assert_eq!(w.requests[0].input_tokens, 417);
        assert_eq!(
            w.requests[0].arrival_s, 0.0,
            "re-based to the earliest kept row"
        );
        assert_eq!(
            (
                r.rows,
                r.filtered_model,
                r.dropped_failed,
                r.zero_output_clamped
            ),
            (3, 1, 1, 0)
        );
    }

    #[test]
    fn filtering_everything_is_an_empty_error() {
        let opts = BurstGptOptions {
            model: Some("Claude".into()),
            drop_failed: false,
        };
        let err = read_burstgpt(V1.as_bytes(), "b", &opts).expect_err("empty");
        assert!(err.to_string().contains("filtered"), "{err}");
    }

    #[test]
    fn ragged_row_names_its_line() {
        let text = "Timestamp,Model,Request tokens,Response tokens\n1,ChatGPT,3,4\n2,ChatGPT,3\n";
        let err =
            read_burstgpt(text.as_bytes(), "b", &BurstGptOptions::default()).expect_err("ragged");
        assert!(
            matches!(err, WorkloadError::Malformed { line: 3, .. }),
            "{err}"
        );
    }
}
