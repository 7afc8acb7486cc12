//! pinwheel's proof, kept out of the binary users run: `cargo xtask bench`
//! ([`bench`]: pinwheel side by side with the tools users would pick
//! instead), `cargo xtask fault-inject` ([`fault_inject`]: SIGKILL at seeded
//! moments, every managed file old or new, never partial), `cargo xtask
//! adversarial-report` ([`adversarial_report`]: every hostile-input test
//! with its expected outcome), the misbehaving HTTP server on 127.0.0.1
//! ([`loopback`]) that tests and benchmarks start, and generated inputs
//! ([`synthetic_lock`], [`rng`]).
//!
//! `cargo xtask bench|fault-inject|adversarial-report` runs this crate's
//! binary through cargo, handing it the `xtask` binary to drive.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Context;

pub mod adversarial_report;
pub mod bench;
pub mod fault_inject;
pub mod fetch_bench;
pub mod loopback;
pub mod rng;
pub mod synthetic_lock;

/// The repository this crate was compiled from: its configuration and
/// demonstration key are the templates of the scratch trees.
pub fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

static XTASK: OnceLock<PathBuf> = OnceLock::new();

/// Names the `xtask` binary that the proof starts and measures; once per
/// process (later calls are ignored).
pub fn use_xtask_binary(path: &Path) {
    let _ = XTASK.set(path.to_path_buf());
}

/// The `xtask` binary named by [`use_xtask_binary`], else the `xtask`
/// beside this executable (both live in cargo's `target/<profile>/`).
pub fn xtask_binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = XTASK.get() {
        return Ok(path.clone());
    }
    let me = std::env::current_exe().context("locating the pinwheel-proof binary")?;
    let beside = me.with_file_name("xtask");
    anyhow::ensure!(
        beside.is_file(),
        "no xtask binary at {} (run through `cargo xtask`)",
        beside.display()
    );
    Ok(beside)
}
