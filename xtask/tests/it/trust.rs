//! `sign`, `verify` and `verify-signature` end to end, with GnuPG and
//! Sequoia's `sqv` as real peers: GnuPG-made signatures verify with pinwheel,
//! pinwheel-made signatures verify with `gpg --verify` and `sqv`, and every
//! bad input is refused with its reason, exit code 1 and nothing
//! changed. GnuPG always runs in a throwaway `GNUPGHOME`.

use crate::support::gpg;
use crate::support::keys;
use crate::support::repo;

use std::path::Path;

use gpg::{Gpg, GpgKey};
use repo::Repo;
use time::OffsetDateTime;

/// A repository pinning one GnuPG Ed25519 key, with a valid list (version
/// 1) signed by it.
fn signed_repo() -> (Repo, Gpg, GpgKey) {
    let gpg = Gpg::new();
    let alice = gpg.gen(
        "Alice <alice@example.org>",
        "ed25519",
        "sign",
        "never",
        None,
    );
    let repo = Repo::new(&[&alice.fpr], 1);
    gpg.export_to(&alice, &repo.keys(), "alice");
    repo.write_valid_list(1);
    std::fs::write(repo.asc(), gpg.detach_sign(&alice, &repo.list(), &[])).unwrap();
    (repo, gpg, alice)
}

/// Signs the current list with GnuPG, replacing the `.asc`.
fn gpg_sign(repo: &Repo, gpg: &Gpg, key: &GpgKey, extra: &[&str]) {
    std::fs::write(repo.asc(), gpg.detach_sign(key, &repo.list(), extra)).unwrap();
}

fn sqv(keyrings: &[&Path], signatures: usize, repo: &Repo) -> (bool, String) {
    let mut args: Vec<String> = vec!["--signatures".into(), signatures.to_string()];
    for k in keyrings {
        args.push("--keyring".into());
        args.push(k.to_str().unwrap().into());
    }
    args.push(repo.asc().to_str().unwrap().into());
    args.push(repo.list().to_str().unwrap().into());
    crate::support::tools::need(&["sqv"]);
    let out = duct::cmd("sqv", &args)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Runs `verify` expecting refusal with `needle`, and checks that nothing
/// in the repository changed.
fn refused(repo: &Repo, args: &[&str], needle: &str) {
    let before = repo.snapshot();
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    repo.xtask(&all).refused(needle);
    assert_eq!(
        before,
        repo.snapshot(),
        "a refused verify changed the repository"
    );
}

// ---- interoperability -------------------------------------------------

#[test]
fn gnupg_signed_list_verifies() {
    let (repo, _gpg, alice) = signed_repo();
    let run = repo.xtask(&["verify"]);
    run.ok();
    assert!(
        run.stdout
            .contains(&format!("good signature from {}", alice.fpr)),
        "{run:#?}"
    );
    assert!(run.stdout.contains("3 file(s) match"), "{run:#?}");
    // The state file now records version 1 and the list's sha256.
    let state = std::fs::read_to_string(repo.state()).unwrap();
    assert!(state.starts_with("1 "), "{state}");
}

#[test]
fn sign_with_key_file_verifies_with_gpg_sqv_and_sha256sum() {
    let gpg = Gpg::new();
    let alice = gpg.gen(
        "Alice <alice@example.org>",
        "ed25519",
        "sign",
        "never",
        None,
    );
    let repo = Repo::new(&[&alice.fpr], 1);
    let public = gpg.export_to(&alice, &repo.keys(), "alice");
    let secret = repo.root().join("alice.secret.asc");
    std::fs::write(&secret, gpg.export_secret(&alice)).unwrap();
    let run = repo.xtask(&["sign", "--key", secret.to_str().unwrap()]);
    run.ok();
    assert!(run.stdout.contains("signed version 1"), "{run:#?}");
    let list = std::fs::read_to_string(repo.list()).unwrap();
    assert!(
        list.starts_with("# pinwheel-list: 1\n# version: 1\n# expires: "),
        "{list}"
    );
    assert!(list.contains("# scope: pinwheel/wheels-index\n"), "{list}");

    let (ok, stderr) = gpg.status(&[
        "--verify",
        repo.asc().to_str().unwrap(),
        repo.list().to_str().unwrap(),
    ]);
    assert!(ok && stderr.contains("Good signature"), "{stderr}");
    let (ok, out) = sqv(&[&public], 1, &repo);
    assert!(ok && out.contains(&alice.fpr), "{out}");
    let out = duct::cmd!("sha256sum", "--strict", "-c", "sha256sums.txt")
        .dir(repo.index())
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    repo.xtask(&["verify"]).ok();
}

#[test]
fn passphrase_protected_key_file() {
    let gpg = Gpg::new();
    let pw = ["--passphrase", "correct horse"];
    gpg.run(
        &[
            &pw[..],
            &[
                "--quick-gen-key",
                "Alice <alice@example.org>",
                "ed25519",
                "sign",
                "never",
            ],
        ]
        .concat(),
    );
    let listing =
        String::from_utf8(gpg.run(&["--with-colons", "--list-keys", "alice@example.org"])).unwrap();
    let fpr = listing
        .lines()
        .find(|l| l.starts_with("fpr:"))
        .unwrap()
        .split(':')
        .nth(9)
        .unwrap()
        .to_owned();
    let repo = Repo::new(&[&fpr], 1);
    std::fs::write(
        repo.keys().join("alice.asc"),
        gpg.run(&["--armor", "--export", &fpr]),
    )
    .unwrap();
    let secret = repo.root().join("alice.secret.asc");
    std::fs::write(
        &secret,
        gpg.run(&[&pw[..], &["--armor", "--export-secret-keys", &fpr]].concat()),
    )
    .unwrap();
    let args = ["sign", "--key", secret.to_str().unwrap()];
    let before = repo.snapshot();
    // No passphrase and stdin is not a terminal: a usage error, nothing written.
    let run = repo.xtask(&args);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr.contains("set PINWHEEL_KEY_PASSPHRASE"),
        "{run:#?}"
    );
    assert_eq!(before, repo.snapshot());
    // A wrong passphrase: refused, nothing written.
    let run = repo.xtask_env(&args, &[("PINWHEEL_KEY_PASSPHRASE", "wrong")]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("wrong passphrase?"), "{run:#?}");
    assert_eq!(before, repo.snapshot());
    // The right one.
    repo.xtask_env(&args, &[("PINWHEEL_KEY_PASSPHRASE", "correct horse")])
        .ok();
    repo.xtask(&["verify"]).ok();
}

