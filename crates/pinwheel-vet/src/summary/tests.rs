//! Tests of the summary on in-memory trees: each finding beside the
//! change that must not produce it.

use super::*;
use crate::test_trees::{bin, exe, link, text, tree};
use crate::tree::empty;
use pinwheel_trust::hash::Sha256;

/// The findings as rendered lines, `KIND path:line: detail`.
fn found(from: &Tree, to: &Tree) -> Vec<String> {
    summarize(from, to)
        .findings
        .iter()
        .map(|f| {
            let line = f.line.map(|l| format!(":{l}")).unwrap_or_default();
            format!("{:?} {}{line}: {}", f.kind, f.path, f.detail)
        })
        .collect()
}

const SETUP: &str = "from setuptools import setup\n\nsetup(name='demo')\n";

#[test]
fn a_pth_file_is_flagged_and_conftest_is_not() {
    let from = tree([("setup.py", text(SETUP))]);
    let to = tree([
        ("setup.py", text(SETUP)),
        ("demo.pth", text("import demo_boot\n")),
        ("tests/conftest.py", text("import pytest\n")),
        ("demo/sitecustomize.py", text("x = 1\n")),
    ]);
    assert_eq!(
        found(&from, &to),
        [
            "RunsAtBuild demo.pth: a .pth file: site runs its import lines at start-up; added",
            "RunsAtBuild demo/sitecustomize.py: Python runs it at start-up; added",
        ]
    );
}

#[test]
fn subprocess_added_to_setup_py_is_flagged_twice() {
    let from = tree([("setup.py", text(SETUP))]);
    let to = tree([(
        "setup.py",
        text(&format!(
            "{SETUP}import subprocess; subprocess.call(['sh', 'x'])\n"
        )),
    )]);
    assert_eq!(
        found(&from, &to),
        [
            "RunsAtBuild setup.py: setuptools runs it at build time; changed, +1 −0 lines",
            "Line setup.py:4: subprocess: import subprocess; subprocess.call(['sh', 'x'])",
        ]
    );
    // A setup.py below the root is not the one setuptools runs.
    let nested = |t: &str| tree([("docs/setup.py", text(t))]);
    assert_eq!(
        found(
            &nested(SETUP),
            &nested(&format!("{SETUP}import subprocess\n"))
        ),
        ["Line docs/setup.py:4: subprocess: import subprocess"]
    );
}

#[test]
fn unchanged_suspicious_lines_are_not_flagged() {
    let code = "import subprocess\nx = eval(y)\nsubprocess.run(x)\n";
    let from = tree([("m.py", text(code))]);
    let to = tree([("m.py", text(&format!("{code}print('ok')\n")))]);
    assert_eq!(found(&from, &to), Vec::<String>::new());
    // A removed suspicious line is not flagged either.
    let to = tree([("m.py", text("import subprocess\nsubprocess.run(x)\n"))]);
    assert_eq!(found(&from, &to), Vec::<String>::new());
    // The same line added is.
    assert_eq!(
        found(&empty(), &from),
        [
            "Line m.py:1: subprocess: import subprocess",
            "Line m.py:2: eval(: x = eval(y)",
            "Line m.py:3: subprocess: subprocess.run(x)",
        ]
    );
}

fn pkg_info(requires: &[&str]) -> Entry {
    let mut t = "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n".to_owned();
    for r in requires {
        t.push_str(&format!("Requires-Dist: {r}\n"));
    }
    t.push_str("\nRequires-Dist: body-text-is-not-a-header\n");
    text(&t)
}

#[test]
fn requires_dist_added_removed_and_changed() {
    let from = tree([(
        "PKG-INFO",
        pkg_info(&["idna>=2.5", "six", "certifi; python_version<'3.8'"]),
    )]);
    let to = tree([(
        "PKG-INFO",
        pkg_info(&["Idna>=3", "certifi; python_version<'3.8'", "urllib3<3"]),
    )]);
    assert_eq!(
        found(&from, &to),
        [
            "Dependency PKG-INFO: Requires-Dist removed: six",
            "Dependency PKG-INFO:4: Requires-Dist changed: idna>=2.5 → Idna>=3",
            "Dependency PKG-INFO:6: Requires-Dist added: urllib3<3",
        ]
    );
    // Only the root PKG-INFO: egg-info's copy says the same again.
    let nested = |e| tree([("demo.egg-info/PKG-INFO", e)]);
    assert_eq!(
        found(&nested(pkg_info(&[])), &nested(pkg_info(&["evil"]))),
        Vec::<String>::new()
    );
}

