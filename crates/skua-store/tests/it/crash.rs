//! The acceptance test: a writer killed with SIGKILL in the middle of ingest leaves the
//! store consistent, with no partial series and no partial batch.
//!
//! The test re-executes this test binary as a child running only [`child_writer`], which
//! ingests batches in a loop and reports each commit on stdout; the parent kills it with
//! `Child::kill` (SIGKILL on Unix) while a batch is in flight, then inspects the store.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::json;
use skua_store::{SqliteStore, Store};

use crate::common::{ramp, write};

/// Set to the database path to make [`child_writer`] run.
const CHILD_ENV: &str = "SKUA_STORE_CRASH_CHILD";
const CHILD_TEST: &str = "crash::child_writer";
const COMMITTED: &str = "SKUA_COMMITTED ";
const BATCHES: usize = 50;
const SERIES_PER_BATCH: usize = 20;
const SAMPLES_PER_SERIES: usize = 5_000;

fn series_id(batch: usize, s: usize) -> String {
    format!("b{batch:02}-s{s:02}")
}

/// The writer run in the child process; does nothing when the environment variable is unset.
#[test]
fn child_writer() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let mut store = SqliteStore::open(path).expect("child: open store");
    store
        .start_run("ingest", json!({"crash_test": true}))
        .expect("child: start run");
    for b in 0..BATCHES {
        let items: Vec<_> = (0..SERIES_PER_BATCH)
            .map(|s| {
                // One NaN gap per series: the grid is one longer than the sample count.
                let mut values = ramp(SAMPLES_PER_SERIES + 1, (b * 1000 + s) as f64);
                values[SAMPLES_PER_SERIES / 2] = f64::NAN;
                write(&series_id(b, s), 1_700_000_000, 60, values)
            })
            .collect();
        store.put_series_batch(&items).expect("child: put batch");
        println!("{COMMITTED}{b}");
    }
}

#[test]
fn kill_9_during_ingest_leaves_no_partial_series() {
    for delay_ms in [0, 60, 300] {
        crash_once(Duration::from_millis(delay_ms));
    }
}

fn crash_once(delay: Duration) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", CHILD_TEST, "--nocapture"])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child writer");

    // Read the child's stdout on a thread so the parent can wait with a timeout.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // libtest may print the test name on the same line as our first marker.
            if let Some(at) = line.find(COMMITTED) {
                let batch = line[at + COMMITTED.len()..]
                    .trim()
                    .parse::<usize>()
                    .unwrap();
                if tx.send(batch).is_err() {
                    break;
                }
            }
        }
    });
    let Ok(first) = rx.recv_timeout(Duration::from_secs(180)) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("child writer reported no committed batch within 180 s");
    };
    std::thread::sleep(delay);
    assert!(
        child.try_wait().unwrap().is_none(),
        "child finished all {BATCHES} batches before the kill; the test killed nothing"
    );
    child.kill().expect("SIGKILL the child");
    let status = child.wait().unwrap();
    assert!(!status.success(), "child was killed: {status:?}");
    reader.join().unwrap();
    let reported: Vec<usize> = rx.try_iter().collect();
    let last_reported = reported.last().copied().unwrap_or(first);

    let store = SqliteStore::open(&path).expect("reopen after kill -9");
    let report = store.check_consistency().unwrap();
    assert!(report.is_ok(), "delay {delay:?}: {report:?}");
    assert_eq!(
        report.unfinished_runs.len(),
        1,
        "the killed run stays running"
    );

    let summaries = store.series_summaries().unwrap();
    assert_eq!(
        summaries.len() % SERIES_PER_BATCH,
        0,
        "a partial batch is visible"
    );
    let batches = summaries.len() / SERIES_PER_BATCH;
    assert!(batches >= 1, "no batch committed");
    // Every reported commit is durable; at most one more committed after the last report.
    assert!(
        batches > last_reported && batches <= last_reported + 2,
        "delay {delay:?}: {batches} batches stored, last reported commit {last_reported}"
    );
    eprintln!(
        "kill after {delay:?}: last reported commit {last_reported}, {batches} batches stored"
    );
    for b in 0..batches {
        for s in 0..SERIES_PER_BATCH {
            let id = series_id(b, s);
            let sum = summaries
                .iter()
                .find(|x| x.meta.id == id)
                .unwrap_or_else(|| panic!("series {id} missing from committed batch {b}"));
            assert_eq!(sum.n_samples, SAMPLES_PER_SERIES as u64, "series {id}");
        }
    }
    // Spot-check that samples themselves, not only the summaries, are complete.
    for id in [
        series_id(0, 0),
        series_id(batches - 1, SERIES_PER_BATCH - 1),
    ] {
        let loaded = store.load_series(&id).unwrap();
        assert_eq!(loaded.len(), SAMPLES_PER_SERIES + 1, "series {id}");
        assert_eq!(loaded.present(), SAMPLES_PER_SERIES, "series {id}");
    }
}
