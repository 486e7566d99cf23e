//! Validation reports: per-series [`SeriesReport`] with its [`Issue`]s and [`Repairs`], a text
//! table for people, and a [`FleetSummary`]. Everything serializes to JSON; nothing prints.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use skua_core::time::{format_duration, format_ts};
use skua_core::{Ts, Unit};

use crate::validate::Policy;

/// How serious an issue is: any `Error` rejects a series under [`Policy::Reject`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing; never changes the outcome.
    Info,
    /// The data was usable as is (or after a harmless fix).
    Warning,
    /// The data is wrong: rejected, or repaired under [`Policy::Repair`].
    Error,
}

/// What kind of problem an [`Issue`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueCode {
    /// Rows that could not be read (bad timestamp, text value, truncated row).
    UnparsableRows,
    /// NaN, empty or infinite values.
    NonFinite,
    /// Rows with a timestamp earlier than the row before them.
    OutOfOrder,
    /// The same timestamp with different values.
    ConflictingDuplicates,
    /// The same timestamp and value repeated.
    IdenticalDuplicates,
    /// Values outside the unit's range (negative; above 100 for percent).
    OutOfRange,
    /// Less history than a 24 h-ahead forecast needs (or no interval at all).
    TooShort,
    /// The time span is too long for the step to hold in memory (a stray timestamp).
    SpanTooLong,
    /// Missing grid points.
    Gaps,
    /// Timestamps not on the grid, snapped to it.
    OffGrid,
    /// A run of identical values lasting at least `flat_min_secs`.
    FlatLine,
    /// Every value is the same.
    ConstantSeries,
    /// The most common sampling interval covers less than half of the differences.
    IrregularSampling,
}

impl IssueCode {
    /// The severity this kind of issue always has.
    pub fn severity(self) -> Severity {
        use IssueCode::*;
        match self {
            UnparsableRows
            | NonFinite
            | OutOfOrder
            | ConflictingDuplicates
            | OutOfRange
            | TooShort
            | SpanTooLong => Severity::Error,
            IdenticalDuplicates | Gaps | OffGrid | FlatLine | ConstantSeries => Severity::Warning,
            IrregularSampling => Severity::Info,
        }
    }

    /// The snake_case name used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        use IssueCode::*;
        match self {
            UnparsableRows => "unparsable_rows",
            NonFinite => "non_finite",
            OutOfOrder => "out_of_order",
            ConflictingDuplicates => "conflicting_duplicates",
            IdenticalDuplicates => "identical_duplicates",
            OutOfRange => "out_of_range",
            TooShort => "too_short",
            SpanTooLong => "span_too_long",
            Gaps => "gaps",
            OffGrid => "off_grid",
            FlatLine => "flat_line",
            ConstantSeries => "constant_series",
            IrregularSampling => "irregular_sampling",
        }
    }
}

/// One kind of problem found in a series, with how often and where.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Issue {
    /// What kind of problem.
    pub code: IssueCode,
    /// How serious ([`IssueCode::severity`]).
    pub severity: Severity,
    /// How many rows, values, runs or gaps are affected.
    pub count: u64,
    /// A sentence for people, naming the first location.
    pub message: String,
    /// Source line numbers of the first few examples (1-based).
    pub lines: Vec<u64>,
    /// The same examples as `file:line`.
    pub locations: Vec<String>,
}

/// Everything [`Policy::Repair`] (and the harmless fixes of either policy) changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Repairs {
    /// Unreadable rows dropped.
    pub dropped_bad_rows: u64,
    /// NaN/infinite values dropped.
    pub dropped_non_finite: u64,
    /// Out-of-order rows put in place by sorting.
    pub reordered_rows: u64,
    /// Exact duplicate rows dropped.
    pub dropped_identical_duplicates: u64,
    /// Rows dropped because a later row had the same timestamp (the last is kept).
    pub resolved_conflicts: u64,
    /// Timestamps moved to the nearest grid point.
    pub snapped: u64,
    /// Samples dropped because snapping put them on the same grid point as a later one.
    pub merged_on_snap: u64,
    /// Values clipped into the unit's range.
    pub clipped: u64,
    /// Missing grid points filled by linear interpolation.
    pub filled_points: u64,
    /// Gaps filled completely.
    pub filled_gaps: u64,
}

