//! Reject vs repair outcomes and repair counts on hand-made series.

use skua_core::{SeriesMeta, Unit};
use skua_telemetry::ingest::{RawSample, RawSeries, RowError};
use skua_telemetry::report::{FleetSummary, IssueCode, Severity, Status, render_table};
use skua_telemetry::validate::{Policy, ValidateConfig, validate};

const H: i64 = 3600;
const T0: i64 = 1_372_636_800;

fn raw(unit: Unit, points: &[(i64, f64)]) -> RawSeries {
    let mut meta = SeriesMeta::simple("s1");
    meta.unit = unit;
    let mut r = RawSeries::new(meta, "f.csv");
    r.samples = points
        .iter()
        .enumerate()
        .map(|(i, &(ts, value))| RawSample {
            ts,
            value,
            line: i as u64 + 2,
            source: 0,
        })
        .collect();
    r
}

/// Three days hourly with a daily shape.
fn clean() -> Vec<(i64, f64)> {
    (0..72)
        .map(|h| (T0 + h * H, 20.0 + (h % 24) as f64))
        .collect()
}

fn repair() -> ValidateConfig {
    ValidateConfig {
        policy: Policy::Repair,
        ..Default::default()
    }
}

#[test]
fn clean_series_is_accepted_unchanged() {
    let out = validate(raw(Unit::Percent, &clean()), &ValidateConfig::default());
    assert_eq!(
        out.report.status,
        Status::Accepted,
        "{:?}",
        out.report.issues
    );
    assert!(out.report.issues.is_empty());
    let s = out.series.unwrap();
    assert_eq!((s.start(), s.step(), s.len()), (T0, H, 72));
    assert_eq!(s.values()[5], 25.0);
    assert_eq!(out.report.interval_secs, Some(H));
    assert!(out.report.interval_reason.contains("71 of 71"));
}

#[test]
fn broken_series_rejected_then_repaired_with_every_change_counted() {
    let mut p = clean();
    p.swap(10, 11); // out of order
    p[20].1 = f64::NAN; // non-finite
    p[30].1 = 130.0; // out of range
    p[31].1 = -1.0; // out of range
    p.push((T0 + 40 * H, 60.0)); // conflicting duplicate of hour 40 (last wins)
    p.push((T0 + 41 * H, p[41].1)); // identical duplicate
    p.retain(|&(ts, _)| ts != T0 + 50 * H && ts != T0 + 51 * H); // a 2-step gap
    p.retain(|&(ts, _)| !(T0 + 55 * H..T0 + 60 * H).contains(&ts)); // a 5-step gap
    let mut r = raw(Unit::Percent, &p);
    r.push_bad_row(RowError {
        file: "f.csv".into(),
        line: 99,
        column: Some("value".into()),
        message: "text `x`".into(),
    });

    let rej = validate(r.clone(), &ValidateConfig::default());
    assert_eq!(rej.report.status, Status::Rejected);
    assert!(rej.series.is_none());
    let codes: Vec<IssueCode> = rej.report.issues.iter().map(|i| i.code).collect();
    for c in [
        IssueCode::UnparsableRows,
        IssueCode::OutOfOrder,
        IssueCode::NonFinite,
        IssueCode::OutOfRange,
        IssueCode::ConflictingDuplicates,
        IssueCode::IdenticalDuplicates,
        IssueCode::Gaps,
    ] {
        assert!(codes.contains(&c), "missing {c:?} in {codes:?}");
    }
    assert_eq!(
        rej.report.issue(IssueCode::Gaps).unwrap().severity,
        Severity::Warning
    );
    assert_eq!(rej.report.issue(IssueCode::OutOfRange).unwrap().count, 2);
    assert_eq!(
        rej.report.issues[0].severity,
        Severity::Error,
        "errors first"
    );

    let rep = validate(r, &repair());
    assert_eq!(rep.report.status, Status::Repaired);
    let c = rep.report.repairs;
    assert_eq!(c.dropped_bad_rows, 1);
    // The swap, and the duplicate of hour 40 appended after hour 71.
    assert_eq!(c.reordered_rows, 2);
    assert_eq!(c.dropped_non_finite, 1);
    assert_eq!(c.clipped, 2);
    assert_eq!(c.resolved_conflicts, 1);
    assert_eq!(c.dropped_identical_duplicates, 1);
    assert_eq!(c.filled_gaps, 2, "hour 20 (NaN dropped) and hours 50-51");
    assert_eq!(c.filled_points, 3);
    let s = rep.series.unwrap();
    assert_eq!(s.len(), 72);
    let v = s.values();
    assert_eq!((v[30], v[31]), (100.0, 0.0));
    assert_eq!(v[40], 60.0);
    assert!((v[20] - 40.0).abs() < 1e-9, "interpolated: {}", v[20]);
    assert!(
        v[55..60].iter().all(|x| x.is_nan()),
        "5-step gap is longer than max_fill_steps"
    );
    assert_eq!(rep.report.gaps.longest_secs, 5 * H);
    assert_eq!(rep.report.gaps.longest[0].start, T0 + 55 * H);

    let table = render_table(&[rej.report.clone(), rep.report.clone()]);
    insta::assert_snapshot!("broken_series_table", table);
    assert!(table.lines().next().unwrap().starts_with("id"));
    assert!(
        table.contains("rejected") && table.contains("repaired"),
        "{table}"
    );
    assert_eq!(table.lines().count(), 3);
    let sum = FleetSummary::from_reports(&[rej.report, rep.report]);
    assert_eq!((sum.series, sum.rejected, sum.repaired), (2, 1, 1));
    assert_eq!(sum.issues[&IssueCode::OutOfRange].series, 2);
    insta::assert_snapshot!("broken_series_summary", sum.render());
    let json = serde_json::to_value(&sum).unwrap();
    assert!(
        json["issues"]["out_of_range"]["count"].as_u64() == Some(4),
        "{json}"
    );
}

