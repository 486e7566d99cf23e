use std::sync::Arc;

use arrow_array::{
    ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use skua_core::Unit;
use skua_telemetry::ingest::{Format, IngestOptions, TimeFormat, merge_series, read_path};

use crate::{gzip, hourly_long, read, write};

#[test]
fn long_csv_with_metric_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "fleet.csv",
        "host,metric,ts,value,region,extra\n\
         db-1,cpu,2013-07-01T00:00:00Z,10,eu,x\n\
         db-1,net_in,2013-07-01T00:00:00Z,500,eu,x\n\
         db-1,cpu,2013-07-01T01:00:00+01:00,11,eu,x\n\
         db-2,cpu,2013-07-01T00:00:00Z,12,us,x\n",
    );
    let mut opts = IngestOptions::default();
    opts.columns.labels = vec!["region".into()];
    let r = read_path(&p, &opts).unwrap();
    assert_eq!(r.report.format, Format::Long);
    assert_eq!(r.report.time_format, TimeFormat::Rfc3339);
    assert_eq!(r.report.ignored_columns, vec!["extra"]);
    let ids: Vec<_> = r.series.iter().map(|s| s.meta.id.as_str()).collect();
    assert_eq!(ids, ["db-1/cpu", "db-1/net_in", "db-2/cpu"]);
    let cpu = &r.series[0];
    assert_eq!(cpu.meta.server, "db-1");
    assert_eq!(cpu.meta.metric.as_deref(), Some("cpu"));
    assert_eq!(cpu.meta.unit, Unit::Percent);
    assert_eq!(r.series[1].meta.unit, Unit::Count);
    assert_eq!(cpu.meta.labels["region"], "eu");
    // 01:00+01:00 is midnight UTC: same instant as the first row.
    assert_eq!(cpu.samples[0].ts, cpu.samples[1].ts);
    assert_eq!(
        cpu.samples.iter().map(|s| s.line).collect::<Vec<_>>(),
        [2, 4]
    );
    assert_eq!(r.report.series_found, 3);
    assert_eq!(r.report.rows_read, 4);
}

#[test]
fn wide_csv_one_series_per_numeric_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "wide.csv",
        "time,web-1,web-2,note\n2013-07-01 00:00:00,1.5,2,ok\n2013-07-01 00:05:00,1.6,,ok\n",
    );
    let r = read(&p);
    assert_eq!(r.report.format, Format::Wide);
    assert_eq!(r.report.ignored_columns, vec!["note"]);
    assert_eq!(r.series.len(), 2);
    assert_eq!(r.series[1].meta.id, "web-2");
    assert_eq!(r.series[0].samples[1].value, 1.6);
    assert!(r.series[1].samples[1].value.is_nan(), "empty is missing");
    assert_eq!(r.series[0].samples[1].ts - r.series[0].samples[0].ts, 300);
}

#[test]
fn single_series_file_takes_the_stem_as_id() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "ec2_cpu_utilization_x1.csv",
        "timestamp,value\n2014-02-14 14:27:00,51.8\n2014-02-14 14:32:00,44.5\n",
    );
    let r = read(&p);
    assert_eq!(r.report.format, Format::Single);
    assert_eq!(r.series[0].meta.id, "ec2_cpu_utilization_x1");
    assert_eq!(r.series[0].meta.unit, Unit::Percent);
    assert!(
        r.report.units[0].contains("file name"),
        "{:?}",
        r.report.units
    );
}

