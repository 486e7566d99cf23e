//! Exact node-visit accounting for the locality stage: which node serves each (token, expert)
//! assignment of a token sample, and how many distinct nodes each token reaches, kept up to date
//! under slot swaps so that a candidate move's change in nodes per token is counted on the
//! tokens it touches instead of estimated from same-token pair counts.
//!
//! Replicated experts are served where [`crate::route`] would most likely send them (a replica on
//! the token's home node, else on a node the token reaches through its single-replica experts,
//! else the expert's first replica); that choice is frozen between rebuilds, so a swap's delta is
//! exact for the frozen routing, and the planner routes every candidate exactly at the end.

use crate::load::TokenTrace;
use crate::topology::Topology;

pub(crate) struct NodeVisits<'a> {
    topo: &'a Topology,
    trace: &'a TokenTrace,
    layer: usize,
    tokens: usize,
    k: usize,
    nodes: usize,
    /// `tokens × k`: the slot serving each of the token's choices.
    serving: Vec<u32>,
    /// Per slot: the sampled tokens it serves.
    served: Vec<Vec<u32>>,
    /// `tokens × nodes`: assignments served on each node.
    count: Vec<u8>,
    /// Σ over tokens of the nodes with a non-zero count.
    pub(crate) visits: i64,
}

impl<'a> NodeVisits<'a> {
    /// Routes the first `tokens` tokens of layer `layer` through `slots`.
    pub(crate) fn new(
        topo: &'a Topology,
        trace: &'a TokenTrace,
        layer: usize,
        tokens: usize,
        slots: &[usize],
    ) -> Self {
        let mut v = Self {
            topo,
            trace,
            layer,
            tokens: tokens.min(trace.tokens()),
            k: trace.top_k(),
            nodes: topo.nodes(),
            serving: Vec::new(),
            served: Vec::new(),
            count: Vec::new(),
            visits: 0,
        };
        v.rebuild(slots);
        v
    }

    /// Routes the sample again after the slots changed other than by [`Self::swap`].
    pub(crate) fn rebuild(&mut self, slots: &[usize]) {
        let (topo, nodes, k) = (self.topo, self.nodes, self.k);
        let mut replicas: Vec<Vec<usize>> = vec![Vec::new(); self.trace.experts()];
        for (p, &e) in slots.iter().enumerate() {
            replicas[e].push(p);
        }
        self.serving = vec![u32::MAX; self.tokens * k];
        self.served = vec![Vec::new(); slots.len()];
        self.count = vec![0; self.tokens * nodes];
        self.visits = 0;
        for t in 0..self.tokens {
            let home_gpu = t % topo.gpus();
            let home = topo.node_of_gpu(home_gpu);
            let choice = self.trace.choice(self.layer, t);
            let row = t * nodes;
            // Single-replica experts first: they fix the nodes the token reaches.
            for (i, &e) in choice.iter().enumerate() {
                let r = &replicas[usize::from(e)];
                if r.len() == 1 {
                    self.assign(t, i, r[0]);
                }
            }
            for (i, &e) in choice.iter().enumerate() {
                let r = &replicas[usize::from(e)];
                if r.len() < 2 {
                    continue;
                }
                let pick = r
                    .iter()
                    .find(|&&p| topo.gpu_of_slot(p) == home_gpu)
                    .or_else(|| r.iter().find(|&&p| topo.node_of_slot(p) == home))
                    .or_else(|| {
                        r.iter()
                            .find(|&&p| self.count[row + topo.node_of_slot(p)] > 0)
                    })
                    .unwrap_or(&r[0]);
                self.assign(t, i, *pick);
            }
        }
    }

    fn assign(&mut self, t: usize, i: usize, p: usize) {
        let c = &mut self.count[t * self.nodes + self.topo.node_of_slot(p)];
        if *c == 0 {
            self.visits += 1;
        }
        *c += 1;
        self.serving[t * self.k + i] = p as u32;
        self.served[p].push(t as u32);
    }

    fn serves(&self, t: u32, p: usize) -> bool {
        let t = t as usize;
        self.serving[t * self.k..(t + 1) * self.k].contains(&(p as u32))
    }

