//! `cargo xtask add-app` on a copy of the repository: a third application
//! registered in one command (configuration, debian/control stanza,
//! per-package files) that `update-deps --check` and build-deb's check
//! accept; every bad input refused in one line with nothing written; and
//! the check that debian/control and the configuration agree.

use std::path::{Path, PathBuf};

use crate::slow::build_deb::{copy_repo, repo_root};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn xtask(root: &Path, args: &[&str]) -> Run {
    let out = duct::cmd(env!("CARGO_BIN_EXE_xtask"), args)
        .dir(root)
        .env_remove("PINWHEEL_ROOT")
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

/// A project like pinwheel-apt-demo under `packaging/<name>/`, locked.
fn project(root: &Path, name: &str) -> PathBuf {
    let dir = root.join("packaging").join(name);
    fs_err::create_dir_all(&dir).unwrap();
    let demo = root.join("packaging/pinwheel-apt-demo");
    let pyproject = fs_err::read_to_string(demo.join("pyproject.toml"))
        .unwrap()
        .replace("pinwheel-apt-demo", name)
        .replace("pinwheel_apt_demo", &name.replace('-', "_"));
    fs_err::write(dir.join("pyproject.toml"), pyproject).unwrap();
    fs_err::copy(demo.join("uv.lock"), dir.join("uv.lock")).unwrap();
    dir
}

/// Every file add-app may write, with its bytes (None: absent).
fn snapshot(root: &Path, name: &str) -> Vec<(String, Option<Vec<u8>>)> {
    let mut paths = vec![
        "packaging/pinwheel.toml".to_owned(),
        "debian/control".to_owned(),
    ];
    for ext in [
        "links",
        "manpages",
        "postinst",
        "prerm",
        "lintian-overrides",
        "1",
    ] {
        paths.push(format!("debian/{name}.{ext}"));
    }
    paths
        .into_iter()
        .map(|p| {
            let bytes = fs_err::read(root.join(&p)).ok();
            (p, bytes)
        })
        .collect()
}

#[test]
fn add_app_registers_a_third_application() {
    let (_tmp, root) = copy_repo();
    project(&root, "third-app");
    let run = xtask(
        &root,
        &[
            "add-app",
            "third-app",
            "--dir",
            "packaging/third-app",
            "--target",
            "trixie",
            "--system-site-packages",
            "--depends",
            "python3-gi",
        ],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("debian/third-app.links"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("next: cargo xtask update-deps --app third-app"),
        "{}",
        run.stdout
    );

    let config = xtask::config::Config::load(&root).unwrap();
    let app = config.app("third-app").unwrap();
    assert_eq!(app.lock, Path::new("packaging/third-app/uv.lock"));
    assert!(app.system_site_packages);
    assert_eq!(app.depends, ["python3-gi"]);
    let targets: Vec<&str> = config
        .targets_of(app)
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(targets, ["trixie"]);

    // debian/control agrees with the configuration, and the new stanza
    // declares the Python substvar and the Debian dependency.
    let control = xtask::debian::check(&config).unwrap();
    let binary = control.binary("third-app").unwrap();
    assert_eq!(binary.depends, ["python3-gi"]);
    let text = fs_err::read_to_string(root.join("debian/control")).unwrap();
    assert!(text.contains("Package: third-app\nArchitecture: any\nDepends: ${pinwheel:Depends},"));
    assert!(!text.contains("\n\n\n"), "{text}");
    assert_eq!(
        fs_err::read_to_string(root.join("debian/third-app.links")).unwrap(),
        "opt/venvs/third-app/bin/third-app usr/bin/third-app\n"
    );
    let postinst = fs_err::read_to_string(root.join("debian/third-app.postinst")).unwrap();
    assert!(postinst.contains("/opt/venvs/third-app/bin/python -m compileall"));
    assert!(postinst.contains("#DEBHELPER#"));
    let overrides =
        fs_err::read_to_string(root.join("debian/third-app.lintian-overrides")).unwrap();
    for line in overrides.lines().filter(|l| !l.starts_with('#')) {
        assert!(line.starts_with("third-app: "), "{line}");
    }
    // Each override has its reason on the line above.
    let lines: Vec<&str> = overrides.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if !line.starts_with('#') {
            assert!(i > 0 && lines[i - 1].starts_with('#'), "{line}");
        }
    }
    // debian/rules is not touched: it names no application.
    assert_eq!(
        fs_err::read(root.join("debian/rules")).unwrap(),
        fs_err::read(repo_root().join("debian/rules")).unwrap()
    );

    // Adding it again is refused, and changes nothing.
    let before = snapshot(&root, "third-app");
    let again = xtask(
        &root,
        &["add-app", "third-app", "--dir", "packaging/third-app"],
    );
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(
        again
            .stderr
            .contains("an application named third-app exists already"),
        "{}",
        again.stderr
    );
    assert_eq!(snapshot(&root, "third-app"), before);
}

#[test]
fn adversarial_add_app_bad_input_writes_nothing() {
    let (tmp, root) = copy_repo();
    project(&root, "good-name");
    let outside = tmp.path().join("outside");
    fs_err::create_dir_all(&outside).unwrap();
    let no_lock = root.join("packaging/no-lock");
    fs_err::create_dir_all(&no_lock).unwrap();
    fs_err::copy(
        root.join("packaging/pinwheel-apt-demo/pyproject.toml"),
        no_lock.join("pyproject.toml"),
    )
    .unwrap();
    let no_pyproject = root.join("packaging/no-pyproject");
    fs_err::create_dir_all(&no_pyproject).unwrap();
    let outside_arg = outside.display().to_string();
    let cases: [(&str, &[&str], &str); 7] = [
        (
            "pinwheel-demo",
            &["--dir", "packaging/good-name"],
            "packaging/pinwheel.toml: an application named pinwheel-demo exists already",
        ),
        (
            "Bad_Name",
            &["--dir", "packaging/good-name"],
            "\"Bad_Name\" is not a valid Debian package name (Debian Policy 5.6.7",
        ),
        (
            "good-name",
            &["--dir", &outside_arg],
            "outside the repository",
        ),
        (
            "good-name",
            &["--dir", "packaging/no-lock"],
            "packaging/no-lock: no lock (poetry.lock, uv.lock, pylock.toml or a hashed requirements.txt)",
        ),
        (
            "good-name",
            &["--dir", "packaging/no-pyproject"],
            "packaging/no-pyproject: no pyproject.toml in the application directory",
        ),
        (
            "good-name",
            &["--dir", "packaging/good-name", "--target", "sid"],
            "no target named \"sid\"",
        ),
        (
            "good-name",
            &["--dir", "packaging/good-name", "--depends", "Python3-GI"],
            "--depends Python3-GI",
        ),
    ];
    for (name, args, want) in cases {
        let before = snapshot(&root, name);
        let mut argv = vec!["add-app", name];
        argv.extend_from_slice(args);
        let run = xtask(&root, &argv);
        assert_eq!(run.code, 2, "{argv:?}: {}", run.stderr);
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{argv:?}: {}", run.stderr);
        assert!(lines[0].contains(want), "{argv:?}: {want}\n{}", run.stderr);
        assert_eq!(snapshot(&root, name), before, "{argv:?} wrote something");
    }
}

#[test]
fn adversarial_control_and_configuration_disagree() {
    let (_tmp, root) = copy_repo();
    let control = root.join("debian/control");
    let text = fs_err::read_to_string(&control).unwrap();
    let start = text.find("\nPackage: pinwheel-apt-demo").unwrap();
    // A configured application without its stanza.
    fs_err::write(&control, &text[..start + 1]).unwrap();
    let run = xtask(&root, &["update-deps", "--check"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "debian/control: no binary package pinwheel-apt-demo, which packaging/pinwheel.toml configures"
        ),
        "{}",
        run.stderr
    );
    // A stanza no application configures.
    fs_err::write(
        &control,
        format!("{text}\nPackage: stray\nArchitecture: any\nDescription: stray\n stray\n"),
    )
    .unwrap();
    let run = xtask(&root, &["update-deps", "--check"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "debian/control: binary package stray is not an application in packaging/pinwheel.toml"
        ),
        "{}",
        run.stderr
    );
    // build-deb refuses it the same way, before anything is built.
    let run = xtask(&root, &["build-deb", "--target", "bookworm"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("binary package stray"),
        "{}",
        run.stderr
    );
    assert!(!root
        .join("target/debian/bookworm")
        .read_dir()
        .is_ok_and(|mut d| d.any(|e| e.unwrap().path().extension().is_some_and(|x| x == "deb"))));
}
