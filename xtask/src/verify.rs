//! `cargo xtask verify [--index DIR] [--keys DIR] [--threshold N]`: hold
//! the signed list to the trust root, then the index to the list. Issue 4.
//!
//! In order, each failure a verification failure (exit 1):
//! 1. the `.asc` (size-capped, strictly parsed) carries good signatures by at
//!    least `threshold` distinct pinned primary keys and no bad one
//!    ([`crate::signature`]) — checked on the list's bytes before they are
//!    parsed;
//! 2. the list parses ([`crate::sha256sums`]), has not expired (freeze), is
//!    for our scope (mix-and-match), and its version is not lower than the
//!    last one this repository trusted — the list at git `HEAD` and
//!    `.pinwheel/last-trusted-version` — nor equal to it with other bytes
//!    (rollback);
//! 3. every regular file under the index is listed with its sha256, no
//!    listed file is missing, nothing is a symlink (no path leaves the
//!    index), names differing only in case are caught. Files are hashed in
//!    parallel.
//!
//! On success the state file is raised to this list's version, and a
//! warning names any demonstration key that signed. Never reads a GnuPG
//! keyring. [`verify_index`] is what `update-deps`, `build-deb` and
//! `sync-wheels` call; [`verify_list_bytes`] checks a list and its
//! signatures without touching the index.

pub mod rollback;
pub mod tree;

use std::path::{Path, PathBuf};

use anyhow::Context;
use time::OffsetDateTime;

use crate::config::Config;
use crate::failure;
use crate::fresh;
use crate::hash::Sha256;
use crate::sha256sums::{self, ListError, SignedList, LIST_FILE, SIGNATURE_FILE};
use crate::signature::{self, SignatureError, TrustSet, Verified};

pub use rollback::{History, Trusted};
pub use tree::TreeProblem;

/// The index directory, relative to the repository root.
pub const DEFAULT_INDEX: &str = "wheels-index";

/// The largest list read.
pub const MAX_LIST_FILE: u64 = 64 * 1024 * 1024;

/// Why a list is not trusted.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    Signature(#[from] SignatureError),
    #[error("the signed list does not parse: {0}")]
    List(#[from] ListError),
    #[error("the list expired at {0} (freeze attack or stale index: re-sign it with `cargo xtask sign`)")]
    Expired(String),
    #[error(
        "the list is for scope {found:?}, this repository trusts {expected:?} (mix-and-match)"
    )]
    Scope { found: String, expected: String },
    #[error("the list has version {version}, lower than {minimum} from {trusted_by} (rollback)")]
    Rollback {
        version: u64,
        minimum: u64,
        trusted_by: String,
    },
    #[error("the list has version {version} like {trusted_by}, but different contents (two lists signed with one version)")]
    Fork { version: u64, trusted_by: String },
}

/// What a list must satisfy besides its signatures.
#[derive(Debug, Clone)]
pub struct Policy {
    pub trust: TrustSet,
    pub threshold: usize,
    pub scope: String,
    /// Earlier trusted lists (rollback protection).
    pub history: History,
}

impl Policy {
    /// The policy from the configuration for the list at `list_path`, with
    /// optional overrides of the keys directory and threshold.
    pub fn load(
        config: &Config,
        list_path: &Path,
        keys: Option<&Path>,
        threshold: Option<usize>,
    ) -> anyhow::Result<Policy> {
        let keys_dir = keys
            .map(Path::to_path_buf)
            .unwrap_or_else(|| config.abs(&config.trust.keys));
        let certs = signature::load_keys_dir(&keys_dir)?;
        let trust = TrustSet::pinned(certs, &config.trust.fingerprints)
            .with_context(|| config.path.display().to_string())?;
        let threshold = threshold.unwrap_or(config.trust.threshold);
        if trust.trusted().len() < threshold {
            anyhow::bail!(
                "{}: threshold {threshold} but only {} key(s) pinned in trust.fingerprints",
                config.path.display(),
                trust.trusted().len()
            );
        }
        let history = rollback::history(&config.root, list_path)?;
        Ok(Policy {
            trust,
            threshold,
            scope: config.trust.scope.clone(),
            history,
        })
    }
}

/// A list that passed.
#[derive(Debug, Clone)]
pub struct VerifiedList {
    pub list: SignedList,
    pub signatures: Verified,
    /// The sha256 of the list's bytes.
    pub sha256: Sha256,
}

impl VerifiedList {
    /// What the state file records for this list.
    pub fn trusted(&self) -> Trusted {
        Trusted {
            version: self.list.meta.version,
            sha256: self.sha256,
        }
    }
}

