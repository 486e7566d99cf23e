//! Studies on the synthetic generator: locality on a group-limited DeepSeek-V3-like router,
//! incremental re-planning under drift, LocMoE's routing policies and the calibration to ESFT.

use std::time::Instant;

use serde::Serialize;

use super::StudyOptions;
use crate::MoeError;
use crate::eval::{EvalConfig, score};
use crate::forecast::bootstrap_futures;
use crate::locmoe::{RoutingPolicy, RoutingStats, capacity_lower_bound, simulate_routing};
use crate::plan::eplb::{EplbGreedy, EplbMode};
use crate::plan::skua::SkuaPlanner;
use crate::plan::{PlanRequest, Planner};
use crate::synth::{CalibrationReport, SynthConfig, calibrate_to, generate_windows};
use crate::topology::Topology;

/// The locality study's cluster: 8 nodes × 4 GPUs, 288 slots (9 per GPU).
pub fn locality_topology() -> Result<Topology, MoeError> {
    Topology::uniform(8, 32, 288)
}

/// Window pairs (generator seeds) the locality study averages over.
pub const LOCALITY_TRIALS: u64 = 8;
/// Sequence-bootstrap futures skua plans against in the locality study (the CLI's default).
pub const LOCALITY_FUTURES: usize = 8;

/// One planner on the locality study (planned on window 0, scored on window 1), averaged over
/// the trials.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LocalityRow {
    /// Planner.
    pub planner: String,
    /// Mean GPU imbalance (EPLB's model: replicas share an expert's load equally).
    pub imbalance: f64,
    /// Worst layer's imbalance (worst over the trials).
    pub max_imbalance: f64,
    /// GPU imbalance when every token reaches its nearest replica.
    pub routed_imbalance: f64,
    /// Mean nodes a token reaches.
    pub nodes_per_token: f64,
    /// Share of token-expert assignments served on the token's node.
    pub local_share: f64,
    /// Cross-node bytes of the scored window, GB (mean over the trials).
    pub cross_node_gb: f64,
    /// Planning time, seconds (mean over the trials).
    pub seconds: f64,
    /// Per trial: (imbalance, nodes per token).
    pub trials: Vec<(f64, f64)>,
}

/// The locality study.
#[derive(Debug, Clone, Serialize)]
pub struct LocalityStudy {
    /// The generator's parameters (of the first trial; trial `i` adds `i` to the seed).
    pub generator: SynthConfig,
    /// Cluster shape.
    pub topology: String,
    /// One row per planner.
    pub rows: Vec<LocalityRow>,
}

/// Plans window 0 of the DeepSeek-V3-like generator with each planner and scores window 1, for
/// [`LOCALITY_TRIALS`] generator seeds; skua also gets [`LOCALITY_FUTURES`] sequence-bootstrap
/// futures of window 0 (EPLB's greedy has no use for them).
pub fn locality(opts: &StudyOptions) -> Result<LocalityStudy, MoeError> {
    let base = SynthConfig {
        seed: SynthConfig::deepseek_v3_like().seed.wrapping_add(opts.seed),
        ..SynthConfig::deepseek_v3_like()
    };
    let topo = locality_topology()?;
    let planners: Vec<Box<dyn Planner>> = vec![
        Box::new(EplbGreedy {
            mode: EplbMode::Hierarchical,
        }),
        Box::new(EplbGreedy {
            mode: EplbMode::Global,
        }),
        Box::new(SkuaPlanner::default()),
    ];
    let mut rows: Vec<LocalityRow> = planners
        .iter()
        .map(|p| LocalityRow {
            planner: p.name().to_string(),
            ..LocalityRow::default()
        })
        .collect();
    for trial in 0..LOCALITY_TRIALS {
        let cfg = SynthConfig {
            seed: base.seed.wrapping_add(trial),
            ..base.clone()
        };
        let windows = generate_windows(&cfg, 2)?;
        let (train, test) = (&windows[0], &windows[1]);
        let (load, test_load) = (train.counts(), test.counts());
        let futures = bootstrap_futures(train, LOCALITY_FUTURES, opts.seed.wrapping_add(trial));
        for (p, row) in planners.iter().zip(&mut rows) {
            let mut req = PlanRequest::new(&topo, &load, cfg.groups);
            req.tokens = Some(train);
            req.futures = &futures;
            let t = Instant::now();
            let placement = p.plan(&req)?;
            row.seconds += t.elapsed().as_secs_f64();
            let s = score(
                &placement,
                &topo,
                &test_load,
                Some(test),
                &EvalConfig::default(),
            );
            let npt = s.nodes_per_token.unwrap_or(f64::NAN);
            row.imbalance += s.imbalance;
            row.max_imbalance = row.max_imbalance.max(s.max_imbalance);
            row.routed_imbalance += s.routed_imbalance.unwrap_or(f64::NAN);
            row.nodes_per_token += npt;
            row.local_share += s.local_share.unwrap_or(f64::NAN);
            row.cross_node_gb += s.cross_node_bytes.unwrap_or(0.0) / 1e9;
            row.trials.push((s.imbalance, npt));
        }
    }
    let n = LOCALITY_TRIALS as f64;
    for r in &mut rows {
        r.imbalance /= n;
        r.routed_imbalance /= n;
        r.nodes_per_token /= n;
        r.local_share /= n;
        r.cross_node_gb /= n;
        r.seconds /= n;
    }
    Ok(LocalityStudy {
        generator: base,
        topology: format!(
            "{} nodes, {} GPUs, {} slots",
            topo.nodes(),
            topo.gpus(),
            topo.slots()
        ),
        rows,
    })
}

