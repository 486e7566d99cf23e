//! Real data from `../shared/data/fleet`: fails loudly when the folder is missing.

use std::time::Instant;

use skua_core::Unit;
use skua_telemetry::ingest::{
    Format, IngestOptions, TimeFormat, expand_inputs, merge_series, read_path,
};
use skua_telemetry::report::{FleetSummary, IssueCode, render_table};
use skua_telemetry::validate::{Policy, ValidateConfig, validate};

use crate::{fleet_dir, read};

#[test]
fn bitbrains_hourly_maps_columns_and_shows_month_boundary_gaps() {
    let p = fleet_dir().join("bitbrains_rnd/bitbrains_rnd_hourly_cpu.csv.gz");
    let t = Instant::now();
    let r = read(&p);
    let read_time = t.elapsed();
    let rep = &r.report;
    assert!(rep.gzip);
    assert_eq!(rep.format, Format::Long);
    assert_eq!(rep.columns.series.as_deref(), Some("unique_id"));
    assert_eq!(rep.columns.timestamp, "ds");
    assert_eq!(rep.columns.values, ["y"]);
    assert_eq!(rep.ignored_columns, ["cpu_mhz", "n"]);
    assert_eq!(rep.time_format, TimeFormat::DateTime);
    assert_eq!(rep.rows_read, 1_015_860);
    assert_eq!(rep.bad_rows, 0);
    assert_eq!(rep.series_found, 500);
    assert!(r.series.iter().all(|s| s.meta.unit == Unit::Percent));

    let t = Instant::now();
    let cfg = ValidateConfig::default();
    let outcomes: Vec<_> = r.series.into_iter().map(|s| validate(s, &cfg)).collect();
    let validate_time = t.elapsed();
    eprintln!("bitbrains hourly: read {read_time:?}, validate {validate_time:?}");
    let reports: Vec<_> = outcomes.iter().map(|o| o.report.clone()).collect();
    let rnd1 = reports.iter().find(|r| r.id == "rnd_1").expect("rnd_1");
    assert_eq!(rnd1.interval_secs, Some(3600));
    let day = 86_400;
    // The longest gap is about a day (a 29 h outage in mid-July)…
    assert!(
        (day..=day * 3 / 2).contains(&rnd1.gaps.longest_secs),
        "longest gap {} s",
        rnd1.gaps.longest_secs
    );
    // …and exactly one day is missing at each month boundary inside the trace.
    let one_day: Vec<String> = rnd1
        .gaps
        .longest
        .iter()
        .filter(|g| g.secs == day)
        .map(|g| skua_core::time::format_ts(g.start))
        .collect();
    assert!(
        one_day.iter().any(|s| s.starts_with("2013-07-3"))
            && one_day.iter().any(|s| s.starts_with("2013-08-3")),
        "{:?}",
        rnd1.gaps.longest
    );
    assert!(
        rnd1.issue(IssueCode::Gaps)
            .unwrap()
            .message
            .contains("longest 1d")
    );
    let summary = FleetSummary::from_reports(&reports);
    assert_eq!(summary.series, 500);
    assert!(
        summary.issues[&IssueCode::Gaps].series >= 490,
        "{}",
        summary.render()
    );
    assert!(summary.accepted > 0, "{}", summary.render());
    let table = render_table(&reports);
    assert_eq!(table.lines().count(), 501);
}

#[test]
fn bitbrains_raw_months_merge_at_five_minutes() {
    let dir = fleet_dir().join("bitbrains_rnd/raw_sample");
    let (files, _) = expand_inputs(&[dir]).unwrap();
    assert_eq!(files.len(), 9);
    let jul = files.iter().find(|p| p.ends_with("2013-7/1.csv")).unwrap();
    let r = read(jul);
    assert_eq!(r.report.format, Format::BitbrainsRaw);
    assert_eq!(r.report.time_format, TimeFormat::UnixSeconds);
    assert!(
        r.report.time_reason.contains("says milliseconds"),
        "{}",
        r.report.time_reason
    );
    assert_eq!(r.series[0].samples[0].ts, 1_372_629_804);
    assert_eq!(
        crate::formats::cest_date(r.series[0].samples[0].ts),
        "2013-07-01"
    );

    let mut all = Vec::new();
    for f in &files {
        all.extend(read_path(f, &IngestOptions::default()).unwrap().series);
    }
    let merged = merge_series(all);
    assert_eq!(merged.len(), 3);
    let vm1 = merged.iter().find(|s| s.meta.id == "1").unwrap();
    assert_eq!(vm1.sources.len(), 3);
    let out = validate(
        vm1.clone(),
        &ValidateConfig {
            policy: Policy::Repair,
            ..Default::default()
        },
    );
    assert_eq!(out.report.interval_secs, Some(300));
    assert!(out.series.is_some(), "{:?}", out.report.issues);
    let span = out.report.end.unwrap() - out.report.start.unwrap();
    assert!(span > 80 * 86_400, "three months merged: {span} s");
}

#[test]
fn nab_files_ingest_at_five_minutes() {
    let (files, skipped) = expand_inputs(&[fleet_dir().join("nab")]).unwrap();
    assert!(
        skipped
            .iter()
            .any(|s| s.path.ends_with("combined_windows.json"))
    );
    assert!(
        skipped
            .iter()
            .any(|s| s.path.ends_with("LICENSE_NAB_MIT.txt"))
    );
    assert!(files.len() >= 17, "{files:?}");
    for f in &files {
        let r = read(f);
        assert_eq!(r.report.format, Format::Single, "{}", f.display());
        let s = &r.series[0];
        assert_eq!(s.meta.id, f.file_stem().unwrap().to_string_lossy());
        let out = validate(
            s.clone(),
            &ValidateConfig {
                policy: Policy::Repair,
                ..Default::default()
            },
        );
        assert_eq!(out.report.interval_secs, Some(300), "{}", f.display());
    }
    let cpu = fleet_dir().join("nab/ec2_cpu_utilization_5f5533.csv");
    let r = read(&cpu);
    assert_eq!(r.series[0].meta.unit, Unit::Percent);
    assert_eq!(r.report.time_format, TimeFormat::DateTime);
    let out = validate(
        r.series.into_iter().next().unwrap(),
        &ValidateConfig::default(),
    );
    assert!(
        out.report.issue(IssueCode::OffGrid).is_some(),
        "14:27 is off the 5-minute grid"
    );
    assert!(out.series.is_some(), "{:?}", out.report.issues);
}

#[test]
fn whole_fleet_folder_reads_without_file_errors() {
    let (files, skipped) = expand_inputs(&[fleet_dir()]).unwrap();
    assert!(
        skipped
            .iter()
            .any(|s| s.path.extension().is_some_and(|e| e == "pdf"))
    );
    for f in files
        .iter()
        .filter(|f| !f.ends_with("bitbrains_rnd_hourly_cpu.csv.gz"))
    {
        // ASD has no time column (only a step counter): it must fail with a clear message.
        match read_path(f, &IngestOptions::default()) {
            Ok(_) => {}
            Err(e) => assert!(
                f.to_string_lossy().contains("asd")
                    && e.to_string().contains("[columns] timestamp"),
                "{e}"
            ),
        }
    }
}
