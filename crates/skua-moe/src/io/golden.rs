//! EPLB golden files (`../shared/data/moe/eplb_golden/*.json.gz`): the reference planner's inputs
//! and outputs.

use std::path::Path;

use serde::Deserialize;

use crate::MoeError;
use crate::load::ExpertLoad;
use crate::placement::Placement;
use crate::topology::Topology;

/// One golden case: EPLB's inputs and its answer.
#[derive(Debug, Clone)]
pub struct GoldenCase {
    /// Case name.
    pub name: String,
    /// What the case is.
    pub note: String,
    /// Load per (layer, expert).
    pub weight: ExpertLoad,
    /// Expert groups.
    pub groups: usize,
    /// The slots.
    pub topology: Topology,
    /// EPLB's policy: `hierarchical` or `global`.
    pub policy: String,
    /// EPLB's placement.
    pub placement: Placement,
    /// EPLB's replica counts per (layer, expert).
    pub logcnt: Vec<Vec<usize>>,
    /// How long the reference took on a 2-core machine, seconds.
    pub reference_seconds: f64,
}

#[derive(Deserialize)]
struct Raw {
    name: String,
    #[serde(default)]
    note: String,
    weight: Vec<Vec<f64>>,
    num_replicas: usize,
    num_groups: usize,
    num_nodes: usize,
    num_gpus: usize,
    policy: String,
    phy2log: Vec<Vec<u32>>,
    logcnt: Vec<Vec<usize>>,
    reference_seconds_on_2core_vm: f64,
}

/// Reads one golden file.
pub fn read_golden(path: &Path) -> Result<GoldenCase, MoeError> {
    let text = super::read_text(path)?;
    let parse = |at: String, message: String| MoeError::Parse {
        path: path.display().to_string(),
        at,
        message,
    };
    let raw: Raw = serde_json::from_str(&text).map_err(|e| {
        parse(
            format!("line {}, column {}", e.line(), e.column()),
            e.to_string(),
        )
    })?;
    let weight =
        ExpertLoad::from_rows(raw.weight).map_err(|e| parse("weight".into(), e.to_string()))?;
    let topology = Topology::uniform(raw.num_nodes, raw.num_gpus, raw.num_replicas)
        .map_err(|e| parse("num_nodes/num_gpus/num_replicas".into(), e.to_string()))?;
    if raw.phy2log.len() != weight.layers() || raw.logcnt.len() != weight.layers() {
        return Err(parse(
            "phy2log".into(),
            "phy2log and logcnt need one row per layer of weight".into(),
        ));
    }
    let placement = Placement::new(weight.experts(), raw.phy2log);
    Ok(GoldenCase {
        name: raw.name,
        note: raw.note,
        weight,
        groups: raw.num_groups,
        topology,
        policy: raw.policy,
        placement,
        logcnt: raw.logcnt,
        reference_seconds: raw.reference_seconds_on_2core_vm,
    })
}
