//! The adversarial record, pure: the expected outcome of every
//! `adversarial_*` test (from `crates/pinwheel-proof/adversarial.toml`), the
//! tests found in the source tree, the results parsed from libtest's
//! output, and the area of each case (signatures, archives, HTTP,
//! filesystem, lockfiles) derived from its file.

use std::collections::BTreeMap;

use anyhow::Context;
use serde::Deserialize;

/// Where the record lives, relative to the repository root.
pub const RECORD_PATH: &str = "crates/pinwheel-proof/adversarial.toml";

/// The data file: `[cases]` maps "FILE::FN" (FILE relative to `xtask/`)
/// to a one-line expected outcome; `[areas]` optionally maps a file or
/// directory prefix to an area when the default derivation is wrong.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    #[serde(default)]
    pub cases: BTreeMap<String, String>,
    #[serde(default)]
    pub areas: BTreeMap<String, String>,
}

impl Record {
    pub fn parse(text: &str) -> anyhow::Result<Record> {
        toml::from_str(text).with_context(|| format!("{RECORD_PATH}: not a valid record"))
    }

    /// The area of a test file: the longest `[areas]` prefix, else a
    /// keyword of the path.
    pub fn area(&self, file: &str) -> String {
        self.areas
            .iter()
            .filter(|(prefix, _)| file.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, area)| area.clone())
            .unwrap_or_else(|| default_area(file).to_owned())
    }
}

/// The areas in report order.
pub const AREAS: [&str; 6] = [
    "signatures",
    "archives",
    "HTTP",
    "filesystem",
    "lockfiles",
    "other",
];

/// Area by keyword of the file path, first match wins.
pub fn default_area(file: &str) -> &'static str {
    const KEYWORDS: [(&str, &[&str]); 5] = [
        (
            "lockfiles",
            &[
                "lockfile",
                "requirements",
                "update_deps",
                "closure",
                "markers",
                "config",
                "poetry",
                "pylock",
                "uv",
            ],
        ),
        (
            "signatures",
            &[
                "signature",
                "verify",
                "sign",
                "trust",
                "pgp",
                "keys",
                "sha256sums",
            ],
        ),
        (
            "HTTP",
            &[
                "http",
                "fetch",
                "loopback",
                "sync",
                "simple_index",
                "online",
                "net",
            ],
        ),
        (
            "archives",
            &[
                "archive",
                "wheel",
                "sdist",
                "tar",
                "zip",
                "build_wheels",
                "unpack",
            ],
        ),
        (
            "filesystem",
            &[
                "fresh",
                "fs",
                "symlink",
                "lock",
                "deb",
                "reproducible",
                "fault",
            ],
        ),
    ];
    let lower = file.to_ascii_lowercase();
    // Only the part inside the package: every crate's name holds "wheel".
    let inner = ["/src/", "/tests/"]
        .iter()
        .filter_map(|d| lower.rfind(d).map(|i| &lower[i + 1..]))
        .min_by_key(|s| s.len())
        .unwrap_or(&lower);
    let stem = inner.trim_end_matches(".rs");
    KEYWORDS
        .iter()
        .find(|(_, words)| words.iter().any(|w| stem.contains(w)))
        .map_or("other", |(area, _)| area)
}

/// An `adversarial_*` test found in the source: file relative to the
/// repository root, and function name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SourceTest {
    pub file: String,
    pub name: String,
}

impl SourceTest {
    pub fn key(&self) -> String {
        format!("{}::{}", self.file, self.name)
    }

