//! Where `sync-wheels` reads a signed index from: an https URL (a host the
//! configuration allows; plain http only on 127.0.0.1, for tests), or a
//! local directory given as a path (relative to the current directory, or
//! absolute) or a `file://` URL. Any other scheme is refused.
//!
//! Both sources answer the same two questions, in this order:
//! [`Source::read_list`] (step 1: the list and its signatures, size-capped;
//! nothing else is read) and [`Source::stage`] (step 4: each listed file
//! streamed through the sha256 hasher into a temporary file and renamed
//! into the staging area only when it matches, `fetch::stream_verified`).
//! A `--from` whose scheme names neither, like `ftp:`, is refused; a path
//! holding a colon is written `./a:b`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use url::Url;

use super::local_dir::LocalDir;
use crate::config::Config;
use crate::fetch::{self, Download};
use crate::http::{self, Client, HttpError};
use crate::verify;
use pinwheel_trust::failure;
use pinwheel_trust::hash::Sha256;
use pinwheel_trust::sha256sums::{LIST_FILE, SIGNATURE_FILE};
use pinwheel_trust::signature;

/// What `--from` names, before anything is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An index served over HTTP(S): the directory URL (trailing slash).
    Url(Url),
    /// An index directory on this machine, as given.
    Dir(PathBuf),
}

impl Location {
    /// Reads `--from`: a URL with a scheme (`https`, `http` for the
    /// loopback tests, `file`), or else a path.
    pub fn parse(from: &str) -> anyhow::Result<Location> {
        if from.is_empty() {
            bail!("--from is empty; give an https:// URL, a file:// URL or an index directory");
        }
        let url = match Url::parse(from) {
            Ok(url) => url,
            Err(url::ParseError::RelativeUrlWithoutBase) => {
                return Ok(Location::Dir(PathBuf::from(from)))
            }
            Err(err) => bail!("--from {from:?}: {err}"),
        };
        if url.query().is_some() || url.fragment().is_some() {
            bail!("--from {from:?}: give the index directory, without query or fragment");
        }
        match url.scheme() {
            "https" | "http" => Ok(Location::Url(directory_url(url))),
            "file" => {
                if !matches!(url.host_str(), None | Some("") | Some("localhost")) {
                    bail!("--from {from:?}: a file:// URL must name a directory on this machine (file:///path)");
                }
                let path = url.to_file_path().map_err(|()| {
                    anyhow::anyhow!("--from {from:?}: not a local path (file:///path)")
                })?;
                Ok(Location::Dir(path))
            }
            scheme => {
                let hint = if from.contains("://") {
                    String::new()
                } else {
                    format!(" (a directory named so: ./{from})")
                };
                bail!(
                    "--from {from:?}: unsupported scheme {scheme:?}; give an https:// URL, a file:// URL or an index directory{hint}"
                )
            }
        }
    }
}

