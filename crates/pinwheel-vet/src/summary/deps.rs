//! Dependencies and the build system (groups 1 and 2 of the summary):
//! `Requires-Dist` of the root `PKG-INFO` (read with
//! `pinwheel_pypa::core_metadata::Headers`, leniently, as pip reads it),
//! `pyproject.toml`'s `[build-system]` and `[project] dependencies` (read
//! with `toml`; text that does not parse is itself a finding), and the
//! `install_requires`/`setup_requires` lines of `setup.py` and `setup.cfg`.

use std::collections::BTreeMap;
use std::str::FromStr;

use pep508_rs::PackageName;
use pinwheel_pypa::core_metadata::Headers;

use super::{quote, FindingKind, Findings};
use crate::tree::{Entry, Tree};

/// The findings of one changed root file that declares dependencies or the
/// build system; other paths give none.
pub(super) fn of_file(path: &str, old: Option<&Entry>, new: Option<&Entry>, out: &mut Findings) {
    let old = old.and_then(Entry::text);
    let new = new.and_then(Entry::text);
    match path {
        "PKG-INFO" => {
            let requires = |text: Option<&str>| -> Vec<String> {
                let headers = Headers::parse_lenient(text.unwrap_or(""));
                headers
                    .get_all("Requires-Dist")
                    .map(str::to_owned)
                    .collect()
            };
            let line_of = |req: &str| {
                line_where(new?, |line| {
                    line.split_once(':').is_some_and(|(name, value)| {
                        name.eq_ignore_ascii_case("Requires-Dist") && value.trim() == req
                    })
                })
            };
            compare(
                path,
                "Requires-Dist",
                &requires(old),
                &requires(new),
                line_of,
                out,
            );
        }
        "pyproject.toml" => pyproject(old, new, out),
        _ => {}
    }
}

fn pyproject(old: Option<&str>, new: Option<&str>, out: &mut Findings) {
    let path = "pyproject.toml";
    let old = old.and_then(|t| toml::from_str::<toml::Table>(t).ok());
    let new = match new.map(toml::from_str::<toml::Table>) {
        None => None,
        Some(Ok(table)) => Some(table),
        Some(Err(err)) => {
            let detail = format!(
                "not valid TOML: {}",
                pinwheel_pypa::one_line(&err.to_string())
            );
            out.add(path, None, FindingKind::RunsAtBuild, detail);
            return;
        }
    };
    let get = |table: &Option<toml::Table>, section: &str, key: &str| -> Option<toml::Value> {
        table.as_ref()?.get(section)?.get(key).cloned()
    };
    for (key, kind) in [
        ("requires", FindingKind::Dependency),
        ("build-backend", FindingKind::RunsAtBuild),
        ("backend-path", FindingKind::RunsAtBuild),
    ] {
        let before = get(&old, "build-system", key);
        let after = get(&new, "build-system", key);
        if before != after {
            let show = |v: Option<toml::Value>| v.map_or("(none)".to_owned(), |v| v.to_string());
            let detail = format!("[build-system] {key}: {} → {}", show(before), show(after));
            out.add(path, None, kind, detail);
        }
    }
    let strings = |v: Option<toml::Value>| -> Vec<String> {
        let items = match v {
            Some(toml::Value::Array(items)) => items,
            _ => Vec::new(),
        };
        items
            .into_iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect()
    };
    let before = strings(get(&old, "project", "dependencies"));
    let after = strings(get(&new, "project", "dependencies"));
    compare(
        path,
        "[project] dependencies",
        &before,
        &after,
        |_| None,
        out,
    );
}

/// Requirement lists compared by project name: a name only in `new` is
/// added, only in `old` removed, in both with other requirements changed.
fn compare(
    path: &str,
    what: &str,
    old: &[String],
    new: &[String],
    line_of: impl Fn(&str) -> Option<u64>,
    out: &mut Findings,
) {
    let by_name = |reqs: &[String]| {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for req in reqs {
            map.entry(name_of(req)).or_default().push(req.clone());
        }
        map.values_mut().for_each(|v| v.sort());
        map
    };
    let (old, new) = (by_name(old), by_name(new));
    let kind = FindingKind::Dependency;
    for (name, reqs) in &new {
        match old.get(name) {
            None => {
                for req in reqs {
                    out.add(path, line_of(req), kind, format!("{what} added: {req}"));
                }
            }
            Some(before) if before != reqs => {
                let detail = format!(
                    "{what} changed: {} → {}",
                    before.join(", "),
                    reqs.join(", ")
                );
                out.add(path, reqs.first().and_then(|r| line_of(r)), kind, detail);
            }
            Some(_) => {}
        }
    }
    for (name, reqs) in &old {
        if !new.contains_key(name) {
            for req in reqs {
                out.add(path, None, kind, format!("{what} removed: {req}"));
            }
        }
    }
}

