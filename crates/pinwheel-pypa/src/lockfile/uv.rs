//! `uv.lock` (version 1, any revision): uv's universal lockfile
//! (<https://docs.astral.sh/uv/concepts/projects/layout/#the-lockfile>).
//!
//! The project is the package whose source is `virtual = "."` or
//! `editable = "."`; production is its `dependencies`, plus the
//! `optional-dependencies` of selected extras and the `dev-dependencies` of
//! selected groups, walked through dependency markers and extras by
//! `closure.rs`. A lock made for some environments only (`[tool.uv]
//! environments`) lists them as `supported-markers`; without those, its
//! `resolution-markers` are the forks it was resolved for: either way the
//! target must match one. When the lock holds the
//! same name twice (a forked resolution), edges name the `version` and
//! `source` they mean. Each package has an `sdist` table and a `wheels`
//! array, with `sha256:` hashes.
//!
//! The project's `[package.metadata]` (its `requires-dist` and
//! `requires-dev`) is kept to tell whether pyproject.toml changed since
//! locking ([`stale_reason`]).
//!
//! Not supported: workspace members other than the root as dependencies.
//! Refused: git, path, directory and direct-URL sources, files without a
//! hash.

use std::collections::BTreeMap;
use std::str::FromStr;

use anyhow::{bail, Context};
use pep440_rs::VersionSpecifiers;
use pep508_rs::{MarkerTree, PackageName, Requirement};
use pinwheel_trust::failure;
use serde::Deserialize;

