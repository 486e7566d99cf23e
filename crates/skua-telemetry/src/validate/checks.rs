//! The individual checks of validation: duplicates, sampling interval, flat lines, gaps.

use std::collections::HashMap;

use skua_core::Ts;
use skua_core::time::{format_duration, format_ts};

use super::{EXAMPLES, Found, at};
use crate::ingest::RawSample;
use crate::report::IssueCode;

pub(super) type Dedup = (Vec<RawSample>, Vec<(u64, u32)>, Vec<(u64, u32)>);

/// Keeps the last row of each timestamp of sorted samples, returning the locations of the
/// dropped rows that repeated the value and of those that conflicted with it.
pub(super) fn dedupe(pts: Vec<RawSample>) -> Dedup {
    let mut out = Vec::with_capacity(pts.len());
    let (mut same, mut conflict) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < pts.len() {
        let mut j = i + 1;
        while j < pts.len() && pts[j].ts == pts[i].ts {
            j += 1;
        }
        let last = pts[j - 1];
        for p in &pts[i..j - 1] {
            if p.value == last.value {
                same.push(at(p));
            } else {
                conflict.push(at(p));
            }
        }
        out.push(last);
        i = j;
    }
    (out, same, conflict)
}

/// The most common positive difference between consecutive (sorted, distinct) timestamps;
/// ties go to the smaller step.
pub(super) fn detect_interval(pts: &[RawSample], f: &mut Found) -> (Option<i64>, String) {
    if pts.len() < 2 {
        return (None, "fewer than two distinct timestamps".into());
    }
    let mut counts: HashMap<i64, u64> = HashMap::new();
    for w in pts.windows(2) {
        *counts.entry(w[1].ts - w[0].ts).or_default() += 1;
    }
    let total = (pts.len() - 1) as u64;
    let (&step, &n) = counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .expect("at least one difference");
    let reason = format!(
        "detected: most common difference between timestamps, {} ({n} of {total} differences)",
        format_duration(step)
    );
    if n * 2 < total {
        f.add(
            IssueCode::IrregularSampling,
            total - n,
            format!(
                "only {n} of {total} differences between timestamps equal the detected step of {}",
                format_duration(step)
            ),
            &[],
        );
    }
    (Some(step), reason)
}

/// Reports runs of identical consecutive values lasting at least `min_secs`, or a constant
/// series.
pub(super) fn flat_lines(grid: &[(Ts, RawSample)], step: i64, min_secs: i64, f: &mut Found) {
    if grid.len() >= 2 && grid.iter().all(|(_, p)| p.value == grid[0].1.value) {
        f.add(
            IssueCode::ConstantSeries,
            grid.len() as u64,
            format!("all {} values equal {}", grid.len(), grid[0].1.value),
            &[at(&grid[0].1)],
        );
        return;
    }
    let (mut runs, mut longest, mut ex) = (0u64, (0i64, 0.0, 0), Vec::new());
    let mut i = 0;
    while i < grid.len() {
        let mut j = i + 1;
        while j < grid.len() && grid[j].1.value == grid[i].1.value {
            j += 1;
        }
        let secs = grid[j - 1].0 - grid[i].0 + step;
        if j - i >= 2 && secs >= min_secs {
            runs += 1;
            if ex.len() < EXAMPLES {
                ex.push(at(&grid[i].1));
            }
            if secs > longest.0 {
                longest = (secs, grid[i].1.value, grid[i].0);
            }
        }
        i = j;
    }
    if runs > 0 {
        f.add(
            IssueCode::FlatLine,
            runs,
            format!(
                "{runs} runs of identical values last {} or more; longest {} at value {} from {}",
                format_duration(min_secs),
                format_duration(longest.0),
                longest.1,
                format_ts(longest.2)
            ),
            &ex,
        );
    }
}

/// Runs of NaN as (first index, length); leading and trailing runs cannot exist because the
/// grid starts and ends on a sample.
pub(super) fn find_gaps(values: &[f64]) -> Vec<(usize, usize)> {
    let mut gaps = Vec::new();
    let mut i = 0;
    while i < values.len() {
        if values[i].is_nan() {
            let s = i;
            while i < values.len() && values[i].is_nan() {
                i += 1;
            }
            gaps.push((s, i - s));
        } else {
            i += 1;
        }
    }
    gaps
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
    fn dedupe_keeps_last_and_classifies() {
        let (out, same, conflict) = dedupe(vec![
            s(0, 1.0, 2),
            s(0, 1.0, 3),
            s(5, 1.0, 4),
            s(5, 2.0, 5),
            s(9, 0.0, 6),
        ]);
        assert_eq!(out.iter().map(|p| p.line).collect::<Vec<_>>(), [3, 5, 6]);
        assert_eq!(same, [(2, 0)]);
        assert_eq!(conflict, [(4, 0)]);
    }

    #[test]
    fn interval_is_the_most_common_difference() {
        let mut f = Found {
            sources: &[],
            issues: Vec::new(),
        };
        let pts: Vec<_> = [0, 300, 600, 1200, 1500, 1800]
            .iter()
            .map(|&t| s(t, 0.0, 1))
            .collect();
        let (step, why) = detect_interval(&pts, &mut f);
        assert_eq!(step, Some(300));
        assert!(why.contains("4 of 5"), "{why}");
        assert!(f.issues.is_empty());
        let irregular: Vec<_> = [0, 10, 30, 60, 100].iter().map(|&t| s(t, 0.0, 1)).collect();
        let (step, _) = detect_interval(&irregular, &mut f);
        assert_eq!(step, Some(10), "ties go to the smaller step");
        assert_eq!(f.issues[0].code, IssueCode::IrregularSampling);
        assert_eq!(detect_interval(&pts[..1], &mut f).0, None);
    }

    #[test]
    fn gaps_are_interior_nan_runs() {
        let n = f64::NAN;
        assert_eq!(find_gaps(&[1.0, n, n, 2.0, n, 3.0]), [(1, 2), (4, 1)]);
        assert!(find_gaps(&[1.0, 2.0]).is_empty());
    }
}
