//! What `build-wheels` builds for one target: the pinned sdists of the
//! bootstrap set (the production closure of `packaging/bootstrap/uv.lock`
//! for the target's markers, read by the lockfile readers) and of each
//! application that ships to the target
//! (`requirements/<app>/<target>/requirements.txt`, written by
//! `update-deps`). Wheel-only pins have no sdist to build and are skipped.

use std::collections::BTreeSet;

use anyhow::{bail, Context};
use pep440_rs::Version;
use pep508_rs::PackageName;

use crate::config::{Config, Target};
use crate::requirements;
use pinwheel_pypa::lockfile::{self, Format};
use pinwheel_pypa::requirements_txt::Pins;
use pinwheel_trust::hash::Sha256;

/// Whether a pin belongs to the bootstrap set (built with the hook runner on
/// a PYTHONPATH of other bootstrap wheels) or to an application (built in
/// the venv of all bootstrap wheels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Bootstrap,
    App,
}

/// One pinned sdist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub name: PackageName,
    pub version: Version,
    /// The sdist's sha256 (a package may publish several sdists; any one
    /// of these is the pinned file).
    pub sha256: Vec<Sha256>,
    pub role: Role,
}

/// The bootstrap pins for `target` and the pins of `app` (all applications
/// when None) that ship to `target`, merged: a package pinned by both is
/// built once, as bootstrap.
pub fn collect(config: &Config, app: Option<&str>, target: &Target) -> anyhow::Result<Vec<Pin>> {
    let mut pins = bootstrap_pins(config, target)?;
    let apps: Vec<&str> = match app {
        Some(name) => {
            config.app(name)?;
            vec![name]
        }
        None => config.apps.keys().map(String::as_str).collect(),
    };
    for name in apps {
        let ships = config
            .targets_of(config.app(name)?)
            .iter()
            .any(|t| t.name == target.name);
        if !ships {
            continue;
        }
        let (label, app_pins) = app_pins(config, name, target)?;
        for pin in app_pins {
            match pins
                .iter()
                .find(|p| p.name == pin.name && p.version == pin.version)
            {
                Some(existing) if existing.sha256 != pin.sha256 => bail!(
                    "{label}: {} {} is pinned with other sdist hashes than in {}",
                    pin.name,
                    pin.version,
                    config.bootstrap.lock.display()
                ),
                Some(_) => {}
                None => pins.push(pin),
            }
        }
    }
    pins.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    Ok(pins)
}

/// The sdist pins of application `name` for `target`
/// (`requirements/<app>/<target>/requirements.txt`, wheel-only pins
/// left out), with the file's path relative to the root for messages.
pub fn app_pins(
    config: &Config,
    name: &str,
    target: &Target,
) -> anyhow::Result<(String, Vec<Pin>)> {
    let path = crate::update_deps::requirements_path(&config.root, name, &target.name);
    let label = path
        .strip_prefix(&config.root)
        .unwrap_or(&path)
        .display()
        .to_string();
    let text = fs_err::read_to_string(&path).with_context(|| {
        format!(
            "no pins for {name} on target {}: run `cargo xtask update-deps --app {name}` first",
            target.name
        )
    })?;
    let parsed = Pins::parse(&text).with_context(|| label.clone())?;
    let pins = parsed
        .pins
        .into_iter()
        .filter(|p| !p.wheel_only)
        .map(|pin| Pin {
            sha256: pin.hashes().copied().collect(),
            name: pin.name,
            version: pin.version,
            role: Role::App,
        })
        .collect();
    Ok((label, pins))
}

/// The sdists of the bootstrap lock's production closure for the target.
pub fn bootstrap_pins(config: &Config, target: &Target) -> anyhow::Result<Vec<Pin>> {
    let path = config.abs(&config.bootstrap.lock);
    let label = config.bootstrap.lock.display().to_string();
    let bytes = fs_err::read(&path)?;
    let text = requirements::lock_text(&label, &bytes)?;
    let format = Format::detect(&path, text).with_context(|| label.clone())?;
    let lock = lockfile::parse(&label, format, text)?;
    let env = target
        .marker_environment()
        .with_context(|| config.path.display().to_string())?;
    let how = "build backends must be built from source: pick versions with an sdist";
    let pins = requirements::pin_lock(
        &label,
        lock,
        &env,
        &BTreeSet::new(),
        how,
        &lockfile::Offline,
    )?;
    Ok(pins
        .into_iter()
        .map(|p| Pin {
            sha256: p.hashes().copied().collect(),
            name: p.name,
            version: p.version,
            role: Role::Bootstrap,
        })
        .collect())
}
