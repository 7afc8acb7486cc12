//! The sdists a reviewer reads, by sha256: the index's own
//! (`wheels-index/files/`), the sdist cache (`target/pinwheel/sdists/`,
//! shared with `build-wheels`), or fetched from the configured package
//! index into that cache — hashed while they stream and compared with the
//! sha256 before anything opens them (`build_wheels/sdists.rs`,
//! `fetch.rs`). Read into memory with the safe unpacker's checks (nothing
//! written) as a [`Tree`].

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use pep440_rs::Version;
use pep508_rs::PackageName;

use crate::build_wheels::inputs::{Pin, Role};
use crate::build_wheels::{sdists, INDEX_DIR, SDIST_CACHE};
use crate::config::Config;
use crate::http;
use crate::package_index::{DistKind, PackageIndex};
use pinwheel_archive::unpack;
use pinwheel_pypa::sdist_filename::SdistFilename;
use pinwheel_trust::hash::Sha256;
use pinwheel_vet::tree::{self, Entry, Tree};

/// Whether sdists missing here may be fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    Allowed,
    Offline,
}

/// An sdist on disk whose sha256 was checked.
#[derive(Debug, Clone)]
pub struct Sdist {
    pub path: PathBuf,
    pub sha256: Sha256,
}

impl Sdist {
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// The sdist of `name` `version` whose sha256 is `sha256`: local, or (when
/// the network is allowed) fetched. `Ok(None)` offline when it is not here.
pub fn sdist(
    config: &Config,
    name: &PackageName,
    version: &Version,
    sha256: &Sha256,
    network: Network,
) -> anyhow::Result<Option<Sdist>> {
    let pin = Pin {
        name: name.clone(),
        version: version.clone(),
        sha256: vec![*sha256],
        role: Role::App,
    };
    let files = config.root.join(INDEX_DIR).join("files");
    let cache = config.root.join(SDIST_CACHE);
    if let Some(found) = sdists::find_local(&pin, &[&files, &cache])? {
        return Ok(Some(Sdist {
            path: found.path,
            sha256: found.sha256,
        }));
    }
    if network == Network::Offline {
        return Ok(None);
    }
    let fetched = sdists::fetch(config, &files, &cache, &[&pin])?;
    let found = fetched
        .into_values()
        .next()
        .with_context(|| format!("{name} {version}: no sdist with sha256 {sha256}"))?;
    Ok(Some(Sdist {
        path: found.path,
        sha256: found.sha256,
    }))
}

/// The sha256 of each sdist of `name` `version` the package index lists
/// (for a version that nothing here pins or audits: what a reviewer asks
/// to read before it is pinned).
pub fn index_sdists(
    config: &Config,
    name: &PackageName,
    version: &Version,
) -> anyhow::Result<Vec<(String, Sha256)>> {
    let client = http::Client::new(&config.index)?;
    let index = PackageIndex::new(&client, &config.index.url)?;
    let (url, page) = index.project(name.as_ref())?;
    let mut out = Vec::new();
    for file in &page.files {
        if crate::package_index::dist_kind(&file.filename) != DistKind::Sdist {
            continue;
        }
        let Ok(parsed) = SdistFilename::parse_for(&file.filename, name) else {
            continue;
        };
        if &parsed.version != version {
            continue;
        }
        match file.sha256 {
            Some(sha) => out.push((file.filename.clone(), sha)),
            None => bail!(
                "{url}: {} has no sha256 on the index; it cannot be pinned or reviewed",
                file.filename
            ),
        }
    }
    out.sort();
    Ok(out)
}

/// An sdist read into memory.
pub struct Unpacked {
    pub tree: Tree,
}

/// Reads `sdist` into memory with the safe unpacker's checks and limits
/// (`pinwheel_archive::unpack::read`: its hostile members refused, exit
/// 1), nothing written to disk, and makes it a [`Tree`] without the
/// `{name}-{version}/` directory an sdist puts everything under.
pub fn unpack(_root: &Path, sdist: &Sdist) -> anyhow::Result<Unpacked> {
    let read = unpack::read(&sdist.path, unpack::Limits::default()).map_err(|err| {
        if err.is_refusal() {
            pinwheel_trust::failure::refused(err.to_string())
        } else {
            anyhow::Error::new(err)
        }
    })?;
    Ok(Unpacked {
        tree: tree_of(read),
    })
}

/// The members as a tree, the one top-level directory stripped (as
/// `tree::read_tree` strips it from an unpacked directory).
fn tree_of(read: unpack::Members) -> Tree {
    let prefix = match read.unpacked.top_level.as_slice() {
        [one] => {
            let prefix = format!("{one}/");
            read.members
                .keys()
                .all(|k| k.starts_with(&prefix))
                .then_some(prefix)
        }
        _ => None,
    };
    let mut tree = tree::empty();
    for (path, member) in read.members {
        let rel = match &prefix {
            Some(p) => path[p.len()..].to_owned(),
            None => path,
        };
        let entry = match member {
            unpack::Member::File { bytes, executable } => Entry::from_bytes(bytes, executable),
            unpack::Member::Symlink(target) => Entry::Symlink(target),
        };
        tree.files.insert(rel, entry);
    }
    tree
}
