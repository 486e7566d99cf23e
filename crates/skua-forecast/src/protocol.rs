//! The fleet benchmark protocol: how well a *decision policy* (a forecast, then a window
//! choice from it) places a job of `L` steps in the next day's low-load window.
//!
//! This is the executable form of `fleet-benchmark-protocol.md` (shared docs):
//!
//! * **Rolling origin.** A horizon of 24 steps, a stride of 24, the last 14 windows, with
//!   statsforecast's `cross_validation` cutoffs ([`crate::backtest::cutoffs`]): counted back
//!   from the series' end, and a forecast sees only points at or before its cutoff.
//! * **Decision.** For each job length `L` the policy picks a start in `0..=horizon − L`
//!   (the `horizon + 1 − L` contiguous windows; the protocol's default picks the lowest mean
//!   predicted load, ties → the earliest start).
//! * **Scores** on the window's actual values (`best` = the lowest mean actual window,
//!   `range` = max − min of the actuals):
//!   * `tol_L` = 1 if the chosen window's mean actual ≤ `best + 0.1 · range`;
//!   * `areg_L` = chosen window's mean actual − `best` (series units);
//!   * busiest quarter = 1 if the chosen window's mean actual exceeds the 75th percentile
//!     (linear interpolation) of the actuals;
//!   * `hit_L` = 1 if the chosen start is the best start (ties → earliest);
//!   * MAE of the point forecast and the share of actuals inside the 10–90 % band.
//! * **Exclusions.** Windows whose actuals are flat (population std < 1e-9) are excluded from
//!   every average and counted; so are windows with a missing actual (counted apart) and
//!   windows where the policy failed (counted).
//! * **Classes** are computed by [`classify_with`](crate::classify::classify_with) (thresholds in [`ProtocolConfig::classify`]) on the history before each series' first
//!   cutoff, so the class never uses a scored day.
//!
//! Pure: no clock, no I/O, no threads. The caller parallelises across series.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use skua_core::metrics::{coverage, mae, quantile};
use skua_core::{Forecast, RegularSeries, Ts};

use crate::backtest::{BacktestConfig, INTERVAL_80, cutoffs};
use crate::classify::{ClassifyThresholds, SeriesClass, classify_with};
use crate::model::FitError;

/// Quantile levels every policy is asked for (the 80 % band and the median).
pub const PROTOCOL_QUANTILES: [f64; 3] = [0.1, 0.5, 0.9];
/// A chosen window within this share of the day's range of the best window counts as good.
pub const TOLERANCE: f64 = 0.1;
/// Actuals whose population standard deviation is below this are flat: every window ties.
pub const FLAT_STD: f64 = 1e-9;

/// A decision policy: a forecast, then a window choice from it.
pub trait DecisionPolicy: Send + Sync {
    /// Short stable name for reports (e.g. `mean_7d`, `mean_7d+regret`).
    fn name(&self) -> String;
    /// Forecast `horizon` steps after the end of `history` (quantiles 0.1/0.5/0.9 at least).
    fn forecast(&self, history: &RegularSeries, horizon: usize) -> Result<Forecast, FitError>;
    /// The chosen start (0..=horizon-len) of a job of `len` steps, from that forecast.
    fn choose(&self, forecast: &Forecast, history: &RegularSeries, len: usize) -> usize;
    /// Per-start costs in the forecast's units for a planner that trades windows between
    /// servers (see [`crate::select::WindowSelector::costs`]); `None` = the window means.
    fn window_costs(
        &self,
        _forecast: &Forecast,
        _history: &RegularSeries,
        _len: usize,
    ) -> Option<Vec<f64>> {
        None
    }
}

/// The protocol's rolling origin and job lengths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtocolConfig {
    /// Steps forecast at each cutoff (24 for hourly data).
    pub horizon: usize,
    /// Number of windows, counted back from each series' end (14).
    pub windows: usize,
    /// Steps between consecutive cutoffs (24).
    pub stride: usize,
    /// Job lengths in steps; the first is the headline (`[2, 1, 4]`).
    pub lens: Vec<usize>,
    /// Thresholds of the per-series class (use [`ClassifyThresholds::for_unit`]).
    pub classify: ClassifyThresholds,
}

impl Default for ProtocolConfig {
    /// The protocol on hourly data: horizon and stride 24, 14 windows, jobs of 2, 1 and 4 h.
    fn default() -> Self {
        ProtocolConfig {
            horizon: 24,
            windows: 14,
            stride: 24,
            lens: vec![2, 1, 4],
            classify: ClassifyThresholds::default(),
        }
    }
}