#[test]
fn cosign_with_gnupg_rsa_subkey_meets_threshold_two() {
    let gpg = Gpg::new();
    let alice = gpg.gen(
        "Alice <alice@example.org>",
        "ed25519",
        "sign",
        "never",
        None,
    );
    let bob = gpg.gen("Bob <bob@example.org>", "rsa3072", "cert", "never", None);
    gpg.add_subkey(&bob, "rsa3072", "sign", None);
    let repo = Repo::new(&[&alice.fpr, &bob.fpr], 2);
    let a_pub = gpg.export_to(&alice, &repo.keys(), "alice");
    let b_pub = gpg.export_to(&bob, &repo.keys(), "bob");
    let secret = repo.root().join("alice.secret.asc");
    std::fs::write(&secret, gpg.export_secret(&alice)).unwrap();

    repo.xtask(&["sign", "--key", secret.to_str().unwrap()])
        .ok();
    // One of two: verify refuses with the threshold.
    refused(
        &repo,
        &[],
        "1 distinct pinned key(s) made good signatures, the threshold is 2",
    );
    let list_before = std::fs::read(repo.list()).unwrap();
    // Bob co-signs through his gpg (the list keeps its header).
    let run = repo.xtask_env(
        &["sign", "--gpg", &bob.fpr],
        &[("GNUPGHOME", gpg.home.path().to_str().unwrap())],
    );
    run.ok();
    assert!(
        run.stdout.contains("2 distinct signer(s), threshold 2"),
        "{run:#?}"
    );
    assert_eq!(
        list_before,
        std::fs::read(repo.list()).unwrap(),
        "co-signing rewrote the list"
    );
    let run = repo.xtask(&["verify"]);
    run.ok();
    assert!(
        run.stdout.contains("by subkey"),
        "Bob signs with his subkey: {run:#?}"
    );

    let (ok, stderr) = gpg.status(&[
        "--verify",
        repo.asc().to_str().unwrap(),
        repo.list().to_str().unwrap(),
    ]);
    assert_eq!(stderr.matches("Good signature").count(), 2, "{stderr}");
    assert!(ok);
    let (ok, out) = sqv(&[&a_pub, &b_pub], 2, &repo);
    assert!(ok, "{out}");

    // Alice signing again is refused and changes nothing.
    let before = repo.snapshot();
    let run = repo.xtask(&["sign", "--key", secret.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("already signed by"), "{run:#?}");
    assert_eq!(before, repo.snapshot());
}

#[test]
fn verify_signature_accepts_gnupg_rsa_signing_subkey() {
    let gpg = Gpg::new();
    let bob = gpg.gen("Bob <bob@example.org>", "rsa3072", "cert", "never", None);
    gpg.add_subkey(&bob, "rsa3072", "sign", None);
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    gpg.export_to(&bob, &keys, "bob");
    let file = dir.path().join("release.tar.gz");
    std::fs::write(&file, b"any file at all").unwrap();
    let sig = dir.path().join("release.tar.gz.asc");
    std::fs::write(&sig, gpg.detach_sign(&bob, &file, &[])).unwrap();
    let out = duct::cmd!(
        env!("CARGO_BIN_EXE_xtask"),
        "verify-signature",
        "--keys",
        &keys,
        &file,
        &sig
    )
    .stdout_capture()
    .stderr_capture()
    .unchecked()
    .run()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("good signature from {}", bob.fpr)),
        "{stdout}"
    );
    assert!(stdout.contains("by subkey"), "{stdout}");
}

#[test]
fn verify_signature_notes_a_key_that_expired_after_signing() {
    let gpg = Gpg::new();
    // Made 30 days ago, valid for 2 days; it signed on its first day.
    let past = (OffsetDateTime::now_utc() - time::Duration::days(30))
        .format(&time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]"
        ))
        .unwrap();
    let carol = gpg.gen(
        "Carol <carol@example.org>",
        "ed25519",
        "sign",
        "2d",
        Some(&past),
    );
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    gpg.export_to(&carol, &keys, "carol");
    let file = dir.path().join("f");
    std::fs::write(&file, b"x").unwrap();
    let sig = dir.path().join("f.asc");
    let fake = format!("{past}!");
    std::fs::write(
        &sig,
        gpg.detach_sign(&carol, &file, &["--faked-system-time", &fake]),
    )
    .unwrap();
    let out = duct::cmd!(
        env!("CARGO_BIN_EXE_xtask"),
        "verify-signature",
        "--keys",
        &keys,
        &file,
        &sig
    )
    .stdout_capture()
    .stderr_capture()
    .unchecked()
    .run()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("note: key") && stdout.contains("expired"),
        "{stdout}"
    );
}

// ---- bad inputs -------------------------------------------------------

#[test]
fn adversarial_one_byte_flipped_in_the_list() {
    let (repo, _gpg, _) = signed_repo();
    let mut list = std::fs::read(repo.list()).unwrap();
    let at = list.len() - 5;
    list[at] ^= 0x01;
    std::fs::write(repo.list(), list).unwrap();
    let before = repo.snapshot();
    let run = repo.xtask(&["verify"]);
    run.refused("does not verify with key");
    assert!(
        run.stderr.contains("the file changed after it was signed")
            && !run.stderr.contains("assertion"),
        "{run:#?}"
    );
    assert_eq!(before, repo.snapshot());
}

#[test]
fn adversarial_unsigned_list() {
    let (repo, _gpg, _) = signed_repo();
    std::fs::remove_file(repo.asc()).unwrap();
    refused(&repo, &[], "the list is not signed");
}

#[test]
fn adversarial_wheel_changed() {
    let (repo, _gpg, _) = signed_repo();
    repo.write_index_file(repo::FILES[0].0, b"evil wheel");
    refused(
        &repo,
        &[],
        "files/certifi-2024.8.30-py3-none-any.whl: changed",
    );
}

#[test]
fn adversarial_wheel_added() {
    let (repo, _gpg, _) = signed_repo();
    repo.write_index_file("files/evil-1.0-py3-none-any.whl", b"evil");
    refused(
        &repo,
        &[],
        "files/evil-1.0-py3-none-any.whl: not in the list",
    );
}

