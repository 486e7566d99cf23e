//! Routing policies simulated on the synthetic generator: plain top-k, LocMoE's
//! locality-preferring routing and DeepSeek-V3's auxiliary-loss-free bias balancing.
//!
//! The tokens, topics and noise streams are those of [`crate::synth::generate`] for the same
//! config, so `Plain` reproduces the generated trace; the other policies add a term to the
//! Gumbel-noised scores before the (group-limited) top-k selection:
//!
//! * **LocalityPreferring { bonus }** (LocMoE, Li et al., IJCAI 2024, local routing): experts
//!   with a replica on the token's node get `+bonus`.
//! * **AuxFreeBias { gamma }** (DeepSeek-V3 technical report §2.1.2; Wang et al. 2024,
//!   "Auxiliary-Loss-Free Load Balancing Strategy for Mixture-of-Experts"): expert `i` gets
//!   `+b_i` for selection only; after every step of [`STEP_TOKENS`] tokens,
//!   `b_i += γ · sign(mean load − load_i)` over that step's counts.
//!
//! Tokens start on GPU `t mod gpus`; an expert is served by a replica on the token's node when
//! there is one (the least-loaded such GPU), else by the least-loaded replica.

use rayon::prelude::*;
use serde::Serialize;

use super::dispatch::{Dispatcher, check_fits, home_gpu, imbalance};
use crate::MoeError;
use crate::placement::Placement;
use crate::synth::{SynthConfig, SynthModel, select_experts};
use crate::topology::Topology;

/// Tokens per simulated step (one batch; the aux-free bias moves once per step).
pub const STEP_TOKENS: usize = 512;

/// Locality preference of the replica choice in the simulation: local whenever possible.
const SERVE_LOCALLY: f64 = 1e6;

/// A routing policy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum RoutingPolicy {
    /// Top-k of the scores as they are.
    Plain,
    /// Experts with a replica on the token's node get `bonus` added to their score.
    LocalityPreferring {
        /// Score bonus (the noise has standard deviation π/√6 ≈ 1.28).
        bonus: f64,
    },
    /// DeepSeek-V3's bias balancing with update speed `gamma`.
    AuxFreeBias {
        /// Bias step per batch.
        gamma: f64,
    },
}

impl RoutingPolicy {
    /// A short name for reports.
    pub fn name(&self) -> String {
        match self {
            Self::Plain => "plain".into(),
            Self::LocalityPreferring { bonus } => format!("locality(bonus={bonus})"),
            Self::AuxFreeBias { gamma } => format!("aux_free(gamma={gamma})"),
        }
    }
}

/// Expert load of one step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StepLoad {
    /// Step index.
    pub step: usize,
    /// Hottest expert's count over the mean count in this step (mean over layers).
    pub max_over_mean: f64,
}

/// What a policy did over a simulated window (means over layers unless stated).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoutingStats {
    /// The policy's name.
    pub policy: String,
    /// Tokens routed per layer.
    pub tokens: usize,
    /// `(max − mean) / mean` of expert counts over the whole window.
    pub expert_imbalance: f64,
    /// `(max − mean) / mean` of GPU loads over the whole window.
    pub gpu_imbalance: f64,
    /// Distinct nodes a token's experts are served on.
    pub nodes_per_token: f64,
    /// Share of token-expert pairs served on the token's node.
    pub local_share: f64,
    /// Highest share of the tokens that reached one expert (max over layers).
    pub max_expert_share: f64,
    /// Per step.
    pub history: Vec<StepLoad>,
}

struct LayerRun {
    counts: Vec<f64>,
    gpu_load: Vec<f64>,
    local: usize,
    node_visits: usize,
    steps: Vec<f64>,
}

/// Slot `p` holds expert `p mod experts` in every layer (needs at least `experts` slots).
pub fn round_robin_placement(
    experts: usize,
    layers: usize,
    topology: &Topology,
) -> Result<Placement, MoeError> {
    if experts == 0 || topology.slots() < experts {
        return Err(MoeError::Topology(format!(
            "{} slots cannot hold {experts} experts",
            topology.slots()
        )));
    }
    let row: Vec<u32> = (0..topology.slots())
        .map(|p| (p % experts) as u32)
        .collect();
    let p = Placement::new(experts, vec![row; layers]);
    p.validate(topology)?;
    Ok(p)
}

/// Simulates window 0 of `cfg` under `policy` on `topology`, with `placement` (default:
/// [`round_robin_placement`]) deciding which experts are local to which node.
pub fn simulate_routing(
    cfg: &SynthConfig,
    policy: RoutingPolicy,
    topology: &Topology,
    placement: Option<&Placement>,
) -> Result<RoutingStats, MoeError> {
    let model = SynthModel::new(cfg, 0)?;
    let owned;
    let placement = match placement {
        Some(p) => p,
        None => {
            owned = round_robin_placement(cfg.experts, cfg.layers, topology)?;
            &owned
        }
    };
    check_fits(placement, topology, cfg.layers, cfg.experts)?;
    match policy {
        RoutingPolicy::LocalityPreferring { bonus: x }
        | RoutingPolicy::AuxFreeBias { gamma: x }
            if !x.is_finite() || x < 0.0 =>
        {
            return Err(MoeError::Shape(format!(
                "{}: the parameter must be finite and non-negative",
                policy.name()
            )));
        }
        _ => {}
    }

    let topics = model.token_topics(0);
    let runs: Vec<LayerRun> = (0..cfg.layers)
        .into_par_iter()
        .map(|l| run_layer(&model, &topics.topic, policy, topology, placement, l))
        .collect();

    let n = runs.len() as f64;
    let tokens = cfg.tokens;
    let pairs = (tokens * cfg.top_k) as f64;
    let steps = runs.first().map_or(0, |r| r.steps.len());
    Ok(RoutingStats {
        policy: policy.name(),
        tokens,
        expert_imbalance: runs.iter().map(|r| imbalance(&r.counts)).sum::<f64>() / n,
        gpu_imbalance: runs.iter().map(|r| imbalance(&r.gpu_load)).sum::<f64>() / n,
        nodes_per_token: runs.iter().map(|r| r.node_visits as f64).sum::<f64>()
            / (n * tokens as f64),
        local_share: runs.iter().map(|r| r.local as f64).sum::<f64>() / (n * pairs),
        max_expert_share: runs
            .iter()
            .map(|r| r.counts.iter().copied().fold(0.0, f64::max) / tokens as f64)
            .fold(0.0, f64::max),
        history: (0..steps)
            .map(|s| StepLoad {
                step: s,
                max_over_mean: runs.iter().map(|r| r.steps[s]).sum::<f64>() / n,
            })
            .collect(),
    })
}

