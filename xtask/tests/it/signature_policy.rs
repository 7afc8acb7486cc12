//! The OpenPGP signature policy (`pinwheel_trust::signature`) against keys and
//! signatures made here with rPGP, at fixed times: every rule has a good
//! case and the bad cases beside it, each asserting its typed reason.

use crate::support::keys;

use keys::{asc, make, trust, SigOpts, Spec, SubSpec, DAY, T0};
use pgp::composed::KeyType;
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{RevocationCode, SignatureType, Subpacket, SubpacketData};
use pinwheel_trust::signature::{
    verify_detached, verify_threshold, ArmorError, KeyProblem, Reason, SignatureError, TrustSet,
    CLOCK_SKEW_SECS,
};
use time::OffsetDateTime;

const DATA: &[u8] = b"# pinwheel-list: 1\n0000  files/a.whl\n";

fn at(secs: u32) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(i64::from(secs)).unwrap()
}

fn now() -> OffsetDateTime {
    at(T0 + 10 * DAY)
}

fn bad_reason(
    result: Result<pinwheel_trust::signature::Verified, SignatureError>,
) -> (usize, Reason) {
    match result {
        Err(SignatureError::Bad { index, reason }) => (index, reason),
        other => panic!("expected a bad signature, got {other:?}"),
    }
}

fn alice() -> keys::TestKey {
    make(&Spec::ed25519(1, "Alice"))
}

fn bob() -> keys::TestKey {
    make(&Spec::ed25519(2, "Bob").with_signing_subkey())
}

#[test]
fn good_primary_signature() {
    let alice = alice();
    let sig = alice.sign(DATA, &SigOpts::at(T0 + DAY));
    let verified =
        verify_threshold(DATA, &asc(&[sig]), &trust(&[&alice], &[&alice]), 1, now()).unwrap();
    assert_eq!(verified.signatures.len(), 1);
    let good = &verified.signatures[0];
    assert_eq!(good.primary, alice.fingerprint());
    assert_eq!(good.signing_key, alice.fingerprint());
    assert_eq!(good.created, u64::from(T0 + DAY));
    assert!(good.notes.is_empty());
    assert!(!good.demo);
}

#[test]
fn good_subkey_signature_counts_for_its_primary() {
    let bob = bob();
    let sig = bob.sign(DATA, &SigOpts::at(T0 + DAY).subkey());
    let verified = verify_detached(DATA, &asc(&[sig]), &trust(&[&bob], &[&bob]), now()).unwrap();
    assert_eq!(verified.signatures[0].primary, bob.fingerprint());
    assert_ne!(verified.signatures[0].signing_key, bob.fingerprint());
}

#[test]
fn two_keys_meet_threshold_two_and_duplicates_count_once() {
    let (alice, bob) = (alice(), bob());
    let a = alice.sign(DATA, &SigOpts::at(T0 + DAY));
    let b = bob.sign(DATA, &SigOpts::at(T0 + DAY).subkey());
    let set = trust(&[&alice, &bob], &[&alice, &bob]);
    let verified =
        verify_threshold(DATA, &asc(&[a.clone(), b, a.clone()]), &set, 2, now()).unwrap();
    assert_eq!(
        verified.signatures.len(),
        2,
        "a repeated packet is kept once"
    );
    let only_alice_twice = verify_threshold(DATA, &asc(&[a.clone(), a]), &set, 2, now());
    assert_eq!(
        only_alice_twice.unwrap_err(),
        SignatureError::Threshold {
            found: 1,
            required: 2
        }
    );
}

#[test]
fn adversarial_threshold_two_met_only_by_primary_and_own_subkey() {
    let mut spec = Spec::ed25519(3, "Carol").with_signing_subkey();
    spec.primary_can_sign = true;
    let carol = make(&spec);
    let by_primary = carol.sign(DATA, &SigOpts::at(T0 + DAY));
    let by_subkey = carol.sign(DATA, &SigOpts::at(T0 + DAY).subkey());
    let set = trust(&[&carol], &[&carol]);
    let verified = verify_detached(
        DATA,
        &asc(&[by_primary.clone(), by_subkey.clone()]),
        &set,
        now(),
    )
    .unwrap();
    assert_eq!(verified.signatures.len(), 2);
    assert_eq!(verified.signers().len(), 1);
    let err = verify_threshold(DATA, &asc(&[by_primary, by_subkey]), &set, 2, now()).unwrap_err();
    assert_eq!(
        err,
        SignatureError::Threshold {
            found: 1,
            required: 2
        }
    );
}

#[test]
fn adversarial_two_good_and_one_bad() {
    let (alice, bob) = (alice(), bob());
    let a = alice.sign(DATA, &SigOpts::at(T0 + DAY));
    let b = bob.sign(DATA, &SigOpts::at(T0 + DAY).subkey());
    let other = alice.sign(b"another list", &SigOpts::at(T0 + 2 * DAY));
    let set = trust(&[&alice, &bob], &[&alice, &bob]);
    let (index, reason) = bad_reason(verify_threshold(DATA, &asc(&[a, b, other]), &set, 1, now()));
    assert_eq!(index, 3);
    assert!(matches!(reason, Reason::OtherData { .. }), "{reason}");
}

