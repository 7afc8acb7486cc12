//! `cargo xtask verify [--index DIR] [--keys DIR] [--threshold N]`: hold
//! the signed list to the trust root, then the index to the list.
//!
//! In order, each failure a verification failure (exit 1):
//! 1. the `.asc` (size-capped, strictly parsed) carries good signatures by at
//!    least `threshold` distinct pinned primary keys and no bad one
//!    ([`pinwheel_trust::signature`]) — checked on the list's bytes before they are
//!    parsed;
//! 2. the list parses ([`pinwheel_trust::sha256sums`]), has not expired (freeze), is
//!    for our scope (mix-and-match), and its version is not lower than the
//!    last one this repository trusted — the list at git `HEAD` and
//!    `.pinwheel/last-trusted-version` — nor equal to it with other bytes
//!    (rollback);
//! 3. every regular file under the index is listed with its sha256, no
//!    listed file is missing, nothing is a symlink (no path leaves the
//!    index), names differing only in case are caught. Files are hashed in
//!    parallel.
//!
//! Then every pinned key that can no longer sign, or stops within
//! `trust.warn-key-expiry-days`, is named (its expiry now, by its newest
//! self-signature): a warning, or with `trust.fail-on-key-expiry` a
//! refusal (exit 1), for teams whose CI must not go on with an expired key.
//!
//! On success the state file is raised to this list's version, and a
//! warning names any demonstration key that signed. Warnings and notes are
//! printed once per process, however often the index is verified in it
//! (`build-deb` verifies it, then runs `update-deps --check`, which
//! verifies it again). Never reads a GnuPG keyring. [`verify_index`] is
//! what `update-deps`, `build-deb` and `check-reproducible` call;
//! [`verify_list_bytes`] checks a list and its signatures without touching
//! the index (`sync-wheels`, `sign`).

pub mod rollback;
pub mod tree;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use anyhow::Context;
use time::OffsetDateTime;

use crate::config::Config;
use crate::fresh;
use pinwheel_trust::failure;

use pinwheel_trust::sha256sums::{self, LIST_FILE, SIGNATURE_FILE};
use pinwheel_trust::signature::{self, TrustSet};

pub use pinwheel_trust::verify::{
    expiring_keys, verify_list_bytes, History, KeyExpiry, Policy, Source, Trusted, VerifiedList,
    VerifyError,
};
pub use tree::TreeProblem;

/// The command line of `cargo xtask verify`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The index directory (default: wheels-index/).
    #[arg(long, value_name = "DIR")]
    pub index: Option<PathBuf>,
    /// Directory of pinned public keys (default: trust.keys from the configuration).
    #[arg(long, value_name = "DIR")]
    pub keys: Option<PathBuf>,
    /// Distinct pinned keys that must sign (default: trust.threshold).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub threshold: Option<u64>,
}

impl Args {
    /// Runs the command.
    pub fn run(self, root: &Path) -> anyhow::Result<()> {
        run(
            root,
            self.index.as_deref(),
            self.keys.as_deref(),
            self.threshold.map(|t| t as usize),
        )
    }
}

/// The index directory, relative to the repository root.
pub const DEFAULT_INDEX: &str = "wheels-index";

/// The largest list read.
pub const MAX_LIST_FILE: u64 = 64 * 1024 * 1024;

/// The policy from the configuration for the list at `list_path`, with
/// optional overrides of the keys directory and threshold.
pub fn load_policy(
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
    let policy = load_policy(
        config,
        &list_path,
        options.keys.as_deref(),
        options.threshold,
    )?;
    if let Some(why) = &policy.history.head_skipped {
        eprint_once(format!(
            "note: rollback check against git HEAD skipped: {why}"
        ));
    }
    let now = OffsetDateTime::now_utc();
    let keys_dir = options
        .keys
        .clone()
        .unwrap_or_else(|| config.abs(&config.trust.keys));
    let expiring = expiring_keys(&policy.trust, now, config.trust.warn_key_expiry_days);
    if !config.trust.fail_on_key_expiry {
        for key in &expiring {
            eprint_once(format!(
                "warning: {key}; {}",
                extend_hint(&key.primary, &keys_dir)
            ));
        }
    }
    let list = read_list(&list_path)?;
    if !asc_path.exists() {
        return Err(failure::verification_failed(format!(
            "{}: missing: the list is not signed (run `cargo xtask sign`)",
            asc_path.display()
        )));
    }
    let asc = signature::read_signature_file(&asc_path)?;
    let verified = verify_list_bytes(&list, &asc, &policy, now).map_err(|e| {
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
    if config.trust.fail_on_key_expiry && !expiring.is_empty() {
        let keys: Vec<String> = expiring.iter().map(ToString::to_string).collect();
        return Err(failure::refused(format!(
            "{}: trust.fail-on-key-expiry is set and {} pinned key(s) expired or expire within {} day(s): {}; {}",
            config.path.display(),
            expiring.len(),
            config.trust.warn_key_expiry_days,
            keys.join("; "),
            extend_hint(
                match expiring.as_slice() {
                    [one] => &one.primary,
                    _ => "<fingerprint>",
                },
                &keys_dir
            )
        )));
    }
    rollback::record(&config.root, verified.trusted())?;
    for fp in verified.signatures.demo_signers() {
        eprint_once(format!(
            "warning: {fp} is a DEMONSTRATION key whose secret is public; anyone can sign with it. \
             Replace it with your team's keys before real use (packaging/keys/README.md)"
        ));
    }
    Ok(verified)
}

/// How a maintainer renews a key with GnuPG. `--quick-set-expire`
/// replaces the self-signature; importing the committed copy again keeps
/// the older one beside it, which the signatures made before rely on.
fn extend_hint(fingerprint: &str, keys_dir: &Path) -> String {
    format!(
        "extend it (`gpg --quick-set-expire {fingerprint} 1y`, for signing subkeys \
         `gpg --quick-set-expire {fingerprint} 1y '*'`), `gpg --import` its copy in {dir} \
         again (so the self-signature that existing signatures rely on stays), and export it there",
        dir = keys_dir.display()
    )
}

/// Prints `line` on stderr unless this process printed it already: one
/// command may verify the index several times (`build-deb`, then the
/// `update-deps --check` it runs; `check-reproducible` before each build),
/// and its reader needs each warning once.
fn eprint_once(line: String) {
    static PRINTED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let mut printed = PRINTED.lock().unwrap_or_else(PoisonError::into_inner);
    if !printed.contains(&line) {
        eprintln!("{line}");
        printed.insert(line);
    }
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
