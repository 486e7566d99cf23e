//! One engine instance: vLLM-style continuous batching over paged KV.
//!
//! Each iteration the scheduler fills one batch. With chunked prefill (vLLM's V0 chunked-prefill
//! scheduler): running decodes first (one token each), then the rest of partly prefilled prompts,
//! then waiting requests FCFS, all within the token budget; a prompt longer than what is left is
//! split into chunks across iterations. Without it (vLLM 0.2): waiting prompts run whole in a
//! prefill-only iteration, which takes priority over decoding. KV is allocated on admission for the
//! whole prompt (minus prefix-cache hits) and one slot per generated token; when a decode cannot get
//! a block, the most recently admitted running sequence is preempted by recomputation (it loses its
//! KV and goes back to the head of the queue).

use std::collections::VecDeque;

use crate::profile::Iteration;
use crate::workload::Request;

use super::kv::{Kv, Probe, prefix_units};

/// One request's sequence on one instance.
#[derive(Debug, Clone)]
pub(crate) struct Seq {
    /// Index of the request in the workload.
    pub idx: u32,
    pub prompt: u32,
    pub output: u32,
    /// Output tokens produced so far.
    pub generated: u32,
    /// Tokens whose KV is in this instance's cache (or was transferred, for a staged decode).
    pub computed: u32,
    /// Private KV blocks held.
    pub private: u32,
    /// Prefix-cache units referenced (the hits first, then the units this sequence published).
    pub shared: Vec<u64>,
    /// Engine blocks in those units.
    pub shared_blocks: u32,
    /// Tokens scheduled in the running iteration (0 = not in the batch).
    pub sched: u32,
    /// Prefill leg of a disaggregated request: stop after the first token and hand the KV off.
    pub prefill_only: bool,
}

impl Seq {
    /// A fresh request (nothing computed).
    pub fn new(idx: u32, req: &Request, prefill_only: bool) -> Self {
        Self {
            idx,
            prompt: req.input_tokens,
            output: req.output_tokens,
            generated: 0,
            computed: 0,
            private: 0,
            shared: Vec::new(),
            shared_blocks: 0,
            sched: 0,
            prefill_only,
        }
    }

    /// Tokens known: prompt plus generated.
    pub fn len(&self) -> u32 {
        self.prompt + self.generated
    }

    /// Whether the next step is (part of) a prefill rather than a one-token decode.
    pub fn is_prefill(&self) -> bool {
        self.generated == 0 || self.computed + 1 < self.len()
    }

    /// Prompt (or recompute) tokens still to prefill.
    pub fn remaining_prefill(&self) -> u64 {
        if self.is_prefill() {
            u64::from(self.len() - self.computed)
        } else {
            0
        }
    }

    /// KV blocks held.
    pub fn blocks(&self) -> u64 {
        u64::from(self.private) + u64::from(self.shared_blocks)
    }
}

/// What an iteration's schedule or completion produced, for the cluster to act on.
#[derive(Debug, Default)]
pub(crate) struct EngineOut {
    /// Requests preempted (by index).
    pub preempted: Vec<u32>,
    /// Prefix-cache hits on admission: (request index, tokens).
    pub hits: Vec<(u32, u32)>,
    /// Requests that produced their first token.
    pub first_token: Vec<u32>,
    /// Finished sequences (KV already released).
    pub finished: Vec<Seq>,
    /// Prefill legs done, KV still held, to transfer to their decode instance.
    pub handoff: Vec<Seq>,
}

/// Scheduler knobs of one engine.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Knobs {
    pub max_num_seqs: u32,
    pub budget: u32,
    pub chunked: bool,
    pub block_size: u32,
    pub prefix_cache: bool,
    /// Tokens per `Request::prefix_blocks` hash.
    pub block_tokens: u32,
}

/// One instance's queues and KV.
#[derive(Debug)]
pub(crate) struct Engine {
    pub waiting: VecDeque<Seq>,
    pub running: Vec<Seq>,
    pub kv: Kv,
    pub knobs: Knobs,
    /// Sum of `remaining_prefill` over waiting and running sequences.
    pub pending_prefill_tokens: u64,
    /// The iteration in flight (reused buffer).
    pub iter: Iteration,
    pub preemptions: u64,
}

impl Engine {
    /// An idle engine with `total_blocks` KV blocks.
    pub fn new(total_blocks: u64, knobs: Knobs) -> Self {
        Self {
            waiting: VecDeque::new(),
            running: Vec::new(),
            kv: Kv::new(total_blocks),
            knobs,
            pending_prefill_tokens: 0,
            iter: Iteration::default(),
            preemptions: 0,
        }
    }

    /// Whether there is anything to schedule.
    pub fn has_work(&self) -> bool {
        !self.waiting.is_empty() || !self.running.is_empty()
    }

