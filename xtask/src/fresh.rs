//! The one freshness helper for every generated file: write atomically
//! (temporary file in the same directory, fsync, rename, fsync the
//! directory), or in check mode compare and print a unified diff. Also the
//! repository lock that keeps two runs from interleaving.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

mod many;
pub use many::ensure_many;

/// Whether a generator writes its outputs or only checks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Write,
    Check,
}

/// What happened to one generated file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Unchanged,
    /// Written (write mode) or found out of date (check mode).
    Changed,
}

/// Makes `path` hold `contents`. In check mode nothing is written; a stale
/// file gets a unified diff on stdout. `path` must not be a symlink.
pub fn ensure_file_contents(path: &Path, contents: &[u8], mode: Mode) -> anyhow::Result<Outcome> {
    refuse_symlink(path)?;
    let old = match fs_err::read(path) {
        Ok(old) => Some(old),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(err.into()),
    };
    if old.as_deref() == Some(contents) {
        return Ok(Outcome::Unchanged);
    }
    match mode {
        Mode::Write => write_atomic(path, contents)?,
        Mode::Check => {
            let old_text = String::from_utf8_lossy(old.as_deref().unwrap_or_default());
            let new_text = String::from_utf8_lossy(contents);
            print!("{}", unified_diff(&old_text, &new_text, &diff_label(path)));
        }
    }
    Ok(Outcome::Changed)
}

/// A path as a diff header shows it: relative to the repository that
/// holds it (`requirements/app/requirements.txt`), else as given. The
/// directories of a file not written yet need not exist.
fn diff_label(path: &Path) -> String {
    let mut existing = parent_dir(path);
    let mut missing = Vec::new();
    while !existing.is_dir() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                missing.push(name.to_owned());
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    let repo = crate::root::find(&existing).ok();
    let abs = fs_err::canonicalize(&existing)
        .ok()
        .zip(path.file_name())
        .map(|(mut dir, name)| {
            dir.extend(missing.iter().rev());
            dir.join(name)
        });
    match (repo, abs) {
        (Some(repo), Some(abs)) => match abs.strip_prefix(&repo) {
            Ok(rel) => rel.display().to_string(),
            Err(_) => path.display().to_string(),
        },
        _ => path.display().to_string(),
    }
}

/// A unified diff of two texts, labelled with `label`.
pub fn unified_diff(old: &str, new: &str, label: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{label}"), &format!("b/{label}"))
        .to_string()
}

/// Errors when `path` is a symbolic link (we never write through one).
pub fn refuse_symlink(path: &Path) -> anyhow::Result<()> {
    match fs_err::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            bail!(
                "{}: is a symbolic link; refusing to write through it",
                path.display()
            )
        }
        _ => Ok(()),
    }
}

/// Prefix of the temporary files [`write_atomic`] writes beside their
/// destination (a run killed mid-write can leave one behind).
pub const TEMP_PREFIX: &str = ".pinwheel-tmp-";

/// Replaces `path` with `contents` atomically: a temporary file beside it,
/// fsync, rename, fsync of the directory. Readers see the old file or the
/// new one, never a part. The file mode is 0644.
pub fn write_atomic(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    refuse_symlink(path)?;
    let dir = parent_dir(path);
    fs_err::create_dir_all(&dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(&dir)
        .with_context(|| format!("{}: cannot create a temporary file", dir.display()))?;
    tmp.write_all(contents)
        .with_context(|| format!("{}: writing", path.display()))?;
    set_mode(tmp.as_file(), 0o644)?;
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("{}: fsync", path.display()))?;
    tmp.persist(path)
        .map_err(|err| anyhow::anyhow!("{}: rename: {}", path.display(), err.error))?;
    sync_dir(&dir)
}

/// Removes the temporary files a killed run left under `dir` (recursively,
/// not following symlinks) and returns their paths. Call it only while
/// holding [`RepoLock`]: then no other run is writing them.
pub fn remove_stale_temporaries(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    if fs_err::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
        remove_temporaries_in(dir, &mut removed)?;
    }
    Ok(removed)
}

fn remove_temporaries_in(dir: &Path, removed: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in fs_err::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .with_context(|| format!("{}: file type", path.display()))?;
        if kind.is_dir() {
            remove_temporaries_in(&path, removed)?;
        } else if kind.is_file() && entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            fs_err::remove_file(&path)?;
            removed.push(path);
        }
    }
    Ok(())
}

/// The directory holding `path` ("." for a bare file name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// fsyncs a directory so that a rename inside it is durable.
pub fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("{}: fsync of directory", dir.display()))
}

fn set_mode(file: &File, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .context("setting file mode")
}

/// An exclusive lock on the repository, held for the life of the guard.
/// A second run waits for the first (and says so) instead of interleaving.
pub struct RepoLock {
    _file: File,
}

impl RepoLock {
    /// Takes `<root>/.pinwheel.lock`, waiting if another run holds it.
    pub fn acquire(root: &Path) -> anyhow::Result<RepoLock> {
        let path = root.join(".pinwheel.lock");
        let file = fs_err::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?
            .into_parts()
            .0;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                eprintln!(
                    "waiting for another pinwheel run to finish ({} is locked)",
                    path.display()
                );
                file.lock()
                    .with_context(|| format!("{}: lock", path.display()))?;
            }
            Err(std::fs::TryLockError::Error(err)) => {
                return Err(err).with_context(|| format!("{}: lock", path.display()))
            }
        }
        Ok(RepoLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.txt");
        assert_eq!(
            ensure_file_contents(&path, b"a\n", Mode::Check).unwrap(),
            Outcome::Changed
        );
        assert!(!path.exists(), "check mode wrote");
        assert_eq!(
            ensure_file_contents(&path, b"a\n", Mode::Write).unwrap(),
            Outcome::Changed
        );
        assert_eq!(
            ensure_file_contents(&path, b"a\n", Mode::Write).unwrap(),
            Outcome::Unchanged
        );
        assert_eq!(
            ensure_file_contents(&path, b"b\n", Mode::Check).unwrap(),
            Outcome::Changed
        );
        assert_eq!(fs_err::read(&path).unwrap(), b"a\n");
        let leftovers: Vec<_> = fs_err::read_dir(dir.path().join("sub")).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temporary file left behind");
    }

    #[test]
    fn refuses_symlink_output() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        fs_err::write(&target, "x").unwrap();
        let link = dir.path().join("out.txt");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = write_atomic(&link, b"y").unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        assert_eq!(fs_err::read_to_string(&target).unwrap(), "x");
    }

    #[test]
    fn stale_temporaries_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(dir.path().join("sub")).unwrap();
        fs_err::write(dir.path().join("sub/.pinwheel-tmp-abc"), "partial").unwrap();
        fs_err::write(dir.path().join("sub/keep.txt"), "x").unwrap();
        let removed = remove_stale_temporaries(dir.path()).unwrap();
        assert_eq!(removed, [dir.path().join("sub/.pinwheel-tmp-abc")]);
        assert!(dir.path().join("sub/keep.txt").exists());
        assert!(remove_stale_temporaries(&dir.path().join("missing"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn diff_names_the_file() {
        let diff = unified_diff("a\nb\n", "a\nc\n", "requirements.txt");
        assert!(diff.contains("--- a/requirements.txt"));
        assert!(diff.contains("-b\n+c\n"));
    }
}
