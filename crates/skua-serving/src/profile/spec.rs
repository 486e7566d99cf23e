//! Profile names → latency models: `opt-13b@a100`, `opt-13b:tp2`, `llama2-70b:tp4@h100`,
//! `opt-66b:tp4+vllm`.
//!
//! Grammar: `<model>[:tp<N>][@<gpu>][+<source>]`, case-insensitive. Defaults: the model's
//! default TP ([`ModelArch::default_tp`](super::ModelArch)), `a100`, and the model's first
//! source (DistServe for OPT, Splitwise for Llama2/BLOOM). Sources: `distserve` (DistServe's
//! engine), `vllm` (vLLM, as profiled by DistServe), `splitwise` (the fit of SplitwiseSim's
//! measurements). The files are read from the `serving` data directory given to
//! [`ProfileSpec::build`]: `distserve_profile/profiler-a100-80g.{distserve,vllm}.json` and
//! `splitwise_perf_model/perf_model.csv`.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::arch::{Gpu, ModelArch, canonical_model_name};
use super::{DistServeFile, LatencyModel, ProfileError, SplitwiseData};

/// Where a profile's numbers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileSource {
    /// DistServe's profiler coefficients for its own engine.
    DistServe,
    /// DistServe's profiler coefficients for vLLM.
    Vllm,
    /// skua's fit of SplitwiseSim's `perf_model.csv`.
    Splitwise,
}

impl ProfileSource {
    /// Name used after `+` in a spec.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DistServe => "distserve",
            Self::Vllm => "vllm",
            Self::Splitwise => "splitwise",
        }
    }

    /// The data file, relative to the `serving` data directory.
    pub fn relative_path(self) -> &'static str {
        match self {
            Self::DistServe => "distserve_profile/profiler-a100-80g.distserve.json",
            Self::Vllm => "distserve_profile/profiler-a100-80g.vllm.json",
            Self::Splitwise => "splitwise_perf_model/perf_model.csv",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::DistServe => "DistServe engine, DistServe's fitted coefficients",
            Self::Vllm => "vLLM engine, DistServe's fitted coefficients",
            Self::Splitwise => "robust fit of SplitwiseSim measurements, prompts measured ≤ 8,192",
        }
    }
}

struct CatalogEntry {
    model: &'static str,
    source: ProfileSource,
    tps: &'static [u32],
    gpus: &'static [&'static str],
}

const A100: &[&str] = &["a100-80gb"];
const ALL_GPUS: &[&str] = &["a100-80gb", "h100-80gb", "h100-80gb-pcap"];

/// Everything the shipped data files offer (and that fits in GPU memory). The first entry of a
/// model is its default source.
const CATALOG: &[CatalogEntry] = &[
    CatalogEntry {
        model: "opt-13b",
        source: ProfileSource::DistServe,
        tps: &[1, 2, 4],
        gpus: A100,
    },
    CatalogEntry {
        model: "opt-13b",
        source: ProfileSource::Vllm,
        tps: &[1, 2, 4],
        gpus: A100,
    },
    CatalogEntry {
        model: "opt-66b",
        source: ProfileSource::DistServe,
        tps: &[2, 3, 4, 8],
        gpus: A100,
    },
    CatalogEntry {
        model: "opt-66b",
        source: ProfileSource::Vllm,
        tps: &[2, 3, 4, 8],
        gpus: A100,
    },
    CatalogEntry {
        model: "llama2-70b",
        source: ProfileSource::Splitwise,
        tps: &[2, 4, 8],
        gpus: ALL_GPUS,
    },
    CatalogEntry {
        model: "bloom-176b",
        source: ProfileSource::Splitwise,
        tps: &[8],
        gpus: ALL_GPUS,
    },
];

/// A choice of engine profile: model, tensor-parallel degree, GPU and source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileSpec {
    /// Canonical model name, e.g. `opt-13b`.
    pub model: &'static str,
    /// Tensor-parallel degree.
    pub tp: u32,
    /// Canonical GPU name, e.g. `a100-80gb`.
    pub gpu: &'static str,
    /// Where the numbers come from.
    pub source: ProfileSource,
}

impl Default for ProfileSpec {
    /// The benchmark protocol's default: OPT-13B, TP1, A100-80G, DistServe coefficients.
    fn default() -> Self {
        Self {
            model: "opt-13b",
            tp: 1,
            gpu: "a100-80gb",
            source: ProfileSource::DistServe,
        }
    }
}

/// One entry of [`list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileInfo {
    /// The canonical spec, e.g. `llama2-70b:tp4@h100`.
    pub spec: String,
    /// One line on what it is.
    pub description: String,
}

