//! A placement: which logical expert each physical slot holds, per layer (EPLB's `phy2log`).

use crate::MoeError;
use crate::topology::Topology;

/// Per layer, the logical expert held by each physical slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    experts: usize,
    phy2log: Vec<Vec<u32>>,
}

impl Placement {
    /// Builds a placement; call [`Placement::validate`] to check it against a topology.
    pub fn new(experts: usize, phy2log: Vec<Vec<u32>>) -> Self {
        Self { experts, phy2log }
    }

    /// Number of logical experts per layer.
    pub fn experts(&self) -> usize {
        self.experts
    }

    /// Number of layers.
    pub fn layers(&self) -> usize {
        self.phy2log.len()
    }

    /// Slot → logical expert of layer `l`.
    pub fn layer(&self, l: usize) -> &[u32] {
        &self.phy2log[l]
    }

    /// All layers.
    pub fn phy2log(&self) -> &[Vec<u32>] {
        &self.phy2log
    }

    /// Replicas per logical expert of layer `l` (EPLB's `logcnt`).
    pub fn logcnt(&self, l: usize) -> Vec<usize> {
        let mut c = vec![0; self.experts];
        for &e in &self.phy2log[l] {
            c[e as usize] += 1;
        }
        c
    }

    /// For each logical expert of layer `l`, its slots in ascending order (EPLB's `log2phy` without padding).
    pub fn log2phy(&self, l: usize) -> Vec<Vec<usize>> {
        let mut m = vec![Vec::new(); self.experts];
        for (p, &e) in self.phy2log[l].iter().enumerate() {
            m[e as usize].push(p);
        }
        m
    }

    /// Checks the invariants: every layer has exactly the topology's slots, every id is a valid
    /// expert, every expert has at least one replica, and no GPU holds two replicas of one expert.
    pub fn validate(&self, topo: &Topology) -> Result<(), MoeError> {
        for (l, row) in self.phy2log.iter().enumerate() {
            if row.len() != topo.slots() {
                return Err(MoeError::Invalid(format!(
                    "layer {l}: {} slots, the topology has {}",
                    row.len(),
                    topo.slots()
                )));
            }
            if let Some(p) = row.iter().position(|&e| e as usize >= self.experts) {
                return Err(MoeError::Invalid(format!(
                    "layer {l} slot {p}: expert {} is not below {}",
                    row[p], self.experts
                )));
            }
            if let Some(e) = self.logcnt(l).iter().position(|&c| c == 0) {
                return Err(MoeError::Invalid(format!(
                    "layer {l}: expert {e} has no replica"
                )));
            }
            for g in 0..topo.gpus() {
                let slots = &row[topo.slots_of_gpu(g)];
                for (i, a) in slots.iter().enumerate() {
                    if slots[i + 1..].contains(a) {
                        return Err(MoeError::Invalid(format!(
                            "layer {l}: GPU {g} holds two replicas of expert {a}"
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// Load per GPU of layer `l` when each expert's load is split equally over its replicas
    /// (EPLB's model of a replicated expert).
    pub fn gpu_loads(&self, topo: &Topology, l: usize, load: &[f64]) -> Vec<f64> {
        let cnt = self.logcnt(l);
        let mut g = vec![0.0; topo.gpus()];
        for (p, &e) in self.phy2log[l].iter().enumerate() {
            let e = e as usize;
            g[topo.gpu_of_slot(p)] += load[e] / cnt[e].max(1) as f64;
        }
        g
    }

    /// Slots that must receive new expert weights to go from `self` to `next`, per layer: on each
    /// GPU, the replicas `next` holds that `self` did not (slot order inside a GPU does not matter).
    pub fn slots_moved(&self, next: &Placement, topo: &Topology) -> Vec<usize> {
        self.phy2log
            .iter()
            .zip(&next.phy2log)
            .map(|(old, new)| {
                (0..topo.gpus())
                    .map(|g| {
                        let r = topo.slots_of_gpu(g);
                        let mut have: Vec<u32> = old[r.clone()].to_vec();
                        let mut moved = 0;
                        for e in &new[r] {
                            if let Some(i) = have.iter().position(|x| x == e) {
                                have.swap_remove(i);
                            } else {
                                moved += 1;
                            }
                        }
                        moved
                    })
                    .sum()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_catches_each_invariant() {
        let topo = Topology::uniform(1, 2, 4).unwrap();
        assert!(
            Placement::new(3, vec![vec![0, 1, 2, 0]])
                .validate(&topo)
                .is_ok()
        );
        assert!(
            Placement::new(3, vec![vec![0, 0, 1, 2]])
                .validate(&topo)
                .is_err(),
            "same-GPU duplicate"
        );
        assert!(
            Placement::new(3, vec![vec![0, 1, 0, 1]])
                .validate(&topo)
                .is_err(),
            "expert 2 missing"
        );
        assert!(
            Placement::new(3, vec![vec![0, 1, 2]])
                .validate(&topo)
                .is_err(),
            "wrong slot count"
        );
        assert!(
            Placement::new(3, vec![vec![0, 1, 2, 3]])
                .validate(&topo)
                .is_err(),
            "bad id"
        );
    }

    #[test]
    fn gpu_loads_split_replicas_equally() {
        let topo = Topology::uniform(1, 2, 4).unwrap();
        let p = Placement::new(3, vec![vec![0, 1, 2, 0]]);
        assert_eq!(p.gpu_loads(&topo, 0, &[10.0, 3.0, 4.0]), vec![8.0, 9.0]);
        assert_eq!(p.logcnt(0), vec![2, 1, 1]);
        assert_eq!(p.log2phy(0)[0], vec![0, 3]);
    }

    #[test]
    fn moves_ignore_order_inside_a_gpu() {
        let topo = Topology::uniform(1, 2, 4).unwrap();
        let a = Placement::new(3, vec![vec![0, 1, 2, 0]]);
        let b = Placement::new(3, vec![vec![1, 0, 2, 1]]);
        assert_eq!(a.slots_moved(&b, &topo), vec![1]);
    }
}
