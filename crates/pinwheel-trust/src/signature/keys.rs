//! The trust root's keys: parse armored OpenPGP certificates (RFC 9580
//! §10.1, Transferable Public Keys) and decide whether a primary key or a
//! subkey was fit to make a data signature at a given time. rPGP checks each
//! self-signature's cryptography; the policy is ours:
//!
//! - a component's binding at time `t` is its newest valid self-signature
//!   made at or before `t` (direct-key or User ID self-certification for the
//!   primary, subkey binding for a subkey) with SHA-256 or stronger, a
//!   hashed creation time, no unknown critical subpacket and not expired;
//! - the key expires `KeyExpirationTime` after its creation, per that binding;
//!   a later self-signature may shorten, extend or remove that expiry, which
//!   does not change whether the key was fit when it signed: [`expiry_at`]
//!   tells the expiry in force at any time (at signing time, now), and
//!   [`signing_expiry`] until when a certificate can sign at all;
//! - a hard revocation (no reason, "compromised", or any unknown reason) is
//!   fatal whenever it was made; a soft one ("superseded", "retired") only
//!   from its own creation time on. Revocations are honoured whatever their
//!   hash algorithm (honouring one can only refuse more);
//! - the binding's hashed key flags must allow signing, and a signing
//!   subkey's binding must carry a valid primary-key binding
//!   (back-)signature;
//! - RSA keys need 2048 bits or more; DSA and Elgamal are refused.
//!
//! Not supported: designated revokers (third-party revocations are
//! ignored), User Attribute self-signatures (not needed to bind a key),
//! v3 and v5 keys.

use std::path::{Path, PathBuf};

use pgp::composed::{Deserializable, SignedPublicKey, SignedPublicSubKey};
use pgp::crypto::hash::HashAlgorithm;
use pgp::crypto::public_key::PublicKeyAlgorithm;
use pgp::packet::{RevocationCode, Signature, SignatureType, SignatureVersion, SubpacketData};
use pgp::ser::Serialize;
use pgp::types::{Fingerprint, KeyDetails, KeyVersion, Tag};

use super::armor::{self, BlockKind};

/// Clock-skew allowance: a signature may claim to be made up to this many
/// seconds after "now" (another machine's clock running ahead).
pub const CLOCK_SKEW_SECS: u64 = 300;

/// The marker in a User ID that says a key is for demonstrations only.
pub const DEMO_MARK: &str = "DEMO ONLY";

/// One certificate from the keys directory.
#[derive(Debug, Clone)]
pub struct Cert {
    pub key: SignedPublicKey,
    /// Where it was read from.
    pub source: PathBuf,
    /// Whether a User ID carries [`DEMO_MARK`].
    pub demo: bool,
}

impl Cert {
    /// Wraps a parsed certificate read from `source`.
    pub fn new(key: SignedPublicKey, source: &Path) -> Cert {
        let demo = key.details.users.iter().any(|u| {
            String::from_utf8_lossy(u.id.id())
                .to_ascii_uppercase()
                .contains(DEMO_MARK)
        });
        Cert {
            key,
            source: source.to_path_buf(),
            demo,
        }
    }

    /// The primary key's fingerprint, uppercase hex.
    pub fn fingerprint(&self) -> String {
        fingerprint_hex(&self.key.primary_key.fingerprint())
    }

    /// The first User ID, for messages.
    pub fn user_id(&self) -> Option<String> {
        self.key
            .details
            .users
            .first()
            .map(|u| String::from_utf8_lossy(u.id.id()).into_owned())
    }
}

/// A fingerprint as uppercase hex, no spaces.
pub fn fingerprint_hex(fp: &Fingerprint) -> String {
    hex::encode_upper(fp.as_bytes())
}

/// Why a key file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileError {
    #[error("malformed armor: {0}")]
    Armor(#[from] armor::ArmorError),
    #[error("holds secret key material; the trust directory takes public keys only")]
    SecretKey,
    #[error("is not a public key block")]
    NotAKey,
    #[error("does not parse as OpenPGP public keys: {0}")]
    Parse(String),
    #[error("holds no key")]
    Empty,
}

