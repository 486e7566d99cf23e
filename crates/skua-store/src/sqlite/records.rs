//! Runs and what runs produce: validation reports, forecasts, schedules.

use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use skua_core::{Forecast, QuantileBand, Ts};

use crate::types::{
    ForecastWrite, ReportScope, RunId, RunRecord, RunStatus, ScheduleRow, StoredForecast,
    ValidationReport,
};
use crate::{Result, StoreError};

fn now() -> Ts {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as Ts)
}

// ---- runs ----

pub(super) fn start_run(
    conn: &Connection,
    kind: &str,
    params: &serde_json::Value,
) -> Result<RunId> {
    conn.prepare_cached(
        "INSERT INTO runs (kind, params, status, started_at) VALUES (?1, ?2, 'running', ?3)",
    )?
    .execute(params![kind, serde_json::to_string(params)?, now()])?;
    Ok(RunId(conn.last_insert_rowid()))
}

pub(super) fn finish_run(
    conn: &Connection,
    run: RunId,
    status: RunStatus,
    summary: &serde_json::Value,
) -> Result<()> {
    if status == RunStatus::Running {
        return Err(StoreError::Invalid(format!(
            "run {run}: cannot finish a run with status running"
        )));
    }
    let changed = conn
        .prepare_cached(
            "UPDATE runs SET status = ?2, summary = ?3, finished_at = ?4
             WHERE id = ?1 AND status = 'running'",
        )?
        .execute(params![
            run.0,
            status.as_str(),
            serde_json::to_string(summary)?,
            now()
        ])?;
    if changed == 0 {
        return Err(match self::run(conn, run)? {
            None => StoreError::NotFound(format!("run {run}")),
            Some(r) => StoreError::Invalid(format!(
                "run {run} is already finished (status {})",
                r.status.as_str()
            )),
        });
    }
    Ok(())
}

const SELECT_RUN: &str =
    "SELECT id, kind, params, status, summary, started_at, finished_at FROM runs";

pub(super) fn runs(conn: &Connection) -> Result<Vec<RunRecord>> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT_RUN} ORDER BY id"))?;
    let rows = stmt.query_map([], read_run)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row??);
    }
    Ok(out)
}

pub(super) fn run(conn: &Connection, run: RunId) -> Result<Option<RunRecord>> {
    conn.prepare_cached(&format!("{SELECT_RUN} WHERE id = ?1"))?
        .query_row([run.0], read_run)
        .optional()?
        .transpose()
}

fn read_run(r: &Row<'_>) -> rusqlite::Result<Result<RunRecord>> {
    let id = RunId(r.get(0)?);
    let kind: String = r.get(1)?;
    let params: String = r.get(2)?;
    let status: String = r.get(3)?;
    let summary: Option<String> = r.get(4)?;
    let started_at: Ts = r.get(5)?;
    let finished_at: Option<Ts> = r.get(6)?;
    Ok((|| {
        Ok(RunRecord {
            id,
            kind,
            params: serde_json::from_str(&params)?,
            status: RunStatus::parse(&status).ok_or_else(|| {
                StoreError::Invalid(format!("run {id}: unknown status {status:?}"))
            })?,
            summary: summary.map(|s| serde_json::from_str(&s)).transpose()?,
            started_at,
            finished_at,
        })
    })())
}

/// Fails with `NotFound` unless the run exists (a clearer error than a foreign-key failure).
fn require_run(tx: &Transaction<'_>, run: RunId) -> Result<()> {
    let exists: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM runs WHERE id = ?1)")?
        .query_row([run.0], |r| r.get(0))?;
    if exists {
        Ok(())
    } else {
        Err(StoreError::NotFound(format!("run {run}")))
    }
}

/// Next free `seq` of a run in a per-run table, so appends keep their order.
fn next_seq(tx: &Transaction<'_>, table: &str, run: RunId) -> Result<i64> {
    Ok(tx
        .prepare_cached(&format!(
            "SELECT COALESCE(MAX(seq) + 1, 0) FROM {table} WHERE run_id = ?1"
        ))?
        .query_row([run.0], |r| r.get(0))?)
}

