//! Seasonal window averages beyond the plain `mean_<k>d`: a recency-weighted mean
//! (`wmean_<k>d`) and a robust median (`median_<k>d`) of the last k days at the same time of
//! day.
//!
//! Both forecast the next day from the values at the same phase of the day on the last `k`
//! days, skipping missing ones. When all `k` are missing the forecast takes the most recent
//! present value at that phase on an earlier day, then the history's mean (the baselines'
//! fallbacks). Quantiles come from the same rule replayed at every step of the last
//! [`RESIDUAL_WINDOW_DAYS`] days (see [`crate::models::bands`]).
//!
//! The weighted mean follows level shifts faster than the plain mean; the median ignores a
//! single abnormal day (a backup, a batch job) that would pull a mean for a whole week.

use skua_core::{Forecast, RegularSeries, Ts};

use crate::model::{FitError, FittedForecaster, Forecaster};
use crate::models::bands::{ErrorBands, present_mean, step_phase};
use crate::models::seasonal::RESIDUAL_WINDOW_DAYS;

/// Half-life, in days, of the weights of `wmean_<k>d`: yesterday weighs 1, three days
/// earlier ½, six days earlier ¼.
pub const WMEAN_HALF_LIFE_DAYS: f64 = 3.0;

/// `wmean_<k>d`: the exponentially weighted mean of the last `k` days at the same time of
/// day, weights halving every [`WMEAN_HALF_LIFE_DAYS`] days back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeightedMeanOfDays {
    /// Number of days averaged (at least 1).
    pub k: usize,
}

impl Default for WeightedMeanOfDays {
    fn default() -> Self {
        WeightedMeanOfDays { k: 7 }
    }
}

impl WeightedMeanOfDays {
    /// Parses `wmean_<k>d` (k ≥ 1).
    pub fn from_name(name: &str) -> Option<Self> {
        parse_days(name, "wmean_").map(|k| WeightedMeanOfDays { k })
    }
}

impl Forecaster for WeightedMeanOfDays {
    fn name(&self) -> String {
        format!("wmean_{}d", self.k)
    }

    fn fit(&self, history: &RegularSeries) -> Result<Box<dyn FittedForecaster>, FitError> {
        let decay = 0.5f64.powf(1.0 / WMEAN_HALF_LIFE_DAYS);
        let rule = DayRule::Weighted(
            (0..self.k)
                .map(|j| decay.powi(j as i32))
                .collect::<Vec<_>>(),
        );
        Ok(Box::new(FittedDayRule::fit(
            self.name(),
            history,
            self.k,
            &rule,
        )?))
    }
}

/// `median_<k>d`: the median of the last `k` days at the same time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MedianOfDays {
    /// Number of days (at least 1).
    pub k: usize,
}

impl Default for MedianOfDays {
    fn default() -> Self {
        MedianOfDays { k: 7 }
    }
}

impl MedianOfDays {
    /// Parses `median_<k>d` (k ≥ 1).
    pub fn from_name(name: &str) -> Option<Self> {
        parse_days(name, "median_").map(|k| MedianOfDays { k })
    }
}

impl Forecaster for MedianOfDays {
    fn name(&self) -> String {
        format!("median_{}d", self.k)
    }

    fn fit(&self, history: &RegularSeries) -> Result<Box<dyn FittedForecaster>, FitError> {
        Ok(Box::new(FittedDayRule::fit(
            self.name(),
            history,
            self.k,
            &DayRule::Median,
        )?))
    }
}

fn parse_days(name: &str, prefix: &str) -> Option<usize> {
    let k: usize = name.strip_prefix(prefix)?.strip_suffix('d')?.parse().ok()?;
    (k >= 1).then_some(k)
}

/// How the values of the last k days at one phase become one forecast.
enum DayRule {
    /// Weight `w[j - 1]` for the value `j` days back.
    Weighted(Vec<f64>),
    /// The median of the present values.
    Median,
}

impl DayRule {
    /// Combines `(days back, value)` pairs (non-empty, NaN-free); reorders `vals`.
    fn combine(&self, vals: &mut [(usize, f64)]) -> f64 {
        match self {
            DayRule::Weighted(w) => {
                let (mut s, mut sw) = (0.0, 0.0);
                for &(j, v) in vals.iter() {
                    s += w[j - 1] * v;
                    sw += w[j - 1];
                }
                s / sw
            }
            DayRule::Median => {
                vals.sort_by(|a, b| a.1.total_cmp(&b.1));
                let m = vals.len();
                if m % 2 == 1 {
                    vals[m / 2].1
                } else {
                    0.5 * (vals[m / 2 - 1].1 + vals[m / 2].1)
                }
            }
        }
    }

    /// The rule at step `t` from the values 1..=k days before it, if any is present.
    fn at(
        &self,
        x: &[f64],
        t: usize,
        day: usize,
        k: usize,
        buf: &mut Vec<(usize, f64)>,
    ) -> Option<f64> {
        buf.clear();
        for j in 1..=k {
            let Some(i) = t.checked_sub(j * day) else {
                break;
            };
            if !x[i].is_nan() {
                buf.push((j, x[i]));
            }
        }
        (!buf.is_empty()).then(|| self.combine(buf))
    }
}

