//! Series metadata and samples.

use std::collections::{BTreeMap, HashMap};

use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use skua_core::{RegularSeries, SeriesMeta, Ts, Unit};

use crate::types::{PutOutcome, SeriesSummary, SeriesWrite};
use crate::{Result, StoreError};

/// Inserts a sample, or overwrites it only if its value changed, so `changes()` (the
/// statement's return value) counts exactly the inserted plus the updated rows.
const UPSERT_SAMPLE: &str = "
INSERT INTO samples (sid, ts, value) VALUES (?1, ?2, ?3)
ON CONFLICT (sid, ts) DO UPDATE SET value = excluded.value
WHERE samples.value IS NOT excluded.value";

const SELECT_SUMMARY: &str = "
SELECT sid, id, server, metric, unit, labels, step, n_samples, first_ts, last_ts FROM series";

pub(super) fn put_batch(conn: &mut Connection, items: &[SeriesWrite]) -> Result<Vec<PutOutcome>> {
    // IMMEDIATE takes the write lock up front, so a concurrent writer waits (busy timeout)
    // instead of failing halfway through the batch on a lock upgrade.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut outcomes = Vec::with_capacity(items.len());
    for item in items {
        outcomes.push(put_one(&tx, item)?);
    }
    tx.commit()?;
    Ok(outcomes)
}

fn put_one(tx: &Transaction<'_>, item: &SeriesWrite) -> Result<PutOutcome> {
    let meta = &item.meta;
    let series = &item.series;
    let step = series.step();
    let labels = serde_json::to_string(&meta.labels)?;
    let existing: Option<(i64, i64, Option<Ts>)> = tx
        .prepare_cached("SELECT sid, step, first_ts FROM series WHERE id = ?1")?
        .query_row([&meta.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let (sid, before) = match existing {
        Some((sid, stored_step, first_ts)) => {
            if stored_step != step {
                return Err(StoreError::Invalid(format!(
                    "series {}: step {step} s differs from the stored step {stored_step} s; \
                     nothing of this batch was written (resample the input or use another id)",
                    meta.id
                )));
            }
            if let Some(first) = first_ts
                && (series.start() - first).rem_euclid(step) != 0
            {
                return Err(StoreError::Invalid(format!(
                    "series {}: grid starting at {} is not aligned with the stored grid \
                     (first sample at {first}, step {step} s); nothing of this batch was written",
                    meta.id,
                    series.start()
                )));
            }
            tx.prepare_cached(
                "UPDATE series SET server = ?2, metric = ?3, unit = ?4, labels = ?5
                 WHERE sid = ?1",
            )?
            .execute(params![
                sid,
                meta.server,
                meta.metric,
                unit_name(meta.unit),
                labels
            ])?;
            (sid, aggregate(tx, sid)?.0)
        }
        None => {
            tx.prepare_cached(
                "INSERT INTO series (id, server, metric, unit, labels, step)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                meta.id,
                meta.server,
                meta.metric,
                unit_name(meta.unit),
                labels,
                step
            ])?;
            (tx.last_insert_rowid(), 0)
        }
    };

    let mut upsert = tx.prepare_cached(UPSERT_SAMPLE)?;
    let mut present = 0u64;
    let mut changed = 0u64;
    for (i, &value) in series.values().iter().enumerate() {
        if value.is_nan() {
            continue;
        }
        present += 1;
        changed += upsert.execute(params![sid, series.ts_at(i), value])? as u64;
    }
    drop(upsert);

    let (n_samples, first_ts, last_ts) = aggregate(tx, sid)?;
    tx.prepare_cached(
        "UPDATE series SET n_samples = ?2, first_ts = ?3, last_ts = ?4 WHERE sid = ?1",
    )?
    .execute(params![sid, n_samples as i64, first_ts, last_ts])?;

    let inserted = n_samples - before;
    Ok(PutOutcome {
        id: meta.id.clone(),
        inserted,
        updated: changed - inserted,
        unchanged: present - changed,
    })
}

/// Count, first and last timestamp of a series' samples, as the samples table says.
fn aggregate(tx: &Transaction<'_>, sid: i64) -> Result<(u64, Option<Ts>, Option<Ts>)> {
    Ok(tx
        .prepare_cached("SELECT COUNT(*), MIN(ts), MAX(ts) FROM samples WHERE sid = ?1")?
        .query_row([sid], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?))
        })?)
}

pub(super) fn summaries(conn: &Connection) -> Result<Vec<SeriesSummary>> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT_SUMMARY} ORDER BY id"))?;
    let rows = stmt.query_map([], read_summary)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row??.1);
    }
    Ok(out)
}

