//! `cargo xtask refresh-index` end to end: the real binary on an index of
//! wheels and an sdist built here, checked by real peers (`sha256sum -c`
//! from inside the index, pip installing with `--index-url file://…` and
//! with `--find-links`), byte-identical re-runs, `--check`, stale files,
//! and every bad input leaving the index untouched.

use std::collections::BTreeMap;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use pinwheel_archive::wheel::record_hash;
use pinwheel_trust::hash::Sha256;
use pinwheel_trust::sha256sums::SignedList;
use zip::write::SimpleFileOptions;

/// A repository root with the project's configuration and an index.
struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/pinwheel.toml");
        fs_err::create_dir_all(dir.path().join("packaging")).unwrap();
        fs_err::copy(config, dir.path().join("packaging/pinwheel.toml")).unwrap();
        fs_err::create_dir_all(dir.path().join("wheels-index/files")).unwrap();
        Repo { dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn index(&self) -> PathBuf {
        self.root().join("wheels-index")
    }

    fn add(&self, name: &str, bytes: &[u8]) {
        fs_err::write(self.index().join("files").join(name), bytes).unwrap();
    }

    /// Runs `xtask --root ROOT refresh-index ARGS`: (exit code, stderr).
    fn refresh(&self, args: &[&str]) -> (i32, String) {
        let mut argv = vec![
            "--root".to_owned(),
            self.root().display().to_string(),
            "refresh-index".to_owned(),
        ];
        argv.extend(args.iter().map(|a| a.to_string()));
        let out = duct::cmd(env!("CARGO_BIN_EXE_xtask"), argv)
            .stderr_capture()
            .stdout_capture()
            .unchecked()
            .run()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn refresh_ok(&self) -> String {
        let (code, stderr) = self.refresh(&[]);
        assert_eq!(code, 0, "{stderr}");
        stderr
    }

    /// Every file under the index: path -> bytes (link targets for links).
    fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(dir: &Path, base: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            for e in fs_err::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                let meta = fs_err::symlink_metadata(&p).unwrap();
                let rel = p.strip_prefix(base).unwrap().to_owned();
                if meta.file_type().is_symlink() {
                    out.insert(
                        rel,
                        fs_err::read_link(&p)
                            .unwrap()
                            .into_os_string()
                            .into_encoded_bytes(),
                    );
                } else if meta.is_dir() {
                    out.insert(rel.join(""), Vec::new());
                    walk(&p, base, out);
                } else {
                    out.insert(rel, fs_err::read(&p).unwrap());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(&self.index(), &self.index(), &mut out);
        out
    }
}

/// A minimal pure-Python wheel with a module, METADATA and a RECORD.
fn tiny_wheel(dist: &str, version: &str, requires_python: Option<&str>) -> (String, Vec<u8>) {
    let module = dist.to_lowercase();
    let filename = format!("{dist}-{version}-py3-none-any.whl");
    let dist_info = format!("{dist}-{version}.dist-info");
    let mut metadata = format!("Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n");
    if let Some(rp) = requires_python {
        metadata.push_str(&format!("Requires-Python: {rp}\n"));
    }
    let files: Vec<(String, Vec<u8>)> = vec![
        (
            format!("{module}/__init__.py"),
            format!("VERSION = {version:?}\n").into_bytes(),
        ),
        (format!("{dist_info}/METADATA"), metadata.into_bytes()),
        (
            format!("{dist_info}/WHEEL"),
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
                .to_vec(),
        ),
    ];
    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let mut record = String::new();
    for (name, bytes) in &files {
        z.start_file(name.as_str(), SimpleFileOptions::default())
            .unwrap();
        z.write_all(bytes).unwrap();
        record.push_str(&format!(
            "{name},sha256={},{}\n",
            record_hash(&Sha256::of(bytes)),
            bytes.len()
        ));
    }
    record.push_str(&format!("{dist_info}/RECORD,,\n"));
    z.start_file(format!("{dist_info}/RECORD"), SimpleFileOptions::default())
        .unwrap();
    z.write_all(record.as_bytes()).unwrap();
    (filename, z.finish().unwrap().into_inner())
}

fn tiny_sdist(stem: &str) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let body = b"Metadata-Version: 2.1\n";
    let mut h = tar::Header::new_gnu();
    h.set_path(format!("{stem}/PKG-INFO")).unwrap();
    h.set_size(body.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    tar.append(&h, &body[..]).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar.into_inner().unwrap()).unwrap();
    gz.finish().unwrap()
}

/// An index with two projects: tiny_a 1.0 (wheel and sdist) and tiny_b 2.0.
fn populated() -> Repo {
    let repo = Repo::new();
    let (name, bytes) = tiny_wheel("tiny_a", "1.0", Some(">=3.8, <4"));
    repo.add(&name, &bytes);
    let (name, bytes) = tiny_wheel("tiny_b", "2.0", None);
    repo.add(&name, &bytes);
    repo.add("tiny_a-1.0.tar.gz", &tiny_sdist("tiny_a-1.0"));
    repo
}

#[test]
fn generates_the_index_and_sha256sum_accepts_it() {
    let repo = populated();
    let stderr = repo.refresh_ok();
    assert!(
        stderr.contains("3 distribution(s) of 2 project(s)"),
        "{stderr}"
    );
    let index = repo.index();
    for p in [
        "simple/index.html",
        "simple/tiny-a/index.html",
        "simple/tiny-b/index.html",
        "json/index.json",
        "json/tiny-a/index.json",
        "json/tiny-b/index.json",
        "files/tiny_a-1.0-py3-none-any.whl.metadata",
        "files/tiny_b-2.0-py3-none-any.whl.metadata",
        "sha256sums.txt",
    ] {
        assert!(index.join(p).is_file(), "{p} missing");
    }
    assert_eq!(
        fs_err::read_to_string(index.join("files/tiny_a-1.0-py3-none-any.whl.metadata")).unwrap(),
        "Metadata-Version: 2.1\nName: tiny_a\nVersion: 1.0\nRequires-Python: >=3.8, <4\n"
    );
    let page = fs_err::read_to_string(index.join("simple/tiny-a/index.html")).unwrap();
    assert!(
        page.contains("data-requires-python=\"&gt;=3.8, &lt;4\""),
        "{page}"
    );
    assert!(
        page.contains("href=\"../../files/tiny_a-1.0.tar.gz#sha256="),
        "{page}"
    );

    let list = SignedList::parse(&fs_err::read(index.join("sha256sums.txt")).unwrap()).unwrap();
    assert_eq!(list.meta.version, 0, "a new list is unsigned");
    assert_eq!(list.meta.scope, "pinwheel/wheels-index");
    let paths: Vec<&str> = list.entries.keys().map(String::as_str).collect();
    assert_eq!(paths.len(), 11, "{paths:?}");
    assert!(paths.contains(&"files/tiny_b-2.0-py3-none-any.whl.metadata"));

    // The peer: coreutils, from inside the index.
    let sh = xshell::Shell::new().unwrap();
    sh.change_dir(&index);
    let out = xshell::cmd!(sh, "sha256sum --strict -c sha256sums.txt")
        .read()
        .unwrap();
    assert_eq!(out.lines().count(), 11);
    assert!(out.lines().all(|l| l.ends_with(": OK")), "{out}");
}

#[test]
fn rerun_is_byte_identical_and_check_passes() {
    let repo = populated();
    repo.refresh_ok();
    let before = repo.snapshot();
    let stderr = repo.refresh_ok();
    assert!(stderr.contains("0 files written, 0 removed"), "{stderr}");
    assert_eq!(repo.snapshot(), before);
    let (code, stderr) = repo.refresh(&["--check"]);
    assert_eq!(code, 0, "{stderr}");
    // The same from a sidecar-less rebuild: delete every generated file.
    for p in ["simple", "json"] {
        fs_err::remove_dir_all(repo.index().join(p)).unwrap();
    }
    for p in [
        "tiny_a-1.0-py3-none-any.whl.metadata",
        "tiny_b-2.0-py3-none-any.whl.metadata",
    ] {
        fs_err::remove_file(repo.index().join("files").join(p)).unwrap();
    }
    repo.refresh_ok();
    assert_eq!(repo.snapshot(), before);
}

#[test]
fn keeps_the_signed_header() {
    let repo = populated();
    repo.refresh_ok();
    let path = repo.index().join("sha256sums.txt");
    let text = fs_err::read_to_string(&path).unwrap();
    let signed = text
        .replace("# version: 0", "# version: 7")
        .replace("1970-01-01T00:00:00Z", "2027-11-24T00:00:00Z");
    fs_err::write(&path, &signed).unwrap();
    let (name, bytes) = tiny_wheel("tiny_c", "0.1", None);
    repo.add(&name, &bytes);
    repo.refresh_ok();
    let list = SignedList::parse(&fs_err::read(&path).unwrap()).unwrap();
    assert_eq!(list.meta.version, 7);
    assert!(list
        .entries
        .contains_key("files/tiny_c-0.1-py3-none-any.whl"));
}

#[test]
fn removes_stale_generated_files() {
    let repo = populated();
    repo.refresh_ok();
    fs_err::remove_file(repo.index().join("files/tiny_b-2.0-py3-none-any.whl")).unwrap();
    let (code, stderr) = repo.refresh(&["--check"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("run `cargo xtask refresh-index`"),
        "{stderr}"
    );
    let stderr = repo.refresh_ok();
    assert!(stderr.contains("3 files written, 3 removed"), "{stderr}");
    let index = repo.index();
    assert!(!index
        .join("files/tiny_b-2.0-py3-none-any.whl.metadata")
        .exists());
    assert!(!index.join("simple/tiny-b").exists());
    assert!(!index.join("json/tiny-b").exists());
    let root = fs_err::read_to_string(index.join("simple/index.html")).unwrap();
    assert!(!root.contains("tiny-b"), "{root}");
    let list = fs_err::read_to_string(index.join("sha256sums.txt")).unwrap();
    assert!(
        !list.contains("tiny_b") && !list.contains("tiny-b"),
        "{list}"
    );
}

#[test]
fn removes_temporary_files_of_a_killed_run() {
    let repo = populated();
    repo.refresh_ok();
    let before = repo.snapshot();
    for p in [
        "files/.pinwheel-tmp-abc123",
        "files/.pinwheel-part-xyz",
        ".pinwheel-tmp-list",
        "simple/.pinwheel-tmp-q",
    ] {
        fs_err::write(repo.index().join(p), "partial").unwrap();
    }
    let (code, stderr) = repo.refresh(&["--check"]);
    assert_eq!(code, 1, "{stderr}");
    let stderr = repo.refresh_ok();
    assert!(stderr.contains("0 files written, 4 removed"), "{stderr}");
    assert_eq!(repo.snapshot(), before);
}

#[test]
fn adversarial_check_mode_writes_nothing() {
    let repo = populated();
    repo.refresh_ok();
    let page = repo.index().join("simple/tiny-a/index.html");
    fs_err::write(&page, "tampered\n").unwrap();
    let before = repo.snapshot();
    let (code, stderr) = repo.refresh(&["--check"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("simple/tiny-a/index.html"), "{stderr}");
    assert_eq!(repo.snapshot(), before);
}

/// Runs refresh-index on a broken index: exit 2, the message contains
/// `reason`, and nothing under the index changed.
fn refused(repo: &Repo, reason: &str) {
    let before = repo.snapshot();
    let (code, stderr) = repo.refresh(&[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(reason), "expected {reason:?} in: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert_eq!(repo.snapshot(), before, "the index changed");
}

#[test]
fn adversarial_unexpected_files() {
    let repo = populated();
    repo.add("notes.txt", b"hello");
    refused(&repo, "files/notes.txt: not a wheel or an sdist");

    let repo = populated();
    fs_err::write(repo.index().join("README"), "x").unwrap();
    refused(&repo, "wheels-index/README: unexpected file in the index");

    let repo = populated();
    std::os::unix::fs::symlink("/etc/passwd", repo.index().join("files/evil-1.0.tar.gz")).unwrap();
    refused(
        &repo,
        "files/evil-1.0.tar.gz: unexpected symbolic link in files/",
    );

    let repo = populated();
    fs_err::create_dir(repo.index().join("files/sub")).unwrap();
    refused(&repo, "files/sub: unexpected directory in files/");
}

#[test]
fn adversarial_bad_distributions() {
    let repo = populated();
    repo.add("not-a-wheel.whl", b"x");
    refused(&repo, "the wheel filename \"not-a-wheel.whl\"");

    let repo = populated();
    repo.add("tiny_z-1.0-py3-none-any.whl", b"not a zip");
    refused(&repo, "tiny_z-1.0-py3-none-any.whl: not a zip archive");

    let repo = populated();
    let (_, bytes) = tiny_wheel("tiny_z", "1.0", None);
    repo.add("tiny_z-1.0.1-py3-none-any.whl", &bytes);
    refused(
        &repo,
        "tiny_z-1.0.1-py3-none-any.whl: METADATA says tiny-z 1.0, the file name says tiny-z 1.0.1",
    );

    let repo = populated();
    repo.add("Tiny_A-1.0.tar.gz", &tiny_sdist("Tiny_A-1.0"));
    refused(&repo, "differs only in case");
}

#[test]
fn adversarial_corrupt_list_is_not_overwritten() {
    let repo = populated();
    repo.refresh_ok();
    let path = repo.index().join("sha256sums.txt");
    let text = fs_err::read_to_string(&path)
        .unwrap()
        .replacen('\n', "\r\n", 1);
    fs_err::write(&path, text).unwrap();
    refused(&repo, "sha256sums.txt: line 1: carriage return");
}

#[test]
fn pip_installs_from_the_index_and_from_find_links() {
    let repo = populated();
    repo.refresh_ok();
    let tmp = tempfile::tempdir().unwrap();
    let venv = tmp.path().join("venv");
    let sh = xshell::Shell::new().unwrap();
    // Hermetic pip: no configuration file, and no extra places to look
    // from the caller's PIP_FIND_LINKS / PIP_INDEX_URL.
    let empty = tmp.path().join("empty");
    fs_err::create_dir(&empty).unwrap();
    sh.set_var("PIP_CONFIG_FILE", "/dev/null");
    sh.set_var("PIP_FIND_LINKS", &empty);
    sh.set_var("PIP_INDEX_URL", format!("file://{}", empty.display()));
    sh.set_var("PIP_NO_CACHE_DIR", "1");
    sh.set_var("PIP_DISABLE_PIP_VERSION_CHECK", "1");
    xshell::cmd!(sh, "/usr/bin/python3 -m venv {venv}")
        .run()
        .unwrap();
    let pip = venv.join("bin/pip");
    let python = venv.join("bin/python");
    let simple = format!("file://{}/simple/", repo.index().display());
    // --index-url: the PEP 503 pages, hashes from the #sha256= fragments
    // checked against a hash-pinned requirement.
    let sha =
        |f: &str| Sha256::of(&fs_err::read(repo.index().join("files").join(f)).unwrap()).hex();
    let reqs = tmp.path().join("requirements.txt");
    fs_err::write(
        &reqs,
        format!(
            "tiny-a==1.0 --hash=sha256:{}\ntiny-b==2.0 --hash=sha256:{}\n",
            sha("tiny_a-1.0-py3-none-any.whl"),
            sha("tiny_b-2.0-py3-none-any.whl")
        ),
    )
    .unwrap();
    xshell::cmd!(sh, "{pip} install -q --no-deps --only-binary :all: --require-hashes --index-url {simple} -r {reqs}")
        .run()
        .unwrap();
    let out = xshell::cmd!(
        sh,
        "{python} -c 'import tiny_a, tiny_b; print(tiny_a.VERSION, tiny_b.VERSION)'"
    )
    .read()
    .unwrap();
    assert_eq!(out, "1.0 2.0");
    xshell::cmd!(sh, "{pip} uninstall -q -y tiny-a tiny-b")
        .run()
        .unwrap();
    // --find-links: the files directory itself.
    let files = repo.index().join("files");
    xshell::cmd!(
        sh,
        "{pip} install -q --no-deps --no-index --only-binary :all: --find-links {files} -r {reqs}"
    )
    .run()
    .unwrap();
    let out = xshell::cmd!(
        sh,
        "{python} -c 'import tiny_a, tiny_b; print(tiny_a.VERSION, tiny_b.VERSION)'"
    )
    .read()
    .unwrap();
    assert_eq!(out, "1.0 2.0");
    // Without hashes, by a name spelled unlike METADATA's `Name: tiny_b`:
    // Debian 12's pip 23.0.1 would reject a sidecar announced under the
    // pre-PEP 714 name (it compares the raw name); it must ignore ours.
    xshell::cmd!(sh, "{pip} uninstall -q -y tiny-a tiny-b")
        .run()
        .unwrap();
    xshell::cmd!(
        sh,
        "{pip} install -q --no-deps --index-url {simple} tiny-b Tiny.A"
    )
    .run()
    .unwrap();
    let out = xshell::cmd!(
        sh,
        "{python} -c 'import tiny_a, tiny_b; print(tiny_a.VERSION, tiny_b.VERSION)'"
    )
    .read()
    .unwrap();
    assert_eq!(out, "1.0 2.0");
    // And pip really checks the pinned hash against what the index serves.
    let bad = tmp.path().join("bad.txt");
    fs_err::write(
        &bad,
        format!("tiny-a==1.0 --hash=sha256:{}\n", "0".repeat(64)),
    )
    .unwrap();
    let out = xshell::cmd!(
        sh,
        "{pip} install -q --no-deps --force-reinstall --index-url {simple} -r {bad}"
    )
    .ignore_status()
    .output()
    .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("DO NOT MATCH"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