#[test]
fn adversarial_wheel_removed() {
    let (repo, _gpg, _) = signed_repo();
    std::fs::remove_file(repo.index().join(repo::FILES[1].0)).unwrap();
    refused(
        &repo,
        &[],
        "files/certifi-2024.8.30.tar.gz: listed but missing",
    );
}

#[test]
fn adversarial_wheel_renamed_in_case() {
    let (repo, _gpg, _) = signed_repo();
    let from = repo.index().join(repo::FILES[0].0);
    std::fs::rename(
        &from,
        repo.index()
            .join("files/Certifi-2024.8.30-py3-none-any.whl"),
    )
    .unwrap();
    refused(&repo, &[], "differs only in case");
}

#[test]
fn adversarial_symlink_in_the_index() {
    let (repo, _gpg, _) = signed_repo();
    let target = repo.index().join(repo::FILES[0].0);
    std::fs::remove_file(&target).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", &target).unwrap();
    refused(&repo, &[], "is a symbolic link");
}

#[test]
fn adversarial_key_in_gnupg_keyring_but_not_pinned() {
    let (repo, gpg, _) = signed_repo();
    // Mallory is in the (test's) GnuPG keyring, and even in keys/, but not pinned.
    let mallory = gpg.gen(
        "Mallory <mallory@example.org>",
        "ed25519",
        "sign",
        "never",
        None,
    );
    gpg_sign(&repo, &gpg, &mallory, &[]);
    refused(&repo, &[], "made by unknown key");
    gpg.export_to(&mallory, &repo.keys(), "mallory");
    refused(&repo, &[], "not pinned in trust.fingerprints");
}

#[test]
fn adversarial_issuer_key_id_of_pinned_key_with_other_fingerprint() {
    use keys::{asc, make, SigOpts, Spec};
    use pgp::packet::{Subpacket, SubpacketData};
    use pgp::types::KeyDetails;
    let now = OffsetDateTime::now_utc().unix_timestamp() as u32;
    let alice = make(&Spec {
        created: now - 86_400,
        ..Spec::ed25519(1, "Alice")
    });
    let mallory = make(&Spec {
        created: now - 86_400,
        ..Spec::ed25519(66, "Mallory")
    });
    let repo = Repo::new(&[&alice.fingerprint()], 1);
    std::fs::write(repo.keys().join("alice.asc"), alice.public_armored()).unwrap();
    let list = repo.write_valid_list(1);
    let mut opts = SigOpts::at(now - 60);
    opts.issuer_id = false;
    opts.extra_hashed = vec![Subpacket::regular(SubpacketData::IssuerKeyId(
        alice.public.primary_key.legacy_key_id(),
    ))
    .unwrap()];
    std::fs::write(repo.asc(), asc(&[mallory.sign(list.as_bytes(), &opts)])).unwrap();
    refused(&repo, &[], "inconsistent issuer");
    // Only the pinned key's ID, no fingerprint: checked against Alice's key, fails.
    opts.issuer_fp = false;
    std::fs::write(repo.asc(), asc(&[mallory.sign(list.as_bytes(), &opts)])).unwrap();
    refused(
        &repo,
        &[],
        &format!("does not verify with key {}", alice.fingerprint()),
    );
}

#[test]
fn adversarial_no_issuer() {
    use keys::{asc, make, SigOpts, Spec};
    let now = OffsetDateTime::now_utc().unix_timestamp() as u32;
    let alice = make(&Spec {
        created: now - 86_400,
        ..Spec::ed25519(1, "Alice")
    });
    let repo = Repo::new(&[&alice.fingerprint()], 1);
    std::fs::write(repo.keys().join("alice.asc"), alice.public_armored()).unwrap();
    let list = repo.write_valid_list(1);
    let mut opts = SigOpts::at(now - 60);
    opts.issuer_fp = false;
    opts.issuer_id = false;
    std::fs::write(repo.asc(), asc(&[alice.sign(list.as_bytes(), &opts)])).unwrap();
    refused(&repo, &[], "no issuer");
}

#[test]
fn adversarial_expired_key() {
    use keys::{asc, make, SigOpts, Spec};
    let now = OffsetDateTime::now_utc().unix_timestamp() as u32;
    let mut spec = Spec {
        created: now - 10 * 86_400,
        ..Spec::ed25519(4, "Dave")
    };
    spec.expires_after = Some(86_400);
    let dave = make(&spec);
    let repo = Repo::new(&[&dave.fingerprint()], 1);
    std::fs::write(repo.keys().join("dave.asc"), dave.public_armored()).unwrap();
    let list = repo.write_valid_list(1);
    std::fs::write(
        repo.asc(),
        asc(&[dave.sign(list.as_bytes(), &SigOpts::at(now - 60))]),
    )
    .unwrap();
    refused(&repo, &[], "the key expired at");
}

#[test]
fn adversarial_revoked_key() {
    let (repo, gpg, alice) = signed_repo();
    repo.xtask(&["verify"]).ok();
    std::fs::remove_file(repo.state()).unwrap();
    gpg.revoke(&alice);
    gpg.export_to(&alice, &repo.keys(), "alice");
    refused(&repo, &[], "the key is revoked");
}

#[test]
fn adversarial_subkey_without_back_signature() {
    use keys::{asc, make, SigOpts, Spec, SubSpec};
    let now = OffsetDateTime::now_utc().unix_timestamp() as u32;
    let mut spec = Spec {
        created: now - 86_400,
        ..Spec::ed25519(10, "Judy")
    }
    .with_signing_subkey();
    spec.subkey = Some(SubSpec {
        created: now - 86_400,
        expires_after: None,
        backsig: false,
        revoked: None,
    });
    let judy = make(&spec);
    let repo = Repo::new(&[&judy.fingerprint()], 1);
    std::fs::write(repo.keys().join("judy.asc"), judy.public_armored()).unwrap();
    let list = repo.write_valid_list(1);
    std::fs::write(
        repo.asc(),
        asc(&[judy.sign(list.as_bytes(), &SigOpts::at(now - 60).subkey())]),
    )
    .unwrap();
    refused(&repo, &[], "no valid primary-key binding (back-)signature");
}

#[test]
fn adversarial_sha1_signature() {
    let gpg = Gpg::new();
    let rita = gpg.gen("Rita <rita@example.org>", "rsa3072", "sign", "never", None);
    let repo = Repo::new(&[&rita.fpr], 1);
    gpg.export_to(&rita, &repo.keys(), "rita");
    repo.write_valid_list(1);
    gpg_sign(&repo, &gpg, &rita, &["--digest-algo", "SHA1"]);
    refused(&repo, &[], "weak hash algorithm SHA1");
}

