//! Writers of placements for serving engines, and the migration plan between two placements:
//!
//! - EPLB's output maps (<https://github.com/deepseek-ai/EPLB>, `rebalance_experts`):
//!   `phy2log` `[layers][slots]`, `log2phy` `[layers][experts][slots − experts + 1]` padded with
//!   −1, `logcnt` `[layers][experts]`;
//! - SGLang's `--init-expert-location` file (<https://github.com/sgl-project/sglang>,
//!   `python/sglang/srt/eplb/expert_location.py`): `{"physical_to_logical_map": [[…]]}` with one
//!   row per decoder layer of the model (`num_hidden_layers`), or `{"logical_count": [[…]]}`
//!   to let SGLang run EPLB itself;
//! - TensorRT-LLM's `moe_load_balancer.yaml` (<https://github.com/NVIDIA/TensorRT-LLM>,
//!   `examples/ep_load_balancer/generate_eplb_config.py`, `MoeLoadBalancerConfig`):
//!   `num_slots`, `initial_global_assignments: {model layer: [expert per slot]}`,
//!   `layer_updates_per_iter`;
//! - skua's migration plan (JSON): which slots receive new weights, from where, and the bytes.
//!
//! Every `*_string`/`*_value` variant returns text or JSON for the CLI; every `write_*` is
//! atomic.

use std::path::Path;

use serde::Serialize;

use crate::MoeError;
use crate::load::ExpertLoad;
use crate::placement::Placement;
use crate::topology::Topology;

/// Which decoder layer of the model each placement layer is (formats keyed by model layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelLayers {
    /// Decoder layers of the model (`num_hidden_layers`), MoE or dense.
    pub num_hidden_layers: usize,
    /// The model layer of placement layer `i`, strictly increasing.
    pub moe_layer_ids: Vec<usize>,
}

impl ModelLayers {
    /// Checks that the ids are strictly increasing and below `num_hidden_layers`.
    pub fn new(num_hidden_layers: usize, moe_layer_ids: Vec<usize>) -> Result<Self, MoeError> {
        if moe_layer_ids.windows(2).any(|w| w[0] >= w[1])
            || moe_layer_ids
                .last()
                .is_some_and(|&l| l >= num_hidden_layers)
        {
            return Err(MoeError::Shape(format!(
                "MoE layer ids {moe_layer_ids:?} must be strictly increasing and below \
                 {num_hidden_layers} layers"
            )));
        }
        Ok(Self {
            num_hidden_layers,
            moe_layer_ids,
        })
    }

    /// Every layer is an MoE layer (`0..layers`).
    pub fn all_moe(layers: usize) -> Self {
        Self {
            num_hidden_layers: layers,
            moe_layer_ids: (0..layers).collect(),
        }
    }

    /// `first_dense` dense layers, then `moe_layers` MoE layers (DeepSeek's
    /// `first_k_dense_replace`: 1 for DeepSeek-V2-Lite, 3 for DeepSeek-V3).
    pub fn dense_first(first_dense: usize, moe_layers: usize) -> Self {
        Self {
            num_hidden_layers: first_dense + moe_layers,
            moe_layer_ids: (first_dense..first_dense + moe_layers).collect(),
        }
    }

    fn check(&self, layers: usize) -> Result<(), MoeError> {
        Self::new(self.num_hidden_layers, self.moe_layer_ids.clone())?;
        if self.moe_layer_ids.len() != layers {
            return Err(MoeError::Shape(format!(
                "{} MoE layer ids for a placement of {layers} layers",
                self.moe_layer_ids.len()
            )));
        }
        Ok(())
    }
}

/// EPLB's three output maps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EplbMaps {
    /// Logical expert of each physical slot, `[layers][slots]`.
    pub phy2log: Vec<Vec<u32>>,
    /// Slots of each logical expert in ascending order, padded with −1 to
    /// `slots − experts + 1` (EPLB's `maxlogcnt`), `[layers][experts][maxlogcnt]`.
    pub log2phy: Vec<Vec<Vec<i64>>>,
    /// Replicas of each logical expert, `[layers][experts]`.
    pub logcnt: Vec<Vec<usize>>,
}

