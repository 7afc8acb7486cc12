//! `chroot.rs` and `cargo xtask chroot` against real mmdebstrap. Here the
//! cases that fail before a chroot exists (seconds: an unreachable mirror,
//! an archive apt refuses, half-made chroots found in the cache); the ones
//! that make and enter real chroots are in [`slow`], sharing one cache
//! (`$CARGO_TARGET_TMPDIR/chroots`) so that a test run makes each suite
//! once.
//!
//! Peers: mmdebstrap and apt (inside it), the loopback HTTP server as a
//! hostile mirror.

use std::path::{Path, PathBuf};

use pinwheel_proof::loopback::{Route, Server};
use xtask::chroot::{Flavor, CACHE_ENV};
use xtask::config::Config;

use crate::support::keys;
use crate::support::repo::{Repo, Run};

pub mod slow;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The build flavor `cargo xtask chroot` prepares for this repository.
pub fn build_flavor() -> Flavor {
    Flavor::Build {
        extra: xtask::chroot_command::control_build_depends(&repo_root()).unwrap(),
    }
}

pub fn config() -> Config {
    Config::load(&repo_root()).unwrap()
}

/// A throwaway repository holding the real configuration edited by
/// `edit`, and the real debian/control (so that its build chroot has the
/// same name as the real one).
pub fn repo_with(edit: impl FnOnce(&mut toml_edit::DocumentMut)) -> Repo {
    let repo = Repo::new(&[], 1);
    let path = repo.root().join("packaging/pinwheel.toml");
    let mut doc: toml_edit::DocumentMut = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    edit(&mut doc);
    std::fs::write(&path, doc.to_string()).unwrap();
    std::fs::create_dir_all(repo.root().join("debian")).unwrap();
    std::fs::copy(
        repo_root().join("debian/control"),
        repo.root().join("debian/control"),
    )
    .unwrap();
    repo
}

fn with_mirror(mirror: &str) -> Repo {
    repo_with(|doc| doc["targets"]["bookworm"]["mirror"] = toml_edit::value(mirror))
}

fn chroot_bookworm(repo: &Repo, cache: &Path) -> Run {
    repo.xtask_env(
        &["chroot", "--target", "bookworm"],
        &[(CACHE_ENV, cache.to_str().unwrap())],
    )
}

/// The names of what `dir` holds, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn one_error_line(run: &Run) -> String {
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line: {run:#?}");
    errors[0].to_owned()
}

#[test]
fn unreachable_mirror_fails_in_one_line_and_leaves_nothing() {
    let cache = tempfile::tempdir().unwrap();
    let run = chroot_bookworm(&with_mirror("http://127.0.0.1:9/debian"), cache.path());
    assert_eq!(run.code, 2, "{run:#?}");
    let error = one_error_line(&run);
    assert!(error.contains("http://127.0.0.1:9/debian"), "{error}");
    assert!(error.contains("target bookworm"), "{error}");
    assert!(
        run.stderr
            .contains("making the bookworm chroot (mmdebstrap, about a minute)"),
        "{run:#?}"
    );
    assert!(
        run.stderr.contains("mmdebstrap's log"),
        "the log's tail: {run:#?}"
    );
    let left = listing(cache.path());
    assert!(!left.iter().any(|n| n.starts_with(".tmp-")), "{left:?}");
    let name = xtask::chroot::name(config().target("bookworm").unwrap(), &build_flavor());
    assert!(!left.contains(&name), "{left:?}");
    assert!(left.contains(&format!("{name}.log")), "{left:?}");
}

#[test]
fn half_made_and_incomplete_chroots_are_removed_never_used() {
    let cache = tempfile::tempdir().unwrap();
    let name = xtask::chroot::name(config().target("bookworm").unwrap(), &build_flavor());
    // A run killed while mmdebstrap ran, and a directory with the final
    // name that pinwheel did not make (no packages.txt).
    let killed = cache.path().join(format!(".tmp-{name}-0123456789abcdef"));
    std::fs::create_dir_all(killed.join("root/usr/bin")).unwrap();
    std::fs::write(
        killed.join("root/usr/bin/python3"),
        "#!/bin/sh\necho 3.11.2\n",
    )
    .unwrap();
    let incomplete = cache.path().join(&name);
    std::fs::create_dir_all(incomplete.join("root/etc")).unwrap();
    std::fs::write(incomplete.join("python-version"), "3.11.2\n").unwrap();
    // The mirror is down: nothing can be made, so nothing found may be used.
    let run = chroot_bookworm(&with_mirror("http://127.0.0.1:9/debian"), cache.path());
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr.contains("half-made by a stopped run"),
        "{run:#?}"
    );
    assert!(run.stderr.contains("has no packages.txt"), "{run:#?}");
    assert!(!killed.exists());
    assert!(!incomplete.exists());
}

/// A mirror on 127.0.0.1 serving a bookworm Release file: unsigned, or
/// signed by a key that is not Debian's.
fn hostile_mirror(signed: bool) -> Server {
    let server = Server::start().unwrap();
    let release = b"Origin: Debian\nLabel: Debian\nSuite: stable\nCodename: bookworm\n\
Date: Sat, 01 Jan 2033 00:00:00 UTC\nArchitectures: amd64\nComponents: main\nSHA256:\n"
        .to_vec();
    if signed {
        let key = keys::make(&keys::Spec::ed25519(7, "Not Debian"));
        let sig = key.sign(&release, &keys::SigOpts::at(1_700_000_000));
        server.route(
            "/debian/dists/bookworm/Release.gpg",
            Route::bytes(keys::asc(&[sig])),
        );
    }
    server.route("/debian/dists/bookworm/Release", Route::bytes(release));
    server
}

#[test]
fn adversarial_archive_not_signed_by_debian_is_refused() {
    for (signed, why) in [(true, "NO_PUBKEY"), (false, "is not signed")] {
        let server = hostile_mirror(signed);
        let cache = tempfile::tempdir().unwrap();
        let mirror = server.url("/debian");
        let run = chroot_bookworm(&with_mirror(&mirror), cache.path());
        run.refused("apt refused the Debian archive");
        let error = one_error_line(&run);
        assert!(error.contains(&mirror) && error.contains(why), "{error}");
        assert!(server.hits("/debian/dists/bookworm/Release") > 0);
        let left = listing(cache.path());
        assert!(!left.iter().any(|n| n.starts_with(".tmp-")), "{left:?}");
    }
}
