//! skua's role controller: flips instances between prefill and decode when the forecast
//! prefill/decode demand shifts (FlowKV's flexible P/D allocation), with hysteresis, a cooldown
//! and one flip at a time (the simulator drains a flipping instance before it switches).
//!
//! Each tick it converts the work the router admitted since the last tick into instance
//! equivalents: prefill = predicted prefill ms per second ÷ 1,000 (plus the queued prompts'
//! backlog, to be cleared within the lead time); decode = expected output tokens per second ÷
//! what one decode instance sustains within the TPOT SLO (the largest batch whose step stays
//! under half the SLO), or the KV the decode pool holds ÷ its capacity, whichever is larger.
//! Both series are forecast `lead_ticks` ahead with damped-trend ETS, and the prefill share of
//! the cluster is set to the forecast prefill share.

use std::sync::{Arc, Mutex};

use super::demand::{DemandLog, TickForecaster};
use crate::policy::{ClusterView, InstanceRole, RoleController};
use crate::profile::{Iteration, LatencyModel, SloSpec};

/// Knobs of the role controller.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowConfig {
    /// The SLO rule (the TPOT threshold bounds the decode batch).
    pub slo: SloSpec,
    /// Forecast horizon, ticks (≈ the time a flip takes to drain and pay off).
    pub lead_ticks: usize,
    /// Ticks in a row the target must disagree with the current split before a flip.
    pub patience_ticks: u32,
    /// Least time between two flips, seconds.
    pub cooldown_s: f64,
    /// Dead band around the current split, instances: flip only when the target is more than
    /// `0.5 + band` instances away.
    pub band: f64,
}

impl Default for FlowConfig {
    fn default() -> Self {
        Self {
            slo: SloSpec::default(),
            lead_ticks: 10,
            patience_ticks: 5,
            cooldown_s: 20.0,
            band: 0.5,
        }
    }
}

/// One decision the controller took, for reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlipRecord {
    /// When, seconds.
    pub at_s: f64,
    /// Instance flipped.
    pub instance: usize,
    /// Its new role.
    pub to: InstanceRole,
    /// Forecast prefill share of demand at the time.
    pub prefill_share: f64,
}

/// The forecast-driven P/D role controller.
pub struct FlowController {
    cfg: FlowConfig,
    log: Arc<Mutex<DemandLog>>,
    models: Vec<Arc<dyn LatencyModel>>,
    prefill: TickForecaster,
    decode: TickForecaster,
    last_tick_s: Option<f64>,
    last_flip_s: f64,
    streak: i32,
    flips: Vec<FlipRecord>,
}

impl FlowController {
    /// A controller reading the demand `log` the router writes, for instances with `models`.
    pub fn new(
        cfg: FlowConfig,
        log: Arc<Mutex<DemandLog>>,
        models: Vec<Arc<dyn LatencyModel>>,
    ) -> Self {
        Self {
            cfg,
            log,
            models,
            prefill: TickForecaster::new(),
            decode: TickForecaster::new(),
            last_tick_s: None,
            last_flip_s: f64::NEG_INFINITY,
            streak: 0,
            flips: Vec::new(),
        }
    }

    /// The flips decided so far.
    pub fn flips(&self) -> &[FlipRecord] {
        &self.flips
    }

    /// Tokens per second one decode instance with `model` sustains at `context` tokens per
    /// sequence while keeping its step under half the TPOT SLO.
    fn decode_capacity(&self, model: &dyn LatencyModel, context: f64) -> f64 {
        let ctx = context.max(1.0) as u64;
        let step = |b: u32| {
            model.iteration_ms(&Iteration {
                prefill: Vec::new(),
                decode_batch: b,
                decode_context: u64::from(b) * ctx,
            })
        };
        let limit = 0.5 * self.cfg.slo.tpot_ms(model, ctx);
        let kv_batch = (model.kv_capacity_tokens() / ctx.max(1)).clamp(1, 1024) as u32;
        let (mut lo, mut hi) = (1u32, kv_batch);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if step(mid) <= limit {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        f64::from(lo) / step(lo).max(1e-3) * 1000.0
    }
}

impl RoleController for FlowController {
    fn name(&self) -> &str {
        "skua_flow"
    }

