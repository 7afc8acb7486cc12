//! A signed index in a local directory, read without following symbolic
//! links: the directory named by `--from` is resolved once (the path the
//! user typed may go through links); below it, every directory on the way
//! to a listed file is opened relative to the one before (`openat` with
//! `O_NOFOLLOW | O_DIRECTORY`) and the file itself with `O_NOFOLLOW`, so a
//! link anywhere in the source index is refused (exit 1, naming it) and
//! cannot be swapped in between a check and the open. Only regular files
//! are read: a FIFO or device node is refused before it is opened, and
//! checked again on the open descriptor.

use std::ffi::CString;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::bail;

use super::source::Staged;
use crate::fetch::{self, SigintGuard};
use crate::fresh;
use pinwheel_trust::failure;

/// An opened index directory.
pub struct LocalDir {
    /// Canonical.
    path: PathBuf,
    dir: File,
}

impl LocalDir {
    /// Opens the directory at `path` (relative to the current directory,
    /// or absolute). Errors do not repeat `path`, which the caller names.
    pub fn open(path: &Path) -> anyhow::Result<LocalDir> {
        let path = std::fs::canonicalize(path).map_err(|err| match err.kind() {
            ErrorKind::NotFound => anyhow::anyhow!("no such directory"),
            _ => anyhow::anyhow!("{err}"),
        })?;
        let dir = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|err| match err.raw_os_error() {
                Some(libc::ENOTDIR) => anyhow::anyhow!("not a directory"),
                _ => anyhow::anyhow!("{}: {err}", path.display()),
            })?;
        Ok(LocalDir { path, dir })
    }

    /// The directory, canonical.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads `rel` (a list path) whole, refusing it past `cap` bytes (a
    /// verification failure, as an endless answer over HTTP is); `None`
    /// when it does not exist.
    pub fn read_capped(&self, rel: &str, cap: u64) -> anyhow::Result<Option<Vec<u8>>> {
        let Some((file, size)) = self.open_file(rel)? else {
            return Ok(None);
        };
        let shown = self.path.join(rel);
        let too_large = || {
            failure::verification_failed(format!(
                "{}: larger than the cap of {cap} bytes",
                shown.display()
            ))
        };
        if size > cap {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        file.take(cap + 1)
            .read_to_end(&mut bytes)
            .map_err(|err| anyhow::anyhow!("{}: reading: {err}", shown.display()))?;
        if bytes.len() as u64 > cap {
            return Err(too_large());
        }
        Ok(Some(bytes))
    }

    /// Copies every file of `staged` into its place in the staging area,
    /// one at a time, through `fetch::stream_verified` (hashed, renamed
    /// only on a match). Stops at the first failure; a SIGINT stops the
    /// copy and removes its temporary file.
    pub fn stage_all(&self, staged: &[Staged], cap: u64) -> anyhow::Result<fetch::Report> {
        let mut dirs: Vec<PathBuf> = staged.iter().map(|s| fresh::parent_dir(&s.dest)).collect();
        dirs.sort();
        dirs.dedup();
        for dir in &dirs {
            fetch::remove_stale_parts(dir)?;
        }
        let _sigint = SigintGuard::arm();
        let interrupted = SigintGuard::seen();
        let mut report = fetch::Report::default();
        for s in staged {
            if interrupted.load(Ordering::SeqCst) {
                break;
            }
            if fetch::already_present(&s.dest, &s.sha256)? {
                report.present += 1;
                continue;
            }
            let result = self.copy_one(s, cap, &interrupted);
            if interrupted.load(Ordering::SeqCst) {
                break;
            }
            report.bytes += result?;
            report.fetched += 1;
        }
        if interrupted.load(Ordering::SeqCst) {
            bail!(
                "interrupted: {} of {} files copied; run the command again to resume",
                report.fetched + report.present,
                staged.len()
            );
        }
        Ok(report)
    }

    fn copy_one(&self, s: &Staged, cap: u64, interrupted: &Arc<AtomicBool>) -> anyhow::Result<u64> {
        let shown = self.path.join(&s.path);
        let Some((file, size)) = self.open_file(&s.path)? else {
            bail!(
                "{}: listed in the signed list but missing from the source",
                shown.display()
            );
        };
        if size > cap {
            bail!(
                "{}: {size} bytes, larger than the cap of {cap} bytes",
                shown.display()
            );
        }
        fetch::stream_verified(&s.dest, &s.path, &s.sha256, None, |sink| {
            let mut reader = Interruptible {
                inner: file.take(cap + 1),
                flag: interrupted,
            };
            let copied = std::io::copy(&mut reader, sink)
                .map_err(|err| anyhow::anyhow!("{}: copying: {err}", shown.display()))?;
            if copied > cap {
                bail!("{}: grew past the cap of {cap} bytes", shown.display());
            }
            Ok(shown.display().to_string())
        })
    }

    /// Opens the regular file `rel` (a list path) without following a
    /// symbolic link at any step; `None` when it does not exist. A link or
    /// a special file is refused (exit 1) naming it.
    fn open_file(&self, rel: &str) -> anyhow::Result<Option<(File, u64)>> {
        let parts: Vec<&str> = rel.split('/').collect();
        if parts.iter().any(|p| matches!(*p, "" | "." | "..")) {
            bail!("{rel}: not a path inside the source index");
        }
        let Some((name, dirs)) = parts.split_last() else {
            bail!("{rel}: not a path inside the source index");
        };
        let mut at = self.path.clone();
        let mut held: Option<OwnedFd> = None;
        for part in dirs {
            at.push(part);
            let parent = held.as_ref().map_or(self.dir.as_fd(), |fd| fd.as_fd());
            match openat(parent, part, libc::O_DIRECTORY) {
                Ok(fd) => held = Some(fd),
                Err(err) => return refusal(&at, err),
            }
        }
        at.push(name);
        // Kind first, so that a FIFO or a device is never opened; checked
        // again below on what was opened.
        match fs_err::symlink_metadata(&at) {
            Ok(meta) if meta.file_type().is_symlink() => return Err(symlink(&at)),
            Ok(meta) if !meta.file_type().is_file() => return Err(not_regular(&at)),
            Ok(_) => {}
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err.into()),
        }
        let parent = held.as_ref().map_or(self.dir.as_fd(), |fd| fd.as_fd());
        let fd = match openat(parent, name, libc::O_NONBLOCK) {
            Ok(fd) => fd,
            Err(err) => return refusal(&at, err),
        };
        let file = File::from(fd);
        let meta = file
            .metadata()
            .map_err(|err| anyhow::anyhow!("{}: {err}", at.display()))?;
        if !meta.is_file() {
            return Err(not_regular(&at));
        }
        Ok(Some((file, meta.len())))
    }
}

