//! `seasonal_ets`: Holt–Winters exponential smoothing with additive errors, an additive
//! damped trend and an additive daily season — ETS(A, Ad, A) in the taxonomy of Hyndman,
//! Koehler, Ord & Snyder, *Forecasting with Exponential Smoothing* (2008), §2.3 — which the
//! augurs crates lack. The non-seasonal core, ETS(A, Ad, N), also forecasts the deseasonalised
//! part of [`crate::models::mstl`].
//!
//! # Model
//! With one-step prediction `ŷ_t = l + φ·b + s_{t−m}` and error `e_t = y_t − ŷ_t`:
//! `l ← l + φ·b + α·e`, `b ← φ·b + β·e`, `s_t = s_{t−m} + γ·e`. A missing `y_t` leaves
//! `e_t = 0`: the states move by their prediction alone. The `h`-step forecast is
//! `l + (φ + … + φ^h)·b + s` at the same phase of the last season.
//!
//! # Fitting
//! On the last [`SeasonalEts::fit_days`] days only (older load rarely says more about
//! tomorrow, and it bounds the cost): the initial season and level come from a classical
//! decomposition of the window's first week (day means and mean deviations per phase), the
//! initial trend is 0. The parameters minimise the one-step mean squared error, first over a
//! coarse grid of 32 points, then with at most [`NM_EVALS`] Nelder–Mead evaluations in an
//! unconstrained space mapped to `0.001 ≤ α ≤ 0.999`, `0 < β < α`, `0 < γ < 1 − α` and
//! `0.8 < φ < 0.98` (the usual admissible region; a damping above 0.98 extrapolates hourly
//! noise for days).
//!
//! # Quantiles
//! The fitted model is replayed at daily origins aligned with the end of the history (after a
//! burn-in of one week or half the window), forecasting the next day from the state at each
//! origin; the pooled errors make the bands as in [`crate::models::bands`]. They are day-ahead
//! errors, not one-step residuals, so the 80 % band matches what a 24 h forecast misses.

use skua_core::{Forecast, RegularSeries, Ts};

use crate::model::{FitError, FittedForecaster, Forecaster};
use crate::models::bands::{ErrorBands, present_mean, step_phase};
use crate::models::nelder_mead;

/// Nelder–Mead evaluations after the grid search.
pub const NM_EVALS: usize = 80;

/// Smoothing parameters of ETS(A, Ad, A) (`gamma` = 0 for the non-seasonal core).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EtsParams {
    /// Level smoothing.
    pub alpha: f64,
    /// Trend smoothing.
    pub beta: f64,
    /// Season smoothing.
    pub gamma: f64,
    /// Trend damping.
    pub phi: f64,
}

impl EtsParams {
    fn sigmoid(u: f64) -> f64 {
        1.0 / (1.0 + (-u).exp())
    }

    fn logit(p: f64) -> f64 {
        let p = p.clamp(1e-9, 1.0 - 1e-9);
        (p / (1.0 - p)).ln()
    }

    /// Maps unconstrained coordinates (3 without a season, 4 with) into the admissible region.
    fn from_free(u: &[f64], seasonal: bool) -> Self {
        let alpha = 0.001 + 0.998 * Self::sigmoid(u[0]);
        let beta = alpha * Self::sigmoid(u[1]);
        let phi = 0.8 + 0.18 * Self::sigmoid(u[2]);
        let gamma = if seasonal {
            (1.0 - alpha) * Self::sigmoid(u[3])
        } else {
            0.0
        };
        EtsParams {
            alpha,
            beta,
            gamma,
            phi,
        }
    }

    /// Inverse of [`Self::from_free`] for `beta / alpha`, `gamma / (1 − alpha)` fractions.
    fn to_free(alpha: f64, beta_frac: f64, phi: f64, gamma_frac: f64, seasonal: bool) -> Vec<f64> {
        let mut u = vec![
            Self::logit((alpha - 0.001) / 0.998),
            Self::logit(beta_frac),
            Self::logit((phi - 0.8) / 0.18),
        ];
        if seasonal {
            u.push(Self::logit(gamma_frac));
        }
        u
    }

