//! The Mooncake FAST'25 traces (Qin et al., Mooncake, FAST 2025): JSON lines of
//! `{"timestamp": ms, "input_length": n, "output_length": n, "hash_ids": [...]}`, one hash id
//! per 512-token prompt block; equal ids mean a shareable prefix.

use std::io::{BufRead, Read};
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::Workload;
use super::error::WorkloadError;
use super::load::{Cell, LoadReport, RawRow, assemble};
use super::source::{open_path, stem_name, wrap_reader};

/// Tokens per `hash_ids` entry in the Mooncake traces.
pub const MOONCAKE_BLOCK_TOKENS: u32 = 512;

/// Loads a Mooncake JSONL trace (plain or gzip). Blank lines are skipped; `hash_ids` may be
/// absent (no prefix information), the other three fields are required.
pub fn load_mooncake(path: impl AsRef<Path>) -> Result<(Workload, LoadReport), WorkloadError> {
    let path = path.as_ref();
    let reader = open_path(path)?;
    parse(reader, &path.display().to_string(), stem_name(path))
}

/// Like [`load_mooncake`], from any reader; `name` names the workload and appears in errors.
pub fn read_mooncake<R: Read>(
    reader: R,
    name: &str,
) -> Result<(Workload, LoadReport), WorkloadError> {
    let reader = wrap_reader(reader, name)?;
    parse(reader, name, name.to_owned())
}

/// The fields we read, kept as raw JSON so a wrong value can be reported by field name.
#[derive(Deserialize)]
struct RawLine {
    timestamp: Option<Value>,
    input_length: Option<Value>,
    output_length: Option<Value>,
    hash_ids: Option<Value>,
}

fn parse(
    mut reader: Box<dyn BufRead + '_>,
    file: &str,
    name: String,
) -> Result<(Workload, LoadReport), WorkloadError> {
    let mut report = LoadReport::default();
    let mut rows = Vec::new();
    let mut text = String::new();
    let mut line: u64 = 0;
    loop {
        text.clear();
        let read = reader.read_line(&mut text).map_err(|source| {
            if source.kind() == std::io::ErrorKind::InvalidData {
                WorkloadError::Malformed {
                    file: file.to_owned(),
                    line: line + 1,
                    reason: "not valid UTF-8 text".into(),
                }
            } else {
                WorkloadError::Io {
                    path: file.into(),
                    source,
                }
            }
        })?;
        if read == 0 {
            break;
        }
        line += 1;
        let body = text.trim();
        if body.is_empty() {
            report.blank_lines += 1;
            continue;
        }
        report.rows += 1;
        rows.push(parse_line(body, file, line)?);
    }
    assemble(name, MOONCAKE_BLOCK_TOKENS, rows, report)
}

fn parse_line(body: &str, file: &str, line: u64) -> Result<RawRow, WorkloadError> {
    let raw: RawLine = serde_json::from_str(body).map_err(|e| WorkloadError::Malformed {
        file: file.to_owned(),
        line,
        reason: format!("not a JSON object ({e})"),
    })?;
    let required = |field: &'static str, v: Option<Value>| {
        v.filter(|v| !v.is_null())
            .ok_or_else(|| WorkloadError::MissingField {
                file: file.to_owned(),
                line,
                field: field.to_owned(),
            })
    };
    let cell = |column: &'static str| Cell { file, line, column };

    let ts = required("timestamp", raw.timestamp)?;
    let timestamp_ms = ts
        .as_f64()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| cell("timestamp").error(&ts.to_string(), "expected milliseconds ≥ 0"))?;
    let input_tokens = tokens(
        required("input_length", raw.input_length)?,
        &cell("input_length"),
    )?;
    let output_tokens = tokens(
        required("output_length", raw.output_length)?,
        &cell("output_length"),
    )?;
    let prefix_blocks = match raw.hash_ids {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(ids)) => ids
            .iter()
            .map(|id| {
                id.as_u64().ok_or_else(|| {
                    cell("hash_ids").error(&id.to_string(), "expected non-negative integer ids")
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => {
            return Err(cell("hash_ids").error(&other.to_string(), "expected an array of ids"));
        }
    };
    Ok(RawRow {
        arrival_s: timestamp_ms / 1000.0,
        input_tokens,
        output_tokens,
        prefix_blocks,
    })
}

fn tokens(v: Value, cell: &Cell<'_>) -> Result<u64, WorkloadError> {
    match v.as_u64() {
        Some(n) if n <= u64::from(u32::MAX) => Ok(n),
        Some(_) => Err(cell.error(&v.to_string(), format!("more than {} tokens", u32::MAX))),
        None => Err(cell.error(&v.to_string(), "expected a non-negative whole number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lines_skips_blanks_and_keeps_blocks() {
        let text = "{\"timestamp\": 1500, \"input_length\": 600, \"output_length\": 5, \"hash_ids\": [0, 1]}\n\
                    \n\
                    {\"timestamp\": 500, \"input_length\": 10, \"output_length\": 0, \"hash_ids\": [0]}\n";
        let (w, r) = read_mooncake(text.as_bytes(), "m").expect("valid");
        assert_eq!(w.block_tokens, 512);
        assert_eq!(w.requests.len(), 2);
        assert_eq!(w.requests[0].prefix_blocks, vec![0]);
        assert_eq!(w.requests[1].arrival_s, 1.0);
        assert_eq!(w.requests[1].prefix_blocks, vec![0, 1]);
        assert_eq!(
            (r.blank_lines, r.unsorted_rows, r.zero_output_clamped),
            (1, 1, 1)
        );
    }

    #[test]
    fn bad_json_names_its_line() {
        let text =
            "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1}\n\n{\"timestamp\": 3,\n";
        let err = read_mooncake(text.as_bytes(), "m.jsonl").expect_err("truncated");
        assert_eq!(err.line(), Some(3));
        assert!(err.to_string().starts_with("m.jsonl:3:"), "{err}");
    }

    #[test]
    fn missing_and_wrong_fields_name_field_and_line() {
        let text = "{\"timestamp\": 0, \"output_length\": 1}\n";
        let err = read_mooncake(text.as_bytes(), "m").expect_err("missing");
        assert!(
            matches!(err, WorkloadError::MissingField { line: 1, ref field, .. } if field == "input_length")
        );

        let text = "{\"timestamp\": 0, \"input_length\": -4, \"output_length\": 1}\n";
        let err = read_mooncake(text.as_bytes(), "m").expect_err("negative");
        assert!(
            matches!(err, WorkloadError::Parse { line: 1, ref column, ref value, .. } if column == "input_length" && value == "-4")
        );

        let text = "{\"timestamp\": 0, \"input_length\": 4, \"output_length\": 1, \"hash_ids\": [1, \"x\"]}\n";
        let err = read_mooncake(text.as_bytes(), "m").expect_err("bad id");
        assert_eq!(err.line(), Some(1));
    }
}