/// The scores of one job length in one window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Job length in steps.
    pub len: usize,
    /// Chosen start (0-based step of the horizon).
    pub start: usize,
    /// Start of the best actual window (ties → earliest).
    pub best_start: usize,
    /// Chosen window within [`TOLERANCE`] of the day's range of the best.
    pub tol: bool,
    /// Mean actual in the chosen window minus the best window's (series units, ≥ 0).
    pub areg: f64,
    /// The chosen window's mean actual exceeds the 75th percentile of the actuals.
    pub busiest: bool,
    /// The chosen start is the best start.
    pub hit: bool,
}

/// What happened in one rolling-origin window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WindowOutcome {
    /// Scored.
    Scored {
        /// Timestamp of the last history point.
        cutoff: Ts,
        /// One decision per configured job length, in [`ProtocolConfig::lens`] order.
        decisions: Vec<Decision>,
        /// MAE of the point forecast.
        mae: f64,
        /// Share of actuals inside the 10–90 % band (NaN if the forecast has no such band).
        coverage_80: f64,
    },
    /// Excluded: the actuals are flat.
    Flat {
        /// Timestamp of the last history point.
        cutoff: Ts,
    },
    /// Excluded: an actual is missing.
    Incomplete {
        /// Timestamp of the last history point.
        cutoff: Ts,
    },
    /// Excluded: the policy could not forecast.
    Failed {
        /// Timestamp of the last history point.
        cutoff: Ts,
        /// Why.
        error: String,
    },
}

/// One policy on one series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesResult {
    /// Series id.
    pub id: String,
    /// Policy name.
    pub policy: String,
    /// Class of the history before the first cutoff (`None` if there is no window at all).
    pub class: Option<SeriesClass>,
    /// Job lengths, as configured.
    pub lens: Vec<usize>,
    /// Windows oldest first (fewer than configured if the series is short).
    pub windows: Vec<WindowOutcome>,
}

/// Mean window means of `values` for each start `0..=len(values) − len`, summed directly
/// (not by a running sum) so that equal windows compare exactly equal.
pub fn window_means(values: &[f64], len: usize) -> Vec<f64> {
    if len == 0 || len > values.len() {
        return Vec::new();
    }
    (0..=values.len() - len)
        .map(|s| values[s..s + len].iter().sum::<f64>() / len as f64)
        .collect()
}

/// Index of the smallest value, ties → the earliest; NaNs are never chosen (0 if all NaN).
pub fn lowest(values: &[f64]) -> usize {
    let mut best: Option<(usize, f64)> = None;
    for (i, &v) in values.iter().enumerate() {
        if !v.is_nan() && best.is_none_or(|(_, b)| v < b) {
            best = Some((i, v));
        }
    }
    best.map_or(0, |(i, _)| i)
}

/// Scores a chosen `start` of a job of `len` steps against `actual` (NaN-free, not flat).
pub fn score_decision(actual: &[f64], len: usize, start: usize) -> Decision {
    let means = window_means(actual, len);
    let best_start = lowest(&means);
    let best = means[best_start];
    let max = actual.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = actual.iter().copied().fold(f64::INFINITY, f64::min);
    let got = means[start];
    Decision {
        len,
        start,
        best_start,
        tol: got <= best + TOLERANCE * (max - min),
        areg: got - best,
        busiest: got > quantile(actual, 0.75),
        hit: start == best_start,
    }
}

/// Population standard deviation (NumPy's default `ddof = 0`).
fn std_dev(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt()
}

