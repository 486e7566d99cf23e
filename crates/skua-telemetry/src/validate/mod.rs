//! Seagull's "validate the data" stage: a [`RawSeries`] becomes a [`RegularSeries`] on the grid
//! of its detected step, or is rejected. Every problem is collected (never only the first) as
//! an [`Issue`], and every change is counted in [`Repairs`].
//!
//! Under [`Policy::Reject`] any error-severity issue rejects the series; harmless fixes
//! (snapping to the grid, dropping exact duplicates) still happen and are counted. Under
//! [`Policy::Repair`] the data is sorted, de-duplicated (last wins), cleaned of bad rows and
//! NaN/inf, snapped, clipped into range and short gaps are interpolated; too little history
//! still rejects, because nothing can be forecast from it.

mod checks;

use serde::{Deserialize, Serialize};
use skua_core::time::{format_duration, format_ts};
use skua_core::{RegularSeries, SECONDS_PER_DAY, SeriesMeta, Ts, Unit};

use crate::ingest::{RawSample, RawSeries};
use crate::report::{
    GapSpan, GapSummary, Issue, IssueCode, Repairs, SeriesReport, Severity, Status, span_text,
};
use checks::{dedupe, detect_interval, find_gaps, flat_lines};

/// What to do with a series that has errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Any error rejects the series.
    #[default]
    Reject,
    /// Repair what can be repaired, counting every change.
    Repair,
}

/// Validation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ValidateConfig {
    /// Reject or repair.
    pub policy: Policy,
    /// Longest gap (in grid steps) filled by linear interpolation under repair.
    pub max_fill_steps: usize,
    /// Shortest run of identical values reported as a flat line.
    pub flat_min_secs: i64,
    /// Least history (grid span) accepted.
    pub min_history_secs: i64,
    /// Sampling interval to use instead of detecting it.
    pub interval: Option<i64>,
}

impl Default for ValidateConfig {
    fn default() -> Self {
        ValidateConfig {
            policy: Policy::Reject,
            max_fill_steps: 3,
            flat_min_secs: SECONDS_PER_DAY,
            min_history_secs: 2 * SECONDS_PER_DAY,
            interval: None,
        }
    }
}

/// A validated series: its report and, unless rejected, the regular series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesOutcome {
    /// Identity of the series.
    pub meta: SeriesMeta,
    /// What was found and done.
    pub report: SeriesReport,
    /// The series on its grid; `None` when rejected.
    pub series: Option<RegularSeries>,
}

/// Example locations kept per issue.
const EXAMPLES: usize = 10;
/// Gaps listed in a report.
const LONGEST_GAPS: usize = 5;
/// Grid points beyond which a series is refused (a stray timestamp years away).
const MAX_GRID_POINTS: i64 = 50_000_000;

struct Found<'a> {
    sources: &'a [String],
    issues: Vec<Issue>,
}

impl Found<'_> {
    fn loc(&self, line: u64, source: u32) -> String {
        let file = self
            .sources
            .get(source as usize)
            .map_or("?", String::as_str);
        format!("{file}:{line}")
    }

    /// Adds an issue; `at` holds (line, source) of the first examples; the message gets the
    /// first location appended.
    fn add(&mut self, code: IssueCode, count: u64, message: String, at: &[(u64, u32)]) {
        let at = &at[..at.len().min(EXAMPLES)];
        let locations: Vec<String> = at.iter().map(|&(l, s)| self.loc(l, s)).collect();
        let message = match locations.first() {
            Some(first) => format!("{message} (first at {first})"),
            None => message,
        };
        self.issues.push(Issue {
            code,
            severity: code.severity(),
            count,
            message,
            lines: at.iter().map(|&(l, _)| l).collect(),
            locations,
        });
    }
}

fn at(s: &RawSample) -> (u64, u32) {
    (s.line, s.source)
}