#[test]
fn adversarial_one_byte_flipped_in_the_data() {
    let alice = alice();
    let sig = alice.sign(DATA, &SigOpts::at(T0 + DAY));
    let mut data = DATA.to_vec();
    data[5] ^= 1;
    let (_, reason) = bad_reason(verify_detached(
        &data,
        &asc(&[sig]),
        &trust(&[&alice], &[&alice]),
        now(),
    ));
    assert_eq!(
        reason,
        Reason::OtherData {
            key: alice.fingerprint()
        }
    );
    // Said in words, not as rPGP's assertion on the digest's first octets.
    let message = reason.to_string();
    assert!(
        message.contains("the file changed after it was signed") && !message.contains("assertion"),
        "{message}"
    );
}

#[test]
fn adversarial_signature_value_altered() {
    // The digest matches the data (its first octets are intact) but the
    // signature value does not verify: a cryptographic failure, not
    // "other data".
    let alice = alice();
    let mut sig = alice.sign(DATA, &SigOpts::at(T0 + DAY));
    let last = sig.len() - 1;
    sig[last] ^= 1;
    let (_, reason) = bad_reason(verify_detached(
        DATA,
        &asc(&[sig]),
        &trust(&[&alice], &[&alice]),
        now(),
    ));
    assert!(
        matches!(reason, Reason::Cryptographic { ref key, .. } if *key == alice.fingerprint()),
        "{reason}"
    );
}

#[test]
fn adversarial_key_present_but_not_pinned() {
    let (alice, mallory) = (alice(), make(&Spec::ed25519(66, "Mallory")));
    let sig = mallory.sign(DATA, &SigOpts::at(T0 + DAY));
    let set = trust(&[&alice, &mallory], &[&alice]);
    let (_, reason) = bad_reason(verify_detached(DATA, &asc(&[sig]), &set, now()));
    assert_eq!(reason, Reason::NotPinned(mallory.fingerprint()));
}

#[test]
fn adversarial_unknown_key() {
    let (alice, mallory) = (alice(), make(&Spec::ed25519(66, "Mallory")));
    let sig = mallory.sign(DATA, &SigOpts::at(T0 + DAY));
    let (_, reason) = bad_reason(verify_detached(
        DATA,
        &asc(&[sig]),
        &trust(&[&alice], &[&alice]),
        now(),
    ));
    assert_eq!(reason, Reason::UnknownKey(mallory.fingerprint()));
}

/// Mallory signs and claims (in the hashed area, so it is authentic) the key
/// ID of a pinned key next to her own fingerprint.
#[test]
fn adversarial_issuer_key_id_of_pinned_key_with_other_fingerprint() {
    let (alice, mallory) = (alice(), make(&Spec::ed25519(66, "Mallory")));
    let alice_id = alice.public.primary_key.legacy_key_id();
    let mut opts = SigOpts::at(T0 + DAY);
    opts.issuer_id = false;
    opts.extra_hashed = vec![Subpacket::regular(SubpacketData::IssuerKeyId(alice_id)).unwrap()];
    let sig = mallory.sign(DATA, &opts);
    let (_, reason) = bad_reason(verify_detached(
        DATA,
        &asc(&[sig]),
        &trust(&[&alice], &[&alice]),
        now(),
    ));
    assert!(matches!(reason, Reason::InconsistentIssuer(_)), "{reason}");
}

/// Mallory's signature names only the pinned key's ID: it is checked
/// against that key and fails.
#[test]
fn adversarial_issuer_key_id_only_points_at_pinned_key() {
    use pgp::types::KeyDetails;
    let (alice, mallory) = (alice(), make(&Spec::ed25519(66, "Mallory")));
    let mut opts = SigOpts::at(T0 + DAY);
    opts.issuer_fp = false;
    opts.issuer_id = false;
    opts.extra_unhashed = vec![Subpacket::regular(SubpacketData::IssuerKeyId(
        alice.public.primary_key.legacy_key_id(),
    ))
    .unwrap()];
    let sig = mallory.sign(DATA, &opts);
    let (_, reason) = bad_reason(verify_detached(
        DATA,
        &asc(&[sig]),
        &trust(&[&alice], &[&alice]),
        now(),
    ));
    assert!(
        matches!(reason, Reason::Cryptographic { ref key, .. } if *key == alice.fingerprint()),
        "{reason}"
    );
}

/// A genuine signature whose unhashed issuer key ID was tampered with.
#[test]
fn adversarial_unhashed_issuer_tampered() {
    use pgp::types::KeyDetails;
    let (alice, mallory) = (alice(), make(&Spec::ed25519(66, "Mallory")));
    let mut opts = SigOpts::at(T0 + DAY);
    opts.issuer_id = false;
    opts.extra_unhashed = vec![Subpacket::regular(SubpacketData::IssuerKeyId(
        mallory.public.primary_key.legacy_key_id(),
    ))
    .unwrap()];
    let sig = alice.sign(DATA, &opts);
    let (_, reason) = bad_reason(verify_detached(
        DATA,
        &asc(&[sig]),
        &trust(&[&alice], &[&alice]),
        now(),
    ));
    assert!(matches!(reason, Reason::InconsistentIssuer(_)), "{reason}");
}

#[test]
fn adversarial_no_issuer() {
    let alice = alice();
    let mut opts = SigOpts::at(T0 + DAY);
    opts.issuer_fp = false;
    opts.issuer_id = false;
    let sig = alice.sign(DATA, &opts);
    let (_, reason) = bad_reason(verify_detached(
        DATA,
        &asc(&[sig]),
        &trust(&[&alice], &[&alice]),
        now(),
    ));
    assert_eq!(reason, Reason::NoIssuer);
}

