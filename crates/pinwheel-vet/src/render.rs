//! Writes `audits.toml` and `imports.lock` deterministically: a header
//! naming the command that writes the file, tables sorted by key, each
//! package's entries in canonical order ([`AuditEntry::canonical_cmp`]),
//! the fields of an entry in one fixed order (cargo-vet's: `who`,
//! `criteria`, `version`/`delta`/`violation`, `from-sha256`, `sha256`,
//! `notes`), a one-element list written as a string, LF newlines.
//! Comments and layout of a hand-edited file are not kept: its data is.

use std::fmt::Write as _;

use crate::store::{AuditEntry, AuditKind, AuditsFile, ImportsLock};

const AUDITS_HEADER: &str = "\
# Audits of the pinned sdists (cargo-vet's format). Written by
# `cargo xtask vet certify`: hand edits are kept only as data
# (comments and layout are rewritten).
";

const LOCK_HEADER: &str = "\
# The imported audits files, pinned by sha256. Written by
# `cargo xtask vet --update-imports`; do not edit.
";

fn string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn one_or_many(list: &[String]) -> String {
    match list {
        [one] => string(one),
        many => {
            let items: Vec<String> = many.iter().map(|s| string(s)).collect();
            format!("[{}]", items.join(", "))
        }
    }
}

fn key(name: &str) -> String {
    crate::store::key(name)
}

/// Renders an audits file. For a file whose entries are in canonical order
/// (as [`crate::parse_audits`] of a rendered file, [`AuditsFile::sort`]
/// and [`crate::add_audit`] leave them), `parse_audits(render_audits(x))
/// == x`; for any file, rendering is idempotent through a parse.
pub fn render_audits(file: &AuditsFile) -> String {
    let mut out = String::from(AUDITS_HEADER);
    for (name, def) in &file.criteria {
        let _ = write!(out, "\n[criteria.{}]\n", key(name));
        let _ = writeln!(out, "description = {}", string(&def.description));
        if !def.implies.is_empty() {
            let _ = writeln!(out, "implies = {}", one_or_many(&def.implies));
        }
    }
    for (name, entries) in &file.audits {
        let mut sorted: Vec<&AuditEntry> = entries.iter().collect();
        sorted.sort_by(|a, b| a.canonical_cmp(b));
        for e in sorted {
            let _ = write!(out, "\n[[audits.{}]]\n", key(name.as_ref()));
            let _ = writeln!(out, "who = {}", one_or_many(&e.who));
            let _ = writeln!(out, "criteria = {}", one_or_many(&e.criteria));
            match &e.kind {
                AuditKind::Full { version, sha256 } => {
                    let _ = writeln!(out, "version = {}", string(&version.to_string()));
                    let _ = writeln!(out, "sha256 = {}", string(&sha256.hex()));
                }
                AuditKind::Delta {
                    from,
                    from_sha256,
                    to,
                    sha256,
                } => {
                    let _ = writeln!(out, "delta = {}", string(&format!("{from} -> {to}")));
                    let _ = writeln!(out, "from-sha256 = {}", string(&from_sha256.hex()));
                    let _ = writeln!(out, "sha256 = {}", string(&sha256.hex()));
                }
                AuditKind::Violation { specifiers } => {
                    let _ = writeln!(out, "violation = {}", string(&specifiers.to_string()));
                }
            }
            if let Some(notes) = &e.notes {
                let _ = writeln!(out, "notes = {}", string(notes));
            }
        }
    }
    out
}