    fn decide(&mut self, view: &ClusterView) -> Vec<(usize, InstanceRole)> {
        let now = view.now_s;
        let Some(last) = self.last_tick_s.replace(now) else {
            return Vec::new();
        };
        let dt = (now - last).max(1e-3);
        let work = self.log.lock().map(|mut l| l.take()).unwrap_or_default();
        let count = |role| view.instances.iter().filter(|l| l.role == role).count();
        let (n_p, n_d) = (count(InstanceRole::Prefill), count(InstanceRole::Decode));
        let Some(model) = self.models.first().cloned() else {
            return Vec::new();
        };
        // Prefill demand, instance equivalents: admitted work plus the backlog queued now.
        let per_token_ms = model.idle_ttft_ms(2048) / 2048.0;
        let backlog_ms: f64 = view
            .instances
            .iter()
            .filter(|l| l.role == InstanceRole::Prefill)
            .map(|l| l.waiting_prefill_tokens as f64 * per_token_ms)
            .sum();
        let lead_s = self.cfg.lead_ticks as f64 * dt;
        let p_need = work.prefill_ms() / 1000.0 / dt + backlog_ms / 1000.0 / lead_s;
        // Decode demand: token rate over per-instance capacity, or KV held, whichever binds.
        let ctx = if work.requests() > 0 {
            work.mean_context()
        } else {
            1024.0
        };
        let tps = self.decode_capacity(model.as_ref(), ctx);
        let (kv_used, kv_cap) = view
            .instances
            .iter()
            .filter(|l| l.role == InstanceRole::Decode)
            .fold((0u64, 0u64), |(u, c), l| {
                (u + l.kv_used_tokens, c + l.kv_capacity_tokens)
            });
        let per_inst_cap = if n_d > 0 {
            kv_cap as f64 / n_d as f64
        } else {
            1.0
        };
        let kv_need = kv_used as f64 / (0.9 * per_inst_cap.max(1.0));
        let d_need = (work.decode_tokens() / dt / tps.max(1e-9)).max(kv_need);
        self.prefill.push(p_need);
        self.decode.push(d_need);
        if n_p == 0 || n_d == 0 || view.instances.iter().any(|l| !l.accepting) {
            // Not a P/D cluster, or a flip is still draining: one at a time.
            self.streak = 0;
            return Vec::new();
        }
        let fp = self.prefill.forecast(self.cfg.lead_ticks);
        let fd = self.decode.forecast(self.cfg.lead_ticks);
        if fp + fd <= 1e-9 {
            self.streak = 0;
            return Vec::new();
        }
        let n = (n_p + n_d) as f64;
        let share = fp / (fp + fd);
        let target = (n * share).clamp(1.0, n - 1.0);
        let want: i32 = if target > n_p as f64 + 0.5 + self.cfg.band {
            1
        } else if target < n_p as f64 - 0.5 - self.cfg.band {
            -1
        } else {
            0
        };
        self.streak = if want == 0 || want.signum() != self.streak.signum() {
            want
        } else {
            self.streak + want
        };
        if self.streak.unsigned_abs() < self.cfg.patience_ticks
            || now - self.last_flip_s < self.cfg.cooldown_s
        {
            return Vec::new();
        }
        let (from, to) = if self.streak > 0 {
            (InstanceRole::Decode, InstanceRole::Prefill)
        } else {
            (InstanceRole::Prefill, InstanceRole::Decode)
        };
        // The donor with the least work drains first.
        let Some(donor) = view
            .instances
            .iter()
            .filter(|l| l.role == from)
            .min_by_key(|l| (l.outstanding, std::cmp::Reverse(l.id)))
        else {
            return Vec::new();
        };
        self.streak = 0;
        self.last_flip_s = now;
        self.flips.push(FlipRecord {
            at_s: now,
            instance: donor.id,
            to,
            prefill_share: share,
        });
        vec![(donor.id, to)]
    }
}

#[cfg(test)]
mod tests {
    use super::super::toy::models;
    use super::*;
    use crate::policy::InstanceLoad;

