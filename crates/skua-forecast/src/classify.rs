//! Series classification: stable, daily, weekly or unpredictable (after Seagull).
//!
//! # The rule
//!
//! The statistics are computed on hourly values (a series with a finer step is averaged to
//! whole hours first; missing values are skipped everywhere):
//!
//! * the **level** is the mean of the values;
//! * the **spread** is the 95th percentile minus the 5th percentile of the values (so a few
//!   spikes do not count);
//! * **ACF(1 day)** and **ACF(1 week)** are the autocorrelations at lags of 24 and 168
//!   hours (ACF(1 week) is only used with at least 14 days of history).
//!
//! The class is the first of these that applies:
//!
//! 1. **Stable** if the spread is at most 1 (one CPU percentage point; applied to percentages
//!    only, see [`classify_unit`]) or at most 10 % of the level: the load hardly moves, so any
//!    window will do.
//! 2. **Weekly** if there are at least 14 days of history, ACF(1 week) is at least 0.5, and
//!    ACF(1 week) exceeds ACF(1 day) by at least 0.1: the load repeats from week to week
//!    clearly better than from day to day (weekday/weekend patterns, weekly jobs).
//! 3. **Daily** if ACF(1 day) is at least 0.5: the load repeats from one day to the next.
//! 4. **Unpredictable** otherwise (including series whose values are all missing).
//!
//! Why these thresholds: a correlation of 0.5 is the usual line for a "strong" correlation
//! and keeps noisy series out of the seasonal classes; the 0.1 margin keeps daily series
//! (whose ACF at one week is about as high as at one day) out of the weekly class; two weeks
//! give at least one full week of lag-168 pairs; one CPU point and 10 % of the level are
//! differences no backup placement cares about. A caveat a reader should know: ACF(1 day)
//! also rises with slow level changes (a load that persists for days), so such series can
//! land in Daily; the forecasters that use the class tolerate this.

use serde::{Deserialize, Serialize};
use skua_core::metrics::quantile;
use skua_core::{RegularSeries, SECONDS_PER_DAY, Unit};

use crate::seasonality::{acf_many, to_hourly};

/// Stable if the spread is at most this share of the level (10 %).
pub const STABLE_RELATIVE_SPREAD: f64 = 0.1;
/// Stable if the spread is at most this, in the series' units (one percentage point of CPU).
pub const STABLE_ABSOLUTE_SPREAD: f64 = 1.0;
/// An autocorrelation at least this high counts as a strong cycle.
pub const STRONG_ACF: f64 = 0.5;
/// Weekly needs ACF(1 week) to exceed ACF(1 day) by at least this much.
pub const WEEKLY_MARGIN: f64 = 0.1;
/// Days of history needed before the weekly class is considered.
pub const MIN_WEEKLY_HISTORY_DAYS: usize = 14;
/// Lower and upper quantiles whose difference is the spread.
pub const SPREAD_QUANTILES: (f64, f64) = (0.05, 0.95);

/// The class of a series' load pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeriesClass {
    /// Nearly flat: any window is as good as another.
    Stable,
    /// Repeats from one day to the next.
    Daily,
    /// Repeats from one week to the next, clearly better than day to day.
    Weekly,
    /// None of the above.
    Unpredictable,
}

impl SeriesClass {
    /// Lower-case name used in reports (`stable`, `daily`, `weekly`, `unpredictable`).
    pub fn as_str(self) -> &'static str {
        match self {
            SeriesClass::Stable => "stable",
            SeriesClass::Daily => "daily",
            SeriesClass::Weekly => "weekly",
            SeriesClass::Unpredictable => "unpredictable",
        }
    }
}

/// The numbers behind a classification (all on hourly values when the step is finer).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassStats {
    /// Autocorrelation at a lag of one day (NaN if undefined, e.g. a constant series).
    pub acf_day: f64,
    /// Autocorrelation at a lag of one week (NaN with less than two weeks of history).
    pub acf_week: f64,
    /// Spread: the 95th minus the 5th percentile of the values.
    pub spread: f64,
    /// Level: the mean of the values.
    pub level: f64,
    /// Days of history (grid length, gaps included).
    pub days: f64,
    /// Share of grid points that are missing.
    pub missing_share: f64,
}

/// A class and the statistics that decided it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    /// The class.
    pub class: SeriesClass,
    /// The statistics.
    pub stats: ClassStats,
}

/// Thresholds of the rule; [`Default`] gives the documented constants.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassifyThresholds {
    /// See [`STABLE_RELATIVE_SPREAD`].
    pub stable_relative_spread: f64,
    /// See [`STABLE_ABSOLUTE_SPREAD`].
    pub stable_absolute_spread: f64,
    /// See [`STRONG_ACF`].
    pub strong_acf: f64,
    /// See [`WEEKLY_MARGIN`].
    pub weekly_margin: f64,
    /// See [`MIN_WEEKLY_HISTORY_DAYS`].
    pub min_weekly_history_days: usize,
}

impl Default for ClassifyThresholds {
    fn default() -> Self {
        ClassifyThresholds {
            stable_relative_spread: STABLE_RELATIVE_SPREAD,
            stable_absolute_spread: STABLE_ABSOLUTE_SPREAD,
            strong_acf: STRONG_ACF,
            weekly_margin: WEEKLY_MARGIN,
            min_weekly_history_days: MIN_WEEKLY_HISTORY_DAYS,
        }
    }
}

