//! The engine shared by the seasonal baselines: forecast each step as the mean of the
//! values one, two, …, `cycles` seasonal periods earlier, and derive quantiles from the
//! same rule's recent in-sample errors.
//!
//! `previous_day` is this rule with a period of one day and one cycle, `previous_week` one
//! week and one cycle, `seasonal_naive` a detected or given period and one cycle, `mean_<k>d`
//! one day and `k` cycles.
//!
//! # Missing values
//! For each phase of the period (e.g. each hour of the day), the forecast is the mean of the
//! present values among the last `cycles` values at that phase. If all of them are missing
//! (e.g. yesterday fell in a 24 h hole), it falls back, in order, to:
//! 1. the most recent present value at the same phase in an earlier cycle;
//! 2. when the period is a whole number of days longer than one day, the most recent present
//!    value at the same time of day;
//! 3. the mean of the whole history.
//!
//! # Quantiles
//! The rule is applied at every step `t` of the last [`RESIDUAL_WINDOW_DAYS`] days (using
//! only values before `t`, exactly like a forecast made at a daily origin for the next day),
//! skipping steps whose actual or whose every lagged value is missing. The errors
//! `actual − forecast`, tagged by time of day, make the bands as described in
//! [`crate::models::bands`] (per-hour finite-sample quantiles scaled for drift, widening as
//! `sqrt(1 + cycles ahead)` beyond the first period). If the history holds no negative value,
//! every output is clamped at 0.

use skua_core::{Forecast, RegularSeries, Ts};

use crate::model::{FitError, FittedForecaster};
use crate::models::bands::{ErrorBands, PhaseTagger};

/// Days of history (ending at the forecast origin) whose in-sample errors make the quantiles.
pub const RESIDUAL_WINDOW_DAYS: usize = 28;
/// Fewer in-sample errors than this and the quantiles use the spread of the values instead.
pub const MIN_RESIDUALS: usize = 10;

/// A fitted seasonal baseline: the forecast for one period and the in-sample errors.
/// Holds the profile and the recent tail of the history its quantile bands come from, not
/// the whole history. The bands are built only when a prediction asks for quantiles, so the
/// point path (what a window decision needs) does not pay for them.
#[derive(Debug, Clone, PartialEq)]
pub struct FittedSeasonal {
    name: String,
    start: Ts,
    step: i64,
    profile: Vec<f64>,
    bands: BandSource,
}

/// What the quantile bands are computed from: the last `window + cycles · period` values.
#[derive(Debug, Clone, PartialEq)]
struct BandSource {
    tail: Vec<f64>,
    /// Index in `tail` of the first step whose error counts.
    from: usize,
    /// Index in `tail` where the recent values (the fallback spread) start.
    recent_from: usize,
    period: usize,
    cycles: usize,
    phases: usize,
    non_negative: bool,
}

impl BandSource {
    fn bands(&self) -> ErrorBands {
        let n = self.tail.len();
        let mut tagger = PhaseTagger::new(n, self.phases);
        let errors = in_sample_errors(&self.tail, self.period, self.cycles, self.from)
            .into_iter()
            .map(|(t, e)| (tagger.phase(t), e))
            .collect();
        ErrorBands::new(
            errors,
            self.phases,
            self.period,
            &self.tail[self.recent_from..],
            self.non_negative,
        )
    }
}