/// Checks a list's bytes and signatures against `policy` at `now`:
/// signatures and threshold over the raw bytes first, then the list's
/// format, expiry, scope and version. Pure.
pub fn verify_list_bytes(
    list: &[u8],
    asc: &[u8],
    policy: &Policy,
    now: OffsetDateTime,
) -> Result<VerifiedList, VerifyError> {
    let signatures = signature::verify_threshold(list, asc, &policy.trust, policy.threshold, now)?;
    let parsed = SignedList::parse(list)?;
    let meta = &parsed.meta;
    if meta.is_expired(now) {
        return Err(VerifyError::Expired(sha256sums::format_expiry(
            meta.expires,
        )));
    }
    if meta.scope != policy.scope {
        return Err(VerifyError::Scope {
            found: meta.scope.clone(),
            expected: policy.scope.clone(),
        });
    }
    let sha256 = Sha256::of(list);
    for (source, before) in &policy.history.known {
        if meta.version < before.version {
            return Err(VerifyError::Rollback {
                version: meta.version,
                minimum: before.version,
                trusted_by: source.to_string(),
            });
        }
        if meta.version == before.version && sha256 != before.sha256 {
            return Err(VerifyError::Fork {
                version: meta.version,
                trusted_by: source.to_string(),
            });
        }
    }
    Ok(VerifiedList {
        list: parsed,
        signatures,
        sha256,
    })
}

/// Options of [`verify_index`]; `None` means "from the configuration".
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub index: Option<PathBuf>,
    pub keys: Option<PathBuf>,
    pub threshold: Option<usize>,
}

/// Verifies the list, its signatures and every file of the index; on
/// success records the list's version in the state file and warns about
/// demonstration keys (stderr). Verification failures exit 1.
pub fn verify_index(config: &Config, options: &Options) -> anyhow::Result<VerifiedList> {
    let index = options
        .index
        .clone()
        .unwrap_or_else(|| config.root.join(DEFAULT_INDEX));
    let list_path = index.join(LIST_FILE);
    let asc_path = index.join(SIGNATURE_FILE);
    let policy = Policy::load(
        config,
        &list_path,
        options.keys.as_deref(),
        options.threshold,
    )?;
    if let Some(why) = &policy.history.head_skipped {
        eprintln!("note: rollback check against git HEAD skipped: {why}");
    }
    let list = read_list(&list_path)?;
    if !asc_path.exists() {
        return Err(failure::verification_failed(format!(
            "{}: missing: the list is not signed (run `cargo xtask sign`)",
            asc_path.display()
        )));
    }
    let asc = signature::read_signature_file(&asc_path)?;
    let verified =
        verify_list_bytes(&list, &asc, &policy, OffsetDateTime::now_utc()).map_err(|e| {
            let file = match e {
                VerifyError::Signature(_) => &asc_path,
                _ => &list_path,
            };
            failure::verification_failed(format!("{}: {e}", file.display()))
        })?;
    let (files, mut problems) = tree::walk(&index)?;
    let on_disk = tree::hash_all(&files)?;
    problems.extend(tree::compare(&verified.list.entries, &on_disk));
    if !problems.is_empty() {
        const SHOWN: usize = 10;
        let mut shown: Vec<String> = problems
            .iter()
            .take(SHOWN)
            .map(ToString::to_string)
            .collect();
        if problems.len() > SHOWN {
            shown.push(format!("and {} more", problems.len() - SHOWN));
        }
        return Err(failure::verification_failed(format!(
            "{}: {} file(s) do not match the signed list: {}",
            index.display(),
            problems.len(),
            shown.join("; ")
        )));
    }
    rollback::record(&config.root, verified.trusted())?;
    for fp in verified.signatures.demo_signers() {
        eprintln!(
            "warning: {fp} is a DEMONSTRATION key whose secret is public; anyone can sign with it. \
             Replace it with your team's keys before real use (packaging/keys/README.md)"
        );
    }
    Ok(verified)
}

/// Reads the list (size-capped; a symlink is refused).
pub fn read_list(path: &Path) -> anyhow::Result<Vec<u8>> {
    let meta = fs_err::symlink_metadata(path).with_context(|| {
        "no signed list; run `cargo xtask refresh-index` then `cargo xtask sign`"
    })?;
    if meta.file_type().is_symlink() {
        return Err(failure::verification_failed(format!(
            "{}: is a symbolic link; the list must be a regular file",
            path.display()
        )));
    }
    signature::read_capped(path, MAX_LIST_FILE)
}

/// Runs `cargo xtask verify`.
pub fn run(
    root: &Path,
    index: Option<&Path>,
    keys: Option<&Path>,
    threshold: Option<usize>,
) -> anyhow::Result<()> {
    let config = Config::load(root)?;
    let _lock = fresh::RepoLock::acquire(root)?;
    let options = Options {
        index: index.map(Path::to_path_buf),
        keys: keys.map(Path::to_path_buf),
        threshold,
    };
    let verified = verify_index(&config, &options)?;
    for good in &verified.signatures.signatures {
        crate::verify_signature::print_good(good);
    }
    let meta = &verified.list.meta;
    println!(
        "{}: version {}, expires {}, scope {}: {} file(s) match, signed by {} of the required {} key(s)",
        options.index.as_deref().unwrap_or(&root.join(DEFAULT_INDEX)).join(LIST_FILE).display(),
        meta.version,
        sha256sums::format_expiry(meta.expires),
        meta.scope,
        verified.list.entries.len(),
        verified.signatures.signers().len(),
        options.threshold.unwrap_or(config.trust.threshold),
    );
    Ok(())
}