#[test]
fn adversarial_weak_rsa_key() {
    let gpg = Gpg::new();
    let tiny = gpg.gen("Tiny <tiny@example.org>", "rsa1024", "sign", "never", None);
    let repo = Repo::new(&[&tiny.fpr], 1);
    gpg.export_to(&tiny, &repo.keys(), "tiny");
    repo.write_valid_list(1);
    gpg_sign(&repo, &gpg, &tiny, &[]);
    refused(&repo, &[], "RSA with 1024 bits");
}

#[test]
fn adversarial_creation_time_in_the_future() {
    let (repo, gpg, alice) = signed_repo();
    let future = (OffsetDateTime::now_utc() + time::Duration::days(1))
        .format(&time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]!"
        ))
        .unwrap();
    gpg_sign(&repo, &gpg, &alice, &["--faked-system-time", &future]);
    refused(&repo, &[], "in the future");
}

#[test]
fn adversarial_text_mode_signature_over_crlf_copy() {
    let (repo, gpg, alice) = signed_repo();
    let crlf = repo.root().join("crlf.txt");
    let text = std::fs::read_to_string(repo.list())
        .unwrap()
        .replace('\n', "\r\n");
    std::fs::write(&crlf, text).unwrap();
    std::fs::write(repo.asc(), gpg.detach_sign(&alice, &crlf, &["--textmode"])).unwrap();
    // GnuPG itself accepts it over the LF list (text mode normalizes line ends):
    let (ok, _) = gpg.status(&[
        "--verify",
        repo.asc().to_str().unwrap(),
        repo.list().to_str().unwrap(),
    ]);
    assert!(ok, "gpg accepts the text-mode signature over the LF list");
    refused(&repo, &[], "text-mode");
}

#[test]
fn adversarial_cleartext_signed_message() {
    let (repo, gpg, alice) = signed_repo();
    let clear = gpg.run(&[
        "--local-user",
        &alice.fpr,
        "--output",
        "-",
        "--clearsign",
        repo.list().to_str().unwrap(),
    ]);
    std::fs::write(repo.asc(), clear).unwrap();
    refused(&repo, &[], "cleartext-signed message");
}

#[test]
fn adversarial_inline_signed_message() {
    let (repo, gpg, alice) = signed_repo();
    let inline = gpg.run(&[
        "--local-user",
        &alice.fpr,
        "--armor",
        "--output",
        "-",
        "--sign",
        repo.list().to_str().unwrap(),
    ]);
    std::fs::write(repo.asc(), inline).unwrap();
    refused(&repo, &[], "inline signature");
}

#[test]
fn adversarial_threshold_two_met_only_by_primary_and_own_subkey() {
    let gpg = Gpg::new();
    let carol = gpg.gen(
        "Carol <carol@example.org>",
        "ed25519",
        "sign",
        "never",
        None,
    );
    gpg.add_subkey(&carol, "ed25519", "sign", None);
    let dave = gpg.gen("Dave <dave@example.org>", "ed25519", "sign", "never", None);
    let repo = Repo::new(&[&carol.fpr, &dave.fpr], 2);
    gpg.export_to(&carol, &repo.keys(), "carol");
    gpg.export_to(&dave, &repo.keys(), "dave");
    repo.write_valid_list(1);
    // Carol signs with her primary ("FPR!" forces it) and with her subkey.
    let primary = format!("{}!", carol.fpr);
    let by_primary = gpg.run(&[
        "--armor",
        "--local-user",
        &primary,
        "--output",
        "-",
        "--detach-sign",
        repo.list().to_str().unwrap(),
    ]);
    let by_subkey = gpg.detach_sign(&carol, &repo.list(), &[]);
    let packets: Vec<Vec<u8>> = [by_primary, by_subkey]
        .iter()
        .flat_map(|a| pinwheel_trust::signature::parse_signatures(a).unwrap())
        .map(|p| p.raw)
        .collect();
    assert_eq!(packets.len(), 2);
    std::fs::write(repo.asc(), keys::asc(&packets)).unwrap();
    refused(
        &repo,
        &[],
        "1 distinct pinned key(s) made good signatures, the threshold is 2",
    );
}

#[test]
fn adversarial_two_good_and_one_bad() {
    let gpg = Gpg::new();
    let alice = gpg.gen(
        "Alice <alice@example.org>",
        "ed25519",
        "sign",
        "never",
        None,
    );
    let bob = gpg.gen("Bob <bob@example.org>", "ed25519", "sign", "never", None);
    let repo = Repo::new(&[&alice.fpr, &bob.fpr], 2);
    gpg.export_to(&alice, &repo.keys(), "alice");
    gpg.export_to(&bob, &repo.keys(), "bob");
    repo.write_valid_list(1);
    let other = repo.root().join("other.txt");
    std::fs::write(&other, "another list\n").unwrap();
    let packets: Vec<Vec<u8>> = [
        gpg.detach_sign(&alice, &repo.list(), &[]),
        gpg.detach_sign(&bob, &repo.list(), &[]),
        gpg.detach_sign(&bob, &other, &[]),
    ]
    .iter()
    .flat_map(|a| pinwheel_trust::signature::parse_signatures(a).unwrap())
    .map(|p| p.raw)
    .collect();
    std::fs::write(repo.asc(), keys::asc(&packets[..2])).unwrap();
    repo.xtask(&["verify"]).ok();
    std::fs::remove_file(repo.state()).unwrap();
    std::fs::write(repo.asc(), keys::asc(&packets)).unwrap();
    refused(&repo, &[], "signature 3: does not verify");
}

#[test]
fn adversarial_mangled_armor() {
    let (repo, _gpg, _) = signed_repo();
    let good = std::fs::read_to_string(repo.asc()).unwrap();
    let crc = good
        .lines()
        .find(|l| l.starts_with('='))
        .expect("gpg writes a CRC line")
        .to_owned();
    let cases = [
        (good.replace(&crc, "=AAAA"), "armor checksum mismatch"),
        (
            good.replace("-----END PGP SIGNATURE-----\n", ""),
            "missing armor footer",
        ),
        (
            format!("{good}trailing garbage\n"),
            "data after the armor footer",
        ),
        (format!("{good}x\n{good}"), "data after the armor footer"),
        (
            good.replace(
                "-----BEGIN PGP SIGNATURE-----",
                "-----BEGIN PGP SIGNATURE----",
            ),
            "armor header",
        ),
    ];
    for (text, needle) in cases {
        std::fs::write(repo.asc(), text).unwrap();
        refused(&repo, &[], needle);
    }
}