/// What a failed `openat` of `at` means: a link or a file where a
/// directory should be (refused), nothing there (`None`), or an I/O error.
/// Linux answers `O_NOFOLLOW` on a link with `ELOOP`, and `O_DIRECTORY |
/// O_NOFOLLOW` with `ENOTDIR`; which of the two it was only words the
/// message, the open has already failed.
fn refusal<T>(at: &Path, err: std::io::Error) -> anyhow::Result<Option<T>> {
    match err.raw_os_error() {
        Some(libc::ELOOP | libc::ENOTDIR) => {
            let link = fs_err::symlink_metadata(at).is_ok_and(|m| m.file_type().is_symlink());
            Err(if link {
                symlink(at)
            } else if err.raw_os_error() == Some(libc::ENOTDIR) {
                failure::refused(format!("{}: is not a directory", at.display()))
            } else {
                failure::refused(format!("{}: cannot be opened: {err}", at.display()))
            })
        }
        Some(libc::ENOENT) => Ok(None),
        _ => Err(anyhow::anyhow!("{}: {err}", at.display())),
    }
}

fn symlink(at: &Path) -> anyhow::Error {
    failure::refused(format!(
        "{}: is a symbolic link; the source index may hold only regular files and directories",
        at.display()
    ))
}

fn not_regular(at: &Path) -> anyhow::Error {
    failure::refused(format!("{}: is not a regular file", at.display()))
}

