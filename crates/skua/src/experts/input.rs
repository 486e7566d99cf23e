//! What `skua experts` plans on and scores on: load files of every supported layout, ESFT task
//! directories and EPLB golden files, read once into [`Loaded`] and turned into an [`Input`]
//! (the load, its history of windows and, for token data, the routing trace); the topology and
//! the planners from their flags; and the EPLB-shaped placement of `--current`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use skua_moe::forecast::windows_from_trace;
use skua_moe::io::esft::{EsftOptions, read_esft_task_with};
use skua_moe::io::golden::{GoldenCase, read_golden};
use skua_moe::io::long::{WindowedLoad, read_long_csv, read_token_csv};
use skua_moe::io::olmoe::read_olmoe_counts;
use skua_moe::io::trtllm::read_trtllm_statistics;
use skua_moe::plan::Planner;
use skua_moe::plan::eplb::{EplbGreedy, EplbMode};
use skua_moe::plan::skua::SkuaPlanner;
use skua_moe::{ExpertLoad, Placement, TokenTrace, Topology};

use super::args::{LoadFormat, PlannerArg, ReadFlags, TopologyArgs};
use crate::output::thousands;

/// Windows a token trace is cut into to fit the sampled futures' dispersion.
pub const TRACE_WINDOWS: usize = 8;

/// Where the data comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A `--load` file (or TensorRT-LLM directory) in a `--format` layout; `domain` overrides
    /// `--domain` for OLMoE files.
    Load {
        path: PathBuf,
        domain: Option<String>,
    },
    /// An ESFT task directory.
    Esft(PathBuf),
    /// An EPLB golden file.
    Golden(PathBuf),
}

/// The data as read, before any window selection or split.
pub enum Data {
    /// Consecutive windows (long CSV, TensorRT-LLM iterations).
    Windows(WindowedLoad),
    /// Per-token routing (ESFT, per-token CSV).
    Tokens(TokenTrace),
    /// One aggregate (OLMoE counts).
    Counts(ExpertLoad),
    /// An EPLB golden case (its weight is the load).
    Golden(Box<GoldenCase>),
}

/// One source, read.
pub struct Loaded {
    /// What it is, for the summary (`esft law (…/esft/law)`).
    pub what: String,
    /// The data.
    pub data: Data,
    /// The model layer of each load row, when the source names them (OLMoE, TensorRT-LLM).
    pub layer_ids: Option<Vec<usize>>,
}

/// A load ready to plan on or score on.
pub struct Input {
    /// What it is, for the summary.
    pub what: String,
    /// The load, `layers × experts`.
    pub load: ExpertLoad,
    /// Consecutive windows the load was made of (oldest first), for the futures' dispersion.
    pub history: Vec<ExpertLoad>,
    /// Per-token routing of the same tokens, when the source has it.
    pub trace: Option<TokenTrace>,
    /// The model layer of each load row, when the source names them.
    pub layer_ids: Option<Vec<usize>>,
}

/// Reads a source; errors name the file and, for malformed content, the line.
pub fn read(source: &Source, flags: &ReadFlags) -> Result<Loaded> {
    match source {
        Source::Esft(dir) => {
            let opts = EsftOptions {
                gate_weights: false,
                ..EsftOptions::default()
            };
            let task = read_esft_task_with(dir, &opts).with_context(|| {
                format!(
                    "cannot read the ESFT task directory {} (expected expert_weights_1 … \
                     expert_weights_{}.txt[.gz])",
                    dir.display(),
                    opts.layers
                )
            })?;
            Ok(Loaded {
                what: format!("ESFT task {} ({})", task.name, dir.display()),
                data: Data::Tokens(task.trace),
                layer_ids: None,
            })
        }
        Source::Golden(path) => {
            let case = read_golden(path)
                .with_context(|| format!("cannot read the EPLB golden file {}", path.display()))?;
            Ok(Loaded {
                what: format!("EPLB golden {} ({})", case.name, path.display()),
                data: Data::Golden(Box::new(case)),
                layer_ids: None,
            })
        }
        Source::Load { path, domain } => read_load(path, flags, domain.as_deref()),
    }
}

