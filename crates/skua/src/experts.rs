//! `skua experts`: the expert plane's commands over `skua-moe`.
//!
//! - `plan` ([`plan`]): a load (long/per-token CSV, TensorRT-LLM statistics, OLMoE counts, an
//!   ESFT task or an EPLB golden file, read by [`input`]) → a placement by skua's planner or the
//!   EPLB-equivalent, written as EPLB JSON, SGLang's expert location, TensorRT-LLM's YAML and a
//!   migration plan from `--current`; prints how balanced it is on the planning load.
//! - `evaluate` ([`evaluate`]): plan on training data, score on held-out data, planners side by
//!   side, with the noise floor of the held-out counts.
//!
//! Exit codes: 3 for malformed input (the message names the file and line), 1 for unreadable
//! input and for a planner that fails; 2 for usage (an unknown planner or format is a usage error).

pub mod args;
mod evaluate;
mod input;
mod plan;

pub use args::{ExpertsArgs, ExpertsWhat};
pub use evaluate::evaluate;
pub use plan::plan;
