//! `skua`: the one binary. Parses arguments, calls the libraries, prints, sets the exit code.
//!
//! Exit codes: 0 success; 1 error (unreadable input, bad configuration, infeasible plan…);
//! 2 usage error (clap); 3 input refused: by the validation policy (nothing of it was stored), or a
//! trace line `skua simulate` cannot read.

mod bench;
mod bench_experts;
mod bench_forecast;
mod bench_serving;
mod cli;
mod commands;
mod experts;
mod live;
mod output;
mod pipeline;
mod report_build;
mod run;
mod simulate;

use std::process::ExitCode;

use clap::Parser;
use cli::{BenchWhat, Cli, Command, SimulateWhat};

/// How a command ended, when it did not fail outright.
pub enum Outcome {
    /// Everything done.
    Ok,
    /// Done, but some input was refused (files unreadable or series rejected).
    Rejected(String),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet = cli.quiet;
    let result = match &cli.command {
        Command::Run(a) => run::run(a, quiet),
        Command::Ingest(a) => commands::ingest(a, quiet),
        Command::Validate(a) => commands::validate(a),
        Command::Forecast(a) => commands::forecast(a, quiet),
        Command::Plan(a) => commands::plan(a, quiet),
        Command::Evaluate(a) => commands::evaluate(a, quiet),
        Command::Demo(a) => commands::demo(a),
        Command::Bench(b) => match &b.what {
            BenchWhat::Fleet(a) => bench::fleet(a),
            BenchWhat::Forecast(a) => bench_forecast::forecast(a, quiet),
            BenchWhat::Serving(a) => bench_serving::serving(a, quiet),
            BenchWhat::Experts(a) => bench_experts::experts(a, quiet),
        },
        Command::Simulate(s) => match &s.what {
            SimulateWhat::Run(a) => simulate::run(a, quiet),
            SimulateWhat::Profiles => simulate::profiles(),
            SimulateWhat::Fidelity(a) => simulate::fidelity(a, quiet),
        },
        Command::Experts(e) => match &e.what {
            experts::ExpertsWhat::Plan(a) => experts::plan(a, quiet),
            experts::ExpertsWhat::Evaluate(a) => experts::evaluate(a, quiet),
        },
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Rejected(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(3)
        }
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            // A malformed expert-load file is refused input, like a bad trace line.
            let refused = e.chain().any(|c| {
                matches!(
                    c.downcast_ref::<skua_moe::MoeError>(),
                    Some(skua_moe::MoeError::Parse { .. })
                )
            });
            ExitCode::from(if refused { 3 } else { 1 })
        }
    }
}
