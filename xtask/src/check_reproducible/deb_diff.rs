//! What differs between two builds of the same package: the `ar` members,
//! then every entry of `control.tar` and `data.tar` (path, type, mode,
//! owner, mtime, size, sha256), with a unified diff (similar) of each text
//! file that differs. And the `.buildinfo`/`.changes` comparison: those
//! files record the build itself (its date and environment), so they are
//! compared with exactly those fields set aside, and the fields that differ
//! are named. Pure.

use std::collections::BTreeMap;
use std::fmt::Write;

use pinwheel_archive::deb::{Deb, Kind, TarEntry};

/// Largest text file we diff line by line.
const MAX_TEXT_DIFF: usize = 1 << 20;

/// A human-readable report of how two `.deb`s differ; empty when their
/// contents are the same (the caller has already seen their bytes differ).
pub fn deb_report(a: &Deb, b: &Deb) -> String {
    let mut out = String::new();
    if a.members != b.members {
        let _ = writeln!(out, "  ar members (name, mtime, uid, gid, mode, sha256):");
        for (m, side) in a
            .members
            .iter()
            .map(|m| (m, "a"))
            .chain(b.members.iter().map(|m| (m, "b")))
        {
            let _ = writeln!(
                out,
                "    {side}: {} {} {} {} {:o} {}",
                m.0, m.1, m.2, m.3, m.4, m.5
            );
        }
    }
    out.push_str(&tar_report("control.tar", &a.control, &b.control));
    out.push_str(&tar_report("data.tar", &a.data, &b.data));
    out
}

fn describe(e: &TarEntry) -> String {
    let kind = match &e.kind {
        Kind::File => "file".to_owned(),
        Kind::Dir => "dir".to_owned(),
        Kind::Symlink(t) => format!("symlink -> {t}"),
        Kind::Hardlink(t) => format!("hardlink -> {t}"),
        Kind::Other(c) => format!("type {c}"),
    };
    format!(
        "{kind} mode {:04o} owner {}/{} ({}:{}) mtime {} size {} sha256 {}",
        e.mode, e.owner, e.group, e.uid, e.gid, e.mtime, e.size, e.sha256
    )
}

fn same(a: &TarEntry, b: &TarEntry) -> bool {
    (
        &a.kind, a.mode, a.uid, a.gid, &a.owner, &a.group, a.mtime, a.sha256,
    ) == (
        &b.kind, b.mode, b.uid, b.gid, &b.owner, &b.group, b.mtime, b.sha256,
    )
}

/// The entries of one tar member that differ, with text diffs.
pub fn tar_report(label: &str, a: &[TarEntry], b: &[TarEntry]) -> String {
    let map_a: BTreeMap<&str, &TarEntry> = a.iter().map(|e| (e.path.as_str(), e)).collect();
    let map_b: BTreeMap<&str, &TarEntry> = b.iter().map(|e| (e.path.as_str(), e)).collect();
    let mut out = String::new();
    let mut paths: Vec<&str> = map_a.keys().chain(map_b.keys()).copied().collect();
    paths.sort_unstable();
    paths.dedup();
    for path in paths {
        match (map_a.get(path), map_b.get(path)) {
            (Some(x), Some(y)) if same(x, y) => {}
            (Some(x), Some(y)) => {
                let _ = writeln!(
                    out,
                    "  {label}: {path}\n    a: {}\n    b: {}",
                    describe(x),
                    describe(y)
                );
                if x.sha256 != y.sha256 {
                    out.push_str(&text_diff(path, &x.data, &y.data));
                }
            }
            (Some(x), None) => {
                let _ = writeln!(out, "  {label}: {path} only in a: {}", describe(x));
            }
            (None, Some(y)) => {
                let _ = writeln!(out, "  {label}: {path} only in b: {}", describe(y));
            }
            (None, None) => {}
        }
    }
    let order_a: Vec<&str> = a.iter().map(|e| e.path.as_str()).collect();
    let order_b: Vec<&str> = b.iter().map(|e| e.path.as_str()).collect();
    if out.is_empty() && order_a != order_b {
        let _ = writeln!(out, "  {label}: same entries in a different order");
    }
    out
}

/// A unified diff of two files when both are UTF-8 text of modest size.
pub fn text_diff(label: &str, a: &[u8], b: &[u8]) -> String {
    match (std::str::from_utf8(a), std::str::from_utf8(b)) {
        (Ok(x), Ok(y)) if a.len() <= MAX_TEXT_DIFF && b.len() <= MAX_TEXT_DIFF => {
            let diff = crate::fresh::unified_diff(x, y, label.trim_start_matches("./"));
            diff.lines().map(|l| format!("      {l}\n")).collect()
        }
        _ => "      (binary or large file: use diffoscope for a detailed comparison)\n".to_owned(),
    }
}

