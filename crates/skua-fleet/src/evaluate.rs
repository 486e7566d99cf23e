//! Day-by-day evaluation of window choices against actual load (the fleet benchmark
//! protocol, with days instead of counted-back windows).
//!
//! For every UTC day `T` of a series whose start has at least `min_history_days` days of
//! history before it (history = the points strictly before `T`'s 00:00) and which lies
//! wholly inside the series, each [`Policy`] picks the start of a job of `duration` inside
//! `T`; the choice is scored on `T`'s actual load:
//!
//! * **absolute regret**: mean actual load in the chosen window − the lowest actual window
//!   mean of the day;
//! * **relative regret**: absolute regret / (max − min of the day's actual window means),
//!   0 when that range is 0;
//! * **hit** (the protocol's `tol`): chosen actual mean ≤ best + `tol` × (max − min of the
//!   day's actual values);
//! * **exact hit**: the chosen start is the best start (ties → earliest);
//! * **busiest quarter**: chosen actual mean > the day's 75th percentile (linear);
//! * **MAE** of the point forecast over the day (forecasting policies only).
//!
//! Days are skipped — for every policy, so all policies are scored on the same
//! (series, day) set — when fewer than `min_present` of the day's values are present or
//! some candidate window has no actual value (*incomplete*), when the present values are
//! flat (std < 1e-9, *flat*), or when any model fails to fit or predict (*fit_failed*).
//! There are no group constraints here: each series is scored on its own, as the
//! protocol measures forecast-driven decision quality, not fleet packing.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use skua_core::metrics::{mae, quantile};
use skua_core::time::{SECONDS_PER_DAY, SECONDS_PER_HOUR, day_start, steps_per_day};
use skua_core::window::{argmin, rolling_means};
use skua_core::{RegularSeries, Ts};
use skua_forecast::Forecaster;
use skua_forecast::protocol::DecisionPolicy;

/// How a series' daily window is chosen.
#[derive(Clone)]
pub enum Policy {
    /// Fit the forecaster on the history, take the window with the lowest predicted mean.
    Model(Arc<dyn Forecaster>),
    /// A forecast plus its own window choice (e.g. skua's hindsight selector), as the
    /// fleet benchmark protocol runs it.
    Decision(Arc<dyn DecisionPolicy>),
    /// Always start at this UTC hour (the protocol's "fixed first window" is hour 0).
    Fixed {
        /// Start hour, 0..24.
        start_hour: u32,
    },
    /// A uniformly random start, deterministic per (series id, day, seed).
    Random {
        /// Seed mixed into the per-(series, day) hash.
        seed: u64,
    },
}

impl Policy {
    /// Name used in reports: the model's `name()`, `fixed_00h` or `random_s<seed>`.
    pub fn name(&self) -> String {
        match self {
            Policy::Model(f) => f.name(),
            Policy::Decision(d) => d.name(),
            Policy::Fixed { start_hour } => format!("fixed_{start_hour:02}h"),
            Policy::Random { seed } => format!("random_s{seed}"),
        }
    }

    /// The policy's kind.
    pub fn kind(&self) -> PolicyKind {
        match self {
            Policy::Model(_) | Policy::Decision(_) => PolicyKind::Model,
            Policy::Fixed { .. } => PolicyKind::Fixed,
            Policy::Random { .. } => PolicyKind::Random,
        }
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Kind of a policy, kept in results so summaries can compare models with baselines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyKind {
    /// A forecaster.
    Model,
    /// A fixed start hour.
    Fixed,
    /// A seeded random start.
    Random,
}

/// A policy's name and kind, in the order policies were given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyLabel {
    /// Report name.
    pub name: String,
    /// Kind.
    pub kind: PolicyKind,
}

/// Evaluation settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalConfig {
    /// Job length in seconds (default 1 h); covers `ceil(duration / step)` grid steps.
    pub duration: i64,
    /// Whole days of history required before a scored day (default 7).
    pub min_history_days: usize,
    /// Minimum share of a day's values that must be present (default 0.9).
    pub min_present: f64,
    /// Hit tolerance as a share of the day's actual range (default 0.10).
    pub tol: f64,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            duration: SECONDS_PER_HOUR,
            min_history_days: 7,
            min_present: 0.9,
            tol: 0.10,
        }
    }
}

