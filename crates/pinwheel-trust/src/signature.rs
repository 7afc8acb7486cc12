//! OpenPGP detached-signature policy (RFC 9580) on top of rPGP: which
//! signatures over a file count, and by whom.
//!
//! The trust set is a directory of armored public keys, narrowed to the
//! primary fingerprints pinned in the configuration (never key IDs). A
//! `.asc` file is read with a size cap before anything parses it, must be
//! one or more `PGP SIGNATURE` armor blocks with nothing but whitespace
//! between and after them (maintainers who sign apart combine their files
//! with `cat a.asc b.asc`, which GnuPG accepts too), each with a valid
//! CRC-24 when present and holding only whole Signature packets; an inline
//! or cleartext-signed message is refused, never "verified". Every
//! signature of every block is held to the rules below.
//!
//! Each signature must: be version 4 or 6; be a binary-document signature
//! (type 0x00; text mode is refused); name its issuer (fingerprint or key
//! ID, consistent with each other) and that issuer must be a pinned primary
//! key or one of its subkeys — a key ID that matches a pinned key while the
//! issuer fingerprint differs is refused; use SHA-256 or stronger; carry
//! exactly one hashed creation time, not more than [`CLOCK_SKEW_SECS`]
//! seconds in the future; not be expired; have no critical subpacket other
//! than creation time, expiration time and issuer; verify
//! cryptographically (rPGP); and come from a key that was fit to sign at
//! its creation time (see [`keys`]: expiry, revocation, flags,
//! back-signature, algorithm).
//!
//! Like `sq verify`, one bad signature fails the whole file. The result is
//! the set of distinct pinned primary keys that signed: a primary and its
//! subkey count once, and so does a duplicated packet.

mod armor;
mod files;
mod issuer;
mod keys;
mod packets;

use std::collections::BTreeSet;

use anyhow::bail;
use pgp::packet::{
    Signature, SignatureType, SignatureVersion, SignatureVersionSpecific, SubpacketData,
};
use pgp::types::{KeyDetails, VerifyingKey};
use time::OffsetDateTime;

pub use armor::{decode as dearmor, encode as enarmor, ArmorError, BlockKind};
pub use files::{load_keys_dir, read_capped, read_signature_file};
pub use keys::{
    expiry_at, fingerprint_hex, fit_to_sign, parse_fingerprint, parse_key_file, signing_expiry,
    Cert, Component, Fitness, KeyFileError, KeyProblem, CLOCK_SKEW_SECS, DEMO_MARK,
};
pub use packets::PacketError;

/// The largest signature file read; checked before parsing. A list signed
/// by many maintainers is a few KiB.
pub const MAX_SIGNATURE_FILE: u64 = 1024 * 1024;

/// The largest key file read from the trust directory.
pub const MAX_KEY_FILE: u64 = 16 * 1024 * 1024;