/// Computes the statistics of [`classify`] without deciding.
pub fn class_stats(history: &RegularSeries) -> ClassStats {
    let work = to_hourly(history);
    let values = work.values();
    let day = (SECONDS_PER_DAY / work.step()).max(1) as usize;
    let days = values.len() as f64 * work.step() as f64 / SECONDS_PER_DAY as f64;
    let acfs = acf_many(values, [day, 7 * day]);
    let acf_week = if values.len() >= 14 * day {
        acfs[1]
    } else {
        f64::NAN
    };
    let present = values.iter().filter(|v| !v.is_nan()).count();
    let level = skua_core::metrics::nanmean(values);
    let spread = quantile(values, SPREAD_QUANTILES.1) - quantile(values, SPREAD_QUANTILES.0);
    ClassStats {
        acf_day: acfs[0],
        acf_week,
        spread,
        level,
        days,
        missing_share: if values.is_empty() {
            1.0
        } else {
            1.0 - present as f64 / values.len() as f64
        },
    }
}

impl ClassifyThresholds {
    /// The default thresholds with the absolute spread floor set for `unit`: one point for a
    /// percentage (CPU %), none otherwise — a floor of "1" means nothing for bytes, and it
    /// would call every min–max-normalised series (values in 0..1, as in ASD) stable.
    pub fn for_unit(unit: Unit) -> Self {
        ClassifyThresholds {
            stable_absolute_spread: match unit {
                Unit::Percent => STABLE_ABSOLUTE_SPREAD,
                Unit::Count | Unit::Other => 0.0,
            },
            ..ClassifyThresholds::default()
        }
    }
}

/// Classifies `history`, whose values are in `unit`, with [`ClassifyThresholds::for_unit`].
pub fn classify_unit(history: &RegularSeries, unit: Unit) -> Classification {
    classify_with(history, &ClassifyThresholds::for_unit(unit))
}

/// Classifies `history` with the default thresholds (see the module documentation).
pub fn classify(history: &RegularSeries) -> Classification {
    classify_with(history, &ClassifyThresholds::default())
}

/// Classifies `history` with the given thresholds.
pub fn classify_with(history: &RegularSeries, t: &ClassifyThresholds) -> Classification {
    let stats = class_stats(history);
    let class = decide(&stats, t);
    Classification { class, stats }
}

/// The rule itself, on precomputed statistics.
pub fn decide(s: &ClassStats, t: &ClassifyThresholds) -> SeriesClass {
    if s.spread.is_nan() {
        return SeriesClass::Unpredictable;
    }
    if s.spread <= t.stable_absolute_spread || s.spread <= t.stable_relative_spread * s.level.abs()
    {
        return SeriesClass::Stable;
    }
    // NaN comparisons are false, so an undefined ACF never makes a cycle "strong".
    let week_usable = s.days >= t.min_weekly_history_days as f64 && s.acf_week.is_finite();
    let day = if s.acf_day.is_finite() {
        s.acf_day
    } else {
        f64::NEG_INFINITY
    };
    if week_usable && s.acf_week >= t.strong_acf && s.acf_week >= day + t.weekly_margin {
        return SeriesClass::Weekly;
    }
    if s.acf_day >= t.strong_acf {
        return SeriesClass::Daily;
    }
    SeriesClass::Unpredictable
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(acf_day: f64, acf_week: f64, spread: f64, level: f64, days: f64) -> ClassStats {
        ClassStats {
            acf_day,
            acf_week,
            spread,
            level,
            days,
            missing_share: 0.0,
        }
    }

    #[test]
    fn the_rule_step_by_step() {
        let t = ClassifyThresholds::default();
        let d = |s: ClassStats| decide(&s, &t);
        // Stable: absolute floor, then relative to the level, before any ACF test.
        assert_eq!(d(stats(0.9, 0.9, 0.8, 0.5, 30.0)), SeriesClass::Stable);
        assert_eq!(d(stats(0.9, 0.9, 4.0, 50.0, 30.0)), SeriesClass::Stable);
        assert_eq!(d(stats(0.9, 0.9, 6.0, 50.0, 30.0)), SeriesClass::Daily);
        // Weekly needs a strong week, a clear margin over the day and two weeks of data.
        assert_eq!(d(stats(0.3, 0.8, 6.0, 10.0, 30.0)), SeriesClass::Weekly);
        assert_eq!(d(stats(0.75, 0.8, 6.0, 10.0, 30.0)), SeriesClass::Daily);
        assert_eq!(
            d(stats(0.3, 0.8, 6.0, 10.0, 13.0)),
            SeriesClass::Unpredictable
        );
        assert_eq!(d(stats(0.6, f64::NAN, 6.0, 10.0, 10.0)), SeriesClass::Daily);
        assert_eq!(
            d(stats(0.3, 0.45, 6.0, 10.0, 30.0)),
            SeriesClass::Unpredictable
        );
        assert_eq!(
            d(stats(f64::NAN, f64::NAN, f64::NAN, f64::NAN, 0.0)),
            SeriesClass::Unpredictable
        );
    }

    #[test]
    fn statistics_use_hourly_values() {
        // 5-minute data with a daily square wave: hourly ACF at 24 lags is 1.
        let v: Vec<f64> = (0..288 * 21)
            .map(|t| if (t / 144) % 2 == 0 { 10.0 } else { 30.0 })
            .collect();
        let s = RegularSeries::new(0, 300, v).unwrap();
        let c = classify(&s);
        assert!((c.stats.acf_day - 1.0).abs() < 1e-9);
        assert!((c.stats.level - 20.0).abs() < 1e-9);
        assert!((c.stats.spread - 20.0).abs() < 1e-9);
        assert!((c.stats.days - 21.0).abs() < 1e-9);
        assert_eq!(c.class, SeriesClass::Daily);
        let empty = RegularSeries::new(0, 3600, vec![f64::NAN; 48]).unwrap();
        assert_eq!(classify(&empty).class, SeriesClass::Unpredictable);
        assert_eq!(classify(&empty).stats.missing_share, 1.0);
    }
}
