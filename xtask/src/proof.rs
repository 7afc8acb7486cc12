//! `cargo xtask bench`, `cargo xtask fault-inject` and `cargo xtask
//! adversarial-report`: the proof lives in its own crate
//! (`crates/pinwheel-proof`), so that none of it is compiled into the
//! binary users run. These commands build and run its binary through cargo
//! (`cargo run --package pinwheel-proof`), handing it the repository root
//! and this binary to drive; its exit code is passed on.

use std::ffi::OsString;
use std::path::Path;

use anyhow::Context;

/// The command line of a forwarded command: everything after its name,
/// `--help` included, goes to the proof binary.
#[derive(Debug, Clone, clap::Args)]
#[command(disable_help_flag = true)]
pub struct Forward {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<OsString>,
}

/// Runs `pinwheel-proof <command> <args>` through cargo and returns its
/// exit code.
pub fn forward(root: &Path, command: &str, forward: &Forward) -> anyhow::Result<u8> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let exe = std::env::current_exe().context("locating the xtask binary")?;
    let mut argv: Vec<OsString> = [
        "run",
        "--package",
        "pinwheel-proof",
        "--bin",
        "pinwheel-proof",
        "--",
        "--root",
    ]
    .into_iter()
    .map(OsString::from)
    .collect();
    argv.push(root.into());
    argv.push("--xtask".into());
    argv.push(exe.into());
    argv.push(command.into());
    argv.extend(forward.args.iter().cloned());
    let out = duct::cmd(&cargo, &argv)
        .dir(root)
        .unchecked()
        .run()
        .with_context(|| {
            format!(
                "running {} {}",
                cargo.to_string_lossy(),
                "run --package pinwheel-proof"
            )
        })?;
    Ok(match out.status.code() {
        Some(0) => 0,
        Some(1) => 1,
        _ => 2,
    })
}
