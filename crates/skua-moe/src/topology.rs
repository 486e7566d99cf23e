//! Where physical expert slots live: nodes, GPUs and slots per GPU.

use crate::MoeError;

/// The hardware an expert placement is made for.
///
/// Slots are numbered GPU-major: GPU 0's slots first, then GPU 1's, … (EPLB's convention: with
/// equal slots per GPU, slot `p` is on GPU `p / slots_per_gpu`). GPUs are numbered node-major.
/// Nodes may have different numbers of GPUs and GPUs different numbers of slots (unequal replica
/// budgets per node); each GPU's slot count is fixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    gpu_node: Vec<usize>,
    gpu_slots: Vec<usize>,
    slot_gpu: Vec<usize>,
    gpu_first_slot: Vec<usize>,
    nodes: usize,
}

impl Topology {
    /// `nodes` nodes of `gpus / nodes` GPUs each, `slots / gpus` slots per GPU (EPLB's shape).
    pub fn uniform(nodes: usize, gpus: usize, slots: usize) -> Result<Self, MoeError> {
        if nodes == 0 || gpus == 0 || slots == 0 {
            return Err(MoeError::Topology(
                "nodes, GPUs and slots must all be positive".into(),
            ));
        }
        if gpus % nodes != 0 {
            return Err(MoeError::Topology(format!(
                "{gpus} GPUs do not divide evenly into {nodes} nodes"
            )));
        }
        if slots % gpus != 0 {
            return Err(MoeError::Topology(format!(
                "{slots} slots do not divide evenly over {gpus} GPUs"
            )));
        }
        let per_node = gpus / nodes;
        Self::from_gpus(
            (0..gpus).map(|g| g / per_node).collect(),
            vec![slots / gpus; gpus],
        )
    }

    /// Per-node GPU counts with the same slots on every GPU.
    pub fn with_node_gpus(node_gpus: &[usize], slots_per_gpu: usize) -> Result<Self, MoeError> {
        let gpu_node: Vec<usize> = node_gpus
            .iter()
            .enumerate()
            .flat_map(|(n, &k)| std::iter::repeat_n(n, k))
            .collect();
        let slots = vec![slots_per_gpu; gpu_node.len()];
        Self::from_gpus(gpu_node, slots)
    }

    /// Explicit per-GPU node ids (non-decreasing, starting at 0, no gaps) and slot counts.
    pub fn from_gpus(gpu_node: Vec<usize>, gpu_slots: Vec<usize>) -> Result<Self, MoeError> {
        if gpu_node.is_empty() || gpu_node.len() != gpu_slots.len() {
            return Err(MoeError::Topology(
                "need one node id and one slot count per GPU".into(),
            ));
        }
        if gpu_node[0] != 0
            || gpu_node
                .windows(2)
                .any(|w| w[1] != w[0] && w[1] != w[0] + 1)
        {
            return Err(MoeError::Topology(
                "GPUs must be numbered node-major with nodes 0, 1, 2, … without gaps".into(),
            ));
        }
        if let Some(g) = gpu_slots.iter().position(|&s| s == 0) {
            return Err(MoeError::Topology(format!("GPU {g} has no slots")));
        }
        let nodes = gpu_node[gpu_node.len() - 1] + 1;
        let mut slot_gpu = Vec::new();
        let mut gpu_first_slot = Vec::with_capacity(gpu_slots.len());
        for (g, &k) in gpu_slots.iter().enumerate() {
            gpu_first_slot.push(slot_gpu.len());
            slot_gpu.extend(std::iter::repeat_n(g, k));
        }
        Ok(Self {
            gpu_node,
            gpu_slots,
            slot_gpu,
            gpu_first_slot,
            nodes,
        })
    }

    /// Number of nodes.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// Number of GPUs.
    pub fn gpus(&self) -> usize {
        self.gpu_node.len()
    }

    /// Number of physical slots.
    pub fn slots(&self) -> usize {
        self.slot_gpu.len()
    }

    /// The GPU slot `p` is on.
    pub fn gpu_of_slot(&self, p: usize) -> usize {
        self.slot_gpu[p]
    }

    /// The node GPU `g` is in.
    pub fn node_of_gpu(&self, g: usize) -> usize {
        self.gpu_node[g]
    }

    /// The node slot `p` is on.
    pub fn node_of_slot(&self, p: usize) -> usize {
        self.gpu_node[self.slot_gpu[p]]
    }

    /// Slots on GPU `g`.
    pub fn slots_of_gpu(&self, g: usize) -> std::ops::Range<usize> {
        let s = self.gpu_first_slot[g];
        s..s + self.gpu_slots[g]
    }

    /// GPUs of node `n`.
    pub fn gpus_of_node(&self, n: usize) -> std::ops::Range<usize> {
        let first = self.gpu_node.partition_point(|&x| x < n);
        let end = self.gpu_node.partition_point(|&x| x <= n);
        first..end
    }

    /// Number of slots on node `n`.
    pub fn node_slots(&self, n: usize) -> usize {
        self.gpus_of_node(n).map(|g| self.gpu_slots[g]).sum()
    }

    /// Slots per GPU when every GPU has the same number, else `None`.
    pub fn uniform_slots_per_gpu(&self) -> Option<usize> {
        let first = self.gpu_slots[0];
        self.gpu_slots.iter().all(|&s| s == first).then_some(first)
    }

    /// GPUs per node when every node has the same number, else `None`.
    pub fn uniform_gpus_per_node(&self) -> Option<usize> {
        let first = self.gpus_of_node(0).len();
        (0..self.nodes)
            .all(|n| self.gpus_of_node(n).len() == first)
            .then_some(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_matches_eplb_slot_numbering() {
        let t = Topology::uniform(2, 8, 16).unwrap();
        assert_eq!(t.gpu_of_slot(5), 2);
        assert_eq!(t.node_of_slot(7), 0);
        assert_eq!(t.node_of_slot(8), 1);
        assert_eq!(t.gpus_of_node(1), 4..8);
        assert_eq!(t.slots_of_gpu(3), 6..8);
        assert_eq!(t.uniform_slots_per_gpu(), Some(2));
    }

    #[test]
    fn unequal_nodes_are_allowed() {
        let t = Topology::with_node_gpus(&[3, 1], 2).unwrap();
        assert_eq!(t.nodes(), 2);
        assert_eq!(t.node_slots(0), 6);
        assert_eq!(t.node_slots(1), 2);
        assert_eq!(t.uniform_gpus_per_node(), None);
    }

    #[test]
    fn rejects_bad_shapes() {
        assert!(Topology::uniform(3, 8, 16).is_err());
        assert!(Topology::uniform(2, 8, 12).is_err());
        assert!(Topology::from_gpus(vec![0, 2], vec![1, 1]).is_err());
    }
}