/// A fitted day-window rule: the next day's profile and the error bands.
#[derive(Debug, Clone, PartialEq)]
pub struct FittedDayRule {
    name: String,
    start: Ts,
    step: i64,
    profile: Vec<f64>,
    bands: ErrorBands,
}

impl FittedDayRule {
    fn fit(
        name: String,
        history: &RegularSeries,
        k: usize,
        rule: &DayRule,
    ) -> Result<Self, FitError> {
        if k == 0 {
            return Err(FitError::BadConfig {
                model: name,
                reason: "the number of days k must be at least 1".into(),
            });
        }
        let day = history
            .steps_per_day()
            .ok_or(FitError::IrregularStep(history.step()))?;
        let x = history.values();
        let n = x.len();
        if n < day {
            return Err(FitError::TooShort {
                model: name,
                needed: day,
                have: n,
            });
        }
        let (mean, non_negative) = present_mean(x)?;
        let mut buf = Vec::with_capacity(k);
        let profile = (0..day)
            .map(|phase| {
                let t = n + phase;
                rule.at(x, t, day, k, &mut buf)
                    .or_else(|| {
                        (k + 1..=t / day)
                            .map(|j| x[t - j * day])
                            .find(|v| !v.is_nan())
                    })
                    .unwrap_or(mean)
            })
            .collect();
        let window = day * RESIDUAL_WINDOW_DAYS;
        let from = n.saturating_sub(window).max(day);
        let errors = (from..n)
            .filter(|&t| !x[t].is_nan())
            .filter_map(|t| {
                rule.at(x, t, day, k, &mut buf)
                    .map(|f| (step_phase(t, n, day), x[t] - f))
            })
            .collect();
        let bands = ErrorBands::new(
            errors,
            day,
            day,
            &x[n.saturating_sub(window)..],
            non_negative,
        );
        Ok(FittedDayRule {
            name,
            start: history.end(),
            step: history.step(),
            profile,
            bands,
        })
    }
}

impl FittedForecaster for FittedDayRule {
    fn predict(&self, horizon: usize, quantiles: &[f64]) -> Result<Forecast, FitError> {
        let point = (0..horizon)
            .map(|h| self.profile[h % self.profile.len()])
            .collect();
        self.bands
            .forecast(&self.name, self.start, self.step, point, quantiles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hourly(v: Vec<f64>) -> RegularSeries {
        RegularSeries::new(0, 3600, v).unwrap()
    }

    #[test]
    fn weights_favour_recent_days() {
        // Day d holds the value d everywhere.
        let v: Vec<f64> = (0..24 * 10).map(|t| (t / 24) as f64).collect();
        let f = WeightedMeanOfDays { k: 3 }
            .fit_predict(&hourly(v), 24, &[])
            .unwrap();
        let d = 0.5f64.powf(1.0 / WMEAN_HALF_LIFE_DAYS);
        let want = (9.0 + 8.0 * d + 7.0 * d * d) / (1.0 + d + d * d);
        assert!((f.point[5] - want).abs() < 1e-12);
        assert!(
            f.point[5] > 8.0,
            "more weight on recent days than a plain mean"
        );
    }

    #[test]
    fn median_of_even_count_and_fallbacks() {
        let mut v: Vec<f64> = (0..24 * 6).map(|t| (t / 24) as f64).collect();
        v[24 * 5 + 3] = f64::NAN; // last day, hour 3: median of days 4, 3, 2 → 3
        let f = MedianOfDays { k: 4 }
            .fit_predict(&hourly(v), 24, &[])
            .unwrap();
        assert_eq!(f.point[0], 3.5); // days 5, 4, 3, 2
        assert_eq!(f.point[3], 3.0);
        // Hour 7 missing on the last k days → most recent earlier day.
        let mut v: Vec<f64> = (0..24 * 4).map(|t| (t / 24) as f64).collect();
        for d in 2..4 {
            v[24 * d + 7] = f64::NAN;
        }
        let f = MedianOfDays { k: 2 }
            .fit_predict(&hourly(v), 24, &[])
            .unwrap();
        assert_eq!(f.point[7], 1.0);
    }

    #[test]
    fn names_parse() {
        assert_eq!(
            WeightedMeanOfDays::from_name("wmean_7d"),
            Some(WeightedMeanOfDays { k: 7 })
        );
        assert_eq!(
            MedianOfDays::from_name("median_14d"),
            Some(MedianOfDays { k: 14 })
        );
        assert_eq!(MedianOfDays::from_name("median_0d"), None);
        assert_eq!(MedianOfDays::from_name("mean_7d"), None);
        assert_eq!(MedianOfDays::default().name(), "median_7d");
        assert_eq!(WeightedMeanOfDays::default().name(), "wmean_7d");
        assert!(matches!(
            MedianOfDays { k: 0 }.fit(&hourly(vec![1.0; 48])).err(),
            Some(FitError::BadConfig { .. })
        ));
    }
}
