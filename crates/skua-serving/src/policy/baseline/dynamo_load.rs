//! Dynamo's router-side active-load bookkeeping ("slot tracker"): per worker, the prompt tokens
//! still to prefill and the KV blocks held by the requests it routed there.
//!
//! Source: Dynamo docs, "Routing Concepts" → Active Load Modeling (`docs/components/router/
//! router-concepts.md`) and `lib/kv-router/src/scheduling/config.rs` defaults:
//! - prefill load (`router_track_prefill_tokens = true`): a request's *effective* prompt tokens
//!   (prompt − cached prefix on the chosen worker) count from routing until its first token;
//! - decode load (`router_track_active_blocks = true`, `router_track_output_blocks = false`):
//!   the prompt-side KV blocks of every active request, freed when it finishes; with
//!   `router_assume_kv_reuse = true` blocks are tracked by their sequence hash, so a prefix
//!   block shared by several active requests on one worker counts once.
//!
//! Nothing here is scraped: it changes the moment the router routes, sees a first token, or sees
//! a request finish.

use std::collections::HashMap;

use super::block_keys::prefix_units;
use crate::workload::Request;

/// A request's prompt KV blocks at one block size: shareable prefix blocks (by key) and the rest.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct BlockPlan {
    /// `(prefix key, KV blocks)` per prefix block of the prompt.
    units: Vec<(u64, u64)>,
    /// KV blocks of the prompt not covered by a prefix hash (never shared).
    private: u64,
}

impl BlockPlan {
    /// The prompt of `req` in KV blocks of `block_size` tokens, its prefix hashes being
    /// `block_tokens` tokens each.
    pub(crate) fn new(req: &Request, block_tokens: u32, block_size: u32) -> Self {
        let bs = u64::from(block_size.max(1));
        let mut start = 0u64;
        let units: Vec<(u64, u64)> = prefix_units(req, block_tokens)
            .map(|u| {
                let end = start + u64::from(u.tokens);
                let blocks = end.div_ceil(bs) - start.div_ceil(bs);
                start = end;
                (u.key, blocks)
            })
            .collect();
        let private = u64::from(req.input_tokens).div_ceil(bs) - start.div_ceil(bs);
        Self { units, private }
    }

    /// All KV blocks of the prompt.
    pub(crate) fn blocks(&self) -> u64 {
        self.private + self.units.iter().map(|&(_, b)| b).sum::<u64>()
    }
}

#[derive(Debug, Clone, Default)]
struct WorkerLoad {
    prefill_tokens: u64,
    /// Shared prefix blocks of active requests: key → (requests holding it, KV blocks).
    shared: HashMap<u64, (u32, u64)>,
    shared_blocks: u64,
    private_blocks: u64,
}

#[derive(Debug, Clone)]
struct Active {
    worker: usize,
    plan: BlockPlan,
    prefill_tokens: u64,
}

/// Active prefill tokens and KV blocks per worker, from the router's own routing.
#[derive(Debug, Clone, Default)]
pub(crate) struct ActiveLoad {
    workers: Vec<WorkerLoad>,
    requests: HashMap<u64, Active>,
}

impl ActiveLoad {
    /// No active request.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Effective prompt tokens routed to `worker` whose first token has not arrived.
    pub(crate) fn prefill_tokens(&self, worker: usize) -> u64 {
        self.workers.get(worker).map_or(0, |w| w.prefill_tokens)
    }

    /// Distinct KV blocks held by the active requests on `worker`.
    pub(crate) fn decode_blocks(&self, worker: usize) -> u64 {
        self.workers
            .get(worker)
            .map_or(0, |w| w.shared_blocks + w.private_blocks)
    }

    /// KV blocks `plan` would add on `worker` (its prefix blocks already active there are free).
    pub(crate) fn new_blocks(&self, worker: usize, plan: &BlockPlan) -> u64 {
        let Some(w) = self.workers.get(worker) else {
            return plan.blocks();
        };
        plan.private
            + plan
                .units
                .iter()
                .filter(|(k, _)| !w.shared.contains_key(k))
                .map(|&(_, b)| b)
                .sum::<u64>()
    }

