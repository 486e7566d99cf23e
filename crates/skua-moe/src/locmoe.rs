//! LocMoE analysis (Li et al., "LocMoE: A Low-Overhead MoE for Large Language Model Training",
//! IJCAI 2024) next to DeepSeek-V3's balancing:
//!
//! * [`capacity_lower_bound`]: the expert-capacity floor from the angle between tokens and
//!   orthogonal gating vectors (derivation in [`capacity`]);
//! * [`locality_balance_report`]: on a recorded trace and a placement, the share of traffic kept
//!   on the token's node against the GPU imbalance, as the locality preference grows;
//! * [`simulate_routing`]: plain, locality-preferring and auxiliary-loss-free (bias) routing
//!   on the synthetic generator ([`crate::synth`]), with expert/GPU imbalance, nodes per token,
//!   local share and a per-step load history.

pub mod capacity;
mod dispatch;
mod locality;
mod simulate;

pub use capacity::{
    AngularRouting, cap_fraction, capacity_for_angle, capacity_lower_bound, guaranteed_angle,
    simulate_angular_routing,
};
pub use locality::{DEFAULT_STRENGTHS, LocalityPoint, locality_balance_report};
pub use simulate::{
    RoutingPolicy, RoutingStats, STEP_TOKENS, StepLoad, round_robin_placement, simulate_routing,
};