impl Repairs {
    /// Total number of changes.
    pub fn total(&self) -> u64 {
        self.dropped_bad_rows
            + self.dropped_non_finite
            + self.reordered_rows
            + self.dropped_identical_duplicates
            + self.resolved_conflicts
            + self.snapped
            + self.merged_on_snap
            + self.clipped
            + self.filled_points
    }

    fn add(&mut self, o: &Repairs) {
        self.dropped_bad_rows += o.dropped_bad_rows;
        self.dropped_non_finite += o.dropped_non_finite;
        self.reordered_rows += o.reordered_rows;
        self.dropped_identical_duplicates += o.dropped_identical_duplicates;
        self.resolved_conflicts += o.resolved_conflicts;
        self.snapped += o.snapped;
        self.merged_on_snap += o.merged_on_snap;
        self.clipped += o.clipped;
        self.filled_points += o.filled_points;
        self.filled_gaps += o.filled_gaps;
    }
}

/// One gap: grid points `[start, end)` missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GapSpan {
    /// First missing grid timestamp.
    pub start: Ts,
    /// The next present grid timestamp.
    pub end: Ts,
    /// Missing grid points.
    pub missing_points: u64,
    /// Length in seconds (`end - start`).
    pub secs: i64,
}

/// Gaps of a series on its grid (before any filling).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GapSummary {
    /// Number of gaps.
    pub count: u64,
    /// Missing grid points in all gaps.
    pub missing_points: u64,
    /// Length of the longest gap in seconds (0 if none).
    pub longest_secs: i64,
    /// The longest few gaps, longest first.
    pub longest: Vec<GapSpan>,
}

/// The outcome of validating one series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Usable as read (warnings at most).
    Accepted,
    /// Usable after repairs.
    Repaired,
    /// Not usable; never reaches the store.
    Rejected,
}

/// What validation found and did for one series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesReport {
    /// Series id.
    pub id: String,
    /// Server.
    pub server: String,
    /// Metric, if named.
    pub metric: Option<String>,
    /// Unit used for range checks.
    pub unit: Unit,
    /// Files the samples came from.
    pub sources: Vec<String>,
    /// Policy applied.
    pub policy: Policy,
    /// Outcome.
    pub status: Status,
    /// Rows read, including unreadable ones.
    pub rows: u64,
    /// Sampling interval in seconds, if one could be found.
    pub interval_secs: Option<i64>,
    /// How the interval was found.
    pub interval_reason: String,
    /// First grid timestamp.
    pub start: Option<Ts>,
    /// Last grid timestamp.
    pub end: Option<Ts>,
    /// Grid points from start to end.
    pub points: u64,
    /// Grid points with a value (before filling).
    pub present: u64,
    /// `present / points` in percent.
    pub coverage_pct: f64,
    /// Gaps before filling.
    pub gaps: GapSummary,
    /// Every problem found, errors first.
    pub issues: Vec<Issue>,
    /// Every change made.
    pub repairs: Repairs,
}

impl SeriesReport {
    /// The issue with this code, if found.
    pub fn issue(&self, code: IssueCode) -> Option<&Issue> {
        self.issues.iter().find(|i| i.code == code)
    }

    /// Number of error-severity issues.
    pub fn errors(&self) -> usize {
        self.issues
            .iter()
            .filter(|i| i.severity == Severity::Error)
            .count()
    }
}

/// An aligned text table, one row per series: id, interval, points, coverage, gaps, longest
/// gap, issues (code and count), status.
pub fn render_table(reports: &[SeriesReport]) -> String {
    let head = [
        "id",
        "interval",
        "points",
        "coverage %",
        "gaps",
        "longest gap",
        "issues",
        "status",
    ];
    let rows: Vec<[String; 8]> = reports
        .iter()
        .map(|r| {
            let issues: Vec<String> = r
                .issues
                .iter()
                .map(|i| format!("{}({})", i.code.as_str(), i.count))
                .collect();
            [
                r.id.clone(),
                r.interval_secs.map_or("-".into(), format_duration),
                r.points.to_string(),
                format!("{:.1}", r.coverage_pct),
                r.gaps.count.to_string(),
                if r.gaps.count == 0 {
                    "-".into()
                } else {
                    format_duration(r.gaps.longest_secs)
                },
                if issues.is_empty() {
                    "-".into()
                } else {
                    issues.join(" ")
                },
                status_name(r.status).into(),
            ]
        })
        .collect();
    let mut width = head.map(str::len);
    for row in &rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(width).enumerate() {
            // Numbers right-aligned, text left-aligned.
            let right = (1..=5).contains(&i);
            if i > 0 {
                l.push_str("  ");
            }
            if right {
                let _ = write!(l, "{c:>w$}");
            } else {
                let _ = write!(l, "{c:<w$}");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&head);
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        line(&cells);
    }
    out
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Accepted => "accepted",
        Status::Repaired => "repaired",
        Status::Rejected => "rejected",
    }
}

