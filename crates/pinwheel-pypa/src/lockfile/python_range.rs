//! The Python versions a project or its lock declares it supports, kept in
//! the syntax of the file that says so:
//!
//! - PEP 440 version specifiers: PEP 621's `[project] requires-python`,
//!   uv.lock's top-level `requires-python`, PEP 751's pylock.toml
//!   `requires-python`;
//! - a Poetry version constraint (`poetry/constraint.rs`): poetry.lock's
//!   `[metadata] python-versions`, `[tool.poetry.dependencies] python`.
//!
//! A Python is in the range when its full version (e.g. 3.11.2) is: PEP 440
//! containment for specifiers, as pip checks `Requires-Python` against the
//! running interpreter's full version; for a Poetry constraint, the PEP
//! 508 marker Poetry derives from it (`python_version` for bounds of at
//! most two parts, `python_full_version` otherwise), so `^3.11` holds on
//! 3.13.5 and `<=3.11` on 3.11.2, as Poetry means them. A hashed
//! requirements.txt declares no range.

use std::fmt;
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::MarkerTree;

use super::poetry::constraint;

/// A range of Python versions, the key that declared it and its text as
/// written there.
#[derive(Debug, Clone)]
pub struct PythonRange {
    key: &'static str,
    text: String,
    spec: Spec,
}

#[derive(Debug, Clone)]
enum Spec {
    Specifiers(VersionSpecifiers),
    Marker(MarkerTree),
}

impl PythonRange {
    /// PEP 440 specifiers such as `>=3.11,<4`, declared by `key` (e.g.
    /// "requires-python").
    pub fn pep440(key: &'static str, text: &str) -> anyhow::Result<PythonRange> {
        let specifiers = VersionSpecifiers::from_str(text).map_err(|err| {
            anyhow::anyhow!("{key} {text:?}: {}", crate::one_line(&err.to_string()))
        })?;
        Ok(PythonRange {
            key,
            text: text.to_owned(),
            spec: Spec::Specifiers(specifiers),
        })
    }

    /// A Poetry constraint such as `^3.11` or `>=3.9,<3.13 || >=3.13.1`,
    /// declared by `key` (e.g. "python-versions").
    pub fn poetry(key: &'static str, text: &str) -> anyhow::Result<PythonRange> {
        let marker = constraint::python_marker(text)
            .map_err(|err| anyhow::anyhow!("{key}: {}", crate::one_line(&format!("{err:#}"))))?;
        Ok(PythonRange {
            key,
            text: text.to_owned(),
            spec: Spec::Marker(marker),
        })
    }

    /// The key that declared the range, e.g. "requires-python".
    pub fn key(&self) -> &'static str {
        self.key
    }

    /// The range as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether CPython `version` (a full version such as 3.11.2) is in the
    /// range.
    pub fn contains(&self, version: &Version) -> bool {
        match &self.spec {
            Spec::Specifiers(specifiers) => specifiers.contains(version),
            Spec::Marker(marker) => {
                // Only python_version and python_full_version occur in it.
                match crate::markers::cpython_linux(&version.to_string(), "x86_64") {
                    Ok(env) => marker.evaluate(&env, &[]),
                    Err(_) => false,
                }
            }
        }
    }

    /// `requires-python ">=3.13"`: the key and the text, for messages.
    pub fn describe(&self) -> String {
        format!("{} {:?}", self.key, self.text)
    }
}

