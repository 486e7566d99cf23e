//! The exact prefix-cache state the simulator offers to routers that subscribe to KV events.

use crate::policy::PrefixIndex;
use crate::workload::Request;

use super::kv::prefix_units;
use super::run::Inst;

/// Every instance's prefix cache, probed without touching its LRU order.
pub(super) struct EnginePrefixes<'a> {
    pub insts: &'a [Inst],
}

impl PrefixIndex for EnginePrefixes<'_> {
    fn cached_prefix_tokens(&self, instance: usize, req: &Request) -> u64 {
        let Some(inst) = self.insts.get(instance) else {
            return 0;
        };
        let k = inst.engine.knobs;
        if !k.prefix_cache {
            return 0;
        }
        let bs = k.block_size;
        let blocks = inst
            .engine
            .kv
            .probe(prefix_units(req, k.block_tokens, bs))
            .blocks;
        (blocks * u64::from(bs)).min(u64::from(req.input_tokens))
    }
}
