//! `build-deb`, `check-reproducible` and `sdist` against the real tree: the
//! demo application, its checked-in wheel index and `debian/`. Every build
//! runs in a target's build chroot, shared through one chroot cache
//! (`$PINWHEEL_CHROOT_DIR`, default this checkout's `target/chroots/`).
//! Slow tests share their builds: one `build-deb` per target (lintian,
//! contents, then apt-get install, run and purge inside the target's
//! runtime chroot), one `check-reproducible` (two builds), two builds at
//! once (they take turns), one partial build that proves pip's hash check;
//! every other bad input is refused before dpkg-buildpackage starts.
//!
//! Every target the demo ships to has its package test here
//! ([`every_demo_target_has_a_package_test`]); a target whose wheels are
//! missing fails its test, it is never skipped.
//!
//! Peers: dpkg-buildpackage, dpkg-checkbuilddeps, dpkg-parsechangelog (in
//! the chroot), apt-get/dpkg (in the runtime chroot), lintian (on the
//! host), pip (inside the build).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use pinwheel_archive::deb::{self, Kind};
use pinwheel_trust::hash::Sha256;
use xtask::chroot;

const APP: &str = "pinwheel-demo";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The chroot cache every test shares: `$PINWHEEL_CHROOT_DIR` when set,
/// else this checkout's `target/chroots/` (what `cargo xtask build-deb`
/// uses here), so that the copies the tests build from make no chroot of
/// their own.
fn chroot_cache() -> PathBuf {
    match std::env::var_os(chroot::CACHE_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => repo_root().join("target/chroots"),
    }
}