/// `url` as a directory URL (trailing slash).
fn directory_url(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

/// One listed file to bring into the staging area.
#[derive(Debug, Clone)]
pub struct Staged {
    /// Its path in the list (and under the source and the index).
    pub path: String,
    pub sha256: Sha256,
    /// Where it goes in the staging area.
    pub dest: PathBuf,
}

/// An opened source of a signed index.
pub enum Source {
    Http { base: Url, client: Box<Client> },
    Dir(LocalDir),
}

impl Source {
    /// Opens what `--from` names: an HTTP client limited to the
    /// configuration's allowed hosts, or the directory (which must exist).
    pub fn open(from: &str, config: &Config, options: &http::Options) -> anyhow::Result<Source> {
        match Location::parse(from)? {
            Location::Url(base) => {
                let client = Client::with_options(
                    base.as_str(),
                    &config.index.allowed_hosts,
                    options.clone(),
                )
                .with_context(|| format!("--from {from}"))?;
                Ok(Source::Http {
                    base,
                    client: Box::new(client),
                })
            }
            Location::Dir(path) => Ok(Source::Dir(
                LocalDir::open(&path).with_context(|| format!("--from {from}"))?,
            )),
        }
    }

    /// Refuses a local source that is the index being synced, or holds it,
    /// or lies inside it: the same repository's index, which would be read
    /// while it is written.
    pub fn refuse_overlap(&self, index: &Path) -> anyhow::Result<()> {
        let Source::Dir(dir) = self else {
            return Ok(());
        };
        let index = resolved(index)?;
        let source = dir.path();
        let why = if index == source {
            "is the index being synced"
        } else if index.starts_with(source) {
            "holds the index being synced"
        } else if source.starts_with(&index) {
            "is inside the index being synced"
        } else {
            return Ok(());
        };
        bail!(
            "--from {}: {why} ({}); give the other repository's index directory",
            source.display(),
            index.display()
        )
    }

    /// The source as the summary names it.
    pub fn describe(&self) -> String {
        match self {
            Source::Http { base, .. } => base.to_string(),
            Source::Dir(dir) => dir.path().display().to_string(),
        }
    }

    /// A file of the source as messages name it: its URL, or its path.
    pub fn name(&self, rel: &str) -> String {
        match self {
            Source::Http { base, .. } => match file_url(base, rel) {
                Ok(url) => url.to_string(),
                Err(_) => format!("{base}{rel}"),
            },
            Source::Dir(dir) => dir.path().join(rel).display().to_string(),
        }
    }

    /// Step 1: the list and its signatures, each read size-capped; nothing
    /// else. An answer past the cap is endless data, and a missing `.asc`
    /// locally an unsigned list: verification failures.
    pub fn read_list(&self) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
        match self {
            Source::Http { base, client } => Ok((
                fetch_small(client, &base.join(LIST_FILE)?, verify::MAX_LIST_FILE)?,
                fetch_small(
                    client,
                    &base.join(SIGNATURE_FILE)?,
                    signature::MAX_SIGNATURE_FILE,
                )?,
            )),
            Source::Dir(dir) => {
                let Some(list) = dir.read_capped(LIST_FILE, verify::MAX_LIST_FILE)? else {
                    bail!(
                        "{}: missing; --from must name an index directory (the one holding {LIST_FILE})",
                        self.name(LIST_FILE)
                    );
                };
                let Some(asc) = dir.read_capped(SIGNATURE_FILE, signature::MAX_SIGNATURE_FILE)?
                else {
                    return Err(failure::verification_failed(format!(
                        "{}: missing: the list is not signed",
                        self.name(SIGNATURE_FILE)
                    )));
                };
                Ok((list, asc))
            }
        }
    }

    /// Step 4: every file of `staged` into the staging area, verified on
    /// the way; a file already staged with the right bytes is kept.
    pub fn stage(&self, staged: &[Staged], jobs: usize, cap: u64) -> anyhow::Result<fetch::Report> {
        if staged.is_empty() {
            return Ok(fetch::Report::default());
        }
        match self {
            Source::Http { base, client } => {
                let mut downloads = Vec::with_capacity(staged.len());
                for s in staged {
                    downloads.push(Download {
                        label: s.path.clone(),
                        url: file_url(base, &s.path)?,
                        dest: s.dest.clone(),
                        sha256: s.sha256,
                        size: None,
                    });
                }
                fetch::fetch_all(
                    client,
                    &downloads,
                    &fetch::Options {
                        jobs,
                        cap,
                        progress: true,
                    },
                )
            }
            Source::Dir(dir) => dir.stage_all(staged, cap),
        }
    }
}

/// `path` made absolute with symbolic links resolved, also when it does not
/// exist yet (its nearest existing ancestor is resolved).
fn resolved(path: &Path) -> anyhow::Result<PathBuf> {
    let absolute = std::path::absolute(path)
        .with_context(|| format!("{}: cannot make it absolute", path.display()))?;
    let mut rest = Vec::new();
    let mut at = absolute.as_path();
    loop {
        if let Ok(real) = fs_err::canonicalize(at) {
            return Ok(rest.iter().rev().fold(real, |p, part| p.join(part)));
        }
        match (at.parent(), at.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                at = parent;
            }
            _ => return Ok(absolute),
        }
    }
}

/// Characters escaped in a list path before it is joined to the base URL:
/// everything URL syntax gives a meaning to.
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'^')
    .add(b'[')
    .add(b']')
    .add(b':')
    .add(b';')
    .add(b'=')
    .add(b'@')
    .add(b'&')
    .add(b'\\');

