//! Safe unpacking of source distributions (`.tar.gz`, `.zip`, `.tar.bz2`)
//! into a fresh directory. An sdist is attacker-controlled input even after
//! its hash matched a pin, so every member is checked before anything is
//! written, and the first problem stops the run with an [`ArchiveError`]
//! naming the archive, the member and the reason.
//!
//! Refused: absolute paths, `..` components, backslashes, control
//! characters and non-UTF-8 names; hard links; character and block devices,
//! FIFOs, sparse and other special members; duplicate members and members
//! whose names differ only in case (Unicode lowercase), including a name
//! that is both a file and a directory; symbolic links that are absolute,
//! that leave the destination (resolved lexically), whose target passes
//! through another link, or that other members sit beneath; encrypted zip
//! entries and zips whose local headers disagree with the central
//! directory (overlapping entries, the "better zip bomb"); more than
//! [`Limits::max_entries`] members; more than [`Limits::max_bytes`] of
//! content, checked against the declared sizes before extraction AND
//! against the bytes actually decompressed (a member that inflates past
//! its declared size is refused).
//!
//! Relative symbolic links that stay inside are kept: they are created
//! last, after every regular member is written, so no write ever goes
//! through a link. Files get mode 0644, or 0755 when the archive marks any
//! execute bit; directories 0755; owners, setuid bits and times are not
//! restored. On any error the destination is removed.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use pinwheel_pypa::sdist_filename::SdistFormat;

mod tar_format;
mod zip_format;

/// How much an archive may unpack to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Total bytes of file contents (and link targets).
    pub max_bytes: u64,
    /// Number of members, directories included.
    pub max_entries: u64,
}

impl Default for Limits {
    /// 1 GiB and 100,000 members: several times the largest sdists of the
    /// scientific stack.
    fn default() -> Self {
        Limits {
            max_bytes: 1 << 30,
            max_entries: 100_000,
        }
    }
}

/// What was unpacked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpacked {
    /// Members written (files, directories, links).
    pub entries: u64,
    /// Bytes of file contents and link targets written.
    pub bytes: u64,
    /// The top-level names, sorted (an sdist has one: `{name}-{version}`).
    pub top_level: Vec<String>,
}

/// An archive refused, or an I/O error while unpacking it.
#[derive(Debug, thiserror::Error)]
pub struct ArchiveError {
    pub archive: PathBuf,
    /// The member, when the problem is one member.
    pub member: Option<String>,
    pub reason: Refusal,
}

impl fmt::Display for ArchiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.member {
            Some(member) => write!(
                f,
                "{}: member {member:?}: {}",
                self.archive.display(),
                self.reason
            ),
            None => write!(f, "{}: {}", self.archive.display(), self.reason),
        }
    }
}

impl ArchiveError {
    /// Whether the archive was read and refused for what it holds (a
    /// hostile member, a bomb), rather than being unreadable (malformed,
    /// unknown format) or an I/O error here.
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self.reason,
            Refusal::UnknownFormat
                | Refusal::DestinationExists(_)
                | Refusal::Malformed(_)
                | Refusal::Io { .. }
        )
    }
}

