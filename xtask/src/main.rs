//! `cargo xtask`: the pinwheel command line. Parses the command line and
//! dispatches to one module per command, each owning its flags. Exit
//! codes: 0 ok; 1 the input was read and the answer is no (verification
//! failed, refused, stale); 2 the command could not do its work (usage,
//! I/O, malformed input).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use pinwheel_trust::failure;
use xtask::{
    add_app, build_deb, build_wheels, check_reproducible, chroot_command, config, proof,
    refresh_index, requirements, sdist, sign, sync_wheels, update_deps, verify, verify_signature,
    vet,
};

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    version,
    about = "pinwheel: reproducible, signed Debian packages of Python applications"
)]
struct Pinwheel {
    /// Repository root (default: the nearest directory at or above the
    /// current one holding packaging/pinwheel.toml).
    #[arg(long, global = true, env = "PINWHEEL_ROOT", value_name = "DIR")]
    root: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

/// The commands in pipeline order, then the tools, then the proof.
#[derive(Debug, Subcommand)]
enum Command {
    /// Register one more application: its [apps.NAME] table, its debian/control stanza and per-package files.
    AddApp(add_app::Args),
    /// Regenerate requirements/<app>/<target>/requirements.txt (sdist sha256 pins) from each application's lockfile, and build-requirements.txt (our wheels).
    UpdateDeps(update_deps::Options),
    /// Were the updates read? Check every pinned sdist against the audits in packaging/supply-chain/ (cargo-vet's model); diff, inspect and certify.
    Vet(vet::Args),
    /// Build our own wheels from the pinned, verified sdists into wheels-index/.
    BuildWheels(build_wheels::Options),
    /// Sign wheels-index/sha256sums.txt (detached, armored); co-sign when it is already signed.
    Sign(sign::Args),
    /// Verify the signed list (pinned keys, threshold, expiry, rollback, scope) and every file of the index.
    Verify(verify::Args),
    /// Verify the wheel index, then build the application's Debian package.
    BuildDeb(build_deb::Options),
    /// Build the Debian package twice in varied environments and compare.
    CheckReproducible(check_reproducible::Options),
    /// Print the sdist-pinned requirements of a lockfile on stdout (no configuration needed).
    Requirements(requirements::Options),
    /// Regenerate the static index pages, PEP 658 sidecars and sha256sums.txt
    /// from the wheels and sdists in the index's files/.
    RefreshIndex(refresh_index::Args),
    /// Make (or check) each target's clean chroot of its Debian suite (mmdebstrap, cached).
    Chroot(chroot_command::Args),
    /// Fetch a remote wheel index's signed list, verify it, then download the files missing here.
    SyncWheels(sync_wheels::Args),
    /// Verify a detached OpenPGP signature over any file against the keys in a directory.
    VerifySignature(verify_signature::Args),
    /// Build the application's source distribution reproducibly.
    Sdist(sdist::Options),
    /// Parse packaging/pinwheel.toml and print a summary: one line, then one per target.
    CheckConfig,
    /// The test suite as CI runs it: install the test tools (as root),
    /// clippy with the workspace lints, then cargo test --workspace.
    Test(xtask::test::Args),
    /// Measure pinwheel side by side with the tools users would pick
    /// instead and rewrite BENCHMARKS.md (runs crates/pinwheel-proof).
    Bench(proof::Forward),
    /// Kill commands with SIGKILL at random moments and check that every
    /// file they manage is whole (runs crates/pinwheel-proof).
    FaultInject(proof::Forward),
    /// Run every adversarial_* test and list each case with its expected
    /// outcome and whether it held (runs crates/pinwheel-proof).
    AdversarialReport(proof::Forward),
}

fn main() -> ExitCode {
    match run(Pinwheel::parse()) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(failure::exit_code(&err))
        }
    }
}

fn run(pinwheel: Pinwheel) -> anyhow::Result<u8> {
    let root = root(pinwheel.root)?;
    let root = root.as_path();
    match pinwheel.command {
        Command::AddApp(a) => a.run(root)?,
        Command::UpdateDeps(o) => update_deps::run(root, &o)?,
        Command::Vet(a) => a.run(root)?,
        Command::BuildWheels(o) => build_wheels::run(root, &o)?,
        Command::Sign(a) => a.run(root)?,
        Command::Verify(a) => a.run(root)?,
        Command::BuildDeb(o) => build_deb::run(root, &o)?,
        Command::CheckReproducible(o) => check_reproducible::run(root, &o)?,
        Command::Requirements(o) => requirements::run(root, &o)?,
        Command::RefreshIndex(a) => a.run(root)?,
        Command::Chroot(a) => return a.run(root),
        Command::SyncWheels(a) => a.run(root)?,
        Command::VerifySignature(a) => a.run()?,
        Command::Sdist(o) => {
            sdist::run(root, &o)?;
        }
        Command::CheckConfig => {
            let config = config::Config::load(root)?;
            println!(
                "{}: {} application(s), {} target(s)",
                config.path.display(),
                config.apps.len(),
                config.targets.len()
            );
            for t in config.targets.values() {
                println!(
                    "target {}: Debian {} ({}), CPython {}, {}",
                    t.name,
                    t.suite,
                    t.architecture,
                    t.python,
                    t.platform()
                );
            }
        }
        Command::Test(a) => a.run(root)?,
        Command::Bench(f) => return proof::forward(root, "bench", &f),
        Command::FaultInject(f) => return proof::forward(root, "fault-inject", &f),
        Command::AdversarialReport(f) => return proof::forward(root, "adversarial-report", &f),
    }
    Ok(0)
}

/// The repository root: `--root`, else the nearest directory at or above
/// the current one that holds `packaging/pinwheel.toml` (as git and cargo
/// find theirs), else the workspace this binary was built from.
fn root(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask crate has no parent directory")?;
    // `cargo run` names the package it ran; with a target directory shared
    // between two clones it can run the binary last built from the other.
    if let Some(ran_for) = std::env::var_os("CARGO_MANIFEST_DIR") {
        xtask::root::check_binary(Path::new(&ran_for), Path::new(env!("CARGO_MANIFEST_DIR")))?;
    }
    let root = match flag {
        Some(root) => root,
        None => {
            let cwd = std::env::current_dir().context("reading the current directory")?;
            match xtask::root::find(&cwd) {
                Ok(root) => root,
                Err(_) => built_from.to_path_buf(),
            }
        }
    };
    fs_err::canonicalize(&root).with_context(|| format!("repository root {}", root.display()))
}