/// Runs the protocol for `policy` on one series.
///
/// # Panics
/// If `cfg` has a zero horizon, stride or window count, or a job length of zero or longer
/// than the horizon: these are programming errors, not data errors.
pub fn run_series(
    id: &str,
    series: &RegularSeries,
    policy: &dyn DecisionPolicy,
    cfg: &ProtocolConfig,
) -> SeriesResult {
    assert!(
        cfg.lens.iter().all(|&l| l >= 1 && l <= cfg.horizon),
        "job lengths {:?} must be in 1..={}",
        cfg.lens,
        cfg.horizon
    );
    let bt = BacktestConfig {
        horizon_steps: cfg.horizon,
        stride_steps: cfg.stride,
        windows: Some(cfg.windows),
        min_train_steps: 1,
        quantiles: Vec::new(),
    };
    let (train_lens, _) = cutoffs(series.len(), &bt).expect("protocol config is valid");
    let class = train_lens
        .first()
        .map(|&n| classify_with(&series.head(n), &cfg.classify).class);
    let values = series.values();
    let windows = train_lens
        .into_iter()
        .map(|n| {
            let cutoff = series.ts_at(n - 1);
            let actual = &values[n..n + cfg.horizon];
            if actual.iter().any(|v| v.is_nan()) {
                return WindowOutcome::Incomplete { cutoff };
            }
            if std_dev(actual) < FLAT_STD {
                return WindowOutcome::Flat { cutoff };
            }
            let history = series.head(n);
            let forecast = match policy.forecast(&history, cfg.horizon) {
                Ok(f) if f.horizon() == cfg.horizon && f.check().is_ok() => f,
                Ok(f) => {
                    let error = f.check().err().unwrap_or_else(|| {
                        format!("{} steps forecast, {} asked", f.horizon(), cfg.horizon)
                    });
                    return WindowOutcome::Failed { cutoff, error };
                }
                Err(e) => {
                    return WindowOutcome::Failed {
                        cutoff,
                        error: e.to_string(),
                    };
                }
            };
            let decisions = cfg
                .lens
                .iter()
                .map(|&len| {
                    let start = policy
                        .choose(&forecast, &history, len)
                        .min(cfg.horizon - len);
                    score_decision(actual, len, start)
                })
                .collect();
            let point = &forecast.point;
            let coverage_80 = match (
                forecast.quantile(INTERVAL_80.0),
                forecast.quantile(INTERVAL_80.1),
            ) {
                (Some(lo), Some(hi)) => coverage(actual, lo, hi),
                _ => f64::NAN,
            };
            WindowOutcome::Scored {
                cutoff,
                decisions,
                mae: mae(actual, point),
                coverage_80,
            }
        })
        .collect();
    SeriesResult {
        id: id.to_string(),
        policy: policy.name(),
        class,
        lens: cfg.lens.clone(),
        windows,
    }
}

/// The best any *fixed* window could have done on one series, in hindsight: over the
/// windows the protocol scores (complete, not flat), the largest number of days on which
/// one start of the headline job length was within tolerance. It is no policy (it looks at
/// the days it is scored on) but the ceiling of every rule that commits a series to one
/// window, which puts a dataset's tol2 figures in proportion. Returns `(days within
/// tolerance, days scored)`.
pub fn fixed_window_ceiling(series: &RegularSeries, cfg: &ProtocolConfig) -> (usize, usize) {
    let Some(&len) = cfg.lens.first() else {
        return (0, 0);
    };
    let bt = BacktestConfig {
        horizon_steps: cfg.horizon,
        stride_steps: cfg.stride,
        windows: Some(cfg.windows),
        min_train_steps: 1,
        quantiles: Vec::new(),
    };
    let Ok((train_lens, _)) = cutoffs(series.len(), &bt) else {
        return (0, 0);
    };
    if len == 0 || len > cfg.horizon {
        return (0, 0);
    }
    let values = series.values();
    let mut within = vec![0usize; cfg.horizon + 1 - len];
    let mut days = 0;
    for n in train_lens {
        let actual = &values[n..n + cfg.horizon];
        if actual.iter().any(|v| v.is_nan()) || std_dev(actual) < FLAT_STD {
            continue;
        }
        days += 1;
        for (start, w) in within.iter_mut().enumerate() {
            *w += usize::from(score_decision(actual, len, start).tol);
        }
    }
    (within.into_iter().max().unwrap_or(0), days)
}

/// Means of one job length's scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LenScores {
    /// Job length in steps.
    pub len: usize,
    /// Mean `tol_L`.
    pub tol: f64,
    /// Mean `areg_L`.
    pub areg: f64,
    /// Busiest-quarter rate.
    pub busiest: f64,
    /// Mean `hit_L`.
    pub hit: f64,
}

/// Means over the scored windows of one policy and one class (or `all`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryRow {
    /// Policy name.
    pub policy: String,
    /// Class name, or `all`.
    pub class: String,
    /// Series.
    pub series: usize,
    /// Scored (series, window) pairs: the `n` of every mean.
    pub n: usize,
    /// Windows excluded because the actuals are flat.
    pub flat_excluded: usize,
    /// Windows excluded because an actual is missing.
    pub incomplete_excluded: usize,
    /// Windows where the policy failed.
    pub failed: usize,
    /// Scores per job length, in configured order (the first is the headline).
    pub lens: Vec<LenScores>,
    /// Mean MAE of the point forecasts.
    pub mae: f64,
    /// Share of actuals inside the 10–90 % band.
    pub coverage_80: f64,
}