/// Why an archive (or one of its members) was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("absolute path")]
    AbsolutePath,
    #[error("'..' in the path leaves the destination")]
    ParentDir,
    #[error("backslash in the path")]
    Backslash,
    #[error("control character in the path")]
    ControlCharacter,
    #[error("the path is not valid UTF-8")]
    NotUtf8,
    #[error("empty path")]
    EmptyPath,
    #[error("hard link to {0:?} (hard links are not allowed)")]
    Hardlink(String),
    #[error("symbolic link to absolute path {0:?}")]
    AbsoluteSymlink(String),
    #[error("symbolic link to {0:?} leaves the destination")]
    EscapingSymlink(String),
    #[error("symbolic link to {target:?} goes through another symbolic link {through:?}")]
    SymlinkThroughSymlink { target: String, through: String },
    #[error("device file (not allowed)")]
    Device,
    #[error("FIFO (not allowed)")]
    Fifo,
    #[error("unsupported member type {0}")]
    UnsupportedType(String),
    #[error("duplicate member")]
    Duplicate,
    #[error("differs only in case from member {0:?}")]
    CaseCollision(String),
    #[error("conflicts with member {0:?}: one would have to be a file and a directory")]
    FileDirConflict(String),
    #[error("more than {0} members")]
    TooManyEntries(u64),
    #[error("unpacks to more than {0} bytes")]
    TooLarge(u64),
    #[error("declares {declared} bytes but decompresses to more")]
    SizeMismatch { declared: u64 },
    #[error("encrypted member")]
    Encrypted,
    #[error("not an sdist archive (expected .tar.gz, .zip or .tar.bz2)")]
    UnknownFormat,
    #[error("the destination {0} already exists")]
    DestinationExists(PathBuf),
    #[error("malformed archive: {0}")]
    Malformed(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// Unpacks `archive` into `dest` (which must not exist), choosing the
/// format by the file name's extension.
pub fn unpack(archive: &Path, dest: &Path, limits: Limits) -> Result<Unpacked, ArchiveError> {
    unpack_as(archive, format_of(archive)?, dest, limits)
}

/// The format an archive's file name says, or [`Refusal::UnknownFormat`].
fn format_of(archive: &Path) -> Result<SdistFormat, ArchiveError> {
    let name = archive
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    SdistFormat::of(name).ok_or_else(|| ArchiveError {
        archive: archive.to_owned(),
        member: None,
        reason: Refusal::UnknownFormat,
    })
}

/// Unpacks `archive` as `format` into `dest` (which must not exist). On
/// error, `dest` is removed.
pub fn unpack_as(
    archive: &Path,
    format: SdistFormat,
    dest: &Path,
    limits: Limits,
) -> Result<Unpacked, ArchiveError> {
    let fail = |reason| ArchiveError {
        archive: archive.to_owned(),
        member: None,
        reason,
    };
    if fs_err::symlink_metadata(dest).is_ok() {
        return Err(fail(Refusal::DestinationExists(dest.to_owned())));
    }
    std::fs::DirBuilder::new()
        .mode(0o755)
        .create(dest)
        .map_err(|source| {
            fail(Refusal::Io {
                path: dest.to_owned(),
                source,
            })
        })?;
    let mut out = Extractor::new(archive, Some(dest), limits);
    let result = walk(&mut out, format).and_then(|()| out.finish());
    if result.is_err() {
        let _ = std::fs::remove_dir_all(dest);
    }
    result
}

/// Hands every member of `out.archive`, read as `format`, to `out`.
fn walk(out: &mut Extractor, format: SdistFormat) -> Result<(), ArchiveError> {
    match format {
        SdistFormat::TarGz => {
            tar_format::unpack(out, |f| Box::new(flate2::read::GzDecoder::new(f)))
        }
        SdistFormat::TarBz2 => {
            tar_format::unpack(out, |f| Box::new(bzip2::read::BzDecoder::new(f)))
        }
        SdistFormat::Zip => zip_format::unpack(out),
    }
}

/// A member read into memory by [`read`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Member {
    File {
        bytes: Vec<u8>,
        executable: bool,
    },
    /// A relative link that stays inside the archive (checked as
    /// [`unpack`] checks it), by its target.
    Symlink(String),
}

/// An archive read into memory: its files and links by relative path
/// (`/`-separated, normalized as [`unpack`] writes them; directories are
/// not listed), and the totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Members {
    pub members: BTreeMap<String, Member>,
    pub unpacked: Unpacked,
}