fn read_load(path: &Path, flags: &ReadFlags, domain: Option<&str>) -> Result<Loaded> {
    let shown = path.display();
    match flags.format {
        LoadFormat::Long => {
            let w = read_long_csv(path)
                .with_context(|| format!("cannot read the long-format load {shown}"))?;
            Ok(Loaded {
                what: format!("long CSV {shown} ({} windows)", w.windows.len()),
                data: Data::Windows(w),
                layer_ids: None,
            })
        }
        LoadFormat::Tokens => {
            let t = read_token_csv(path, flags.experts)
                .with_context(|| format!("cannot read the per-token CSV {shown}"))?;
            Ok(Loaded {
                what: format!(
                    "per-token CSV {shown} ({} tokens, {} sequences)",
                    thousands(t.tokens() as u64),
                    thousands(t.sequences() as u64)
                ),
                data: Data::Tokens(t),
                layer_ids: None,
            })
        }
        LoadFormat::Trtllm => {
            let s = read_trtllm_statistics(path).with_context(|| {
                format!("cannot read the TensorRT-LLM expert statistics in {shown}")
            })?;
            Ok(Loaded {
                what: format!(
                    "TensorRT-LLM statistics {shown} ({} ranks, {} iterations)",
                    s.ranks,
                    s.per_iteration.windows.len()
                ),
                data: Data::Windows(s.per_iteration),
                layer_ids: Some(s.layer_ids),
            })
        }
        LoadFormat::Olmoe => {
            let all = read_olmoe_counts(path)
                .with_context(|| format!("cannot read the OLMoE counts {shown}"))?;
            let domain = domain.or(flags.domain.as_deref());
            let keys: Vec<_> = all
                .keys()
                .filter(|(m, d)| {
                    flags.model.as_deref().is_none_or(|x| x == m) && domain.is_none_or(|x| x == d)
                })
                .cloned()
                .collect();
            let [key] = keys.as_slice() else {
                let known: Vec<String> = all.keys().map(|(m, d)| format!("{m}/{d}")).collect();
                bail!(
                    "{shown}: {} (model, domain) pairs match --model {} --domain {}; pick one of: {}",
                    keys.len(),
                    flags.model.as_deref().unwrap_or("(any)"),
                    domain.unwrap_or("(any)"),
                    known.join(", ")
                );
            };
            let c = all[key].clone();
            Ok(Loaded {
                what: format!("OLMoE counts {shown} (model {}, domain {})", key.0, key.1),
                data: Data::Counts(c.load),
                layer_ids: Some(c.layer_ids),
            })
        }
    }
}

impl Loaded {
    /// The input: the chosen windows summed (every window when `windows` is empty), their
    /// history, and the trace of token data.
    pub fn into_input(self, windows: &[String]) -> Result<Input> {
        let Loaded {
            what,
            data,
            layer_ids,
        } = self;
        if !windows.is_empty() && !matches!(data, Data::Windows(_)) {
            bail!("{what}: --window applies to windowed loads only (long CSV, TensorRT-LLM)");
        }
        Ok(match data {
            Data::Windows(w) => {
                let chosen = select_windows(&w, windows).with_context(|| what.clone())?;
                let what = if windows.is_empty() {
                    what
                } else {
                    format!("{what}, windows {}", windows.join(","))
                };
                Input::from_windows(what, chosen, layer_ids)
            }
            Data::Tokens(t) => Input::from_trace(what, t),
            Data::Counts(load) => Input {
                what,
                history: vec![load.clone()],
                load,
                trace: None,
                layer_ids,
            },
            Data::Golden(case) => Input {
                what,
                history: vec![case.weight.clone()],
                load: case.weight,
                trace: None,
                layer_ids,
            },
        })
    }
}