impl SummaryRow {
    /// The scores of job length `len`, if configured.
    pub fn len(&self, len: usize) -> Option<&LenScores> {
        self.lens.iter().find(|s| s.len == len)
    }

    /// The headline scores (the first configured length).
    pub fn headline(&self) -> &LenScores {
        &self.lens[0]
    }
}

/// Per policy and per class summaries of protocol runs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProtocolSummary {
    /// Rows in the order policies first appear; per policy `all` first, then classes by
    /// name.
    pub rows: Vec<SummaryRow>,
}

impl ProtocolSummary {
    /// The row of `policy` and `class` (`all` for every class).
    pub fn row(&self, policy: &str, class: &str) -> Option<&SummaryRow> {
        self.rows
            .iter()
            .find(|r| r.policy == policy && r.class == class)
    }

    /// A fixed-width text table, one line per row.
    pub fn render_table(&self) -> String {
        let mut out = String::new();
        let Some(first) = self.rows.first() else {
            return out;
        };
        let _ = write!(
            out,
            "{:<28} {:<13} {:>4} {:>5} {:>4}",
            "policy", "class", "ser", "n", "flat"
        );
        for l in &first.lens {
            let _ = write!(
                out,
                " {:>6} {:>6} {:>6} {:>6}",
                format!("tol{}", l.len),
                format!("areg{}", l.len),
                format!("busy{}", l.len),
                format!("hit{}", l.len)
            );
        }
        let _ = writeln!(out, " {:>7} {:>6}", "mae", "cov80");
        for r in &self.rows {
            let _ = write!(
                out,
                "{:<28} {:<13} {:>4} {:>5} {:>4}",
                r.policy, r.class, r.series, r.n, r.flat_excluded
            );
            for l in &r.lens {
                let _ = write!(
                    out,
                    " {:>6.3} {:>6.3} {:>5.1}% {:>6.3}",
                    l.tol,
                    l.areg,
                    100.0 * l.busiest,
                    l.hit
                );
            }
            let _ = writeln!(out, " {:>7.3} {:>5.1}%", r.mae, 100.0 * r.coverage_80);
        }
        out
    }
}

#[derive(Default)]
struct Acc {
    series: usize,
    n: usize,
    flat: usize,
    incomplete: usize,
    failed: usize,
    tol: Vec<f64>,
    areg: Vec<f64>,
    busiest: Vec<f64>,
    hit: Vec<f64>,
    mae: f64,
    cov: f64,
    n_cov: usize,
}

impl Acc {
    fn add(&mut self, r: &SeriesResult) {
        self.series += 1;
        if self.tol.is_empty() {
            let k = r.lens.len();
            (self.tol, self.areg, self.busiest, self.hit) =
                (vec![0.0; k], vec![0.0; k], vec![0.0; k], vec![0.0; k]);
        }
        for w in &r.windows {
            match w {
                WindowOutcome::Scored {
                    decisions,
                    mae,
                    coverage_80,
                    ..
                } => {
                    self.n += 1;
                    for (i, d) in decisions.iter().enumerate() {
                        self.tol[i] += f64::from(d.tol);
                        self.areg[i] += d.areg;
                        self.busiest[i] += f64::from(d.busiest);
                        self.hit[i] += f64::from(d.hit);
                    }
                    self.mae += mae;
                    if !coverage_80.is_nan() {
                        self.cov += coverage_80;
                        self.n_cov += 1;
                    }
                }
                WindowOutcome::Flat { .. } => self.flat += 1,
                WindowOutcome::Incomplete { .. } => self.incomplete += 1,
                WindowOutcome::Failed { .. } => self.failed += 1,
            }
        }
    }

    fn row(&self, policy: &str, class: &str, lens: &[usize]) -> SummaryRow {
        let n = self.n as f64;
        let div = |x: f64, n: f64| if n > 0.0 { x / n } else { f64::NAN };
        SummaryRow {
            policy: policy.to_string(),
            class: class.to_string(),
            series: self.series,
            n: self.n,
            flat_excluded: self.flat,
            incomplete_excluded: self.incomplete,
            failed: self.failed,
            lens: lens
                .iter()
                .enumerate()
                .map(|(i, &len)| LenScores {
                    len,
                    tol: div(self.tol.get(i).copied().unwrap_or(0.0), n),
                    areg: div(self.areg.get(i).copied().unwrap_or(0.0), n),
                    busiest: div(self.busiest.get(i).copied().unwrap_or(0.0), n),
                    hit: div(self.hit.get(i).copied().unwrap_or(0.0), n),
                })
                .collect(),
            mae: div(self.mae, n),
            coverage_80: div(self.cov, self.n_cov as f64),
        }
    }
}

