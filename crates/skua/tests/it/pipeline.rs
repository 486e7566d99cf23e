//! The main job and the stage commands on real data and on the demo fleet.

use std::path::Path;

use crate::common::{fleet_data, run, store_counts, text};

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .expect("valid JSON")
}

/// The acceptance check on an evaluation summary: the best forecast policy beats the fixed
/// and the random window on median regret, and every policy has median/p90/hit rate.
fn check_evaluation(eval: &serde_json::Value) {
    let policies = eval["policies"].as_array().expect("policies");
    assert!(policies.len() >= 6, "{eval}");
    for p in policies {
        for k in ["abs_regret_median", "abs_regret_p90", "hit_rate"] {
            assert!(
                p[k].as_f64().is_some_and(f64::is_finite),
                "{k} missing in {p}"
            );
        }
    }
    let med = |kind: &str| {
        policies
            .iter()
            .find(|p| p["kind"] == kind)
            .and_then(|p| p["abs_regret_median"].as_f64())
            .unwrap_or_else(|| panic!("no {kind} policy"))
    };
    let best = policies
        .iter()
        .filter(|p| p["kind"] == "model")
        .map(|p| p["abs_regret_median"].as_f64().unwrap())
        .fold(f64::INFINITY, f64::min);
    assert!(best < med("fixed"), "best {best} vs fixed {}", med("fixed"));
    assert!(
        best < med("random"),
        "best {best} vs random {}",
        med("random")
    );
}

#[test]
fn demo_run_on_a_fresh_machine() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = run(&["run", "--demo", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("<svg") && html.contains("Maintenance schedule"),
        "report lacks plots"
    );
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "report loads remote resources"
    );
    check_evaluation(&json(&out.join("evaluation.json")));
    // The group limit of the demo (3 per cluster) holds in the schedule.
    let sched = json(&out.join("schedule.json"));
    let entries = sched["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 48);
    // The peak concurrency of a group is reached at some job's start instant.
    for e in entries {
        let t = e["start"].as_i64().unwrap();
        let running = entries
            .iter()
            .filter(|o| o["group"] == e["group"])
            .filter(|o| o["start"].as_i64().unwrap() <= t && t < o["end"].as_i64().unwrap())
            .count();
        assert!(
            running <= 3,
            "group {} has {running} jobs at {t}",
            e["group"]
        );
    }
    // Same seed, same schedule.
    let out2 = dir.path().join("out2");
    assert!(
        run(&["run", "--demo", "--out", out2.to_str().unwrap()])
            .status
            .success()
    );
    assert_eq!(
        std::fs::read(out.join("schedule.csv")).unwrap(),
        std::fs::read(out2.join("schedule.csv")).unwrap()
    );
}

