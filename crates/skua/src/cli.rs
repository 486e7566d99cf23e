//! Command-line arguments (clap). Low-level flags here are turned once into the libraries'
//! validated configuration types by the `to_*` methods (ripgrep's args → config split).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use skua_core::time::parse_duration;
use skua_fleet::PlanConstraints;
use skua_telemetry::{IngestOptions, Policy, ValidateConfig};

/// skua predicts load and allocates resources by it.
///
/// The fleet plane (after Seagull, VLDB 2021): ingest per-server telemetry, validate it,
/// forecast each server's load 24 h ahead, plan maintenance windows in the predicted
/// low-load hours and check the choices against what really happened.
#[derive(Debug, Parser)]
#[command(name = "skua", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Print less: no progress bars or stage lines (results and errors still print).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The main job: ingest → validate → forecast → plan → evaluate → HTML report.
    Run(RunArgs),
    /// Read and validate telemetry files and store the accepted series.
    Ingest(IngestArgs),
    /// Read and validate telemetry files without storing anything (a dry run of ingest).
    Validate(ValidateOnlyArgs),
    /// Forecast the next 24 h of every stored series (and optionally backtest the models).
    Forecast(ForecastArgs),
    /// Plan one maintenance job per server in the predicted low-load window.
    Plan(PlanArgs),
    /// Replay history day by day and score every window policy (regret, hit rate).
    Evaluate(EvaluateArgs),
    /// Benchmarks, side by side with a peer where one exists.
    Bench(BenchArgs),
    /// Write the built-in demo fleet as CSV (the data `skua run --demo` uses).
    Demo(DemoArgs),
    /// The serving plane: simulate LLM serving clusters on request traces.
    Simulate(SimulateArgs),
    /// The expert plane: plan MoE expert placements and score them on held-out load.
    Experts(crate::experts::ExpertsArgs),
}

