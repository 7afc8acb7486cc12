//! A throwaway pinwheel repository for command-line tests: the real
//! configuration with the trust section rewritten, a keys directory, a
//! small `wheels-index/` with its list, optionally a git history; and a
//! runner for the `xtask` binary that returns exit code and output.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pinwheel_trust::hash::Sha256;
use pinwheel_trust::sha256sums::{ListMeta, SignedList};
use time::OffsetDateTime;

pub struct Repo {
    pub dir: tempfile::TempDir,
}

/// What a command did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> &Self {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        self
    }

    /// Exit code 1 with `needle` in the error message.
    pub fn refused(&self, needle: &str) -> &Self {
        assert_eq!(
            self.code, 1,
            "expected a verification failure mentioning {needle:?}: {self:#?}"
        );
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}: {self:#?}"
        );
        assert_eq!(
            self.stderr
                .lines()
                .filter(|l| l.starts_with("error:"))
                .count(),
            1,
            "one error line: {self:#?}"
        );
        self
    }
}

/// The targets of every test repository, whatever the real configuration
/// names: two releases whose CPython differs around markers such as
/// `python_full_version < '3.11.3'` (async-timeout of redis, tomli, six),
/// so that each target's files differ.
pub const TARGETS: &str =
    "[targets.bookworm]\nsuite = \"bookworm\"\narchitecture = \"amd64\"\npython = \"3.11.2\"\n\n\
     [targets.trixie]\nsuite = \"trixie\"\narchitecture = \"amd64\"\npython = \"3.13.5\"\n\n";

/// The real configuration with [`TARGETS`] as its targets and without
/// its applications: what a test repository adds its own to.
pub fn config_head() -> String {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/pinwheel.toml"),
    )
    .unwrap();
    let start = text
        .find("\n[index]")
        .expect("the configuration has an [index] table");
    let cut = text.find("\n[apps.").unwrap_or(text.len());
    format!("{TARGETS}{}\n", &text[start + 1..cut])
}

pub const FILES: [(&str, &[u8]); 3] = [
    (
        "files/certifi-2024.8.30-py3-none-any.whl",
        b"certifi wheel bytes",
    ),
    ("files/certifi-2024.8.30.tar.gz", b"certifi sdist bytes"),
    ("simple/certifi/index.html", b"<html>certifi</html>"),
];

impl Repo {
    /// A repository whose trust section pins `pins` with `threshold`, and
    /// an index holding [`FILES`] and an unsigned list.
    pub fn new(pins: &[&str], threshold: usize) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo { dir };
        std::fs::create_dir_all(repo.keys()).unwrap();
        std::fs::write(
            repo.root().join(".gitignore"),
            "/.pinwheel/\n/.pinwheel.lock\n",
        )
        .unwrap();
        repo.set_trust(pins, threshold);
        for (path, bytes) in FILES {
            repo.write_index_file(path, bytes);
        }
        repo.write_list(0, OffsetDateTime::UNIX_EPOCH, "pinwheel/wheels-index");
        repo
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn keys(&self) -> PathBuf {
        self.root().join("packaging/keys")
    }

    pub fn index(&self) -> PathBuf {
        self.root().join("wheels-index")
    }

    pub fn list(&self) -> PathBuf {
        self.index().join("sha256sums.txt")
    }

    pub fn asc(&self) -> PathBuf {
        self.index().join("sha256sums.txt.asc")
    }

    pub fn state(&self) -> PathBuf {
        self.root().join(".pinwheel/last-trusted-version")
    }

    /// Rewrites `[trust]` of the real configuration, whose targets are
    /// [`TARGETS`].
    pub fn set_trust(&self, pins: &[&str], threshold: usize) {
        let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/pinwheel.toml");
        let mut doc: toml_edit::DocumentMut =
            std::fs::read_to_string(real).unwrap().parse().unwrap();
        let targets: toml_edit::DocumentMut = TARGETS.parse().unwrap();
        doc["targets"] = targets["targets"].clone();
        let mut array = toml_edit::Array::new();
        for pin in pins {
            array.push(*pin);
        }
        doc["trust"]["fingerprints"] = toml_edit::value(array);
        doc["trust"]["threshold"] = toml_edit::value(threshold as i64);
        let path = self.root().join("packaging/pinwheel.toml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, doc.to_string()).unwrap();
    }

    pub fn write_index_file(&self, rel: &str, bytes: &[u8]) {
        let path = self.index().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// The entries for what is under the index now.
    pub fn entries(&self) -> BTreeMap<String, Sha256> {
        let mut out = BTreeMap::new();
        let mut stack = vec![self.index()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let rel = path
                    .strip_prefix(self.index())
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned();
                if rel != "sha256sums.txt" && rel != "sha256sums.txt.asc" {
                    out.insert(rel, Sha256::of(&std::fs::read(&path).unwrap()));
                }
            }
        }
        out
    }

    /// Writes a list of the current files with this header; returns its text.
    pub fn write_list(&self, version: u64, expires: OffsetDateTime, scope: &str) -> String {
        let list = SignedList {
            meta: ListMeta {
                version,
                expires,
                scope: scope.to_owned(),
            },
            entries: self.entries(),
        };
        let text = list.render().unwrap();
        std::fs::write(self.list(), &text).unwrap();
        text
    }

    /// A list valid for 30 days, of the current files.
    pub fn write_valid_list(&self, version: u64) -> String {
        self.write_list(
            version,
            OffsetDateTime::now_utc() + time::Duration::days(30),
            "pinwheel/wheels-index",
        )
    }

    /// Runs `xtask --root <repo> args...`.
    pub fn xtask(&self, args: &[&str]) -> Run {
        self.xtask_env(args, &[])
    }

    pub fn xtask_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut all = vec!["--root", self.root().to_str().unwrap()];
        all.extend_from_slice(args);
        // Never the user's GnuPG home or passphrase: only what the test sets.
        let mut vars: std::collections::HashMap<String, String> = std::env::vars()
            .filter(|(k, _)| k != "PINWHEEL_KEY_PASSPHRASE" && k != "GNUPGHOME")
            .collect();
        vars.insert(
            "GNUPGHOME".into(),
            "/nonexistent/pinwheel-test-gnupghome".into(),
        );
        for (k, v) in env {
            vars.insert((*k).to_owned(), (*v).to_owned());
        }
        let out = duct::cmd(env!("CARGO_BIN_EXE_xtask"), &all)
            .full_env(vars)
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

    /// Every file under the repository (except the git directory) and its
    /// bytes, to show that a refused command changed nothing.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![self.root().to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path
                    .file_name()
                    .is_some_and(|n| n == ".git" || n == ".pinwheel.lock")
                {
                    continue;
                }
                let meta = std::fs::symlink_metadata(&path).unwrap();
                if meta.is_dir() {
                    stack.push(path);
                } else if meta.is_file() {
                    out.insert(path.clone(), std::fs::read(&path).unwrap());
                }
            }
        }
        out
    }

    /// `git` in the repository, with no user or system configuration.
    pub fn git(&self, args: &[&str]) {
        let out = duct::cmd("git", args)
            .dir(self.root())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.org")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.org")
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `git init` and commit everything.
    pub fn commit_all(&self, message: &str) {
        if !self.root().join(".git").exists() {
            self.git(&["init", "-q"]);
        }
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
    }
}
