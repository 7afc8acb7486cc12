//! `build-deb`, `check-reproducible` and `sdist` against the real tree: the
//! demo application, its checked-in wheel index and `debian/`. Slow tests
//! share their builds: one `build-deb` (lintian, contents, install, run,
//! purge), one `check-reproducible` (two builds), one partial build that
//! proves pip's hash check; every other bad input is refused before
//! dpkg-buildpackage starts.
//!
//! Peers: dpkg-buildpackage, lintian, apt-get/dpkg, pip (inside the build),
//! setpriv (to run as `nobody` when the tests run as root).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use pinwheel_archive::deb::{self, Kind};
use pinwheel_trust::hash::Sha256;

const APP: &str = "pinwheel-demo";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A copy of the repository (without target/ and .git) in a temporary
/// directory, and the copy's root.
fn copy_repo() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::Builder::new()
        .prefix("pinwheel-deb-test-")
        .tempdir()
        .unwrap();
    let root = tmp.path().join("repo");
    xtask::check_reproducible::copy_tree(&repo_root(), &root).unwrap();
    (tmp, root)
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// The dpkg database is shared by every test here: `build-deb` asks
/// dpkg-checkbuilddeps (and, as root, apt-get) about it while the install
/// test installs and purges the package. Runs that touch it take turns.
static DPKG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn dpkg_turn() -> std::sync::MutexGuard<'static, ()> {
    DPKG.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn xtask_as(prefix: &[&str], root: &Path, args: &[&str]) -> Run {
    let _turn = dpkg_turn();
    let mut argv: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
    argv.push(env!("CARGO_BIN_EXE_xtask").to_owned());
    argv.extend(["--root".to_owned(), root.display().to_string()]);
    argv.extend(args.iter().map(|s| s.to_string()));
    let out = duct::cmd(&argv[0], &argv[1..])
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn xtask(root: &Path, args: &[&str]) -> Run {
    xtask_as(&[], root, args)
}

fn files_with(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let Ok(entries) = fs_err::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    out.sort();
    out
}

fn is_root() -> bool {
    xtask::host_packages::is_root()
}

/// Nothing was built: no package in `out`, and dpkg-buildpackage never
/// started (no staged tree under the copy's target/build-deb).
fn assert_nothing_built(root: &Path, out: &Path, run: &Run) {
    assert!(
        files_with(out, ".deb").is_empty(),
        "a package was produced:\n{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("running dpkg-buildpackage"),
        "dpkg-buildpackage ran:\n{}",
        run.stderr
    );
    let printed = run.stdout.lines().filter(|l| {
        l.split_once("  ")
            .is_some_and(|(sha, _)| sha.parse::<Sha256>().is_ok())
    });
    assert_eq!(printed.count(), 0, "artifacts were printed: {}", run.stdout);
    let work = root.join("target/build-deb");
    let staged = fs_err::read_dir(&work).map(|d| d.count()).unwrap_or(0);
    assert_eq!(staged, 0, "a build tree was staged in {}", work.display());
}

fn run_ok(argv: &[&str]) -> String {
    let out = duct::cmd(argv[0], &argv[1..])
        .stdin_null()
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .run()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{} failed:\n{text}", argv.join(" "));
    text
}

/// RECORD's `sha256=<urlsafe base64>` for some bytes.
fn record_hash(data: &[u8]) -> String {
    let digest = Sha256::of(data).0;
    format!(
        "sha256={}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    )
}

#[test]
fn build_deb_builds_a_lintian_clean_package_that_installs_and_runs() {
    let (tmp, root) = copy_repo();
    let out = tmp.path().join("out");
    let run = xtask(&root, &["build-deb", "--out", out.to_str().unwrap()]);
    assert_eq!(
        run.code, 0,
        "build-deb failed:\n{}\n{}",
        run.stdout, run.stderr
    );

    // The printed sha256 of each artifact is the file's.
    let printed: BTreeMap<String, String> = run
        .stdout
        .lines()
        .filter_map(|l| {
            l.split_once("  ")
                .filter(|(sha, _)| sha.parse::<Sha256>().is_ok())
        })
        .map(|(sha, path)| (path.to_owned(), sha.to_owned()))
        .collect();
    let debs = files_with(&out, ".deb");
    assert_eq!(
        debs.len(),
        1,
        "{:?}",
        fs_err::read_dir(&out).unwrap().collect::<Vec<_>>()
    );
    for suffix in [".deb", ".buildinfo", ".changes"] {
        let file = &files_with(&out, suffix)[0];
        assert_eq!(
            printed[&file.display().to_string()],
            Sha256::of_file(file).unwrap().hex(),
            "{suffix}"
        );
    }
    assert!(
        run.stderr
            .contains("dpkg-buildpackage phases (slowest first):"),
        "{}",
        run.stderr
    );

    // lintian: no error and no warning that is not fixed or overridden.
    let changes = &files_with(&out, ".changes")[0];
    crate::support::tools::need(&["lintian"]);
    let lintian = duct::cmd!("lintian", "--fail-on", "error,warning", changes)
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .run()
        .unwrap();
    let report = String::from_utf8_lossy(&lintian.stdout);
    assert!(lintian.status.success(), "lintian:\n{report}");
    assert!(
        !report
            .lines()
            .any(|l| l.starts_with("E:") || l.starts_with("W:")),
        "lintian:\n{report}"
    );

    // Contents: no build path, no bytecode or pip leftovers, root-owned,
    // RECORD hashes still true, Depends right.
    let bytes = fs_err::read(&debs[0]).unwrap();
    let package = deb::parse_deb(&bytes).unwrap();
    let build_path = root.display().to_string();
    let venv = "./opt/venvs/pinwheel-demo/";
    let by_path: BTreeMap<&str, &deb::TarEntry> =
        package.data.iter().map(|e| (e.path.as_str(), e)).collect();
    for entry in &package.data {
        let path = &entry.path;
        assert!(
            !entry
                .data
                .windows(build_path.len())
                .any(|w| w == build_path.as_bytes()),
            "{path} contains the build path"
        );
        assert!(
            !path.contains("__pycache__") && !path.ends_with(".pyc"),
            "{path}: bytecode shipped"
        );
        for leftover in [
            "pip-selfcheck.json",
            "direct_url.json",
            "/pip/",
            "/setuptools/",
        ] {
            assert!(!path.contains(leftover), "{path}: {leftover} shipped");
        }
        assert_eq!(
            (
                entry.uid,
                entry.gid,
                entry.owner.as_str(),
                entry.group.as_str()
            ),
            (0, 0, "root", "root"),
            "{path}"
        );
        if !matches!(entry.kind, Kind::Symlink(_)) {
            assert_eq!(entry.mode & 0o022, 0, "{path}: group/world writable");
        }
    }
    assert_eq!(
        by_path["./usr/bin/pinwheel-demo"].kind,
        Kind::Symlink("/opt/venvs/pinwheel-demo/bin/pinwheel-demo".into())
    );
    let script =
        String::from_utf8_lossy(&by_path[&*format!("{venv}bin/pinwheel-demo")].data).into_owned();
    assert!(
        script.starts_with("#!/opt/venvs/pinwheel-demo/bin/python\n"),
        "{script}"
    );
    let cfg = String::from_utf8_lossy(&by_path[&*format!("{venv}pyvenv.cfg")].data).into_owned();
    assert!(
        cfg.contains("home = /usr/bin\n") && cfg.contains("/opt/venvs/pinwheel-demo"),
        "{cfg}"
    );
    let mut records = 0;
    for entry in package
        .data
        .iter()
        .filter(|e| e.path.ends_with(".dist-info/RECORD"))
    {
        records += 1;
        let site = entry.path.rsplitn(3, '/').nth(2).unwrap();
        for line in String::from_utf8_lossy(&entry.data).lines() {
            let fields: Vec<&str> = line.trim_end_matches('\r').split(',').collect();
            if fields.len() < 3 || fields[1].is_empty() {
                continue;
            }
            let target = normalize(&format!("{site}/{}", fields[0]));
            let file = by_path
                .get(target.as_str())
                .unwrap_or_else(|| panic!("{}: lists {target}, not in the package", entry.path));
            assert_eq!(
                record_hash(&file.data),
                fields[1],
                "{target} no longer matches {}",
                entry.path
            );
        }
    }
    assert!(records >= 10, "only {records} RECORD files");
    assert!(package.data.iter().any(|e| e
        .path
        .contains("markupsafe/_speedups.cpython-311-x86_64-linux-gnu.so")));
    let control = String::from_utf8_lossy(
        &package
            .control
            .iter()
            .find(|e| e.path.ends_with("control"))
            .unwrap()
            .data,
    )
    .into_owned();
    let depends = control.lines().find(|l| l.starts_with("Depends:")).unwrap();
    for want in ["python3 (>= 3.11)", "python3 (<< 3.12)", "libc6"] {
        assert!(depends.contains(want), "{depends}");
    }
    assert!(control.contains("Architecture: amd64\n"), "{control}");

    // It runs from a `dpkg -x` tree, through the venv's interpreter.
    let unpacked = tmp.path().join("unpacked");
    run_ok(&[
        "dpkg",
        "-x",
        debs[0].to_str().unwrap(),
        unpacked.to_str().unwrap(),
    ]);
    let python = unpacked.join("opt/venvs/pinwheel-demo/bin/python");
    let entry = unpacked.join("opt/venvs/pinwheel-demo/bin/pinwheel-demo");
    let version = run_ok(&[
        python.to_str().unwrap(),
        "-B",
        entry.to_str().unwrap(),
        "--version",
    ]);
    assert!(version.contains("0.1.0"), "{version}");
    run_ok(&[
        python.to_str().unwrap(),
        "-B",
        entry.to_str().unwrap(),
        "selftest",
    ]);

    // Installed for real when we may: apt-get, run, purge.
    if is_root() {
        let _turn = dpkg_turn();
        let install = duct::cmd!(
            "apt-get",
            "install",
            "-y",
            "--no-install-recommends",
            &debs[0]
        )
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .run()
        .unwrap();
        assert!(
            install.status.success(),
            "{}",
            String::from_utf8_lossy(&install.stdout)
        );
        let version = run_ok(&["/usr/bin/pinwheel-demo", "--version"]);
        let selftest = duct::cmd!("/usr/bin/pinwheel-demo", "selftest")
            .stderr_to_stdout()
            .stdout_capture()
            .unchecked()
            .run()
            .unwrap();
        let compiled = walk_count(Path::new("/opt/venvs/pinwheel-demo"), ".pyc");
        run_ok(&["apt-get", "purge", "-y", APP]);
        assert!(version.contains("0.1.0"), "{version}");
        assert!(
            selftest.status.success(),
            "selftest:\n{}",
            String::from_utf8_lossy(&selftest.stdout)
        );
        assert!(compiled > 0, "postinst compiled no bytecode");
        assert!(
            !Path::new("/opt/venvs/pinwheel-demo").exists(),
            "purge left /opt/venvs/pinwheel-demo behind"
        );
    }
}

fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            ".." => {
                parts.pop();
            }
            "" => {}
            p => parts.push(p),
        }
    }
    format!("./{}", parts.join("/").trim_start_matches("./"))
}