/// Reads `archive` into memory with every check and limit of [`unpack`]
/// — the same refusals, in the same order — and nothing written to disk:
/// what a reader of the sources (`vet diff`) needs without a thousand file
/// creations. The format is chosen by the file name's extension.
pub fn read(archive: &Path, limits: Limits) -> Result<Members, ArchiveError> {
    let format = format_of(archive)?;
    let mut out = Extractor::new(archive, None, limits);
    walk(&mut out, format)?;
    let unpacked = out.finish()?;
    Ok(Members {
        members: std::mem::take(&mut out.memory),
        unpacked,
    })
}

/// What a name in the archive is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    /// A directory only implied by a member beneath it.
    ImpliedDir,
    Symlink,
}

/// Writes checked members into the destination (or, without one, keeps
/// them in memory); shared by the tar and zip readers.
struct Extractor {
    archive: PathBuf,
    /// `None`: members go to `memory` ([`read`]).
    dest: Option<PathBuf>,
    memory: BTreeMap<String, Member>,
    limits: Limits,
    entries: u64,
    bytes: u64,
    /// Case-folded path -> (path as written, kind).
    names: BTreeMap<String, (String, Kind)>,
    /// Links to create at the end: path -> target.
    symlinks: BTreeMap<String, String>,
}

impl Extractor {
    fn new(archive: &Path, dest: Option<&Path>, limits: Limits) -> Extractor {
        Extractor {
            archive: archive.to_owned(),
            dest: dest.map(Path::to_owned),
            memory: BTreeMap::new(),
            limits,
            entries: 0,
            bytes: 0,
            names: BTreeMap::new(),
            symlinks: BTreeMap::new(),
        }
    }

    fn err(&self, member: Option<&str>, reason: Refusal) -> ArchiveError {
        ArchiveError {
            archive: self.archive.clone(),
            member: member.map(str::to_owned),
            reason,
        }
    }

