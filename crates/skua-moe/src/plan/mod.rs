//! Placement planners behind one trait: the EPLB-equivalent greedy and skua's planner.

mod cluster;
pub mod eplb;
mod search;
pub mod skua;
mod visits;

use crate::MoeError;
use crate::coact::Coactivation;
use crate::load::{ExpertLoad, TokenTrace};
use crate::placement::Placement;
use crate::topology::Topology;

/// Everything a planner may use. Only `topology`, `load` and `groups` are required; the rest are
/// hints a planner may ignore (EPLB ignores them all).
#[derive(Debug, Clone, Copy)]
pub struct PlanRequest<'a> {
    /// Where the slots are.
    pub topology: &'a Topology,
    /// The load to plan for (a forecast of the next window), `layers × experts`.
    pub load: &'a ExpertLoad,
    /// Expert groups of the model (EPLB's `num_groups`; 1 when the router is not group-limited).
    pub groups: usize,
    /// Sampled futures of the load (same shape as `load`) for a robust objective; may be empty.
    pub futures: &'a [ExpertLoad],
    /// Co-activation from per-token traces, for locality.
    pub coactivation: Option<&'a Coactivation>,
    /// Recent per-token routing (same layers and experts as `load`), for locality: a planner may
    /// route a sample of these tokens through candidate placements.
    pub tokens: Option<&'a TokenTrace>,
    /// The placement now in service, for incremental re-planning.
    pub current: Option<&'a Placement>,
    /// At most this many slots per layer may receive new weights (needs `current`).
    pub move_budget: Option<usize>,
}

impl<'a> PlanRequest<'a> {
    /// A request with only the required parts.
    pub fn new(topology: &'a Topology, load: &'a ExpertLoad, groups: usize) -> Self {
        Self {
            topology,
            load,
            groups,
            futures: &[],
            coactivation: None,
            tokens: None,
            current: None,
            move_budget: None,
        }
    }
}

/// A placement planner.
pub trait Planner: Send + Sync {
    /// A short, stable name (used in reports and on the command line).
    fn name(&self) -> &str;
    /// Places every layer's experts on the request's slots.
    fn plan(&self, req: &PlanRequest<'_>) -> Result<Placement, MoeError>;
}