fn walk_count(dir: &Path, suffix: &str) -> usize {
    let Ok(entries) = fs_err::read_dir(dir) else {
        return 0;
    };
    entries
        .map(|e| e.unwrap().path())
        .map(|p| {
            if p.is_dir() && !p.is_symlink() {
                walk_count(&p, suffix)
            } else {
                usize::from(p.to_string_lossy().ends_with(suffix))
            }
        })
        .sum()
}

#[test]
fn check_reproducible_finds_two_varied_builds_identical() {
    let (_tmp, root) = copy_repo();
    let run = xtask(&root, &["check-reproducible"]);
    assert_eq!(
        run.code, 0,
        "check-reproducible:\n{}\n{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stdout
            .contains("identical  pinwheel-demo_0.1.0_amd64.deb  "),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("pinwheel-demo_0.1.0_amd64.buildinfo except Build-Date, Environment"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("faketime +400d") && run.stderr.contains("umask 002"),
        "{}",
        run.stderr
    );
}

#[test]
fn sdist_is_the_same_from_two_checkouts() {
    let (tmp, a) = copy_repo();
    let b = tmp.path().join("elsewhere/with/another/name");
    xtask::check_reproducible::copy_tree(&a, &b).unwrap();
    // A different umask, mtimes and stray build products in b.
    let src = b.join("packaging/pinwheel-demo/src/pinwheel_demo");
    fs_err::create_dir_all(src.join("__pycache__")).unwrap();
    fs_err::write(src.join("__pycache__/cli.cpython-311.pyc"), "x").unwrap();
    let loose = std::os::unix::fs::PermissionsExt::from_mode(0o664);
    fs_err::set_permissions(src.join("cli.py"), loose).unwrap();
    run_ok(&[
        "touch",
        "-d",
        "2001-02-03",
        src.join("cli.py").to_str().unwrap(),
    ]);
    let (out_a, out_b) = (tmp.path().join("sa"), tmp.path().join("sb"));
    let ra = xtask(&a, &["sdist", "--out", out_a.to_str().unwrap()]);
    let rb = xtask(&b, &["sdist", "--out", out_b.to_str().unwrap()]);
    assert_eq!((ra.code, rb.code), (0, 0), "{}\n{}", ra.stderr, rb.stderr);
    let fa = files_with(&out_a, ".tar.gz");
    let fb = files_with(&out_b, ".tar.gz");
    assert_eq!(fa.len(), 1);
    assert_eq!(
        fs_err::read(&fa[0]).unwrap(),
        fs_err::read(&fb[0]).unwrap(),
        "the sdists differ"
    );
    assert!(fa[0].ends_with("pinwheel_demo-0.1.0.tar.gz"));
    // Python's tarfile reads it, with PKG-INFO and pyproject.toml on top.
    let listing = run_ok(&["python3", "-c", "import sys,tarfile; t=tarfile.open(sys.argv[1]); print('\\n'.join(t.getnames())); print(t.extractfile('pinwheel_demo-0.1.0/PKG-INFO').read().decode())", fa[0].to_str().unwrap()]);
    for want in [
        "pinwheel_demo-0.1.0/pyproject.toml",
        "pinwheel_demo-0.1.0/PKG-INFO",
        "Name: pinwheel-demo",
        "Version: 0.1.0",
        "Requires-Dist: requests",
    ] {
        assert!(listing.contains(want), "{want}:\n{listing}");
    }
    assert!(!listing.contains("__pycache__"), "{listing}");
}

#[test]
fn adversarial_wheel_changed_after_signing_is_refused_before_dpkg_buildpackage() {
    let (tmp, root) = copy_repo();
    let wheel = files_with(&root.join("wheels-index/files"), ".whl")
        .into_iter()
        .find(|p| p.to_string_lossy().contains("requests-"))
        .unwrap();
    let mut bytes = fs_err::read(&wheel).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    fs_err::write(&wheel, &bytes).unwrap();
    let out = tmp.path().join("out");
    let run = xtask(&root, &["build-deb", "--out", out.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let name = wheel.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        run.stderr.contains(&name),
        "the error does not name {name}:\n{}",
        run.stderr
    );
    assert_nothing_built(&root, &out, &run);
}

#[test]
fn adversarial_build_requirements_hash_edited_is_refused_by_the_first_verification() {
    let (tmp, root) = copy_repo();
    let path = root.join("requirements/pinwheel-demo/build-requirements.txt");
    let text = fs_err::read_to_string(&path).unwrap();
    let edited = flip_first_hash(&text);
    fs_err::write(&path, &edited).unwrap();
    let out = tmp.path().join("out");
    let run = xtask(&root, &["build-deb", "--out", out.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("build-requirements.txt"),
        "{}",
        run.stderr
    );
    assert_nothing_built(&root, &out, &run);
    assert!(
        !run.stderr.contains("running dpkg-buildpackage"),
        "{}",
        run.stderr
    );
    assert_eq!(
        fs_err::read_to_string(&path).unwrap(),
        edited,
        "the requirements file was rewritten"
    );
}

/// The first `--hash=sha256:` in `text` with its first hex digit changed.
fn flip_first_hash(text: &str) -> String {
    let at = text.find("--hash=sha256:").unwrap() + "--hash=sha256:".len();
    let old = &text[at..at + 1];
    let new = if old == "0" { "1" } else { "0" };
    format!("{}{new}{}", &text[..at], &text[at + 1..])
}

/// The second verification on its own: the tree build-deb stages, with one
/// hash edited after staging, built by dpkg-buildpackage directly (no
/// first verification): pip's --require-hashes stops the build.
#[test]
fn adversarial_pip_refuses_an_edited_hash_when_the_first_verification_is_bypassed() {
    let (tmp, root) = copy_repo();
    let config = xtask::config::Config::load(&root).unwrap();
    let list = pinwheel_trust::sha256sums::SignedList::parse(
        &fs_err::read(root.join("wheels-index/sha256sums.txt")).unwrap(),
    )
    .unwrap();
    let sdist = xtask::sdist::build(&config, APP).unwrap();
    let tree = xtask::build_deb::stage_tree(
        &config,
        APP,
        &sdist,
        &list.entries,
        &tmp.path().join("work"),
    )
    .unwrap();
    let reqs = tree.join("requirements/pinwheel-demo/build-requirements.txt");
    fs_err::write(
        &reqs,
        flip_first_hash(&fs_err::read_to_string(&reqs).unwrap()),
    )
    .unwrap();
    let home = tmp.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let env =
        xtask::build_deb::clean_env(&home, 1704067200, &xtask::build_deb::BuildEnv::standard());
    let _turn = dpkg_turn();
    crate::support::tools::need(&["dpkg-buildpackage"]);
    let out = duct::cmd!("dpkg-buildpackage", "-us", "-uc", "-b")
        .dir(&tree)
        .full_env(env)
        .stdin_null()
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .run()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "dpkg-buildpackage succeeded with an edited hash:\n{log}"
    );
    assert!(
        log.contains("THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE"),
        "{log}"
    );
    assert!(
        files_with(&tmp.path().join("work"), ".deb").is_empty(),
        "a package was produced"
    );
}

#[test]
fn adversarial_malformed_changelog_is_refused() {
    let (tmp, root) = copy_repo();
    let path = root.join("debian/changelog");
    let text = fs_err::read_to_string(&path).unwrap();
    fs_err::write(
        &path,
        text.replacen("pinwheel-demo (", "pinwheel-demo ", 1)
            .replacen(") bookworm;", " bookworm", 1),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let run = xtask(&root, &["build-deb", "--out", out.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("debian/changelog is malformed"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("badly formatted heading line"),
        "{}",
        run.stderr
    );
    assert_nothing_built(&root, &out, &run);
}

#[test]
fn adversarial_changelog_version_differs_from_the_application() {
    let (tmp, root) = copy_repo();
    let path = root.join("debian/changelog");
    let text = fs_err::read_to_string(&path).unwrap();
    fs_err::write(&path, text.replacen("(0.1.0)", "(0.2.0)", 1)).unwrap();
    let out = tmp.path().join("out");
    let run = xtask(&root, &["build-deb", "--out", out.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("debian/changelog: version 0.2.0 does not match"),
        "{}",
        run.stderr
    );
    assert_nothing_built(&root, &out, &run);
}

#[test]
fn adversarial_output_dir_not_writable() {
    let (tmp, root) = copy_repo();
    // Under a regular file: not writable for anyone, root included.
    let blocker = tmp.path().join("a-file");
    fs_err::write(&blocker, "").unwrap();
    let out = blocker.join("out");
    let run = xtask(&root, &["build-deb", "--out", out.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(&out.display().to_string()) && run.stderr.contains("--out"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("verify"),
        "it verified before checking the output: {}",
        run.stderr
    );
    assert_nothing_built(&root, &out, &run);
}

/// A build dependency that is not installed, while not root: the exact
/// sudo line, exit 2, nothing installed or built. As root the test drops to
/// `nobody` with setpriv.
#[test]
fn adversarial_build_dependency_missing_while_not_root() {
    let (tmp, root) = copy_repo();
    let control = root.join("debian/control");
    let text = fs_err::read_to_string(&control).unwrap();
    fs_err::write(
        &control,
        text.replacen(
            "python3-venv,",
            "python3-venv,\n               pinwheel-no-such-package (>= 1),",
            1,
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let prefix: Vec<&str> = if is_root() {
        run_ok(&[
            "chown",
            "-R",
            "nobody:nogroup",
            tmp.path().to_str().unwrap(),
        ]);
        run_ok(&["chmod", "755", tmp.path().to_str().unwrap()]);
        vec![
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--reset-env",
        ]
    } else {
        vec![]
    };
    let run = xtask_as(
        &prefix,
        &root,
        &["build-deb", "--out", out.to_str().unwrap()],
    );
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("sudo apt-get install -y --no-install-recommends pinwheel-no-such-package\n"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("--install-build-deps"),
        "{}",
        run.stderr
    );
    assert_nothing_built(&root, &out, &run);
}

#[test]
fn adversarial_signature_missing_is_refused_before_dpkg_buildpackage() {
    let (tmp, root) = copy_repo();
    fs_err::remove_file(root.join("wheels-index/sha256sums.txt.asc")).unwrap();
    let out = tmp.path().join("out");
    let run = xtask(&root, &["build-deb", "--out", out.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("sha256sums.txt.asc"), "{}", run.stderr);
    assert_nothing_built(&root, &out, &run);
}

/// `sdist --sign-key` writes a detached signature that `verify-signature`
/// (and so gpg/sqv) accepts, and that fails once the sdist changes.
#[test]
fn sdist_signed_with_a_maintainer_key_verifies() {
    let (tmp, root) = copy_repo();
    let out = tmp.path().join("signed");
    let key = root.join("packaging/keys/DEMO-ONLY-secret/demo-maintainer.secret.asc");
    let run = xtask(
        &root,
        &[
            "sdist",
            "--out",
            out.to_str().unwrap(),
            "--sign-key",
            key.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let sdist = out.join("pinwheel_demo-0.1.0.tar.gz");
    let asc = out.join("pinwheel_demo-0.1.0.tar.gz.asc");
    assert!(
        run.stdout.contains(&asc.display().to_string()),
        "{}",
        run.stdout
    );
    let keys = root.join("packaging/keys");
    let args = [
        "verify-signature",
        "--keys",
        keys.to_str().unwrap(),
        sdist.to_str().unwrap(),
        asc.to_str().unwrap(),
    ];
    let good = xtask(&root, &args);
    assert_eq!(good.code, 0, "{}\n{}", good.stdout, good.stderr);

    let mut bytes = fs_err::read(&sdist).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs_err::write(&sdist, &bytes).unwrap();
    let bad = xtask(&root, &args);
    assert_eq!(
        bad.code, 1,
        "a changed sdist still verified:\n{}\n{}",
        bad.stdout, bad.stderr
    );
}

/// The sdist's build backend is staged with its own dependencies (the
/// build-wheels planner over the verified list): flit_core alone for the
/// demo, hatchling with packaging, pathspec, pluggy and trove-classifiers.
#[test]
fn staged_backend_requirements_are_closed_over_the_backends_dependencies() {
    let (tmp, root) = copy_repo();
    let list = pinwheel_trust::sha256sums::SignedList::parse(
        &fs_err::read(root.join("wheels-index/sha256sums.txt")).unwrap(),
    )
    .unwrap();
    let backend = |work: &str| -> String {
        let config = xtask::config::Config::load(&root).unwrap();
        let sdist = xtask::sdist::build(&config, APP).unwrap();
        let tree = xtask::build_deb::stage_tree(
            &config,
            APP,
            &sdist,
            &list.entries,
            &tmp.path().join(work),
        )
        .unwrap();
        let text = fs_err::read_to_string(
            tree.join("requirements/pinwheel-demo/backend-requirements.txt"),
        )
        .unwrap();
        let mut names: Vec<String> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split("==").next().unwrap().to_owned())
            .collect();
        names.sort();
        names.join(" ")
    };
    assert_eq!(backend("flit"), "flit-core");
    let pyproject = root.join("packaging/pinwheel-demo/pyproject.toml");
    let text = fs_err::read_to_string(&pyproject).unwrap();
    let hatch = text
        .replace(
            "requires = [\"flit_core >=3.11,<4\"]",
            "requires = [\"hatchling\"]",
        )
        .replace("flit_core.buildapi", "hatchling.build");
    assert_ne!(
        hatch, text,
        "the demo's [build-system] changed; update this test"
    );
    fs_err::write(&pyproject, hatch).unwrap();
    assert_eq!(
        backend("hatch"),
        "hatchling packaging pathspec pluggy trove-classifiers"
    );
}