/// Every available profile with a one-line description.
pub fn list() -> Vec<ProfileInfo> {
    let mut out = Vec::new();
    for entry in CATALOG {
        for &tp in entry.tps {
            for &gpu in entry.gpus {
                let spec = ProfileSpec {
                    model: entry.model,
                    tp,
                    gpu,
                    source: entry.source,
                };
                let default = if spec == ProfileSpec::default() {
                    " (default)"
                } else {
                    ""
                };
                out.push(ProfileInfo {
                    spec: spec.to_string(),
                    description: format!(
                        "{}, TP{tp}, {}: {}{default}",
                        display_model(entry.model),
                        display_gpu(gpu),
                        entry.source.describe()
                    ),
                });
            }
        }
    }
    out
}

/// The valid choices in one line, for error messages.
fn valid_summary() -> String {
    CATALOG
        .iter()
        .map(|e| {
            let tps: Vec<String> = e.tps.iter().map(u32::to_string).collect();
            let gpus: Vec<&str> = e
                .gpus
                .iter()
                .filter_map(|g| Gpu::lookup(g).ok().map(Gpu::short_name))
                .collect();
            let first = CATALOG
                .iter()
                .find(|c| c.model == e.model)
                .map(|c| c.source);
            let suffix = if first == Some(e.source) {
                String::new()
            } else {
                format!("+{}", e.source.as_str())
            };
            format!("{}:tp{}@{}{suffix}", e.model, tps.join("|"), gpus.join("|"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn display_model(model: &str) -> String {
    match model {
        "llama2-70b" => "Llama2-70B".into(),
        "bloom-176b" => "BLOOM-176B".into(),
        other => other.to_ascii_uppercase(),
    }
}

fn display_gpu(gpu: &str) -> &'static str {
    match gpu {
        "a100-80gb" => "A100-80G",
        "h100-80gb" => "H100-80G",
        _ => "H100-80G power-capped",
    }
}

impl fmt::Display for ProfileSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gpu = Gpu::lookup(self.gpu).map_or(self.gpu, |g| g.short_name());
        write!(f, "{}:tp{}@{gpu}", self.model, self.tp)?;
        let default_source = CATALOG
            .iter()
            .find(|c| c.model == self.model)
            .map(|c| c.source);
        if default_source != Some(self.source) {
            write!(f, "+{}", self.source.as_str())?;
        }
        Ok(())
    }
}

impl FromStr for ProfileSpec {
    type Err = ProfileError;

    fn from_str(text: &str) -> Result<Self, ProfileError> {
        let err = |reason: String| ProfileError::Spec {
            spec: text.to_string(),
            reason,
            valid: valid_summary(),
        };
        let lower = text.trim().to_ascii_lowercase();
        let (rest, source) = match lower.rsplit_once('+') {
            Some((r, s)) => (r, Some(s)),
            None => (lower.as_str(), None),
        };
        let (rest, gpu) = match rest.split_once('@') {
            Some((r, g)) => (r, Some(g)),
            None => (rest, None),
        };
        let (model_text, tp) = match rest.split_once(':') {
            Some((m, t)) => (m, Some(t)),
            None => (rest, None),
        };

        let model_name = canonical_model_name(model_text);
        let entries: Vec<&CatalogEntry> =
            CATALOG.iter().filter(|e| e.model == model_name).collect();
        let Some(first) = entries.first() else {
            return Err(err(format!("unknown model `{model_text}`")));
        };
        let entry = match source {
            None => *first,
            Some(s) => *entries
                .iter()
                .find(|e| e.source.as_str() == s.trim())
                .ok_or_else(|| {
                    let have: Vec<&str> = entries.iter().map(|e| e.source.as_str()).collect();
                    err(format!(
                        "source `{s}` has no {model_name}; it comes from {}",
                        have.join(", ")
                    ))
                })?,
        };
        let tp = match tp {
            None => ModelArch::lookup(entry.model)?.default_tp,
            Some(t) => {
                let digits = t.trim().trim_start_matches("tp");
                digits
                    .parse::<u32>()
                    .map_err(|_| err(format!("`{t}` is not a tensor-parallel degree like `tp4`")))?
            }
        };
        if !entry.tps.contains(&tp) {
            let have: Vec<String> = entry.tps.iter().map(|t| format!("tp{t}")).collect();
            return Err(err(format!(
                "{model_name} ({}) has no tp{tp}; it has {}",
                entry.source.as_str(),
                have.join(", ")
            )));
        }
        let gpu = match gpu {
            None => "a100-80gb",
            Some(g) => Gpu::lookup(g).map_err(|e| err(e.to_string()))?.name,
        };
        let Some(gpu) = entry.gpus.iter().copied().find(|g| *g == gpu) else {
            return Err(err(format!(
                "{model_name} ({}) is not profiled on {gpu}",
                entry.source.as_str()
            )));
        };
        Ok(Self {
            model: entry.model,
            tp,
            gpu,
            source: entry.source,
        })
    }
}

impl ProfileSpec {
    /// Builds the latency model from the files under `serving_data_dir` (the `serving` folder of
    /// the shared data).
    pub fn build(&self, serving_data_dir: &Path) -> Result<Box<dyn LatencyModel>, ProfileError> {
        self.build_inner(serving_data_dir, None)
    }

    /// As [`build`](Self::build), with the KV capacity set to `kv_capacity_tokens` instead of
    /// derived from GPU memory.
    pub fn build_with_kv_capacity(
        &self,
        serving_data_dir: &Path,
        kv_capacity_tokens: u64,
    ) -> Result<Box<dyn LatencyModel>, ProfileError> {
        self.build_inner(serving_data_dir, Some(kv_capacity_tokens))
    }

    fn build_inner(
        &self,
        dir: &Path,
        capacity: Option<u64>,
    ) -> Result<Box<dyn LatencyModel>, ProfileError> {
        let path = dir.join(self.source.relative_path());
        let arch = ModelArch::lookup(self.model)?;
        let kv_override = capacity.map(|c| super::KvSizing::with_capacity(arch, c));
        Ok(match self.source {
            ProfileSource::DistServe | ProfileSource::Vllm => {
                let mut file = DistServeFile::load(&path)?;
                if self.source == ProfileSource::Vllm {
                    file = file.with_label("vllm");
                }
                Box::new(match kv_override {
                    Some(kv) => file.profile_with_kv(self.model, self.tp, kv)?,
                    None => file.profile(self.model, self.tp)?,
                })
            }
            ProfileSource::Splitwise => {
                let data = SplitwiseData::load(&path)?;
                Box::new(match kv_override {
                    Some(kv) => data.fit_with_kv(self.model, self.gpu, self.tp, kv)?,
                    None => data.fit(self.model, self.gpu, self.tp)?,
                })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> ProfileSpec {
        s.parse()
            .unwrap_or_else(|e| panic!("`{s}` should parse: {e}"))
    }

    #[test]
    fn the_briefs_examples_parse() {
        assert_eq!(parse("opt-13b@a100"), ProfileSpec::default());
        let p = parse("opt-13b:tp2");
        assert_eq!(
            (p.model, p.tp, p.gpu, p.source),
            ("opt-13b", 2, "a100-80gb", ProfileSource::DistServe)
        );
        let p = parse("llama2-70b:tp4@h100");
        assert_eq!(
            (p.model, p.tp, p.gpu, p.source),
            ("llama2-70b", 4, "h100-80gb", ProfileSource::Splitwise)
        );
        assert_eq!(parse("OPT-66B:TP4+vLLM").source, ProfileSource::Vllm);
        assert_eq!(parse("facebook/opt-66b").tp, 2, "the model's default TP");
    }

    #[test]
    fn display_round_trips_for_every_listed_profile() {
        let all = list();
        assert_eq!(all.len(), 6 + 8 + 9 + 3);
        for info in &all {
            assert_eq!(parse(&info.spec).to_string(), info.spec);
        }
        assert_eq!(
            all.iter()
                .filter(|i| i.description.contains("(default)"))
                .count(),
            1
        );
    }

    #[test]
    fn errors_say_what_is_wrong_and_list_choices() {
        let cases = [
            ("gpt-4", "unknown model `gpt-4`"),
            ("opt-13b:tp8", "has no tp8; it has tp1, tp2, tp4"),
            ("opt-13b@h100", "not profiled on h100-80gb"),
            ("llama2-70b+vllm", "source `vllm` has no llama2-70b"),
            ("opt-13b:four", "`four` is not a tensor-parallel degree"),
            ("opt-13b@tpu", "unknown GPU `tpu`"),
        ];
        for (spec, expected) in cases {
            let msg = spec.parse::<ProfileSpec>().expect_err(spec).to_string();
            assert!(msg.contains(expected), "{spec}: {msg}");
            assert!(
                msg.contains("llama2-70b:tp2|4|8@a100|h100|h100-pcap"),
                "{spec}: {msg}"
            );
        }
    }
}
