//! `cargo xtask adversarial-report [--from-log FILE]`: runs every
//! `adversarial_*` test (`cargo test --workspace -- adversarial_`), or
//! reads the output of a test run already made, and prints each case
//! grouped by area with its expected outcome (from
//! `crates/pinwheel-proof/adversarial.toml`) and whether it held, then the
//! totals. Exits 1 when a case failed, did not run, or is not recorded.

pub mod record;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;

use self::record::{Outcome, Record, SourceTest};

/// Every `adversarial_*` test in the workspace's sources (`xtask/` and
/// `crates/*/`, `src/` and `tests/`), named by its path from the root.
pub fn source_tests(root: &Path) -> anyhow::Result<Vec<SourceTest>> {
    let mut packages = vec![root.join("xtask")];
    let crates = root.join("crates");
    if crates.is_dir() {
        for entry in fs_err::read_dir(&crates)? {
            packages.push(entry?.path());
        }
    }
    let mut files = Vec::new();
    for package in packages {
        for dir in ["src", "tests"] {
            rust_files(&package.join(dir), &mut files)?;
        }
    }
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .to_string_lossy()
            .into_owned();
        let text = fs_err::read_to_string(&file)?;
        out.extend(record::scan(&rel, &text));
    }
    Ok(out)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    for entry in fs_err::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// Reads the record.
pub fn load_record(root: &Path) -> anyhow::Result<Record> {
    let path = root.join(record::RECORD_PATH);
    Record::parse(&fs_err::read_to_string(&path)?)
}

/// The per-case lines and totals.
#[derive(Debug, Default)]
pub struct Report {
    pub text: String,
    pub held: usize,
    pub failed: usize,
    pub not_run: usize,
    pub unrecorded: usize,
}

impl Report {
    pub fn cases(&self) -> usize {
        self.held + self.failed + self.not_run
    }

    pub fn totals(&self) -> String {
        format!(
            "adversarial record: {} cases, {} held, {} failed, {} did not run, {} unrecorded",
            self.cases(),
            self.held,
            self.failed,
            self.not_run,
            self.unrecorded
        )
    }
}

/// Matches test results with the record and renders the grouped listing.
pub fn build_report(record: &Record, tests: &[SourceTest], output: &str) -> Report {
    let results = record::parse_results(output);
    let mut by_key: BTreeMap<String, Outcome> = BTreeMap::new();
    let mut unknown = Vec::new();
    for result in results.iter().filter(|r| {
        r.name
            .rsplit("::")
            .next()
            .is_some_and(|n| n.starts_with("adversarial_"))
    }) {
        match record::locate(result, tests) {
            // A test that ran twice (e.g. once per binary) counts by its worst outcome.
            Some(t) => {
                let slot = by_key.entry(t.key()).or_insert(result.outcome);
                *slot = (*slot).max(result.outcome);
            }
            None => unknown.push(format!("{} ({})", result.name, result.binary)),
        }
    }
    let mut report = Report::default();
    // Known areas in their order, then any other area by name.
    let mut groups: BTreeMap<(usize, String), Vec<String>> = BTreeMap::new();
    let mismatch = record::compare(record, tests);
    for test in tests {
        let key = test.key();
        let area = record.area(&test.file);
        let expected = record.cases.get(&key).cloned();
        let status = match by_key.get(&key) {
            Some(Outcome::Ok) => {
                report.held += 1;
                "held"
            }
            Some(Outcome::Failed) => {
                report.failed += 1;
                "FAILED"
            }
            Some(Outcome::Ignored) | None => {
                report.not_run += 1;
                "did not run"
            }
        };
        if expected.is_none() {
            report.unrecorded += 1;
        }
        let idx = record::AREAS
            .iter()
            .position(|a| *a == area)
            .unwrap_or(record::AREAS.len());
        groups.entry((idx, area.clone())).or_default().push(format!(
            "  {status:<11} {key}\n              expected: {}",
            expected.unwrap_or_else(|| "(not in the record)".to_owned())
        ));
    }
    let mut text = String::new();
    for ((_, area), lines) in &groups {
        let _ = writeln!(text, "{area} ({})", lines.len());
        for line in lines {
            let _ = writeln!(text, "{line}");
        }
        let _ = writeln!(text);
    }
    for name in &unknown {
        let _ = writeln!(
            text,
            "a test result matched no adversarial_* test in the source: {name}"
        );
    }
    if !mismatch.is_empty() {
        let _ = writeln!(text, "{}", mismatch.explain().trim_end());
    }
    report.text = text;
    report
}

