//! Quantile bands from in-sample day-ahead errors, shared by the models of issue 3
//! (`wmean_<k>d`, `median_<k>d`, `seasonal_ets`, `mstl`).
//!
//! The convention is the baselines' (see [`crate::models::seasonal`]): each model replays its
//! own rule at daily origins over the last weeks of its history, forecasting the next day from
//! what it knew at that origin, and pools the errors `actual − forecast`. Quantile `q` of a
//! forecast is the point plus the empirical `q`-quantile of these errors, with offsets for
//! `q < 0.5` capped at 0 and offsets for `q > 0.5` floored at 0 (`lower ≤ point ≤ upper`, the
//! point is the median band); beyond the first `period` steps the offsets grow as
//! `sqrt(1 + periods ahead)`. With fewer than [`MIN_RESIDUALS`] errors the deviations of the
//! recent values from their mean stand in. If the history holds no negative value every
//! output is clamped at 0.

use skua_core::{Forecast, QuantileBand, Ts};

use crate::model::{FitError, sorted_levels};

use crate::models::seasonal::MIN_RESIDUALS;

/// Errors behind the quantiles plus what is needed to turn a point path into a [`Forecast`].
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorBands {
    errors: Vec<f64>,
    period: usize,
    non_negative: bool,
}

impl ErrorBands {
    /// Bands from `errors` (NaN-free), widening after each `period` steps. `recent` (NaN =
    /// missing) supplies a spread when there are too few errors; `non_negative` clamps at 0.
    pub fn new(mut errors: Vec<f64>, period: usize, recent: &[f64], non_negative: bool) -> Self {
        errors.retain(|e| e.is_finite());
        if errors.len() < MIN_RESIDUALS {
            let present: Vec<f64> = recent.iter().copied().filter(|v| !v.is_nan()).collect();
            let m = present.iter().sum::<f64>() / present.len().max(1) as f64;
            errors = present.iter().map(|v| v - m).collect();
            if errors.is_empty() {
                errors.push(0.0);
            }
        }
        ErrorBands {
            errors,
            period: period.max(1),
            non_negative,
        }
    }

    /// Number of errors behind the quantiles.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// True if no error is held (never the case after [`ErrorBands::new`]).
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The forecast with point path `point` (one value per step from `start`) and the requested
    /// quantile levels; `NonFinite` naming `model` if anything is not finite.
    pub fn forecast(
        &self,
        model: &str,
        start: Ts,
        step: i64,
        point: Vec<f64>,
        quantiles: &[f64],
    ) -> Result<Forecast, FitError> {
        let levels = sorted_levels(quantiles)?;
        let floor = |v: f64| if self.non_negative { v.max(0.0) } else { v };
        let mut scratch = self.errors.clone();
        let bands = levels
            .iter()
            .map(|&q| {
                let offset = if q < 0.5 {
                    select_quantile(&mut scratch, q).min(0.0)
                } else if q > 0.5 {
                    select_quantile(&mut scratch, q).max(0.0)
                } else {
                    0.0
                };
                let values = point
                    .iter()
                    .enumerate()
                    .map(|(h, p)| floor(p + offset * (1.0 + (h / self.period) as f64).sqrt()))
                    .collect();
                QuantileBand { q, values }
            })
            .collect();
        let forecast = Forecast {
            start,
            step,
            point: point.into_iter().map(floor).collect(),
            quantiles: bands,
        };
        if forecast.check().is_err() {
            return Err(FitError::NonFinite {
                model: model.to_string(),
            });
        }
        Ok(forecast)
    }
}

/// Mean of the present values and whether none is negative; `NoData` if none is present.
pub fn present_mean(values: &[f64]) -> Result<(f64, bool), FitError> {
    let (mut sum, mut count, mut min) = (0.0, 0usize, f64::INFINITY);
    for &v in values.iter().filter(|v| !v.is_nan()) {
        sum += v;
        count += 1;
        min = min.min(v);
    }
    if count == 0 {
        return Err(FitError::NoData);
    }
    Ok((sum / count as f64, min >= 0.0))
}