/// `openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)`, read-only.
fn openat(dir: BorrowedFd<'_>, name: &str, flags: libc::c_int) -> std::io::Result<OwnedFd> {
    let name = CString::new(name).map_err(|_| std::io::Error::from(ErrorKind::InvalidInput))?;
    let flags = flags | libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NOCTTY;
    // SAFETY: `name` is a NUL-terminated string alive for the call, `dir`
    // an open descriptor borrowed for the call; openat only reads them.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by openat; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A reader that fails once `flag` is set (the first SIGINT), so that a
/// copy stops and its temporary file is removed.
struct Interruptible<'a, R> {
    inner: R,
    flag: &'a AtomicBool,
}

impl<R: Read> Read for Interruptible<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.flag.load(Ordering::SeqCst) {
            return Err(std::io::Error::other("interrupted"));
        }
        self.inner.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, LocalDir) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs_err::create_dir_all(root.join("files/sub")).unwrap();
        fs_err::write(root.join("files/a.whl"), b"a").unwrap();
        fs_err::write(root.join("files/sub/b.whl"), b"b").unwrap();
        let outside = root.join("outside");
        fs_err::create_dir_all(&outside).unwrap();
        fs_err::write(outside.join("b.whl"), b"b").unwrap();
        std::os::unix::fs::symlink("a.whl", root.join("files/link.whl")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("files/linked")).unwrap();
        std::os::unix::fs::symlink("files", root.join("alias")).unwrap();
        let dir = LocalDir::open(root).unwrap();
        (tmp, dir)
    }

    fn err(dir: &LocalDir, rel: &str) -> (String, u8) {
        let err = dir.read_capped(rel, 100).unwrap_err();
        (err.to_string(), failure::exit_code(&err))
    }

    #[test]
    fn regular_files_read_missing_is_none() {
        let (_tmp, dir) = setup();
        assert_eq!(dir.read_capped("files/a.whl", 100).unwrap().unwrap(), b"a");
        assert_eq!(
            dir.read_capped("files/sub/b.whl", 100).unwrap().unwrap(),
            b"b"
        );
        assert!(dir.read_capped("files/none.whl", 100).unwrap().is_none());
        assert!(dir.read_capped("nodir/none.whl", 100).unwrap().is_none());
    }

    #[test]
    fn adversarial_local_source_links_and_special_files_refused() {
        let (tmp, dir) = setup();
        for (rel, named) in [
            ("files/link.whl", "files/link.whl"),
            ("files/linked/b.whl", "files/linked"),
            ("alias/a.whl", "alias"),
        ] {
            let (msg, code) = err(&dir, rel);
            assert_eq!(code, 1, "{msg}");
            assert!(
                msg.ends_with(&format!("{named}: is a symbolic link; the source index may hold only regular files and directories")),
                "{msg}"
            );
        }
        let (msg, code) = err(&dir, "files/a.whl/x");
        assert_eq!(code, 1, "{msg}");
        assert!(msg.ends_with("files/a.whl: is not a directory"), "{msg}");
        duct::cmd!("mkfifo", tmp.path().join("files/fifo.whl"))
            .run()
            .unwrap();
        let (msg, code) = err(&dir, "files/fifo.whl");
        assert_eq!(code, 1, "{msg}");
        assert!(
            msg.contains("files/fifo.whl: is not a regular file"),
            "{msg}"
        );
        for rel in [
            "../outside/b.whl",
            "files/../files/a.whl",
            "./files/a.whl",
            "files//a.whl",
            "",
        ] {
            let (msg, code) = err(&dir, rel);
            assert_eq!(code, 2, "{msg}");
            assert!(msg.contains("not a path inside the source index"), "{msg}");
        }
    }

    #[test]
    fn cap_is_a_verification_failure() {
        let (tmp, dir) = setup();
        fs_err::write(tmp.path().join("big"), vec![0u8; 101]).unwrap();
        let (msg, code) = err(&dir, "big");
        assert_eq!(code, 1);
        assert!(
            msg.ends_with("big: larger than the cap of 100 bytes"),
            "{msg}"
        );
        assert_eq!(dir.read_capped("big", 101).unwrap().unwrap().len(), 101);
    }
}