/// How often one issue code occurred across a fleet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IssueTally {
    /// Series with this issue.
    pub series: u64,
    /// Sum of the issue counts.
    pub count: u64,
}

/// Fleet-level summary of a validation run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FleetSummary {
    /// Series validated.
    pub series: u64,
    /// Accepted as read.
    pub accepted: u64,
    /// Accepted after repair.
    pub repaired: u64,
    /// Rejected.
    pub rejected: u64,
    /// Issues by code.
    pub issues: BTreeMap<IssueCode, IssueTally>,
    /// Repairs summed over the fleet.
    pub repairs: Repairs,
}

impl FleetSummary {
    /// Sums the reports.
    pub fn from_reports(reports: &[SeriesReport]) -> Self {
        let mut s = FleetSummary::default();
        for r in reports {
            s.series += 1;
            match r.status {
                Status::Accepted => s.accepted += 1,
                Status::Repaired => s.repaired += 1,
                Status::Rejected => s.rejected += 1,
            }
            for i in &r.issues {
                let t = s.issues.entry(i.code).or_default();
                t.series += 1;
                t.count += i.count;
            }
            s.repairs.add(&r.repairs);
        }
        s
    }

    /// A few lines of text.
    pub fn render(&self) -> String {
        let mut out = format!(
            "{} series: {} accepted, {} repaired, {} rejected\n",
            self.series, self.accepted, self.repaired, self.rejected
        );
        for (code, t) in &self.issues {
            let _ = writeln!(
                out,
                "  {:<22} {:>7} {:<8} in {} series",
                code.as_str(),
                t.count,
                format!("{:?}", code.severity()).to_lowercase(),
                t.series
            );
        }
        out
    }
}

/// `start → end` of a gap in RFC 3339, for messages.
pub(crate) fn span_text(g: &GapSpan) -> String {
    format!("{} → {}", format_ts(g.start), format_ts(g.end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(id: &str, status: Status) -> SeriesReport {
        SeriesReport {
            id: id.into(),
            server: id.into(),
            metric: None,
            unit: Unit::Percent,
            sources: vec![],
            policy: Policy::Reject,
            status,
            rows: 10,
            interval_secs: Some(3600),
            interval_reason: String::new(),
            start: Some(0),
            end: Some(9 * 3600),
            points: 10,
            present: 9,
            coverage_pct: 90.0,
            gaps: GapSummary {
                count: 1,
                missing_points: 1,
                longest_secs: 3600,
                longest: vec![],
            },
            issues: vec![Issue {
                code: IssueCode::Gaps,
                severity: Severity::Warning,
                count: 1,
                message: String::new(),
                lines: vec![],
                locations: vec![],
            }],
            repairs: Repairs::default(),
        }
    }

    #[test]
    fn table_is_aligned() {
        let t = render_table(&[
            report("a", Status::Accepted),
            report("a-much-longer-id", Status::Rejected),
        ]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        let col = |l: &str| l.find("1h").unwrap();
        assert_eq!(col(lines[1]), col(lines[2]), "\n{t}");
        assert!(lines[1].contains("gaps(1)") && lines[2].ends_with("rejected"));
    }

    #[test]
    fn severities_and_names() {
        assert_eq!(IssueCode::OutOfOrder.severity(), Severity::Error);
        assert_eq!(IssueCode::OffGrid.severity(), Severity::Warning);
        let json = serde_json::to_string(&IssueCode::ConflictingDuplicates).unwrap();
        assert_eq!(
            json,
            format!("\"{}\"", IssueCode::ConflictingDuplicates.as_str())
        );
        let sum = FleetSummary::from_reports(&[
            report("a", Status::Accepted),
            report("b", Status::Rejected),
        ]);
        assert_eq!(
            sum.issues[&IssueCode::Gaps],
            IssueTally {
                series: 2,
                count: 2
            }
        );
        assert!(
            sum.render()
                .starts_with("2 series: 1 accepted, 0 repaired, 1 rejected")
        );
    }
}
