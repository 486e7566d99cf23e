//! skua's planner: balance under uncertainty, locality from real routing, bounded moves.
//!
//! Per layer (layers in parallel):
//! 1. **Start.** EPLB's greedy on the *robust load* (per expert, the mean over the forecast and
//!    its sampled futures plus one standard deviation), or a duplicate-free greedy when the
//!    topology is not EPLB-shaped; with a current placement and a move budget, the current one.
//! 2. **Balance.** Local search ([`super::search`]) minimising the mean over scenarios (the
//!    forecast and each sampled future) of the hottest GPU's load relative to the mean: swaps and
//!    replica retargeting, never two replicas of one expert on a GPU, within the move budget.
//! 3. **Locality** (when recent tokens are given, `lambda > 0` and there are several nodes). Start
//!    from groups-on-nodes, then move load between nodes where the tokens already go: a sample of
//!    the tokens is routed through each candidate (nearest replica, [`crate::route`]) and a move is
//!    kept when it lowers `node imbalance + lambda × nodes per token`. A replica of a hot expert on
//!    a node its tokens already reach takes load off the hot node without adding a node to any
//!    token (LocMoE's observation, used the other way round). Finally the GPUs inside each node
//!    are packed by the routed replica loads.

use rayon::prelude::*;

use super::eplb::{EplbGreedy, EplbMode, replicate};
use super::search::{Scope, Search};
use super::{PlanRequest, Planner};
use crate::MoeError;
use crate::eval::imbalance;
use crate::load::TokenTrace;
use crate::placement::Placement;
use crate::route::{ReplicaIndex, route_tokens};
use crate::topology::Topology;

/// skua's planner.
#[derive(Debug, Clone, Copy)]
pub struct SkuaPlanner {
    /// Weight of nodes per token against node imbalance in the locality stage.
    pub lambda: f64,
    /// Tokens routed per candidate in the locality stage.
    pub sample_tokens: usize,
    /// Most local-search moves per layer in the balance stage.
    pub max_moves: usize,
    /// Most rounds of the locality stage per layer.
    pub locality_rounds: usize,
}

impl Default for SkuaPlanner {
    fn default() -> Self {
        Self {
            lambda: 0.5,
            sample_tokens: 2048,
            max_moves: 400,
            locality_rounds: 60,
        }
    }
}

impl Planner for SkuaPlanner {
    fn name(&self) -> &str {
        "skua"
    }

    fn plan(&self, req: &PlanRequest<'_>) -> Result<Placement, MoeError> {
        let topo = req.topology;
        let experts = req.load.experts();
        check(topo, experts)?;
        if let Some(cur) = req.current {
            cur.validate(topo)?;
            if cur.layers() != req.load.layers() || cur.experts() != experts {
                return Err(MoeError::Shape(
                    "the current placement does not match the load's layers/experts".into(),
                ));
            }
        }
        for f in req.futures {
            if f.layers() != req.load.layers() || f.experts() != experts {
                return Err(MoeError::Shape(
                    "every sampled future needs the load's shape".into(),
                ));
            }
        }
        if let Some(t) = req.tokens
            && (t.layers() != req.load.layers() || t.experts() != experts)
        {
            return Err(MoeError::Shape(
                "the token trace needs the load's layers and experts".into(),
            ));
        }
        let rows: Vec<Vec<u32>> = (0..req.load.layers())
            .into_par_iter()
            .map(|l| {
                self.plan_layer(req, l)
                    .into_iter()
                    .map(|e| e as u32)
                    .collect()
            })
            .collect();
        Ok(Placement::new(experts, rows))
    }
}

fn check(topo: &Topology, experts: usize) -> Result<(), MoeError> {
    if topo.slots() < experts {
        return Err(MoeError::Topology(format!(
            "{} slots cannot hold {experts} experts",
            topo.slots()
        )));
    }
    if let Some(g) = (0..topo.gpus()).find(|&g| topo.slots_of_gpu(g).len() > experts) {
        return Err(MoeError::Topology(format!(
            "GPU {g} has more slots than there are experts"
        )));
    }
    Ok(())
}

impl SkuaPlanner {
    fn plan_layer(&self, req: &PlanRequest<'_>, l: usize) -> Vec<usize> {
        let topo = req.topology;
        let mut scen = vec![req.load.layer(l).to_vec()];
        scen.extend(req.futures.iter().map(|f| f.layer(l).to_vec()));
        let robust = robust_load(&scen);
        if let (Some(cur), Some(budget)) = (req.current, req.move_budget) {
            let start: Vec<usize> = cur.layer(l).iter().map(|&e| e as usize).collect();
            let mut s = Search::new(topo, scen, start, Scope::Cluster, Some(budget));
            s.run(self.max_moves, 16);
            return s.slots;
        }
        let locality = req.tokens.filter(|_| self.lambda > 0.0 && topo.nodes() > 1);
        let start = start_layer(topo, &robust, req.groups, locality.is_some());
        let scope = if locality.is_some() {
            Scope::Node
        } else {
            Scope::Cluster
        };
        let mut s = Search::new(topo, scen, start, scope, None);
        s.repair_duplicates();
        s.run(self.max_moves, 64);
        match locality {
            Some(trace) => self.locality(topo, s.slots, trace, l),
            None => s.slots,
        }
    }