#[test]
fn adversarial_100_mb_signature_file() {
    let (repo, _gpg, _) = signed_repo();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(repo.asc())
        .unwrap();
    file.set_len(100 * 1024 * 1024).unwrap();
    drop(file);
    let started = std::time::Instant::now();
    refused(&repo, &[], "more than the 1048576-byte limit");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "the size cap came after reading"
    );
}

#[test]
fn adversarial_expired_list() {
    let (repo, gpg, alice) = signed_repo();
    repo.write_list(
        1,
        OffsetDateTime::now_utc() - time::Duration::days(1),
        "pinwheel/wheels-index",
    );
    gpg_sign(&repo, &gpg, &alice, &[]);
    refused(&repo, &[], "the list expired at");
}

#[test]
fn adversarial_wrong_scope() {
    let (repo, gpg, alice) = signed_repo();
    repo.write_list(
        1,
        OffsetDateTime::now_utc() + time::Duration::days(1),
        "otherproject/wheels-index",
    );
    gpg_sign(&repo, &gpg, &alice, &[]);
    refused(&repo, &[], "mix-and-match");
}

#[test]
fn adversarial_lower_version_than_git_head() {
    let (repo, gpg, alice) = signed_repo();
    repo.write_valid_list(5);
    gpg_sign(&repo, &gpg, &alice, &[]);
    repo.commit_all("list version 5");
    repo.xtask(&["verify"]).ok();
    std::fs::remove_file(repo.state()).unwrap(); // only git HEAD remembers
    repo.write_valid_list(4);
    gpg_sign(&repo, &gpg, &alice, &[]);
    refused(
        &repo,
        &[],
        "the list has version 4, lower than 5 from the list committed at git HEAD (rollback)",
    );
}

#[test]
fn adversarial_same_version_as_git_head_other_contents() {
    let (repo, gpg, alice) = signed_repo();
    repo.write_valid_list(5);
    gpg_sign(&repo, &gpg, &alice, &[]);
    repo.commit_all("list version 5");
    repo.write_index_file("files/extra-1.0-py3-none-any.whl", b"extra");
    repo.write_valid_list(5);
    gpg_sign(&repo, &gpg, &alice, &[]);
    refused(&repo, &[], "different contents");
}

#[test]
fn adversarial_lower_version_than_last_trusted() {
    let (repo, gpg, alice) = signed_repo();
    repo.write_valid_list(7);
    gpg_sign(&repo, &gpg, &alice, &[]);
    repo.xtask(&["verify"]).ok();
    repo.write_valid_list(6);
    gpg_sign(&repo, &gpg, &alice, &[]);
    refused(&repo, &[], "lower than 7 from the last trusted version");
}

#[test]
fn list_not_tracked_at_head_is_fine() {
    let (repo, _gpg, _) = signed_repo();
    std::fs::write(repo.root().join("README"), "x").unwrap();
    repo.git(&["init", "-q"]);
    repo.git(&["add", "README"]);
    repo.git(&["commit", "-q", "-m", "no list yet"]);
    let run = repo.xtask(&["verify"]);
    run.ok();
    assert!(
        run.stderr.contains("does not track the list yet"),
        "{run:#?}"
    );
}

#[test]
fn adversarial_malformed_signed_lists() {
    let (repo, gpg, alice) = signed_repo();
    let good = std::fs::read_to_string(repo.list()).unwrap();
    let first = good.lines().nth(4).unwrap().to_owned();
    let (hash, path) = first.split_once("  ").unwrap();
    let cases = [
        (
            good.replace(&first, &format!("{}  {path}", &hash[1..])),
            "found 63",
        ),
        (
            good.replace(&first, &format!("{hash}  ../{path}")),
            "leaves the index",
        ),
        (
            good.replace(&first, &format!("{hash}  {path}\0")),
            "NUL byte",
        ),
        (
            good.replace(&first, &format!("{first}\n{}  {path}", "0".repeat(64))),
            "listed twice",
        ),
    ];
    for (text, needle) in cases {
        std::fs::write(repo.list(), text).unwrap();
        gpg_sign(&repo, &gpg, &alice, &[]);
        refused(&repo, &[], needle);
    }
}

#[test]
fn adversarial_threshold_flag_above_pins_is_a_usage_error() {
    let (repo, _gpg, _) = signed_repo();
    let run = repo.xtask(&["verify", "--threshold", "2"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("only 1 key(s) pinned"), "{run:#?}");
}

#[test]
fn sign_refreshes_an_expired_list_and_bumps_the_version() {
    let gpg = Gpg::new();
    let alice = gpg.gen(
        "Alice <alice@example.org>",
        "ed25519",
        "sign",
        "never",
        None,
    );
    let repo = Repo::new(&[&alice.fpr], 1);
    gpg.export_to(&alice, &repo.keys(), "alice");
    repo.write_list(
        3,
        OffsetDateTime::now_utc() - time::Duration::days(1),
        "pinwheel/wheels-index",
    );
    gpg_sign(&repo, &gpg, &alice, &[]);
    repo.commit_all("expired list version 3");
    let secret = repo.root().join("alice.secret.asc");
    std::fs::write(&secret, gpg.export_secret(&alice)).unwrap();
    let run = repo.xtask(&["sign", "--key", secret.to_str().unwrap()]);
    run.ok();
    assert!(run.stderr.contains("the list expired"), "{run:#?}");
    assert!(run.stdout.contains("signed version 4"), "{run:#?}");
    repo.xtask(&["verify"]).ok();
}

#[test]
fn adversarial_sign_with_unpinned_key_changes_nothing() {
    let gpg = Gpg::new();
    let alice = gpg.gen(
        "Alice <alice@example.org>",
        "ed25519",
        "sign",
        "never",
        None,
    );
    let mallory = gpg.gen(
        "Mallory <mallory@example.org>",
        "ed25519",
        "sign",
        "never",
        None,
    );
    let repo = Repo::new(&[&alice.fpr], 1);
    gpg.export_to(&alice, &repo.keys(), "alice");
    let secret = repo.root().join("mallory.secret.asc");
    std::fs::write(&secret, gpg.export_secret(&mallory)).unwrap();
    let before = repo.snapshot();
    let run = repo.xtask(&["sign", "--key", secret.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("is the key pinned"), "{run:#?}");
    assert_eq!(before, repo.snapshot());
}

#[test]
fn demo_key_signs_the_demo_and_verify_warns() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let repo = Repo::new(&[], 1);
    // The real configuration pins the demo key; use it and the real keys.
    std::fs::copy(
        root.join("packaging/pinwheel.toml"),
        repo.root().join("packaging/pinwheel.toml"),
    )
    .unwrap();
    std::fs::copy(
        root.join("packaging/keys/demo-maintainer.asc"),
        repo.keys().join("demo-maintainer.asc"),
    )
    .unwrap();
    let secret = root.join("packaging/keys/DEMO-ONLY-secret/demo-maintainer.secret.asc");
    let run = repo.xtask(&["sign", "--key", secret.to_str().unwrap()]);
    run.ok();
    assert!(run.stderr.contains("DEMONSTRATION key"), "{run:#?}");
    let run = repo.xtask(&["verify"]);
    run.ok();
    assert!(
        run.stderr.contains("warning:") && run.stderr.contains("DEMONSTRATION key"),
        "{run:#?}"
    );
    assert!(run.stdout.contains("DEMO ONLY"), "{run:#?}");
}

/// Every test SECURITY.md cites exists (so the threat model cannot point at
/// tests that were renamed or removed).
#[test]
fn security_md_cites_existing_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("../SECURITY.md")).unwrap();
    let mut sources = String::new();
    for dir in ["tests", "src"] {
        let mut stack = vec![root.join(dir)];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    sources.push_str(&std::fs::read_to_string(path).unwrap());
                }
            }
        }
    }
    let cited: Vec<&str> = doc
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|c| c.rsplit("::").next().unwrap())
        .filter(|c| c.starts_with("adversarial_") || c.contains("_and_") || c.ends_with("_is_fine"))
        .collect();
    assert!(cited.len() > 20, "{cited:?}");
    for name in cited {
        assert!(
            sources.contains(&format!("fn {name}(")),
            "SECURITY.md cites `{name}`, which is not a test"
        );
    }
}