/// Renders `imports.lock`: imports sorted by name, `source` then `sha256`.
pub fn render_imports_lock(lock: &ImportsLock) -> String {
    let mut out = String::from(LOCK_HEADER);
    for (name, locked) in &lock.imports {
        let _ = write!(out, "\n[imports.{}]\n", key(name));
        let _ = writeln!(out, "source = {}", string(&locked.source));
        let _ = writeln!(out, "sha256 = {}", string(&locked.sha256.hex()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{add_audit, parse_audits, parse_imports_lock, LockedImport};

    const P: &str = "audits.toml";

    fn h(c: char) -> String {
        c.to_string().repeat(64)
    }

    /// Hand-written: unsorted packages and entries, comments, odd layout,
    /// a multi-line note, quotes, a non-canonical version spelling.
    fn messy() -> String {
        format!(
            r#"
# a comment that is not kept
[[audits.six]]
who = "Ann"
criteria = "safe-to-run"
violation = "<1.3,>=1.0"

[[audits.idna]]
who = ["Jane", "John \"JJ\" Smith"]
criteria = ["safe-to-deploy", "crypto-reviewed"]
delta = "3.7->3.20"
from-sha256 = "{b}"
sha256 = "{a}"
notes = """two
lines"""

[[audits.idna]]
criteria = "safe-to-deploy"
who = "Jane"
version = "3.7.0-alpha"
sha256 = "{b}"

[criteria.z-last]
description = "z"

[criteria.crypto-reviewed]
implies = ["safe-to-deploy"]
description = "The cryptography was reviewed."
"#,
            a = h('a'),
            b = h('b')
        )
    }

    #[test]
    fn render_is_sorted_and_exact() {
        let file = parse_audits(P, &messy()).unwrap();
        let expected = format!(
            r#"# Audits of the pinned sdists (cargo-vet's format). Written by
# `cargo xtask vet certify`: hand edits are kept only as data
# (comments and layout are rewritten).

[criteria.crypto-reviewed]
description = "The cryptography was reviewed."
implies = "safe-to-deploy"

[criteria.z-last]
description = "z"

[[audits.idna]]
who = "Jane"
criteria = "safe-to-deploy"
version = "3.7.0a0"
sha256 = "{b}"

[[audits.idna]]
who = ["Jane", 'John "JJ" Smith']
criteria = ["safe-to-deploy", "crypto-reviewed"]
delta = "3.7 -> 3.20"
from-sha256 = "{b}"
sha256 = "{a}"
notes = """
two
lines"""

[[audits.six]]
who = "Ann"
criteria = "safe-to-run"
violation = ">=1.0, <1.3"
"#,
            a = h('a'),
            b = h('b')
        );
        let rendered = render_audits(&file);
        assert_eq!(rendered, expected);
        assert!(!rendered.contains('\r'));
    }

    #[test]
    fn round_trip() {
        let mut file = parse_audits(P, &messy()).unwrap();
        let once = render_audits(&file);
        // The hand-written file lists idna's delta before its full audit:
        // equal to the re-parse once in canonical order, not before.
        assert_ne!(parse_audits(P, &once).unwrap(), file);
        file.sort();
        let reparsed = parse_audits(P, &once).unwrap();
        assert_eq!(reparsed, file);
        assert_eq!(render_audits(&reparsed), once);
        assert_eq!(render_audits(&AuditsFile::default()), AUDITS_HEADER);
        assert_eq!(
            parse_audits(P, AUDITS_HEADER).unwrap(),
            AuditsFile::default()
        );
    }

    #[test]
    fn add_audit_then_render_round_trips() {
        let mut file =
            parse_audits(P, &render_audits(&parse_audits(P, &messy()).unwrap())).unwrap();
        let entry = AuditEntry {
            who: vec!["Kim".into()],
            criteria: vec!["safe-to-run".into()],
            kind: AuditKind::Delta {
                from: "3.20".parse().unwrap(),
                from_sha256: h('a').parse().unwrap(),
                to: "3.21".parse().unwrap(),
                sha256: h('c').parse().unwrap(),
            },
            notes: None,
        };
        add_audit(&mut file, "idna".parse().unwrap(), entry.clone()).unwrap();
        add_audit(&mut file, "new-pkg".parse().unwrap(), entry).unwrap();
        let text = render_audits(&file);
        assert_eq!(parse_audits(P, &text).unwrap(), file);
        let idna = text.find("[[audits.idna]]").unwrap();
        let new = text.find("[[audits.new-pkg]]").unwrap();
        let six = text.find("[[audits.six]]").unwrap();
        assert!(idna < new && new < six, "{text}");
    }

    #[test]
    fn imports_lock_round_trip() {
        let lock = ImportsLock {
            imports: [
                ("zed", "vendor/z.toml", 'd'),
                ("example-org", "https://example.org/audits.toml", 'e'),
            ]
            .into_iter()
            .map(|(name, source, c)| {
                (
                    name.to_owned(),
                    LockedImport {
                        source: source.to_owned(),
                        sha256: h(c).parse().unwrap(),
                    },
                )
            })
            .collect(),
        };
        let text = render_imports_lock(&lock);
        assert_eq!(
            text,
            format!(
                "{LOCK_HEADER}\n[imports.example-org]\nsource = \"https://example.org/audits.toml\"\nsha256 = \"{e}\"\n\n[imports.zed]\nsource = \"vendor/z.toml\"\nsha256 = \"{d}\"\n",
                e = h('e'),
                d = h('d')
            )
        );
        assert_eq!(parse_imports_lock("imports.lock", &text).unwrap(), lock);
    }
}
