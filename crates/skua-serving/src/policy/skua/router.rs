//! skua's router: each request goes where its predicted TTFT and TPOT keep the most headroom
//! against its own SLO; requests no instance can serve in time are refused at the door.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::demand::DemandLog;
use super::estimator::OutputLengthEstimator;
use super::state::{DecodeLoad, InstState, Tracked, decode_load};
use crate::policy::{
    ClusterView, InstanceLoad, InstanceRole, RejectReason, RequestEvent, RouteDecision, Router,
};
use crate::profile::{LatencyModel, SloSpec};
use crate::workload::Request;

/// Knobs of skua's router.
#[derive(Debug, Clone, PartialEq)]
pub struct SkuaConfig {
    /// The SLO rule requests are judged by (the router aims at each request's own thresholds).
    pub slo: SloSpec,
    /// The engines' chunked-prefill token budget (0: prompts prefill whole, vLLM 0.2).
    pub token_budget: u32,
    /// Admission control: refuse a request when even its best placement is predicted to miss
    /// its SLO by more than this share of headroom (0, the default: refuse whatever is
    /// predicted to miss; 0.5: only what is predicted above 1.5 × the SLO). `None`: admit
    /// everything.
    pub reject_below_headroom: Option<f64>,
    /// Consider sending a request's decode to another instance than its prefill when that
    /// gains at least this much headroom (`None`: only when roles force it).
    pub disaggregate_gain: Option<f64>,
    /// KV link bandwidth between instances, bytes/s (for the transfer delay of a P/D pair).
    pub kv_link_bytes_per_s: f64,
    /// Mean output length assumed before any request has finished, tokens.
    pub prior_output_mean: f64,
}

impl Default for SkuaConfig {
    fn default() -> Self {
        Self {
            slo: SloSpec::default(),
            token_budget: 2048,
            reject_below_headroom: Some(0.0),
            disaggregate_gain: None,
            kv_link_bytes_per_s: 25e9,
            prior_output_mean: 256.0,
        }
    }
}

/// Counters of the router's own decisions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SkuaStats {
    /// Requests routed.
    pub routed: u64,
    /// Requests refused by admission control.
    pub refused: u64,
    /// Requests whose prefill and decode went to different instances.
    pub disaggregated: u64,
}

/// One candidate placement and its predicted headroom.
#[derive(Debug, Clone, Copy)]
struct Choice {
    prefill: usize,
    decode: usize,
    score: f64,
    /// The smaller of the two headrooms (what admission control looks at).
    headroom: f64,
    /// Predicted TPOT before the measured correction, ms.
    raw_tpot_ms: f64,
    /// Predicted TTFT before the measured correction, ms.
    raw_ttft_ms: f64,
    prefill_ms: f64,
    cached: u32,
}

/// Weight of each measurement in the per-instance TTFT and TPOT corrections (≈ the last 20).
const CHECK_WEIGHT: f64 = 0.05;

/// Headroom (share of the SLO left) above which a placement counts as safe.
const SAFE_HEADROOM: f64 = 0.25;

/// A placement's score from its TTFT and TPOT headrooms and the share of the prompt it must
/// compute (1 − cached share). Safe placements (both headrooms ≥ [`SAFE_HEADROOM`]) always beat
/// unsafe ones; among safe ones, the one that computes least wins (a prefix hit saves capacity
/// for later requests), then the one with more headroom; among unsafe ones, the most headroom.
fn combine(ttft: f64, tpot: f64, new_share: f64) -> f64 {
    let h = ttft.min(tpot);
    if h >= SAFE_HEADROOM {
        10.0 + (1.0 - new_share) + 0.5 * h
    } else {
        h + 0.3 * (1.0 - new_share) + 1e-3 * (ttft + tpot)
    }
}

/// Share of `req`'s prompt still to compute when `cached` tokens are cached.
fn new_share(req: &Request, cached: u32) -> f64 {
    1.0 - f64::from(cached) / f64::from(req.input_tokens.max(1))
}

