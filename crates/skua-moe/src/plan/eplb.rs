//! The EPLB-equivalent greedy planner, written from the published description of DeepSeek's
//! Expert Parallelism Load Balancer (deepseek-ai/EPLB, README and DeepSeek-V3 technical report).
//!
//! * **Hierarchical** (expert groups divide evenly over nodes): pack whole expert groups onto
//!   nodes by balanced packing of group loads; inside each node, replicate the expert with the
//!   highest load per replica until the node's slots are filled; pack the node's replicas onto its
//!   GPUs by balanced packing (each replica carries its expert's load divided by its replica count).
//! * **Global** (otherwise): the same with one group and one node: replicate over the whole
//!   cluster, then pack replicas onto all GPUs.
//!
//! Balanced packing: items in descending load order, each to the lightest pack that still has
//! room (ties to the lowest pack index). Replication: always the expert with the highest load per
//! replica (ties to the lowest expert id). Arithmetic is in `f32` like the reference, so ties and
//! near-ties resolve the same way.

use super::{PlanRequest, Planner};
use crate::MoeError;
use crate::placement::Placement;
use crate::topology::Topology;

/// Which EPLB policy to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EplbMode {
    /// EPLB's own rule: hierarchical when the expert groups divide evenly over the nodes, else global.
    Auto,
    /// Groups to nodes, then replicas to GPUs inside each node.
    Hierarchical,
    /// Replicas over the whole cluster, ignoring nodes and groups.
    Global,
}

/// The EPLB-equivalent greedy planner.
#[derive(Debug, Clone, Copy)]
pub struct EplbGreedy {
    /// The policy.
    pub mode: EplbMode,
}

impl EplbGreedy {
    /// The mode `Auto` resolves to for `groups` expert groups on `nodes` nodes.
    pub fn resolve(mode: EplbMode, groups: usize, nodes: usize) -> EplbMode {
        match mode {
            EplbMode::Auto if groups % nodes == 0 => EplbMode::Hierarchical,
            EplbMode::Auto => EplbMode::Global,
            m => m,
        }
    }
}

impl Planner for EplbGreedy {
    fn name(&self) -> &str {
        match self.mode {
            EplbMode::Auto => "eplb",
            EplbMode::Hierarchical => "eplb_hierarchical",
            EplbMode::Global => "eplb_global",
        }
    }

    fn plan(&self, req: &PlanRequest<'_>) -> Result<Placement, MoeError> {
        let topo = req.topology;
        let experts = req.load.experts();
        let (groups, nodes) = match Self::resolve(self.mode, req.groups, topo.nodes()) {
            EplbMode::Global => (1, 1),
            _ => (req.groups, topo.nodes()),
        };
        check_shape(topo, experts, groups, nodes)?;
        let phy2log = (0..req.load.layers())
            .map(|l| hierarchical_layer(req.load.layer(l), topo, groups, nodes))
            .collect();
        Ok(Placement::new(experts, phy2log))
    }
}

fn check_shape(
    topo: &Topology,
    experts: usize,
    groups: usize,
    nodes: usize,
) -> Result<(), MoeError> {
    let spg = topo.uniform_slots_per_gpu();
    if spg.is_none() || topo.uniform_gpus_per_node().is_none() {
        return Err(MoeError::Topology(
            "EPLB needs the same GPUs per node and slots per GPU everywhere".into(),
        ));
    }
    if groups == 0 || experts % groups != 0 {
        return Err(MoeError::Topology(format!(
            "{experts} experts do not divide into {groups} groups"
        )));
    }
    if groups % nodes != 0 {
        return Err(MoeError::Topology(format!(
            "hierarchical EPLB needs groups ({groups}) divisible by nodes ({nodes})"
        )));
    }
    if topo.slots() < experts {
        return Err(MoeError::Topology(format!(
            "{} slots cannot hold {experts} experts",
            topo.slots()
        )));
    }
    if nodes > 1 && topo.slots() / nodes < experts / nodes {
        return Err(MoeError::Topology(
            "each node needs at least as many slots as the experts packed onto it".into(),
        ));
    }
    Ok(())
}

