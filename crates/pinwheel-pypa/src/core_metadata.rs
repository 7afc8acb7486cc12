//! Core metadata: read from a wheel's `METADATA` or an sdist's `PKG-INFO`
//! ([`Headers`], the one reader of their header block), and written as the
//! `PKG-INFO` of a source distribution from the `[project]` table of
//! `pyproject.toml` ([`Project`]).
//!
//! Specs: PyPA "pyproject.toml specification" (the `[project]` table) and
//! "Core metadata specifications" (versions 2.2 to 2.4, `Dynamic` per
//! PEP 643). Written: name, version, description, readme (file or text,
//! with its content type), requires-python, license (text, file or a PEP 639
//! expression), authors, maintainers, keywords, classifiers, urls,
//! dependencies and optional-dependencies. Scripts and entry points are not
//! core metadata and are left out. `name` and `version` must be static
//! (the spec forbids them as `Dynamic` in an sdist); other fields listed in
//! `project.dynamic` become `Dynamic:` lines. No I/O: the caller reads the
//! readme and licence files this module asks for.

use std::collections::BTreeMap;
use std::str::FromStr;

use anyhow::{bail, Context};
use pep508_rs::ExtraName;
use serde::Deserialize;

mod headers;

pub use headers::Headers;

/// The `[project]` table, as far as core metadata needs it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Project {
    pub name: String,
    pub version: Option<String>,
    pub description: Option<String>,
    pub readme: Option<Readme>,
    pub requires_python: Option<String>,
    pub license: Option<License>,
    #[serde(default)]
    pub authors: Vec<Person>,
    #[serde(default)]
    pub maintainers: Vec<Person>,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub classifiers: Vec<String>,
    #[serde(default)]
    pub urls: BTreeMap<String, String>,
    #[serde(default)]
    pub dependencies: Vec<String>,
    #[serde(default)]
    pub optional_dependencies: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub dynamic: Vec<String>,
}

/// `project.readme`: a path, or a table with a file or inline text.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Readme {
    Path(String),
    Table {
        file: Option<String>,
        text: Option<String>,
        #[serde(rename = "content-type")]
        content_type: Option<String>,
    },
}

/// `project.license`: a PEP 639 SPDX expression, or the older table.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum License {
    Expression(String),
    Table {
        file: Option<String>,
        text: Option<String>,
    },
}

/// An author or maintainer.
#[derive(Debug, Clone, Deserialize)]
pub struct Person {
    pub name: Option<String>,
    pub email: Option<String>,
}

#[derive(Deserialize)]
struct PyProject {
    project: Option<Project>,
}

/// Where a field's text comes from, when it lives in another file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    /// Path relative to the project directory, as written in pyproject.toml.
    pub path: String,
}

impl Project {
    /// Parses pyproject.toml text and checks what an sdist needs: a static
    /// name and version.
    pub fn from_pyproject(text: &str) -> anyhow::Result<Project> {
        let parsed: PyProject = toml::from_str(text)
            .map_err(|err| anyhow::anyhow!("{}", crate::one_line(&err.to_string())))?;
        let project = parsed.project.context("no [project] table")?;
        for field in &project.dynamic {
            if field == "name" || field == "version" {
                bail!("project.{field} is dynamic; an sdist needs a static {field} in [project]");
            }
        }
        let version = project
            .version
            .as_deref()
            .context("project.version is missing")?;
        pep440_rs::Version::from_str(version)
            .map_err(|err| anyhow::anyhow!("project.version {version:?}: {err}"))?;
        if crate::project_name(&project.name).is_none() {
            bail!(
                "project.name {:?} is not a valid project name",
                project.name
            );
        }
        for req in project
            .dependencies
            .iter()
            .chain(project.optional_dependencies.values().flatten())
        {
            pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::from_str(req).map_err(|err| {
                anyhow::anyhow!("dependency {req:?}: {}", crate::one_line(&err.to_string()))
            })?;
        }
        Ok(project)
    }

    /// The normalized version (PEP 440), e.g. "1.0" for "1.0.0a0"-style
    /// spellings that normalize differently.
    pub fn version(&self) -> String {
        let raw = self.version.as_deref().unwrap_or_default();
        pep440_rs::Version::from_str(raw)
            .map(|v| v.to_string())
            .unwrap_or_else(|_| raw.to_owned())
    }