use super::{
    parse_extra, parse_marker, parse_name, parse_prefixed_hash, parse_version, url_filename,
    Artifact, Dependency, Environments, Format, GroupName, Lock, Package, PythonRange, Recorded,
    Selection, Uses,
};

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawLock {
    version: Option<u32>,
    requires_python: Option<String>,
    #[serde(default)]
    resolution_markers: Vec<String>,
    #[serde(default)]
    supported_markers: Vec<String>,
    #[serde(default)]
    package: Vec<RawPackage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawPackage {
    name: String,
    version: Option<String>,
    source: Option<RawSource>,
    #[serde(default)]
    dependencies: Vec<RawDependency>,
    #[serde(default)]
    optional_dependencies: BTreeMap<String, Vec<RawDependency>>,
    #[serde(default)]
    dev_dependencies: BTreeMap<String, Vec<RawDependency>>,
    sdist: Option<RawArtifact>,
    #[serde(default)]
    wheels: Vec<RawArtifact>,
    metadata: Option<RawMetadata>,
}

#[derive(Deserialize, Default, Clone, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
struct RawSource {
    registry: Option<String>,
    #[serde(rename = "virtual")]
    virtual_: Option<String>,
    editable: Option<String>,
    git: Option<String>,
    path: Option<String>,
    directory: Option<String>,
    url: Option<String>,
}

impl RawSource {
    fn is_project(&self) -> bool {
        self.virtual_.as_deref() == Some(".") || self.editable.as_deref() == Some(".")
    }

    /// "registry <url>", "git <url>", … for messages and disambiguation.
    fn describe(&self) -> String {
        let kinds = [
            ("registry", &self.registry),
            ("virtual", &self.virtual_),
            ("editable", &self.editable),
            ("git", &self.git),
            ("path", &self.path),
            ("directory", &self.directory),
            ("url", &self.url),
        ];
        kinds
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k} {v}")))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawDependency {
    name: String,
    version: Option<String>,
    source: Option<RawSource>,
    #[serde(default)]
    extra: Vec<String>,
    marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawArtifact {
    url: Option<String>,
    path: Option<String>,
    filename: Option<String>,
    hash: Option<String>,
    size: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct RawMetadata {
    #[serde(default)]
    requires_dist: Vec<RawRequirement>,
    #[serde(default)]
    requires_dev: BTreeMap<String, Vec<RawRequirement>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawRequirement {
    name: String,
    #[serde(default)]
    extras: Vec<String>,
    specifier: Option<String>,
    marker: Option<String>,
    url: Option<String>,
    git: Option<String>,
    path: Option<String>,
    directory: Option<String>,
    editable: Option<String>,
}

/// The project's requirements as uv.lock recorded them, normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedProject {
    pub name: PackageName,
    pub requires_python: Option<String>,
    pub requires_dist: Vec<String>,
    pub requires_dev: BTreeMap<String, Vec<String>>,
}

/// Reads uv.lock text.
pub fn parse(text: &str) -> anyhow::Result<Lock> {
    let raw: RawLock = toml::from_str(text)
        .map_err(|err| anyhow::anyhow!("malformed TOML: {}", super::one_line(&err.to_string())))?;
    match raw.version {
        Some(1) => {}
        Some(v) => bail!(
            "unknown uv.lock version {v} (this reader knows version 1); re-lock with `uv lock`"
        ),
        None => bail!("no `version` key: not a uv.lock"),
    }
    let mut project = None;
    let mut packages = Vec::new();
    for p in raw.package {
        let source = p.source.clone().unwrap_or_default();
        if source.is_project() {
            if project.is_some() {
                bail!("two packages are the project itself (source \".\")");
            }
            project = Some(p);
            continue;
        }
        packages.push(package(p)?);
    }
    let Some(project) = project else {
        bail!("no package is the project itself (source virtual or editable \".\")");
    };
    let name = parse_name(&project.name)?;
    let edges = |deps: &[RawDependency]| {
        deps.iter()
            .map(|d| dependency(&name, d))
            .collect::<anyhow::Result<Vec<_>>>()
    };
    let roots = edges(&project.dependencies)?;
    let mut extras = BTreeMap::new();
    for (extra, deps) in &project.optional_dependencies {
        extras.insert(parse_extra(extra)?, edges(deps)?);
    }
    let mut groups = BTreeMap::new();
    for (group, deps) in &project.dev_dependencies {
        groups.insert(GroupName::from_str(group)?, edges(deps)?);
    }
    let uses = Uses {
        extras: extras.keys().cloned().collect(),
        groups: groups.keys().cloned().collect(),
        default_groups: Default::default(),
    };
    let metadata = project.metadata.unwrap_or_default();
    let recorded = RecordedProject {
        name: name.clone(),
        requires_python: raw.requires_python,
        requires_dist: metadata
            .requires_dist
            .iter()
            .map(recorded_requirement)
            .collect::<anyhow::Result<_>>()?,
        requires_dev: metadata
            .requires_dev
            .iter()
            .map(|(g, reqs)| {
                Ok((
                    g.clone(),
                    reqs.iter()
                        .map(recorded_requirement)
                        .collect::<anyhow::Result<_>>()?,
                ))
            })
            .collect::<anyhow::Result<_>>()?,
    };
    let recorded = normalize_recorded(recorded);
    let requires_python = match &recorded.requires_python {
        Some(r) => Some(PythonRange::pep440("requires-python", r)?),
        None => None,
    };
    let environments = environments(&raw.supported_markers, &raw.resolution_markers)?;
    Ok(Lock {
        format: Format::Uv,
        packages,
        requires_python,
        environments,
        uses,
        selection: Selection::Walk {
            project: name,
            roots,
            extras,
            groups,
        },
        recorded: Recorded {
            uv_project: Some(recorded),
            ..Recorded::default()
        },
    })
}

/// The environments the lock covers: its `supported-markers`, else its
/// `resolution-markers` (the forks of a universal resolution, which
/// together cover what it was resolved for); neither: every environment.
fn environments(
    supported: &[String],
    resolution: &[String],
) -> anyhow::Result<Option<Environments>> {
    let (key, list) = match (supported, resolution) {
        ([], []) => return Ok(None),
        ([], list) => ("resolution-markers", list),
        (list, _) => ("supported-markers", list),
    };
    let markers = list
        .iter()
        .map(|m| parse_marker(m).context(key))
        .collect::<anyhow::Result<_>>()?;
    Ok(Some(Environments { key, markers }))
}

fn package(p: RawPackage) -> anyhow::Result<Package> {
    let Some(version) = &p.version else {
        bail!("package {} has no version", p.name);
    };
    let name = parse_name(&p.name)?;
    let mut out = Package::new(name.clone(), parse_version(&p.name, version)?);
    let source = p.source.clone().unwrap_or_default();
    match &source.registry {
        Some(registry) => out.source = Some(registry.clone()),
        None => {
            return Err(failure::refused(format!(
                "package {} {version} comes from {}, not a package index; pinwheel pins only index packages",
                p.name,
                if source == RawSource::default() { "nowhere".to_owned() } else { source.describe() }
            )))
        }
    }
    for d in &p.dependencies {
        out.dependencies.push(dependency(&name, d)?);
    }
    for (extra, deps) in &p.optional_dependencies {
        let deps = deps
            .iter()
            .map(|d| dependency(&name, d))
            .collect::<anyhow::Result<Vec<_>>>()?;
        out.optional_dependencies.insert(parse_extra(extra)?, deps);
    }
    let what = format!("package {} {version}", p.name);
    if let Some(sdist) = &p.sdist {
        out.sdists.push(artifact(&what, sdist)?);
    }
    for wheel in &p.wheels {
        out.wheels.push(artifact(&what, wheel)?);
    }
    Ok(out)
}

fn dependency(parent: &PackageName, d: &RawDependency) -> anyhow::Result<Dependency> {
    let mut out = Dependency::new(parse_name(&d.name)?);
    out.extras = d
        .extra
        .iter()
        .map(|e| parse_extra(e))
        .collect::<anyhow::Result<_>>()?;
    if let Some(marker) = &d.marker {
        out.marker = parse_marker(marker)
            .with_context(|| format!("package {parent}, dependency {}", d.name))?;
    }
    if let Some(version) = &d.version {
        out.version = Some(parse_version(&d.name, version)?);
    }
    out.source = d.source.as_ref().and_then(|s| s.registry.clone());
    Ok(out)
}

fn artifact(what: &str, a: &RawArtifact) -> anyhow::Result<Artifact> {
    let location = a
        .url
        .as_deref()
        .or(a.path.as_deref())
        .or(a.filename.as_deref())
        .unwrap_or("");
    let filename = a
        .filename
        .clone()
        .unwrap_or_else(|| url_filename(location).to_owned());
    let Some(hash) = &a.hash else {
        return Err(failure::refused(format!("{what}: {filename} has no hash")));
    };
    Ok(Artifact {
        sha256: parse_prefixed_hash(format_args!("{what}: {filename}"), hash)?,
        filename,
        url: a.url.clone(),
        size: a.size,
    })
}

/// A recorded requirement as one canonical string.
fn recorded_requirement(r: &RawRequirement) -> anyhow::Result<String> {
    let name = parse_name(&r.name)?;
    let marker = match &r.marker {
        Some(m) => parse_marker(m)?,
        None => MarkerTree::TRUE,
    };
    let extras = r
        .extras
        .iter()
        .map(|e| parse_extra(e))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let specifier = match &r.specifier {
        Some(s) => Some(VersionSpecifiers::from_str_checked(s)?),
        None => None,
    };
    let url = [&r.url, &r.git, &r.path, &r.directory, &r.editable]
        .into_iter()
        .flatten()
        .next()
        .cloned();
    Ok(canonical(
        &name,
        &extras,
        specifier.as_ref(),
        url.as_deref(),
        &marker,
    ))
}

trait FromStrChecked: Sized {
    fn from_str_checked(s: &str) -> anyhow::Result<Self>;
}

impl FromStrChecked for VersionSpecifiers {
    fn from_str_checked(s: &str) -> anyhow::Result<Self> {
        s.parse::<VersionSpecifiers>()
            .map_err(|err| anyhow::anyhow!("invalid version specifier {s:?}: {err}"))
    }
}

/// `name[extras] specifiers @ url ; marker`, with extras and specifiers
/// sorted, for comparing requirements written differently.
fn canonical(
    name: &PackageName,
    extras: &[pep508_rs::ExtraName],
    specifier: Option<&VersionSpecifiers>,
    url: Option<&str>,
    marker: &MarkerTree,
) -> String {
    let mut extras: Vec<String> = extras.iter().map(ToString::to_string).collect();
    extras.sort();
    extras.dedup();
    let mut specs: Vec<String> = specifier
        .map(|s| s.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    specs.sort();
    let mut out = name.to_string();
    if !extras.is_empty() {
        out += &format!("[{}]", extras.join(","));
    }
    out += &specs.join(",");
    if let Some(url) = url {
        out += &format!(" @ {url}");
    }
    if let Some(m) = marker.try_to_string() {
        out += &format!(" ; {m}");
    }
    out
}

fn normalize_recorded(mut r: RecordedProject) -> RecordedProject {
    r.requires_dist.sort();
    for reqs in r.requires_dev.values_mut() {
        reqs.sort();
    }
    r.requires_dev.retain(|_, v| !v.is_empty());
    r
}

/// What pyproject.toml says, in the form uv.lock records it.
pub fn project_from_pyproject(pyproject: &toml::Table) -> anyhow::Result<RecordedProject> {
    let project = pyproject
        .get("project")
        .and_then(|p| p.as_table())
        .context("no [project] table")?;
    let name = parse_name(
        project
            .get("name")
            .and_then(|n| n.as_str())
            .context("[project] has no name")?,
    )?;
    let mut requires_dist = Vec::new();
    for req in strings(project.get("dependencies"), "project.dependencies")? {
        requires_dist.push(requirement(&req, None)?);
    }
    if let Some(optional) = project
        .get("optional-dependencies")
        .and_then(|o| o.as_table())
    {
        for (extra, reqs) in optional {
            let extra = parse_extra(extra)?;
            for req in strings(Some(reqs), "project.optional-dependencies")? {
                requires_dist.push(requirement(&req, Some(&extra))?);
            }
        }
    }
    let mut requires_dev: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(groups) = pyproject
        .get("dependency-groups")
        .and_then(|g| g.as_table())
    {
        for group in groups.keys() {
            let mut seen = Vec::new();
            let reqs = group_requirements(groups, group, &mut seen)?;
            let group_name = parse_extra(group)?.to_string();
            for req in reqs {
                requires_dev
                    .entry(group_name.clone())
                    .or_default()
                    .push(requirement(&req, None)?);
            }
        }
    }
    let legacy_dev = pyproject
        .get("tool")
        .and_then(|t| t.get("uv"))
        .and_then(|u| u.get("dev-dependencies"));
    for req in strings(legacy_dev, "tool.uv.dev-dependencies")? {
        requires_dev
            .entry("dev".to_owned())
            .or_default()
            .push(requirement(&req, None)?);
    }
    let requires_python = project
        .get("requires-python")
        .and_then(|r| r.as_str())
        .map(str::to_owned);
    Ok(normalize_recorded(RecordedProject {
        name,
        requires_python,
        requires_dist,
        requires_dev,
    }))
}

/// A group's requirements with `{include-group = "…"}` expanded.
pub(crate) fn group_requirements(
    groups: &toml::Table,
    group: &str,
    seen: &mut Vec<String>,
) -> anyhow::Result<Vec<String>> {
    if seen.iter().any(|g| g == group) {
        bail!("dependency group {group:?} includes itself");
    }
    seen.push(group.to_owned());
    let items = groups
        .get(group)
        .and_then(|g| g.as_array())
        .with_context(|| format!("dependency group {group:?} is not an array"))?;
    let mut out = Vec::new();
    for item in items {
        match item {
            toml::Value::String(s) => out.push(s.clone()),
            toml::Value::Table(t) => {
                let inc = t
                    .get("include-group")
                    .and_then(|i| i.as_str())
                    .context("dependency group entry is neither a string nor include-group")?;
                out.extend(group_requirements(groups, inc, seen)?);
            }
            _ => bail!("dependency group {group:?} holds a {}", item.type_str()),
        }
    }
    seen.pop();
    Ok(out)
}

fn strings(value: Option<&toml::Value>, what: &str) -> anyhow::Result<Vec<String>> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let array = value
        .as_array()
        .with_context(|| format!("{what} is not an array"))?;
    array
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .with_context(|| format!("{what} holds a non-string"))
        })
        .collect()
}

fn requirement(text: &str, extra: Option<&pep508_rs::ExtraName>) -> anyhow::Result<String> {
    let req = Requirement::<pep508_rs::VerbatimUrl>::from_str_checked(text)?;
    let mut marker = req.marker.clone();
    if let Some(extra) = extra {
        marker.and(parse_marker(&format!("extra == '{extra}'"))?);
    }
    let (specifier, url) = match &req.version_or_url {
        Some(pep508_rs::VersionOrUrl::VersionSpecifier(s)) => (Some(s.clone()), None),
        Some(pep508_rs::VersionOrUrl::Url(u)) => (None, Some(u.to_string())),
        None => (None, None),
    };
    Ok(canonical(
        &req.name,
        &req.extras,
        specifier.as_ref(),
        url.as_deref(),
        &marker,
    ))
}

impl FromStrChecked for Requirement<pep508_rs::VerbatimUrl> {
    fn from_str_checked(s: &str) -> anyhow::Result<Self> {
        s.parse::<Requirement>().map_err(|err| {
            anyhow::anyhow!(
                "invalid requirement {s:?}: {}",
                super::one_line(&err.to_string())
            )
        })
    }
}

/// Why uv.lock no longer matches pyproject.toml, if it does not.
pub fn stale_reason(recorded: &RecordedProject, pyproject: &RecordedProject) -> Option<String> {
    if recorded.name != pyproject.name {
        return Some(format!(
            "the lock is for project {}, pyproject.toml names {}",
            recorded.name, pyproject.name
        ));
    }
    let spec = |s: &Option<String>| {
        s.as_deref()
            .and_then(|s| s.parse::<VersionSpecifiers>().ok())
    };
    if spec(&recorded.requires_python) != spec(&pyproject.requires_python) {
        return Some(format!(
            "requires-python is {:?} in the lock, {:?} in pyproject.toml",
            recorded.requires_python.as_deref().unwrap_or(""),
            pyproject.requires_python.as_deref().unwrap_or("")
        ));
    }
    if let Some(diff) = list_diff(
        "dependencies",
        &recorded.requires_dist,
        &pyproject.requires_dist,
    ) {
        return Some(diff);
    }
    let groups: std::collections::BTreeSet<&String> = recorded
        .requires_dev
        .keys()
        .chain(pyproject.requires_dev.keys())
        .collect();
    for group in groups {
        let empty = Vec::new();
        let a = recorded.requires_dev.get(group).unwrap_or(&empty);
        let b = pyproject.requires_dev.get(group).unwrap_or(&empty);
        if let Some(diff) = list_diff(&format!("dependency group {group:?}"), a, b) {
            return Some(diff);
        }
    }
    None
}

fn list_diff(what: &str, locked: &[String], wanted: &[String]) -> Option<String> {
    let added: Vec<&String> = wanted.iter().filter(|r| !locked.contains(r)).collect();
    let removed: Vec<&String> = locked.iter().filter(|r| !wanted.contains(r)).collect();
    if added.is_empty() && removed.is_empty() {
        return None;
    }
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!("pyproject.toml adds {}", quote_all(&added)));
    }
    if !removed.is_empty() {
        parts.push(format!("the lock still has {}", quote_all(&removed)));
    }
    Some(format!("{what} changed: {}", parts.join("; ")))
}