/// Why a signature file fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature file is {size} bytes, more than the {limit}-byte limit")]
    TooLarge { size: u64, limit: u64 },
    #[error("malformed armor: {0}")]
    Armor(#[from] ArmorError),
    #[error("not a detached signature: {0}")]
    NotDetached(&'static str),
    #[error("malformed signature packets: {0}")]
    Packets(#[from] PacketError),
    #[error("the signature file holds no signature")]
    Empty,
    #[error("signature {index}: {reason}")]
    Bad { index: usize, reason: Reason },
    #[error("{found} distinct pinned key(s) made good signatures, the threshold is {required}")]
    Threshold { found: usize, required: usize },
}

/// Why one signature is bad.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    #[error("unsupported signature version (v4 and v6 only)")]
    UnsupportedVersion,
    #[error("{0} signature; only binary-document (type 0x00) detached signatures are accepted")]
    NotBinary(String),
    #[error("no issuer: the signature names neither an issuer fingerprint nor a key ID")]
    NoIssuer,
    #[error("inconsistent issuer subpackets: {0}")]
    InconsistentIssuer(String),
    #[error(
        "issuer key ID {key_id} matches pinned key {pinned} but the issuer fingerprint is {issuer}"
    )]
    KeyIdCollision {
        key_id: String,
        pinned: String,
        issuer: String,
    },
    #[error("issuer key ID {0} matches more than one pinned key")]
    AmbiguousKeyId(String),
    #[error(
        "made by key {0}, which is in the keys directory but not pinned in trust.fingerprints"
    )]
    NotPinned(String),
    #[error("made by unknown key {0} (not among the pinned keys)")]
    UnknownKey(String),
    #[error("weak hash algorithm {0} (SHA-256 or stronger required)")]
    WeakHash(String),
    #[error("critical subpacket of type {0} that pinwheel does not understand")]
    UnknownCriticalSubpacket(u8),
    #[error("no hashed signature creation time")]
    NoCreationTime,
    #[error("more than one hashed signature creation time")]
    AmbiguousCreationTime,
    #[error("created at {created} (unix time), in the future (now {now}, {CLOCK_SKEW_SECS} s of clock skew allowed)")]
    FutureCreationTime { created: u64, now: u64 },
    #[error("the signature expired at {0} (unix time)")]
    Expired(u64),
    #[error("does not verify with key {key}: it was made over other bytes (the file changed after it was signed, or the signature is for another file)")]
    OtherData { key: String },
    #[error("does not verify with key {key}: {message}")]
    Cryptographic { key: String, message: String },
    #[error("key {key} was not fit to sign: {problem}")]
    Key { key: String, problem: KeyProblem },
}

/// The keys signatures are checked against.
#[derive(Debug, Clone, Default)]
pub struct TrustSet {
    /// Pinned certificates: their primaries and subkeys may sign.
    trusted: Vec<Cert>,
    /// Certificates present but not pinned (named in errors only).
    unpinned: Vec<Cert>,
}

impl TrustSet {
    /// Every certificate is trusted (`verify-signature`: the directory is
    /// the trust set).
    pub fn all(certs: Vec<Cert>) -> TrustSet {
        TrustSet {
            trusted: certs,
            unpinned: Vec::new(),
        }
    }

    /// Only the certificates whose primary fingerprint is in `pins`. Every
    /// pin must name a primary key present in `certs`.
    pub fn pinned(certs: Vec<Cert>, pins: &[String]) -> anyhow::Result<TrustSet> {
        let mut wanted = BTreeSet::new();
        for pin in pins {
            wanted.insert(
                parse_fingerprint(pin).map_err(|e| anyhow::anyhow!("trust.fingerprints: {e}"))?,
            );
        }
        for pin in &wanted {
            if certs.iter().any(|c| &c.fingerprint() == pin) {
                continue;
            }
            let owner = certs.iter().find(|c| {
                c.key
                    .public_subkeys
                    .iter()
                    .any(|s| &fingerprint_hex(&s.key.fingerprint()) == pin)
            });
            match owner {
                Some(c) => bail!(
                    "trust.fingerprints: {pin} is a subkey of {}; pin the primary key's fingerprint",
                    c.fingerprint()
                ),
                None => bail!("trust.fingerprints: no key in the keys directory has fingerprint {pin}"),
            }
        }
        let (trusted, unpinned) = certs
            .into_iter()
            .partition(|c| wanted.contains(&c.fingerprint()));
        Ok(TrustSet { trusted, unpinned })
    }

    /// The pinned certificates.
    pub fn trusted(&self) -> &[Cert] {
        &self.trusted
    }
}

/// One good signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoodSignature {
    /// The pinned primary key's fingerprint (uppercase hex).
    pub primary: String,
    /// The key or subkey that made it.
    pub signing_key: String,
    /// The primary's first User ID.
    pub user_id: Option<String>,
    /// The hashed creation time, unix seconds.
    pub created: u64,
    /// Whether the key is marked as a demonstration key.
    pub demo: bool,
    /// Things worth saying (a key that expired or was retired after it signed).
    pub notes: Vec<String>,
}

/// Every signature in the file was good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// One entry per distinct signature packet, in file order.
    pub signatures: Vec<GoodSignature>,
}