    fn locality(
        &self,
        topo: &Topology,
        mut slots: Vec<usize>,
        trace: &TokenTrace,
        l: usize,
    ) -> Vec<usize> {
        let experts = trace.experts();
        let sample = 0..trace.tokens().min(self.sample_tokens);
        let eval = |slots: &[usize]| {
            let r = route_tokens(
                &ReplicaIndex::from_slots(slots, experts),
                topo,
                trace,
                l,
                sample.clone(),
            );
            let node: Vec<f64> = (0..topo.nodes())
                .map(|n| {
                    topo.gpus_of_node(n).map(|g| r.gpu_load[g]).sum::<f64>()
                        / topo.node_slots(n) as f64
                })
                .collect();
            let npt = r.node_visits as f64 / r.tokens.max(1) as f64;
            (imbalance(&node) + self.lambda * npt, r, node)
        };
        let (mut best, mut routed, mut node) = eval(&slots);
        for _ in 0..self.locality_rounds {
            let hot = argmax(&node);
            let mut cold: Vec<usize> = (0..topo.nodes()).filter(|&n| n != hot).collect();
            cold.sort_by(|&a, &b| node[a].total_cmp(&node[b]));
            cold.truncate(2);
            // Hot experts: the hot node's slots carrying most routed load.
            let mut hot_slots: Vec<usize> = topo
                .gpus_of_node(hot)
                .flat_map(|g| topo.slots_of_gpu(g))
                .collect();
            hot_slots.sort_by(|&a, &b| routed.slot_load[b].total_cmp(&routed.slot_load[a]));
            hot_slots.truncate(4);
            let cnt = counts(&slots, experts);
            let mut cands: Vec<Vec<(usize, usize)>> = Vec::new();
            for &c in &cold {
                let mut cs: Vec<usize> = topo
                    .gpus_of_node(c)
                    .flat_map(|g| topo.slots_of_gpu(g))
                    .collect();
                cs.sort_by(|&a, &b| routed.slot_load[a].total_cmp(&routed.slot_load[b]));
                let redundant: Vec<usize> = cs
                    .iter()
                    .copied()
                    .filter(|&q| cnt[slots[q]] > 1)
                    .take(2)
                    .collect();
                let light: Vec<usize> = cs.iter().copied().take(2).collect();
                for &p in &hot_slots {
                    let x = slots[p];
                    for &q in &redundant {
                        if on_gpu(topo, &slots, topo.gpu_of_slot(q), x) {
                            continue;
                        }
                        cands.push(vec![(q, x)]);
                    }
                    for &q in &light {
                        let y = slots[q];
                        if y == x
                            || on_gpu(topo, &slots, topo.gpu_of_slot(q), x)
                            || on_gpu(topo, &slots, topo.gpu_of_slot(p), y)
                        {
                            continue;
                        }
                        cands.push(vec![(q, x), (p, y)]);
                    }
                }
            }
            let mut improved: Option<(f64, Vec<usize>, crate::route::Routed, Vec<f64>)> = None;
            for ch in cands {
                let mut trial = slots.clone();
                for &(p, e) in &ch {
                    trial[p] = e;
                }
                if counts(&trial, experts).contains(&0) {
                    continue;
                }
                let (j, r, n) = eval(&trial);
                if j < best - 1e-9 && improved.as_ref().is_none_or(|(bj, ..)| j < *bj) {
                    improved = Some((j, trial, r, n));
                }
            }
            match improved {
                Some((j, trial, r, n)) => {
                    (best, slots, routed, node) = (j, trial, r, n);
                }
                None => break,
            }
        }
        pack_nodes_by_slot_load(topo, &mut slots, &routed.slot_load);
        slots
    }
}

/// Per expert: mean over scenarios plus one standard deviation.
fn robust_load(scen: &[Vec<f64>]) -> Vec<f64> {
    let n = scen.len() as f64;
    (0..scen[0].len())
        .map(|e| {
            let mean = scen.iter().map(|w| w[e]).sum::<f64>() / n;
            let var = scen.iter().map(|w| (w[e] - mean).powi(2)).sum::<f64>() / n;
            mean + var.sqrt()
        })
        .collect()
}

/// The starting placement of one layer.
fn start_layer(topo: &Topology, robust: &[f64], groups: usize, locality: bool) -> Vec<usize> {
    let load = crate::load::ExpertLoad::from_rows(vec![robust.to_vec()]);
    let mode = if locality {
        EplbMode::Auto
    } else {
        EplbMode::Global
    };
    if let Ok(load) = load {
        let req = PlanRequest::new(topo, &load, groups.max(1));
        let eplb = EplbGreedy { mode }.plan(&req).or_else(|_| {
            EplbGreedy {
                mode: EplbMode::Global,
            }
            .plan(&req)
        });
        if let Ok(p) = eplb {
            return p.layer(0).iter().map(|&e| e as usize).collect();
        }
    }
    greedy_start(topo, robust)
}