/// EPLB's maps of a placement. EPLB orders an expert's slots by replica rank; here they are
/// ascending (consumers use them as a set).
pub fn eplb_maps(p: &Placement) -> Result<EplbMaps, MoeError> {
    check_ids(p)?;
    let slots = p.phy2log().first().map_or(0, Vec::len);
    let most = (0..p.layers()).flat_map(|l| p.logcnt(l)).max().unwrap_or(0);
    let width = (slots + 1).saturating_sub(p.experts()).max(most);
    let log2phy = (0..p.layers())
        .map(|l| {
            p.log2phy(l)
                .into_iter()
                .map(|s| {
                    let mut row: Vec<i64> = s.into_iter().map(|x| x as i64).collect();
                    row.resize(width, -1);
                    row
                })
                .collect()
        })
        .collect();
    Ok(EplbMaps {
        phy2log: p.phy2log().to_vec(),
        log2phy,
        logcnt: (0..p.layers()).map(|l| p.logcnt(l)).collect(),
    })
}

/// EPLB's maps as JSON.
pub fn eplb_value(p: &Placement) -> Result<serde_json::Value, MoeError> {
    to_value(&eplb_maps(p)?)
}

/// EPLB's maps as JSON text.
pub fn eplb_string(p: &Placement) -> Result<String, MoeError> {
    to_string(&eplb_maps(p)?)
}

/// Writes EPLB's maps as JSON, atomically.
pub fn write_eplb_json(path: &Path, p: &Placement) -> Result<(), MoeError> {
    super::write_atomic(path, eplb_string(p)?.as_bytes())
}

/// SGLang's `{"physical_to_logical_map": [[…]]}`: one row per model layer; rows of layers that
/// are not in `layers.moe_layer_ids` get SGLang's trivial map (`slot % experts`). SGLang places
/// `slots / GPUs` consecutive slots on each GPU, so every GPU must have the same slot count.
pub fn sglang_value(
    p: &Placement,
    topo: &Topology,
    layers: &ModelLayers,
) -> Result<serde_json::Value, MoeError> {
    check_slots(p, topo, true)?;
    layers.check(p.layers())?;
    uniform(topo, "SGLang")?;
    let trivial: Vec<u32> = (0..topo.slots())
        .map(|s| (s % p.experts()) as u32)
        .collect();
    let mut rows = vec![trivial; layers.num_hidden_layers];
    for (i, &l) in layers.moe_layer_ids.iter().enumerate() {
        rows[l] = p.layer(i).to_vec();
    }
    Ok(serde_json::json!({ "physical_to_logical_map": rows }))
}

/// SGLang's expert-location JSON text (see [`sglang_value`]).
pub fn sglang_string(
    p: &Placement,
    topo: &Topology,
    layers: &ModelLayers,
) -> Result<String, MoeError> {
    to_string(&sglang_value(p, topo, layers)?)
}

/// Writes SGLang's expert-location JSON (see [`sglang_value`]), atomically.
pub fn write_sglang_json(
    path: &Path,
    p: &Placement,
    topo: &Topology,
    layers: &ModelLayers,
) -> Result<(), MoeError> {
    super::write_atomic(path, sglang_string(p, topo, layers)?.as_bytes())
}

/// SGLang's `{"logical_count": [[…]]}`: the load per model layer and logical expert, for SGLang
/// to place with its own EPLB; layers without a row get zeros.
pub fn sglang_logical_count_value(
    load: &ExpertLoad,
    layers: &ModelLayers,
) -> Result<serde_json::Value, MoeError> {
    layers.check(load.layers())?;
    let mut rows = vec![vec![0.0; load.experts()]; layers.num_hidden_layers];
    for (i, &l) in layers.moe_layer_ids.iter().enumerate() {
        rows[l] = load.layer(i).to_vec();
    }
    Ok(serde_json::json!({ "logical_count": rows }))
}

