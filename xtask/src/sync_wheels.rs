//! `cargo xtask sync-wheels --from SOURCE [--index DIR] [--prune]`: bring a
//! local wheel index up to another one that maintainers signed. The source
//! is an https URL, or a directory on this machine — a path (relative to
//! the current directory, or absolute) or a `file://` URL — such as a second
//! repository checked out beside this one (`source.rs`). Both are verified
//! alike; only steps 1 and 4 differ.
//!
//! 1. Read the source's `sha256sums.txt` and `sha256sums.txt.asc`, each
//!    size-capped (an endless answer, or a larger file, is a verification
//!    failure; a local source without `.asc` is unsigned, one too).
//! 2. Verify them exactly as `verify` does (`verify::verify_list_bytes`:
//!    pinned keys, threshold, expiry, scope, rollback against git `HEAD` and
//!    the last trusted version), and also refuse a list older than the local
//!    one on disk. Nothing else of the source is requested or opened before
//!    the list passed.
//! 3. Plan: listed files already present with the right hash are kept;
//!    missing ones are fetched; a local file whose bytes differ from the
//!    list, and local files the list does not name, are only replaced or
//!    removed with `--prune` (without it a differing file stops the run
//!    before anything changes, and unlisted files are reported).
//! 4. Bring each missing file into a staging directory
//!    (`.pinwheel/sync-staging/`, or beside an index outside the
//!    repository), streamed into a temporary file, hashed, and renamed into
//!    the staging area only when its sha256 matches the list
//!    (`fetch::stream_verified`): downloaded in parallel (`fetch.rs`), or
//!    copied from the local directory, whose files are opened without
//!    following symbolic links (a link anywhere in the source index is
//!    refused, `local_dir.rs`). A failed or interrupted run leaves the index
//!    untouched; the next run reuses what was staged.
//! 5. Only when every file is in: prune (with `--prune`), rename the staged
//!    files into the index, write the list, then its signatures, and record
//!    the list's version as the last trusted one.
//!
//! Directories on the way to a destination may not be symbolic links. A
//! local source that is the index being synced (or holds it, or lies in
//! it) is refused; so is any scheme but https, http (127.0.0.1 only) and
//! file.

mod local_dir;
pub mod source;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::bail;
use time::OffsetDateTime;

use crate::config::Config;
use crate::fresh;
use crate::http;
use crate::verify::{self, rollback};
use pinwheel_trust::failure;
use pinwheel_trust::hash::Sha256;
use pinwheel_trust::sha256sums::{SignedList, LIST_FILE, SIGNATURE_FILE};
use source::{Source, Staged};

/// Where files are staged when the index is under the repository root.
pub const STAGING: &str = ".pinwheel/sync-staging";

/// The largest file fetched (the list records no sizes).
pub const MAX_FILE: u64 = 2 * 1024 * 1024 * 1024;

/// The command line of `cargo xtask sync-wheels`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The signed index to sync from: an https URL, a file:// URL or a
    /// directory (the one holding sha256sums.txt).
    #[arg(long, value_name = "URL|DIR")]
    pub from: String,
    /// The local index directory (default: wheels-index/).
    #[arg(long, value_name = "DIR")]
    pub index: Option<PathBuf>,
    /// Replace local files that differ from the signed list and delete files it does not name.
    #[arg(long)]
    pub prune: bool,
}

impl Args {
    /// Runs the command.
    pub fn run(self, root: &Path) -> anyhow::Result<()> {
        let mut options = Options::new(&self.from);
        options.index = self.index;
        options.prune = self.prune;
        run(root, &options)?;
        Ok(())
    }
}

/// What to sync.
#[derive(Debug, Clone)]
pub struct Options {
    /// The source index: an https or `file://` URL, or a directory path
    /// (the directory that holds `sha256sums.txt`).
    pub from: String,
    /// The local index (default: `wheels-index/` under the root).
    pub index: Option<PathBuf>,
    /// Replace local files that differ from the list and remove unlisted ones.
    pub prune: bool,
    /// Timeouts and retries (tests shrink them).
    pub http: http::Options,
    /// Downloads at once (HTTP; a local directory is copied file by file).
    pub jobs: usize,
}

