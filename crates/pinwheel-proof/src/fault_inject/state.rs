//! Tree snapshots and the all-or-nothing check of fault injection: after a
//! kill, every file must be exactly its old or its new version, nothing
//! present in both states may be missing, and any other file must be a
//! temporary file (never a partial file under a final name). Pure apart
//! from `snapshot`, which reads a directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pinwheel_trust::hash::Sha256;

/// Relative path → content digest of every regular file and symlink under
/// a directory (symlinks by their target text).
pub type Snapshot = BTreeMap<PathBuf, Sha256>;

/// Reads every file under `dir`, skipping the paths for which `ignore`
/// returns true (e.g. the repository lock file).
pub fn snapshot(dir: &Path, ignore: &dyn Fn(&Path) -> bool) -> anyhow::Result<Snapshot> {
    let mut out = Snapshot::new();
    walk(dir, dir, ignore, &mut out)?;
    Ok(out)
}

fn walk(
    base: &Path,
    dir: &Path,
    ignore: &dyn Fn(&Path) -> bool,
    out: &mut Snapshot,
) -> anyhow::Result<()> {
    for entry in fs_err::read_dir(dir)? {
        let path = entry?.path();
        let rel = path.strip_prefix(base).unwrap_or(&path).to_path_buf();
        if ignore(&rel) {
            continue;
        }
        let meta = fs_err::symlink_metadata(&path)?;
        if meta.is_dir() {
            walk(base, &path, ignore, out)?;
        } else if meta.file_type().is_symlink() {
            let target = fs_err::read_link(&path)?;
            out.insert(rel, Sha256::of(target.as_os_str().as_encoded_bytes()));
        } else {
            out.insert(rel, Sha256::of_file(&path)?);
        }
    }
    Ok(())
}

/// Whether a file name is a temporary name our writers use: fresh.rs's
/// `.pinwheel-tmp-*`, tempfile's `.tmp*`, and `*.part`/`*.partial`/`*.tmp`
/// downloads.
pub fn is_temp_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    name.starts_with(xtask::fresh::TEMP_PREFIX)
        || name.starts_with(".tmp")
        || name.ends_with(".part")
        || name.ends_with(".partial")
        || name.ends_with(".tmp")
}

/// What a check found wrong with one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// Neither the old nor the new content (a partial or foreign write).
    Torn(PathBuf),
    /// Present before and after a complete run, absent after the kill.
    Missing(PathBuf),
    /// A file that neither state has and whose name is not a temporary name.
    Unexpected(PathBuf),
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Violation::Torn(p) => write!(f, "{}: neither the old nor the new content", p.display()),
            Violation::Missing(p) => write!(f, "{}: missing", p.display()),
            Violation::Unexpected(p) => write!(f, "{}: unexpected file", p.display()),
        }
    }
}

/// The result of comparing a killed tree with the two expected states.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Check {
    pub violations: Vec<Violation>,
    /// Temporary files a kill left behind (not under final names).
    pub leftovers: Vec<PathBuf>,
    /// How many files were already in their new version.
    pub updated: usize,
}

/// Compares `after` with `old` and `new`. `accept_new` lets a caller accept
/// new content that legitimately differs between runs (a signature's
/// creation time) by path and digest.
pub fn check(
    old: &Snapshot,
    new: &Snapshot,
    after: &Snapshot,
    accept_new: &dyn Fn(&Path, &Sha256) -> bool,
) -> Check {
    let mut out = Check::default();
    let mut paths: Vec<&PathBuf> = old.keys().chain(new.keys()).collect();
    paths.sort();
    paths.dedup();
    for path in paths {
        let (o, n) = (old.get(path), new.get(path));
        match after.get(path) {
            Some(a) if Some(a) == o => {}
            Some(a) if Some(a) == n || (n.is_some() && accept_new(path, a)) => out.updated += 1,
            Some(_) => out.violations.push(Violation::Torn(path.clone())),
            None if o.is_some() && n.is_some() => {
                out.violations.push(Violation::Missing(path.clone()))
            }
            None => {}
        }
    }
    for path in after
        .keys()
        .filter(|p| !old.contains_key(*p) && !new.contains_key(*p))
    {
        if is_temp_name(path) {
            out.leftovers.push(path.clone());
        } else {
            out.violations.push(Violation::Unexpected(path.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(entries: &[(&str, &str)]) -> Snapshot {
        entries
            .iter()
            .map(|(p, c)| (PathBuf::from(p), Sha256::of(c.as_bytes())))
            .collect()
    }

    fn none(_: &Path, _: &Sha256) -> bool {
        false
    }

    #[test]
    fn old_new_and_mixed_states_pass() {
        let old = snap(&[("a", "1"), ("b", "1"), ("gone", "x")]);
        let new = snap(&[("a", "2"), ("b", "1"), ("added", "y")]);
        assert_eq!(check(&old, &new, &old, &none), Check::default());
        let done = check(&old, &new, &new, &none);
        assert!(done.violations.is_empty() && done.updated == 2, "{done:?}");
        let mixed = snap(&[
            ("a", "2"),
            ("b", "1"),
            ("gone", "x"),
            ("sub/.pinwheel-tmp-abc", "partial"),
        ]);
        let c = check(&old, &new, &mixed, &none);
        assert!(c.violations.is_empty(), "{c:?}");
        assert_eq!(c.leftovers, [PathBuf::from("sub/.pinwheel-tmp-abc")]);
    }

    #[test]
    fn torn_missing_and_unexpected_are_violations() {
        let old = snap(&[("a", "1"), ("b", "1")]);
        let new = snap(&[("a", "2"), ("b", "1")]);
        let after = snap(&[("a", "12"), ("c", "partial")]);
        let c = check(&old, &new, &after, &none);
        assert_eq!(
            c.violations,
            [
                Violation::Torn("a".into()),
                Violation::Missing("b".into()),
                Violation::Unexpected("c".into())
            ]
        );
    }

    #[test]
    fn accepted_new_content() {
        let old = snap(&[("list.asc", "old sig")]);
        let new = snap(&[("list.asc", "sig at t1")]);
        let after = snap(&[("list.asc", "sig at t2")]);
        let ok = |p: &Path, _: &Sha256| p.ends_with("list.asc");
        assert!(check(&old, &new, &after, &ok).violations.is_empty());
        assert_eq!(check(&old, &new, &after, &none).violations.len(), 1);
    }

    #[test]
    fn temp_names() {
        for name in [
            "x/.pinwheel-tmp-1",
            ".tmpAbc",
            "f.whl.part",
            "f.partial",
            "a.tmp",
        ] {
            assert!(is_temp_name(Path::new(name)), "{name}");
        }
        for name in ["sha256sums.txt", "files/x.whl", "tmp.txt"] {
            assert!(!is_temp_name(Path::new(name)), "{name}");
        }
    }

    #[test]
    fn snapshot_reads_files_and_links() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(dir.path().join("sub")).unwrap();
        fs_err::write(dir.path().join("sub/f"), "x").unwrap();
        fs_err::write(dir.path().join(".pinwheel.lock"), "").unwrap();
        std::os::unix::fs::symlink("sub/f", dir.path().join("link")).unwrap();
        let s = snapshot(dir.path(), &|p| p == Path::new(".pinwheel.lock")).unwrap();
        assert_eq!(
            s.keys().collect::<Vec<_>>(),
            [Path::new("link"), Path::new("sub/f")]
        );
        assert_eq!(s[Path::new("sub/f")], Sha256::of(b"x"));
    }
}