/// Where the store lives.
#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// The SQLite store file (created if missing).
    #[arg(long, env = "SKUA_STORE", default_value = "skua.db")]
    pub store: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Long,
    Wide,
    Single,
    BitbrainsRaw,
    Parquet,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TimeFormatArg {
    Auto,
    Rfc3339,
    Datetime,
    UnixSeconds,
    UnixMillis,
    /// An integer step index times `--step-secs` from the Unix epoch (ASD's `step`).
    Step,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum UnitArg {
    Percent,
    Count,
    Other,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum PolicyArg {
    /// Any error rejects the series (nothing of it is stored).
    Reject,
    /// Repair what can be repaired (sort, dedupe, snap, fill short gaps, clip), counting each fix.
    Repair,
}

/// How to read input files: everything is detected unless given.
#[derive(Debug, Args, Clone, Default)]
pub struct ReadArgs {
    /// A TOML column mapping (format, delimiter, time_format, unit, [columns]); flags override it.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// Force the file format instead of detecting it.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Field separator (one character, or `\t`).
    #[arg(long)]
    pub delimiter: Option<String>,
    /// Timestamp format (default: detected from the first values and reported).
    #[arg(long, value_enum)]
    pub time_format: Option<TimeFormatArg>,
    /// Unit of the values (default: inferred from column and file names).
    #[arg(long, value_enum)]
    pub unit: Option<UnitArg>,
    /// Name of the series (server) column of a long file.
    #[arg(long, value_name = "COLUMN")]
    pub series_col: Option<String>,
    /// Name of the timestamp column.
    #[arg(long, value_name = "COLUMN")]
    pub time_col: Option<String>,
    /// Name of the value column; repeat it to read several columns of a long file, each
    /// as its own series `server/column` (e.g. `--value-col m0 --value-col m5`).
    #[arg(long, value_name = "COLUMN")]
    pub value_col: Vec<String>,
    /// Seconds per step when timestamps are step indices (`--time-format step`; given alone,
    /// it implies it).
    #[arg(long, value_name = "SECS")]
    pub step_secs: Option<u64>,
    /// Name of the metric column (series ids become `server/metric`).
    #[arg(long, value_name = "COLUMN")]
    pub metric_col: Option<String>,
    /// A column copied into the series labels (repeatable), e.g. `--label cluster`.
    #[arg(long = "label", value_name = "COLUMN")]
    pub labels: Vec<String>,
    /// Series id for a one-series file (default: the file stem).
    #[arg(long)]
    pub series_id: Option<String>,
}

impl ReadArgs {
    /// The reading options: the mapping file (if any) with the flags on top.
    pub fn to_options(&self) -> Result<IngestOptions> {
        let mut o = match &self.mapping {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read mapping file {}", p.display()))?;
                toml::from_str::<IngestOptions>(&text)
                    .with_context(|| format!("mapping file {} is not valid", p.display()))?
            }
            None => IngestOptions::default(),
        };
        use skua_telemetry::{Format, TimeFormat};
        if let Some(f) = self.format {
            o.format = Some(match f {
                FormatArg::Long => Format::Long,
                FormatArg::Wide => Format::Wide,
                FormatArg::Single => Format::Single,
                FormatArg::BitbrainsRaw => Format::BitbrainsRaw,
                FormatArg::Parquet => Format::Parquet,
            });
        }
        if let Some(d) = &self.delimiter {
            o.delimiter = Some(d.clone());
        }
        if let Some(t) = self.time_format {
            o.time_format = match t {
                TimeFormatArg::Auto => TimeFormat::Auto,
                TimeFormatArg::Rfc3339 => TimeFormat::Rfc3339,
                TimeFormatArg::Datetime => TimeFormat::DateTime,
                TimeFormatArg::UnixSeconds => TimeFormat::UnixSeconds,
                TimeFormatArg::UnixMillis => TimeFormat::UnixMillis,
                TimeFormatArg::Step => TimeFormat::Step,
            };
        }
        if let Some(s) = self.step_secs {
            o.step_secs = Some(s);
        }
        if let Some(u) = self.unit {
            o.unit = Some(match u {
                UnitArg::Percent => skua_core::Unit::Percent,
                UnitArg::Count => skua_core::Unit::Count,
                UnitArg::Other => skua_core::Unit::Other,
            });
        }
        let c = &mut o.columns;
        for (flag, slot) in [
            (&self.series_col, &mut c.series),
            (&self.time_col, &mut c.timestamp),
            (&self.metric_col, &mut c.metric),
        ] {
            if let Some(v) = flag {
                *slot = Some(v.clone());
            }
        }
        match self.value_col.as_slice() {
            [] => {}
            [one] => c.value = Some(one.clone()),
            many => {
                c.value = None;
                c.values = many.to_vec();
            }
        }
        for l in &self.labels {
            if !c.labels.contains(l) {
                c.labels.push(l.clone());
            }
        }
        if let Some(id) = &self.series_id {
            o.series_id = Some(id.clone());
        }
        Ok(o)
    }
}

/// How to validate.
#[derive(Debug, Args, Clone)]
pub struct CheckArgs {
    /// What to do with a series that has errors.
    #[arg(long, value_enum)]
    pub policy: Option<PolicyArg>,
    /// Under repair, fill gaps of at most this many grid steps by linear interpolation.
    #[arg(long, default_value_t = 3)]
    pub max_fill: usize,
    /// Least history a series needs (a 24 h-ahead forecast needs more than a day).
    #[arg(long, default_value = "2d", value_parser = duration)]
    pub min_history: i64,
    /// Shortest run of identical values reported as a flat line.
    #[arg(long, default_value = "1d", value_parser = duration)]
    pub flat_min: i64,
    /// Sampling interval to use instead of detecting it (e.g. `5m`).
    #[arg(long, value_parser = duration)]
    pub interval: Option<i64>,
}

impl CheckArgs {
    /// The validation configuration; `default_policy` applies when `--policy` is absent.
    pub fn to_config(&self, default_policy: PolicyArg) -> ValidateConfig {
        ValidateConfig {
            policy: match self.policy.unwrap_or(default_policy) {
                PolicyArg::Reject => Policy::Reject,
                PolicyArg::Repair => Policy::Repair,
            },
            max_fill_steps: self.max_fill,
            flat_min_secs: self.flat_min,
            min_history_secs: self.min_history,
            interval: self.interval,
        }
    }
}

/// Parses a duration flag (`1h`, `90m`, `2d`, `300`).
pub fn duration(s: &str) -> Result<i64, String> {
    match parse_duration(s) {
        Some(d) if d > 0 => Ok(d),
        _ => Err(format!(
            "{s:?} is not a positive duration (examples: 300, 5m, 1h, 2h30m, 1d)"
        )),
    }
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files or directories (searched recursively) to read.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub read: ReadArgs,
    #[command(flatten)]
    pub check: CheckArgs,
    /// Also write the full validation report (files and series) as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Show every series in the validation table, not only those with issues.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct ValidateOnlyArgs {
    /// Files or directories (searched recursively) to read.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub read: ReadArgs,
    #[command(flatten)]
    pub check: CheckArgs,
    /// Write the full validation report (files and series) as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Show every series, not only those with issues.
    #[arg(long)]
    pub all: bool,
}

/// Which series of the store to use.
#[derive(Debug, Args, Clone, Default)]
pub struct SelectArgs {
    /// Only these series ids (repeatable).
    #[arg(long = "series", value_name = "ID")]
    pub series: Vec<String>,
    /// When a server has several metrics, use this one (default: the CPU-like one, else the first).
    #[arg(long)]
    pub metric: Option<String>,
}

#[derive(Debug, Args)]
pub struct ForecastArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Model: previous_day, previous_week, seasonal_naive, mean_<k>d (e.g. mean_7d).
    #[arg(long, default_value = "mean_7d")]
    pub model: String,
    /// How far ahead to forecast.
    #[arg(long, default_value = "24h", value_parser = duration)]
    pub horizon: i64,
    /// Also run the rolling-origin backtest (24 h horizon, last 14 days) of every baseline.
    #[arg(long)]
    pub backtest: bool,
    /// Write forecasts (and backtest results) as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// Planning constraints as flags; they override a `--constraints` TOML file.
#[derive(Debug, Args, Clone, Default)]
pub struct ConstraintArgs {
    /// A constraints TOML file (duration, group_by, max_concurrent, allowed_hours, deadline,
    /// [groups.<name>], [[servers]]).
    #[arg(long, value_name = "FILE")]
    pub constraints: Option<PathBuf>,
    /// Job length (default 1h).
    #[arg(long, value_parser = duration)]
    pub duration: Option<i64>,
    /// Label whose value defines a server's group (e.g. cluster, region).
    #[arg(long)]
    pub group_by: Option<String>,
    /// At most this many jobs at once in any group.
    #[arg(long)]
    pub max_concurrent: Option<usize>,
    /// Allowed UTC start hours for every server, e.g. `0-6,22-23`.
    #[arg(long)]
    pub allowed_hours: Option<String>,
    /// Latest start: `+20h` after the plan origin or a clock time `06:00` (UTC).
    #[arg(long)]
    pub deadline: Option<String>,
}

impl ConstraintArgs {
    /// The validated constraints: the TOML file (if any) with the flags on top.
    pub fn to_constraints(&self) -> Result<PlanConstraints> {
        let mut doc: toml::Table = match &self.constraints {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read constraints file {}", p.display()))?;
                text.parse::<toml::Table>().with_context(|| {
                    format!("constraints file {} is not valid TOML", p.display())
                })?
            }
            None => toml::Table::new(),
        };
        if let Some(d) = self.duration {
            doc.insert("duration".into(), toml::Value::String(format!("{d}s")));
        }
        if let Some(g) = &self.group_by {
            doc.insert("group_by".into(), toml::Value::String(g.clone()));
        }
        if let Some(m) = self.max_concurrent {
            if m == 0 {
                bail!("--max-concurrent must be at least 1");
            }
            doc.insert("max_concurrent".into(), toml::Value::Integer(m as i64));
        }
        if let Some(h) = &self.allowed_hours {
            doc.insert("allowed_hours".into(), toml::Value::String(h.clone()));
        }
        if let Some(d) = &self.deadline {
            doc.insert("deadline".into(), toml::Value::String(d.clone()));
        }
        let text = toml::to_string(&doc).context("cannot re-serialise the constraints")?;
        let what = self
            .constraints
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "the planning flags".into());
        PlanConstraints::from_toml(&text).with_context(|| format!("invalid constraints in {what}"))
    }
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub constraints: ConstraintArgs,
    /// Forecasting model used to predict the load.
    #[arg(long, default_value = "mean_7d")]
    pub model: String,
    /// Plan origin (RFC 3339); default: the end of the newest data in the store.
    #[arg(long)]
    pub at: Option<String>,
    /// Skip servers whose data ends more than this before the origin.
    #[arg(long, default_value = "2d", value_parser = duration)]
    pub max_staleness: i64,
    /// Write the schedule as `<OUT>.csv` and `<OUT>.json`.
    #[arg(long, default_value = "schedule", value_name = "OUT")]
    pub out: PathBuf,
}

