//! skua's planner: balance under uncertainty, locality from real routing, bounded moves.
//!
//! Per layer (layers in parallel):
//! 1. **Start.** EPLB's greedy (global policy) on the *robust load* (per expert, the mean over the
//!    forecast and its sampled futures plus one standard deviation), or a duplicate-free greedy
//!    when the topology is not EPLB-shaped; with a current placement and a move budget, the
//!    current placement.
//! 2. **Balance.** Local search ([`super::search`]) minimising the mean over scenarios (the
//!    forecast and each sampled future) of the hottest GPU's load relative to the mean: swaps and
//!    replica retargeting, never two replicas of one expert on a GPU, within the move budget.
//! 3. **Locality** (when recent tokens are given, `locality_slack > 0` and there are several
//!    nodes). Two candidates: the balanced plan, and EPLB's groups-on-nodes plan brought down to
//!    the cap by the moves that cost the fewest same-token pairs per unit of load shed (a spare
//!    replica elsewhere turned into a replica of a hot expert costs none: a token reaches its
//!    nearest replica). Both then take Kernighan–Lin swaps ([`super::cluster`]) that put
//!    co-activated experts on one node while every GPU stays within `(1 + slack) × mean` of the
//!    forecast and of every sampled future. The candidate whose sampled tokens reach fewer nodes
//!    (routed exactly, [`crate::route`]) wins. Gains and costs are counted as the exact change in
//!    nodes reached by the sampled tokens ([`super::visits`]); swaps are shortlisted by
//!    same-token pair counts. After LocMoE (IJCAI 2024): keep token traffic in the node, but only
//!    as far as balance allows.
//! 4. **Polish.** Each node on its own: swaps between its GPUs (so no token reaches another node)
//!    that lower the mean of the node's hottest GPU over the forecast, the futures and
//!    [`SkuaPlanner::polish_draws`] more sequence-bootstrap draws of the recent tokens. Every node
//!    ends balanced inside, not only the node that is hottest on the forecast: on the next
//!    window another node may run hot, and the draws stand in for the expert-level noise the
//!    forecast cannot know.

use rayon::prelude::*;

use super::cluster::Cluster;
use super::eplb::{EplbGreedy, EplbMode, replicate};
use super::search::{Scope, Search, balance_each_node};
use super::{PlanRequest, Planner};
use crate::MoeError;
use crate::forecast::bootstrap_layer;
use crate::load::TokenTrace;
use crate::placement::Placement;
use crate::route::{ReplicaIndex, route_tokens};
use crate::topology::Topology;

/// skua's planner.
#[derive(Debug, Clone, Copy)]
pub struct SkuaPlanner {
    /// Locality swaps may raise the hottest GPU to `(1 + slack) × mean` of the forecast (0 = no
    /// locality stage).
    pub locality_slack: f64,
    /// Most locality swaps per layer.
    pub max_swaps: usize,
    /// Recent tokens used for co-activation and to route each locality candidate.
    pub sample_tokens: usize,
    /// Most local-search moves per layer in the balance stage (and per node in the polish).
    pub max_moves: usize,
    /// Sequence-bootstrap draws of the recent tokens (per layer) that the intra-node polish
    /// balances against, on top of the forecast and the request's futures.
    pub polish_draws: usize,
}

/// The default locality slack: the hottest GPU may reach 1.015 × the mean for locality.
pub const DEFAULT_LOCALITY_SLACK: f64 = 0.015;

/// Seed of the polish's draws (xor the layer): plans stay deterministic.
const POLISH_SEED: u64 = 0x9011_5eed;

