//! ESFT per-token routing files (DeepSeek ESFT, Wang et al., EMNLP 2024,
//! <https://github.com/deepseek-ai/ESFT>, `results/expert_scores`): one file per MoE layer,
//! `expert_weights_<layer>.txt[.gz]` with layers numbered from 1.
//!
//! Each line is one sequence: the chosen expert ids, tab-separated and token-major (`top_k` per
//! token), then an empty field (two tabs in a row), then the gate weights in the same layout. Every
//! layer file holds the same tokens in the same order, so line `i` of every file is sequence `i`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::MoeError;
use crate::load::{ExpertLoad, TokenTrace};

/// Routed experts per layer in the ESFT model (DeepSeek-V2-Lite architecture).
pub const ESFT_EXPERTS: usize = 64;
/// MoE layers in the ESFT model; files are `expert_weights_1` … `expert_weights_26`.
pub const ESFT_LAYERS: usize = 26;
/// Experts chosen per token in the ESFT model.
pub const ESFT_TOP_K: usize = 6;

/// The shape of an ESFT-style task directory and what to keep from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EsftOptions {
    /// Routed experts per layer; every id must be below this.
    pub experts: usize,
    /// MoE layers; files `expert_weights_1` … `expert_weights_<layers>` must all exist.
    pub layers: usize,
    /// Experts chosen per token.
    pub top_k: usize,
    /// Keep the gate weights (they are always checked to be numbers).
    pub gate_weights: bool,
}

impl Default for EsftOptions {
    fn default() -> Self {
        Self {
            experts: ESFT_EXPERTS,
            layers: ESFT_LAYERS,
            top_k: ESFT_TOP_K,
            gate_weights: true,
        }
    }
}

/// One ESFT task: its routing trace (one sequence per line) and, optionally, the gate weights.
#[derive(Debug, Clone, PartialEq)]
pub struct EsftTask {
    /// The task name (the directory's name, e.g. `intent`).
    pub name: String,
    /// Layer `l` of the trace is file `expert_weights_<l + 1>`.
    pub trace: TokenTrace,
    /// Gate weights in the trace's layout (`layers × tokens × top_k`), when kept.
    pub gate_weights: Option<Vec<f32>>,
}

/// Reads an ESFT task directory with the ESFT model's shape (64 experts, 26 layers, top-6).
pub fn read_esft_task(dir: &Path) -> Result<EsftTask, MoeError> {
    read_esft_task_with(dir, &EsftOptions::default())
}