/// The `q`-quantile of `values` (NaN-free, non-empty) by linear interpolation between order
/// statistics (NumPy's default); reorders `values`.
pub fn select_quantile(values: &mut [f64], q: f64) -> f64 {
    let pos = q.clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let (_, &mut a, right) = values.select_nth_unstable_by(lo, f64::total_cmp);
    let frac = pos - lo as f64;
    if frac == 0.0 || right.is_empty() {
        return a;
    }
    let b = right.iter().copied().fold(f64::INFINITY, f64::min);
    a + (b - a) * frac
}

/// Linear interpolation over missing values; leading and trailing gaps take the nearest
/// present value. `None` if nothing is present.
pub fn interpolate(values: &[f64]) -> Option<Vec<f64>> {
    let first = values.iter().position(|v| !v.is_nan())?;
    let mut out = values.to_vec();
    let mut last = first;
    for x in &mut out[..first] {
        *x = values[first];
    }
    for i in first + 1..values.len() {
        if values[i].is_nan() {
            continue;
        }
        for (j, x) in out.iter_mut().enumerate().take(i).skip(last + 1) {
            let f = (j - last) as f64 / (i - last) as f64;
            *x = values[last] + f * (values[i] - values[last]);
        }
        last = i;
    }
    for x in &mut out[last + 1..] {
        *x = values[last];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_are_ordered_widen_and_clamp() {
        let errors: Vec<f64> = (0..100).map(|i| i as f64 - 50.0).collect();
        let b = ErrorBands::new(errors, 2, &[], true);
        let f = b
            .forecast(
                "t",
                0,
                3600,
                vec![100.0, 100.0, 100.0, 1.0],
                &[0.9, 0.1, 0.5],
            )
            .unwrap();
        f.check().unwrap();
        let (lo, hi) = (f.quantile(0.1).unwrap(), f.quantile(0.9).unwrap());
        assert!((hi[0] - 100.0 - 39.1).abs() < 1e-9, "{}", hi[0]);
        assert!((hi[2] - 100.0 - 39.1 * 2f64.sqrt()).abs() < 1e-9);
        assert_eq!(lo[3], 0.0);
        assert_eq!(f.quantile(0.5).unwrap(), &f.point[..]);
    }

    #[test]
    fn few_errors_fall_back_to_the_spread_of_recent_values() {
        let b = ErrorBands::new(vec![1.0], 24, &[1.0, f64::NAN, 3.0], false);
        assert_eq!(b.len(), 2);
        let b = ErrorBands::new(vec![], 24, &[f64::NAN], false);
        assert_eq!(b.len(), 1);
        assert!(!b.is_empty());
    }

    #[test]
    fn interpolation_fills_inside_and_extends_edges() {
        let v = [f64::NAN, 1.0, f64::NAN, f64::NAN, 4.0, f64::NAN];
        assert_eq!(interpolate(&v).unwrap(), vec![1.0, 1.0, 2.0, 3.0, 4.0, 4.0]);
        assert_eq!(interpolate(&[f64::NAN]), None);
        assert_eq!(present_mean(&[f64::NAN]), Err(FitError::NoData));
        assert_eq!(present_mean(&[1.0, f64::NAN, -3.0]), Ok((-1.0, false)));
    }

    #[test]
    fn selection_matches_the_sorted_quantile() {
        let v: Vec<f64> = (0..101).map(|i| ((i * 37) % 101) as f64 * 0.5).collect();
        let mut sorted = v.clone();
        sorted.sort_by(f64::total_cmp);
        for q in [0.0, 0.1, 0.333, 0.9, 1.0] {
            let want = skua_core::metrics::quantile_sorted(&sorted, q);
            assert!((select_quantile(&mut v.clone(), q) - want).abs() < 1e-12);
        }
    }
}
