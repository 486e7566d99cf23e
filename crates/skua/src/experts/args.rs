//! Flags of `skua experts` (kept beside the commands; `cli.rs` only names the struct).

use std::path::PathBuf;

use clap::{ArgGroup, Args, Subcommand, ValueEnum};

/// `skua experts`.
#[derive(Debug, Args)]
pub struct ExpertsArgs {
    #[command(subcommand)]
    pub what: ExpertsWhat,
}

#[derive(Debug, Subcommand)]
pub enum ExpertsWhat {
    /// Plan an expert placement from a load file and write it for EPLB, SGLang or TensorRT-LLM.
    Plan(Box<ExpertsPlanArgs>),
    /// Plan on training data, score on held-out data, several planners side by side.
    Evaluate(Box<ExpertsEvaluateArgs>),
}

/// The layout of a `--load` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LoadFormat {
    /// `window,layer,expert,count` CSV (layers and experts from 0).
    Long,
    /// Per-token CSV `token,layer,topk_0,…[,sequence]`.
    Tokens,
    /// A TensorRT-LLM expert-statistic directory (meta_info.json + rank*.safetensors).
    Trtllm,
    /// OLMoE `expert_counts.csv` (`model,domain,layer,expert,count`); needs --model and --domain
    /// unless the file holds one (model, domain).
    Olmoe,
}

/// A placement planner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlannerArg {
    /// skua's planner: robust balance over sampled futures, locality from tokens, move budget.
    Skua,
    /// The EPLB-equivalent greedy, EPLB's own choice of policy (hierarchical when the expert
    /// groups divide evenly over the nodes, else global).
    Eplb,
    /// The EPLB-equivalent greedy, hierarchical policy (groups to nodes, then replicas to GPUs).
    EplbHierarchical,
    /// The EPLB-equivalent greedy, global policy (replicas over the whole cluster).
    EplbGlobal,
}

impl PlannerArg {
    /// The name used on the command line and in reports.
    pub fn label(self) -> &'static str {
        match self {
            PlannerArg::Skua => "skua",
            PlannerArg::Eplb => "eplb",
            PlannerArg::EplbHierarchical => "eplb-hierarchical",
            PlannerArg::EplbGlobal => "eplb-global",
        }
    }
}

/// How the load to plan for is made from the input's windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ForecasterArg {
    /// All windows summed (no forecast).
    Sum,
    /// The last window.
    Last,
    /// The mean of the last 8 windows (vLLM / SGLang's sliding window).
    Sliding,
    /// An exponentially weighted mean (α = 0.3).
    Ewma,
    /// skua's: per layer EWMA or sliding window by backtest, shrunk toward uniform.
    Skua,
    /// Every expert of a layer at the layer's mean load, for a workload the input says little
    /// about (a new task: on ESFT, another task's expert loads correlate 0.04–0.26 with the
    /// input's). Replicas spread evenly; no sampled futures (they would be centred on the input).
    /// Token input still feeds skua's locality stage.
    Flat,
}

/// How `skua experts evaluate` splits one input into training and held-out data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SplitArg {
    /// Token input: even-numbered sequences train, odd-numbered sequences test.
    Halves,
    /// Windowed input (long CSV, TensorRT-LLM iterations): plan on every window but the last,
    /// score on the last.
    NextWindow,
}

/// How to read a `--load` file (shared by plan and evaluate).
#[derive(Debug, Args, Clone)]
pub struct ReadFlags {
    /// Layout of the --load file(s).
    #[arg(long, value_enum, default_value = "long")]
    pub format: LoadFormat,
    /// OLMoE model to take from expert_counts.csv (e.g. olmoe, mistral).
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// OLMoE domain to take from expert_counts.csv (e.g. arxiv, github).
    #[arg(long, value_name = "NAME")]
    pub domain: Option<String>,
    /// Routed experts per layer of a per-token CSV (default: the largest id + 1).
    #[arg(long, value_name = "N", value_parser = positive_usize)]
    pub experts: Option<usize>,
}

