//! Approximate per-worker prefix state built from the router's own routing history — SGLang's
//! multi-tenant radix tree (`sgl-router/src/policies/tree.rs`), kept over prefix-block keys
//! instead of characters.
//!
//! Each worker ("tenant") holds the set of prefix blocks of the prompts routed to it, with the
//! logical time each was last touched. A prompt's tokens not covered by prefix hashes (all of them
//! for a trace without hashes) are one unique, never-shared entry, so the tree still grows by the
//! prompt's length as SGLang's does with any text. Eviction is SGLang's `evict_tenant_by_size`:
//! per worker, least recently used leaves first (deepest first among equally recent entries)
//! until the worker's size is within the limit.

use std::collections::HashMap;

use super::block_keys::PrefixUnit;

#[derive(Debug, Clone, Copy)]
struct Entry {
    last: u64,
    depth: u32,
    tokens: u32,
}

#[derive(Debug, Clone, Default)]
struct Tenant {
    entries: HashMap<u64, Entry>,
    tokens: u64,
}

/// One approximate prefix tree per worker.
#[derive(Debug, Clone, Default)]
pub(crate) struct ApproxTrees {
    tenants: Vec<Tenant>,
    clock: u64,
}

impl ApproxTrees {
    /// Trees for no worker yet (they grow on first use).
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Leading prompt tokens of `units` found in `worker`'s tree.
    pub(crate) fn matched_tokens(&self, worker: usize, units: &[PrefixUnit]) -> u64 {
        let Some(t) = self.tenants.get(worker) else {
            return 0;
        };
        units
            .iter()
            .take_while(|u| t.entries.contains_key(&u.key))
            .map(|u| u64::from(u.tokens))
            .sum()
    }

    /// Tokens held in `worker`'s tree (SGLang's per-tenant size).
    pub(crate) fn size_tokens(&self, worker: usize) -> u64 {
        self.tenants.get(worker).map_or(0, |t| t.tokens)
    }

    /// Records a prompt routed to `worker`: its prefix blocks and, as one unique entry keyed
    /// `tail_key`, the `tail_tokens` tokens no prefix block covers. Touches every entry on the path.
    pub(crate) fn insert(
        &mut self,
        worker: usize,
        units: &[PrefixUnit],
        tail_key: u64,
        tail_tokens: u32,
    ) {
        if self.tenants.len() <= worker {
            self.tenants.resize_with(worker + 1, Tenant::default);
        }
        self.clock += 1;
        let now = self.clock;
        let t = &mut self.tenants[worker];
        let tail = (tail_tokens > 0).then_some(PrefixUnit {
            key: tail_key,
            tokens: tail_tokens,
        });
        for (depth, u) in units.iter().chain(tail.iter()).enumerate() {
            let e = t.entries.entry(u.key).or_insert_with(|| {
                t.tokens += u64::from(u.tokens);
                Entry {
                    last: now,
                    depth: depth as u32,
                    tokens: u.tokens,
                }
            });
            e.last = now;
        }
    }

    /// Evicts least recently used leaves of every worker holding more than `max_tokens`.
    pub(crate) fn evict_to(&mut self, max_tokens: u64) {
        for t in self.tenants.iter_mut().filter(|t| t.tokens > max_tokens) {
            let mut order: Vec<(u64, std::cmp::Reverse<u32>, u64)> = t
                .entries
                .iter()
                .map(|(&k, e)| (e.last, std::cmp::Reverse(e.depth), k))
                .collect();
            order.sort_unstable();
            for (_, _, key) in order {
                if t.tokens <= max_tokens {
                    break;
                }
                if let Some(e) = t.entries.remove(&key) {
                    t.tokens -= u64::from(e.tokens);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(keys: &[u64]) -> Vec<PrefixUnit> {
        keys.iter()
            .map(|&key| PrefixUnit { key, tokens: 10 })
            .collect()
    }

    #[test]
    fn matches_leading_blocks_per_worker_only() {
        let mut t = ApproxTrees::new();
        t.insert(1, &units(&[1, 2, 3]), 99, 5);
        assert_eq!(t.matched_tokens(1, &units(&[1, 2, 7])), 20);
        // Only a leading run counts: a miss on the first block matches nothing.
        assert_eq!(t.matched_tokens(1, &units(&[5, 2, 3])), 0);
        assert_eq!(t.matched_tokens(0, &units(&[1])), 0);
        assert_eq!(t.size_tokens(1), 35);
        // Shared blocks count once per worker.
        t.insert(1, &units(&[1, 2]), 100, 0);
        assert_eq!(t.size_tokens(1), 35);
        assert_eq!(t.size_tokens(5), 0);
    }

    #[test]
    fn eviction_drops_least_recent_leaves_first() {
        let mut t = ApproxTrees::new();
        t.insert(0, &units(&[1, 2]), 0, 0); // old: 1, 2
        t.insert(0, &units(&[3, 4]), 0, 0); // newer: 3, 4
        t.insert(0, &units(&[1]), 0, 0); // touches 1 again: now 2 is the oldest
        t.evict_to(30);
        assert_eq!(t.size_tokens(0), 30);
        assert_eq!(t.matched_tokens(0, &units(&[1, 2])), 10);
        // Among equally recent entries the deeper one (a leaf) goes first.
        t.evict_to(10);
        assert_eq!(t.matched_tokens(0, &units(&[1])), 10);
        assert_eq!(t.matched_tokens(0, &units(&[3])), 0);
    }
}
