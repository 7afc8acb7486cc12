//! `cargo xtask update-deps` end to end: the real binary against a
//! temporary repository (`--root`) holding a configuration with two
//! targets (bookworm, CPython 3.11.2; trixie, CPython 3.13.5) and real
//! locks from `crates/pinwheel-pypa/test_data/locks/`. One file per
//! application and target, each evaluated for its target; idempotence,
//! `--check`, the review summary, the old layout removed, and every bad
//! input: a clear one-line error naming the file, the right exit code, and
//! nothing written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pinwheel_proof::loopback::{PageFile, Server};

use crate::support::repo::config_head;

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/pinwheel-pypa/test_data/locks")
        .join(rel)
}

/// A temporary repository with two applications: `extras` (uv.lock of
/// extras-markers) and `forked` (poetry.lock of fork).
struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo { dir };
        repo.add_app("extras", "extras-markers", "uv.lock", &[]);
        repo.add_app("forked", "fork", "poetry.lock", &[]);
        repo
    }

    fn root(&self) -> PathBuf {
        std::fs::canonicalize(self.dir.path()).unwrap()
    }

    fn add_app(&self, app: &str, case: &str, lock: &str, wheel_only: &[&str]) {
        let dir = self.root().join("packaging").join(app);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(
            data(case).join("pyproject.toml"),
            dir.join("pyproject.toml"),
        )
        .unwrap();
        std::fs::copy(data(case).join(lock), dir.join(lock)).unwrap();
        let config = self.root().join("packaging/pinwheel.toml");
        let mut text = std::fs::read_to_string(&config).unwrap_or_else(|_| config_head());
        let list: Vec<String> = wheel_only.iter().map(|w| format!("{w:?}")).collect();
        text += &format!(
            "\n[apps.{app}]\ndir = \"packaging/{app}\"\npyproject = \"packaging/{app}/pyproject.toml\"\n\
             lock = \"packaging/{app}/{lock}\"\nwheel-only = [{}]\n",
            list.join(", ")
        );
        std::fs::write(config, text).unwrap();
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }

    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.path(rel), text).unwrap();
    }

    fn edit(&self, rel: &str, from: &str, to: &str) {
        let text = self.read(rel);
        assert!(text.contains(from), "{rel} has no {from:?}");
        self.write(rel, &text.replacen(from, to, 1));
    }

    /// Every file under the root but the repository lock, with its bytes.
    fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let meta = std::fs::symlink_metadata(&path).unwrap();
                if meta.is_dir() {
                    walk(&path, root, out);
                } else if path.file_name().unwrap() != ".pinwheel.lock" {
                    let bytes = if meta.file_type().is_symlink() {
                        std::fs::read_link(&path)
                            .unwrap()
                            .to_string_lossy()
                            .as_bytes()
                            .to_vec()
                    } else {
                        std::fs::read(&path).unwrap()
                    };
                    out.insert(path.strip_prefix(root).unwrap().to_path_buf(), bytes);
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(&self.root(), &self.root(), &mut out);
        out
    }

    fn run(&self, args: &[&str]) -> Run {
        let mut all = vec!["--root", self.dir.path().to_str().unwrap(), "update-deps"];
        all.extend(args);
        let out = duct::cmd(env!("CARGO_BIN_EXE_xtask"), all)
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .unwrap();
        Run {
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
            code: out.status.code().unwrap_or(-1),
        }
    }

    /// Runs, expects failure with `code` and a one-line error containing
    /// every part of `want`, and checks that nothing changed.
    fn fails(&self, args: &[&str], code: i32, want: &[&str]) -> Run {
        let before = self.snapshot();
        let run = self.run(args);
        assert_eq!(run.code, code, "{args:?}: {run:?}");
        let error: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("error: "))
            .collect();
        assert_eq!(error.len(), 1, "{run:?}");
        assert_eq!(
            run.stderr
                .lines()
                .filter(|l| !l.starts_with("warning: "))
                .count(),
            1,
            "{run:?}"
        );
        for w in want {
            assert!(error[0].contains(w), "want {w:?} in {:?}", error[0]);
        }
        assert_eq!(self.snapshot(), before, "{args:?} changed files");
        run
    }
}

#[derive(Debug)]
struct Run {
    stdout: String,
    stderr: String,
    code: i32,
}

const EXTRAS: &str = "requirements/extras/bookworm/requirements.txt";
const FORKED: &str = "requirements/forked/bookworm/requirements.txt";
const EXTRAS_TRIXIE: &str = "requirements/extras/trixie/requirements.txt";
const FORKED_TRIXIE: &str = "requirements/forked/trixie/requirements.txt";

#[test]
fn writes_then_changes_nothing() {
    let repo = Repo::new();
    let first = repo.run(&[]);
    assert_eq!(first.code, 0, "{first:?}");
    assert!(
        first
            .stdout
            .contains(&format!("{EXTRAS}: updated (8 packages, target bookworm)")),
        "{first:?}"
    );
    assert!(
        first.stdout.contains("  added      pysocks 1.7.1"),
        "{first:?}"
    );
    assert!(
        first
            .stdout
            .contains(&format!("{FORKED}: updated (2 packages, target bookworm)")),
        "{first:?}"
    );
    let extras = repo.read(EXTRAS);
    assert!(extras.starts_with(
        "# Generated by `cargo xtask update-deps --app extras --target bookworm` from packaging/extras/uv.lock: do not edit.\n"
    ));
    assert!(
        extras.contains(
            "\n# Target: bookworm (Debian bookworm/amd64, CPython 3.11.2, linux_x86_64).\n"
        ),
        "{extras}"
    );
    let lock_sha =
        pinwheel_trust::hash::Sha256::of_file(&repo.path("packaging/extras/uv.lock")).unwrap();
    assert!(
        extras.contains(&format!("# packaging/extras/uv.lock sha256: {lock_sha}\n")),
        "{extras}"
    );
    assert!(repo.read(FORKED).contains("\nsix==1.16.0 \\\n"));
    // The same pins as `cargo xtask requirements` (checked against pip).
    let expected = std::fs::read_to_string(data("extras-markers/expected/uv.lock.txt")).unwrap();
    let body = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(body(&extras), body(&expected));

    let before = repo.snapshot();
    let second = repo.run(&[]);
    assert_eq!(second.code, 0, "{second:?}");
    assert!(
        second.stdout.contains(&format!(
            "{EXTRAS}: up to date (8 packages, target bookworm)"
        )),
        "{second:?}"
    );
    assert!(!second.stdout.contains("added"), "{second:?}");
    assert_eq!(repo.snapshot(), before);

    let check = repo.run(&["--check"]);
    assert_eq!(check.code, 0, "{check:?}");
    assert_eq!(repo.snapshot(), before);
}

