//! Window selection: turning a forecast into the start of a job.
//!
//! [`LowestMean`] is the protocol's default: the window with the lowest mean point forecast.
//! [`HindsightSelector`] minimises the *regret the window would have had* on the recent
//! days instead: each past day scores every candidate window (by its rank among that day's
//! windows, or by its regret as a share of the day's range), the scores are averaged with
//! weights that decay with age, and the forecast's own normalised regret can be blended
//! in. Scoring each day by rank or relative regret keeps one spiky day from dominating, which
//! is what a mean profile gets wrong: the mean is pulled by the days with the largest range,
//! while the protocol's scores (tolerance within 10 % of each day's range, busiest quarter)
//! weigh every day alike. This is a vote over past days in the spirit of the Borda count and
//! of "follow the leader" in prediction with expert advice (Cesa-Bianchi & Lugosi,
//! *Prediction, Learning, and Games*, 2006); the windows are the experts.

use skua_core::{Forecast, RegularSeries};

use crate::model::{FitError, Forecaster};
use crate::protocol::{DecisionPolicy, PROTOCOL_QUANTILES, lowest, window_means};

/// Chooses where a job of `len` steps goes inside a forecast's horizon.
pub trait WindowSelector: Send + Sync {
    /// Short stable name for reports (e.g. `lowest_mean`).
    fn name(&self) -> String;
    /// The chosen start in `0..=forecast.horizon() − len`.
    fn choose(&self, forecast: &Forecast, history: &RegularSeries, len: usize) -> usize;
    /// The cost of every start `0..=forecast.horizon() − len` in the forecast's units (lower
    /// is better), for planners that must trade windows between servers; `None` when the
    /// selector ranks by the forecast's window means (the planner's default). The forecast
    /// may start later than the history ends (a stale series), on the history's grid.
    fn costs(
        &self,
        _forecast: &Forecast,
        _history: &RegularSeries,
        _len: usize,
    ) -> Option<Vec<f64>> {
        None
    }
}

/// The protocol's default: the window with the lowest mean point forecast (ties → earliest).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LowestMean;

impl WindowSelector for LowestMean {
    fn name(&self) -> String {
        "lowest_mean".to_string()
    }

    fn choose(&self, forecast: &Forecast, _history: &RegularSeries, len: usize) -> usize {
        lowest(&window_means(&forecast.point, len))
    }
}

/// How one past day scores a candidate window (0 = that day's best window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayLoss {
    /// The window's rank among the day's windows over their number (0 for the best; tied
    /// windows rank by start, as the protocol breaks ties toward the earliest start).
    Rank,
    /// The window's mean minus the day's best window mean, over the day's range (max − min).
    RelativeRegret,
}

/// Chooses the window that would have had the lowest average loss on the last `days` days
/// (the same hours of the day as the forecast), weighting day `d` back by `decay^(d−1)`,
/// plus `forecast_weight` × the forecast's own relative regret. Days with a missing value
/// or a flat day are skipped; with no usable day, or a step that does not divide a day, it
/// falls back to [`LowestMean`]. Ties → the earliest start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HindsightSelector {
    /// Past days considered.
    pub days: usize,
    /// Weight ratio between consecutive days (1 = all alike).
    pub decay: f64,
    /// How a past day scores a window.
    pub loss: DayLoss,
    /// Weight of the forecast's relative regret (0 = decide from the history alone).
    pub forecast_weight: f64,
}

impl HindsightSelector {
    /// The long-memory rule, best on Bitbrains-500: ranks over 8 weeks, decay 0.97.
    pub fn long_memory() -> Self {
        HindsightSelector {
            days: 56,
            decay: 0.97,
            loss: DayLoss::Rank,
            forecast_weight: 0.0,
        }
    }

    /// The short-memory rule, best on ASD (whose daily patterns shift within weeks):
    /// relative regret over two weeks, decay 0.85.
    pub fn recent() -> Self {
        HindsightSelector {
            days: 14,
            decay: 0.85,
            loss: DayLoss::RelativeRegret,
            forecast_weight: 0.0,
        }
    }

