//! `cargo xtask chroot`: makes (or checks) the build chroot of each
//! selected target and prints one line per target: name, suite and
//! architecture, python, number of packages, disk size in MB (10^6 bytes)
//! and the chroot's root directory. `--runtime` does the same for the
//! runtime chroots (where a built `.deb` is installed), `--refresh` makes
//! them again, and `-- COMMAND…` runs a command inside the one selected
//! target's chroot (working directory `/`, no binds, no network) and exits
//! with its status.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{bail, Context};

use crate::chroot::{self, Flavor};
use crate::config::Config;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The target to prepare (repeatable; default: every target).
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
    /// Remove the cached chroot and make it again.
    #[arg(long)]
    pub refresh: bool,
    /// The runtime chroot (a minimal system plus python3) instead of the
    /// build chroot.
    #[arg(long)]
    pub runtime: bool,
    /// A command to run inside the chroot (one target only).
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

impl Args {
    pub fn run(&self, root: &Path) -> anyhow::Result<u8> {
        let config = Config::load(root)?;
        let targets = config.selected_targets(&self.targets)?;
        if !self.command.is_empty() && targets.len() != 1 {
            bail!("running a command inside needs exactly one target: pass --target NAME");
        }
        let flavor = if self.runtime {
            chroot::runtime_flavor(&config)
        } else {
            Flavor::Build {
                extra: control_build_depends(root)?,
            }
        };
        for target in targets {
            let prepared = chroot::prepare(root, target, &flavor, self.refresh)?;
            if let [program, args @ ..] = self.command.as_slice() {
                let (program, args) = prepared.command(&[], Path::new("/"), program, args);
                let status = duct::cmd(&program, &args)
                    .unchecked()
                    .run()
                    .with_context(|| format!("cannot run {program}"))?
                    .status;
                return Ok(status
                    .code()
                    .and_then(|c| u8::try_from(c).ok())
                    .unwrap_or(2));
            }
            let bytes = prepared.disk_usage()?;
            println!(
                "{}: {}/{}, python {}, {} packages, {} MB, {}",
                target.name,
                target.suite,
                target.architecture,
                prepared.python,
                prepared.packages.len(),
                bytes.div_ceil(1_000_000),
                prepared.dir.display()
            );
        }
        Ok(0)
    }
}

/// The Build-Depends names of `<root>/debian/control` (none when the
/// repository has no `debian/`).
pub fn control_build_depends(root: &Path) -> anyhow::Result<BTreeSet<String>> {
    let path = root.join("debian/control");
    match fs_err::read_to_string(&path) {
        Ok(text) => Ok(chroot::build_depends(&text).into_iter().collect()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(err) => Err(err.into()),
    }
}
