//! skua-fleet: maintenance-window planner and day-by-day evaluation.
//!
//! * [`constraints`]: the constraints TOML ([`PlanConstraints`]) and its validation.
//! * [`plan`]: the planner ([`Planner`], [`RegretPlanner`], [`plan()`]).
//! * [`schedule`]: its output ([`Schedule`]) as CSV or JSON.
//! * [`evaluate`]: replaying history day by day to score window policies ([`evaluate_series`]).
//! * [`summary`]: aggregating those scores per policy and class ([`summarize`]).
//!
//! Architecture invariant: no I/O, no clock, no threads. Given inputs (and a seed where
//! randomness is involved) every function is pure and deterministic; callers parallelise.

pub mod constraints;
pub mod evaluate;
pub mod plan;
pub mod schedule;
pub mod summary;

pub use constraints::{ConstraintsError, Deadline, FieldIssue, HourSet, PlanConstraints};
pub use evaluate::{
    DayScore, EvalConfig, Policy, PolicyKind, PolicyScore, SeriesEval, SkipCounts, evaluate_series,
};
pub use plan::{PlanError, Planner, RegretPlanner, ServerForecast, plan};
pub use schedule::{RunnerUp, Schedule, ScheduleEntry};
pub use summary::{EvalSummary, PolicySummary, summarize};
