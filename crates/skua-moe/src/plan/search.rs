//! Local search on one layer's placement under EPLB's load model (each replica carries its
//! expert's load divided by its replica count), against one or several load scenarios.
//!
//! Objective: the mean over scenarios of `max GPU load / mean GPU load` (so each scenario weighs
//! the same). Moves, best improvement first, always from a GPU that is the hottest in some
//! scenario: **swap** two slots on different GPUs, or **retarget** a slot from an expert with
//! spare replicas to another expert (changing both experts' replica counts). No move ever puts two
//! replicas of one expert on one GPU. With a move budget, a move is taken only while the slots
//! that differ from the starting placement stay within the budget.

use crate::topology::Topology;

/// Which moves may cross node boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Any two GPUs.
    Cluster,
    /// Only GPUs of the same node (keeps each node's experts as they are).
    Node,
}

pub(crate) struct Search<'a> {
    topo: &'a Topology,
    /// Scenario loads, each `experts` long.
    scen: Vec<Vec<f64>>,
    /// Per scenario, 1 / mean GPU load.
    inv_mean: Vec<f64>,
    pub(crate) slots: Vec<usize>,
    start: Vec<usize>,
    cnt: Vec<usize>,
    /// `scenario × gpus`.
    gpu: Vec<Vec<f64>>,
    scope: Scope,
    budget: Option<usize>,
    moved: usize,
}

/// Top three GPUs of one scenario: (load, gpu), descending.
type Top3 = [(f64, usize); 3];

/// What retarget evaluations share within one step of the search.
struct RetargetCtx {
    /// Per expert: its slots.
    replicas: Vec<Vec<usize>>,
    /// Per scenario: GPUs by load, descending.
    order: Vec<Vec<usize>>,
}

impl<'a> Search<'a> {
    pub(crate) fn new(
        topo: &'a Topology,
        scen: Vec<Vec<f64>>,
        slots: Vec<usize>,
        scope: Scope,
        budget: Option<usize>,
    ) -> Self {
        let experts = scen[0].len();
        let mut cnt = vec![0; experts];
        for &e in &slots {
            cnt[e] += 1;
        }
        let inv_mean = scen
            .iter()
            .map(|w| {
                let t: f64 = w.iter().sum();
                if t > 0.0 { topo.gpus() as f64 / t } else { 0.0 }
            })
            .collect();
        let mut s = Self {
            topo,
            gpu: vec![vec![0.0; topo.gpus()]; scen.len()],
            scen,
            inv_mean,
            start: slots.clone(),
            slots,
            cnt,
            scope,
            budget,
            moved: 0,
        };
        s.recompute();
        s
    }

    fn recompute(&mut self) {
        for (si, w) in self.scen.iter().enumerate() {
            let g = &mut self.gpu[si];
            g.iter_mut().for_each(|x| *x = 0.0);
            for (p, &e) in self.slots.iter().enumerate() {
                g[self.topo.gpu_of_slot(p)] += w[e] / self.cnt[e] as f64;
            }
        }
    }

    /// The objective (mean over scenarios of max / mean GPU load).
    pub(crate) fn objective(&self) -> f64 {
        let n = self.scen.len() as f64;
        self.gpu
            .iter()
            .zip(&self.inv_mean)
            .map(|(g, im)| g.iter().copied().fold(0.0, f64::max) * im)
            .sum::<f64>()
            / n
    }

    fn top3(&self) -> Vec<Top3> {
        self.gpu
            .iter()
            .map(|g| {
                let mut t = [(f64::NEG_INFINITY, usize::MAX); 3];
                for (i, &x) in g.iter().enumerate() {
                    if x > t[0].0 {
                        t = [(x, i), t[0], t[1]];
                    } else if x > t[1].0 {
                        t = [t[0], (x, i), t[1]];
                    } else if x > t[2].0 {
                        t[2] = (x, i);
                    }
                }
                t
            })
            .collect()
    }