#[test]
fn off_grid_samples_snap_to_epoch_grid_with_a_warning() {
    // Five-minute samples 204 s past the grid, as in Bitbrains raw.
    let p: Vec<(i64, f64)> = (0..600)
        .map(|i| (T0 + 204 + i * 300, (i % 7) as f64))
        .collect();
    let out = validate(raw(Unit::Percent, &p), &ValidateConfig::default());
    assert_eq!(out.report.status, Status::Accepted);
    let i = out.report.issue(IssueCode::OffGrid).unwrap();
    assert_eq!((i.count, i.severity), (600, Severity::Warning));
    let s = out.series.unwrap();
    assert_eq!(
        s.start(),
        T0 + 300,
        "204 s rounds up to the next 300 s grid point"
    );
    assert_eq!(s.start() % 300, 0);
}

#[test]
fn flat_and_constant_series_warn_and_short_history_rejects_even_under_repair() {
    let mut p = clean();
    for x in p.iter_mut().skip(10).take(30) {
        x.1 = 5.0;
    }
    let out = validate(raw(Unit::Percent, &p), &ValidateConfig::default());
    let flat = out.report.issue(IssueCode::FlatLine).unwrap();
    assert_eq!((flat.count, flat.lines.as_slice()), (1, &[12][..]));
    assert_eq!(out.report.status, Status::Accepted);

    let constant: Vec<(i64, f64)> = clean().into_iter().map(|(t, _)| (t, 0.0)).collect();
    let out = validate(raw(Unit::Percent, &constant), &ValidateConfig::default());
    assert!(out.report.issue(IssueCode::ConstantSeries).is_some());
    assert!(out.report.issue(IssueCode::FlatLine).is_none());

    let short: Vec<(i64, f64)> = clean().into_iter().take(30).collect();
    let out = validate(raw(Unit::Percent, &short), &repair());
    assert_eq!(out.report.status, Status::Rejected);
    assert!(
        out.report
            .issue(IssueCode::TooShort)
            .unwrap()
            .message
            .contains("1d6h")
    );
    let single = validate(raw(Unit::Count, &[(T0, 1.0)]), &repair());
    assert_eq!(single.report.status, Status::Rejected);
    assert_eq!(single.report.interval_secs, None);
}

#[test]
fn interval_override_and_units() {
    let p: Vec<(i64, f64)> = (0..200).map(|i| (T0 + i * 1800, -(i as f64))).collect();
    let cfg = ValidateConfig {
        interval: Some(H),
        ..repair()
    };
    let out = validate(raw(Unit::Other, &p), &cfg);
    assert_eq!(out.report.interval_secs, Some(H));
    assert!(
        out.report.issue(IssueCode::OutOfRange).is_none(),
        "no range for Unit::Other"
    );
    let s = out.series.unwrap();
    assert_eq!(s.step(), H);
    assert_eq!(
        out.report.repairs.merged_on_snap, 99,
        "half-hour samples pair up on the hour grid"
    );
}