#[derive(Debug, Args, Clone)]
pub struct EvalArgs {
    /// Whole days of history needed before a day is scored.
    #[arg(long, default_value_t = 7)]
    pub min_history_days: usize,
    /// Seed of the random-window policy.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Forecast models to evaluate (comma-separated; default: every baseline).
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub eval: EvalArgs,
    /// Job length the windows are chosen for.
    #[arg(long, default_value = "1h", value_parser = duration)]
    pub duration: i64,
    /// Write the evaluation summary as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Live mode: score the stored forecasts whose horizon has been observed, update the
    /// model registry's track record, fall back where accuracy degraded, and raise alerts.
    #[arg(long)]
    pub live: bool,
    /// Evaluation time (RFC 3339, e.g. 2026-10-13T00:00:00Z); default: now.
    #[arg(long, requires = "live")]
    pub now: Option<String>,
    /// Append alerts as JSON lines to this file (default: stdout, with the summary on stderr).
    #[arg(long, value_name = "FILE", requires = "live")]
    pub alerts_jsonl: Option<PathBuf>,
    /// Also POST alerts to this Alertmanager (plain http, e.g. http://127.0.0.1:9093).
    #[arg(long, value_name = "URL", requires = "live")]
    pub alertmanager_url: Option<String>,
    /// Timeout of the Alertmanager POST.
    #[arg(long, default_value = "10s", value_parser = duration, requires = "live")]
    pub alert_timeout: i64,
    /// A series whose newest sample is older than this before --now raises a stale-data alert.
    #[arg(long, default_value = "2d", value_parser = duration, requires = "live")]
    pub stale_after: i64,
    /// The deployed model fails when its live MAE exceeds this × its backtest MAE.
    #[arg(long, default_value_t = 1.5, requires = "live")]
    pub degrade_factor: f64,
    /// Days of live scores averaged by the degradation check.
    #[arg(long, default_value_t = 3, requires = "live")]
    pub degrade_days: i64,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Telemetry files or directories; omit with --demo.
    pub paths: Vec<PathBuf>,
    /// Run on the built-in seeded demo fleet instead of files.
    #[arg(long, conflicts_with = "paths")]
    pub demo: bool,
    /// Seed of the demo fleet.
    #[arg(long, default_value_t = 7, requires = "demo")]
    pub demo_seed: u64,
    /// Output directory: report.html, report.json, schedule.csv/json, evaluation.json,
    /// validation.json and the store (skua.db) unless --store is given.
    #[arg(long, default_value = "skua-out")]
    pub out: PathBuf,
    /// The SQLite store (default: <OUT>/skua.db).
    #[arg(long, env = "SKUA_STORE")]
    pub store: Option<PathBuf>,
    #[command(flatten)]
    pub read: ReadArgs,
    #[command(flatten)]
    pub check: CheckArgs,
    #[command(flatten)]
    pub constraints: ConstraintArgs,
    #[command(flatten)]
    pub eval: EvalArgs,
    /// Detailed forecast panels in the report (the rest of the fleet is summarised).
    #[arg(long, default_value_t = 12)]
    pub panels: usize,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchWhat,
}