    /// The averaged loss of every start `0..=horizon − len` (lower is better), or `None`
    /// when no past day is usable and the forecast has no weight.
    pub fn scores(
        &self,
        forecast: &Forecast,
        history: &RegularSeries,
        len: usize,
    ) -> Option<Vec<f64>> {
        self.scores_at(forecast, history, len, 0)
    }

    /// [`Self::scores`] for a forecast starting `lead` steps after the history's end: past
    /// days are read at the forecast's hours of the day.
    fn scores_at(
        &self,
        forecast: &Forecast,
        history: &RegularSeries,
        len: usize,
        lead: usize,
    ) -> Option<Vec<f64>> {
        let horizon = forecast.horizon();
        if len == 0 || len > horizon {
            return None;
        }
        let starts = horizon + 1 - len;
        let mut total = vec![0.0; starts];
        let mut weight_sum = 0.0;
        if let Some(day) = history.steps_per_day() {
            let x = history.values();
            let mut w = 1.0;
            for d in 1..=self.days {
                let weight = w;
                w *= self.decay;
                let Some(from) = (x.len() + lead).checked_sub(d * day) else {
                    break;
                };
                if from + horizon > x.len() {
                    continue;
                }
                let block = &x[from..from + horizon];
                let Some(loss) = day_loss(block, len, self.loss) else {
                    continue;
                };
                for (t, l) in total.iter_mut().zip(loss) {
                    *t += weight * l;
                }
                weight_sum += weight;
            }
        }
        if weight_sum > 0.0 {
            for t in &mut total {
                *t /= weight_sum;
            }
        } else if self.forecast_weight <= 0.0 {
            return None;
        }
        if self.forecast_weight > 0.0 {
            if let Some(loss) = day_loss(&forecast.point, len, DayLoss::RelativeRegret) {
                for (t, l) in total.iter_mut().zip(loss) {
                    *t += self.forecast_weight * l;
                }
            }
        }
        Some(total)
    }
}

/// The loss of every window of `len` steps on one day's values; `None` if a value is
/// missing or the day is flat.
fn day_loss(values: &[f64], len: usize, kind: DayLoss) -> Option<Vec<f64>> {
    if values.iter().any(|v| v.is_nan()) {
        return None;
    }
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let range = max - min;
    if range <= FLAT_RANGE {
        return None;
    }
    let means = window_means(values, len);
    let best = means.iter().copied().fold(f64::INFINITY, f64::min);
    Some(match kind {
        DayLoss::RelativeRegret => means.iter().map(|m| (m - best) / range).collect(),
        DayLoss::Rank => {
            let n = means.len() as f64;
            means
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let before = means
                        .iter()
                        .enumerate()
                        .filter(|&(j, o)| o < m || (o == m && j < i))
                        .count();
                    before as f64 / n
                })
                .collect()
        }
    })
}

/// A day whose range is at most this is flat: it says nothing about where to go.
const FLAT_RANGE: f64 = 1e-9;

impl WindowSelector for HindsightSelector {
    fn name(&self) -> String {
        let loss = match self.loss {
            DayLoss::Rank => "rank",
            DayLoss::RelativeRegret => "regret",
        };
        let mut name = format!("hindsight_{loss}_{}d_{}", self.days, self.decay);
        if self.forecast_weight > 0.0 {
            name.push_str(&format!("_f{}", self.forecast_weight));
        }
        name
    }

