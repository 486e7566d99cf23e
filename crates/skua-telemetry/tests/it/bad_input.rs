//! The seven bad inputs: each gives a message naming the file and the line.

use skua_telemetry::ingest::IngestOptions;
use skua_telemetry::report::IssueCode;
use skua_telemetry::validate::{ValidateConfig, validate};

use crate::{read, read_err, write};

#[test]
fn truncated_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "t.csv",
        "series,timestamp,value\na,1372636800,1\na,1372640400,2\na,13726",
    );
    let r = read(&p);
    assert_eq!(r.report.bad_rows, 1);
    let e = &r.series[0].bad_rows[0];
    assert_eq!(e.line, 4);
    let text = e.to_string();
    assert!(text.starts_with(&format!("{}:4:", p.display())), "{text}");
    assert!(text.contains("truncated row: 2 of 3 fields"), "{text}");
    let out = validate(r.series[0].clone(), &ValidateConfig::default());
    let issue = out.report.issue(IssueCode::UnparsableRows).expect("issue");
    assert_eq!(issue.lines, [4]);
    assert!(
        issue.message.contains(&format!("{}:4", p.display())),
        "{}",
        issue.message
    );
}

#[test]
fn text_in_value_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "v.csv",
        "unique_id,ds,y\na,2013-07-01 00:00:00,1\na,2013-07-01 01:00:00,oops\n",
    );
    let r = read(&p);
    let e = &r.series[0].bad_rows[0];
    assert_eq!((e.line, e.column.as_deref()), (3, Some("y")));
    let text = e.to_string();
    assert!(
        text.contains(&format!("{}:3", p.display())) && text.contains("`oops`"),
        "{text}"
    );
    assert_eq!(r.series[0].samples.len(), 1);
}

#[test]
fn unparsable_timestamp_row_and_undetectable_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "ts.csv",
        "series,timestamp,value\na,2013-07-01 00:00:00,1\na,2013-07-01 25:00:00,2\n",
    );
    let r = read(&p);
    let e = &r.series[0].bad_rows[0];
    assert_eq!((e.line, e.column.as_deref()), (3, Some("timestamp")));
    assert!(e.message.contains("`2013-07-01 25:00:00`"), "{}", e.message);
    let q = write(
        dir.path(),
        "ts2.csv",
        "series,timestamp,value\na,monday,1\n",
    );
    let msg = read_err(&q, &IngestOptions::default());
    assert!(
        msg.contains(&format!("{}:2", q.display()))
            && msg.contains("`monday`")
            && msg.contains("time_format"),
        "{msg}"
    );
}

#[test]
fn duplicate_timestamps_same_and_conflicting() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "d.csv",
        "series,timestamp,value\na,0,1\na,3600,2\na,3600,2\na,7200,3\na,7200,4\n",
    );
    let out = validate(read(&p).series.remove(0), &ValidateConfig::default());
    let same = out
        .report
        .issue(IssueCode::IdenticalDuplicates)
        .expect("identical");
    let conflict = out
        .report
        .issue(IssueCode::ConflictingDuplicates)
        .expect("conflicting");
    assert_eq!((same.count, same.lines.as_slice()), (1, &[3][..]));
    assert_eq!((conflict.count, conflict.lines.as_slice()), (1, &[5][..]));
    assert!(
        conflict.message.contains(&format!("{}:5", p.display())),
        "{}",
        conflict.message
    );
}

#[test]
fn unsorted_rows() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "u.csv",
        "series,timestamp,value\na,0,1\na,7200,3\na,3600,2\n",
    );
    let out = validate(read(&p).series.remove(0), &ValidateConfig::default());
    let i = out
        .report
        .issue(IssueCode::OutOfOrder)
        .expect("out of order");
    assert_eq!(i.lines, [4]);
    assert!(
        i.message.contains(&format!("{}:4", p.display())),
        "{}",
        i.message
    );
}

#[test]
fn empty_file_and_header_only() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "e.csv", "");
    let msg = read_err(&p, &IngestOptions::default());
    assert!(
        msg.contains(&p.display().to_string()) && msg.contains("empty file"),
        "{msg}"
    );
    let h = write(dir.path(), "h.csv", "series,timestamp,value\n");
    let msg = read_err(&h, &IngestOptions::default());
    assert!(
        msg.contains("line 1") && msg.contains("no data rows"),
        "{msg}"
    );
}

#[test]
fn wrong_separator_names_what_was_seen() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "s.csv", "series;timestamp;value\na;0;1\n");
    let opts = IngestOptions {
        delimiter: Some(",".into()),
        ..Default::default()
    };
    let msg = read_err(&p, &opts);
    assert!(msg.starts_with(&format!("{}:1:", p.display())), "{msg}");
    assert!(
        msg.contains("only one column") && msg.contains("`,`"),
        "{msg}"
    );
    assert!(msg.contains("delimiter = \";\""), "{msg}");
    // Auto-detection reads the same file fine.
    assert_eq!(read(&p).series.len(), 1);
    let sp = write(dir.path(), "space.csv", "timestamp value\n0 1\n");
    let msg = read_err(&sp, &IngestOptions::default());
    assert!(
        msg.contains("space") && msg.contains("delimiter = \" \""),
        "{msg}"
    );
}

#[test]
fn non_text_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "bin.csv",
        [0x7fu8, b'E', b'L', b'F', 0, 0, 1, 2],
    );
    let msg = read_err(&p, &IngestOptions::default());
    assert!(
        msg.contains(&p.display().to_string()) && msg.contains("not a text file"),
        "{msg}"
    );
    let q = write(
        dir.path(),
        "latin1.csv",
        b"series,timestamp,value\nd\xe9j\xe0,0,1\n",
    );
    let msg = read_err(&q, &IngestOptions::default());
    assert!(
        msg.contains("not a text file") && msg.contains("line 2"),
        "{msg}"
    );
    // Gzip of binary is still reported as not text.
    let g = write(dir.path(), "bin.gz", crate::gzip(&[0u8; 100]));
    assert!(read_err(&g, &IngestOptions::default()).contains("not a text file"));
}

#[test]
fn missing_column_and_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "m.csv", "series,when,value\na,0,1\n");
    let msg = read_err(&p, &IngestOptions::default());
    assert!(
        msg.contains("no timestamp column") && msg.contains("[columns] timestamp"),
        "{msg}"
    );
    assert!(msg.contains("series, when, value"), "{msg}");
    let msg = read_err(&dir.path().join("nope.csv"), &IngestOptions::default());
    assert!(msg.contains("no such file"), "{msg}");
}

#[test]
fn unrecognised_series_column_is_asked_for_not_guessed() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "h.csv", "hostname,timestamp,value\nweb-1,0,1\n");
    let msg = read_err(&p, &IngestOptions::default());
    assert!(
        msg.contains("no series column") && msg.contains("[columns] series"),
        "{msg}"
    );
    let opts: IngestOptions = toml::from_str("[columns]\nseries = \"hostname\"").unwrap();
    let r = skua_telemetry::ingest::read_path(&p, &opts).unwrap();
    assert_eq!(r.series[0].meta.id, "web-1");
}
