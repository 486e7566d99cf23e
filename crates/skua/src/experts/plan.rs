//! `skua experts plan`: read a load, plan a placement, write it for the serving engines and print
//! how balanced it is on the planning load.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use skua_moe::eval::{EvalConfig, Score, score};
use skua_moe::io::export::{
    ModelLayers, eplb_string, migration_plan, migration_string, sglang_string, trtllm_yaml_string,
};
use skua_moe::plan::PlanRequest;
use skua_moe::{Placement, Topology};

use super::args::{ExpertsPlanArgs, PlannerArg};
use super::input::{self, Data, Input, Source, futures_for};
use crate::Outcome;
use crate::output::{stage, thousands, write_atomic, write_json};

/// What `--json` gets.
#[derive(Debug, Serialize)]
struct PlanSummary {
    input: String,
    shape: String,
    layers: usize,
    experts: usize,
    topology: String,
    groups: usize,
    planner: String,
    futures: usize,
    seed: u64,
    locality_tokens: Option<usize>,
    plan_seconds: f64,
    /// The new placement on the planning load.
    score: Score,
    /// The `--current` placement on the planning load, and the moves to the new one.
    current: Option<CurrentSummary>,
    written: Vec<Written>,
}

#[derive(Debug, Serialize)]
struct CurrentSummary {
    path: String,
    imbalance: f64,
    max_imbalance: f64,
    move_budget: Option<usize>,
    slots_moved: usize,
    slots_moved_per_layer: Vec<usize>,
}

#[derive(Debug, Serialize)]
struct Written {
    format: &'static str,
    path: String,
}

/// `skua experts plan`.
pub fn plan(a: &ExpertsPlanArgs, quiet: bool) -> Result<Outcome> {
    let source = match (&a.load, &a.esft, &a.golden) {
        (Some(p), _, _) => Source::Load {
            path: p.clone(),
            domain: None,
        },
        (_, Some(d), _) => Source::Esft(d.clone()),
        (_, _, Some(g)) => Source::Golden(g.clone()),
        // Clap requires one of the three.
        _ => bail!("give the load: --load FILE, --esft DIR or --golden FILE"),
    };
    let t0 = Instant::now();
    let loaded = input::read(&source, &a.read)?;
    let golden = match &loaded.data {
        Data::Golden(c) => Some((**c).clone()),
        _ => None,
    };
    let mut input = loaded.into_input(&a.window)?;
    input.load = input::forecast(&input, a.forecaster)?;
    stage(
        quiet,
        "load",
        &format!(
            "{}: {} in {:.2} s",
            input.what,
            input.shape(),
            t0.elapsed().as_secs_f64()
        ),
    );
    let topo = input::topology(&a.topology, golden.as_ref())?;
    let groups = input::groups(&a.topology, golden.as_ref());
    let (layers, experts) = (input.load.layers(), input.load.experts());
    let current = match &a.current {
        Some(p) => Some(input::read_current(p, &topo, layers, experts)?),
        None => None,
    };
    if a.planner != PlannerArg::Skua && a.move_budget.is_some() {
        stage(
            quiet,
            "note",
            "EPLB plans from scratch: --move-budget applies to skua's planner only",
        );
    }
    let futures_n = if input::skips_futures(a.forecaster) {
        if a.futures.is_some_and(|n| n > 0) {
            stage(
                quiet,
                "note",
                "--forecaster flat plans without sampled futures: --futures is not used",
            );
        }
        0
    } else {
        a.futures.unwrap_or(match a.planner {
            PlannerArg::Skua => 8,
            _ => 0,
        })
    };
    let futures = if futures_n > 0 {
        futures_for(
            &input.load,
            input.trace.as_ref(),
            &input.history,
            futures_n,
            a.seed,
        )
    } else {
        Vec::new()
    };
    let planner = input::planner(a.planner, a.locality_slack);
    let label = input::planner_label(a.planner, groups, &topo);
    let mut req = PlanRequest::new(&topo, &input.load, groups);
    req.futures = &futures;
    req.tokens = input.trace.as_ref();
    req.current = current.as_ref();
    req.move_budget = a.move_budget;
    stage(
        quiet,
        "plan",
        &format!("{label} on {} …", input::describe_topology(&topo, groups)),
    );
    let t1 = Instant::now();
    let placement = planner
        .plan(&req)
        .with_context(|| format!("planner {label} failed on {}", input.what))?;
    let plan_seconds = t1.elapsed().as_secs_f64();
    let cfg = EvalConfig::default();
    let sc = score(&placement, &topo, &input.load, None, &cfg);
    let current_summary = current.as_ref().map(|cur| {
        let before = score(cur, &topo, &input.load, None, &cfg);
        let moved = cur.slots_moved(&placement, &topo);
        CurrentSummary {
            path: a.current.as_deref().map(show).unwrap_or_default(),
            imbalance: before.imbalance,
            max_imbalance: before.max_imbalance,
            move_budget: a.move_budget,
            slots_moved: moved.iter().sum(),
            slots_moved_per_layer: moved,
        }
    });
    let written = write_outputs(a, &placement, &topo, &input, current.as_ref())?;
    let summary = PlanSummary {
        input: input.what.clone(),
        shape: input.shape(),
        layers,
        experts,
        topology: input::describe_topology(&topo, groups),
        groups,
        planner: label,
        futures: futures.len(),
        seed: a.seed,
        locality_tokens: input
            .trace
            .as_ref()
            .filter(|_| a.locality_slack > 0.0)
            .map(|t| t.tokens()),
        plan_seconds,
        score: sc,
        current: current_summary,
        written,
    };
    print!("{}", render(&summary));
    if let Some(p) = &a.json {
        write_json(p, &summary)?;
    }
    Ok(Outcome::Ok)
}

