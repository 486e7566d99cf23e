//! Locality by swaps under a balance cap (Kernighan–Lin style, after LocMoE's intra-node
//! preference): experts that the same tokens choose are pulled onto the same node, one swap of two
//! single-replica experts on different nodes at a time, while every GPU stays within
//! `(1 + slack) × mean` of the forecast load (EPLB's load model). The gain of a swap is the change
//! in same-token pairs whose experts share a node; replicated experts stay where the balance put
//! them (a token reaches its nearest replica, so a replica on another node costs no node).

use super::visits::NodeVisits;
use crate::load::TokenTrace;
use crate::topology::Topology;

/// Candidates (best by pair count first) whose exact node-visit change is counted per KL step.
const EXACT_CANDIDATES: usize = 256;

struct Scenario {
    slot_load: Vec<f64>,
    gpu_load: Vec<f64>,
    cap: f64,
}

pub(crate) struct Cluster<'a> {
    topo: &'a Topology,
    experts: usize,
    /// Same-token pair counts, `experts × experts`.
    coact: &'a [f32],
    /// The forecast load per expert.
    load: Vec<f64>,
    /// Replicas per expert.
    cnt: Vec<usize>,
    /// Per slot: its share of the forecast load.
    slot_load: Vec<f64>,
    gpu_load: Vec<f64>,
    cap: f64,
    /// Extra load scenarios (sampled futures): per scenario, slot loads, GPU loads and cap.
    scen: Vec<Scenario>,
    /// Replicas of expert e on node n: `experts × nodes`.
    members: Vec<u32>,
    /// Affinity of expert e to node n: Σ over experts f present on n of coact[e][f].
    affinity: Vec<f64>,
    /// Exact node visits of a token sample, when given: gains and costs are counted on it.
    visits: Option<NodeVisits<'a>>,
    pub(crate) slots: Vec<usize>,
}

impl<'a> Cluster<'a> {
    /// Counts gains and costs as the exact change in nodes reached by the first `tokens` tokens
    /// of layer `layer` of `trace` (instead of same-token pairs).
    pub(crate) fn with_visits(
        mut self,
        trace: &'a TokenTrace,
        layer: usize,
        tokens: usize,
    ) -> Self {
        self.visits = Some(NodeVisits::new(
            self.topo,
            trace,
            layer,
            tokens,
            &self.slots,
        ));
        self
    }

    /// Gain of swapping slots `p` and `q`: fewer node visits when counted exactly, else more
    /// co-located pairs.
    fn gain(&self, p: usize, q: usize) -> f64 {
        match &self.visits {
            Some(v) => -(v.swap_delta(p, q) as f64),
            None => self.pair_gain(p, q),
        }
    }

    /// Also keeps every GPU within the cap in each of `futures` (or no worse than it already is).
    pub(crate) fn with_futures(mut self, futures: &[Vec<f64>], slack: f64) -> Self {
        let topo = self.topo;
        let mut cnt = vec![0usize; self.experts];
        self.slots.iter().for_each(|&e| cnt[e] += 1);
        self.scen = futures
            .iter()
            .map(|w| {
                let slot_load: Vec<f64> =
                    self.slots.iter().map(|&e| w[e] / cnt[e] as f64).collect();
                let mut gpu_load = vec![0.0; topo.gpus()];
                for (p, &x) in slot_load.iter().enumerate() {
                    gpu_load[topo.gpu_of_slot(p)] += x;
                }
                let mean = gpu_load.iter().sum::<f64>() / topo.gpus() as f64;
                Scenario {
                    slot_load,
                    gpu_load,
                    cap: (1.0 + slack) * mean,
                }
            })
            .collect();
        self
    }

    /// Whether swapping slots `p` and `q` keeps every scenario's GPUs within its cap (or no
    /// higher than they already are).
    fn futures_allow(&self, p: usize, q: usize) -> bool {
        let (g1, g2) = (self.topo.gpu_of_slot(p), self.topo.gpu_of_slot(q));
        self.scen.iter().all(|s| {
            let d = s.slot_load[q] - s.slot_load[p];
            let (a, b) = (s.gpu_load[g1] + d, s.gpu_load[g2] - d);
            a <= s.cap.max(s.gpu_load[g1]) && b <= s.cap.max(s.gpu_load[g2])
        })
    }