/// Reads an ESFT-format task directory of the given shape.
pub fn read_esft_task_with(dir: &Path, opts: &EsftOptions) -> Result<EsftTask, MoeError> {
    if opts.experts == 0 || opts.layers == 0 || opts.top_k == 0 {
        return Err(MoeError::Shape(
            "ESFT options need experts, layers and top-k > 0".into(),
        ));
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let files = (1..=opts.layers)
        .map(|l| layer_file(dir, l, opts.layers))
        .collect::<Result<Vec<_>, _>>()?;
    let layers = files
        .par_iter()
        .map(|f| read_layer(f, opts))
        .collect::<Result<Vec<_>, _>>()?;

    let first = &layers[0];
    for (f, layer) in files.iter().zip(&layers).skip(1) {
        check_same_tokens(f, layer, &files[0], first)?;
    }
    let mut sequence_starts = Vec::with_capacity(first.line_tokens.len());
    let mut at = 0;
    for &n in &first.line_tokens {
        sequence_starts.push(at);
        at += n;
    }
    let mut choices = Vec::with_capacity(layers.len() * first.choices.len());
    let mut weights = Vec::with_capacity(if opts.gate_weights {
        choices.capacity()
    } else {
        0
    });
    for layer in layers {
        choices.extend_from_slice(&layer.choices);
        weights.extend_from_slice(&layer.weights);
    }
    let trace = TokenTrace::new(
        opts.experts,
        opts.top_k,
        opts.layers,
        choices,
        sequence_starts,
    )?;
    Ok(EsftTask {
        name,
        trace,
        gate_weights: opts.gate_weights.then_some(weights),
    })
}

/// Reads `derived_expert_counts.csv` (`task,moe_layer(1-26),expert,token_count`, layers from 1)
/// into one load per task (layer `l` → row `l - 1`; shape = largest layer × largest expert + 1).
pub fn read_derived_counts(path: &Path) -> Result<BTreeMap<String, ExpertLoad>, MoeError> {
    let err =
        |at: String, message: String| super::parse_error(&path.display().to_string(), at, message);
    let (mut rdr, header) =
        super::csv_with_header(super::open(path)?, &path.display().to_string())?;
    let names: Vec<&str> = header.iter().collect();
    let ok = names.len() == 4
        && names[0] == "task"
        && names[1].starts_with("moe_layer")
        && names[2] == "expert"
        && names[3] == "token_count";
    if !ok {
        return Err(err(
            "line 1".into(),
            format!(
                "header is `{}`, expected `task,moe_layer(1-26),expert,token_count`",
                names.join(",")
            ),
        ));
    }
    let mut cells: BTreeMap<String, Cells> = BTreeMap::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| err(csv_at(&e), e.to_string()))?;
        let line = rec.position().map_or(0, |p| p.line());
        let at = |col: &str| format!("line {line}, column {col}");
        let layer: usize = rec[1].parse().ok().filter(|&l| l >= 1).ok_or_else(|| {
            err(
                at(names[1]),
                format!("`{}` is not a layer number ≥ 1", &rec[1]),
            )
        })?;
        let expert: usize = rec[2]
            .parse()
            .map_err(|_| err(at("expert"), format!("`{}` is not an expert id", &rec[2])))?;
        let count: f64 = rec[3]
            .parse()
            .ok()
            .filter(|c: &f64| c.is_finite() && *c >= 0.0)
            .ok_or_else(|| {
                err(
                    at("token_count"),
                    format!("`{}` is not a non-negative count", &rec[3]),
                )
            })?;
        let task = cells.entry(rec[0].to_string()).or_default();
        if let Some((_, first)) = task.insert((layer - 1, expert), (count, line)) {
            return Err(err(
                format!("line {line}"),
                format!(
                    "task {} layer {layer} expert {expert} repeats line {first}",
                    &rec[0]
                ),
            ));
        }
    }
    let mut out = BTreeMap::new();
    for (task, cells) in cells {
        let layers = cells.keys().map(|k| k.0).max().unwrap_or(0) + 1;
        let experts = cells.keys().map(|k| k.1).max().unwrap_or(0) + 1;
        let mut load = ExpertLoad::zeros(layers, experts);
        for ((l, e), (c, _)) in cells {
            load.add(l, e, c);
        }
        out.insert(task, load);
    }
    Ok(out)
}

/// One task's cells: (layer, expert) → (count, line).
type Cells = BTreeMap<(usize, usize), (f64, u64)>;

/// Where a CSV error happened, for `MoeError::Parse::at`.
fn csv_at(e: &csv::Error) -> String {
    e.position()
        .map_or_else(|| "record".into(), |p| format!("line {}", p.line()))
}

/// One layer file's content.
struct LayerData {
    choices: Vec<u16>,
    weights: Vec<f32>,
    /// Tokens on each line (sequence).
    line_tokens: Vec<usize>,
}