// ---- validation reports ----

pub(super) fn put_validation_reports(
    conn: &mut Connection,
    run: RunId,
    reports: &[ValidationReport],
) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    require_run(&tx, run)?;
    let seq = next_seq(&tx, "validation_reports", run)?;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO validation_reports (run_id, seq, scope, subject, report)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (i, r) in reports.iter().enumerate() {
            stmt.execute(params![
                run.0,
                seq + i as i64,
                r.scope.as_str(),
                r.subject,
                serde_json::to_string(&r.report)?
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
}

pub(super) fn validation_reports(conn: &Connection, run: RunId) -> Result<Vec<ValidationReport>> {
    let mut stmt = conn.prepare_cached(
        "SELECT scope, subject, report FROM validation_reports WHERE run_id = ?1 ORDER BY seq",
    )?;
    let mut rows = stmt.query([run.0])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let scope: String = row.get(0)?;
        let report: String = row.get(2)?;
        out.push(ValidationReport {
            scope: ReportScope::parse(&scope).ok_or_else(|| {
                StoreError::Invalid(format!("run {run}: unknown report scope {scope:?}"))
            })?,
            subject: row.get(1)?,
            report: serde_json::from_str(&report)?,
        });
    }
    Ok(out)
}

// ---- forecasts ----

/// Forecast values are stored as little-endian f64 blobs: bit-exact, NaN-safe and compact.
pub(super) fn to_blob(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn from_blob(blob: &[u8]) -> Option<Vec<f64>> {
    let chunks = blob.chunks_exact(8);
    if !chunks.remainder().is_empty() {
        return None;
    }
    Some(
        chunks
            .map(|c| f64::from_le_bytes(c.try_into().expect("chunks_exact yields 8 bytes")))
            .collect(),
    )
}

pub(super) fn put_forecasts(
    conn: &mut Connection,
    run: RunId,
    forecasts: &[ForecastWrite],
) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    require_run(&tx, run)?;
    {
        let mut series_exists =
            tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM series WHERE id = ?1)")?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO forecasts (run_id, series_id, model, origin, start_ts, step, point,
                                    quantile_levels, quantile_values)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for w in forecasts {
            let f = &w.forecast;
            if !series_exists.query_row([&w.series_id], |r| r.get::<_, bool>(0))? {
                return Err(StoreError::NotFound(format!(
                    "series {} (forecast by {})",
                    w.series_id, w.model
                )));
            }
            if f.step <= 0 {
                return Err(StoreError::Invalid(format!(
                    "forecast of {} by {}: step {} s is not positive",
                    w.series_id, w.model, f.step
                )));
            }
            if let Some(b) = f.quantiles.iter().find(|b| b.values.len() != f.point.len()) {
                return Err(StoreError::Invalid(format!(
                    "forecast of {} by {}: quantile {} has {} values, point has {}",
                    w.series_id,
                    w.model,
                    b.q,
                    b.values.len(),
                    f.point.len()
                )));
            }
            let levels: Vec<f64> = f.quantiles.iter().map(|b| b.q).collect();
            let values: Vec<f64> = f
                .quantiles
                .iter()
                .flat_map(|b| b.values.iter().copied())
                .collect();
            insert.execute(params![
                run.0,
                w.series_id,
                w.model,
                w.origin,
                f.start,
                f.step,
                to_blob(&f.point),
                to_blob(&levels),
                to_blob(&values)
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
}

pub(super) const SELECT_FORECAST: &str =
    "SELECT run_id, series_id, model, origin, start_ts, step, point,
    quantile_levels, quantile_values FROM forecasts";

pub(super) fn latest_forecast(
    conn: &Connection,
    series_id: &str,
    model: &str,
) -> Result<Option<StoredForecast>> {
    conn.prepare_cached(&format!(
        "{SELECT_FORECAST} WHERE series_id = ?1 AND model = ?2
         ORDER BY origin DESC, fid DESC LIMIT 1"
    ))?
    .query_row([series_id, model], read_forecast)
    .optional()?
    .transpose()
}

pub(super) fn forecasts(conn: &Connection, run: RunId) -> Result<Vec<StoredForecast>> {
    let mut stmt =
        conn.prepare_cached(&format!("{SELECT_FORECAST} WHERE run_id = ?1 ORDER BY fid"))?;
    let rows = stmt.query_map([run.0], read_forecast)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row??);
    }
    Ok(out)
}

pub(super) fn read_forecast(r: &Row<'_>) -> rusqlite::Result<Result<StoredForecast>> {
    let run = RunId(r.get(0)?);
    let series_id: String = r.get(1)?;
    let model: String = r.get(2)?;
    let origin: Ts = r.get(3)?;
    let start: Ts = r.get(4)?;
    let step: i64 = r.get(5)?;
    let point = from_blob(r.get_ref(6)?.as_blob()?);
    let levels = from_blob(r.get_ref(7)?.as_blob()?);
    let values = from_blob(r.get_ref(8)?.as_blob()?);
    let decoded = match (point, levels, values) {
        (Some(point), Some(levels), Some(values)) if values.len() == levels.len() * point.len() => {
            let quantiles = if point.is_empty() {
                levels
                    .iter()
                    .map(|&q| QuantileBand {
                        q,
                        values: Vec::new(),
                    })
                    .collect()
            } else {
                levels
                    .iter()
                    .zip(values.chunks_exact(point.len()))
                    .map(|(&q, v)| QuantileBand {
                        q,
                        values: v.to_vec(),
                    })
                    .collect()
            };
            Ok(StoredForecast {
                run,
                forecast: Forecast {
                    start,
                    step,
                    point,
                    quantiles,
                },
                series_id,
                model,
                origin,
            })
        }
        _ => Err(StoreError::Invalid(format!(
            "forecast of {series_id} by {model} (run {run}): value blobs are malformed"
        ))),
    };
    Ok(decoded)
}

// ---- schedules ----

pub(super) fn put_schedule(
    conn: &mut Connection,
    run: RunId,
    entries: &[ScheduleRow],
) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    require_run(&tx, run)?;
    tx.prepare_cached("DELETE FROM schedules WHERE run_id = ?1")?
        .execute([run.0])?;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO schedules (run_id, seq, server, grp, start_ts, end_ts, predicted,
                                    runner_up_start, runner_up_predicted)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for (i, e) in entries.iter().enumerate() {
            // SQLite stores NaN as NULL; NULL reads back as NaN.
            stmt.execute(params![
                run.0,
                i as i64,
                e.server,
                e.group,
                e.start,
                e.end,
                (!e.predicted.is_nan()).then_some(e.predicted),
                e.runner_up_start,
                e.runner_up_predicted.filter(|v| !v.is_nan())
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
}

pub(super) fn schedule(conn: &Connection, run: RunId) -> Result<Vec<ScheduleRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT server, grp, start_ts, end_ts, predicted, runner_up_start, runner_up_predicted
         FROM schedules WHERE run_id = ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map([run.0], |r| {
        Ok(ScheduleRow {
            server: r.get(0)?,
            group: r.get(1)?,
            start: r.get(2)?,
            end: r.get(3)?,
            predicted: r.get::<_, Option<f64>>(4)?.unwrap_or(f64::NAN),
            runner_up_start: r.get(5)?,
            runner_up_predicted: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_round_trip_bit_exact() {
        let values = [0.1, -0.0, f64::MAX, f64::MIN_POSITIVE, 1.0 / 3.0];
        let back = from_blob(&to_blob(&values)).unwrap();
        assert_eq!(
            back.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            values.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        assert!(from_blob(&to_blob(&[f64::NAN])).unwrap()[0].is_nan());
        assert_eq!(from_blob(&[]), Some(vec![]));
        assert_eq!(from_blob(&[0u8; 7]), None);
    }
}