    fn retarget_ctx(&self) -> RetargetCtx {
        let mut replicas = vec![Vec::new(); self.cnt.len()];
        for (p, &e) in self.slots.iter().enumerate() {
            replicas[e].push(p);
        }
        let order = self
            .gpu
            .iter()
            .map(|g| {
                let mut o: Vec<usize> = (0..g.len()).collect();
                o.sort_by(|&x, &y| g[y].total_cmp(&g[x]));
                o
            })
            .collect();
        RetargetCtx { replicas, order }
    }

    fn on_gpu(&self, g: usize, e: usize) -> bool {
        self.topo.slots_of_gpu(g).any(|p| self.slots[p] == e)
    }

    fn moved_if(&self, changes: &[(usize, usize)]) -> usize {
        let mut m = self.moved;
        for &(p, e) in changes {
            let before = self.slots[p] != self.start[p];
            let after = e != self.start[p];
            m = m + usize::from(after) - usize::from(before);
        }
        m
    }

    /// Removes same-GPU duplicates (e.g. from an EPLB start) with the cheapest swaps.
    pub(crate) fn repair_duplicates(&mut self) {
        for g in 0..self.topo.gpus() {
            let range = self.topo.slots_of_gpu(g);
            for p in range.clone() {
                let e = self.slots[p];
                if !range.clone().any(|q| q < p && self.slots[q] == e) {
                    continue;
                }
                let mut best: Option<(f64, usize)> = None;
                let top = self.top3();
                for q in 0..self.slots.len() {
                    let gq = self.topo.gpu_of_slot(q);
                    let f = self.slots[q];
                    if gq == g || f == e || self.on_gpu(g, f) || self.on_gpu(gq, e) {
                        continue;
                    }
                    let v = self.swap_value(p, q, &top);
                    if best.is_none_or(|(b, _)| v < b) {
                        best = Some((v, q));
                    }
                }
                let mut change = best.map(|(v, q)| (v, vec![(p, self.slots[q]), (q, e)]));
                // Or give the duplicate slot to another expert (fewer replicas of `e`).
                let ctx = self.retarget_ctx();
                for b in 0..self.cnt.len() {
                    if b != e && !self.on_gpu(g, b) {
                        let v = self.retarget_value(p, b, &ctx);
                        if change.as_ref().is_none_or(|(c, _)| v < *c) {
                            change = Some((v, vec![(p, b)]));
                        }
                    }
                }
                if let Some((_, ch)) = change {
                    self.apply(&ch);
                }
            }
        }
    }

    fn swap_value(&self, p: usize, q: usize, top: &[Top3]) -> f64 {
        let (gp, gq) = (self.topo.gpu_of_slot(p), self.topo.gpu_of_slot(q));
        let (a, b) = (self.slots[p], self.slots[q]);
        let mut total = 0.0;
        for (si, w) in self.scen.iter().enumerate() {
            let d = w[b] / self.cnt[b] as f64 - w[a] / self.cnt[a] as f64;
            let (lp, lq) = (self.gpu[si][gp] + d, self.gpu[si][gq] - d);
            let rest = top[si]
                .iter()
                .find(|(_, g)| *g != gp && *g != gq)
                .map_or(0.0, |t| t.0);
            total += lp.max(lq).max(rest) * self.inv_mean[si];
        }
        total / self.scen.len() as f64
    }