#[test]
fn build_system_changes_show_old_and_new() {
    let from = tree([(
        "pyproject.toml",
        text("[build-system]\nrequires = [\"setuptools>=40\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\ndependencies = [\"a\", \"b>=1\"]\n"),
    )]);
    let to = tree([
        (
            "pyproject.toml",
            text("[build-system]\nrequires = [\"setuptools>=61\", \"wheel\"]\nbuild-backend = \"backend:api\"\nbackend-path = [\"_build\"]\n\n[project]\ndependencies = [\"b>=2\", \"c\"]\n"),
        ),
        ("_build/backend.py", text("def build_wheel(): pass\n")),
        ("_build/other.py", text("x = 1\n")),
    ]);
    assert_eq!(
        found(&from, &to),
        [
            "RunsAtBuild _build/backend.py: the in-tree build backend; added",
            "RunsAtBuild _build/other.py: under backend-path: the in-tree build backend can import it; added",
            "RunsAtBuild pyproject.toml: [build-system] backend-path: (none) → [\"_build\"]",
            "RunsAtBuild pyproject.toml: [build-system] build-backend: \"setuptools.build_meta\" → \"backend:api\"",
            "RunsAtBuild pyproject.toml: chooses the build backend and its requirements; changed, +4 −3 lines",
            "Dependency pyproject.toml: [build-system] requires: [\"setuptools>=40\"] → [\"setuptools>=61\", \"wheel\"]",
            "Dependency pyproject.toml: [project] dependencies added: c",
            "Dependency pyproject.toml: [project] dependencies changed: b>=1 → b>=2",
            "Dependency pyproject.toml: [project] dependencies removed: a",
        ]
    );
}

#[test]
fn build_hooks_and_native_build_files_are_flagged_where_their_tool_reads_them() {
    let to = tree([
        ("hatch_build.py", text("x = 1\n")),
        ("pdm_build.py", text("x = 1\n")),
        ("build.rs", text("fn main() {}\n")),
        ("Cargo.toml", text("[package]\n")),
        ("CMakeLists.txt", text("project(x)\n")),
        ("src/ext/CMakeLists.txt", text("add_library(x)\n")),
        ("meson.build", text("project('x')\n")),
        ("src/meson.build", text("py.install_sources()\n")),
        // Not read by a build tool where they are.
        ("pkg/hatch_build.py", text("x = 1\n")),
        ("tests/pdm_build.py", text("x = 1\n")),
        ("src/build.rs", text("fn main() {}\n")),
        ("crates/core/Cargo.toml", text("[package]\n")),
        ("cmake/CMakeLists.txt.in", text("project(x)\n")),
        ("docs/meson.build.md", text("x\n")),
    ]);
    assert_eq!(
        found(&empty(), &to),
        [
            "RunsAtBuild CMakeLists.txt: CMake runs it when scikit-build-core builds; added",
            "RunsAtBuild Cargo.toml: cargo reads it when maturin or setuptools-rust builds (build script, dependencies); added",
            "RunsAtBuild build.rs: cargo runs it when maturin or setuptools-rust builds; added",
            "RunsAtBuild hatch_build.py: hatchling runs it as a custom build hook; added",
            "RunsAtBuild meson.build: Meson runs it when meson-python builds; added",
            "RunsAtBuild pdm_build.py: pdm-backend runs it as a build hook; added",
            "RunsAtBuild src/ext/CMakeLists.txt: CMake runs it when scikit-build-core builds; added",
            "RunsAtBuild src/meson.build: Meson runs it when meson-python builds; added",
        ]
    );
}

