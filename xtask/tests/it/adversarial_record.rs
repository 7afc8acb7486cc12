//! The adversarial record cannot rot: every `adversarial_*` test in the
//! tree has a one-line expected outcome in
//! `crates/pinwheel-proof/adversarial.toml`, and every entry names a test. The
//! test prints the recorded cases per area (visible in `cargo test`
//! output); `cargo xtask adversarial-report` shows whether each held.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use pinwheel_proof::adversarial_report::{load_record, record, source_tests};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn record_names_every_adversarial_test() {
    let record = load_record(&root()).unwrap();
    let tests = source_tests(&root()).unwrap();
    let mismatch = record::compare(&record, &tests);
    assert!(mismatch.is_empty(), "{}", mismatch.explain());

    let mut per_area: BTreeMap<String, usize> = BTreeMap::new();
    for t in &tests {
        *per_area.entry(record.area(&t.file)).or_default() += 1;
    }
    let areas: Vec<String> = per_area.iter().map(|(a, n)| format!("{a} {n}")).collect();
    // Written past libtest's capture so that the test command shows it.
    let _ = writeln!(
        std::io::stderr(),
        "adversarial record: {} cases ({}); each is a test of this run, `cargo xtask adversarial-report` lists them",
        tests.len(),
        if areas.is_empty() { "none yet".to_owned() } else { areas.join(", ") }
    );
}

#[test]
fn the_scanner_sees_a_planted_test() {
    // Guards the check above against a scanner that finds nothing.
    let text = "#[test]\n#[ignore = \"slow\"]\nfn adversarial_planted() {}\n";
    let found = record::scan("tests/x.rs", text);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].key(), "tests/x.rs::adversarial_planted");
}
