//! Consistency check: the database's own checks plus the store's invariants.

use rusqlite::Connection;

use crate::Result;
use crate::types::{ConsistencyReport, RunId};

pub(super) fn check(conn: &Connection) -> Result<ConsistencyReport> {
    let mut report = ConsistencyReport::default();

    let mut stmt = conn.prepare("PRAGMA integrity_check")?;
    for line in stmt.query_map([], |r| r.get::<_, String>(0))? {
        let line = line?;
        if line != "ok" {
            report.integrity.push(line);
        }
    }

    let mut stmt = conn.prepare("PRAGMA foreign_key_check")?;
    let rows = stmt.query_map([], |r| {
        Ok(format!(
            "{} row {:?} references missing {}",
            r.get::<_, String>(0)?,
            r.get::<_, Option<i64>>(1)?,
            r.get::<_, String>(2)?
        ))
    })?;
    for row in rows {
        report.foreign_keys.push(row?);
    }

    // A series row must say exactly what its samples say: no partial series.
    let mut stmt = conn.prepare(
        "SELECT s.id, s.n_samples, s.first_ts, s.last_ts, COALESCE(c.n, 0), c.lo, c.hi
         FROM series s
         LEFT JOIN (SELECT sid, COUNT(*) AS n, MIN(ts) AS lo, MAX(ts) AS hi
                    FROM samples GROUP BY sid) c ON c.sid = s.sid
         WHERE s.n_samples IS NOT COALESCE(c.n, 0)
            OR s.first_ts IS NOT c.lo OR s.last_ts IS NOT c.hi",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(format!(
            "series {}: row says {} samples in {:?}..={:?}, samples table has {} in {:?}..={:?}",
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, Option<i64>>(2)?,
            r.get::<_, Option<i64>>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, Option<i64>>(5)?,
            r.get::<_, Option<i64>>(6)?,
        ))
    })?;
    for row in rows {
        report.series.push(row?);
    }

    let mut stmt = conn.prepare(
        "SELECT s.id, COUNT(*) FROM samples x JOIN series s ON s.sid = x.sid
         WHERE (x.ts - s.first_ts) % s.step != 0 GROUP BY s.id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(format!(
            "series {}: {} samples off the grid",
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?
        ))
    })?;
    for row in rows {
        report.series.push(row?);
    }

    let mut stmt = conn.prepare("SELECT id FROM runs WHERE status = 'running' ORDER BY id")?;
    for id in stmt.query_map([], |r| r.get(0))? {
        report.unfinished_runs.push(RunId(id?));
    }
    Ok(report)
}
