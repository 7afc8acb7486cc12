//! `cargo xtask sign [--index DIR] [--keys DIR] (--key FILE | --gpg KEYID)`:
//! sign `DIR/sha256sums.txt` (default `wheels-index/`) with a detached,
//! armored, binary-type OpenPGP signature in `sha256sums.txt.asc`. The
//! pinned public keys come from `--keys` (default `trust.keys`), as for
//! `verify`.
//!
//! When the list already carries signatures that pass `verify`'s list
//! checks (pinned keys, not expired, our scope, no rollback; any threshold),
//! the new signature is appended to them (co-signing); a key that already
//! signed is refused. Otherwise (no `.asc`, or one that does not cover the
//! current list) `sign` writes a new metadata header first —
//! `version` = 1 + the highest of the list's, git `HEAD`'s and the last
//! trusted version; `expires` = now + `trust.expiry-days`; `scope` =
//! `trust.scope` — and starts a new `.asc`. The signature is made over the
//! new bytes in memory and checked with `verify`'s policy (the signer must
//! be pinned) before anything is written; then the list and the `.asc` are
//! each replaced atomically.

mod signer;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use time::OffsetDateTime;

use crate::config::Config;
use crate::fresh;
use crate::verify::{self, rollback, Policy, VerifyError};
use pinwheel_trust::sha256sums::{self, ListMeta, SignedList, LIST_FILE, SIGNATURE_FILE};
use pinwheel_trust::signature::{self, Reason, SignatureError, TrustSet};

pub use signer::{sign_with_gpg, KeyFile, PASSPHRASE_ENV};

/// The command line of `cargo xtask sign`.
#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("signer").required(true).args(["key", "gpg"])))]
pub struct Args {
    /// The index directory (default: wheels-index/).
    #[arg(long, value_name = "DIR")]
    pub index: Option<PathBuf>,
    /// Directory of pinned public keys (default: trust.keys from the configuration).
    #[arg(long, value_name = "DIR")]
    pub keys: Option<PathBuf>,
    /// Sign with this armored OpenPGP secret key (passphrase from PINWHEEL_KEY_PASSPHRASE or a prompt).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Sign with GnuPG and this key (smartcards work): gpg --detach-sign --armor --local-user KEYID.
    #[arg(long, value_name = "KEYID")]
    pub gpg: Option<String>,
}

impl Args {
    /// Runs the command.
    pub fn run(self, root: &Path) -> anyhow::Result<()> {
        let signer = match (self.key, self.gpg) {
            (Some(key), _) => Signer::Key(key),
            (None, Some(id)) => Signer::Gpg(id),
            (None, None) => bail!("pass --key FILE or --gpg KEYID"),
        };
        run(root, self.index.as_deref(), self.keys.as_deref(), signer)
    }
}

/// Who signs.
#[derive(Debug, Clone)]
pub enum Signer {
    /// An armored secret key file, used through rPGP.
    Key(PathBuf),
    /// A key in the user's GnuPG, by key ID or fingerprint.
    Gpg(String),
}