impl Input {
    /// The sum of `windows`, with them as history.
    pub fn from_windows(
        what: String,
        windows: Vec<ExpertLoad>,
        layer_ids: Option<Vec<usize>>,
    ) -> Self {
        let mut load = ExpertLoad::zeros(windows[0].layers(), windows[0].experts());
        for w in &windows {
            for l in 0..w.layers() {
                for (a, b) in load.layer_mut(l).iter_mut().zip(w.layer(l)) {
                    *a += b;
                }
            }
        }
        Self {
            what,
            load,
            history: windows,
            trace: None,
            layer_ids,
        }
    }

    /// The counts of a trace, its history cut into [`TRACE_WINDOWS`] windows of whole sequences.
    pub fn from_trace(what: String, trace: TokenTrace) -> Self {
        Self {
            what,
            load: trace.counts(),
            history: windows_from_trace(&trace, TRACE_WINDOWS),
            trace: Some(trace),
            layer_ids: None,
        }
    }

    /// `layers × experts`, for messages.
    pub fn shape(&self) -> String {
        let mut s = format!(
            "{} layers × {} experts",
            self.load.layers(),
            self.load.experts()
        );
        if let Some(t) = &self.trace {
            s.push_str(&format!(
                ", {} tokens in {} sequences, top-{}",
                thousands(t.tokens() as u64),
                thousands(t.sequences() as u64),
                t.top_k()
            ));
        }
        s
    }

    /// Mean load per layer (token–expert assignments for routing counts).
    pub fn mean_layer_total(&self) -> f64 {
        let n = self.load.layers().max(1) as f64;
        (0..self.load.layers())
            .map(|l| self.load.layer_total(l))
            .sum::<f64>()
            / n
    }
}

/// The windows of `w` with the given labels, in file order (all of them when `labels` is empty).
pub fn select_windows(w: &WindowedLoad, labels: &[String]) -> Result<Vec<ExpertLoad>> {
    if labels.is_empty() {
        return Ok(w.loads.clone());
    }
    for l in labels {
        if !w.windows.contains(l) {
            let mut known: Vec<&str> = w.windows.iter().map(String::as_str).take(10).collect();
            if w.windows.len() > 10 {
                known.push("…");
            }
            bail!("no window {l:?}; the file has {}", known.join(", "));
        }
    }
    Ok(w.windows
        .iter()
        .zip(&w.loads)
        .filter(|(name, _)| labels.contains(name))
        .map(|(_, load)| load.clone())
        .collect())
}

/// The topology from the flags, else from the golden file.
pub fn topology(a: &TopologyArgs, golden: Option<&GoldenCase>) -> Result<Topology> {
    if let (Some(n), Some(g), Some(s)) = (a.nodes, a.gpus, a.slots) {
        return Topology::uniform(n, g, s).with_context(|| {
            format!("--nodes {n} --gpus {g} --slots {s} is not a valid topology")
        });
    }
    if let Some(k) = a.slots_per_gpu {
        let spec: Vec<String> = a.node_gpus.iter().map(usize::to_string).collect();
        return Topology::with_node_gpus(&a.node_gpus, k).with_context(|| {
            format!(
                "--node-gpus {} --slots-per-gpu {k} is not a valid topology",
                spec.join(",")
            )
        });
    }
    match golden {
        Some(c) => Ok(c.topology.clone()),
        None => bail!(
            "no hardware given: pass --nodes N --gpus G --slots S, or --node-gpus G,G,… \
             --slots-per-gpu K"
        ),
    }
}

/// `--groups`, else the golden file's, else 1.
pub fn groups(a: &TopologyArgs, golden: Option<&GoldenCase>) -> usize {
    a.groups.or(golden.map(|c| c.groups)).unwrap_or(1)
}

/// One line describing a topology.
pub fn describe_topology(t: &Topology, groups: usize) -> String {
    let per_gpu = match t.uniform_slots_per_gpu() {
        Some(k) => format!("{k} per GPU"),
        None => "unequal per GPU".into(),
    };
    let per_node = match t.uniform_gpus_per_node() {
        Some(k) => format!("{k} per node"),
        None => {
            let g: Vec<String> = (0..t.nodes())
                .map(|n| t.gpus_of_node(n).len().to_string())
                .collect();
            g.join("+")
        }
    };
    format!(
        "{}, {} ({per_node}), {} ({per_gpu}), {}",
        plural(t.nodes(), "node"),
        plural(t.gpus(), "GPU"),
        plural(t.slots(), "slot"),
        plural(groups, "expert group")
    )
}