    fn cluster(p: usize, d: usize) -> Vec<InstanceLoad> {
        (0..p + d)
            .map(|i| {
                let role = if i < p {
                    InstanceRole::Prefill
                } else {
                    InstanceRole::Decode
                };
                InstanceLoad::idle(i, role, 100_000, 16)
            })
            .collect()
    }

    fn controller(log: &Arc<Mutex<DemandLog>>) -> FlowController {
        FlowController::new(FlowConfig::default(), Arc::clone(log), models(8))
    }

    /// Feeds `secs` one-second ticks of `prefill_ms` prefill work and `tokens` decode tokens per
    /// second; returns the flips decided.
    fn run(
        c: &mut FlowController,
        log: &Arc<Mutex<DemandLog>>,
        l: &mut [InstanceLoad],
        from_s: usize,
        secs: usize,
        prefill_ms: f64,
        tokens: f64,
    ) -> Vec<(usize, InstanceRole)> {
        let mut all = Vec::new();
        for t in from_s..from_s + secs {
            log.lock().unwrap().record(prefill_ms, 1000, tokens);
            let flips = c.decide(&ClusterView::new(t as f64, l));
            for &(i, role) in &flips {
                l[i].role = role; // instant drain in this test
            }
            all.extend(flips);
        }
        all
    }

    #[test]
    fn prefill_heavy_demand_moves_instances_to_prefill_and_back_with_hysteresis() {
        let log = Arc::new(Mutex::new(DemandLog::default()));
        let mut c = controller(&log);
        let mut l = cluster(4, 4);
        // ~6 instances' worth of prefill, little decode: prefill should grow.
        let flips = run(&mut c, &log, &mut l, 0, 60, 6000.0, 50.0);
        let n_p = l.iter().filter(|x| x.role == InstanceRole::Prefill).count();
        assert!(n_p >= 6, "{n_p} prefill after {flips:?}");
        assert!(flips.iter().all(|f| f.1 == InstanceRole::Prefill));
        assert!(n_p <= 7, "one decode instance always stays");
        // Then decode-heavy: prefill shrinks again.
        run(&mut c, &log, &mut l, 60, 120, 200.0, 20_000.0);
        let n_p2 = l.iter().filter(|x| x.role == InstanceRole::Prefill).count();
        assert!(n_p2 < n_p && n_p2 >= 1, "{n_p} → {n_p2}");
        // Cooldown: never two flips within cooldown_s.
        let times: Vec<f64> = c.flips().iter().map(|f| f.at_s).collect();
        assert!(times.windows(2).all(|w| w[1] - w[0] >= 5.0), "{times:?}");
    }

    #[test]
    fn a_steady_balanced_demand_never_flips_and_draining_blocks_flips() {
        let log = Arc::new(Mutex::new(DemandLog::default()));
        let mut c = controller(&log);
        let mut l = cluster(4, 4);
        // Find the decode demand that balances 4 instances of prefill.
        let tps = c.decode_capacity(models(1)[0].as_ref(), 1000.0 + 2000.0 / 2.0);
        let flips = run(&mut c, &log, &mut l, 0, 60, 4000.0, 4.0 * tps);
        assert!(flips.is_empty(), "{flips:?}");
        // Strongly prefill-heavy, but an instance is draining: nothing happens.
        l[7].accepting = false;
        let flips = run(&mut c, &log, &mut l, 60, 30, 7000.0, 10.0);
        assert!(flips.is_empty(), "{flips:?}");
    }
}