    fn costs(&self, forecast: &Forecast, history: &RegularSeries, len: usize) -> Option<Vec<f64>> {
        if forecast.step != history.step() || forecast.start < history.end() {
            return None;
        }
        let gap = forecast.start - history.end();
        if gap % history.step() != 0 {
            return None;
        }
        let lead = usize::try_from(gap / history.step()).ok()?;
        let scores = self.scores_at(forecast, history, len, lead)?;
        // Scores are shares of a day's range (or ranks): map them onto the forecast's own
        // scale, so that a planner comparing servers weighs a busy server's choice more.
        let means = window_means(&forecast.point, len);
        let low = means.iter().copied().fold(f64::INFINITY, f64::min);
        let max = forecast
            .point
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let min = forecast.point.iter().copied().fold(f64::INFINITY, f64::min);
        let range = max - min;
        if !low.is_finite() || !range.is_finite() {
            return None;
        }
        Some(scores.iter().map(|s| low + s * range).collect())
    }

    fn choose(&self, forecast: &Forecast, history: &RegularSeries, len: usize) -> usize {
        match self.scores(forecast, history, len) {
            Some(s) => lowest(&s),
            None => LowestMean.choose(forecast, history, len),
        }
    }
}

/// A model and a selector: the policy the protocol evaluates.
pub struct ModelPolicy {
    /// The forecaster.
    pub model: Box<dyn Forecaster>,
    /// The window selector.
    pub selector: Box<dyn WindowSelector>,
}

impl DecisionPolicy for ModelPolicy {
    fn name(&self) -> String {
        let s = self.selector.name();
        if s == LowestMean.name() {
            self.model.name()
        } else {
            format!("{}+{s}", self.model.name())
        }
    }

    fn forecast(&self, history: &RegularSeries, horizon: usize) -> Result<Forecast, FitError> {
        self.model
            .fit_predict(history, horizon, &PROTOCOL_QUANTILES)
    }

    fn choose(&self, forecast: &Forecast, history: &RegularSeries, len: usize) -> usize {
        self.selector.choose(forecast, history, len)
    }