// ---- signatures made apart, combined with `cat` ---------------------------

/// Two maintainers who sign with GnuPG on their own machines, and the
/// concatenation of their two `.asc` files (`cat a.asc b.asc`).
fn signed_apart() -> (Repo, Gpg, GpgKey, GpgKey, Vec<u8>, Vec<u8>) {
    let gpg = Gpg::new();
    let alice = gpg.gen(
        "Alice <alice@example.org>",
        "ed25519",
        "sign",
        "never",
        None,
    );
    let bob = gpg.gen("Bob <bob@example.org>", "rsa3072", "sign", "never", None);
    let repo = Repo::new(&[&alice.fpr, &bob.fpr], 2);
    gpg.export_to(&alice, &repo.keys(), "alice");
    gpg.export_to(&bob, &repo.keys(), "bob");
    repo.write_valid_list(1);
    let a = gpg.run(&[
        "--detach-sign",
        "--armor",
        "--local-user",
        &alice.fpr,
        "--output",
        "-",
        repo.list().to_str().unwrap(),
    ]);
    let b = gpg.run(&[
        "--detach-sign",
        "--armor",
        "--local-user",
        &bob.fpr,
        "--output",
        "-",
        repo.list().to_str().unwrap(),
    ]);
    (repo, gpg, alice, bob, a, b)
}