/// Parses one armored key file (one `PGP PUBLIC KEY BLOCK`, one or more
/// certificates).
pub fn parse_key_file(bytes: &[u8], source: &Path) -> Result<Vec<Cert>, KeyFileError> {
    let (kind, data) = armor::decode(bytes)?;
    match kind {
        BlockKind::PublicKey => {}
        BlockKind::PrivateKey => return Err(KeyFileError::SecretKey),
        _ => return Err(KeyFileError::NotAKey),
    }
    let mut certs = Vec::new();
    let parsed = SignedPublicKey::from_bytes_many(&data[..])
        .map_err(|e| KeyFileError::Parse(e.to_string()))?;
    for key in parsed {
        let key = key.map_err(|e| KeyFileError::Parse(e.to_string()))?;
        let demo = key.details.users.iter().any(|u| {
            String::from_utf8_lossy(u.id.id())
                .to_ascii_uppercase()
                .contains(DEMO_MARK)
        });
        certs.push(Cert {
            key,
            source: source.to_path_buf(),
            demo,
        });
    }
    if certs.is_empty() {
        return Err(KeyFileError::Empty);
    }
    Ok(certs)
}

/// Which part of a certificate made a signature.
#[derive(Debug, Clone, Copy)]
pub enum Component<'a> {
    Primary,
    Subkey(&'a SignedPublicSubKey),
}

impl Component<'_> {
    /// The component's fingerprint, uppercase hex.
    pub fn fingerprint(&self, cert: &Cert) -> String {
        match self {
            Component::Primary => cert.fingerprint(),
            Component::Subkey(sub) => fingerprint_hex(&sub.key.fingerprint()),
        }
    }
}

/// Why a key was not fit to sign at the signature's time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyProblem {
    #[error("the key was created after the signature was made")]
    CreatedAfterSignature,
    #[error("no valid self-signature binds the key at the signature's time")]
    NoSelfSignature,
    #[error("the key expired at {0} (unix time), before the signature was made")]
    Expired(u64),
    #[error("the key is revoked ({0}); a hard revocation is fatal whenever it was made")]
    HardRevoked(String),
    #[error("the key was revoked at {at} (unix time, {reason}), before the signature was made")]
    SoftRevoked { at: u64, reason: String },
    #[error("the key's flags do not allow signing")]
    NotSigningCapable,
    #[error("the signing subkey has no valid primary-key binding (back-)signature")]
    MissingBackSignature,
    #[error("primary key: {0}")]
    Primary(Box<KeyProblem>),
    #[error("weak or unsupported public-key algorithm: {0}")]
    WeakAlgorithm(String),
    #[error("unsupported key version (v4 and v6 only)")]
    UnsupportedVersion,
}

/// What is worth telling about a key that was fit when it signed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fitness {
    /// When the component (or its primary) expires, if it does.
    pub expires: Option<u64>,
    /// A soft revocation made after the signature: (time, reason).
    pub revoked_later: Option<(u64, String)>,
}

/// Whether `component` of `cert` could make a data signature at time `t`.
pub fn fit_to_sign(cert: &Cert, component: Component<'_>, t: u64) -> Result<Fitness, KeyProblem> {
    let primary = &cert.key.primary_key;
    match component {
        Component::Primary => {
            check_algorithm(primary)?;
            let (binding, fitness) = primary_binding(cert, t)?;
            if !has_sign_flag(binding) {
                return Err(KeyProblem::NotSigningCapable);
            }
            Ok(fitness)
        }
        Component::Subkey(sub) => {
            check_algorithm(&sub.key)?;
            let (_, primary_fitness) =
                primary_binding(cert, t).map_err(|p| KeyProblem::Primary(Box::new(p)))?;
            let subkey = &sub.key;
            if u64::from(subkey.created_at().as_secs()) > t {
                return Err(KeyProblem::CreatedAfterSignature);
            }
            let mut revoked_later = primary_fitness.revoked_later;
            for sig in &sub.signatures {
                if sig.typ() == Some(SignatureType::SubkeyRevocation)
                    && sig.verify_subkey_binding(primary, subkey).is_ok()
                {
                    check_revocation(sig, t, &mut revoked_later)?;
                }
            }
            let binding = subkey_binding(cert, sub, t).ok_or(KeyProblem::NoSelfSignature)?;
            if !has_sign_flag(binding) {
                return Err(KeyProblem::NotSigningCapable);
            }
            if !has_back_signature(cert, sub, binding) {
                return Err(KeyProblem::MissingBackSignature);
            }
            let own = expiry(u64::from(subkey.created_at().as_secs()), binding);
            let expires = match (own, primary_fitness.expires) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if let Some(at) = own.filter(|&at| at <= t) {
                return Err(KeyProblem::Expired(at));
            }
            Ok(Fitness {
                expires,
                revoked_later,
            })
        }
    }
}