    /// Change in total visits if the contents of slots `p` and `q` traded places.
    pub(crate) fn swap_delta(&self, p: usize, q: usize) -> i64 {
        let (n1, n2) = (self.topo.node_of_slot(p), self.topo.node_of_slot(q));
        if n1 == n2 {
            return 0;
        }
        let mut d = 0i64;
        // A token served by both keeps its counts; the others move one assignment across.
        for (from, to, mine, other) in [(n1, n2, p, q), (n2, n1, q, p)] {
            for &t in &self.served[mine] {
                if self.serves(t, other) {
                    continue;
                }
                let row = t as usize * self.nodes;
                d -= i64::from(self.count[row + from] == 1);
                d += i64::from(self.count[row + to] == 0);
            }
        }
        d
    }

    /// Trades the contents of slots `p` and `q` (their served tokens move with them).
    pub(crate) fn swap(&mut self, p: usize, q: usize) {
        if p == q {
            return;
        }
        let (n1, n2) = (self.topo.node_of_slot(p), self.topo.node_of_slot(q));
        self.visits += self.swap_delta(p, q);
        let (sp, sq) = (
            std::mem::take(&mut self.served[p]),
            std::mem::take(&mut self.served[q]),
        );
        for (list, from, to, old, new) in [(&sp, n1, n2, p, q), (&sq, n2, n1, q, p)] {
            for &t in list {
                let t = t as usize;
                let row = t * self.nodes;
                self.count[row + from] -= 1;
                self.count[row + to] += 1;
                let s = &mut self.serving[t * self.k..(t + 1) * self.k];
                if let Some(x) = s.iter_mut().find(|x| **x == old as u32) {
                    *x = new as u32;
                }
            }
        }
        self.served[q] = sp;
        self.served[p] = sq;
    }

    /// Approximate change in total visits if slot `q` (holding an expert with other replicas
    /// `others`) became a replica of an expert served today by `x_slots`: the tokens `q` served
    /// go to another replica (one on a node they reach, if any), and tokens of the new expert
    /// that reach `q`'s node anyway stop visiting a node for it.
    pub(crate) fn retarget_delta(&self, q: usize, others: &[usize], x_slots: &[usize]) -> i64 {
        let n = self.topo.node_of_slot(q);
        let mut d = 0i64;
        for &t in &self.served[q] {
            let row = t as usize * self.nodes;
            let left = self.count[row + n] - 1;
            d -= i64::from(left == 0);
            let reached = |m: usize| {
                if m == n {
                    left > 0
                } else {
                    self.count[row + m] > 0
                }
            };
            if !others.iter().any(|&o| reached(self.topo.node_of_slot(o))) {
                d += 1;
            }
        }
        for &xs in x_slots {
            let m = self.topo.node_of_slot(xs);
            if m == n {
                continue;
            }
            for &t in &self.served[xs] {
                let row = t as usize * self.nodes;
                let at_n = self.count[row + n] - u8::from(self.serves(t, q));
                if at_n > 0 && self.count[row + m] == 1 {
                    d -= 1;
                }
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::{ReplicaIndex, route_tokens};

    fn trace() -> TokenTrace {
        // 8 experts, top-2, 6 tokens in one layer.
        let choice: Vec<u16> = vec![0, 1, 2, 3, 0, 2, 4, 5, 6, 7, 1, 3];
        TokenTrace::new(8, 2, 1, choice, vec![0]).unwrap()
    }

    #[test]
    fn swap_deltas_match_a_full_recount() {
        let topo = Topology::uniform(4, 4, 8).unwrap();
        let tr = trace();
        let slots: Vec<usize> = (0..8).collect();
        let v = NodeVisits::new(&topo, &tr, 0, 6, &slots);
        let routed = route_tokens(&ReplicaIndex::from_slots(&slots, 8), &topo, &tr, 0, 0..6);
        assert_eq!(v.visits, routed.node_visits as i64);
        for p in 0..8 {
            for q in 0..8 {
                let mut s2 = slots.clone();
                s2.swap(p, q);
                let fresh = NodeVisits::new(&topo, &tr, 0, 6, &s2);
                assert_eq!(v.visits + v.swap_delta(p, q), fresh.visits, "swap {p} {q}");
                let mut w = NodeVisits::new(&topo, &tr, 0, 6, &slots);
                w.swap(p, q);
                assert_eq!(w.visits, fresh.visits);
                // After the incremental swap, every further delta still matches a recount.
                for r in 0..8 {
                    let mut s3 = s2.clone();
                    s3.swap(q, r);
                    let f3 = NodeVisits::new(&topo, &tr, 0, 6, &s3);
                    assert_eq!(w.visits + w.swap_delta(q, r), f3.visits);
                }
            }
        }
    }
}