/// Days not scored, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SkipCounts {
    /// Too many missing values, or a candidate window with no actual value.
    pub incomplete: usize,
    /// Actual values flat (std < 1e-9).
    pub flat: usize,
    /// Some model failed to fit or predict.
    pub fit_failed: usize,
}

impl SkipCounts {
    /// Adds another set of counts.
    pub fn add(&mut self, o: &SkipCounts) {
        self.incomplete += o.incomplete;
        self.flat += o.flat;
        self.fit_failed += o.fit_failed;
    }
}

/// One policy's decision on one day, scored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyScore {
    /// Chosen start.
    pub start: Ts,
    /// Mean actual load in the chosen window.
    pub actual_mean: f64,
    /// `actual_mean` − the day's best window mean.
    pub abs_regret: f64,
    /// `abs_regret` / range of the day's window means (0 if that range is 0).
    pub rel_regret: f64,
    /// Within `tol` × the day's value range of the best window.
    pub hit: bool,
    /// Chosen start == best start.
    pub exact_hit: bool,
    /// Chosen window mean above the day's 75th percentile.
    pub busiest_quarter: bool,
    /// MAE of the point forecast over the day (`None` for fixed and random policies).
    pub mae: Option<f64>,
}

/// All policies' scores on one day, in policy order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayScore {
    /// 00:00 UTC of the scored day.
    pub day: Ts,
    /// Start of the best actual window.
    pub best_start: Ts,
    /// Its mean actual load.
    pub best_mean: f64,
    /// One score per policy, in the order of [`SeriesEval::policies`].
    pub scores: Vec<PolicyScore>,
}

/// The evaluation of one series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesEval {
    /// Series id.
    pub id: String,
    /// Policies, in the order their scores appear in each [`DayScore`].
    pub policies: Vec<PolicyLabel>,
    /// Scored days, in time order.
    pub days: Vec<DayScore>,
    /// Days not scored, by reason.
    pub skipped: SkipCounts,
    /// Why the whole series could not be evaluated, if so (e.g. step does not divide a day).
    pub unusable: Option<String>,
}