    /// Where libtest runs this test: the test binary's source as cargo
    /// announces it ("src/lib.rs", "tests/it/main.rs", "tests/x.rs"), the
    /// package directory, and the module path inside that binary
    /// (`crates/pinwheel-pypa/src/lockfile/poetry.rs` → "src/lib.rs",
    /// `lockfile::poetry`; `xtask/tests/it/slow/build_deb.rs` →
    /// "tests/it/main.rs", `slow::build_deb`).
    fn place(&self) -> Option<(String, &str, String)> {
        let (package, binary, rest) = if let Some(i) = self.file.find("/src/") {
            (
                &self.file[..i],
                "src/lib.rs".to_owned(),
                &self.file[i + 5..],
            )
        } else {
            let i = self.file.find("/tests/")?;
            let inner = &self.file[i + 7..];
            match inner.split_once('/') {
                Some((dir, rest)) => (&self.file[..i], format!("tests/{dir}/main.rs"), rest),
                None => (&self.file[..i], format!("tests/{inner}"), "main.rs"),
            }
        };
        let rest = rest.trim_end_matches(".rs");
        let module = if rest == "lib" || rest == "main" {
            String::new()
        } else {
            rest.replace('/', "::")
        };
        Some((binary, package, module))
    }
}

/// The package directory of a crate name as cargo prints it in a test
/// binary's file name: `xtask` → "xtask", `pinwheel_pypa` → "crates/pinwheel-pypa".
fn package_dir(crate_name: &str) -> String {
    if crate_name.starts_with("pinwheel_") {
        format!("crates/{}", crate_name.replace('_', "-"))
    } else {
        crate_name.to_owned()
    }
}

/// Finds `#[test] fn adversarial_*` in one file's text.
pub fn scan(file: &str, text: &str) -> Vec<SourceTest> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(pos) = line.find("fn adversarial_") else {
            continue;
        };
        let name: String = line[pos + 3..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        // The attributes and comments directly above the function.
        let attributed = lines[..i]
            .iter()
            .rev()
            .map(|l| l.trim())
            .take_while(|l| l.starts_with("#[") || l.starts_with("//"))
            .any(|l| l.starts_with("#[") && l.contains("test"));
        if attributed {
            out.push(SourceTest {
                file: file.to_owned(),
                name,
            });
        }
    }
    out
}

/// One `test NAME ... RESULT` line of libtest's output, with the test
/// binary that cargo announced before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResult {
    /// The binary's source: "src/lib.rs", "tests/it/main.rs", …
    pub binary: String,
    /// The crate the binary was built from ("pinwheel_trust", "it"), from
    /// its file name in `target/…/deps/`.
    pub crate_name: String,
    /// The full test name, e.g. "signature::tests::adversarial_sha1".
    pub name: String,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Ok,
    Failed,
    Ignored,
}

/// Parses `cargo test` output.
pub fn parse_results(output: &str) -> Vec<TestResult> {
    let mut binary = String::new();
    let mut crate_name = String::new();
    let mut out = Vec::new();
    for line in output.lines() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("Running ") {
            // "Running unittests src/lib.rs (target/debug/deps/xtask-1a2b)"
            let rest = rest.strip_prefix("unittests ").unwrap_or(rest);
            let (source, file) = rest.split_once(" (").unwrap_or((rest, ""));
            binary = source.to_owned();
            let file = file.trim_end_matches(')');
            let stem = file.rsplit('/').next().unwrap_or(file);
            crate_name = stem
                .rsplit_once('-')
                .map_or(stem, |(name, _)| name)
                .to_owned();
            continue;
        }
        if trimmed.starts_with("Doc-tests ") {
            binary = "doctests".to_owned();
            continue;
        }
        let Some(rest) = trimmed.strip_prefix("test ") else {
            continue;
        };
        let Some((name, result)) = rest.rsplit_once(" ... ") else {
            continue;
        };
        let outcome = match result.split(|c: char| c.is_whitespace() || c == ',').next() {
            Some("ok") => Outcome::Ok,
            Some("FAILED") => Outcome::Failed,
            Some("ignored") => Outcome::Ignored,
            _ => continue,
        };
        out.push(TestResult {
            binary: binary.clone(),
            crate_name: crate_name.clone(),
            name: name.trim().to_owned(),
            outcome,
        });
    }
    out
}