impl Default for SkuaPlanner {
    fn default() -> Self {
        Self {
            locality_slack: DEFAULT_LOCALITY_SLACK,
            max_swaps: 2000,
            sample_tokens: 16_384,
            max_moves: 400,
            polish_draws: 64,
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
            s.run(self.max_moves, 64);
            return s.slots;
        }
        let start = start_layer(topo, &robust, req.groups, false);
        let mut s = Search::new(topo, scen.clone(), start, Scope::Cluster, None);
        s.repair_duplicates();
        s.run(self.max_moves, 64);
        match req
            .tokens
            .filter(|_| self.locality_slack > 0.0 && topo.nodes() > 1)
        {
            Some(trace) => {
                let coact = crate::coact::layer_pairs(trace, l, self.sample_tokens);
                // From the balanced plan, gain locality within the cap.
                let futures: Vec<Vec<f64>> =
                    req.futures.iter().map(|f| f.layer(l).to_vec()).collect();
                let n = self.sample_tokens;
                let mut k = Cluster::new(topo, &robust, &coact, s.slots, self.locality_slack)
                    .with_futures(&futures, self.locality_slack)
                    .with_visits(trace, l, n);
                k.run(self.max_swaps);
                let mut cands = vec![k.slots];
                // From groups-on-nodes, shed load to the cap at the least locality cost, then gain.
                if let Some(h) = hierarchical_start(topo, &robust, req.groups) {
                    let mut s = Search::new(topo, vec![robust.clone()], h, Scope::Node, None);
                    s.repair_duplicates();
                    s.run(self.max_moves, 0);
                    let mut k = Cluster::new(topo, &robust, &coact, s.slots, self.locality_slack)
                        .with_visits(trace, l, n);
                    k.rebalance(self.max_swaps);
                    let mut k = Cluster::new(topo, &robust, &coact, k.slots, self.locality_slack)
                        .with_futures(&futures, self.locality_slack)
                        .with_visits(trace, l, n);
                    k.run(self.max_swaps);
                    cands.push(k.slots);
                }
                // Balance each node inside over the forecast, the futures and more draws of the
                // recent tokens: no expert changes node.
                let chosen = self.pick(topo, &robust, cands, trace, l);
                let mut scen = scen;
                scen.extend(bootstrap_layer(
                    trace,
                    l,
                    self.polish_draws,
                    POLISH_SEED ^ l as u64,
                ));
                balance_each_node(topo, &scen, chosen, self.max_moves)
            }
            None => s.slots,
        }
    }

    /// Of several candidate layers, the one whose sampled tokens reach the fewest nodes among
    /// those whose forecast peak is within the cap (else the lowest peak).
    fn pick(
        &self,
        topo: &Topology,
        load: &[f64],
        cands: Vec<Vec<usize>>,
        trace: &TokenTrace,
        l: usize,
    ) -> Vec<usize> {
        let experts = trace.experts();
        let sample = 0..trace.tokens().min(self.sample_tokens);
        let mean = load.iter().sum::<f64>() / topo.gpus() as f64;
        let scored: Vec<(bool, f64, f64, Vec<usize>)> = cands
            .into_iter()
            .map(|c| {
                let mut cnt = vec![0usize; experts];
                c.iter().for_each(|&e| cnt[e] += 1);
                let mut g = vec![0.0; topo.gpus()];
                for (p, &e) in c.iter().enumerate() {
                    g[topo.gpu_of_slot(p)] += load[e] / cnt[e] as f64;
                }
                let peak = g.iter().copied().fold(0.0, f64::max) / mean.max(1e-12);
                let r = route_tokens(
                    &ReplicaIndex::from_slots(&c, experts),
                    topo,
                    trace,
                    l,
                    sample.clone(),
                );
                let npt = r.node_visits as f64 / r.tokens.max(1) as f64;
                (peak <= 1.0 + self.locality_slack + 1e-9, npt, peak, c)
            })
            .collect();
        let ok = scored.iter().any(|s| s.0);
        scored
            .into_iter()
            .filter(|s| s.0 || !ok)
            .min_by(|a, b| {
                if ok {
                    a.1.total_cmp(&b.1)
                } else {
                    a.2.total_cmp(&b.2)
                }
            })
            .map(|s| s.3)
            .unwrap_or_default()
    }
}

/// EPLB's hierarchical start (groups on nodes) when the groups divide over the nodes.
fn hierarchical_start(topo: &Topology, robust: &[f64], groups: usize) -> Option<Vec<usize>> {
    if groups <= 1 || groups % topo.nodes() != 0 {
        return None;
    }
    let load = crate::load::ExpertLoad::from_rows(vec![robust.to_vec()]).ok()?;
    let req = PlanRequest::new(topo, &load, groups);
    let p = EplbGreedy {
        mode: EplbMode::Hierarchical,
    }
    .plan(&req)
    .ok()?;
    Some(p.layer(0).iter().map(|&e| e as usize).collect())
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
