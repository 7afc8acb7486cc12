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
    /// Build our own wheels from the pinned, verified sdists into wheels-index/.
    BuildWheels(BuildWheels),
    /// Build the application's source distribution reproducibly.
    Sdist(SdistArgs),
    /// Verify the wheel index, then build the application's Debian package.
    BuildDeb(BuildDebArgs),
    /// Build the Debian package twice in varied environments and compare.
    CheckReproducible(CheckReproducibleArgs),
    /// Regenerate requirements/<app>/requirements.txt (sdist sha256 pins) from each application's lockfile.
    UpdateDeps(UpdateDepsArgs),
    /// Print the sdist-pinned requirements of a lockfile on stdout (no configuration needed).
    Requirements(RequirementsArgs),
    /// Regenerate the static index pages, PEP 658 sidecars and sha256sums.txt
    /// from the wheels and sdists in the index's files/.
    RefreshIndex(RefreshIndexArgs),
    /// Sign wheels-index/sha256sums.txt (detached, armored); co-sign when it is already signed.
    Sign(SignArgs),
    /// Verify the signed list (pinned keys, threshold, expiry, rollback, scope) and every file of the index.
    Verify(VerifyArgs),
    /// Verify a detached OpenPGP signature over any file against the keys in a directory.
    VerifySignature(VerifySignatureArgs),
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
pub struct CheckReproducibleArgs {
    /// Application name from packaging/pinwheel.toml (default: the only one).
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// When not root, install missing build dependencies and faketime through sudo.
    #[arg(long)]
    pub install_build_deps: bool,
}

#[derive(Debug, clap::Args)]
pub struct BuildDebArgs {
    /// Application name from packaging/pinwheel.toml (default: the only one).
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// Output directory for the .deb, .buildinfo and .changes (default: target/debian/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// When not root, install missing build dependencies through sudo.
    #[arg(long)]
    pub install_build_deps: bool,
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

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("signer").required(true).args(["key", "gpg"])))]
pub struct SignArgs {
    /// The index directory (default: wheels-index/).
    #[arg(long, value_name = "DIR")]
    pub index: Option<PathBuf>,
    /// Sign with this armored OpenPGP secret key (passphrase from PINWHEEL_KEY_PASSPHRASE or a prompt).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Sign with GnuPG and this key (smartcards work): gpg --detach-sign --armor --local-user KEYID.
    #[arg(long, value_name = "KEYID")]
    pub gpg: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The index directory (default: wheels-index/).
    #[arg(long, value_name = "DIR")]
    pub index: Option<PathBuf>,
    /// Directory of pinned public keys (default: trust.keys from the configuration).
    #[arg(long, value_name = "DIR")]
    pub keys: Option<PathBuf>,
    /// Distinct pinned keys that must sign (default: trust.threshold).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub threshold: Option<u64>,
}

#[derive(Debug, clap::Args)]
pub struct VerifySignatureArgs {
    /// Directory of armored public keys (*.asc, *.pub): every key in it is trusted.
    #[arg(long, value_name = "DIR")]
    pub keys: PathBuf,
    /// The signed file.
    pub file: PathBuf,
    /// Its detached, armored signature.
    pub signature: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct BuildWheels {
    /// Only this application's dependencies (and the bootstrap set).
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// Rebuild this package even when its wheel is current (repeatable).
    #[arg(long, value_name = "NAME")]
    pub rebuild: Vec<String>,
    /// Rebuild every wheel into a temporary directory, compare bytes, write nothing.
    #[arg(long)]
    pub verify_reproducible: bool,
    /// How many builds run at once (default: the number of CPUs).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}