#[test]
fn every_module_under_backend_path_is_flagged_and_nothing_outside_it() {
    let pyproject = text(
        "[build-system]\nrequires = []\nbuild-backend = \"backend\"\nbackend-path = [\"_build\", \"./tools/\"]\n",
    );
    let from = tree([("pyproject.toml", pyproject.clone())]);
    let to = tree([
        ("pyproject.toml", pyproject.clone()),
        ("_build/backend.py", text("import helper\n")),
        ("_build/helper.py", text("x = 1\n")),
        ("tools/deep/mod.py", text("x = 1\n")),
        ("_build/README.txt", text("x\n")),
        ("_buildx/helper.py", text("x = 1\n")),
        ("pkg/helper.py", text("x = 1\n")),
    ]);
    let under = "under backend-path: the in-tree build backend can import it; added";
    assert_eq!(
        found(&from, &to),
        [
            "RunsAtBuild _build/backend.py: the in-tree build backend; added".to_owned(),
            format!("RunsAtBuild _build/helper.py: {under}"),
            format!("RunsAtBuild tools/deep/mod.py: {under}"),
        ]
    );
    // Without backend-path, the backend is installed, not in the tree.
    let plain = text("[build-system]\nrequires = []\nbuild-backend = \"backend\"\n");
    let to = tree([
        ("pyproject.toml", plain.clone()),
        ("_build/helper.py", text("x = 1\n")),
        ("backend.py", text("x = 1\n")),
    ]);
    assert_eq!(
        found(&tree([("pyproject.toml", plain)]), &to),
        Vec::<String>::new()
    );
}

#[test]
fn a_malformed_pyproject_is_a_finding() {
    let to = tree([("pyproject.toml", text("[build-system\nrequires = 1\n"))]);
    let got = found(&empty(), &to);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].starts_with("RunsAtBuild pyproject.toml: chooses the build backend"));
    assert!(
        got[1].starts_with("RunsAtBuild pyproject.toml: not valid TOML: "),
        "{got:?}"
    );
    assert!(!got[1].contains('\n'));
    // Valid TOML with no [build-system]: only the file itself.
    let to = tree([("pyproject.toml", text("[tool.x]\ny = 1\n"))]);
    assert_eq!(found(&empty(), &to).len(), 1);
}

#[test]
fn setup_requirement_lines() {
    let cfg_old =
        "[metadata]\nname = demo\n\n[options]\ninstall_requires =\n    idna\nzip_safe = False\n";
    let cfg_new = "[metadata]\nname = demo\n\n[options]\ninstall_requires =\n    idna\n    evil>=1\nzip_safe = True\n";
    let from = tree([("setup.cfg", text(cfg_old)), ("setup.py", text(SETUP))]);
    let to = tree([
        ("setup.cfg", text(cfg_new)),
        (
            "setup.py",
            text(&SETUP.replace("name='demo'", "name='demo', setup_requires=['x']")),
        ),
    ]);
    let got = found(&from, &to);
    assert!(
        got.contains(&"Dependency setup.cfg:7: setup requirement line added: evil>=1".into()),
        "{got:?}"
    );
    assert!(got.contains(&"Dependency setup.py:3: setup requirement line added: setup(name='demo', setup_requires=['x'])".into()), "{got:?}");
    // `zip_safe = True` is an added line too, outside install_requires.
    assert!(!got.iter().any(|f| f.contains("zip_safe")), "{got:?}");
}

#[test]
fn executables_binaries_and_links() {
    let from = tree([
        ("tool.sh", text("#!/bin/sh\n")),
        ("lib.so", bin(b"\x7fELF\0old")),
        ("same.so", bin(b"\0same")),
        ("current", link("v1")),
        ("exe_already", exe("x\n")),
    ]);
    let to = tree([
        ("tool.sh", exe("#!/bin/sh\n")),
        ("lib.so", bin(b"\x7fELF\0new!")),
        ("same.so", bin(b"\0same")),
        ("current", link("v2")),
        ("exe_already", exe("y\n")),
        ("new.bin", bin(b"\0\x01\x02")),
        ("new_link", link("tool.sh")),
        ("run", exe("echo\n")),
    ]);
    assert_eq!(
        found(&from, &to),
        [
            "ExecutableOrBinary current: symbolic link retargeted: v1 → v2".to_owned(),
            format!(
                "ExecutableOrBinary lib.so: binary changed: 8 → 9 bytes, sha256 {} → {}",
                Sha256::of(b"\x7fELF\0old").hex(),
                Sha256::of(b"\x7fELF\0new!").hex()
            ),
            format!(
                "ExecutableOrBinary new.bin: binary added: 3 bytes, sha256 {}",
                Sha256::of(b"\0\x01\x02").hex()
            ),
            "ExecutableOrBinary new_link: symbolic link added: → tool.sh".to_owned(),
            "ExecutableOrBinary run: new executable file".to_owned(),
            "ExecutableOrBinary tool.sh: execute bit set: mode 100644 → 100755".to_owned(),
        ]
    );
}

