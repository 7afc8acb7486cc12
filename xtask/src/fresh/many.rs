//! Many generated files at once, with the same guarantee as
//! [`super::write_atomic`] (a reader sees the old file or the new one, never
//! a part; after a crash each file is whole, old or new) but two flushes in
//! all instead of one fsync per file and per directory: every changed file
//! is written to a temporary file beside it, then one `syncfs` per file
//! system makes all of them durable, then each is renamed into place, then
//! a second `syncfs` makes the renames durable. With tens of thousands of
//! small files (the index pages) this is the difference between seconds of
//! fsync and a fraction of one.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rayon::prelude::*;

use super::{ensure_file_contents, parent_dir, refuse_symlink, Mode, Outcome, TEMP_PREFIX};

/// Makes every `path` hold its contents; returns the paths that changed
/// (written, or in check mode found out of date, with a diff on stdout).
pub fn ensure_many(files: &[(PathBuf, &[u8])], mode: Mode) -> anyhow::Result<Vec<PathBuf>> {
    if mode == Mode::Check {
        // Diffs print in order.
        let mut changed = Vec::new();
        for (path, contents) in files {
            if ensure_file_contents(path, contents, mode)? == Outcome::Changed {
                changed.push(path.clone());
            }
        }
        return Ok(changed);
    }
    // 1. Compare, and write each changed file to a temporary file.
    let staged: anyhow::Result<Vec<Option<(tempfile::TempPath, &PathBuf)>>> = files
        .par_iter()
        .map(|(path, contents)| stage(path, contents))
        .collect();
    let staged: Vec<(tempfile::TempPath, &PathBuf)> = staged?.into_iter().flatten().collect();
    if staged.is_empty() {
        return Ok(Vec::new());
    }
    // 2. Their contents reach the disk before any rename can.
    let dirs: Vec<PathBuf> = staged.iter().map(|(_, p)| parent_dir(p)).collect();
    sync_file_systems(&dirs)?;
    // 3. Rename into place. A failure leaves the others renamed: each file
    //    is still whole.
    let renamed: anyhow::Result<Vec<PathBuf>> = staged
        .into_par_iter()
        .map(|(tmp, path)| {
            tmp.persist(path)
                .map_err(|err| anyhow::anyhow!("{}: rename: {}", path.display(), err.error))?;
            Ok(path.clone())
        })
        .collect();
    let renamed = renamed?;
    // 4. The renames themselves reach the disk.
    sync_file_systems(&dirs)?;
    Ok(renamed)
}

/// Writes `contents` to a temporary file beside `path` when `path` does not
/// already hold it.
fn stage<'a>(
    path: &'a PathBuf,
    contents: &[u8],
) -> anyhow::Result<Option<(tempfile::TempPath, &'a PathBuf)>> {
    refuse_symlink(path)?;
    match fs_err::read(path) {
        Ok(old) if old == contents => return Ok(None),
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err.into()),
    }
    let dir = parent_dir(path);
    fs_err::create_dir_all(&dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .tempfile_in(&dir)
        .with_context(|| format!("{}: cannot create a temporary file", dir.display()))?;
    tmp.write_all(contents)
        .with_context(|| format!("{}: writing", path.display()))?;
    Ok(Some((tmp.into_temp_path(), path)))
}

/// `syncfs` once for each file system that one of `dirs` lives on.
fn sync_file_systems(dirs: &[PathBuf]) -> anyhow::Result<()> {
    let mut by_device: BTreeMap<u64, &Path> = BTreeMap::new();
    let mut seen_dirs: BTreeMap<&Path, ()> = BTreeMap::new();
    for dir in dirs {
        if seen_dirs.insert(dir, ()).is_some() {
            continue;
        }
        let dev = fs_err::metadata(dir)?.dev();
        by_device.entry(dev).or_insert(dir);
    }
    for dir in by_device.values() {
        let handle = fs_err::File::open(dir)?;
        // SAFETY: syncfs takes a file descriptor we own for the duration of
        // the call and touches no memory of ours.
        let rc = unsafe { libc::syncfs(handle.as_raw_fd()) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("{}: syncfs", dir.display()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_changed_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a/index.html");
        let b = dir.path().join("b/index.html");
        let mut files: Vec<(PathBuf, &[u8])> = vec![(a.clone(), b"a\n"), (b.clone(), b"b\n")];
        assert_eq!(
            ensure_many(&files, Mode::Check).unwrap(),
            [a.clone(), b.clone()]
        );
        assert!(!a.exists(), "check mode wrote");
        assert_eq!(
            ensure_many(&files, Mode::Write).unwrap(),
            [a.clone(), b.clone()]
        );
        assert_eq!(fs_err::read(&a).unwrap(), b"a\n");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs_err::metadata(&a).unwrap().permissions().mode() & 0o777,
            0o644
        );
        assert!(ensure_many(&files, Mode::Write).unwrap().is_empty());
        files[1].1 = b"B\n";
        assert_eq!(ensure_many(&files, Mode::Write).unwrap(), vec![b.clone()]);
        assert_eq!(fs_err::read(&b).unwrap(), b"B\n");
        for d in ["a", "b"] {
            let names: Vec<_> = fs_err::read_dir(dir.path().join(d))
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(names, ["index.html"], "temporary file left in {d}");
        }
    }

    #[test]
    fn adversarial_refuses_symlinked_output() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        fs_err::write(&target, "x").unwrap();
        let link = dir.path().join("out.html");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let files: Vec<(PathBuf, &[u8])> = vec![(link, b"y")];
        let err = ensure_many(&files, Mode::Write).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        assert_eq!(fs_err::read_to_string(&target).unwrap(), "x");
    }
}
