//! The control plane around the engines: role flips (drain, then switch) and the signals policies
//! see (scrapes into the view, sampled time series).

use crate::policy::{ClusterView, InstanceRole};

use super::SimError;
use super::event::Event;
use super::result::Sample;
use super::run::Sim;

impl Sim<'_> {
    pub(super) fn on_controller_tick(&mut self) -> Result<(), SimError> {
        if self.cfg.staleness_s == 0.0 {
            self.scrape();
        }
        let view = ClusterView::new(self.now, &self.loads);
        let changes = self.controller.decide(&view);
        for (i, role) in changes {
            if i >= self.insts.len() {
                return Err(SimError::InvalidRole {
                    controller: self.controller.name().to_string(),
                    instance: i,
                    count: self.insts.len(),
                });
            }
            self.assign_role(i, role);
        }
        if let Some(c) = self.cfg.controller_interval_s.filter(|_| self.more_work()) {
            self.queue.push(self.now + c, Event::ControllerTick);
        }
        Ok(())
    }

    /// Starts (or cancels) a role flip: the instance stops accepting, drains, then switches.
    pub(super) fn assign_role(&mut self, i: usize, role: InstanceRole) {
        let inst = &mut self.insts[i];
        if role == inst.role {
            if inst.flipping_to.take().is_some() {
                inst.drain_s += self.now - inst.drain_started_s;
                self.loads[i].accepting = true;
            }
            return;
        }
        if inst.flipping_to.is_none() {
            inst.drain_started_s = self.now;
        }
        inst.flipping_to = Some(role);
        self.loads[i].accepting = false;
        if inst.inflight == 0 {
            self.complete_flip(i);
        }
    }

    pub(super) fn complete_flip(&mut self, i: usize) {
        let inst = &mut self.insts[i];
        let Some(role) = inst.flipping_to.take() else {
            return;
        };
        inst.role = role;
        inst.flips += 1;
        inst.drain_s += self.now - inst.drain_started_s;
        self.totals.flips += 1;
        self.loads[i].role = role;
        self.loads[i].accepting = true;
    }

    /// Copies engine metrics into the view (a scrape).
    pub(super) fn scrape(&mut self) {
        for (inst, load) in self.insts.iter().zip(self.loads.iter_mut()) {
            let e = &inst.engine;
            let bs = u64::from(e.knobs.block_size);
            load.waiting = e.waiting.len() as u32;
            load.running = e.running.len() as u32;
            load.waiting_prefill_tokens = e.pending_prefill_tokens;
            load.kv_used_tokens = e.kv.held() * bs;
            load.kv_cached_tokens = e.kv.evictable() * bs;
            load.scraped_at_s = self.now;
        }
    }

    pub(super) fn sample(&mut self) {
        for inst in &mut self.insts {
            let e = &inst.engine;
            inst.samples.push(Sample {
                t_s: self.now,
                waiting: e.waiting.len() as u32,
                running: e.running.len() as u32,
                kv_used_tokens: e.kv.held() * u64::from(e.knobs.block_size),
            });
        }
    }
}
