//! `cargo xtask requirements` on real locks made by uv, poetry, `uv export`
//! and pip-compile (`crates/pinwheel-pypa/test_data/locks/`): the output is byte for byte
//! the checked-in snapshot (`UPDATE_EXPECT=1` rewrites it), and its pins
//! are exactly what pip installs from that lock on the target (the truth
//! files, computed by the lockers and pip without pinwheel). Then pip
//! itself reads our format with `--require-hashes`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use pinwheel_pypa::lockfile::{self, Artifact, Classified, Format, Query, SdistLookup};
use pinwheel_pypa::requirements_txt::{self, Header, Pin, PinnedFile, Pins};
use pinwheel_trust::hash::Sha256;

const CASES: [&str; 3] = ["extras-markers", "fork", "wheel-only"];

/// The same project locked by Poetry 1.8 (lock-version 2.0, no groups),
/// from the `[tool.poetry.dependencies]` form of its pyproject.toml.
const POETRY1: &str = "poetry1/poetry.lock";

fn locks_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/pinwheel-pypa/test_data/locks")
}

fn reported_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/pinwheel-pypa/test_data/reported")
}

/// The `name==version` lines of a requirements file.
fn pinned(text: &str) -> Vec<String> {
    Pins::parse(text)
        .unwrap()
        .pins
        .iter()
        .map(|p| format!("{}=={}", p.name, p.version))
        .collect()
}

/// (stdout, stderr, exit code) of the xtask binary run in `cwd`.
fn xtask(cwd: &Path, args: &[&str]) -> (String, String, i32) {
    let empty = tempfile::tempdir().unwrap();
    let out = duct::cmd(env!("CARGO_BIN_EXE_xtask"), args)
        .dir(cwd)
        .env("PINWHEEL_ROOT", empty.path())
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code().unwrap_or(-1),
    )
}

/// One truth line: name version kind sha256 filename.
struct Truth {
    name: String,
    version: String,
    kind: String,
    sha256: String,
    filename: String,
}

fn truth(case: &str, lock: &str) -> Vec<Truth> {
    let text = std::fs::read_to_string(
        locks_dir()
            .join(case)
            .join("truth")
            .join(format!("{lock}.txt")),
    )
    .unwrap();
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            Truth {
                name: f[0].into(),
                version: f[1].into(),
                kind: f[2].into(),
                sha256: f[3].into(),
                filename: f[4].into(),
            }
        })
        .collect()
}

/// name → (version, sorted hashes, wheel-only) from the truth file.
fn expected_pins(truth: &[Truth]) -> BTreeMap<String, (String, BTreeSet<String>, bool)> {
    let mut out: BTreeMap<String, (String, BTreeSet<String>, bool)> = BTreeMap::new();
    for t in truth {
        let e = out
            .entry(t.name.clone())
            .or_insert_with(|| (t.version.clone(), BTreeSet::new(), t.kind == "wheel"));
        e.1.insert(t.sha256.clone());
    }
    out
}

fn actual_pins(pins: &[Pin]) -> BTreeMap<String, (String, BTreeSet<String>, bool)> {
    pins.iter()
        .map(|p| {
            (
                p.name.to_string(),
                (
                    p.version.to_string(),
                    p.hashes().map(|h| h.to_string()).collect(),
                    p.wheel_only,
                ),
            )
        })
        .collect()
}

/// Compares with the snapshot, or rewrites it under UPDATE_EXPECT=1.
fn expect_file(path: &Path, actual: &str) {
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path)
        .unwrap_or_else(|_| panic!("{} is missing; run with UPDATE_EXPECT=1", path.display()));
    if expected != actual {
        panic!(
            "{} differs (UPDATE_EXPECT=1 rewrites it):\n{}",
            path.display(),
            xtask::fresh::unified_diff(&expected, actual, &path.display().to_string())
        );
    }
}