    fn window_costs(
        &self,
        forecast: &Forecast,
        history: &RegularSeries,
        len: usize,
    ) -> Option<Vec<f64>> {
        self.selector.costs(forecast, history, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::PreviousDay;

    fn forecast(point: Vec<f64>) -> Forecast {
        Forecast {
            start: 0,
            step: 3600,
            point,
            quantiles: Vec::new(),
        }
    }

    /// 20 days whose quiet hours are 3–4, except one huge day whose quiet hours are 10–11.
    fn history() -> RegularSeries {
        let mut v = Vec::new();
        for d in 0..20 {
            for h in 0..24 {
                let x = if d == 19 {
                    if h == 10 || h == 11 { 0.0 } else { 100.0 }
                } else if h == 3 || h == 4 {
                    1.0
                } else {
                    5.0
                };
                v.push(x);
            }
        }
        RegularSeries::new(0, 3600, v).unwrap()
    }

    #[test]
    fn costs_rank_like_the_choice_and_follow_a_late_forecast() {
        let h = history();
        let sel = HindsightSelector {
            days: 7,
            decay: 1.0,
            loss: DayLoss::Rank,
            forecast_weight: 0.0,
        };
        let f = crate::models::MeanOfDays { k: 7 }
            .fit_predict(&h, 24, &[])
            .unwrap();
        let c = sel.costs(&f, &h, 2).unwrap();
        assert_eq!(lowest(&c), sel.choose(&f, &h, 2));
        assert_eq!(lowest(&c), 3);
        // In the forecast's units: from its lowest window mean up by at most its range.
        let low = window_means(&f.point, 2)
            .into_iter()
            .fold(f64::INFINITY, f64::min);
        let max = f.point.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let min = f.point.iter().copied().fold(f64::INFINITY, f64::min);
        assert!(
            c.iter()
                .all(|&x| x >= low - 1e-9 && x <= low + (max - min) + 1e-9),
            "{c:?}"
        );
        assert!(c[3] < c[10], "{c:?}");
        // A forecast that starts 6 hours after the history: the quiet hours 3–4 of the
        // past days are at forecast steps 21–22 now.
        let calm = RegularSeries::new(
            0,
            3600,
            (0..20 * 24)
                .map(|i| if i % 24 == 3 || i % 24 == 4 { 1.0 } else { 5.0 })
                .collect(),
        )
        .unwrap();
        let late = Forecast {
            start: calm.end() + 6 * 3600,
            ..f.clone()
        };
        assert_eq!(lowest(&sel.costs(&late, &calm, 2).unwrap()), 21);
        let on_time = Forecast {
            start: calm.end(),
            ..f.clone()
        };
        assert_eq!(lowest(&sel.costs(&on_time, &calm, 2).unwrap()), 3);
        // Off-grid or earlier forecasts get no costs (the planner falls back to the means).
        let off = Forecast {
            start: h.end() + 1800,
            ..f.clone()
        };
        assert!(sel.costs(&off, &h, 2).is_none());
        assert!(LowestMean.costs(&f, &h, 2).is_none());
    }

    #[test]
    fn lowest_mean_takes_the_earliest_of_equal_windows() {
        let f = forecast(vec![3.0, 1.0, 1.0, 1.0, 1.0, 2.0]);
        let h = RegularSeries::new(0, 3600, vec![0.0; 24]).unwrap();
        assert_eq!(LowestMean.choose(&f, &h, 2), 1);
        assert_eq!(LowestMean.choose(&f, &h, 1), 1);
    }

    #[test]
    fn one_spiky_day_does_not_outvote_the_rest() {
        let h = history();
        // The mean profile of the last 7 days says 10–11 (the spike day dominates) ...
        let f = crate::models::MeanOfDays { k: 7 }
            .fit_predict(&h, 24, &[])
            .unwrap();
        assert_eq!(LowestMean.choose(&f, &h, 2), 10);
        // ... six of seven days say 3–4.
        for loss in [DayLoss::Rank, DayLoss::RelativeRegret] {
            let sel = HindsightSelector {
                days: 7,
                decay: 1.0,
                loss,
                forecast_weight: 0.0,
            };
            assert_eq!(sel.choose(&f, &h, 2), 3, "{loss:?}");
        }
        // A steep decay trusts yesterday.
        let sel = HindsightSelector {
            days: 7,
            decay: 0.1,
            loss: DayLoss::Rank,
            forecast_weight: 0.0,
        };
        assert_eq!(sel.choose(&f, &h, 2), 10);
    }

    #[test]
    fn the_forecast_can_tip_the_balance() {
        let h = history();
        let f = PreviousDay.fit_predict(&h, 24, &[]).unwrap();
        let mut sel = HindsightSelector::recent();
        assert_eq!(sel.choose(&f, &h, 2), 3);
        sel.forecast_weight = 100.0;
        assert_eq!(sel.choose(&f, &h, 2), 10);
        assert!(sel.name().ends_with("_f100"), "{}", sel.name());
    }

    #[test]
    fn without_usable_days_it_falls_back_to_the_forecast() {
        // One flat day and one with a hole: nothing to learn from.
        let mut v = vec![2.0; 24];
        v.extend((0..24).map(|h| if h == 5 { f64::NAN } else { h as f64 }));
        let h = RegularSeries::new(0, 3600, v).unwrap();
        let f = forecast((0..24).map(|i| (24 - i) as f64).collect());
        let sel = HindsightSelector::long_memory();
        assert!(sel.scores(&f, &h, 2).is_none());
        assert_eq!(sel.choose(&f, &h, 2), 22);
        // A step that does not divide a day.
        let odd = RegularSeries::new(0, 7 * 60, vec![1.0; 500]).unwrap();
        assert_eq!(sel.choose(&f, &odd, 2), 22);
    }

    #[test]
    fn policy_names_say_model_and_selector() {
        let p = ModelPolicy {
            model: Box::new(PreviousDay),
            selector: Box::new(LowestMean),
        };
        assert_eq!(p.name(), "previous_day");
        let p = ModelPolicy {
            model: Box::new(PreviousDay),
            selector: Box::new(HindsightSelector::long_memory()),
        };
        assert_eq!(p.name(), "previous_day+hindsight_rank_56d_0.97");
    }
}
