//! Finding columns in a header: the mapping from the options, else recognised names.

use std::path::Path;

use super::IngestError;

/// Recognised names of the series column (case-insensitive).
pub(crate) const SERIES_NAMES: &[&str] = &[
    "series",
    "unique_id",
    "id",
    "server",
    "host",
    "instance",
    "vm",
];
/// Recognised names of the timestamp column.
pub(crate) const TIME_NAMES: &[&str] = &["timestamp", "ds", "time", "date", "datetime", "ts"];
/// The column a step-index time format reads by default.
pub(crate) const STEP_NAME: &str = "step";
/// Recognised names of the value column.
pub(crate) const VALUE_NAMES: &[&str] = &["value", "y"];

/// A header's column names with the file they came from, for error messages.
pub(crate) struct Header<'a> {
    pub path: &'a Path,
    pub names: Vec<String>,
}

impl Header<'_> {
    /// Index of the column named `name` (case-insensitive, trimmed).
    pub fn find(&self, name: &str) -> Option<usize> {
        let name = name.trim();
        self.names.iter().position(|n| n.eq_ignore_ascii_case(name))
    }

    /// An error about the columns, listing them.
    pub fn error(&self, message: String) -> IngestError {
        IngestError::Column {
            path: self.path.to_path_buf(),
            message,
            columns: self.names.join(", "),
        }
    }

    /// The mapped column (which must exist) or the first column with a recognised name.
    pub fn resolve(
        &self,
        mapped: Option<&str>,
        defaults: &[&str],
        role: &str,
    ) -> Result<Option<usize>, IngestError> {
        match mapped {
            Some(m) => self.find(m).map(Some).ok_or_else(|| {
                self.error(format!(
                    "the {role} column `{m}` set in the mapping is not in the header"
                ))
            }),
            None => Ok(self
                .names
                .iter()
                .position(|n| defaults.iter().any(|d| n.eq_ignore_ascii_case(d)))),
        }
    }

    /// Like [`resolve`](Self::resolve) but the column must exist.
    pub fn require(
        &self,
        mapped: Option<&str>,
        defaults: &[&str],
        role: &str,
    ) -> Result<usize, IngestError> {
        self.resolve(mapped, defaults, role)?.ok_or_else(|| {
            self.error(format!(
                "no {role} column (looked for {}); name it with `[columns] {role} = \"…\"`",
                defaults.join(", ")
            ))
        })
    }

    /// The timestamp column: mapped, recognised, or one whose name starts with `timestamp`
    /// (`Timestamp [ms]`). With `step` (the step-index time format) a column named `step`
    /// comes first; without it, such a column is named in the error as the likely fix.
    pub fn time_column(&self, mapped: Option<&str>, step: bool) -> Result<usize, IngestError> {
        if mapped.is_none() && step {
            if let Some(i) = self.find(STEP_NAME) {
                return Ok(i);
            }
        }
        if let Some(i) = self.resolve(mapped, TIME_NAMES, "timestamp")? {
            return Ok(i);
        }
        self.names
            .iter()
            .position(|n| n.to_ascii_lowercase().starts_with("timestamp"))
            .ok_or_else(|| {
                let hint = match self.find(STEP_NAME) {
                    Some(i) if !step => format!(
                        "; the column `{}` looks like a step index: set `time_format = \"step\"` \
                         and `step_secs` (flags `--time-format step --step-secs N`)",
                        self.names[i]
                    ),
                    _ => String::new(),
                };
                self.error(format!(
                    "no timestamp column (looked for {}); name it with `[columns] timestamp = \"…\"`{hint}",
                    TIME_NAMES.join(", ")
                ))
            })
    }

    /// Label columns from the mapping, each of which must exist.
    pub fn labels(&self, names: &[String]) -> Result<Vec<(String, usize)>, IngestError> {
        names
            .iter()
            .map(|l| {
                self.find(l)
                    .map(|i| (self.names[i].clone(), i))
                    .ok_or_else(|| {
                        self.error(format!(
                            "the label column `{l}` set in the mapping is not in the header"
                        ))
                    })
            })
            .collect()
    }

    /// Names of the columns not in `used`.
    pub fn ignored(&self, used: &[usize]) -> Vec<String> {
        (0..self.names.len())
            .filter(|i| !used.contains(i))
            .map(|i| self.names[i].clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_mapped_and_recognised_names() {
        let h = Header {
            path: Path::new("f.csv"),
            names: ["Unique_ID", "DS", "y", "Timestamp [ms]"]
                .map(String::from)
                .to_vec(),
        };
        assert_eq!(h.resolve(None, SERIES_NAMES, "series").unwrap(), Some(0));
        assert_eq!(h.time_column(None, false).unwrap(), 1);
        assert_eq!(h.time_column(Some("timestamp [MS]"), false).unwrap(), 3);
        assert_eq!(h.require(None, VALUE_NAMES, "value").unwrap(), 2);
        let e = h
            .resolve(Some("vm"), SERIES_NAMES, "series")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`vm`") && e.contains("Unique_ID, DS"), "{e}");
        assert_eq!(h.ignored(&[0, 1]), vec!["y", "Timestamp [ms]"]);
    }

    #[test]
    fn a_step_column_is_the_time_of_the_step_format_and_a_hint_otherwise() {
        let h = Header {
            path: Path::new("asd.csv"),
            names: ["unique_id", "step", "m0"].map(String::from).to_vec(),
        };
        assert_eq!(h.time_column(None, true).unwrap(), 1);
        let e = h.time_column(None, false).unwrap_err().to_string();
        assert!(
            e.contains("no timestamp column") && e.contains("--time-format step"),
            "{e}"
        );
        let plain = Header {
            path: Path::new("x.csv"),
            names: ["unique_id", "m0"].map(String::from).to_vec(),
        };
        let e = plain.time_column(None, true).unwrap_err().to_string();
        assert!(!e.contains("step index"), "{e}");
    }
}