    /// The name as it appears in file names: PEP 503-normalized, then `-`
    /// replaced by `_` (binary and source distribution format specs). A
    /// name [`Project::from_pyproject`] would refuse is returned as written.
    pub fn filename_name(&self) -> String {
        crate::project_name(&self.name).map_or_else(
            || self.name.clone(),
            |name| name.as_dist_info_name().into_owned(),
        )
    }

    /// The files whose contents the metadata needs (readme, licence file).
    pub fn files_needed(&self) -> Vec<FileRef> {
        let mut out = Vec::new();
        match &self.readme {
            Some(Readme::Path(path))
            | Some(Readme::Table {
                file: Some(path), ..
            }) => out.push(FileRef { path: path.clone() }),
            _ => {}
        }
        if let Some(License::Table {
            file: Some(path), ..
        }) = &self.license
        {
            out.push(FileRef { path: path.clone() });
        }
        out
    }

    /// Renders PKG-INFO. `read` returns the text of a file that
    /// [`Project::files_needed`] named.
    pub fn render_pkg_info(
        &self,
        read: &dyn Fn(&str) -> anyhow::Result<String>,
    ) -> anyhow::Result<String> {
        let mut headers: Vec<(&str, String)> = Vec::new();
        let mut metadata_version = "2.2";
        headers.push(("Name", self.name.clone()));
        headers.push(("Version", self.version()));
        for field in &self.dynamic {
            if let Some(core) = dynamic_field(field) {
                for name in core {
                    headers.push(("Dynamic", (*name).to_owned()));
                }
            } else {
                bail!("project.dynamic names {field:?}, which is not a [project] field");
            }
        }
        if let Some(summary) = &self.description {
            headers.push(("Summary", single_line("project.description", summary)?));
        }
        if !self.keywords.is_empty() {
            headers.push((
                "Keywords",
                single_line("project.keywords", &self.keywords.join(","))?,
            ));
        }
        push_people(&mut headers, ("Author", "Author-email"), &self.authors)?;
        push_people(
            &mut headers,
            ("Maintainer", "Maintainer-email"),
            &self.maintainers,
        )?;
        match &self.license {
            None => {}
            Some(License::Expression(expr)) => {
                metadata_version = "2.4";
                headers.push(("License-Expression", single_line("project.license", expr)?));
            }
            Some(License::Table {
                text: Some(text),
                file: None,
            }) => headers.push(("License", folded(text))),
            Some(License::Table {
                file: Some(file),
                text: None,
            }) => headers.push(("License", folded(&read(file)?))),
            Some(License::Table { .. }) => {
                bail!("project.license needs exactly one of `file` and `text`")
            }
        }
        for classifier in &self.classifiers {
            headers.push((
                "Classifier",
                single_line("project.classifiers", classifier)?,
            ));
        }
        if let Some(spec) = &self.requires_python {
            headers.push((
                "Requires-Python",
                single_line("project.requires-python", spec)?,
            ));
        }
        for (label, url) in &self.urls {
            headers.push((
                "Project-URL",
                single_line("project.urls", &format!("{label}, {url}"))?,
            ));
        }
        for req in &self.dependencies {
            headers.push(("Requires-Dist", single_line("project.dependencies", req)?));
        }
        for (extra, reqs) in &self.optional_dependencies {
            let extra = ExtraName::from_str(extra)
                .map_err(|_| {
                    anyhow::anyhow!(
                        "project.optional-dependencies: {extra:?} is not a valid extra name"
                    )
                })?
                .to_string();
            headers.push(("Provides-Extra", extra.clone()));
            for req in reqs {
                headers.push(("Requires-Dist", with_extra(req, &extra)?));
            }
        }
        let (body, content_type) = match &self.readme {
            None => (None, None),
            Some(Readme::Path(path)) => (Some(read(path)?), Some(content_type_for(path)?)),
            Some(Readme::Table {
                file,
                text,
                content_type,
            }) => {
                let body = match (file, text) {
                    (Some(file), None) => read(file)?,
                    (None, Some(text)) => text.clone(),
                    _ => bail!("project.readme needs exactly one of `file` and `text`"),
                };
                let content_type = match (content_type, file) {
                    (Some(ct), _) => ct.clone(),
                    (None, Some(file)) => content_type_for(file)?,
                    (None, None) => bail!("project.readme.content-type is required with `text`"),
                };
                (Some(body), Some(content_type))
            }
        };
        if let Some(ct) = content_type {
            headers.push((
                "Description-Content-Type",
                single_line("project.readme.content-type", &ct)?,
            ));
        }
        let mut out = format!("Metadata-Version: {metadata_version}\n");
        for (name, value) in headers {
            out.push_str(name);
            out.push_str(": ");
            out.push_str(&value);
            out.push('\n');
        }
        if let Some(body) = body {
            out.push('\n');
            out.push_str(&body.replace("\r\n", "\n"));
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
        Ok(out)
    }
}

/// The core metadata fields that a `[project]` key fills.
fn dynamic_field(field: &str) -> Option<&'static [&'static str]> {
    Some(match field {
        "description" => &["Summary"],
        "readme" => &["Description", "Description-Content-Type"],
        "requires-python" => &["Requires-Python"],
        "license" => &["License"],
        "authors" => &["Author", "Author-email"],
        "maintainers" => &["Maintainer", "Maintainer-email"],
        "keywords" => &["Keywords"],
        "classifiers" => &["Classifier"],
        "urls" => &["Project-URL"],
        "dependencies" => &["Requires-Dist"],
        "optional-dependencies" => &["Provides-Extra", "Requires-Dist"],
        "scripts" | "gui-scripts" | "entry-points" => &[],
        _ => return None,
    })
}

