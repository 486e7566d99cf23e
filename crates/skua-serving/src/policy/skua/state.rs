//! What skua's router remembers about each instance, and its predictions from it.
//!
//! All of it is router-local bookkeeping (what was routed where, which requests streamed their
//! first token, which finished), so it is exact and immediate, as in a gateway; the engine model
//! turns it into time. Prefill runs FCFS on an instance: each routed prompt adds its predicted
//! prefill time to the instance's prefill backlog, and each first token re-anchors the backlog
//! at the moment it was observed, so prediction errors do not accumulate.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::profile::{Iteration, LatencyModel};

/// Time constant of the prefill-demand average, seconds.
const DEMAND_TAU_S: f64 = 30.0;

/// One routed request the router is tracking.
#[derive(Debug, Clone)]
pub(super) struct Tracked {
    pub prompt: u32,
    pub prefill: usize,
    pub decode: usize,
    /// Expected output length in all (refined as the request streams).
    pub est_total: f64,
    /// When its first token was seen.
    pub first_token_s: Option<f64>,
    /// Exact output length (oracle only).
    pub exact: Option<u32>,
    /// The TPOT predicted when it was routed, before correction, ms.
    pub raw_tpot_ms: f64,
    /// The TTFT predicted when it was routed, before correction, ms.
    pub raw_ttft_ms: f64,
    /// When it was routed, seconds.
    pub routed_s: f64,
}

/// One instance's bookkeeping.
#[derive(Debug, Clone)]
pub(super) struct InstState {
    pub model: Arc<dyn LatencyModel>,
    /// Prompts routed here for prefill and not yet at their first token: `(id, predicted ms)`.
    pub prefill_queue: VecDeque<(u64, f64)>,
    /// When the prefill backlog is predicted to be done, seconds.
    pub prefill_free_s: f64,
    /// Requests that decode (or will decode) here.
    pub members: Vec<u64>,
    /// Log of the ratio measured / predicted TPOT, averaged over recent finished requests (the
    /// router's check of its own model; predictions are multiplied by its exponential).
    pub tpot_log_ratio: f64,
    /// The same check for TTFT, from the first tokens of the prompts prefilled here.
    pub ttft_log_ratio: f64,
    /// Exponentially decayed prefill work routed here, ms (÷ τ = ms of prefill per second).
    demand_ms: f64,
    demand_at_s: f64,
}

impl InstState {
    pub fn new(model: Arc<dyn LatencyModel>) -> Self {
        Self {
            model,
            prefill_queue: VecDeque::new(),
            prefill_free_s: f64::NEG_INFINITY,
            members: Vec::new(),
            tpot_log_ratio: 0.0,
            ttft_log_ratio: 0.0,
            demand_ms: 0.0,
            demand_at_s: 0.0,
        }
    }

    /// Prefill backlog ahead of a new prompt at `now`, ms.
    pub fn backlog_ms(&self, now: f64) -> f64 {
        ((self.prefill_free_s - now) * 1000.0).max(0.0)
    }

    /// Recent prefill work routed here, ms per second (a utilisation in [0, ∞)).
    pub fn prefill_share(&self, now: f64) -> f64 {
        let decay = (-(now - self.demand_at_s).max(0.0) / DEMAND_TAU_S).exp();
        self.demand_ms * decay / DEMAND_TAU_S / 1000.0
    }

    /// Adds a prompt of predicted `ms` to the prefill backlog.
    pub fn push_prefill(&mut self, id: u64, ms: f64, now: f64) {
        self.prefill_free_s = self.prefill_free_s.max(now) + ms / 1000.0;
        self.prefill_queue.push_back((id, ms));
        let decay = (-(now - self.demand_at_s).max(0.0) / DEMAND_TAU_S).exp();
        self.demand_ms = self.demand_ms * decay + ms;
        self.demand_at_s = now;
    }