#[test]
fn check_prints_the_diff_and_exits_1() {
    let repo = Repo::new();
    assert_eq!(repo.run(&[]).code, 0);
    let good = repo.read(EXTRAS);
    let pysocks_sdist = "3f8804571ebe159c380ac6de37643bb4685970655d3bba243530d6558b799aa0";
    let tampered = good.replace(pysocks_sdist, &"0".repeat(64));
    repo.write(EXTRAS, &tampered);
    let before = repo.snapshot();
    let run = repo.run(&["--check"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("--- a/{EXTRAS}\n+++ b/{EXTRAS}\n")),
        "diff headers are relative to the repository: {run:?}"
    );
    assert!(
        run.stdout
            .contains(&format!("-    --hash=sha256:{}", "0".repeat(64))),
        "{run:?}"
    );
    assert!(
        run.stdout
            .contains(&format!("+    --hash=sha256:{pysocks_sdist}")),
        "{run:?}"
    );
    assert!(
        run.stdout
            .contains("!!! HASH CHANGED AT THE SAME VERSION: pysocks 1.7.1"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains(&format!(
            "error: {EXTRAS} out of date; run `cargo xtask update-deps`"
        )),
        "{run:?}"
    );
    assert_eq!(repo.snapshot(), before, "--check wrote");

    // Writing repairs it, and says loudly what happened.
    let run = repo.run(&[]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout
            .contains("!!! HASH CHANGED AT THE SAME VERSION: pysocks 1.7.1"),
        "{run:?}"
    );
    assert_eq!(repo.read(EXTRAS), good);
}

#[test]
fn review_names_upgrades_and_removals() {
    let repo = Repo::new();
    assert_eq!(repo.run(&[]).code, 0);
    let good = repo.read(EXTRAS);
    let a = "a".repeat(64);
    let older = good.replace("idna==3.20 \\", "idna==3.7 \\")
        + &format!("zope-gone==1.0 \\\n    --hash=sha256:{a}\n");
    repo.write(EXTRAS, &older);
    let run = repo.run(&["--app", "extras"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("  upgraded   idna 3.7 → 3.20"),
        "{run:?}"
    );
    assert!(run.stdout.contains("  removed    zope-gone 1.0"), "{run:?}");
    assert!(
        !run.stdout.contains("forked"),
        "--app extras touched forked: {run:?}"
    );
    assert_eq!(repo.read(EXTRAS), good);

    repo.write(EXTRAS, "garbage\n");
    let run = repo.run(&["--app", "extras"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("the previous file could not be read"),
        "{run:?}"
    );
    assert_eq!(repo.read(EXTRAS), good);
}

#[test]
fn wheel_only_needs_the_configuration() {
    let repo = Repo::new();
    repo.add_app("wheels", "wheel-only", "uv.lock", &[]);
    repo.fails(
        &[],
        2,
        &[
            "application wheels: packaging/wheels/uv.lock: no sdist in the lock for certifi 2026.10.19.post1, \
             tensorboard-data-server 0.7.2: pin a version that publishes an sdist, or allow the package as \
             wheel-only (add it to `wheel-only` under [apps.wheels] in packaging/pinwheel.toml",
        ],
    );
    let repo = Repo::new();
    repo.add_app(
        "wheels",
        "wheel-only",
        "uv.lock",
        &["certifi", "tensorboard-data-server"],
    );
    let run = repo.run(&["--app", "wheels"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains("wheel-only tensorboard-data-server 0.7.2: pinned to upstream wheels"),
        "{run:?}"
    );
    let text = repo.read("requirements/wheels/bookworm/requirements.txt");
    assert!(
        text.contains("# wheel-only: certifi==2026.10.19.post1 publishes no sdist"),
        "{text}"
    );
}

#[test]
fn adversarial_unknown_app() {
    let repo = Repo::new();
    repo.fails(
        &["--app", "nope"],
        2,
        &["packaging/pinwheel.toml: no application named \"nope\" (known: extras, forked)"],
    );
}

#[test]
fn adversarial_malformed_toml() {
    let repo = Repo::new();
    repo.edit(
        "packaging/pinwheel.toml",
        "[targets.bookworm]",
        "[targets.bookworm",
    );
    repo.fails(&[], 2, &["packaging/pinwheel.toml"]);
    let repo = Repo::new();
    repo.edit("packaging/extras/uv.lock", "[[package]]", "[[package]");
    repo.fails(&[], 2, &["packaging/extras/uv.lock: malformed TOML"]);
    let repo = Repo::new();
    repo.edit("packaging/forked/poetry.lock", "[metadata]", "[metadata");
    repo.fails(&[], 2, &["packaging/forked/poetry.lock: malformed TOML"]);
    let repo = Repo::new();
    repo.edit("packaging/extras/pyproject.toml", "[project]", "[project");
    repo.fails(&[], 2, &["packaging/extras/pyproject.toml: malformed TOML"]);
}

#[test]
fn adversarial_bad_locks() {
    let cases: &[(&str, &str, &str, &[&str])] = &[
        ("packaging/extras/uv.lock", "version = 1\n", "version = 2\n", &["packaging/extras/uv.lock: unknown uv.lock version 2"]),
        (
            "packaging/forked/poetry.lock",
            "lock-version = \"2.1\"",
            "lock-version = \"3.0\"",
            &["packaging/forked/poetry.lock: unknown poetry.lock lock-version \"3.0\""],
        ),
        (
            "packaging/forked/poetry.lock",
            "markers = \"python_full_version >= \\\"3.11.3\\\"\"",
            "markers = \"python_full_version >= \\\"3.11\\\"\"",
            &["packaging/forked/poetry.lock: package six is locked twice (1.16.0 and 1.17.0) with markers that overlap"],
        ),
        (
            "packaging/extras/uv.lock",
            "name = \"idna\"\nversion",
            "name = \"idna-renamed\"\nversion",
            &["packaging/extras/uv.lock: requests 2.34.2 depends on idna, which is missing from the lock"],
        ),
        (
            "packaging/forked/poetry.lock",
            "hash = \"sha256:",
            "hash = \"sha256:abc",
            &["packaging/forked/poetry.lock: package iniconfig", "64 hex digits, found 67"],
        ),
        (
            "packaging/extras/uv.lock",
            "marker = \"sys_platform == 'win32'\"",
            "marker = \"sys_platform === 'win32'\"",
            &["packaging/extras/uv.lock: package case-extras-markers, dependency colorama: marker syntax error"],
        ),
    ];
    for (file, from, to, want) in cases {
        let repo = Repo::new();
        repo.edit(file, from, to);
        repo.fails(&[], 2, want);
    }
}

#[test]
fn adversarial_refused_locks_exit_1() {
    let cases: &[(&str, &str, &str, &[&str])] = &[
        (
            "packaging/extras/uv.lock",
            "hash = \"sha256:",
            "hash = \"sha512:",
            &[
                "packaging/extras/uv.lock: package attrs 26.1.0: attrs-26.1.0.tar.gz: hash",
                "is sha512, not sha256",
            ],
        ),
        (
            "packaging/forked/poetry.lock",
            "type = \"legacy\"",
            "type = \"directory\"",
            &[
                "packaging/forked/poetry.lock: package iniconfig",
                "comes from a directory source",
            ],
        ),
    ];
    for (file, from, to, want) in cases {
        let repo = Repo::new();
        repo.edit(file, from, to);
        repo.fails(&[], 1, want);
    }
}

fn reported(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/pinwheel-pypa/test_data/reported")
        .join(rel)
}

impl Repo {
    /// An application `app` of `lock` (copied, with `pyproject`, or an
    /// empty project) and extra lines for its configuration.
    fn add_lock_app(&self, app: &str, lock: &Path, pyproject: Option<&Path>, config: &str) {
        let dir = self.root().join("packaging").join(app);
        std::fs::create_dir_all(&dir).unwrap();
        let name = lock.file_name().unwrap().to_str().unwrap();
        std::fs::copy(lock, dir.join(name)).unwrap();
        match pyproject {
            Some(p) => std::fs::copy(p, dir.join("pyproject.toml"))
                .map(drop)
                .unwrap(),
            None => std::fs::write(
                dir.join("pyproject.toml"),
                format!("[project]\nname = \"{app}\"\nversion = \"1\"\n"),
            )
            .unwrap(),
        }
        let path = self.root().join("packaging/pinwheel.toml");
        let mut text = std::fs::read_to_string(&path).unwrap_or_else(|_| config_head());
        text += &format!(
            "\n[apps.{app}]\ndir = \"packaging/{app}\"\npyproject = \"packaging/{app}/pyproject.toml\"\n\
             lock = \"packaging/{app}/{name}\"\n{config}"
        );
        std::fs::write(path, text).unwrap();
    }

    fn pinned(&self, app: &str) -> Vec<String> {
        self.pinned_for(app, "bookworm")
    }

    fn pinned_for(&self, app: &str, target: &str) -> Vec<String> {
        let text = self.read(&format!("requirements/{app}/{target}/requirements.txt"));
        text.lines()
            .filter(|l| !l.starts_with('#') && l.contains("=="))
            .map(|l| l.trim_end_matches(" \\").to_owned())
            .collect()
    }
}

#[test]
fn extras_and_groups_from_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo { dir };
    let lock = reported("pylock-multi-use/pylock.toml");
    repo.add_lock_app("plain", &lock, None, "");
    repo.add_lock_app("feat", &lock, None, "extras = [\"feat\"]\n");
    repo.add_lock_app("dev", &lock, None, "groups = [\"dev\"]\n");
    let run = repo.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(repo.pinned("plain"), ["six==1.16.0"]);
    assert_eq!(repo.pinned("feat"), ["idna==3.7", "six==1.16.0"]);
    assert_eq!(repo.pinned("dev"), ["iniconfig==2.0.0", "six==1.16.0"]);
    // Something the lock does not offer is named, with the application.
    repo.add_lock_app("docs", &lock, None, "groups = [\"docs\"]\n");
    repo.fails(
        &["--app", "docs"],
        2,
        &["application docs: packaging/docs/pylock.toml: the lock has no dependency group \"docs\" (its groups: default, dev)"],
    );
    // An unknown key is still an error.
    repo.add_lock_app("typo", &lock, None, "extra = [\"feat\"]\n");
    repo.fails(&["--app", "feat"], 2, &["unknown field `extra`"]);
}

#[test]
fn adversarial_lock_for_another_platform() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo { dir };
    let case = reported("lock-for-other-platforms/uv-darwin-only");
    repo.add_lock_app(
        "darwin",
        &case.join("uv.lock"),
        Some(&case.join("pyproject.toml")),
        "",
    );
    repo.fails(
        &[],
        1,
        &["application darwin: packaging/darwin/uv.lock: the lock was resolved only for `sys_platform == 'darwin'` (supported-markers), and the target (CPython 3.11.2 on linux x86_64) is none of them"],
    );
}

#[test]
fn poetry_1_lock_of_an_application() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo { dir };
    repo.add_lock_app(
        "old",
        &data("fork/poetry1/poetry.lock"),
        Some(&data("fork/poetry1/pyproject.toml")),
        "",
    );
    let run = repo.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(repo.pinned("old"), ["packaging==24.1", "six==1.16.0"]);
    // Its pyproject.toml is still checked against the lock's content-hash.
    repo.edit(
        "packaging/old/pyproject.toml",
        "iniconfig = \">=2\"",
        "iniconfig = \">=3\"",
    );
    repo.fails(
        &["--check"],
        1,
        &["packaging/old/poetry.lock is out of date with packaging/old/pyproject.toml"],
    );
}

#[test]
fn adversarial_requirements_txt_lock() {
    let a = "a".repeat(64);
    for (text, want) in [
        (format!("six>=1.16 --hash=sha256:{a}\n"), "packaging/req/requirements.txt: line 1: requirement `six>=1.16` is not pinned with ==version"),
        (format!("six==1.16.0 --hash=sha256:{}\n", "a".repeat(63)), "64 hex digits, found 63"),
        (format!("six==1.16.0 ; python_version <> '3' --hash=sha256:{a}\n"), "packaging/req/requirements.txt: line 1: invalid requirement"),
        (
            std::fs::read_to_string(data("fork/pip-compile.txt")).unwrap(),
            "packaging/req/requirements.txt: a requirements.txt lock does not say which hash is the sdist's (packaging 24.1, six 1.16.0)",
        ),
    ] {
        let repo = Repo::new();
        let dir = repo.path("packaging/req");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(data("fork/pyproject.toml"), dir.join("pyproject.toml")).unwrap();
        std::fs::write(dir.join("requirements.txt"), text).unwrap();
        let config = repo.read("packaging/pinwheel.toml")
            + "\n[apps.req]\ndir = \"packaging/req\"\npyproject = \"packaging/req/pyproject.toml\"\n\
               lock = \"packaging/req/requirements.txt\"\n";
        repo.write("packaging/pinwheel.toml", &config);
        repo.fails(&[], 2, &[want]);
    }
}

#[test]
fn adversarial_stale_lock() {
    let repo = Repo::new();
    repo.edit(
        "packaging/extras/pyproject.toml",
        "\"attrs>=23\"",
        "\"attrs>=24\"",
    );
    repo.fails(
        &[],
        1,
        &[
            "packaging/extras/uv.lock is out of date with packaging/extras/pyproject.toml",
            "adds `attrs>=24`",
            "re-lock with `uv lock --project packaging/extras` or run `cargo xtask update-deps --relock`",
        ],
    );
    let repo = Repo::new();
    repo.edit(
        "packaging/forked/pyproject.toml",
        "\"six==1.16.0",
        "\"six==1.15.0",
    );
    repo.fails(
        &["--check"],
        1,
        &[
            "packaging/forked/poetry.lock is out of date",
            "content-hash",
            "poetry lock --directory packaging/forked",
        ],
    );
}

#[test]
fn adversarial_relock_without_the_locker() {
    let repo = Repo::new();
    repo.edit(
        "packaging/extras/pyproject.toml",
        "\"attrs>=23\"",
        "\"attrs>=24\"",
    );
    let empty = tempfile::tempdir().unwrap();
    let before = repo.snapshot();
    let out = duct::cmd(
        env!("CARGO_BIN_EXE_xtask"),
        [
            "--root",
            repo.dir.path().to_str().unwrap(),
            "update-deps",
            "--relock",
        ],
    )
    .env("PATH", empty.path())
    .stdout_capture()
    .stderr_capture()
    .unchecked()
    .run()
    .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--relock needs uv, which is not installed"),
        "{stderr}"
    );
    assert_eq!(repo.snapshot(), before);
}