/// Runs `cargo xtask sign`.
pub fn run(
    root: &Path,
    index: Option<&Path>,
    keys: Option<&Path>,
    signer: Signer,
) -> anyhow::Result<()> {
    let config = Config::load(root)?;
    let _lock = fresh::RepoLock::acquire(root)?;
    let index = index
        .map(Path::to_path_buf)
        .unwrap_or_else(|| root.join(verify::DEFAULT_INDEX));
    let list_path = index.join(LIST_FILE);
    let asc_path = index.join(SIGNATURE_FILE);
    let now = OffsetDateTime::now_utc();
    let now_secs = u64::try_from(now.unix_timestamp()).context("the clock is before 1970")?;

    let current = verify::read_list(&list_path)?;
    let list = SignedList::parse(&current).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e}; regenerate it with `cargo xtask refresh-index`",
            list_path.display()
        )
    })?;
    let keys_dir = keys
        .map(Path::to_path_buf)
        .unwrap_or_else(|| config.abs(&config.trust.keys));
    let certs = signature::load_keys_dir(&keys_dir)?;
    let trust = TrustSet::pinned(certs, &config.trust.fingerprints)
        .with_context(|| config.path.display().to_string())?;
    let history = rollback::history(root, &list_path)?;
    let policy = Policy {
        trust,
        threshold: 1,
        scope: config.trust.scope.clone(),
        history,
    };

    // Co-sign what is there, or start over with a new header.
    let (bytes, previous, new_header) = match existing(&current, &asc_path, &policy, now)? {
        Existing::Valid(packets) => (current, packets, false),
        Existing::Stale(why) => {
            let version = list.meta.version.max(policy.history.max_version()) + 1;
            let expires = now + time::Duration::days(i64::from(config.trust.expiry_days));
            let meta = ListMeta {
                version,
                expires,
                scope: config.trust.scope.clone(),
            };
            eprintln!(
                "{why}: writing a new header (version {version}, expires {}, scope {})",
                sha256sums::format_expiry(expires),
                meta.scope
            );
            let renewed = SignedList {
                meta,
                entries: list.entries,
            };
            let text = renewed
                .render()
                .map_err(|e| anyhow::anyhow!("{}: {e}", list_path.display()))?;
            (text.into_bytes(), Vec::new(), true)
        }
    };
    let previous_signers: BTreeSet<String> = previous.iter().map(|(_, fp)| fp.clone()).collect();

    let packet = match &signer {
        Signer::Key(path) => {
            let key = KeyFile::load(path)?;
            refuse_second_signature(&previous_signers, &key.cert.fingerprint())?;
            key.sign(&bytes, now_secs)?
        }
        Signer::Gpg(key_id) => signer::sign_with_gpg(key_id, &bytes)?,
    };
    // The new signature must pass verify's policy on its own.
    let single = signature::armor_signatures([packet.as_slice()]);
    let checked = signature::verify_detached(&bytes, single.as_bytes(), &policy.trust, now).map_err(|e| {
        anyhow::anyhow!(
            "the new signature would not pass `cargo xtask verify` ({e}); is the key pinned in trust.fingerprints \
             and its public key in {}?",
            keys_dir.display()
        )
    })?;
    let me = checked.signatures[0].primary.clone();
    refuse_second_signature(&previous_signers, &me)?;

    let asc = signature::armor_signatures(
        previous
            .iter()
            .map(|(raw, _)| raw.as_slice())
            .chain([packet.as_slice()]),
    );
    if new_header {
        fresh::write_atomic(&list_path, &bytes)?;
    }
    fresh::write_atomic(&asc_path, asc.as_bytes())?;

    let signers = previous_signers.len() + 1;
    let meta = SignedList::parse(&bytes)
        .map(|l| l.meta)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "{}: signed version {} (expires {}) as {me}; {signers} distinct signer(s), threshold {}",
        list_path.display(),
        meta.version,
        sha256sums::format_expiry(meta.expires),
        config.trust.threshold
    );
    if checked.signatures[0].demo {
        eprintln!("warning: {me} is a DEMONSTRATION key whose secret is public; do not use it for real releases");
    }
    Ok(())
}

fn refuse_second_signature(previous: &BTreeSet<String>, fp: &str) -> anyhow::Result<()> {
    if previous.contains(fp) {
        bail!("the list is already signed by {fp}; a co-signature must come from another maintainer's key");
    }
    Ok(())
}

/// The state of the existing `.asc`.
enum Existing {
    /// Its signatures are all good for the current list, which passes the
    /// list checks: (raw packet, signer's primary fingerprint).
    Valid(Vec<(Vec<u8>, String)>),
    /// No usable signatures, and why.
    Stale(String),
}

fn existing(
    list: &[u8],
    asc_path: &Path,
    policy: &Policy,
    now: OffsetDateTime,
) -> anyhow::Result<Existing> {
    if !asc_path.exists() {
        return Ok(Existing::Stale(format!(
            "{} does not exist",
            asc_path.display()
        )));
    }
    let asc = signature::read_signature_file(asc_path)?;
    match verify::verify_list_bytes(list, &asc, policy, now) {
        Ok(verified) => {
            let parsed = signature::parse_signatures(&asc).map_err(|e| anyhow::anyhow!("{e}"))?;
            let packets = parsed
                .into_iter()
                .zip(verified.signatures.signatures)
                .map(|(p, good)| (p.raw, good.primary))
                .collect();
            Ok(Existing::Valid(packets))
        }
        Err(VerifyError::Signature(SignatureError::Bad {
            reason: Reason::OtherData { .. },
            ..
        })) => Ok(Existing::Stale(format!(
            "{} was made over other contents: the list changed after it was signed",
            asc_path.display()
        ))),
        Err(e) => Ok(Existing::Stale(format!(
            "{} does not cover the current list ({e})",
            asc_path.display()
        ))),
    }
}
