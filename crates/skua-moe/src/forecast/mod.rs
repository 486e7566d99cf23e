//! Per-(layer, expert) load forecasting and sampled futures.
//!
//! A *history* is a slice of consecutive windows (oldest first) of [`ExpertLoad`], all of one
//! shape. Every forecaster predicts the next window. Estimators work on per-layer **shares**
//! (each window's row divided by its total), so a window with more tokens does not outweigh the
//! others unless the estimator says so, and the forecast is then scaled to the *mean window total
//! per layer* of the history, so that a forecast is a count comparable to one window.
//!
//! * [`estimators`]: what serving systems do today — the last window, a sliding window (DeepSeek
//!   EPLB's inputs, vLLM's `EPLBConfig.window_size`, SGLang's rolling
//!   `--expert-distribution-recorder-buffer-size`), an EWMA — and skua's own [`SkuaForecaster`]
//!   (empirical-Bayes shrinkage plus a per-layer choice by backtest).
//! * [`futures`]: sampled next windows (Dirichlet–multinomial) for a robust planning objective,
//!   and multinomial resamples for an evaluation's noise floor.

pub mod estimators;
pub mod futures;

pub use estimators::{BaseEstimator, Ewma, LastWindow, LayerChoice, SkuaForecaster, SlidingWindow};
pub use futures::{
    bootstrap_futures, bootstrap_layer, dirichlet_concentration, multinomial_noise, sample_futures,
};

use crate::MoeError;
use crate::load::{ExpertLoad, TokenTrace};

/// Predicts the next window's per-(layer, expert) load from consecutive past windows.
pub trait LoadForecaster: Send + Sync {
    /// A short, stable name (used in reports and on the command line).
    fn name(&self) -> &str;
    /// The next window's expected load, scaled to the history's mean window total per layer.
    ///
    /// `history` is oldest first, every window of the same shape; an empty history or a shape
    /// mismatch is an error.
    fn forecast(&self, history: &[ExpertLoad]) -> Result<ExpertLoad, MoeError>;
}

/// Checks that `history` is non-empty and of one shape; returns `(layers, experts)`.
pub(crate) fn check_history(history: &[ExpertLoad]) -> Result<(usize, usize), MoeError> {
    let first = history
        .first()
        .ok_or_else(|| MoeError::Shape("a forecast needs at least one window of history".into()))?;
    let shape = (first.layers(), first.experts());
    for (w, load) in history.iter().enumerate() {
        if (load.layers(), load.experts()) != shape {
            return Err(MoeError::Shape(format!(
                "history window {w} is {} layers × {} experts, window 0 is {} × {}",
                load.layers(),
                load.experts(),
                shape.0,
                shape.1
            )));
        }
    }
    Ok(shape)
}

/// A row's shares (row / its total), or `None` when the total is zero.
pub(crate) fn shares(row: &[f64]) -> Option<Vec<f64>> {
    let total: f64 = row.iter().sum();
    (total > 0.0).then(|| row.iter().map(|v| v / total).collect())
}

/// Per layer, the mean window total of the history.
pub(crate) fn mean_layer_totals(history: &[ExpertLoad], layers: usize) -> Vec<f64> {
    let n = history.len().max(1) as f64;
    (0..layers)
        .map(|l| history.iter().map(|h| h.layer_total(l)).sum::<f64>() / n)
        .collect()
}

/// Builds a load from per-layer shares scaled by per-layer totals.
pub(crate) fn scaled(shares: &[Vec<f64>], totals: &[f64]) -> Result<ExpertLoad, MoeError> {
    ExpertLoad::from_rows(
        shares
            .iter()
            .zip(totals)
            .map(|(s, t)| s.iter().map(|p| p * t).collect())
            .collect(),
    )
}

/// The L1 distance between two rows' shares (0 = the same distribution, 2 = disjoint), or `None`
/// when either row is all zero.
pub fn share_distance(forecast: &[f64], actual: &[f64]) -> Option<f64> {
    let (f, a) = (shares(forecast)?, shares(actual)?);
    Some(f.iter().zip(&a).map(|(x, y)| (x - y).abs()).sum())
}

/// The mean over layers of [`share_distance`] between a forecast and what happened (layers where
/// either side is all zero are skipped; 0 when none is left).
pub fn share_error(forecast: &ExpertLoad, actual: &ExpertLoad) -> Result<f64, MoeError> {
    if (forecast.layers(), forecast.experts()) != (actual.layers(), actual.experts()) {
        return Err(MoeError::Shape(format!(
            "forecast is {} × {}, actual is {} × {}",
            forecast.layers(),
            forecast.experts(),
            actual.layers(),
            actual.experts()
        )));
    }
    let d: Vec<f64> = (0..forecast.layers())
        .filter_map(|l| share_distance(forecast.layer(l), actual.layer(l)))
        .collect();
    Ok(if d.is_empty() {
        0.0
    } else {
        d.iter().sum::<f64>() / d.len() as f64
    })
}

