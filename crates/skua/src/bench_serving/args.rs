//! Flags of `skua bench serving` (kept beside the command; `cli.rs` only names the struct).

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use skua_serving::policy::{PolicyError, catalog};

use crate::cli::{ServingDataArgs, slice_range};

/// Which shared trace(s) to benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TraceChoice {
    /// The Azure LLM 2023 conversation trace on 8 × opt-13b:tp1@a100.
    Azure,
    /// The Mooncake conversation trace on 16 × llama2-70b:tp8@h100.
    Mooncake,
    /// Both.
    All,
}

/// `skua bench serving`.
#[derive(Debug, Args)]
pub struct BenchServingArgs {
    #[command(flatten)]
    pub data: ServingDataArgs,
    /// Trace(s) to run.
    #[arg(long, value_enum, default_value = "all")]
    pub trace: TraceChoice,
    /// Policies to compare, comma-separated (default: every policy in the catalog).
    #[arg(long, value_delimiter = ',', value_name = "A,B,…", value_parser = policy_name)]
    pub policies: Vec<String>,
    /// Arrival speed-ups at which attainment is reported, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4", value_name = "X,Y,…",
          value_parser = positive)]
    pub speedups: Vec<f64>,
    /// Only arrivals in [START, END) seconds of each trace, re-based to START (`0:1800`, `1800:`).
    #[arg(long, value_name = "START:END", value_parser = slice_range)]
    pub slice: Option<(f64, f64)>,
    /// Only the first N requests of each trace (after --slice).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub take: Option<u64>,
    /// Also run FlowKV's scenarios: computational imbalance (on the Mooncake cluster) and
    /// extreme overload (bursts on the first trace); "normal" is the traces themselves.
    #[arg(long)]
    pub scenarios: bool,
    /// Length of the imbalance scenario, seconds (half prefill-heavy, half decode-heavy).
    #[arg(long, default_value_t = 1200.0, value_name = "S", value_parser = positive)]
    pub scenario_seconds: f64,
    /// Range of arrival speed-ups the goodput search may report (`LO:HI`).
    #[arg(long, default_value = "0.03125:32", value_name = "LO:HI", value_parser = range)]
    pub goodput_range: (f64, f64),
    /// Worker threads (results do not depend on it).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub threads: u64,
    /// Seed of randomised policies and generated scenarios.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write every figure as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML report (tables and SVG plots) here.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// A name the policy catalog knows (else the catalog's own error, a usage error).
pub(crate) fn policy_name(s: &str) -> Result<String, String> {
    let names = catalog::names();
    let name = s.trim();
    if names.contains(&name) {
        Ok(name.to_string())
    } else {
        Err(PolicyError::Unknown {
            name: name.to_string(),
            known: names.join(", "),
        }
        .to_string())
    }
}

/// A finite number > 0.
fn positive(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("{s:?} is not a number greater than 0")),
    }
}

/// `LO:HI`, two numbers with 0 < LO ≤ HI.
fn range(s: &str) -> Result<(f64, f64), String> {
    let usage = || format!("{s:?} is not LO:HI with 0 < LO ≤ HI (example: 0.25:16)");
    let (a, b) = s.split_once(':').ok_or_else(usage)?;
    let (lo, hi) = (
        positive(a).map_err(|_| usage())?,
        positive(b).map_err(|_| usage())?,
    );
    if lo > hi {
        return Err(usage());
    }
    Ok((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_ranges_are_checked() {
        assert_eq!(positive("2"), Ok(2.0));
        assert!(positive("0").is_err() && positive("x").is_err() && positive("inf").is_err());
        assert_eq!(range("0.5:8"), Ok((0.5, 8.0)));
        assert!(range("8:0.5").is_err() && range("1").is_err() && range("0:1").is_err());
    }
}
