//! Test keys made with rPGP from a seeded RNG, with every self-signature
//! built by hand so that tests control creation times, expiry, revocations,
//! back-signatures and hash algorithms — including the broken shapes GnuPG
//! refuses to make (a signing subkey without back-signature, SHA-1
//! self-signatures). Also data signatures with chosen subpackets.

#![allow(dead_code)]

use pgp::composed::{
    ArmorOptions, DetachedSignature, KeyType, SecretKeyParamsBuilder, SignedKeyDetails,
    SignedPublicKey, SignedPublicSubKey, SignedSecretKey, SignedSecretSubKey, SubkeyParamsBuilder,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{
    KeyFlags, RevocationCode, Signature, SignatureConfig, SignatureType, Subpacket, SubpacketData,
};
use pgp::ser::Serialize;
use pgp::types::{Duration, KeyDetails, Password, SignedUser, SigningKey, Tag, Timestamp};
use rand::SeedableRng;

/// 2023-11-14T22:13:20Z: keys in tests are made at or after this instant.
pub const T0: u32 = 1_700_000_000;
pub const DAY: u32 = 86_400;

/// What a test key looks like.
#[derive(Debug, Clone)]
pub struct Spec {
    pub seed: u64,
    pub uid: String,
    pub kind: KeyType,
    pub created: u32,
    /// Seconds after creation.
    pub expires_after: Option<u32>,
    pub primary_can_sign: bool,
    pub subkey: Option<SubSpec>,
    /// A key revocation: reason and time.
    pub revoked: Option<(RevocationCode, u32)>,
    pub self_sig_hash: HashAlgorithm,
}

/// A signing subkey.
#[derive(Debug, Clone)]
pub struct SubSpec {
    pub created: u32,
    pub expires_after: Option<u32>,
    pub backsig: bool,
    pub revoked: Option<(RevocationCode, u32)>,
}

impl Spec {
    /// An Ed25519 (legacy EdDSA, as GnuPG 2.2 makes) key that signs with its
    /// primary, made at T0, never expiring.
    pub fn ed25519(seed: u64, name: &str) -> Spec {
        Spec {
            seed,
            uid: format!(
                "{name} <{}@example.org>",
                name.to_lowercase().replace(' ', ".")
            ),
            kind: KeyType::Ed25519Legacy,
            created: T0,
            expires_after: None,
            primary_can_sign: true,
            subkey: None,
            revoked: None,
            self_sig_hash: HashAlgorithm::Sha256,
        }
    }

    /// A certification-only primary with a signing subkey.
    pub fn with_signing_subkey(mut self) -> Spec {
        self.primary_can_sign = false;
        self.subkey = Some(SubSpec {
            created: self.created,
            expires_after: None,
            backsig: true,
            revoked: None,
        });
        self
    }
}

/// A generated key: the secret key (for signing) and the public
/// certificate (for the trust set).
#[derive(Debug, Clone)]
pub struct TestKey {
    pub secret: SignedSecretKey,
    pub public: SignedPublicKey,
}

fn sub(data: SubpacketData) -> Subpacket {
    Subpacket::regular(data).unwrap()
}

fn ts(secs: u32) -> Timestamp {
    Timestamp::from_secs(secs)
}

/// Makes a key to `spec`.
pub fn make(spec: &Spec) -> TestKey {
    let mut rng = rand::rngs::StdRng::seed_from_u64(spec.seed);
    let mut builder = SecretKeyParamsBuilder::default();
    builder
        .key_type(spec.kind.clone())
        .can_certify(true)
        .can_sign(spec.primary_can_sign)
        .primary_user_id(spec.uid.clone())
        .created_at(ts(spec.created));
    if let Some(s) = &spec.subkey {
        builder.subkeys(vec![SubkeyParamsBuilder::default()
            .key_type(spec.kind.clone())
            .can_sign(true)
            .created_at(ts(s.created))
            .build()
            .unwrap()]);
    }
    let generated = builder.build().unwrap().generate(&mut rng).unwrap();
    let pw = Password::empty();
    let primary = generated.primary_key.clone();
    let primary_pub = primary.public_key().clone();
    let fp = primary.fingerprint();

    // User ID self-certification.
    let uid = generated.details.users[0].id.clone();
    let mut flags = KeyFlags::default();
    flags.set_certify(true);
    flags.set_sign(spec.primary_can_sign);
    let mut hashed = vec![
        sub(SubpacketData::SignatureCreationTime(ts(spec.created))),
        sub(SubpacketData::KeyFlags(flags)),
        sub(SubpacketData::IssuerFingerprint(fp.clone())),
    ];
    if let Some(e) = spec.expires_after {
        hashed.push(sub(SubpacketData::KeyExpirationTime(Duration::from_secs(
            e,
        ))));
    }
    let mut config = SignatureConfig::v4(
        SignatureType::CertPositive,
        primary.algorithm(),
        spec.self_sig_hash,
    );
    config.hashed_subpackets = hashed;
    config.unhashed_subpackets = vec![sub(SubpacketData::IssuerKeyId(primary.legacy_key_id()))];
    let cert_sig = config
        .sign_certification(&primary, &primary_pub, &pw, Tag::UserId, &uid)
        .unwrap();
    let users = vec![SignedUser::new(uid, vec![cert_sig])];

    let mut revocations = Vec::new();
    if let Some((code, at)) = spec.revoked {
        let mut config = SignatureConfig::v4(
            SignatureType::KeyRevocation,
            primary.algorithm(),
            HashAlgorithm::Sha256,
        );
        config.hashed_subpackets = vec![
            sub(SubpacketData::SignatureCreationTime(ts(at))),
            sub(SubpacketData::RevocationReason(
                code,
                "test revocation".into(),
            )),
            sub(SubpacketData::IssuerFingerprint(fp.clone())),
        ];
        revocations.push(config.sign_key(&primary, &pw, &primary_pub).unwrap());
    }
    let details = SignedKeyDetails::new(revocations, vec![], users, vec![]);

    let mut secret_subkeys = Vec::new();
    let mut public_subkeys = Vec::new();
    if let Some(s) = &spec.subkey {
        let subkey = generated.secret_subkeys[0].key.clone();
        let sub_pub = subkey.public_key().clone();
        let mut flags = KeyFlags::default();
        flags.set_sign(true);
        let mut hashed = vec![
            sub(SubpacketData::SignatureCreationTime(ts(s.created))),
            sub(SubpacketData::KeyFlags(flags)),
            sub(SubpacketData::IssuerFingerprint(fp.clone())),
        ];
        if let Some(e) = s.expires_after {
            hashed.push(sub(SubpacketData::KeyExpirationTime(Duration::from_secs(
                e,
            ))));
        }
        if s.backsig {
            let mut back = SignatureConfig::v4(
                SignatureType::KeyBinding,
                subkey.algorithm(),
                HashAlgorithm::Sha256,
            );
            back.hashed_subpackets = vec![
                sub(SubpacketData::SignatureCreationTime(ts(s.created))),
                sub(SubpacketData::IssuerFingerprint(subkey.fingerprint())),
            ];
            let backsig = back
                .sign_primary_key_binding(&subkey, &sub_pub, &pw, &primary_pub)
                .unwrap();
            hashed.push(sub(SubpacketData::EmbeddedSignature(Box::new(backsig))));
        }
        let mut config = SignatureConfig::v4(
            SignatureType::SubkeyBinding,
            primary.algorithm(),
            spec.self_sig_hash,
        );
        config.hashed_subpackets = hashed;
        config.unhashed_subpackets = vec![sub(SubpacketData::IssuerKeyId(primary.legacy_key_id()))];
        let mut sigs = vec![config
            .sign_subkey_binding(&primary, &primary_pub, &pw, &sub_pub)
            .unwrap()];
        if let Some((code, at)) = s.revoked {
            let mut config = SignatureConfig::v4(
                SignatureType::SubkeyRevocation,
                primary.algorithm(),
                HashAlgorithm::Sha256,
            );
            config.hashed_subpackets = vec![
                sub(SubpacketData::SignatureCreationTime(ts(at))),
                sub(SubpacketData::RevocationReason(
                    code,
                    "test revocation".into(),
                )),
                sub(SubpacketData::IssuerFingerprint(fp.clone())),
            ];
            sigs.push(
                config
                    .sign_subkey_binding(&primary, &primary_pub, &pw, &sub_pub)
                    .unwrap(),
            );
        }
        public_subkeys.push(SignedPublicSubKey::new(sub_pub, sigs.clone()));
        secret_subkeys.push(SignedSecretSubKey::new(subkey, sigs));
    }
    let public = SignedPublicKey::new(primary_pub, details.clone(), public_subkeys);
    let secret = SignedSecretKey::new(primary, details, vec![], secret_subkeys);
    TestKey { secret, public }
}

/// How to make a data signature.
#[derive(Debug, Clone)]
pub struct SigOpts {
    pub by_subkey: bool,
    pub created: Option<u32>,
    pub hash: HashAlgorithm,
    pub typ: SignatureType,
    pub issuer_fp: bool,
    pub issuer_id: bool,
    pub extra_hashed: Vec<Subpacket>,
    pub extra_unhashed: Vec<Subpacket>,
}

impl SigOpts {
    /// A binary SHA-256 signature made at `created` with the usual issuer
    /// subpackets (fingerprint hashed, key ID unhashed).
    pub fn at(created: u32) -> SigOpts {
        SigOpts {
            by_subkey: false,
            created: Some(created),
            hash: HashAlgorithm::Sha256,
            typ: SignatureType::Binary,
            issuer_fp: true,
            issuer_id: true,
            extra_hashed: vec![],
            extra_unhashed: vec![],
        }
    }

    pub fn subkey(mut self) -> SigOpts {
        self.by_subkey = true;
        self
    }
}

impl TestKey {
    pub fn fingerprint(&self) -> String {
        hex::encode_upper(self.public.primary_key.fingerprint().as_bytes())
    }

    pub fn public_armored(&self) -> String {
        self.public
            .to_armored_string(ArmorOptions::default())
            .unwrap()
    }

    pub fn secret_armored(&self) -> String {
        self.secret
            .to_armored_string(ArmorOptions::default())
            .unwrap()
    }

    /// One signature packet (header included) over `data`.
    pub fn sign(&self, data: &[u8], o: &SigOpts) -> Vec<u8> {
        if o.by_subkey {
            sign_with(&self.secret.secret_subkeys[0].key, data, o)
        } else {
            sign_with(&self.secret.primary_key, data, o)
        }
    }
}

fn sign_with(key: &impl SigningKey, data: &[u8], o: &SigOpts) -> Vec<u8> {
    let mut hashed = Vec::new();
    if let Some(t) = o.created {
        hashed.push(sub(SubpacketData::SignatureCreationTime(ts(t))));
    }
    if o.issuer_fp {
        hashed.push(sub(SubpacketData::IssuerFingerprint(key.fingerprint())));
    }
    hashed.extend(o.extra_hashed.iter().cloned());
    let mut unhashed = Vec::new();
    if o.issuer_id {
        unhashed.push(sub(SubpacketData::IssuerKeyId(key.legacy_key_id())));
    }
    unhashed.extend(o.extra_unhashed.iter().cloned());
    let mut config = SignatureConfig::v4(o.typ, key.algorithm(), o.hash);
    config.hashed_subpackets = hashed;
    config.unhashed_subpackets = unhashed;
    let sig: Signature = config.sign(key, &Password::empty(), data).unwrap();
    DetachedSignature::new(sig).to_bytes().unwrap()
}

/// Armors signature packets as one `PGP SIGNATURE` block.
pub fn asc(packets: &[Vec<u8>]) -> Vec<u8> {
    pinwheel_trust::signature::enarmor(
        pinwheel_trust::signature::BlockKind::Signature,
        &packets.concat(),
    )
    .into_bytes()
}

/// A trust set of the given keys' certificates, with `pinned` pinned.
pub fn trust(all: &[&TestKey], pinned: &[&TestKey]) -> pinwheel_trust::signature::TrustSet {
    let certs = all
        .iter()
        .map(|k| {
            let text = k.public_armored();
            let mut certs = pinwheel_trust::signature::parse_key_file(
                text.as_bytes(),
                std::path::Path::new("test.asc"),
            )
            .unwrap();
            certs.remove(0)
        })
        .collect();
    let pins: Vec<String> = pinned.iter().map(|k| k.fingerprint()).collect();
    pinwheel_trust::signature::TrustSet::pinned(certs, &pins).unwrap()
}