/// The source test a result belongs to, if any: same function name, same
/// test binary (and for unit tests the same package), and the longest
/// module path that prefixes the result's name.
pub fn locate<'a>(result: &TestResult, tests: &'a [SourceTest]) -> Option<&'a SourceTest> {
    let fn_name = result.name.rsplit("::").next()?;
    let unit_package = result
        .binary
        .starts_with("src/")
        .then(|| package_dir(&result.crate_name));
    tests
        .iter()
        .filter(|t| t.name == fn_name)
        .filter_map(|t| t.place().map(|place| (t, place)))
        .filter(|(_, (binary, package, module))| {
            *binary == result.binary
                && unit_package.as_deref().is_none_or(|p| p == *package)
                && (module.is_empty() || result.name.starts_with(&format!("{module}::")))
        })
        .max_by_key(|(_, (_, _, module))| module.len())
        .map(|(t, _)| t)
}

/// How the record and the tree disagree.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Tests with no entry in the record.
    pub unrecorded: Vec<SourceTest>,
    /// Entries naming no test.
    pub stale: Vec<String>,
    /// Entries whose expected outcome is empty or spans lines.
    pub malformed: Vec<String>,
}

impl Mismatch {
    pub fn is_empty(&self) -> bool {
        self.unrecorded.is_empty() && self.stale.is_empty() && self.malformed.is_empty()
    }

    /// A message a contributor can act on: the lines to add and the keys to remove.
    pub fn explain(&self) -> String {
        let mut out = format!("{RECORD_PATH} is out of date with the adversarial_* tests:\n");
        if !self.unrecorded.is_empty() {
            out.push_str("add under [cases] (one line each: what the test feeds in and the expected refusal):\n");
            for t in &self.unrecorded {
                out.push_str(&format!("\"{}\" = \"…\"\n", t.key()));
            }
        }
        for key in &self.stale {
            out.push_str(&format!("remove \"{key}\" (no such test)\n"));
        }
        for key in &self.malformed {
            out.push_str(&format!(
                "\"{key}\": the expected outcome must be one non-empty line\n"
            ));
        }
        out
    }
}

