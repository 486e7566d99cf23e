//! Tiny forecasters and fixtures for the tests (independent of skua-forecast's baselines).

use std::collections::BTreeMap;

use skua_core::{Forecast, RegularSeries, Ts};
use skua_fleet::ServerForecast;
use skua_forecast::{FitError, FittedForecaster, Forecaster};

/// A fitted model that returns a fixed path.
struct Path {
    start: Ts,
    step: i64,
    values: Vec<f64>,
}

impl FittedForecaster for Path {
    fn predict(&self, horizon: usize, _quantiles: &[f64]) -> Result<Forecast, FitError> {
        let point: Vec<f64> = (0..horizon)
            .map(|i| self.values.get(i).copied().unwrap_or(0.0))
            .collect();
        Ok(Forecast {
            start: self.start,
            step: self.step,
            point,
            quantiles: vec![],
        })
    }
}

/// Knows the future: predicts the true values that follow the history.
pub struct Oracle(pub RegularSeries);

impl Forecaster for Oracle {
    fn name(&self) -> String {
        "oracle".into()
    }
    fn fit(&self, history: &RegularSeries) -> Result<Box<dyn FittedForecaster>, FitError> {
        let from = history.len();
        // Missing truths are predicted as 0 so forecasts stay finite.
        let values = self.0.values()[from..]
            .iter()
            .map(|v| if v.is_nan() { 0.0 } else { *v })
            .collect();
        Ok(Box::new(Path {
            start: history.end(),
            step: history.step(),
            values,
        }))
    }
}

/// Repeats the last day of history.
pub struct PreviousDay;

impl Forecaster for PreviousDay {
    fn name(&self) -> String {
        "previous_day".into()
    }
    fn fit(&self, history: &RegularSeries) -> Result<Box<dyn FittedForecaster>, FitError> {
        let spd = history
            .steps_per_day()
            .ok_or(FitError::IrregularStep(history.step()))?;
        if history.len() < spd {
            return Err(FitError::TooShort {
                model: self.name(),
                needed: spd,
                have: history.len(),
            });
        }
        let values = history.values()[history.len() - spd..]
            .iter()
            .map(|v| if v.is_nan() { 0.0 } else { *v })
            .collect();
        Ok(Box::new(Path {
            start: history.end(),
            step: history.step(),
            values,
        }))
    }
}

/// Fails whenever the history holds an odd number of whole days.
pub struct FailsOnOddDays;

impl Forecaster for FailsOnOddDays {
    fn name(&self) -> String {
        "fails_on_odd_days".into()
    }
    fn fit(&self, history: &RegularSeries) -> Result<Box<dyn FittedForecaster>, FitError> {
        let spd = history.steps_per_day().unwrap_or(1);
        if (history.len() / spd) % 2 == 1 {
            return Err(FitError::NoData);
        }
        Ok(Box::new(Path {
            start: history.end(),
            step: history.step(),
            values: vec![1.0; spd],
        }))
    }
}

/// A server with an optional `cluster` label and a forecast starting at `start`.
pub fn server(
    id: &str,
    cluster: Option<&str>,
    start: Ts,
    step: i64,
    point: Vec<f64>,
) -> ServerForecast {
    let mut labels = BTreeMap::new();
    if let Some(c) = cluster {
        labels.insert("cluster".to_string(), c.to_string());
    }
    ServerForecast {
        window_cost: None,
        server: id.into(),
        labels,
        forecast: Forecast {
            start,
            step,
            point,
            quantiles: vec![],
        },
    }
}