    /// Counts one member against the entry limit.
    fn count_entry(&mut self, member: &str) -> Result<(), ArchiveError> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(self.err(
                Some(member),
                Refusal::TooManyEntries(self.limits.max_entries),
            ));
        }
        Ok(())
    }

    /// Reserves `declared` bytes against the size limit.
    fn reserve(&mut self, member: &str, declared: u64) -> Result<(), ArchiveError> {
        if self.bytes.saturating_add(declared) > self.limits.max_bytes {
            return Err(self.err(Some(member), Refusal::TooLarge(self.limits.max_bytes)));
        }
        self.bytes += declared;
        Ok(())
    }

    /// Checks a member's raw name and returns its normalized relative path
    /// (`./` and empty components dropped); `None` for the archive root.
    fn check_name(&self, raw: &[u8]) -> Result<Option<String>, ArchiveError> {
        let shown = String::from_utf8_lossy(raw).into_owned();
        let refuse = |reason| Err(self.err(Some(&shown), reason));
        let Ok(name) = std::str::from_utf8(raw) else {
            return refuse(Refusal::NotUtf8);
        };
        if name.is_empty() {
            return refuse(Refusal::EmptyPath);
        }
        if name.starts_with('/') {
            return refuse(Refusal::AbsolutePath);
        }
        if name.contains('\\') {
            return refuse(Refusal::Backslash);
        }
        if name.chars().any(char::is_control) {
            return refuse(Refusal::ControlCharacter);
        }
        let mut parts = Vec::new();
        for part in name.split('/') {
            match part {
                "" | "." => {}
                ".." => return refuse(Refusal::ParentDir),
                p => parts.push(p),
            }
        }
        Ok((!parts.is_empty()).then(|| parts.join("/")))
    }

    /// Records `path` as `kind`, refusing duplicates, case collisions and
    /// file/directory conflicts; records its parents as directories.
    fn claim(&mut self, path: &str, kind: Kind) -> Result<(), ArchiveError> {
        for (i, _) in path.match_indices('/') {
            self.claim_one(&path[..i], Kind::ImpliedDir, path)?;
        }
        self.claim_one(path, kind, path)
    }

    fn claim_one(&mut self, path: &str, kind: Kind, member: &str) -> Result<(), ArchiveError> {
        let folded = path.to_lowercase();
        let is_dir = |k: Kind| matches!(k, Kind::Dir | Kind::ImpliedDir);
        match self.names.get(&folded) {
            None => {
                self.names.insert(folded, (path.to_owned(), kind));
                Ok(())
            }
            Some((other, _)) if other != path => {
                Err(self.err(Some(member), Refusal::CaseCollision(other.clone())))
            }
            Some((_, Kind::ImpliedDir)) if kind == Kind::Dir => {
                self.names.insert(folded, (path.to_owned(), Kind::Dir));
                Ok(())
            }
            Some((_, old)) if is_dir(*old) && kind == Kind::ImpliedDir => Ok(()),
            Some((other, old)) if is_dir(*old) != is_dir(kind) => {
                Err(self.err(Some(member), Refusal::FileDirConflict(other.clone())))
            }
            Some(_) => Err(self.err(Some(member), Refusal::Duplicate)),
        }
    }

    fn io_err(&self, member: &str, path: PathBuf, source: io::Error) -> ArchiveError {
        self.err(Some(member), Refusal::Io { path, source })
    }

    fn mkdirs(&self, member: &str, rel: &str) -> Result<(), ArchiveError> {
        let Some(dest) = &self.dest else {
            return Ok(());
        };
        let path = dest.join(rel);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&path)
            .map_err(|e| self.io_err(member, path, e))
    }

    fn add_dir(&mut self, raw: &[u8]) -> Result<(), ArchiveError> {
        let shown = String::from_utf8_lossy(raw).into_owned();
        self.count_entry(&shown)?;
        let Some(path) = self.check_name(raw)? else {
            return Ok(());
        };
        self.claim(&path, Kind::Dir)?;
        self.mkdirs(&path, &path)
    }

    /// Writes a regular file of `declared` bytes from `content`, refusing
    /// it when it inflates past the declared size.
    fn add_file(
        &mut self,
        raw: &[u8],
        executable: bool,
        declared: u64,
        content: &mut dyn Read,
    ) -> Result<(), ArchiveError> {
        let shown = String::from_utf8_lossy(raw).into_owned();
        self.count_entry(&shown)?;
        let path = self
            .check_name(raw)?
            .ok_or_else(|| self.err(Some(&shown), Refusal::EmptyPath))?;
        self.claim(&path, Kind::File)?;
        self.reserve(&path, declared)?;
        if let Some((parent, _)) = path.rsplit_once('/') {
            self.mkdirs(&path, parent)?;
        }
        let mut bytes = Vec::new();
        let written = match &self.dest {
            None => {
                // Grows with what arrives, never past declared + 1.
                content
                    .take(declared + 1)
                    .read_to_end(&mut bytes)
                    .map_err(|e| self.read_err(Some(&path), e))? as u64
            }
            Some(dest) => {
                let full = dest.join(&path);
                // create_new is O_CREAT|O_EXCL: it never opens through a link
                // (and links only exist after every file is written).
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(if executable { 0o755 } else { 0o644 })
                    .open(&full)
                    .map_err(|e| self.io_err(&path, full.clone(), e))?;
                io::copy(&mut content.take(declared + 1), &mut file)
                    .map_err(|e| self.read_err(Some(&path), e))?
            }
        };
        if written > declared {
            return Err(self.err(Some(&path), Refusal::SizeMismatch { declared }));
        }
        if written < declared {
            return Err(self.err(
                Some(&path),
                Refusal::Malformed(format!("declares {declared} bytes but holds {written}")),
            ));
        }
        if self.dest.is_none() {
            self.memory.insert(path, Member::File { bytes, executable });
        }
        Ok(())
    }

    /// Maps a read error from the decompressor: the stream cap becomes
    /// [`Refusal::TooLarge`], anything else [`Refusal::Malformed`].
    fn read_err(&self, member: Option<&str>, e: io::Error) -> ArchiveError {
        if e.get_ref()
            .is_some_and(|inner| inner.is::<StreamCapExceeded>())
        {
            return self.err(member, Refusal::TooLarge(self.limits.max_bytes));
        }
        self.err(member, Refusal::Malformed(e.to_string()))
    }

    /// Records a symbolic link; it is checked and created in [`finish`].
    fn add_symlink(&mut self, raw: &[u8], target: &[u8]) -> Result<(), ArchiveError> {
        let shown = String::from_utf8_lossy(raw).into_owned();
        self.count_entry(&shown)?;
        let path = self
            .check_name(raw)?
            .ok_or_else(|| self.err(Some(&shown), Refusal::EmptyPath))?;
        let target_text = String::from_utf8_lossy(target).into_owned();
        let Ok(target) = std::str::from_utf8(target) else {
            return Err(self.err(Some(&path), Refusal::NotUtf8));
        };
        if target.is_empty() || target.chars().any(char::is_control) || target.contains('\\') {
            return Err(self.err(
                Some(&path),
                Refusal::Malformed(format!("symbolic link target {target_text:?}")),
            ));
        }
        if target.starts_with('/') {
            return Err(self.err(Some(&path), Refusal::AbsoluteSymlink(target_text)));
        }
        self.claim(&path, Kind::Symlink)?;
        self.reserve(&path, target.len() as u64)?;
        self.symlinks.insert(path, target.to_owned());
        Ok(())
    }

    /// Checks every link against the whole archive, creates them, and
    /// reports what was unpacked.
    fn finish(&mut self) -> Result<Unpacked, ArchiveError> {
        for (path, target) in &self.symlinks {
            let mut resolved: Vec<&str> = path.split('/').collect();
            resolved.pop();
            for part in target.split('/') {
                match part {
                    "" | "." => {}
                    ".." => {
                        if resolved.pop().is_none() {
                            return Err(
                                self.err(Some(path), Refusal::EscapingSymlink(target.clone()))
                            );
                        }
                    }
                    p => {
                        resolved.push(p);
                        let so_far = resolved.join("/");
                        if let Some((other, Kind::Symlink)) = self.names.get(&so_far.to_lowercase())
                        {
                            return Err(self.err(
                                Some(path),
                                Refusal::SymlinkThroughSymlink {
                                    target: target.clone(),
                                    through: other.clone(),
                                },
                            ));
                        }
                    }
                }
            }
        }
        for (path, target) in &self.symlinks {
            let Some(dest) = &self.dest else {
                self.memory
                    .insert(path.clone(), Member::Symlink(target.clone()));
                continue;
            };
            if let Some((parent, _)) = path.rsplit_once('/') {
                self.mkdirs(path, parent)?;
            }
            let full = dest.join(path);
            std::os::unix::fs::symlink(target, &full)
                .map_err(|e| self.io_err(path, full.clone(), e))?;
        }
        let mut top_level: Vec<String> = self
            .names
            .values()
            .filter(|(p, _)| !p.contains('/'))
            .map(|(p, _)| p.clone())
            .collect();
        top_level.sort();
        Ok(Unpacked {
            entries: self.entries,
            bytes: self.bytes,
            top_level,
        })
    }
}

/// The error a [`CappedReader`] returns past its cap.
#[derive(Debug)]
struct StreamCapExceeded;

impl fmt::Display for StreamCapExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("decompressed stream exceeds its cap")
    }
}

impl std::error::Error for StreamCapExceeded {}

/// Fails once more than `cap` bytes were read: bounds what a decompressor
/// may produce, headers and padding included.
struct CappedReader<R> {
    inner: R,
    remaining: u64,
}

impl<R: Read> Read for CappedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.remaining {
            return Err(io::Error::other(StreamCapExceeded));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