    /// The objective after slot `p` becomes a replica of `b`. Only the GPUs holding a replica of
    /// the slot's expert or of `b` change; the hottest of the others is the first of `order`
    /// (per scenario, GPUs by load, descending) outside that set.
    fn retarget_value(&self, p: usize, b: usize, ctx: &RetargetCtx) -> f64 {
        let a = self.slots[p];
        let (ca, cb) = (self.cnt[a] as f64, self.cnt[b] as f64);
        // Slots whose load changes, in slot order (as a full pass over the slots would add them).
        let mut touched: Vec<usize> = ctx.replicas[a]
            .iter()
            .chain(&ctx.replicas[b])
            .copied()
            .collect();
        touched.sort_unstable();
        let mut total = 0.0;
        let mut changed: Vec<(usize, f64)> = Vec::with_capacity(touched.len());
        for (si, w) in self.scen.iter().enumerate() {
            changed.clear();
            for &q in &touched {
                let gq = self.topo.gpu_of_slot(q);
                let d = if q == p {
                    w[b] / (cb + 1.0) - w[a] / ca
                } else if self.slots[q] == a {
                    w[a] / (ca - 1.0) - w[a] / ca
                } else {
                    w[b] / (cb + 1.0) - w[b] / cb
                };
                match changed.iter_mut().find(|(g, _)| *g == gq) {
                    Some((_, x)) => *x += d,
                    None => changed.push((gq, self.gpu[si][gq] + d)),
                }
            }
            let rest = ctx.order[si]
                .iter()
                .find(|g| !changed.iter().any(|(c, _)| c == *g))
                .map_or(0.0, |&g| self.gpu[si][g]);
            let peak = changed.iter().fold(rest.max(0.0), |m, &(_, x)| m.max(x));
            total += peak * self.inv_mean[si];
        }
        total / self.scen.len() as f64
    }

    fn apply(&mut self, changes: &[(usize, usize)]) {
        self.moved = self.moved_if(changes);
        for &(p, e) in changes {
            self.cnt[self.slots[p]] -= 1;
            self.cnt[e] += 1;
            self.slots[p] = e;
        }
        self.recompute();
    }

    /// Runs best-improvement moves until none improves or `max_moves` were taken.
    pub(crate) fn run(&mut self, max_moves: usize, retarget_candidates: usize) {
        let gpus = self.topo.gpus();
        for _ in 0..max_moves {
            let cur = self.objective();
            let top = self.top3();
            let mut hot: Vec<usize> = top.iter().map(|t| t[0].1).collect();
            hot.sort_unstable();
            hot.dedup();
            let mut best: Option<(f64, Vec<(usize, usize)>)> = None;
            let consider =
                |v: f64, ch: Vec<(usize, usize)>, best: &mut Option<(f64, Vec<(usize, usize)>)>| {
                    if v < cur - 1e-12 && best.as_ref().is_none_or(|(b, _)| v < *b) {
                        *best = Some((v, ch));
                    }
                };
            for &g1 in &hot {
                let node = self.topo.node_of_gpu(g1);
                for p in self.topo.slots_of_gpu(g1) {
                    let a = self.slots[p];
                    for g2 in 0..gpus {
                        if g2 == g1
                            || (self.scope == Scope::Node && self.topo.node_of_gpu(g2) != node)
                        {
                            continue;
                        }
                        if self.on_gpu(g2, a) {
                            continue;
                        }
                        for q in self.topo.slots_of_gpu(g2) {
                            let b = self.slots[q];
                            if self.on_gpu(g1, b) {
                                continue;
                            }
                            let ch = vec![(p, b), (q, a)];
                            if self.budget.is_some_and(|bud| self.moved_if(&ch) > bud) {
                                continue;
                            }
                            consider(self.swap_value(p, q, &top), ch, &mut best);
                        }
                    }
                }
            }
            let ctx = (retarget_candidates > 0 && self.scope == Scope::Cluster)
                .then(|| self.retarget_ctx());
            if let Some(ctx) = &ctx {
                // Experts with the highest load per replica are the ones another replica helps.
                let mut order: Vec<usize> = (0..self.cnt.len())
                    .filter(|&e| self.cnt[e] < gpus)
                    .collect();
                let per =
                    |e: usize| self.scen.iter().map(|w| w[e]).sum::<f64>() / self.cnt[e] as f64;
                order.sort_by(|&x, &y| per(y).total_cmp(&per(x)));
                order.truncate(retarget_candidates);
                for &g1 in &hot {
                    for p in self.topo.slots_of_gpu(g1) {
                        if self.cnt[self.slots[p]] < 2 {
                            continue;
                        }
                        for &b in &order {
                            if b == self.slots[p] || self.on_gpu(g1, b) {
                                continue;
                            }
                            let ch = vec![(p, b)];
                            if self.budget.is_some_and(|bud| self.moved_if(&ch) > bud) {
                                continue;
                            }
                            consider(self.retarget_value(p, b, ctx), ch, &mut best);
                        }
                    }
                }
            }
            if let Some(ctx) = &ctx {
                // Or split an expert of a hot GPU further: a cold GPU's spare replica becomes
                // another replica of it.
                let mut cold: Vec<usize> = (0..gpus).collect();
                cold.sort_by(|&x, &y| self.gpu[0][x].total_cmp(&self.gpu[0][y]));
                cold.truncate(8);
                for &g1 in &hot {
                    for b in self.topo.slots_of_gpu(g1).map(|p| self.slots[p]) {
                        for &g2 in &cold {
                            if self.on_gpu(g2, b) {
                                continue;
                            }
                            for q in self.topo.slots_of_gpu(g2) {
                                if self.cnt[self.slots[q]] < 2 {
                                    continue;
                                }
                                let ch = vec![(q, b)];
                                if self.budget.is_some_and(|bud| self.moved_if(&ch) > bud) {
                                    continue;
                                }
                                consider(self.retarget_value(q, b, ctx), ch, &mut best);
                            }
                        }
                    }
                }
            }
            match best {
                Some((_, ch)) => self.apply(&ch),
                None => break,
            }
        }
    }
}

