//! Which repository a command acts on: the one around the current
//! directory, not the checkout the binary was compiled in; and a binary
//! that cargo ran for another checkout (a target directory shared between
//! clones) is refused with both paths named.

use std::path::Path;

use crate::support::repo::Repo;

/// Runs this test run's xtask binary (compiled in this checkout) in `dir`
/// with `env`, without `--root` and without `PINWHEEL_ROOT`.
fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut vars: std::collections::HashMap<String, String> = std::env::vars()
        .filter(|(k, _)| k != "PINWHEEL_ROOT" && k != "CARGO_MANIFEST_DIR")
        .collect();
    for (k, v) in env {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    let out = duct::cmd(env!("CARGO_BIN_EXE_xtask"), args)
        .dir(dir)
        .full_env(vars)
        .stdin_null()
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
fn the_binary_acts_on_the_checkout_around_the_current_directory() {
    let other = Repo::new(&[], 1);
    let root = other.root().canonicalize().unwrap();
    let deep = root.join("requirements/somewhere");
    std::fs::create_dir_all(&deep).unwrap();
    for dir in [root.as_path(), deep.as_path()] {
        let (code, stdout, stderr) = run_in(dir, &["check-config"], &[]);
        assert_eq!(code, 0, "{stderr}");
        let config = root.join("packaging/pinwheel.toml");
        assert!(
            stdout.starts_with(&format!("{}:", config.display())),
            "ran in {} but read another configuration: {stdout}",
            dir.display()
        );
    }
}

#[test]
fn adversarial_binary_cargo_ran_for_another_checkout_is_refused() {
    let other = Repo::new(&[], 1);
    let root = other.root().canonicalize().unwrap();
    let before = other.snapshot();
    let ran_for = root.join("xtask");
    std::fs::create_dir_all(&ran_for).unwrap();
    let (code, _, stderr) = run_in(
        &root,
        &["check-config"],
        &[("CARGO_MANIFEST_DIR", ran_for.to_str().unwrap())],
    );
    assert_eq!(code, 2, "{stderr}");
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .canonicalize()
        .unwrap();
    assert!(
        stderr.contains(&built_from.display().to_string())
            && stderr.contains(&root.display().to_string())
            && stderr.contains("shared"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    std::fs::remove_dir(&ran_for).unwrap();
    assert_eq!(other.snapshot(), before, "a refused command changed files");
}

#[test]
fn another_package_of_the_same_checkout_may_run_the_binary() {
    // `cargo xtask bench` runs the proof's binary through cargo, which
    // names crates/pinwheel-proof; that binary then starts this one.
    let other = Repo::new(&[], 1);
    let proof = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/pinwheel-proof");
    let (code, stdout, stderr) = run_in(
        other.root(),
        &["check-config"],
        &[("CARGO_MANIFEST_DIR", proof.to_str().unwrap())],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("application(s)"), "{stdout}");
}
