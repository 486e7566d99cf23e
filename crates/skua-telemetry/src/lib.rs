//! skua-telemetry: telemetry readers, validation and the demo fleet generator.
//!
//! * [`ingest`]: read CSV (long, wide, single-series), Bitbrains raw and Parquet files, plain
//!   or gzip, into [`RawSeries`](ingest::RawSeries) with every unreadable row located.
//! * [`validate`]: Seagull's "validate the data" stage: turn a raw series into a
//!   [`RegularSeries`](skua_core::RegularSeries) or reject it, with a [`SeriesReport`].
//! * [`report`]: the serializable reports, the text table and the fleet summary.

pub mod demo;
pub mod ingest;
pub mod report;
pub mod validate;

pub use ingest::{
    FileRead, FileReport, Format, IngestError, IngestOptions, RawSample, RawSeries, RowError,
    TimeFormat, expand_inputs, merge_series, read_path,
};
pub use report::{
    FleetSummary, Issue, IssueCode, Repairs, SeriesReport, Severity, Status, render_table,
};
pub use validate::{Policy, SeriesOutcome, ValidateConfig, validate};
