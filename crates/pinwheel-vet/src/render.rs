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
