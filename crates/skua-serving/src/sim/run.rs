//! The event loop: arrivals are routed, instances iterate, KV moves between prefill and decode
//! instances, roles flip, and the view the policies see is refreshed.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::policy::{
    ClusterView, InstanceLoad, InstanceRole, RejectReason, RequestEvent, RoleController,
    RouteDecision, Router,
};
use crate::profile::LatencyModel;
use crate::workload::{Request, Workload};

use super::SimError;
use super::config::SimConfig;
use super::engine::{Engine, EngineOut, Knobs, Seq};
use super::event::{Event, Queue};
use super::prefix::EnginePrefixes;
use super::result::{RequestOutcome, RequestStatus, Sample, SimResult, Totals};

/// One instance: its engine plus the cluster-side state around it.
pub(super) struct Inst {
    pub engine: Engine,
    pub model: Arc<dyn LatencyModel>,
    pub role: InstanceRole,
    /// The role it drains towards, while flipping.
    pub flipping_to: Option<InstanceRole>,
    pub drain_started_s: f64,
    /// Request legs routed here and not done (the view's `outstanding`).
    pub inflight: u32,
    pub busy: bool,
    pub wake_pending: bool,
    pub iter_start_s: f64,
    pub iter_seqs: u32,
    /// When the inbound KV link is next free.
    pub link_free_s: f64,
    /// Prefilled sequences waiting for KV room here before their transfer can start (DistServe's
    /// pull-based migration: the decode side fetches KV only when it has the blocks), with their
    /// source instance. Their KV stays on the source meanwhile, which is how a full decode pool
    /// pushes back on prefill.
    pub pulls: VecDeque<(Seq, usize)>,
    /// KV transfers into this instance, in completion order: sequence, source instance, and the
    /// blocks reserved for it here.
    pub inbound: VecDeque<(Seq, usize, u32)>,
    pub busy_s: f64,
    pub iterations: u64,
    pub batch_sum: u64,
    pub prefill_tokens: u64,
    pub decode_tokens: u64,
    pub flips: u32,
    pub drain_s: f64,
    pub samples: Vec<Sample>,
}

/// The simulation state.
pub(super) struct Sim<'a> {
    pub cfg: &'a SimConfig,
    pub reqs: &'a [Request],
    pub router: &'a mut dyn Router,
    pub controller: &'a mut dyn RoleController,
    pub insts: Vec<Inst>,
    pub loads: Vec<InstanceLoad>,
    pub queue: Queue,
    pub out: EngineOut,
    pub outcomes: Vec<RequestOutcome>,
    pub totals: Totals,
    pub now: f64,
    pub start_s: f64,
    pub deadline_s: f64,
    pub next_arrival: usize,
    /// Requests arrived and neither finished nor rejected.
    pub open: usize,
    pub last_work_s: f64,
    pub budget: u32,
    /// The request as a non-oracle router sees it (output length hidden), reused per arrival.
    pub masked: Request,
}

/// Runs `workload` through the cluster of `config`, routing with `router` and reassigning roles
/// with `controller`. Deterministic: same inputs, bit-identical result.
pub fn simulate(
    config: &SimConfig,
    workload: &Workload,
    router: &mut dyn Router,
    controller: &mut dyn RoleController,
) -> Result<SimResult, SimError> {
    config.validate()?;
    validate_workload(workload)?;
    let mut sim = Sim::new(config, workload, router, controller);
    let stopped = sim.run()?;
    Ok(sim.into_result(stopped))
}

fn validate_workload(w: &Workload) -> Result<(), SimError> {
    let bad = |index: usize, id: u64, why: String| Err(SimError::Workload { index, id, why });
    if u32::try_from(w.requests.len()).is_err() {
        return bad(
            0,
            0,
            format!(
                "{} requests; at most 2^32 - 1 are supported",
                w.requests.len()
            ),
        );
    }
    let mut prev = f64::NEG_INFINITY;
    for (i, r) in w.requests.iter().enumerate() {
        if !r.arrival_s.is_finite() {
            return bad(i, r.id, format!("arrival {} is not finite", r.arrival_s));
        }
        if r.arrival_s < prev {
            return bad(
                i,
                r.id,
                format!(
                    "arrival {} s before the previous {prev} s (sort the workload)",
                    r.arrival_s
                ),
            );
        }
        prev = r.arrival_s;
        if r.input_tokens == 0 || r.output_tokens == 0 {
            return bad(i, r.id, "input and output tokens must be at least 1".into());
        }
        if u64::from(r.input_tokens) + u64::from(r.output_tokens) > u64::from(u32::MAX) {
            return bad(i, r.id, "input + output tokens overflow 32 bits".into());
        }
        if !r.prefix_blocks.is_empty() && w.block_tokens == 0 {
            return bad(
                i,
                r.id,
                "has prefix blocks but the workload's block_tokens is 0".into(),
            );
        }
    }
    Ok(())
}

