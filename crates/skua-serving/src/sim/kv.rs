//! Paged KV blocks of one instance, with an LRU prefix cache (after vLLM's automatic prefix caching).
//!
//! Blocks are counted, not named, except the ones in the prefix cache. The cache works in *units*:
//! the engine blocks whose last token falls in one trace prefix block (`Request::prefix_blocks`,
//! `block_tokens` tokens each; Mooncake's are 512 tokens = 32 engine blocks of 16). A unit is keyed
//! by the chained hash of every trace block up to its own, so equal keys mean the same whole token
//! prefix. Caching whole units keeps the per-request work proportional to the trace's blocks, not
//! the engine's. A block is in exactly one of three states: free, private to one sequence, or in a
//! cached unit (shared by `refs` sequences; evictable when `refs == 0`, least recently released
//! first).

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use crate::workload::Request;

/// Keys are already well-mixed 64-bit hashes: hash them by identity.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    refs: u32,
    /// Engine blocks in the unit.
    blocks: u32,
    /// Position in the LRU list while `refs == 0`.
    stamp: u64,
}

/// What a cache probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Probe {
    /// Leading units present.
    pub units: u32,
    /// Engine blocks in them.
    pub blocks: u64,
    /// Of those blocks, the ones currently evictable (no other reference).
    pub evictable_blocks: u64,
}

/// The KV blocks of one instance.
#[derive(Debug)]
pub(crate) struct Kv {
    total: u64,
    free: u64,
    cached: u64,
    evictable: u64,
    cache: HashMap<u64, Entry, BuildHasherDefault<IdHasher>>,
    /// Evictable units (refs == 0) by release stamp, oldest first.
    lru: BTreeMap<u64, u64>,
    clock: u64,
}

impl Kv {
    /// `total` free blocks, empty cache.
    pub fn new(total: u64) -> Self {
        Self {
            total,
            free: total,
            cached: 0,
            evictable: 0,
            cache: HashMap::default(),
            lru: BTreeMap::new(),
            clock: 0,
        }
    }

    /// Blocks of capacity.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Blocks neither private nor cached.
    pub fn free(&self) -> u64 {
        self.free
    }

    /// Blocks in the prefix cache (referenced or not).
    pub fn cached(&self) -> u64 {
        self.cached
    }

    /// Cached blocks no sequence references (reusable on demand).
    pub fn evictable(&self) -> u64 {
        self.evictable
    }

    /// Blocks an allocation can get: free plus evictable.
    pub fn available(&self) -> u64 {
        self.free + self.evictable
    }

    /// Blocks held by sequences (private or referenced cache blocks).
    pub fn held(&self) -> u64 {
        self.total - self.free - self.evictable
    }

    /// Sum of reference counts over the cache (for the end-of-run audit).
    pub fn cache_refs(&self) -> u64 {
        self.cache.values().map(|e| u64::from(e.refs)).sum()
    }

    /// Finds the leading `units` present in the cache.
    pub fn probe(&self, units: impl Iterator<Item = (u64, u32)>) -> Probe {
        let mut p = Probe::default();
        for (key, _) in units {
            let Some(e) = self.cache.get(&key) else {
                break;
            };
            p.units += 1;
            p.blocks += u64::from(e.blocks);
            if e.refs == 0 {
                p.evictable_blocks += u64::from(e.blocks);
            }
        }
        p
    }

    /// Takes a reference on a cached unit (which must exist).
    pub fn pin(&mut self, key: u64) {
        if let Some(e) = self.cache.get_mut(&key) {
            if e.refs == 0 {
                self.lru.remove(&e.stamp);
                self.evictable -= u64::from(e.blocks);
            }
            e.refs += 1;
        }
    }

    /// Drops a reference; the unit becomes evictable (most recently used) at zero.
    pub fn unpin(&mut self, key: u64) {
        if let Some(e) = self.cache.get_mut(&key) {
            e.refs = e.refs.saturating_sub(1);
            if e.refs == 0 {
                self.clock += 1;
                e.stamp = self.clock;
                self.lru.insert(self.clock, key);
                self.evictable += u64::from(e.blocks);
            }
        }
    }

    /// Takes `n` private blocks, evicting least recently released units if needed.
    /// Returns false (and changes nothing) when fewer than `n` are available.
    pub fn alloc(&mut self, n: u64) -> bool {
        if n > self.available() {
            return false;
        }
        while self.free < n {
            let Some((_, key)) = self.lru.pop_first() else {
                return false;
            };
            if let Some(e) = self.cache.remove(&key) {
                let b = u64::from(e.blocks);
                self.free += b;
                self.cached -= b;
                self.evictable -= b;
            }
        }
        self.free -= n;
        true
    }

    /// Returns `n` private blocks.
    pub fn release(&mut self, n: u64) {
        self.free += n;
    }

    /// Turns `blocks` private blocks into a cached unit with one reference (the holder's), if
    /// `key` is not cached yet. Returns whether it did.
    pub fn publish(&mut self, key: u64, blocks: u32) -> bool {
        if self.cache.contains_key(&key) {
            return false;
        }
        self.cache.insert(
            key,
            Entry {
                refs: 1,
                blocks,
                stamp: 0,
            },
        );
        self.cached += u64::from(blocks);
        true
    }

