//! `audits.toml` and imported audits files (cargo-vet's `audits.toml`
//! format, for sdists): `[criteria.NAME]` definitions and `[[audits.NAME]]`
//! entries, each a whole-version audit, a delta audit or a violation.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::PackageName;
use pinwheel_trust::hash::Sha256;
use serde::Deserialize;

use super::fields::{self, OneOrMany, StoreError};
use crate::criteria::{self, CriterionDef};

/// An audits file: our `audits.toml` or an imported one (same format; an
/// imported file's names are its own until the store namespaces them).
///
/// `audits` keeps each package's entries in file order, so that messages
/// can say `audits.idna[2]`; [`crate::render_audits`] writes them in the
/// canonical order of [`AuditEntry::canonical_cmp`], and
/// [`AuditsFile::sort`] puts them in that order in memory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditsFile {
    /// `[criteria.NAME]`: custom criteria (never a built-in's name).
    pub criteria: BTreeMap<String, CriterionDef>,
    /// `[[audits.NAME]]`, keyed by the PEP 503 normalized name.
    pub audits: BTreeMap<PackageName, Vec<AuditEntry>>,
}

/// What an audit entry certifies (cargo-vet: `version`, `delta`,
/// `violation`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AuditKind {
    /// `version = "V"` + `sha256`: the whole sdist with this digest was
    /// reviewed.
    Full {
        /// The audited version.
        version: Version,
        /// The audited sdist's digest.
        sha256: Sha256,
    },
    /// `delta = "FROM -> TO"` + `from-sha256` + `sha256`: the changes from
    /// the FROM sdist to the TO sdist were reviewed. FROM and TO may be the
    /// same version with two digests (a re-upload reviewed as a diff).
    Delta {
        /// The FROM version.
        from: Version,
        /// `from-sha256`: the FROM sdist's digest.
        from_sha256: Sha256,
        /// The TO version.
        to: Version,
        /// `sha256`: the TO sdist's digest.
        sha256: Sha256,
    },
    /// `violation = "SPECIFIERS"`: these versions (every upload of them)
    /// FAIL the criteria.
    Violation {
        /// The versions that fail (PEP 440 specifier set, not empty).
        specifiers: VersionSpecifiers,
    },
}

/// One `[[audits.NAME]]` entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AuditEntry {
    /// `who`: the auditors (a string or a list); at least one.
    pub who: Vec<String>,
    /// `criteria`: the criteria certified (or, for a violation, failed),
    /// as named in this file; at least one.
    pub criteria: Vec<String>,
    /// `version` / `delta` / `violation` and their digests.
    pub kind: AuditKind,
    /// `notes`, free text.
    pub notes: Option<String>,
}

impl AuditKind {
    fn rank(&self) -> u8 {
        match self {
            AuditKind::Full { .. } => 0,
            AuditKind::Delta { .. } => 1,
            AuditKind::Violation { .. } => 2,
        }
    }
}

impl AuditEntry {
    /// The order entries are written in: whole-version audits, then deltas,
    /// then violations; then by versions (PEP 440) and digests; then by
    /// `who`, `criteria`, `notes`. Total on distinct entries, except that
    /// versions equal under PEP 440 ("3.7" and "3.7.0") compare by text.
    pub fn canonical_cmp(&self, other: &AuditEntry) -> Ordering {
        fn versions(kind: &AuditKind) -> Vec<&Version> {
            match kind {
                AuditKind::Full { version, .. } => vec![version],
                AuditKind::Delta { from, to, .. } => vec![from, to],
                AuditKind::Violation { .. } => vec![],
            }
        }
        fn rest(kind: &AuditKind) -> (Vec<Sha256>, String, Vec<String>) {
            match kind {
                AuditKind::Full { version, sha256 } => {
                    (vec![*sha256], String::new(), vec![version.to_string()])
                }
                AuditKind::Delta {
                    from,
                    from_sha256,
                    to,
                    sha256,
                } => (
                    vec![*from_sha256, *sha256],
                    String::new(),
                    vec![from.to_string(), to.to_string()],
                ),
                AuditKind::Violation { specifiers } => (vec![], specifiers.to_string(), vec![]),
            }
        }
        self.kind
            .rank()
            .cmp(&other.kind.rank())
            .then_with(|| versions(&self.kind).cmp(&versions(&other.kind)))
            .then_with(|| rest(&self.kind).cmp(&rest(&other.kind)))
            .then_with(|| self.who.cmp(&other.who))
            .then_with(|| self.criteria.cmp(&other.criteria))
            .then_with(|| self.notes.cmp(&other.notes))
    }
}