#[test]
fn adversarial_one_bad_app_writes_nothing() {
    let repo = Repo::new();
    // "extras" sorts first and is fine; "forked" is broken.
    repo.edit(
        "packaging/forked/poetry.lock",
        "lock-version = \"2.1\"",
        "lock-version = \"0.9\"",
    );
    repo.fails(
        &[],
        2,
        &["application forked: packaging/forked/poetry.lock: unknown poetry.lock lock-version"],
    );
    assert!(!repo.path(EXTRAS).exists());
}

#[test]
fn adversarial_lockfile_symlink_out_of_the_repository() {
    let repo = Repo::new();
    let outside = tempfile::tempdir().unwrap();
    let lock = repo.path("packaging/extras/uv.lock");
    std::fs::copy(&lock, outside.path().join("uv.lock")).unwrap();
    std::fs::remove_file(&lock).unwrap();
    std::os::unix::fs::symlink(outside.path().join("uv.lock"), &lock).unwrap();
    repo.fails(
        &[],
        2,
        &[&format!(
            "{}: the lockfile leads out of the repository",
            lock.display()
        )],
    );
    // A symlink that stays inside is fine.
    let repo = Repo::new();
    let lock = repo.path("packaging/extras/uv.lock");
    std::fs::rename(&lock, repo.path("packaging/extras/real.lock")).unwrap();
    std::os::unix::fs::symlink("real.lock", &lock).unwrap();
    let run = repo.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
}