#[test]
fn signatures_made_apart_and_concatenated_meet_threshold_two() {
    let (repo, gpg, alice, bob, a, b) = signed_apart();
    std::fs::write(repo.asc(), [a, b].concat()).unwrap();
    let run = repo.xtask(&["verify"]);
    run.ok();
    for key in [&alice, &bob] {
        assert!(
            run.stdout
                .contains(&format!("good signature from {}", key.fpr)),
            "{run:#?}"
        );
    }
    assert!(
        run.stdout.contains("signed by 2 of the required 2"),
        "{run:#?}"
    );
    // The peers read the same file the same way: gpg and gpgv report both.
    let (ok, stderr) = gpg.status(&[
        "--verify",
        repo.asc().to_str().unwrap(),
        repo.list().to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(stderr.matches("Good signature").count(), 2, "{stderr}");
    let keyring = repo.root().join("keyring.gpg");
    std::fs::write(&keyring, gpg.run(&["--export", &alice.fpr, &bob.fpr])).unwrap();
    let out = duct::cmd!("gpgv", "--keyring", &keyring, repo.asc(), repo.list())
        .env("GNUPGHOME", gpg.home.path())
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.matches("Good signature").count(), 2, "{stderr}");

    // A third maintainer co-signs with `sign`: the three end up in one block.
    let carol = gpg.gen(
        "Carol <carol@example.org>",
        "ed25519",
        "sign",
        "never",
        None,
    );
    repo.set_trust(&[&alice.fpr, &bob.fpr, &carol.fpr], 3);
    gpg.export_to(&carol, &repo.keys(), "carol");
    let secret = repo.root().join("carol.secret.asc");
    std::fs::write(&secret, gpg.export_secret(&carol)).unwrap();
    let run = repo.xtask(&["sign", "--key", secret.to_str().unwrap()]);
    run.ok();
    assert!(
        run.stdout.contains("3 distinct signer(s), threshold 3"),
        "{run:#?}"
    );
    let asc = std::fs::read_to_string(repo.asc()).unwrap();
    assert_eq!(
        asc.matches("-----BEGIN PGP SIGNATURE-----").count(),
        1,
        "{asc}"
    );
    repo.xtask(&["verify"]).ok();
}

#[test]
fn adversarial_one_of_two_concatenated_signatures_tampered() {
    let (repo, gpg, _alice, bob, a, _) = signed_apart();
    // Bob's file signs other bytes: any bad signature fails the file, even
    // where Alice's good one would be enough.
    let other = repo.root().join("other.txt");
    std::fs::write(&other, "another list\n").unwrap();
    let b_other = gpg.detach_sign(&bob, &other, &[]);
    std::fs::write(repo.asc(), [a.clone(), b_other].concat()).unwrap();
    let needle = format!(
        "signature 2: does not verify with key {}: it was made over other bytes",
        bob.fpr
    );
    refused(&repo, &[], &needle);
    repo.set_trust(&[&_alice.fpr, &bob.fpr], 1);
    refused(&repo, &[], &needle);
    let (ok, stderr) = gpg.status(&[
        "--verify",
        repo.asc().to_str().unwrap(),
        repo.list().to_str().unwrap(),
    ]);
    assert!(!ok && stderr.contains("BAD signature"), "{stderr}");
    // Text between the two blocks.
    let b = gpg.detach_sign(&bob, &repo.list(), &[]);
    let mut with_text = a.clone();
    with_text.extend_from_slice(b"signed-off-by: bob\n");
    with_text.extend_from_slice(&b);
    std::fs::write(repo.asc(), with_text).unwrap();
    refused(&repo, &[], "data after the armor footer");
    // A character changed in the second block's body: its CRC-24 catches it.
    let b_text = String::from_utf8(b).unwrap();
    let body = b_text.lines().nth(2).unwrap();
    let mut changed = body.as_bytes().to_vec();
    changed[3] = if changed[3] == b'A' { b'B' } else { b'A' };
    let b_changed = b_text.replace(body, std::str::from_utf8(&changed).unwrap());
    std::fs::write(repo.asc(), [a, b_changed.into_bytes()].concat()).unwrap();
    refused(&repo, &[], "armor checksum mismatch");
}

// ---- sign: another trust root; a list changed after signing --------------

#[test]
fn sign_and_verify_an_index_with_its_own_keys_directory() {
    let gpg = Gpg::new();
    let alice = gpg.gen(
        "Alice <alice@example.org>",
        "ed25519",
        "sign",
        "never",
        None,
    );
    let repo = Repo::new(&[&alice.fpr], 1);
    // The configured keys directory stays empty: this index's trust root
    // is its own directory.
    let keys = repo.root().join("mirror-keys");
    std::fs::create_dir(&keys).unwrap();
    gpg.export_to(&alice, &keys, "alice");
    let index = repo.root().join("mirror-index");
    std::fs::rename(repo.index(), &index).unwrap();
    let secret = repo.root().join("alice.secret.asc");
    std::fs::write(&secret, gpg.export_secret(&alice)).unwrap();
    let (index, keys, secret) = (
        index.to_str().unwrap(),
        keys.to_str().unwrap(),
        secret.to_str().unwrap(),
    );
    let run = repo.xtask(&["sign", "--index", index, "--key", secret]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("no public keys"), "{run:#?}");
    let run = repo.xtask(&["sign", "--index", index, "--keys", keys, "--key", secret]);
    run.ok();
    assert!(run.stdout.contains("signed version 1"), "{run:#?}");
    repo.xtask(&["verify", "--index", index, "--keys", keys])
        .ok();
}

#[test]
fn sign_says_in_words_that_the_list_changed_after_signing() {
    let gpg = Gpg::new();
    let alice = gpg.gen(
        "Alice <alice@example.org>",
        "ed25519",
        "sign",
        "never",
        None,
    );
    let repo = Repo::new(&[&alice.fpr], 1);
    gpg.export_to(&alice, &repo.keys(), "alice");
    let secret = repo.root().join("alice.secret.asc");
    std::fs::write(&secret, gpg.export_secret(&alice)).unwrap();
    repo.xtask(&["sign", "--key", secret.to_str().unwrap()])
        .ok();
    // A file changes and its line in the list with it (the header stays,
    // as `refresh-index` leaves it).
    let (path, old) = repo::FILES[2];
    let new = b"<html>certifi, changed</html>";
    repo.write_index_file(path, new);
    let list = std::fs::read_to_string(repo.list()).unwrap();
    let changed = list.replace(
        &format!("{}  {path}", pinwheel_trust::hash::Sha256::of(old)),
        &format!("{}  {path}", pinwheel_trust::hash::Sha256::of(new)),
    );
    assert_ne!(list, changed);
    std::fs::write(repo.list(), changed).unwrap();

    let run = repo.xtask(&["sign", "--key", secret.to_str().unwrap()]);
    run.ok();
    assert!(
        run.stderr.contains(
            "sha256sums.txt.asc was made over other contents: the list changed after it was signed"
        ),
        "{run:#?}"
    );
    assert!(!run.stderr.contains("assertion"), "{run:#?}");
    assert!(run.stdout.contains("signed version 2"), "{run:#?}");
    repo.xtask(&["verify"]).ok();
}

// ---- pinned keys that expire ---------------------------------------------

/// Sets `[trust] key = value` in the repository's configuration.
fn set_trust_option(repo: &Repo, key: &str, value: impl Into<toml_edit::Value>) {
    let path = repo.root().join("packaging/pinwheel.toml");
    let mut doc: toml_edit::DocumentMut = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    doc["trust"][key] = toml_edit::value(value);
    std::fs::write(path, doc.to_string()).unwrap();
}

#[test]
fn verify_names_pinned_keys_that_expire_and_fails_when_configured() {
    use keys::{asc, make, SigOpts, Spec, DAY};
    let now = OffsetDateTime::now_utc().unix_timestamp() as u32;
    // Lena's key was made ten days ago for fifteen days: five days left.
    let lena = make(&Spec {
        created: now - 10 * DAY,
        expires_after: Some(15 * DAY),
        ..Spec::ed25519(30, "Lena")
    });
    // Mia's expired yesterday; she never signed this list.
    let mia = make(&Spec {
        created: now - 10 * DAY,
        expires_after: Some(9 * DAY),
        ..Spec::ed25519(31, "Mia")
    });
    // Nils's never expires.
    let nils = make(&Spec {
        created: now - 10 * DAY,
        ..Spec::ed25519(32, "Nils")
    });
    let repo = Repo::new(
        &[&lena.fingerprint(), &mia.fingerprint(), &nils.fingerprint()],
        1,
    );
    for (key, name) in [(&lena, "lena"), (&mia, "mia"), (&nils, "nils")] {
        std::fs::write(
            repo.keys().join(format!("{name}.asc")),
            key.public_armored(),
        )
        .unwrap();
    }
    let list = repo.write_valid_list(1);
    std::fs::write(
        repo.asc(),
        asc(&[lena.sign(list.as_bytes(), &SigOpts::at(now - 60))]),
    )
    .unwrap();

    // The default: a warning per key, verify passes.
    let run = repo.xtask(&["verify"]);
    run.ok();
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning: pinned key"))
        .collect();
    assert_eq!(warnings.len(), 2, "{run:#?}");
    assert!(
        warnings[0].contains(&format!(
            "pinned key {} \"Lena <lena@example.org>\" expires at",
            lena.fingerprint()
        )) && warnings[0].contains("in 5 day(s) (its expiry now, by its newest self-signature)"),
        "{run:#?}"
    );
    assert!(
        warnings[1].contains(&format!("pinned key {}", mia.fingerprint()))
            && warnings[1].contains("expired at"),
        "{run:#?}"
    );
    assert!(!run.stderr.contains(&nils.fingerprint()), "{run:#?}");

    // A window of three days leaves Lena out, not Mia.
    set_trust_option(&repo, "warn-key-expiry-days", 3);
    let run = repo.xtask(&["verify"]);
    run.ok();
    assert!(!run.stderr.contains(&lena.fingerprint()), "{run:#?}");
    assert!(run.stderr.contains(&mia.fingerprint()), "{run:#?}");

    // CI asks for a failure: exit 1, both named, nothing changed.
    set_trust_option(&repo, "warn-key-expiry-days", 30);
    set_trust_option(&repo, "fail-on-key-expiry", true);
    std::fs::remove_file(repo.state()).unwrap();
    refused(
        &repo,
        &[],
        "trust.fail-on-key-expiry is set and 2 pinned key(s) expired or expire within 30 day(s)",
    );
    let run = repo.xtask(&["verify"]);
    assert!(
        run.stderr.contains(&lena.fingerprint()) && run.stderr.contains(&mia.fingerprint()),
        "{run:#?}"
    );
    assert!(!repo.state().exists(), "a refused verify recorded the list");
}

#[test]
fn gnupg_key_expired_since_signing_is_named_at_signing_time_and_now() {
    let gpg = Gpg::new();
    let days_ago = |days: i64| {
        (OffsetDateTime::now_utc() - time::Duration::days(days))
            .format(&time::macros::format_description!(
                "[year][month][day]T[hour][minute][second]"
            ))
            .unwrap()
    };
    // Made 30 days ago without expiry; signed the list 20 days ago.
    let carol = gpg.gen(
        "Carol <carol@example.org>",
        "ed25519",
        "sign",
        "never",
        Some(&days_ago(30)),
    );
    let repo = Repo::new(&[&carol.fpr], 1);
    gpg.export_to(&carol, &repo.keys(), "carol");
    repo.write_valid_list(1);
    gpg_sign(
        &repo,
        &gpg,
        &carol,
        &["--faked-system-time", &format!("{}!", days_ago(20))],
    );
    let run = repo.xtask(&["verify"]);
    run.ok();
    assert!(
        !run.stdout.contains("note:") && !run.stderr.contains("warning:"),
        "{run:#?}"
    );

    // Ten days ago her owner gave the key five more days. GnuPG replaces
    // the self-signature; importing the copy from packaging/keys/ brings
    // the older one back beside it (as any keyring that saw both keeps
    // them), and that is what the maintainers export again.
    gpg.run(&[
        "--faked-system-time",
        &format!("{}!", days_ago(10)),
        "--quick-set-expire",
        &carol.fpr,
        "5d",
    ]);
    // Exported without that step, the key has no self-signature older
    // than the new one: nothing binds it when it signed, for pinwheel as
    // for Sequoia's sqv (gpg accepts it).
    let dropped = repo.root().join("dropped-keys");
    std::fs::create_dir(&dropped).unwrap();
    let dropped_key = gpg.export_to(&carol, &dropped, "carol");
    refused(
        &repo,
        &["--keys", dropped.to_str().unwrap()],
        "no valid self-signature binds the key at the signature's time",
    );
    let (ok, out) = sqv(&[&dropped_key], 1, &repo);
    assert!(!ok && out.contains("No binding signature at time"), "{out}");
    gpg.run(&["--import", repo.keys().join("carol.asc").to_str().unwrap()]);
    gpg.export_to(&carol, &repo.keys(), "carol");
    // GnuPG, the peer: a good signature by a key that has expired now.
    let (_, stderr) = gpg.status(&[
        "--verify",
        repo.asc().to_str().unwrap(),
        repo.list().to_str().unwrap(),
    ]);
    assert!(
        stderr.contains("Good signature") && stderr.contains("expired"),
        "{stderr}"
    );
    // pinwheel: still good (the key was fit when it signed), with both
    // expiries named, and the pinned key named as expired.
    let run = repo.xtask(&["verify"]);
    run.ok();
    assert!(
        run.stdout
            .contains(&format!("note: key {} expired at", carol.fpr))
            && run
                .stdout
                .contains("(its expiry now, by its newest self-signature; at signing time: none)"),
        "{run:#?}"
    );
    assert!(
        run.stderr.contains(&format!(
            "warning: pinned key {} \"Carol <carol@example.org>\" expired at",
            carol.fpr
        )),
        "{run:#?}"
    );
    set_trust_option(&repo, "fail-on-key-expiry", true);
    refused(
        &repo,
        &[],
        "trust.fail-on-key-expiry is set and 1 pinned key(s)",
    );
}

// ---- the demonstration key's warning, once --------------------------------

#[test]
fn demo_key_warning_is_printed_once_by_build_deb() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let repo = Repo {
        dir: tempfile::tempdir().unwrap(),
    };
    xtask::check_reproducible::copy_tree(&root, repo.root()).unwrap();
    // Signed afresh with the demonstration key, so that the copy does not
    // depend on the checked-in list's expiry.
    std::fs::remove_file(repo.asc()).unwrap();
    let secret = root.join("packaging/keys/DEMO-ONLY-secret/demo-maintainer.secret.asc");
    let run = repo.xtask(&["sign", "--key", secret.to_str().unwrap()]);
    run.ok();
    assert_eq!(
        run.stderr.matches("DEMONSTRATION key").count(),
        1,
        "{run:#?}"
    );
    // The build stops right after its verifications: no changelog to read
    // (or missing build dependencies, which come first).
    std::fs::write(repo.root().join("debian/changelog"), "not a changelog\n").unwrap();
    let out = repo.root().join("out");
    let run = repo.xtask(&["build-deb", "--out", out.to_str().unwrap()]);
    assert_ne!(run.code, 0, "{run:#?}");
    assert!(
        !run.stderr.contains("running dpkg-buildpackage"),
        "{run:#?}"
    );
    // It verified twice: itself, then through `update-deps --check`.
    assert!(
        run.stdout.contains("build-requirements.txt: up to date"),
        "{run:#?}"
    );
    assert_eq!(
        run.stderr.matches("DEMONSTRATION key").count(),
        1,
        "{run:#?}"
    );
}