/// Balanced packing of `weights` into `packs` packs of equal item count: returns (pack, rank in pack).
pub(crate) fn balanced_packing(weights: &[f32], packs: usize) -> (Vec<usize>, Vec<usize>) {
    let n = weights.len();
    let per_pack = n / packs;
    if per_pack == 1 {
        return ((0..n).collect(), vec![0; n]);
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| weights[b].total_cmp(&weights[a]));
    // Lightest pack with room first, lowest index on ties: a min-heap of (weight, pack); a full
    // pack leaves the heap.
    let mut heap: std::collections::BinaryHeap<std::cmp::Reverse<(OrdF32, usize)>> = (0..packs)
        .map(|p| std::cmp::Reverse((OrdF32(0.0), p)))
        .collect();
    let mut pack_n = vec![0usize; packs];
    let mut pack = vec![0; n];
    let mut rank = vec![0; n];
    for i in order {
        let Some(std::cmp::Reverse((OrdF32(w), best))) = heap.pop() else {
            break;
        };
        pack[i] = best;
        rank[i] = pack_n[best];
        pack_n[best] += 1;
        if pack_n[best] < per_pack {
            heap.push(std::cmp::Reverse((OrdF32(w + weights[i]), best)));
        }
    }
    (pack, rank)
}

/// An `f32` with a total order (for the packing heap).
#[derive(Debug, Clone, Copy, PartialEq)]
struct OrdF32(f32);

impl Eq for OrdF32 {}

impl PartialOrd for OrdF32 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrdF32 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Replicates logical experts into `slots` physical ones: (slot → expert, replica counts).
pub(crate) fn replicate(weights: &[f32], slots: usize) -> (Vec<usize>, Vec<usize>) {
    let n = weights.len();
    let mut phy2log: Vec<usize> = (0..n).collect();
    let mut cnt = vec![1usize; n];
    for _ in n..slots {
        let mut best = 0;
        let mut best_v = f32::NEG_INFINITY;
        for (e, (&w, &c)) in weights.iter().zip(&cnt).enumerate() {
            let v = w / c as f32;
            if v > best_v {
                best_v = v;
                best = e;
            }
        }
        phy2log.push(best);
        cnt[best] += 1;
    }
    (phy2log, cnt)
}

/// One layer of EPLB's hierarchical policy (global = one group on one node).
fn hierarchical_layer(load: &[f64], topo: &Topology, groups: usize, nodes: usize) -> Vec<u32> {
    let w: Vec<f32> = load.iter().map(|&x| x as f32).collect();
    let experts = w.len();
    let group_size = experts / groups;
    let groups_per_node = groups / nodes;
    let slots_per_node = topo.slots() / nodes;
    let gpus_per_node = topo.gpus() / nodes;
    let slots_per_gpu = topo.slots() / topo.gpus();
    let experts_per_node = experts / nodes;

    // Step 1: groups to nodes.
    let group_w: Vec<f32> = (0..groups)
        .map(|g| w[g * group_size..(g + 1) * group_size].iter().sum())
        .collect();
    let (g_pack, g_rank) = balanced_packing(&group_w, nodes);
    // log2mlog: position of each logical expert once groups are laid out node by node.
    let mut mlog2log = vec![0usize; experts];
    for e in 0..experts {
        let g = e / group_size;
        let m = (g_pack[g] * groups_per_node + g_rank[g]) * group_size + e % group_size;
        mlog2log[m] = e;
    }

    let mut out = vec![0u32; topo.slots()];
    for n in 0..nodes {
        // Step 2: replicate inside the node.
        let local: Vec<f32> = (0..experts_per_node)
            .map(|j| w[mlog2log[n * experts_per_node + j]])
            .collect();
        let (phy2mlog, cnt) = replicate(&local, slots_per_node);
        // Step 3: pack the node's replicas onto its GPUs.
        let per_phy: Vec<f32> = phy2mlog.iter().map(|&j| local[j] / cnt[j] as f32).collect();
        let (pack, rank) = balanced_packing(&per_phy, gpus_per_node);
        for (k, &j) in phy2mlog.iter().enumerate() {
            let q = pack[k] * slots_per_gpu + rank[k];
            out[n * slots_per_node + q] = mlog2log[n * experts_per_node + j] as u32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_fills_the_lightest_pack_with_room() {
        let (pack, rank) = balanced_packing(&[5.0, 4.0, 3.0, 1.0], 2);
        assert_eq!(pack, vec![0, 1, 1, 0]);
        assert_eq!(rank, vec![0, 0, 1, 1]);
    }

    #[test]
    fn replication_goes_to_the_highest_load_per_replica() {
        let (phy, cnt) = replicate(&[9.0, 4.0, 2.0], 5);
        assert_eq!(phy, vec![0, 1, 2, 0, 0]);
        assert_eq!(cnt, vec![3, 1, 1]);
    }
}