#[test]
fn adversarial_expired_key() {
    let mut spec = Spec::ed25519(4, "Dave");
    spec.expires_after = Some(2 * DAY);
    let dave = make(&spec);
    let set = trust(&[&dave], &[&dave]);
    let late = dave.sign(DATA, &SigOpts::at(T0 + 3 * DAY));
    let (_, reason) = bad_reason(verify_detached(DATA, &asc(&[late]), &set, now()));
    assert_eq!(
        reason,
        Reason::Key {
            key: dave.fingerprint(),
            problem: KeyProblem::Expired(u64::from(T0 + 2 * DAY))
        }
    );
    // Signed while valid, checked after expiry: accepted, with a note.
    let early = dave.sign(DATA, &SigOpts::at(T0 + DAY));
    let verified = verify_detached(DATA, &asc(std::slice::from_ref(&early)), &set, now()).unwrap();
    assert_eq!(
        verified.signatures[0].notes.len(),
        1,
        "{:?}",
        verified.signatures[0].notes
    );
    assert!(
        verified.signatures[0].notes[0].contains("expired"),
        "{:?}",
        verified.signatures[0].notes
    );
    // Before expiry there is nothing to say.
    let verified = verify_detached(DATA, &asc(&[early]), &set, at(T0 + DAY + 60)).unwrap();
    assert!(verified.signatures[0].notes.is_empty());
}

#[test]
fn adversarial_expired_subkey() {
    let mut spec = Spec::ed25519(5, "Erin").with_signing_subkey();
    spec.subkey.as_mut().unwrap().expires_after = Some(DAY);
    let erin = make(&spec);
    let sig = erin.sign(DATA, &SigOpts::at(T0 + 2 * DAY).subkey());
    let (_, reason) = bad_reason(verify_detached(
        DATA,
        &asc(&[sig]),
        &trust(&[&erin], &[&erin]),
        now(),
    ));
    assert!(
        matches!(
            reason,
            Reason::Key {
                problem: KeyProblem::Expired(_),
                ..
            }
        ),
        "{reason}"
    );
}

#[test]
fn adversarial_hard_revoked_key_fatal_even_for_older_signatures() {
    let mut spec = Spec::ed25519(6, "Frank");
    spec.revoked = Some((RevocationCode::KeyCompromised, T0 + 5 * DAY));
    let frank = make(&spec);
    let sig = frank.sign(DATA, &SigOpts::at(T0 + DAY));
    let (_, reason) = bad_reason(verify_detached(
        DATA,
        &asc(&[sig]),
        &trust(&[&frank], &[&frank]),
        now(),
    ));
    assert!(
        matches!(
            reason,
            Reason::Key {
                problem: KeyProblem::HardRevoked(_),
                ..
            }
        ),
        "{reason}"
    );
}

#[test]
fn adversarial_revocation_without_reason_is_hard() {
    let mut spec = Spec::ed25519(7, "Grace");
    spec.revoked = Some((RevocationCode::NoReason, T0 + 5 * DAY));
    let grace = make(&spec);
    let sig = grace.sign(DATA, &SigOpts::at(T0 + DAY));
    let (_, reason) = bad_reason(verify_detached(
        DATA,
        &asc(&[sig]),
        &trust(&[&grace], &[&grace]),
        now(),
    ));
    assert!(
        matches!(
            reason,
            Reason::Key {
                problem: KeyProblem::HardRevoked(_),
                ..
            }
        ),
        "{reason}"
    );
}

#[test]
fn soft_revocation_applies_from_its_time_on() {
    let mut spec = Spec::ed25519(8, "Heidi");
    spec.revoked = Some((RevocationCode::KeyRetired, T0 + 5 * DAY));
    let heidi = make(&spec);
    let set = trust(&[&heidi], &[&heidi]);
    let before = heidi.sign(DATA, &SigOpts::at(T0 + DAY));
    let verified = verify_detached(DATA, &asc(&[before]), &set, now()).unwrap();
    assert!(
        verified.signatures[0]
            .notes
            .iter()
            .any(|n| n.contains("revoked")),
        "{:?}",
        verified.signatures[0].notes
    );
    let after = heidi.sign(DATA, &SigOpts::at(T0 + 6 * DAY));
    let (_, reason) = bad_reason(verify_detached(DATA, &asc(&[after]), &set, now()));
    assert!(
        matches!(
            reason,
            Reason::Key {
                problem: KeyProblem::SoftRevoked { .. },
                ..
            }
        ),
        "{reason}"
    );
}

#[test]
fn adversarial_revoked_subkey() {
    let mut spec = Spec::ed25519(9, "Ivan").with_signing_subkey();
    spec.subkey.as_mut().unwrap().revoked = Some((RevocationCode::KeyCompromised, T0 + 5 * DAY));
    let ivan = make(&spec);
    let sig = ivan.sign(DATA, &SigOpts::at(T0 + DAY).subkey());
    let (_, reason) = bad_reason(verify_detached(
        DATA,
        &asc(&[sig]),
        &trust(&[&ivan], &[&ivan]),
        now(),
    ));
    assert!(
        matches!(
            reason,
            Reason::Key {
                problem: KeyProblem::HardRevoked(_),
                ..
            }
        ),
        "{reason}"
    );
}

