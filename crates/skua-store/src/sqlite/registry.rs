//! The model registry: versions, their events, versioned forecasts and the live track record.
//!
//! Scores are REAL columns where NaN is stored as NULL (SQLite turns NaN into NULL anyway);
//! NULL reads back as NaN.

use rusqlite::{Connection, Row, Transaction, TransactionBehavior, params};
use skua_core::Ts;

use super::records::{SELECT_FORECAST, read_forecast, to_blob};
use crate::types::{
    ForecastBy, ForecastId, ForecastWrite, LiveScore, ModelVersionRecord, ModelVersionWrite,
    RegistryEventRecord, RegistryUpdate, RunId, VersionId, VersionStatus, VersionedForecast,
};
use crate::{Result, StoreError};

fn nullable(v: f64) -> Option<f64> {
    (!v.is_nan()).then_some(v)
}

fn nan_if_null(v: Option<f64>) -> f64 {
    v.unwrap_or(f64::NAN)
}

fn require_series(tx: &Transaction<'_>, id: &str) -> Result<()> {
    let exists: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM series WHERE id = ?1)")?
        .query_row([id], |r| r.get(0))?;
    if exists {
        Ok(())
    } else {
        Err(StoreError::NotFound(format!("series {id}")))
    }
}

pub(super) fn apply_updates(
    conn: &mut Connection,
    run: Option<RunId>,
    updates: &[RegistryUpdate],
) -> Result<Vec<Option<VersionId>>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut out = Vec::with_capacity(updates.len());
    for u in updates {
        require_series(&tx, &u.series_id)?;
        // Status changes first: retiring the incumbent must precede deploying a new version,
        // or the one-deployed-per-series index would refuse the insert.
        for (vid, status) in &u.status_changes {
            let changed = tx
                .prepare_cached(
                    "UPDATE model_versions SET status = ?2, status_at = ?3
                     WHERE vid = ?1 AND series_id = ?4",
                )?
                .execute(params![vid.0, status.as_str(), update_time(u), u.series_id])?;
            if changed == 0 {
                return Err(StoreError::NotFound(format!(
                    "model version {vid} of series {}",
                    u.series_id
                )));
            }
        }
        let new_vid = match &u.new_version {
            Some(v) => {
                if v.series_id != u.series_id {
                    return Err(StoreError::Invalid(format!(
                        "a registry update of {} adds a version of {}",
                        u.series_id, v.series_id
                    )));
                }
                Some(insert_version(&tx, run, v)?)
            }
            None => None,
        };
        for e in &u.events {
            tx.prepare_cached(
                "INSERT INTO registry_events (series_id, kind, vid, at, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                u.series_id,
                e.kind,
                e.version.or(new_vid).map(|v| v.0),
                e.at,
                serde_json::to_string(&e.detail)?
            ])?;
        }
        if let Some((f, by)) = &u.forecast {
            let vid = match by {
                ForecastBy::NewVersion => new_vid.ok_or_else(|| {
                    StoreError::Invalid(format!(
                        "forecast of {} is linked to a new version but the update adds none",
                        u.series_id
                    ))
                })?,
                ForecastBy::Version(v) => *v,
            };
            let run = run.ok_or_else(|| {
                StoreError::Invalid(format!(
                    "forecast of {}: a versioned forecast needs a run",
                    u.series_id
                ))
            })?;
            insert_versioned_forecast(&tx, run, f, vid)?;
        }
        out.push(new_vid);
    }
    tx.commit()?;
    Ok(out)
}

/// The time a status change is recorded at: the update's events' time, else its new
/// version's creation time, else 0 (the store never reads the clock for registry data).
fn update_time(u: &RegistryUpdate) -> Ts {
    u.events
        .first()
        .map(|e| e.at)
        .or(u.new_version.as_ref().map(|v| v.created_at))
        .unwrap_or(0)
}

fn insert_version(
    tx: &Transaction<'_>,
    run: Option<RunId>,
    v: &ModelVersionWrite,
) -> Result<VersionId> {
    tx.prepare_cached(
        "INSERT INTO model_versions (run_id, series_id, model, train_first, train_last, mae,
                                     mase, coverage_80, regret, created_at, status, status_at,
                                     note)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?10, ?12)",
    )?
    .execute(params![
        run.map(|r| r.0),
        v.series_id,
        v.model,
        v.train_first,
        v.train_last,
        nullable(v.mae),
        nullable(v.mase),
        nullable(v.coverage_80),
        nullable(v.regret),
        v.created_at,
        v.status.as_str(),
        v.note
    ])
    .map_err(|e| match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Invalid(format!(
                "series {}: a version is already deployed (retire it in the same update)",
                v.series_id
            ))
        }
        other => StoreError::Db(other),
    })?;
    Ok(VersionId(tx.last_insert_rowid()))
}

fn insert_versioned_forecast(
    tx: &Transaction<'_>,
    run: RunId,
    w: &ForecastWrite,
    vid: VersionId,
) -> Result<()> {
    let f = &w.forecast;
    if f.step <= 0 || f.quantiles.iter().any(|b| b.values.len() != f.point.len()) {
        return Err(StoreError::Invalid(format!(
            "forecast of {} by {}: bad step or ragged quantiles",
            w.series_id, w.model
        )));
    }
    let levels: Vec<f64> = f.quantiles.iter().map(|b| b.q).collect();
    let values: Vec<f64> = f
        .quantiles
        .iter()
        .flat_map(|b| b.values.iter().copied())
        .collect();
    tx.prepare_cached(
        "INSERT INTO forecasts (run_id, series_id, model, origin, start_ts, step, point,
                                quantile_levels, quantile_values, vid)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        run.0,
        w.series_id,
        w.model,
        w.origin,
        f.start,
        f.step,
        to_blob(&f.point),
        to_blob(&levels),
        to_blob(&values),
        vid.0
    ])?;
    Ok(())
}