    /// Blocks needed for `tokens` tokens.
    pub fn blocks_for(&self, tokens: u64) -> u64 {
        tokens.div_ceil(u64::from(self.knobs.block_size))
    }

    /// Queues a sequence at the tail of the waiting queue.
    pub fn enqueue(&mut self, seq: Seq) {
        self.pending_prefill_tokens += seq.remaining_prefill();
        if seq.private > 0 {
            // A transferred decode arrives holding its reserved blocks: it goes after the other
            // reserved ones but ahead of sequences that still need blocks, or a full instance
            // would wait for room that only these sequences' finishing can free.
            let at = self.reserved_prefix();
            self.waiting.insert(at, seq);
        } else {
            self.waiting.push_back(seq);
        }
    }

    /// Number of leading waiting sequences that already hold their blocks.
    fn reserved_prefix(&self) -> usize {
        self.waiting
            .iter()
            .position(|s| s.private == 0)
            .unwrap_or(self.waiting.len())
    }

    /// Frees every block `seq` holds on this instance.
    pub fn release(&mut self, seq: &mut Seq) {
        // Unpin from the last block to the first so the head of a prefix is evicted last.
        for &k in seq.shared.iter().rev() {
            self.kv.unpin(k);
        }
        seq.shared.clear();
        seq.shared_blocks = 0;
        self.kv.release(u64::from(seq.private));
        seq.private = 0;
    }

    /// Fills `self.iter` with the next batch. Returns the number of sequences in it (0 = idle).
    pub fn schedule(&mut self, reqs: &[Request], out: &mut EngineOut) -> u32 {
        self.iter.prefill.clear();
        self.iter.decode_batch = 0;
        self.iter.decode_context = 0;
        if self.knobs.chunked {
            self.schedule_chunked(reqs, out);
        } else if !self.schedule_whole_prefills(reqs, out) {
            self.schedule_decodes(out);
            let mut budget = u32::MAX;
            // Staged decodes (KV received from a prefill instance) join the decode batch.
            while self.waiting.front().is_some_and(|s| !s.is_prefill()) {
                if !self.admit_head(reqs, &mut budget, out) {
                    break;
                }
            }
        }
        let mut n = 0;
        for s in &self.running {
            if s.sched == 0 {
                continue;
            }
            n += 1;
            if s.is_prefill() {
                self.iter.prefill.push((s.sched, s.computed));
            } else {
                self.iter.decode_batch += 1;
                self.iter.decode_context += u64::from(s.len());
            }
        }
        n
    }

    fn schedule_chunked(&mut self, reqs: &[Request], out: &mut EngineOut) {
        let mut budget = self.knobs.budget;
        budget -= self.schedule_decodes_within(budget, out);
        for s in self.running.iter_mut() {
            if budget == 0 {
                break;
            }
            if s.sched == 0 && s.is_prefill() {
                s.sched = (s.len() - s.computed).min(budget);
                budget -= s.sched;
            }
        }
        while budget > 0 && self.admit_head(reqs, &mut budget, out) {}
    }

    /// vLLM 0.2: admit whole prompts up to the token budget; true if a prefill batch was formed.
    fn schedule_whole_prefills(&mut self, reqs: &[Request], out: &mut EngineOut) -> bool {
        let mut budget = self.knobs.budget;
        let mut admitted = false;
        while let Some(head) = self.waiting.front() {
            if !head.is_prefill() {
                break;
            }
            // A recomputed sequence can outgrow the budget; it then runs alone rather than never.
            if admitted && head.remaining_prefill() > u64::from(budget) {
                break;
            }
            let mut b = if admitted { budget } else { u32::MAX };
            if !self.admit_head(reqs, &mut b, out) {
                break;
            }
            budget = budget.saturating_sub(self.running.last().map_or(0, |s| s.sched));
            admitted = true;
        }
        admitted
    }

    fn schedule_decodes(&mut self, out: &mut EngineOut) {
        self.schedule_decodes_within(u32::MAX, out);
    }

    /// Schedules running decodes (one token each) up to `budget`, preempting the most recently
    /// admitted sequence when a decode cannot get a KV block. Returns the tokens used.
    fn schedule_decodes_within(&mut self, budget: u32, out: &mut EngineOut) -> u32 {
        let mut used = 0;
        let mut i = 0;
        while i < self.running.len() && used < budget {
            if self.running[i].is_prefill() {
                i += 1;
                continue;
            }
            let need = self
                .blocks_for(u64::from(self.running[i].computed) + 1)
                .saturating_sub(self.running[i].blocks());
            let mut self_preempted = false;
            while need > 0 && !self.kv.alloc(need) {
                let victim = self.running.len() - 1;
                self.preempt_last(out);
                if victim == i {
                    self_preempted = true;
                    break;
                }
            }
            if self_preempted {
                break;
            }
            let s = &mut self.running[i];
            s.private += need as u32;
            s.sched = 1;
            used += 1;
            i += 1;
        }
        used
    }