/// Validates one raw series under `cfg` (see the module docs for what each policy does).
pub fn validate(raw: RawSeries, cfg: &ValidateConfig) -> SeriesOutcome {
    let RawSeries {
        meta,
        sources,
        samples,
        bad_rows,
        bad_row_count,
    } = raw;
    let repair = cfg.policy == Policy::Repair;
    let mut f = Found {
        sources: &sources,
        issues: Vec::new(),
    };
    let mut rep = Repairs::default();
    let rows = samples.len() as u64 + bad_row_count;

    // Unreadable rows.
    if bad_row_count > 0 {
        let first = bad_rows
            .first()
            .map_or(String::new(), |e| format!(": {}", e.message));
        f.issues.push(Issue {
            code: IssueCode::UnparsableRows,
            severity: Severity::Error,
            count: bad_row_count,
            message: format!(
                "{bad_row_count} rows could not be read{first}{}",
                bad_rows.first().map_or(String::new(), |e| format!(
                    " (first at {}:{})",
                    e.file, e.line
                ))
            ),
            lines: bad_rows.iter().take(EXAMPLES).map(|e| e.line).collect(),
            locations: bad_rows
                .iter()
                .take(EXAMPLES)
                .map(|e| format!("{}:{}", e.file, e.line))
                .collect(),
        });
        if repair {
            rep.dropped_bad_rows = bad_row_count;
        }
    }

    // Order as read.
    let mut disorder = Vec::new();
    let mut n_disorder = 0u64;
    for w in samples.windows(2) {
        if w[1].ts < w[0].ts {
            n_disorder += 1;
            if disorder.len() < EXAMPLES {
                disorder.push(at(&w[1]));
            }
        }
    }
    if n_disorder > 0 {
        f.add(
            IssueCode::OutOfOrder,
            n_disorder,
            format!("{n_disorder} rows have a timestamp earlier than the row before them"),
            &disorder,
        );
        if repair {
            rep.reordered_rows = n_disorder;
        }
    }

    // NaN and infinities.
    let (mut pts, bad): (Vec<RawSample>, Vec<RawSample>) =
        samples.into_iter().partition(|s| s.value.is_finite());
    if !bad.is_empty() {
        let inf = bad.iter().filter(|s| s.value.is_infinite()).count();
        let ex: Vec<_> = bad.iter().map(at).take(EXAMPLES).collect();
        f.add(
            IssueCode::NonFinite,
            bad.len() as u64,
            format!(
                "{} values are missing or not finite ({} NaN/empty, {inf} infinite)",
                bad.len(),
                bad.len() - inf
            ),
            &ex,
        );
        if repair {
            rep.dropped_non_finite = bad.len() as u64;
        }
    }

    // Sort (stable: among equal timestamps the file order decides which is last) and dedupe.
    pts.sort_by_key(|s| s.ts);
    let (pts, dup_same, dup_conflict) = dedupe(pts);
    if !dup_same.is_empty() {
        f.add(
            IssueCode::IdenticalDuplicates,
            dup_same.len() as u64,
            format!(
                "{} rows repeat the timestamp and value of another row (dropped)",
                dup_same.len()
            ),
            &dup_same,
        );
        rep.dropped_identical_duplicates = dup_same.len() as u64;
    }
    if !dup_conflict.is_empty() {
        f.add(
            IssueCode::ConflictingDuplicates,
            dup_conflict.len() as u64,
            format!(
                "{} rows share a timestamp with another row but have a different value (the last row wins)",
                dup_conflict.len()
            ),
            &dup_conflict,
        );
        if repair {
            rep.resolved_conflicts = dup_conflict.len() as u64;
        }
    }

    // Sampling interval.
    let (step, interval_reason) = match cfg.interval {
        Some(s) if s > 0 => (Some(s), "set in the configuration".to_string()),
        _ => detect_interval(&pts, &mut f),
    };
    let mut report = SeriesReport {
        id: meta.id.clone(),
        server: meta.server.clone(),
        metric: meta.metric.clone(),
        unit: meta.unit,
        sources: sources.clone(),
        policy: cfg.policy,
        status: Status::Rejected,
        rows,
        interval_secs: step,
        interval_reason,
        start: None,
        end: None,
        points: 0,
        present: 0,
        coverage_pct: 0.0,
        gaps: GapSummary::default(),
        issues: Vec::new(),
        repairs: rep,
    };
    let Some(step) = step else {
        f.add(
            IssueCode::TooShort,
            pts.len() as u64,
            format!(
                "{} usable samples at distinct times: no sampling interval and no history to forecast from",
                pts.len()
            ),
            &[],
        );
        return finish(meta, report, f.issues, None);
    };

    // Snap to the grid aligned to multiples of the step from the epoch.
    let mut snapped = 0u64;
    let mut max_shift = 0i64;
    let mut first_off = Vec::new();
    let mut grid: Vec<(Ts, RawSample)> = Vec::with_capacity(pts.len());
    let mut merged = Vec::new();
    for p in pts {
        let g = (p.ts + step / 2).div_euclid(step) * step;
        if g != p.ts {
            snapped += 1;
            max_shift = max_shift.max((g - p.ts).abs());
            if first_off.len() < EXAMPLES {
                first_off.push(at(&p));
            }
        }
        match grid.last_mut() {
            Some(last) if last.0 == g => {
                merged.push(at(&last.1));
                *last = (g, p);
            }
            _ => grid.push((g, p)),
        }
    }
    if snapped > 0 {
        f.add(
            IssueCode::OffGrid,
            snapped,
            format!(
                "{snapped} timestamps were not on the {} grid aligned to the epoch and were snapped \
                 to the nearest grid point (largest shift {}); {} landed on an occupied grid point \
                 and were merged, the later sample kept",
                format_duration(step),
                format_duration(max_shift),
                merged.len()
            ),
            &first_off,
        );
        report.repairs.snapped = snapped;
        report.repairs.merged_on_snap = merged.len() as u64;
    }
    let (Some(&(start, _)), Some(&(last, _))) = (grid.first(), grid.last()) else {
        return finish(meta, report, f.issues, None);
    };
    let n = (last - start) / step + 1;
    report.start = Some(start);
    report.end = Some(last);
    if n > MAX_GRID_POINTS {
        f.add(
            IssueCode::SpanTooLong,
            n as u64,
            format!(
                "{} → {} at a {} step is {n} grid points; look for a stray timestamp",
                format_ts(start),
                format_ts(last),
                format_duration(step)
            ),
            &[at(&grid[0].1), at(&grid[grid.len() - 1].1)],
        );
        return finish(meta, report, f.issues, None);
    }
    let n = n as usize;

    // Range.
    let (lo, hi) = match meta.unit {
        Unit::Percent => (0.0, 100.0),
        Unit::Count => (0.0, f64::INFINITY),
        Unit::Other => (f64::NEG_INFINITY, f64::INFINITY),
    };
    let outside: Vec<&(Ts, RawSample)> = grid
        .iter()
        .filter(|(_, p)| p.value < lo || p.value > hi)
        .collect();
    if !outside.is_empty() {
        let min = outside
            .iter()
            .map(|(_, p)| p.value)
            .fold(f64::INFINITY, f64::min);
        let max = outside
            .iter()
            .map(|(_, p)| p.value)
            .fold(f64::NEG_INFINITY, f64::max);
        let range = if hi.is_finite() {
            format!("[{lo}, {hi}]")
        } else {
            format!("≥ {lo}")
        };
        let ex: Vec<_> = outside.iter().map(|(_, p)| at(p)).take(EXAMPLES).collect();
        f.add(
            IssueCode::OutOfRange,
            outside.len() as u64,
            format!(
                "{} values outside {range} for a {:?} series (min {min}, max {max})",
                outside.len(),
                meta.unit
            ),
            &ex,
        );
        if repair {
            report.repairs.clipped = outside.len() as u64;
        }
    }

    flat_lines(&grid, step, cfg.flat_min_secs, &mut f);

    // The grid, its gaps and coverage.
    let mut values = vec![f64::NAN; n];
    for (g, p) in &grid {
        let v = if repair {
            p.value.clamp(lo, hi)
        } else {
            p.value
        };
        values[((g - start) / step) as usize] = v;
    }
    let gaps = find_gaps(&values);
    report.points = n as u64;
    report.present = grid.len() as u64;
    report.coverage_pct = 100.0 * grid.len() as f64 / n as f64;
    let mut spans: Vec<GapSpan> = gaps
        .iter()
        .map(|&(i, len)| GapSpan {
            start: start + i as i64 * step,
            end: start + (i + len) as i64 * step,
            missing_points: len as u64,
            secs: len as i64 * step,
        })
        .collect();
    spans.sort_by_key(|g| (-g.secs, g.start));
    report.gaps = GapSummary {
        count: gaps.len() as u64,
        missing_points: gaps.iter().map(|g| g.1 as u64).sum(),
        longest_secs: spans.first().map_or(0, |g| g.secs),
        longest: spans.iter().take(LONGEST_GAPS).copied().collect(),
    };
    if let Some(longest) = spans.first() {
        f.add(
            IssueCode::Gaps,
            gaps.len() as u64,
            format!(
                "{} gaps, {} missing points, coverage {:.1}%; longest {} ({})",
                gaps.len(),
                report.gaps.missing_points,
                report.coverage_pct,
                format_duration(longest.secs),
                span_text(longest)
            ),
            &[],
        );
    }

    // History long enough for a day-ahead forecast.
    let span = n as i64 * step;
    if span < cfg.min_history_secs {
        f.add(
            IssueCode::TooShort,
            n as u64,
            format!(
                "history covers {} ({n} points); at least {} is needed for a 24 h-ahead forecast",
                format_duration(span),
                format_duration(cfg.min_history_secs)
            ),
            &[],
        );
    }

    let errors = f.issues.iter().any(|i| i.severity == Severity::Error);
    let fatal = f
        .issues
        .iter()
        .any(|i| matches!(i.code, IssueCode::TooShort | IssueCode::SpanTooLong));
    if fatal || (errors && !repair) {
        return finish(meta, report, f.issues, None);
    }
    if repair {
        for &(i, len) in &gaps {
            if len <= cfg.max_fill_steps && i > 0 && i + len < n {
                let (a, b) = (values[i - 1], values[i + len]);
                for k in 0..len {
                    let t = (k + 1) as f64 / (len + 1) as f64;
                    values[i + k] = a + (b - a) * t;
                }
                report.repairs.filled_points += len as u64;
                report.repairs.filled_gaps += 1;
            }
        }
    }
    let series = RegularSeries::new(start, step, values).ok();
    finish(meta, report, f.issues, series)
}

