//! The sdist writer: a project directory as a PyPA source distribution
//! whose bytes depend only on the files' contents, names and executable
//! bits, and on `SOURCE_DATE_EPOCH`.
//!
//! Spec: PyPA "Source distribution format" — one top directory
//! `{name}-{version}/` holding `pyproject.toml` and `PKG-INFO`. The archive
//! is a ustar tar, entries sorted by path, every mtime the given epoch,
//! uid/gid 0 with no user or group names, modes 0755 (directories and files
//! with an executable bit) or 0644, inside a gzip stream with no file name
//! and mtime 0. What goes in: every regular file under the directory except
//! dot-files, `__pycache__`, `*.pyc`/`*.pyo`, and the top-level `build/`,
//! `dist/` and `*.egg-info`; a symbolic link or special file is an error,
//! not silently skipped.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context};

/// One entry of the archive, relative to the project directory.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    /// `/`-separated path; directories have no trailing slash.
    pub rel: String,
    pub kind: EntryKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EntryKind {
    Dir,
    File { executable: bool },
}

/// Whether a path (relative, `/`-separated) is left out of the sdist.
pub fn excluded(rel: &str, is_dir: bool) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let top_level = !rel.contains('/');
    name.starts_with('.')
        || name == "__pycache__"
        || name.ends_with(".pyc")
        || name.ends_with(".pyo")
        || (top_level
            && is_dir
            && (name == "build" || name == "dist" || name.ends_with(".egg-info")))
        || (top_level && name == "PKG-INFO")
}

/// Every entry under `dir`, sorted by path bytes.
pub fn collect(dir: &Path) -> anyhow::Result<Vec<Entry>> {
    let mut out = Vec::new();
    walk(dir, "", &mut out)?;
    out.sort();
    if !out.iter().any(|e| e.rel == "pyproject.toml") {
        bail!("{}: no pyproject.toml", dir.display());
    }
    Ok(out)
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<Entry>) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut names = Vec::new();
    for entry in fs_err::read_dir(dir.join(prefix))? {
        let entry = entry?;
        let name = entry.file_name().into_string().map_err(|name| {
            anyhow::anyhow!(
                "{}: file name {name:?} is not UTF-8",
                dir.join(prefix).display()
            )
        })?;
        names.push(name);
    }
    names.sort();
    for name in names {
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let path = dir.join(&rel);
        let meta = fs_err::symlink_metadata(&path)?;
        let kind = meta.file_type();
        if excluded(&rel, kind.is_dir()) {
            continue;
        }
        if kind.is_dir() {
            out.push(Entry {
                rel: rel.clone(),
                kind: EntryKind::Dir,
            });
            walk(dir, &rel, out)?;
        } else if kind.is_file() {
            out.push(Entry {
                rel,
                kind: EntryKind::File {
                    executable: meta.permissions().mode() & 0o111 != 0,
                },
            });
        } else {
            bail!(
                "{}: not a regular file or directory; an sdist holds only those",
                path.display()
            );
        }
    }
    Ok(())
}

/// The normalized `.tar.gz` bytes.
pub fn archive(
    dir: &Path,
    top: &str,
    entries: &[Entry],
    pkg_info: &[u8],
    mtime: u64,
) -> anyhow::Result<Vec<u8>> {
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), flate2::Compression::best());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    let mut all: Vec<(String, EntryKind, Option<&[u8]>)> = Vec::with_capacity(entries.len() + 2);
    all.push((String::new(), EntryKind::Dir, None));
    all.push((
        "PKG-INFO".to_owned(),
        EntryKind::File { executable: false },
        Some(pkg_info),
    ));
    all.extend(entries.iter().map(|e| (e.rel.clone(), e.kind, None)));
    all.sort_by(|a, b| a.0.cmp(&b.0));
    for (rel, kind, data) in all {
        let name = if rel.is_empty() {
            top.to_owned()
        } else {
            format!("{top}/{rel}")
        };
        let mut header = tar::Header::new_ustar();
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        match kind {
            EntryKind::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                tar.append_data(&mut header, format!("{name}/"), std::io::empty())
                    .with_context(|| format!("adding {name}/ to the sdist"))?;
            }
            EntryKind::File { executable } => {
                let bytes = match data {
                    Some(bytes) => bytes.to_vec(),
                    None => fs_err::read(dir.join(&rel))?,
                };
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(if executable { 0o755 } else { 0o644 });
                header.set_size(bytes.len() as u64);
                tar.append_data(&mut header, &name, bytes.as_slice())
                    .with_context(|| format!("adding {name} to the sdist"))?;
            }
        }
    }
    let mut gz = tar
        .into_inner()
        .context("finishing the sdist's tar stream")?;
    gz.flush().context("finishing the sdist's gzip stream")?;
    gz.finish().context("finishing the sdist's gzip stream")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusions() {
        assert!(excluded(".git", true));
        assert!(excluded("pkg/__pycache__", true));
        assert!(excluded("pkg/mod.pyc", false));
        assert!(excluded("build", true));
        assert!(excluded("demo.egg-info", true));
        assert!(excluded("PKG-INFO", false));
        assert!(
            !excluded("pkg/build", true),
            "only the top-level build/ is a build directory"
        );
        assert!(!excluded("build", false));
        assert!(!excluded("pkg/PKG-INFO", false));
        assert!(!excluded("pyproject.toml", false));
    }
}