impl<'a> Sim<'a> {
    fn new(
        cfg: &'a SimConfig,
        w: &'a Workload,
        router: &'a mut dyn Router,
        controller: &'a mut dyn RoleController,
    ) -> Self {
        let longest = w.requests.iter().map(|r| r.input_tokens).max().unwrap_or(0);
        let budget = cfg.engine.token_budget(longest);
        let bs = cfg.engine.block_size;
        let knobs = Knobs {
            max_num_seqs: cfg.engine.max_num_seqs,
            budget,
            chunked: cfg.engine.chunked_prefill,
            block_size: bs,
            prefix_cache: cfg.engine.prefix_cache,
            block_tokens: w.block_tokens,
        };
        let start_s = w.requests.first().map_or(0.0, |r| r.arrival_s);
        let last_s = w.requests.last().map_or(0.0, |r| r.arrival_s);
        let deadline_s = cfg
            .time_limit_after_last_arrival_s
            .map_or(f64::INFINITY, |l| last_s + l);
        let mut loads = Vec::with_capacity(cfg.instances.len());
        let insts = cfg
            .instances
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let blocks = spec.model.kv_capacity_tokens() / u64::from(bs);
                let mut load = InstanceLoad::idle(i, spec.role, blocks * u64::from(bs), bs);
                load.scraped_at_s = start_s;
                loads.push(load);
                Inst {
                    engine: Engine::new(blocks, knobs),
                    model: Arc::clone(&spec.model),
                    role: spec.role,
                    flipping_to: None,
                    drain_started_s: 0.0,
                    inflight: 0,
                    busy: false,
                    wake_pending: false,
                    iter_start_s: 0.0,
                    iter_seqs: 0,
                    link_free_s: f64::NEG_INFINITY,
                    pulls: VecDeque::new(),
                    inbound: VecDeque::new(),
                    busy_s: 0.0,
                    iterations: 0,
                    batch_sum: 0,
                    prefill_tokens: 0,
                    decode_tokens: 0,
                    flips: 0,
                    drain_s: 0.0,
                    samples: Vec::new(),
                }
            })
            .collect();
        let outcomes = w
            .requests
            .iter()
            .map(|r| RequestOutcome {
                id: r.id,
                input_tokens: r.input_tokens,
                output_tokens: r.output_tokens,
                arrival_s: r.arrival_s,
                instance: None,
                decode_instance: None,
                first_token_s: None,
                finish_s: None,
                status: RequestStatus::Unfinished,
                generated_tokens: 0,
                preemptions: 0,
                prefix_hit_tokens: 0,
            })
            .collect();
        Self {
            cfg,
            reqs: &w.requests,
            router,
            controller,
            insts,
            loads,
            queue: Queue::default(),
            out: EngineOut::default(),
            outcomes,
            totals: Totals {
                offered: w.requests.len(),
                ..Totals::default()
            },
            now: start_s,
            start_s,
            deadline_s,
            next_arrival: 0,
            open: 0,
            last_work_s: start_s,
            budget,
            masked: Request {
                id: 0,
                arrival_s: 0.0,
                input_tokens: 0,
                output_tokens: 0,
                prefix_blocks: Vec::new(),
            },
        }
    }

    /// Whether anything is left to do (periodic events stop rescheduling themselves otherwise).
    pub(super) fn more_work(&self) -> bool {
        self.next_arrival < self.reqs.len() || self.open > 0
    }

    /// Runs to completion or the time limit; returns whether the limit stopped it.
    fn run(&mut self) -> Result<bool, SimError> {
        if self.reqs.is_empty() {
            return Ok(false);
        }
        let s = self.start_s;
        self.queue.push(s, Event::Arrival(0));
        self.next_arrival = 1;
        self.queue.push(s, Event::Sample);
        if self.cfg.staleness_s > 0.0 {
            self.queue.push(s + self.cfg.staleness_s, Event::Refresh);
        }
        if let Some(c) = self.cfg.controller_interval_s {
            self.queue.push(s + c, Event::ControllerTick);
        }
        while let Some((t, ev)) = self.queue.pop() {
            if t > self.deadline_s {
                self.now = self.deadline_s;
                return Ok(true);
            }
            self.now = t;
            match ev {
                Event::Arrival(i) => self.on_arrival(i as usize)?,
                Event::Wake(i) => self.on_wake(i as usize)?,
                Event::IterationEnd(i) => self.on_iteration_end(i as usize),
                Event::TransferDone(i) => self.on_transfer_done(i as usize),
                Event::ControllerTick => self.on_controller_tick()?,
                Event::Refresh => {
                    self.scrape();
                    if self.more_work() {
                        self.queue.push(t + self.cfg.staleness_s, Event::Refresh);
                    }
                }
                Event::Sample => {
                    self.sample();
                    self.check_stall()?;
                    if self.more_work() {
                        self.queue
                            .push(t + self.cfg.sample_interval_s, Event::Sample);
                    }
                }
            }
        }
        Ok(false)
    }

    /// Open requests with every arrival in, no instance busy and no transfer in flight can
    /// never progress: an engine bug, reported instead of ticking forever.
    fn check_stall(&self) -> Result<(), SimError> {
        let idle = self
            .insts
            .iter()
            .all(|i| !i.busy && !i.wake_pending && i.inbound.is_empty());
        if self.open > 0 && self.next_arrival >= self.reqs.len() && idle {
            let stuck: usize = self
                .insts
                .iter()
                .map(|i| i.engine.waiting.len() + i.engine.running.len() + i.pulls.len())
                .sum();
            return Err(SimError::Stalled {
                at_s: self.now,
                open: self.open,
                queued: stuck,
            });
        }
        Ok(())
    }

    fn on_arrival(&mut self, idx: usize) -> Result<(), SimError> {
        if let Some(next) = self.reqs.get(self.next_arrival) {
            self.queue
                .push(next.arrival_s, Event::Arrival(self.next_arrival as u32));
            self.next_arrival += 1;
        }
        self.last_work_s = self.last_work_s.max(self.now);
        self.open += 1;
        if self.cfg.staleness_s == 0.0 {
            self.scrape();
        }
        let reqs = self.reqs;
        let req = &reqs[idx];
        let routed = if self.router.knows_output_lengths() {
            req
        } else {
            let m = &mut self.masked;
            m.id = req.id;
            m.arrival_s = req.arrival_s;
            m.input_tokens = req.input_tokens;
            m.prefix_blocks.clear();
            m.prefix_blocks.extend_from_slice(&req.prefix_blocks);
            &self.masked
        };
        let prefixes = EnginePrefixes { insts: &self.insts };
        let mut view = ClusterView::new(self.now, &self.loads);
        if self.router.subscribes_kv_events() {
            view = view.with_prefix(&prefixes);
        }
        let decision = self.router.route(routed, &view);
        let (p, d) = match decision {
            RouteDecision::Reject { reason } => {
                self.reject(idx, reason);
                return Ok(());
            }
            RouteDecision::Mixed { instance } => {
                self.check_target(idx, instance, |r| r == InstanceRole::Mixed, "mixed")?;
                (instance, None)
            }
            RouteDecision::Disaggregated { prefill, decode } => {
                self.check_target(idx, prefill, InstanceRole::can_prefill, "prefill")?;
                self.check_target(idx, decode, InstanceRole::can_decode, "decode")?;
                if prefill == decode {
                    return Err(self.invalid(
                        idx,
                        "prefill and decode on the same instance: route it as mixed".into(),
                    ));
                }
                (prefill, Some(decode))
            }
        };
        let (ptoks, otoks) = (req.input_tokens, req.output_tokens);
        let longest = u64::from(ptoks) + u64::from(otoks) - 1;
        let refusal = match d {
            None => self.refusal(p, longest, Some(ptoks)),
            Some(d) => self
                .refusal(p, u64::from(ptoks), Some(ptoks))
                .or_else(|| self.refusal(d, longest, None)),
        };
        let o = &mut self.outcomes[idx];
        o.instance = Some(p);
        o.decode_instance = d;
        for i in std::iter::once(p).chain(d) {
            self.insts[i].inflight += 1;
            self.loads[i].outstanding += 1;
        }
        if let Some(reason) = refusal {
            for i in std::iter::once(p).chain(d) {
                self.leg_done(i, idx);
            }
            self.reject(idx, reason);
            return Ok(());
        }
        let seq = Seq::new(idx as u32, req, d.is_some());
        self.insts[p].engine.enqueue(seq);
        self.poke(p);
        Ok(())
    }

    /// Why instance `i` can never serve a sequence needing `kv_tokens` of KV (and a whole
    /// `prefill_tokens` prefill, when it runs one), if it cannot.
    fn refusal(
        &self,
        i: usize,
        kv_tokens: u64,
        prefill_tokens: Option<u32>,
    ) -> Option<RejectReason> {
        let e = &self.insts[i].engine;
        let bs = u64::from(e.knobs.block_size);
        let needed = e.blocks_for(kv_tokens);
        if needed > e.kv.total() {
            return Some(RejectReason::ExceedsKvCapacity {
                instance: i,
                needed_tokens: needed * bs,
                capacity_tokens: e.kv.total() * bs,
            });
        }
        match prefill_tokens {
            Some(p) if !e.knobs.chunked && p > self.budget => {
                Some(RejectReason::ExceedsBatchBudget {
                    instance: i,
                    prompt_tokens: p,
                    budget_tokens: self.budget,
                })
            }
            _ => None,
        }
    }

    fn check_target(
        &self,
        idx: usize,
        i: usize,
        role_ok: impl Fn(InstanceRole) -> bool,
        leg: &str,
    ) -> Result<(), SimError> {
        let Some(l) = self.loads.get(i) else {
            return Err(self.invalid(
                idx,
                format!(
                    "{leg} instance {i} does not exist ({} instances)",
                    self.loads.len()
                ),
            ));
        };
        if !role_ok(l.role) {
            return Err(self.invalid(
                idx,
                format!("{leg} leg sent to instance {i}, whose role is {}", l.role),
            ));
        }
        if !l.accepting {
            return Err(self.invalid(
                idx,
                format!("{leg} leg sent to instance {i}, which is draining"),
            ));
        }
        Ok(())
    }

    fn invalid(&self, idx: usize, why: String) -> SimError {
        SimError::InvalidRoute {
            router: self.router.name().to_string(),
            request: self.reqs[idx].id,
            why,
        }
    }

    fn reject(&mut self, idx: usize, reason: RejectReason) {
        self.outcomes[idx].status = RequestStatus::Rejected { reason };
        self.totals.rejected += 1;
        self.open -= 1;
    }

    /// A request's work on instance `i` is over: update the router-local count, tell the router,
    /// and complete a pending role flip once the instance is empty.
    fn leg_done(&mut self, i: usize, idx: usize) {
        let inst = &mut self.insts[i];
        inst.inflight -= 1;
        self.loads[i].outstanding -= 1;
        self.router.on_finish(self.reqs[idx].id, i);
        if inst.inflight == 0 && inst.flipping_to.is_some() {
            self.complete_flip(i);
        }
    }

    /// Schedules an iteration start on an idle instance that has work.
    fn poke(&mut self, i: usize) {
        let inst = &mut self.insts[i];
        if !inst.busy && !inst.wake_pending && inst.engine.has_work() {
            inst.wake_pending = true;
            self.queue.push(self.now, Event::Wake(i as u32));
        }
    }

    fn on_wake(&mut self, i: usize) -> Result<(), SimError> {
        let inst = &mut self.insts[i];
        inst.wake_pending = false;
        if inst.busy {
            return Ok(());
        }
        let n = inst.engine.schedule(self.reqs, &mut self.out);
        self.apply_out(i);
        if n == 0 {
            return Ok(());
        }
        let inst = &mut self.insts[i];
        let ms = inst.model.iteration_ms(&inst.engine.iter);
        if !(ms.is_finite() && ms >= 0.0) {
            return Err(SimError::Latency {
                model: inst.model.name().to_string(),
                ms,
            });
        }
        let it = &inst.engine.iter;
        inst.prefill_tokens += it.prefill.iter().map(|&(n, _)| u64::from(n)).sum::<u64>();
        inst.decode_tokens += u64::from(it.decode_batch);
        inst.busy = true;
        inst.iter_start_s = self.now;
        inst.iter_seqs = n;
        self.queue
            .push(self.now + ms / 1000.0, Event::IterationEnd(i as u32));
        Ok(())
    }

    fn on_iteration_end(&mut self, i: usize) {
        let inst = &mut self.insts[i];
        inst.busy = false;
        inst.busy_s += self.now - inst.iter_start_s;
        inst.iterations += 1;
        inst.batch_sum += u64::from(inst.iter_seqs);
        inst.engine.complete(self.reqs, &mut self.out);
        self.last_work_s = self.last_work_s.max(self.now);
        self.apply_out(i);
        self.try_pull(i);
        self.poke(i);
    }

    /// Acts on what instance `i`'s engine reported.
    fn apply_out(&mut self, i: usize) {
        let mut out = std::mem::take(&mut self.out);
        for idx in out.preempted.drain(..) {
            self.outcomes[idx as usize].preemptions += 1;
            self.totals.preemptions += 1;
        }
        for (idx, tokens) in out.hits.drain(..) {
            self.outcomes[idx as usize].prefix_hit_tokens += u64::from(tokens);
            self.totals.prefix_hit_tokens += u64::from(tokens);
        }
        for idx in out.first_token.drain(..) {
            self.outcomes[idx as usize].first_token_s = Some(self.now);
            self.router.on_event(&RequestEvent::FirstToken {
                id: self.reqs[idx as usize].id,
                instance: i,
                at_s: self.now,
            });
        }
        for seq in out.finished.drain(..) {
            self.finish(i, &seq);
        }
        for seq in out.handoff.drain(..) {
            self.start_transfer(i, seq);
        }
        self.out = out;
    }

    fn finish(&mut self, i: usize, seq: &Seq) {
        let idx = seq.idx as usize;
        let o = &mut self.outcomes[idx];
        o.finish_s = Some(self.now);
        o.generated_tokens = seq.generated;
        o.status = RequestStatus::Finished;
        let decode = o.decode_instance;
        self.totals.finished += 1;
        self.totals.generated_tokens += u64::from(seq.generated);
        self.open -= 1;
        self.router.on_event(&RequestEvent::Finished {
            id: self.reqs[idx].id,
            output_tokens: seq.generated,
            at_s: self.now,
        });
        self.leg_done(i, idx);
        // A one-token request of a P/D pair finishes on its prefill instance.
        if let Some(d) = decode.filter(|&d| d != i) {
            self.leg_done(d, idx);
        }
    }

    /// Queues a finished prefill for its decode instance, which pulls it when it has room.
    fn start_transfer(&mut self, src: usize, seq: Seq) {
        let Some(d) = self.outcomes[seq.idx as usize].decode_instance else {
            return;
        };
        self.insts[d].pulls.push_back((seq, src));
        self.try_pull(d);
    }

    /// Starts the transfers into decode instance `d` whose KV (prompt + the first token's slot)
    /// it can reserve now, in FIFO order, over its inbound link.
    fn try_pull(&mut self, d: usize) {
        loop {
            let dst = &mut self.insts[d];
            let Some((seq, _)) = dst.pulls.front() else {
                return;
            };
            let need = dst.engine.blocks_for(u64::from(seq.computed) + 1);
            if !dst.engine.kv.alloc(need) {
                return;
            }
            let Some((seq, src)) = dst.pulls.pop_front() else {
                return;
            };
            let bytes = u64::from(seq.prompt) * self.insts[src].model.kv_bytes_per_token();
            let dst = &mut self.insts[d];
            let start = dst.link_free_s.max(self.now);
            let end = start + bytes as f64 / self.cfg.kv_link_bytes_per_s;
            dst.link_free_s = end;
            dst.inbound.push_back((seq, src, need as u32));
            self.totals.transfers += 1;
            self.totals.transfer_bytes += bytes;
            self.queue.push(end, Event::TransferDone(d as u32));
        }
    }

    fn on_transfer_done(&mut self, d: usize) {
        let Some((mut seq, src, reserved)) = self.insts[d].inbound.pop_front() else {
            return;
        };
        self.last_work_s = self.last_work_s.max(self.now);
        self.insts[src].engine.release(&mut seq);
        self.leg_done(src, seq.idx as usize);
        self.poke(src);
        seq.prefill_only = false;
        // The blocks reserved when the pull started now belong to the sequence.
        seq.private = reserved;
        self.insts[d].engine.enqueue(seq);
        self.poke(d);
    }
}