impl AuditsFile {
    /// Puts each package's entries in canonical order (the order
    /// [`crate::render_audits`] writes).
    pub fn sort(&mut self) {
        for entries in self.audits.values_mut() {
            entries.sort_by(AuditEntry::canonical_cmp);
        }
    }
}

/// Why [`add_audit`] refused an entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddAuditError {
    /// An equal entry exists.
    #[error("audits.{name}: the same audit is already recorded")]
    Duplicate {
        /// The package.
        name: String,
    },
    #[error(
        "audits.{name}: an audit needs at least one auditor (who) and one criterion, none empty"
    )]
    /// `who` or `criteria` is empty or holds an empty string.
    Incomplete {
        /// The package.
        name: String,
    },
}

/// Adds an entry for `vet certify` (cargo-vet's `certify`), at its place
/// in canonical order. Refuses an entry equal to one already recorded
/// (the same kind, versions, digests, who, criteria and notes) and one
/// with no auditor or no criterion. Does not check criteria names: the
/// caller checks them with [`crate::Criteria::is_known`].
pub fn add_audit(
    file: &mut AuditsFile,
    name: PackageName,
    entry: AuditEntry,
) -> Result<(), AddAuditError> {
    let incomplete = |list: &[String]| list.is_empty() || list.iter().any(|s| s.trim().is_empty());
    if incomplete(&entry.who) || incomplete(&entry.criteria) {
        return Err(AddAuditError::Incomplete {
            name: name.to_string(),
        });
    }
    let entries = file.audits.entry(name.clone()).or_default();
    if entries.contains(&entry) {
        return Err(AddAuditError::Duplicate {
            name: name.to_string(),
        });
    }
    let at = entries.partition_point(|e| e.canonical_cmp(&entry) != Ordering::Greater);
    entries.insert(at, entry);
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCriterion {
    description: String,
    implies: Option<OneOrMany>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawAudit {
    who: OneOrMany,
    criteria: OneOrMany,
    version: Option<String>,
    delta: Option<String>,
    violation: Option<String>,
    from_sha256: Option<String>,
    sha256: Option<String>,
    notes: Option<String>,
}

/// Parses an audits file. `path_for_messages` names it in errors. Refuses
/// TOML syntax errors, tables other than `criteria` and `audits`, unknown
/// keys in an entry, a package key that is not PEP 503 normalized, an
/// entry with none or several of `version`/`delta`/`violation`, versions
/// and specifiers that are not PEP 440, digests that are not 64 lowercase
/// hex digits, digests where they do not belong (a violation has none),
/// an empty `who` or `criteria`, and a criterion definition named like a
/// built-in. Whether the criteria named exist is checked by
/// [`crate::Store::new`], which knows every file.
pub fn parse_audits(path_for_messages: &str, text: &str) -> Result<AuditsFile, StoreError> {
    let path = path_for_messages;
    let top = fields::table(path, text)?;
    fields::only_keys(path, &top, &["criteria", "audits"])?;
    let mut file = AuditsFile::default();
    for (name, value) in fields::sub_table(path, &top, "criteria")? {
        let entry = format!("criteria.{}", fields::key(&name));
        let err = |m: String| StoreError::entry(path, &entry, m);
        fields::simple_name(&name).map_err(err)?;
        if criteria::is_built_in(&name) {
            return Err(err("a built-in criterion cannot be redefined".to_owned()));
        }
        let raw: RawCriterion = fields::entry(value).map_err(err)?;
        let implies = match raw.implies {
            Some(list) => list.non_empty("implies").map_err(err)?,
            None => vec![],
        };
        file.criteria.insert(
            name,
            CriterionDef {
                description: raw.description,
                implies,
            },
        );
    }
    for (name, value) in fields::sub_table(path, &top, "audits")? {
        let table_entry = format!("audits.{}", fields::key(&name));
        let package =
            fields::package_name(&name).map_err(|m| StoreError::entry(path, &table_entry, m))?;
        let items = fields::array(&value, &table_entry)
            .map_err(|m| StoreError::entry(path, &table_entry, m))?;
        let mut entries = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let entry = format!("{table_entry}[{}]", i + 1);
            let parsed = fields::entry::<RawAudit>(item)
                .and_then(audit_entry)
                .map_err(|m| StoreError::entry(path, &entry, m))?;
            entries.push(parsed);
        }
        file.audits.insert(package, entries);
    }
    Ok(file)
}

fn audit_entry(raw: RawAudit) -> Result<AuditEntry, String> {
    let who = raw.who.non_empty("who")?;
    let criteria = raw.criteria.non_empty("criteria")?;
    let digest = |field: &str, value: Option<String>| -> Result<Sha256, String> {
        let value = value.ok_or_else(|| format!("`{field}` is missing"))?;
        fields::sha256(&value).map_err(|m| format!("{field} {value:?}: {m}"))
    };
    let kind = match (raw.version, raw.delta, raw.violation) {
        (Some(version), None, None) => {
            if raw.from_sha256.is_some() {
                return Err(
                    "`from-sha256` belongs to a delta audit, not a whole-version one".into(),
                );
            }
            AuditKind::Full {
                version: fields::version(&version).map_err(|m| format!("version: {m}"))?,
                sha256: digest("sha256", raw.sha256)?,
            }
        }
        (None, Some(delta), None) => {
            let (from, to) = delta
                .split_once("->")
                .ok_or_else(|| format!("delta {delta:?}: expected \"FROM -> TO\""))?;
            let from_v =
                fields::version(from.trim()).map_err(|m| format!("delta {delta:?}: {m}"))?;
            let to_v = fields::version(to.trim()).map_err(|m| format!("delta {delta:?}: {m}"))?;
            let from_sha256 = digest("from-sha256", raw.from_sha256)?;
            let sha256 = digest("sha256", raw.sha256)?;
            if from_v == to_v && from_sha256 == sha256 {
                return Err(format!("delta {delta:?}: from and to are the same sdist"));
            }
            AuditKind::Delta {
                from: from_v,
                from_sha256,
                to: to_v,
                sha256,
            }
        }
        (None, None, Some(violation)) => {
            if raw.sha256.is_some() || raw.from_sha256.is_some() {
                return Err(
                    "a violation has no sha256: it applies to every upload of those versions"
                        .into(),
                );
            }
            AuditKind::Violation {
                specifiers: fields::specifiers(&violation)
                    .map_err(|m| format!("violation {violation:?}: {m}"))?,
            }
        }
        (None, None, None) => {
            return Err("one of `version`, `delta` or `violation` is needed".into());
        }
        _ => {
            return Err(
                "only one of `version`, `delta` and `violation` per entry (split it in two)".into(),
            );
        }
    };
    Ok(AuditEntry {
        who,
        criteria,
        kind,
        notes: raw.notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "packaging/supply-chain/audits.toml";

    fn h(c: char) -> String {
        c.to_string().repeat(64)
    }

    fn err(text: &str) -> String {
        let e = parse_audits(P, text).expect_err(text).to_string();
        assert!(!e.contains('\n'), "one line: {e:?}");
        e
    }

    fn ok(text: &str) -> AuditsFile {
        parse_audits(P, text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn full_delta_violation() {
        let text = format!(
            r#"
[criteria.crypto-reviewed]
description = "crypto"
implies = "safe-to-deploy"

[[audits.idna]]
who = "Jane Doe <jane@example.org>"
criteria = "safe-to-deploy"
version = "3.20"
sha256 = "{a}"
notes = "n"

[[audits.idna]]
who = ["Jane", "John"]
criteria = ["safe-to-deploy", "crypto-reviewed"]
delta = "3.7 -> 3.20"
from-sha256 = "{b}"
sha256 = "{a}"

[[audits.six]]
who = "Ann"
criteria = "safe-to-run"
violation = ">=1.0, <1.3"
"#,
            a = h('a'),
            b = h('b')
        );
        let file = ok(&text);
        assert_eq!(file.criteria["crypto-reviewed"].implies, ["safe-to-deploy"]);
        let idna = &file.audits[&"idna".parse().unwrap()];
        assert_eq!(
            idna[0].kind,
            AuditKind::Full {
                version: "3.20".parse().unwrap(),
                sha256: h('a').parse().unwrap()
            }
        );
        assert_eq!(idna[0].notes.as_deref(), Some("n"));
        assert_eq!(idna[1].who, ["Jane", "John"]);
        assert_eq!(
            idna[1].kind,
            AuditKind::Delta {
                from: "3.7.0".parse().unwrap(),
                from_sha256: h('b').parse().unwrap(),
                to: "3.20".parse().unwrap(),
                sha256: h('a').parse().unwrap(),
            }
        );
        let six = &file.audits[&"six".parse().unwrap()];
        let AuditKind::Violation { specifiers } = &six[0].kind else {
            panic!("{six:?}")
        };
        assert!(specifiers.contains(&"1.2".parse().unwrap()));
        assert!(!specifiers.contains(&"1.3".parse().unwrap()));
    }

    #[test]
    fn empty_file() {
        assert_eq!(ok(""), AuditsFile::default());
        assert_eq!(ok("# nothing\n"), AuditsFile::default());
    }

    #[test]
    fn malformed_toml_is_one_line() {
        let e = err("[[audits.idna]\nwho = 1\n");
        assert!(e.starts_with(&format!("{P}: ")), "{e}");
        assert!(e.contains("line 1"), "{e}");
        let e = err("[[audits.idna]]\nwho = \"x\nversion = \"1\"\n");
        assert!(e.starts_with(&format!("{P}: ")), "{e}");
    }

    #[test]
    fn unknown_tables_and_keys() {
        assert_eq!(
            err("[imports.x]\nurl = \"https://x\"\n"),
            format!("{P}: unknown table `imports` (known: criteria, audits)")
        );
        let e = err(&format!(
            "[[audits.idna]]\nwho = \"j\"\ncriteria = \"safe-to-run\"\nversion = \"1\"\nsha256 = \"{}\"\nreviewed = true\n",
            h('a')
        ));
        assert!(
            e.starts_with(&format!("{P}: audits.idna[1]: unknown field `reviewed`")),
            "{e}"
        );
        let e = err("[criteria.x]\ndescription = \"d\"\nimplied = \"safe-to-run\"\n");
        assert!(
            e.starts_with(&format!("{P}: criteria.x: unknown field `implied`")),
            "{e}"
        );
    }

    #[test]
    fn names_must_be_normalized() {
        let entry = |name: &str| {
            format!(
                "[[audits.{name}]]\nwho = \"j\"\ncriteria = \"safe-to-run\"\nversion = \"1\"\nsha256 = \"{}\"\n",
                h('a')
            )
        };
        ok(&entry("zope-interface"));
        assert_eq!(
            err(&entry("Zope_Interface")),
            format!(
                "{P}: audits.Zope_Interface: \"Zope_Interface\" is not a normalized package name: write \"zope-interface\""
            )
        );
        assert_eq!(
            err(&entry("\"a b\"")),
            format!("{P}: audits.\"a b\": \"a b\" is not a package name")
        );
    }

    #[test]
    fn a_package_is_an_array_of_tables() {
        let e = err("[audits.idna]\nwho = \"j\"\n");
        assert_eq!(
            e,
            format!("{P}: audits.idna: expected an array of tables ([[audits.idna]]), found table")
        );
    }

    fn entry(body: &str) -> String {
        format!("[[audits.idna]]\nwho = \"j\"\ncriteria = \"safe-to-run\"\n{body}\n")
    }

    #[test]
    fn exactly_one_kind() {
        let (a, b) = (h('a'), h('b'));
        assert_eq!(
            err(&entry(&format!("sha256 = \"{a}\""))),
            format!("{P}: audits.idna[1]: one of `version`, `delta` or `violation` is needed")
        );
        for body in [
            format!(
                "version = \"1\"\ndelta = \"0.9 -> 1\"\nfrom-sha256 = \"{b}\"\nsha256 = \"{a}\""
            ),
            format!("version = \"1\"\nviolation = \"<2\"\nsha256 = \"{a}\""),
            "delta = \"0.9 -> 1\"\nviolation = \"<2\"".to_owned(),
        ] {
            assert_eq!(
                err(&entry(&body)),
                format!("{P}: audits.idna[1]: only one of `version`, `delta` and `violation` per entry (split it in two)"),
                "{body}"
            );
        }
    }

    #[test]
    fn digests_where_they_belong() {
        let (a, b) = (h('a'), h('b'));
        ok(&entry(&format!("version = \"1\"\nsha256 = \"{a}\"")));
        assert_eq!(
            err(&entry("version = \"1\"")),
            format!("{P}: audits.idna[1]: `sha256` is missing")
        );
        assert_eq!(
            err(&entry(&format!("version = \"1\"\nsha256 = \"{a}\"\nfrom-sha256 = \"{b}\""))),
            format!("{P}: audits.idna[1]: `from-sha256` belongs to a delta audit, not a whole-version one")
        );
        assert_eq!(
            err(&entry(&format!("delta = \"0.9 -> 1\"\nsha256 = \"{a}\""))),
            format!("{P}: audits.idna[1]: `from-sha256` is missing")
        );
        assert_eq!(
            err(&entry(&format!("violation = \"<2\"\nsha256 = \"{a}\""))),
            format!("{P}: audits.idna[1]: a violation has no sha256: it applies to every upload of those versions")
        );
        ok(&entry("violation = \"<2\""));
    }

    #[test]
    fn bad_sha256() {
        for (bad, why) in [
            (
                "abc".to_owned(),
                "sha256 digest must be 64 hex digits, found 3",
            ),
            (h('A'), "sha256 digest must be lowercase hex digits"),
            (h('g'), "sha256 digest must be lowercase hex digits"),
        ] {
            assert_eq!(
                err(&entry(&format!("version = \"1\"\nsha256 = \"{bad}\""))),
                format!("{P}: audits.idna[1]: sha256 {bad:?}: {why}")
            );
        }
    }

    #[test]
    fn delta_endpoints_must_be_versions() {
        let (a, b) = (h('a'), h('b'));
        let delta = |d: &str| {
            entry(&format!(
                "delta = \"{d}\"\nfrom-sha256 = \"{b}\"\nsha256 = \"{a}\""
            ))
        };
        ok(&delta("3.7->3.20"));
        let e = err(&delta("3.7 ->"));
        assert!(
            e.starts_with(&format!(
                "{P}: audits.idna[1]: delta \"3.7 ->\": \"\" is not a PEP 440 version"
            )),
            "{e}"
        );
        let e = err(&delta("three -> 3.20"));
        assert!(
            e.starts_with(&format!(
                "{P}: audits.idna[1]: delta \"three -> 3.20\": \"three\" is not a PEP 440 version"
            )),
            "{e}"
        );
        assert_eq!(
            err(&delta("3.7 3.20")),
            format!("{P}: audits.idna[1]: delta \"3.7 3.20\": expected \"FROM -> TO\"")
        );
        // The same version under two digests is a reviewed re-upload; the
        // same sdist on both ends is not a delta.
        ok(&delta("3.20 -> 3.20"));
        let same = entry(&format!(
            "delta = \"3.20 -> 3.20.0\"\nfrom-sha256 = \"{a}\"\nsha256 = \"{a}\""
        ));
        assert_eq!(
            err(&same),
            format!(
                "{P}: audits.idna[1]: delta \"3.20 -> 3.20.0\": from and to are the same sdist"
            )
        );
    }

    #[test]
    fn versions_and_specifiers() {
        let e = err(&entry(&format!(
            "version = \"latest\"\nsha256 = \"{}\"",
            h('a')
        )));
        assert!(
            e.starts_with(&format!(
                "{P}: audits.idna[1]: version: \"latest\" is not a PEP 440 version"
            )),
            "{e}"
        );
        let e = err(&entry("violation = \"=>1\""));
        assert!(
            e.starts_with(&format!(
                "{P}: audits.idna[1]: violation \"=>1\": not a PEP 440 specifier set"
            )),
            "{e}"
        );
        assert_eq!(
            err(&entry("violation = \"\"")),
            format!("{P}: audits.idna[1]: violation \"\": an empty specifier set (write \">=0\" for every version)")
        );
    }

    #[test]
    fn who_and_criteria_are_strings_or_lists() {
        let body = format!("version = \"1\"\nsha256 = \"{}\"", h('a'));
        let with = |who: &str, criteria: &str| {
            format!("[[audits.idna]]\nwho = {who}\ncriteria = {criteria}\n{body}\n")
        };
        ok(&with("\"j\"", "[\"safe-to-run\"]"));
        assert_eq!(
            err(&with("[]", "\"safe-to-run\"")),
            format!("{P}: audits.idna[1]: who: an empty list")
        );
        assert_eq!(
            err(&with("\"j\"", "\"\"")),
            format!("{P}: audits.idna[1]: criteria: an empty string")
        );
        let e = err(&with("1", "\"safe-to-run\""));
        assert!(e.contains("a string or a list of strings"), "{e}");
        let e = err(&format!(
            "[[audits.idna]]\ncriteria = \"safe-to-run\"\n{body}\n"
        ));
        assert!(e.contains("missing field `who`"), "{e}");
    }

    #[test]
    fn criteria_definitions() {
        assert_eq!(
            err("[criteria.safe-to-run]\ndescription = \"mine\"\n"),
            format!("{P}: criteria.safe-to-run: a built-in criterion cannot be redefined")
        );
        let e = err("[criteria.\"a::b\"]\ndescription = \"d\"\n");
        assert!(
            e.starts_with(&format!("{P}: criteria.\"a::b\": \"a::b\": a name is")),
            "{e}"
        );
        let e = err("[criteria.x]\nimplies = \"safe-to-run\"\n");
        assert!(e.contains("missing field `description`"), "{e}");
        let file = ok("[criteria.x]\ndescription = \"d\"\nimplies = [\"safe-to-run\", \"y\"]\n");
        assert_eq!(file.criteria["x"].implies, ["safe-to-run", "y"]);
    }

    fn audit(who: &str, version: &str) -> AuditEntry {
        AuditEntry {
            who: vec![who.to_owned()],
            criteria: vec!["safe-to-run".to_owned()],
            kind: AuditKind::Full {
                version: version.parse().unwrap(),
                sha256: h('a').parse().unwrap(),
            },
            notes: None,
        }
    }

    #[test]
    fn add_audit_keeps_canonical_order_and_refuses_duplicates() {
        let name: PackageName = "idna".parse().unwrap();
        let mut file = AuditsFile::default();
        add_audit(&mut file, name.clone(), audit("b", "2")).unwrap();
        add_audit(&mut file, name.clone(), audit("a", "10")).unwrap();
        add_audit(&mut file, name.clone(), audit("a", "2")).unwrap();
        let order: Vec<(String, String)> = file.audits[&name]
            .iter()
            .map(|e| match &e.kind {
                AuditKind::Full { version, .. } => (version.to_string(), e.who[0].clone()),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(
            order,
            [
                ("2".into(), "a".into()),
                ("2".into(), "b".into()),
                ("10".into(), "a".into())
            ]
        );
        assert_eq!(
            add_audit(&mut file, name.clone(), audit("a", "2")),
            Err(AddAuditError::Duplicate {
                name: "idna".into()
            })
        );
        // PEP 440 equal versions are the same audit.
        assert!(add_audit(&mut file, name.clone(), audit("a", "2.0")).is_err());
        let mut nobody = audit("", "3");
        nobody.who.clear();
        assert_eq!(
            add_audit(&mut file, name.clone(), nobody),
            Err(AddAuditError::Incomplete {
                name: "idna".into()
            })
        );
        assert_eq!(file.audits[&name].len(), 3);
    }
}