impl Verified {
    /// The distinct pinned primary keys that signed.
    pub fn signers(&self) -> BTreeSet<&str> {
        self.signatures.iter().map(|s| s.primary.as_str()).collect()
    }

    /// Fails unless at least `k` distinct primary keys signed.
    pub fn require(&self, k: usize) -> Result<(), SignatureError> {
        let found = self.signers().len();
        if found < k {
            return Err(SignatureError::Threshold { found, required: k });
        }
        Ok(())
    }

    /// Whether a demonstration key signed.
    pub fn demo_signers(&self) -> BTreeSet<&str> {
        self.signatures
            .iter()
            .filter(|s| s.demo)
            .map(|s| s.primary.as_str())
            .collect()
    }
}

/// One signature packet from a `.asc` file: its bytes as found (header
/// included) and rPGP's parse of them.
#[derive(Debug, Clone)]
pub struct ParsedSignature {
    pub raw: Vec<u8>,
    pub sig: Signature,
}

/// Parses a `.asc` file — one armored block, or several in a row as
/// `cat a.asc b.asc` makes them — into its distinct signature packets (a
/// packet repeated byte for byte, in one block or in two, is kept once), in
/// file order.
pub fn parse_signatures(asc: &[u8]) -> Result<Vec<ParsedSignature>, SignatureError> {
    let size = asc.len() as u64;
    if size > MAX_SIGNATURE_FILE {
        return Err(SignatureError::TooLarge {
            size,
            limit: MAX_SIGNATURE_FILE,
        });
    }
    let blocks = armor::decode_all(asc)?;
    for (kind, _) in &blocks {
        match kind {
            BlockKind::Signature => {}
            BlockKind::CleartextSigned => {
                return Err(SignatureError::NotDetached("a cleartext-signed message"))
            }
            BlockKind::Message => {
                return Err(SignatureError::NotDetached(
                    "an OpenPGP message (inline signature)",
                ))
            }
            BlockKind::PublicKey | BlockKind::PrivateKey => {
                return Err(SignatureError::NotDetached("a key block"))
            }
        }
    }
    // Each block is framed on its own: a packet cannot span two blocks.
    let mut raw = Vec::new();
    for (_, data) in &blocks {
        raw.extend(packets::split(data)?);
    }
    if raw.iter().any(|p| matches!(p.tag, 4 | 8 | 11)) {
        return Err(SignatureError::NotDetached(
            "an OpenPGP message (inline signature)",
        ));
    }
    let mut out: Vec<ParsedSignature> = Vec::new();
    for packet in &raw {
        if out.iter().any(|p| p.raw == packet.bytes) {
            continue;
        }
        let sig = packets::parse_signature(packet)?;
        out.push(ParsedSignature {
            raw: packet.bytes.to_vec(),
            sig,
        });
    }
    if out.is_empty() {
        return Err(SignatureError::Empty);
    }
    Ok(out)
}

/// Armors signature packets as one `PGP SIGNATURE` block (co-signing
/// appends a packet and re-armors the lot).
pub fn armor_signatures<'a>(packets: impl IntoIterator<Item = &'a [u8]>) -> String {
    let data: Vec<u8> = packets.into_iter().flatten().copied().collect();
    armor::encode(BlockKind::Signature, &data)
}

/// Checks every signature in `asc` over `data` against `trust` at `now`.
/// Any bad signature fails the whole file.
pub fn verify_detached(
    data: &[u8],
    asc: &[u8],
    trust: &TrustSet,
    now: OffsetDateTime,
) -> Result<Verified, SignatureError> {
    let now = u64::try_from(now.unix_timestamp()).unwrap_or(0);
    let sigs = parse_signatures(asc)?;
    let mut good = Vec::new();
    for (i, parsed) in sigs.iter().enumerate() {
        let one =
            check_one(&parsed.sig, data, trust, now).map_err(|reason| SignatureError::Bad {
                index: i + 1,
                reason,
            })?;
        good.push(one);
    }
    Ok(Verified { signatures: good })
}

