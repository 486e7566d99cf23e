//! Token dispatch to replicas: each token reaches its nearest replica of every expert it chose.
//!
//! Tokens are spread over GPUs round-robin (token `t` starts on GPU `t mod gpus`, as with
//! data-parallel attention in front of expert parallelism). For each token the experts it chose
//! are served, in this order of preference, by a replica on its own GPU, on its own node, on a
//! node the token already reaches, or else on the node that covers most of its still-unserved
//! experts (DeepEP-style dispatch sends a token once per remote node and forwards inside the
//! node, so the number of nodes reached is what costs). Among equally near replicas the one on
//! the least-loaded GPU so far wins (lowest slot on ties), which keeps the rule deterministic.

use crate::load::TokenTrace;
use crate::placement::Placement;
use crate::topology::Topology;

/// What routing one layer's tokens produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Routed {
    /// Token-expert assignments per GPU.
    pub gpu_load: Vec<f64>,
    /// Token-expert assignments per slot.
    pub slot_load: Vec<f64>,
    /// Σ over tokens of the distinct nodes hosting the replicas it reached.
    pub node_visits: u64,
    /// Σ over tokens of the distinct nodes other than its own that it reached.
    pub remote_node_visits: u64,
    /// Token-expert assignments served on another node.
    pub remote_assignments: u64,
    /// Tokens routed.
    pub tokens: u64,
}

/// Replicas of each expert of one layer, grouped for fast lookup.
pub(crate) struct ReplicaIndex {
    /// Per expert: its slots.
    slots: Vec<Vec<usize>>,
}

impl ReplicaIndex {
    pub(crate) fn new(placement: &Placement, l: usize) -> Self {
        Self {
            slots: placement.log2phy(l),
        }
    }

    /// From one layer's slot → expert map.
    pub(crate) fn from_slots(slots: &[usize], experts: usize) -> Self {
        let mut m = vec![Vec::new(); experts];
        for (p, &e) in slots.iter().enumerate() {
            m[e].push(p);
        }
        Self { slots: m }
    }
}

/// Routes every token of layer `l` of `trace` through layer `l` of `placement`.
pub fn route_layer(placement: &Placement, topo: &Topology, trace: &TokenTrace, l: usize) -> Routed {
    let index = ReplicaIndex::new(placement, l);
    route_tokens(&index, topo, trace, l, 0..trace.tokens())
}

pub(crate) fn route_tokens(
    index: &ReplicaIndex,
    topo: &Topology,
    trace: &TokenTrace,
    l: usize,
    tokens: std::ops::Range<usize>,
) -> Routed {
    let gpus = topo.gpus();
    let mut out = Routed {
        gpu_load: vec![0.0; gpus],
        slot_load: vec![0.0; topo.slots()],
        node_visits: 0,
        remote_node_visits: 0,
        remote_assignments: 0,
        tokens: tokens.len() as u64,
    };
    let mut touched: Vec<usize> = Vec::with_capacity(16);
    let mut pending: Vec<usize> = Vec::with_capacity(16);
    let mut cover = vec![0u32; topo.nodes()];
    for t in tokens {
        let home_gpu = t % gpus;
        let home = topo.node_of_gpu(home_gpu);
        touched.clear();
        pending.clear();
        for &e in trace.choice(l, t) {
            let e = usize::from(e);
            let reps = &index.slots[e];
            if let Some(&p) = reps.iter().find(|&&p| topo.gpu_of_slot(p) == home_gpu) {
                assign(&mut out, topo, p, home, &mut touched);
            } else if let Some(p) = best_on(reps, topo, &out.gpu_load, |n| n == home) {
                assign(&mut out, topo, p, home, &mut touched);
            } else {
                pending.push(e);
            }
        }
        while !pending.is_empty() {
            // Serve what a reached node can serve, then open the node covering most of the rest.
            let mut i = 0;
            while i < pending.len() {
                let reps = &index.slots[pending[i]];
                if let Some(p) = best_on(reps, topo, &out.gpu_load, |n| touched.contains(&n)) {
                    assign(&mut out, topo, p, home, &mut touched);
                    pending.swap_remove(i);
                } else {
                    i += 1;
                }
            }
            if pending.is_empty() {
                break;
            }
            cover.iter_mut().for_each(|c| *c = 0);
            for &e in &pending {
                let mut last = usize::MAX;
                for &p in &index.slots[e] {
                    let n = topo.node_of_slot(p);
                    if n != last {
                        cover[n] += 1;
                        last = n;
                    }
                }
            }
            let best = (0..cover.len())
                .max_by(|&a, &b| cover[a].cmp(&cover[b]).then(b.cmp(&a)))
                .unwrap_or(0);
            touched.push(best);
        }
        out.node_visits += touched.len() as u64;
        out.remote_node_visits += touched.iter().filter(|&&n| n != home).count() as u64;
    }
    out
}

