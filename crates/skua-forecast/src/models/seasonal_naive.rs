//! `seasonal_naive`: repeat the last seasonal cycle, with the period detected from the
//! history or given.

use skua_core::RegularSeries;

use crate::model::{FitError, FittedForecaster, Forecaster};
use crate::models::seasonal::FittedSeasonal;
use crate::seasonality::detect_period;

/// How [`SeasonalNaive`] chooses its period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Period {
    /// Detected per series with [`detect_period`]; one day if nothing is detected (or, when
    /// the step does not divide a day, one step).
    #[default]
    Detected,
    /// A fixed number of steps (at least 1).
    Steps(usize),
}

/// Forecasts each step as the value one period earlier (fallbacks for missing values as in
/// [`crate::models::seasonal`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeasonalNaive {
    /// The seasonal period.
    pub period: Period,
}

impl SeasonalNaive {
    /// Stable name in reports and the registry.
    pub const NAME: &'static str = "seasonal_naive";

    /// The period (in steps) this model would use on `history`.
    pub fn period_for(&self, history: &RegularSeries) -> usize {
        match self.period {
            Period::Steps(n) => n,
            Period::Detected => detect_period(history)
                .map(|p| p.steps)
                .or_else(|| history.steps_per_day())
                .unwrap_or(1),
        }
    }

    /// Fits and returns the concrete fitted type.
    pub fn fit_seasonal(&self, history: &RegularSeries) -> Result<FittedSeasonal, FitError> {
        FittedSeasonal::fit(Self::NAME.into(), history, self.period_for(history), 1)
    }
}

impl Forecaster for SeasonalNaive {
    fn name(&self) -> String {
        Self::NAME.into()
    }

    fn fit(&self, history: &RegularSeries) -> Result<Box<dyn FittedForecaster>, FitError> {
        Ok(Box::new(self.fit_seasonal(history)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::TAU;

    #[test]
    fn detects_daily_and_weekly_periods() {
        let daily: Vec<f64> = (0..24 * 28)
            .map(|t| 50.0 + 20.0 * (TAU * t as f64 / 24.0).sin() + ((t * 13) % 7) as f64)
            .collect();
        let s = RegularSeries::new(0, 3600, daily).unwrap();
        assert_eq!(SeasonalNaive::default().period_for(&s), 24);

        // Weekday/weekend level on top of a daily cycle: the week explains much more.
        let weekly: Vec<f64> = (0..24 * 35)
            .map(|t| {
                let weekend = (t / 24) % 7 >= 5;
                (if weekend { 10.0 } else { 60.0 }) + 5.0 * (TAU * t as f64 / 24.0).sin()
            })
            .collect();
        let s = RegularSeries::new(0, 3600, weekly.clone()).unwrap();
        let m = SeasonalNaive::default();
        assert_eq!(m.period_for(&s), 168);
        let f = m.fit_predict(&s, 24, &[]).unwrap();
        assert_eq!(f.point[..], weekly[weekly.len() - 168..weekly.len() - 144]);
    }

    #[test]
    fn fixed_period_and_fallback_period() {
        let s = RegularSeries::new(0, 3600, (0..30).map(f64::from).collect()).unwrap();
        let f = SeasonalNaive {
            period: Period::Steps(5),
        }
        .fit_predict(&s, 6, &[])
        .unwrap();
        assert_eq!(f.point, vec![25.0, 26.0, 27.0, 28.0, 29.0, 25.0]);
        // A 30-hour ramp has no detectable period: fall back to one day.
        assert_eq!(SeasonalNaive::default().period_for(&s), 24);
        assert!(matches!(
            SeasonalNaive {
                period: Period::Steps(0)
            }
            .fit(&s)
            .err(),
            Some(FitError::BadConfig { .. })
        ));
    }
}
