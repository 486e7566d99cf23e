//! Series and samples: round trips, idempotent re-ingest, updates and rejected batches.

use skua_store::{SqliteStore, Store, StoreError};

use crate::common::{count_rows, ramp, temp_store, write};

const NAN: f64 = f64::NAN;

/// Compares values treating NaN == NaN.
fn same(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x.is_nan() && y.is_nan()) || x == y)
}

#[test]
fn round_trip_keeps_gaps_metadata_and_summaries() {
    let (_dir, mut store) = temp_store();
    let a = write("a", 3600, 300, vec![1.5, NAN, NAN, 4.25, 5.0]);
    // Leading and trailing NaNs are not stored: the loaded grid spans first..=last sample.
    let b = write("b", 0, 60, vec![NAN, 2.0, NAN, 3.0, NAN]);
    let empty = write("c", 0, 60, vec![NAN, NAN]);
    let out = store
        .put_series_batch(&[a.clone(), b.clone(), empty.clone()])
        .unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(
        (out[0].inserted, out[0].updated, out[0].unchanged),
        (3, 0, 0)
    );
    assert_eq!(out[1].inserted, 2);
    assert_eq!(out[2].inserted, 0);

    let loaded = store.load_series("a").unwrap();
    assert_eq!(loaded.start(), 3600);
    assert_eq!(loaded.step(), 300);
    assert!(same(loaded.values(), a.series.values()), "{loaded:?}");

    let loaded = store.load_series("b").unwrap();
    assert_eq!(loaded.start(), 60);
    assert!(same(loaded.values(), &[2.0, NAN, 3.0]), "{loaded:?}");
    assert!(store.load_series("c").unwrap().is_empty());

    let metas = store.list_series().unwrap();
    assert_eq!(
        metas,
        vec![a.meta.clone(), b.meta.clone(), empty.meta.clone()]
    );
    let sums = store.series_summaries().unwrap();
    assert_eq!(sums[0].n_samples, 3);
    assert_eq!(
        (sums[0].first_ts, sums[0].last_ts),
        (Some(3600), Some(4800))
    );
    assert_eq!(sums[0].step, 300);
    assert_eq!((sums[2].n_samples, sums[2].first_ts), (0, None));

    let all = store.load_all().unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].0, a.meta);
    assert!(same(all[0].1.values(), a.series.values()));
    assert!(same(all[1].1.values(), &[2.0, NAN, 3.0]));
    assert!(matches!(
        store.load_series("nope"),
        Err(StoreError::NotFound(_))
    ));
    assert!(store.check_consistency().unwrap().is_ok());
}

#[test]
fn reingest_is_idempotent() {
    let (dir, mut store) = temp_store();
    let path = dir.path().join("skua.db");
    let batch = vec![
        write("a", 0, 60, ramp(1000, 0.0)),
        write("b", 0, 60, vec![1.0, NAN, 3.0]),
    ];
    let first = store.put_series_batch(&batch).unwrap();
    assert_eq!(first[0].inserted, 1000);
    assert_eq!(first[1].inserted, 2);
    let rows = count_rows(&path, "samples");
    assert_eq!(rows, 1002);

    let second = store.put_series_batch(&batch).unwrap();
    for o in &second {
        assert_eq!((o.inserted, o.updated), (0, 0), "{o:?}");
    }
    assert_eq!(second[0].unchanged, 1000);
    assert_eq!(second[1].unchanged, 2);
    assert_eq!(count_rows(&path, "samples"), rows);
    assert_eq!(count_rows(&path, "series"), 2);
}