    pub(crate) fn new(
        topo: &'a Topology,
        load: &[f64],
        coact: &'a [f32],
        slots: Vec<usize>,
        slack: f64,
    ) -> Self {
        let experts = load.len();
        let nodes = topo.nodes();
        let mut cnt = vec![0usize; experts];
        for &e in &slots {
            cnt[e] += 1;
        }
        let slot_load: Vec<f64> = slots.iter().map(|&e| load[e] / cnt[e] as f64).collect();
        let mut gpu_load = vec![0.0; topo.gpus()];
        for (p, &w) in slot_load.iter().enumerate() {
            gpu_load[topo.gpu_of_slot(p)] += w;
        }
        let mean = gpu_load.iter().sum::<f64>() / topo.gpus() as f64;
        let mut members = vec![0u32; experts * nodes];
        for (p, &e) in slots.iter().enumerate() {
            members[e * nodes + topo.node_of_slot(p)] += 1;
        }
        let mut affinity = vec![0.0; experts * nodes];
        for e in 0..experts {
            for f in 0..experts {
                let c = f64::from(coact[e * experts + f]);
                if c > 0.0 {
                    for n in 0..nodes {
                        if members[f * nodes + n] > 0 {
                            affinity[e * nodes + n] += c;
                        }
                    }
                }
            }
        }
        Self {
            topo,
            experts,
            coact,
            slot_load,
            gpu_load,
            cap: (1.0 + slack) * mean,
            scen: Vec::new(),
            load: load.to_vec(),
            cnt,
            members,
            affinity,
            visits: None,
            slots,
        }
    }

    fn c(&self, a: usize, b: usize) -> f64 {
        f64::from(self.coact[a * self.experts + b])
    }

    /// Gain in co-located pairs when the replicas at slots `p` and `q` trade nodes (a replica
    /// only loses its node's partners when it is the expert's last replica there, and only gains
    /// a node's partners when the expert was not there yet).
    fn pair_gain(&self, p: usize, q: usize) -> f64 {
        let nodes = self.topo.nodes();
        let (a, b) = (self.slots[p], self.slots[q]);
        let (n1, n2) = (self.topo.node_of_slot(p), self.topo.node_of_slot(q));
        let a_leaves = self.members[a * nodes + n1] == 1;
        let b_leaves = self.members[b * nodes + n2] == 1;
        let a_new = self.members[a * nodes + n2] == 0;
        let b_new = self.members[b * nodes + n1] == 0;
        let mut g = 0.0;
        if a_new {
            g += self.affinity[a * nodes + n2] - if b_leaves { self.c(a, b) } else { 0.0 };
        }
        if a_leaves {
            g -= self.affinity[a * nodes + n1];
        }
        if b_new {
            g += self.affinity[b * nodes + n1] - if a_leaves { self.c(b, a) } else { 0.0 };
        }
        if b_leaves {
            g -= self.affinity[b * nodes + n2];
        }
        g
    }

    fn on_gpu(&self, g: usize, e: usize) -> bool {
        self.topo.slots_of_gpu(g).any(|p| self.slots[p] == e)
    }

    fn swap(&mut self, p: usize, q: usize) {
        let topo = self.topo;
        let (a, b) = (self.slots[p], self.slots[q]);
        let (n1, n2) = (topo.node_of_slot(p), topo.node_of_slot(q));
        let d = self.slot_load[q] - self.slot_load[p];
        self.gpu_load[topo.gpu_of_slot(p)] += d;
        self.gpu_load[topo.gpu_of_slot(q)] -= d;
        self.slot_load.swap(p, q);
        for sc in &mut self.scen {
            let d = sc.slot_load[q] - sc.slot_load[p];
            sc.gpu_load[topo.gpu_of_slot(p)] += d;
            sc.gpu_load[topo.gpu_of_slot(q)] -= d;
            sc.slot_load.swap(p, q);
        }
        self.slots.swap(p, q);
        if let Some(v) = &mut self.visits {
            v.swap(p, q);
        }
        if n1 != n2 {
            self.moved(a, n1, n2);
            self.moved(b, n2, n1);
        }
    }