#[test]
fn adversarial_subkey_without_back_signature() {
    let mut spec = Spec::ed25519(10, "Judy").with_signing_subkey();
    spec.subkey = Some(SubSpec {
        created: T0,
        expires_after: None,
        backsig: false,
        revoked: None,
    });
    let judy = make(&spec);
    let sig = judy.sign(DATA, &SigOpts::at(T0 + DAY).subkey());
    let (_, reason) = bad_reason(verify_detached(
        DATA,
        &asc(&[sig]),
        &trust(&[&judy], &[&judy]),
        now(),
    ));
    assert!(
        matches!(
            reason,
            Reason::Key {
                problem: KeyProblem::MissingBackSignature,
                ..
            }
        ),
        "{reason}"
    );
}

#[test]
fn adversarial_primary_without_signing_flag() {
    let bob = bob(); // certification-only primary
    let sig = bob.sign(DATA, &SigOpts::at(T0 + DAY));
    let (_, reason) = bad_reason(verify_detached(
        DATA,
        &asc(&[sig]),
        &trust(&[&bob], &[&bob]),
        now(),
    ));
    assert!(
        matches!(
            reason,
            Reason::Key {
                problem: KeyProblem::NotSigningCapable,
                ..
            }
        ),
        "{reason}"
    );
}

#[test]
fn adversarial_sha1_self_signature_does_not_bind() {
    let mut spec = Spec::ed25519(11, "Ken");
    spec.kind = KeyType::Rsa(2048);
    spec.self_sig_hash = HashAlgorithm::Sha1;
    let ken = make(&spec);
    let sig = ken.sign(DATA, &SigOpts::at(T0 + DAY));
    let (_, reason) = bad_reason(verify_detached(
        DATA,
        &asc(&[sig]),
        &trust(&[&ken], &[&ken]),
        now(),
    ));
    assert!(
        matches!(
            reason,
            Reason::Key {
                problem: KeyProblem::NoSelfSignature,
                ..
            }
        ),
        "{reason}"
    );
}

#[test]
fn adversarial_signature_older_than_the_key() {
    let mut spec = Spec::ed25519(12, "Leo");
    spec.created = T0 + DAY;
    let leo = make(&spec);
    let sig = leo.sign(DATA, &SigOpts::at(T0));
    let (_, reason) = bad_reason(verify_detached(
        DATA,
        &asc(&[sig]),
        &trust(&[&leo], &[&leo]),
        now(),
    ));
    assert!(
        matches!(
            reason,
            Reason::Key {
                problem: KeyProblem::CreatedAfterSignature,
                ..
            }
        ),
        "{reason}"
    );
}

/// An RSA key: rPGP refuses to make SHA-1 signatures with Ed25519 at all.
fn rsa_key(seed: u64) -> keys::TestKey {
    let mut spec = Spec::ed25519(seed, "Rita");
    spec.kind = KeyType::Rsa(2048);
    make(&spec)
}

#[test]
fn adversarial_sha1_md5_and_sha224_signatures() {
    let rita = rsa_key(20);
    let set = trust(&[&rita], &[&rita]);
    verify_detached(
        DATA,
        &asc(&[rita.sign(DATA, &SigOpts::at(T0 + DAY))]),
        &set,
        now(),
    )
    .unwrap();
    for (hash, name) in [
        (HashAlgorithm::Sha1, "SHA1"),
        (HashAlgorithm::Md5, "MD5"),
        (HashAlgorithm::Sha224, "SHA224"),
    ] {
        let mut opts = SigOpts::at(T0 + DAY);
        opts.hash = hash;
        let sig = rita.sign(DATA, &opts);
        let (_, reason) = bad_reason(verify_detached(DATA, &asc(&[sig]), &set, now()));
        assert_eq!(reason, Reason::WeakHash(name.to_owned()));
    }
}

#[test]
fn stronger_hashes_are_accepted() {
    let alice = alice();
    let mut opts = SigOpts::at(T0 + DAY);
    opts.hash = HashAlgorithm::Sha512;
    let sig = alice.sign(DATA, &opts);
    verify_detached(DATA, &asc(&[sig]), &trust(&[&alice], &[&alice]), now()).unwrap();
}

#[test]
fn adversarial_creation_time_in_the_future() {
    let alice = alice();
    let set = trust(&[&alice], &[&alice]);
    let now_secs = T0 + 10 * DAY;
    let sig = alice.sign(DATA, &SigOpts::at(now_secs + 3600));
    let (_, reason) = bad_reason(verify_detached(DATA, &asc(&[sig]), &set, now()));
    assert_eq!(
        reason,
        Reason::FutureCreationTime {
            created: u64::from(now_secs + 3600),
            now: u64::from(now_secs)
        }
    );
    // Within the clock-skew allowance: accepted.
    let skewed = alice.sign(DATA, &SigOpts::at(now_secs + CLOCK_SKEW_SECS as u32 - 1));
    verify_detached(DATA, &asc(&[skewed]), &set, now()).unwrap();
}

#[test]
fn adversarial_no_creation_time() {
    let alice = alice();
    let mut opts = SigOpts::at(0);
    opts.created = None;
    let sig = alice.sign(DATA, &opts);
    let (_, reason) = bad_reason(verify_detached(
        DATA,
        &asc(&[sig]),
        &trust(&[&alice], &[&alice]),
        now(),
    ));
    assert_eq!(reason, Reason::NoCreationTime);
}

