//! The [`Store`] trait: everything skua persists, independent of the database behind it.

use skua_core::{RegularSeries, SeriesMeta};

use crate::Result;
use crate::types::{
    ConsistencyReport, ForecastWrite, LiveScore, ModelVersionRecord, PutOutcome,
    RegistryEventRecord, RegistryUpdate, RunId, RunRecord, RunStatus, ScheduleRow, SeriesSummary,
    SeriesWrite, StoredForecast, ValidationReport, VersionId, VersionedForecast,
};

/// Persistence for series, validation reports, forecasts, schedules and runs.
///
/// Object-safe: the CLI and the server hold a `Box<dyn Store>`. Every method that writes
/// several rows does so in one transaction: on error nothing of the call is visible.
pub trait Store: Send {
    // ---- series ----

    /// Upserts series metadata and their present samples, all items in ONE transaction, and
    /// reports per item how many samples were inserted, updated or already identical.
    ///
    /// Missing (NaN) values never delete stored samples. A step that differs from the stored
    /// series' step, or a grid not aligned with the stored one, fails the whole batch with
    /// [`StoreError::Invalid`](crate::StoreError::Invalid).
    fn put_series_batch(&mut self, items: &[SeriesWrite]) -> Result<Vec<PutOutcome>>;

    /// Every stored series with its sample count and time range, ordered by id.
    fn series_summaries(&self) -> Result<Vec<SeriesSummary>>;

    /// Metadata of every stored series, ordered by id.
    fn list_series(&self) -> Result<Vec<SeriesMeta>> {
        Ok(self
            .series_summaries()?
            .into_iter()
            .map(|s| s.meta)
            .collect())
    }

    /// One series on its grid from the first to the last stored sample, NaN where missing.
    /// A series with no samples loads as an empty series starting at 0.
    fn load_series(&self, id: &str) -> Result<RegularSeries>;

    /// Every stored series with its metadata, ordered by id (one scan of the samples).
    fn load_all(&self) -> Result<Vec<(SeriesMeta, RegularSeries)>>;

    // ---- runs ----

    /// Records the start of a run (`ingest`, `forecast`, `plan`, `evaluate`…) and returns its id.
    fn start_run(&mut self, kind: &str, params: serde_json::Value) -> Result<RunId>;

    /// Marks a running run as finished with `status` and a summary (evaluation results go here).
    fn finish_run(
        &mut self,
        run: RunId,
        status: RunStatus,
        summary: serde_json::Value,
    ) -> Result<()>;

    /// Every run, oldest first.
    fn runs(&self) -> Result<Vec<RunRecord>>;

    /// One run, if it exists.
    fn run(&self, run: RunId) -> Result<Option<RunRecord>>;

    // ---- validation reports ----

    /// Appends validation reports to a run (one transaction).
    fn put_validation_reports(&mut self, run: RunId, reports: &[ValidationReport]) -> Result<()>;

    /// The validation reports of a run, in the order they were written.
    fn validation_reports(&self, run: RunId) -> Result<Vec<ValidationReport>>;

    // ---- forecasts ----

    /// Appends forecasts made during a run (one transaction). Each series must be stored.
    fn put_forecasts(&mut self, run: RunId, forecasts: &[ForecastWrite]) -> Result<()>;

    /// The forecast of `series_id` by `model` with the latest origin (latest written on ties).
    fn latest_forecast(&self, series_id: &str, model: &str) -> Result<Option<StoredForecast>>;

    /// Every forecast written by a run, in the order written.
    fn forecasts(&self, run: RunId) -> Result<Vec<StoredForecast>>;

    // ---- schedules ----

    /// Stores the schedule of a run, replacing any schedule the run had (one transaction).
    fn put_schedule(&mut self, run: RunId, entries: &[ScheduleRow]) -> Result<()>;

    /// The schedule of a run, in the order written (empty if it has none).
    fn schedule(&self, run: RunId) -> Result<Vec<ScheduleRow>>;

    // ---- model registry ----

    /// Applies registry updates (new versions, status changes, events, versioned forecasts)
    /// for several series in ONE transaction, and returns each update's new version id.
    /// At most one version per series may end up `deployed`, or the whole call fails.
    fn apply_registry_updates(
        &mut self,
        run: Option<RunId>,
        updates: &[RegistryUpdate],
    ) -> Result<Vec<Option<VersionId>>>;

    /// Every version of a series (every series if `None`), oldest first.
    fn model_versions(&self, series_id: Option<&str>) -> Result<Vec<ModelVersionRecord>>;

    /// Forecasts linked to a version and not yet live-scored, oldest first.
    fn unscored_forecasts(&self) -> Result<Vec<VersionedForecast>>;

    /// Appends live scores to the track record (one transaction; a forecast is scored once).
    fn put_live_scores(&mut self, scores: &[LiveScore]) -> Result<()>;

    /// The live track record of a series (every series if `None`), oldest day first.
    fn live_scores(&self, series_id: Option<&str>) -> Result<Vec<LiveScore>>;

    /// Registry events whose alerts have not been emitted yet, oldest first.
    fn pending_events(&self) -> Result<Vec<RegistryEventRecord>>;

    /// Every registry event, oldest first.
    fn registry_events(&self) -> Result<Vec<RegistryEventRecord>>;

    /// Marks events as alerted at `at`.
    fn mark_events_alerted(&mut self, ids: &[i64], at: skua_core::Ts) -> Result<()>;

    // ---- maintenance ----

    /// Checks the database's integrity, its foreign keys and that every series row agrees
    /// with its samples. Problems are reported, not returned as errors.
    fn check_consistency(&self) -> Result<ConsistencyReport>;
}
