//! The one error type of the workload module.

use std::path::PathBuf;

/// Everything that can go wrong while loading, generating or transforming a workload.
///
/// `file` is the path as given (or the name passed to a `read_*` function); `line` is the
/// 1-based line number as an editor shows it.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// The file could not be opened or read.
    #[error("cannot read {}: {source}; check that the file exists, is readable and is not truncated", path.display())]
    Io {
        /// The file (or reader name).
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A value on a line could not be understood.
    #[error(
        "{file}:{line}: column `{column}`: cannot use {value:?}: {reason}; fix or remove that line"
    )]
    Parse {
        /// The file (or reader name).
        file: String,
        /// 1-based line number.
        line: u64,
        /// Column or field name.
        column: String,
        /// The offending text.
        value: String,
        /// What was expected.
        reason: String,
    },
    /// A line is not well-formed (wrong number of fields, not UTF-8, not JSON, …).
    #[error("{file}:{line}: {reason}; fix or remove that line")]
    Malformed {
        /// The file (or reader name).
        file: String,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// A required field is absent from a record.
    #[error("{file}:{line}: missing field `{field}`; every request needs it")]
    MissingField {
        /// The file (or reader name).
        file: String,
        /// 1-based line number.
        line: u64,
        /// The missing field.
        field: String,
    },
    /// A required column is absent from the header.
    #[error("{file}: no column named `{column}` (header is `{header}`); {hint}")]
    MissingColumn {
        /// The file (or reader name).
        file: String,
        /// The missing column.
        column: String,
        /// The header as read.
        header: String,
        /// What the format expects.
        hint: String,
    },
    /// Nothing to work with.
    #[error("{file}: no requests ({detail}); check the file and the filters")]
    Empty {
        /// The file, reader or generator name.
        file: String,
        /// Why nothing is left.
        detail: String,
    },
    /// A ServeGen token-length distribution could not be read.
    #[error(
        "{file}: window {window}, field `{field}`: {reason}; the value must be a dict literal like `{{224: 0.25, 230: 0.75}}`"
    )]
    Distribution {
        /// The dataset file (or reader name).
        file: String,
        /// Window start as written in the file.
        window: String,
        /// `input_tokens` or `output_tokens`.
        field: String,
        /// What is wrong, with the position.
        reason: String,
    },
    /// An argument is out of its domain.
    #[error("invalid {what}: {value}; {expected}")]
    InvalidArgument {
        /// The argument.
        what: &'static str,
        /// Its value.
        value: String,
        /// The domain.
        expected: &'static str,
    },
}

impl WorkloadError {
    /// The line the error points at, if it points at one.
    pub fn line(&self) -> Option<u64> {
        match self {
            Self::Parse { line, .. }
            | Self::Malformed { line, .. }
            | Self::MissingField { line, .. } => Some(*line),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_error_names_file_line_column_and_value() {
        let e = WorkloadError::Parse {
            file: "t.csv".into(),
            line: 7,
            column: "ContextTokens".into(),
            value: "x1".into(),
            reason: "expected a whole number".into(),
        };
        let msg = e.to_string();
        assert!(msg.starts_with("t.csv:7: column `ContextTokens`"), "{msg}");
        assert!(msg.contains("\"x1\""), "{msg}");
        assert_eq!(e.line(), Some(7));
    }

    #[test]
    fn io_error_keeps_its_source() {
        let e = WorkloadError::Io {
            path: "nope.csv".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
        };
        assert!(std::error::Error::source(&e).is_some());
        assert!(e.to_string().contains("nope.csv"));
        assert_eq!(e.line(), None);
    }
}