impl FittedSeasonal {
    /// Fits the rule "mean of the last `cycles` values at the same phase of `period`".
    pub fn fit(
        name: String,
        history: &RegularSeries,
        period: usize,
        cycles: usize,
    ) -> Result<Self, FitError> {
        if period == 0 || cycles == 0 {
            return Err(FitError::BadConfig {
                model: name,
                reason: format!("period ({period}) and cycles ({cycles}) must be at least 1"),
            });
        }
        let x = history.values();
        let n = x.len();
        if n < period {
            return Err(FitError::TooShort {
                model: name,
                needed: period,
                have: n,
            });
        }
        let (mut sum, mut count, mut min) = (0.0, 0usize, f64::INFINITY);
        for &v in x.iter().filter(|v| !v.is_nan()) {
            sum += v;
            count += 1;
            min = min.min(v);
        }
        if count == 0 {
            return Err(FitError::NoData);
        }
        let mean = sum / count as f64;
        let spd = history.steps_per_day();

        let profile = (0..period)
            .map(|phase| phase_value(x, period, cycles, phase, spd).unwrap_or(mean))
            .collect();

        let window = spd.map_or(4 * period, |d| d * RESIDUAL_WINDOW_DAYS);
        let from = n.saturating_sub(window).max(period);
        // Keep what the errors from `from` on look back to; the phase of a step depends only
        // on its distance to the end, so it is the same in the tail as in the history.
        let keep_from = from.saturating_sub(cycles * period);
        let recent_from = n.saturating_sub(window);
        let bands = BandSource {
            tail: x[keep_from..].to_vec(),
            from: from - keep_from,
            recent_from: recent_from - keep_from.min(recent_from),
            period,
            cycles,
            phases: spd.unwrap_or(period),
            non_negative: min >= 0.0,
        };

        Ok(FittedSeasonal {
            name,
            start: history.end(),
            step: history.step(),
            profile,
            bands,
        })
    }

    /// The seasonal period in steps.
    pub fn period(&self) -> usize {
        self.profile.len()
    }

    /// Number of in-sample errors behind the quantiles.
    pub fn error_count(&self) -> usize {
        self.bands.bands().len()
    }
}

/// Mean of the present values at `t - period`, `t - 2 period`, …, `t - cycles·period`.
fn lagged_mean(x: &[f64], t: usize, period: usize, cycles: usize) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    for j in 1..=cycles {
        let Some(i) = t.checked_sub(j * period) else {
            break;
        };
        if !x[i].is_nan() {
            sum += x[i];
            n += 1;
        }
    }
    (n > 0).then(|| sum / n as f64)
}

/// Errors `x[t] − lagged_mean(t)` for `t` in `from..`, skipping missing actuals and steps
/// with no lagged value. For several cycles the lagged sums are updated from one period to
/// the next (add the newest cycle, drop the oldest), which keeps fitting linear in the
/// window rather than in window × cycles.
fn in_sample_errors(x: &[f64], period: usize, cycles: usize, from: usize) -> Vec<(usize, f64)> {
    let n = x.len();
    let mut errors = Vec::with_capacity(n.saturating_sub(from));
    if cycles == 1 {
        for t in from..n {
            let (a, f) = (x[t], x[t - period]);
            if !a.is_nan() && !f.is_nan() {
                errors.push((t, a - f));
            }
        }
        return errors;
    }
    let mut sums = vec![(0.0f64, 0u32); period];
    for t in from..n {
        let slot = &mut sums[(t - from) % period];
        if t < from + period {
            *slot = (0.0, 0);
            for j in 1..=cycles {
                let Some(i) = t.checked_sub(j * period) else {
                    break;
                };
                if !x[i].is_nan() {
                    *slot = (slot.0 + x[i], slot.1 + 1);
                }
            }
        } else {
            let newest = x[t - period];
            if !newest.is_nan() {
                *slot = (slot.0 + newest, slot.1 + 1);
            }
            if let Some(i) = t.checked_sub((cycles + 1) * period) {
                if !x[i].is_nan() {
                    *slot = (slot.0 - x[i], slot.1 - 1);
                }
            }
        }
        if slot.1 > 0 && !x[t].is_nan() {
            errors.push((t, x[t] - slot.0 / f64::from(slot.1)));
        }
    }
    errors
}