/// Fields of a .buildinfo that record the build rather than its result.
pub const BUILD_RECORD_FIELDS: &[&str] = &["Build-Date", "Build-Path", "Environment"];

/// A deb822 file with `fields` (and their continuation lines) removed, and
/// the names of the removed fields.
pub fn without_fields(text: &str, fields: &[&str]) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if !skipping {
                out.push_str(line);
                out.push('\n');
            }
            continue;
        }
        let name = line.split(':').next().unwrap_or_default();
        skipping = fields.iter().any(|f| f.eq_ignore_ascii_case(name));
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The value (with continuation lines) of each of `fields` in a deb822 text.
pub fn field_values(text: &str, fields: &[&str]) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(name) = &current {
                let value = out.entry(name.clone()).or_default();
                value.push('\n');
                value.push_str(line.trim());
            }
            continue;
        }
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        current = fields
            .iter()
            .find(|f| f.eq_ignore_ascii_case(name))
            .map(|f| (*f).to_owned());
        if let Some(name) = &current {
            out.insert(name.clone(), value.trim().to_owned());
        }
    }
    out
}

/// A .changes with the lines about `buildinfo` (its checksums) removed:
/// they change whenever the .buildinfo's recorded date does.
pub fn changes_without_buildinfo(text: &str, buildinfo: &str) -> String {
    text.lines()
        .filter(|l| !(l.starts_with(' ') && l.ends_with(buildinfo)))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pinwheel_trust::hash::Sha256;

    fn entry(path: &str, data: &[u8], mode: u32) -> TarEntry {
        TarEntry {
            path: path.to_owned(),
            kind: Kind::File,
            mode,
            uid: 0,
            gid: 0,
            owner: "root".into(),
            group: "root".into(),
            mtime: 1,
            size: data.len() as u64,
            sha256: Sha256::of(data),
            data: data.to_vec(),
        }
    }

    #[test]
    fn reports_changed_files_with_a_diff() {
        let a = vec![
            entry("./usr/bin/x", b"one\ntwo\n", 0o755),
            entry("./same", b"s", 0o644),
        ];
        let b = vec![
            entry("./usr/bin/x", b"one\nTWO\n", 0o755),
            entry("./same", b"s", 0o644),
            entry("./new", b"n", 0o600),
        ];
        let report = tar_report("data.tar", &a, &b);
        assert!(report.contains("data.tar: ./usr/bin/x\n"), "{report}");
        assert!(
            report.contains("-two") && report.contains("+TWO"),
            "{report}"
        );
        assert!(
            report.contains("./new only in b: file mode 0600"),
            "{report}"
        );
        assert!(!report.contains("./same"), "{report}");
    }

    #[test]
    fn reports_mode_and_order() {
        let a = vec![entry("./a", b"x", 0o644), entry("./b", b"y", 0o644)];
        let b = vec![entry("./a", b"x", 0o664), entry("./b", b"y", 0o644)];
        let report = tar_report("data.tar", &a, &b);
        assert!(
            report.contains("mode 0644") && report.contains("mode 0664"),
            "{report}"
        );
        assert!(
            !report.contains("---"),
            "no text diff for a mode change: {report}"
        );
        let reordered = vec![a[1].clone(), a[0].clone()];
        assert_eq!(
            tar_report("data.tar", &a, &reordered),
            "  data.tar: same entries in a different order\n"
        );
        assert!(text_diff("x", b"\xff", b"\xfe").contains("diffoscope"));
    }

    #[test]
    fn buildinfo_fields() {
        let text = "Format: 1.0\nBuild-Date: Tue, 24 Nov 2026\nInstalled-Build-Depends:\n a (= 1)\nEnvironment:\n LANG=\"C\"\n TZ=\"UTC\"\n";
        assert_eq!(
            without_fields(text, BUILD_RECORD_FIELDS),
            "Format: 1.0\nInstalled-Build-Depends:\n a (= 1)\n"
        );
        let values = field_values(text, BUILD_RECORD_FIELDS);
        assert_eq!(values["Environment"], "\nLANG=\"C\"\nTZ=\"UTC\"");
        assert_eq!(values["Build-Date"], "Tue, 24 Nov 2026");
        let changes = "Files:\n abc 1 x.buildinfo\n def 2 x.deb\n";
        assert_eq!(
            changes_without_buildinfo(changes, "x.buildinfo"),
            "Files:\n def 2 x.deb\n"
        );
    }
}
