//! skua-forecast: forecasting models behind one trait, rolling-origin backtests and
//! series classification.
//!
//! * [`model`]: the [`Forecaster`] / [`FittedForecaster`] traits.
//! * [`models`]: baseline forecasters (`previous_day`, `previous_week`, `seasonal_naive`,
//!   `mean_<k>d`), [`baselines`] and [`by_name`].
//! * [`seasonality`]: NaN-aware autocorrelation and period detection.
//! * [`backtest`]: rolling-origin evaluation (statsforecast's `cross_validation` convention).
//! * [`classify`]: stable / daily / weekly / unpredictable.
//!
//! Architecture invariant: no I/O, no clock, no threads of its own. Given a series (and a
//! seed where randomness is involved) every function here is deterministic.

pub mod alerts;
pub mod backtest;
pub mod classify;
pub mod model;
pub mod models;
pub mod protocol;
pub mod registry;
pub mod seasonality;
pub mod select;

pub use backtest::{Backtest, BacktestConfig, BacktestSummary, WindowResult, backtest};
pub use classify::{Classification, SeriesClass, classify};
pub use model::{FitError, FittedForecaster, Forecaster};
pub use models::{
    MeanOfDays, Period, PreviousDay, PreviousWeek, SeasonalNaive, baselines, by_name,
};
