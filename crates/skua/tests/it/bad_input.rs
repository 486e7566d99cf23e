//! Bad input: each case gives a clear message naming the file and line, a non-zero exit under
//! the reject policy, and nothing partial in the store.

use crate::common::{run, store_counts, text, write};

/// Ingests `content` as `name` under the reject policy and checks the failure contract.
fn rejected(name: &str, content: &[u8], expect: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), name, content);
    let db = dir.path().join("s.db");
    let out = run(&[
        "ingest",
        &path,
        "--store",
        db.to_str().unwrap(),
        "--policy",
        "reject",
    ]);
    let msg = text(&out);
    assert!(
        !out.status.success(),
        "{name}: expected a failure, got success:\n{msg}"
    );
    assert!(
        msg.contains(name),
        "{name}: the message does not name the file:\n{msg}"
    );
    for e in expect {
        assert!(msg.contains(e), "{name}: expected {e:?} in:\n{msg}");
    }
    if db.exists() {
        assert_eq!(
            store_counts(&db),
            (0, 0),
            "{name}: something was stored:\n{msg}"
        );
    }
    msg
}

fn long_history(extra: &str) -> String {
    // Three days hourly, so history length is never the reason for a rejection.
    let mut s = String::from("timestamp,value\n");
    for h in 0..72 {
        s.push_str(&format!(
            "2024-01-{:02} {:02}:00:00,{}\n",
            1 + h / 24,
            h % 24,
            10 + h % 5
        ));
    }
    s.push_str(extra);
    s
}

#[test]
fn truncated_last_line() {
    let mut s = long_history("");
    s.push_str("2024-01-04 00:00:00");
    rejected("truncated.csv", s.as_bytes(), &[":74"]);
}

#[test]
fn text_in_value_column() {
    let s = long_history("2024-01-04 00:00:00,high\n");
    rejected("text_value.csv", s.as_bytes(), &[":74", "high"]);
}

#[test]
fn duplicate_timestamps() {
    let s = long_history("2024-01-03 23:00:00,99\n");
    rejected(
        "dupes.csv",
        s.as_bytes(),
        &["duplicate", "share a timestamp", ":73"],
    );
}

#[test]
fn unsorted_rows() {
    let mut lines: Vec<String> = long_history("").lines().map(String::from).collect();
    lines.swap(10, 30);
    let s = lines.join("\n") + "\n";
    rejected("unsorted.csv", s.as_bytes(), &["order"]);
}

#[test]
fn empty_file() {
    rejected("empty.csv", b"", &["empty"]);
}

#[test]
fn wrong_separator() {
    let s = long_history("").replace(',', ";");
    // A `;` file read with a forced `,` separator has one column: say so.
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "semicolon.csv", s.as_bytes());
    let db = dir.path().join("s.db");
    let out = run(&[
        "ingest",
        &path,
        "--store",
        db.to_str().unwrap(),
        "--policy",
        "reject",
        "--delimiter",
        ",",
    ]);
    let msg = text(&out);
    assert!(!out.status.success(), "{msg}");
    assert!(msg.contains("semicolon.csv"), "{msg}");
    assert!(
        msg.contains("separator") || msg.contains("delimiter"),
        "{msg}"
    );
    if db.exists() {
        assert_eq!(store_counts(&db), (0, 0));
    }
}

#[test]
fn not_a_text_file() {
    let mut bytes = vec![0u8, 159, 146, 150, 0, 0, 1, 2];
    bytes.extend(std::iter::repeat_n(0u8, 4096));
    rejected("binary.csv", &bytes, &["not a text file"]);
}

#[test]
fn good_file_next_to_a_bad_one_is_stored_and_the_exit_still_fails() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.csv", long_history("").as_bytes());
    let bad = write(dir.path(), "bad.csv", b"");
    let db = dir.path().join("s.db");
    let out = run(&["ingest", &good, &bad, "--store", db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(store_counts(&db), (1, 72));
}

#[test]
fn repair_policy_repairs_and_counts() {
    let mut lines: Vec<String> = long_history("2024-01-03 23:00:00,99\n")
        .lines()
        .map(String::from)
        .collect();
    lines.swap(10, 30);
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "fixable.csv",
        (lines.join("\n") + "\n").as_bytes(),
    );
    let db = dir.path().join("s.db");
    let json = dir.path().join("v.json");
    let out = run(&[
        "ingest",
        &path,
        "--store",
        db.to_str().unwrap(),
        "--policy",
        "repair",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(store_counts(&db), (1, 72));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let repairs = &v["series"][0]["repairs"];
    assert!(repairs["reordered_rows"].as_u64().unwrap() > 0, "{repairs}");
    assert_eq!(repairs["resolved_conflicts"].as_u64(), Some(1), "{repairs}");
}
