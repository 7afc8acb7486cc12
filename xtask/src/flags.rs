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
    /// Write a synthetic locked project of N packages (for benchmarks).
    #[command(hide = true)]
    SyntheticLock(SyntheticLockArgs),
}

#[derive(Debug, clap::Args)]
pub struct SyntheticLockArgs {
    /// How many packages.
    #[arg(long, value_name = "N")]
    pub packages: usize,
    /// uv (pyproject.toml + uv.lock) or poetry (pyproject.toml + poetry.lock).
    #[arg(long, value_parser = ["uv", "poetry"])]
    pub format: String,
    /// The directory to write into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
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
pub struct SdistArgs {
    /// Application name from packaging/pinwheel.toml (default: the only one).
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// Output directory (default: target/sdist/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
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