/// The PEP 503 name a requirement starts with, or its text lowercased.
fn name_of(req: &str) -> String {
    let end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || "._-".contains(c)))
        .unwrap_or(req.len());
    PackageName::from_str(&req[..end]).map_or_else(|_| req.to_lowercase(), |n| n.to_string())
}

/// The 1-based number of the first line of `text` that `pred` accepts.
fn line_where(text: &str, pred: impl Fn(&str) -> bool) -> Option<u64> {
    text.lines().position(pred).map(|i| i as u64 + 1)
}

/// The in-tree build backend `to` declares (PEP 517 `backend-path`).
#[derive(Debug, Default)]
pub(super) struct Backend {
    /// The module `build-backend` names under each `backend-path`
    /// directory (`dir/mod.py`) or its package (`dir/mod`).
    pub modules: Vec<String>,
    /// The `backend-path` directories, each as a path prefix (`dir/`, or
    /// `""` for the root): the backend can import any module below them.
    pub dirs: Vec<String>,
}

/// The in-tree build backend of `to`'s `pyproject.toml`; empty when it
/// names no `backend-path`.
pub(super) fn backend_files(to: &Tree) -> Backend {
    let mut out = Backend::default();
    let Some(text) = to.files.get("pyproject.toml").and_then(Entry::text) else {
        return out;
    };
    let Ok(table) = toml::from_str::<toml::Table>(text) else {
        return out;
    };
    let Some(system) = table.get("build-system") else {
        return out;
    };
    let backend = system
        .get("build-backend")
        .and_then(toml::Value::as_str)
        .unwrap_or("");
    let top = backend.split([':', '.']).next().unwrap_or(backend).trim();
    let dirs = system
        .get("backend-path")
        .and_then(toml::Value::as_array)
        .cloned()
        .unwrap_or_default();
    for dir in dirs.iter().filter_map(toml::Value::as_str) {
        let dir = dir.trim_start_matches("./").trim_end_matches('/');
        let prefix = if dir.is_empty() || dir == "." {
            String::new()
        } else {
            format!("{dir}/")
        };
        if !top.is_empty() {
            out.modules.push(format!("{prefix}{top}.py"));
            out.modules.push(format!("{prefix}{top}"));
        }
        out.dirs.push(prefix);
    }
    out
}

/// The added lines of the root `setup.py` that name `install_requires` or
/// `setup_requires`, and the added lines of the root `setup.cfg` inside
/// those options.
pub(super) fn of_lines(path: &str, lines: &[&str], inserted: &[usize], out: &mut Findings) {
    const KEYS: [&str; 2] = ["install_requires", "setup_requires"];
    let mut add = |i: usize| {
        let detail = format!("setup requirement line added: {}", quote(lines[i]));
        out.add(path, Some(i as u64 + 1), FindingKind::Dependency, detail);
    };
    match path {
        "setup.py" => {
            for &i in inserted {
                if KEYS.iter().any(|k| lines[i].contains(k)) {
                    add(i);
                }
            }
        }
        "setup.cfg" => {
            // The option each line belongs to: `key =` starts one, an
            // indented or blank line continues it, a `[section]` ends it.
            let mut option: Vec<Option<&str>> = Vec::with_capacity(lines.len());
            let mut current = None;
            for line in lines {
                if line.starts_with('[') {
                    current = None;
                } else if !line.starts_with([' ', '\t']) && !line.trim().is_empty() {
                    current = line.split(['=', ':']).next().map(str::trim);
                }
                option.push(current);
            }
            for &i in inserted {
                let inside = option[i].is_some_and(|key| KEYS.contains(&key));
                if inside && !lines[i].trim().is_empty() {
                    add(i);
                }
            }
        }
        _ => {}
    }
}