/// Aggregates protocol results per policy, overall (`all`) and per class. The class of a
/// series is `class_of(id)` when that returns one, else the class [`run_series`] computed
/// (`unknown` if neither).
///
/// # Panics
/// If results of the same policy were run with different job lengths.
pub fn summarize(
    results: &[SeriesResult],
    class_of: &dyn Fn(&str) -> Option<String>,
) -> ProtocolSummary {
    let mut order: Vec<&str> = Vec::new();
    let mut groups: BTreeMap<(&str, String), Acc> = BTreeMap::new();
    let mut lens: BTreeMap<&str, &[usize]> = BTreeMap::new();
    for r in results {
        let known = lens.entry(&r.policy).or_insert(&r.lens);
        assert_eq!(*known, &r.lens[..], "policy {} mixes job lengths", r.policy);
        if !order.contains(&r.policy.as_str()) {
            order.push(&r.policy);
        }
        let class = class_of(&r.id)
            .or_else(|| r.class.map(|c| c.as_str().to_string()))
            .unwrap_or_else(|| "unknown".to_string());
        groups
            .entry((&r.policy, "all".to_string()))
            .or_default()
            .add(r);
        groups.entry((&r.policy, class)).or_default().add(r);
    }
    let mut rows = Vec::new();
    for policy in order {
        let l = lens[policy];
        rows.push(groups[&(policy, "all".to_string())].row(policy, "all", l));
        for ((p, class), acc) in &groups {
            if *p == policy && class != "all" {
                rows.push(acc.row(policy, class, l));
            }
        }
    }
    ProtocolSummary { rows }
}

#[cfg(test)]
mod tests {
    #[test]
    fn fixed_window_ceiling_counts_the_best_start_in_hindsight() {
        // 4 days of 4 steps, the last 3 scored with job length 1. The low step is at 0 on
        // days 2 and 3 and moves to 2 on day 4: the best fixed start wins 2 of 3 days.
        let v = vec![
            0.0, 5.0, 5.0, 5.0, 0.0, 5.0, 5.0, 5.0, 0.0, 5.0, 5.0, 5.0, 5.0, 5.0, 0.0, 5.0,
        ];
        let s = RegularSeries::new(0, 3600, v).unwrap();
        let cfg = ProtocolConfig {
            horizon: 4,
            windows: 3,
            stride: 4,
            lens: vec![1],
            classify: ClassifyThresholds::default(),
        };
        assert_eq!(fixed_window_ceiling(&s, &cfg), (2, 3));
        let flat = RegularSeries::new(0, 3600, vec![1.0; 16]).unwrap();
        assert_eq!(fixed_window_ceiling(&flat, &cfg), (0, 0));
    }

    use super::*;

    #[test]
    fn decisions_are_scored_by_the_protocol() {
        // Actuals: best 2-step window at 3 (mean 1), range 9.
        let actual = [5.0, 6.0, 4.0, 1.0, 1.0, 10.0, 2.0, 1.7];
        let d = score_decision(&actual, 2, 3);
        assert!(d.tol && d.hit && !d.busiest && d.areg == 0.0);
        // Window 6 (mean 1.85) is within 0.9 of 1 but is not the best start.
        let d = score_decision(&actual, 2, 6);
        assert!(d.tol && !d.hit);
        assert!((d.areg - 0.85).abs() < 1e-12);
        // Window 4 (mean 5.5) lands above the 75th percentile (5.25).
        let d = score_decision(&actual, 2, 4);
        assert!(!d.tol && d.busiest);
        assert_eq!(d.best_start, 3);
    }

    #[test]
    fn ties_go_to_the_earliest_start() {
        assert_eq!(lowest(&[2.0, 1.0, 1.0, f64::NAN]), 1);
        assert_eq!(lowest(&[f64::NAN, f64::NAN]), 0);
        assert_eq!(window_means(&[1.0, 3.0, 2.0], 2), vec![2.0, 2.5]);
        assert!(window_means(&[1.0], 2).is_empty());
    }
}
