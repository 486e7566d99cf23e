//! `kill -9` during `skua ingest` leaves the store consistent, with no partial series.

use std::time::{Duration, Instant};

use skua_store::{SqliteStore, Store};

use crate::common::{fleet_data, skua};

#[test]
fn sigkill_during_ingest_leaves_no_partial_series() {
    let data = fleet_data().join("bitbrains_rnd/bitbrains_rnd_hourly_cpu.csv.gz");
    let mut partial_runs = 0;
    // Kill once the first batch of series has committed (seen through a read-only
    // connection), after a varying extra delay, so the kill lands while later batches write.
    for (attempt, extra_ms) in [0u64, 30, 120].into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("crash.db");
        let mut child = skua()
            .args([
                "ingest",
                data.to_str().unwrap(),
                "--store",
                db.to_str().unwrap(),
                "--policy",
                "repair",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("skua starts");
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(120) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if committed_series(&db) > 0 {
                std::thread::sleep(Duration::from_millis(extra_ms));
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().ok(); // SIGKILL on Unix
        child.wait().unwrap();
        let store = SqliteStore::open(&db).expect("the store opens after a crash");
        let report = store.check_consistency().expect("consistency check runs");
        assert!(
            report.integrity.is_empty()
                && report.foreign_keys.is_empty()
                && report.series.is_empty(),
            "attempt {attempt}: inconsistent store: {report:?}"
        );
        let sums = store.series_summaries().unwrap();
        // Every stored series is whole: a Bitbrains VM has at least 1,426 hourly samples.
        for s in &sums {
            let loaded = store.load_series(&s.meta.id).unwrap();
            assert_eq!(loaded.present() as u64, s.n_samples, "{}", s.meta.id);
            assert!(
                s.n_samples >= 1_426,
                "series {} is partial: {} samples",
                s.meta.id,
                s.n_samples
            );
        }
        if !sums.is_empty() && sums.len() < 500 {
            partial_runs += 1;
        }
    }
    assert!(
        partial_runs > 0,
        "no kill landed in the middle of the ingest: the test proved nothing"
    );
}

/// Series rows committed so far, read without writing (0 while the store is not there yet).
fn committed_series(db: &std::path::Path) -> i64 {
    let flags =
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    rusqlite::Connection::open_with_flags(db, flags)
        .and_then(|c| c.query_row("SELECT count(*) FROM series", [], |r| r.get(0)))
        .unwrap_or(0)
}