impl fmt::Display for PythonRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The ranges a pyproject.toml declares: PEP 621's `[project]
/// requires-python` and Poetry's `[tool.poetry.dependencies] python`
/// (a string, or a table with a `version`), in that order. A project may
/// declare both; each must hold.
pub fn of_pyproject(pyproject: &toml::Table) -> anyhow::Result<Vec<PythonRange>> {
    let mut out = Vec::new();
    if let Some(value) = pyproject
        .get("project")
        .and_then(|p| p.as_table())
        .and_then(|p| p.get("requires-python"))
    {
        let text = value
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("[project] requires-python is not a string"))?;
        out.push(PythonRange::pep440("requires-python", text)?);
    }
    let poetry_python = pyproject
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(|p| p.get("dependencies"))
        .and_then(|d| d.get("python"));
    if let Some(value) = poetry_python {
        let text = match value {
            toml::Value::String(s) => s.as_str(),
            toml::Value::Table(t) => {
                t.get("version").and_then(|v| v.as_str()).ok_or_else(|| {
                    anyhow::anyhow!("[tool.poetry.dependencies] python has no version string")
                })?
            }
            _ => anyhow::bail!("[tool.poetry.dependencies] python is not a string"),
        };
        out.push(PythonRange::poetry(
            "[tool.poetry.dependencies] python",
            text,
        )?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        text.parse().unwrap()
    }

    #[test]
    fn pep440_ranges_hold_on_the_full_version() {
        let range = PythonRange::pep440("requires-python", ">=3.11").unwrap();
        assert!(range.contains(&v("3.11.2")) && range.contains(&v("3.13.5")));
        assert!(!range.contains(&v("3.10.12")));
        let range = PythonRange::pep440("requires-python", ">=3.11.3").unwrap();
        assert!(!range.contains(&v("3.11.2")) && range.contains(&v("3.13.5")));
        // As pip reads it: `<=3.11` ends at 3.11.0.
        let range = PythonRange::pep440("requires-python", "<=3.11").unwrap();
        assert!(!range.contains(&v("3.11.2")));
        let range = PythonRange::pep440("requires-python", "==3.11.*").unwrap();
        assert!(range.contains(&v("3.11.2")) && !range.contains(&v("3.13.5")));
        assert_eq!(range.describe(), "requires-python \"==3.11.*\"");
        assert_eq!(range.to_string(), "==3.11.*");
        let err = PythonRange::pep440("requires-python", ">=3.x").unwrap_err();
        assert!(
            err.to_string().starts_with("requires-python \">=3.x\": "),
            "{err}"
        );
    }

    #[test]
    fn poetry_ranges_hold_as_poetry_means_them() {
        let holds = |text: &str, python: &str| {
            PythonRange::poetry("python-versions", text)
                .unwrap()
                .contains(&v(python))
        };
        assert!(holds("^3.11", "3.11.2") && holds("^3.11", "3.13.5"));
        assert!(!holds("~3.11", "3.13.5") && holds("~3.11", "3.11.2"));
        assert!(holds("<=3.11", "3.11.2"));
        assert!(!holds(">=3.11.3", "3.11.2"));
        assert!(holds(">=3.9,<3.12 || >=3.13", "3.13.5"));
        assert!(!holds(">=3.9,<3.12 || >=3.14", "3.13.5"));
        assert!(holds("*", "3.13.5"));
        let err = PythonRange::poetry("python-versions", "^3.x").unwrap_err();
        assert!(err.to_string().contains("python-versions"), "{err}");
    }

    #[test]
    fn pyproject_declares_pep621_and_poetry_ranges() {
        let table: toml::Table = toml::from_str(
            "[project]\nrequires-python = \">=3.11\"\n\
             [tool.poetry.dependencies]\npython = \"^3.12\"\n",
        )
        .unwrap();
        let ranges = of_pyproject(&table).unwrap();
        let described: Vec<String> = ranges.iter().map(PythonRange::describe).collect();
        assert_eq!(
            described,
            [
                "requires-python \">=3.11\"",
                "[tool.poetry.dependencies] python \"^3.12\""
            ]
        );
        let table: toml::Table =
            toml::from_str("[tool.poetry.dependencies.python]\nversion = \"~3.11\"\n").unwrap();
        assert_eq!(of_pyproject(&table).unwrap()[0].text(), "~3.11");
        assert!(of_pyproject(&toml::Table::new()).unwrap().is_empty());
        let table: toml::Table = toml::from_str("[project]\nrequires-python = 3\n").unwrap();
        assert!(of_pyproject(&table).is_err());
    }

    #[test]
    fn every_lock_format_reads_its_range() {
        use crate::lockfile::{parse, Format};
        for (format, text, key) in [
            (
                Format::Poetry,
                include_str!("../../test_data/locks/fork/poetry.lock"),
                "python-versions",
            ),
            (
                Format::Uv,
                include_str!("../../test_data/locks/fork/uv.lock"),
                "requires-python",
            ),
            (
                Format::Pylock,
                include_str!("../../test_data/locks/fork/pylock.toml"),
                "requires-python",
            ),
        ] {
            let lock = parse("lock", format, text).unwrap();
            let range = lock.requires_python.unwrap();
            assert_eq!((range.key(), range.text()), (key, ">=3.9"), "{format}");
        }
        let text = include_str!("../../test_data/locks/fork/uv-export.txt");
        let lock = parse("lock", Format::RequirementsTxt, text).unwrap();
        assert!(lock.requires_python.is_none());
        let text = include_str!("../../test_data/locks/fork/poetry.lock").replace(
            "python-versions = \">=3.9\"\ncontent-hash",
            "python-versions = \"^3.x\"\ncontent-hash",
        );
        let err = format!(
            "{:#}",
            parse("poetry.lock", Format::Poetry, &text).unwrap_err()
        );
        assert!(err.starts_with("poetry.lock: python-versions: "), "{err}");
    }
}