#[test]
fn adversarial_creation_time_only_unhashed() {
    let alice = alice();
    let mut opts = SigOpts::at(0);
    opts.created = None;
    opts.extra_unhashed = vec![Subpacket::regular(SubpacketData::SignatureCreationTime(
        pgp::types::Timestamp::from_secs(T0 + DAY),
    ))
    .unwrap()];
    let sig = alice.sign(DATA, &opts);
    let (_, reason) = bad_reason(verify_detached(
        DATA,
        &asc(&[sig]),
        &trust(&[&alice], &[&alice]),
        now(),
    ));
    assert_eq!(reason, Reason::NoCreationTime);
}

#[test]
fn adversarial_expired_signature() {
    let alice = alice();
    let mut opts = SigOpts::at(T0 + DAY);
    opts.extra_hashed = vec![Subpacket::regular(SubpacketData::SignatureExpirationTime(
        pgp::types::Duration::from_secs(DAY),
    ))
    .unwrap()];
    let sig = alice.sign(DATA, &opts);
    let (_, reason) = bad_reason(verify_detached(
        DATA,
        &asc(&[sig]),
        &trust(&[&alice], &[&alice]),
        now(),
    ));
    assert_eq!(reason, Reason::Expired(u64::from(T0 + 2 * DAY)));
}

#[test]
fn adversarial_unknown_critical_subpacket() {
    let alice = alice();
    let mut opts = SigOpts::at(T0 + DAY);
    opts.extra_hashed = vec![
        Subpacket::critical(SubpacketData::Notation(pgp::packet::Notation {
            readable: true,
            name: "must-understand@example.org".into(),
            value: "x".into(),
        }))
        .unwrap(),
    ];
    let sig = alice.sign(DATA, &opts);
    let (_, reason) = bad_reason(verify_detached(
        DATA,
        &asc(&[sig]),
        &trust(&[&alice], &[&alice]),
        now(),
    ));
    assert_eq!(reason, Reason::UnknownCriticalSubpacket(20));
    // The same notation, not critical, is fine.
    let mut opts = SigOpts::at(T0 + DAY);
    opts.extra_hashed = vec![
        Subpacket::regular(SubpacketData::Notation(pgp::packet::Notation {
            readable: true,
            name: "fyi@example.org".into(),
            value: "x".into(),
        }))
        .unwrap(),
    ];
    let sig = alice.sign(DATA, &opts);
    verify_detached(DATA, &asc(&[sig]), &trust(&[&alice], &[&alice]), now()).unwrap();
}

#[test]
fn adversarial_text_mode_signature_over_crlf_copy() {
    let alice = alice();
    let crlf = String::from_utf8(DATA.to_vec())
        .unwrap()
        .replace('\n', "\r\n");
    let mut opts = SigOpts::at(T0 + DAY);
    opts.typ = SignatureType::Text;
    let sig = alice.sign(crlf.as_bytes(), &opts);
    // rPGP alone would accept it over the LF list (text mode normalizes line ends):
    let set = trust(&[&alice], &[&alice]);
    let (_, reason) = bad_reason(verify_detached(DATA, &asc(&[sig]), &set, now()));
    assert!(
        matches!(reason, Reason::NotBinary(ref t) if t.contains("text")),
        "{reason}"
    );
}

#[test]
fn adversarial_other_signature_types() {
    let alice = alice();
    let sig = alice.sign(DATA, &SigOpts::at(T0 + DAY));
    // new-format header with a one-octet length, then version, type
    assert_eq!((sig[0], sig[2], sig[3]), (0xC2, 4, 0x00));
    for typ in [0x02u8, 0x40, 0x13] {
        let mut other = sig.clone();
        other[3] = typ;
        let (_, reason) = bad_reason(verify_detached(
            DATA,
            &asc(&[other]),
            &trust(&[&alice], &[&alice]),
            now(),
        ));
        assert!(matches!(reason, Reason::NotBinary(_)), "{reason}");
    }
}

#[test]
fn adversarial_cleartext_signed_message() {
    let alice = alice();
    let text = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nhello\n-----BEGIN PGP SIGNATURE-----\n\n\
                iHUEARYIAB0WIQ==\n-----END PGP SIGNATURE-----\n";
    let err =
        verify_detached(DATA, text.as_bytes(), &trust(&[&alice], &[&alice]), now()).unwrap_err();
    assert_eq!(
        err,
        SignatureError::NotDetached("a cleartext-signed message")
    );
}

#[test]
fn adversarial_inline_signed_message() {
    let alice = alice();
    let set = trust(&[&alice], &[&alice]);
    // An armored PGP MESSAGE block.
    let msg = pinwheel_trust::signature::enarmor(
        pinwheel_trust::signature::BlockKind::Message,
        &[0xCB, 1, 0],
    );
    assert!(matches!(
        verify_detached(DATA, msg.as_bytes(), &set, now()),
        Err(SignatureError::NotDetached(_))
    ));
    // Signature armor holding a literal data packet next to the signature.
    let sig = alice.sign(DATA, &SigOpts::at(T0 + DAY));
    let mut packets = vec![0xCB, 7, b'b', 0, 0, 0, 0, 0, b'x'];
    packets.extend(sig);
    let armored = pinwheel_trust::signature::enarmor(
        pinwheel_trust::signature::BlockKind::Signature,
        &packets,
    );
    assert!(matches!(
        verify_detached(DATA, armored.as_bytes(), &set, now()),
        Err(SignatureError::NotDetached(_))
    ));
}