/// [`verify_detached`] and a threshold of `k` distinct pinned primary keys.
pub fn verify_threshold(
    data: &[u8],
    asc: &[u8],
    trust: &TrustSet,
    k: usize,
    now: OffsetDateTime,
) -> Result<Verified, SignatureError> {
    let verified = verify_detached(data, asc, trust, now)?;
    verified.require(k)?;
    Ok(verified)
}

fn check_one(
    sig: &Signature,
    data: &[u8],
    trust: &TrustSet,
    now: u64,
) -> Result<GoodSignature, Reason> {
    let Some(config) = sig.config() else {
        return Err(Reason::UnsupportedVersion);
    };
    if !matches!(sig.version(), SignatureVersion::V4 | SignatureVersion::V6) {
        return Err(Reason::UnsupportedVersion);
    }
    match config.typ {
        SignatureType::Binary => {}
        SignatureType::Text => return Err(Reason::NotBinary("text-mode (type 0x01)".to_owned())),
        other => return Err(Reason::NotBinary(format!("type 0x{:02x}", u8::from(other)))),
    }
    let (cert, component) = issuer::find_issuer(sig, trust)?;
    let key_fp = component.fingerprint(cert);
    if !keys::strong_hash(Some(config.hash_alg)) {
        return Err(Reason::WeakHash(config.hash_alg.to_string()));
    }
    for p in &config.hashed_subpackets {
        let known = matches!(
            p.data,
            SubpacketData::SignatureCreationTime(_)
                | SubpacketData::SignatureExpirationTime(_)
                | SubpacketData::IssuerKeyId(_)
                | SubpacketData::IssuerFingerprint(_)
        );
        if p.is_critical && !known {
            return Err(Reason::UnknownCriticalSubpacket(subpacket_type(&p.data)));
        }
    }
    let times: Vec<u64> = config
        .hashed_subpackets
        .iter()
        .filter_map(|p| match p.data {
            SubpacketData::SignatureCreationTime(t) => Some(u64::from(t.as_secs())),
            _ => None,
        })
        .collect();
    let created = match times.as_slice() {
        [] => return Err(Reason::NoCreationTime),
        [t] => *t,
        _ => return Err(Reason::AmbiguousCreationTime),
    };
    if created > now + CLOCK_SKEW_SECS {
        return Err(Reason::FutureCreationTime { created, now });
    }
    if let Some(d) = sig
        .signature_expiration_time()
        .map(|d| u64::from(d.as_secs()))
        .filter(|&d| d > 0)
    {
        if created + d <= now {
            return Err(Reason::Expired(created + d));
        }
    }
    let crypto = match component {
        Component::Primary => verify_with(sig, &cert.key.primary_key, data),
        Component::Subkey(sub) => verify_with(sig, &sub.key, data),
    };
    crypto.map_err(|message| {
        if covers_other_data(sig, data) {
            Reason::OtherData {
                key: key_fp.clone(),
            }
        } else {
            Reason::Cryptographic {
                key: key_fp.clone(),
                message,
            }
        }
    })?;
    let fitness = keys::fit_to_sign(cert, component, created).map_err(|problem| Reason::Key {
        key: key_fp.clone(),
        problem,
    })?;
    let mut notes = Vec::new();
    if let Some(note) = expiry_note(
        &key_fp,
        fitness.expires,
        keys::expiry_at(cert, component, now),
        created,
        now,
    ) {
        notes.push(note);
    }
    if let Some((at, reason)) = fitness.revoked_later.filter(|(at, _)| *at <= now) {
        notes.push(format!(
            "key {key_fp} was revoked at {} ({reason}), after it made this signature",
            format_time(at)
        ));
    }
    Ok(GoodSignature {
        primary: cert.fingerprint(),
        signing_key: key_fp,
        user_id: cert.user_id(),
        created,
        demo: cert.demo,
        notes,
    })
}

