//! The one error type of the profile module.

use std::path::PathBuf;

/// Everything that can go wrong while loading, fitting or choosing an engine profile.
///
/// `file` is the path as given (or the name passed to a `from_reader`/`from_str` function);
/// `line` is the 1-based line number as an editor shows it.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be opened or read.
    #[error("cannot read {}: {source}; check that the file exists and is readable", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The DistServe profile is not valid JSON or not of the expected shape.
    #[error(
        "{file}:{line}:{column}: malformed DistServe profile: {reason}; expected \
         {{\"<model>\": {{\"<tp>\": {{\"prefill\": [a, b, c], \"decoding_smallbs\": [a, b, c], \
         \"decoding_largebs\": [a, b, c], \"decoding_large_small_bs_threshold\": n}}}}}}"
    )]
    Json {
        /// The file (or reader name).
        file: String,
        /// 1-based line number.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What serde_json reported.
        reason: String,
    },
    /// A line of the Splitwise CSV could not be used.
    #[error("{file}:{line}: {reason}; fix or remove that line")]
    Csv {
        /// The file (or reader name).
        file: String,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// The content parsed but a value is unusable (non-finite coefficient, bad TP key, …).
    #[error("{file}: {reason}")]
    Invalid {
        /// The file (or reader name).
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// The requested model is not in the file.
    #[error("{file} has no profile for model `{model}`; it has: {available}")]
    UnknownModel {
        /// The file (or reader name).
        file: String,
        /// The model asked for.
        model: String,
        /// The models the file has.
        available: String,
    },
    /// The model is in the file but not at this tensor-parallel degree (or on this GPU).
    #[error("{file} has no profile for `{model}` at {wanted}; it has: {available}")]
    UnknownVariant {
        /// The file (or reader name).
        file: String,
        /// The model.
        model: String,
        /// What was asked for, e.g. `tp3` or `tp4 on h100-80gb`.
        wanted: String,
        /// The variants the file has for that model.
        available: String,
    },
    /// No architecture (layers, hidden size, KV heads) is known for a model.
    #[error("no architecture known for model `{model}`; known: {known}")]
    UnknownArch {
        /// The model name.
        model: String,
        /// The known models.
        known: String,
    },
    /// No memory size is known for a GPU name.
    #[error("unknown GPU `{gpu}`; known: {known}")]
    UnknownGpu {
        /// The GPU name.
        gpu: String,
        /// The known GPU names.
        known: String,
    },
    /// The weights (plus the activation reserve) leave no room for a KV cache.
    #[error(
        "{model} at tp{tp} does not fit: weights {weights_gb:.1} GB + activation reserve \
         {reserve_gb:.1} GB exceed the {usable_gb:.1} GB usable; use a larger tensor-parallel \
         degree or set the KV capacity explicitly"
    )]
    DoesNotFit {
        /// The model.
        model: String,
        /// Tensor-parallel degree.
        tp: u32,
        /// Weight bytes, GB (1e9).
        weights_gb: f64,
        /// Activation reserve over all GPUs, GB.
        reserve_gb: f64,
        /// GPU memory × TP × utilisation, GB.
        usable_gb: f64,
    },
    /// A least-squares fit could not be computed (too few rows, singular system).
    #[error("cannot fit {what} for {group}: {reason}")]
    Fit {
        /// `model/hardware/tp`.
        group: String,
        /// `prompt_time` or `token_time`.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// A profile name such as `llama2-70b:tp4@h100` could not be understood.
    #[error("bad profile `{spec}`: {reason}; valid profiles: {valid}")]
    Spec {
        /// The text given.
        spec: String,
        /// What is wrong.
        reason: String,
        /// The valid choices.
        valid: String,
    },
}
