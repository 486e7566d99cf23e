//! skua's expert plane (after LocMoE, IJCAI 2024, and DeepSeek's EPLB): read expert-load
//! statistics, forecast per-expert load, place experts and their replicas on GPUs and nodes, and
//! score placements on held-out data.
//!
//! Data flows one way: `io` readers → [`ExpertLoad`] / [`TokenTrace`] → forecasts → a
//! [`plan::Planner`] → [`Placement`] → evaluation and `io` writers.

pub mod coact;
pub mod eval;
pub mod forecast;
pub mod io;
pub mod load;
pub mod locmoe;
pub mod placement;
pub mod plan;
pub mod route;
pub mod study;
pub mod synth;
pub mod topology;

pub use coact::Coactivation;
pub use load::{ExpertLoad, TokenTrace};
pub use placement::Placement;
pub use topology::Topology;

/// Errors of the expert plane.
#[derive(Debug, thiserror::Error)]
pub enum MoeError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A file's content is malformed; `at` names the line (and field) when known.
    #[error("{path}: {at}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// Where: `line 12`, `line 12, field 3`, or a JSON path.
        at: String,
        /// What is wrong.
        message: String,
    },
    /// Data of inconsistent shape.
    #[error("shape: {0}")]
    Shape(String),
    /// A topology a planner cannot use.
    #[error("topology: {0}")]
    Topology(String),
    /// A placement that breaks an invariant.
    #[error("invalid placement: {0}")]
    Invalid(String),
}