#[test]
fn bitbrains_run_shows_month_boundary_gaps_and_beats_fixed_and_random() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bb");
    let data = fleet_data().join("bitbrains_rnd");
    let o = run(&[
        "run",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    check_evaluation(&json(&out.join("evaluation.json")));
    let report = json(&out.join("report.json"));
    // The ~24 h month-boundary gaps (2013-07-31/08-01 and 2013-08-31/09-01) are in the report.
    let gaps = report["validation"]["longest_gaps"].as_array().unwrap();
    assert!(!gaps.is_empty());
    let series = report["validation"]["series"].as_array().unwrap();
    let rnd: Vec<_> = series
        .iter()
        .filter(|s| s["id"].as_str().unwrap().starts_with("rnd_"))
        .collect();
    assert_eq!(rnd.len(), 500);
    let day_gaps = rnd
        .iter()
        .filter(|s| (20 * 3600..=40 * 3600).contains(&s["longest_gap_secs"].as_i64().unwrap()))
        .count();
    assert!(
        day_gaps > 400,
        "only {day_gaps} of 500 VMs show a ~1 day longest gap"
    );
    let cov = &report["validation"]["coverage"];
    let (start, step) = (
        cov["start"].as_i64().unwrap(),
        cov["step"].as_i64().unwrap(),
    );
    let values: Vec<f64> = cov["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap_or(0.0))
        .collect();
    for boundary in [
        1_375_315_200i64, /* 2013-08-01 */
        1_377_993_600,    /* 2013-09-01 */
    ] {
        let k = ((boundary - start) / step) as usize;
        let lo = values[k.saturating_sub(30)..(k + 30).min(values.len())]
            .iter()
            .copied()
            .fold(1.0, f64::min);
        assert!(lo < 0.5, "no coverage dip near {boundary}: min {lo}");
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.len() < 5_000_000, "report is {} bytes", html.len());
}

#[test]
fn nab_run_completes_and_beats_fixed_and_random() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nab");
    let data = fleet_data().join("nab");
    let o = run(&[
        "run",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    check_evaluation(&json(&out.join("evaluation.json")));
    let report = json(&out.join("report.json"));
    let series = report["validation"]["series"].as_array().unwrap();
    assert_eq!(series.len(), 19);
    assert!(
        series.iter().all(|s| s["interval_secs"] == 300),
        "NAB is 5-minute data"
    );
}

#[test]
fn raw_bitbrains_ingests_with_seconds_timestamps_and_merges_months() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let raw = fleet_data().join("bitbrains_rnd/raw_sample");
    let o = run(&[
        "ingest",
        raw.to_str().unwrap(),
        "--store",
        db.to_str().unwrap(),
        "--policy",
        "repair",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let msg = text(&o);
    assert!(
        msg.contains("unix seconds"),
        "the detection is not reported:\n{msg}"
    );
    let store = skua_store::SqliteStore::open(&db).unwrap();
    use skua_store::Store;
    let sums = store.series_summaries().unwrap();
    assert_eq!(sums.len(), 3, "three VMs, each merged over three months");
    for s in &sums {
        // 2013-07-01 (first file) to late September (last file), at 5-minute steps.
        let first = s.first_ts.unwrap();
        assert!(
            (1_372_629_000..1_372_720_000).contains(&first),
            "{}: first {first}",
            s.meta.id
        );
        assert!(
            s.last_ts.unwrap() > 1_380_000_000,
            "{}: months not merged",
            s.meta.id
        );
        assert_eq!(s.step, 300);
    }
}

#[test]
fn reingesting_the_same_data_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let nab = fleet_data().join("nab");
    // NAB holds conflicting duplicate timestamps (e.g. ec2_network_in_5abac7.csv:2119), which
    // the reject policy refuses: repair them, the same way both times.
    let args = [
        "ingest",
        nab.to_str().unwrap(),
        "--store",
        db.to_str().unwrap(),
        "--policy",
        "repair",
    ];
    let a = run(&args);
    assert!(a.status.success(), "{}", text(&a));
    let before = store_counts(&db);
    let b = run(&args);
    assert!(b.status.success(), "{}", text(&b));
    assert_eq!(store_counts(&db), before);
    let msg = text(&b);
    // `--quiet` hides stage lines; the store line is a stage line, so check the run record.
    let store = skua_store::SqliteStore::open(&db).unwrap();
    use skua_store::Store;
    assert_eq!(store.runs().unwrap().len(), 2, "{msg}");
    assert!(before.1 > 70_000, "{before:?}");
}

#[test]
fn stage_commands_forecast_plan_evaluate() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let csv = dir.path().join("fleet.csv");
    assert!(
        run(&[
            "demo",
            "--out",
            csv.to_str().unwrap(),
            "--servers",
            "12",
            "--days",
            "21"
        ])
        .status
        .success()
    );
    let o = run(&[
        "ingest",
        csv.to_str().unwrap(),
        "--store",
        db.to_str().unwrap(),
        "--policy",
        "repair",
        "--label",
        "cluster",
        "--label",
        "region",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let f = run(&["forecast", "--store", db.to_str().unwrap(), "--backtest"]);
    assert!(f.status.success(), "{}", text(&f));
    assert!(text(&f).contains("MASE"), "{}", text(&f));
    let out = dir.path().join("sched");
    let p = run(&[
        "plan",
        "--store",
        db.to_str().unwrap(),
        "--group-by",
        "cluster",
        "--max-concurrent",
        "1",
        "--allowed-hours",
        "0-7",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(p.status.success(), "{}", text(&p));
    let csv_text = std::fs::read_to_string(out.with_extension("csv")).unwrap();
    assert_eq!(csv_text.lines().count(), 13, "{csv_text}");
    let sched = json(&out.with_extension("json"));
    for e in sched["entries"].as_array().unwrap() {
        let start = e["start"].as_i64().unwrap();
        let end = e["end"].as_i64().unwrap();
        assert!(
            (start % 86_400) / 3600 < 8 && ((end - 1) % 86_400) / 3600 < 8,
            "{e}"
        );
    }
    let e = run(&["evaluate", "--store", db.to_str().unwrap()]);
    assert!(e.status.success(), "{}", text(&e));
    assert!(text(&e).contains("fixed_00h"));
}

#[test]
fn infeasible_constraints_name_the_group_and_hour() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let csv = dir.path().join("fleet.csv");
    assert!(
        run(&[
            "demo",
            "--out",
            csv.to_str().unwrap(),
            "--servers",
            "12",
            "--days",
            "10"
        ])
        .status
        .success()
    );
    assert!(
        run(&[
            "ingest",
            csv.to_str().unwrap(),
            "--store",
            db.to_str().unwrap(),
            "--policy",
            "repair",
            "--label",
            "cluster",
        ])
        .status
        .success()
    );
    // 12 servers in 6 clusters, two per cluster; one 2 h job at a time in a 2 h slot fits one.
    let p = run(&[
        "plan",
        "--store",
        db.to_str().unwrap(),
        "--group-by",
        "cluster",
        "--max-concurrent",
        "1",
        "--allowed-hours",
        "3-4",
        "--duration",
        "2h",
        "--out",
        dir.path().join("x").to_str().unwrap(),
    ]);
    let msg = text(&p);
    assert_eq!(p.status.code(), Some(1), "{msg}");
    assert!(
        msg.contains("group") && msg.contains("-a") || msg.contains("-b"),
        "{msg}"
    );
    assert!(
        msg.contains("03:00") || msg.contains("3-4") || msg.contains("hour"),
        "{msg}"
    );
}
