//! skua-forecast: forecasting models behind one trait, rolling-origin backtests and
//! series classification.
//!
//! Architecture invariant: no I/O, no clock, no threads of its own. Given a series (and a
//! seed where randomness is involved) every function here is deterministic.

pub mod model;

pub use model::{FitError, FittedForecaster, Forecaster};
