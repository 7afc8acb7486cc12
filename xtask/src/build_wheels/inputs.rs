//! What `build-wheels` builds: the pinned sdists of the bootstrap set
//! (`packaging/bootstrap/uv.lock`) and of each application
//! (`requirements/<app>/requirements.txt`).
//!
//! INTERIM: until the lockfile readers land, both are read from the uv.lock
//! files (every package with an sdist, the project itself excluded).

use std::str::FromStr;

use anyhow::{bail, Context};
use pep440_rs::Version;
use pep508_rs::PackageName;

use crate::config::Config;
use crate::hash::Sha256;

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

/// The bootstrap pins and the pins of `app` (all applications when None),
/// merged: a package pinned by both is built once, as bootstrap.
pub fn collect(config: &Config, app: Option<&str>) -> anyhow::Result<Vec<Pin>> {
    let mut pins = read_uv_lock(&config.abs(&config.bootstrap.lock), Role::Bootstrap)?;
    let apps: Vec<&str> = match app {
        Some(name) => {
            config.app(name)?;
            vec![name]
        }
        None => config.apps.keys().map(String::as_str).collect(),
    };
    for name in apps {
        let app = config.app(name)?;
        for pin in read_uv_lock(&config.abs(&app.lock), Role::App)? {
            match pins.iter().find(|p| p.name == pin.name && p.version == pin.version) {
                Some(existing) if existing.sha256 != pin.sha256 => bail!(
                    "{}: {} {} is pinned with different sdist hashes by the bootstrap set and by {name}",
                    app.lock.display(),
                    pin.name,
                    pin.version
                ),
                Some(_) => {}
                None => pins.push(pin),
            }
        }
    }
    pins.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    Ok(pins)
}

fn read_uv_lock(path: &std::path::Path, role: Role) -> anyhow::Result<Vec<Pin>> {
    let text = fs_err::read_to_string(path)?;
    let doc: toml::Table = toml::from_str(&text).map_err(|err| {
        anyhow::anyhow!(
            "{}: {}",
            path.display(),
            crate::config::one_line(&err.to_string())
        )
    })?;
    let mut pins = Vec::new();
    for package in doc
        .get("package")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
    {
        let source = package.get("source").and_then(|s| s.as_table());
        if source.is_some_and(|s| s.contains_key("virtual") || s.contains_key("editable")) {
            continue;
        }
        let name = package
            .get("name")
            .and_then(|n| n.as_str())
            .context("package without name")?;
        let version = package
            .get("version")
            .and_then(|n| n.as_str())
            .context("package without version")?;
        let hash = package
            .get("sdist")
            .and_then(|s| s.get("hash"))
            .and_then(|h| h.as_str())
            .with_context(|| format!("{}: {name} {version} has no sdist", path.display()))?;
        let hex = hash
            .strip_prefix("sha256:")
            .with_context(|| format!("{}: {hash} is not sha256", path.display()))?;
        pins.push(Pin {
            name: PackageName::from_str(name)
                .with_context(|| format!("{}: {name}", path.display()))?,
            version: Version::from_str(version)
                .map_err(|e| anyhow::anyhow!("{}: {version}: {e}", path.display()))?,
            sha256: vec![
                Sha256::from_str(hex).with_context(|| format!("{}: {name}", path.display()))?
            ],
            role,
        });
    }
    Ok(pins)
}
