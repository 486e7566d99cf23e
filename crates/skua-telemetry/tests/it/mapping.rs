//! The column mapping loaded from TOML, and input expansion.

use skua_core::Unit;
use skua_telemetry::ingest::{Format, IngestOptions, TimeFormat, expand_inputs, read_path};

use crate::write;

const MAPPING: &str = r#"
format = "long"
delimiter = "|"
time_format = "unix_millis"
unit = "other"

[columns]
series = "vm"
timestamp = "when"
value = "load"
labels = ["dc"]
"#;

#[test]
fn toml_mapping_drives_the_reader() {
    let opts: IngestOptions = toml::from_str(MAPPING).unwrap();
    assert_eq!(opts.format, Some(Format::Long));
    assert_eq!(opts.time_format, TimeFormat::UnixMillis);
    assert_eq!(opts.unit, Some(Unit::Other));
    assert_eq!(opts.columns.series.as_deref(), Some("vm"));
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "x.txt",
        "VM|When|Load|dc|y\nvm-7|1372636800000|-3|ams|9\nvm-7|1372636860000|4|ams|9\n",
    );
    let r = read_path(&p, &opts).unwrap();
    assert_eq!(
        r.report.time_reason,
        "unix milliseconds: set in the options"
    );
    assert_eq!(r.report.ignored_columns, vec!["y"]);
    let s = &r.series[0];
    assert_eq!(s.meta.id, "vm-7");
    assert_eq!(s.meta.unit, Unit::Other);
    assert_eq!(s.meta.labels["dc"], "ams");
    assert_eq!(s.samples[1].ts, 1_372_636_860);
    assert_eq!(s.samples[0].value, -3.0);
}

#[test]
fn unknown_keys_are_refused_and_unknown_columns_named() {
    let err =
        toml::from_str::<IngestOptions>("[columns]\nseries = \"vm\"\nvalu = \"x\"\n").unwrap_err();
    assert!(err.to_string().contains("valu"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "a.csv", "series,timestamp,value\na,0,1\n");
    let opts: IngestOptions = toml::from_str("[columns]\nvalue = \"cpu\"\n").unwrap();
    let msg = read_path(&p, &opts).unwrap_err().to_string();
    assert!(
        msg.contains("`cpu`") && msg.contains("not in the header"),
        "{msg}"
    );
}

#[test]
fn expand_inputs_walks_and_skips_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    for f in [
        "a.csv",
        "sub/b.csv.gz",
        "c.parquet",
        "LICENSE_MIT.txt",
        "w.json",
        "d.pdf",
        "r.md",
        "notes.xyz",
    ] {
        write(dir.path(), f, "x");
    }
    let (files, skipped) = expand_inputs(&[dir.path().to_path_buf()]).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string())
        .collect();
    assert_eq!(names, ["a.csv", "c.parquet", "sub/b.csv.gz"]);
    assert_eq!(skipped.len(), 5);
    assert!(skipped.iter().all(|s| !s.reason.is_empty()));
    assert!(expand_inputs(&[dir.path().join("missing")]).is_err());
}
