//! The [`Forecaster`] trait. Fitted and unfitted models are different types: a
//! [`Forecaster`] is a recipe (configuration only); [`Forecaster::fit`] learns from a
//! history and returns a [`FittedForecaster`] that can predict.

use skua_core::{Forecast, RegularSeries};

/// Why a model could not be fitted or could not predict.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    /// The history is shorter than the model needs.
    #[error("history too short for {model}: need {needed} points, have {have}")]
    TooShort {
        /// Model name.
        model: String,
        /// Points needed.
        needed: usize,
        /// Points available.
        have: usize,
    },
    /// The step does not divide a day, so daily seasonality is undefined.
    #[error("step of {0} s does not divide a day")]
    IrregularStep(i64),
    /// The history holds no usable value.
    #[error("history holds no usable value")]
    NoData,
    /// The model produced a non-finite forecast.
    #[error("{model} produced a non-finite forecast")]
    NonFinite {
        /// Model name.
        model: String,
    },
    /// A requested quantile level is not inside (0, 1).
    #[error("quantile level {0} is outside (0, 1); ask for levels such as 0.1, 0.5, 0.9")]
    BadQuantile(f64),
    /// The model configuration is unusable (e.g. a seasonal period of zero steps).
    #[error("invalid configuration for {model}: {reason}")]
    BadConfig {
        /// Model name.
        model: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
}

/// A forecasting model, unfitted: its name and configuration.
pub trait Forecaster: Send + Sync {
    /// Short stable name used in reports and the registry (e.g. `previous_day`, `mean_7d`).
    fn name(&self) -> String;
    /// Learns from `history` (NaN = missing) and returns a model ready to predict the
    /// steps that follow the history's last point.
    fn fit(&self, history: &RegularSeries) -> Result<Box<dyn FittedForecaster>, FitError>;

    /// Fits on `history` and predicts `horizon` steps with the given quantile levels.
    fn fit_predict(
        &self,
        history: &RegularSeries,
        horizon: usize,
        quantiles: &[f64],
    ) -> Result<Forecast, FitError> {
        self.fit(history)?.predict(horizon, quantiles)
    }
}

/// A fitted model: predicts `horizon` steps after the end of its training history.
pub trait FittedForecaster: Send {
    /// Point forecast plus the requested quantile levels (each in (0, 1)), starting at the
    /// end of the training history. Every value in the result is finite.
    fn predict(&self, horizon: usize, quantiles: &[f64]) -> Result<Forecast, FitError>;
}

/// Validates requested quantile levels and returns them sorted, without duplicates
/// (levels closer than 1e-9 count as one). Every model's `predict` should go through it so
/// that forecasts always satisfy [`Forecast::check`].
pub fn sorted_levels(levels: &[f64]) -> Result<Vec<f64>, FitError> {
    if let Some(&bad) = levels.iter().find(|q| !(**q > 0.0 && **q < 1.0)) {
        return Err(FitError::BadQuantile(bad));
    }
    let mut out = levels.to_vec();
    out.sort_by(f64::total_cmp);
    out.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_sorted_deduplicated_and_checked() {
        assert_eq!(
            sorted_levels(&[0.9, 0.1, 0.5, 0.1]).unwrap(),
            vec![0.1, 0.5, 0.9]
        );
        assert_eq!(sorted_levels(&[]).unwrap(), Vec::<f64>::new());
        assert_eq!(sorted_levels(&[0.5, 1.0]), Err(FitError::BadQuantile(1.0)));
        assert!(matches!(sorted_levels(&[f64::NAN]), Err(FitError::BadQuantile(q)) if q.is_nan()));
        assert_eq!(sorted_levels(&[0.0]), Err(FitError::BadQuantile(0.0)));
    }
}
