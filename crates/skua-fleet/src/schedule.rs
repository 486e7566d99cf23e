//! The planner's output: one maintenance window per server, with CSV and JSON forms.

use std::fmt::Write as _;

use serde::Serialize;
use skua_core::Ts;
use skua_core::time::format_ts;

/// A plan: one job per server, sorted by server id.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Schedule {
    /// The plan origin: no job starts before it.
    pub origin: Ts,
    /// Job length in seconds.
    pub duration: i64,
    /// One entry per server, sorted by server id.
    pub entries: Vec<ScheduleEntry>,
}

/// The window chosen for one server.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduleEntry {
    /// Server id.
    pub server: String,
    /// The server's group (value of the `group_by` label), if any.
    pub group: Option<String>,
    /// Job start (Unix seconds, UTC).
    pub start: Ts,
    /// Job end, exclusive: `start + duration`.
    pub end: Ts,
    /// Mean predicted load over the forecast steps the job covers.
    pub predicted_mean: f64,
    /// The next-best start that would also satisfy every constraint given the other jobs.
    pub runner_up: Option<RunnerUp>,
    /// True if the server's best window (under its own hours and deadline) was not taken
    /// because the group limit was reached there.
    pub displaced: bool,
}

/// An alternative start for a server.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RunnerUp {
    /// Start of the alternative window.
    pub start: Ts,
    /// Its mean predicted load.
    pub predicted_mean: f64,
}

impl Schedule {
    /// CSV with a header row; times are RFC 3339 UTC, absent values are empty cells.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "server,group,start,end,predicted_mean,runner_up_start,runner_up_mean,displaced\n",
        );
        for e in &self.entries {
            let (ru_start, ru_mean) = match &e.runner_up {
                Some(r) => (format_ts(r.start), r.predicted_mean.to_string()),
                None => (String::new(), String::new()),
            };
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{}",
                csv_field(&e.server),
                csv_field(e.group.as_deref().unwrap_or("")),
                format_ts(e.start),
                format_ts(e.end),
                e.predicted_mean,
                ru_start,
                ru_mean,
                e.displaced
            );
        }
        out
    }

    /// The entry of `server`, if planned.
    pub fn entry(&self, server: &str) -> Option<&ScheduleEntry> {
        self.entries
            .binary_search_by(|e| e.server.as_str().cmp(server))
            .ok()
            .map(|i| &self.entries[i])
    }
}

/// Quotes a CSV field when it holds a comma, quote or line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_leaves_missing_cells_empty() {
        let s = Schedule {
            origin: 0,
            duration: 3600,
            entries: vec![ScheduleEntry {
                server: "a,\"b\"".into(),
                group: None,
                start: 3600,
                end: 7200,
                predicted_mean: 1.5,
                runner_up: None,
                displaced: false,
            }],
        };
        let csv = s.to_csv();
        let row = csv.lines().nth(1).unwrap();
        assert_eq!(
            row,
            "\"a,\"\"b\"\"\",,1970-01-01T01:00:00Z,1970-01-01T02:00:00Z,1.5,,,false"
        );
        assert!(s.entry("a,\"b\"").is_some());
        assert!(s.entry("zz").is_none());
    }
}