pub(super) fn load(conn: &Connection, id: &str) -> Result<RegularSeries> {
    let (sid, summary) = conn
        .prepare_cached(&format!("{SELECT_SUMMARY} WHERE id = ?1"))?
        .query_row([id], read_summary)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("series {id}")))??;
    let mut values = empty_grid(&summary)?;
    let mut stmt = conn.prepare_cached("SELECT ts, value FROM samples WHERE sid = ?1")?;
    let mut rows = stmt.query([sid])?;
    while let Some(row) = rows.next()? {
        place(&summary, &mut values, row.get(0)?, row.get(1)?)?;
    }
    build(summary, values)
}

pub(super) fn load_all(conn: &Connection) -> Result<Vec<(SeriesMeta, RegularSeries)>> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT_SUMMARY} ORDER BY id"))?;
    let mut grids = Vec::new();
    let mut index = HashMap::new();
    for row in stmt.query_map([], read_summary)? {
        let (sid, summary) = row??;
        let values = empty_grid(&summary)?;
        index.insert(sid, grids.len());
        grids.push((summary, values));
    }
    // One scan of the whole samples table in key order: far cheaper than one query per series.
    let mut stmt = conn.prepare_cached("SELECT sid, ts, value FROM samples")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let sid: i64 = row.get(0)?;
        let &i = index
            .get(&sid)
            .ok_or_else(|| StoreError::Invalid(format!("samples of unknown series key {sid}")))?;
        let (summary, values) = &mut grids[i];
        place(summary, values, row.get(1)?, row.get(2)?)?;
    }
    grids
        .into_iter()
        .map(|(summary, values)| {
            let meta = summary.meta.clone();
            Ok((meta, build(summary, values)?))
        })
        .collect()
}

fn empty_grid(summary: &SeriesSummary) -> Result<Vec<f64>> {
    match (summary.first_ts, summary.last_ts) {
        (Some(first), Some(last)) if last >= first => {
            Ok(vec![f64::NAN; ((last - first) / summary.step + 1) as usize])
        }
        (None, None) => Ok(Vec::new()),
        _ => Err(StoreError::Invalid(format!(
            "series {}: bad time range {:?}..{:?}",
            summary.meta.id, summary.first_ts, summary.last_ts
        ))),
    }
}

fn place(summary: &SeriesSummary, values: &mut [f64], ts: Ts, value: f64) -> Result<()> {
    let first = summary.first_ts.unwrap_or(ts);
    let offset = ts - first;
    let slot = (offset >= 0 && offset % summary.step == 0)
        .then(|| values.get_mut((offset / summary.step) as usize))
        .flatten()
        .ok_or_else(|| {
            StoreError::Invalid(format!(
                "series {}: sample at {ts} is outside the grid {first}..={:?} step {} s \
                 (run check_consistency)",
                summary.meta.id, summary.last_ts, summary.step
            ))
        })?;
    *slot = value;
    Ok(())
}

fn build(summary: SeriesSummary, values: Vec<f64>) -> Result<RegularSeries> {
    RegularSeries::new(summary.first_ts.unwrap_or(0), summary.step, values)
        .map_err(|e| StoreError::Invalid(format!("series {}: {e}", summary.meta.id)))
}

/// Reads a `SELECT_SUMMARY` row. The outer result is SQLite's, the inner one the decoding of
/// the stored unit and labels.
fn read_summary(r: &Row<'_>) -> rusqlite::Result<Result<(i64, SeriesSummary)>> {
    let sid: i64 = r.get(0)?;
    let id: String = r.get(1)?;
    let unit: String = r.get(4)?;
    let labels: String = r.get(5)?;
    let server: String = r.get(2)?;
    let metric: Option<String> = r.get(3)?;
    let step: i64 = r.get(6)?;
    let n_samples = r.get::<_, i64>(7)? as u64;
    let first_ts: Option<Ts> = r.get(8)?;
    let last_ts: Option<Ts> = r.get(9)?;
    Ok((|| {
        let unit = parse_unit(&unit)
            .ok_or_else(|| StoreError::Invalid(format!("series {id}: unknown unit {unit:?}")))?;
        let labels: BTreeMap<String, String> = serde_json::from_str(&labels)?;
        Ok((
            sid,
            SeriesSummary {
                meta: SeriesMeta {
                    id,
                    server,
                    metric,
                    unit,
                    labels,
                },
                step,
                n_samples,
                first_ts,
                last_ts,
            },
        ))
    })())
}

fn unit_name(unit: Unit) -> &'static str {
    match unit {
        Unit::Percent => "percent",
        Unit::Count => "count",
        Unit::Other => "other",
    }
}

fn parse_unit(s: &str) -> Option<Unit> {
    match s {
        "percent" => Some(Unit::Percent),
        "count" => Some(Unit::Count),
        "other" => Some(Unit::Other),
        _ => None,
    }
}
