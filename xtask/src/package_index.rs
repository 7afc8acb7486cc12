//! A project's files in the package index, through the Simple API: GET
//! `{index}/{normalized-name}/` asking for PEP 691 JSON, reading the
//! answer as JSON or PEP 503 HTML by its `Content-Type` (a server that only
//! speaks HTML answers HTML), then finding a file by its sha256 and
//! classifying it as an sdist or a wheel by its file name.

use std::str::FromStr;

use pep508_rs::PackageName;
use url::Url;

use crate::http::{self, Client};
use pinwheel_pypa::sdist_filename::SdistFormat;
use pinwheel_pypa::simple_index::{self, IndexFile, ProjectPage};
use pinwheel_pypa::wheel_filename::WheelFilename;
use pinwheel_trust::hash::Sha256;

/// What kind of distribution a file name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DistKind {
    Sdist,
    Wheel,
    /// Eggs, `.exe` and `.msi` installers, anything else.
    Other,
}

/// Classifies by file name: a `.whl` that parses as a wheel file name is
/// a wheel (`wheel_filename.rs`); `.tar.gz`, `.zip` and `.tar.bz2` are
/// sdists (`sdist_filename.rs`); anything else (eggs, installers, `.tgz`)
/// is neither.
pub fn dist_kind(filename: &str) -> DistKind {
    if filename.ends_with(".whl") {
        match WheelFilename::from_str(filename) {
            Ok(_) => DistKind::Wheel,
            Err(_) => DistKind::Other,
        }
    } else if SdistFormat::of(filename).is_some() {
        DistKind::Sdist
    } else {
        DistKind::Other
    }
}

/// PEP 503 normalization (`pep508_rs::PackageName`): runs of `-`, `_`,
/// `.` become one `-`, lowercase.
pub fn normalize(name: &str) -> anyhow::Result<PackageName> {
    PackageName::new(name.to_owned())
        .map_err(|err| anyhow::anyhow!("{name:?} is not a valid project name: {err}"))
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
        let normalized = normalize(name)?;
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

/// "… is yanked on the index: reason" for a yanked file, `None` otherwise.
pub fn yank_warning(filename: &str, yanked: Option<&str>) -> Option<String> {
    yanked.map(|reason| {
        if reason.trim().is_empty() {
            format!("{filename} is yanked on the index (no reason given)")
        } else {
            format!("{filename} is yanked on the index: {}", reason.trim())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(
            normalize("Foo.Bar__baz-Qux").unwrap().as_ref(),
            "foo-bar-baz-qux"
        );
        assert_eq!(normalize("MarkupSafe").unwrap().as_ref(), "markupsafe");
        assert_eq!(
            normalize("zope.interface").unwrap().as_ref(),
            "zope-interface"
        );
        assert!(normalize("../etc").is_err());
    }

    #[test]
    fn kinds() {
        assert_eq!(dist_kind("certifi-2024.8.30.tar.gz"), DistKind::Sdist);
        assert_eq!(dist_kind("Foo-1.0.zip"), DistKind::Sdist);
        assert_eq!(
            dist_kind("certifi-2024.8.30-py3-none-any.whl"),
            DistKind::Wheel
        );
        assert_eq!(dist_kind("foo-1.0-py2.7.egg"), DistKind::Other);
        assert_eq!(dist_kind("foo-1.0.whl"), DistKind::Other);
        assert_eq!(dist_kind("foo-1.0.tgz"), DistKind::Other);
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
