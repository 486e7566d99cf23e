//! `skua ingest → forecast → (more data) → forecast → (a level shift, a stale server, a
//! rejected series) → evaluate --live` with the real binary on a small demo fleet: the JSON
//! lines, the Alertmanager POST received by a local HTTP server, and the registry in the store.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use skua_store::{SqliteStore, Store, VersionStatus};

use crate::common::{run, text};

/// 2026-09-07T00:00:00Z: the demo fleet's first timestamp.
const T0: i64 = 1_788_739_200;
const DAY: i64 = 86_400;

fn ts(text: &str) -> i64 {
    text.parse::<jiff::Timestamp>().unwrap().as_second()
}

/// A one-shot HTTP server on 127.0.0.1 that answers 200 and hands over the request.
fn receiver() -> (String, mpsc::Receiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .unwrap();
        tx.send((
            request_line.trim().to_string(),
            String::from_utf8(body).unwrap(),
        ))
        .unwrap();
    });
    (url, rx)
}

/// Rows of the demo CSV before `until`, with `edit(server, ts, value)` → new value or drop.
fn slice(
    header: &str,
    rows: &[&str],
    until: i64,
    edit: &dyn Fn(&str, i64, f64) -> Option<f64>,
) -> String {
    let mut out = format!("{header}\n");
    for r in rows {
        let f: Vec<&str> = r.split(',').collect();
        let t = ts(f[1]);
        if t >= until {
            continue;
        }
        if let Some(v) = edit(f[0], t, f[2].parse().unwrap()) {
            out.push_str(&format!("{},{},{v:.3},{}\n", f[0], f[1], f[3..].join(",")));
        }
    }
    out
}

fn ok(args: &[&str]) {
    let o = run(args);
    assert!(o.status.success(), "skua {args:?}: {}", text(&o));
}

fn jsonl(p: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn ingest_forecast_ingest_evaluate_live_raises_the_expected_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = |p: &str| d.join(p).display().to_string();
    ok(&[
        "demo",
        "--servers",
        "4",
        "--days",
        "21",
        "--out",
        &s("demo_cpu.csv"),
    ]);
    let full = std::fs::read_to_string(d.join("demo_cpu.csv")).unwrap();
    let mut lines = full.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let mut servers: Vec<&str> = rows.iter().map(|r| r.split(',').next().unwrap()).collect();
    servers.dedup();
    let (shifted, stale) = (servers[0].to_string(), servers[1].to_string());
    let keep = |_: &str, _: i64, v: f64| Some(v);
    std::fs::write(
        d.join("a_cpu.csv"),
        slice(header, &rows, T0 + 19 * DAY, &keep),
    )
    .unwrap();
    std::fs::write(
        d.join("b_cpu.csv"),
        slice(header, &rows, T0 + 20 * DAY, &keep),
    )
    .unwrap();
    // Day 20: one server's load jumps by 40 points, another stops reporting.
    let day20 = |srv: &str, t: i64, v: f64| {
        if t < T0 + 20 * DAY {
            Some(v)
        } else if srv == shifted {
            Some((v + 40.0).min(100.0))
        } else if srv == stale {
            None
        } else {
            Some(v)
        }
    };
    std::fs::write(d.join("c_cpu.csv"), slice(header, &rows, i64::MAX, &day20)).unwrap();
    // A series with two hours of history: rejected (too short) by the next ingest.
    std::fs::write(
        d.join("tiny_cpu.csv"),
        format!(
            "{header}\ntiny,2026-09-27T00:00:00Z,5,c,r,web\ntiny,2026-09-27T01:00:00Z,6,c,r,web\n"
        ),
    )
    .unwrap();

    let db = s("skua.db");
    ok(&["ingest", &s("a_cpu.csv"), "--store", &db]);
    ok(&["forecast", "--store", &db]);
    ok(&["ingest", &s("b_cpu.csv"), "--store", &db]);
    ok(&["forecast", "--store", &db]);
    let o = run(&[
        "ingest",
        &s("c_cpu.csv"),
        &s("tiny_cpu.csv"),
        "--store",
        &db,
    ]);
    assert_eq!(o.status.code(), Some(3), "tiny is rejected: {}", text(&o));

    let (url, rx) = receiver();
    let alerts_path = d.join("alerts.jsonl");
    let o = run(&[
        "evaluate",
        "--live",
        "--store",
        &db,
        "--now",
        "2026-09-28T00:00:00Z",
        "--stale-after",
        "12h",
        "--alerts-jsonl",
        &alerts_path.display().to_string(),
        "--alertmanager-url",
        &url,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("live evaluation at 2026-09-28T00:00:00Z"),
        "{stdout}"
    );

    let lines = jsonl(&alerts_path);
    let (request_line, body) = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(request_line, "POST /api/v2/alerts HTTP/1.1");
    let posted: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(posted, lines, "Alertmanager got exactly the JSON lines");
    let has = |name: &str, series: &str| {
        lines
            .iter()
            .find(|a| a["labels"]["alertname"] == name && a["labels"]["series"] == series)
            .unwrap_or_else(|| panic!("no {name} for {series} in {lines:#?}"))
    };
    let degraded = has("SkuaAccuracyDegraded", &shifted);
    assert_eq!(degraded["labels"]["severity"], "warning");
    assert_eq!(degraded["labels"]["service"], "skua");
    let fb = has("SkuaModelFallback", &shifted);
    assert_eq!(fb["labels"]["reason"], "accuracy_degraded");
    let st = has("SkuaStaleData", &stale);
    assert_eq!(st["endsAt"], "2026-09-29T01:00:00Z");
    assert!(st["startsAt"].as_str().unwrap() < "2026-09-28T00:00:00Z");
    has("SkuaValidationFailed", "tiny");
    for a in &lines {
        for k in ["summary", "description"] {
            assert!(
                a["annotations"][k].as_str().is_some_and(|s| !s.is_empty()),
                "{a}"
            );
        }
        assert!(
            a["generatorURL"].as_str().unwrap().starts_with("file://"),
            "{a}"
        );
    }

    // The registry: the shifted server's second version failed, the first serves again.
    let store = SqliteStore::open(&db).unwrap();
    let versions = store.model_versions(Some(&shifted)).unwrap();
    let states: Vec<_> = versions.iter().map(|v| v.version.status).collect();
    assert_eq!(states, vec![VersionStatus::Deployed, VersionStatus::Failed]);
    assert_eq!(fb["labels"]["fallback_to"], versions[0].id.0.to_string());
    assert_eq!(degraded["labels"]["version"], versions[1].id.0.to_string());
    // Every server but the stale one had both forecasts scored; the stale one only day 19.
    let track = store.live_scores(None).unwrap();
    assert_eq!(track.len(), 2 * servers.len() - 1, "{track:?}");
    assert!(track.iter().all(|t| t.observed == 96), "{track:?}");
    drop(store);

    // Alertmanager down: exit 1 with a clear message, and the JSON lines still appended.
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = run(&[
        "evaluate",
        "--live",
        "--store",
        &db,
        "--now",
        "2026-09-28T01:00:00Z",
        "--stale-after",
        "12h",
        "--alerts-jsonl",
        &alerts_path.display().to_string(),
        "--alertmanager-url",
        &format!("http://127.0.0.1:{dead}"),
        "--alert-timeout",
        "2s",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cannot deliver") && err.contains("alerts.jsonl"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let again = jsonl(&alerts_path);
    assert!(
        again.len() > lines.len(),
        "stale and validation alerts fire again"
    );
}