/// TensorRT-LLM's `moe_load_balancer.yaml` text: keys in the order PyYAML writes them
/// (alphabetical), lists in flow style as `generate_eplb_config.py` does. `layer_updates_per_iter
/// = 0` means a static placement. Every GPU must have the same slot count.
pub fn trtllm_yaml_string(
    p: &Placement,
    topo: &Topology,
    layers: &ModelLayers,
    layer_updates_per_iter: usize,
) -> Result<String, MoeError> {
    check_slots(p, topo, true)?;
    layers.check(p.layers())?;
    uniform(topo, "TensorRT-LLM")?;
    let mut s = String::from("initial_global_assignments:\n");
    for (i, &l) in layers.moe_layer_ids.iter().enumerate() {
        let ids: Vec<String> = p.layer(i).iter().map(u32::to_string).collect();
        s.push_str(&format!("  {l}: [{}]\n", ids.join(", ")));
    }
    s.push_str(&format!(
        "layer_updates_per_iter: {layer_updates_per_iter}\nnum_slots: {}\n",
        topo.slots()
    ));
    Ok(s)
}

/// Writes TensorRT-LLM's `moe_load_balancer.yaml` (see [`trtllm_yaml_string`]), atomically.
pub fn write_trtllm_yaml(
    path: &Path,
    p: &Placement,
    topo: &Topology,
    layers: &ModelLayers,
    layer_updates_per_iter: usize,
) -> Result<(), MoeError> {
    let text = trtllm_yaml_string(p, topo, layers, layer_updates_per_iter)?;
    super::write_atomic(path, text.as_bytes())
}

/// Where a moved slot's new weights come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transfer {
    /// Another slot of the same GPU.
    SameGpu,
    /// A GPU of the same node.
    SameNode,
    /// A GPU of another node.
    CrossNode,
    /// No slot held the expert before: load it from storage.
    NoSource,
}

/// One slot that must receive new weights.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlotMove {
    /// Placement layer.
    pub layer: usize,
    /// The receiving slot.
    pub slot: usize,
    /// Its GPU.
    pub gpu: usize,
    /// Its node.
    pub node: usize,
    /// The expert the slot held before.
    pub from_expert: u32,
    /// The expert it holds after.
    pub to_expert: u32,
    /// A slot holding `to_expert` before (same GPU, else same node, else any; lowest slot
    /// first), or `null` when no slot did.
    pub source: Option<usize>,
    /// What kind of copy that is.
    pub transfer: Transfer,
}

/// Totals of a migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationTotals {
    /// Slots that receive new weights (equals [`Placement::slots_moved`] summed).
    pub slots_moved: usize,
    /// `slots_moved × expert_bytes`.
    pub bytes_moved: u64,
    /// Moves whose source is on the same GPU.
    pub same_gpu: usize,
    /// Moves whose source is on another GPU of the same node.
    pub same_node: usize,
    /// Moves whose source is on another node.
    pub cross_node: usize,
    /// `cross_node × expert_bytes`.
    pub cross_node_bytes: u64,
    /// Moves with no source slot.
    pub no_source: usize,
    /// Slots moved per layer.
    pub per_layer: Vec<usize>,
}

/// The slots to update to go from one placement to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationPlan {
    /// Bytes of one expert's weights.
    pub expert_bytes: u64,
    /// Every move, by layer then slot.
    pub moves: Vec<SlotMove>,
    /// The totals.
    pub totals: MigrationTotals,
}

