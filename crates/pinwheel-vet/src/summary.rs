//! The summary printed before a diff: what a reviewer of `from` → `to`
//! must look at first. Only what the change brings is listed (added or
//! changed files, added lines; removed dependencies too): a finding on a
//! line that did not change would be noise.
//!
//! Four groups, in this order:
//! 1. **Runs at build or install time**: the root `setup.py`, `setup.cfg`,
//!    `pyproject.toml` and `build.py`; the root build hooks of hatchling
//!    (`hatch_build.py`) and pdm-backend (`pdm_build.py`); the root
//!    `build.rs` and `Cargo.toml` (maturin, setuptools-rust);
//!    `CMakeLists.txt` (scikit-build-core) and `meson.build` (meson-python)
//!    anywhere, as CMake and Meson read them from subdirectories too;
//!    `*.pth`, `sitecustomize.py` and `usercustomize.py` anywhere (Python
//!    runs them at start-up once installed); the in-tree build backend
//!    (the module `build-backend` names, under a `backend-path` directory)
//!    and every other `.py` under a `backend-path` directory (the backend
//!    can import it); changes of
//!    `[build-system] build-backend` and `backend-path`, old → new; a
//!    `pyproject.toml` that is not valid TOML. `conftest.py` is not one:
//!    installing never runs tests.
//! 2. **Dependencies**: `Requires-Dist` of the root `PKG-INFO` and
//!    `[project] dependencies`, added, removed or changed (by project
//!    name); `[build-system] requires`, old → new; added lines of
//!    `install_requires`/`setup_requires` in the root `setup.py` (the line
//!    naming them) and `setup.cfg` (the option and its continuation lines).
//! 3. **Executables and binary files**: a new execute bit, a binary added
//!    or changed (size, sha256), a symbolic link added or retargeted.
//! 4. **Lines not to miss**: added lines of text files that are longer than
//!    500 characters, that hold a base64- or hex-like run of more than 200
//!    characters (letters and digits both present) or a run of more than
//!    64 `\xNN` escapes, that start a block of at least 8 consecutive
//!    added lines each one base64 string of 60 characters or more (the
//!    block's size is given), or that name one of the calls `exec`,
//!    `eval`, `compile`, `__import__` (spaces allowed before the `(`, and
//!    `builtins.` before the name), `marshal.loads`, `pickle.loads`,
//!    `subprocess`, `os.system`, `os.popen`, `os.exec*`, `os.spawn*`,
//!    `os.posix_spawn*`, `pty.spawn`, `socket`, `urllib.request`,
//!    `http.client`, `requests.`, `ctypes`, `cffi`, `importlib` (not its
//!    `metadata` and `resources`), `base64.b64decode`, `codecs.decode`,
//!    `zlib`/`lzma`/`bz2`/`gzip.decompress`, `bytes`/`bytearray.fromhex`,
//!    `binascii.unhexlify` not preceded by a letter, digit, `_` or `.` (so
//!    `re.compile(`, `cursor.execute(` and `websocket` are not flagged);
//!    `b64decode`, `b32decode`, `b85decode`, `a85decode`, `decodebytes` and
//!    `urlopen` anywhere; and `from MODULE import NAME` lines whose
//!    `MODULE.NAME` is one of these (`from os import system`).
//!
//! A Python source file (`.py`, `.pyx`, `.pth`, `setup.cfg`,
//! `pyproject.toml`, …) that is not UTF-8 text is shown by the diff as a
//! binary; it is a finding of its own (group 1 when it runs at build time,
//! else group 4) and, unless it holds a NUL byte, its added lines are
//! scanned decoded as Latin-1 (findings marked so).
//!
//! Within a group, files that are installed or run at build time come
//! first, then tests, documentation, examples and benchmarks (top-level
//! `tests/`, `test/`, `testing/`, `docs/`, `doc/`, `examples/`,
//! `benchmarks/`, `bench/`; `test_*.py`, `*_test.py`, `conftest.py`
//! anywhere), each part by path: their noise does not push a finding past
//! a group's cap.
//!
//! Text matching is lexical: a reviewer still reads the diff. A line of a
//! file whose diff fell back to the coarse one (see [`crate::diff`]) may be
//! listed though it only moved.

use std::fmt::Write as _;

use crate::diff::{changes, text_of, LineDiff};
use crate::tree::{lines, Entry, Tree};

mod deps;
mod lines;

/// What a finding is about; the order is the order of the groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingKind {
    RunsAtBuild,
    Dependency,
    ExecutableOrBinary,
    Line,
}

impl FindingKind {
    pub const ALL: [FindingKind; 4] = [
        FindingKind::RunsAtBuild,
        FindingKind::Dependency,
        FindingKind::ExecutableOrBinary,
        FindingKind::Line,
    ];

    /// The group's heading.
    pub fn heading(self) -> &'static str {
        match self {
            FindingKind::RunsAtBuild => "Runs at build or install time",
            FindingKind::Dependency => "Dependencies",
            FindingKind::ExecutableOrBinary => "Executables and binary files",
            FindingKind::Line => "Lines not to miss",
        }
    }
}