#[test]
fn changed_values_count_as_updated_and_overlaps_extend() {
    let (_dir, mut store) = temp_store();
    store
        .put_series_batch(&[write("a", 0, 60, vec![1.0, 2.0, 3.0, 4.0])])
        .unwrap();
    // Overlaps the last two points (one changed, one not, one NaN that must not delete) and
    // extends by two.
    let out = store
        .put_series_batch(&[write("a", 120, 60, vec![NAN, 40.0, 5.0, 6.0])])
        .unwrap();
    assert_eq!(
        (out[0].inserted, out[0].updated, out[0].unchanged),
        (2, 1, 0)
    );
    let out = store
        .put_series_batch(&[write("a", 0, 60, vec![1.0, 2.0, 3.0, 40.0])])
        .unwrap();
    assert_eq!(
        (out[0].inserted, out[0].updated, out[0].unchanged),
        (0, 0, 4)
    );
    let loaded = store.load_series("a").unwrap();
    assert_eq!(loaded.values(), &[1.0, 2.0, 3.0, 40.0, 5.0, 6.0]);
    let s = &store.series_summaries().unwrap()[0];
    assert_eq!(
        (s.n_samples, s.first_ts, s.last_ts),
        (6, Some(0), Some(300))
    );

    // Earlier data moves first_ts back.
    store
        .put_series_batch(&[write("a", -120, 60, vec![7.0, NAN])])
        .unwrap();
    let loaded = store.load_series("a").unwrap();
    assert_eq!(loaded.start(), -120);
    assert_eq!(loaded.len(), 8);
    assert!(loaded.values()[1].is_nan());
    assert!(store.check_consistency().unwrap().is_ok());
}

#[test]
fn metadata_is_updated_on_reingest() {
    let (_dir, mut store) = temp_store();
    let mut w = write("a", 0, 60, vec![1.0]);
    store.put_series_batch(std::slice::from_ref(&w)).unwrap();
    w.meta.labels.insert("region".into(), "eu".into());
    w.meta.metric = None;
    store.put_series_batch(std::slice::from_ref(&w)).unwrap();
    assert_eq!(store.list_series().unwrap(), vec![w.meta]);
}

#[test]
fn step_mismatch_is_rejected_and_the_whole_batch_rolls_back() {
    let (dir, mut store) = temp_store();
    let path = dir.path().join("skua.db");
    store
        .put_series_batch(&[write("b", 0, 60, vec![1.0, 2.0])])
        .unwrap();
    // "new" comes first and is written inside the transaction before "b" fails.
    let batch = vec![
        write("new", 0, 60, ramp(500, 0.0)),
        write("b", 0, 300, vec![9.0, 9.0, 9.0]),
    ];
    let err = store.put_series_batch(&batch).unwrap_err();
    match &err {
        StoreError::Invalid(msg) => {
            assert!(msg.contains("series b"), "{msg}");
            assert!(msg.contains("300") && msg.contains("60"), "{msg}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    let ids: Vec<String> = store
        .list_series()
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids, vec!["b"]);
    assert_eq!(count_rows(&path, "samples"), 2);
    assert_eq!(store.load_series("b").unwrap().values(), &[1.0, 2.0]);
    assert!(store.check_consistency().unwrap().is_ok());
}

#[test]
fn duplicate_id_with_other_step_in_one_batch_writes_nothing() {
    let (dir, mut store) = temp_store();
    let batch = vec![
        write("a", 0, 60, ramp(100, 0.0)),
        write("z", 0, 60, ramp(100, 0.0)),
        write("a", 0, 120, ramp(10, 0.0)),
    ];
    assert!(matches!(
        store.put_series_batch(&batch),
        Err(StoreError::Invalid(_))
    ));
    assert!(store.list_series().unwrap().is_empty());
    assert_eq!(count_rows(&dir.path().join("skua.db"), "samples"), 0);
}

#[test]
fn misaligned_grid_is_rejected() {
    let (_dir, mut store) = temp_store();
    store
        .put_series_batch(&[write("a", 0, 60, vec![1.0, 2.0])])
        .unwrap();
    let err = store
        .put_series_batch(&[write("a", 30, 60, vec![3.0])])
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains("not aligned")),
        "{err:?}"
    );
    assert_eq!(store.load_series("a").unwrap().values(), &[1.0, 2.0]);
}

#[test]
fn data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("skua.db");
    {
        let mut store = SqliteStore::open(&path).unwrap();
        store
            .put_series_batch(&[write("a", 0, 60, vec![1.0, NAN, 3.0])])
            .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert!(same(
        store.load_series("a").unwrap().values(),
        &[1.0, NAN, 3.0]
    ));
}