/// The URL of a listed path under the base (each segment escaped).
pub fn file_url(base: &Url, path: &str) -> anyhow::Result<Url> {
    let encoded: Vec<String> = path
        .split('/')
        .map(|s| utf8_percent_encode(s, PATH_SEGMENT).to_string())
        .collect();
    let url = base.join(&encoded.join("/"))?;
    if !url.as_str().starts_with(base.as_str()) {
        bail!("{path}: leaves the remote index ({url})");
    }
    Ok(url)
}

/// Reads a small file (list or signature) with a cap; an answer past the
/// cap is endless data, a verification failure.
fn fetch_small(client: &Client, url: &Url, cap: u64) -> anyhow::Result<Vec<u8>> {
    match client.get_page_capped(url, None, cap) {
        Ok(page) => Ok(page.body),
        Err(err @ HttpError::TooLarge { .. }) => Err(failure::verification_failed(err.to_string())),
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(from: &str) -> String {
        match Location::parse(from).unwrap() {
            Location::Url(url) => url.to_string(),
            Location::Dir(dir) => panic!("{from}: a directory {dir:?}"),
        }
    }

    fn dir(from: &str) -> PathBuf {
        match Location::parse(from).unwrap() {
            Location::Dir(dir) => dir,
            Location::Url(url) => panic!("{from}: a URL {url}"),
        }
    }

    fn refused(from: &str) -> String {
        Location::parse(from).unwrap_err().to_string()
    }

    #[test]
    fn locations() {
        assert_eq!(
            url("https://example.org/wheels-index"),
            "https://example.org/wheels-index/"
        );
        assert_eq!(url("http://127.0.0.1:8000/i/"), "http://127.0.0.1:8000/i/");
        assert_eq!(
            dir("../other/wheels-index"),
            Path::new("../other/wheels-index")
        );
        assert_eq!(dir("/srv/wheels-index"), Path::new("/srv/wheels-index"));
        assert_eq!(dir("wheels-index"), Path::new("wheels-index"));
        assert_eq!(dir("./a:b"), Path::new("./a:b"));
        assert_eq!(
            dir("file:///srv/wheels%20index/"),
            Path::new("/srv/wheels index/")
        );
        assert_eq!(dir("file://localhost/srv/x"), Path::new("/srv/x"));
    }

    #[test]
    fn other_schemes_and_shapes_refused() {
        let err = refused("ftp://example.org/wheels-index/");
        assert!(err.contains("unsupported scheme \"ftp\""), "{err}");
        assert!(err.ends_with("file:// URL or an index directory"), "{err}");
        let err = refused("ssh:host");
        assert!(err.contains("unsupported scheme \"ssh\""), "{err}");
        assert!(err.ends_with("(a directory named so: ./ssh:host)"), "{err}");
        assert!(refused("file://example.org/srv/x").contains("on this machine"));
        assert!(refused("https://example.org/?q").contains("without query"));
        assert!(refused("file:///srv/x#f").contains("without query"));
        assert!(refused("").contains("empty"));
    }

    #[test]
    fn file_urls_are_escaped_and_stay_under_the_base() {
        let base = url("https://example.org/wheels-index");
        let base = Url::parse(&base).unwrap();
        let url = file_url(&base, "files/foo-1.0+local-py3-none-any.whl").unwrap();
        assert_eq!(
            url.as_str(),
            "https://example.org/wheels-index/files/foo-1.0+local-py3-none-any.whl"
        );
        assert_eq!(
            file_url(&base, "a?b#c").unwrap().as_str(),
            "https://example.org/wheels-index/a%3Fb%23c"
        );
        assert_eq!(
            file_url(&base, "x:y").unwrap().as_str(),
            "https://example.org/wheels-index/x%3Ay"
        );
        assert!(file_url(&base, "%2e%2e/x")
            .unwrap()
            .as_str()
            .starts_with("https://example.org/wheels-index/"));
    }

    #[test]
    fn resolved_follows_links_also_for_missing_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let real = fs_err::canonicalize(tmp.path()).unwrap();
        std::os::unix::fs::symlink(&real, real.join("link")).unwrap();
        assert_eq!(resolved(&real.join("link")).unwrap(), real);
        assert_eq!(
            resolved(&real.join("link/not/yet")).unwrap(),
            real.join("not/yet")
        );
    }
}
