//! Tidy: house rules checked as a test. Every source file opens with a
//! `//!` doc line, no text file has trailing whitespace or CRLF, and every
//! `cargo xtask <command>` the README mentions exists. (Processes started
//! only through xshell or duct, and no `unwrap` outside tests, are clippy
//! lints in the workspace manifest.)

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn files_under(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

/// Every Rust source of the workspace's packages (`xtask/`, `crates/*/`).
fn rust_sources() -> Vec<PathBuf> {
    let mut packages = vec![root().join("xtask")];
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        packages.push(entry.unwrap().path());
    }
    let mut out = Vec::new();
    for package in packages {
        for dir in ["src", "tests", "examples"] {
            if package.join(dir).is_dir() {
                files_under(&package.join(dir), "rs", &mut out);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_module_has_a_doc_line() {
    let missing: Vec<_> = rust_sources()
        .into_iter()
        .filter(|p| !std::fs::read_to_string(p).unwrap().starts_with("//!"))
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading //! doc line: {missing:?}"
    );
}

#[test]
fn no_trailing_whitespace_or_crlf() {
    let mut files = rust_sources();
    for name in [
        "README.md",
        "ARCHITECTURE.md",
        "SECURITY.md",
        "Cargo.toml",
        "packaging/pinwheel.toml",
        ".ci/run",
        ".cargo/config.toml",
        ".cargo/clippy.toml",
    ] {
        let p = root().join(name);
        if p.exists() {
            files.push(p);
        }
    }
    let mut bad = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, line) in text.split('\n').enumerate() {
            if line.ends_with(' ') || line.ends_with('\t') || line.ends_with('\r') {
                bad.push(format!("{}:{}", file.display(), i + 1));
            }
        }
    }
    assert!(bad.is_empty(), "trailing whitespace or CR at: {bad:?}");
}

#[test]
fn readme_commands_exist() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut commands: Vec<&str> = readme
        .split("cargo xtask ")
        .skip(1)
        .filter_map(|rest| {
            rest.split(|c: char| !(c.is_ascii_lowercase() || c == '-'))
                .next()
        })
        .filter(|c| !c.is_empty())
        .collect();
    commands.sort();
    commands.dedup();
    assert!(!commands.is_empty(), "README names no cargo xtask command");
    for command in commands {
        // `help COMMAND` rather than `COMMAND --help`: the proof's
        // commands would build and run their own binary for `--help`.
        let out = duct::cmd!(env!("CARGO_BIN_EXE_xtask"), "help", command)
            .stdout_null()
            .stderr_capture()
            .unchecked()
            .run()
            .unwrap();
        assert!(
            out.status.success(),
            "README mentions `cargo xtask {command}`, which does not exist"
        );
    }
}