#[test]
fn adversarial_output_symlink() {
    let repo = Repo::new();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim.txt");
    std::fs::write(&victim, "precious\n").unwrap();
    std::fs::create_dir_all(repo.path("requirements/extras/bookworm")).unwrap();
    std::os::unix::fs::symlink(&victim, repo.path(EXTRAS)).unwrap();
    repo.fails(
        &[],
        2,
        &[&format!(
            "{}: is a symbolic link",
            repo.path(EXTRAS).display()
        )],
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(!repo.path(FORKED).exists());

    // The directory itself leading out.
    let repo = Repo::new();
    std::fs::create_dir_all(repo.path("requirements")).unwrap();
    std::os::unix::fs::symlink(outside.path(), repo.path("requirements/extras")).unwrap();
    repo.fails(
        &[],
        2,
        &["requirements/extras: leads out of the repository"],
    );
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);

    // A target's directory leading out.
    let repo = Repo::new();
    std::fs::create_dir_all(repo.path("requirements/extras")).unwrap();
    std::os::unix::fs::symlink(outside.path(), repo.path("requirements/extras/bookworm")).unwrap();
    repo.fails(
        &[],
        2,
        &["requirements/extras/bookworm: leads out of the repository"],
    );
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
}

/// A repository whose only application is `app`, locked by `lock_name`
/// with `lock_text`, and whose index is a loopback server.
fn online_repo(server: &Server, lock_name: &str, lock_text: &str) -> Repo {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo { dir };
    let app = repo.path("packaging/app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(
        app.join("pyproject.toml"),
        "[project]\nname = \"app\"\nversion = \"1\"\ndependencies = []\n",
    )
    .unwrap();
    std::fs::write(app.join(lock_name), lock_text).unwrap();
    let head = config_head().replace(
        "url = \"https://pypi.org/simple/\"",
        &format!("url = {:?}", server.url("/simple/")),
    );
    assert!(head.contains("127.0.0.1"), "{head}");
    repo.write(
        "packaging/pinwheel.toml",
        &format!(
            "{head}\n[apps.app]\ndir = \"packaging/app\"\npyproject = \"packaging/app/pyproject.toml\"\nlock = \"packaging/app/{lock_name}\"\n"
        ),
    );
    repo
}