/// The primary key's binding signature at `t`, after checking revocation,
/// creation and expiry.
fn primary_binding(cert: &Cert, t: u64) -> Result<(&Signature, Fitness), KeyProblem> {
    let primary = &cert.key.primary_key;
    if !matches!(primary.version(), KeyVersion::V4 | KeyVersion::V6) {
        return Err(KeyProblem::UnsupportedVersion);
    }
    if u64::from(primary.created_at().as_secs()) > t {
        return Err(KeyProblem::CreatedAfterSignature);
    }
    let mut revoked_later = None;
    for sig in &cert.key.details.revocation_signatures {
        if sig.typ() == Some(SignatureType::KeyRevocation) && sig.verify_key(primary).is_ok() {
            check_revocation(sig, t, &mut revoked_later)?;
        }
    }
    let binding = newest_primary_binding(cert, t).ok_or(KeyProblem::NoSelfSignature)?;
    let expires = expiry(u64::from(primary.created_at().as_secs()), binding);
    if let Some(at) = expires.filter(|&at| at <= t) {
        return Err(KeyProblem::Expired(at));
    }
    Ok((
        binding,
        Fitness {
            expires,
            revoked_later,
        },
    ))
}

/// The primary key's binding at `t`: its newest valid direct-key
/// signature or User ID self-certification made at or before `t` (a User
/// ID whose newest self-certification is older than a revocation of it
/// does not count).
fn newest_primary_binding(cert: &Cert, t: u64) -> Option<&Signature> {
    let primary = &cert.key.primary_key;
    let mut candidates: Vec<&Signature> = cert
        .key
        .details
        .direct_signatures
        .iter()
        .filter(|s| s.typ() == Some(SignatureType::Key) && self_sig_acceptable(s, t))
        .filter(|s| s.verify_key(primary).is_ok())
        .collect();
    for user in &cert.key.details.users {
        let valid = |s: &&Signature| {
            s.verify_certification(primary, Tag::UserId, &user.id)
                .is_ok()
        };
        let newest_cert = user
            .signatures
            .iter()
            .filter(|s| s.is_certification() && self_sig_acceptable(s, t))
            .filter(valid)
            .max_by_key(|s| created(s));
        let newest_revocation = user
            .signatures
            .iter()
            .filter(|s| {
                s.typ() == Some(SignatureType::CertRevocation) && created(s).is_some_and(|c| c <= t)
            })
            .filter(valid)
            .max_by_key(|s| created(s));
        if let Some(cert_sig) = newest_cert {
            if newest_revocation.is_none_or(|r| created(r) < created(cert_sig)) {
                candidates.push(cert_sig);
            }
        }
    }
    candidates.into_iter().max_by_key(|s| created(s))
}

/// A subkey's binding at `t`: its newest valid subkey binding signature
/// made at or before `t`.
fn subkey_binding<'a>(cert: &Cert, sub: &'a SignedPublicSubKey, t: u64) -> Option<&'a Signature> {
    sub.signatures
        .iter()
        .filter(|s| s.typ() == Some(SignatureType::SubkeyBinding) && self_sig_acceptable(s, t))
        .filter(|s| {
            s.verify_subkey_binding(&cert.key.primary_key, &sub.key)
                .is_ok()
        })
        .max_by_key(|s| created(s))
}

/// Whether a signing subkey's binding carries a valid primary-key binding
/// (back-)signature.
fn has_back_signature(cert: &Cert, sub: &SignedPublicSubKey, binding: &Signature) -> bool {
    binding.embedded_signature().is_some_and(|back| {
        back.typ() == Some(SignatureType::KeyBinding)
            && strong_hash(back.hash_alg())
            && back
                .verify_primary_key_binding(&sub.key, &cert.key.primary_key)
                .is_ok()
    })
}

/// When `component` expires by the newest self-signatures made at or
/// before `t` (a subkey expires with its primary at the latest); `None`
/// when it does not. With `t` the time a signature was made, this is the
/// expiry in force at signing time; with `t` now, the one in force now,
/// which GnuPG reports — a later self-signature may have shortened,
/// extended or removed it. Revocation and flags play no part here.
pub fn expiry_at(cert: &Cert, component: Component<'_>, t: u64) -> Result<Option<u64>, KeyProblem> {
    let primary_created = u64::from(cert.key.primary_key.created_at().as_secs());
    let binding = newest_primary_binding(cert, t).ok_or(KeyProblem::NoSelfSignature)?;
    let primary = expiry(primary_created, binding);
    let Component::Subkey(sub) = component else {
        return Ok(primary);
    };
    let binding = subkey_binding(cert, sub, t).ok_or(KeyProblem::NoSelfSignature)?;
    let own = expiry(u64::from(sub.key.created_at().as_secs()), binding);
    Ok(match (own, primary) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    })
}