fn push_people(
    headers: &mut Vec<(&'static str, String)>,
    (name_field, email_field): (&'static str, &'static str),
    people: &[Person],
) -> anyhow::Result<()> {
    let plain: Vec<&str> = people
        .iter()
        .filter(|p| p.email.is_none())
        .filter_map(|p| p.name.as_deref())
        .collect();
    let with_email: Vec<String> = people
        .iter()
        .filter_map(|p| match (&p.name, &p.email) {
            (Some(name), Some(email)) => Some(format!("{name} <{email}>")),
            (None, Some(email)) => Some(email.clone()),
            _ => None,
        })
        .collect();
    if !plain.is_empty() {
        headers.push((name_field, single_line(name_field, &plain.join(", "))?));
    }
    if !with_email.is_empty() {
        headers.push((
            email_field,
            single_line(email_field, &with_email.join(", "))?,
        ));
    }
    Ok(())
}

/// A requirement from `optional-dependencies.<extra>` with the extra
/// added to its marker.
fn with_extra(req: &str, extra: &str) -> anyhow::Result<String> {
    let req = single_line("project.optional-dependencies", req)?;
    Ok(match req.split_once(';') {
        Some((spec, marker)) => format!(
            "{}; ({}) and extra == \"{extra}\"",
            spec.trim_end(),
            marker.trim()
        ),
        None => format!("{req}; extra == \"{extra}\""),
    })
}

/// The readme's content type from its file extension (pyproject spec).
fn content_type_for(path: &str) -> anyhow::Result<String> {
    let lower = path.to_ascii_lowercase();
    Ok(if lower.ends_with(".md") {
        "text/markdown"
    } else if lower.ends_with(".rst") {
        "text/x-rst"
    } else if lower.ends_with(".txt") {
        "text/plain"
    } else {
        bail!("project.readme {path:?}: unknown content type; give readme = {{ file = ..., content-type = ... }}")
    }
    .to_owned())
}

fn single_line(field: &str, value: &str) -> anyhow::Result<String> {
    if value.contains(['\n', '\r']) {
        bail!("{field}: a line break is not allowed in {value:?}");
    }
    Ok(value.to_owned())
}

/// A multi-line header value, continuation lines indented (RFC 822 folding
/// as the core metadata spec describes for License).
fn folded(text: &str) -> String {
    text.trim_end()
        .replace("\r\n", "\n")
        .replace('\n', "\n        ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(pyproject: &str, files: &[(&str, &str)]) -> anyhow::Result<String> {
        let project = Project::from_pyproject(pyproject)?;
        let files: BTreeMap<String, String> = files
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        project.render_pkg_info(&|path| {
            files
                .get(path)
                .cloned()
                .with_context(|| format!("{path}: not found"))
        })
    }

    #[test]
    fn full_project() {
        let text = fs_err::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/test_data/sdist/pyproject.toml"
        ))
        .unwrap();
        let expected = fs_err::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/test_data/sdist/PKG-INFO"
        ))
        .unwrap();
        let got = render(&text, &[("README.md", "# Demo\n\nHello.\n")]).unwrap();
        assert_eq!(got, expected);
    }

    #[test]
    fn minimal_project() {
        let got = render("[project]\nname = \"A.b_c\"\nversion = \"1.0.0\"\n", &[]).unwrap();
        assert_eq!(got, "Metadata-Version: 2.2\nName: A.b_c\nVersion: 1.0.0\n");
        let project =
            Project::from_pyproject("[project]\nname = \"A.b_c\"\nversion = \"01.0\"\n").unwrap();
        assert_eq!(
            (project.filename_name(), project.version()),
            ("a_b_c".to_owned(), "1.0".to_owned())
        );
    }

    #[test]
    fn dynamic_version_is_refused() {
        let err = render("[project]\nname = \"a\"\ndynamic = [\"version\"]\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("project.version is dynamic"), "{err}");
    }

    #[test]
    fn dynamic_fields_are_declared() {
        let got = render(
            "[project]\nname = \"a\"\nversion = \"1\"\ndynamic = [\"dependencies\"]\n",
            &[],
        )
        .unwrap();
        assert!(got.contains("Dynamic: Requires-Dist\n"), "{got}");
        let err = render(
            "[project]\nname = \"a\"\nversion = \"1\"\ndynamic = [\"colour\"]\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("\"colour\""), "{err}");
    }

    #[test]
    fn bad_inputs() {
        let cases = [
            ("[tool.x]\n", "no [project] table"),
            ("[project]\nname = \"a\"\n", "project.version is missing"),
            (
                "[project]\nname = \"a\"\nversion = \"one\"\n",
                "project.version \"one\"",
            ),
            (
                "[project]\nname = \"-a\"\nversion = \"1\"\n",
                "not a valid project name",
            ),
            (
                "[project]\nname = \"a\"\nversion = \"1\"\ndependencies = [\"requests >=\"]\n",
                "dependency \"requests >=\"",
            ),
            (
                "[project]\nname = \"a\"\nversion = \"1\"\ndescription = \"two\\nlines\"\n",
                "line break",
            ),
            (
                "[project]\nname = \"a\"\nversion = \"1\"\nreadme = \"README\"\n",
                "unknown content type",
            ),
        ];
        for (text, want) in cases {
            let err = format!("{:#}", render(text, &[("README", "x")]).unwrap_err());
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn names_are_normalized_by_their_types() {
        for (name, file) in [
            ("Foo.Bar__baz", "foo_bar_baz"),
            ("charset_normalizer", "charset_normalizer"),
            ("Charset-.Normalizer", "charset_normalizer"),
        ] {
            let text = format!("[project]\nname = \"{name}\"\nversion = \"1\"\n");
            let project = Project::from_pyproject(&text).unwrap();
            assert_eq!(project.filename_name(), file);
        }
        let got = render(
            "[project]\nname = \"a\"\nversion = \"1\"\n[project.optional-dependencies]\n\"Dev__Tools\" = [\"b\"]\n",
            &[],
        )
        .unwrap();
        assert!(
            got.contains("Provides-Extra: dev-tools\nRequires-Dist: b; extra == \"dev-tools\"\n"),
            "{got}"
        );
        for name in ["Foo.Bar__baz-", "", "a b"] {
            let text = format!("[project]\nname = \"{name}\"\nversion = \"1\"\n");
            let err = Project::from_pyproject(&text).unwrap_err().to_string();
            assert!(err.contains("not a valid project name"), "{name:?}: {err}");
        }
        let err = render(
            "[project]\nname = \"a\"\nversion = \"1\"\n[project.optional-dependencies]\n\"-dev\" = []\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("\"-dev\" is not a valid extra name"), "{err}");
    }
}