/// `1 node`, `2 nodes`.
fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{} {what}s", thousands(n as u64))
    }
}

/// The planner behind a flag value.
pub fn planner(p: PlannerArg, locality_slack: f64) -> Box<dyn Planner> {
    match p {
        PlannerArg::Skua => Box::new(SkuaPlanner {
            locality_slack,
            ..SkuaPlanner::default()
        }),
        PlannerArg::Eplb => Box::new(EplbGreedy {
            mode: EplbMode::Auto,
        }),
        PlannerArg::EplbHierarchical => Box::new(EplbGreedy {
            mode: EplbMode::Hierarchical,
        }),
        PlannerArg::EplbGlobal => Box::new(EplbGreedy {
            mode: EplbMode::Global,
        }),
    }
}

/// The EPLB policy `eplb` resolves to here (`hierarchical` or `global`).
pub fn eplb_auto_policy(groups: usize, topo: &Topology) -> &'static str {
    match EplbGreedy::resolve(EplbMode::Auto, groups, topo.nodes()) {
        EplbMode::Global => "global",
        _ => "hierarchical",
    }
}

/// A planner's name with what it resolves to (`eplb (global)`).
pub fn planner_label(p: PlannerArg, groups: usize, topo: &Topology) -> String {
    match p {
        PlannerArg::Eplb => format!("eplb ({})", eplb_auto_policy(groups, topo)),
        other => other.label().to_string(),
    }
}

/// The only part of an EPLB-shaped JSON file `--current` needs (other keys are ignored).
#[derive(Deserialize)]
struct EplbFile {
    phy2log: Vec<Vec<i64>>,
}

/// Reads `{"phy2log": [[…]]}` (EPLB's maps, as `--out-eplb` writes them; gzip is detected) and
/// checks it fits `layers × experts` on `topo`: one row per layer, one entry per slot, every id
/// an expert and every expert placed. Two replicas of one expert on a GPU are accepted here
/// (EPLB makes them); skua's planner refuses them as a start.
pub fn read_current(
    path: &Path,
    topo: &Topology,
    layers: usize,
    experts: usize,
) -> Result<Placement> {
    let shown = path.display();
    let text = skua_moe::io::read_text(path)
        .with_context(|| format!("cannot read the current placement {shown}"))?;
    let raw: EplbFile = serde_json::from_str(&text).with_context(|| {
        format!("{shown} is not an EPLB placement JSON (expected {{\"phy2log\": [[…], …]}})")
    })?;
    if raw.phy2log.len() != layers {
        bail!(
            "{shown}: phy2log has {} layers, the load has {layers}",
            raw.phy2log.len()
        );
    }
    let mut rows = Vec::with_capacity(layers);
    for (l, row) in raw.phy2log.into_iter().enumerate() {
        if row.len() != topo.slots() {
            bail!(
                "{shown}: phy2log layer {l} has {} slots, the topology has {}",
                row.len(),
                topo.slots()
            );
        }
        let mut seen = vec![false; experts];
        let mut ids = Vec::with_capacity(row.len());
        for (p, e) in row.into_iter().enumerate() {
            let id = usize::try_from(e)
                .ok()
                .filter(|&id| id < experts)
                .with_context(|| {
                    format!(
                        "{shown}: phy2log layer {l} slot {p}: {e} is not an expert id below \
                         {experts}"
                    )
                })?;
            seen[id] = true;
            ids.push(id as u32);
        }
        if let Some(e) = seen.iter().position(|s| !s) {
            bail!("{shown}: phy2log layer {l} has no replica of expert {e}");
        }
        rows.push(ids);
    }
    Ok(Placement::new(experts, rows))
}

