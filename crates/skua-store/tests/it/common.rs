//! Helpers shared by the tests.

use skua_core::{RegularSeries, SeriesMeta, Unit};
use skua_store::{SeriesWrite, SqliteStore, Store};
use tempfile::TempDir;

/// A store in a fresh temporary directory (the directory lives as long as the guard).
pub fn temp_store() -> (TempDir, Box<dyn Store>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("skua.db")).expect("open store");
    (dir, Box::new(store))
}

/// A series write with labelled metadata.
pub fn write(id: &str, start: i64, step: i64, values: Vec<f64>) -> SeriesWrite {
    let mut meta = SeriesMeta::simple(id);
    meta.server = format!("srv-{id}");
    meta.metric = Some("cpu".into());
    meta.unit = Unit::Percent;
    meta.labels.insert("cluster".into(), "c1".into());
    SeriesWrite {
        meta,
        series: RegularSeries::new(start, step, values).expect("valid series"),
    }
}

/// Values `base + i` for `n` points.
pub fn ramp(n: usize, base: f64) -> Vec<f64> {
    (0..n).map(|i| base + i as f64).collect()
}

/// Number of rows in a table, read with a separate raw connection.
pub fn count_rows(path: &std::path::Path, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(path).expect("raw open");
    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .expect("count")
}