/// skua's SLO-headroom router (see the module docs of `policy::skua`).
pub struct SkuaRouter {
    name: String,
    cfg: SkuaConfig,
    oracle: bool,
    insts: Vec<InstState>,
    tracked: HashMap<u64, Tracked>,
    estimator: OutputLengthEstimator,
    stats: SkuaStats,
    demand: Option<Arc<Mutex<DemandLog>>>,
    // Scratch per decision.
    loads: Vec<DecodeLoad>,
}

impl SkuaRouter {
    /// A router for instances with these latency models (indexed by instance id).
    pub fn new(
        name: &str,
        models: Vec<Arc<dyn LatencyModel>>,
        cfg: SkuaConfig,
        oracle: bool,
    ) -> Self {
        let estimator = OutputLengthEstimator::new(cfg.prior_output_mean);
        Self {
            name: name.to_string(),
            insts: models.into_iter().map(InstState::new).collect(),
            cfg,
            oracle,
            tracked: HashMap::new(),
            estimator,
            stats: SkuaStats::default(),
            demand: None,
            loads: Vec::new(),
        }
    }

    /// Also records every admitted request's predicted prefill and decode work in `log` (the
    /// role controller's demand signal).
    pub fn with_demand_log(mut self, log: Arc<Mutex<DemandLog>>) -> Self {
        self.demand = Some(log);
        self
    }

    /// The router's decision counters.
    pub fn stats(&self) -> SkuaStats {
        self.stats
    }

    /// Predicted output length of `req` in all.
    fn expected_output(&self, req: &Request) -> f64 {
        if self.oracle {
            f64::from(req.output_tokens.max(1))
        } else {
            self.estimator.expected_total(req.input_tokens)
        }
    }

    /// TTFT headroom of prefilling `req` on `l`: (headroom, own prefill ms, cached tokens,
    /// uncorrected predicted TTFT ms).
    fn prefill_headroom(
        &self,
        l: &InstanceLoad,
        req: &Request,
        view: &ClusterView,
        dl: DecodeLoad,
    ) -> (f64, f64, u32, f64) {
        let st = &self.insts[l.id];
        let prompt = req.input_tokens;
        let cached = (view.cached_prefix_tokens(l.id, req) as u32).min(prompt.saturating_sub(1));
        let (batch, ctx) = if l.role == InstanceRole::Mixed {
            (dl.batch, dl.context)
        } else {
            (0, 0)
        };
        let own = st.prefill_ms(prompt - cached, cached, self.cfg.token_budget, batch, ctx);
        let raw = st.backlog_ms(view.now_s) + own;
        // Corrected by what this instance's first tokens measured against the prediction.
        let ttft = raw * st.ttft_log_ratio.exp();
        let slo = self.cfg.slo.ttft_ms(st.model.as_ref(), prompt);
        (1.0 - ttft / slo, own, cached, raw)
    }

    /// TPOT headroom of decoding `req` (expected output `out`) on `l`, with `extra_ms` of delay
    /// before its first decode step (a KV transfer).
    fn decode_headroom(
        &self,
        l: &InstanceLoad,
        req: &Request,
        out: f64,
        now: f64,
        dl: DecodeLoad,
        extra_ms: f64,
    ) -> (f64, f64) {
        let st = &self.insts[l.id];
        let prompt = u64::from(req.input_tokens);
        let mid = prompt + (out / 2.0) as u64;
        let step = st.decode_ms(dl.batch + 1, dl.context + mid);
        let mut tpot = step;
        if l.role == InstanceRole::Mixed && self.cfg.token_budget > 0 {
            // Prefill chunks share iterations with decodes: the share of iterations carrying
            // one is the recent prefill load plus the current backlog over this decode's life.
            let chunk = st.prefill_ms(self.cfg.token_budget, 0, self.cfg.token_budget, 0, 0);
            let life_ms = (out * step).max(step);
            let share = (st.prefill_share(now) + st.backlog_ms(now) / life_ms).min(1.0);
            tpot += share * chunk;
        }
        tpot += extra_ms / out.max(1.0);
        let raw = tpot;
        // Corrected by what this instance's finished requests measured against the model.
        tpot *= st.tpot_log_ratio.exp();
        let slo = self.cfg.slo.tpot_ms(st.model.as_ref(), mid);
        let mut h = 1.0 - tpot / slo;
        let kv_after = dl.kv_final + prompt + out.ceil() as u64;
        if kv_after > l.kv_capacity_tokens {
            // Expected to run out of KV: preemptions would follow.
            h -= kv_after as f64 / l.kv_capacity_tokens.max(1) as f64;
        }
        (h, raw)
    }