/// Sampled futures for skua's robust objective: the sequence bootstrap when the input has
/// per-token routing (whole requests vary together), else Dirichlet-multinomial draws with the
/// dispersion of the input's windows.
pub fn futures_for(
    load: &skua_moe::ExpertLoad,
    trace: Option<&skua_moe::TokenTrace>,
    history: &[skua_moe::ExpertLoad],
    n: usize,
    seed: u64,
) -> Vec<skua_moe::ExpertLoad> {
    match trace {
        Some(t) => skua_moe::forecast::bootstrap_futures(t, n, seed),
        None => skua_moe::forecast::sample_futures(load, history, n, seed),
    }
}

/// The load to plan for: the forecast of the next window from the input's windows (the input's
/// load as it is when it has fewer than two windows or `Sum` is asked for).
pub fn forecast(input: &Input, which: super::args::ForecasterArg) -> Result<ExpertLoad> {
    use super::args::ForecasterArg as F;
    use skua_moe::forecast::{Ewma, LastWindow, LoadForecaster, SkuaForecaster, SlidingWindow};
    let f: Box<dyn LoadForecaster> = match which {
        F::Flat => return flat(&input.load),
        _ if input.history.len() < 2 => return Ok(input.load.clone()),
        F::Sum => return Ok(input.load.clone()),
        F::Last => Box::new(LastWindow),
        F::Sliding => Box::new(SlidingWindow::new(8)?),
        F::Ewma => Box::new(Ewma::new(0.3)?),
        F::Skua => Box::new(SkuaForecaster::default()),
    };
    Ok(f.forecast(&input.history)?)
}

/// Every expert of each layer at the layer's mean load (the layer's total kept).
fn flat(load: &ExpertLoad) -> Result<ExpertLoad> {
    let experts = load.experts().max(1) as f64;
    let rows = (0..load.layers())
        .map(|l| vec![load.layer_total(l) / experts; load.experts()])
        .collect();
    Ok(ExpertLoad::from_rows(rows)?)
}

/// Whether a forecaster's load should be planned without sampled futures.
pub fn skips_futures(which: super::args::ForecasterArg) -> bool {
    which == super::args::ForecasterArg::Flat
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows() -> WindowedLoad {
        let a = ExpertLoad::from_rows(vec![vec![1.0, 2.0]]).unwrap();
        let b = ExpertLoad::from_rows(vec![vec![3.0, 4.0]]).unwrap();
        WindowedLoad::new(vec!["a".into(), "b".into()], vec![a, b]).unwrap()
    }

    #[test]
    fn windows_are_selected_in_file_order_and_summed() {
        let w = windows();
        let chosen = select_windows(&w, &["b".into(), "a".into()]).unwrap();
        assert_eq!(chosen[0].layer(0), &[1.0, 2.0]);
        let input = Input::from_windows("x".into(), chosen, None);
        assert_eq!(input.load.layer(0), &[4.0, 6.0]);
        assert_eq!(input.history.len(), 2);
        let err = select_windows(&w, &["c".into()]).unwrap_err().to_string();
        assert!(err.contains("\"c\"") && err.contains("a, b"), "{err}");
    }

    #[test]
    fn current_placement_is_checked_against_the_shape() {
        let dir = tempfile::tempdir().unwrap();
        let topo = Topology::uniform(1, 2, 4).unwrap();
        let p = dir.path().join("cur.json");
        std::fs::write(&p, r#"{"phy2log": [[0, 1, 2, 0]], "logcnt": [[2, 1, 1]]}"#).unwrap();
        let cur = read_current(&p, &topo, 1, 3).unwrap();
        assert_eq!(cur.layer(0), &[0, 1, 2, 0]);
        let err = read_current(&p, &topo, 2, 3).unwrap_err().to_string();
        assert!(err.contains("1 layers, the load has 2"), "{err}");
        let err = read_current(&p, &topo, 1, 4).unwrap_err().to_string();
        assert!(err.contains("no replica of expert 3"), "{err}");
        std::fs::write(&p, r#"{"phy2log": [[0, 1, 2, 7]]}"#).unwrap();
        let err = read_current(&p, &topo, 1, 3).unwrap_err().to_string();
        assert!(err.contains("slot 3"), "{err}");
    }
}
