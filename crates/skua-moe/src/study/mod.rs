//! The expert plane's benchmark studies: each acceptance figure of the plane, measured the same
//! way every time, on the real data in `../shared/data/moe` and on the synthetic generator.
//! `skua bench experts` runs them all and prints the tables.

mod esft;
mod golden;
mod synthetic;

pub use esft::{
    ADAPT_BUDGET, CrossBudgetRow, CrossRow, GPUS, HeldOutRow, SLOTS, WIDE_SLOTS, cross_task,
    cross_task_budget, held_out, read_tasks,
};
pub use golden::{GoldenRow, duplicate_gpus, golden};
pub use synthetic::{
    IncrementalRow, LOCALITY_FUTURES, LOCALITY_TRIALS, LocMoeStudy, LocalityRow, LocalityStudy,
    incremental, locality, locality_topology, locmoe,
};

use std::path::PathBuf;

use serde::Serialize;

use crate::MoeError;

/// What to run and where the data is.
#[derive(Debug, Clone)]
pub struct StudyOptions {
    /// The `moe` data directory (with `eplb_golden/` and `esft/`).
    pub data_dir: PathBuf,
    /// Timing repeats per planner and golden file (the median is reported).
    pub repeats: usize,
    /// Seed of every random draw (futures, noise floor, generator).
    pub seed: u64,
}

impl StudyOptions {
    /// Defaults for a data directory.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            repeats: 5,
            seed: 7,
        }
    }
}

/// Everything `skua bench experts` measures.
#[derive(Debug, Clone, Serialize)]
pub struct StudyReport {
    /// EPLB golden files: exactness, quality and time.
    pub golden: Vec<GoldenRow>,
    /// ESFT held-out halves with the noise floor.
    pub held_out: Vec<HeldOutRow>,
    /// ESFT plan on one task, score on another.
    pub cross_task: Vec<CrossRow>,
    /// The same, static plans only, at [`WIDE_SLOTS`] slots.
    pub cross_task_wide: Vec<CrossBudgetRow>,
    /// Locality on the group-limited generator.
    pub locality: LocalityStudy,
    /// Incremental against full re-planning.
    pub incremental: Vec<IncrementalRow>,
    /// LocMoE's analysis.
    pub locmoe: LocMoeStudy,
}

/// Runs every study; `progress` hears one line per stage.
pub fn run_all(
    opts: &StudyOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<StudyReport, MoeError> {
    progress("EPLB golden files");
    let golden = golden(opts)?;
    progress("ESFT tasks: held-out halves");
    let tasks = read_tasks(opts)?;
    let held_out = held_out(opts, &tasks)?;
    progress("ESFT tasks: plan on one, score on another");
    let cross_task = cross_task(opts, &tasks)?;
    let cross_task_wide = cross_task_budget(opts, &tasks, WIDE_SLOTS)?;
    progress("locality on the DeepSeek-V3-like generator");
    let locality = locality(opts)?;
    progress("incremental re-planning under drift");
    let incremental = incremental(opts)?;
    progress("LocMoE analysis and generator calibration");
    let locmoe = locmoe(
        opts,
        tasks.iter().find(|t| t.name == "intent").map(|t| &t.trace),
    )?;
    Ok(StudyReport {
        golden,
        held_out,
        cross_task,
        cross_task_wide,
        locality,
        incremental,
        locmoe,
    })
}
