//! The project's own dependencies from pyproject.toml, where a Poetry 1.x
//! lock starts its walk: `[tool.poetry.dependencies]` (without `python`;
//! `optional = true` ones only through `[tool.poetry.extras]`), its groups
//! (`[tool.poetry.group.<name>.dependencies]`, and the older
//! `[tool.poetry.dev-dependencies]` as group "dev"); or, when there is no
//! `[tool.poetry.dependencies]`, PEP 621's `[project]` dependencies and
//! optional dependencies with PEP 735's `[dependency-groups]`.
//!
//! Refused: dependencies from git, a path or a URL.

use std::collections::BTreeMap;
use std::str::FromStr;

use anyhow::{bail, Context};
use pep508_rs::{ExtraName, PackageName, Requirement, VersionOrUrl};
use pinwheel_trust::failure;

use super::constraint;
use crate::lockfile::{
    parse_extra, parse_marker, parse_name, Dependency, GroupName, Lock, Selection, Uses,
};

/// The project's dependencies, by what selects them.
struct Roots {
    project: PackageName,
    main: Vec<Dependency>,
    extras: BTreeMap<ExtraName, Vec<Dependency>>,
    groups: BTreeMap<GroupName, Vec<Dependency>>,
}

/// Gives a Poetry 1.x lock the project's own dependencies from its
/// pyproject.toml; other locks are left as they are.
pub fn attach_pyproject(lock: &mut Lock, pyproject: &toml::Table) -> anyhow::Result<()> {
    if !matches!(lock.selection, Selection::NeedsPyproject) {
        return Ok(());
    }
    let tool_poetry = pyproject
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(toml::Value::as_table);
    let roots = match tool_poetry {
        Some(poetry) if poetry.contains_key("dependencies") => from_tool_poetry(pyproject, poetry)?,
        _ => from_project(pyproject)?,
    };
    lock.uses = Uses {
        extras: roots.extras.keys().cloned().collect(),
        groups: roots.groups.keys().cloned().collect(),
        default_groups: Default::default(),
    };
    lock.selection = Selection::Walk {
        project: roots.project,
        roots: roots.main,
        extras: roots.extras,
        groups: roots.groups,
    };
    Ok(())
}

/// The project's name (`[tool.poetry] name` or `[project] name`); a
/// project that is no package may have none.
fn project_name(pyproject: &toml::Table) -> anyhow::Result<PackageName> {
    let name = ["tool.poetry", "project"].iter().find_map(|path| {
        let mut table = pyproject;
        for key in path.split('.') {
            table = table.get(key)?.as_table()?;
        }
        table.get("name")?.as_str()
    });
    parse_name(name.unwrap_or("project"))
}

fn from_tool_poetry(pyproject: &toml::Table, poetry: &toml::Table) -> anyhow::Result<Roots> {
    let project = project_name(pyproject)?;
    let table = |key: &str| -> anyhow::Result<Option<&toml::Table>> {
        match poetry.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_table()
                .map(Some)
                .with_context(|| format!("[tool.poetry.{key}] is not a table")),
        }
    };
    let mut main = Vec::new();
    let mut optional: BTreeMap<PackageName, Vec<Dependency>> = BTreeMap::new();
    for (name, spec) in table("dependencies")?.into_iter().flatten() {
        if name == "python" {
            continue;
        }
        for (dep, is_optional) in poetry_dependency(name, spec)
            .with_context(|| format!("[tool.poetry.dependencies] {name}"))?
        {
            if is_optional {
                optional.entry(dep.name.clone()).or_default().push(dep);
            } else {
                main.push(dep);
            }
        }
    }
    let mut extras = BTreeMap::new();
    for (extra, names) in table("extras")?.into_iter().flatten() {
        let what = || format!("[tool.poetry.extras] {extra}");
        let extra = parse_extra(extra).with_context(what)?;
        let names = names.as_array().with_context(what)?;
        let mut deps: Vec<Dependency> = Vec::new();
        for name in names {
            let name = parse_name(name.as_str().with_context(what)?).with_context(what)?;
            match optional.get(&name) {
                Some(found) => deps.extend(found.iter().cloned()),
                None => bail!(
                    "{}: {name} is not an optional dependency in [tool.poetry.dependencies]",
                    what()
                ),
            }
        }
        extras.insert(extra, deps);
    }
    let mut groups: BTreeMap<GroupName, Vec<Dependency>> = BTreeMap::new();
    let mut group_tables: Vec<(String, &toml::Table)> = Vec::new();
    if let Some(dev) = table("dev-dependencies")? {
        group_tables.push(("dev".to_owned(), dev));
    }
    for (group, body) in table("group")?.into_iter().flatten() {
        if let Some(deps) = body.get("dependencies").and_then(toml::Value::as_table) {
            group_tables.push((group.clone(), deps));
        }
    }
    for (group, deps) in group_tables {
        let name = GroupName::from_str(&group)?;
        for (dep, spec) in deps {
            let what = || format!("[tool.poetry.group.{group}.dependencies] {dep}");
            for (dep, _) in poetry_dependency(dep, spec).with_context(what)? {
                groups.entry(name.clone()).or_default().push(dep);
            }
        }
    }
    Ok(Roots {
        project,
        main,
        extras,
        groups,
    })
}