#[derive(Debug, Subcommand)]
pub enum BenchWhat {
    /// Fleet plane: ingest+validate throughput, store, forecast, plan and evaluate on the
    /// 1M-row Bitbrains file; with --peer, the same work in pandas + statsforecast.
    Fleet(BenchFleetArgs),
    /// Forecasting: every skua decision policy through the fleet benchmark protocol on
    /// Bitbrains-500 and ASD (m0, m5); with --peer, statsforecast 2.1.1 side by side.
    Forecast(BenchForecastArgs),
    /// Serving: every routing/role policy side by side on the Azure and Mooncake traces
    /// (attainment at ×1/×2/×4, goodput, latencies), under the serving benchmark protocol.
    Serving(Box<crate::bench_serving::BenchServingArgs>),
    /// Experts: the expert plane's studies on the EPLB golden files and the shared MoE data
    /// (skua's planner and the EPLB-equivalent against DeepSeek's EPLB, with ratios).
    Experts(crate::bench_experts::BenchExpertsArgs),
}

/// `skua bench forecast`.
#[derive(Debug, Args)]
pub struct BenchForecastArgs {
    /// The fleet data folder (holds bitbrains_rnd/ and asd/).
    #[arg(long, default_value = "../shared/data/fleet")]
    pub data_dir: PathBuf,
    /// Also run the peer (bench/forecast_peer.py: statsforecast 2.1.1, n_jobs=1) and print
    /// both tools side by side with the ratios.
    #[arg(long)]
    pub peer: bool,
    /// Series per dataset (seeded) on which the peer runs its slow models (AutoETS, MSTL).
    #[arg(long, default_value_t = 20)]
    pub peer_sample: usize,
    /// Use this saved peer output (the JSON the peer script prints) instead of running it.
    #[arg(long, value_name = "FILE")]
    pub peer_json: Option<PathBuf>,
    /// Python interpreter for the peer.
    #[arg(long, default_value = "python3")]
    pub python: String,
    /// Write every figure as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BenchFleetArgs {
    /// The telemetry file to measure on.
    #[arg(
        long,
        default_value = "../shared/data/fleet/bitbrains_rnd/bitbrains_rnd_hourly_cpu.csv.gz"
    )]
    pub data: PathBuf,
    /// Repetitions of each timed step (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Also run the peer (bench/fleet_peer.py: pandas + statsforecast) and print ratios.
    #[arg(long)]
    pub peer: bool,
    /// Python interpreter for the peer.
    #[arg(long, default_value = "python3")]
    pub python: String,
    /// Write the figures as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to write the CSV.
    #[arg(long, default_value = "demo_fleet_cpu.csv")]
    pub out: PathBuf,
    /// Seed of the generator.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Number of servers.
    #[arg(long, default_value_t = 48)]
    pub servers: usize,
    /// Days of history.
    #[arg(long, default_value_t = 35)]
    pub days: u32,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    #[command(subcommand)]
    pub what: SimulateWhat,
}