    /// GPU loads after slot `q` (holding `y`, with spare replicas) becomes a replica of `x`.
    fn retarget_loads(&self, q: usize, x: usize) -> Vec<f64> {
        let topo = self.topo;
        let y = self.slots[q];
        let (wx, wy) = (self.load[x], self.load[y]);
        let (cx, cy) = (self.cnt[x] as f64, self.cnt[y] as f64);
        let mut g = self.gpu_load.clone();
        for (p, &e) in self.slots.iter().enumerate() {
            let gp = topo.gpu_of_slot(p);
            if p == q {
                g[gp] += wx / (cx + 1.0) - wy / cy;
            } else if e == x {
                g[gp] += wx / (cx + 1.0) - wx / cx;
            } else if e == y {
                g[gp] += wy / (cy - 1.0) - wy / cy;
            }
        }
        g
    }

    fn retarget(&mut self, q: usize, x: usize) {
        let topo = self.topo;
        let y = self.slots[q];
        let n = topo.node_of_slot(q);
        self.gpu_load = self.retarget_loads(q, x);
        self.cnt[y] -= 1;
        self.cnt[x] += 1;
        self.slots[q] = x;
        for (p, &e) in self.slots.iter().enumerate() {
            if e == x || e == y {
                self.slot_load[p] = self.load[e] / self.cnt[e] as f64;
            }
        }
        self.leave(y, n);
        self.arrive(x, n);
        if let Some(v) = &mut self.visits {
            v.rebuild(&self.slots);
        }
    }

    fn leave(&mut self, e: usize, n: usize) {
        let nodes = self.topo.nodes();
        self.members[e * nodes + n] -= 1;
        if self.members[e * nodes + n] == 0 {
            for f in 0..self.experts {
                let c = f64::from(self.coact[f * self.experts + e]);
                self.affinity[f * nodes + n] -= c;
            }
        }
    }

    fn arrive(&mut self, e: usize, n: usize) {
        let nodes = self.topo.nodes();
        if self.members[e * nodes + n] == 0 {
            for f in 0..self.experts {
                let c = f64::from(self.coact[f * self.experts + e]);
                self.affinity[f * nodes + n] += c;
            }
        }
        self.members[e * nodes + n] += 1;
    }

    /// While the hottest GPU is above the cap, takes the swap off it that costs the fewest
    /// co-located pairs per unit of load it sheds. Returns the swaps taken.
    pub(crate) fn rebalance(&mut self, max_swaps: usize) -> usize {
        let topo = self.topo;
        let mut taken = 0;
        while taken < max_swaps {
            let h = (0..topo.gpus())
                .max_by(|&x, &y| self.gpu_load[x].total_cmp(&self.gpu_load[y]))
                .unwrap_or(0);
            let peak = self.gpu_load[h];
            if peak <= self.cap {
                break;
            }
            let (mut swaps, mut retargets) = (Vec::new(), Vec::new());
            for p in topo.slots_of_gpu(h) {
                let a = self.slots[p];
                for q in 0..self.slots.len() {
                    let g2 = topo.gpu_of_slot(q);
                    let b = self.slots[q];
                    let d = self.slot_load[p] - self.slot_load[q];
                    if g2 == h || d <= 1e-12 || self.gpu_load[g2] + d >= peak || a == b {
                        continue;
                    }
                    if self.on_gpu(g2, a) || self.on_gpu(h, b) {
                        continue;
                    }
                    // Shedding more than the excess earns nothing; free moves go largest first.
                    let shed = d.min(peak - self.cap);
                    swaps.push(((-self.pair_gain(p, q)).max(0.0) / shed, p, q, shed));
                }
            }
            let best = self.cheapest(&mut swaps, |k, p, q| (-k.gain(p, q)).max(0.0));
            // Or turn a spare replica elsewhere into another replica of an expert on the hot GPU.
            for x in topo.slots_of_gpu(h).map(|p| self.slots[p]) {
                for q in 0..self.slots.len() {
                    let y = self.slots[q];
                    let g2 = topo.gpu_of_slot(q);
                    if g2 == h || y == x || self.cnt[y] < 2 || self.on_gpu(g2, x) {
                        continue;
                    }
                    let g = self.retarget_loads(q, x);
                    let new_peak = g.iter().copied().fold(0.0, f64::max);
                    if new_peak >= peak - 1e-12 {
                        continue;
                    }
                    let shed = (peak - new_peak).min(peak - self.cap);
                    retargets.push((self.pair_retarget_loss(q, x).max(0.0) / shed, q, x, shed));
                }
            }
            let retarget = self.cheapest(&mut retargets, |k, q, x| k.retarget_loss(q, x).max(0.0));
            match (best, retarget) {
                (Some(b), Some(r)) if r.0 < b.0 - 1e-12 || (r.0 <= b.0 + 1e-12 && r.3 > b.3) => {
                    self.retarget(r.1, r.2)
                }
                (Some((_, p, q, _)), _) => self.swap(p, q),
                (None, Some(r)) => self.retarget(r.1, r.2),
                (None, None) => break,
            }
            taken += 1;
        }
        taken
    }

