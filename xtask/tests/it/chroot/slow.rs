//! Real chroots, made once per test run in the shared cache
//! `$CARGO_TARGET_TMPDIR/chroots` (a minute or two per suite the first
//! time, then reused): what a command inside sees and cannot do, the
//! interpreter check, locks, reuse with the mirror down, the command line,
//! the runtime flavor and a non-root user.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pinwheel_proof::loopback::Server;
use pinwheel_trust::hash::Sha256;
use xtask::chroot::{prepare_in, Bind, Chroot, CACHE_ENV};

use super::{build_flavor, config, repo_root, repo_with};

/// The chroot cache the whole test run shares: `$PINWHEEL_CHROOT_DIR`
/// (set for `cargo test` by .cargo/config.toml, so the build-deb and
/// build-wheels tests use the same chroots), else one under the target
/// directory.
pub fn shared_cache() -> PathBuf {
    match std::env::var_os(CACHE_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_TARGET_TMPDIR")).join("chroots"),
    }
}

fn bookworm() -> Chroot {
    prepare_in(
        &shared_cache(),
        config().target("bookworm").unwrap(),
        &build_flavor(),
        false,
    )
    .unwrap()
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_in(chroot: &Chroot, binds: &[Bind], cwd: &Path, program: &str, args: &[&str]) -> Out {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let (program, args) = chroot.command(binds, cwd, program, &args);
    let out = duct::cmd(program, args)
        .full_env([("PATH", "/usr/bin:/bin"), ("LC_ALL", "C.UTF-8")])
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn sh(chroot: &Chroot, binds: &[Bind], script: &str) -> Out {
    run_in(chroot, binds, Path::new("/"), "sh", &["-c", script])
}

#[test]
fn bookworm_build_chroot() {
    let chroot = bookworm();
    assert_eq!(chroot.python, "3.11.2");
    assert_eq!(chroot.suite, "bookworm");
    assert!(chroot.packages["python3.11"].starts_with("3.11.2-"));
    for name in [
        "build-essential",
        "debhelper",
        "dpkg-dev",
        "fakeroot",
        "faketime",
        "python3-venv",
        "python3-pip-whl",
    ] {
        assert!(chroot.packages.contains_key(name), "{name}");
    }
    let toolchain = chroot.toolchain();
    for name in [
        "python3.11",
        "libpython3.11-dev",
        "gcc-12",
        "g++-12",
        "cpp-12",
        "binutils",
        "libc6-dev",
        "linux-libc-dev",
        "libgcc-s1",
        "libstdc++6",
    ] {
        assert_eq!(toolchain.get(name), chroot.packages.get(name), "{name}");
        assert!(toolchain.contains_key(name), "{name}");
    }
    assert!(!toolchain.contains_key("debhelper"));
    let list = chroot.package_list();
    assert_eq!(list.lines().count(), chroot.packages.len());
    let beside = chroot.dir.parent().unwrap();
    assert_eq!(
        std::fs::read_to_string(beside.join("packages.txt")).unwrap(),
        list
    );
    assert_eq!(
        std::fs::read_to_string(beside.join("python-version")).unwrap(),
        "3.11.2\n"
    );
    let bytes = chroot.disk_usage().unwrap();
    let _ = writeln!(
        std::io::stderr(),
        "bookworm build chroot: {} packages, {} MB",
        chroot.packages.len(),
        bytes / 1_000_000
    );
    assert!(bytes < 600_000_000, "{bytes}");
}

#[test]
fn a_command_sees_the_suites_python_and_no_network() {
    let chroot = bookworm();
    let out = run_in(
        &chroot,
        &[],
        Path::new("/usr"),
        "python3",
        &[
            "-c",
            "import os, platform; print(platform.python_version(), os.getcwd(), os.getpid())",
        ],
    );
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "3.11.2 /usr 1\n"),
        "{}",
        out.stderr
    );
    // The Debian archive (by address: no resolver inside) and a server on
    // the host's loopback are both out of reach.
    let server = Server::start().unwrap();
    let port = server.addr().port().to_string();
    let script = "import socket, sys\nfor host, port in [('151.101.2.132', 80), ('127.0.0.1', int(sys.argv[1]))]:\n    try:\n        socket.create_connection((host, port), 3)\n        print('reached', host)\n    except OSError as e:\n        print('unreachable', host, e.errno)\n";
    let out = run_in(
        &chroot,
        &[],
        Path::new("/"),
        "python3",
        &["-c", script, &port],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stdout.contains("reached"), "{}", out.stdout);
    assert_eq!(out.stdout.lines().count(), 2, "{}", out.stdout);
    assert!(server.requests().is_empty());
    // Only the loopback device, and it is down.
    let out = sh(&chroot, &[], "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '; cat /sys/class/net/lo/operstate 2>/dev/null || true; hostname");
    assert_eq!(out.stdout.lines().next(), Some("lo"), "{}", out.stdout);
    assert!(out.stdout.ends_with("pinwheel\n"), "{}", out.stdout);
}