#[test]
fn requirements_match_what_pip_installs() {
    let dir = locks_dir();
    for case in CASES {
        for lock in ["uv.lock", "poetry.lock", "pylock.toml", POETRY1] {
            let truth = truth(case, lock);
            let wheel_only: BTreeSet<&str> = truth
                .iter()
                .filter(|t| t.kind == "wheel")
                .map(|t| t.name.as_str())
                .collect();
            let lock_arg = format!("{case}/{lock}");
            let mut args = vec!["requirements", "--lock", &lock_arg];
            for name in &wheel_only {
                args.extend(["--allow-wheel-only", name]);
            }
            let (stdout, stderr, code) = xtask(&dir, &args);
            assert_eq!(code, 0, "{lock_arg}: {stderr}");
            expect_file(
                &dir.join(case).join("expected").join(format!("{lock}.txt")),
                &stdout,
            );
            let pins = Pins::parse(&stdout).unwrap();
            assert_eq!(actual_pins(&pins.pins), expected_pins(&truth), "{lock_arg}");
            for pin in pins.pins.iter().filter(|p| p.wheel_only) {
                for f in &pin.files {
                    let t = truth
                        .iter()
                        .find(|t| t.sha256 == f.sha256.to_string())
                        .unwrap();
                    assert_eq!(
                        f.filename.as_deref(),
                        Some(t.filename.as_str()),
                        "{lock_arg}"
                    );
                }
            }
        }
    }
}