#[test]
fn deleted_files_are_not_findings() {
    let from = tree([
        ("setup.py", text("import subprocess\n")),
        ("x.pth", text("import y\n")),
        ("blob", bin(b"\0")),
        ("run", exe("x\n")),
    ]);
    assert_eq!(found(&from, &empty()), Vec::<String>::new());
}

#[test]
fn long_lines_and_blobs_in_added_files() {
    let blob = "QUJD0123".repeat(40);
    let to = tree([(
        "pkg/data.py",
        text(&format!("X = '{blob}'\nY = '{}'\n", "word ".repeat(110))),
    )]);
    let got = found(&empty(), &to);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[0].starts_with("Line pkg/data.py:1: base64/hex-like run of 320 characters: X = 'QUJD")
    );
    assert!(got[1].starts_with("Line pkg/data.py:2: very long line (556 characters): Y = 'word"));
}

#[test]
fn rendered_in_fixed_groups_with_a_cap() {
    assert_eq!(
        render_summary(&summarize(&empty(), &empty())),
        "Runs at build or install time\n  nothing flagged\nDependencies\n  nothing flagged\n\
         Executables and binary files\n  nothing flagged\nLines not to miss\n  nothing flagged\n"
    );
    let calls: String = (0..35).map(|i| format!("os.system('{i}')\n")).collect();
    let to = tree([
        ("setup.py", text("eval(x)\n")),
        ("pkg/m.py", text(&calls)),
        ("run", exe("\n")),
    ]);
    let got = render_summary(&summarize(&empty(), &to));
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(
        lines[..6],
        [
            "Runs at build or install time",
            "  setup.py: setuptools runs it at build time; added",
            "Dependencies",
            "  nothing flagged",
            "Executables and binary files",
            "  run: new executable file",
        ]
    );
    assert_eq!(lines[6], "Lines not to miss");
    assert_eq!(lines[7], "  pkg/m.py:1: os.system: os.system('0')");
    assert_eq!(lines[8], "  pkg/m.py:2: os.system: os.system('1')");
    // 36 findings: 30 shown, sorted by path then line number.
    assert_eq!(lines[36], "  pkg/m.py:30: os.system: os.system('29')");
    assert_eq!(lines[37], "  … and 6 more");
    assert_eq!(lines.len(), 38);
}

#[test]
fn control_and_bidi_characters_are_flagged_and_quoted_escaped() {
    let to = tree([(
        "demo/x.py",
        text("a = 1  # \x1b[8mhidden\nb = '\u{202e}'\n"),
    )]);
    assert_eq!(
        found(&empty(), &to),
        [
            "Line demo/x.py:1: control or bidirectional character: a = 1  # \\x1b[8mhidden",
            "Line demo/x.py:2: control or bidirectional character: b = '\\u{202e}'",
        ]
    );
}

#[test]
fn a_base64_block_is_reported_once_at_its_first_added_line() {
    let b64 = "aGVsbG8gd29ybGQ0".repeat(4);
    let body: String = (0..10).map(|_| format!("{b64}\n")).collect();
    let from = tree([("pkg/blob.py", text("X = '''\n'''\n"))]);
    let to = tree([("pkg/blob.py", text(&format!("X = '''\n{body}'''\n")))]);
    assert_eq!(
        found(&from, &to),
        [format!(
            "Line pkg/blob.py:2: base64-like block of 10 lines, 640 characters: {b64}"
        )]
    );
    // The same lines already there: nothing added, nothing flagged.
    assert_eq!(found(&to, &to), Vec::<String>::new());
}