    fn transfer_ms(&self, i: usize, prompt: u32) -> f64 {
        let bytes = f64::from(prompt) * self.insts[i].model.kv_bytes_per_token() as f64;
        bytes / self.cfg.kv_link_bytes_per_s * 1000.0
    }

    /// The best placement of `req`, or why there is none.
    fn choose(&mut self, req: &Request, view: &ClusterView) -> Result<Choice, RejectReason> {
        let now = view.now_s;
        let out = self.expected_output(req);
        let estimator = &self.estimator;
        self.loads.clear();
        for st in &self.insts {
            let dl = decode_load(st, &mut self.tracked, now, |p, g| {
                estimator.expected_remaining(p, g)
            });
            self.loads.push(dl);
        }
        let mut best_mixed: Option<Choice> = None;
        let mut best_p: Option<(usize, f64, f64, u32, f64, f64)> = None;
        let mut any_prefill = false;
        let mut any_decode = false;
        for l in view.instances.iter().filter(|l| l.accepting) {
            if l.id >= self.insts.len() {
                continue;
            }
            let dl = self.loads[l.id];
            if l.role.can_prefill() {
                any_prefill = true;
                let (h, own, cached, raw_ttft_ms) = self.prefill_headroom(l, req, view, dl);
                let key = combine(h, h, new_share(req, cached));
                if best_p.is_none_or(|b| key > b.4) {
                    best_p = Some((l.id, h, own, cached, key, raw_ttft_ms));
                }
                if l.role == InstanceRole::Mixed {
                    let (hd, raw_tpot_ms) = self.decode_headroom(l, req, out, now, dl, 0.0);
                    let score = combine(h, hd, new_share(req, cached));
                    if best_mixed.is_none_or(|b| score > b.score) {
                        best_mixed = Some(Choice {
                            prefill: l.id,
                            decode: l.id,
                            score,
                            headroom: h.min(hd),
                            raw_tpot_ms,
                            raw_ttft_ms,
                            prefill_ms: own,
                            cached,
                        });
                    }
                }
            }
            any_decode |= l.role.can_decode();
        }
        let pairs_forced = view
            .instances
            .iter()
            .any(|l| l.accepting && l.role != InstanceRole::Mixed);
        let mut best = best_mixed;
        if let Some((p, hp, own, cached, _, raw_ttft_ms)) = best_p
            && (pairs_forced || self.cfg.disaggregate_gain.is_some())
        {
            let transfer = self.transfer_ms(p, req.input_tokens);
            let mut best_d: Option<(usize, f64, f64)> = None;
            for l in view
                .instances
                .iter()
                .filter(|l| l.accepting && l.role.can_decode() && l.id != p)
            {
                if l.id >= self.insts.len() {
                    continue;
                }
                let (h, raw) = self.decode_headroom(l, req, out, now, self.loads[l.id], transfer);
                if best_d.is_none_or(|b| h > b.1) {
                    best_d = Some((l.id, h, raw));
                }
            }
            if let Some((d, hd, raw_tpot_ms)) = best_d {
                let pair = Choice {
                    prefill: p,
                    decode: d,
                    score: combine(hp, hd, new_share(req, cached)),
                    headroom: hp.min(hd),
                    raw_tpot_ms,
                    raw_ttft_ms,
                    prefill_ms: own,
                    cached,
                };
                let gain = self.cfg.disaggregate_gain.unwrap_or(0.0);
                let better = match best {
                    None => true,
                    Some(m) => pair.score > m.score + gain,
                };
                if better {
                    best = Some(pair);
                }
            }
        }
        let Some(choice) = best else {
            let role = if !any_prefill || any_decode {
                InstanceRole::Prefill
            } else {
                InstanceRole::Decode
            };
            return Err(RejectReason::NoInstance { role });
        };
        if let Some(margin) = self.cfg.reject_below_headroom
            && choice.headroom < -margin
        {
            return Err(RejectReason::Overloaded);
        }
        Ok(choice)
    }
}