/// Replicate by highest load per replica, then place replicas heaviest first on the GPU with the
/// lowest load that has a free slot and no replica of the same expert.
fn greedy_start(topo: &Topology, robust: &[f64]) -> Vec<usize> {
    let w: Vec<f32> = robust.iter().map(|&x| x as f32).collect();
    let (phy, cnt) = replicate(&w, topo.slots());
    let mut items: Vec<usize> = phy;
    items.sort_by(|&a, &b| {
        (robust[b] / cnt[b] as f64)
            .total_cmp(&(robust[a] / cnt[a] as f64))
            .then(a.cmp(&b))
    });
    let mut load = vec![0.0; topo.gpus()];
    let mut fill = vec![0usize; topo.gpus()];
    let mut slots = vec![usize::MAX; topo.slots()];
    for e in items {
        let mut best: Option<usize> = None;
        for g in 0..topo.gpus() {
            let r = topo.slots_of_gpu(g);
            if fill[g] < r.len()
                && !r.clone().any(|p| slots[p] == e)
                && best.is_none_or(|b| {
                    (load[g] / r.len() as f64) < load[b] / topo.slots_of_gpu(b).len() as f64
                })
            {
                best = Some(g);
            }
        }
        // A duplicate-free GPU always exists while an expert has at most `gpus` replicas; if the
        // only free slots hold the same expert, the search's repair step swaps it away.
        let g = best.unwrap_or_else(|| {
            (0..topo.gpus())
                .find(|&g| fill[g] < topo.slots_of_gpu(g).len())
                .unwrap_or(0)
        });
        let p = topo.slots_of_gpu(g).start + fill[g];
        slots[p] = e;
        fill[g] += 1;
        load[g] += robust[e] / cnt[e] as f64;
    }
    slots
}

fn counts(slots: &[usize], experts: usize) -> Vec<usize> {
    let mut c = vec![0; experts];
    for &e in slots {
        c[e] += 1;
    }
    c
}

fn on_gpu(topo: &Topology, slots: &[usize], g: usize, e: usize) -> bool {
    topo.slots_of_gpu(g).any(|p| slots[p] == e)
}

fn argmax(v: &[f64]) -> usize {
    (0..v.len())
        .max_by(|&a, &b| v[a].total_cmp(&v[b]))
        .unwrap_or(0)
}

/// Re-packs each node's replicas onto its GPUs by their routed loads: heaviest first to the
/// lightest GPU with room and without that expert, then pairwise swaps off the hottest GPU.
fn pack_nodes_by_slot_load(topo: &Topology, slots: &mut [usize], slot_load: &[f64]) {
    for n in 0..topo.nodes() {
        let gpus = topo.gpus_of_node(n);
        let mut items: Vec<(usize, f64)> = gpus
            .clone()
            .flat_map(|g| topo.slots_of_gpu(g))
            .map(|p| (slots[p], slot_load[p]))
            .collect();
        items.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut load: Vec<f64> = vec![0.0; gpus.len()];
        let mut held: Vec<Vec<(usize, f64)>> = vec![Vec::new(); gpus.len()];
        for (e, w) in items {
            let pick = (0..gpus.len())
                .filter(|&i| {
                    held[i].len() < topo.slots_of_gpu(gpus.start + i).len()
                        && !held[i].iter().any(|h| h.0 == e)
                })
                .min_by(|&a, &b| load[a].total_cmp(&load[b]))
                .or_else(|| {
                    (0..gpus.len())
                        .find(|&i| held[i].len() < topo.slots_of_gpu(gpus.start + i).len())
                });
            let Some(i) = pick else { continue };
            held[i].push((e, w));
            load[i] += w;
        }
        // Swaps off the hottest GPU while they lower it.
        for _ in 0..4 * gpus.len() {
            let h = argmax(&load);
            let mut best: Option<(f64, usize, usize, usize)> = None;
            for i in 0..gpus.len() {
                if i == h {
                    continue;
                }
                for a in 0..held[h].len() {
                    for b in 0..held[i].len() {
                        let (ea, wa) = held[h][a];
                        let (eb, wb) = held[i][b];
                        if wa <= wb
                            || held[i].iter().any(|x| x.0 == ea)
                            || held[h].iter().any(|x| x.0 == eb)
                        {
                            continue;
                        }
                        let peak = (load[h] - wa + wb).max(load[i] + wa - wb);
                        if peak < load[h] - 1e-9 && best.is_none_or(|bb| peak < bb.0) {
                            best = Some((peak, i, a, b));
                        }
                    }
                }
            }
            let Some((_, i, a, b)) = best else { break };
            let (x, y) = (held[h][a], held[i][b]);
            held[h][a] = y;
            held[i][b] = x;
            load[h] += y.1 - x.1;
            load[i] += x.1 - y.1;
        }
        for (i, g) in gpus.enumerate() {
            for (k, p) in topo.slots_of_gpu(g).enumerate() {
                slots[p] = held[i][k].0;
            }
        }
    }
}