    /// The first token of `id` was seen at `at`: everything queued before it is done too (FCFS);
    /// the backlog is what is queued after it, from `at`.
    pub fn first_token(&mut self, id: u64, at: f64) {
        let Some(pos) = self.prefill_queue.iter().position(|&(q, _)| q == id) else {
            return;
        };
        self.prefill_queue.drain(..=pos);
        let rest: f64 = self.prefill_queue.iter().map(|&(_, ms)| ms).sum();
        self.prefill_free_s = at + rest / 1000.0;
    }

    /// Forgets `id` (finished or refused).
    pub fn forget(&mut self, id: u64) {
        if let Some(pos) = self.prefill_queue.iter().position(|&(q, _)| q == id) {
            if let Some((_, ms)) = self.prefill_queue.remove(pos) {
                self.prefill_free_s -= ms / 1000.0;
            }
        }
        if let Some(pos) = self.members.iter().position(|&m| m == id) {
            self.members.swap_remove(pos);
        }
    }

    /// Decode iteration time at `batch` sequences holding `context` tokens, ms.
    pub fn decode_ms(&self, batch: u32, context: u64) -> f64 {
        self.model.iteration_ms(&Iteration {
            prefill: Vec::new(),
            decode_batch: batch,
            decode_context: context,
        })
    }

    /// Predicted time to prefill `new` tokens after `cached` cached ones with `batch` decodes
    /// holding `context` tokens running alongside, ms: the whole prompt's prefill work once,
    /// plus one decode step per further chunk of `budget` tokens (chunked prefill; `budget` 0 =
    /// the prompt runs whole, prefill-only).
    pub fn prefill_ms(&self, new: u32, cached: u32, budget: u32, batch: u32, context: u64) -> f64 {
        let new = new.max(1);
        if budget == 0 {
            return self.model.iteration_ms(&Iteration {
                prefill: vec![(new, cached)],
                ..Iteration::default()
            });
        }
        let room = budget.saturating_sub(batch).max(budget / 4).max(1);
        let chunks = new.div_ceil(room);
        let first = self.model.iteration_ms(&Iteration {
            prefill: vec![(new, cached)],
            decode_batch: batch,
            decode_context: context,
        });
        let more = if batch > 0 {
            f64::from(chunks - 1) * self.decode_ms(batch, context)
        } else {
            0.0
        };
        first + more
    }
}

/// The decode-side load of one instance as the router estimates it.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct DecodeLoad {
    /// Sequences decoding or about to.
    pub batch: u32,
    /// Their current context, tokens.
    pub context: u64,
    /// Their KV at the end of their expected outputs, tokens.
    pub kv_final: u64,
}

/// Sums the decode load of `inst`'s members at `now`, refining the expected length of any
/// member that has outrun its estimate (`refine(prompt, generated) → expected remaining`).
pub(super) fn decode_load(
    inst: &InstState,
    tracked: &mut HashMap<u64, Tracked>,
    now: f64,
    refine: impl Fn(u32, u32) -> f64,
) -> DecodeLoad {
    let mut load = DecodeLoad::default();
    // Tokens streamed so far are estimated from the current iteration time.
    let n = inst.members.len() as u32;
    let mut ctx_guess = 0u64;
    for id in &inst.members {
        if let Some(t) = tracked.get(id) {
            ctx_guess += u64::from(t.prompt);
        }
    }
    let step_s = (inst.decode_ms(n.max(1), ctx_guess) / 1000.0).max(1e-4);
    for id in &inst.members {
        let Some(t) = tracked.get_mut(id) else {
            continue;
        };
        let generated = t
            .first_token_s
            .map_or(0.0, |ft| ((now - ft) / step_s).max(0.0) + 1.0);
        match t.exact {
            Some(exact) => t.est_total = f64::from(exact),
            None if generated >= 0.9 * t.est_total => {
                let g = generated as u32;
                t.est_total = generated + refine(t.prompt, g);
            }
            None => {}
        }
        let generated = generated.min(t.est_total);
        load.batch += 1;
        load.context += u64::from(t.prompt) + generated as u64;
        load.kv_final += u64::from(t.prompt) + t.est_total.ceil() as u64;
    }
    load
}