    /// Whether `key` is cached.
    #[cfg(test)]
    pub fn contains(&self, key: u64) -> bool {
        self.cache.contains_key(&key)
    }
}

/// A 64-bit finaliser (splitmix64): spreads a combined key over all bits.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The cache units of `req`'s prompt: `(key, engine blocks)`, in prefix order.
///
/// Engine block `j` (tokens `[j·bs, (j+1)·bs)`) is cacheable when it is whole, inside the prompt
/// and covered by the prefix hashes; it belongs to the unit of the trace block holding its last
/// token. The key chains every trace block up to the unit's, and the unit's size, so two prompts
/// share a unit exactly when they share that whole prefix.
pub(crate) fn prefix_units(
    req: &Request,
    block_tokens: u32,
    bs: u32,
) -> impl Iterator<Item = (u64, u32)> + '_ {
    let bt = u64::from(block_tokens.max(1));
    let bs = u64::from(bs.max(1));
    let covered = (req.prefix_blocks.len() as u64 * bt).min(u64::from(req.input_tokens));
    let n_blocks = covered / bs;
    let mut chain = 0u64;
    req.prefix_blocks
        .iter()
        .enumerate()
        .map_while(move |(w, &id)| {
            let w = w as u64;
            let start = w * bt / bs;
            if start >= n_blocks {
                return None;
            }
            chain = mix(chain ^ mix(id));
            let count = ((w + 1) * bt / bs).min(n_blocks) - start;
            Some((
                mix(chain ^ count.wrapping_mul(0xD6E8_FEB8_6659_FD93)),
                count as u32,
            ))
        })
        .filter(|&(_, count)| count > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(input: u32, blocks: &[u64]) -> Request {
        Request {
            id: 0,
            arrival_s: 0.0,
            input_tokens: input,
            output_tokens: 1,
            prefix_blocks: blocks.to_vec(),
        }
    }

    #[test]
    fn alloc_evicts_oldest_released_unit_first() {
        let mut kv = Kv::new(6);
        assert!(kv.alloc(5));
        assert!(kv.publish(10, 2) && kv.publish(11, 2));
        assert!(!kv.publish(10, 2), "publishing a cached key is refused");
        kv.unpin(11); // released first: oldest
        kv.unpin(10);
        kv.release(1);
        assert_eq!((kv.free(), kv.evictable(), kv.cached()), (2, 4, 4));
        assert!(kv.alloc(3));
        assert!(!kv.contains(11) && kv.contains(10));
        assert_eq!((kv.free(), kv.evictable(), kv.cached()), (1, 2, 2));
        assert!(!kv.alloc(4), "only three blocks are left");
        assert_eq!(kv.available(), 3);
    }

    #[test]
    fn probe_stops_at_first_miss_and_pin_protects() {
        let mut kv = Kv::new(8);
        assert!(kv.alloc(3));
        kv.publish(1, 2);
        kv.publish(3, 1);
        kv.unpin(1);
        let p = kv.probe([(1, 2), (2, 1), (3, 1)].into_iter());
        assert_eq!(
            p,
            Probe {
                units: 1,
                blocks: 2,
                evictable_blocks: 2
            }
        );
        kv.pin(1);
        assert_eq!(kv.evictable(), 0);
        assert!(kv.alloc(5));
        assert!(!kv.alloc(1), "pinned blocks are not evicted");
        assert_eq!(kv.cache_refs(), 2);
        assert_eq!(kv.held(), 8);
    }

    #[test]
    fn units_follow_trace_blocks_and_the_whole_prefix() {
        // Trace blocks of 32 tokens, engine blocks of 16: two engine blocks per unit; the 70-token
        // prompt has 4 whole engine blocks, all covered by 3 trace blocks.
        let a: Vec<(u64, u32)> = prefix_units(&req(70, &[7, 8, 9]), 32, 16).collect();
        let b: Vec<(u64, u32)> = prefix_units(&req(70, &[7, 6, 9]), 32, 16).collect();
        let c: Vec<(u64, u32)> = prefix_units(&req(70, &[5, 8, 9]), 32, 16).collect();
        assert_eq!(a.iter().map(|u| u.1).collect::<Vec<_>>(), vec![2, 2]);
        assert_eq!(a[0], b[0]);
        assert_ne!(a[1], b[1]);
        assert!(
            a.iter().zip(&c).all(|(x, y)| x.0 != y.0),
            "a different first block changes every key"
        );
        // Trace blocks of 20 tokens, engine blocks of 16: engine block 0 ends in trace block 0,
        // block 1 (tokens 16–31) in trace block 1, block 2 (32–47) in trace block 2, …
        let d: Vec<u32> = prefix_units(&req(100, &[1, 2, 3]), 20, 16)
            .map(|u| u.1)
            .collect();
        assert_eq!(d, vec![1, 1, 1]);
        assert_eq!(prefix_units(&req(100, &[]), 512, 16).count(), 0);
        // Mooncake-like: 512-token trace blocks, a 1,000-token prompt: 32 + 30 engine blocks.
        let m: Vec<u32> = prefix_units(&req(1000, &[1, 2]), 512, 16)
            .map(|u| u.1)
            .collect();
        assert_eq!(m, vec![32, 30]);
    }
}