#[derive(Debug, Subcommand)]
pub enum SimulateWhat {
    /// Simulate a workload on a cluster: latencies, SLO attainment, utilisation.
    Run(Box<SimRunArgs>),
    /// List the engine profiles `--profile` accepts.
    Profiles,
    /// Replay DistServe's 37 measured runs (calibrated on half of them) and compare latencies.
    Fidelity(SimFidelityArgs),
}

/// Where the serving data lives.
#[derive(Debug, Args, Clone)]
pub struct ServingDataArgs {
    /// The serving data folder (azure_llm_2023/, mooncake/, distserve_profile/, …).
    #[arg(
        long,
        env = "SKUA_SERVING_DATA",
        default_value = "../shared/data/serving",
        value_name = "DIR"
    )]
    pub data: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TraceFormatArg {
    /// Azure LLM inference trace 2023 (TIMESTAMP,ContextTokens,GeneratedTokens).
    Azure,
    /// Mooncake JSON lines (timestamp, input_length, output_length, hash_ids).
    Mooncake,
    /// BurstGPT CSV (Timestamp, Model, Request tokens, Response tokens, …).
    Burstgpt,
}

/// `skua simulate run`.
#[derive(Debug, Args)]
#[command(group(
    clap::ArgGroup::new("workload")
        .required(true)
        .args(["trace", "servegen", "synthetic"])
))]
pub struct SimRunArgs {
    /// Trace to replay: `azure`, `mooncake` (the shared traces) or a file path.
    #[arg(long, value_name = "azure|mooncake|FILE")]
    pub trace: Option<String>,
    /// Format of a trace file (default: by extension, .csv = azure, .jsonl = mooncake).
    #[arg(long, value_enum, requires = "trace")]
    pub format: Option<TraceFormatArg>,
    /// Generate the workload from a ServeGen client directory (its chunk-0 files).
    #[arg(long, value_name = "DIR")]
    pub servegen: Option<PathBuf>,
    /// Hours of ServeGen traffic to generate from the trace start (default 1).
    #[arg(
        long,
        value_name = "H",
        requires = "servegen",
        conflicts_with = "slice",
        value_parser = positive_f64
    )]
    pub servegen_hours: Option<f64>,
    /// N synthetic requests (Poisson arrivals, log-normal lengths) at `--rate`.
    #[arg(long, value_name = "N", requires = "rate")]
    pub synthetic: Option<usize>,
    /// Arrival rate of the synthetic workload, requests/s.
    #[arg(long, value_name = "REQ/S", requires = "synthetic", value_parser = positive_f64)]
    pub rate: Option<f64>,
    /// Mean prompt length of the synthetic workload, tokens (log-normal, CV 1).
    #[arg(long, default_value_t = 512.0, requires = "synthetic", value_parser = positive_f64)]
    pub input_mean: f64,
    /// Mean output length of the synthetic workload, tokens (log-normal, CV 1).
    #[arg(long, default_value_t = 128.0, requires = "synthetic", value_parser = positive_f64)]
    pub output_mean: f64,
    #[command(flatten)]
    pub data: ServingDataArgs,
    /// Arrival speed-up: trace timestamps divided by X (2 = twice the request rate).
    #[arg(long, default_value_t = 1.0, value_name = "X", value_parser = positive_f64)]
    pub speedup: f64,
    /// Only arrivals in [START, END) seconds, re-based to START (`600:1200`, `3600:` for the rest;
    /// with --servegen, the range generated).
    #[arg(long, value_name = "START:END", value_parser = slice_range)]
    pub slice: Option<(f64, f64)>,
    /// Only the first N requests (after --slice).
    #[arg(long, value_name = "N")]
    pub take: Option<usize>,
    /// Seed of the synthetic and ServeGen generators.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Mixed instances (default 8; 16 for Mooncake traces, as the benchmark protocol says).
    #[arg(long, value_name = "N", conflicts_with = "pd",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub instances: Option<u64>,
    /// Engine profile (default opt-13b; llama2-70b:tp4@a100 for Mooncake traces); see
    /// `skua simulate profiles`.
    #[arg(long, value_name = "SPEC")]
    pub profile: Option<String>,
    /// P prefill + D decode instances (disaggregated, routed by pd_pair) instead of mixed ones.
    #[arg(long, value_name = "P:D", value_parser = pd_split)]
    pub pd: Option<(usize, usize)>,
    /// Routing policy, any name of `skua bench serving`'s catalog (e.g. round_robin,
    /// least_outstanding, sglang_cache_aware, dynamo_kv, pd_static_1to1, skua, skua_pd, oracle);
    /// it sets the instance roles and role controller too. Default least_outstanding.
    #[arg(long, value_name = "POLICY", conflicts_with = "pd",
          value_parser = crate::bench_serving::args::policy_name)]
    pub router: Option<String>,
    /// Prefill whole prompts in prefill-only iterations (vLLM 0.2) instead of in chunks.
    #[arg(long)]
    pub no_chunked_prefill: bool,
    /// Turn the prefix cache off.
    #[arg(long)]
    pub no_prefix_cache: bool,
    /// Tokens per iteration (vLLM's max_num_batched_tokens; default 2048 with chunked prefill).
    #[arg(long, value_name = "TOKENS", value_parser = clap::value_parser!(u32).range(1..))]
    pub token_budget: Option<u32>,
    /// Age of the scraped engine metrics the router sees, ms (0 = exact). Default: the policy's
    /// own (50 ms; 30 s for production_stack_loadaware).
    #[arg(long, value_name = "MS", value_parser = non_negative_f64)]
    pub staleness_ms: Option<f64>,
    /// Stop S seconds after the last arrival; what is still in flight counts as unfinished.
    #[arg(long, value_name = "S", value_parser = non_negative_f64)]
    pub time_limit: Option<f64>,
    /// Write every figure as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Include one outcome per request in the JSON.
    #[arg(long, requires = "json")]
    pub per_request: bool,
}