/// Evaluates every policy on every eligible day of `series` (pure and deterministic).
pub fn evaluate_series(
    id: &str,
    series: &RegularSeries,
    policies: &[Policy],
    cfg: &EvalConfig,
) -> SeriesEval {
    let mut out = SeriesEval {
        id: id.to_string(),
        policies: policies
            .iter()
            .map(|p| PolicyLabel {
                name: p.name(),
                kind: p.kind(),
            })
            .collect(),
        days: Vec::new(),
        skipped: SkipCounts::default(),
        unusable: None,
    };
    let step = series.step();
    let Some(spd) = steps_per_day(step) else {
        out.unusable = Some(format!("step of {step} s does not divide a day"));
        return out;
    };
    let len = ((cfg.duration.max(1) + step - 1) / step) as usize;
    if len > spd {
        out.unusable = Some(format!("a job of {} s is longer than a day", cfg.duration));
        return out;
    }
    let n_cand = spd - len + 1;
    let values = series.values();
    let earliest = series.start() + cfg.min_history_days as i64 * SECONDS_PER_DAY;
    let mut day = day_start(earliest);
    if day < earliest {
        day += SECONDS_PER_DAY;
    }
    let mut choices: Vec<(usize, Option<f64>)> = Vec::with_capacity(policies.len());
    loop {
        let cutoff = series.index_at_or_after(day);
        if cutoff + spd > values.len() {
            break;
        }
        let this_day = day;
        day += SECONDS_PER_DAY;
        let actual = &values[cutoff..cutoff + spd];
        let present: Vec<f64> = actual.iter().copied().filter(|v| !v.is_nan()).collect();
        let window_means = rolling_means(actual, len);
        if (present.len() as f64) < cfg.min_present * spd as f64
            || window_means.iter().any(|m| m.is_nan())
        {
            out.skipped.incomplete += 1;
            continue;
        }
        if std_dev(&present) < 1e-9 {
            out.skipped.flat += 1;
            continue;
        }
        choices.clear();
        let mut failed = false;
        for p in policies {
            match choose(p, id, series, cutoff, this_day, spd, len, n_cand, actual) {
                Some(c) => choices.push(c),
                None => {
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            out.skipped.fit_failed += 1;
            continue;
        }
        out.days.push(score_day(
            series,
            cutoff,
            this_day,
            actual,
            &present,
            &window_means,
            &choices,
            cfg,
        ));
    }
    out
}

/// Index of the chosen start within the day, and the day's forecast MAE for models.
#[allow(clippy::too_many_arguments)]
fn choose(
    policy: &Policy,
    id: &str,
    series: &RegularSeries,
    cutoff: usize,
    day: Ts,
    spd: usize,
    len: usize,
    n_cand: usize,
    actual: &[f64],
) -> Option<(usize, Option<f64>)> {
    match policy {
        Policy::Model(f) => {
            let fitted = f.fit(&series.head(cutoff)).ok()?;
            let fc = fitted.predict(spd, &[]).ok()?;
            let point = fc.point.get(..spd)?;
            if point.iter().any(|v| !v.is_finite()) {
                return None;
            }
            let idx = argmin(&rolling_means(point, len))?;
            Some((idx, Some(mae(actual, point))))
        }
        Policy::Decision(d) => {
            let history = series.head(cutoff);
            let fc = d.forecast(&history, spd).ok()?;
            let point = fc.point.get(..spd)?;
            if point.iter().any(|v| !v.is_finite()) {
                return None;
            }
            let idx = d.choose(&fc, &history, len).min(n_cand - 1);
            Some((idx, Some(mae(actual, point))))
        }
        Policy::Fixed { start_hour } => {
            let target = day + i64::from(start_hour % 24) * SECONDS_PER_HOUR;
            let offset = (target - series.ts_at(cutoff)).max(0);
            let idx = ((offset + series.step() - 1) / series.step()) as usize;
            Some((idx.min(n_cand - 1), None))
        }
        Policy::Random { seed } => {
            let h = mix(mix(fnv1a(id.as_bytes()) ^ mix(day as u64)) ^ *seed);
            Some(((h % n_cand as u64) as usize, None))
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn score_day(
    series: &RegularSeries,
    cutoff: usize,
    day: Ts,
    actual: &[f64],
    present: &[f64],
    window_means: &[f64],
    choices: &[(usize, Option<f64>)],
    cfg: &EvalConfig,
) -> DayScore {
    let (w_min, w_max) = min_max(window_means);
    let (v_min, v_max) = min_max(present);
    let best = argmin(window_means).unwrap_or(0);
    let q75 = quantile(actual, 0.75);
    let w_range = w_max - w_min;
    let scores = choices
        .iter()
        .map(|&(idx, mae)| {
            let m = window_means[idx];
            let abs_regret = m - w_min;
            PolicyScore {
                start: series.ts_at(cutoff + idx),
                actual_mean: m,
                abs_regret,
                rel_regret: if w_range > 0.0 {
                    abs_regret / w_range
                } else {
                    0.0
                },
                hit: m <= w_min + cfg.tol * (v_max - v_min),
                exact_hit: idx == best,
                busiest_quarter: m > q75,
                mae,
            }
        })
        .collect();
    DayScore {
        day,
        best_start: series.ts_at(cutoff + best),
        best_mean: w_min,
        scores,
    }
}

fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        })
}

fn std_dev(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / v.len() as f64).sqrt()
}

/// FNV-1a: a stable hash of the series id (std's hasher is not stable across releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The splitmix64 finaliser: spreads every input bit over the output.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn daily_series(days: usize, start: Ts) -> RegularSeries {
        let v = (0..days * 24)
            .map(|i| ((i % 24) as f64 - 9.0).abs() + (i / 24) as f64 * 0.01)
            .collect();
        RegularSeries::new(start, 3600, v).unwrap()
    }

    /// A decision policy that forecasts a flat 5 and always picks start 3.
    struct PickThree;

    impl DecisionPolicy for PickThree {
        fn name(&self) -> String {
            "pick_three".into()
        }
        fn forecast(
            &self,
            history: &RegularSeries,
            horizon: usize,
        ) -> Result<skua_core::Forecast, skua_forecast::FitError> {
            Ok(skua_core::Forecast {
                start: history.end(),
                step: history.step(),
                point: vec![5.0; horizon],
                quantiles: Vec::new(),
            })
        }
        fn choose(&self, _: &skua_core::Forecast, _: &RegularSeries, _: usize) -> usize {
            3
        }
    }

    #[test]
    fn decision_policies_are_scored_on_their_own_choice() {
        let s = daily_series(10, 0);
        let policies = [Policy::Decision(Arc::new(PickThree))];
        let ev = evaluate_series("s", &s, &policies, &EvalConfig::default());
        assert_eq!(ev.policies[0].kind, PolicyKind::Model);
        assert!(!ev.days.is_empty());
        for d in &ev.days {
            let sc = &d.scores[0];
            assert_eq!(sc.start, d.day + 3 * 3600);
            // MAE of the flat 5 against the day's actual values.
            let k = s.index_at_or_after(d.day);
            let want = s.values()[k..k + 24]
                .iter()
                .map(|v| (v - 5.0).abs())
                .sum::<f64>()
                / 24.0;
            let mae = sc
                .mae
                .expect("a decision policy reports its forecast's MAE");
            assert!((mae - want).abs() < 1e-9, "mae {mae} vs {want}");
        }
    }

    #[test]
    fn first_scored_day_has_full_history() {
        let s = daily_series(10, 0);
        let e = evaluate_series(
            "s",
            &s,
            &[Policy::Fixed { start_hour: 0 }],
            &EvalConfig::default(),
        );
        let days: Vec<Ts> = e.days.iter().map(|d| d.day).collect();
        assert_eq!(
            days,
            vec![
                7 * SECONDS_PER_DAY,
                8 * SECONDS_PER_DAY,
                9 * SECONDS_PER_DAY
            ]
        );
        // A series starting mid-day needs 7 full days before the first scored midnight.
        let s = daily_series(10, 5 * 3600);
        let e = evaluate_series(
            "s",
            &s,
            &[Policy::Fixed { start_hour: 0 }],
            &EvalConfig::default(),
        );
        assert_eq!(e.days.first().map(|d| d.day), Some(8 * SECONDS_PER_DAY));
    }

    #[test]
    fn fixed_hour_and_unusable_step() {
        let s = daily_series(9, 0);
        let e = evaluate_series(
            "s",
            &s,
            &[Policy::Fixed { start_hour: 3 }],
            &EvalConfig::default(),
        );
        assert_eq!(e.days[0].scores[0].start, 7 * SECONDS_PER_DAY + 3 * 3600);
        assert_eq!(e.days[0].best_start, 7 * SECONDS_PER_DAY + 9 * 3600);
        assert!(e.days[0].scores[0].mae.is_none());
        let odd = RegularSeries::new(0, 7, vec![1.0; 10]).unwrap();
        let e = evaluate_series("s", &odd, &[], &EvalConfig::default());
        assert!(e.unusable.unwrap().contains("does not divide"));
    }

    #[test]
    fn hashing_is_stable() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_ne!(mix(1), mix(2));
        assert_eq!(Policy::Random { seed: 3 }.name(), "random_s3");
        assert_eq!(Policy::Fixed { start_hour: 0 }.name(), "fixed_00h");
    }
}