fn quote_all(items: &[&String]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const CASE: &str = include_str!("../../test_data/locks/extras-markers/uv.lock");
    const PYPROJECT: &str = include_str!("../../test_data/locks/extras-markers/pyproject.toml");

    #[test]
    fn reads_real_lock() {
        let lock = parse(CASE).unwrap();
        let Selection::Walk { project, roots, .. } = &lock.selection else {
            panic!()
        };
        assert_eq!(project.as_ref(), "case-extras-markers");
        assert!(roots.iter().any(
            |d| d.name.as_ref() == "requests" && d.extras.iter().any(|e| e.as_ref() == "socks")
        ));
        let requests: Vec<&Package> = lock
            .packages
            .iter()
            .filter(|p| p.name.as_ref() == "requests")
            .collect();
        assert_eq!(requests.len(), 2, "forked");
        let r = requests[0];
        assert_eq!(r.sdists.len(), 1);
        assert!(r.sdists[0].filename.ends_with(".tar.gz"));
        assert!(r.sdists[0].size.is_some());
        assert!(r
            .optional_dependencies
            .keys()
            .any(|e| e.as_ref() == "socks"));
        assert!(!lock
            .packages
            .iter()
            .any(|p| p.name.as_ref() == "case-extras-markers"));
    }

    #[test]
    fn fresh_against_its_pyproject() {
        let lock = parse(CASE).unwrap();
        let pyproject: toml::Table = toml::from_str(PYPROJECT).unwrap();
        let wanted = project_from_pyproject(&pyproject).unwrap();
        let recorded = lock.recorded.uv_project.unwrap();
        assert_eq!(
            stale_reason(&recorded, &wanted),
            None,
            "{recorded:#?}\n{wanted:#?}"
        );
        let changed = PYPROJECT.replace("\"attrs>=23\",", "\"attrs>=24\",");
        let wanted = project_from_pyproject(&toml::from_str(&changed).unwrap()).unwrap();
        let reason = stale_reason(&recorded, &wanted).unwrap();
        assert!(
            reason.contains("adds `attrs>=24`") && reason.contains("still has `attrs>=23`"),
            "{reason}"
        );
        let changed = PYPROJECT.replace("dev = [\"pytest>=8\"]", "dev = [\"pytest>=8\", \"ruff\"]");
        let wanted = project_from_pyproject(&toml::from_str(&changed).unwrap()).unwrap();
        assert!(stale_reason(&recorded, &wanted)
            .unwrap()
            .contains("dependency group \"dev\""));
    }

    #[test]
    fn unknown_version() {
        let text = CASE.replacen("version = 1\n", "version = 2\n", 1);
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("unknown uv.lock version 2"), "{err}");
    }

    #[test]
    fn git_source_is_refused() {
        let text = CASE.replacen(
            "source = { registry = \"https://pypi.org/simple\" }",
            "source = { git = \"https://example.org/attrs.git\" }",
            1,
        );
        let err = parse(&text).unwrap_err();
        assert!(pinwheel_trust::failure::is_no(&err), "{err}");
        assert!(
            err.to_string()
                .contains("git https://example.org/attrs.git"),
            "{err}"
        );
        let text = CASE.replacen("hash = \"sha256:", "nohash = \"sha256:", 1);
        let err = parse(&text).unwrap_err();
        assert!(pinwheel_trust::failure::is_no(&err), "{err}");
        assert!(err.to_string().contains("has no hash"), "{err}");
    }
}