#[test]
fn adversarial_mangled_armor() {
    let alice = alice();
    let set = trust(&[&alice], &[&alice]);
    let good = String::from_utf8(asc(&[alice.sign(DATA, &SigOpts::at(T0 + DAY))])).unwrap();
    verify_detached(DATA, good.as_bytes(), &set, now()).unwrap();

    let crc_line = good.lines().find(|l| l.starts_with('=')).unwrap();
    let bad_crc = good.replace(crc_line, "=AAAA");
    assert!(matches!(
        verify_detached(DATA, bad_crc.as_bytes(), &set, now()),
        Err(SignatureError::Armor(ArmorError::BadChecksum { .. }))
    ));
    let no_footer = good.replace("-----END PGP SIGNATURE-----\n", "");
    assert!(matches!(
        verify_detached(DATA, no_footer.as_bytes(), &set, now()),
        Err(SignatureError::Armor(ArmorError::MissingFooter(_)))
    ));
    let trailing = format!("{good}trailing garbage\n");
    assert!(matches!(
        verify_detached(DATA, trailing.as_bytes(), &set, now()),
        Err(SignatureError::Armor(ArmorError::TrailingGarbage(_)))
    ));
    // One base64 character changed (the CRC catches it).
    let body_line = good.lines().nth(2).unwrap();
    let mut flipped = body_line.as_bytes().to_vec();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    let flipped = good.replace(body_line, std::str::from_utf8(&flipped).unwrap());
    assert!(matches!(
        verify_detached(DATA, flipped.as_bytes(), &set, now()),
        Err(SignatureError::Armor(ArmorError::BadChecksum { .. }))
    ));
}

#[test]
fn adversarial_oversized_signature_file() {
    let alice = alice();
    let big = vec![b'A'; 2 * 1024 * 1024];
    let err = verify_detached(DATA, &big, &trust(&[&alice], &[&alice]), now()).unwrap_err();
    assert!(matches!(err, SignatureError::TooLarge { .. }), "{err}");
}

#[test]
fn adversarial_empty_armor() {
    let alice = alice();
    let empty = "-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----\n";
    let err =
        verify_detached(DATA, empty.as_bytes(), &trust(&[&alice], &[&alice]), now()).unwrap_err();
    assert!(
        matches!(err, SignatureError::Armor(ArmorError::Empty)),
        "{err}"
    );
}

#[test]
fn pins_must_be_full_primary_fingerprints() {
    let bob = bob();
    let certs = || {
        pinwheel_trust::signature::parse_key_file(
            bob.public_armored().as_bytes(),
            std::path::Path::new("bob.asc"),
        )
        .unwrap()
    };
    let fp = bob.fingerprint();
    assert!(TrustSet::pinned(certs(), std::slice::from_ref(&fp)).is_ok());
    let spaced: String = fp
        .chars()
        .collect::<Vec<_>>()
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(TrustSet::pinned(certs(), &[spaced.to_lowercase()]).is_ok());
    let key_id = fp[24..].to_owned();
    let err = TrustSet::pinned(certs(), &[key_id])
        .unwrap_err()
        .to_string();
    assert!(err.contains("key ID"), "{err}");
    let sub_fp = hex::encode_upper(bob.public.public_subkeys[0].key.fingerprint().as_bytes());
    let err = TrustSet::pinned(certs(), &[sub_fp])
        .unwrap_err()
        .to_string();
    assert!(err.contains("subkey"), "{err}");
    let err = TrustSet::pinned(certs(), &["0".repeat(40)])
        .unwrap_err()
        .to_string();
    assert!(err.contains("no key"), "{err}");
}

#[test]
fn demo_keys_are_marked() {
    let demo = make(&Spec {
        uid: "pinwheel demo maintainer (DEMO ONLY, secret key is public)".into(),
        ..Spec::ed25519(14, "x")
    });
    let sig = demo.sign(DATA, &SigOpts::at(T0 + DAY));
    let verified = verify_detached(DATA, &asc(&[sig]), &trust(&[&demo], &[&demo]), now()).unwrap();
    assert!(verified.signatures[0].demo);
    assert_eq!(verified.demo_signers().len(), 1);
}

#[test]
fn adversarial_secret_key_in_keys_directory() {
    let alice = alice();
    let err = pinwheel_trust::signature::parse_key_file(
        alice.secret_armored().as_bytes(),
        std::path::Path::new("a.asc"),
    )
    .unwrap_err();
    assert_eq!(err, pinwheel_trust::signature::KeyFileError::SecretKey);
}

use pgp::types::KeyDetails as _;

// ---- signatures made apart, combined with `cat a.asc b.asc` -------------

/// One armored block per signature, concatenated as `cat` does.
fn cat(blocks: &[Vec<u8>]) -> Vec<u8> {
    blocks
        .iter()
        .flat_map(|p| asc(std::slice::from_ref(p)))
        .collect()
}

#[test]
fn concatenated_armor_blocks_meet_threshold_two() {
    let (alice, bob) = (alice(), bob());
    let a = alice.sign(DATA, &SigOpts::at(T0 + DAY));
    let b = bob.sign(DATA, &SigOpts::at(T0 + DAY).subkey());
    let set = trust(&[&alice, &bob], &[&alice, &bob]);
    let verified = verify_threshold(DATA, &cat(&[a.clone(), b]), &set, 2, now()).unwrap();
    assert_eq!(verified.signers().len(), 2);
    // The same block twice is one signature.
    let twice = verify_detached(DATA, &cat(&[a.clone(), a]), &set, now()).unwrap();
    assert_eq!(twice.signatures.len(), 1);
}