fn best_on(
    reps: &[usize],
    topo: &Topology,
    gpu_load: &[f64],
    ok: impl Fn(usize) -> bool,
) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for &p in reps {
        if ok(topo.node_of_slot(p)) {
            let load = gpu_load[topo.gpu_of_slot(p)];
            if best.is_none_or(|(_, b)| load < b) {
                best = Some((p, load));
            }
        }
    }
    best.map(|(p, _)| p)
}

fn assign(out: &mut Routed, topo: &Topology, p: usize, home: usize, touched: &mut Vec<usize>) {
    let g = topo.gpu_of_slot(p);
    let n = topo.node_of_gpu(g);
    out.gpu_load[g] += 1.0;
    out.slot_load[p] += 1.0;
    if n != home {
        out.remote_assignments += 1;
    }
    if !touched.contains(&n) {
        touched.push(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_prefer_home_then_reached_nodes() {
        // 2 nodes × 1 GPU × 2 slots. Node 0: experts 0, 1; node 1: experts 2, 1.
        let topo = Topology::uniform(2, 2, 4).unwrap();
        let p = Placement::new(3, vec![vec![0, 1, 2, 1]]);
        // Token 0 (home node 0) chooses 1, 2: 1 at home, 2 on node 1 → 2 nodes.
        // Token 1 (home node 1) chooses 0, 1: 1 at home, 0 on node 0 → 2 nodes.
        // Token 2 (home node 0) chooses 2, 1: 2 only on node 0? no, on node 1; 1 at home → 2 nodes.
        let t = TokenTrace::new(3, 2, 1, vec![1, 2, 0, 1, 2, 1], vec![0]).unwrap();
        let r = route_layer(&p, &topo, &t, 0);
        assert_eq!(r.node_visits, 6);
        assert_eq!(r.remote_node_visits, 3);
        assert_eq!(r.slot_load, vec![1.0, 2.0, 2.0, 1.0]);
        assert_eq!(r.gpu_load.iter().sum::<f64>(), 6.0);
    }

    #[test]
    fn a_remote_token_uses_a_node_it_already_reaches() {
        // 3 nodes × 1 GPU × 2 slots: node 0 {0,1}, node 1 {2,3}, node 2 {3,4}.
        let topo = Topology::uniform(3, 3, 6).unwrap();
        let p = Placement::new(5, vec![vec![0, 1, 2, 3, 3, 4]]);
        // Token 0 (home node 0) chooses 0, 4, 3: 0 home; 4 only on node 2; 3 then served on node 2.
        let t = TokenTrace::new(5, 3, 1, vec![0, 4, 3], vec![0]).unwrap();
        let r = route_layer(&p, &topo, &t, 0);
        assert_eq!(r.node_visits, 2);
        assert_eq!(r.slot_load, vec![1.0, 0.0, 0.0, 0.0, 1.0, 1.0]);
    }
}
