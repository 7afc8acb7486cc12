//! Wheels built in this run, waiting for the commit step: each checked to
//! be a wheel of the project and version its sdist pins (PEP 427 file
//! name), normalized (`pinwheel_archive::wheel`) into a temporary staging
//! directory and recorded with its sdist. Nothing here touches
//! `wheels-index/`.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context};
use pep440_rs::Version;
use pep508_rs::PackageName;

use super::sdists::VerifiedSdist;
use pinwheel_archive::wheel;
use pinwheel_pypa::wheel_filename::WheelFilename;
use pinwheel_trust::hash::Sha256;

/// A wheel built in this run, waiting in the staging directory.
#[derive(Debug, Clone)]
pub struct Built {
    /// The target it was built in (its chroot and interpreter).
    pub target: String,
    pub name: PackageName,
    pub version: Version,
    /// The sdist it was built from.
    pub sdist: VerifiedSdist,
    pub wheel: PathBuf,
    pub wheel_sha256: Sha256,
}

/// The staging directory and the wheels in it, in the order they were
/// built.
pub struct Staging {
    dir: tempfile::TempDir,
    source_date_epoch: u64,
    /// The target whose wheels are being added, and its subdirectory.
    target: String,
    built: Vec<Built>,
}

impl Staging {
    /// A new, empty staging directory; wheels are normalized with
    /// `source_date_epoch`.
    pub fn new(source_date_epoch: u64) -> anyhow::Result<Staging> {
        let dir = tempfile::Builder::new()
            .prefix("pinwheel-wheels-")
            .tempdir()
            .context("creating a staging directory")?;
        Ok(Staging {
            dir,
            source_date_epoch,
            target: String::new(),
            built: Vec::new(),
        })
    }

    /// The staging directory (bound into the build chroots: the venv of a
    /// later application build installs bootstrap wheels from it).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Wheels added from now on were built in `target`; each target's
    /// wheels go to a subdirectory of their own (a pure wheel rebuilt in
    /// two targets has one file name).
    pub fn begin_target(&mut self, target: &str) -> anyhow::Result<()> {
        fs_err::create_dir_all(self.dir.path().join(target))?;
        self.target = target.to_owned();
        Ok(())
    }

    /// Checks that `raw`, the wheel a backend wrote from `sdist`, is a wheel
    /// of `name` `version`, normalizes it into the staging directory and
    /// records it.
    pub fn add(
        &mut self,
        name: &PackageName,
        version: &Version,
        sdist: &VerifiedSdist,
        raw: &Path,
    ) -> anyhow::Result<&Built> {
        let dir = self.dir.path().join(&self.target);
        let (wheel, wheel_sha256) = stage_wheel(raw, &dir, name, version, self.source_date_epoch)?;
        self.built.push(Built {
            target: self.target.clone(),
            name: name.clone(),
            version: version.clone(),
            sdist: sdist.clone(),
            wheel,
            wheel_sha256,
        });
        Ok(&self.built[self.built.len() - 1])
    }

    /// The wheels built so far.
    pub fn built(&self) -> &[Built] {
        &self.built
    }
}

/// Checks that `raw` is a wheel of `name` `version`, normalizes it
/// (`wheel.rs`) into `staging` and returns the wheel and its sha256.
fn stage_wheel(
    raw: &Path,
    staging: &Path,
    name: &PackageName,
    version: &Version,
    source_date_epoch: u64,
) -> anyhow::Result<(PathBuf, Sha256)> {
    let raw_name = super::file_name(raw);
    let filename = WheelFilename::from_str(&raw_name).map_err(|err| {
        anyhow::anyhow!("{name} {version}: the backend wrote {raw_name:?}: {err}")
    })?;
    if !filename.is(name, version) {
        bail!(
            "{name} {version}: the backend built {raw_name}, a wheel of another project or version"
        );
    }
    let bytes = wheel::normalize(&fs_err::read(raw)?, &filename, source_date_epoch)
        .with_context(|| format!("{name} {version}: normalizing {raw_name}"))?;
    let dest = staging.join(&raw_name);
    fs_err::write(&dest, &bytes)?;
    Ok((dest, Sha256::of(&bytes)))
}
