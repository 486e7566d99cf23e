//! Locality against balance on a recorded trace: how much of the traffic can stay inside the
//! token's node, and what it costs in GPU imbalance, as the dispatcher's locality preference
//! grows (LocMoE's trade-off, measured on a placement's replicas).

use rayon::prelude::*;
use serde::Serialize;

use super::dispatch::{Dispatcher, check_fits, home_gpu, imbalance};
use crate::MoeError;
use crate::load::TokenTrace;
use crate::placement::Placement;
use crate::topology::Topology;

/// One point of the locality-vs-balance sweep (means over layers).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LocalityPoint {
    /// The locality preference (0 = balance only).
    pub strength: f64,
    /// Share of token-expert pairs served on the token's own node.
    pub local_share: f64,
    /// `(max − mean) / mean` of the GPU loads.
    pub gpu_imbalance: f64,
    /// Distinct nodes a token's experts are served on.
    pub nodes_per_token: f64,
}

/// A sweep that covers balance-only to local-whenever-possible.
pub const DEFAULT_STRENGTHS: [f64; 8] = [0.0, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 1e6];

/// For each locality `strength`, replays `trace` through `placement`: token `t` starts on GPU
/// `t mod gpus`, and each expert it chose is served by the replica minimising
/// `gpu load / fair share − strength · [replica on the token's node]`, in token order. The
/// experts chosen are the trace's; only the replica changes, so the sweep shows what replicas
/// on several nodes buy. Strengths must be finite and non-negative; the placement must fill the
/// topology's slots with the trace's experts (same-GPU duplicates are allowed).
pub fn locality_balance_report(
    trace: &TokenTrace,
    placement: &Placement,
    topology: &Topology,
    strengths: &[f64],
) -> Result<Vec<LocalityPoint>, MoeError> {
    check_fits(placement, topology, trace.layers(), trace.experts())?;
    if let Some(s) = strengths.iter().find(|s| !s.is_finite() || **s < 0.0) {
        return Err(MoeError::Shape(format!(
            "locality strength {s} is not a finite non-negative number"
        )));
    }
    Ok(strengths
        .iter()
        .map(|&strength| {
            let per_layer: Vec<(f64, f64, f64)> = (0..trace.layers())
                .into_par_iter()
                .map(|l| replay_layer(trace, placement, topology, l, strength))
                .collect();
            let n = per_layer.len() as f64;
            LocalityPoint {
                strength,
                local_share: per_layer.iter().map(|x| x.0).sum::<f64>() / n,
                gpu_imbalance: per_layer.iter().map(|x| x.1).sum::<f64>() / n,
                nodes_per_token: per_layer.iter().map(|x| x.2).sum::<f64>() / n,
            }
        })
        .collect())
}

/// (local share, GPU imbalance, nodes per token) of one layer.
fn replay_layer(
    trace: &TokenTrace,
    placement: &Placement,
    topo: &Topology,
    l: usize,
    strength: f64,
) -> (f64, f64, f64) {
    let mut d = Dispatcher::new(topo, placement, l);
    let (mut local, mut pairs, mut node_visits) = (0usize, 0usize, 0usize);
    let mut nodes: Vec<usize> = Vec::with_capacity(trace.top_k());
    for t in 0..trace.tokens() {
        let home = topo.node_of_gpu(home_gpu(t, topo.gpus()));
        nodes.clear();
        for &e in trace.choice(l, t) {
            let node = topo.node_of_slot(d.dispatch(usize::from(e), home, strength));
            local += usize::from(node == home);
            pairs += 1;
            if !nodes.contains(&node) {
                nodes.push(node);
            }
        }
        node_visits += nodes.len();
    }
    (
        local as f64 / pairs.max(1) as f64,
        imbalance(&d.gpu_load),
        node_visits as f64 / trace.tokens().max(1) as f64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_replicas_leave_nothing_to_trade() {
        // Every expert has one replica: the sweep is flat.
        let topo = Topology::uniform(2, 2, 4).unwrap();
        let placement = Placement::new(4, vec![vec![0, 1, 2, 3]]);
        let trace = TokenTrace::new(4, 2, 1, vec![0, 2, 1, 3, 0, 1, 2, 3], vec![0]).unwrap();
        let r = locality_balance_report(&trace, &placement, &topo, &[0.0, 1e6]).unwrap();
        assert_eq!(r[0].local_share, r[1].local_share);
        assert_eq!(r[0].gpu_imbalance, r[1].gpu_imbalance);
        // Token 0 (node 0) → experts 0 (n0), 2 (n1); token 1 (node 1) → 1 (n0), 3 (n1);
        // token 2 (node 0) → 0, 1 (both n0); token 3 (node 1) → 2, 3 (both n1): 6 of 8 local.
        assert_eq!(r[0].local_share, 0.75);
        assert_eq!(r[0].nodes_per_token, 1.5);
        assert!(locality_balance_report(&trace, &placement, &topo, &[-1.0]).is_err());
    }
}