impl Options {
    pub fn new(from: &str) -> Options {
        Options {
            from: from.to_owned(),
            index: None,
            prune: false,
            http: http::Options::default(),
            jobs: 8,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub version: u64,
    pub fetched: usize,
    pub present: usize,
    pub bytes: u64,
    pub replaced: usize,
    pub removed: usize,
    /// Local files the list does not name, kept (no `--prune`).
    pub unlisted: Vec<String>,
}

/// Runs `cargo xtask sync-wheels`.
pub fn run(root: &Path, options: &Options) -> anyhow::Result<Summary> {
    let config = Config::load(root)?;
    let _lock = fresh::RepoLock::acquire(root)?;
    let index = options
        .index
        .clone()
        .unwrap_or_else(|| root.join(verify::DEFAULT_INDEX));
    let source = Source::open(&options.from, &config, &options.http)?;
    source.refuse_overlap(&index)?;

    // 1 and 2: the list and its signatures, verified before anything else.
    let (list, asc) = source.read_list()?;
    let list_path = index.join(LIST_FILE);
    let policy = verify::load_policy(&config, &list_path, None, None)?;
    if let Some(why) = &policy.history.head_skipped {
        eprintln!("note: rollback check against git HEAD skipped: {why}");
    }
    let verified = verify::verify_list_bytes(&list, &asc, &policy, OffsetDateTime::now_utc())
        .map_err(|e| {
            let file = match e {
                verify::VerifyError::Signature(_) => SIGNATURE_FILE,
                _ => LIST_FILE,
            };
            failure::verification_failed(format!("{}: {e}", source.name(file)))
        })?;
    let version = verified.list.meta.version;
    if let Some(local) = local_list(&list_path) {
        if version < local.meta.version {
            return Err(failure::verification_failed(format!(
                "{}: the list has version {version}, lower than {} of the local {} (rollback)",
                source.name(LIST_FILE),
                local.meta.version,
                list_path.display()
            )));
        }
    }

    // 3: what to fetch, what differs, what is unlisted.
    let entries = &verified.list.entries;
    let mut wanted: Vec<(&String, &Sha256)> = Vec::new();
    let mut differing = Vec::new();
    let mut present = 0usize;
    for (path, sha) in entries {
        let dest = dest_in(&index, path)?;
        match fs_err::symlink_metadata(&dest) {
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => wanted.push((path, sha)),
            Err(err) => return Err(err.into()),
            Ok(meta) if meta.file_type().is_file() => {
                if Sha256::of_file(&dest)? == *sha {
                    present += 1;
                } else {
                    differing.push(path.clone());
                    wanted.push((path, sha));
                }
            }
            Ok(_) => bail!(
                "{}: is not a regular file; move it away and run again",
                dest.display()
            ),
        }
    }
    let unlisted = unlisted_files(&index, entries)?;
    if !differing.is_empty() && !options.prune {
        bail!(
            "{}: {} local file(s) differ from the signed list ({}); nothing was changed; run with --prune to replace them",
            index.display(),
            differing.len(),
            shorten(&differing)
        );
    }

    // 4: into the staging area, each file verified on the way.
    let staging = staging_dir(root, &index);
    let mut staged = Vec::with_capacity(wanted.len());
    for (path, sha) in &wanted {
        staged.push(Staged {
            path: (*path).clone(),
            sha256: **sha,
            dest: dest_in(&staging, path)?,
        });
    }
    let report = source.stage(&staged, options.jobs, MAX_FILE)?;

    // 5: apply.
    let mut removed = 0;
    if options.prune {
        for path in &unlisted {
            fs_err::remove_file(dest_in(&index, path)?)?;
            println!("removed (not in the list): {path}");
            removed += 1;
        }
    }
    let mut synced_dirs = BTreeSet::new();
    for s in &staged {
        let dest = dest_in(&index, &s.path)?;
        let dir = fresh::parent_dir(&dest);
        fs_err::create_dir_all(&dir)?;
        fs_err::rename(&s.dest, &dest)?;
        synced_dirs.insert(dir);
    }
    for dir in &synced_dirs {
        fresh::sync_dir(dir)?;
    }
    fs_err::create_dir_all(&index)?;
    fresh::write_atomic(&list_path, &list)?;
    fresh::write_atomic(&index.join(SIGNATURE_FILE), &asc)?;
    rollback::record(root, verified.trusted())?;
    if staging.exists() {
        fs_err::remove_dir_all(&staging)?;
    }
    for fp in verified.signatures.demo_signers() {
        eprintln!(
            "warning: {fp} is a DEMONSTRATION key whose secret is public; anyone can sign with it"
        );
    }
    let summary = Summary {
        version,
        fetched: staged.len(),
        present: present + report.present,
        bytes: report.bytes,
        replaced: differing.len(),
        removed,
        unlisted: if options.prune { Vec::new() } else { unlisted },
    };
    println!(
        "{}: list version {version} from {}: {} file(s) fetched ({} bytes), {} already present{}{}",
        index.display(),
        source.describe(),
        summary.fetched,
        summary.bytes,
        summary.present - report.present,
        if summary.replaced > 0 {
            format!(", {} replaced", summary.replaced)
        } else {
            String::new()
        },
        if summary.removed > 0 {
            format!(", {} removed", summary.removed)
        } else {
            String::new()
        },
    );
    if !summary.unlisted.is_empty() {
        eprintln!(
            "warning: {}: {} local file(s) are not in the signed list ({}); `cargo xtask verify` fails until they are gone: run `cargo xtask sync-wheels --from {} --prune`",
            index.display(),
            summary.unlisted.len(),
            shorten(&summary.unlisted),
            options.from
        );
    }
    Ok(summary)
}

/// `dir/path`, refusing symbolic links among the directories on the way.
fn dest_in(dir: &Path, path: &str) -> anyhow::Result<PathBuf> {
    pinwheel_trust::sha256sums::check_path(path).map_err(|err| anyhow::anyhow!("{path}: {err}"))?;
    let mut at = dir.to_path_buf();
    let parts: Vec<&str> = path.split('/').collect();
    for part in &parts[..parts.len() - 1] {
        at.push(part);
        if let Ok(meta) = fs_err::symlink_metadata(&at) {
            if meta.file_type().is_symlink() {
                bail!(
                    "{}: is a symbolic link; refusing to write through it",
                    at.display()
                );
            }
        }
    }
    Ok(dir.join(path))
}

/// The staging area for `index`.
fn staging_dir(root: &Path, index: &Path) -> PathBuf {
    if index.starts_with(root) {
        root.join(STAGING)
    } else {
        let name = index
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        fresh::parent_dir(index).join(format!(".{name}.pinwheel-sync-staging"))
    }
}

/// The local list, when there is one that parses.
fn local_list(path: &Path) -> Option<SignedList> {
    let bytes = verify::read_list(path).ok()?;
    SignedList::parse(&bytes).ok()
}

/// Regular files under `index` the list does not name (list and
/// signature aside).
fn unlisted_files(index: &Path, entries: &BTreeMap<String, Sha256>) -> anyhow::Result<Vec<String>> {
    if !index.exists() {
        return Ok(Vec::new());
    }
    let (found, _) = verify::tree::walk(index)?;
    Ok(found
        .into_iter()
        .map(|f| f.rel)
        .filter(|rel| !entries.contains_key(rel))
        .collect())
}

fn shorten(paths: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut out: Vec<&str> = paths.iter().take(SHOWN).map(String::as_str).collect();
    let more = paths.len().saturating_sub(SHOWN);
    let more_text = format!("and {more} more");
    if more > 0 {
        out.push(&more_text);
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adversarial_symlinked_directory_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("files")).unwrap();
        let err = dest_in(dir.path(), "files/a.whl").unwrap_err().to_string();
        assert!(err.contains("is a symbolic link"), "{err}");
        assert!(dest_in(dir.path(), "../a.whl").is_err());
        assert!(dest_in(dir.path(), "simple/a/index.html").is_ok());
    }
}