/// `skua simulate fidelity`.
#[derive(Debug, Args)]
pub struct SimFidelityArgs {
    #[command(flatten)]
    pub data: ServingDataArgs,
    /// Replay with the published profiles as they are, without fitting the per-engine
    /// prefill/decode factors on the tuning runs.
    #[arg(long)]
    pub uncalibrated: bool,
    /// Write every figure as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

fn parse_f64(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("{s:?} is not a number"))
}

/// A finite number > 0.
fn positive_f64(s: &str) -> Result<f64, String> {
    let v = parse_f64(s)?;
    if v > 0.0 {
        Ok(v)
    } else {
        Err(format!("{s} must be greater than 0"))
    }
}

/// A finite number ≥ 0.
fn non_negative_f64(s: &str) -> Result<f64, String> {
    let v = parse_f64(s)?;
    if v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("{s} must not be negative"))
    }
}

/// `START:END` seconds, END optional (`3600:` = to the end).
pub fn slice_range(s: &str) -> Result<(f64, f64), String> {
    let usage = || format!("{s:?} is not START:END in seconds (examples: 0:3600, 600:1200, 3600:)");
    let (a, b) = s.split_once(':').ok_or_else(usage)?;
    let start = non_negative_f64(a).map_err(|_| usage())?;
    let end = if b.trim().is_empty() {
        f64::INFINITY
    } else {
        parse_f64(b).map_err(|_| usage())?
    };
    if end <= start {
        return Err(format!("{s:?}: END must be after START"));
    }
    Ok((start, end))
}

/// `P:D`, two whole numbers ≥ 1.
pub fn pd_split(s: &str) -> Result<(usize, usize), String> {
    let usage = || format!("{s:?} is not P:D (prefill and decode instance counts, e.g. 2:6)");
    let (p, d) = s.split_once(':').ok_or_else(usage)?;
    let p: usize = p.trim().parse().map_err(|_| usage())?;
    let d: usize = d.trim().parse().map_err(|_| usage())?;
    if p == 0 || d == 0 {
        return Err(format!(
            "{s:?}: a disaggregated cluster needs at least 1 prefill and 1 decode instance"
        ));
    }
    Ok((p, d))
}