/// The hardware: uniform (`--nodes --gpus --slots`) or per node (`--node-gpus --slots-per-gpu`).
#[derive(Debug, Args, Clone)]
pub struct TopologyArgs {
    /// Nodes (uniform hardware: with --gpus and --slots).
    #[arg(long, value_name = "N", value_parser = positive_usize,
          requires_all = ["gpus", "slots"], conflicts_with_all = ["node_gpus", "slots_per_gpu"])]
    pub nodes: Option<usize>,
    /// GPUs in all, divided evenly over the nodes.
    #[arg(long, value_name = "G", value_parser = positive_usize, requires_all = ["nodes", "slots"])]
    pub gpus: Option<usize>,
    /// Physical expert slots in all (EPLB's num_replicas), divided evenly over the GPUs.
    #[arg(long, value_name = "S", value_parser = positive_usize, requires_all = ["nodes", "gpus"])]
    pub slots: Option<usize>,
    /// GPUs of each node, comma-separated (nodes may differ, e.g. 8,8,4).
    #[arg(long, value_name = "G,G,…", value_delimiter = ',', value_parser = positive_usize,
          requires = "slots_per_gpu")]
    pub node_gpus: Vec<usize>,
    /// Expert slots on every GPU (with --node-gpus).
    #[arg(long, value_name = "K", value_parser = positive_usize, requires = "node_gpus")]
    pub slots_per_gpu: Option<usize>,
    /// Expert groups of the model (EPLB's num_groups; default 1, or the golden file's).
    #[arg(long, value_name = "K", value_parser = positive_usize)]
    pub groups: Option<usize>,
}

/// `skua experts plan`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).args(["load", "esft", "golden"])))]
#[command(group(ArgGroup::new("hardware").required(true).multiple(true)
    .args(["nodes", "node_gpus", "golden"])))]
pub struct ExpertsPlanArgs {
    /// Expert-load file (or TensorRT-LLM directory) in the layout given by --format.
    #[arg(long, value_name = "FILE")]
    pub load: Option<PathBuf>,
    #[command(flatten)]
    pub read: ReadFlags,
    /// Windows (long CSV labels, TensorRT-LLM iterations) to plan for, summed, comma-separated
    /// (default: every window). Sampled futures are fitted on these windows only.
    #[arg(long, value_name = "LABEL,…", value_delimiter = ',', requires = "load")]
    pub window: Vec<String>,
    /// An ESFT task directory (expert_weights_<layer>.txt[.gz], 26 layers × 64 experts, top-6).
    #[arg(long, value_name = "DIR")]
    pub esft: Option<PathBuf>,
    /// An EPLB golden file (json or json.gz): its weight, and by default its topology and groups.
    #[arg(long, value_name = "FILE")]
    pub golden: Option<PathBuf>,
    #[command(flatten)]
    pub topology: TopologyArgs,
    /// The planner.
    #[arg(long, value_enum, default_value = "skua")]
    pub planner: PlannerArg,
    /// Sampled futures of the load for skua's robust objective (default 8 for skua; EPLB uses none).
    #[arg(long, value_name = "N")]
    pub futures: Option<usize>,
    /// The next window's load, forecast from the input's windows (with one window: that window).
    #[arg(long, value_enum, default_value = "skua")]
    pub forecaster: ForecasterArg,
    /// skua's locality stage (with per-token input) may let the hottest GPU reach (1 + S) × the
    /// mean load to keep tokens' experts on fewer nodes; 0 turns it off.
    #[arg(long, value_name = "S", default_value_t = skua_moe::plan::skua::DEFAULT_LOCALITY_SLACK)]
    pub locality_slack: f64,
    /// Seed of the sampled futures.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The placement in service (EPLB JSON with `phy2log`), for incremental re-planning and the
    /// migration plan.
    #[arg(long, value_name = "FILE")]
    pub current: Option<PathBuf>,
    /// At most N slots per layer may receive new weights (skua only; needs --current).
    #[arg(long, value_name = "N", requires = "current")]
    pub move_budget: Option<usize>,
    /// Write EPLB's maps (phy2log, log2phy, logcnt) as JSON here.
    #[arg(long, value_name = "FILE")]
    pub out_eplb: Option<PathBuf>,
    /// Write SGLang's --init-expert-location JSON (physical_to_logical_map) here.
    #[arg(long, value_name = "FILE")]
    pub out_sglang: Option<PathBuf>,
    /// Write TensorRT-LLM's moe_load_balancer.yaml here.
    #[arg(long, value_name = "FILE")]
    pub out_trtllm: Option<PathBuf>,
    /// Write the migration plan from --current (slots to update, sources, bytes) as JSON here.
    #[arg(long, value_name = "FILE", requires = "current")]
    pub out_migration: Option<PathBuf>,
    /// Decoder layers of the model, dense and MoE, for --out-sglang/--out-trtllm (default: the
    /// MoE layers plus --first-dense).
    #[arg(long, value_name = "N", value_parser = positive_usize)]
    pub hidden_layers: Option<usize>,
    /// Dense layers before the first MoE layer (DeepSeek's first_k_dense_replace: 1 for
    /// DeepSeek-V2-Lite/ESFT, 3 for DeepSeek-V3; default 0, or --hidden-layers minus the MoE
    /// layers).
    #[arg(long, value_name = "K")]
    pub first_dense: Option<usize>,
    /// TensorRT-LLM's layer_updates_per_iter (0 = a static placement).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub layer_updates_per_iter: usize,
    /// Bytes of one expert's weights, for the migration plan (default: DeepSeek-V3 FP8,
    /// 3 × 7,168 × 2,048).
    #[arg(long, value_name = "BYTES")]
    pub expert_bytes: Option<u64>,
    /// Also write the summary (and per-layer scores) as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// `skua experts evaluate`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("input").required(true).multiple(true)
    .args(["load", "esft", "train_load", "train_esft"])))]