/// `expert_weights_<l>.txt.gz`, or `.txt` when only the uncompressed file exists.
fn layer_file(dir: &Path, l: usize, layers: usize) -> Result<PathBuf, MoeError> {
    let gz = dir.join(format!("expert_weights_{l}.txt.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    let plain = dir.join(format!("expert_weights_{l}.txt"));
    if plain.is_file() {
        return Ok(plain);
    }
    Err(MoeError::Parse {
        path: dir.display().to_string(),
        at: format!("layer {l}"),
        message: format!(
            "missing layer file expert_weights_{l}.txt.gz (an ESFT task needs expert_weights_1 … \
             expert_weights_{layers})"
        ),
    })
}

fn read_layer(path: &Path, opts: &EsftOptions) -> Result<LayerData, MoeError> {
    let text = super::read_text(path)?;
    let err = |line: usize, field: Option<usize>, message: String| MoeError::Parse {
        path: path.display().to_string(),
        at: match field {
            Some(f) => format!("line {line}, field {f}"),
            None => format!("line {line}"),
        },
        message,
    };
    let k = opts.top_k;
    let mut data = LayerData {
        choices: Vec::new(),
        weights: Vec::new(),
        line_tokens: Vec::new(),
    };
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let start = data.choices.len();
        let mut fields = raw.split('\t').enumerate();
        let mut separated = false;
        for (f, s) in fields.by_ref() {
            if s.is_empty() {
                separated = true;
                break;
            }
            let id: u16 = s.trim().parse().map_err(|_| {
                err(
                    line,
                    Some(f + 1),
                    format!("expert id `{s}` is not a non-negative integer"),
                )
            })?;
            if usize::from(id) >= opts.experts {
                return Err(err(
                    line,
                    Some(f + 1),
                    format!("expert id {id} is not below {} experts", opts.experts),
                ));
            }
            let token_start = start + (data.choices.len() - start) / k * k;
            if data.choices[token_start..].contains(&id) {
                return Err(err(
                    line,
                    Some(f + 1),
                    format!(
                        "token {} chooses expert {id} twice",
                        (data.choices.len() - start) / k
                    ),
                ));
            }
            data.choices.push(id);
        }
        let ids = data.choices.len() - start;
        if !separated {
            return Err(err(
                line,
                None,
                "no empty field (two tabs) between the expert ids and the gate weights".into(),
            ));
        }
        let mut weights = 0;
        for (f, s) in fields {
            weights += 1;
            if opts.gate_weights {
                let w: f32 = s
                    .trim()
                    .parse()
                    .ok()
                    .filter(|w: &f32| w.is_finite())
                    .ok_or_else(|| {
                        err(
                            line,
                            Some(f + 1),
                            format!("gate weight `{s}` is not a number"),
                        )
                    })?;
                data.weights.push(w);
            } else if s.trim().is_empty() {
                return Err(err(line, Some(f + 1), "empty gate weight".into()));
            }
        }
        if ids == 0 {
            return Err(err(line, None, "a sequence without tokens".into()));
        }
        if ids != weights {
            return Err(err(
                line,
                None,
                format!("{ids} expert ids but {weights} gate weights"),
            ));
        }
        if ids % k != 0 {
            return Err(err(
                line,
                None,
                format!("{ids} expert ids is not a whole number of tokens of top-{k}"),
            ));
        }
        data.line_tokens.push(ids / k);
    }
    if data.line_tokens.is_empty() {
        return Err(MoeError::Parse {
            path: path.display().to_string(),
            at: "file".into(),
            message: "the file has no sequences".into(),
        });
    }
    Ok(data)
}

/// Every layer file must hold the same sequences with the same token counts as the first one.
fn check_same_tokens(
    path: &Path,
    layer: &LayerData,
    first_path: &Path,
    first: &LayerData,
) -> Result<(), MoeError> {
    let first_name = first_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let err = |at: String, message: String| MoeError::Parse {
        path: path.display().to_string(),
        at,
        message,
    };
    if layer.line_tokens.len() != first.line_tokens.len() {
        return Err(err(
            "file".into(),
            format!(
                "{} sequences (lines), {first_name} has {}",
                layer.line_tokens.len(),
                first.line_tokens.len()
            ),
        ));
    }
    for (i, (a, b)) in layer.line_tokens.iter().zip(&first.line_tokens).enumerate() {
        if a != b {
            return Err(err(
                format!("line {}", i + 1),
                format!("{a} tokens, {first_name} has {b} on that line"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(experts: usize, layers: usize, top_k: usize) -> EsftOptions {
        EsftOptions {
            experts,
            layers,
            top_k,
            gate_weights: true,
        }
    }

    fn task_dir(files: &[&str]) -> tempdir::Dir {
        let d = tempdir::Dir::new("esft");
        for (i, text) in files.iter().enumerate() {
            std::fs::write(d.0.join(format!("expert_weights_{}.txt", i + 1)), text).unwrap();
        }
        d
    }

    /// A throwaway directory removed on drop (no extra crate needed).
    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new(tag: &str) -> Self {
                use std::sync::atomic::{AtomicUsize, Ordering};
                static N: AtomicUsize = AtomicUsize::new(0);
                let p = std::env::temp_dir().join(format!(
                    "skua-moe-{tag}-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&p).unwrap();
                Self(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn reads_two_layers_of_top2() {
        // 2 sequences: 2 tokens then 1 token; top-2, 4 experts.
        let l1 = "0\t1\t2\t3\t\t0.5\t0.5\t0.7\t0.3\n3\t0\t\t0.9\t0.1\n";
        let l2 = "1\t2\t0\t3\t\t0.6\t0.4\t0.8\t0.2\n2\t1\t\t0.5\t0.5\n";
        let d = task_dir(&[l1, l2]);
        let t = read_esft_task_with(&d.0, &opts(4, 2, 2)).unwrap();
        assert_eq!(t.trace.tokens(), 3);
        assert_eq!(t.trace.sequences(), 2);
        assert_eq!(t.trace.sequence_range(1), 2..3);
        assert_eq!(t.trace.choice(0, 2), &[3, 0]);
        assert_eq!(t.trace.choice(1, 1), &[0, 3]);
        let w = t.gate_weights.unwrap();
        assert_eq!(w.len(), 12);
        assert_eq!(w[6], 0.6); // layer 1, token 0, first weight
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let cases = [
            (
                "0\t1\tx\t3\t\t1\t1\t1\t1\n",
                "line 1, field 3",
                "not a non-negative integer",
            ),
            (
                "0\t1\t\t1\t1\n0\t9\t\t1\t1\n",
                "line 2, field 2",
                "not below 4",
            ),
            (
                "0\t1\t2\t\t1\t1\n",
                "line 1",
                "3 expert ids but 2 gate weights",
            ),
            ("0\t1\t2\t\t1\t1\t1\n", "line 1", "whole number of tokens"),
            ("0\t0\t\t1\t1\n", "line 1, field 2", "twice"),
            ("0\t1\t2\t3\n", "line 1", "no empty field"),
            ("0\t1\t\t1\tw\n", "line 1, field 5", "gate weight"),
        ];
        for (text, at, msg) in cases {
            let d = task_dir(&[text]);
            let e = read_esft_task_with(&d.0, &opts(4, 1, 2)).unwrap_err();
            let s = e.to_string();
            assert!(
                s.contains("expert_weights_1.txt") && s.contains(at) && s.contains(msg),
                "{text:?}: {s}"
            );
        }
    }

    #[test]
    fn layer_files_must_agree_and_exist() {
        let d = task_dir(&[
            "0\t1\t\t1\t1\n2\t3\t\t1\t1\n",
            "0\t1\t\t1\t1\n2\t3\t0\t1\t\t1\t1\t1\t1\n",
        ]);
        let s = read_esft_task_with(&d.0, &opts(4, 2, 2))
            .unwrap_err()
            .to_string();
        assert!(
            s.contains("expert_weights_2.txt") && s.contains("line 2"),
            "{s}"
        );
        let s = read_esft_task_with(&d.0, &opts(4, 3, 2))
            .unwrap_err()
            .to_string();
        assert!(s.contains("missing layer file expert_weights_3"), "{s}");
    }
}