/// Until when `cert` can make data signatures, by its newest
/// self-signatures at `t`: the latest expiry among its unrevoked
/// components bound for signing (the primary with the signing flag;
/// subkeys with it and a back-signature), each capped by the primary's.
/// `Ok(None)`: one of them never expires. An error when nothing in it is
/// bound for signing at `t`, or the primary key is revoked.
pub fn signing_expiry(cert: &Cert, t: u64) -> Result<Option<u64>, KeyProblem> {
    let primary = &cert.key.primary_key;
    let mut later = None;
    for sig in &cert.key.details.revocation_signatures {
        if sig.typ() == Some(SignatureType::KeyRevocation) && sig.verify_key(primary).is_ok() {
            check_revocation(sig, t, &mut later)?;
        }
    }
    let binding = newest_primary_binding(cert, t).ok_or(KeyProblem::NoSelfSignature)?;
    let mut until: Vec<Option<u64>> = Vec::new();
    if has_sign_flag(binding) {
        until.push(expiry_at(cert, Component::Primary, t)?);
    }
    for sub in &cert.key.public_subkeys {
        let revoked = sub.signatures.iter().any(|sig| {
            sig.typ() == Some(SignatureType::SubkeyRevocation)
                && sig.verify_subkey_binding(primary, &sub.key).is_ok()
                && check_revocation(sig, t, &mut None).is_err()
        });
        let signs = subkey_binding(cert, sub, t)
            .is_some_and(|b| has_sign_flag(b) && has_back_signature(cert, sub, b));
        if signs && !revoked {
            until.push(expiry_at(cert, Component::Subkey(sub), t)?);
        }
    }
    if until.is_empty() {
        return Err(KeyProblem::NotSigningCapable);
    }
    if until.contains(&None) {
        return Ok(None);
    }
    Ok(until.into_iter().flatten().max())
}

/// Applies one cryptographically valid revocation to a signature made at `t`.
fn check_revocation(
    sig: &Signature,
    t: u64,
    revoked_later: &mut Option<(u64, String)>,
) -> Result<(), KeyProblem> {
    let reason = sig.revocation_reason_code().copied();
    let text = sig
        .revocation_reason_string()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .filter(|s| !s.is_empty());
    let describe = |what: &str| match &text {
        Some(t) => format!("{what}: {t:?}"),
        None => what.to_owned(),
    };
    match reason {
        Some(RevocationCode::KeySuperseded) | Some(RevocationCode::KeyRetired) => {
            let what = describe(if reason == Some(RevocationCode::KeySuperseded) {
                "superseded"
            } else {
                "retired"
            });
            let at = created(sig).unwrap_or(0);
            if at <= t {
                return Err(KeyProblem::SoftRevoked { at, reason: what });
            }
            if revoked_later.as_ref().is_none_or(|(prev, _)| at < *prev) {
                *revoked_later = Some((at, what));
            }
            Ok(())
        }
        Some(RevocationCode::KeyCompromised) => {
            Err(KeyProblem::HardRevoked(describe("key compromised")))
        }
        Some(RevocationCode::NoReason) | None => {
            Err(KeyProblem::HardRevoked(describe("no reason given")))
        }
        Some(other) => Err(KeyProblem::HardRevoked(describe(&format!(
            "reason code {}",
            u8::from(other)
        )))),
    }
}

/// A self-signature we accept as a binding at time `t`.
fn self_sig_acceptable(sig: &Signature, t: u64) -> bool {
    let Some(config) = sig.config() else {
        return false;
    };
    if !matches!(sig.version(), SignatureVersion::V4 | SignatureVersion::V6)
        || !strong_hash(Some(config.hash_alg))
    {
        return false;
    }
    let Some(made) = created(sig) else {
        return false;
    };
    if made > t {
        return false;
    }
    if let Some(d) = sig
        .signature_expiration_time()
        .map(|d| u64::from(d.as_secs()))
        .filter(|&d| d > 0)
    {
        if made + d <= t {
            return false;
        }
    }
    config
        .hashed_subpackets
        .iter()
        .all(|p| !p.is_critical || known_in_self_signature(&p.data))
}

