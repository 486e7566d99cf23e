//! Scores of a placement on (held-out) load: balance, drops, locality and moves.
//!
//! * **Imbalance** of a layer: `(max − mean) / mean` of its GPU loads; **balancedness**:
//!   `mean / max` (SGLang's name for the same view). With counts only, each expert's load is split
//!   equally over its replicas (EPLB's model).
//! * **Drop rate** at capacity factor `c`: each GPU takes at most `c × mean` token-expert
//!   assignments; the share above that is dropped.
//! * **Routed** scores need a per-token trace: tokens reach their nearest replica (see
//!   [`crate::route`]); nodes per token, the share of assignments served off the token's node,
//!   cross-node bytes (one transfer per remote node a token reaches, dispatch plus combine, as
//!   DeepEP forwards inside a node) and the imbalance of the routed GPU loads.

use serde::Serialize;

use crate::load::{ExpertLoad, TokenTrace};
use crate::placement::Placement;
use crate::route::route_layer;
use crate::topology::Topology;

/// Evaluation settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EvalConfig {
    /// GPU capacity as a multiple of the mean GPU load, for the drop rate.
    pub capacity_factor: f64,
    /// Bytes one token sends to and gets back from one remote node (DeepSeek-V3: 7,168 hidden,
    /// FP8 dispatch + BF16 combine = 21,504).
    pub token_bytes: f64,
    /// Bytes of one expert's weights, for migration cost (DeepSeek-V3 FP8: 3 × 7,168 × 2,048).
    pub expert_bytes: f64,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            capacity_factor: 1.25,
            token_bytes: 21_504.0,
            expert_bytes: 3.0 * 7168.0 * 2048.0,
        }
    }
}

/// Routed (per-token) scores of one layer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RoutedScore {
    /// Imbalance of the routed GPU loads.
    pub imbalance: f64,
    /// Mean distinct nodes a token reaches.
    pub nodes_per_token: f64,
    /// Share of token-expert assignments served on the token's own node.
    pub local_share: f64,
    /// Bytes crossing nodes.
    pub cross_node_bytes: f64,
}

/// Scores of one layer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LayerScore {
    /// Layer index.
    pub layer: usize,
    /// `(max − mean) / mean` of GPU loads (equal split over replicas).
    pub imbalance: f64,
    /// `mean / max` of GPU loads.
    pub balancedness: f64,
    /// Highest GPU load.
    pub max_gpu_load: f64,
    /// Share of the load above `capacity_factor × mean` on its GPU.
    pub drop_rate: f64,
    /// Per-token scores, when a trace was given.
    pub routed: Option<RoutedScore>,
}

/// Scores of a placement over all layers (means over layers unless named otherwise).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    /// Mean imbalance over layers.
    pub imbalance: f64,
    /// Worst layer's imbalance.
    pub max_imbalance: f64,
    /// Mean balancedness.
    pub balancedness: f64,
    /// Dropped share of all assignments.
    pub drop_rate: f64,
    /// Mean routed imbalance (trace only).
    pub routed_imbalance: Option<f64>,
    /// Mean nodes per token (trace only).
    pub nodes_per_token: Option<f64>,
    /// Mean local share (trace only).
    pub local_share: Option<f64>,
    /// Total cross-node bytes over layers (trace only).
    pub cross_node_bytes: Option<f64>,
    /// Per layer.
    pub layers: Vec<LayerScore>,
}

/// `(max − mean) / mean`, or 0 for an all-zero vector.
pub fn imbalance(loads: &[f64]) -> f64 {
    let mean = loads.iter().sum::<f64>() / loads.len().max(1) as f64;
    if mean <= 0.0 {
        return 0.0;
    }
    let max = loads.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (max - mean) / mean
}

fn drop_rate(loads: &[f64], capacity_factor: f64) -> (f64, f64) {
    let total: f64 = loads.iter().sum();
    let cap = capacity_factor * total / loads.len().max(1) as f64;
    (loads.iter().map(|&x| (x - cap).max(0.0)).sum(), total)
}