#[command(group(ArgGroup::new("single").args(["load", "esft"])
    .conflicts_with_all(["train", "test"]).requires("split")))]
#[command(group(ArgGroup::new("train").args(["train_load", "train_esft"]).requires("test")))]
#[command(group(ArgGroup::new("test").args(["test_load", "test_esft"]).requires("train")))]
#[command(group(ArgGroup::new("hardware").required(true).multiple(true)
    .args(["nodes", "node_gpus"])))]
pub struct ExpertsEvaluateArgs {
    /// One expert-load file to split with --split (layout given by --format).
    #[arg(long, value_name = "FILE")]
    pub load: Option<PathBuf>,
    /// One ESFT task directory to split with --split halves.
    #[arg(long, value_name = "DIR")]
    pub esft: Option<PathBuf>,
    /// How to split the one input into training and held-out data.
    #[arg(long, value_enum, requires = "single")]
    pub split: Option<SplitArg>,
    /// Training load file (layout given by --format).
    #[arg(long, value_name = "FILE")]
    pub train_load: Option<PathBuf>,
    /// Training ESFT task directory.
    #[arg(long, value_name = "DIR")]
    pub train_esft: Option<PathBuf>,
    /// Held-out load file (layout given by --format).
    #[arg(long, value_name = "FILE")]
    pub test_load: Option<PathBuf>,
    /// Held-out ESFT task directory.
    #[arg(long, value_name = "DIR")]
    pub test_esft: Option<PathBuf>,
    #[command(flatten)]
    pub read: ReadFlags,
    /// Windows of the training file to use, summed, comma-separated (default: every window).
    #[arg(
        long,
        value_name = "LABEL,…",
        value_delimiter = ',',
        requires = "train_load"
    )]
    pub train_window: Vec<String>,
    /// Windows of the held-out file to use, summed, comma-separated (default: every window).
    #[arg(
        long,
        value_name = "LABEL,…",
        value_delimiter = ',',
        requires = "test_load"
    )]
    pub test_window: Vec<String>,
    /// OLMoE domain of the training file (default: --domain).
    #[arg(long, value_name = "NAME", requires = "train_load")]
    pub train_domain: Option<String>,
    /// OLMoE domain of the held-out file (default: --domain).
    #[arg(long, value_name = "NAME", requires = "test_load")]
    pub test_domain: Option<String>,
    #[command(flatten)]
    pub topology: TopologyArgs,
    /// Planners to compare, comma-separated (default: skua and eplb, plus eplb-global when
    /// EPLB's own choice is hierarchical, so both EPLB policies are shown).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "A,B,…")]
    pub planners: Vec<PlannerArg>,
    /// Sampled futures of the training load for skua's robust objective.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub futures: usize,
    /// The training load every planner plans for, forecast from the training windows.
    #[arg(long, value_enum, default_value = "sum")]
    pub forecaster: ForecasterArg,
    /// skua's locality stage (with per-token input) may let the hottest GPU reach (1 + S) × the
    /// mean load to keep tokens' experts on fewer nodes; 0 turns it off.
    #[arg(long, value_name = "S", default_value_t = skua_moe::plan::skua::DEFAULT_LOCALITY_SLACK)]
    pub locality_slack: f64,
    /// Seed of the sampled futures and of the noise-floor draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// GPU capacity as a multiple of the mean GPU load, for the drop rate.
    #[arg(long, value_name = "C", default_value_t = 1.25, value_parser = positive_f64)]
    pub capacity_factor: f64,
    /// Multinomial draws of the held-out counts behind the noise floor.
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = positive_usize)]
    pub noise_draws: usize,
    /// Write every figure (per planner and per layer) as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// A whole number ≥ 1.
pub fn positive_usize(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(v) if v > 0 => Ok(v),
        _ => Err(format!("{s:?} is not a whole number ≥ 1")),
    }
}

/// A finite number > 0.
fn positive_f64(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("{s:?} is not a number greater than 0")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_checked() {
        assert_eq!(positive_usize("3"), Ok(3));
        assert!(positive_usize("0").is_err() && positive_usize("-1").is_err());
        assert_eq!(positive_f64("1.25"), Ok(1.25));
        assert!(positive_f64("0").is_err() && positive_f64("nan").is_err());
    }
}