fn loopback() -> (Server, PageFile, PageFile, PageFile) {
    let server = Server::start().unwrap();
    let sdist = PageFile::new("demo_pkg-1.0.tar.gz", b"demo sdist".to_vec());
    let wheel = PageFile::new("demo_pkg-1.0-py3-none-any.whl", b"demo wheel".to_vec());
    let mut yanked = PageFile::new("old_pkg-0.1.tar.gz", b"old sdist".to_vec());
    yanked.yanked = Some("broken release".into());
    server.add_project(
        "/simple/",
        "demo-pkg",
        &[sdist.clone(), wheel.clone()],
        "/files/",
    );
    server.add_project("/simple/", "old-pkg", &[yanked.clone()], "/files/");
    (server, sdist, wheel, yanked)
}

fn sha(f: &PageFile) -> String {
    pinwheel_trust::hash::Sha256::of(&f.bytes).to_string()
}

#[test]
fn online_learns_the_sdist_of_a_requirements_txt_lock() {
    let (server, sdist, wheel, yanked) = loopback();
    let lock = format!(
        "demo-pkg==1.0 \\\n    --hash=sha256:{} \\\n    --hash=sha256:{}\nold-pkg==0.1 --hash=sha256:{}\n",
        sha(&wheel),
        sha(&sdist),
        sha(&yanked)
    );
    let repo = online_repo(&server, "requirements.txt", &lock);
    repo.fails(&[], 2, &["packaging/app/requirements.txt: a requirements.txt lock does not say which hash is the sdist's (demo-pkg 1.0, old-pkg 0.1)"]);
    let run = repo.run(&["--online"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr
            .contains("old_pkg-0.1.tar.gz is yanked on the index: broken release"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains(&format!(
            "update-deps --online: 2 pinned sdist(s) found on {}",
            server.url("/simple/")
        )),
        "one line says what was checked where: {run:?}"
    );
    assert_eq!(
        run.stderr.matches("is yanked").count(),
        1,
        "each warning once: {run:?}"
    );
    let text = repo.read("requirements/app/bookworm/requirements.txt");
    let pins = pinwheel_pypa::requirements_txt::Pins::parse(&text).unwrap();
    let got: Vec<(String, Vec<String>)> = pins
        .pins
        .iter()
        .map(|p| {
            (
                p.name.to_string(),
                p.hashes().map(|h| h.to_string()).collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("demo-pkg".to_owned(), vec![sha(&sdist)]),
            ("old-pkg".to_owned(), vec![sha(&yanked)])
        ]
    );
    assert!(server.hits("/simple/demo-pkg/") >= 1);
}

#[test]
fn adversarial_online_pinned_sdist_not_served() {
    let (server, sdist, wheel, _) = loopback();
    let pylock = |hash: &str| {
        format!(
            "lock-version = \"1.0\"\ncreated-by = \"hand\"\n\n[[packages]]\nname = \"demo-pkg\"\nversion = \"1.0\"\n\
             sdist = {{ url = \"https://files.example/demo_pkg-1.0.tar.gz\", hashes = {{ sha256 = \"{hash}\" }} }}\n\
             wheels = [{{ url = \"https://files.example/demo_pkg-1.0-py3-none-any.whl\", hashes = {{ sha256 = \"{}\" }} }}]\n",
            sha(&wheel)
        )
    };
    // The served sdist: fine, and the same pins as offline.
    let repo = online_repo(&server, "pylock.toml", &pylock(&sha(&sdist)));
    let run = repo.run(&["--online"]);
    assert_eq!(run.code, 0, "{run:?}");
    let online = repo.read("requirements/app/bookworm/requirements.txt");
    assert_eq!(repo.run(&["--check"]).code, 0);
    assert!(online.contains(&sha(&sdist)));

    // A pinned sdist the index does not serve: verification failure.
    let tampered = pinwheel_trust::hash::Sha256::of(b"tampered").to_string();
    let repo = online_repo(&server, "pylock.toml", &pylock(&tampered));
    repo.fails(
        &["--online"],
        1,
        &[&format!(
            "demo-pkg==1.0 sha256:{tampered}: the index serves no file with this hash"
        )],
    );
    // The wheel's hash pinned as the sdist: also refused.
    let repo = online_repo(&server, "pylock.toml", &pylock(&sha(&wheel)));
    repo.fails(&["--online"], 1, &["which is not an sdist"]);
}

#[test]
fn adversarial_two_runs_at_once() {
    let repo = Repo::new();
    let guard = xtask::fresh::RepoLock::acquire(&repo.root()).unwrap();
    let handle = duct::cmd(
        env!("CARGO_BIN_EXE_xtask"),
        ["--root", repo.dir.path().to_str().unwrap(), "update-deps"],
    )
    .stdout_capture()
    .stderr_capture()
    .unchecked()
    .start()
    .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        handle.try_wait().unwrap().is_none(),
        "the second run did not wait for the lock"
    );
    assert!(
        !repo.path(EXTRAS).exists(),
        "wrote while another run held the lock"
    );
    drop(guard);
    let start = Instant::now();
    let out = handle.wait().unwrap();
    assert!(start.elapsed() < Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("waiting for another pinwheel run to finish"),
        "{stderr}"
    );
    assert!(repo.path(EXTRAS).exists());
}

/// Runs the xtask binary with `args` under `root`: (exit code, stdout,
/// stderr).
fn xtask_in(root: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["--root", root.to_str().unwrap()];
    all.extend(args);
    let out = duct::cmd(env!("CARGO_BIN_EXE_xtask"), all)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn checked_in_requirements_are_fresh() {
    // `cargo xtask update-deps --check` over this repository: every
    // requirements.txt is fresh and nothing of the old layout is left. A
    // target whose wheels are not built yet (`build-wheels --target NAME`
    // runs in its chroot) may lack its build-requirements.txt, and only
    // that, with the command that builds them.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let (code, stdout, stderr) = xtask_in(root, &["update-deps", "--check"]);
    let all = format!("run `cargo xtask update-deps`:\n{stdout}{stderr}");
    for target in ["bookworm", "trixie"] {
        assert!(
            stdout.contains(&format!(
                "requirements/pinwheel-demo/{target}/requirements.txt: up to date"
            )),
            "{all}"
        );
    }
    assert!(
        !stdout.contains("out of date") && !stdout.contains(": stale"),
        "{all}"
    );
    assert!(!root
        .join("requirements/pinwheel-demo/requirements.txt")
        .exists());
    match code {
        0 => {}
        1 => {
            let error: Vec<&str> = stderr
                .lines()
                .filter(|l| l.starts_with("error: "))
                .collect();
            assert_eq!(error.len(), 1, "{all}");
            assert!(
                error[0].contains("no wheel for ")
                    && error[0].contains("run `cargo xtask build-wheels --target ")
                    && !error[0].contains("out of date"),
                "{all}"
            );
        }
        _ => panic!("{all}"),
    }
}

#[test]
fn adversarial_killed_mid_run_leaves_old_or_new() {
    // A big synthetic lock makes the run long enough to be killed at
    // several moments; the file is always the old one or the new one.
    let repo = Repo::new();
    let app = repo.path("packaging/synth");
    let write_lock = |n: usize| {
        let lock = pinwheel_proof::synthetic_lock::generate(n, 7);
        std::fs::create_dir_all(&app).unwrap();
        std::fs::write(app.join("pyproject.toml"), &lock.pyproject).unwrap();
        std::fs::write(app.join("uv.lock"), &lock.uv_lock).unwrap();
    };
    write_lock(1000);
    let config = repo.read("packaging/pinwheel.toml")
        + "\n[apps.synth]\ndir = \"packaging/synth\"\npyproject = \"packaging/synth/pyproject.toml\"\n\
           lock = \"packaging/synth/uv.lock\"\n";
    repo.write("packaging/pinwheel.toml", &config);
    assert_eq!(repo.run(&["--app", "synth"]).code, 0);
    let out = "requirements/synth/bookworm/requirements.txt";
    let old = repo.read(out);
    write_lock(2000);
    let mut seen = Vec::new();
    for delay_ms in [0, 1, 3, 6, 10, 15, 20, 30, 45, 60, 90, 130] {
        let handle = duct::cmd(
            env!("CARGO_BIN_EXE_xtask"),
            [
                "--root",
                repo.dir.path().to_str().unwrap(),
                "update-deps",
                "--app",
                "synth",
            ],
        )
        .stdout_null()
        .stderr_null()
        .unchecked()
        .start()
        .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        handle.kill().unwrap();
        let now = repo.read(out);
        if now != old {
            std::fs::write(repo.path(out), &old).unwrap();
        }
        seen.push((delay_ms, now));
    }
    let run = repo.run(&["--app", "synth"]);
    assert_eq!(run.code, 0, "{run:?}");
    let new = repo.read(out);
    assert_ne!(new, old);
    for (delay_ms, text) in seen {
        assert!(
            text == old || text == new,
            "a partial file after a kill at {delay_ms} ms"
        );
    }
}

/// A copy of this repository's packaging/, requirements/ and signed
/// wheels-index/ in a temporary root (no git: the rollback check against
/// HEAD is skipped there, the rest of `verify` runs).
fn demo_copy() -> tempfile::TempDir {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for sub in ["packaging", "requirements", "wheels-index"] {
        duct::cmd!("cp", "-a", repo.join(sub), dir.path().join(sub))
            .run()
            .unwrap();
    }
    dir
}

#[test]
fn build_requirements_come_from_the_verified_index() {
    let dir = demo_copy();
    let (code, stdout, stderr) = xtask_in(
        dir.path(),
        &["update-deps", "--check", "--target", "bookworm"],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "requirements/pinwheel-demo/bookworm/build-requirements.txt: up to date (10 packages, target bookworm)"
        ),
        "{stdout}"
    );
    assert!(
        !stdout.contains("trixie"),
        "--target bookworm looked at trixie: {stdout}"
    );
    let text = fs_err::read_to_string(
        dir.path()
            .join("requirements/pinwheel-demo/bookworm/build-requirements.txt"),
    )
    .unwrap();
    assert!(
        text.contains("# markupsafe-3.0.4-cp311-cp311-linux_x86_64.whl\n"),
        "bookworm installs CPython 3.11 wheels: {text}"
    );
    // Trixie installs only cp313 builds of MarkupSafe: up to date once
    // they are built in its chroot, else named as missing.
    let (code, stdout, stderr) = xtask_in(
        dir.path(),
        &["update-deps", "--check", "--target", "trixie"],
    );
    assert!(
        stdout.contains("requirements/pinwheel-demo/trixie/requirements.txt: up to date"),
        "{stdout}"
    );
    if code != 0 {
        assert_eq!(code, 1, "{stdout}{stderr}");
        assert!(
            stderr.contains(
                "that target trixie (CPython 3.13.5, linux_x86_64) can install in wheels-index/files/: \
                 run `cargo xtask build-wheels --target trixie`"
            ),
            "{stderr}"
        );
    }
}

#[test]
fn missing_wheels_name_the_target_and_the_pins_are_still_written() {
    // An arm64 target: no wheel of MarkupSafe in the index is for it.
    let dir = demo_copy();
    let config = dir.path().join("packaging/pinwheel.toml");
    let text = fs_err::read_to_string(&config).unwrap()
        + "\n[targets.trixie-arm64]\nsuite = \"trixie\"\narchitecture = \"arm64\"\npython = \"3.13.5\"\n";
    fs_err::write(&config, text).unwrap();
    let reqs = dir
        .path()
        .join("requirements/pinwheel-demo/trixie-arm64/requirements.txt");
    let build = reqs.with_file_name("build-requirements.txt");
    let want = "requirements/pinwheel-demo/trixie-arm64/build-requirements.txt: no wheel for \
                markupsafe==3.0.4 that target trixie-arm64 (CPython 3.13.5, linux_aarch64) can install \
                in wheels-index/files/: run `cargo xtask build-wheels --target trixie-arm64`";
    let (code, stdout, stderr) = xtask_in(dir.path(), &["update-deps", "--target", "trixie-arm64"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains(want), "{stderr}");
    // What build-wheels builds from is written; what cannot be made is not.
    assert!(reqs.exists(), "{stdout}");
    assert!(!build.exists());
    assert!(
        stdout.contains(
            "trixie-arm64/build-requirements.txt: not written (no wheel for markupsafe==3.0.4"
        ),
        "{stdout}"
    );
    // No loop: the pins stay fresh, only the wheels are missing.
    let before = fs_err::read(&reqs).unwrap();
    let (code, stdout, stderr) = xtask_in(
        dir.path(),
        &["update-deps", "--check", "--target", "trixie-arm64"],
    );
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "trixie-arm64/requirements.txt: up to date (9 packages, target trixie-arm64)"
        ),
        "{stdout}"
    );
    assert!(
        stderr.contains(want) && !stderr.contains("out of date"),
        "{stderr}"
    );
    assert_eq!(fs_err::read(&reqs).unwrap(), before);
}

#[test]
fn adversarial_wheel_changed_after_signing_blocks_build_requirements() {
    let dir = demo_copy();
    let files = dir.path().join("wheels-index/files");
    let wheel = fs_err::read_dir(&files)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .unwrap();
    let mut bytes = fs_err::read(&wheel).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs_err::write(&wheel, bytes).unwrap();
    let reqs = dir
        .path()
        .join("requirements/pinwheel-demo/bookworm/build-requirements.txt");
    fs_err::write(&reqs, "# an older file\n").unwrap();
    let out = duct::cmd!(
        env!("CARGO_BIN_EXE_xtask"),
        "--root",
        dir.path(),
        "update-deps"
    )
    .stdout_capture()
    .stderr_capture()
    .unchecked()
    .run()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the wheel index does not verify"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&*wheel.file_name().unwrap().to_string_lossy()),
        "{stderr}"
    );
    assert_eq!(fs_err::read_to_string(&reqs).unwrap(), "# an older file\n");
}

