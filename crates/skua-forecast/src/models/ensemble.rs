//! `ensemble`: the per-step median of a few cheap members — by default `mean_7d`,
//! `previous_week` and `seasonal_ets` — for the point and for every quantile level.
//!
//! A median of forecasts is a classic cheap hedge (the forecast-combination literature since
//! Bates & Granger 1969): with three members it drops, at every hour, the member that
//! disagrees most. Taking the median level by level keeps the bands non-crossing (the median
//! is monotone in each argument, so `lo_i ≤ point_i ≤ hi_i` for every member gives the same
//! order for the medians). Members that cannot fit (e.g. `previous_week` on six days) are left
//! out; the ensemble fails only when every member does, with the first member's error.

use skua_core::{Forecast, QuantileBand, RegularSeries};

use crate::model::{FitError, FittedForecaster, Forecaster, sorted_levels};
use crate::models::ets::SeasonalEts;
use crate::models::{MeanOfDays, PreviousWeek};

/// The median of its members' forecasts, step by step and level by level.
pub struct Ensemble {
    members: Vec<Box<dyn Forecaster>>,
}

impl Default for Ensemble {
    /// `mean_7d`, `previous_week`, `seasonal_ets`.
    fn default() -> Self {
        Ensemble::new(vec![
            Box::new(MeanOfDays { k: 7 }),
            Box::new(PreviousWeek),
            Box::new(SeasonalEts::default()),
        ])
    }
}

impl Ensemble {
    /// Stable name in reports and the registry (for the default members).
    pub const NAME: &'static str = "ensemble";

    /// An ensemble of the given members (at least one).
    pub fn new(members: Vec<Box<dyn Forecaster>>) -> Self {
        Ensemble { members }
    }

    /// Names of the members.
    pub fn member_names(&self) -> Vec<String> {
        self.members.iter().map(|m| m.name()).collect()
    }
}

impl std::fmt::Debug for Ensemble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ensemble")
            .field("members", &self.member_names())
            .finish()
    }
}

impl Forecaster for Ensemble {
    fn name(&self) -> String {
        Self::NAME.into()
    }

    fn fit(&self, history: &RegularSeries) -> Result<Box<dyn FittedForecaster>, FitError> {
        let mut fitted = Vec::with_capacity(self.members.len());
        let mut first_error = None;
        for m in &self.members {
            match m.fit(history) {
                Ok(f) => fitted.push(f),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if fitted.is_empty() {
            return Err(first_error.unwrap_or(FitError::BadConfig {
                model: Self::NAME.into(),
                reason: "an ensemble needs at least one member".into(),
            }));
        }
        Ok(Box::new(FittedEnsemble { fitted }))
    }
}

/// The fitted members of an [`Ensemble`].
pub struct FittedEnsemble {
    fitted: Vec<Box<dyn FittedForecaster>>,
}

/// The median of `v` (non-empty); reorders it.
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len();
    if m % 2 == 1 {
        v[m / 2]
    } else {
        0.5 * (v[m / 2 - 1] + v[m / 2])
    }
}

impl FittedForecaster for FittedEnsemble {
    fn predict(&self, horizon: usize, quantiles: &[f64]) -> Result<Forecast, FitError> {
        let levels = sorted_levels(quantiles)?;
        let mut forecasts = Vec::with_capacity(self.fitted.len());
        let mut first_error = None;
        for f in &self.fitted {
            match f.predict(horizon, &levels) {
                Ok(fc) => forecasts.push(fc),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let Some(first) = forecasts.first() else {
            return Err(first_error.unwrap_or(FitError::NoData));
        };
        let (start, step) = (first.start, first.step);
        let mut buf = vec![0.0; forecasts.len()];
        let mut combine = |pick: &dyn Fn(&Forecast) -> &[f64]| -> Vec<f64> {
            (0..horizon)
                .map(|h| {
                    for (b, fc) in buf.iter_mut().zip(&forecasts) {
                        *b = pick(fc)[h];
                    }
                    median(&mut buf)
                })
                .collect()
        };
        let point = combine(&|fc: &Forecast| &fc.point);
        let mut bands = Vec::with_capacity(levels.len());
        for &q in &levels {
            // Every member went through `sorted_levels`, so each holds every level.
            let values = combine(&|fc: &Forecast| fc.quantile(q).unwrap_or(&fc.point));
            bands.push(QuantileBand { q, values });
        }
        let forecast = Forecast {
            start,
            step,
            point,
            quantiles: bands,
        };
        if forecast.check().is_err() {
            return Err(FitError::NonFinite {
                model: Ensemble::NAME.into(),
            });
        }
        Ok(forecast)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0]), 2.5);
        assert_eq!(median(&mut [7.0]), 7.0);
    }

    #[test]
    fn no_member_is_a_config_error_and_a_failing_member_is_skipped() {
        let s = RegularSeries::new(0, 3600, (0..24 * 3).map(|t| t as f64).collect()).unwrap();
        assert!(matches!(
            Ensemble::new(vec![]).fit(&s).err(),
            Some(FitError::BadConfig { .. })
        ));
        // Three days: previous_week cannot fit, the other two can.
        let f = Ensemble::default()
            .fit_predict(&s, 24, &[0.1, 0.9])
            .unwrap();
        f.check().unwrap();
        assert_eq!(
            Ensemble::default().member_names(),
            ["mean_7d", "previous_week", "seasonal_ets"]
        );
    }
}
