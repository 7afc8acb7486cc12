//! Command-line flags (clap). Turning flags into options happens here and
//! nowhere else; each command module receives plain values.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    version,
    about = "pinwheel: reproducible, signed Debian packages of Python applications"
)]
pub struct Pinwheel {
    /// Repository root (default: the workspace this xtask was built from).
    #[arg(long, global = true, env = "PINWHEEL_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse packaging/pinwheel.toml and print a one-line summary.
    CheckConfig,
    /// Build the application's source distribution reproducibly.
    Sdist(SdistArgs),
    /// Regenerate requirements/<app>/requirements.txt (sdist sha256 pins) from each application's lockfile.
    UpdateDeps(UpdateDepsArgs),
    /// Print the sdist-pinned requirements of a lockfile on stdout (no configuration needed).
    Requirements(RequirementsArgs),
    /// Regenerate the static index pages, PEP 658 sidecars and sha256sums.txt
    /// from the wheels and sdists in the index's files/.
    RefreshIndex(RefreshIndexArgs),
    /// Measure pinwheel side by side with the tools users would pick
    /// instead and rewrite BENCHMARKS.md and bench/scaling.svg.
    Bench(BenchArgs),
    /// Kill commands with SIGKILL at random moments and check that every
    /// file they manage is whole: old or new, never partial or missing.
    FaultInject(FaultInjectArgs),
    /// Run every adversarial_* test and list each case with its expected
    /// outcome and whether it held.
    AdversarialReport(AdversarialReportArgs),
}

#[derive(Debug, clap::Args)]
pub struct UpdateDepsArgs {
    /// Only this application (default: every configured one).
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// Write nothing; print the diff and exit 1 if a file is out of date.
    #[arg(long)]
    pub check: bool,
    /// Re-lock (uv or poetry) when the lock no longer matches pyproject.toml.
    #[arg(long, conflicts_with = "check")]
    pub relock: bool,
    /// Look the pinned sdists up in the package index.
    #[arg(long)]
    pub online: bool,
}

#[derive(Debug, clap::Args)]
pub struct RequirementsArgs {
    /// poetry.lock, uv.lock, pylock.toml or a hashed requirements .txt.
    #[arg(long, value_name = "FILE")]
    pub lock: PathBuf,
    /// The project's pyproject.toml (default: beside a uv.lock or poetry.lock).
    #[arg(long, value_name = "FILE")]
    pub pyproject: Option<PathBuf>,
    /// Target CPython version (default: the configured target, else 3.11.2).
    #[arg(long, value_name = "X.Y.Z")]
    pub python: Option<String>,
    /// Pin this package's upstream wheels: it publishes no sdist.
    #[arg(long = "allow-wheel-only", value_name = "NAME")]
    pub allow_wheel_only: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct RefreshIndexArgs {
    /// The index directory (default: wheels-index/ under the root).
    #[arg(long, value_name = "DIR")]
    pub index: Option<PathBuf>,
    /// Write nothing; exit 1 if any generated file is out of date.
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, clap::Args)]
pub struct SdistArgs {
    /// Application name from packaging/pinwheel.toml (default: the only one).
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// Output directory (default: target/sdist/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Fewer repetitions (3 instead of 7).
    #[arg(long)]
    pub quick: bool,
    /// Run only this comparison (repeatable); the report then goes to
    /// target/bench/ instead of BENCHMARKS.md.
    #[arg(long, value_name = "NAME")]
    pub only: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct FaultInjectArgs {
    /// Kills per command.
    #[arg(long, default_value_t = 13)]
    pub runs: usize,
    /// Seed of the kill moments.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Only this command (repeatable).
    #[arg(long, value_name = "COMMAND")]
    pub only: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct AdversarialReportArgs {
    /// Read the output of a `cargo test` run instead of running the tests.
    #[arg(long, value_name = "FILE")]
    pub from_log: Option<PathBuf>,
}

impl Pinwheel {
    /// Parses `std::env::args`; clap exits 2 on usage errors.
    pub fn parse_args() -> Self {
        Self::parse()
    }

    /// The repository root: `--root`, or the workspace this binary was built
    /// from.
    pub fn root(&self) -> anyhow::Result<PathBuf> {
        let root = match &self.root {
            Some(root) => root.clone(),
            None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .context("xtask crate has no parent directory")?
                .to_path_buf(),
        };
        fs_err::canonicalize(&root).with_context(|| format!("repository root {}", root.display()))
    }
}