#[test]
fn adversarial_bad_signature_in_a_second_block_fails_all() {
    let (alice, bob) = (alice(), bob());
    let a = alice.sign(DATA, &SigOpts::at(T0 + DAY));
    let other = bob.sign(b"another list", &SigOpts::at(T0 + DAY).subkey());
    let set = trust(&[&alice, &bob], &[&alice, &bob]);
    // Alice's good signature alone would meet threshold 1; Bob's bad one fails the file.
    let (index, reason) = bad_reason(verify_threshold(DATA, &cat(&[a, other]), &set, 1, now()));
    assert_eq!(index, 2);
    assert!(matches!(reason, Reason::OtherData { .. }), "{reason}");
}

#[test]
fn adversarial_text_or_other_blocks_between_signature_blocks() {
    let (alice, bob) = (alice(), bob());
    let a = String::from_utf8(asc(&[alice.sign(DATA, &SigOpts::at(T0 + DAY))])).unwrap();
    let b = String::from_utf8(asc(&[bob.sign(DATA, &SigOpts::at(T0 + DAY).subkey())])).unwrap();
    let set = trust(&[&alice, &bob], &[&alice, &bob]);
    let garbage = format!("{a}not armor\n{b}");
    assert!(matches!(
        verify_detached(DATA, garbage.as_bytes(), &set, now()),
        Err(SignatureError::Armor(ArmorError::TrailingGarbage(_)))
    ));
    let message = pinwheel_trust::signature::enarmor(
        pinwheel_trust::signature::BlockKind::Message,
        &[0xCB, 1, 0],
    );
    let with_message = format!("{a}{message}");
    assert_eq!(
        verify_detached(DATA, with_message.as_bytes(), &set, now()).unwrap_err(),
        SignatureError::NotDetached("an OpenPGP message (inline signature)")
    );
    let with_key = format!("{a}{}", alice.public_armored());
    assert_eq!(
        verify_detached(DATA, with_key.as_bytes(), &set, now()).unwrap_err(),
        SignatureError::NotDetached("a key block")
    );
    // A packet cut across two blocks: each block must frame on its own.
    let packet = alice.sign(DATA, &SigOpts::at(T0 + DAY));
    let (head, tail) = packet.split_at(packet.len() / 2);
    let split = format!(
        "{}{}",
        pinwheel_trust::signature::enarmor(pinwheel_trust::signature::BlockKind::Signature, head),
        pinwheel_trust::signature::enarmor(pinwheel_trust::signature::BlockKind::Signature, tail)
    );
    assert!(matches!(
        verify_detached(DATA, split.as_bytes(), &set, now()),
        Err(SignatureError::Packets(_))
    ));
}

// ---- key expiry: at signing time and now -------------------------------

/// Gives `key` a new User ID self-certification made at `at` with the
/// given expiry (seconds after the key's creation; `None`: none), as
/// `gpg --quick-set-expire` does.
fn rebind(key: &mut keys::TestKey, at: u32, expires_after: Option<u32>) {
    use pgp::packet::{KeyFlags, SignatureConfig};
    use pgp::types::{Duration, Password, Tag, Timestamp};
    let primary = &key.secret.primary_key;
    let mut flags = KeyFlags::default();
    flags.set_certify(true);
    flags.set_sign(true);
    let mut hashed = vec![
        Subpacket::regular(SubpacketData::SignatureCreationTime(Timestamp::from_secs(
            at,
        )))
        .unwrap(),
        Subpacket::regular(SubpacketData::KeyFlags(flags)).unwrap(),
        Subpacket::regular(SubpacketData::IssuerFingerprint(primary.fingerprint())).unwrap(),
    ];
    if let Some(e) = expires_after {
        hashed.push(
            Subpacket::regular(SubpacketData::KeyExpirationTime(Duration::from_secs(e))).unwrap(),
        );
    }
    let mut config = SignatureConfig::v4(
        SignatureType::CertPositive,
        primary.algorithm(),
        HashAlgorithm::Sha256,
    );
    config.hashed_subpackets = hashed;
    let user = &mut key.public.details.users[0];
    let sig = config
        .sign_certification(
            primary,
            primary.public_key(),
            &Password::empty(),
            Tag::UserId,
            &user.id,
        )
        .unwrap();
    user.signatures.push(sig);
}

fn expiring(
    set: &TrustSet,
    at_secs: u32,
    within_days: u32,
) -> Vec<pinwheel_trust::verify::KeyExpiry> {
    pinwheel_trust::verify::expiring_keys(set, at(at_secs), within_days)
}