/// One thing to look at: `path:line: detail` (the line, 1-based in the
/// new file, when there is one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub path: String,
    pub line: Option<u64>,
    pub kind: FindingKind,
    pub detail: String,
}

/// The findings, sorted by group, then the files that are installed or run
/// at build time before tests, documentation and examples, then path, line
/// and detail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub findings: Vec<Finding>,
}

impl Summary {
    /// The findings of one group.
    pub fn of(&self, kind: FindingKind) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.kind == kind)
    }
}

/// Most lines a group shows before "… and N more".
const GROUP_CAP: usize = 30;

/// Lines of a finding's quoted text are cut to this many characters.
const QUOTE_CHARS: usize = 120;

/// The findings for `from` → `to` (see the module docs).
pub fn summarize(from: &Tree, to: &Tree) -> Summary {
    let mut out = Findings::default();
    let backend = deps::backend_files(to);
    for (path, old, new) in changes(from, to) {
        deps::of_file(path, old, new, &mut out);
        let Some(new) = new else { continue };
        let diff = LineDiff::new(text_of(old), text_of(Some(new)));
        if let Some(why) = runs_at_build(path, &backend) {
            let status = match old {
                None => "added".to_owned(),
                Some(old) if old.text().is_some() || new.text().is_some() => {
                    let (deleted, inserted) = diff.counts();
                    if deleted + inserted == 0 {
                        format!("mode {} → {}", old.git_mode(), new.git_mode())
                    } else {
                        format!("changed, +{inserted} −{deleted} lines")
                    }
                }
                Some(_) => "changed".to_owned(),
            };
            out.add(
                path,
                None,
                FindingKind::RunsAtBuild,
                format!("{why}; {status}"),
            );
        }
        executable_or_binary(path, old, new, &mut out);
        if let Some(text) = new.text() {
            let new_lines = lines(text);
            let inserted: Vec<usize> = diff.inserted().collect();
            deps::of_lines(path, &new_lines, &inserted, &mut out);
            scan(path, &new_lines, &inserted, "", &mut out);
        } else if let (Entry::Binary { latin1, .. }, true) = (new, python_source(path)) {
            let kind = match runs_at_build(path, &backend) {
                Some(_) => FindingKind::RunsAtBuild,
                None => FindingKind::Line,
            };
            let Some(latin1) = latin1 else {
                let detail = "Python source that is not UTF-8 (it holds a NUL byte): \
                              shown as binary, not scanned; read it decoded";
                out.add(path, None, kind, detail.to_owned());
                continue;
            };
            let detail = "Python source that is not UTF-8: shown as binary; \
                          its added lines are scanned decoded as Latin-1; read it decoded";
            out.add(path, None, kind, detail.to_owned());
            let before = old.and_then(|o| o.text().or(o.latin1())).unwrap_or("");
            let diff = LineDiff::new(before, latin1);
            let inserted: Vec<usize> = diff.inserted().collect();
            scan(
                path,
                &lines(latin1),
                &inserted,
                "decoded as Latin-1: ",
                &mut out,
            );
        }
    }
    let mut findings = out.0;
    let later = |path: &str| runs_at_build(path, &backend).is_none() && tests_or_docs(path);
    findings.sort_by_cached_key(|f| {
        (
            f.kind,
            later(&f.path),
            f.path.clone(),
            f.line,
            f.detail.clone(),
        )
    });
    findings.dedup();
    Summary { findings }
}

/// The summary as text: each group under its heading, at most
/// [`GROUP_CAP`] lines each, "nothing flagged" for an empty group.
pub fn render_summary(summary: &Summary) -> String {
    let mut out = String::new();
    for kind in FindingKind::ALL {
        let _ = writeln!(out, "{}", kind.heading());
        let findings: Vec<&Finding> = summary.of(kind).collect();
        if findings.is_empty() {
            out.push_str("  nothing flagged\n");
        }
        for f in findings.iter().take(GROUP_CAP) {
            match f.line {
                Some(line) => writeln!(out, "  {}:{line}: {}", f.path, f.detail),
                None => writeln!(out, "  {}: {}", f.path, f.detail),
            }
            .unwrap_or_default();
        }
        if findings.len() > GROUP_CAP {
            let _ = writeln!(out, "  … and {} more", findings.len() - GROUP_CAP);
        }
    }
    out
}

#[derive(Default)]
struct Findings(Vec<Finding>);

impl Findings {
    fn add(&mut self, path: &str, line: Option<u64>, kind: FindingKind, detail: String) {
        self.0.push(Finding {
            path: path.to_owned(),
            line,
            kind,
            detail,
        });
    }
}

