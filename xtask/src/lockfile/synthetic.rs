//! Synthetic locked projects of any size, for benchmarks (`cargo xtask
//! bench` times `requirements` on 10 to 2,000 packages side by side with
//! `uv export` and `poetry export`) and tests. Deterministic: the same size
//! gives the same bytes.
//!
//! The dependency graph is a binary tree under a few roots, so every
//! package is reachable; some edges carry markers (a `python_full_version`
//! one that holds on 3.11.2, a `sys_platform == 'win32'` one that does not,
//! on some leaves), some packages have an extra that a parent
//! requests, and every 50th package is forked into two versions by
//! `python_full_version`. Hashes are the sha256 of the file name, sizes
//! and upload times made up; the files do not exist.
//!
//! [`uv_project`] writes `pyproject.toml` + `uv.lock` as uv 0.13 does;
//! [`poetry_project`] writes `pyproject.toml` + `poetry.lock` (lock-version
//! 2.1, with the content-hash Poetry computes, so `poetry export` accepts
//! it).

use std::fmt::Write as _;
use std::path::Path;

use crate::hash::Sha256;

/// One generated file: its name in the project directory, and its text.
pub type File = (&'static str, String);

/// Package `i`'s name.
fn name(i: usize) -> String {
    format!("synth-pkg-{i:04}")
}

fn underscored(i: usize) -> String {
    name(i).replace('-', "_")
}

/// Versions of package `i` (two when it is forked).
fn versions(i: usize) -> Vec<String> {
    if is_forked(i) {
        vec![format!("1.{}.0", i % 10), format!("2.{}.0", i % 10)]
    } else {
        vec![format!("1.{}.{}", i % 10, i % 7)]
    }
}

fn is_forked(i: usize) -> bool {
    i % 50 == 49
}

/// The marker that picks the first (older) version of a forked package.
const FORK_OLD: &str = "python_full_version < '3.11.3'";
const FORK_NEW: &str = "python_full_version >= '3.11.3'";

/// Children of `i` in the tree, with the marker on the edge.
fn children(i: usize, n: usize) -> Vec<(usize, Option<&'static str>)> {
    [2 * i + 1, 2 * i + 2]
        .into_iter()
        .filter(|&c| c < n)
        .map(|c| {
            let leaf = 2 * c + 1 >= n;
            let marker = match c % 11 {
                3 if leaf => Some("sys_platform == 'win32'"),
                5 => Some("python_full_version < '3.11.3'"),
                7 => Some("python_version >= '3.9'"),
                _ => None,
            };
            (c, marker)
        })
        .collect()
}

/// Packages with an extra `fast` that adds a dependency on the next package
/// after their children (when it exists).
fn extra_dep(i: usize, n: usize) -> Option<usize> {
    (i % 13 == 4).then_some(2 * i + 3).filter(|&d| d < n)
}

fn sha(text: &str) -> String {
    Sha256::of(text.as_bytes()).hex()
}

fn size(text: &str) -> u64 {
    10_000 + (Sha256::of(text.as_bytes()).0[0] as u64) * 997
}

/// The dependencies of the project: the roots of the tree.
fn roots(n: usize) -> Vec<usize> {
    if n == 0 {
        Vec::new()
    } else {
        vec![0]
    }
}

fn pyproject(poetry: bool, n: usize) -> String {
    let mut out = String::from("[project]\nname = \"synthetic\"\nversion = \"0.1.0\"\nrequires-python = \">=3.9\"\ndependencies = [\n");
    for r in roots(n) {
        let extra = if extra_dep(r, n).is_some() {
            "[fast]"
        } else {
            ""
        };
        let _ = writeln!(out, "    \"{}{extra}\",", name(r));
    }
    out.push_str("]\n");
    if poetry {
        out.push_str("\n[tool.poetry]\npackage-mode = false\n");
    }
    out
}

/// `pyproject.toml` and `uv.lock` for `n` packages.
pub fn uv_project(n: usize) -> Vec<File> {
    let mut lock = String::from(
        "version = 1\nrevision = 3\nrequires-python = \">=3.9\"\nresolution-markers = [\n    \"python_full_version >= '3.11.3'\",\n    \"python_full_version < '3.11.3'\",\n]\n",
    );
    let registry = "source = { registry = \"https://pypi.org/simple\" }";
    let edge = |c: usize, marker: Option<&str>, extra: bool| -> Vec<String> {
        let extra = if extra { ", extra = [\"fast\"]" } else { "" };
        let marker_of =
            |m: Option<&str>| m.map(|m| format!(", marker = \"{m}\"")).unwrap_or_default();
        if is_forked(c) {
            let vs = versions(c);
            let and = |fork: &str| match marker {
                Some(m) => format!("{m} and {fork}"),
                None => fork.to_owned(),
            };
            vec![
                format!(
                    "{{ name = \"{}\", version = \"{}\", {registry}{extra}, marker = \"{}\" }}",
                    name(c),
                    vs[0],
                    and(FORK_OLD)
                ),
                format!(
                    "{{ name = \"{}\", version = \"{}\", {registry}{extra}, marker = \"{}\" }}",
                    name(c),
                    vs[1],
                    and(FORK_NEW)
                ),
            ]
        } else {
            vec![format!(
                "{{ name = \"{}\"{extra}{} }}",
                name(c),
                marker_of(marker)
            )]
        }
    };
    let mut entries: Vec<(String, String)> = Vec::new();
    // The project itself.
    let mut project = String::from("[[package]]\nname = \"synthetic\"\nversion = \"0.1.0\"\nsource = { virtual = \".\" }\ndependencies = [\n");
    for r in roots(n) {
        for e in edge(r, None, extra_dep(r, n).is_some()) {
            let _ = writeln!(project, "    {e},");
        }
    }
    project.push_str("]\n\n[package.metadata]\nrequires-dist = [");
    let reqs: Vec<String> = roots(n)
        .into_iter()
        .map(|r| {
            let extras = if extra_dep(r, n).is_some() {
                ", extras = [\"fast\"]"
            } else {
                ""
            };
            format!("{{ name = \"{}\"{extras} }}", name(r))
        })
        .collect();
    let _ = writeln!(project, "{}]", reqs.join(", "));
    entries.push(("synthetic".into(), project));
    for i in 0..n {
        let vs = versions(i);
        for (k, version) in vs.iter().enumerate() {
            let mut p = String::new();
            let _ = writeln!(
                p,
                "[[package]]\nname = \"{}\"\nversion = \"{version}\"\n{registry}",
                name(i)
            );
            if is_forked(i) {
                let _ = writeln!(
                    p,
                    "resolution-markers = [\n    \"{}\",\n]",
                    if k == 0 { FORK_OLD } else { FORK_NEW }
                );
            }
            let kids = children(i, n);
            if !kids.is_empty() {
                p.push_str("dependencies = [\n");
                for (c, marker) in &kids {
                    for e in edge(*c, *marker, extra_dep(*c, n).is_some()) {
                        let _ = writeln!(p, "    {e},");
                    }
                }
                p.push_str("]\n");
            }
            let stem = format!("{}-{version}", underscored(i));
            let url = |file: &str| {
                format!(
                    "https://files.pythonhosted.org/packages/{}/{}",
                    &sha(file)[..2],
                    file
                )
            };
            let sdist = format!("{stem}.tar.gz");
            let _ = writeln!(
                p,
                "sdist = {{ url = \"{}\", hash = \"sha256:{}\", size = {}, upload-time = \"2026-01-01T00:00:00Z\" }}",
                url(&sdist),
                sha(&sdist),
                size(&sdist)
            );
            p.push_str("wheels = [\n");
            for tag in [
                "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
                "py3-none-any",
            ] {
                let wheel = format!("{stem}-{tag}.whl");
                let _ = writeln!(
                    p,
                    "    {{ url = \"{}\", hash = \"sha256:{}\", size = {}, upload-time = \"2026-01-01T00:00:00Z\" }},",
                    url(&wheel),
                    sha(&wheel),
                    size(&wheel)
                );
            }
            p.push_str("]\n");
            if let Some(d) = extra_dep(i, n) {
                p.push_str("\n[package.optional-dependencies]\nfast = [\n");
                for e in edge(d, None, false) {
                    let _ = writeln!(p, "    {e},");
                }
                p.push_str("]\n");
            }
            entries.push((name(i), p));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, p) in entries {
        lock.push('\n');
        lock.push_str(&p);
    }
    vec![("pyproject.toml", pyproject(false, n)), ("uv.lock", lock)]
}

/// `pyproject.toml` and `poetry.lock` for `n` packages. Poetry records
/// each package's markers (the conjunction along its path from the
/// project); the `win32` subtrees are kept with their false-on-Linux
/// markers.
pub fn poetry_project(n: usize) -> Vec<File> {
    // The marker under which each package is installed: the disjunction,
    // over its incoming edges, of the parent's marker and the edge's
    // (`None` always holds). Parents have smaller indices than children.
    let mut reached = vec![false; n];
    let mut path_marker: Vec<Option<Vec<String>>> = vec![Some(Vec::new()); n];
    for r in roots(n) {
        reached[r] = true;
        path_marker[r] = None;
    }
    for i in 0..n {
        if !reached[i] {
            continue;
        }
        let mut edges: Vec<(usize, Option<&str>)> = children(i, n);
        if let Some(d) = extra_dep(i, n) {
            edges.push((d, None)); // every parent of i asks for [fast]
        }
        for (c, m) in edges {
            let conj = match (&path_marker[i], m) {
                (None, None) => None,
                (None, Some(b)) => Some(b.to_owned()),
                (Some(a), None) => Some(or(a)),
                (Some(a), Some(b)) => Some(format!("({}) and {b}", or(a))),
            };
            reached[c] = true;
            match (conj, &mut path_marker[c]) {
                (None, slot) => *slot = None,
                (Some(_), None) => {}
                (Some(m), Some(list)) => list.push(m),
            }
        }
    }
    let pyproject_text = pyproject(true, n);
    let mut lock = String::from("# This file is automatically @generated by Poetry 2.5.1 and should not be changed by hand.\n");
    for i in (0..n).filter(|&i| reached[i]) {
        for (k, version) in versions(i).iter().enumerate() {
            let _ = writeln!(
                lock,
                "\n[[package]]\nname = \"{}\"\nversion = \"{version}\"\ndescription = \"\"\noptional = false\npython-versions = \">=3.9\"\ngroups = [\"main\"]",
                name(i)
            );
            let fork = if is_forked(i) {
                Some(if k == 0 { FORK_OLD } else { FORK_NEW })
            } else {
                None
            };
            let marker = match (&path_marker[i], fork) {
                (Some(a), Some(b)) => Some(format!("({}) and {b}", or(a))),
                (Some(a), None) => Some(or(a)),
                (None, Some(b)) => Some(b.to_owned()),
                (None, None) => None,
            };
            if let Some(m) = marker {
                let _ = writeln!(lock, "markers = \"{}\"", m.replace('\'', "\\\""));
            }
            let stem = format!("{}-{version}", underscored(i));
            lock.push_str("files = [\n");
            let mut files = vec![format!("{stem}.tar.gz")];
            for tag in [
                "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
                "py3-none-any",
            ] {
                files.push(format!("{stem}-{tag}.whl"));
            }
            files.sort();
            for f in &files {
                let _ = writeln!(
                    lock,
                    "    {{file = \"{f}\", hash = \"sha256:{}\"}},",
                    sha(f)
                );
            }
            lock.push_str("]\n");
            let kids = children(i, n);
            if !kids.is_empty() || extra_dep(i, n).is_some() {
                lock.push_str("\n[package.dependencies]\n");
                let mut deps: Vec<String> = kids
                    .iter()
                    .map(|(c, m)| match m {
                        Some(m) => format!(
                            "{} = {{version = \"*\", markers = \"{}\"}}",
                            name(*c),
                            m.replace('\'', "\\\"")
                        ),
                        None => format!("{} = \"*\"", name(*c)),
                    })
                    .collect();
                if let Some(d) = extra_dep(i, n) {
                    deps.push(format!("{} = {{version = \"*\", optional = true, markers = \"extra == \\\"fast\\\"\"}}", name(d)));
                }
                deps.sort();
                for d in deps {
                    let _ = writeln!(lock, "{d}");
                }
                if let Some(d) = extra_dep(i, n) {
                    let _ = writeln!(lock, "\n[package.extras]\nfast = [\"{} (*)\"]", name(d));
                }
            }
        }
    }
    let pyproject_table: toml::Table = toml::from_str(&pyproject_text).unwrap_or_default();
    let _ = writeln!(
        lock,
        "\n[metadata]\nlock-version = \"2.1\"\npython-versions = \">=3.9\"\ncontent-hash = \"{}\"",
        super::poetry::content_hash(&pyproject_table, true)
    );
    vec![("pyproject.toml", pyproject_text), ("poetry.lock", lock)]
}

/// `a or b or …` of marker expressions, each parenthesized.
fn or(markers: &[String]) -> String {
    match markers {
        [one] => one.clone(),
        many => many
            .iter()
            .map(|m| format!("({m})"))
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

/// Writes generated files into `dir` (created if needed).
pub fn write(dir: &Path, files: &[File]) -> anyhow::Result<()> {
    fs_err::create_dir_all(dir)?;
    for (name, text) in files {
        fs_err::write(dir.join(name), text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lockfile::{self, Format};
    use std::collections::BTreeSet;

    fn closure_names(format: Format, files: &[File]) -> BTreeSet<String> {
        let lock_text = &files[1].1;
        let lock = lockfile::parse(files[1].0, format, lock_text).unwrap();
        let pyproject: toml::Table = toml::from_str(&files[0].1).unwrap();
        let stale = match format {
            Format::Uv => lockfile::uv::stale_reason(
                lock.recorded.uv_project.as_ref().unwrap(),
                &lockfile::uv::project_from_pyproject(&pyproject).unwrap(),
            ),
            _ => lockfile::poetry::stale_reason(&lock.recorded, &pyproject),
        };
        assert_eq!(stale, None);
        let env = crate::markers::cpython_linux("3.11.2", "x86_64").unwrap();
        let closure = crate::closure::production(&lock, &env).unwrap();
        let pins = crate::closure::pins(&closure, &BTreeSet::new(), "").unwrap();
        assert!(pins.iter().all(|p| p.files.len() == 1));
        closure
            .iter()
            .map(|p| format!("{} {}", p.name, p.version))
            .collect()
    }

    #[test]
    fn uv_and_poetry_agree() {
        for n in [1, 10, 100, 500] {
            let uv = closure_names(Format::Uv, &uv_project(n));
            let poetry = closure_names(Format::Poetry, &poetry_project(n));
            assert_eq!(uv, poetry, "{n}");
            assert!(uv.len() > n / 2, "{n}: {}", uv.len());
            if n >= 100 {
                assert!(
                    uv.contains("synth-pkg-0049 1.9.0"),
                    "fork: old version on 3.11.2"
                );
                assert!(
                    !uv.iter()
                        .any(|p| p.starts_with(&format!("{} ", name(n - 1 - (n - 1 + 8) % 11)))),
                    "win32 leaf"
                );
            }
        }
    }

    #[test]
    fn deterministic() {
        assert_eq!(uv_project(50), uv_project(50));
        assert_eq!(poetry_project(50), poetry_project(50));
    }
}