#[test]
fn key_expiring_within_the_window_then_expired() {
    let mut spec = Spec::ed25519(20, "Gina");
    spec.expires_after = Some(20 * DAY);
    let gina = make(&spec);
    let set = trust(&[&gina], &[&gina]);
    let sig = gina.sign(DATA, &SigOpts::at(T0 + DAY));

    // Ten days left: inside a 30-day window, outside a 5-day one.
    let soon = expiring(&set, T0 + 10 * DAY, 30);
    assert_eq!(soon.len(), 1, "{soon:?}");
    assert_eq!(soon[0].primary, gina.fingerprint());
    assert_eq!(soon[0].expires, u64::from(T0 + 20 * DAY));
    assert_eq!(soon[0].days_left, Some(10));
    assert!(soon[0].to_string().contains("in 10 day(s)"), "{}", soon[0]);
    assert!(expiring(&set, T0 + 10 * DAY, 5).is_empty());
    let verified = verify_detached(DATA, &asc(std::slice::from_ref(&sig)), &set, now()).unwrap();
    assert!(verified.signatures[0].notes.is_empty());

    // Expired: listed whatever the window; the signature, made while the
    // key was valid, stays good with a note naming both expiries.
    let expired = expiring(&set, T0 + 25 * DAY, 0);
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].days_left, None);
    assert!(
        expired[0]
            .to_string()
            .contains("expired at 2023-12-04T22:13:20Z"),
        "{}",
        expired[0]
    );
    let verified = verify_detached(DATA, &asc(&[sig]), &set, at(T0 + 25 * DAY)).unwrap();
    let notes = &verified.signatures[0].notes;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains("expired at 2023-12-04T22:13:20Z (its expiry now")
            && notes[0].contains("at signing time: 2023-12-04T22:13:20Z"),
        "{notes:?}"
    );
}

#[test]
fn key_expired_since_by_a_newer_self_signature() {
    // Signed while the key had no expiry; four days later its owner set
    // one that has passed by now (as `gpg --quick-set-expire KEY 6d` does).
    let mut hana = make(&Spec::ed25519(21, "Hana"));
    let sig = hana.sign(DATA, &SigOpts::at(T0 + DAY));
    let before = trust(&[&hana], &[&hana]);
    assert!(expiring(&before, T0 + 10 * DAY, 30).is_empty());
    rebind(&mut hana, T0 + 5 * DAY, Some(6 * DAY));
    let set = trust(&[&hana], &[&hana]);

    // Still good (the key was fit when it signed), but now expired, and said so.
    let verified = verify_detached(DATA, &asc(std::slice::from_ref(&sig)), &set, now()).unwrap();
    let notes = &verified.signatures[0].notes;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains("expired at 2023-11-20T22:13:20Z (its expiry now, by its newest self-signature; at signing time: none)"),
        "{notes:?}"
    );
    let expired = expiring(&set, T0 + 10 * DAY, 30);
    assert_eq!(expired.len(), 1, "{expired:?}");
    assert_eq!(expired[0].expires, u64::from(T0 + 6 * DAY));
    assert_eq!(expired[0].days_left, None);
    // Before the new self-signature was made, the old binding still rules.
    assert!(expiring(&set, T0 + 4 * DAY, 0).is_empty());
    // A signature made after that expiry is refused, by the newer binding.
    let late = hana.sign(DATA, &SigOpts::at(T0 + 7 * DAY));
    let (_, reason) = bad_reason(verify_detached(DATA, &asc(&[late]), &set, now()));
    assert_eq!(
        reason,
        Reason::Key {
            key: hana.fingerprint(),
            problem: KeyProblem::Expired(u64::from(T0 + 6 * DAY))
        }
    );
}

#[test]
fn key_expiry_extended_since() {
    // Expired two days after creation, after it signed; extended later.
    let mut spec = Spec::ed25519(22, "Ines");
    spec.expires_after = Some(2 * DAY);
    let mut ines = make(&spec);
    let sig = ines.sign(DATA, &SigOpts::at(T0 + DAY));
    rebind(&mut ines, T0 + 3 * DAY, Some(400 * DAY));
    let set = trust(&[&ines], &[&ines]);
    let verified = verify_detached(DATA, &asc(&[sig]), &set, now()).unwrap();
    let notes = &verified.signatures[0].notes;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains("expired at 2023-11-16T22:13:20Z (its expiry at signing time)")
            && notes[0].contains("its expiry now: 2024-12-18T22:13:20Z"),
        "{notes:?}"
    );
    assert!(expiring(&set, T0 + 10 * DAY, 30).is_empty());
}

#[test]
fn key_expiry_counts_the_signing_subkeys() {
    // A certification-only primary that never expires, whose signing
    // subkey expires: the key can sign only until the subkey expires.
    let mut spec = Spec::ed25519(23, "Jo").with_signing_subkey();
    spec.subkey.as_mut().unwrap().expires_after = Some(20 * DAY);
    let jo = make(&spec);
    let set = trust(&[&jo], &[&jo]);
    let soon = expiring(&set, T0 + 10 * DAY, 30);
    assert_eq!(soon.len(), 1, "{soon:?}");
    assert_eq!(soon[0].expires, u64::from(T0 + 20 * DAY));
    // When the primary can sign too, the key can still sign after that.
    spec.primary_can_sign = true;
    let jo = make(&spec);
    assert!(expiring(&trust(&[&jo], &[&jo]), T0 + 10 * DAY, 30).is_empty());
    // A primary expiring first caps its subkey.
    let mut spec = Spec::ed25519(24, "Kim").with_signing_subkey();
    spec.expires_after = Some(12 * DAY);
    let kim = make(&spec);
    let soon = expiring(&trust(&[&kim], &[&kim]), T0 + 10 * DAY, 30);
    assert_eq!(soon[0].expires, u64::from(T0 + 12 * DAY));
    // A key that never expires is never listed, nor an unpinned one.
    let (alice, bob) = (alice(), bob());
    assert!(expiring(&trust(&[&alice, &kim], &[&alice]), T0 + 10 * DAY, 30).is_empty());
    assert!(expiring(&trust(&[&bob], &[&bob]), T0 + 10 * DAY, 36_500).is_empty());
}
