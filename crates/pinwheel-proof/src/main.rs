//! `pinwheel-proof`: the binary behind `cargo xtask bench`, `cargo xtask
//! fault-inject` and `cargo xtask adversarial-report`. `cargo xtask` starts
//! it through cargo with the repository root and its own path; run
//! directly, it finds the `xtask` binary beside itself.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "pinwheel's proof: benchmarks, fault injection, the adversarial record"
)]
struct Proof {
    /// Repository root (default: the current directory's workspace).
    #[arg(long, global = true, env = "PINWHEEL_ROOT", value_name = "DIR")]
    root: Option<PathBuf>,
    /// The xtask binary to drive (default: the one beside this binary).
    #[arg(
        long,
        global = true,
        hide = true,
        env = "PINWHEEL_XTASK_BINARY",
        value_name = "FILE"
    )]
    xtask: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measure pinwheel side by side with the tools users would pick
    /// instead and rewrite BENCHMARKS.md and its plot.
    Bench(pinwheel_proof::bench::Options),
    /// Kill commands with SIGKILL at random moments and check that every
    /// file they manage is whole: old or new, never partial or missing.
    FaultInject(pinwheel_proof::fault_inject::Options),
    /// Run every adversarial_* test and list each case with its expected
    /// outcome and whether it held.
    AdversarialReport(pinwheel_proof::adversarial_report::Options),
}

fn main() -> ExitCode {
    let proof = Proof::parse();
    match run(proof) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(pinwheel_trust::failure::exit_code(&err))
        }
    }
}

fn run(proof: Proof) -> anyhow::Result<()> {
    if let Some(xtask) = &proof.xtask {
        pinwheel_proof::use_xtask_binary(xtask);
    }
    let root = match proof.root {
        Some(root) => root,
        None => {
            xtask::root::find(&std::env::current_dir().context("reading the current directory")?)?
        }
    };
    match proof.command {
        Command::Bench(options) => pinwheel_proof::bench::run(&root, options),
        Command::FaultInject(options) => pinwheel_proof::fault_inject::run(&root, &options),
        Command::AdversarialReport(options) => {
            pinwheel_proof::adversarial_report::run(&root, &options)
        }
    }
}
