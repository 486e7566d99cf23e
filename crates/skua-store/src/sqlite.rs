//! SQLite implementation of the store: one database file, WAL journal.
//!
//! Durability choice: `synchronous=NORMAL`. In WAL mode a commit is then written to the WAL
//! but not fsynced; a killed process (kill -9, panic, OOM) loses nothing that was committed,
//! and an OS crash or power cut can lose only the last few commits, never corrupt the file
//! or expose half a transaction. Everything skua stores is re-derivable (ingest is
//! idempotent, forecasts and plans can be rerun), so one fsync per commit (`FULL`) is not
//! worth its cost on the ingest path.

mod consistency;
mod records;
mod registry;
mod schema;
mod series;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;
use skua_core::{RegularSeries, SeriesMeta};

pub use schema::SCHEMA_VERSION;

use crate::types::{
    ConsistencyReport, ForecastWrite, LiveScore, ModelVersionRecord, PutOutcome,
    RegistryEventRecord, RegistryUpdate, RunId, RunRecord, RunStatus, ScheduleRow, SeriesSummary,
    SeriesWrite, StoredForecast, ValidationReport, VersionId, VersionedForecast,
};
use crate::{Result, Store, StoreError};

/// How long a writer waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The embedded SQLite store: everything in one database file.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens the store at `path`, creating the file and its schema if needed.
    ///
    /// Fails with [`StoreError::Schema`] if the file was written with another schema version,
    /// and with [`StoreError::Invalid`] if it is an SQLite database that is not a skua store.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let mut conn = Connection::open(&path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Invalid(format!(
                "{}: cannot switch the journal to WAL mode (got {mode})",
                path.display()
            )));
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.set_prepared_statement_cache_capacity(64);
        schema::init(&mut conn, &path)?;
        Ok(SqliteStore { conn, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Store for SqliteStore {
    fn put_series_batch(&mut self, items: &[SeriesWrite]) -> Result<Vec<PutOutcome>> {
        series::put_batch(&mut self.conn, items)
    }

    fn series_summaries(&self) -> Result<Vec<SeriesSummary>> {
        series::summaries(&self.conn)
    }

    fn load_series(&self, id: &str) -> Result<RegularSeries> {
        series::load(&self.conn, id)
    }

    fn load_all(&self) -> Result<Vec<(SeriesMeta, RegularSeries)>> {
        series::load_all(&self.conn)
    }

    fn start_run(&mut self, kind: &str, params: serde_json::Value) -> Result<RunId> {
        records::start_run(&self.conn, kind, &params)
    }

    fn finish_run(
        &mut self,
        run: RunId,
        status: RunStatus,
        summary: serde_json::Value,
    ) -> Result<()> {
        records::finish_run(&self.conn, run, status, &summary)
    }

    fn runs(&self) -> Result<Vec<RunRecord>> {
        records::runs(&self.conn)
    }

    fn run(&self, run: RunId) -> Result<Option<RunRecord>> {
        records::run(&self.conn, run)
    }

    fn put_validation_reports(&mut self, run: RunId, reports: &[ValidationReport]) -> Result<()> {
        records::put_validation_reports(&mut self.conn, run, reports)
    }

    fn validation_reports(&self, run: RunId) -> Result<Vec<ValidationReport>> {
        records::validation_reports(&self.conn, run)
    }

    fn put_forecasts(&mut self, run: RunId, forecasts: &[ForecastWrite]) -> Result<()> {
        records::put_forecasts(&mut self.conn, run, forecasts)
    }

    fn latest_forecast(&self, series_id: &str, model: &str) -> Result<Option<StoredForecast>> {
        records::latest_forecast(&self.conn, series_id, model)
    }

    fn forecasts(&self, run: RunId) -> Result<Vec<StoredForecast>> {
        records::forecasts(&self.conn, run)
    }

    fn put_schedule(&mut self, run: RunId, entries: &[ScheduleRow]) -> Result<()> {
        records::put_schedule(&mut self.conn, run, entries)
    }

    fn schedule(&self, run: RunId) -> Result<Vec<ScheduleRow>> {
        records::schedule(&self.conn, run)
    }

    fn apply_registry_updates(
        &mut self,
        run: Option<RunId>,
        updates: &[RegistryUpdate],
    ) -> Result<Vec<Option<VersionId>>> {
        registry::apply_updates(&mut self.conn, run, updates)
    }

    fn model_versions(&self, series_id: Option<&str>) -> Result<Vec<ModelVersionRecord>> {
        registry::versions(&self.conn, series_id)
    }

    fn unscored_forecasts(&self) -> Result<Vec<VersionedForecast>> {
        registry::unscored_forecasts(&self.conn)
    }

    fn put_live_scores(&mut self, scores: &[LiveScore]) -> Result<()> {
        registry::put_live_scores(&mut self.conn, scores)
    }

    fn live_scores(&self, series_id: Option<&str>) -> Result<Vec<LiveScore>> {
        registry::live_scores(&self.conn, series_id)
    }

    fn pending_events(&self) -> Result<Vec<RegistryEventRecord>> {
        registry::events(&self.conn, true)
    }

    fn registry_events(&self) -> Result<Vec<RegistryEventRecord>> {
        registry::events(&self.conn, false)
    }

    fn mark_events_alerted(&mut self, ids: &[i64], at: skua_core::Ts) -> Result<()> {
        registry::mark_alerted(&mut self.conn, ids, at)
    }

    fn check_consistency(&self) -> Result<ConsistencyReport> {
        consistency::check(&self.conn)
    }
}
