//! Replica choice with a locality preference: which copy of an expert serves a token.

use crate::MoeError;
use crate::placement::Placement;
use crate::topology::Topology;

/// Checks that `placement` can serve `layers × experts` on `topo`: every layer fills the slots,
/// every id is an expert and every expert has a replica. Two replicas of one expert on one GPU
/// are accepted (EPLB's packing can produce them; they only split that expert's load).
pub(crate) fn check_fits(
    placement: &Placement,
    topo: &Topology,
    layers: usize,
    experts: usize,
) -> Result<(), MoeError> {
    if placement.layers() != layers || placement.experts() != experts {
        return Err(MoeError::Shape(format!(
            "placement has {} layers of {} experts, {layers} of {experts} are needed",
            placement.layers(),
            placement.experts()
        )));
    }
    for l in 0..layers {
        let row = placement.layer(l);
        if row.len() != topo.slots() {
            return Err(MoeError::Invalid(format!(
                "layer {l}: {} slots, the topology has {}",
                row.len(),
                topo.slots()
            )));
        }
        let mut seen = vec![false; experts];
        for (p, &e) in row.iter().enumerate() {
            match seen.get_mut(e as usize) {
                Some(s) => *s = true,
                None => {
                    return Err(MoeError::Invalid(format!(
                        "layer {l} slot {p}: expert {e} is not below {experts}"
                    )));
                }
            }
        }
        if let Some(e) = seen.iter().position(|s| !s) {
            return Err(MoeError::Invalid(format!(
                "layer {l}: expert {e} has no replica"
            )));
        }
    }
    Ok(())
}

/// The GPU a token starts on: round-robin over GPUs (data-parallel attention in front of expert
/// parallelism; the same convention as [`crate::route`]).
pub(crate) fn home_gpu(token: usize, gpus: usize) -> usize {
    token % gpus
}

/// One layer's replicas and the GPU load dispatched to them so far.
pub(crate) struct Dispatcher<'a> {
    topo: &'a Topology,
    replicas: Vec<Vec<usize>>,
    pub(crate) gpu_load: Vec<f64>,
    total: f64,
}

impl<'a> Dispatcher<'a> {
    /// Layer `l` of `placement` (validated against `topo` by the caller).
    pub(crate) fn new(topo: &'a Topology, placement: &Placement, l: usize) -> Self {
        Self {
            topo,
            replicas: placement.log2phy(l),
            gpu_load: vec![0.0; topo.gpus()],
            total: 0.0,
        }
    }

    /// Whether expert `e` has a replica on `node`.
    pub(crate) fn on_node(&self, e: usize, node: usize) -> bool {
        self.replicas[e]
            .iter()
            .any(|&p| self.topo.node_of_slot(p) == node)
    }

    /// Serves expert `e` for a token of `home_node`: the replica minimising
    /// `gpu load / fair share − locality · [replica on home_node]` (lowest slot on ties), where
    /// the fair share is the load dispatched so far over the GPUs. `locality = 0` balances only;
    /// a large `locality` serves locally whenever a local replica exists. Returns the slot.
    pub(crate) fn dispatch(&mut self, e: usize, home_node: usize, locality: f64) -> usize {
        let fair = self.total / self.gpu_load.len() as f64 + 1.0;
        let mut best = (f64::INFINITY, usize::MAX);
        for &p in &self.replicas[e] {
            let g = self.topo.gpu_of_slot(p);
            let local = if self.topo.node_of_gpu(g) == home_node {
                locality
            } else {
                0.0
            };
            let cost = self.gpu_load[g] / fair - local;
            if cost < best.0 {
                best = (cost, p);
            }
        }
        let p = best.1;
        self.gpu_load[self.topo.gpu_of_slot(p)] += 1.0;
        self.total += 1.0;
        p
    }
}

pub(crate) use crate::eval::imbalance;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locality_trades_against_balance() {
        // 2 nodes × 1 GPU × 2 slots; both experts have a replica on each node.
        let topo = Topology::uniform(2, 2, 4).unwrap();
        let placement = Placement::new(2, vec![vec![0, 1, 0, 1]]);
        // Pure locality: tokens of node 0 always use slot 0.
        let mut d = Dispatcher::new(&topo, &placement, 0);
        for _ in 0..4 {
            assert_eq!(d.dispatch(0, 0, 1e6), 0);
        }
        // Pure balance: alternates between the two GPUs.
        let mut d = Dispatcher::new(&topo, &placement, 0);
        let slots: Vec<usize> = (0..4).map(|_| d.dispatch(0, 0, 0.0)).collect();
        assert_eq!(slots, vec![0, 2, 0, 2]);
        assert_eq!(d.gpu_load, vec![2.0, 2.0]);
        assert!(d.on_node(0, 1) && d.on_node(1, 1));
        assert_eq!(imbalance(&[1.0, 3.0]), 0.5);
    }

    #[test]
    fn fit_check_accepts_same_gpu_replicas_only() {
        let topo = Topology::uniform(1, 2, 4).unwrap();
        let same_gpu = Placement::new(3, vec![vec![0, 0, 1, 2]]);
        assert!(same_gpu.validate(&topo).is_err());
        assert!(check_fits(&same_gpu, &topo, 1, 3).is_ok());
        assert!(check_fits(&Placement::new(3, vec![vec![0, 1, 0, 1]]), &topo, 1, 3).is_err());
        assert!(check_fits(&Placement::new(3, vec![vec![0, 1, 2, 3]]), &topo, 1, 3).is_err());
        assert!(check_fits(&Placement::new(3, vec![vec![0, 1, 2]]), &topo, 1, 3).is_err());
        assert!(check_fits(&same_gpu, &topo, 2, 3).is_err());
    }
}