    /// Preempts the last running sequence (recompute): frees its KV, requeues it at the head.
    fn preempt_last(&mut self, out: &mut EngineOut) {
        let Some(mut s) = self.running.pop() else {
            return;
        };
        self.release(&mut s);
        self.pending_prefill_tokens -= s.remaining_prefill();
        s.computed = 0;
        s.sched = 0;
        self.pending_prefill_tokens += s.remaining_prefill();
        self.preemptions += 1;
        out.preempted.push(s.idx);
        // Ahead of fresh work, behind sequences that already hold their blocks (see `enqueue`).
        let at = self.reserved_prefix();
        self.waiting.insert(at, s);
    }

    /// Admits the head of the waiting queue if a batch slot and its KV are available; schedules
    /// its first chunk (or its decode step) within `budget`. Returns whether it was admitted.
    fn admit_head(&mut self, reqs: &[Request], budget: &mut u32, out: &mut EngineOut) -> bool {
        if self.running.len() >= self.knobs.max_num_seqs as usize || *budget == 0 {
            return false;
        }
        let Some(head) = self.waiting.front() else {
            return false;
        };
        let k = self.knobs;
        let prefill = head.is_prefill();
        let hit = if prefill && k.prefix_cache {
            self.kv.probe(prefix_units(
                &reqs[head.idx as usize],
                k.block_tokens,
                k.block_size,
            ))
        } else {
            Probe::default()
        };
        let target = if prefill {
            head.len()
        } else {
            head.computed + 1
        };
        // Blocks already held count: a transferred decode arrives with its reservation.
        let need = self
            .blocks_for(u64::from(target))
            .saturating_sub(hit.blocks + u64::from(head.private));
        if need > self.kv.available() - hit.evictable_blocks {
            return false;
        }
        let Some(mut s) = self.waiting.pop_front() else {
            return false;
        };
        if hit.units > 0 {
            let req = &reqs[s.idx as usize];
            for (key, blocks) in
                prefix_units(req, k.block_tokens, k.block_size).take(hit.units as usize)
            {
                self.kv.pin(key);
                s.shared.push(key);
                s.shared_blocks += blocks;
            }
            // At least one token is always computed: a whole-prompt hit recomputes the last one.
            let hit_tokens =
                (hit.blocks * u64::from(k.block_size)).min(u64::from(s.len() - 1)) as u32;
            // A recomputed sequence whose hits cover all but its last token is left with a decode.
            self.pending_prefill_tokens -= s.remaining_prefill();
            s.computed = hit_tokens;
            self.pending_prefill_tokens += s.remaining_prefill();
            out.hits.push((s.idx, hit_tokens));
        }
        // Cannot fail: checked above, and pinning only removed the hits from the evictable pool.
        let _ = self.kv.alloc(need);
        s.private += need as u32;
        s.sched = if s.is_prefill() {
            (s.len() - s.computed).min(*budget)
        } else {
            1
        };
        *budget -= s.sched;
        self.running.push(s);
        true
    }

    /// Applies the finished iteration: advances every scheduled sequence, emits first tokens,
    /// finished sequences and prefill hand-offs.
    pub fn complete(&mut self, reqs: &[Request], out: &mut EngineOut) {
        let k = self.knobs;
        let mut keep = 0;
        for r in 0..self.running.len() {
            let mut done = false;
            let s = &mut self.running[r];
            if s.sched > 0 {
                let was_prefill = s.is_prefill();
                s.computed += s.sched;
                if was_prefill {
                    self.pending_prefill_tokens -= u64::from(s.sched);
                }
                s.sched = 0;
                if s.computed == s.len() {
                    s.generated += 1;
                    if s.generated == 1 {
                        out.first_token.push(s.idx);
                    }
                    if was_prefill && k.prefix_cache {
                        publish_prompt(&mut self.kv, s, &reqs[s.idx as usize], k);
                    }
                    done = s.generated >= s.output || (s.prefill_only && s.generated == 1);
                }
            }
            if !done {
                self.running.swap(keep, r);
                keep += 1;
            }
        }
        // The done sequences sit after `keep`, in batch order; pop them back to front.
        let first_out = (out.finished.len(), out.handoff.len());
        while self.running.len() > keep {
            let Some(mut s) = self.running.pop() else {
                break;
            };
            if s.generated >= s.output {
                self.release(&mut s);
                out.finished.push(s);
            } else {
                out.handoff.push(s);
            }
        }
        out.finished[first_out.0..].reverse();
        out.handoff[first_out.1..].reverse();
    }
}