/// Plans the move from placement `from` to `to` on `topo`. `to` must give every expert a
/// replica; `from` may lack experts (e.g. a partial deployment: their new replicas have no
/// source). Following
/// [`Placement::slots_moved`], a GPU that keeps an expert (in any of its slots) does not count
/// as a move: per GPU, slots that keep their expert and then slots whose new expert the GPU
/// already held are matched first; the rest are moves.
pub fn migration_plan(
    from: &Placement,
    to: &Placement,
    topo: &Topology,
    expert_bytes: u64,
) -> Result<MigrationPlan, MoeError> {
    check_slots(from, topo, false)?;
    check_slots(to, topo, true)?;
    if from.layers() != to.layers() || from.experts() != to.experts() {
        return Err(MoeError::Shape(format!(
            "placements differ in shape: {} layers × {} experts vs {} × {}",
            from.layers(),
            from.experts(),
            to.layers(),
            to.experts()
        )));
    }
    let mut moves = Vec::new();
    let mut per_layer = Vec::with_capacity(from.layers());
    for l in 0..from.layers() {
        let (old, new) = (from.layer(l), to.layer(l));
        let before = moves.len();
        for g in 0..topo.gpus() {
            let r = topo.slots_of_gpu(g);
            let mut have: Vec<Option<u32>> = r.clone().map(|s| Some(old[s])).collect();
            let mut settled = vec![false; r.len()];
            for (i, s) in r.clone().enumerate() {
                if old[s] == new[s] {
                    have[i] = None;
                    settled[i] = true;
                }
            }
            for (i, s) in r.clone().enumerate() {
                if settled[i] {
                    continue;
                }
                if let Some(j) = have.iter().position(|&x| x == Some(new[s])) {
                    have[j] = None;
                    settled[i] = true;
                }
            }
            for (i, s) in r.enumerate() {
                if settled[i] {
                    continue;
                }
                let (source, transfer) = pick_source(old, new[s], s, topo);
                moves.push(SlotMove {
                    layer: l,
                    slot: s,
                    gpu: g,
                    node: topo.node_of_gpu(g),
                    from_expert: old[s],
                    to_expert: new[s],
                    source,
                    transfer,
                });
            }
        }
        moves[before..].sort_by_key(|m| m.slot);
        per_layer.push(moves.len() - before);
    }
    let count = |t: Transfer| moves.iter().filter(|m| m.transfer == t).count();
    let slots_moved = moves.len();
    let cross_node = count(Transfer::CrossNode);
    let totals = MigrationTotals {
        slots_moved,
        bytes_moved: slots_moved as u64 * expert_bytes,
        same_gpu: count(Transfer::SameGpu),
        same_node: count(Transfer::SameNode),
        cross_node,
        cross_node_bytes: cross_node as u64 * expert_bytes,
        no_source: count(Transfer::NoSource),
        per_layer,
    };
    Ok(MigrationPlan {
        expert_bytes,
        moves,
        totals,
    })
}

/// The migration plan as JSON.
pub fn migration_value(plan: &MigrationPlan) -> Result<serde_json::Value, MoeError> {
    to_value(plan)
}

/// The migration plan as JSON text.
pub fn migration_string(plan: &MigrationPlan) -> Result<String, MoeError> {
    to_string(plan)
}

/// Writes the migration plan as JSON, atomically.
pub fn write_migration_json(path: &Path, plan: &MigrationPlan) -> Result<(), MoeError> {
    super::write_atomic(path, migration_string(plan)?.as_bytes())
}

/// The best slot of `old` holding `expert` for receiving slot `to`.
fn pick_source(old: &[u32], expert: u32, to: usize, topo: &Topology) -> (Option<usize>, Transfer) {
    let (gpu, node) = (topo.gpu_of_slot(to), topo.node_of_slot(to));
    let rank = |s: usize| {
        if topo.gpu_of_slot(s) == gpu {
            Transfer::SameGpu
        } else if topo.node_of_slot(s) == node {
            Transfer::SameNode
        } else {
            Transfer::CrossNode
        }
    };
    old.iter()
        .enumerate()
        .filter(|&(_, &e)| e == expert)
        .map(|(s, _)| (s, rank(s)))
        .min_by_key(|&(s, t)| (t as u8, s))
        .map_or((None, Transfer::NoSource), |(s, t)| (Some(s), t))
}

fn check_ids(p: &Placement) -> Result<(), MoeError> {
    for l in 0..p.layers() {
        if let Some(s) = p.layer(l).iter().position(|&e| e as usize >= p.experts()) {
            return Err(MoeError::Invalid(format!(
                "layer {l} slot {s}: expert {} is not below {}",
                p.layer(l)[s],
                p.experts()
            )));
        }
    }
    Ok(())
}

