//! Rolling-origin backtests, following statsforecast's
//! `cross_validation(h, step_size, n_windows)` convention.
//!
//! For a series of `n` points, horizon `h` and stride `s`, window `k` (counted back from the
//! end, `k = 0` is the last) trains on the first `n − h − k·s` points and is scored on the
//! `h` points that follow. Its *cutoff* is the timestamp of the last training point, so a
//! forecast uses only points at or before its cutoff; the last window's actuals end at the
//! series' last point. Windows are reported oldest first.

use serde::{Deserialize, Serialize};
use skua_core::metrics::{coverage, mae, mase, nanmean, rmse, seasonal_scale, smape};
use skua_core::{Forecast, RegularSeries, Ts};

use crate::model::{FitError, Forecaster};

/// Lower and upper quantile levels of the 80 % interval whose coverage is reported.
pub const INTERVAL_80: (f64, f64) = (0.1, 0.9);

/// How to cut a series into rolling-origin windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestConfig {
    /// Steps forecast at each cutoff (`h`).
    pub horizon_steps: usize,
    /// Steps between consecutive cutoffs (`step_size`).
    pub stride_steps: usize,
    /// The last `n` windows (`n_windows`); `None` = every window with enough training data.
    pub windows: Option<usize>,
    /// Windows whose training part is shorter than this are skipped (and counted).
    pub min_train_steps: usize,
    /// Quantile levels to request; 0.1 and 0.9 are always added for the coverage metric.
    pub quantiles: Vec<f64>,
}

impl BacktestConfig {
    /// The fleet protocol on a grid with `steps_per_day` points a day: 1-day horizon and
    /// stride, the last 14 windows, at least 7 days of training, quantiles 0.1/0.5/0.9.
    pub fn daily(steps_per_day: usize) -> Self {
        BacktestConfig {
            horizon_steps: steps_per_day,
            stride_steps: steps_per_day,
            windows: Some(14),
            min_train_steps: 7 * steps_per_day,
            quantiles: vec![0.1, 0.5, 0.9],
        }
    }
}

impl Default for BacktestConfig {
    /// [`BacktestConfig::daily`] for hourly data.
    fn default() -> Self {
        BacktestConfig::daily(24)
    }
}

/// Why a backtest could not run at all.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BacktestError {
    /// Horizon or stride of zero, or zero windows requested.
    #[error("invalid backtest configuration: {0}")]
    BadConfig(String),
}

/// One scored window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowResult {
    /// Timestamp of the last training point (statsforecast's `cutoff`).
    pub cutoff: Ts,
    /// Number of training points.
    pub train_len: usize,
    /// The forecast (starts one step after `cutoff`).
    pub forecast: Forecast,
    /// The actual values over the horizon (NaN = missing).
    pub actuals: Vec<f64>,
    /// Mean absolute error of the point forecast.
    pub mae: f64,
    /// Root mean squared error of the point forecast.
    pub rmse: f64,
    /// MAE scaled by the in-sample one-day seasonal-naive MAE of the training part
    /// (NaN if that scale is zero or undefined).
    pub mase: f64,
    /// Symmetric MAPE in percent.
    pub smape: f64,
    /// Share of actuals inside the 0.1–0.9 band.
    pub coverage_80: f64,
}

/// A window whose model failed to fit or predict.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowFailure {
    /// Cutoff of the window.
    pub cutoff: Ts,
    /// The error.
    pub error: FitError,
}

/// Means over the scored windows (each ignoring NaN values) and window counts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BacktestSummary {
    /// Windows scored.
    pub windows: usize,
    /// Windows skipped because every actual was missing.
    pub skipped_no_actuals: usize,
    /// Windows skipped because the training part was shorter than `min_train_steps`.
    pub skipped_short_train: usize,
    /// Windows where the model failed.
    pub failed: usize,
    /// Mean MAE.
    pub mae: f64,
    /// Mean RMSE.
    pub rmse: f64,
    /// Mean MASE.
    pub mase: f64,
    /// Mean sMAPE.
    pub smape: f64,
    /// Mean 80 % interval coverage.
    pub coverage_80: f64,
}

/// The outcome of a backtest of one model on one series.
#[derive(Debug, Clone, PartialEq)]
pub struct Backtest {
    /// Model name.
    pub model: String,
    /// Scored windows, oldest first.
    pub windows: Vec<WindowResult>,
    /// Windows where the model failed, oldest first.
    pub failures: Vec<WindowFailure>,
    /// Means and counts.
    pub summary: BacktestSummary,
}

/// Training lengths (numbers of points before each cutoff, oldest first) of the windows
/// `config` defines on a series of `n` points, and how many were dropped for a short
/// training part.
pub fn cutoffs(n: usize, config: &BacktestConfig) -> Result<(Vec<usize>, usize), BacktestError> {
    if config.horizon_steps == 0 || config.stride_steps == 0 || config.windows == Some(0) {
        return Err(BacktestError::BadConfig(format!(
            "horizon ({}) , stride ({}) and windows ({:?}) must be at least 1",
            config.horizon_steps, config.stride_steps, config.windows
        )));
    }
    let min_train = config.min_train_steps.max(1);
    let mut train_lens = Vec::new();
    let mut short = 0;
    for k in 0.. {
        if config.windows.is_some_and(|w| k >= w) {
            break;
        }
        let back = config.horizon_steps + k * config.stride_steps;
        match n.checked_sub(back) {
            Some(len) if len >= min_train => train_lens.push(len),
            Some(_) | None => {
                if let Some(w) = config.windows {
                    short = w - k;
                }
                break;
            }
        }
    }
    train_lens.reverse();
    Ok((train_lens, short))
}