#[test]
fn each_target_pins_what_its_python_installs() {
    let repo = Repo::new();
    let run = repo.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    // `tomli; python_full_version < '3.11.3'` and six 1.16.0 / 1.17.0
    // around 3.11.3: bookworm (3.11.2) and trixie (3.13.5) differ.
    assert!(
        run.stdout.contains(&format!(
            "{EXTRAS_TRIXIE}: updated (7 packages, target trixie)"
        )),
        "{run:?}"
    );
    assert!(repo
        .pinned("extras")
        .iter()
        .any(|p| p.starts_with("tomli==")));
    assert!(!repo
        .pinned_for("extras", "trixie")
        .iter()
        .any(|p| p.starts_with("tomli==")));
    assert_eq!(repo.pinned("forked"), ["packaging==24.1", "six==1.16.0"]);
    assert_eq!(
        repo.pinned_for("forked", "trixie"),
        ["packaging==24.1", "six==1.17.0"]
    );
    let trixie = repo.read(FORKED_TRIXIE);
    assert!(
        trixie.starts_with(
            "# Generated by `cargo xtask update-deps --app forked --target trixie` from packaging/forked/poetry.lock: do not edit.\n"
        ),
        "{trixie}"
    );
    assert!(
        trixie
            .contains("\n# Target: trixie (Debian trixie/amd64, CPython 3.13.5, linux_x86_64).\n"),
        "{trixie}"
    );
    // The same pins as `requirements --python 3.13.5` of the same lock.
    let (code, out, err) = xtask_in(
        Path::new("/"),
        &[
            "requirements",
            "--lock",
            repo.path("packaging/extras/uv.lock").to_str().unwrap(),
            "--python",
            "3.13.5",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let body = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(body(&repo.read(EXTRAS_TRIXIE)), body(&out));

    // --target: only that target's files.
    repo.write(EXTRAS, "garbage\n");
    repo.write(EXTRAS_TRIXIE, "garbage\n");
    let run = repo.run(&["--target", "trixie"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.stdout.contains("bookworm"), "{run:?}");
    assert_eq!(repo.read(EXTRAS), "garbage\n");
    assert_ne!(repo.read(EXTRAS_TRIXIE), "garbage\n");
    let run = repo.run(&["--check", "--target", "bookworm"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains(&format!("error: {EXTRAS} out of date")),
        "{run:?}"
    );
    repo.fails(
        &["--target", "sid"],
        2,
        &["packaging/pinwheel.toml: no target named \"sid\" (known: bookworm, trixie)"],
    );
}

#[test]
fn an_application_narrowed_to_one_target_loses_the_others_files() {
    let repo = Repo::new();
    assert_eq!(repo.run(&[]).code, 0);
    repo.edit(
        "packaging/pinwheel.toml",
        "lock = \"packaging/forked/poetry.lock\"\n",
        "lock = \"packaging/forked/poetry.lock\"\ntargets = [\"trixie\"]\n",
    );
    let before = repo.snapshot();
    let run = repo.run(&["--check"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains(&format!(
            "{FORKED}: stale (application forked no longer ships to target bookworm (apps.forked.targets)); \
             `cargo xtask update-deps` removes it"
        )),
        "{run:?}"
    );
    assert_eq!(repo.snapshot(), before, "--check removed a file");
    let run = repo.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains(&format!("{FORKED}: removed (")),
        "{run:?}"
    );
    assert!(!repo.path("requirements/forked/bookworm").exists());
    assert!(repo.path(FORKED_TRIXIE).exists() && repo.path(EXTRAS).exists());
    repo.fails(
        &["--app", "forked", "--target", "bookworm"],
        2,
        &["application forked does not ship to bookworm (its targets: trixie)"],
    );
    assert_eq!(repo.run(&["--check"]).code, 0);
}

#[test]
fn the_old_layout_is_removed_and_stale_in_check() {
    let repo = Repo::new();
    assert_eq!(repo.run(&[]).code, 0);
    // The old file: the application's pins for CPython 3.11.2.
    std::fs::copy(
        repo.path(EXTRAS),
        repo.path("requirements/extras/requirements.txt"),
    )
    .unwrap();
    std::fs::remove_file(repo.path(EXTRAS_TRIXIE)).unwrap();
    std::fs::write(
        repo.path("requirements/extras/build-requirements.txt"),
        "old\n",
    )
    .unwrap();
    std::fs::create_dir_all(repo.path("requirements/extras/sid")).unwrap();
    std::fs::write(
        repo.path("requirements/extras/sid/requirements.txt"),
        "old\n",
    )
    .unwrap();
    let before = repo.snapshot();
    let run = repo.run(&["--check"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains(
            "requirements/extras/requirements.txt: stale (one file per application is the old layout; \
             the files are per target now, under requirements/extras/<target>/)"
        ),
        "{run:?}"
    );
    assert!(
        run.stdout.contains(
            "requirements/extras/sid/requirements.txt: stale (target sid is no longer configured)"
        ),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("requirements/extras/build-requirements.txt")
            && run
                .stderr
                .contains("out of date; run `cargo xtask update-deps`"),
        "{run:?}"
    );
    assert_eq!(repo.snapshot(), before);
    // Writing one target keeps the old file, which the others still need.
    let run = repo.run(&["--target", "bookworm"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains(
            "requirements/extras/requirements.txt: stale (one file per application is the old layout; \
             the files are per target now, under requirements/extras/<target>/); kept until \
             `cargo xtask update-deps` writes every target"
        ),
        "{run:?}"
    );
    assert!(repo.path("requirements/extras/requirements.txt").exists());
    assert!(!repo.path(EXTRAS_TRIXIE).exists());
    // A target no longer configured has no use for its files.
    assert!(
        run.stdout
            .contains("requirements/extras/sid/requirements.txt: removed (target sid is no longer configured)"),
        "{run:?}"
    );
    assert!(!repo.path("requirements/extras/sid").exists());
    let run = repo.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    // A target's first file is reviewed against the old one.
    assert!(
        run.stdout.contains(&format!(
            "{EXTRAS_TRIXIE}: updated (7 packages, target trixie)\n  removed    tomli "
        )),
        "{run:?}"
    );
    for gone in [
        "requirements/extras/requirements.txt",
        "requirements/extras/build-requirements.txt",
    ] {
        assert!(
            run.stdout.contains(&format!("{gone}: removed (")),
            "{run:?}"
        );
        assert!(!repo.path(gone).exists(), "{gone}");
    }
    assert_eq!(repo.run(&["--check"]).code, 0);
}

#[test]
fn adversarial_python_range_excludes_a_target() {
    // (file, from, to, error): each refused (exit 1) with one line naming
    // the file, the range and the target, and nothing written.
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "packaging/extras/pyproject.toml",
            "requires-python = \">=3.9\"",
            "requires-python = \">=3.13\"",
            "packaging/extras/pyproject.toml: requires-python \">=3.13\" excludes target bookworm (CPython 3.11.2)",
        ),
        (
            "packaging/extras/pyproject.toml",
            "requires-python = \">=3.9\"",
            "requires-python = \">=3.9,<3.13\"",
            "packaging/extras/pyproject.toml: requires-python \">=3.9,<3.13\" excludes target trixie (CPython 3.13.5)",
        ),
        (
            "packaging/forked/poetry.lock",
            "lock-version = \"2.1\"\npython-versions = \">=3.9\"",
            "lock-version = \"2.1\"\npython-versions = \"^3.12\"",
            "packaging/forked/poetry.lock: python-versions \"^3.12\" excludes target bookworm (CPython 3.11.2)",
        ),
        (
            "packaging/forked/poetry.lock",
            "lock-version = \"2.1\"\npython-versions = \">=3.9\"",
            "lock-version = \"2.1\"\npython-versions = \"~3.11\"",
            "packaging/forked/poetry.lock: python-versions \"~3.11\" excludes target trixie (CPython 3.13.5)",
        ),
    ];
    for (file, from, to, want) in cases {
        let repo = Repo::new();
        repo.edit(file, from, to);
        repo.fails(&[], 1, &[want, "widen it, or take"]);
        repo.fails(&["--target", "trixie"], 1, &[want]);
    }
    // uv.lock records its project's requires-python: the lock and
    // pyproject.toml say the same, and pyproject.toml is named first.
    let repo = Repo::new();
    repo.edit(
        "packaging/extras/uv.lock",
        "requires-python = \">=3.9\"",
        "requires-python = \">=3.12\"",
    );
    repo.edit(
        "packaging/extras/pyproject.toml",
        "requires-python = \">=3.9\"",
        "requires-python = \">=3.12\"",
    );
    repo.fails(&[], 1, &["packaging/extras/pyproject.toml: requires-python \">=3.12\" excludes target bookworm (CPython 3.11.2)"]);

    // pylock.toml.
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo { dir };
    repo.add_lock_app("app", &reported("pylock-multi-use/pylock.toml"), None, "");
    repo.edit(
        "packaging/app/pylock.toml",
        "requires-python = \">=3.11\"",
        "requires-python = \">=3.11.3\"",
    );
    repo.fails(&[], 1, &["application app: packaging/app/pylock.toml: requires-python \">=3.11.3\" excludes target bookworm (CPython 3.11.2)"]);

    // Poetry 1.x: the range in [tool.poetry.dependencies].
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo { dir };
    repo.add_lock_app(
        "old",
        &data("fork/poetry1/poetry.lock"),
        Some(&data("fork/poetry1/pyproject.toml")),
        "",
    );
    repo.edit(
        "packaging/old/pyproject.toml",
        "python = \">=3.9\"",
        "python = \"~3.11\"",
    );
    repo.fails(&[], 1, &["packaging/old/pyproject.toml: [tool.poetry.dependencies] python \"~3.11\" excludes target trixie (CPython 3.13.5)"]);
}

#[test]
fn a_range_need_only_hold_on_the_targets_an_application_ships_to() {
    let repo = Repo::new();
    repo.edit(
        "packaging/forked/poetry.lock",
        "lock-version = \"2.1\"\npython-versions = \">=3.9\"",
        "lock-version = \"2.1\"\npython-versions = \"~3.11\"",
    );
    repo.edit(
        "packaging/pinwheel.toml",
        "lock = \"packaging/forked/poetry.lock\"\n",
        "lock = \"packaging/forked/poetry.lock\"\ntargets = [\"bookworm\"]\n",
    );
    let run = repo.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(repo.path(FORKED).exists() && !repo.path(FORKED_TRIXIE).exists());
    assert!(repo.path(EXTRAS_TRIXIE).exists());
}