/// What the engines need: the topology's slots in every layer, valid ids and (when `complete`)
/// at least one replica per expert. Two replicas of one expert on a GPU are allowed: EPLB
/// itself produces them and SGLang and TensorRT-LLM accept them.
fn check_slots(p: &Placement, topo: &Topology, complete: bool) -> Result<(), MoeError> {
    if p.experts() == 0 {
        return Err(MoeError::Invalid("a placement of zero experts".into()));
    }
    check_ids(p)?;
    for l in 0..p.layers() {
        if p.layer(l).len() != topo.slots() {
            return Err(MoeError::Invalid(format!(
                "layer {l}: {} slots, the topology has {}",
                p.layer(l).len(),
                topo.slots()
            )));
        }
        if complete && let Some(e) = p.logcnt(l).iter().position(|&c| c == 0) {
            return Err(MoeError::Invalid(format!(
                "layer {l}: expert {e} has no replica"
            )));
        }
    }
    Ok(())
}

fn uniform(topo: &Topology, engine: &str) -> Result<(), MoeError> {
    topo.uniform_slots_per_gpu().map(|_| ()).ok_or_else(|| {
        MoeError::Topology(format!(
            "{engine} needs the same number of slots on every GPU"
        ))
    })
}

fn to_value(x: &impl Serialize) -> Result<serde_json::Value, MoeError> {
    serde_json::to_value(x).map_err(|e| MoeError::Shape(format!("JSON: {e}")))
}

