//! What `build-wheels` builds: the pinned sdists of the bootstrap set
//! (`packaging/bootstrap/uv.lock`) and of each application
//! (`requirements/<app>/requirements.txt`).
//!
//! INTERIM: until the lockfile readers land, the bootstrap uv.lock is read
//! here (every package with an sdist, the project itself excluded) and the
//! requirements files with a minimal parser.

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
        config.app(name)?;
        let path = config
            .root
            .join("requirements")
            .join(name)
            .join("requirements.txt");
        let text = fs_err::read_to_string(&path).with_context(|| {
            format!("no pins for {name}: run `cargo xtask update-deps --app {name}` first")
        })?;
        for pin in parse_requirements(&text, &path)? {
            match pins.iter().find(|p| p.name == pin.name && p.version == pin.version) {
                Some(existing) if existing.sha256 != pin.sha256 => bail!(
                    "{}: {} {} is pinned with different sdist hashes by the bootstrap set and by {name}",
                    path.display(),
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

fn parse_requirements(text: &str, path: &std::path::Path) -> anyhow::Result<Vec<Pin>> {
    let joined = text.replace("\\\n", " ");
    let mut pins = Vec::new();
    for line in joined.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let spec = words.next().unwrap_or_default();
        let (name, version) = spec
            .split_once("==")
            .with_context(|| format!("{}: {spec:?} is not pinned with ==", path.display()))?;
        let mut sha256 = Vec::new();
        for word in words {
            let hex = word
                .strip_prefix("--hash=sha256:")
                .with_context(|| format!("{}: unexpected {word:?}", path.display()))?;
            sha256.push(
                Sha256::from_str(hex).with_context(|| format!("{}: {name}", path.display()))?,
            );
        }
        if sha256.is_empty() {
            bail!("{}: {name} has no --hash", path.display());
        }
        pins.push(Pin {
            name: PackageName::from_str(name)
                .with_context(|| format!("{}: {name}", path.display()))?,
            version: Version::from_str(version)
                .map_err(|e| anyhow::anyhow!("{}: {version}: {e}", path.display()))?,
            sha256,
            role: Role::App,
        });
    }
    Ok(pins)
}