#[test]
fn bitbrains_raw_seconds_despite_ms_header_and_months_merge() {
    let dir = tempfile::tempdir().unwrap();
    let head = "Timestamp [ms];\tCPU cores;\tCPU usage [MHZ];\tCPU usage [%];\tMemory usage [KB]\n";
    std::fs::create_dir_all(dir.path().join("2013-7")).unwrap();
    std::fs::create_dir_all(dir.path().join("2013-8")).unwrap();
    let jul = write(
        &dir.path().join("2013-7"),
        "1.csv",
        format!(
            "{head}1372629804;\t2;\t87.7;\t1.5;\t1034592.8\n1372630104;\t2;\t29.2;\t0.5;\t458575.4\n"
        ),
    );
    let aug = write(
        &dir.path().join("2013-8"),
        "1.csv",
        format!("{head}1375315200;\t2;\t10.0;\t0.2;\t1000.0\n"),
    );
    let a = read(&jul);
    assert_eq!(a.report.format, Format::BitbrainsRaw);
    assert_eq!(a.report.time_format, TimeFormat::UnixSeconds);
    assert!(
        a.report.time_reason.contains("by magnitude"),
        "{}",
        a.report.time_reason
    );
    assert!(
        a.report.time_reason.contains("milliseconds"),
        "{}",
        a.report.time_reason
    );
    let s = &a.series[0];
    assert_eq!(
        (s.meta.id.as_str(), s.meta.metric.as_deref()),
        ("1", Some("cpu_usage_pct"))
    );
    assert_eq!(s.meta.unit, Unit::Percent);
    // Seconds, not milliseconds: 22:03:24 UTC on 30 June is 00:03:24 on 1 July in the
    // trace's local time (CEST), the month the file is filed under.
    assert_eq!(s.samples[0].ts, 1_372_629_804);
    assert_eq!(
        skua_core::time::format_ts(s.samples[0].ts),
        "2013-06-30T22:03:24Z"
    );
    assert_eq!(cest_date(s.samples[0].ts), "2013-07-01");
    assert_eq!(s.samples[0].value, 1.5);
    // Another column through the mapping.
    let mut opts = IngestOptions::default();
    opts.columns.value = Some("memory usage [kb]".into());
    let m = read_path(&jul, &opts).unwrap();
    assert_eq!(m.series[0].meta.metric.as_deref(), Some("memory_usage_kb"));
    assert_eq!(m.series[0].meta.unit, Unit::Count);
    assert_eq!(m.series[0].samples[1].value, 458575.4);
    // August given first still merges in time order.
    let b = read(&aug);
    let merged = merge_series(b.series.into_iter().chain(a.series).collect());
    assert_eq!(merged.len(), 1);
    assert_eq!(merged[0].samples.len(), 3);
    assert!(merged[0].samples.windows(2).all(|w| w[0].ts < w[1].ts));
    assert_eq!(merged[0].sources.len(), 2);
    assert!(merged[0].sources[merged[0].samples[2].source as usize].contains("2013-8"));
}

#[test]
fn gzip_detected_by_magic_not_extension() {
    let dir = tempfile::tempdir().unwrap();
    let body = hourly_long(&["a", "b"], 5);
    let p = write(dir.path(), "no_extension_hint.dat", gzip(body.as_bytes()));
    let r = read(&p);
    assert!(r.report.gzip);
    assert_eq!(r.series.len(), 2);
    assert_eq!(r.report.rows_read, 10);
    assert_eq!(r.report.time_format, TimeFormat::UnixSeconds);
}

fn write_parquet(path: &std::path::Path, ts: ArrayRef) {
    let ids = StringArray::from(vec!["vm1", "vm1", "vm2"]);
    let vals = Float64Array::from(vec![Some(1.0), None, Some(3.5)]);
    let batch = RecordBatch::try_from_iter(vec![
        ("unique_id", Arc::new(ids) as ArrayRef),
        ("ds", ts),
        ("y", Arc::new(vals) as ArrayRef),
    ])
    .unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[test]
fn parquet_with_each_timestamp_type_and_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let base = 1_372_636_800i64;
    let cases: Vec<(&str, ArrayRef, &str)> = vec![
        (
            "arrow_ms.parquet",
            Arc::new(TimestampMillisecondArray::from(vec![
                base * 1000,
                (base + 3600) * 1000,
                base * 1000,
            ])),
            "arrow timestamp in milliseconds",
        ),
        (
            "int_ms.parquet",
            Arc::new(Int64Array::from(vec![
                base * 1000,
                (base + 3600) * 1000,
                base * 1000,
            ])),
            "unix milliseconds",
        ),
        (
            "int_s.parquet",
            Arc::new(Int64Array::from(vec![base, base + 3600, base])),
            "unix seconds",
        ),
        (
            "text.parquet",
            Arc::new(StringArray::from(vec![
                "2013-07-01 00:00:00",
                "2013-07-01 01:00:00",
                "2013-07-01 00:00:00",
            ])),
            "YYYY-MM-DD",
        ),
    ];
    for (name, ts, reason) in cases {
        let p = dir.path().join(name);
        write_parquet(&p, ts);
        let r = read_path(&p, &IngestOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.report.format, Format::Parquet);
        assert!(
            r.report.time_reason.contains(reason),
            "{name}: {}",
            r.report.time_reason
        );
        assert_eq!(r.series.len(), 2, "{name}");
        let s = &r.series[0];
        assert_eq!(s.meta.id, "vm1");
        assert_eq!(
            s.samples.iter().map(|x| x.ts).collect::<Vec<_>>(),
            [base, base + 3600]
        );
        assert!(s.samples[1].value.is_nan(), "null value is missing");
        assert_eq!(s.samples[1].line, 2);
        assert_eq!(r.series[1].samples[0].value, 3.5);
    }
    let plain = std::fs::read(dir.path().join("int_s.parquet")).unwrap();
    let gz = write(dir.path(), "int_s.parquet.gz", gzip(&plain));
    let r = read(&gz);
    assert!(r.report.gzip);
    assert_eq!(r.series.len(), 2);
}

/// The calendar date of `ts` at UTC+02:00 (CEST, Bitbrains' local summer time).
pub fn cest_date(ts: i64) -> String {
    jiff::Timestamp::from_second(ts)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(2)))
        .strftime("%Y-%m-%d")
        .to_string()
}
