//! Regular time series: a start, a fixed step and values, with `NaN` marking a missing
//! sample. Only ingestion sees raw, irregular data; everything downstream takes a
//! [`RegularSeries`], so "the data is on a grid" is a property of the type.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::time::{Ts, steps_per_day};

/// Errors building a regular series.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SeriesError {
    /// The step must be a positive number of seconds.
    #[error("step must be positive, got {0} s")]
    BadStep(i64),
    /// Infinite values are not allowed on the grid (missing samples are NaN).
    #[error("value at index {0} is infinite")]
    Infinite(usize),
}

/// What a series measures, as far as range checks are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// A percentage: valid values lie in 0..=100.
    Percent,
    /// A non-negative quantity (bytes, requests, connections).
    #[default]
    Count,
    /// Anything else: no range check beyond finiteness.
    Other,
}

/// Identity and labels of one series (one metric of one server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesMeta {
    /// Unique id of the series, e.g. `rnd_17` or `db-03/cpu`.
    pub id: String,
    /// The server (or entity) the series belongs to; planning is per server.
    pub server: String,
    /// The metric name, if the source named one (`cpu`, `CPU usage [%]`).
    pub metric: Option<String>,
    /// The unit, used by range checks.
    pub unit: Unit,
    /// Free-form labels (`cluster`, `region`, …) used for grouping constraints.
    pub labels: BTreeMap<String, String>,
}

impl SeriesMeta {
    /// A series whose id is also its server name, with no metric and no labels.
    pub fn simple(id: impl Into<String>) -> Self {
        let id = id.into();
        SeriesMeta {
            server: id.clone(),
            id,
            metric: None,
            unit: Unit::Count,
            labels: BTreeMap::new(),
        }
    }
}

/// A time series on a regular grid. Missing samples are `NaN`; values are never infinite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegularSeries {
    start: Ts,
    step: i64,
    values: Vec<f64>,
}

impl RegularSeries {
    /// Builds a series, checking the step and that no value is infinite.
    pub fn new(start: Ts, step: i64, values: Vec<f64>) -> Result<Self, SeriesError> {
        if step <= 0 {
            return Err(SeriesError::BadStep(step));
        }
        if let Some(i) = values.iter().position(|v| v.is_infinite()) {
            return Err(SeriesError::Infinite(i));
        }
        Ok(RegularSeries {
            start,
            step,
            values,
        })
    }

    /// Timestamp of the first point.
    pub fn start(&self) -> Ts {
        self.start
    }
    /// Grid step in seconds.
    pub fn step(&self) -> i64 {
        self.step
    }
    /// All values (NaN = missing).
    pub fn values(&self) -> &[f64] {
        &self.values
    }
    /// Number of grid points (including missing ones).
    pub fn len(&self) -> usize {
        self.values.len()
    }
    /// True if the series has no grid points.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
    /// Timestamp one step past the last point.
    pub fn end(&self) -> Ts {
        self.start + self.step * self.values.len() as i64
    }
    /// Timestamp of grid point `i`.
    pub fn ts_at(&self, i: usize) -> Ts {
        self.start + self.step * i as i64
    }
    /// Index of the grid point at or after `ts` (may equal `len()`; 0 if `ts` precedes start).
    pub fn index_at_or_after(&self, ts: Ts) -> usize {
        if ts <= self.start {
            return 0;
        }
        let i = (ts - self.start + self.step - 1) / self.step;
        (i as usize).min(self.values.len())
    }
    /// Number of grid points per day, if the step divides a day.
    pub fn steps_per_day(&self) -> Option<usize> {
        steps_per_day(self.step)
    }
    /// Number of present (non-NaN) values.
    pub fn present(&self) -> usize {
        self.values.iter().filter(|v| !v.is_nan()).count()
    }
    /// The first `n` points as a new series (history up to a cutoff).
    pub fn head(&self, n: usize) -> RegularSeries {
        RegularSeries {
            start: self.start,
            step: self.step,
            values: self.values[..n.min(self.values.len())].to_vec(),
        }
    }
    /// Points `from..to` as a new series.
    pub fn slice(&self, from: usize, to: usize) -> RegularSeries {
        let to = to.min(self.values.len());
        let from = from.min(to);
        RegularSeries {
            start: self.ts_at(from),
            step: self.step,
            values: self.values[from..to].to_vec(),
        }
    }
    /// Consumes the series and returns its values.
    pub fn into_values(self) -> Vec<f64> {
        self.values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_input() {
        assert_eq!(
            RegularSeries::new(0, 0, vec![]).unwrap_err(),
            SeriesError::BadStep(0)
        );
        assert_eq!(
            RegularSeries::new(0, 60, vec![1.0, f64::INFINITY]).unwrap_err(),
            SeriesError::Infinite(1)
        );
    }

    #[test]
    fn indexing() {
        let s = RegularSeries::new(100, 10, vec![1.0, f64::NAN, 3.0, 4.0]).unwrap();
        assert_eq!(s.end(), 140);
        assert_eq!(s.ts_at(2), 120);
        assert_eq!(s.index_at_or_after(99), 0);
        assert_eq!(s.index_at_or_after(111), 2);
        assert_eq!(s.index_at_or_after(120), 2);
        assert_eq!(s.index_at_or_after(1000), 4);
        assert_eq!(s.present(), 3);
        assert_eq!(s.head(2).len(), 2);
        let sl = s.slice(2, 4);
        assert_eq!(sl.start(), 120);
        assert_eq!(sl.values(), &[3.0, 4.0]);
    }
}