    /// `φ + φ² + … + φ^h`.
    fn damped_sum(&self, h: usize) -> f64 {
        if (self.phi - 1.0).abs() < 1e-12 {
            h as f64
        } else {
            self.phi * (1.0 - self.phi.powi(h as i32)) / (1.0 - self.phi)
        }
    }
}

/// The states after `t` observations: level, trend and a ring of the last value of the season
/// at each phase (`season[t % m]` is the season of observation `t`; length 1 and 0 without a
/// season).
#[derive(Debug, Clone, PartialEq)]
pub struct EtsState {
    /// Observations consumed.
    pub t: usize,
    /// Level.
    pub level: f64,
    /// Trend (per step).
    pub trend: f64,
    /// Seasonal states by phase.
    pub season: Vec<f64>,
}

impl EtsState {
    /// Forecast `h ≥ 1` steps ahead.
    pub fn forecast(&self, p: &EtsParams, h: usize) -> f64 {
        let m = self.season.len();
        self.level + p.damped_sum(h) * self.trend + self.season[(self.t + h - 1) % m]
    }

    /// Consumes one observation (NaN = missing) and returns the squared error, 0 if missing.
    fn update(&mut self, p: &EtsParams, y: f64) -> f64 {
        let m = self.season.len();
        let s = &mut self.season[self.t % m];
        let pred_level = self.level + p.phi * self.trend;
        self.t += 1;
        if y.is_nan() {
            self.level = pred_level;
            self.trend *= p.phi;
            return 0.0;
        }
        let e = y - pred_level - *s;
        self.level = pred_level + p.alpha * e;
        self.trend = p.phi * self.trend + p.beta * e;
        *s += p.gamma * e;
        e * e
    }
}

/// The initial states for `y` with season length `m` (1 = none): day means and mean
/// deviations per phase over the first week, centred; trend 0.
pub fn initial_state(y: &[f64], m: usize) -> EtsState {
    let mut season = vec![0.0; m.max(1)];
    let chunk = if m > 1 { m } else { y.len().clamp(1, 24) };
    let mut level = None;
    if m > 1 {
        let days = (y.len() / m).clamp(1, 7);
        let mut sums = vec![(0.0, 0usize); m];
        for d in 0..days {
            let seg = &y[d * m..((d + 1) * m).min(y.len())];
            let Ok((mu, _)) = present_mean(seg) else {
                continue;
            };
            level.get_or_insert(mu);
            for (j, v) in seg.iter().enumerate().filter(|(_, v)| !v.is_nan()) {
                sums[j].0 += v - mu;
                sums[j].1 += 1;
            }
        }
        for (s, (sum, c)) in season.iter_mut().zip(&sums) {
            *s = if *c > 0 { sum / *c as f64 } else { 0.0 };
        }
        let centre = season.iter().sum::<f64>() / m as f64;
        season.iter_mut().for_each(|s| *s -= centre);
    }
    let level = level
        .or_else(|| present_mean(&y[..chunk.min(y.len())]).ok().map(|r| r.0))
        .or_else(|| present_mean(y).ok().map(|r| r.0))
        .unwrap_or(0.0);
    EtsState {
        t: 0,
        level,
        trend: 0.0,
        season,
    }
}

/// One-step mean squared error of `p` on `y` from `init` (∞ if the states diverge).
fn mse(y: &[f64], p: &EtsParams, init: &EtsState) -> f64 {
    let mut s = init.clone();
    let (mut sse, mut n) = (0.0, 0usize);
    for &v in y {
        sse += s.update(p, v);
        n += usize::from(!v.is_nan());
    }
    let out = sse / n.max(1) as f64;
    if out.is_finite() { out } else { f64::INFINITY }
}