/// Forecast for `phase` of the period following the history, with the documented fallbacks
/// (`None` means "use the history mean").
fn phase_value(
    x: &[f64],
    period: usize,
    cycles: usize,
    phase: usize,
    spd: Option<usize>,
) -> Option<f64> {
    let n = x.len();
    let t = n + phase; // the first forecast step at this phase
    if let Some(v) = lagged_mean(x, t, period, cycles) {
        return Some(v);
    }
    // 1. Same phase in earlier cycles.
    let earlier = (cycles + 1..=t / period)
        .map(|j| x[t - j * period])
        .find(|v| !v.is_nan());
    if earlier.is_some() {
        return earlier;
    }
    // 2. Same time of day on recent days, for multi-day periods.
    let day = spd.filter(|&d| period > d && period % d == 0)?;
    (phase / day + 1..=t / day)
        .map(|j| x[t - j * day])
        .find(|v| !v.is_nan())
}

impl FittedForecaster for FittedSeasonal {
    fn predict(&self, horizon: usize, quantiles: &[f64]) -> Result<Forecast, FitError> {
        let period = self.profile.len();
        let point: Vec<f64> = (0..horizon).map(|h| self.profile[h % period]).collect();
        if quantiles.is_empty() {
            let floor = |v: f64| {
                if self.bands.non_negative {
                    v.max(0.0)
                } else {
                    v
                }
            };
            let forecast = Forecast {
                start: self.start,
                step: self.step,
                point: point.into_iter().map(floor).collect(),
                quantiles: Vec::new(),
            };
            return match forecast.check() {
                Ok(()) => Ok(forecast),
                Err(_) => Err(FitError::NonFinite {
                    model: self.name.clone(),
                }),
            };
        }
        self.bands
            .bands()
            .forecast(&self.name, self.start, self.step, point, quantiles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hourly(values: Vec<f64>) -> RegularSeries {
        RegularSeries::new(0, 3600, values).unwrap()
    }

    #[test]
    fn mean_of_cycles_and_fallbacks() {
        // period 3, two cycles: the forecast averages the last two cycles.
        let s = hourly(vec![1.0, 2.0, 3.0, 3.0, 4.0, 5.0]);
        let f = FittedSeasonal::fit("t".into(), &s, 3, 2).unwrap();
        let p = f.predict(4, &[]).unwrap().point;
        assert_eq!(p, vec![2.0, 3.0, 4.0, 2.0]);

        // Last cycle's phase 1 missing: one cycle → fall back to the cycle before.
        let s = hourly(vec![1.0, 2.0, 3.0, 3.0, f64::NAN, 5.0]);
        let p = FittedSeasonal::fit("t".into(), &s, 3, 1)
            .unwrap()
            .predict(3, &[])
            .unwrap()
            .point;
        assert_eq!(p, vec![3.0, 2.0, 5.0]);

        // Phase missing everywhere → history mean.
        let s = hourly(vec![1.0, f64::NAN, 3.0, 3.0, f64::NAN, 5.0]);
        let p = FittedSeasonal::fit("t".into(), &s, 3, 1)
            .unwrap()
            .predict(3, &[])
            .unwrap()
            .point;
        assert_eq!(p, vec![3.0, 3.0, 5.0]);
    }

    #[test]
    fn multi_day_period_falls_back_to_time_of_day() {
        // Period of 2 days (48 steps) and one cycle of history: phase 29 (hour 5 of the
        // second day) is missing and there is no earlier cycle, so the forecast takes the
        // most recent present value at hour 5 (phase 5, a day earlier).
        let mut v: Vec<f64> = (0..48).map(|t| (t % 24) as f64).collect();
        v[24 + 5] = f64::NAN; // phase 29 of the 2-day period, last cycle
        let s = hourly(v);
        let f = FittedSeasonal::fit("t".into(), &s, 48, 1).unwrap();
        let p = f.predict(48, &[]).unwrap().point;
        // phase 29 → no earlier cycle → same time of day one day earlier: value 5.
        assert_eq!(p[29], 5.0);
        assert_eq!(p[3], 3.0);
    }

    #[test]
    fn errors_and_too_short() {
        let s = hourly(vec![1.0, 2.0]);
        assert!(matches!(
            FittedSeasonal::fit("t".into(), &s, 3, 1),
            Err(FitError::TooShort {
                needed: 3,
                have: 2,
                ..
            })
        ));
        let s = hourly(vec![f64::NAN; 5]);
        assert_eq!(
            FittedSeasonal::fit("t".into(), &s, 3, 1),
            Err(FitError::NoData)
        );
        assert!(matches!(
            FittedSeasonal::fit("t".into(), &hourly(vec![1.0]), 0, 1),
            Err(FitError::BadConfig { .. })
        ));
    }

    #[test]
    fn bands_contain_the_point_and_widen_after_one_period() {
        let v: Vec<f64> = (0..24 * 30)
            .map(|t| ((t * 37) % 11) as f64 - (t % 24) as f64)
            .collect();
        let f = FittedSeasonal::fit("t".into(), &hourly(v), 24, 1).unwrap();
        assert!(f.error_count() >= 24 * 27);
        let fc = f.predict(48, &[0.9, 0.1, 0.5]).unwrap();
        fc.check().unwrap();
        let (lo, mid, hi) = (
            fc.quantile(0.1).unwrap(),
            fc.quantile(0.5).unwrap(),
            fc.quantile(0.9).unwrap(),
        );
        assert_eq!(mid, &fc.point[..]);
        for h in 0..48 {
            assert!(lo[h] <= fc.point[h] && fc.point[h] <= hi[h]);
        }
        let w0 = hi[0] - lo[0];
        let w1 = hi[24] - lo[24];
        assert!(w0 > 0.0);
        assert!((w1 / w0 - 2f64.sqrt()).abs() < 1e-9, "{w0} {w1}");
    }

    #[test]
    fn non_negative_history_gives_non_negative_bands() {
        let v: Vec<f64> = (0..24 * 10)
            .map(|t| if t % 5 == 0 { 10.0 } else { 0.0 })
            .collect();
        let f = FittedSeasonal::fit("t".into(), &hourly(v), 24, 1).unwrap();
        let fc = f.predict(24, &[0.05, 0.95]).unwrap();
        assert!(
            fc.quantiles
                .iter()
                .all(|b| b.values.iter().all(|v| *v >= 0.0))
        );
        assert!(fc.quantile(0.05).unwrap().contains(&0.0));
    }

    #[test]
    fn rolling_error_sums_match_the_direct_rule() {
        let mut v: Vec<f64> = (0..24 * 40)
            .map(|t| ((t * 7919) % 97) as f64 / 3.0)
            .collect();
        for i in [5, 30, 31, 400, 401, 402, 700, 24 * 39 + 3] {
            v[i] = f64::NAN;
        }
        for cycles in [1, 2, 7] {
            let from = 24 * 12;
            let direct: Vec<(usize, f64)> = (from..v.len())
                .filter(|&t| !v[t].is_nan())
                .filter_map(|t| lagged_mean(&v, t, 24, cycles).map(|f| (t, v[t] - f)))
                .collect();
            let fast = in_sample_errors(&v, 24, cycles, from);
            assert_eq!(direct.len(), fast.len());
            for (a, b) in direct.iter().zip(&fast) {
                assert_eq!(a.0, b.0);
                assert!((a.1 - b.1).abs() < 1e-9, "cycles {cycles}: {a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn short_history_still_has_bands() {
        let s = hourly((0..24).map(|t| t as f64).collect());
        let fc = FittedSeasonal::fit("t".into(), &s, 24, 1)
            .unwrap()
            .predict(24, &[0.1, 0.9])
            .unwrap();
        fc.check().unwrap();
        assert!(fc.quantile(0.9).unwrap()[0] > fc.point[0]);
    }
}
