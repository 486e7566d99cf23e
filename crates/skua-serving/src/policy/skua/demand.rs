//! The demand signal between skua's router and its role controller: what each admitted request
//! will cost in prefill time and decode tokens, summed per controller tick, and forecast with
//! skua's own forecaster (damped-trend ETS from `skua-forecast`, refitted as the series grows).

use std::collections::VecDeque;

use skua_forecast::models::ets::{self, EtsParams};

/// Ticks of history the forecaster sees.
const WINDOW: usize = 120;
/// Refit the ETS parameters every this many ticks.
const REFIT_EVERY: usize = 30;

/// Work admitted since the controller last looked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DemandLog {
    prefill_ms: f64,
    decode_tokens: f64,
    prompt_tokens: f64,
    requests: u64,
}

impl DemandLog {
    /// Records one admitted request: its predicted prefill time (ms), prompt length and
    /// expected output tokens.
    pub fn record(&mut self, prefill_ms: f64, prompt_tokens: u32, output_tokens: f64) {
        self.prefill_ms += prefill_ms;
        self.decode_tokens += output_tokens;
        self.prompt_tokens += f64::from(prompt_tokens);
        self.requests += 1;
    }

    /// Takes what was recorded (and empties the log).
    pub fn take(&mut self) -> DemandLog {
        std::mem::take(self)
    }

    /// Predicted prefill work, ms.
    pub fn prefill_ms(&self) -> f64 {
        self.prefill_ms
    }

    /// Expected decode tokens.
    pub fn decode_tokens(&self) -> f64 {
        self.decode_tokens
    }

    /// Mean decode context of the recorded requests (prompt + half the output), tokens (0 when
    /// empty).
    pub fn mean_context(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            (self.prompt_tokens + self.decode_tokens / 2.0) / self.requests as f64
        }
    }

    /// Requests recorded.
    pub fn requests(&self) -> u64 {
        self.requests
    }
}

/// A short series forecast with damped-trend ETS, refitted every [`REFIT_EVERY`] points.
#[derive(Debug, Clone)]
pub struct TickForecaster {
    values: VecDeque<f64>,
    params: Option<EtsParams>,
    since_fit: usize,
}

impl Default for TickForecaster {
    fn default() -> Self {
        Self::new()
    }
}

impl TickForecaster {
    /// An empty forecaster.
    pub fn new() -> Self {
        Self {
            values: VecDeque::with_capacity(WINDOW),
            params: None,
            since_fit: REFIT_EVERY,
        }
    }

    /// Adds one observation.
    pub fn push(&mut self, v: f64) {
        if self.values.len() == WINDOW {
            self.values.pop_front();
        }
        self.values.push_back(if v.is_finite() { v } else { 0.0 });
        self.since_fit += 1;
    }

    /// Observations held.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether nothing was observed.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The forecast `h ≥ 1` ticks ahead (the last value while fewer than 10 are held), ≥ 0.
    pub fn forecast(&mut self, h: usize) -> f64 {
        let y: Vec<f64> = self.values.iter().copied().collect();
        let Some(&last) = y.last() else {
            return 0.0;
        };
        if y.len() < 10 {
            return last.max(0.0);
        }
        if self.params.is_none() || self.since_fit >= REFIT_EVERY {
            self.params = Some(ets::fit_params(&y, 1).0);
            self.since_fit = 0;
        }
        let Some(p) = self.params else {
            return last.max(0.0);
        };
        let init = ets::initial_state(&y, 1);
        let state = ets::filter(&y, &p, &init, usize::MAX, usize::MAX, |_| {});
        let f = state.forecast(&p, h.max(1));
        if f.is_finite() {
            f.max(0.0)
        } else {
            last.max(0.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_sums_and_empties() {
        let mut log = DemandLog::default();
        log.record(100.0, 1000, 50.0);
        log.record(300.0, 3000, 150.0);
        let t = log.take();
        assert_eq!(t.prefill_ms(), 400.0);
        assert_eq!(t.decode_tokens(), 200.0);
        assert_eq!(t.mean_context(), 2050.0);
        assert_eq!(t.requests(), 2);
        assert_eq!(log.requests(), 0);
    }

    #[test]
    fn a_level_series_forecasts_its_level_and_a_shift_is_followed() {
        let mut f = TickForecaster::new();
        for _ in 0..60 {
            f.push(10.0);
        }
        assert!((f.forecast(5) - 10.0).abs() < 0.5, "{}", f.forecast(5));
        for _ in 0..30 {
            f.push(30.0);
        }
        let after = f.forecast(5);
        assert!(after > 25.0, "{after}");
    }

    #[test]
    fn short_history_returns_the_last_value() {
        let mut f = TickForecaster::new();
        f.push(3.0);
        f.push(7.0);
        assert_eq!(f.forecast(3), 7.0);
        assert_eq!(TickForecaster::new().forecast(1), 0.0);
    }
}