/// A copy of the repository (without target/ and .git) in a temporary
/// directory, and the copy's root.
pub fn copy_repo() -> (tempfile::TempDir, PathBuf) {
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

fn xtask(root: &Path, args: &[&str]) -> Run {
    let mut argv: Vec<String> = vec!["--root".to_owned(), root.display().to_string()];
    argv.extend(args.iter().map(|s| s.to_string()));
    let out = duct::cmd(env!("CARGO_BIN_EXE_xtask"), &argv)
        .env(chroot::CACHE_ENV, chroot_cache())
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

/// Every `work-*` build directory under the copy's target/build-deb/.
fn staged_trees(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.join("target/build-deb")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs_err::read_dir(&dir) else {
            continue;
        };
        for path in entries.map(|e| e.unwrap().path()) {
            if path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("work-")
            {
                out.push(path);
            } else if path.is_dir() {
                stack.push(path);
            }
        }
    }
    out
}

/// Nothing was built: no package under `out`, and dpkg-buildpackage never
/// started (no build tree left under the copy's target/build-deb).
fn assert_nothing_built(root: &Path, out: &Path, run: &Run) {
    for dir in [out.to_path_buf(), out.join("bookworm"), out.join("trixie")] {
        assert!(
            files_with(&dir, ".deb").is_empty(),
            "a package was produced in {}:\n{}",
            dir.display(),
            run.stderr
        );
    }
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
    let staged = staged_trees(root);
    assert!(staged.is_empty(), "build trees were left: {staged:?}");
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

/// The targets with a package test below, in name order.
const PACKAGE_TESTS: [&str; 2] = ["bookworm", "trixie"];

#[test]
fn every_demo_target_has_a_package_test() {
    let config = xtask::config::Config::load(&repo_root()).unwrap();
    let targets: Vec<&str> = config
        .targets_of(config.app(APP).unwrap())
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(
        targets, PACKAGE_TESTS,
        "add a package test for each target of {APP} (see package_for_target)"
    );
}

#[test]
fn package_for_bookworm_is_lintian_clean_and_installs_runs_and_purges() {
    package_for_target("bookworm");
}

#[test]
fn package_for_trixie_is_lintian_clean_and_installs_runs_and_purges() {
    package_for_target("trixie");
}

/// `build-deb --target NAME`, then: the printed sha256s, the version and
/// suite of the target, lintian, the package's contents, and apt-get
/// install + run + purge in the target's runtime chroot.
fn package_for_target(name: &str) {
    let (tmp, root) = copy_repo();
    let config = xtask::config::Config::load(&root).unwrap();
    let target = config.target(name).unwrap().clone();
    let out = tmp.path().join("out");
    let run = xtask(
        &root,
        &[
            "build-deb",
            "--target",
            name,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(
        run.code, 0,
        "build-deb failed:\n{}\n{}",
        run.stdout, run.stderr
    );
    let version = format!("0.1.0{}", target.deb_version_suffix());
    let dir = out.join(name);
    let debs = files_with(&dir, ".deb");
    // One source package, one binary package per configured application.
    assert_eq!(
        debs.iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect::<Vec<_>>(),
        [
            format!("pinwheel-apt-demo_{version}_{}.deb", target.architecture),
            format!("pinwheel-demo_{version}_{}.deb", target.architecture),
        ],
    );
    let apt_deb_path = &debs[0];
    let deb_path = &debs[1];

    // The printed sha256 of each artifact is the file's; the last lines
    // say where each .deb is.
    let printed: BTreeMap<String, String> = run
        .stdout
        .lines()
        .filter_map(|l| {
            l.split_once("  ")
                .filter(|(sha, _)| sha.parse::<Sha256>().is_ok())
        })
        .map(|(sha, path)| (path.to_owned(), sha.to_owned()))
        .collect();
    for file in debs
        .iter()
        .chain(&files_with(&dir, ".buildinfo"))
        .chain(&files_with(&dir, ".changes"))
    {
        assert_eq!(
            printed[&file.display().to_string()],
            Sha256::of_file(file).unwrap().hex(),
            "{}",
            file.display()
        );
    }
    let last: Vec<&str> = run.stdout.lines().rev().take(2).collect();
    for deb in &debs {
        let line = format!("{name}: {}", deb.display());
        assert!(last.contains(&line.as_str()), "{line}\n{}", run.stdout);
    }
    assert!(
        run.stderr
            .contains("dpkg-buildpackage phases (slowest first):"),
        "{}",
        run.stderr
    );
    // Only the staged changelog carries the target's version and suite.
    let changelog = fs_err::read_to_string(root.join("debian/changelog")).unwrap();
    assert!(
        changelog.starts_with("pinwheel-demo (0.1.0) "),
        "{changelog}"
    );
    let changes = &files_with(&dir, ".changes")[0];
    let changes_text = fs_err::read_to_string(changes).unwrap();
    for want in [
        format!("\nDistribution: {}\n", target.suite),
        format!("\nVersion: {version}\n"),
    ] {
        assert!(changes_text.contains(&want), "{want:?}:\n{changes_text}");
    }
    assert!(staged_trees(&root).is_empty(), "the build tree was left");

    // lintian: no error and no warning that is not fixed or overridden.
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

    check_contents(&root, &target, &version, deb_path);
    install_run_purge(&config, &target, deb_path, "pinwheel-demo");
    install_run_purge(&config, &target, apt_deb_path, "pinwheel-apt-demo");
}

/// No build path, no bytecode or pip leftovers, root-owned, RECORD hashes
/// still true, the target's Python in Depends and in the extension tags.
fn check_contents(root: &Path, target: &xtask::config::Target, version: &str, deb_path: &Path) {
    let bytes = fs_err::read(deb_path).unwrap();
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
        cfg.contains("home = /usr/bin\n")
            && cfg.contains("/opt/venvs/pinwheel-demo")
            && cfg.contains(&format!("version = {}\n", target.python)),
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
            let file_path = normalize(&format!("{site}/{}", fields[0]));
            let file = by_path
                .get(file_path.as_str())
                .unwrap_or_else(|| panic!("{}: lists {file_path}, not in the package", entry.path));
            assert_eq!(
                record_hash(&file.data),
                fields[1],
                "{file_path} no longer matches {}",
                entry.path
            );
        }
    }
    assert!(records >= 10, "only {records} RECORD files");
    let minor = target.python_minor();
    let (major, minor_number) = minor.split_once('.').unwrap();
    let next = format!("{major}.{}", minor_number.parse::<u32>().unwrap() + 1);
    let abi = format!("cpython-{major}{minor_number}-");
    assert!(
        package.data.iter().any(|e| e.path.starts_with(&format!(
            "{venv}lib/python{minor}/site-packages/markupsafe/_speedups.{abi}"
        ))),
        "no {abi} extension under lib/python{minor}"
    );
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
    for want in [
        format!("python3 (>= {minor}~)"),
        format!("python3 (<< {next})"),
        "libc6".to_owned(),
    ] {
        assert!(depends.contains(&want), "{want}: {depends}");
    }
    for want in [
        format!("Architecture: {}\n", target.architecture),
        format!("Version: {version}\n"),
    ] {
        assert!(control.contains(&want), "{want}: {control}");
    }
}

/// apt-get installs the package in a throwaway overlay of the target's
/// runtime chroot, offline (python3 is there already: a Depends apt
/// cannot meet fails), then `pinwheel-demo --version` and `selftest`,
/// bytecode compiled by postinst, and `apt-get purge` removes
/// /opt/venvs/pinwheel-demo.
///
/// pinwheel-apt-demo's selftest imports apt_pkg from Debian's python3-apt
/// (its Depends, which the runtime chroot holds as the configuration names
/// it) through the venv's system site packages, idna from the venv, and
/// reads the configuration file its .install put under /etc; purge removes
/// that conffile too.
fn install_run_purge(
    config: &xtask::config::Config,
    target: &xtask::config::Target,
    deb_path: &Path,
    package: &str,
) {
    let runtime = chroot::prepare_in(
        &chroot_cache(),
        target,
        &chroot::runtime_flavor(config),
        false,
    )
    .unwrap();
    // What selftest needs that the chroot does not give (the runtime
    // chroot has no `ip`, so python3 does it): its network namespace has
    // only a loopback device, down; selftest talks to its own servers on
    // 127.0.0.1, so lo goes up (SIOCGIFFLAGS, SIOCSIFFLAGS | IFF_UP):
    // still nothing but loopback. pexpect's pty needs nothing: the chroot
    // has a devpts instance of its own.
    let script = r#"set -e
python3 -c 'import fcntl, os, socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, struct.pack("16sH", b"lo", 0))[:18])[1]
fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 1))
os.openpty()'
apt-get install -y --no-install-recommends "$1"
if test "$2" = pinwheel-demo; then echo "version: $(pinwheel-demo --version)"; fi
"$2" selftest
echo "selftest: ok"
echo "bytecode: $(find /opt/venvs/$2 -name '*.pyc' | wc -l)"
apt-get purge -y "$2"
if test -e /opt/venvs/$2; then echo "left behind: $(find /opt/venvs/$2)"; else echo "purged: /opt/venvs/$2 is gone"; fi
if test -e /etc/$2; then echo "left behind: /etc/$2"; fi
"#;
    let (program, args) = runtime.command(
        &[chroot::Bind {
            path: deb_path.parent().unwrap().to_path_buf(),
            writable: false,
        }],
        Path::new("/"),
        "sh",
        &[
            "-c".to_owned(),
            script.to_owned(),
            "sh".to_owned(),
            deb_path.display().to_string(),
            package.to_owned(),
        ],
    );
    let out = duct::cmd(&program, &args)
        .full_env([
            ("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            ("LC_ALL", "C.UTF-8"),
            ("HOME", "/root"),
            ("DEBIAN_FRONTEND", "noninteractive"),
        ])
        .stdin_null()
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .run()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "in the {} runtime chroot:\n{log}",
        target.name
    );
    if package == "pinwheel-demo" {
        assert!(
            log.contains("version: pinwheel-demo 0.1.0") || log.contains("version: 0.1.0"),
            "{log}"
        );
    } else {
        // A module only Debian provides, through the system site packages.
        assert!(log.contains("ok   apt_pkg: apt_pkg "), "{log}");
        assert!(log.contains("from /usr/lib/python3/dist-packages"), "{log}");
        assert!(
            log.contains("ok   idna: idna from /opt/venvs/pinwheel-apt-demo/"),
            "{log}"
        );
        assert!(
            log.contains(
                "ok   config: /etc/pinwheel-apt-demo/greeting.conf: hello from pinwheel-apt-demo"
            ),
            "{log}"
        );
    }
    assert!(log.contains("selftest: ok"), "{log}");
    assert!(!log.contains("left behind"), "{log}");
    let compiled: usize = log
        .lines()
        .find_map(|l| l.strip_prefix("bytecode: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(compiled > 0, "postinst compiled no bytecode:\n{log}");
    assert!(
        log.contains(&format!("purged: /opt/venvs/{package} is gone")),
        "{log}"
    );
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

/// `check-reproducible` with no `--target`: every target of the demo, each
/// built twice in its chroot.
#[test]
fn check_reproducible_finds_two_varied_builds_identical() {
    let (_tmp, root) = copy_repo();
    let run = xtask(&root, &["check-reproducible"]);
    assert_eq!(
        run.code, 0,
        "check-reproducible:\n{}\n{}",
        run.stdout, run.stderr
    );
    for target in PACKAGE_TESTS {
        for want in [
            format!("target {target}:\n"),
            format!("\nidentical  pinwheel-demo_0.1.0+{target}_amd64.buildinfo except Build-Date, Environment"),
            format!("\nidentical  pinwheel-demo_0.1.0+{target}_amd64.deb  "),
            format!("\nidentical  pinwheel-apt-demo_0.1.0+{target}_amd64.deb  "),
        ] {
            assert!(run.stdout.contains(&want), "{want:?}:\n{}", run.stdout);
        }
    }
    assert!(
        run.stderr.contains("faketime +400d") && run.stderr.contains("umask 002"),
        "{}",
        run.stderr
    );
}

/// Two `build-deb --target bookworm` at once, from two copies: the chroot's
/// lock makes them take turns, both succeed, and (built at different
/// paths) their packages are the same bytes.
#[test]
fn two_builds_of_one_target_at_once_take_turns() {
    let (tmp_a, root_a) = copy_repo();
    let (tmp_b, root_b) = copy_repo();
    let out_a = tmp_a.path().join("out");
    let out_b = tmp_b.path().join("out");
    let (run_a, run_b) = std::thread::scope(|s| {
        let a = s.spawn(|| {
            xtask(
                &root_a,
                &[
                    "build-deb",
                    "--target",
                    "bookworm",
                    "--out",
                    out_a.to_str().unwrap(),
                ],
            )
        });
        let b = s.spawn(|| {
            xtask(
                &root_b,
                &[
                    "build-deb",
                    "--target",
                    "bookworm",
                    "--out",
                    out_b.to_str().unwrap(),
                ],
            )
        });
        (a.join().unwrap(), b.join().unwrap())
    });
    for run in [&run_a, &run_b] {
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    }
    let waited = [&run_a, &run_b]
        .iter()
        .filter(|run| {
            run.stderr
                .contains("waiting for another build of target bookworm")
        })
        .count();
    // At least one waits for the other (both may, when another test of the
    // run holds the chroot).
    assert!(
        waited >= 1,
        "one build waits for the other:\n{}\n{}",
        run_a.stderr,
        run_b.stderr
    );
    let deb_a = files_with(&out_a.join("bookworm"), ".deb");
    let deb_b = files_with(&out_b.join("bookworm"), ".deb");
    assert_eq!((deb_a.len(), deb_b.len()), (2, 2));
    for (a, b) in deb_a.iter().zip(&deb_b) {
        assert_eq!(
            Sha256::of_file(a).unwrap(),
            Sha256::of_file(b).unwrap(),
            "two builds of the same tree differ: {}",
            a.display()
        );
    }
}

#[test]
fn adversarial_unknown_target_is_refused_in_one_line() {
    let (tmp, root) = copy_repo();
    let out = tmp.path().join("out");
    for args in [
        vec![
            "build-deb",
            "--target",
            "sid",
            "--out",
            out.to_str().unwrap(),
        ],
        vec!["build-deb", "--target", "bookworm", "--target", "sid"],
        vec!["check-reproducible", "--target", "sid"],
    ] {
        let run = xtask(&root, &args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert_eq!(
            run.stderr.lines().collect::<Vec<_>>(),
            [format!(
                "error: {}: no target named \"sid\" (known: bookworm, trixie)",
                root.join("packaging/pinwheel.toml").display()
            )],
            "{args:?}"
        );
        assert_nothing_built(&root, &out, &run);
    }
    // A configured target the application does not ship to.
    let config = root.join("packaging/pinwheel.toml");
    let text = fs_err::read_to_string(&config).unwrap();
    let narrowed = text.replacen(
        "wheel-only = []\n",
        "wheel-only = []\ntargets = [\"bookworm\"]\n",
        1,
    );
    assert_ne!(
        narrowed, text,
        "the demo's configuration changed; update this test"
    );
    fs_err::write(&config, narrowed).unwrap();
    let run = xtask(
        &root,
        &["build-deb", "--app", "pinwheel-demo", "--target", "trixie"],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("pinwheel-demo does not ship to target \"trixie\" (its targets: bookworm)"),
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
    let ra = xtask(
        &a,
        &["sdist", "--app", APP, "--out", out_a.to_str().unwrap()],
    );
    let rb = xtask(
        &b,
        &["sdist", "--app", APP, "--out", out_b.to_str().unwrap()],
    );
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
    let run = xtask(
        &root,
        &[
            "build-deb",
            "--target",
            "bookworm",
            "--out",
            out.to_str().unwrap(),
        ],
    );
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
    let path = root.join("requirements/pinwheel-demo/bookworm/build-requirements.txt");
    let text = fs_err::read_to_string(&path).unwrap();
    let edited = flip_first_hash(&text);
    fs_err::write(&path, &edited).unwrap();
    let out = tmp.path().join("out");
    let run = xtask(
        &root,
        &[
            "build-deb",
            "--target",
            "bookworm",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("build-requirements.txt"),
        "{}",
        run.stderr
    );
    assert_nothing_built(&root, &out, &run);
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
/// hash edited after staging, built by dpkg-buildpackage in the target's
/// build chroot directly (no first verification): pip's --require-hashes
/// stops the build.
#[test]
fn adversarial_pip_refuses_an_edited_hash_when_the_first_verification_is_bypassed() {
    let (tmp, root) = copy_repo();
    let config = xtask::config::Config::load(&root).unwrap();
    let target = config.target("bookworm").unwrap();
    let list = pinwheel_trust::sha256sums::SignedList::parse(
        &fs_err::read(root.join("wheels-index/sha256sums.txt")).unwrap(),
    )
    .unwrap();
    let sdists = BTreeMap::from([(APP.to_owned(), xtask::sdist::build(&config, APP).unwrap())]);
    let work = tmp.path().join("work");
    let tree = xtask::build_deb::stage_tree(
        &config,
        &[APP],
        target,
        &sdists,
        &list.entries,
        "0.1.0",
        &work,
    )
    .unwrap();
    let reqs = tree.join("requirements/pinwheel-demo/build-requirements.txt");
    fs_err::write(
        &reqs,
        flip_first_hash(&fs_err::read_to_string(&reqs).unwrap()),
    )
    .unwrap();
    let home = work.join("home");
    fs_err::create_dir_all(&home).unwrap();
    let env = xtask::build_deb::BuildEnv::standard();
    let vars = xtask::build_deb::clean_env(&home, 1704067200, &env);
    let control = fs_err::read_to_string(root.join("debian/control")).unwrap();
    let build = chroot::prepare_in(
        &chroot_cache(),
        target,
        &chroot::Flavor::Build {
            extra: chroot::build_depends(&control).into_iter().collect(),
        },
        false,
    )
    .unwrap();
    let log_path = tmp.path().join("build.log");
    let (success, _) =
        xtask::build_deb::dpkg::dpkg_buildpackage(&build, &work, &tree, &vars, &env, &log_path)
            .unwrap();
    let log = fs_err::read_to_string(&log_path).unwrap();
    assert!(
        !success,
        "dpkg-buildpackage succeeded with an edited hash:\n{log}"
    );
    assert!(
        log.contains("THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE"),
        "{log}"
    );
    assert!(
        files_with(&work, ".deb").is_empty(),
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
    let run = xtask(
        &root,
        &[
            "build-deb",
            "--target",
            "bookworm",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("debian/changelog is malformed: line 1: badly formatted heading line"),
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
    let run = xtask(
        &root,
        &[
            "build-deb",
            "--target",
            "bookworm",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "debian/changelog: version 0.2.0 does not match pinwheel-demo's version 0.1.0"
        ) && run
            .stderr
            .contains("`dch -v 0.1.0 \"New upstream release.\"`"),
        "{}",
        run.stderr
    );
    assert_nothing_built(&root, &out, &run);

    // A release candidate: PEP 440's 0.2.0rc1 is Debian's 0.2.0~rc1 (dpkg
    // sorts 0.2.0rc1 after 0.2.0), and the message says so.
    let pyproject = root.join("packaging/pinwheel-demo/pyproject.toml");
    let text = fs_err::read_to_string(&pyproject).unwrap();
    fs_err::write(
        &pyproject,
        text.replacen("version = \"0.1.0\"", "version = \"0.2.0rc1\"", 1),
    )
    .unwrap();
    fs_err::write(
        &path,
        fs_err::read_to_string(&path)
            .unwrap()
            .replacen("(0.2.0)", "(0.2.0rc1)", 1),
    )
    .unwrap();
    let run = xtask(
        &root,
        &[
            "build-deb",
            "--target",
            "bookworm",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("`dch -v 0.2.0~rc1 \"New upstream release.\"`"),
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
    let run = xtask(
        &root,
        &[
            "build-deb",
            "--target",
            "bookworm",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&out.join("bookworm").display().to_string())
            && run.stderr.contains("--out"),
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

/// A Build-Depends version the target's suite does not have: the chroot
/// holds the package (same names, same cached chroot), dpkg-checkbuilddeps
/// in it names the unmet relation, exit 2, nothing built.
#[test]
fn adversarial_build_dependency_version_unmet_in_the_chroot() {
    let (tmp, root) = copy_repo();
    let control = root.join("debian/control");
    let text = fs_err::read_to_string(&control).unwrap();
    let edited = text.replacen(
        "               python3,\n",
        "               python3 (>= 99),\n",
        1,
    );
    assert_ne!(edited, text, "debian/control changed; update this test");
    fs_err::write(&control, edited).unwrap();
    let out = tmp.path().join("out");
    let run = xtask(
        &root,
        &[
            "build-deb",
            "--target",
            "bookworm",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(
            "error: target bookworm: the bookworm build chroot does not satisfy debian/control: unmet build dependencies: python3 (>= 99)"
        ),
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
    let run = xtask(
        &root,
        &[
            "build-deb",
            "--target",
            "bookworm",
            "--out",
            out.to_str().unwrap(),
        ],
    );
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
            "--app",
            APP,
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
        let sdists = BTreeMap::from([(APP.to_owned(), xtask::sdist::build(&config, APP).unwrap())]);
        let tree = xtask::build_deb::stage_tree(
            &config,
            &[APP],
            config.target("bookworm").unwrap(),
            &sdists,
            &list.entries,
            "0.1.0",
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

/// The shape a team grows into: `add-app` then update-deps, build-wheels,
/// sign and build-deb package a third application, and nothing in
/// debian/rules changed.
#[test]
fn add_app_then_the_pipeline_packages_a_third_application() {
    let (tmp, root) = copy_repo();
    let dir = root.join("packaging/third-app");
    fs_err::create_dir_all(dir.join("src/third_app")).unwrap();
    let demo = root.join("packaging/pinwheel-apt-demo");
    let pyproject = fs_err::read_to_string(demo.join("pyproject.toml"))
        .unwrap()
        .replace("pinwheel-apt-demo", "third-app")
        .replace("pinwheel_apt_demo", "third_app")
        .replace("version = \"0.0.0\"", "version = \"0.1.0\"");
    fs_err::write(dir.join("pyproject.toml"), pyproject).unwrap();
    fs_err::copy(demo.join("uv.lock"), dir.join("uv.lock")).unwrap();
    let lock = fs_err::read_to_string(dir.join("uv.lock"))
        .unwrap()
        .replace("pinwheel-apt-demo", "third-app")
        .replace("version = \"0.0.0\"", "version = \"0.1.0\"");
    fs_err::write(dir.join("uv.lock"), lock).unwrap();
    fs_err::write(dir.join("README.md"), "# third-app\n").unwrap();
    fs_err::write(
        dir.join("src/third_app/__init__.py"),
        "\"\"\"third-app.\"\"\"\n__version__ = \"0.1.0\"\n",
    )
    .unwrap();
    fs_err::write(
        dir.join("src/third_app/cli.py"),
        "import idna\n\ndef main():\n    print(idna.encode('example.org').decode())\n    return 0\n",
    )
    .unwrap();
    let rules = fs_err::read(root.join("debian/rules")).unwrap();
    // Paths on the command line are the caller's: absolute here, as the
    // tests run from another directory.
    for args in [
        vec![
            "add-app",
            "third-app",
            "--dir",
            dir.to_str().unwrap(),
            "--target",
            "bookworm",
        ],
        vec!["update-deps"],
        vec!["build-wheels", "--target", "bookworm"],
    ] {
        let run = xtask(&root, &args);
        assert_eq!(run.code, 0, "{args:?}:\n{}\n{}", run.stdout, run.stderr);
        if args[0] == "build-wheels" {
            // Its one dependency's wheel is in the signed index already, so
            // there is nothing to build and nothing to sign.
            assert!(run.stdout.contains("up to date"), "{}", run.stdout);
        }
    }
    // Signing is refused when the list has not changed: proof that the
    // index, signed before the application was added, still serves it.
    let key = root.join("packaging/keys/DEMO-ONLY-secret/demo-maintainer.secret.asc");
    let run = xtask(&root, &["sign", "--key", key.to_str().unwrap()]);
    assert!(run.stderr.contains("already signed"), "{}", run.stderr);
    let out = tmp.path().join("out");
    let run = xtask(
        &root,
        &[
            "build-deb",
            "--app",
            "third-app",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "build-deb:\n{}\n{}", run.stdout, run.stderr);
    let debs = files_with(&out.join("bookworm"), ".deb");
    assert_eq!(
        debs.iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect::<Vec<_>>(),
        ["third-app_0.1.0+bookworm_amd64.deb"],
        "only the application asked for, only for its one target"
    );
    assert!(!out
        .join("trixie")
        .join("third-app_0.1.0+trixie_amd64.deb")
        .exists());
    let contents = run_ok(&["dpkg-deb", "-c", debs[0].to_str().unwrap()]);
    assert!(
        contents.contains("./usr/bin/third-app -> /opt/venvs/third-app/bin/third-app"),
        "{contents}"
    );
    assert!(
        contents.contains("./opt/venvs/third-app/lib/python3.11/site-packages/idna/"),
        "{contents}"
    );
    assert_eq!(fs_err::read(root.join("debian/rules")).unwrap(), rules);
}