/// What to say about the expiry of a key that was fit when it signed at
/// `created`: `then` is the expiry in force at signing time, `today` the
/// one in force `now` (its newest self-signature). Nothing while neither
/// has passed; otherwise both, named.
fn expiry_note(
    key: &str,
    then: Option<u64>,
    today: Result<Option<u64>, KeyProblem>,
    created: u64,
    now: u64,
) -> Option<String> {
    let passed = |at: &Option<u64>| at.is_some_and(|at| at <= now);
    let show = |at: Option<u64>| at.map_or_else(|| "none".to_owned(), format_time);
    match today {
        Ok(today) if passed(&today) => Some(format!(
            "key {key} expired at {} (its expiry now, by its newest self-signature; at signing time: {}); it made this signature at {}",
            show(today),
            show(then),
            format_time(created)
        )),
        _ if !passed(&then) => None,
        Ok(today) => Some(format!(
            "key {key} expired at {} (its expiry at signing time), after it made this signature at {}; its expiry now: {} (a later self-signature changed it)",
            show(then),
            format_time(created),
            show(today)
        )),
        Err(problem) => Some(format!(
            "key {key} expired at {} (its expiry at signing time), after it made this signature at {}; its expiry now is unknown ({problem})",
            show(then),
            format_time(created)
        )),
    }
}

fn verify_with(sig: &Signature, key: &impl VerifyingKey, data: &[u8]) -> Result<(), String> {
    sig.verify(key, data).map_err(|e| {
        e.to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// Whether the digest `sig` carries the first two octets of (RFC 9580
/// §5.2.3) differs from the digest of `data`: the signature was made over
/// other bytes. Asked only once verification failed, to say why in words
/// (rPGP reports it as an assertion on two byte arrays). The digest is
/// computed as rPGP computes it to verify (§5.2.4): the v6 salt, the data,
/// the hashed part of the signature and its trailer.
fn covers_other_data(sig: &Signature, data: &[u8]) -> bool {
    let (Some(config), Some(prefix)) = (sig.config(), sig.signed_hash_value()) else {
        return false;
    };
    let Ok(mut hasher) = config.hash_alg.new_hasher() else {
        return false;
    };
    if let SignatureVersionSpecific::V6 { salt } = &config.version_specific {
        hasher.update(salt);
    }
    let digest = config
        .hash_data_to_sign(&mut hasher, data)
        .and_then(|_| config.hash_signature_data(&mut hasher))
        .and_then(|len| config.trailer(len))
        .map(|trailer| {
            hasher.update(&trailer);
            hasher.finalize()
        });
    digest.is_ok_and(|d| d.get(..2) != Some(&prefix[..]))
}

fn subpacket_type(data: &SubpacketData) -> u8 {
    use pgp::packet::SubpacketType as T;
    let t = match data {
        SubpacketData::Experimental(n, _) | SubpacketData::Other(n, _) => return *n,
        SubpacketData::Notation(_) => T::Notation,
        SubpacketData::SignersUserID(_) => T::SignersUserID,
        SubpacketData::PolicyURI(_) => T::PolicyURI,
        SubpacketData::KeyFlags(_) => T::KeyFlags,
        SubpacketData::IntendedRecipientFingerprint(_) => T::IntendedRecipientFingerprint,
        SubpacketData::EmbeddedSignature(_) => T::EmbeddedSignature,
        SubpacketData::KeyExpirationTime(_) => T::KeyExpirationTime,
        SubpacketData::RevocationReason(..) => T::RevocationReason,
        SubpacketData::ExportableCertification(_) => T::ExportableCertification,
        SubpacketData::TrustSignature(..) => T::TrustSignature,
        SubpacketData::RegularExpression(_) => T::RegularExpression,
        SubpacketData::Revocable(_) => T::Revocable,
        SubpacketData::Features(_) => T::Features,
        SubpacketData::IsPrimary(_) => T::PrimaryUserId,
        _ => return 0,
    };
    t.as_u8(false)
}

/// A unix time as RFC 3339 UTC, for messages.
pub fn format_time(secs: u64) -> String {
    OffsetDateTime::from_unix_timestamp(secs as i64)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{secs} (unix time)"))
}