fn to_string(x: &impl Serialize) -> Result<String, MoeError> {
    serde_json::to_string(x).map_err(|e| MoeError::Shape(format!("JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eplb_maps_pad_to_eplb_width() {
        // 3 experts on 4 slots: width 4 − 3 + 1 = 2.
        let p = Placement::new(3, vec![vec![0, 1, 2, 0]]);
        let m = eplb_maps(&p).unwrap();
        assert_eq!(m.log2phy, vec![vec![vec![0, 3], vec![1, -1], vec![2, -1]]]);
        assert_eq!(m.logcnt, vec![vec![2, 1, 1]]);
        let v = eplb_value(&p).unwrap();
        assert_eq!(v["phy2log"][0][3], 0);
        assert!(eplb_maps(&Placement::new(2, vec![vec![0, 2]])).is_err());
    }

    #[test]
    fn sglang_fills_dense_layers_with_the_trivial_map() {
        let topo = Topology::uniform(1, 2, 4).unwrap();
        let p = Placement::new(3, vec![vec![2, 1, 0, 2]]);
        let v = sglang_value(&p, &topo, &ModelLayers::dense_first(1, 1)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"physical_to_logical_map": [[0, 1, 2, 0], [2, 1, 0, 2]]})
        );
        assert!(sglang_value(&p, &topo, &ModelLayers::all_moe(2)).is_err());
        let beyond = ModelLayers {
            num_hidden_layers: 1,
            moe_layer_ids: vec![1],
        };
        assert!(
            sglang_value(&p, &topo, &beyond).is_err(),
            "layer id past the model"
        );
        let load = ExpertLoad::from_rows(vec![vec![1.0, 2.0, 3.0]]).unwrap();
        let c = sglang_logical_count_value(&load, &ModelLayers::dense_first(1, 1)).unwrap();
        assert_eq!(c["logical_count"][1][2], 3.0);
        assert_eq!(c["logical_count"][0][2], 0.0);
    }

    #[test]
    fn trtllm_yaml_is_keyed_by_model_layer() {
        let topo = Topology::uniform(1, 2, 4).unwrap();
        let p = Placement::new(3, vec![vec![0, 1, 2, 0], vec![1, 2, 0, 1]]);
        let y = trtllm_yaml_string(&p, &topo, &ModelLayers::dense_first(3, 2), 0).unwrap();
        // Byte for byte what PyYAML writes for this config with generate_eplb_config.py's
        // `save_eplb_config` (flow-style lists, width = inf), checked with PyYAML 6.0.
        assert_eq!(
            y,
            "initial_global_assignments:\n  3: [0, 1, 2, 0]\n  4: [1, 2, 0, 1]\n\
             layer_updates_per_iter: 0\nnum_slots: 4\n"
        );
        let uneven = Topology::from_gpus(vec![0, 0], vec![3, 1]).unwrap();
        assert!(trtllm_yaml_string(&p, &uneven, &ModelLayers::all_moe(2), 0).is_err());
    }

    #[test]
    fn migration_prefers_near_sources_and_ignores_reordering() {
        // 2 nodes × 2 GPUs × 2 slots: GPU g holds slots 2g and 2g + 1 and is on node g / 2.
        let topo = Topology::uniform(2, 4, 8).unwrap();
        let a = Placement::new(5, vec![vec![0, 1, 2, 3, 4, 0, 1, 2]]);
        // GPU 0 swaps its two slots (no move); GPU 1 takes 4 (held only on node 1) and 1 (held
        // on GPU 0, same node, and on GPU 3); GPU 2 keeps; GPU 3 takes 3 (held on node 0).
        let b = Placement::new(5, vec![vec![1, 0, 4, 1, 4, 0, 3, 2]]);
        let plan = migration_plan(&a, &b, &topo, 100).unwrap();
        assert_eq!(plan.totals.slots_moved, a.slots_moved(&b, &topo)[0]);
        let got: Vec<_> = plan
            .moves
            .iter()
            .map(|m| (m.slot, m.from_expert, m.to_expert, m.source, m.transfer))
            .collect();
        assert_eq!(
            got,
            vec![
                (2, 2, 4, Some(4), Transfer::CrossNode),
                (3, 3, 1, Some(1), Transfer::SameNode),
                (6, 1, 3, Some(3), Transfer::CrossNode),
            ]
        );
        assert_eq!(plan.totals.bytes_moved, 300);
        assert_eq!(plan.totals.cross_node, 2);
        assert_eq!(plan.totals.cross_node_bytes, 200);
        assert_eq!(plan.totals.per_layer, vec![3]);
        let v = migration_value(&plan).unwrap();
        assert_eq!(v["moves"][0]["transfer"], "cross_node");
    }

    #[test]
    fn migration_counts_only_real_moves_and_null_sources() {
        let topo = Topology::uniform(1, 2, 4).unwrap();
        let a = Placement::new(4, vec![vec![0, 1, 2, 3]]);
        let reordered = Placement::new(4, vec![vec![1, 0, 3, 2]]);
        assert!(
            migration_plan(&a, &reordered, &topo, 1)
                .unwrap()
                .moves
                .is_empty()
        );
        let swapped = Placement::new(4, vec![vec![0, 2, 1, 3]]);
        let plan = migration_plan(&a, &swapped, &topo, 1).unwrap();
        assert_eq!(plan.totals.slots_moved, 2);
        assert_eq!(plan.totals.same_node, 2);
        // The old placement lacks expert 3: its new replica has no source.
        let partial = Placement::new(4, vec![vec![0, 1, 2, 0]]);
        let plan = migration_plan(&partial, &a, &topo, 1).unwrap();
        assert_eq!(plan.moves.len(), 1);
        assert_eq!(
            (plan.moves[0].source, plan.moves[0].transfer),
            (None, Transfer::NoSource)
        );
        assert_eq!(plan.totals.no_source, 1);
        let v = migration_value(&migration_plan(&a, &a, &topo, 1).unwrap()).unwrap();
        assert_eq!(v["totals"]["slots_moved"], 0);
        assert!(v["moves"].as_array().unwrap().is_empty());
    }

    #[test]
    fn same_gpu_replicas_are_accepted_but_missing_experts_are_not() {
        let topo = Topology::uniform(1, 2, 4).unwrap();
        // EPLB can put two replicas of one expert on one GPU.
        let dup = Placement::new(3, vec![vec![0, 0, 1, 2]]);
        assert!(sglang_value(&dup, &topo, &ModelLayers::all_moe(1)).is_ok());
        let a = Placement::new(3, vec![vec![0, 1, 2, 0]]);
        let plan = migration_plan(&a, &dup, &topo, 1).unwrap();
        assert_eq!(plan.totals.slots_moved, a.slots_moved(&dup, &topo)[0]);
        assert_eq!(plan.moves[0].transfer, Transfer::SameGpu);
        let missing = Placement::new(3, vec![vec![0, 1, 0, 1]]);
        let e = trtllm_yaml_string(&missing, &topo, &ModelLayers::all_moe(1), 0).unwrap_err();
        assert!(e.to_string().contains("expert 2 has no replica"), "{e}");
        assert!(migration_plan(&a, &missing, &topo, 1).is_err());
    }
}
