//! The verify decision: whether a signed list is trusted, from its bytes,
//! its detached signatures, a [`Policy`] and the time `now` — no clock, no
//! file, no process. In order, each failure a [`VerifyError`]:
//! 1. the `.asc` carries good signatures by at least `threshold` distinct
//!    pinned primary keys and no bad one ([`crate::signature`]) — checked on
//!    the list's bytes before they are parsed;
//! 2. the list parses ([`crate::sha256sums`]), has not expired (freeze), is
//!    for our scope (mix-and-match), and its version is not lower than any
//!    earlier trusted one, nor equal to one with other bytes (rollback).
//!
//! The caller gathers the [`History`] (git `HEAD`, the state file) and
//! hashes the index's files against the list.
//!
//! Apart from that decision, [`expiring_keys`] names the pinned keys that
//! can no longer sign, or will not be able to within a window, by their
//! newest self-signatures (what GnuPG shows today). A signature stays good
//! when its key expires later — the key was fit when it signed — so this
//! is a warning, or a refusal when the configuration asks for one.

use std::path::PathBuf;

use time::OffsetDateTime;

use crate::hash::Sha256;
use crate::sha256sums::{self, ListError, SignedList};
use crate::signature::{self, format_time, SignatureError, TrustSet, Verified};

/// A list version we trusted before, and the sha256 of that list's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trusted {
    pub version: u64,
    pub sha256: Sha256,
}

/// Where a [`Trusted`] version came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    GitHead,
    StateFile(PathBuf),
    /// The list already in the local index (`sync-wheels` checks a remote
    /// list against it).
    LocalList(PathBuf),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::GitHead => f.write_str("the list committed at git HEAD"),
            Source::StateFile(p) => write!(f, "the last trusted version in {}", p.display()),
            Source::LocalList(p) => write!(f, "the local list {}", p.display()),
        }
    }
}

/// Everything known about earlier lists.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub known: Vec<(Source, Trusted)>,
    /// Why git `HEAD` was not consulted, when it was not.
    pub head_skipped: Option<String>,
}

impl History {
    /// The highest version seen (0 when none).
    pub fn max_version(&self) -> u64 {
        self.known.iter().map(|(_, t)| t.version).max().unwrap_or(0)
    }
}

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

/// A pinned key that can no longer sign, or soon will not, by its newest
/// self-signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyExpiry {
    /// The pinned primary key's fingerprint.
    pub primary: String,
    pub user_id: Option<String>,
    /// When it stops (or stopped) being able to sign, unix seconds.
    pub expires: u64,
    /// Whole days left, rounded up; `None` once `expires` has passed.
    pub days_left: Option<u64>,
}

impl std::fmt::Display for KeyExpiry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pinned key {}", self.primary)?;
        if let Some(uid) = &self.user_id {
            write!(f, " {uid:?}")?;
        }
        let at = format_time(self.expires);
        match self.days_left {
            None => write!(
                f,
                " expired at {at} (its expiry now, by its newest self-signature)"
            ),
            Some(days) => write!(
                f,
                " expires at {at}, in {days} day(s) (its expiry now, by its newest self-signature)"
            ),
        }
    }
}

/// The pinned keys that can no longer sign at `now`, or that stop within
/// `within_days`, by their newest self-signatures
/// ([`signature::signing_expiry`]), in the trust set's order. Keys that
/// never expire are not listed, nor keys that nothing binds for signing
/// (a revoked key, a key without the signing flag): their signatures are
/// refused for that reason. Pure.
pub fn expiring_keys(trust: &TrustSet, now: OffsetDateTime, within_days: u32) -> Vec<KeyExpiry> {
    const DAY: u64 = 86_400;
    let now = u64::try_from(now.unix_timestamp()).unwrap_or(0);
    let horizon = now.saturating_add(u64::from(within_days) * DAY);
    trust
        .trusted()
        .iter()
        .filter_map(|cert| {
            let expires = signature::signing_expiry(cert, now).ok().flatten()?;
            if expires > horizon {
                return None;
            }
            Some(KeyExpiry {
                primary: cert.fingerprint(),
                user_id: cert.user_id(),
                expires,
                days_left: (expires > now).then(|| (expires - now).div_ceil(DAY)),
            })
        })
        .collect()
}
