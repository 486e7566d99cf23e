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
}

/// A forecasting model, unfitted: its name and configuration.
pub trait Forecaster: Send + Sync {
    /// Short stable name used in reports and the registry (e.g. `previous_day`, `mean_7d`).
    fn name(&self) -> String;
    /// Learns from `history` (NaN = missing) and returns a model ready to predict the
    /// steps that follow the history's last point.
    fn fit(&self, history: &RegularSeries) -> Result<Box<dyn FittedForecaster>, FitError>;
}

/// A fitted model: predicts `horizon` steps after the end of its training history.
pub trait FittedForecaster: Send {
    /// Point forecast plus the requested quantile levels (each in (0, 1)), starting at the
    /// end of the training history. Every value in the result is finite.
    fn predict(&self, horizon: usize, quantiles: &[f64]) -> Result<Forecast, FitError>;
}
