//! `poetry.lock`, as Poetry 2 writes it (lock-version 2.1) and as Poetry
//! 1.x wrote it (lock-version 1.1 and 2.0)
//! (<https://python-poetry.org/docs/basic-usage/#committing-your-poetrylock-file-to-version-control>).
//!
//! Poetry 2: each package lists the dependency `groups` it belongs to and
//! the `markers` under which it is installed — one string for every group,
//! or a table per group. Production is the packages of group "main" (and
//! of selected groups) whose marker holds on the target, with the selected
//! extras; a forked resolution is the same name twice with disjoint
//! markers.
//!
//! Poetry 1.x recorded no groups nor markers per package (1.1 and early
//! 2.0 a `category`, "main" or "dev", which says nothing about markers):
//! only each package's dependency edges, with markers, `python`
//! constraints (Poetry's syntax, [`constraint`]), extras and optional
//! edges named by `[package.extras]`. Such a lock is walked like a uv.lock
//! from the project's own dependencies, which only pyproject.toml holds
//! ([`attach_pyproject`]). Lock-version 1.1 lists files under `[metadata.files]`;
//! later versions in each package's `files`, each with its `sha256:` hash.
//!
//! `[metadata] content-hash` is the sha256 of the relevant parts of
//! pyproject.toml ([`content_hash`], as Poetry's `Locker` computes it).
//! `[metadata] python-versions` is the project's Python range, a Poetry
//! constraint ([`super::PythonRange::poetry`]).
//!
//! Refused: packages from git, a directory, a file or a URL.

pub(crate) mod constraint;
mod content_hash;
mod pyproject;

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use anyhow::{bail, Context};
use pep508_rs::{ExtraName, PackageName};
use pinwheel_trust::failure;
use serde::Deserialize;

use super::{
    is_sdist_filename, parse_extra, parse_marker, parse_name, parse_prefixed_hash, parse_version,
    Artifact, Dependency, Format, GroupName, Lock, Package, PythonRange, Recorded, Selection, Uses,
    MAIN,
};
use crate::sdist_filename::SdistFilename;
use crate::wheel_filename::WheelFilename;

