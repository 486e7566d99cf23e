//! A quick throughput measurement (ignored by default). Run it with
//! `cargo test -p skua-store --release --test it -- --ignored --nocapture perf`.

use std::time::Instant;

use skua_store::{SqliteStore, Store};

use crate::common::{ramp, write};

#[test]
#[ignore = "measurement, run explicitly"]
fn put_one_million_samples() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path().join("perf.db")).unwrap();
    let items: Vec<_> = (0..200)
        .map(|s| {
            write(
                &format!("srv-{s:03}"),
                1_700_000_000,
                300,
                ramp(5_000, s as f64),
            )
        })
        .collect();

    let t = Instant::now();
    let out = store.put_series_batch(&items).unwrap();
    let first = t.elapsed();
    assert_eq!(out.iter().map(|o| o.inserted).sum::<u64>(), 1_000_000);

    let t = Instant::now();
    let out = store.put_series_batch(&items).unwrap();
    let again = t.elapsed();
    assert_eq!(out.iter().map(|o| o.unchanged).sum::<u64>(), 1_000_000);

    let t = Instant::now();
    let all = store.load_all().unwrap();
    let load = t.elapsed();
    assert_eq!(all.len(), 200);

    let t = Instant::now();
    assert!(store.check_consistency().unwrap().is_ok());
    let check = t.elapsed();
    println!(
        "1M samples (200 series x 5000): put {first:.2?}, identical re-put {again:.2?}, \
         load_all {load:.2?}, check_consistency {check:.2?}"
    );
}