/// Incremental re-planning against a full re-plan, one drift trial.
#[derive(Debug, Clone, Serialize)]
pub struct IncrementalRow {
    /// Generator seed offset of the trial.
    pub trial: u64,
    /// Slots a full re-plan moves (all layers).
    pub full_moves: usize,
    /// Slots the incremental re-plan moves (all layers).
    pub incremental_moves: usize,
    /// Imbalance on the next window when keeping the old plan.
    pub keep: f64,
    /// Imbalance on the next window after the full re-plan.
    pub full: f64,
    /// Imbalance on the next window after the incremental re-plan.
    pub incremental: f64,
}

/// Trials of the incremental study.
pub const INCREMENTAL_TRIALS: u64 = 6;
/// The move budget as a share of the slots a full re-plan moves.
pub const MOVE_SHARE: f64 = 0.25;

/// Windows 0, 1, 2 of the generator (8 layers, small drift): plan on window 0; re-plan on window 1
/// fully and incrementally (budget per layer: 25 % of the fewest slots the full re-plan moves in
/// any layer); score both on window 2. Both re-plans use 8 sequence-bootstrap futures of window 1.
pub fn incremental(opts: &StudyOptions) -> Result<Vec<IncrementalRow>, MoeError> {
    let topo = locality_topology()?;
    let planner = SkuaPlanner {
        locality_slack: 0.0,
        ..SkuaPlanner::default()
    };
    let mut rows = Vec::new();
    for trial in 0..INCREMENTAL_TRIALS {
        let base = SynthConfig::deepseek_v3_like();
        let cfg = SynthConfig {
            layers: 8,
            seed: base.seed.wrapping_add(opts.seed).wrapping_add(trial),
            ..base
        };
        let w = generate_windows(&cfg, 3)?;
        let (c0, c1, c2) = (w[0].counts(), w[1].counts(), w[2].counts());
        let current = planner.plan(&PlanRequest::new(&topo, &c0, cfg.groups))?;
        let futures = bootstrap_futures(&w[1], 8, opts.seed);
        let mut req = PlanRequest::new(&topo, &c1, cfg.groups);
        req.futures = &futures;
        let full = planner.plan(&req)?;
        let full_moves = current.slots_moved(&full, &topo);
        let budget = (full_moves.iter().copied().min().unwrap_or(0) as f64 * MOVE_SHARE) as usize;
        req.current = Some(&current);
        req.move_budget = Some(budget);
        let inc = planner.plan(&req)?;
        let imb = |p: &crate::placement::Placement| {
            score(p, &topo, &c2, None, &EvalConfig::default()).imbalance
        };
        rows.push(IncrementalRow {
            trial,
            full_moves: full_moves.iter().sum(),
            incremental_moves: current.slots_moved(&inc, &topo).iter().sum(),
            keep: imb(&current),
            full: imb(&full),
            incremental: imb(&inc),
        });
    }
    Ok(rows)
}

/// LocMoE's analysis on the generator.
#[derive(Debug, Clone, Serialize)]
pub struct LocMoeStudy {
    /// Capacity floor per expert as a share of the mean expert load, for (hidden dim, experts,
    /// top-k) = (64, 64, 6) and (7168, 256, 8) (DeepSeek-V3).
    pub capacity_floor_share: Vec<(usize, usize, usize, f64)>,
    /// Routing policies on the DeepSeek-V3-like generator.
    pub routing: Vec<RoutingStats>,
    /// The ESFT-like generator calibrated to the ESFT `intent` trace.
    pub calibration: Option<CalibrationReport>,
}

/// Capacity floors, routing policies and the calibration report.
pub fn locmoe(
    opts: &StudyOptions,
    intent: Option<&crate::load::TokenTrace>,
) -> Result<LocMoeStudy, MoeError> {
    let tokens = 100_000;
    let mut floors = Vec::new();
    for (d, e, k) in [(64, 64, 6), (7168, 256, 8)] {
        let c = capacity_lower_bound(tokens, e, d, k)?;
        floors.push((d, e, k, c / (k as f64 * tokens as f64 / e as f64)));
    }
    let cfg = SynthConfig {
        layers: 2,
        ..SynthConfig::deepseek_v3_like()
    };
    let topo = locality_topology()?;
    let routing = [
        RoutingPolicy::Plain,
        RoutingPolicy::LocalityPreferring { bonus: 1.0 },
        RoutingPolicy::AuxFreeBias { gamma: 0.1 },
    ]
    .into_iter()
    .map(|p| simulate_routing(&cfg, p, &topo, None))
    .collect::<Result<Vec<_>, _>>()?;
    let calibration = match intent {
        Some(t) => Some(
            calibrate_to(
                t,
                SynthConfig {
                    seed: opts.seed,
                    ..SynthConfig::esft_like()
                },
            )?
            .1,
        ),
        None => None,
    };
    Ok(LocMoeStudy {
        capacity_floor_share: floors,
        routing,
        calibration,
    })
}
