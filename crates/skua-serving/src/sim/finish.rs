//! Turning the final simulation state into a [`SimResult`], with the KV audit.

use super::result::{InstanceResult, KvAudit, RequestStatus, SimResult};
use super::run::Sim;

impl Sim<'_> {
    /// Closes the books: marks what is left as unfinished, audits KV, computes per-instance stats.
    pub(super) fn into_result(mut self, stopped: bool) -> SimResult {
        let end_s = if stopped { self.now } else { self.last_work_s };
        let n = self.insts.len();
        // KV held by live sequences, counted from the sequences themselves: (private, shared refs).
        let mut live = vec![(0u64, 0u64); n];
        for (i, inst) in self.insts.iter().enumerate() {
            let e = &inst.engine;
            for s in e.waiting.iter().chain(&e.running) {
                live[i].0 += u64::from(s.private);
                live[i].1 += s.shared.len() as u64;
                self.outcomes[s.idx as usize].generated_tokens = s.generated;
            }
            for (s, src) in &inst.pulls {
                live[*src].0 += u64::from(s.private);
                live[*src].1 += s.shared.len() as u64;
                self.outcomes[s.idx as usize].generated_tokens = s.generated;
            }
            for (s, src, reserved) in &inst.inbound {
                live[*src].0 += u64::from(s.private);
                live[*src].1 += s.shared.len() as u64;
                live[i].0 += u64::from(*reserved);
                self.outcomes[s.idx as usize].generated_tokens = s.generated;
            }
        }
        for o in &self.outcomes {
            if o.status == RequestStatus::Unfinished {
                self.totals.unfinished += 1;
                self.totals.generated_tokens += u64::from(o.generated_tokens);
            }
        }
        let makespan = end_s - self.start_s;
        let instances = self
            .insts
            .iter_mut()
            .enumerate()
            .map(|(i, inst)| {
                if stopped && inst.busy {
                    inst.busy_s += end_s - inst.iter_start_s;
                }
                if inst.flipping_to.is_some() {
                    inst.drain_s += end_s - inst.drain_started_s;
                }
                let kv = &inst.engine.kv;
                InstanceResult {
                    id: i,
                    model: inst.model.name().to_string(),
                    final_role: inst.role,
                    busy_s: inst.busy_s,
                    utilisation: if makespan > 0.0 {
                        inst.busy_s / makespan
                    } else {
                        0.0
                    },
                    iterations: inst.iterations,
                    mean_batch: if inst.iterations > 0 {
                        inst.batch_sum as f64 / inst.iterations as f64
                    } else {
                        0.0
                    },
                    prefill_tokens: inst.prefill_tokens,
                    decode_tokens: inst.decode_tokens,
                    preemptions: inst.engine.preemptions,
                    flips: inst.flips,
                    drain_s: inst.drain_s,
                    samples: std::mem::take(&mut inst.samples),
                    kv: KvAudit {
                        total_blocks: kv.total(),
                        free_blocks: kv.free(),
                        cached_blocks: kv.cached(),
                        cache_refs: kv.cache_refs(),
                        live_private_blocks: live[i].0,
                        live_shared_refs: live[i].1,
                    },
                }
            })
            .collect();
        SimResult {
            router: self.router.name().to_string(),
            controller: self.controller.name().to_string(),
            requests: self.outcomes,
            instances,
            totals: self.totals,
            start_s: self.start_s,
            end_s,
        }
    }
}
