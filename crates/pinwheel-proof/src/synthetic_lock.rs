//! Synthetic lockfiles for benchmarks and tests: a seeded dependency graph
//! of `n` packages rendered as `pyproject.toml`, `uv.lock` (uv's lock
//! version 1, revision 3) and `poetry.lock` (lock-version 2.1) describing
//! the same resolution. Every package has one sdist and one wheel; some
//! edges carry markers that hold on the target (`python_version >= "3.8"`)
//! and some that do not (`sys_platform == "win32"`, always doubled by an
//! unconditional edge elsewhere), so the production closure for the
//! target is exactly the `n` packages. Pure: returns strings.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::rng::Rng;
use pinwheel_trust::hash::Sha256;

/// The project's name in every generated file.
pub const PROJECT: &str = "bench-app";

/// One generated resolution, rendered three ways.
#[derive(Debug, Clone)]
pub struct SyntheticLock {
    pub packages: Vec<Package>,
    /// Indices of the packages the project depends on directly.
    pub roots: Vec<usize>,
    pub pyproject: String,
    pub uv_lock: String,
}

/// A generated package.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub deps: Vec<Dep>,
    pub sdist_sha256: Sha256,
    pub wheel_sha256: Sha256,
}

/// An edge of the graph, with an optional PEP 508 marker.
#[derive(Debug, Clone)]
pub struct Dep {
    pub to: usize,
    pub marker: Option<&'static str>,
}

impl Package {
    fn file_stem(&self) -> String {
        format!("{}-{}", self.name.replace('-', "_"), self.version)
    }
    pub fn sdist_name(&self) -> String {
        format!("{}.tar.gz", self.file_stem())
    }
    pub fn wheel_name(&self) -> String {
        format!("{}-py3-none-any.whl", self.file_stem())
    }
}

const TRUE_MARKER: &str = "python_version >= \"3.8\"";
const FALSE_MARKER: &str = "sys_platform == \"win32\"";

/// Generates `n` packages (`n >= 1`) from `seed`.
pub fn generate(n: usize, seed: u64) -> SyntheticLock {
    let n = n.max(1);
    let mut rng = Rng::new(seed);
    let mut deps: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    let mut roots = BTreeSet::from([0usize]);
    // Every package but the first gets a parent before it, so all are reachable.
    for i in 1..n {
        if rng.below(20) == 0 {
            roots.insert(i);
        } else {
            let parent = rng.below(i as u64) as usize;
            deps[parent].insert(i);
        }
    }
    // Extra forward edges make the graph a DAG with shared dependencies.
    for (i, set) in deps.iter_mut().enumerate() {
        for _ in 0..rng.below(3) {
            if i + 1 < n {
                let to = i + 1 + rng.below((n - i - 1) as u64) as usize;
                set.insert(to);
            }
        }
    }
    let packages: Vec<Package> = (0..n)
        .map(|i| {
            let name = format!("pkg-{i:05}");
            let version = format!("{}.{}.{}", 1 + rng.below(5), rng.below(20), rng.below(10));
            let deps = deps[i]
                .iter()
                .map(|&to| {
                    let marker = match rng.below(10) {
                        0 => Some(TRUE_MARKER),
                        _ => None,
                    };
                    Dep { to, marker }
                })
                .collect();
            let sdist_sha256 = Sha256::of(format!("sdist {name} {seed}").as_bytes());
            let wheel_sha256 = Sha256::of(format!("wheel {name} {seed}").as_bytes());
            Package {
                name,
                version,
                deps,
                sdist_sha256,
                wheel_sha256,
            }
        })
        .collect();
    let mut packages = packages;
    // A few edges that do not hold on linux: the target is already reached
    // through an unconditional edge, so the closure stays the same.
    for (i, package) in packages.iter_mut().enumerate() {
        if i + 1 < n && rng.below(20) == 0 {
            let to = i + 1 + rng.below((n - i - 1) as u64) as usize;
            if !package.deps.iter().any(|d| d.to == to) {
                package.deps.push(Dep {
                    to,
                    marker: Some(FALSE_MARKER),
                });
                package.deps.sort_by_key(|d| d.to);
            }
        }
    }
    let roots: Vec<usize> = roots.into_iter().collect();
    let pyproject = render_pyproject(&packages, &roots);
    let uv_lock = render_uv_lock(&packages, &roots);
    SyntheticLock {
        packages,
        roots,
        pyproject,
        uv_lock,
    }
}