fn show(p: &Path) -> String {
    p.display().to_string()
}

/// Writes every requested output file, atomically.
fn write_outputs(
    a: &ExpertsPlanArgs,
    p: &Placement,
    topo: &Topology,
    input: &Input,
    current: Option<&Placement>,
) -> Result<Vec<Written>> {
    let mut written = Vec::new();
    if let Some(path) = &a.out_eplb {
        let text = eplb_string(p).context("cannot build EPLB's maps")?;
        write_atomic(path, text.as_bytes())?;
        written.push(Written {
            format: "EPLB JSON",
            path: show(path),
        });
    }
    let needs_layers = a.out_sglang.is_some() || a.out_trtllm.is_some();
    let model = if needs_layers {
        Some(model_layers(
            p.layers(),
            input.layer_ids.as_deref(),
            a.hidden_layers,
            a.first_dense,
        )?)
    } else {
        None
    };
    if let (Some(path), Some(m)) = (&a.out_sglang, &model) {
        let text = sglang_string(p, topo, m).context("cannot build SGLang's expert location")?;
        write_atomic(path, text.as_bytes())?;
        written.push(Written {
            format: "SGLang expert location",
            path: show(path),
        });
    }
    if let (Some(path), Some(m)) = (&a.out_trtllm, &model) {
        let text = trtllm_yaml_string(p, topo, m, a.layer_updates_per_iter)
            .context("cannot build TensorRT-LLM's moe_load_balancer.yaml")?;
        write_atomic(path, text.as_bytes())?;
        written.push(Written {
            format: "TensorRT-LLM YAML",
            path: show(path),
        });
    }
    if let (Some(path), Some(cur)) = (&a.out_migration, current) {
        let bytes = a
            .expert_bytes
            .unwrap_or(EvalConfig::default().expert_bytes as u64);
        let plan = migration_plan(cur, p, topo, bytes).context("cannot plan the migration")?;
        let text = migration_string(&plan).context("cannot serialise the migration plan")?;
        write_atomic(path, text.as_bytes())?;
        written.push(Written {
            format: "migration plan",
            path: show(path),
        });
    }
    Ok(written)
}