fn finish(
    meta: SeriesMeta,
    mut report: SeriesReport,
    mut issues: Vec<Issue>,
    series: Option<RegularSeries>,
) -> SeriesOutcome {
    issues.sort_by_key(|i| std::cmp::Reverse(i.severity));
    report.issues = issues;
    report.status = match (&series, report.policy) {
        (None, _) => Status::Rejected,
        (Some(_), Policy::Repair) if report.repairs.total() > 0 => Status::Repaired,
        (Some(_), _) => Status::Accepted,
    };
    SeriesOutcome {
        meta,
        report,
        series,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ts: Ts, value: f64, line: u64) -> RawSample {
        RawSample {
            ts,
            value,
            line,
            source: 0,
        }
    }

    #[test]
    fn negative_timestamps_snap_with_euclid() {
        let mut raw = RawSeries::new(SeriesMeta::simple("n"), "f");
        raw.samples = (0..10)
            .map(|i| s(-3000 + i * 600 + 7, 1.0 + i as f64, i as u64))
            .collect();
        let cfg = ValidateConfig {
            min_history_secs: 0,
            ..Default::default()
        };
        let out = validate(raw, &cfg);
        let series = out.series.expect("accepted");
        assert_eq!((series.start(), series.step()), (-3000, 600));
    }
}