/// Runs a rolling-origin backtest of `model` on `series`.
pub fn backtest(
    model: &dyn Forecaster,
    series: &RegularSeries,
    config: &BacktestConfig,
) -> Result<Backtest, BacktestError> {
    let (train_lens, skipped_short_train) = cutoffs(series.len(), config)?;
    let mut levels = config.quantiles.clone();
    levels.extend([INTERVAL_80.0, INTERVAL_80.1]);
    let day = series.steps_per_day().unwrap_or(1);
    let values = series.values();

    let mut windows = Vec::with_capacity(train_lens.len());
    let mut failures = Vec::new();
    let mut skipped_no_actuals = 0;
    for len in train_lens {
        let cutoff = series.ts_at(len - 1);
        let actuals = values[len..len + config.horizon_steps].to_vec();
        if actuals.iter().all(|v| v.is_nan()) {
            skipped_no_actuals += 1;
            continue;
        }
        let train = series.head(len);
        let forecast = match model.fit_predict(&train, config.horizon_steps, &levels) {
            Ok(f) => f,
            Err(error) => {
                failures.push(WindowFailure { cutoff, error });
                continue;
            }
        };
        let point = &forecast.point;
        let (lo, hi) = (
            forecast.quantile(INTERVAL_80.0).unwrap_or(point),
            forecast.quantile(INTERVAL_80.1).unwrap_or(point),
        );
        windows.push(WindowResult {
            cutoff,
            train_len: len,
            mae: mae(&actuals, point),
            rmse: rmse(&actuals, point),
            mase: mase(&actuals, point, seasonal_scale(train.values(), day)),
            smape: smape(&actuals, point),
            coverage_80: coverage(&actuals, lo, hi),
            actuals,
            forecast,
        });
    }
    let mean = |f: fn(&WindowResult) -> f64| nanmean(&windows.iter().map(f).collect::<Vec<_>>());
    let summary = BacktestSummary {
        windows: windows.len(),
        skipped_no_actuals,
        skipped_short_train,
        failed: failures.len(),
        mae: mean(|w| w.mae),
        rmse: mean(|w| w.rmse),
        mase: mean(|w| w.mase),
        smape: mean(|w| w.smape),
        coverage_80: mean(|w| w.coverage_80),
    };
    Ok(Backtest {
        model: model.name(),
        windows,
        failures,
        summary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::PreviousDay;

    fn config(h: usize, s: usize, w: Option<usize>, min_train: usize) -> BacktestConfig {
        BacktestConfig {
            horizon_steps: h,
            stride_steps: s,
            windows: w,
            min_train_steps: min_train,
            quantiles: vec![0.5],
        }
    }

    #[test]
    fn cutoffs_count_back_from_the_end() {
        // n = 100, h = 10, s = 5, 3 windows → train lengths 80, 85, 90.
        assert_eq!(
            cutoffs(100, &config(10, 5, Some(3), 1)).unwrap(),
            (vec![80, 85, 90], 0)
        );
        // All windows: down to the minimum training length.
        let (lens, short) = cutoffs(100, &config(10, 30, None, 20)).unwrap();
        assert_eq!((lens, short), (vec![30, 60, 90], 0));
        // Asking for more windows than fit counts the missing ones.
        assert_eq!(
            cutoffs(30, &config(10, 10, Some(5), 5)).unwrap(),
            (vec![10, 20], 3)
        );
        assert!(cutoffs(30, &config(0, 10, None, 5)).is_err());
        assert!(cutoffs(30, &config(1, 1, Some(0), 5)).is_err());
    }

    #[test]
    fn windows_with_no_actuals_are_skipped_and_counted() {
        let mut v: Vec<f64> = (0..24 * 10).map(|t| (t % 24) as f64).collect();
        for x in &mut v[24 * 8..24 * 9] {
            *x = f64::NAN;
        }
        let s = RegularSeries::new(0, 3600, v).unwrap();
        let bt = backtest(&PreviousDay, &s, &config(24, 24, Some(3), 24)).unwrap();
        assert_eq!(bt.summary.windows, 2);
        assert_eq!(bt.summary.skipped_no_actuals, 1);
        assert_eq!(bt.summary.mae, 0.0);
        assert_eq!(bt.model, "previous_day");
    }

    #[test]
    fn failures_are_recorded_per_window() {
        let s = RegularSeries::new(
            0,
            3600,
            vec![f64::NAN; 30].into_iter().chain([1.0; 20]).collect(),
        )
        .unwrap();
        let bt = backtest(&PreviousDay, &s, &config(5, 5, None, 24)).unwrap();
        // Train lengths 25..=45 by 5: the window at 25 has no actuals, the one at 30 has
        // no training data, the other three are scored.
        assert_eq!(bt.summary.skipped_no_actuals, 1);
        assert_eq!(bt.summary.failed, 1);
        assert_eq!(bt.failures[0].error, FitError::NoData);
        assert_eq!(bt.failures[0].cutoff, 29 * 3600);
        assert_eq!(bt.summary.windows, 3);
    }
}