/// Which decoder layer of the model each placement layer is: the source's own layer numbers
/// (OLMoE, TensorRT-LLM), else `first_dense` dense layers followed by the MoE layers.
pub fn model_layers(
    layers: usize,
    source_ids: Option<&[usize]>,
    hidden: Option<usize>,
    first_dense: Option<usize>,
) -> Result<ModelLayers> {
    if let Some(ids) = source_ids {
        if first_dense.is_some() {
            bail!(
                "--first-dense does not apply: the input names its model layers ({ids:?}); \
                 give --hidden-layers only"
            );
        }
        let hidden = hidden.unwrap_or_else(|| ids.last().map_or(0, |l| l + 1));
        return ModelLayers::new(hidden, ids.to_vec())
            .with_context(|| format!("--hidden-layers {hidden} does not fit the input's layers"));
    }
    let k = first_dense.unwrap_or_else(|| hidden.map_or(0, |h| h.saturating_sub(layers)));
    let h = hidden.unwrap_or(k + layers);
    if h < k + layers {
        bail!(
            "--hidden-layers {h} is fewer than --first-dense {k} plus the {layers} MoE layers of \
             the placement"
        );
    }
    ModelLayers::new(h, (k..k + layers).collect()).context("invalid model layers")
}

/// The text summary.
fn render(s: &PlanSummary) -> String {
    let sc = &s.score;
    let worst = sc
        .layers
        .iter()
        .max_by(|a, b| a.imbalance.total_cmp(&b.imbalance));
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<12} {v}\n"));
    line("input", format!("{}: {}", s.input, s.shape));
    line("topology", s.topology.clone());
    let mut how = Vec::new();
    if s.futures > 0 {
        how.push(format!("{} sampled futures, seed {}", s.futures, s.seed));
    }
    if let Some(t) = s.locality_tokens
        && s.planner == "skua"
    {
        how.push(format!("locality from {} tokens", thousands(t as u64)));
    }
    if let Some(c) = &s.current {
        match c.move_budget {
            Some(b) => how.push(format!("from --current, at most {b} moves per layer")),
            None => how.push("from scratch (no --move-budget)".into()),
        }
    }
    let how = if how.is_empty() {
        String::new()
    } else {
        format!(" ({})", how.join("; "))
    };
    line("planner", format!("{}{how}", s.planner));
    line("time", format!("{:.3} s", s.plan_seconds));
    line(
        "imbalance",
        format!(
            "mean {:.4} over {} layers (max/mean − 1 of GPU loads on the planning load){}",
            sc.imbalance,
            sc.layers.len(),
            worst.map_or(String::new(), |w| format!(
                "; worst layer {} at {:.4}",
                w.layer, w.imbalance
            ))
        ),
    );
    line(
        "balance",
        format!("{:.4} (mean/max GPU load)", sc.balancedness),
    );
    if let Some(c) = &s.current {
        let layers = c.slots_moved_per_layer.len().max(1);
        line(
            "current",
            format!(
                "mean imbalance {:.4} (worst layer {:.4}) → {:.4}; {} slots moved ({:.1} per \
                 layer, most {})",
                c.imbalance,
                c.max_imbalance,
                sc.imbalance,
                thousands(c.slots_moved as u64),
                c.slots_moved as f64 / layers as f64,
                c.slots_moved_per_layer.iter().max().copied().unwrap_or(0)
            ),
        );
    }
    for w in &s.written {
        line("wrote", format!("{} ({})", w.path, w.format));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_layers_from_flags_and_from_the_source() {
        let m = model_layers(26, None, None, Some(1)).unwrap();
        assert_eq!((m.num_hidden_layers, m.moe_layer_ids[0]), (27, 1));
        let m = model_layers(26, None, Some(27), None).unwrap();
        assert_eq!(m.moe_layer_ids[0], 1);
        let m = model_layers(2, None, None, None).unwrap();
        assert_eq!(m.moe_layer_ids, vec![0, 1]);
        assert!(model_layers(26, None, Some(20), Some(1)).is_err());
        let m = model_layers(3, Some(&[0, 7, 15]), None, None).unwrap();
        assert_eq!(m.num_hidden_layers, 16);
        let m = model_layers(3, Some(&[0, 7, 15]), Some(16), None).unwrap();
        assert_eq!(m.moe_layer_ids, vec![0, 7, 15]);
        assert!(model_layers(3, Some(&[0, 7, 15]), None, Some(1)).is_err());
        assert!(model_layers(3, Some(&[0, 7, 15]), Some(10), None).is_err());
    }
}
