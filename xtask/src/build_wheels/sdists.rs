//! The fetch step of `build-wheels`: the verified sdist of every pin to
//! build — a file already in `wheels-index/files/` or in
//! `target/pinwheel/sdists/` whose sha256 the pin names, or one fetched from
//! the package index into `target/pinwheel/sdists/`, its sha256 checked
//! while it streams and before anything reads it (`fetch.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::bail;
use pep508_rs::PackageName;

use super::inputs::Pin;
use crate::config::Config;
use crate::fetch;
use crate::http;
use crate::package_index::{self, DistKind, PackageIndex};
use pinwheel_pypa::sdist_filename::SdistFilename;
use pinwheel_trust::hash::Sha256;

/// An sdist whose sha256 is one its pin names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSdist {
    pub path: PathBuf,
    pub sha256: Sha256,
}

/// The verified sdist of every pin in `todo`: found in `files` (the
/// index's) or `cache`, or fetched from the package index into `cache`.
pub fn fetch(
    config: &Config,
    files: &Path,
    cache: &Path,
    todo: &[&Pin],
) -> anyhow::Result<BTreeMap<PackageName, VerifiedSdist>> {
    let mut out = BTreeMap::new();
    let mut missing = Vec::new();
    for pin in todo {
        match find_local(pin, &[files, cache])? {
            Some(sdist) => {
                out.insert(pin.name.clone(), sdist);
            }
            None => missing.push(*pin),
        }
    }
    if missing.is_empty() {
        return Ok(out);
    }
    let client = http::Client::new(&config.index)?;
    let index = PackageIndex::new(&client, &config.index.url)?;
    let mut downloads = Vec::new();
    for pin in missing {
        let mut errors = Vec::new();
        let found =
            pin.sha256
                .iter()
                .find_map(|sha| match index.find_file(pin.name.as_ref(), sha) {
                    Ok(found) => Some((found, *sha)),
                    Err(err) => {
                        errors.push(format!("{err:#}"));
                        None
                    }
                });
        let Some((found, sha256)) = found else {
            bail!("{} {}: {}", pin.name, pin.version, errors.join("; "));
        };
        let filename = &found.file.filename;
        let parsed = SdistFilename::parse_for(filename, &pin.name).map_err(|err| {
            anyhow::anyhow!("{} {}: the pinned file: {err}", pin.name, pin.version)
        })?;
        if found.kind != DistKind::Sdist || parsed.version != pin.version || filename.contains('/')
        {
            bail!("{} {}: the file with the pinned sha256 is {filename:?}, not an sdist of that version", pin.name, pin.version);
        }
        if let Some(warning) = package_index::yank_warning(filename, found.file.yanked.as_deref()) {
            eprintln!("{warning}");
        }
        let dest = cache.join(filename);
        downloads.push(fetch::Download {
            label: filename.clone(),
            url: found.file.url.clone(),
            dest: dest.clone(),
            sha256,
            size: found.file.size,
        });
        out.insert(pin.name.clone(), VerifiedSdist { path: dest, sha256 });
    }
    fs_err::create_dir_all(cache)?;
    let report = fetch::fetch_all(&client, &downloads, &fetch::Options::default())?;
    eprintln!(
        "fetched {} sdist(s), {} bytes",
        report.fetched, report.bytes
    );
    Ok(out)
}

/// An sdist of `pin` in one of `dirs` (searched in order) whose sha256 the
/// pin names.
pub fn find_local(pin: &Pin, dirs: &[&Path]) -> anyhow::Result<Option<VerifiedSdist>> {
    for dir in dirs {
        let Ok(entries) = fs_err::read_dir(dir) else {
            continue;
        };
        for entry in entries {
            let path = entry?.path();
            let name = super::file_name(&path);
            let is_candidate =
                SdistFilename::parse_for(&name, &pin.name).is_ok_and(|f| f.version == pin.version);
            if !is_candidate || !path.is_file() {
                continue;
            }
            let sha256 = Sha256::of_file(&path)?;
            if pin.sha256.contains(&sha256) {
                return Ok(Some(VerifiedSdist { path, sha256 }));
            }
        }
    }
    Ok(None)
}