/// One `[tool.poetry.dependencies]` entry: a constraint, a table, or
/// several tables for different markers; each with whether it is optional.
fn poetry_dependency(name: &str, spec: &toml::Value) -> anyhow::Result<Vec<(Dependency, bool)>> {
    let package = parse_name(name)?;
    let tables: Vec<&toml::Table> = match spec {
        toml::Value::String(c) => {
            let mut dep = Dependency::new(package);
            dep.allowed = constraint::parse(c)?;
            return Ok(vec![(dep, false)]);
        }
        toml::Value::Table(t) => vec![t],
        toml::Value::Array(items) => items
            .iter()
            .map(|i| i.as_table().context("an entry of the list is not a table"))
            .collect::<anyhow::Result<_>>()?,
        other => bail!("a {} is not a dependency specification", other.type_str()),
    };
    let mut out = Vec::new();
    for t in tables {
        for kind in ["git", "path", "url"] {
            if let Some(location) = t.get(kind) {
                return Err(failure::refused(format!(
                    "{name} comes from {kind} {}, not a package index; pinwheel pins only index packages",
                    location.as_str().unwrap_or("")
                )));
            }
        }
        let text = |key: &str| -> anyhow::Result<Option<&str>> {
            match t.get(key) {
                None => Ok(None),
                Some(v) => v
                    .as_str()
                    .map(Some)
                    .with_context(|| format!("`{key}` is not a string")),
            }
        };
        let mut dep = Dependency::new(package.clone());
        if let Some(version) = text("version")? {
            dep.allowed = constraint::parse(version)?;
        }
        if let Some(markers) = text("markers")? {
            dep.marker = parse_marker(markers)?;
        }
        if let Some(python) = text("python")? {
            dep.marker.and(constraint::python_marker(python)?);
        }
        if let Some(platform) = text("platform")? {
            dep.marker.and(constraint::platform_marker(platform)?);
        }
        if let Some(extras) = t.get("extras") {
            let extras = extras.as_array().context("`extras` is not a list")?;
            for e in extras {
                dep.extras.push(parse_extra(
                    e.as_str().context("an extra is not a string")?,
                )?);
            }
        }
        let optional = t
            .get("optional")
            .and_then(toml::Value::as_bool)
            .unwrap_or(false);
        out.push((dep, optional));
    }
    Ok(out)
}

fn from_project(pyproject: &toml::Table) -> anyhow::Result<Roots> {
    let project_table = pyproject
        .get("project")
        .and_then(toml::Value::as_table)
        .context(
            "neither [tool.poetry.dependencies] nor [project]: no dependencies to start from",
        )?;
    let strings = |value: Option<&toml::Value>, what: &str| -> anyhow::Result<Vec<Dependency>> {
        let Some(value) = value else {
            return Ok(Vec::new());
        };
        let list = value
            .as_array()
            .with_context(|| format!("{what} is not a list"))?;
        list.iter()
            .map(|r| {
                let r = r
                    .as_str()
                    .with_context(|| format!("{what} holds a non-string"))?;
                pep508_dependency(r).with_context(|| what.to_owned())
            })
            .collect()
    };
    let main = strings(project_table.get("dependencies"), "project.dependencies")?;
    let mut extras = BTreeMap::new();
    if let Some(optional) = project_table
        .get("optional-dependencies")
        .and_then(toml::Value::as_table)
    {
        for (extra, reqs) in optional {
            let what = format!("project.optional-dependencies.{extra}");
            extras.insert(parse_extra(extra)?, strings(Some(reqs), &what)?);
        }
    }
    let mut groups = BTreeMap::new();
    if let Some(table) = pyproject
        .get("dependency-groups")
        .and_then(toml::Value::as_table)
    {
        for group in table.keys() {
            let reqs = crate::lockfile::uv::group_requirements(table, group, &mut Vec::new())?;
            let deps = reqs
                .iter()
                .map(|r| pep508_dependency(r).with_context(|| format!("dependency-groups.{group}")))
                .collect::<anyhow::Result<_>>()?;
            groups.insert(GroupName::from_str(group)?, deps);
        }
    }
    Ok(Roots {
        project: project_name(pyproject)?,
        main,
        extras,
        groups,
    })
}

/// A PEP 508 requirement as an edge.
fn pep508_dependency(text: &str) -> anyhow::Result<Dependency> {
    let req = Requirement::<pep508_rs::VerbatimUrl>::from_str(text).map_err(|err| {
        anyhow::anyhow!(
            "invalid requirement {text:?}: {}",
            crate::one_line(&err.to_string())
        )
    })?;
    let mut dep = Dependency::new(req.name.clone());
    dep.extras = req.extras.clone();
    dep.marker = req.marker.clone();
    match &req.version_or_url {
        Some(VersionOrUrl::VersionSpecifier(s)) => dep.allowed = vec![s.clone()],
        Some(VersionOrUrl::Url(url)) => {
            return Err(failure::refused(format!(
                "{} comes from {url}, not a package index; pinwheel pins only index packages",
                req.name
            )))
        }
        None => {}
    }
    Ok(dep)
}