#[test]
fn python_source_that_is_not_utf8_is_flagged_and_scanned_as_latin1() {
    let sha = |b: &[u8]| Sha256::of(b).hex();
    let setup: &[u8] = b"# caf\xe9\nimport os; os.system('x')\n";
    let module: &[u8] = b"# caf\xe9\n\xabexec (payload)\n";
    let nul: &[u8] = b"x = 1\0\n";
    let to = tree([
        ("setup.py", bin(setup)),
        ("pkg/m.py", bin(module)),
        ("pkg/n.pyx", bin(nul)),
        // Not Python source: binaries as before, nothing more.
        ("pkg/data.txt", bin(b"os.system(\xe9)\n")),
    ]);
    let not_utf8 = "Python source that is not UTF-8: shown as binary; \
                    its added lines are scanned decoded as Latin-1; read it decoded";
    assert_eq!(
        found(&empty(), &to),
        [
            format!("RunsAtBuild setup.py: {not_utf8}"),
            "RunsAtBuild setup.py: setuptools runs it at build time; added".to_owned(),
            format!(
                "ExecutableOrBinary pkg/data.txt: binary added: 13 bytes, sha256 {}",
                sha(b"os.system(\xe9)\n")
            ),
            format!(
                "ExecutableOrBinary pkg/m.py: binary added: 23 bytes, sha256 {}",
                sha(module)
            ),
            format!(
                "ExecutableOrBinary pkg/n.pyx: binary added: 7 bytes, sha256 {}",
                sha(nul)
            ),
            format!(
                "ExecutableOrBinary setup.py: binary added: 33 bytes, sha256 {}",
                sha(setup)
            ),
            format!("Line pkg/m.py: {not_utf8}"),
            "Line pkg/m.py:2: decoded as Latin-1: exec(: «exec (payload)".to_owned(),
            "Line pkg/n.pyx: Python source that is not UTF-8 (it holds a NUL byte): \
             shown as binary, not scanned; read it decoded"
                .to_owned(),
            "Line setup.py:2: decoded as Latin-1: os.system: import os; os.system('x')".to_owned(),
        ]
    );
    // Only added lines are scanned: a line already there is not flagged.
    let from = tree([("pkg/m.py", bin(module))]);
    let grown = [module, b"print(1)\n"].concat();
    let to = tree([("pkg/m.py", bin(&grown))]);
    let got = found(&from, &to);
    assert!(
        got.contains(&format!("Line pkg/m.py: {not_utf8}")),
        "{got:?}"
    );
    assert!(!got.iter().any(|f| f.contains("exec")), "{got:?}");
}

#[test]
fn tests_docs_and_examples_come_after_installed_files() {
    let call = text("os.system('x')\n");
    let to = tree([
        ("benchmarks/b.py", call.clone()),
        ("docs/conf.py", call.clone()),
        ("examples/e.py", call.clone()),
        ("pkg/conftest.py", call.clone()),
        ("pkg/test_m.py", call.clone()),
        ("pkg/m_test.py", call.clone()),
        ("test/t.py", call.clone()),
        ("testing/t.py", call.clone()),
        ("tests/sitecustomize.py", call.clone()),
        ("tests/t.py", call.clone()),
        // Installed: a package named like a test directory, nested docs,
        // a module that only starts with "test".
        ("docs.py", call.clone()),
        ("pkg/docs/d.py", call.clone()),
        ("pkg/testing.py", call.clone()),
        ("zz/m.py", call.clone()),
    ]);
    let paths: Vec<String> = summarize(&empty(), &to)
        .of(FindingKind::Line)
        .map(|f| f.path.clone())
        .collect();
    assert_eq!(
        paths,
        [
            "docs.py",
            "pkg/docs/d.py",
            "pkg/testing.py",
            "tests/sitecustomize.py",
            "zz/m.py",
            "benchmarks/b.py",
            "docs/conf.py",
            "examples/e.py",
            "pkg/conftest.py",
            "pkg/m_test.py",
            "pkg/test_m.py",
            "test/t.py",
            "testing/t.py",
            "tests/t.py",
        ]
    );
    // Past the cap, the installed file's finding is still shown.
    let mut noise: Vec<(String, Entry)> = (0..40)
        .map(|i| (format!("tests/t{i:02}.py"), call.clone()))
        .collect();
    noise.push(("zz/m.py".to_owned(), call.clone()));
    let to = Tree {
        files: noise.into_iter().collect(),
    };
    let got = render_summary(&summarize(&empty(), &to));
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines[7], "  zz/m.py:1: os.system: os.system('x')", "{got}");
    assert_eq!(lines[37], "  … and 11 more");
}