pub use content_hash::{content_hash, stale_reason};
pub use pyproject::attach_pyproject;

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawLock {
    #[serde(default)]
    package: Vec<RawPackage>,
    metadata: Option<RawMetadata>,
    /// The project's extras: each names the optional dependencies it adds.
    #[serde(default)]
    extras: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawMetadata {
    lock_version: Option<String>,
    /// The project's Python range, a Poetry constraint.
    python_versions: Option<String>,
    content_hash: Option<String>,
    /// Lock-version 1.1: every package's files, by package name.
    #[serde(default)]
    files: BTreeMap<String, Vec<RawFile>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawPackage {
    name: String,
    version: String,
    groups: Option<Vec<String>>,
    markers: Option<RawMarkers>,
    #[serde(default)]
    files: Vec<RawFile>,
    #[serde(default)]
    dependencies: BTreeMap<String, RawDependency>,
    /// The package's extras: each names the optional dependencies it adds.
    #[serde(default)]
    extras: BTreeMap<String, Vec<String>>,
    source: Option<RawSource>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawMarkers {
    All(String),
    PerGroup(BTreeMap<String, String>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawDependency {
    Constraint(String),
    One(RawDependencyTable),
    Many(Vec<RawDependencyTable>),
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawDependencyTable {
    version: Option<String>,
    markers: Option<String>,
    #[serde(default)]
    optional: bool,
    python: Option<String>,
    platform: Option<String>,
    #[serde(default)]
    extras: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawFile {
    file: String,
    hash: String,
    url: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawSource {
    #[serde(rename = "type")]
    kind: String,
    url: Option<String>,
}

/// Which Poetry wrote the lock, as far as it matters here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Generation {
    /// Per-package groups and markers (Poetry 2).
    Groups,
    /// Dependency edges only (Poetry 1.x).
    Edges,
}

/// Reads poetry.lock text.
pub fn parse(text: &str) -> anyhow::Result<Lock> {
    let raw: RawLock = toml::from_str(text)
        .map_err(|err| anyhow::anyhow!("malformed TOML: {}", super::one_line(&err.to_string())))?;
    let metadata = raw
        .metadata
        .context("no [metadata] table: not a poetry.lock")?;
    let version = metadata
        .lock_version
        .context("[metadata] has no lock-version")?;
    let major = version.split('.').next().unwrap_or_default();
    if !(major == "1" || major == "2") {
        bail!("unknown poetry.lock lock-version {version:?} (this reader knows 1.x and 2.x)");
    }
    let with_groups = raw.package.iter().filter(|p| p.groups.is_some()).count();
    let generation = if with_groups == raw.package.len() && major == "2" {
        Generation::Groups
    } else if with_groups == 0 {
        Generation::Edges
    } else {
        let p = raw.package.iter().find(|p| p.groups.is_none());
        bail!(
            "package {} has no `groups` while others have (lock-version {version}); re-lock with `poetry lock`",
            p.map_or(String::new(), |p| format!("{} {}", p.name, p.version))
        );
    };
    let requires_python = match &metadata.python_versions {
        Some(text) => Some(PythonRange::poetry("python-versions", text)?),
        None => None,
    };
    let mut metadata_files = metadata.files;
    let mut versions_of: BTreeMap<PackageName, usize> = BTreeMap::new();
    for p in &raw.package {
        *versions_of.entry(parse_name(&p.name)?).or_default() += 1;
    }
    let mut packages = Vec::new();
    let mut groups: BTreeSet<GroupName> = BTreeSet::new();
    for mut p in raw.package {
        if p.files.is_empty() {
            p.files = files_from_metadata(&mut metadata_files, &p, &versions_of)?;
        }
        let package = package(p, generation)?;
        for g in package.groups.keys().filter(|g| *g != MAIN) {
            groups.insert(GroupName::from_str(g)?);
        }
        packages.push(package);
    }
    let extras = raw
        .extras
        .keys()
        .map(|e| parse_extra(e).context("[extras]"))
        .collect::<anyhow::Result<BTreeSet<ExtraName>>>()?;
    let poetry_version = text
        .lines()
        .next()
        .and_then(|l| l.split("@generated by Poetry ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_owned);
    Ok(Lock {
        format: Format::Poetry,
        packages,
        selection: match generation {
            Generation::Groups => Selection::Markers,
            Generation::Edges => Selection::NeedsPyproject,
        },
        requires_python,
        environments: None,
        uses: Uses {
            extras,
            groups,
            default_groups: BTreeSet::new(),
        },
        recorded: Recorded {
            content_hash: metadata.content_hash,
            poetry_version,
            ..Recorded::default()
        },
    })
}

/// Lock-version 1.1: a package's files from `[metadata.files]`, where one
/// list holds the files of every version of a name; with several
/// versions, each file goes to the version its name says.
fn files_from_metadata(
    files: &mut BTreeMap<String, Vec<RawFile>>,
    p: &RawPackage,
    versions_of: &BTreeMap<PackageName, usize>,
) -> anyhow::Result<Vec<RawFile>> {
    let name = parse_name(&p.name)?;
    let key = files
        .keys()
        .find(|k| parse_name(k).is_ok_and(|k| k == name))
        .cloned();
    let Some(key) = key else {
        return Ok(Vec::new());
    };
    if versions_of.get(&name).copied().unwrap_or_default() <= 1 {
        return Ok(files.remove(&key).unwrap_or_default());
    }
    let version = parse_version(&p.name, &p.version)?;
    let all = files.remove(&key).unwrap_or_default();
    let (mine, others): (Vec<RawFile>, Vec<RawFile>) = all.into_iter().partition(|f| {
        if f.file.ends_with(".whl") {
            WheelFilename::from_str(&f.file).is_ok_and(|w| w.name == name && w.version == version)
        } else {
            SdistFilename::parse_for(&f.file, &name).is_ok_and(|s| s.is(&name, &version))
        }
    });
    files.insert(key, others);
    Ok(mine)
}

fn package(p: RawPackage, generation: Generation) -> anyhow::Result<Package> {
    let name = parse_name(&p.name)?;
    let what = format!("package {} {}", p.name, p.version);
    let mut out = Package::new(name.clone(), parse_version(&p.name, &p.version)?);
    if let Some(source) = &p.source {
        match source.kind.as_str() {
            "legacy" => out.source = source.url.clone(),
            other => {
                return Err(failure::refused(format!(
                    "{what} comes from a {other} source ({}), not a package index; pinwheel pins only index packages",
                    source.url.as_deref().unwrap_or("")
                )))
            }
        }
    }
    for group in p.groups.iter().flatten() {
        let marker = match &p.markers {
            None => pep508_rs::MarkerTree::TRUE,
            Some(RawMarkers::All(m)) => parse_marker(m).with_context(|| what.clone())?,
            Some(RawMarkers::PerGroup(per)) => match per.get(group) {
                Some(m) => parse_marker(m).with_context(|| what.clone())?,
                None => pep508_rs::MarkerTree::TRUE,
            },
        };
        out.groups.insert(group.clone(), marker);
    }
    // Poetry 1.x: which of the package's extras name each dependency.
    let mut extras_naming: BTreeMap<PackageName, Vec<ExtraName>> = BTreeMap::new();
    for (extra, requirements) in &p.extras {
        let extra = parse_extra(extra).with_context(|| what.clone())?;
        for requirement in requirements {
            let dep =
                requirement_name(requirement).with_context(|| format!("{what}, extra {extra}"))?;
            extras_naming.entry(dep).or_default().push(extra.clone());
        }
    }
    for (dep_name, dep) in &p.dependencies {
        let tables: Vec<&RawDependencyTable> = match dep {
            RawDependency::Constraint(_) => Vec::new(),
            RawDependency::One(t) => vec![t],
            RawDependency::Many(ts) => ts.iter().collect(),
        };
        let name = parse_name(dep_name)?;
        let context = || format!("{what}, dependency {dep_name}");
        if let RawDependency::Constraint(c) = dep {
            let mut d = Dependency::new(name);
            if generation == Generation::Edges {
                d.allowed = constraint::parse(c).with_context(context)?;
            }
            out.dependencies.push(d);
            continue;
        }
        for t in tables {
            let mut d = Dependency::new(name.clone());
            if let Some(m) = &t.markers {
                d.marker = parse_marker(m).with_context(context)?;
            }
            d.optional = t.optional;
            d.extras = t
                .extras
                .iter()
                .map(|e| parse_extra(e))
                .collect::<anyhow::Result<_>>()?;
            match generation {
                Generation::Groups => {
                    // Poetry 2 folds `python` into the package's markers.
                    d.unevaluated = t.python.is_some();
                    out.dependencies.push(d);
                }
                Generation::Edges => {
                    edge_constraints(&mut d, t).with_context(context)?;
                    if !d.optional {
                        out.dependencies.push(d);
                        continue;
                    }
                    // An optional edge is installed through the extras
                    // that name it, and no other way.
                    for extra in extras_naming.get(&d.name).into_iter().flatten() {
                        out.optional_dependencies
                            .entry(extra.clone())
                            .or_default()
                            .push(d.clone());
                    }
                }
            }
        }
    }
    for f in &p.files {
        let artifact = Artifact {
            sha256: parse_prefixed_hash(format_args!("{what}: {}", f.file), &f.hash)?,
            filename: f.file.clone(),
            url: f.url.clone(),
            size: None,
        };
        if f.file.ends_with(".whl") {
            out.wheels.push(artifact);
        } else if is_sdist_filename(&f.file) {
            out.sdists.push(artifact);
        } else {
            bail!("{what}: {} is neither a wheel nor an sdist", f.file);
        }
    }
    Ok(out)
}

/// An edge's `version`, `python` and `platform` (Poetry 1.x): the versions
/// it allows, and its marker narrowed by the other two.
fn edge_constraints(d: &mut Dependency, t: &RawDependencyTable) -> anyhow::Result<()> {
    if let Some(version) = &t.version {
        d.allowed = constraint::parse(version)?;
    }
    if let Some(python) = &t.python {
        d.marker.and(constraint::python_marker(python)?);
    }
    if let Some(platform) = &t.platform {
        d.marker.and(constraint::platform_marker(platform)?);
    }
    Ok(())
}

/// The name at the start of a `[package.extras]` entry such as
/// `"PySocks (>=1.5.6,!=1.5.7)"` or `"pysocks>=1.5.6"`.
fn requirement_name(requirement: &str) -> anyhow::Result<PackageName> {
    let end = requirement
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .unwrap_or(requirement.len());
    parse_name(&requirement[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    const CASE: &str = include_str!("../../test_data/locks/extras-markers/poetry.lock");
    const PYPROJECT: &str = include_str!("../../test_data/locks/extras-markers/pyproject.toml");
    const FORK: &str = include_str!("../../test_data/locks/fork/poetry.lock");
    const FORK_PYPROJECT: &str = include_str!("../../test_data/locks/fork/pyproject.toml");

    #[test]
    fn reads_real_lock() {
        let lock = parse(CASE).unwrap();
        let tomli = lock
            .packages
            .iter()
            .find(|p| p.name.as_ref() == "tomli")
            .unwrap();
        assert_eq!(tomli.groups.len(), 2, "main and dev");
        assert_eq!(
            lock::marker_text(&tomli.groups["main"]),
            "python_full_version < '3.11.3'"
        );
        let requests = lock
            .packages
            .iter()
            .find(|p| p.name.as_ref() == "requests")
            .unwrap();
        assert_eq!(requests.sdists.len(), 1);
        let pysocks = requests
            .dependencies
            .iter()
            .find(|d| d.name.as_ref() == "pysocks")
            .unwrap();
        assert!(pysocks.optional);
        assert_eq!(lock.recorded.poetry_version.as_deref(), Some("2.5.1"));
    }

    use super::super as lock;

    #[test]
    fn content_hash_matches_poetry() {
        for (lock_text, pyproject) in [(CASE, PYPROJECT), (FORK, FORK_PYPROJECT)] {
            let lock = parse(lock_text).unwrap();
            let pyproject: toml::Table = toml::from_str(pyproject).unwrap();
            assert_eq!(
                Some(content_hash(&pyproject, true)),
                lock.recorded.content_hash
            );
            assert_eq!(stale_reason(&lock.recorded, &pyproject), None);
        }
        let lock = parse(CASE).unwrap();
        let changed: toml::Table =
            toml::from_str(&PYPROJECT.replace("attrs>=23", "attrs>=24")).unwrap();
        assert!(stale_reason(&lock.recorded, &changed)
            .unwrap()
            .contains("content-hash"));
    }

    #[test]
    fn unknown_lock_version() {
        let text = CASE.replace("lock-version = \"2.1\"", "lock-version = \"3.0\"");
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.contains("unknown poetry.lock lock-version \"3.0\""),
            "{err}"
        );
    }

    const POETRY1: [(&str, &str, &str); 3] = [
        (
            "extras-markers",
            include_str!("../../test_data/locks/extras-markers/poetry1/poetry.lock"),
            include_str!("../../test_data/locks/extras-markers/poetry1/pyproject.toml"),
        ),
        (
            "fork",
            include_str!("../../test_data/locks/fork/poetry1/poetry.lock"),
            include_str!("../../test_data/locks/fork/poetry1/pyproject.toml"),
        ),
        (
            "wheel-only",
            include_str!("../../test_data/locks/wheel-only/poetry1/poetry.lock"),
            include_str!("../../test_data/locks/wheel-only/poetry1/pyproject.toml"),
        ),
    ];

    fn closure(lock: &Lock, extras: &[&str], groups: &[&str]) -> Vec<String> {
        let env = crate::markers::cpython_linux("3.11.2", "x86_64").unwrap();
        let request = crate::closure::Request {
            extras: extras.iter().map(|e| e.parse().unwrap()).collect(),
            groups: groups.iter().map(|g| g.parse().unwrap()).collect(),
        };
        crate::closure::production(lock, &env, &request)
            .unwrap()
            .iter()
            .map(|p| format!("{} {}", p.name, p.version))
            .collect()
    }

    /// The truth file pip made for the Poetry 1.8 lock: "name version".
    fn truth(case: &str) -> Vec<String> {
        let text = match case {
            "extras-markers" => {
                include_str!("../../test_data/locks/extras-markers/truth/poetry1/poetry.lock.txt")
            }
            "fork" => include_str!("../../test_data/locks/fork/truth/poetry1/poetry.lock.txt"),
            _ => include_str!("../../test_data/locks/wheel-only/truth/poetry1/poetry.lock.txt"),
        };
        let mut out: Vec<String> = text
            .lines()
            .map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" "))
            .collect();
        out.dedup();
        out
    }

    #[test]
    fn poetry_1_locks_are_walked_from_pyproject() {
        for (case, text, pyproject) in POETRY1 {
            let mut lock = parse(text).unwrap();
            assert!(
                matches!(lock.selection, Selection::NeedsPyproject),
                "{case}"
            );
            let env = crate::markers::cpython_linux("3.11.2", "x86_64").unwrap();
            let err = crate::closure::production(&lock, &env, &Default::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains("pyproject.toml is needed"), "{err}");
            let pyproject: toml::Table = toml::from_str(pyproject).unwrap();
            assert_eq!(stale_reason(&lock.recorded, &pyproject), None, "{case}");
            attach_pyproject(&mut lock, &pyproject).unwrap();
            assert_eq!(closure(&lock, &[], &[]), truth(case), "{case}");
        }
    }

    #[test]
    fn poetry_1_extras_and_groups() {
        let (_, text, pyproject) = POETRY1[0];
        let mut lock = parse(text).unwrap();
        attach_pyproject(&mut lock, &toml::from_str(pyproject).unwrap()).unwrap();
        let main = closure(&lock, &[], &[]);
        assert!(!main.iter().any(|n| n.starts_with("pyyaml ")), "{main:?}");
        // requests[socks] → PySocks through requests' optional edge.
        assert!(main.contains(&"pysocks 1.7.1".to_owned()), "{main:?}");
        // importlib-metadata = { python = "<3.10" }: not on 3.11.
        assert!(!main.iter().any(|n| n.starts_with("importlib-metadata ")));
        let yaml = closure(&lock, &["yaml"], &[]);
        assert!(yaml.iter().any(|n| n.starts_with("pyyaml ")), "{yaml:?}");
        let dev = closure(&lock, &[], &["dev"]);
        for wanted in ["pytest ", "iniconfig ", "pluggy ", "pygments "] {
            assert!(dev.iter().any(|n| n.starts_with(wanted)), "{dev:?}");
        }
        // pytest's edges to tomli and exceptiongroup hold below 3.11 only.
        assert!(!dev.iter().any(|n| n.starts_with("exceptiongroup ")));
    }

    #[test]
    fn poetry_1_lock_version_1_1() {
        // Lock-version 1.1 (Poetry before 1.3) kept every file under
        // [metadata.files] by name, and a `category` per package. This is
        // the real Poetry 1.8 fork lock moved into that layout: both six
        // versions' files sit in one list.
        let (_, text, pyproject) = POETRY1[1];
        let mut table: toml::Table = toml::from_str(text).unwrap();
        let mut files = toml::Table::new();
        for p in table["package"].as_array_mut().unwrap() {
            let p = p.as_table_mut().unwrap();
            let name = p["name"].as_str().unwrap().to_owned();
            let moved = p.remove("files").unwrap();
            let list = files
                .entry(name)
                .or_insert_with(|| toml::Value::Array(Vec::new()));
            list.as_array_mut()
                .unwrap()
                .extend(moved.as_array().unwrap().iter().cloned());
            p.insert("category".into(), "main".into());
        }
        let metadata = table["metadata"].as_table_mut().unwrap();
        metadata.insert("lock-version".into(), "1.1".into());
        metadata.insert("files".into(), toml::Value::Table(files));
        let old = toml::to_string(&table).unwrap();
        let mut lock = parse(&old).unwrap();
        attach_pyproject(&mut lock, &toml::from_str(pyproject).unwrap()).unwrap();
        assert_eq!(closure(&lock, &[], &[]), truth("fork"));
        let six: Vec<&Package> = lock
            .packages
            .iter()
            .filter(|p| p.name.as_ref() == "six")
            .collect();
        for p in six {
            assert_eq!(p.sdists.len(), 1, "{p}");
            assert!(
                p.sdists[0].filename.contains(&p.version.to_string()),
                "{p}: {:?}",
                p.sdists
            );
        }
    }

    #[test]
    fn adversarial_poetry_1_roots_from_git() {
        let (_, text, pyproject) = POETRY1[1];
        let mut lock = parse(text).unwrap();
        let git = pyproject.replace(
            "iniconfig = \">=2\"",
            "iniconfig = { git = \"https://example.org/iniconfig.git\" }",
        );
        let err = attach_pyproject(&mut lock, &toml::from_str(&git).unwrap()).unwrap_err();
        assert!(pinwheel_trust::failure::is_no(&err), "{err:#}");
        assert!(
            format!("{err:#}")
                .contains("iniconfig comes from git https://example.org/iniconfig.git"),
            "{err:#}"
        );
    }

    #[test]
    fn adversarial_git_source_is_refused() {
        let text = CASE.replacen(
            "[package.source]\ntype = \"legacy\"",
            "[package.source]\ntype = \"git\"",
            1,
        );
        let err = parse(&text).unwrap_err();
        assert!(pinwheel_trust::failure::is_no(&err), "{err:#}");
        assert!(err.to_string().contains("comes from a git source"), "{err}");
    }

    #[test]
    fn poetry_1_lock_without_groups() {
        let text = CASE.replace("groups = [\"main\"]\n", "");
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.contains("has no `groups`") && err.contains("poetry lock"),
            "{err}"
        );
    }
}