    /// Of candidate moves `(cost per shed by pair counts, a, b, shed)`, the one with the lowest
    /// cost per unit shed (the larger shed on ties); with exact visits, the costs of the
    /// [`EXACT_CANDIDATES`] cheapest by pair counts are recounted by `exact(self, a, b)`.
    fn cheapest(
        &self,
        cands: &mut [(f64, usize, usize, f64)],
        exact: impl Fn(&Self, usize, usize) -> f64,
    ) -> Option<(f64, usize, usize, f64)> {
        let better = |c: &(f64, usize, usize, f64), b: &(f64, usize, usize, f64)| {
            c.0 < b.0 - 1e-12 || (c.0 <= b.0 + 1e-12 && c.3 > b.3)
        };
        let shortlist = if self.visits.is_some() {
            cands.sort_by(|x, y| x.0.total_cmp(&y.0).then(y.3.total_cmp(&x.3)));
            let n = cands.len().min(EXACT_CANDIDATES);
            for c in &mut cands[..n] {
                c.0 = exact(self, c.1, c.2) / c.3;
            }
            &cands[..n]
        } else {
            &cands[..]
        };
        let mut best: Option<(f64, usize, usize, f64)> = None;
        for c in shortlist {
            if best.as_ref().is_none_or(|b| better(c, b)) {
                best = Some(*c);
            }
        }
        best
    }

    /// Locality lost when slot `q` becomes a replica of `x`.
    fn retarget_loss(&self, q: usize, x: usize) -> f64 {
        if let Some(v) = &self.visits {
            let y = self.slots[q];
            let others: Vec<usize> = (0..self.slots.len())
                .filter(|&p| p != q && self.slots[p] == y)
                .collect();
            let xs: Vec<usize> = (0..self.slots.len())
                .filter(|&p| self.slots[p] == x)
                .collect();
            return v.retarget_delta(q, &others, &xs) as f64;
        }
        self.pair_retarget_loss(q, x)
    }

    /// Same-token pairs lost when slot `q` becomes a replica of `x`.
    fn pair_retarget_loss(&self, q: usize, x: usize) -> f64 {
        let y = self.slots[q];
        let n2 = self.topo.node_of_slot(q);
        let nodes = self.topo.nodes();
        let mut loss = 0.0;
        if self.members[y * nodes + n2] == 1 {
            loss += self.affinity[y * nodes + n2];
        }
        if self.members[x * nodes + n2] == 0 {
            loss -= self.affinity[x * nodes + n2];
        }
        loss
    }

