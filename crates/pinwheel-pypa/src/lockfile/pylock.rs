//! `pylock.toml`, PEP 751 lock-version 1.x
//! (<https://packaging.python.org/en/latest/specifications/pylock-toml/>).
//!
//! Every `[[packages]]` entry is installed when its `marker` holds on the
//! target; the same name twice must have disjoint markers. Files are
//! `sdist` and `wheels`, each with a `hashes` table (we require `sha256`)
//! and a `name` or a `url`/`path` whose last segment is the file name.
//!
//! A lock for several uses declares `extras`, `dependency-groups` and
//! `default-groups`; package markers then test the lock-only variables
//! `extras` and `dependency_groups` (`'feat' in extras`), which are the
//! selected extras and the default groups plus the selected groups
//! (`closure.rs`; [`crate::markers::LockMarker`] reads them). A lock's
//! `environments` are the only ones it covers: the target must match one.
//!
//! Refused: `vcs`, `directory` and `archive` packages (except the project
//! itself, a `directory` at "."), files without a sha256 hash.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use anyhow::{bail, Context};
use pinwheel_trust::failure;
use serde::Deserialize;

use super::{
    parse_extra, parse_marker, parse_name, parse_sha256, parse_version, url_filename, Artifact,
    Environments, Format, GroupName, Lock, Package, PythonRange, Recorded, Selection, Uses, MAIN,
};
use crate::markers::LockMarker;

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawLock {
    lock_version: Option<String>,
    requires_python: Option<String>,
    environments: Option<Vec<String>>,
    #[serde(default)]
    extras: Vec<String>,
    #[serde(default)]
    dependency_groups: Vec<String>,
    #[serde(default)]
    default_groups: Vec<String>,
    #[serde(default)]
    packages: Vec<RawPackage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawPackage {
    name: String,
    version: Option<String>,
    marker: Option<String>,
    index: Option<String>,
    vcs: Option<toml::Value>,
    directory: Option<RawDirectory>,
    archive: Option<toml::Value>,
    sdist: Option<RawFile>,
    #[serde(default)]
    wheels: Vec<RawFile>,
}

#[derive(Deserialize)]
struct RawDirectory {
    path: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawFile {
    name: Option<String>,
    url: Option<String>,
    path: Option<String>,
    size: Option<u64>,
    #[serde(default)]
    hashes: BTreeMap<String, String>,
}

/// Reads pylock.toml text.
pub fn parse(text: &str) -> anyhow::Result<Lock> {
    let raw: RawLock = toml::from_str(text)
        .map_err(|err| anyhow::anyhow!("malformed TOML: {}", super::one_line(&err.to_string())))?;
    let version = raw
        .lock_version
        .clone()
        .context("no lock-version: not a pylock.toml")?;
    if version.split('.').next() != Some("1") {
        bail!("unknown pylock.toml lock-version {version:?} (this reader knows 1.x)");
    }
    let uses = uses(&raw)?;
    let mut packages = Vec::new();
    for p in raw.packages {
        if let Some(dir) = &p.directory {
            if dir.path.as_deref() == Some(".") {
                continue; // the project itself
            }
        }
        let what = format!("package {} {}", p.name, p.version.as_deref().unwrap_or(""));
        let local = [
            ("vcs", p.vcs.is_some()),
            ("directory", p.directory.is_some()),
            ("archive", p.archive.is_some()),
        ];
        if let Some((kind, _)) = local.iter().find(|(_, present)| *present) {
            return Err(failure::refused(format!(
                "{what} is a {kind} package, not from a package index; pinwheel pins only index packages"
            )));
        }
        let Some(version) = &p.version else {
            bail!("package {} has no version", p.name);
        };
        let mut out = Package::new(parse_name(&p.name)?, parse_version(&p.name, version)?);
        out.source = p.index.clone();
        let marker = match &p.marker {
            Some(m) => {
                let lock_marker = LockMarker::parse(m).with_context(|| what.clone())?;
                if lock_marker.uses_lock_variables() {
                    out.lock_marker = Some(lock_marker);
                    pep508_rs::MarkerTree::TRUE
                } else {
                    parse_marker(m).with_context(|| what.clone())?
                }
            }
            None => pep508_rs::MarkerTree::TRUE,
        };
        out.groups.insert(MAIN.to_owned(), marker);
        if let Some(sdist) = &p.sdist {
            out.sdists.push(artifact(&what, sdist)?);
        }
        for wheel in &p.wheels {
            out.wheels.push(artifact(&what, wheel)?);
        }
        packages.push(out);
    }
    let requires_python = match &raw.requires_python {
        Some(r) => Some(PythonRange::pep440("requires-python", r)?),
        None => None,
    };
    let environments = match &raw.environments {
        Some(list) => Some(Environments {
            key: "environments",
            markers: list
                .iter()
                .map(|m| parse_marker(m).context("environments"))
                .collect::<anyhow::Result<_>>()?,
        }),
        None => None,
    };
    Ok(Lock {
        format: Format::Pylock,
        packages,
        selection: Selection::Markers,
        requires_python,
        environments,
        uses,
        recorded: Recorded::default(),
    })
}

/// The top-level `extras`, `dependency-groups` and `default-groups`.
fn uses(raw: &RawLock) -> anyhow::Result<Uses> {
    let groups = |key: &str, names: &[String]| -> anyhow::Result<BTreeSet<GroupName>> {
        names
            .iter()
            .map(|g| GroupName::from_str(g).with_context(|| key.to_owned()))
            .collect()
    };
    let uses = Uses {
        extras: raw
            .extras
            .iter()
            .map(|e| parse_extra(e).context("extras"))
            .collect::<anyhow::Result<_>>()?,
        groups: groups("dependency-groups", &raw.dependency_groups)?,
        default_groups: groups("default-groups", &raw.default_groups)?,
    };
    if let Some(g) = uses.default_groups.difference(&uses.groups).next() {
        bail!(
            "default-groups names {:?}, which dependency-groups does not list",
            g.to_string()
        );
    }
    Ok(uses)
}

fn artifact(what: &str, f: &RawFile) -> anyhow::Result<Artifact> {
    let location = f.url.as_deref().or(f.path.as_deref()).unwrap_or("");
    let filename = f
        .name
        .clone()
        .unwrap_or_else(|| url_filename(location).to_owned());
    if filename.is_empty() {
        bail!("{what}: a file has neither a name nor a url");
    }
    let Some(digest) = f.hashes.get("sha256") else {
        let algorithms: Vec<&str> = f.hashes.keys().map(String::as_str).collect();
        return Err(failure::refused(format!(
            "{what}: {filename} has no sha256 hash (only: {})",
            if algorithms.is_empty() {
                "none".to_owned()
            } else {
                algorithms.join(", ")
            }
        )));
    };
    Ok(Artifact {
        sha256: parse_sha256(format_args!("{what}: {filename}"), digest)?,
        filename,
        url: f.url.clone(),
        size: f.size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CASE: &str = include_str!("../../test_data/locks/extras-markers/pylock.toml");

    #[test]
    fn reads_real_lock() {
        let lock = parse(CASE).unwrap();
        let pysocks = lock
            .packages
            .iter()
            .find(|p| p.name.as_ref() == "pysocks")
            .unwrap();
        assert_eq!(pysocks.sdists[0].filename, "PySocks-1.7.1.tar.gz");
        assert_eq!(pysocks.wheels[0].filename, "pysocks-1.7.1-py3-none-any.whl");
        let colorama = lock
            .packages
            .iter()
            .find(|p| p.name.as_ref() == "colorama")
            .unwrap();
        assert_eq!(
            super::super::marker_text(&colorama.groups[MAIN]),
            "sys_platform == 'win32'"
        );
    }

    #[test]
    fn unknown_lock_version() {
        let text = CASE.replace("lock-version = \"1.0\"", "lock-version = \"2.0\"");
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.contains("unknown pylock.toml lock-version \"2.0\""),
            "{err}"
        );
    }

    #[test]
    fn md5_only() {
        let text = "lock-version = \"1.0\"\n[[packages]]\nname = \"a\"\nversion = \"1\"\n\
                    sdist = { url = \"https://h/a-1.tar.gz\", hashes = { md5 = \"00\" } }\n";
        let err = parse(text).unwrap_err();
        assert!(pinwheel_trust::failure::is_no(&err), "{err}");
        assert!(
            err.to_string()
                .contains("a-1.tar.gz has no sha256 hash (only: md5)"),
            "{err}"
        );
    }

    #[test]
    fn vcs_package() {
        let text = "lock-version = \"1.0\"\n[[packages]]\nname = \"a\"\nvcs = { type = \"git\", url = \"https://h/a\" }\n";
        let err = parse(text).unwrap_err();
        assert!(pinwheel_trust::failure::is_no(&err), "{err}");
        assert!(err.to_string().contains("is a vcs package"), "{err}");
    }
}