/// Subpackets we understand in a self-signature (a critical one of any
/// other type invalidates the signature, RFC 9580 §5.2.3.7).
fn known_in_self_signature(data: &SubpacketData) -> bool {
    matches!(
        data,
        SubpacketData::SignatureCreationTime(_)
            | SubpacketData::SignatureExpirationTime(_)
            | SubpacketData::KeyExpirationTime(_)
            | SubpacketData::IssuerKeyId(_)
            | SubpacketData::IssuerFingerprint(_)
            | SubpacketData::PreferredSymmetricAlgorithms(_)
            | SubpacketData::PreferredHashAlgorithms(_)
            | SubpacketData::PreferredCompressionAlgorithms(_)
            | SubpacketData::PreferredAeadAlgorithms(_)
            | SubpacketData::PreferredEncryptionModes(_)
            | SubpacketData::KeyServerPreferences(_)
            | SubpacketData::KeyFlags(_)
            | SubpacketData::Features(_)
            | SubpacketData::IsPrimary(_)
            | SubpacketData::Revocable(_)
            | SubpacketData::EmbeddedSignature(_)
            | SubpacketData::ExportableCertification(true)
    )
}

/// The creation time in the hashed area, in unix seconds.
pub fn created(sig: &Signature) -> Option<u64> {
    sig.created().map(|t| u64::from(t.as_secs()))
}

/// SHA-256 or stronger. SHA-224, SHA-1, RIPEMD-160 and MD5 are refused.
pub fn strong_hash(alg: Option<HashAlgorithm>) -> bool {
    matches!(
        alg,
        Some(
            HashAlgorithm::Sha256
                | HashAlgorithm::Sha384
                | HashAlgorithm::Sha512
                | HashAlgorithm::Sha3_256
                | HashAlgorithm::Sha3_512
        )
    )
}

fn has_sign_flag(binding: &Signature) -> bool {
    binding.config().is_some_and(|c| {
        c.hashed_subpackets
            .iter()
            .any(|p| matches!(&p.data, SubpacketData::KeyFlags(f) if f.sign()))
    })
}

fn expiry(key_created: u64, binding: &Signature) -> Option<u64> {
    binding
        .key_expiration_time()
        .map(|d| u64::from(d.as_secs()))
        .filter(|&d| d > 0)
        .map(|d| key_created + d)
}

/// Refuses public-key algorithms too weak (or unknown) for our signatures.
fn check_algorithm(key: &(impl KeyDetails + ?Sized)) -> Result<(), KeyProblem> {
    if !matches!(key.version(), KeyVersion::V4 | KeyVersion::V6) {
        return Err(KeyProblem::UnsupportedVersion);
    }
    match key.algorithm() {
        PublicKeyAlgorithm::RSA | PublicKeyAlgorithm::RSASign => {
            // The public parameters start with the modulus as an MPI, whose
            // first two octets are its length in bits.
            let params = key.public_params().to_bytes().unwrap_or_default();
            let bits = params
                .get(..2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .unwrap_or(0);
            if bits < 2048 {
                return Err(KeyProblem::WeakAlgorithm(format!(
                    "RSA with {bits} bits (2048 or more required)"
                )));
            }
            Ok(())
        }
        PublicKeyAlgorithm::ECDSA
        | PublicKeyAlgorithm::EdDSALegacy
        | PublicKeyAlgorithm::Ed25519
        | PublicKeyAlgorithm::Ed448 => Ok(()),
        other => Err(KeyProblem::WeakAlgorithm(format!("{other:?}"))),
    }
}

/// Parses a configured fingerprint: 40 (v4) or 64 (v6) hex digits, case
/// and spaces ignored. Key IDs (16 hex digits) are refused.
pub fn parse_fingerprint(text: &str) -> Result<String, String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let compact = compact
        .strip_prefix("0x")
        .unwrap_or(&compact)
        .to_ascii_uppercase();
    if !compact.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("fingerprint {text:?} is not hexadecimal"));
    }
    match compact.len() {
        40 | 64 => Ok(compact),
        16 | 8 => Err(format!(
            "{text:?} is a key ID; pin the full fingerprint (40 or 64 hex digits)"
        )),
        n => Err(format!(
            "fingerprint {text:?} has {n} hex digits, expected 40 (v4 key) or 64 (v6 key)"
        )),
    }
}