/// Scores `placement` on `load` (and, when given, on the tokens of `trace`, which must have the
/// same layers and experts).
pub fn score(
    placement: &Placement,
    topo: &Topology,
    load: &ExpertLoad,
    trace: Option<&TokenTrace>,
    cfg: &EvalConfig,
) -> Score {
    use rayon::prelude::*;
    let layers: Vec<LayerScore> = (0..load.layers())
        .into_par_iter()
        .map(|l| {
            let g = placement.gpu_loads(topo, l, load.layer(l));
            let (dropped, total) = drop_rate(&g, cfg.capacity_factor);
            let max = g.iter().copied().fold(0.0, f64::max);
            let mean = total / g.len() as f64;
            let routed = trace.map(|t| {
                let r = route_layer(placement, topo, t, l);
                let tokens = r.tokens.max(1) as f64;
                let assigned: f64 = r.gpu_load.iter().sum();
                RoutedScore {
                    imbalance: imbalance(&r.gpu_load),
                    nodes_per_token: r.node_visits as f64 / tokens,
                    local_share: if assigned > 0.0 {
                        1.0 - r.remote_assignments as f64 / assigned
                    } else {
                        1.0
                    },
                    cross_node_bytes: r.remote_node_visits as f64 * cfg.token_bytes,
                }
            });
            LayerScore {
                layer: l,
                imbalance: imbalance(&g),
                balancedness: if max > 0.0 { mean / max } else { 1.0 },
                max_gpu_load: max,
                drop_rate: if total > 0.0 { dropped / total } else { 0.0 },
                routed,
            }
        })
        .collect();
    summarise(layers, load)
}

fn summarise(layers: Vec<LayerScore>, load: &ExpertLoad) -> Score {
    let n = layers.len().max(1) as f64;
    let mean = |f: &dyn Fn(&LayerScore) -> f64| layers.iter().map(f).sum::<f64>() / n;
    let total: f64 = load.values().iter().sum();
    let dropped: f64 = layers
        .iter()
        .enumerate()
        .map(|(l, s)| s.drop_rate * load.layer_total(l))
        .sum();
    let routed = layers.iter().all(|s| s.routed.is_some()) && !layers.is_empty();
    let r = |f: &dyn Fn(&RoutedScore) -> f64| {
        routed.then(|| {
            layers
                .iter()
                .filter_map(|s| s.routed.as_ref())
                .map(f)
                .sum::<f64>()
                / n
        })
    };
    Score {
        imbalance: mean(&|s| s.imbalance),
        max_imbalance: layers.iter().map(|s| s.imbalance).fold(0.0, f64::max),
        balancedness: mean(&|s| s.balancedness),
        drop_rate: if total > 0.0 { dropped / total } else { 0.0 },
        routed_imbalance: r(&|s| s.imbalance),
        nodes_per_token: r(&|s| s.nodes_per_token),
        local_share: r(&|s| s.local_share),
        cross_node_bytes: r(&|s| s.cross_node_bytes).map(|x| x * n),
        layers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imbalance_and_drops_by_hand() {
        assert!((imbalance(&[3.0, 1.0]) - 0.5).abs() < 1e-12);
        assert_eq!(imbalance(&[0.0, 0.0]), 0.0);
        // mean 2, cap 2.5: 0.5 of 4 dropped.
        let (d, t) = drop_rate(&[3.0, 1.0], 1.25);
        assert!((d - 0.5).abs() < 1e-12 && t == 4.0);
    }

    #[test]
    fn score_reports_equal_split_and_routed_views() {
        let topo = Topology::uniform(2, 2, 4).unwrap();
        let p = Placement::new(3, vec![vec![0, 1, 2, 1]]);
        let t = TokenTrace::new(3, 2, 1, vec![1, 2, 0, 1, 2, 1], vec![0]).unwrap();
        let s = score(&p, &topo, &t.counts(), Some(&t), &EvalConfig::default());
        // Counts: e0 1, e1 3, e2 2 → GPU0 = 1 + 1.5, GPU1 = 2 + 1.5: imbalance (3.5 − 3)/3.
        assert!((s.imbalance - 0.5 / 3.0).abs() < 1e-12);
        assert_eq!(s.nodes_per_token, Some(2.0));
        assert!((s.local_share.unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(s.cross_node_bytes, Some(3.0 * 21_504.0));
    }
}