const SELECT_VERSION: &str = "SELECT vid, run_id, series_id, model, train_first, train_last, mae,
    mase, coverage_80, regret, created_at, status, status_at, note FROM model_versions";

fn read_version(r: &Row<'_>) -> rusqlite::Result<Result<ModelVersionRecord>> {
    let id = VersionId(r.get(0)?);
    let status: String = r.get(11)?;
    let version = ModelVersionWrite {
        series_id: r.get(2)?,
        model: r.get(3)?,
        train_first: r.get(4)?,
        train_last: r.get(5)?,
        mae: nan_if_null(r.get(6)?),
        mase: nan_if_null(r.get(7)?),
        coverage_80: nan_if_null(r.get(8)?),
        regret: nan_if_null(r.get(9)?),
        created_at: r.get(10)?,
        status: VersionStatus::Candidate,
        note: r.get(13)?,
    };
    let run: Option<i64> = r.get(1)?;
    let status_at: Ts = r.get(12)?;
    Ok(match VersionStatus::parse(&status) {
        Some(s) => Ok(ModelVersionRecord {
            id,
            run: run.map(RunId),
            version: ModelVersionWrite {
                status: s,
                ..version
            },
            status_at,
        }),
        None => Err(StoreError::Invalid(format!(
            "model version {id}: unknown status {status:?}"
        ))),
    })
}

pub(super) fn versions(
    conn: &Connection,
    series_id: Option<&str>,
) -> Result<Vec<ModelVersionRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT_VERSION} WHERE ?1 IS NULL OR series_id = ?1 ORDER BY vid"
    ))?;
    let rows = stmt.query_map([series_id], read_version)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row??);
    }
    Ok(out)
}

pub(super) fn unscored_forecasts(conn: &Connection) -> Result<Vec<VersionedForecast>> {
    // records' forecast columns come first (read_forecast reads them by position), then ids.
    let sql = format!(
        "{} WHERE vid IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM live_scores l WHERE l.fid = forecasts.fid)
         ORDER BY start_ts, fid",
        SELECT_FORECAST.replace(" FROM forecasts", ", fid, vid FROM forecasts")
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let stored = read_forecast(row)??;
        out.push(VersionedForecast {
            id: ForecastId(row.get(9)?),
            version: VersionId(row.get(10)?),
            stored,
        });
    }
    Ok(out)
}

pub(super) fn put_live_scores(conn: &mut Connection, scores: &[LiveScore]) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO live_scores (fid, vid, series_id, day, mae, regret, observed, scored_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for s in scores {
            stmt.execute(params![
                s.forecast.0,
                s.version.0,
                s.series_id,
                s.day,
                nullable(s.mae),
                nullable(s.regret),
                s.observed,
                s.scored_at
            ])
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _)
                    if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    StoreError::Invalid(format!(
                        "live score of forecast {} ({} {}): already scored, or the forecast, \
                         version or series does not exist",
                        s.forecast.0, s.series_id, s.version
                    ))
                }
                other => StoreError::Db(other),
            })?;
        }
    }
    tx.commit()?;
    Ok(())
}

pub(super) fn live_scores(conn: &Connection, series_id: Option<&str>) -> Result<Vec<LiveScore>> {
    let mut stmt = conn.prepare_cached(
        "SELECT fid, vid, series_id, day, mae, regret, observed, scored_at FROM live_scores
         WHERE ?1 IS NULL OR series_id = ?1 ORDER BY day, fid",
    )?;
    let rows = stmt.query_map([series_id], |r| {
        Ok(LiveScore {
            forecast: ForecastId(r.get(0)?),
            version: VersionId(r.get(1)?),
            series_id: r.get(2)?,
            day: r.get(3)?,
            mae: nan_if_null(r.get(4)?),
            regret: nan_if_null(r.get(5)?),
            observed: r.get(6)?,
            scored_at: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn events(conn: &Connection, pending_only: bool) -> Result<Vec<RegistryEventRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT eid, series_id, kind, vid, at, detail, alerted_at FROM registry_events
         WHERE NOT ?1 OR alerted_at IS NULL ORDER BY eid",
    )?;
    let mut rows = stmt.query([pending_only])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let detail: String = r.get(5)?;
        out.push(RegistryEventRecord {
            id: r.get(0)?,
            series_id: r.get(1)?,
            kind: r.get(2)?,
            version: r.get::<_, Option<i64>>(3)?.map(VersionId),
            at: r.get(4)?,
            detail: serde_json::from_str(&detail)?,
            alerted_at: r.get(6)?,
        });
    }
    Ok(out)
}

pub(super) fn mark_alerted(conn: &mut Connection, ids: &[i64], at: Ts) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut stmt =
            tx.prepare_cached("UPDATE registry_events SET alerted_at = ?2 WHERE eid = ?1")?;
        for id in ids {
            if stmt.execute(params![id, at])? == 0 {
                return Err(StoreError::NotFound(format!("registry event {id}")));
            }
        }
    }
    tx.commit()?;
    Ok(())
}