impl Router for SkuaRouter {
    fn name(&self) -> &str {
        &self.name
    }

    fn route(&mut self, req: &Request, view: &ClusterView) -> RouteDecision {
        let choice = match self.choose(req, view) {
            Ok(c) => c,
            Err(reason) => {
                if reason == RejectReason::Overloaded {
                    self.stats.refused += 1;
                }
                return RouteDecision::Reject { reason };
            }
        };
        let now = view.now_s;
        let out = self.expected_output(req);
        self.stats.routed += 1;
        self.insts[choice.prefill].push_prefill(req.id, choice.prefill_ms, now);
        self.insts[choice.decode].members.push(req.id);
        self.tracked.insert(
            req.id,
            Tracked {
                prompt: req.input_tokens,
                prefill: choice.prefill,
                decode: choice.decode,
                est_total: out,
                first_token_s: None,
                exact: self.oracle.then_some(req.output_tokens.max(1)),
                raw_tpot_ms: choice.raw_tpot_ms,
                raw_ttft_ms: choice.raw_ttft_ms,
                routed_s: now,
            },
        );
        if let Some(log) = &self.demand
            && let Ok(mut log) = log.lock()
        {
            log.record(choice.prefill_ms, req.input_tokens, out);
        }
        let _ = choice.cached;
        if choice.prefill == choice.decode {
            RouteDecision::Mixed {
                instance: choice.prefill,
            }
        } else {
            self.stats.disaggregated += 1;
            RouteDecision::Disaggregated {
                prefill: choice.prefill,
                decode: choice.decode,
            }
        }
    }

    fn on_event(&mut self, event: &RequestEvent) {
        match *event {
            RequestEvent::FirstToken { id, instance, at_s } => {
                if let Some(st) = self.insts.get_mut(instance) {
                    st.first_token(id, at_s);
                }
                let transfer = self
                    .tracked
                    .get(&id)
                    .filter(|t| t.decode != t.prefill)
                    .map(|t| (t.prefill, t.prompt));
                let delay = transfer.map_or(0.0, |(p, prompt)| self.transfer_ms(p, prompt) / 1e3);
                if let Some(t) = self.tracked.get_mut(&id) {
                    t.first_token_s = Some(at_s + delay);
                    // Check the TTFT prediction against what was measured.
                    let measured = (at_s - t.routed_s) * 1000.0;
                    if t.raw_ttft_ms > 0.0
                        && measured > 0.0
                        && let Some(st) = self.insts.get_mut(t.prefill)
                    {
                        let r = (measured / t.raw_ttft_ms).ln().clamp(-2.0, 2.0);
                        st.ttft_log_ratio += CHECK_WEIGHT * (r - st.ttft_log_ratio);
                    }
                }
            }
            RequestEvent::Finished {
                id,
                output_tokens,
                at_s,
            } => {
                let Some(t) = self.tracked.get(&id) else {
                    return;
                };
                self.estimator.observe(t.prompt, output_tokens);
                // Check the TPOT prediction against what streamed.
                if let Some(ft) = t.first_token_s
                    && output_tokens > 1
                    && t.raw_tpot_ms > 0.0
                    && let Some(st) = self.insts.get_mut(t.decode)
                {
                    let measured = (at_s - ft) * 1000.0 / f64::from(output_tokens - 1);
                    if measured > 0.0 {
                        let r = (measured / t.raw_tpot_ms).ln().clamp(-2.0, 2.0);
                        st.tpot_log_ratio += CHECK_WEIGHT * (r - st.tpot_log_ratio);
                    }
                }
            }
        }
    }

    fn on_finish(&mut self, req_id: u64, instance: usize) {
        if let Some(st) = self.insts.get_mut(instance) {
            st.forget(req_id);
        }
        if self
            .tracked
            .get(&req_id)
            .is_some_and(|t| t.decode == instance)
        {
            self.tracked.remove(&req_id);
        }
    }