    /// Requests routed and not finished.
    pub(crate) fn active_requests(&self) -> usize {
        self.requests.len()
    }

    /// Records request `id` routed to `worker` with `prefill_tokens` left to compute there.
    pub(crate) fn add(&mut self, id: u64, worker: usize, plan: BlockPlan, prefill_tokens: u64) {
        if self.requests.contains_key(&id) {
            return;
        }
        if self.workers.len() <= worker {
            self.workers.resize_with(worker + 1, WorkerLoad::default);
        }
        let w = &mut self.workers[worker];
        w.prefill_tokens += prefill_tokens;
        w.private_blocks += plan.private;
        for &(key, blocks) in &plan.units {
            let e = w.shared.entry(key).or_insert((0, blocks));
            if e.0 == 0 {
                w.shared_blocks += blocks;
            }
            e.0 += 1;
        }
        self.requests.insert(
            id,
            Active {
                worker,
                plan,
                prefill_tokens,
            },
        );
    }

    /// The first token of request `id` arrived: its prefill no longer loads its worker.
    pub(crate) fn first_token(&mut self, id: u64) {
        if let Some(a) = self.requests.get_mut(&id) {
            let w = &mut self.workers[a.worker];
            w.prefill_tokens -= a.prefill_tokens;
            a.prefill_tokens = 0;
        }
    }

    /// Request `id`'s work on `worker` ended: free everything it held there.
    pub(crate) fn finish(&mut self, id: u64, worker: usize) {
        if self.requests.get(&id).is_none_or(|a| a.worker != worker) {
            return;
        }
        let Some(a) = self.requests.remove(&id) else {
            return;
        };
        let w = &mut self.workers[worker];
        w.prefill_tokens -= a.prefill_tokens;
        w.private_blocks -= a.plan.private;
        for (key, _) in a.plan.units {
            if let Some(e) = w.shared.get_mut(&key) {
                e.0 -= 1;
                if e.0 == 0 {
                    w.shared_blocks -= e.1;
                    w.shared.remove(&key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::test_support::request;

    fn req(id: u64, input: u32, blocks: &[u64]) -> Request {
        Request {
            input_tokens: input,
            prefix_blocks: blocks.to_vec(),
            ..request(id)
        }
    }

    #[test]
    fn plan_counts_whole_kv_blocks() {
        // 40 tokens, 16-token KV blocks: 3 blocks, however the prefix hashes split them.
        assert_eq!(BlockPlan::new(&req(0, 40, &[]), 32, 16).blocks(), 3);
        let p = BlockPlan::new(&req(0, 40, &[1]), 32, 16);
        assert_eq!(p.blocks(), 3);
        assert_eq!(p.units.len(), 1);
        assert_eq!(p.units[0].1, 2);
        assert_eq!(p.private, 1);
    }

    #[test]
    fn shared_prefix_blocks_count_once_and_everything_is_freed() {
        let mut a = ActiveLoad::new();
        let p1 = BlockPlan::new(&req(1, 48, &[1, 2, 3]), 16, 16);
        let p2 = BlockPlan::new(&req(2, 48, &[1, 2, 4]), 16, 16);
        assert_eq!(a.new_blocks(0, &p1), 3);
        a.add(1, 0, p1, 48);
        // Request 2 shares two blocks with request 1 on worker 0: only one new block there.
        assert_eq!(a.new_blocks(0, &p2), 1);
        assert_eq!(a.new_blocks(1, &p2), 3);
        a.add(2, 0, p2, 16);
        assert_eq!(a.decode_blocks(0), 4);
        assert_eq!(a.prefill_tokens(0), 64);
        a.first_token(1);
        assert_eq!(a.prefill_tokens(0), 16);
        // A finish reported for another worker (e.g. a prefill leg elsewhere) changes nothing.
        a.finish(1, 3);
        assert_eq!(a.decode_blocks(0), 4);
        a.finish(1, 0);
        assert_eq!(a.decode_blocks(0), 3);
        a.finish(2, 0);
        assert_eq!((a.decode_blocks(0), a.prefill_tokens(0)), (0, 0));
        assert_eq!(a.active_requests(), 0);
    }
}