#[test]
fn python_full_version_decides() {
    let dir = locks_dir();
    // six is forked at python_full_version 3.11.3; tomli is only needed before it.
    let (out, err, code) = xtask(
        &dir,
        &[
            "requirements",
            "--lock",
            "fork/uv.lock",
            "--python",
            "3.11.3",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\nsix==1.17.0 \\\n"), "{out}");
    let (out, _, _) = xtask(
        &dir,
        &[
            "requirements",
            "--lock",
            "fork/uv.lock",
            "--python",
            "3.11.2",
        ],
    );
    assert!(out.contains("\nsix==1.16.0 \\\n"), "{out}");
    let (out, _, _) = xtask(
        &dir,
        &[
            "requirements",
            "--lock",
            "extras-markers/poetry.lock",
            "--python",
            "3.11.3",
        ],
    );
    assert!(!out.contains("tomli"), "{out}");
}

#[test]
fn adversarial_wheel_only_without_permission() {
    let dir = locks_dir();
    for lock in ["uv.lock", "poetry.lock", "pylock.toml"] {
        let lock_arg = format!("wheel-only/{lock}");
        let (out, err, code) = xtask(&dir, &["requirements", "--lock", &lock_arg]);
        assert_eq!(code, 2, "{err}");
        assert!(out.is_empty(), "{out}");
        assert!(
            err.starts_with(&format!(
                "error: {lock_arg}: no sdist in the lock for certifi 2026.10.19.post1, tensorboard-data-server 0.7.2: \
                 pin a version that publishes an sdist, or allow the package as wheel-only (pass --allow-wheel-only NAME)"
            )),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        // Allowing one is not enough.
        let (_, err, code) = xtask(
            &dir,
            &[
                "requirements",
                "--lock",
                &lock_arg,
                "--allow-wheel-only",
                "tensorboard_data_server",
            ],
        );
        assert_eq!(code, 2);
        assert!(
            err.contains("no sdist in the lock for certifi 2026.10.19.post1:"),
            "{err}"
        );
    }
}

#[test]
fn adversarial_requirements_txt_lock_offline() {
    let dir = locks_dir();
    for lock in ["pip-compile.txt", "uv-export.txt"] {
        let lock_arg = format!("extras-markers/{lock}");
        let (out, err, code) = xtask(&dir, &["requirements", "--lock", &lock_arg]);
        assert_eq!(code, 2, "{err}");
        assert!(out.is_empty());
        assert!(
            err.starts_with(&format!(
                "error: {lock_arg}: a requirements.txt lock does not say which hash is the sdist's"
            )),
            "{err}"
        );
        assert!(err.contains("--online"), "{err}");
    }
}

#[test]
fn adversarial_stale_locks() {
    let tmp = tempfile::tempdir().unwrap();
    for lock in ["uv.lock", "poetry.lock"] {
        let dir = tmp.path().join(lock.replace('.', "-"));
        std::fs::create_dir_all(&dir).unwrap();
        let src = locks_dir().join("extras-markers");
        std::fs::copy(src.join(lock), dir.join(lock)).unwrap();
        let pyproject = std::fs::read_to_string(src.join("pyproject.toml")).unwrap();
        std::fs::write(
            dir.join("pyproject.toml"),
            pyproject.replace("\"attrs>=23\"", "\"attrs>=24\""),
        )
        .unwrap();
        let (out, err, code) = xtask(&dir, &["requirements", "--lock", lock]);
        assert_eq!(code, 1, "{err}");
        assert!(out.is_empty());
        let relock = if lock == "uv.lock" {
            "uv lock --project ."
        } else {
            "poetry lock --directory ."
        };
        assert!(
            err.contains(&format!("{lock} is out of date with pyproject.toml")),
            "{err}"
        );
        assert!(err.contains(&format!("re-lock with `{relock}`")), "{err}");
        // An explicit, matching pyproject is fine.
        std::fs::copy(src.join("pyproject.toml"), dir.join("good.toml")).unwrap();
        let (_, err, code) = xtask(
            &dir,
            &["requirements", "--lock", lock, "--pyproject", "good.toml"],
        );
        assert_eq!(code, 0, "{err}");
        // A malformed one is named.
        std::fs::write(dir.join("bad.toml"), "[project\n").unwrap();
        let (_, err, code) = xtask(
            &dir,
            &["requirements", "--lock", lock, "--pyproject", "bad.toml"],
        );
        assert_eq!(code, 2);
        assert!(err.starts_with("error: bad.toml: malformed TOML"), "{err}");
    }
}

#[test]
fn adversarial_bad_lock_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let uv = std::fs::read_to_string(locks_dir().join("fork/uv.lock")).unwrap();
    let poetry = std::fs::read_to_string(locks_dir().join("fork/poetry.lock")).unwrap();
    let pylock = std::fs::read_to_string(locks_dir().join("fork/pylock.toml")).unwrap();
    let a = "a".repeat(64);
    let cases: Vec<(&str, String, &str)> = vec![
        ("uv.lock", "version = 1\n[[package]\n".into(), "uv.lock: malformed TOML"),
        ("poetry.lock", poetry.replace("[metadata]", "[metadata"), "poetry.lock: malformed TOML"),
        ("pylock.toml", pylock.replacen("[[packages]]", "[[packages]", 1), "pylock.toml: malformed TOML"),
        ("uv.lock", uv.replacen("version = 1\n", "version = 7\n", 1), "uv.lock: unknown uv.lock version 7"),
        (
            "poetry.lock",
            poetry.replace("lock-version = \"2.1\"", "lock-version = \"9.0\""),
            "poetry.lock: unknown poetry.lock lock-version \"9.0\"",
        ),
        (
            "pylock.toml",
            pylock.replace("lock-version = \"1.0\"", "lock-version = \"2.0\""),
            "pylock.toml: unknown pylock.toml lock-version \"2.0\"",
        ),
        (
            "poetry.lock",
            poetry.replace("markers = \"python_full_version >= \\\"3.11.3\\\"\"", "markers = \"python_full_version >= \\\"3.11.2\\\"\""),
            "poetry.lock: package six is locked twice (1.16.0 and 1.17.0) with markers that overlap in group \"main\"",
        ),
        (
            "pylock.toml",
            pylock.replace("marker = \"python_full_version >= '3.11.3'\"", "marker = \"python_full_version >= '3.11'\""),
            "pylock.toml: package six is locked twice",
        ),
        (
            "uv.lock",
            uv.replace("name = \"six\"\nversion = \"1.16.0\"", "name = \"six-gone\"\nversion = \"1.16.0\""),
            "uv.lock: case-fork depends on six 1.16.0, which is missing from the lock",
        ),
        (
            "poetry.lock",
            poetry.replacen("hash = \"sha256:", "hash = \"sha256:0", 1),
            "bad sha256",
        ),
        (
            "uv.lock",
            uv.replace("marker = \"python_full_version < '3.11.3'\"", "marker = \"python_full_version <<< '3.11.3'\""),
            "uv.lock: package case-fork, dependency six: marker syntax error",
        ),
        (
            "poetry.lock",
            poetry.replace("markers = \"python_full_version < \\\"3.11.3\\\"\"", "markers = \"python_full_version < \\\"3.11.3\\\" and\""),
            "poetry.lock: package six 1.16.0: marker syntax error",
        ),
        ("requirements.txt", format!("six>=1.16 --hash=sha256:{a}\n"), "requirements.txt: line 1: requirement `six>=1.16` is not pinned with ==version"),
        ("requirements.txt", "six==1.16 --hash=sha256:abc\n".into(), "64 hex digits, found 3"),
        ("requirements.txt", format!("six==1.16 ; python_version >>> '3' --hash=sha256:{a}\n"), "requirements.txt: line 1: invalid requirement"),
        ("weird.lock", "hello\n".into(), "weird.lock: cannot tell the lockfile format"),
    ];
    for (name, text, want) in cases {
        std::fs::write(dir.join(name), &text).unwrap();
        let (out, err, code) = xtask(dir, &["requirements", "--lock", name]);
        assert_eq!(code, 2, "{name} {want}: {err}");
        assert!(out.is_empty(), "{out}");
        assert!(err.contains(want), "want {want:?}, got: {err}");
        assert!(err.starts_with(&format!("error: {name}")), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        std::fs::remove_file(dir.join(name)).unwrap();
    }
}

#[test]
fn adversarial_refused_lock_inputs_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let uv = std::fs::read_to_string(locks_dir().join("fork/uv.lock")).unwrap();
    let poetry = std::fs::read_to_string(locks_dir().join("fork/poetry.lock")).unwrap();
    let pylock = std::fs::read_to_string(locks_dir().join("fork/pylock.toml")).unwrap();
    let a = "a".repeat(64);
    let cases: Vec<(&str, String, &str)> = vec![
        ("uv.lock", uv.replacen("hash = \"sha256:", "hash = \"md5:", 1), "is md5, not sha256"),
        ("uv.lock", uv.replacen(", hash = \"sha256:", ", nohash = \"sha256:", 1), "has no hash"),
        (
            "uv.lock",
            uv.replacen(
                "\nsource = { registry = \"https://pypi.org/simple\" }\n",
                "\nsource = { git = \"https://example.org/iniconfig.git\" }\n",
                1,
            ),
            "comes from git https://example.org/iniconfig.git, not a package index",
        ),
        (
            "poetry.lock",
            poetry.replacen("type = \"legacy\"", "type = \"git\"", 1),
            "comes from a git source",
        ),
        (
            "pylock.toml",
            pylock.replacen("hashes = { sha256 = ", "hashes = { md5 = ", 1),
            "has no sha256 hash (only: md5)",
        ),
        (
            "pylock.toml",
            pylock.replacen("[[packages]]\n", "[[packages]]\nname = \"local\"\ndirectory = { path = \"../local\" }\n\n[[packages]]\n", 1),
            "package local  is a directory package, not from a package index",
        ),
        ("requirements.txt", format!("six==1.16 --hash=sha1:{a}\n"), "is sha1, not sha256"),
        ("requirements.txt", "six==1.16.0\n".into(), "requirements.txt: line 1: six==1.16.0 has no --hash"),
        (
            "requirements.txt",
            format!("six @ https://example.org/six-1.16.0.tar.gz --hash=sha256:{a}\n"),
            "requirements.txt: line 1: requirement six is a URL",
        ),
    ];
    for (name, text, want) in cases {
        std::fs::write(dir.join(name), &text).unwrap();
        let (out, err, code) = xtask(dir, &["requirements", "--lock", name]);
        assert_eq!(code, 1, "{name} {want}: {err}");
        assert!(out.is_empty(), "{out}");
        assert!(err.contains(want), "want {want:?}, got: {err}");
        assert!(err.starts_with(&format!("error: {name}")), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        std::fs::remove_file(dir.join(name)).unwrap();
    }
}

#[test]
fn reported_pylock_for_several_uses() {
    let dir = reported_dir();
    let lock = "pylock-multi-use/pylock.toml";
    for (args, want) in [
        (&[][..], &["six==1.16.0"][..]),
        (&["--extra", "feat"][..], &["idna==3.7", "six==1.16.0"][..]),
        (
            &["--group", "dev"][..],
            &["iniconfig==2.0.0", "six==1.16.0"][..],
        ),
        (
            &["--extra", "feat", "--group", "dev"][..],
            &["idna==3.7", "iniconfig==2.0.0", "six==1.16.0"][..],
        ),
    ] {
        let mut all = vec!["requirements", "--lock", lock];
        all.extend(args);
        let (out, err, code) = xtask(&dir, &all);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert_eq!(pinned(&out), want, "{args:?}");
        assert!(
            out.starts_with(&format!("# Generated by `cargo xtask {}`", all.join(" "))),
            "{out}"
        );
        // Each is pinned to its sdist.
        let pins = Pins::parse(&out).unwrap();
        assert!(pins.pins.iter().all(|p| !p.wheel_only));
    }
    // The same lock without the extras marker: idna is never installed here.
    let (out, err, code) = xtask(
        &dir,
        &[
            "requirements",
            "--lock",
            "pylock-multi-use/pylock.groups.toml",
            "--extra",
            "feat",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(pinned(&out), ["six==1.16.0"]);
    let (out, err, code) = xtask(&dir, &["requirements", "--lock", lock, "--group", "docs"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert_eq!(
        err.trim_end(),
        "error: pylock-multi-use/pylock.toml: the lock has no dependency group \"docs\" (its groups: default, dev)"
    );
}

#[test]
fn reported_adversarial_locks_for_other_platforms() {
    let dir = reported_dir().join("lock-for-other-platforms");
    for (lock, covered) in [
        (
            "uv-darwin-only/uv.lock",
            "`sys_platform == 'darwin'` (supported-markers)",
        ),
        (
            "pylock-win32-only.toml",
            "`sys_platform == 'win32'` (environments)",
        ),
    ] {
        let (out, err, code) = xtask(&dir, &["requirements", "--lock", lock]);
        assert_eq!(code, 1, "{lock}: {err}");
        assert!(out.is_empty(), "{out}");
        assert_eq!(
            err.trim_end(),
            format!(
                "error: {lock}: the lock was resolved only for {covered}, and the target \
                 (CPython 3.11.2 on linux x86_64) is none of them; re-lock for the target"
            )
        );
    }
}

#[test]
fn poetry_1_lock_needs_its_pyproject() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(
        locks_dir().join("fork/poetry1/poetry.lock"),
        tmp.path().join("poetry.lock"),
    )
    .unwrap();
    let (out, err, code) = xtask(tmp.path(), &["requirements", "--lock", "poetry.lock"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert!(
        err.starts_with("error: poetry.lock: a poetry.lock from Poetry 1.x does not record"),
        "{err}"
    );
    assert!(err.contains("--pyproject FILE"), "{err}");
    let pyproject = locks_dir().join("fork/poetry1/pyproject.toml");
    let (out, err, code) = xtask(
        tmp.path(),
        &[
            "requirements",
            "--lock",
            "poetry.lock",
            "--pyproject",
            pyproject.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(pinned(&out), ["packaging==24.1", "six==1.16.0"]);
}

/// The tests' stand-in for the index: truth/index.txt lists every file of
/// every version the locks install, with its sha256.
struct IndexFixture {
    files: Vec<(String, String, Sha256, String)>,
}

impl IndexFixture {
    fn load(case: &str) -> IndexFixture {
        let text = std::fs::read_to_string(locks_dir().join(case).join("truth/index.txt")).unwrap();
        let files = text
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                (
                    f[0].to_owned(),
                    f[1].to_owned(),
                    f[2].parse().unwrap(),
                    f[3].to_owned(),
                )
            })
            .collect();
        IndexFixture { files }
    }
}

impl SdistLookup for IndexFixture {
    fn classify(&self, queries: &[Query<'_>]) -> anyhow::Result<Vec<Classified>> {
        let mut all = Vec::new();
        for q in queries {
            let mut out = Classified::default();
            for (n, v, sha256, filename) in &self.files {
                if n != q.name.as_ref()
                    || v.parse::<pep440_rs::Version>().unwrap() != *q.version
                    || !q.hashes.contains(sha256)
                {
                    continue;
                }
                let artifact = Artifact {
                    filename: filename.clone(),
                    url: None,
                    sha256: *sha256,
                    size: None,
                };
                if filename.ends_with(".whl") {
                    out.wheels.push(artifact);
                } else {
                    out.sdists.push(artifact);
                }
            }
            all.push(out);
        }
        Ok(all)
    }
}

#[test]
fn requirements_txt_locks_with_an_index() {
    let env = pinwheel_pypa::markers::cpython_linux("3.11.2", "x86_64").unwrap();
    for case in CASES {
        let index = IndexFixture::load(case);
        for lock in ["pip-compile.txt", "uv-export.txt"] {
            let truth = truth(case, lock);
            let wheel_only = truth
                .iter()
                .filter(|t| t.kind == "wheel")
                .map(|t| t.name.parse().unwrap())
                .collect();
            let text = std::fs::read_to_string(locks_dir().join(case).join(lock)).unwrap();
            let parsed = lockfile::parse(lock, Format::RequirementsTxt, &text).unwrap();
            let pins =
                xtask::requirements::pin_lock(lock, parsed, &env, &wheel_only, "", &index).unwrap();
            assert_eq!(actual_pins(&pins), expected_pins(&truth), "{case}/{lock}");
        }
    }
}

/// Runs the target's pip (Debian 12's) with this machine's pip
/// configuration switched off.
fn pip(args: &[&str]) -> (String, i32) {
    let mut all = vec!["-m", "pip"];
    all.extend(args);
    let out = duct::cmd("/usr/bin/python3", all)
        .env_remove("PIP_FIND_LINKS")
        .env_remove("PIP_INDEX_URL")
        .env_remove("PIP_EXTRA_INDEX_URL")
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .run()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// A tiny real sdist (setuptools, no dependencies).
fn make_sdist(dir: &Path, name: &str, version: &str) -> PathBuf {
    let stem = format!("{name}-{version}");
    let path = dir.join(format!("{stem}.tar.gz"));
    let file = std::fs::File::create(&path).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let files = [
        ("setup.py", format!("from setuptools import setup\nsetup(name={name:?}, version={version:?}, py_modules=[])\n")),
        (
            "PKG-INFO",
            format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"),
        ),
    ];
    for (file, body) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, format!("{stem}/{file}"), body.as_bytes())
            .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
    path
}

#[test]
fn pip_downloads_with_our_file_and_refuses_a_wrong_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let links = tmp.path().join("links");
    std::fs::create_dir_all(&links).unwrap();
    let a = make_sdist(&links, "pinwheel-test-a", "1.0");
    let b = make_sdist(&links, "pinwheel-test-b", "2.0");
    let pin = |name: &str, version: &str, path: &Path| Pin {
        name: name.parse().unwrap(),
        version: version.parse().unwrap(),
        files: vec![PinnedFile {
            sha256: Sha256::of_file(path).unwrap(),
            filename: None,
        }],
        wheel_only: false,
    };
    let header = Header {
        command: "cargo xtask update-deps --app test".into(),
        lock: "packaging/test/uv.lock".into(),
        lock_sha256: Sha256::of(b"lock"),
        target: "CPython 3.11.2 on linux_x86_64".into(),
    };
    let mut pins = vec![
        pin("pinwheel-test-a", "1.0", &a),
        pin("pinwheel_test.B", "2.0", &b),
    ];
    // A second (made-up) hash beside the real one: pip accepts any listed.
    pins[0].files.push(PinnedFile {
        sha256: Sha256::of(b"other"),
        filename: None,
    });
    let req = tmp.path().join("requirements.txt");
    std::fs::write(&req, requirements_txt::render(&header, &pins)).unwrap();
    let out = tmp.path().join("out");
    let links_s = links.to_str().unwrap();
    let base = [
        "download",
        "--no-binary",
        ":all:",
        "--no-deps",
        "--require-hashes",
        "--no-index",
        "--no-build-isolation",
        "--find-links",
        links_s,
        "-d",
        out.to_str().unwrap(),
        "-r",
        req.to_str().unwrap(),
    ];
    let (log, code) = pip(&base);
    assert_eq!(code, 0, "{log}");
    let mut got: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    got.sort();
    assert_eq!(
        got,
        ["pinwheel-test-a-1.0.tar.gz", "pinwheel-test-b-2.0.tar.gz"]
    );

    // A wrong hash: pip refuses.
    let mut bad = pins.clone();
    bad[1].files = vec![PinnedFile {
        sha256: Sha256::of(b"not the sdist"),
        filename: None,
    }];
    std::fs::write(&req, requirements_txt::render(&header, &bad)).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
    let (log, code) = pip(&base);
    assert_ne!(code, 0, "{log}");
    assert!(log.contains("DO NOT MATCH THE HASHES"), "{log}");
}

#[test]
fn pip_reads_the_checked_in_expected_files() {
    // pip parses every expected file and gets as far as looking for the
    // first pinned file (there is no index here).
    let dir = locks_dir();
    let empty = tempfile::tempdir().unwrap();
    for case in CASES {
        for lock in ["uv.lock", "poetry.lock", "pylock.toml", POETRY1] {
            let file = dir.join(case).join("expected").join(format!("{lock}.txt"));
            let (log, code) = pip(&[
                "download",
                "--no-deps",
                "--require-hashes",
                "--no-index",
                "--find-links",
                empty.path().to_str().unwrap(),
                "-d",
                empty.path().to_str().unwrap(),
                "-r",
                file.to_str().unwrap(),
            ]);
            assert_eq!(code, 1, "{log}");
            assert!(
                log.contains("No matching distribution found for"),
                "{}: {log}",
                file.display()
            );
        }
    }
}

/// (stdout, stderr, exit code) of the xtask binary run in `cwd` on the
/// repository `root`.
fn xtask_with_root(root: &Path, cwd: &Path, args: &[&str]) -> (String, String, i32) {
    let out = duct::cmd(env!("CARGO_BIN_EXE_xtask"), args)
        .dir(cwd)
        .env("PINWHEEL_ROOT", root)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code().unwrap_or(-1),
    )
}

/// A repository root whose configuration has the test targets (bookworm,
/// CPython 3.11.2; trixie, CPython 3.13.5) and no application.
fn configured_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("packaging")).unwrap();
    std::fs::write(
        root.path().join("packaging/pinwheel.toml"),
        crate::support::repo::config_head(),
    )
    .unwrap();
    root
}

#[test]
fn target_from_the_configuration() {
    let root = configured_root();
    let dir = locks_dir();
    let run = |args: &[&str]| {
        let mut all = vec!["requirements", "--lock", "fork/uv.lock"];
        all.extend(args);
        xtask_with_root(root.path(), &dir, &all)
    };
    let (out, err, code) = run(&["--target", "trixie"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\nsix==1.17.0 \\\n"), "{out}");
    assert!(
        out.starts_with(
            "# Generated by `cargo xtask requirements --lock fork/uv.lock --target trixie`"
        ),
        "{out}"
    );
    assert!(
        out.contains("\n# Target: trixie (Debian trixie/amd64, CPython 3.13.5, linux_x86_64).\n"),
        "{out}"
    );
    let (out, err, code) = run(&["--target", "bookworm"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\nsix==1.16.0 \\\n"), "{out}");
    // Several targets and no choice: asked, never picked silently.
    let (out, err, code) = run(&[]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains(
            "packaging/pinwheel.toml names 2 targets (bookworm: CPython 3.11.2, trixie: CPython 3.13.5): \
             pass --target NAME to choose one, or --python X.Y.Z"
        ),
        "{err}"
    );
    let (_, err, code) = run(&["--target", "sid"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no target named \"sid\" (known: bookworm, trixie)"),
        "{err}"
    );
    let (_, err, code) = run(&["--target", "trixie", "--python", "3.11.2"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot be used with"), "{err}");
    // --python needs no target.
    let (out, err, code) = run(&["--python", "3.11.2"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("\n# Target: CPython 3.11.2 on linux_x86_64.\n"),
        "{out}"
    );
    // One target: that one.
    let config = root.path().join("packaging/pinwheel.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let start = text.find("[targets.trixie]").unwrap();
    let end = text.find("[index]").unwrap();
    std::fs::write(&config, format!("{}{}", &text[..start], &text[end..])).unwrap();
    let (out, err, code) = run(&[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("\n# Target: bookworm (Debian bookworm/amd64"),
        "{out}"
    );
    // Without a configuration, --target has nothing to name.
    let (_, err, code) = xtask(
        &dir,
        &[
            "requirements",
            "--lock",
            "fork/uv.lock",
            "--target",
            "trixie",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("--target needs a configuration"), "{err}");
}

#[test]
fn adversarial_lock_python_range_excludes_the_target() {
    let root = configured_root();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let read = |rel: &str| std::fs::read_to_string(locks_dir().join(rel)).unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "uv.lock",
            read("fork/uv.lock").replacen(
                "requires-python = \">=3.9\"",
                "requires-python = \">=3.12\"",
                1,
            ),
            "uv.lock: requires-python \">=3.12\" excludes",
        ),
        (
            "pylock.toml",
            read("fork/pylock.toml").replacen(
                "requires-python = \">=3.9\"",
                "requires-python = \">=3.12\"",
                1,
            ),
            "pylock.toml: requires-python \">=3.12\" excludes",
        ),
        (
            "poetry.lock",
            read("fork/poetry.lock").replace(
                "lock-version = \"2.1\"\npython-versions = \">=3.9\"",
                "lock-version = \"2.1\"\npython-versions = \"^3.12\"",
            ),
            "poetry.lock: python-versions \"^3.12\" excludes",
        ),
    ];
    for (name, text, want) in cases {
        assert!(text.contains("3.12"), "{name}: the edit did not apply");
        std::fs::write(dir.join(name), &text).unwrap();
        // Without a configuration: the default CPython.
        let (out, err, code) = xtask(dir, &["requirements", "--lock", name]);
        assert_eq!(code, 1, "{err}");
        assert!(out.is_empty());
        assert_eq!(err, format!("error: {want} CPython 3.11.2\n"));
        // A configured target is named.
        let (out, err, code) = xtask_with_root(
            root.path(),
            dir,
            &["requirements", "--lock", name, "--target", "bookworm"],
        );
        assert_eq!(code, 1, "{err}");
        assert!(out.is_empty());
        assert_eq!(
            err,
            format!("error: {want} target bookworm (CPython 3.11.2)\n")
        );
        // The target it covers is fine.
        let (out, err, code) = xtask_with_root(
            root.path(),
            dir,
            &["requirements", "--lock", name, "--target", "trixie"],
        );
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("\nsix==1.17.0 \\\n"), "{out}");
        std::fs::remove_file(dir.join(name)).unwrap();
    }
    // The project's own range, beside the lock.
    std::fs::write(dir.join("uv.lock"), read("fork/uv.lock")).unwrap();
    std::fs::write(
        dir.join("pyproject.toml"),
        read("fork/pyproject.toml").replace(
            "requires-python = \">=3.9\"",
            "requires-python = \">=3.9,<3.13\"",
        ),
    )
    .unwrap();
    let (_, err, code) = xtask_with_root(
        root.path(),
        dir,
        &["requirements", "--lock", "uv.lock", "--target", "trixie"],
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        err,
        "error: pyproject.toml: requires-python \">=3.9,<3.13\" excludes target trixie (CPython 3.13.5)\n"
    );
}