    fn knows_output_lengths(&self) -> bool {
        self.oracle
    }

    fn subscribes_kv_events(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::super::toy::models;
    use super::*;
    use crate::policy::{InstanceLoad, PrefixIndex};

    /// Idle instances with 100k KV tokens each.
    fn loads(roles: &[InstanceRole]) -> Vec<InstanceLoad> {
        roles
            .iter()
            .enumerate()
            .map(|(i, &r)| InstanceLoad::idle(i, r, 100_000, 16))
            .collect()
    }

    fn req(id: u64, input: u32) -> Request {
        Request {
            id,
            arrival_s: 0.0,
            input_tokens: input,
            output_tokens: 0,
            prefix_blocks: Vec::new(),
        }
    }

    fn router(n: usize, cfg: SkuaConfig) -> SkuaRouter {
        SkuaRouter::new("skua", models(n), cfg, false)
    }

    #[test]
    fn a_long_prefill_backlog_sends_the_next_prompt_elsewhere() {
        let mut r = router(2, SkuaConfig::default());
        let l = loads(&[InstanceRole::Mixed, InstanceRole::Mixed]);
        let view = ClusterView::new(0.0, &l);
        // 8,000 tokens on instance 0: ~810 ms of prefill backlog there.
        assert_eq!(
            r.route(&req(1, 8000), &view),
            RouteDecision::Mixed { instance: 0 }
        );
        assert_eq!(
            r.route(&req(2, 100), &view),
            RouteDecision::Mixed { instance: 1 }
        );
        // Once the first prompt streamed its first token, instance 0 is free again.
        r.on_event(&RequestEvent::FirstToken {
            id: 1,
            instance: 0,
            at_s: 0.8,
        });
        let later = ClusterView::new(0.8, &l);
        assert!(r.insts[0].backlog_ms(0.8) < 1e-9);
        assert!(r.insts[1].backlog_ms(0.8) < 1e-9);
        assert_ne!(
            r.route(&req(3, 4000), &later),
            RouteDecision::Reject {
                reason: RejectReason::Overloaded
            }
        );
    }

    struct CachedOn(usize, u64);

    impl PrefixIndex for CachedOn {
        fn cached_prefix_tokens(&self, instance: usize, _req: &Request) -> u64 {
            if instance == self.0 { self.1 } else { 0 }
        }
    }

    #[test]
    fn an_exact_prefix_hit_attracts_the_request() {
        let mut r = router(3, SkuaConfig::default());
        let l = loads(&[InstanceRole::Mixed; 3]);
        let idx = CachedOn(2, 3000);
        let view = ClusterView::new(0.0, &l).with_prefix(&idx);
        assert_eq!(
            r.route(&req(1, 4000), &view),
            RouteDecision::Mixed { instance: 2 }
        );
        assert!(r.subscribes_kv_events());
        assert!(!r.knows_output_lengths());
    }

    #[test]
    fn hopeless_requests_are_refused_and_counted_and_without_admission_they_are_not() {
        // Idle TTFT of 1,000 tokens: 110 ms → SLO 550 ms. Queue ~5 s of prefill on both.
        for admission in [true, false] {
            let cfg = SkuaConfig {
                reject_below_headroom: admission.then_some(0.5),
                ..SkuaConfig::default()
            };
            let mut r = router(2, cfg);
            let l = loads(&[InstanceRole::Mixed; 2]);
            let view = ClusterView::new(0.0, &l);
            for id in 0..10 {
                let d = r.route(&req(id, 48_000), &view);
                assert!(
                    matches!(d, RouteDecision::Mixed { .. }) || admission,
                    "{d:?}"
                );
            }
            let d = r.route(&req(100, 1000), &view);
            if admission {
                assert_eq!(
                    d,
                    RouteDecision::Reject {
                        reason: RejectReason::Overloaded
                    }
                );
                assert!(r.stats().refused >= 1);
            } else {
                assert!(matches!(d, RouteDecision::Mixed { .. }), "{d:?}");
                assert_eq!(r.stats().refused, 0);
            }
        }
    }

    #[test]
    fn a_pd_cluster_gets_pairs_and_a_missing_role_is_a_reject() {
        let mut r = router(3, SkuaConfig::default());
        let l = loads(&[
            InstanceRole::Prefill,
            InstanceRole::Decode,
            InstanceRole::Decode,
        ]);
        let view = ClusterView::new(0.0, &l);
        let d = r.route(&req(1, 500), &view);
        assert!(
            matches!(d, RouteDecision::Disaggregated { prefill: 0, decode } if decode == 1 || decode == 2),
            "{d:?}"
        );
        assert_eq!(r.stats().disaggregated, 1);
        // The second request decodes on the other decode instance (lighter batch).
        let RouteDecision::Disaggregated { decode: first, .. } = d else {
            unreachable!()
        };
        let d2 = r.route(&req(2, 500), &view);
        assert!(
            matches!(d2, RouteDecision::Disaggregated { decode, .. } if decode != first),
            "{d2:?}"
        );
        let only_decode = loads(&[InstanceRole::Decode, InstanceRole::Decode]);
        let d3 = r.route(&req(3, 10), &ClusterView::new(0.0, &only_decode));
        assert!(
            matches!(
                d3,
                RouteDecision::Reject {
                    reason: RejectReason::NoInstance { .. }
                }
            ),
            "{d3:?}"
        );
    }

    #[test]
    fn finished_requests_teach_the_estimator_and_leave_no_state() {
        let mut r = router(1, SkuaConfig::default());
        let l = loads(&[InstanceRole::Mixed]);
        let view = ClusterView::new(0.0, &l);
        for id in 0..300 {
            r.route(&req(id, 100), &view);
            r.on_event(&RequestEvent::FirstToken {
                id,
                instance: 0,
                at_s: 0.1,
            });
            r.on_event(&RequestEvent::Finished {
                id,
                output_tokens: 40,
                at_s: 0.5,
            });
            r.on_finish(id, 0);
        }
        assert!(r.tracked.is_empty());
        assert!(r.insts[0].members.is_empty() && r.insts[0].prefill_queue.is_empty());
        let e = r.estimator.expected_total(100);
        assert!((e - 40.0).abs() < 8.0, "{e}");
    }

    #[test]
    fn the_oracle_uses_the_real_output_length() {
        let mut r = SkuaRouter::new("oracle", models(1), SkuaConfig::default(), true);
        assert!(r.knows_output_lengths());
        let l = loads(&[InstanceRole::Mixed]);
        let mut q = req(1, 100);
        q.output_tokens = 777;
        r.route(&q, &ClusterView::new(0.0, &l));
        assert_eq!(r.tracked[&1].exact, Some(777));
        assert_eq!(r.tracked[&1].est_total, 777.0);
    }

    #[test]
    fn measured_tpot_above_the_prediction_corrects_the_instance() {
        let mut r = router(2, SkuaConfig::default());
        let l = loads(&[InstanceRole::Mixed; 2]);
        let view = ClusterView::new(0.0, &l);
        let mut on = [0u32; 2];
        for id in 0..40 {
            let RouteDecision::Mixed { instance } = r.route(&req(id, 100), &view) else {
                panic!("not routed");
            };
            on[instance] += 1;
            let predicted = r.tracked[&id].raw_tpot_ms;
            r.on_event(&RequestEvent::FirstToken {
                id,
                instance,
                at_s: 0.0,
            });
            // Instance 0 streams three times slower than predicted, instance 1 as predicted.
            let slow = if instance == 0 { 3.0 } else { 1.0 };
            r.on_event(&RequestEvent::Finished {
                id,
                output_tokens: 11,
                at_s: 10.0 * predicted * slow / 1000.0,
            });
            r.on_finish(id, instance);
        }
        assert!(
            r.insts[0].tpot_log_ratio > 0.2,
            "{}",
            r.insts[0].tpot_log_ratio
        );
        // Once corrected, the slow instance gets less of the traffic.
        assert!(on[1] > on[0], "{on:?}");
        assert!(
            r.insts[1].tpot_log_ratio.abs() < 0.05,
            "{}",
            r.insts[1].tpot_log_ratio
        );
    }
}