    fn moved(&mut self, e: usize, from: usize, to: usize) {
        let nodes = self.topo.nodes();
        self.members[e * nodes + from] -= 1;
        let left = self.members[e * nodes + from] == 0;
        let arrived = self.members[e * nodes + to] == 0;
        self.members[e * nodes + to] += 1;
        for f in 0..self.experts {
            let c = f64::from(self.coact[f * self.experts + e]);
            if c > 0.0 {
                if left {
                    self.affinity[f * nodes + from] -= c;
                }
                if arrived {
                    self.affinity[f * nodes + to] += c;
                }
            }
        }
    }

    /// Takes the best balance-respecting swap while one gains; at most `max_swaps`. With exact
    /// visits, the best [`EXACT_CANDIDATES`] swaps by pair count are counted exactly and the best
    /// of those is taken.
    pub(crate) fn run(&mut self, max_swaps: usize) -> usize {
        let topo = self.topo;
        let all: Vec<usize> = (0..self.slots.len()).collect();
        let mut taken = 0;
        let mut cands: Vec<(f64, usize, usize)> = Vec::new();
        for _ in 0..max_swaps {
            cands.clear();
            for (i, &p) in all.iter().enumerate() {
                let (g1, n1) = (topo.gpu_of_slot(p), topo.node_of_slot(p));
                for &q in &all[i + 1..] {
                    let (g2, n2) = (topo.gpu_of_slot(q), topo.node_of_slot(q));
                    let (a, b) = (self.slots[p], self.slots[q]);
                    if n1 == n2 || a == b || self.on_gpu(g2, a) || self.on_gpu(g1, b) {
                        continue;
                    }
                    let d = self.slot_load[q] - self.slot_load[p];
                    if self.gpu_load[g1] + d > self.cap || self.gpu_load[g2] - d > self.cap {
                        continue;
                    }
                    let gain = self.pair_gain(p, q);
                    if gain > 1e-9 && self.futures_allow(p, q) {
                        cands.push((gain, p, q));
                    }
                }
            }
            let best = match &self.visits {
                None => cands
                    .iter()
                    .copied()
                    .max_by(|x, y| x.0.total_cmp(&y.0).then(y.1.cmp(&x.1)).then(y.2.cmp(&x.2))),
                Some(v) => {
                    cands.sort_by(|x, y| {
                        y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2))
                    });
                    cands
                        .iter()
                        .take(EXACT_CANDIDATES)
                        .map(|&(_, p, q)| (-(v.swap_delta(p, q) as f64), p, q))
                        .filter(|c| c.0 > 0.5)
                        .max_by(|x, y| x.0.total_cmp(&y.0).then(y.1.cmp(&x.1)).then(y.2.cmp(&x.2)))
                }
            };
            let Some((_, p, q)) = best else { break };
            self.swap(p, q);
            taken += 1;
        }
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps_bring_coactivated_experts_together_within_the_cap() {
        // 2 nodes × 1 GPU × 2 slots; experts 0,1 always together, 2,3 always together.
        let topo = Topology::uniform(2, 2, 4).unwrap();
        let mut c = vec![0f32; 16];
        c[1] = 10.0;
        c[4] = 10.0;
        c[2 * 4 + 3] = 10.0;
        c[3 * 4 + 2] = 10.0;
        let load = [1.0, 1.0, 1.0, 1.0];
        let mut k = Cluster::new(&topo, &load, &c, vec![0, 2, 1, 3], 0.0);
        assert_eq!(k.run(10), 1);
        let node = |e: usize| topo.node_of_slot(k.slots.iter().position(|&x| x == e).unwrap());
        assert_eq!(node(0), node(1));
        assert_eq!(node(2), node(3));
    }

    #[test]
    fn the_cap_blocks_unbalancing_swaps() {
        let topo = Topology::uniform(2, 2, 4).unwrap();
        let mut c = vec![0f32; 16];
        c[1] = 10.0;
        c[4] = 10.0;
        // Experts 0 and 1 are heavy: putting them together would overload a GPU.
        let load = [5.0, 5.0, 1.0, 1.0];
        let mut k = Cluster::new(&topo, &load, &c, vec![0, 2, 1, 3], 0.1);
        assert_eq!(k.run(10), 0);
    }
}