#[test]
fn adversarial_build_cannot_change_the_cached_chroot() {
    let chroot = bookworm();
    let passwd = Sha256::of_file(&chroot.dir.join("etc/passwd")).unwrap();
    let out = sh(
        &chroot,
        &[],
        "echo planted > /etc/pinwheel-planted && echo 'evil:x:0:0::/:/bin/sh' >> /etc/passwd \
         && rm /usr/bin/python3 && mkdir /opt/planted && echo ok",
    );
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "ok\n"),
        "{}",
        out.stderr
    );
    assert!(!chroot.dir.join("etc/pinwheel-planted").exists());
    assert!(!chroot.dir.join("opt/planted").exists());
    assert!(chroot.dir.join("usr/bin/python3").exists());
    assert_eq!(
        Sha256::of_file(&chroot.dir.join("etc/passwd")).unwrap(),
        passwd
    );
    // Nor does the next command see any of it.
    let out = sh(&chroot, &[], "test ! -e /etc/pinwheel-planted && ! grep -q evil /etc/passwd && test -e /usr/bin/python3 && echo clean");
    assert_eq!(out.stdout, "clean\n", "{}", out.stderr);
    // No disks, no host /tmp.
    let marker = tempfile::Builder::new()
        .prefix("pinwheel-host-tmp-")
        .tempfile()
        .unwrap();
    let name = marker
        .path()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let out = sh(
        &chroot,
        &[],
        &format!("ls /dev; test ! -e /tmp/{name} && echo no-host-tmp"),
    );
    assert!(out.stdout.contains("no-host-tmp"), "{}", out.stdout);
    assert!(
        !out.stdout
            .lines()
            .any(|l| l.starts_with("sd") || l.starts_with("vd") || l.starts_with("nvme")),
        "{}",
        out.stdout
    );
}

#[test]
fn binds_writable_and_read_only() {
    let chroot = bookworm();
    let rw = tempfile::tempdir().unwrap();
    let ro = tempfile::tempdir().unwrap();
    std::fs::write(ro.path().join("input"), "from the host\n").unwrap();
    let binds = [
        Bind {
            path: rw.path().to_path_buf(),
            writable: true,
        },
        Bind {
            path: ro.path().to_path_buf(),
            writable: false,
        },
    ];
    let script = format!(
        "cat input > {rw}/copied && echo built > {rw}/out && pwd && ! touch input 2>/dev/null && echo ro-held",
        rw = rw.path().display()
    );
    let out = run_in(&chroot, &binds, ro.path(), "sh", &["-c", &script]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, format!("{}\nro-held\n", ro.path().display()));
    assert_eq!(
        std::fs::read_to_string(rw.path().join("out")).unwrap(),
        "built\n"
    );
    assert_eq!(
        std::fs::read_to_string(rw.path().join("copied")).unwrap(),
        "from the host\n"
    );
    assert_eq!(std::fs::read_dir(ro.path()).unwrap().count(), 1);
}

