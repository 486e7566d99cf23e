//! The SQLite schema and its version check.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::{Result, StoreError};

/// Version of the schema this build reads and writes (kept in the `meta` table).
///
/// History: 1 = series, samples, runs, reports, forecasts, schedules; 2 = the model registry
/// (`model_versions`, `registry_events`, `live_scores`, `forecasts.vid`). Older files are
/// migrated forward on open, in one transaction.
pub const SCHEMA_VERSION: i64 = 2;

/// Samples are keyed by the series' integer `sid`, not its text id: the key is repeated in
/// every sample row, so an integer keeps the table and its B-tree small and comparisons cheap.
const DDL: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE series (
    sid       INTEGER PRIMARY KEY,
    id        TEXT NOT NULL UNIQUE,
    server    TEXT NOT NULL,
    metric    TEXT,
    unit      TEXT NOT NULL CHECK (unit IN ('percent', 'count', 'other')),
    labels    TEXT NOT NULL,
    step      INTEGER NOT NULL CHECK (step > 0),
    n_samples INTEGER NOT NULL DEFAULT 0,
    first_ts  INTEGER,
    last_ts   INTEGER
);
CREATE INDEX series_server ON series (server);

CREATE TABLE samples (
    sid   INTEGER NOT NULL REFERENCES series (sid),
    ts    INTEGER NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (sid, ts)
) WITHOUT ROWID;

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    params      TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'rejected')),
    summary     TEXT,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER
);

CREATE TABLE validation_reports (
    run_id  INTEGER NOT NULL REFERENCES runs (id),
    seq     INTEGER NOT NULL,
    scope   TEXT NOT NULL CHECK (scope IN ('file', 'series')),
    subject TEXT NOT NULL,
    report  TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

CREATE TABLE forecasts (
    fid             INTEGER PRIMARY KEY,
    run_id          INTEGER NOT NULL REFERENCES runs (id),
    series_id       TEXT NOT NULL REFERENCES series (id),
    model           TEXT NOT NULL,
    origin          INTEGER NOT NULL,
    start_ts        INTEGER NOT NULL,
    step            INTEGER NOT NULL CHECK (step > 0),
    point           BLOB NOT NULL,
    quantile_levels BLOB NOT NULL,
    quantile_values BLOB NOT NULL
);
CREATE INDEX forecasts_latest ON forecasts (series_id, model, origin);
CREATE INDEX forecasts_run ON forecasts (run_id);

CREATE TABLE schedules (
    run_id              INTEGER NOT NULL REFERENCES runs (id),
    seq                 INTEGER NOT NULL,
    server              TEXT NOT NULL,
    grp                 TEXT,
    start_ts            INTEGER NOT NULL,
    end_ts              INTEGER NOT NULL,
    predicted           REAL,
    runner_up_start     INTEGER,
    runner_up_predicted REAL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
";

/// Version 1 → 2: the model registry. Every statement only adds, so version-1 data is kept
/// as it is; forecasts written before have no version (`vid` NULL) and are never live-scored.
const MIGRATE_1_TO_2: &str = "
CREATE TABLE model_versions (
    vid         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      INTEGER REFERENCES runs (id),
    series_id   TEXT NOT NULL REFERENCES series (id),
    model       TEXT NOT NULL,
    train_first INTEGER NOT NULL,
    train_last  INTEGER NOT NULL,
    mae         REAL,
    mase        REAL,
    coverage_80 REAL,
    regret      REAL,
    created_at  INTEGER NOT NULL,
    status      TEXT NOT NULL
                CHECK (status IN ('candidate', 'deployed', 'retired', 'failed')),
    status_at   INTEGER NOT NULL,
    note        TEXT
);
CREATE INDEX model_versions_series ON model_versions (series_id, vid);
-- At most one deployed version per series, enforced by the database itself.
CREATE UNIQUE INDEX model_versions_one_deployed ON model_versions (series_id)
    WHERE status = 'deployed';

CREATE TABLE registry_events (
    eid        INTEGER PRIMARY KEY AUTOINCREMENT,
    series_id  TEXT NOT NULL REFERENCES series (id),
    kind       TEXT NOT NULL,
    vid        INTEGER REFERENCES model_versions (vid),
    at         INTEGER NOT NULL,
    detail     TEXT NOT NULL,
    alerted_at INTEGER
);
CREATE INDEX registry_events_pending ON registry_events (alerted_at, eid);

ALTER TABLE forecasts ADD COLUMN vid INTEGER REFERENCES model_versions (vid);

CREATE TABLE live_scores (
    fid       INTEGER PRIMARY KEY REFERENCES forecasts (fid),
    vid       INTEGER NOT NULL REFERENCES model_versions (vid),
    series_id TEXT NOT NULL REFERENCES series (id),
    day       INTEGER NOT NULL,
    mae       REAL,
    regret    REAL,
    observed  INTEGER NOT NULL,
    scored_at INTEGER NOT NULL
);
CREATE INDEX live_scores_series ON live_scores (series_id, day);
";

/// Migrations from version `i + 1` to `i + 2`; a new file runs the version-1 DDL and then all
/// of them, so a fresh store and a migrated one have the same schema by construction.
const MIGRATIONS: &[&str] = &[MIGRATE_1_TO_2];

/// Creates the schema in a new file or checks the version of an existing one.
pub(super) fn init(conn: &mut Connection, path: &Path) -> Result<()> {
    // IMMEDIATE: two processes opening a fresh file at once must not both create the schema.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let has_meta: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'meta')",
        [],
        |r| r.get(0),
    )?;
    if has_meta {
        let version: Option<String> = tx
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let found: i64 = version.and_then(|v| v.parse().ok()).unwrap_or(0);
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        if !(1..SCHEMA_VERSION).contains(&found) {
            return Err(StoreError::Schema {
                found,
                expected: SCHEMA_VERSION,
            });
        }
        migrate(&tx, found)?;
        tx.commit()?;
        return Ok(());
    }
    let other_tables: i64 = tx.query_row(
        "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        [],
        |r| r.get(0),
    )?;
    if other_tables > 0 {
        return Err(StoreError::Invalid(format!(
            "{} is an SQLite database but not a skua store (it has no meta table); \
             choose another path",
            path.display()
        )));
    }
    tx.execute_batch(DDL)?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', '1')",
        [],
    )?;
    migrate(&tx, 1)?;
    tx.commit()?;
    Ok(())
}

/// Runs the migrations from version `from` to [`SCHEMA_VERSION`] inside `tx`.
fn migrate(tx: &rusqlite::Transaction<'_>, from: i64) -> Result<()> {
    for step in &MIGRATIONS[(from - 1) as usize..] {
        tx.execute_batch(step)?;
    }
    tx.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
        [SCHEMA_VERSION.to_string()],
    )?;
    Ok(())
}
