//! An sdist's build system, per PEP 517 and PEP 518: the `[build-system]`
//! table of its `pyproject.toml` (`requires`, `build-backend`,
//! `backend-path`), or setuptools' legacy backend when there is no
//! pyproject.toml (or no `build-backend`) but a `setup.py`. Pure: the caller
//! reads the files.

use std::str::FromStr;

use anyhow::{bail, Context};
use pep508_rs::{Requirement, VersionOrUrl};

/// PEP 517's fallback backend for trees without `build-backend`.
pub const LEGACY_BACKEND: &str = "setuptools.build_meta:__legacy__";

/// PEP 518's default `requires` when a tree has no `[build-system]`.
pub const LEGACY_REQUIRES: &str = "setuptools>=40.8.0";

/// What building a source tree needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSystem {
    /// `[build-system] requires`: what must be importable before any hook
    /// runs.
    pub requires: Vec<Requirement>,
    /// `module:object` of the backend.
    pub backend: String,
    /// In-tree directories holding the backend (self-hosting backends such
    /// as flit_core, setuptools and hatchling), relative to the tree.
    pub backend_path: Vec<String>,
}

impl BuildSystem {
    /// Whether the backend lives in the tree itself.
    pub fn self_hosting(&self) -> bool {
        !self.backend_path.is_empty()
    }
}

/// The build system of a source tree, from its `pyproject.toml` text (None
/// when the file is absent) and whether it has a `setup.py`. `label` names
/// the tree in errors (e.g. the sdist file name).
pub fn from_tree(
    pyproject: Option<&str>,
    has_setup_py: bool,
    label: &str,
) -> anyhow::Result<BuildSystem> {
    let Some(text) = pyproject else {
        if !has_setup_py {
            bail!("{label}: neither pyproject.toml nor setup.py: no way to build it");
        }
        return Ok(legacy(vec![parse_requirement(LEGACY_REQUIRES, label)?]));
    };
    let doc: toml::Table = toml::from_str(text).map_err(|err| {
        anyhow::anyhow!(
            "{label}: pyproject.toml: {}",
            crate::config::one_line(&err.to_string())
        )
    })?;
    let Some(table) = doc.get("build-system") else {
        // PEP 518: no table means setuptools with the legacy backend.
        if !has_setup_py && !doc.contains_key("project") {
            bail!("{label}: pyproject.toml has no [build-system] and there is no setup.py: no way to build it");
        }
        return Ok(legacy(vec![parse_requirement(LEGACY_REQUIRES, label)?]));
    };
    let table = table
        .as_table()
        .with_context(|| format!("{label}: pyproject.toml: build-system is not a table"))?;
    let requires = match table.get("requires") {
        Some(toml::Value::Array(items)) => items
            .iter()
            .map(|item| match item.as_str() {
                Some(s) => parse_requirement(s, label),
                None => bail!(
                    "{label}: pyproject.toml: build-system.requires holds a non-string {item}"
                ),
            })
            .collect::<anyhow::Result<Vec<_>>>()?,
        Some(other) => bail!(
            "{label}: pyproject.toml: build-system.requires must be a list of strings, not {other}"
        ),
        None => bail!(
            "{label}: pyproject.toml: [build-system] has no requires (PEP 518 makes it mandatory)"
        ),
    };
    let Some(backend) = table.get("build-backend") else {
        if !has_setup_py {
            bail!("{label}: pyproject.toml: [build-system] has no build-backend and there is no setup.py");
        }
        return Ok(legacy(requires));
    };
    let backend = backend
        .as_str()
        .map(str::trim)
        .filter(|b| is_backend_spec(b))
        .with_context(|| {
            format!("{label}: pyproject.toml: build-backend {backend} is not `module:object`")
        })?
        .to_owned();
    let backend_path = match table.get("backend-path") {
        None => Vec::new(),
        Some(toml::Value::Array(items)) => items
            .iter()
            .map(|item| {
                let path = item
                    .as_str()
                    .with_context(|| format!("{label}: pyproject.toml: backend-path holds a non-string {item}"))?;
                if path.starts_with('/') || path.split(['/', '\\']).any(|part| part == "..") {
                    bail!("{label}: pyproject.toml: backend-path entry {path:?} leaves the source tree");
                }
                Ok(path.to_owned())
            })
            .collect::<anyhow::Result<Vec<_>>>()?,
        Some(other) => bail!("{label}: pyproject.toml: backend-path must be a list of strings, not {other}"),
    };
    Ok(BuildSystem {
        requires,
        backend,
        backend_path,
    })
}

fn legacy(requires: Vec<Requirement>) -> BuildSystem {
    BuildSystem {
        requires,
        backend: LEGACY_BACKEND.to_owned(),
        backend_path: Vec::new(),
    }
}