fn render_pyproject(packages: &[Package], roots: &[usize]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Synthetic benchmark project: {} packages.",
        packages.len()
    );
    let _ = writeln!(out, "[project]");
    let _ = writeln!(out, "name = \"{PROJECT}\"");
    let _ = writeln!(out, "version = \"0.1.0\"");
    let _ = writeln!(out, "requires-python = \">=3.11\"");
    let _ = writeln!(out, "dependencies = [");
    for &r in roots {
        let _ = writeln!(out, "    \"{}>=1.0\",", packages[r].name);
    }
    let _ = writeln!(out, "]");
    let _ = writeln!(out);
    let _ = writeln!(out, "[tool.poetry]");
    let _ = writeln!(out, "package-mode = false");
    out
}

fn uv_marker(marker: &str) -> String {
    marker.replace('"', "'")
}

fn render_uv_lock(packages: &[Package], roots: &[usize]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "version = 1\nrevision = 3\nrequires-python = \">=3.11\"\n"
    );
    // Packages sorted by name, as uv writes them; the project sorts among them.
    let mut order: Vec<Option<usize>> = (0..packages.len()).map(Some).collect();
    order.push(None);
    order.sort_by(|a, b| {
        let name = |x: &Option<usize>| x.map_or(PROJECT, |i| packages[i].name.as_str()).to_owned();
        name(a).cmp(&name(b))
    });
    for entry in order {
        match entry {
            None => {
                let _ = writeln!(out, "[[package]]\nname = \"{PROJECT}\"\nversion = \"0.1.0\"\nsource = {{ virtual = \".\" }}");
                let _ = writeln!(out, "dependencies = [");
                for &r in roots {
                    let _ = writeln!(out, "    {{ name = \"{}\" }},", packages[r].name);
                }
                let _ = writeln!(out, "]\n\n[package.metadata]\nrequires-dist = [");
                for &r in roots {
                    let _ = writeln!(
                        out,
                        "    {{ name = \"{}\", specifier = \">=1.0\" }},",
                        packages[r].name
                    );
                }
                let _ = writeln!(out, "]\n");
            }
            Some(i) => {
                let p = &packages[i];
                let _ = writeln!(
                    out,
                    "[[package]]\nname = \"{}\"\nversion = \"{}\"",
                    p.name, p.version
                );
                let _ = writeln!(out, "source = {{ registry = \"https://pypi.org/simple\" }}");
                if !p.deps.is_empty() {
                    let _ = writeln!(out, "dependencies = [");
                    for d in &p.deps {
                        match d.marker {
                            Some(m) => {
                                let _ = writeln!(
                                    out,
                                    "    {{ name = \"{}\", marker = \"{}\" }},",
                                    packages[d.to].name,
                                    uv_marker(m)
                                );
                            }
                            None => {
                                let _ =
                                    writeln!(out, "    {{ name = \"{}\" }},", packages[d.to].name);
                            }
                        }
                    }
                    let _ = writeln!(out, "]");
                }
                let _ = writeln!(
                    out,
                    "sdist = {{ url = \"https://files.pythonhosted.org/packages/{}/{}\", hash = \"sha256:{}\", size = {} }}",
                    &p.sdist_sha256.hex()[..16],
                    p.sdist_name(),
                    p.sdist_sha256,
                    4096 + i
                );
                let _ = writeln!(out, "wheels = [");
                let _ = writeln!(
                    out,
                    "    {{ url = \"https://files.pythonhosted.org/packages/{}/{}\", hash = \"sha256:{}\", size = {} }},",
                    &p.wheel_sha256.hex()[..16],
                    p.wheel_name(),
                    p.wheel_sha256,
                    2048 + i
                );
                let _ = writeln!(out, "]\n");
            }
        }
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// `poetry.lock` (lock-version 2.1) for the same resolution. Poetry checks
/// `content-hash` against pyproject.toml; callers that run Poetry compute
/// it with Poetry itself and pass it here.
pub fn render_poetry_lock(lock: &SyntheticLock, content_hash: &str) -> String {
    let packages = &lock.packages;
    let mut order: Vec<usize> = (0..packages.len()).collect();
    order.sort_by(|&a, &b| packages[a].name.cmp(&packages[b].name));
    let mut out = String::new();
    let _ = writeln!(out, "# This file is automatically @generated by Poetry 2.5.1 and should not be changed by hand.\n");
    for i in order {
        let p = &packages[i];
        let _ = writeln!(
            out,
            "[[package]]\nname = \"{}\"\nversion = \"{}\"",
            p.name, p.version
        );
        let _ = writeln!(
            out,
            "description = \"Synthetic package {i} for benchmarks\""
        );
        let _ = writeln!(
            out,
            "optional = false\npython-versions = \">=3.8\"\ngroups = [\"main\"]"
        );
        let _ = writeln!(out, "files = [");
        let _ = writeln!(
            out,
            "    {{file = \"{}\", hash = \"sha256:{}\"}},",
            p.wheel_name(),
            p.wheel_sha256
        );
        let _ = writeln!(
            out,
            "    {{file = \"{}\", hash = \"sha256:{}\"}},",
            p.sdist_name(),
            p.sdist_sha256
        );
        let _ = writeln!(out, "]\n");
        if !p.deps.is_empty() {
            let _ = writeln!(out, "[package.dependencies]");
            for d in &p.deps {
                let name = &packages[d.to].name;
                match d.marker {
                    Some(m) => {
                        let _ = writeln!(
                            out,
                            "{name} = {{version = \">=1.0\", markers = \"{}\"}}",
                            m.replace('"', "\\\"")
                        );
                    }
                    None => {
                        let _ = writeln!(out, "{name} = \">=1.0\"");
                    }
                }
            }
            let _ = writeln!(out);
        }
    }
    let _ = writeln!(out, "[metadata]\nlock-version = \"2.1\"\npython-versions = \">=3.11\"\ncontent-hash = \"{content_hash}\"");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closure(lock: &SyntheticLock, target_linux: bool) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut stack = lock.roots.clone();
        while let Some(i) = stack.pop() {
            if seen.insert(i) {
                for d in &lock.packages[i].deps {
                    if !(target_linux && d.marker == Some(FALSE_MARKER)) {
                        stack.push(d.to);
                    }
                }
            }
        }
        seen
    }

    #[test]
    fn closure_on_linux_is_every_package() {
        for n in [1, 10, 100, 500] {
            let lock = generate(n, 42);
            assert_eq!(closure(&lock, true).len(), n, "n = {n}");
        }
    }

    #[test]
    fn deterministic_and_seeded() {
        assert_eq!(generate(50, 1).uv_lock, generate(50, 1).uv_lock);
        assert_ne!(generate(50, 1).uv_lock, generate(50, 2).uv_lock);
    }

    #[test]
    fn renders_parseable_toml_with_markers() {
        let lock = generate(200, 7);
        let uv: toml::Table = toml::from_str(&lock.uv_lock).unwrap();
        assert_eq!(uv["package"].as_array().unwrap().len(), 201);
        let poetry: toml::Table = toml::from_str(&render_poetry_lock(&lock, "abc")).unwrap();
        assert_eq!(poetry["package"].as_array().unwrap().len(), 200);
        assert_eq!(poetry["metadata"]["content-hash"].as_str(), Some("abc"));
        let _: toml::Table = toml::from_str(&lock.pyproject).unwrap();
        assert!(lock
            .uv_lock
            .contains("marker = \"sys_platform == 'win32'\""));
        assert!(lock
            .uv_lock
            .contains("marker = \"python_version >= '3.8'\""));
    }
}