/// The "Lines not to miss" of the `inserted` lines (indexes into `lines`),
/// each detail after `prefix`.
fn scan(path: &str, lines: &[&str], inserted: &[usize], prefix: &str, out: &mut Findings) {
    for &i in inserted {
        if let Some(detail) = lines::flags(lines[i]) {
            out.add(
                path,
                Some(i as u64 + 1),
                FindingKind::Line,
                format!("{prefix}{detail}"),
            );
        }
    }
    for (i, detail) in lines::blocks(lines, inserted) {
        out.add(
            path,
            Some(i as u64 + 1),
            FindingKind::Line,
            format!("{prefix}{detail}"),
        );
    }
}

/// Whether Python reads the file as source or configuration, so that it
/// must be UTF-8 text to be scanned.
fn python_source(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    matches!(name, "setup.cfg" | "pyproject.toml")
        || [".py", ".pyw", ".pyi", ".pyx", ".pxd", ".pxi", ".pth"]
            .iter()
            .any(|ext| name.ends_with(ext))
}

/// Top-level directories of tests, documentation, examples and benchmarks:
/// not installed, so listed after the files that are.
const NOT_INSTALLED: [&str; 8] = [
    "tests",
    "test",
    "testing",
    "docs",
    "doc",
    "examples",
    "benchmarks",
    "bench",
];

/// Whether a path is a test, documentation, example or benchmark file
/// (see [`NOT_INSTALLED`]; `test_*.py`, `*_test.py` and `conftest.py`
/// anywhere).
fn tests_or_docs(path: &str) -> bool {
    let (top, name) = (
        path.split('/').next().unwrap_or(path),
        path.rsplit('/').next().unwrap_or(path),
    );
    (path.contains('/') && NOT_INSTALLED.contains(&top))
        || (name.starts_with("test_") && name.ends_with(".py"))
        || name.ends_with("_test.py")
        || name == "conftest.py"
}

/// Why a file runs at build or install time, if it does.
fn runs_at_build(path: &str, backend: &deps::Backend) -> Option<&'static str> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let at_root = !path.contains('/');
    match name {
        "setup.py" if at_root => Some("setuptools runs it at build time"),
        "setup.cfg" if at_root => Some("setuptools reads it at build time"),
        "pyproject.toml" if at_root => Some("chooses the build backend and its requirements"),
        "build.py" if at_root => Some("a build script"),
        "hatch_build.py" if at_root => Some("hatchling runs it as a custom build hook"),
        "pdm_build.py" if at_root => Some("pdm-backend runs it as a build hook"),
        "build.rs" if at_root => Some("cargo runs it when maturin or setuptools-rust builds"),
        "Cargo.toml" if at_root => Some(
            "cargo reads it when maturin or setuptools-rust builds (build script, dependencies)",
        ),
        "CMakeLists.txt" => Some("CMake runs it when scikit-build-core builds"),
        "meson.build" => Some("Meson runs it when meson-python builds"),
        "sitecustomize.py" | "usercustomize.py" => Some("Python runs it at start-up"),
        _ if name.ends_with(".pth") => Some("a .pth file: site runs its import lines at start-up"),
        _ if backend
            .modules
            .iter()
            .any(|b| path == b || path.starts_with(&format!("{b}/"))) =>
        {
            Some("the in-tree build backend")
        }
        _ if name.ends_with(".py") && backend.dirs.iter().any(|d| path.starts_with(d.as_str())) => {
            Some("under backend-path: the in-tree build backend can import it")
        }
        _ => None,
    }
}

fn executable_or_binary(path: &str, old: Option<&Entry>, new: &Entry, out: &mut Findings) {
    let kind = FindingKind::ExecutableOrBinary;
    if new.executable() && !old.is_some_and(Entry::executable) {
        let detail = match old {
            None => "new executable file".to_owned(),
            Some(old) => format!(
                "execute bit set: mode {} → {}",
                old.git_mode(),
                new.git_mode()
            ),
        };
        out.add(path, None, kind, detail);
    }
    match (old, new) {
        (
            Some(Entry::Binary {
                size: s0,
                sha256: h0,
                ..
            }),
            Entry::Binary { size, sha256, .. },
        ) => {
            if h0 != sha256 {
                let detail = format!(
                    "binary changed: {s0} → {size} bytes, sha256 {} → {}",
                    h0.hex(),
                    sha256.hex()
                );
                out.add(path, None, kind, detail);
            }
        }
        (_, Entry::Binary { size, sha256, .. }) => {
            let detail = format!("binary added: {size} bytes, sha256 {}", sha256.hex());
            out.add(path, None, kind, detail);
        }
        (Some(Entry::Symlink(t0)), Entry::Symlink(t1)) => {
            if t0 != t1 {
                out.add(
                    path,
                    None,
                    kind,
                    format!("symbolic link retargeted: {t0} → {t1}"),
                );
            }
        }
        (_, Entry::Symlink(target)) => {
            out.add(path, None, kind, format!("symbolic link added: → {target}"));
        }
        (_, Entry::Text { .. }) => {}
    }
}

/// A line trimmed and cut to [`QUOTE_CHARS`] characters.
fn quote(line: &str) -> String {
    let line = crate::diff::visible(line.trim()).into_owned();
    let line = line.as_str();
    match line.char_indices().nth(QUOTE_CHARS) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests;