/// `module.sub` or `module.sub:object.attr`, Python identifiers only.
fn is_backend_spec(spec: &str) -> bool {
    let dotted = |s: &str| {
        s.split('.').all(|part| {
            let mut chars = part.chars();
            chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
                && chars.all(|c| c.is_alphanumeric() || c == '_')
        })
    };
    match spec.split_once(':') {
        Some((module, object)) => dotted(module) && dotted(object),
        None => dotted(spec),
    }
}

/// One PEP 508 build requirement; URLs are refused (we build only from
/// pinned, verified sources).
pub fn parse_requirement(text: &str, label: &str) -> anyhow::Result<Requirement> {
    let req = Requirement::from_str(text).map_err(|err| {
        anyhow::anyhow!(
            "{label}: build requirement {text:?}: {}",
            crate::config::one_line(&err.to_string())
        )
    })?;
    if matches!(req.version_or_url, Some(VersionOrUrl::Url(_))) {
        bail!("{label}: build requirement {text:?} is a URL; only named requirements can be met from the bootstrap set");
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(bs: &BuildSystem) -> Vec<String> {
        bs.requires.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn self_hosting_flit_core() {
        let text = "[build-system]\nrequires = []\nbuild-backend = \"flit_core.buildapi\"\nbackend-path = [\".\"]\n";
        let bs = from_tree(Some(text), false, "flit_core-3.12.0.tar.gz").unwrap();
        assert_eq!(bs.backend, "flit_core.buildapi");
        assert_eq!(bs.backend_path, ["."]);
        assert!(bs.self_hosting());
        assert!(bs.requires.is_empty());
    }

    #[test]
    fn requires_with_markers_and_extras() {
        let text = r#"[build-system]
requires = ["setuptools>=65.0", "setuptools-scm[toml]>=8.0", 'tomli; python_version < "3.11"']
build-backend = "setuptools.build_meta"
"#;
        let bs = from_tree(Some(text), false, "pluggy").unwrap();
        assert_eq!(names(&bs).len(), 3);
        assert_eq!(bs.requires[1].extras.len(), 1);
        assert!(!bs.self_hosting());
    }

    #[test]
    fn legacy_without_pyproject() {
        let bs = from_tree(None, true, "pexpect-4.9.0.tar.gz").unwrap();
        assert_eq!(bs.backend, LEGACY_BACKEND);
        assert_eq!(names(&bs), ["setuptools>=40.8.0"]);
    }

    #[test]
    fn legacy_without_build_system_table() {
        let bs = from_tree(Some("[tool.black]\nline-length = 80\n"), true, "x").unwrap();
        assert_eq!(bs.backend, LEGACY_BACKEND);
        let bs = from_tree(
            Some("[build-system]\nrequires = [\"setuptools\", \"wheel\"]\n"),
            true,
            "x",
        )
        .unwrap();
        assert_eq!(bs.backend, LEGACY_BACKEND);
        assert_eq!(names(&bs), ["setuptools", "wheel"]);
    }

    #[test]
    fn adversarial_neither_pyproject_nor_setup_py() {
        let err = from_tree(None, false, "empty-1.0.tar.gz")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "empty-1.0.tar.gz: neither pyproject.toml nor setup.py: no way to build it"
        );
    }

    #[test]
    fn adversarial_bad_tables() {
        let cases = [
            ("[build-system]\nbuild-backend = \"x\"\n", "has no requires"),
            ("[build-system]\nrequires = \"setuptools\"\n", "must be a list of strings"),
            ("[build-system]\nrequires = [1]\n", "non-string"),
            ("[build-system]\nrequires = []\nbuild-backend = \"os; rm -rf /\"\n", "is not `module:object`"),
            ("[build-system]\nrequires = []\nbuild-backend = \"b\"\nbackend-path = [\"../..\"]\n", "leaves the source tree"),
            ("[build-system]\nrequires = []\nbuild-backend = \"b\"\nbackend-path = [\"/usr/lib\"]\n", "leaves the source tree"),
            ("[build-system]\nrequires = [\"pkg @ https://example.org/pkg.whl\"]\nbuild-backend = \"b\"\n", "is a URL"),
            ("[build-system]\nrequires = [\"pkg >=>= 1\"]\nbuild-backend = \"b\"\n", "build requirement"),
            ("[build-system\n", "pyproject.toml"),
        ];
        for (text, want) in cases {
            let err = format!(
                "{:#}",
                from_tree(Some(text), true, "bad-1.0.tar.gz").unwrap_err()
            );
            assert!(err.starts_with("bad-1.0.tar.gz: "), "{err}");
            assert!(err.contains(want), "{text:?}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn backend_specs() {
        for good in [
            "setuptools.build_meta",
            "setuptools.build_meta:__legacy__",
            "backend",
            "_own_version_helper:build_meta",
        ] {
            assert!(is_backend_spec(good), "{good}");
        }
        for bad in ["", "a..b", "a:b:c", "1abc", "a b", "a:"] {
            assert!(!is_backend_spec(bad), "{bad}");
        }
    }
}