/// Fits the parameters of ETS(A, Ad, A) (season length `m`) or ETS(A, Ad, N) (`m` = 1) to `y`
/// by a coarse grid and Nelder–Mead on the one-step MSE; returns them with the initial state.
pub fn fit_params(y: &[f64], m: usize) -> (EtsParams, EtsState) {
    let seasonal = m > 1;
    let init = initial_state(y, m);
    let mut objective = |u: &[f64]| mse(y, &EtsParams::from_free(u, seasonal), &init);
    let mut best = (Vec::new(), f64::INFINITY);
    let gammas: &[f64] = if seasonal { &[0.05, 0.3] } else { &[0.5] };
    for alpha in [0.02, 0.1, 0.3, 0.6] {
        for beta_frac in [0.01, 0.1] {
            for phi in [0.9, 0.97] {
                for &gamma_frac in gammas {
                    let u = EtsParams::to_free(alpha, beta_frac, phi, gamma_frac, seasonal);
                    let v = objective(&u);
                    if v < best.1 {
                        best = (u, v);
                    }
                }
            }
        }
    }
    let step = vec![0.7; best.0.len()];
    let (u, _) = nelder_mead::minimize(&mut objective, &best.0, &step, NM_EVALS, 1e-6);
    (EtsParams::from_free(&u, seasonal), init)
}

/// Runs the fitted model over `y` from `init`; calls `at_origin(state)` before observation
/// `o` for every daily origin `o` (`(y.len() − o) % day == 0`, `o ≥ burn_in`); returns the final
/// state.
pub fn filter(
    y: &[f64],
    p: &EtsParams,
    init: &EtsState,
    day: usize,
    burn_in: usize,
    mut at_origin: impl FnMut(&EtsState),
) -> EtsState {
    let mut s = init.clone();
    let n = y.len();
    for &v in y {
        if s.t >= burn_in && (n - s.t) % day == 0 {
            at_origin(&s);
        }
        s.update(p, v);
    }
    s
}

/// `seasonal_ets`: ETS(A, Ad, A) with a one-day season (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeasonalEts {
    /// Days of history the model is fitted on (at least 2).
    pub fit_days: usize,
}

impl Default for SeasonalEts {
    fn default() -> Self {
        SeasonalEts { fit_days: 28 }
    }
}

impl SeasonalEts {
    /// Stable name in reports and the registry.
    pub const NAME: &'static str = "seasonal_ets";

    /// Fits and returns the concrete fitted type.
    pub fn fit_ets(&self, history: &RegularSeries) -> Result<FittedEts, FitError> {
        let day = history
            .steps_per_day()
            .ok_or(FitError::IrregularStep(history.step()))?;
        let x = history.values();
        let n = x.len();
        if n < 2 * day {
            return Err(FitError::TooShort {
                model: Self::NAME.into(),
                needed: 2 * day,
                have: n,
            });
        }
        let (_, non_negative) = present_mean(x)?;
        let mut w = n.min(self.fit_days.max(2) * day);
        // A window that is mostly a hole says nothing: widen it to the whole history.
        if x[n - w..].iter().filter(|v| !v.is_nan()).count() < day {
            w = n;
        }
        let y = &x[n - w..];
        let (params, init) = fit_params(y, day);
        let burn_in = (7 * day).min(w / 2);
        let mut errors = Vec::with_capacity(w);
        let state = filter(y, &params, &init, day, burn_in, |s| {
            for h in 1..=day.min(w - s.t) {
                let a = y[s.t + h - 1];
                if !a.is_nan() {
                    errors.push((step_phase(s.t + h - 1, w, day), a - s.forecast(&params, h)));
                }
            }
        });
        Ok(FittedEts {
            name: Self::NAME.into(),
            start: history.end(),
            step: history.step(),
            params,
            state,
            bands: ErrorBands::new(errors, day, day, y, non_negative),
        })
    }
}

