//! Step-index timestamps and several value columns per row (the ASD layout): a hand-made
//! fixture, the TOML mapping, and the real `asd_omi_5min.csv.gz`.

use skua_telemetry::ingest::{IngestOptions, TimeFormat, read_path};
use skua_telemetry::validate::{ValidateConfig, validate};

use crate::{fleet_dir, read_err, write};

/// Two servers, three 5-minute steps each, one bad value and one bad step.
const FIXTURE: &str = "\
unique_id,step,split,label,m0,m1,m5
omi-1,0,train,0,0.10,9,0.50
omi-1,1,train,0,0.20,9,0.60
omi-1,2,train,0,0.30,9,oops
omi-2,0,test,1,0.40,9,0.70
omi-2,1.5,test,0,0.50,9,0.80
omi-2,2,test,0,0.60,9,0.90
";

fn asd_options() -> IngestOptions {
    let mut o = IngestOptions {
        time_format: TimeFormat::Step,
        step_secs: Some(300),
        ..Default::default()
    };
    o.columns.series = Some("unique_id".into());
    o.columns.values = vec!["m0".into(), "m5".into()];
    o
}

#[test]
fn step_index_and_two_value_columns_make_one_series_per_server_and_metric() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "asd.csv", FIXTURE);
    let r = read_path(&p, &asd_options()).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = r.series.iter().map(|s| s.meta.id.as_str()).collect();
    assert_eq!(ids, ["omi-1/m0", "omi-1/m5", "omi-2/m0", "omi-2/m5"]);
    let metrics: Vec<_> = r.series.iter().map(|s| s.meta.metric.as_deref()).collect();
    assert_eq!(
        metrics,
        [Some("m0"), Some("m5"), Some("m0"), Some("m5")],
        "the metric is the value column"
    );
    assert_eq!(r.report.time_format, TimeFormat::Step);
    assert!(
        r.report.time_reason.contains("300 s per step"),
        "{}",
        r.report.time_reason
    );
    assert_eq!(r.report.columns.timestamp, "step");
    assert_eq!(r.report.columns.values, ["m0", "m5"]);
    assert_eq!(r.report.ignored_columns, ["split", "label", "m1"]);

    let ts = |i: usize| r.series[i].samples.iter().map(|s| s.ts).collect::<Vec<_>>();
    let vals = |i: usize| {
        r.series[i]
            .samples
            .iter()
            .map(|s| s.value)
            .collect::<Vec<_>>()
    };
    assert_eq!(ts(0), [0, 300, 600]);
    assert_eq!(vals(0), [0.10, 0.20, 0.30]);
    // The text value hits omi-1/m5 only, at its line.
    assert_eq!(vals(1), [0.50, 0.60]);
    assert_eq!(r.series[1].bad_row_count, 1);
    assert_eq!(r.series[1].bad_rows[0].line, 4);
    assert_eq!(r.series[1].bad_rows[0].column.as_deref(), Some("m5"));
    assert_eq!(r.series[0].bad_row_count, 0);
    // A decimal step is unreadable for both series of omi-2.
    assert_eq!(ts(2), [0, 600]);
    assert_eq!(ts(3), [0, 600]);
    for s in &r.series[2..] {
        assert_eq!(s.bad_row_count, 1);
        assert!(
            s.bad_rows[0].message.contains("`1.5`"),
            "{}",
            s.bad_rows[0].message
        );
    }
    assert_eq!(r.report.bad_rows, 2);
}

#[test]
fn a_mapping_toml_reads_the_same_and_step_secs_alone_implies_steps() {
    let mapping = r#"
        time_format = "step"
        step_secs = 300
        [columns]
        series = "unique_id"
        values = ["m0", "m5"]
    "#;
    let o: IngestOptions = toml::from_str(mapping).unwrap();
    assert_eq!(o, asd_options());
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "asd.csv", FIXTURE);
    let mut implied = asd_options();
    implied.time_format = TimeFormat::Auto;
    let a = read_path(&p, &o).unwrap();
    let b = read_path(&p, &implied).unwrap();
    assert_eq!(a.series, b.series);
    assert_eq!(b.report.time_format, TimeFormat::Step);
}

#[test]
fn without_the_step_format_the_file_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "asd.csv", FIXTURE);
    let e = read_err(&p, &IngestOptions::default());
    assert!(
        e.contains("no timestamp column") && e.contains("--time-format step --step-secs"),
        "{e}"
    );
    let mut o = asd_options();
    o.step_secs = None;
    let e = read_err(&p, &o);
    assert!(e.contains("needs step_secs"), "{e}");
    let mut o = asd_options();
    o.format = Some(skua_telemetry::Format::Wide);
    let e = read_err(&p, &o);
    assert!(e.contains("long files only"), "{e}");
}

#[test]
fn real_asd_file_gives_twelve_servers_of_two_metrics_at_five_minutes() {
    let p = fleet_dir().join("asd/asd_omi_5min.csv.gz");
    let r = read_path(&p, &asd_options()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.report.bad_rows, 0);
    assert_eq!(r.series.len(), 24);
    let servers: std::collections::BTreeSet<&str> = r
        .series
        .iter()
        .map(|s| s.meta.id.split('/').next().unwrap())
        .collect();
    assert_eq!(servers.len(), 12);
    assert!(servers.contains("omi-1") && servers.contains("omi-12"));
    let cfg = ValidateConfig::default();
    for s in r.series {
        let id = s.meta.id.clone();
        let n = s.samples.len();
        assert!(id.ends_with("/m0") || id.ends_with("/m5"), "{id}");
        // 45 days of 5-minute steps (omi-12 is shorter), step 0 at the epoch.
        assert!(
            n == 12_960 || (id.starts_with("omi-12/") && n == 11_611),
            "{id}: {n}"
        );
        assert_eq!(s.samples[0].ts, 0, "{id}");
        let out = validate(s, &cfg);
        assert_eq!(out.report.interval_secs, Some(300), "{id}");
        let series = out.series.unwrap_or_else(|| panic!("{id} rejected"));
        assert_eq!(series.step(), 300, "{id}");
        assert_eq!(series.values().len(), n, "{id}: no gaps in ASD");
    }
}