#[test]
fn adversarial_bad_binds_are_refused() {
    let chroot = bookworm();
    let comma = tempfile::Builder::new()
        .prefix("a,lowerdir=")
        .tempdir()
        .unwrap();
    let cases: [(PathBuf, &str); 5] = [
        (comma.path().to_path_buf(), "',' ':' or a newline"),
        // /bin is a symbolic link (usr/bin) in the chroot: mkdir -p would follow it.
        (
            PathBuf::from("/bin"),
            "is a symbolic link inside the chroot",
        ),
        (PathBuf::from("relative"), "not an absolute path"),
        (PathBuf::from("/tmp/../etc"), ". or .. components"),
        (PathBuf::from("/nonexistent-pinwheel"), "does not exist"),
    ];
    for (path, why) in cases {
        let bind = Bind {
            path: path.clone(),
            writable: true,
        };
        let out = sh(&chroot, &[bind], "echo ran");
        assert_eq!(out.code, 2, "{path:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{path:?}");
        assert!(
            out.stderr.starts_with("pinwheel chroot: bind") && out.stderr.contains(why),
            "{path:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn adversarial_configured_python_is_not_the_chroots() {
    drop(bookworm());
    let repo = repo_with(|doc| doc["targets"]["bookworm"]["python"] = toml_edit::value("3.11.9"));
    let cache = shared_cache();
    let run = repo.xtask_env(
        &["chroot", "--target", "bookworm"],
        &[(CACHE_ENV, cache.to_str().unwrap())],
    );
    run.refused("3.11.9");
    let error = run
        .stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap();
    for needle in ["target bookworm", "3.11.2", "packaging/pinwheel.toml"] {
        assert!(error.contains(needle), "{needle}: {error}");
    }
}

#[test]
fn a_cached_chroot_is_used_with_the_mirror_down() {
    drop(bookworm());
    let server = Server::start().unwrap();
    let mut target = config().target("bookworm").unwrap().clone();
    target.mirror = server.url("/debian");
    let chroot = prepare_in(&shared_cache(), &target, &build_flavor(), false).unwrap();
    assert_eq!(chroot.python, "3.11.2");
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    target.mirror = "http://127.0.0.1:9/debian".into();
    drop(chroot);
    prepare_in(&shared_cache(), &target, &build_flavor(), false).unwrap();
}

#[test]
fn a_half_made_chroot_beside_a_cached_one_is_removed() {
    // Planted while holding the chroot's lock: another test's prepare
    // (which removes half-made chroots under the lock) cannot race it.
    let held = bookworm();
    let name = xtask::chroot::name(config().target("bookworm").unwrap(), &build_flavor());
    let killed = shared_cache().join(format!(".tmp-{name}-killed"));
    std::fs::create_dir_all(killed.join("root/etc")).unwrap();
    drop(held);
    let chroot = bookworm();
    assert!(!killed.exists());
    assert_eq!(chroot.python, "3.11.2");
}

#[test]
fn a_second_build_of_a_target_waits_for_the_first() {
    let held = bookworm();
    let cache = shared_cache();
    let root = repo_root();
    let child = duct::cmd!(
        env!("CARGO_BIN_EXE_xtask"),
        "--root",
        &root,
        "chroot",
        "--target",
        "bookworm"
    )
    .env(CACHE_ENV, &cache)
    .stdin_null()
    .stderr_to_stdout()
    .unchecked()
    .reader()
    .unwrap();
    let mut lines = BufReader::new(&child).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(
        first.starts_with("waiting for another build of target bookworm"),
        "{first}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the second build waits"
    );
    drop(held);
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    assert!(
        child.try_wait().unwrap().unwrap().status.success(),
        "{rest:?}"
    );
    assert!(
        rest.iter()
            .any(|l| l.starts_with("bookworm: bookworm/amd64, python 3.11.2, ")),
        "{rest:?}"
    );
}

#[test]
fn the_command_prints_every_target() {
    let cache = shared_cache();
    let out = duct::cmd!(env!("CARGO_BIN_EXE_xtask"), "--root", repo_root(), "chroot")
        .env(CACHE_ENV, &cache)
        .stdin_null()
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
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    for (line, head) in lines.iter().zip([
        "bookworm: bookworm/amd64, python 3.11.2, ",
        "trixie: trixie/amd64, python 3.13.5, ",
    ]) {
        assert!(line.starts_with(head), "{line}");
        let mb: u64 = line
            .split(", ")
            .find_map(|f| f.strip_suffix(" MB"))
            .unwrap()
            .parse()
            .unwrap();
        assert!(mb < 600, "{line}");
        let path = line.rsplit(", ").next().unwrap();
        assert!(Path::new(path).join("usr/bin/python3").exists(), "{line}");
        let _ = writeln!(std::io::stderr(), "{line}");
    }
    let trixie = prepare_in(
        &cache,
        config().target("trixie").unwrap(),
        &build_flavor(),
        false,
    )
    .unwrap();
    assert!(
        trixie.toolchain().contains_key("gcc-14"),
        "{:?}",
        trixie.toolchain()
    );
    let out = run_in(
        &trixie,
        &[],
        Path::new("/"),
        "python3",
        &["-c", "import platform; print(platform.python_version())"],
    );
    assert_eq!(out.stdout, "3.13.5\n");
}

#[test]
fn the_runtime_chroot_is_a_minimal_system_with_python() {
    let chroot = prepare_in(
        &shared_cache(),
        config().target("bookworm").unwrap(),
        &xtask::chroot::runtime_flavor(&config()),
        false,
    )
    .unwrap();
    assert_eq!(chroot.python, "3.11.2");
    assert!(chroot.packages.contains_key("apt"));
    // The Debian packages the applications depend on are there.
    assert!(chroot.packages.contains_key("python3-apt"));
    for absent in ["gcc", "gcc-12", "debhelper", "python3-pip"] {
        assert!(!chroot.packages.contains_key(absent), "{absent}");
    }
    let name = chroot
        .dir
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(name.starts_with("bookworm-amd64-runtime-"), "{name}");
    // Documentation is kept here: a .deb installed in it keeps its own.
    assert!(chroot.dir.join("usr/share/doc/python3").is_dir());
}

#[test]
fn command_overhead() {
    let chroot = bookworm();
    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        let out = run_in(&chroot, &[], Path::new("/"), "true", &[]);
        times.push(start.elapsed());
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    times.sort();
    let mean = times.iter().sum::<Duration>() / 20;
    let _ = writeln!(
        std::io::stderr(),
        "chroot command overhead (`true`, 20 runs): median {} ms, mean {} ms, max {} ms",
        times[10].as_millis(),
        mean.as_millis(),
        times[19].as_millis()
    );
    assert!(times[10] < Duration::from_secs(1));
}

/// The user the rootless test runs as when the tests run as root.
const ROOTLESS_USER: &str = "pinwheel-rootless";

/// Makes `ROOTLESS_USER` with subordinate id ranges (root only).
fn rootless_user() -> u32 {
    let exists = duct::cmd!("id", "-u", ROOTLESS_USER)
        .stdout_capture()
        .stderr_null()
        .unchecked()
        .run()
        .unwrap();
    if !exists.status.success() {
        duct::cmd!("useradd", "-m", ROOTLESS_USER).run().unwrap();
    }
    for file in ["/etc/subuid", "/etc/subgid"] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if !text
            .lines()
            .any(|l| l.starts_with(&format!("{ROOTLESS_USER}:")))
        {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(file)
                .unwrap();
            writeln!(f, "{ROOTLESS_USER}:400000:65536").unwrap();
        }
    }
    let out = duct::cmd!("id", "-u", ROOTLESS_USER).read().unwrap();
    out.trim().parse().unwrap()
}

#[test]
fn a_user_makes_and_enters_chroots_in_a_user_namespace() {
    let root = xtask::host_packages::is_root();
    let (prefix, cache, home): (Vec<String>, PathBuf, String) = if root {
        let uid = rootless_user();
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("chroots-rootless");
        std::fs::create_dir_all(&cache).unwrap();
        std::os::unix::fs::chown(&cache, Some(uid), Some(uid)).unwrap();
        let prefix = ["runuser", "-u", ROOTLESS_USER, "--"]
            .map(str::to_owned)
            .to_vec();
        (prefix, cache, format!("/home/{ROOTLESS_USER}"))
    } else {
        (vec![], shared_cache(), std::env::var("HOME").unwrap())
    };
    let xtask = |args: &[&str]| {
        let mut argv = prefix.clone();
        argv.extend([
            env!("CARGO_BIN_EXE_xtask").to_owned(),
            "--root".into(),
            repo_root().display().to_string(),
        ]);
        argv.extend(args.iter().map(|s| s.to_string()));
        let out = duct::cmd(&argv[0], &argv[1..])
            .full_env([
                ("PATH", "/usr/sbin:/usr/bin:/sbin:/bin".to_owned()),
                ("HOME", home.clone()),
                (CACHE_ENV, cache.display().to_string()),
            ])
            .stdin_null()
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{args:?}: {stdout}{stderr}");
        stdout
    };
    let line = xtask(&["chroot", "--runtime", "--target", "bookworm"]);
    assert!(
        line.starts_with("bookworm: bookworm/amd64, python 3.11.2, "),
        "{line}"
    );
    let inside = xtask(&[
        "chroot",
        "--runtime",
        "--target",
        "bookworm",
        "--",
        "sh",
        "-c",
        "python3 -c 'import os, platform; print(platform.python_version(), os.getuid())' && echo x > /etc/planted && cat /proc/net/dev | tail -n +3 | wc -l",
    ]);
    assert_eq!(inside, "3.11.2 0\n1\n");
    // Root inside is the user outside: the chroot is theirs to remove.
    let path = PathBuf::from(line.trim().rsplit(", ").next().unwrap());
    assert!(!path.join("etc/planted").exists());
    let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(path.join("etc")).unwrap());
    let me = if root {
        rootless_user()
    } else {
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap())
    };
    assert_eq!(owner, me);
}
