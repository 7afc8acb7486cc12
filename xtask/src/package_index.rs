//! A project's files in the package index, through the Simple API: GET
//! `{index}/{normalized-name}/` asking for PEP 691 JSON, reading the
//! answer as JSON or PEP 503 HTML by its `Content-Type` (a server that only
//! speaks HTML answers HTML), then finding a file by its sha256 and
//! classifying it as an sdist or a wheel by its file name.

use url::Url;

use crate::hash::Sha256;
use crate::http::{self, Client};
use crate::simple_index::{self, IndexFile, ProjectPage};

/// What kind of distribution a file name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DistKind {
    Sdist,
    Wheel,
    /// Eggs, `.exe` and `.msi` installers, anything else.
    Other,
}

/// Classifies by file name: `.whl` is a wheel; `.tar.gz`, `.zip`,
/// `.tar.bz2`, `.tar.xz`, `.tgz`, `.tar` are sdists (PEP 625 allows only
/// `.tar.gz` for new uploads, older ones exist on the index).
pub fn dist_kind(filename: &str) -> DistKind {
    let lower = filename.to_ascii_lowercase();
    if lower.ends_with(".whl") {
        DistKind::Wheel
    } else if [".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz", ".tar"]
        .iter()
        .any(|ext| lower.ends_with(ext))
    {
        DistKind::Sdist
    } else {
        DistKind::Other
    }
}

/// PEP 503 normalization: runs of `-`, `_`, `.` become one `-`, lowercase.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The index at one base URL.
pub struct PackageIndex<'a> {
    client: &'a Client,
    base: Url,
}

/// A file found by hash.
#[derive(Debug, Clone)]
pub struct Found {
    pub file: IndexFile,
    pub kind: DistKind,
    /// The page it was listed on.
    pub page: Url,
}

impl<'a> PackageIndex<'a> {
    /// `base` is the Simple API root, e.g. `https://pypi.org/simple/`.
    pub fn new(client: &'a Client, base: &str) -> anyhow::Result<PackageIndex<'a>> {
        let mut base =
            Url::parse(base).map_err(|err| anyhow::anyhow!("index url {base:?}: {err}"))?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Ok(PackageIndex { client, base })
    }

    /// `{index}/{normalized-name}/`.
    pub fn project_url(&self, name: &str) -> anyhow::Result<Url> {
        let normalized = normalize(name);
        let ok = !normalized.is_empty()
            && normalized
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            anyhow::bail!("{name:?} is not a valid project name");
        }
        Ok(self.base.join(&format!("{normalized}/"))?)
    }

    /// The project's page, parsed.
    pub fn project(&self, name: &str) -> anyhow::Result<(Url, ProjectPage)> {
        let url = self.project_url(name)?;
        let page = match self.client.get_page(&url, Some(http::ACCEPT_SIMPLE)) {
            Ok(page) => page,
            Err(http::HttpError::Status { status: 404, .. }) => {
                anyhow::bail!("{url}: the index has no project named {name:?}")
            }
            Err(err) => return Err(err.into()),
        };
        let parsed = simple_index::parse(page.content_type.as_deref(), &page.body, &page.url)?;
        Ok((page.url, parsed))
    }

    /// The file of project `name` whose sha256 is `sha256`, or an error
    /// saying the index serves no such file.
    pub fn find_file(&self, name: &str, sha256: &Sha256) -> anyhow::Result<Found> {
        let (url, page) = self.project(name)?;
        find_in_page(&page, &url, sha256).ok_or_else(|| {
            anyhow::anyhow!("{url}: the index serves no file of {name} with sha256 {sha256}")
        })
    }
}

/// The file of a page with that sha256.
pub fn find_in_page(page: &ProjectPage, page_url: &Url, sha256: &Sha256) -> Option<Found> {
    page.files
        .iter()
        .find(|f| f.sha256.as_ref() == Some(sha256))
        .map(|f| Found {
            file: f.clone(),
            kind: dist_kind(&f.filename),
            page: page_url.clone(),
        })
}

/// "warning: … is yanked …" for a yanked file, `None` otherwise.
pub fn yank_warning(file: &IndexFile) -> Option<String> {
    file.yanked.as_ref().map(|reason| {
        if reason.is_empty() {
            format!("{} is yanked on the index (no reason given)", file.filename)
        } else {
            format!(
                "{} is yanked on the index: {}",
                file.filename,
                reason.trim()
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(normalize("Foo.Bar__baz-Qux"), "foo-bar-baz-qux");
        assert_eq!(normalize("MarkupSafe"), "markupsafe");
        assert_eq!(normalize("zope.interface"), "zope-interface");
    }

    #[test]
    fn kinds() {
        assert_eq!(dist_kind("certifi-2024.8.30.tar.gz"), DistKind::Sdist);
        assert_eq!(dist_kind("Foo-1.0.ZIP"), DistKind::Sdist);
        assert_eq!(
            dist_kind("certifi-2024.8.30-py3-none-any.whl"),
            DistKind::Wheel
        );
        assert_eq!(dist_kind("foo-1.0-py2.7.egg"), DistKind::Other);
    }

    #[test]
    fn project_urls() {
        let client =
            Client::with_options("https://pypi.org/simple", &[], http::Options::default()).unwrap();
        let index = PackageIndex::new(&client, "https://pypi.org/simple").unwrap();
        assert_eq!(
            index.project_url("Markup_Safe").unwrap().as_str(),
            "https://pypi.org/simple/markup-safe/"
        );
        assert!(index.project_url("../etc").is_err());
        assert!(index.project_url("a/b").is_err());
    }
}