/// One-window-ahead backtest: for every origin `t` in `min_history..windows.len()`, forecast
/// window `t` from `windows[..t]` and return its [`share_error`], in origin order.
pub fn one_step_errors(
    forecaster: &dyn LoadForecaster,
    windows: &[ExpertLoad],
    min_history: usize,
) -> Result<Vec<f64>, MoeError> {
    check_history(windows)?;
    (min_history.max(1)..windows.len())
        .map(|t| share_error(&forecaster.forecast(&windows[..t])?, &windows[t]))
        .collect()
}

/// Splits a trace into `windows` consecutive windows of whole sequences with about equal tokens.
///
/// Window `j` ends at the sequence boundary closest to `(j + 1) · tokens / windows`, keeping at
/// least one sequence in every window; a trace with fewer sequences than `windows` gives one
/// window per sequence. `windows == 0` gives no window.
pub fn windows_from_trace(trace: &TokenTrace, windows: usize) -> Vec<ExpertLoad> {
    let sequences = trace.sequences();
    let windows = windows.min(sequences);
    if windows == 0 {
        return Vec::new();
    }
    // ends[s] = token index just past sequence s.
    let ends: Vec<usize> = (0..sequences)
        .map(|s| trace.sequence_range(s).end)
        .collect();
    let tokens = trace.tokens() as f64;
    let mut out = Vec::with_capacity(windows);
    let mut first = 0; // first sequence of the current window
    for j in 0..windows {
        let last = if j + 1 == windows {
            sequences - 1
        } else {
            let target = (j + 1) as f64 * tokens / windows as f64;
            // Keep one sequence for each window still to come.
            let latest = sequences - (windows - j);
            (first..=latest)
                .min_by(|&a, &b| {
                    let da = (ends[a] as f64 - target).abs();
                    let db = (ends[b] as f64 - target).abs();
                    da.total_cmp(&db)
                })
                .unwrap_or(first)
        };
        let start = trace.sequence_range(first).start;
        out.push(trace.counts_in(start..ends[last]));
        first = last + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(rows: &[&[f64]]) -> ExpertLoad {
        ExpertLoad::from_rows(rows.iter().map(|r| r.to_vec()).collect()).unwrap()
    }

    #[test]
    fn history_must_be_non_empty_and_of_one_shape() {
        assert!(check_history(&[]).is_err());
        let a = load(&[&[1.0, 2.0]]);
        let b = load(&[&[1.0, 2.0, 3.0]]);
        let err = check_history(&[a.clone(), b]).unwrap_err().to_string();
        assert!(err.contains("window 1"), "{err}");
        assert_eq!(check_history(&[a.clone(), a]).unwrap(), (1, 2));
    }

    #[test]
    fn share_error_is_the_mean_l1_distance_of_shares() {
        let f = load(&[&[1.0, 1.0], &[3.0, 1.0]]);
        let a = load(&[&[10.0, 30.0], &[0.0, 0.0]]);
        // Layer 0: |0.5-0.25| + |0.5-0.75| = 0.5; layer 1 is skipped (actual all zero).
        assert!((share_error(&f, &a).unwrap() - 0.5).abs() < 1e-12);
        assert!(share_error(&f, &load(&[&[1.0, 1.0]])).is_err());
    }

    #[test]
    fn windows_follow_sequence_boundaries_with_about_equal_tokens() {
        // 1 layer, 4 experts, top-1; sequences of 3, 1, 2, 2 tokens (8 tokens).
        let choices = vec![0, 0, 0, 1, 2, 2, 3, 3];
        let trace = TokenTrace::new(4, 1, 1, choices, vec![0, 3, 4, 6]).unwrap();
        let w = windows_from_trace(&trace, 2);
        assert_eq!(w.len(), 2);
        // Target boundary at token 4 = end of sequence 1.
        assert_eq!(w[0].layer(0), &[3.0, 1.0, 0.0, 0.0]);
        assert_eq!(w[1].layer(0), &[0.0, 0.0, 2.0, 2.0]);
        // Every window gets at least one sequence, and no more windows than sequences.
        let w = windows_from_trace(&trace, 4);
        assert_eq!(
            w.iter().map(|x| x.layer_total(0)).collect::<Vec<_>>(),
            vec![3.0, 1.0, 2.0, 2.0]
        );
        assert_eq!(windows_from_trace(&trace, 9).len(), 4);
        assert!(windows_from_trace(&trace, 0).is_empty());
    }
}
