//! `cargo xtask test [ARGS]...`: the test suite as CI runs it, on any
//! Debian 12 machine with a Rust toolchain. Installs the Debian tools the
//! tests use ([`PACKAGES`]) when run as root, or names the exact `sudo
//! apt-get install` line and exits 2; then runs clippy with the
//! workspace's lints (warnings are errors) and `cargo test --workspace
//! ARGS`. Plain `cargo test --workspace` works too once the tools are
//! installed; a test that misses one says which and how to get it.

use std::ffi::OsString;
use std::path::Path;

use anyhow::{bail, Context};

use crate::host_packages;

/// The Debian packages the tests call: GnuPG and sqv as OpenPGP peers;
/// Python, pip and venv to build and install wheels; dpkg, debhelper,
/// fakeroot, faketime, lintian and strip-nondeterminism to build and
/// check packages; git for rollback checks; util-linux for `unshare`;
/// mmdebstrap, Debian's archive keyring and uidmap to make the target
/// chroots builds run in.
pub const PACKAGES: &[&str] = &[
    "build-essential",
    "debhelper",
    "debian-archive-keyring",
    "dh-strip-nondeterminism",
    "dpkg-dev",
    "fakeroot",
    "faketime",
    "git",
    "gnupg",
    "gpgv",
    "lintian",
    "mmdebstrap",
    "python3",
    "python3-dev",
    "python3-pip",
    "python3-pip-whl",
    "python3-venv",
    "sqv",
    "strip-nondeterminism",
    "uidmap",
    "util-linux",
];

/// The line that installs every test tool, for messages.
pub fn install_line() -> String {
    let names: Vec<String> = PACKAGES.iter().map(|p| (*p).to_owned()).collect();
    host_packages::sudo_line(&names)
}

/// The command line of `cargo xtask test`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Skip clippy (the lints) and run only the tests.
    #[arg(long)]
    pub no_clippy: bool,
    /// Passed on to `cargo test --workspace` (e.g. `-- --skip slow::`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<OsString>,
}

impl Args {
    /// Runs the command.
    pub fn run(self, root: &Path) -> anyhow::Result<()> {
        let missing = host_packages::missing(PACKAGES)?;
        host_packages::install(&missing, "test tools", false, None)?;
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
        if !self.no_clippy {
            let clippy = duct::cmd(&cargo, ["clippy", "--version"])
                .stdout_null()
                .stderr_null()
                .unchecked()
                .run()
                .is_ok_and(|out| out.status.success());
            if !clippy {
                bail!("clippy is not installed: run `rustup component add clippy` (or pass --no-clippy)");
            }
            cargo_step(
                root,
                &cargo,
                &[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ],
                &[],
            )?;
        }
        cargo_step(root, &cargo, &["test", "--workspace"], &self.args)
    }
}

fn cargo_step(
    root: &Path,
    cargo: &OsString,
    args: &[&str],
    extra: &[OsString],
) -> anyhow::Result<()> {
    let mut argv: Vec<OsString> = args.iter().map(OsString::from).collect();
    argv.extend(extra.iter().cloned());
    let shown = format!("cargo {}", args.join(" "));
    eprintln!("test: {shown}");
    let status = duct::cmd(cargo, &argv)
        .dir(root)
        .unchecked()
        .run()
        .with_context(|| format!("cannot run {shown}"))?
        .status;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}