/// Offers the prompt's cache units `s` just computed to the prefix cache.
fn publish_prompt(kv: &mut Kv, s: &mut Seq, req: &Request, k: Knobs) {
    let hits = s.shared.len();
    for (key, blocks) in prefix_units(req, k.block_tokens, k.block_size).skip(hits) {
        if s.private < blocks {
            break;
        }
        if kv.publish(key, blocks) {
            s.private -= blocks;
            s.shared.push(key);
            s.shared_blocks += blocks;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reqs(specs: &[(u32, u32)]) -> Vec<Request> {
        specs
            .iter()
            .enumerate()
            .map(|(i, &(input, output))| Request {
                id: i as u64,
                arrival_s: 0.0,
                input_tokens: input,
                output_tokens: output,
                prefix_blocks: Vec::new(),
            })
            .collect()
    }

    fn engine(blocks: u64, budget: u32, chunked: bool) -> Engine {
        Engine::new(
            blocks,
            Knobs {
                max_num_seqs: 8,
                budget,
                chunked,
                block_size: 4,
                prefix_cache: false,
                block_tokens: 4,
            },
        )
    }

    /// The counter the scheduler maintains, recomputed from scratch.
    fn pending(e: &Engine) -> u64 {
        e.waiting
            .iter()
            .chain(&e.running)
            .map(Seq::remaining_prefill)
            .sum()
    }

    #[test]
    fn chunked_batches_decodes_then_running_chunks_then_new_prompts() {
        let r = reqs(&[(3, 5), (20, 5), (20, 5)]);
        let mut e = engine(100, 12, true);
        let mut out = EngineOut::default();
        e.enqueue(Seq::new(0, &r[0], false));
        e.schedule(&r, &mut out);
        e.complete(&r, &mut out); // request 0 prefilled, now decoding
        assert_eq!(out.first_token, vec![0]);
        e.enqueue(Seq::new(1, &r[1], false));
        e.enqueue(Seq::new(2, &r[2], false));
        assert_eq!(e.schedule(&r, &mut out), 2);
        // 1 decode token, then 11 of request 1's 20 tokens; request 2 gets no budget.
        assert_eq!(e.iter.decode_batch, 1);
        assert_eq!(e.iter.prefill, vec![(11, 0)]);
        e.complete(&r, &mut out);
        assert_eq!(pending(&e), e.pending_prefill_tokens);
        assert_eq!(e.schedule(&r, &mut out), 3);
        // Decode, the rest of request 1 (9 tokens, 11 cached), then 2 tokens of request 2.
        assert_eq!(e.iter.prefill, vec![(9, 11), (2, 0)]);
        e.complete(&r, &mut out);
        assert_eq!(pending(&e), e.pending_prefill_tokens);
        assert_eq!(e.pending_prefill_tokens, 18);
    }

    #[test]
    fn whole_prefills_run_alone_before_decodes() {
        let r = reqs(&[(8, 3), (8, 3), (8, 3)]);
        let mut e = engine(100, 16, false);
        let mut out = EngineOut::default();
        e.enqueue(Seq::new(0, &r[0], false));
        e.schedule(&r, &mut out);
        e.complete(&r, &mut out);
        e.enqueue(Seq::new(1, &r[1], false));
        e.enqueue(Seq::new(2, &r[2], false));
        assert_eq!(e.schedule(&r, &mut out), 2);
        assert_eq!((e.iter.prefill.len(), e.iter.decode_batch), (2, 0));
        e.complete(&r, &mut out);
        assert_eq!(e.schedule(&r, &mut out), 3);
        assert_eq!((e.iter.prefill.len(), e.iter.decode_batch), (0, 3));
    }

    #[test]
    fn a_decode_without_a_block_preempts_the_latest_admitted() {
        // 3 blocks of 4 tokens; two 4-token prompts take one block each, then both need a second.
        let r = reqs(&[(4, 4), (4, 4)]);
        let mut e = engine(3, 64, true);
        let mut out = EngineOut::default();
        e.enqueue(Seq::new(0, &r[0], false));
        e.enqueue(Seq::new(1, &r[1], false));
        e.schedule(&r, &mut out);
        e.complete(&r, &mut out);
        assert_eq!(e.kv.free(), 1);
        assert_eq!(e.schedule(&r, &mut out), 1);
        assert_eq!(out.preempted, vec![1]);
        assert_eq!(
            e.waiting.front().map(|s| (s.idx, s.computed, s.generated)),
            Some((1, 0, 1))
        );
        assert_eq!(e.running.len(), 1);
        assert_eq!(
            e.kv.free(),
            1,
            "the victim's block went to request 0 and back to the pool"
        );
        assert_eq!(e.preemptions, 1);
        assert_eq!(pending(&e), e.pending_prefill_tokens);
        assert_eq!(
            e.pending_prefill_tokens, 5,
            "request 1 recomputes prompt + first token"
        );
    }
}