/// Balances each node on its own: swaps between the GPUs of one node (no expert changes node, so
/// no token reaches another node) that lower the mean over scenarios of that node's hottest GPU
/// relative to its mean. Unlike a search on the whole cluster, which stops once the cluster's
/// hottest GPU cannot improve, every node ends balanced, so whichever node runs hot on the next
/// window starts from an even spread inside it.
pub(crate) fn balance_each_node(
    topo: &Topology,
    scen: &[Vec<f64>],
    mut slots: Vec<usize>,
    max_moves: usize,
) -> Vec<usize> {
    let experts = scen[0].len();
    let mut cnt = vec![0usize; experts];
    slots.iter().for_each(|&e| cnt[e] += 1);
    for n in 0..topo.nodes() {
        let gpus = topo.gpus_of_node(n);
        if gpus.len() < 2 {
            continue;
        }
        let first = topo.slots_of_gpu(gpus.start).start;
        let last = topo.slots_of_gpu(gpus.end - 1).end;
        let sizes: Vec<usize> = gpus.clone().map(|g| topo.slots_of_gpu(g).len()).collect();
        let Ok(sub) = Topology::from_gpus(vec![0; sizes.len()], sizes) else {
            continue;
        };
        let local = slots[first..last].to_vec();
        let mut here = vec![0usize; experts];
        local.iter().for_each(|&e| here[e] += 1);
        // Scaled so that the sub-search, which divides by the replicas it sees, gives each slot
        // its share of the expert's load over all replicas.
        let sub_scen: Vec<Vec<f64>> = scen
            .iter()
            .map(|w| {
                (0..experts)
                    .map(|e| {
                        if here[e] == 0 {
                            0.0
                        } else {
                            w[e] * here[e] as f64 / cnt[e] as f64
                        }
                    })
                    .collect()
            })
            .collect();
        let mut s = Search::new(&sub, sub_scen, local, Scope::Cluster, None);
        s.run(max_moves, 0);
        slots[first..last].copy_from_slice(&s.slots);
    }
    slots
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps_fix_a_bad_packing_and_keep_gpus_duplicate_free() {
        let topo = Topology::uniform(1, 2, 4).unwrap();
        // Loads 8, 6, 1, 1 packed as {8, 6} {1, 1}: the best is {8, 1} {6, 1}.
        let mut s = Search::new(
            &topo,
            vec![vec![8.0, 6.0, 1.0, 1.0]],
            vec![0, 1, 2, 3],
            Scope::Cluster,
            None,
        );
        let before = s.objective();
        s.run(10, 0);
        assert!(s.objective() < before);
        assert!((s.objective() - 9.0 / 8.0).abs() < 1e-12);
    }

    #[test]
    fn every_node_is_balanced_inside_and_keeps_its_experts() {
        // 2 nodes × 2 GPUs × 2 slots. Node 0 holds 0..4 packed {8, 6} {1, 1}; node 1 holds 4..8
        // packed {5, 4} {3, 2}. Node 0 is the hotter node, yet node 1 is balanced too.
        let topo = Topology::uniform(2, 4, 8).unwrap();
        let w = vec![vec![8.0, 6.0, 1.0, 1.0, 5.0, 4.0, 3.0, 2.0]];
        let start: Vec<usize> = (0..8).collect();
        let out = balance_each_node(&topo, &w, start, 10);
        let gpu = |g: usize| -> f64 { topo.slots_of_gpu(g).map(|p| w[0][out[p]]).sum() };
        assert_eq!(
            (gpu(0).max(gpu(1)), gpu(2).max(gpu(3))),
            (9.0, 7.0),
            "{out:?}"
        );
        for n in 0..2 {
            let mut here: Vec<usize> = out[n * 4..n * 4 + 4].to_vec();
            here.sort_unstable();
            assert_eq!(here, (n * 4..n * 4 + 4).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_node_sees_each_replica_at_its_share_of_the_load() {
        // Expert 0 has one replica on each node: each carries 5 of its 10. Node 0 = {0, 1 | 2, 3}
        // with loads 5, 6 | 3, 2 → {6, 2} {5, 3}, peak 8. Seen at its full 10, expert 0 would be
        // paired with 2 ({10, 2} {6, 3}), a true peak of 9.
        let topo = Topology::uniform(2, 4, 8).unwrap();
        let w = vec![vec![10.0, 6.0, 3.0, 2.0, 1.0, 1.0, 1.0]];
        let out = balance_each_node(&topo, &w, vec![0, 1, 2, 3, 0, 4, 5, 6], 10);
        let share = |p: usize| if out[p] == 0 { 5.0 } else { w[0][out[p]] };
        let gpu = |g: usize| -> f64 { topo.slots_of_gpu(g).map(share).sum() };
        assert_eq!(gpu(0).max(gpu(1)), 8.0, "{out:?}");
    }

    #[test]
    fn the_budget_limits_moved_slots() {
        let topo = Topology::uniform(1, 4, 8).unwrap();
        let w = vec![vec![10.0, 9.0, 8.0, 7.0, 1.0, 1.0, 1.0, 1.0]];
        let mut s = Search::new(
            &topo,
            w,
            vec![0, 1, 2, 3, 4, 5, 6, 7],
            Scope::Cluster,
            Some(2),
        );
        s.run(50, 4);
        let moved = s
            .slots
            .iter()
            .enumerate()
            .filter(|(p, e)| **e != *p)
            .count();
        assert!(moved <= 2, "moved {moved}");
    }

    #[test]
    fn retargeting_gives_the_hot_expert_more_replicas() {
        let topo = Topology::uniform(1, 2, 4).unwrap();
        // Expert 0 carries 90 %: it needs replicas on both GPUs.
        let w = vec![vec![90.0, 5.0, 5.0]];
        let mut s = Search::new(&topo, w, vec![0, 1, 2, 1], Scope::Cluster, None);
        s.run(10, 3);
        assert_eq!(s.cnt[0], 2, "{:?}", s.slots);
    }
}