fn run_layer(
    model: &SynthModel,
    topics: &[usize],
    policy: RoutingPolicy,
    topo: &Topology,
    placement: &Placement,
    l: usize,
) -> LayerRun {
    let cfg = model.config();
    let e = cfg.experts;
    let mut dispatcher = Dispatcher::new(topo, placement, l);
    let bonus = match policy {
        RoutingPolicy::LocalityPreferring { bonus } => bonus,
        _ => 0.0,
    };
    let local_bonus: Vec<Vec<f64>> = (0..topo.nodes())
        .map(|n| {
            (0..e)
                .map(|x| if dispatcher.on_node(x, n) { bonus } else { 0.0 })
                .collect()
        })
        .collect();
    let mut noise = model.noise(0, l);
    let mut scores = vec![0.0; e];
    let mut chosen = Vec::with_capacity(cfg.top_k);
    let mut bias = vec![0.0; e];
    let mut nodes: Vec<usize> = Vec::with_capacity(cfg.top_k);
    let mut run = LayerRun {
        counts: vec![0.0; e],
        gpu_load: Vec::new(),
        local: 0,
        node_visits: 0,
        steps: Vec::new(),
    };
    for (step, chunk) in topics.chunks(STEP_TOKENS).enumerate() {
        let mut step_counts = vec![0.0; e];
        for (i, &topic) in chunk.iter().enumerate() {
            let t = step * STEP_TOKENS + i;
            let home = topo.node_of_gpu(home_gpu(t, topo.gpus()));
            if policy == RoutingPolicy::Plain {
                model.sample_token(l, topic, &mut noise, &mut scores, &mut chosen);
            } else {
                model.scores(l, topic, &mut noise, &mut scores);
                let add = match policy {
                    RoutingPolicy::LocalityPreferring { .. } => &local_bonus[home],
                    _ => &bias,
                };
                for (s, b) in scores.iter_mut().zip(add) {
                    *s += b;
                }
                select_experts(&scores, cfg, &mut chosen);
            }
            nodes.clear();
            for &x in &chosen {
                let x = usize::from(x);
                step_counts[x] += 1.0;
                let node = topo.node_of_slot(dispatcher.dispatch(x, home, SERVE_LOCALLY));
                run.local += usize::from(node == home);
                if !nodes.contains(&node) {
                    nodes.push(node);
                }
            }
            run.node_visits += nodes.len();
        }
        let mean = step_counts.iter().sum::<f64>() / e as f64;
        run.steps.push(imbalance(&step_counts) + 1.0);
        if let RoutingPolicy::AuxFreeBias { gamma } = policy {
            for (b, &c) in bias.iter_mut().zip(&step_counts) {
                // sign(mean − load), with sign(0) = 0.
                *b += gamma * f64::from(i8::from(mean > c) - i8::from(mean < c));
            }
        }
        for (total, c) in run.counts.iter_mut().zip(&step_counts) {
            *total += c;
        }
    }
    run.gpu_load = dispatcher.gpu_load;
    run
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::generate;

    fn cfg() -> SynthConfig {
        SynthConfig {
            experts: 16,
            groups: 4,
            top_groups: 2,
            top_k: 4,
            layers: 2,
            tokens: 2048,
            sequences: 16,
            ..SynthConfig::deepseek_v3_like()
        }
    }

    #[test]
    fn plain_reproduces_the_generated_counts() {
        let c = cfg();
        let topo = Topology::uniform(4, 4, 16).unwrap();
        let s = simulate_routing(&c, RoutingPolicy::Plain, &topo, None).unwrap();
        let counts = generate(&c).unwrap().counts();
        let expected: f64 = (0..2).map(|l| imbalance(counts.layer(l))).sum::<f64>() / 2.0;
        assert!((s.expert_imbalance - expected).abs() < 1e-12);
        assert_eq!(s.history.len(), 4);
    }

    #[test]
    fn rejects_bad_parameters_and_shapes() {
        let topo = Topology::uniform(4, 4, 16).unwrap();
        let bad = RoutingPolicy::AuxFreeBias { gamma: f64::NAN };
        assert!(simulate_routing(&cfg(), bad, &topo, None).is_err());
        let small = Topology::uniform(1, 1, 8).unwrap();
        assert!(simulate_routing(&cfg(), RoutingPolicy::Plain, &small, None).is_err());
    }
}