impl Forecaster for SeasonalEts {
    fn name(&self) -> String {
        Self::NAME.into()
    }

    fn fit(&self, history: &RegularSeries) -> Result<Box<dyn FittedForecaster>, FitError> {
        Ok(Box::new(self.fit_ets(history)?))
    }
}

/// A fitted `seasonal_ets`: parameters, final states and error bands.
#[derive(Debug, Clone, PartialEq)]
pub struct FittedEts {
    name: String,
    start: Ts,
    step: i64,
    params: EtsParams,
    state: EtsState,
    bands: ErrorBands,
}

impl FittedEts {
    /// The fitted smoothing parameters.
    pub fn params(&self) -> EtsParams {
        self.params
    }

    /// The states at the end of the history.
    pub fn state(&self) -> &EtsState {
        &self.state
    }
}

impl FittedForecaster for FittedEts {
    fn predict(&self, horizon: usize, quantiles: &[f64]) -> Result<Forecast, FitError> {
        let point = (1..=horizon)
            .map(|h| self.state.forecast(&self.params, h))
            .collect();
        self.bands
            .forecast(&self.name, self.start, self.step, point, quantiles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_noiseless_seasonal_series_is_fitted_exactly() {
        let y: Vec<f64> = (0..24 * 14)
            .map(|t| 10.0 + [0.0, 3.0, -1.0, 5.0][t % 4] - 7.0 / 4.0)
            .collect();
        let (p, init) = fit_params(&y, 4);
        assert!(mse(&y, &p, &init) < 1e-12, "{p:?}");
        let s = filter(&y, &p, &init, 4, 0, |_| {});
        for h in 1..=8 {
            let want = y[(y.len() + h - 1) % 4];
            assert!((s.forecast(&p, h) - want).abs() < 1e-6, "h {h}");
        }
    }

    #[test]
    fn parameters_stay_admissible() {
        for u in [
            [-50.0, -50.0, -50.0, -50.0],
            [50.0, 50.0, 50.0, 50.0],
            [0.0; 4],
        ] {
            let p = EtsParams::from_free(&u, true);
            assert!(p.alpha >= 0.001 && p.alpha <= 0.999);
            assert!(p.beta >= 0.0 && p.beta <= p.alpha);
            assert!(p.gamma >= 0.0 && p.gamma <= 1.0 - p.alpha);
            assert!(p.phi >= 0.8 && p.phi <= 0.98);
        }
        let u = EtsParams::to_free(0.3, 0.1, 0.9, 0.2, true);
        let p = EtsParams::from_free(&u, true);
        assert!((p.alpha - 0.3).abs() < 1e-9 && (p.beta - 0.03).abs() < 1e-9);
        assert!((p.phi - 0.9).abs() < 1e-9 && (p.gamma - 0.14).abs() < 1e-9);
    }

    #[test]
    fn missing_values_propagate_the_prediction() {
        let p = EtsParams {
            alpha: 0.5,
            beta: 0.1,
            gamma: 0.0,
            phi: 0.9,
        };
        let mut s = EtsState {
            t: 0,
            level: 10.0,
            trend: 1.0,
            season: vec![0.0],
        };
        assert_eq!(s.update(&p, f64::NAN), 0.0);
        assert!((s.level - 10.9).abs() < 1e-12 && (s.trend - 0.9).abs() < 1e-12);
        assert_eq!(s.t, 1);
    }

    #[test]
    fn short_or_irregular_histories_are_refused() {
        let s = RegularSeries::new(0, 3600, vec![1.0; 30]).unwrap();
        assert!(matches!(
            SeasonalEts::default().fit(&s).err(),
            Some(FitError::TooShort { needed: 48, .. })
        ));
        let s = RegularSeries::new(0, 7 * 3600, vec![1.0; 30]).unwrap();
        assert!(matches!(
            SeasonalEts::default().fit(&s).err(),
            Some(FitError::IrregularStep(_))
        ));
    }
}