/// `cargo xtask adversarial-report`.
/// Options of `cargo xtask adversarial-report`.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Read the output of a `cargo test` run instead of running the tests.
    #[arg(long, value_name = "FILE")]
    pub from_log: Option<PathBuf>,
}

/// `cargo xtask adversarial-report`: prints every case and its outcome;
/// fails when a case failed, did not run, or is not recorded.
pub fn run(root: &Path, options: &Options) -> anyhow::Result<()> {
    let record = load_record(root)?;
    let tests = source_tests(root)?;
    let output = match &options.from_log {
        Some(log) => fs_err::read_to_string(log)?,
        None => {
            eprintln!("adversarial-report: cargo test --workspace -- adversarial_");
            let out = duct::cmd!("cargo", "test", "--workspace", "--", "adversarial_")
                .dir(root)
                .stderr_to_stdout()
                .stdout_capture()
                .unchecked()
                .run()
                .context("running cargo test")?;
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    };
    let report = build_report(&record, &tests, &output);
    print!("{}", report.text);
    println!("{}", report.totals());
    if report.failed + report.not_run + report.unrecorded > 0
        || !record::compare(&record, &tests).is_empty()
    {
        return Err(pinwheel_trust::failure::verification_failed(
            report.totals(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_groups_and_counts() {
        let record = Record::parse(
            "[cases]\n\"xtask/tests/it/verify.rs::adversarial_sha1\" = \"refused: SHA-1 signature, exit 1\"\n\"crates/pinwheel-archive/src/unpack.rs::adversarial_dotdot\" = \"refused: ../ member\"\n\"xtask/tests/it/http.rs::adversarial_drip\" = \"aborted at the deadline\"\n",
        )
        .unwrap();
        let tests = vec![
            SourceTest {
                file: "crates/pinwheel-archive/src/unpack.rs".into(),
                name: "adversarial_dotdot".into(),
            },
            SourceTest {
                file: "xtask/tests/it/http.rs".into(),
                name: "adversarial_drip".into(),
            },
            SourceTest {
                file: "xtask/tests/it/verify.rs".into(),
                name: "adversarial_sha1".into(),
            },
            SourceTest {
                file: "xtask/tests/it/verify.rs".into(),
                name: "adversarial_new".into(),
            },
        ];
        let output = "     Running unittests src/lib.rs (target/debug/deps/pinwheel_archive-1)\ntest unpack::tests::adversarial_dotdot ... ok\n     Running tests/it/main.rs (target/debug/deps/it-2)\ntest verify::adversarial_sha1 ... FAILED\ntest verify::adversarial_new ... ok\n";
        let report = build_report(&record, &tests, output);
        assert_eq!(
            (
                report.held,
                report.failed,
                report.not_run,
                report.unrecorded
            ),
            (2, 1, 1, 1)
        );
        assert!(
            report.text.starts_with("signatures (2)\n"),
            "{}",
            report.text
        );
        assert!(report.text.contains("  FAILED      xtask/tests/it/verify.rs::adversarial_sha1\n              expected: refused: SHA-1 signature, exit 1"), "{}", report.text);
        assert!(
            report
                .text
                .contains("archives (1)\n  held        crates/pinwheel-archive/src/unpack.rs::adversarial_dotdot"),
            "{}",
            report.text
        );
        assert!(
            report
                .text
                .contains("did not run xtask/tests/it/http.rs::adversarial_drip"),
            "{}",
            report.text
        );
        assert!(
            report
                .text
                .contains("\"xtask/tests/it/verify.rs::adversarial_new\" = \"…\""),
            "{}",
            report.text
        );
        assert_eq!(
            report.totals(),
            "adversarial record: 4 cases, 2 held, 1 failed, 1 did not run, 1 unrecorded"
        );
    }
}