/// Compares the record with the tests found in the tree.
pub fn compare(record: &Record, tests: &[SourceTest]) -> Mismatch {
    let keys: std::collections::BTreeSet<String> = tests.iter().map(SourceTest::key).collect();
    Mismatch {
        unrecorded: tests
            .iter()
            .filter(|t| !record.cases.contains_key(&t.key()))
            .cloned()
            .collect(),
        stale: record
            .cases
            .keys()
            .filter(|k| !keys.contains(*k))
            .cloned()
            .collect(),
        malformed: record
            .cases
            .iter()
            .filter(|(_, v)| v.trim().is_empty() || v.contains('\n'))
            .map(|(k, _)| k.clone())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_only_test_functions() {
        let text = "#[test]\nfn adversarial_bad_hash() {}\n\nfn adversarial_helper() {}\n#[test]\n#[ignore]\nfn adversarial_slow() {}\n";
        let found = scan("tests/verify.rs", text);
        let names: Vec<&str> = found.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["adversarial_bad_hash", "adversarial_slow"]);
    }

    #[test]
    fn parses_cargo_test_output() {
        let out = "   Compiling xtask\n     Running unittests src/lib.rs (target/debug/deps/pinwheel_pypa-1a2b)\n\nrunning 2 tests\ntest lockfile::poetry::tests::adversarial_unknown_version ... ok\ntest hash::tests::known ... ok\n     Running tests/it/main.rs (target/debug/deps/it-2c3d)\ntest trust::adversarial_sha1 ... FAILED\ntest slow::build_deb::adversarial_slow ... ignored, needs network\n   Doc-tests xtask\n";
        let results = parse_results(out);
        assert_eq!(results.len(), 4);
        assert_eq!(results[0].binary, "src/lib.rs");
        assert_eq!(results[0].crate_name, "pinwheel_pypa");
        assert_eq!(
            results[2],
            TestResult {
                binary: "tests/it/main.rs".into(),
                crate_name: "it".into(),
                name: "trust::adversarial_sha1".into(),
                outcome: Outcome::Failed
            }
        );
        assert_eq!(results[3].outcome, Outcome::Ignored);
    }

    #[test]
    fn locates_unit_and_integration_tests() {
        let test = |file: &str| SourceTest {
            file: file.into(),
            name: "adversarial_x".into(),
        };
        let tests = vec![
            test("crates/pinwheel-pypa/src/lockfile/poetry.rs"),
            test("crates/pinwheel-pypa/src/lockfile/uv.rs"),
            test("xtask/src/lockfile/uv.rs"),
            test("xtask/tests/it/slow/http.rs"),
            test("xtask/tests/lone.rs"),
        ];
        let r = |binary: &str, crate_name: &str, name: &str| TestResult {
            binary: binary.into(),
            crate_name: crate_name.into(),
            name: name.into(),
            outcome: Outcome::Ok,
        };
        let uv = "lockfile::uv::tests::adversarial_x";
        assert_eq!(
            locate(&r("src/lib.rs", "pinwheel_pypa", uv), &tests),
            Some(&tests[1])
        );
        assert_eq!(
            locate(&r("src/lib.rs", "xtask", uv), &tests),
            Some(&tests[2])
        );
        assert_eq!(
            locate(
                &r("tests/it/main.rs", "it", "slow::http::adversarial_x"),
                &tests
            ),
            Some(&tests[3])
        );
        assert_eq!(
            locate(&r("tests/lone.rs", "lone", "adversarial_x"), &tests),
            Some(&tests[4])
        );
        assert_eq!(
            locate(&r("tests/it/main.rs", "it", "http::adversarial_x"), &tests),
            None
        );
        assert_eq!(
            locate(&r("tests/other.rs", "other", "adversarial_x"), &tests),
            None
        );
    }

    #[test]
    fn areas_by_keyword_and_override() {
        assert_eq!(default_area("xtask/tests/it/verify.rs"), "signatures");
        assert_eq!(
            default_area("crates/pinwheel-pypa/src/lockfile/poetry.rs"),
            "lockfiles"
        );
        assert_eq!(
            default_area("crates/pinwheel-archive/src/unpack.rs"),
            "archives"
        );
        assert_eq!(default_area("xtask/tests/it/http.rs"), "HTTP");
        assert_eq!(default_area("xtask/src/fresh.rs"), "filesystem");
        assert_eq!(
            default_area("crates/pinwheel-pypa/src/core_metadata.rs"),
            "other"
        );
        let record = Record::parse("[areas]\n\"tests/build_deb.rs\" = \"archives\"\n").unwrap();
        assert_eq!(record.area("tests/build_deb.rs"), "archives");
        assert_eq!(record.area("tests/verify.rs"), "signatures");
    }

    #[test]
    fn compare_names_what_to_fix() {
        let record = Record::parse("[cases]\n\"tests/a.rs::adversarial_gone\" = \"refused\"\n\"tests/a.rs::adversarial_kept\" = \" \"\n").unwrap();
        let tests = vec![
            SourceTest {
                file: "tests/a.rs".into(),
                name: "adversarial_kept".into(),
            },
            SourceTest {
                file: "tests/a.rs".into(),
                name: "adversarial_new".into(),
            },
        ];
        let m = compare(&record, &tests);
        assert_eq!(m.unrecorded, [tests[1].clone()]);
        assert_eq!(m.stale, ["tests/a.rs::adversarial_gone"]);
        assert_eq!(m.malformed, ["tests/a.rs::adversarial_kept"]);
        let text = m.explain();
        assert!(
            text.contains("\"tests/a.rs::adversarial_new\" = \"…\""),
            "{text}"
        );
        assert!(Record::parse("[cases]\nx = 1\n").is_err());
        assert!(Record::parse("[other]\n").is_err());
    }
}
