//! The audit store (cargo-vet's `supply-chain/` directory, for sdists):
//! the parsers of `audits.toml`, `config.toml`, `imports.lock` and imported
//! audits files, and [`Store::new`], which assembles them, checks every
//! criterion name against the file that names it, and indexes the
//! evidence per package for [`crate::decide`].
//!
//! Pure: every parser takes the text and the path to name in messages;
//! reading, fetching and hashing the files is the caller's.

pub mod audits;
pub mod config;
mod fields;

use std::collections::BTreeMap;

use pep508_rs::PackageName;

pub use self::audits::{add_audit, parse_audits, AddAuditError, AuditEntry, AuditKind, AuditsFile};
pub use self::config::{
    parse_config, parse_imports_lock, Exemption, Import, ImportSource, ImportsLock, LockedImport,
    Policy, VetConfig,
};
pub(crate) use self::fields::key;
pub use self::fields::StoreError;
use crate::criteria::{self, Criteria, CriterionOrigin};
use crate::resolve::{Evidence, EvidenceKind, Origin};

/// A parsed file and the path its messages name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sourced<T> {
    /// As the caller names the file, e.g. `packaging/supply-chain/audits.toml`.
    pub path: String,
    /// The parsed file.
    pub value: T,
}

impl<T> Sourced<T> {
    /// Pairs a parsed file with its path.
    pub fn new(path: impl Into<String>, value: T) -> Sourced<T> {
        Sourced {
            path: path.into(),
            value,
        }
    }
}

/// Our audits, our config and the imported audits files, checked and
/// indexed. Built by [`Store::new`]; read by [`crate::decide`] and
/// [`crate::warnings`].
#[derive(Clone, Debug)]
pub struct Store {
    own: Sourced<AuditsFile>,
    config: Sourced<VetConfig>,
    imports: BTreeMap<String, Sourced<AuditsFile>>,
    criteria: Criteria,
    evidence: BTreeMap<PackageName, Vec<Evidence>>,
}

impl Store {
    /// Assembles the store. `imports` maps each `[imports.NAME]` of the
    /// config to its file (the copy under `imports/` or the path import),
    /// already checked against `imports.lock` by the caller.
    ///
    /// Errors (the first found, one line naming file and entry):
    /// - a criterion that the naming file cannot name: our audits, our
    ///   criteria's `implies`, policies, `dependency-criteria`, exemptions
    ///   and criteria-map targets name built-ins and our own criteria; an
    ///   imported file names built-ins and its own, reported as
    ///   `IMPORT::NAME`; a criteria-map key names a criterion of its
    ///   import;
    /// - a configured import with no file, or a file for an import the
    ///   config does not name.
    pub fn new(
        own: Sourced<AuditsFile>,
        config: Sourced<VetConfig>,
        imports: BTreeMap<String, Sourced<AuditsFile>>,
    ) -> Result<Store, StoreError> {
        for name in config.value.imports.keys() {
            if !imports.contains_key(name) {
                return Err(StoreError::entry(
                    &config.path,
                    &format!("imports.{}", fields::key(name)),
                    "the imported file is missing (run `cargo xtask vet --update-imports`)",
                ));
            }
        }
        for (name, file) in &imports {
            if !config.value.imports.contains_key(name) {
                return Err(StoreError::file(
                    &file.path,
                    format!("imported as {name:?}, which config.toml does not name in [imports]"),
                ));
            }
        }
        let criteria = Criteria::new(
            &own.value.criteria,
            imports
                .iter()
                .map(|(name, file)| (name.as_str(), &file.value.criteria)),
            config.value.imports.values().flat_map(|import| {
                import
                    .criteria_map
                    .iter()
                    .map(|(from, to)| (from.as_str(), to.as_slice()))
            }),
        );
        let store = Store {
            evidence: BTreeMap::new(),
            own,
            config,
            imports,
            criteria,
        };
        store.check_own()?;
        store.check_config()?;
        for name in store.imports.keys() {
            store.check_import(name)?;
        }
        let evidence = store.index();
        Ok(Store { evidence, ..store })
    }

    /// Every criterion, resolved: names, descriptions, implications.
    pub fn criteria(&self) -> &Criteria {
        &self.criteria
    }

    /// Our `audits.toml`.
    pub fn own(&self) -> &Sourced<AuditsFile> {
        &self.own
    }

    /// Our `config.toml`.
    pub fn config(&self) -> &Sourced<VetConfig> {
        &self.config
    }

    /// The imported files, by import name.
    pub fn imports(&self) -> &BTreeMap<String, Sourced<AuditsFile>> {
        &self.imports
    }

    /// Every audit, violation and exemption of a package, ours and
    /// imported, criteria in our namespace; ours first, in file order.
    pub fn evidence(&self, name: &PackageName) -> &[Evidence] {
        self.evidence.get(name).map_or(&[], Vec::as_slice)
    }

    fn ours_unknown(
        &self,
        path: &str,
        entry: &str,
        field: &str,
        name: &str,
    ) -> Result<(), StoreError> {
        match self.criteria.origin(name) {
            Some(CriterionOrigin::BuiltIn | CriterionOrigin::Ours) => Ok(()),
            _ => Err(StoreError::entry(
                path,
                entry,
                format!(
                    "{field} {name:?}: unknown criterion (known: {})",
                    self.criteria.names().join(", ")
                ),
            )),
        }
    }

    fn check_own(&self) -> Result<(), StoreError> {
        let path = &self.own.path;
        for (name, def) in &self.own.value.criteria {
            let entry = format!("criteria.{}", fields::key(name));
            for to in &def.implies {
                self.ours_unknown(path, &entry, "implies", to)?;
            }
        }
        for (name, entries) in &self.own.value.audits {
            for (i, e) in entries.iter().enumerate() {
                let entry = format!("audits.{name}[{}]", i + 1);
                for c in &e.criteria {
                    self.ours_unknown(path, &entry, "criteria", c)?;
                }
            }
        }
        Ok(())
    }

    fn check_config(&self) -> Result<(), StoreError> {
        let path = &self.config.path;
        let config = &self.config.value;
        let policies = config
            .policy
            .iter()
            .map(|(app, p)| (format!("policy.{}", fields::key(app)), p))
            .chain(
                config
                    .build_backends
                    .iter()
                    .map(|p| ("build-backends".to_owned(), p)),
            );
        for (entry, policy) in policies {
            for c in policy.criteria.iter().flatten() {
                self.ours_unknown(path, &entry, "criteria", c)?;
            }
            for (name, list) in &policy.dependency_criteria {
                for c in list {
                    self.ours_unknown(path, &entry, &format!("dependency-criteria.{name}"), c)?;
                }
            }
        }
        for (import, def) in &config.imports {
            let entry = format!("imports.{}", fields::key(import));
            for (from, to) in &def.criteria_map {
                let field = format!("criteria-map.{}", fields::key(from));
                if !matches!(self.criteria.origin(from), Some(CriterionOrigin::Import(i)) if i == import)
                {
                    return Err(StoreError::entry(
                        path,
                        &entry,
                        format!(
                            "{field}: unknown criterion (known: {})",
                            self.criteria.names_of_import(import).join(", ")
                        ),
                    ));
                }
                for c in to {
                    self.ours_unknown(path, &entry, &format!("{field} ="), c)?;
                }
            }
        }
        for (name, list) in &config.exemptions {
            for (i, e) in list.iter().enumerate() {
                let entry = format!("exemptions.{name}[{}]", i + 1);
                for c in &e.criteria {
                    self.ours_unknown(path, &entry, "criteria", c)?;
                }
            }
        }
        Ok(())
    }

    fn check_import(&self, import: &str) -> Result<(), StoreError> {
        let Some(file) = self.imports.get(import) else {
            return Ok(());
        };
        let known = |entry: &str, field: &str, c: &str| {
            let full = criteria::namespaced(import, c);
            if self.criteria.is_known(&full) {
                Ok(())
            } else {
                Err(StoreError::entry(
                    &file.path,
                    entry,
                    format!(
                        "{field} {full:?}: unknown criterion (known: {})",
                        self.criteria.names_of_import(import).join(", ")
                    ),
                ))
            }
        };
        for (name, def) in &file.value.criteria {
            for to in &def.implies {
                known(&format!("criteria.{}", fields::key(name)), "implies", to)?;
            }
        }
        for (name, entries) in &file.value.audits {
            for (i, e) in entries.iter().enumerate() {
                for c in &e.criteria {
                    known(&format!("audits.{name}[{}]", i + 1), "criteria", c)?;
                }
            }
        }
        Ok(())
    }

    fn index(&self) -> BTreeMap<PackageName, Vec<Evidence>> {
        let mut index: BTreeMap<PackageName, Vec<Evidence>> = BTreeMap::new();
        let mut add_file = |origin: Origin, file: &Sourced<AuditsFile>| {
            for (name, entries) in &file.value.audits {
                for (i, e) in entries.iter().enumerate() {
                    let criteria = match &origin {
                        Origin::Ours => e.criteria.clone(),
                        Origin::Import(import) => e
                            .criteria
                            .iter()
                            .map(|c| criteria::namespaced(import, c))
                            .collect(),
                    };
                    index.entry(name.clone()).or_default().push(Evidence {
                        origin: origin.clone(),
                        path: file.path.clone(),
                        entry: format!("audits.{name}[{}]", i + 1),
                        who: e.who.clone(),
                        criteria,
                        kind: EvidenceKind::from(&e.kind),
                        notes: e.notes.clone(),
                    });
                }
            }
        };
        add_file(Origin::Ours, &self.own);
        for (import, file) in &self.imports {
            add_file(Origin::Import(import.clone()), file);
        }
        for (name, list) in &self.config.value.exemptions {
            for (i, e) in list.iter().enumerate() {
                index.entry(name.clone()).or_default().push(Evidence {
                    origin: Origin::Ours,
                    path: self.config.path.clone(),
                    entry: format!("exemptions.{name}[{}]", i + 1),
                    who: vec![],
                    criteria: e.criteria.clone(),
                    kind: EvidenceKind::Exemption {
                        version: e.version.clone(),
                        sha256: e.sha256,
                    },
                    notes: e.notes.clone(),
                });
            }
        }
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "packaging/supply-chain/audits.toml";
    const C: &str = "packaging/supply-chain/config.toml";
    const I: &str = "packaging/supply-chain/imports/org.toml";

    fn h(c: char) -> String {
        c.to_string().repeat(64)
    }

    const OWN: &str =
        "[criteria.crypto-reviewed]\ndescription = \"crypto\"\nimplies = \"safe-to-deploy\"\n";
    const ORG: &str = "[imports.org]\npath = \"vendor/org.toml\"\n";

    fn store(own: &str, config: &str, import: Option<&str>) -> Result<Store, String> {
        let own = Sourced::new(A, parse_audits(A, own).map_err(|e| e.to_string())?);
        let config = Sourced::new(C, parse_config(C, config).map_err(|e| e.to_string())?);
        let imports = import
            .map(|text| -> Result<_, String> {
                let file = parse_audits(I, text).map_err(|e| e.to_string())?;
                Ok(BTreeMap::from([("org".to_owned(), Sourced::new(I, file))]))
            })
            .transpose()?
            .unwrap_or_default();
        Store::new(own, config, imports).map_err(|e| e.to_string())
    }

    fn audit(criteria: &str) -> String {
        format!(
            "[[audits.idna]]\nwho = \"j\"\ncriteria = {criteria}\nversion = \"1\"\nsha256 = \"{}\"\n",
            h('a')
        )
    }

    const KNOWN: &str = "(known: safe-to-deploy, safe-to-run, crypto-reviewed)";

    #[test]
    fn unknown_criterion_in_our_audits() {
        store(&format!("{OWN}{}", audit("\"crypto-reviewed\"")), "", None).unwrap();
        assert_eq!(
            store(
                &format!("{OWN}{}", audit("[\"safe-to-run\", \"safe-to-deplo\"]")),
                "",
                None
            )
            .unwrap_err(),
            format!("{A}: audits.idna[1]: criteria \"safe-to-deplo\": unknown criterion {KNOWN}")
        );
        assert_eq!(
            store("[criteria.x]\ndescription = \"d\"\nimplies = \"nope\"\n", "", None).unwrap_err(),
            format!("{A}: criteria.x: implies \"nope\": unknown criterion (known: safe-to-deploy, safe-to-run, x)")
        );
    }

    #[test]
    fn our_files_cannot_name_an_imports_criterion() {
        let theirs = "[criteria.reviewed]\ndescription = \"theirs\"\n";
        store("", ORG, Some(theirs)).unwrap();
        assert_eq!(
            store(&audit("\"org::reviewed\""), ORG, Some(theirs)).unwrap_err(),
            format!("{A}: audits.idna[1]: criteria \"org::reviewed\": unknown criterion (known: safe-to-deploy, safe-to-run)")
        );
    }

    #[test]
    fn unknown_criterion_in_config() {
        let policy = |c: &str| format!("[policy.app]\ncriteria = \"{c}\"\n");
        store(OWN, &policy("crypto-reviewed"), None).unwrap();
        assert_eq!(
            store(OWN, &policy("safe-to-deplo"), None).unwrap_err(),
            format!("{C}: policy.app: criteria \"safe-to-deplo\": unknown criterion {KNOWN}")
        );
        assert_eq!(
            store(OWN, "[build-backends]\ncriteria = \"x\"\n", None).unwrap_err(),
            format!("{C}: build-backends: criteria \"x\": unknown criterion {KNOWN}")
        );
        assert_eq!(
            store(
                OWN,
                "[policy.app.dependency-criteria]\nredis = \"x\"\n",
                None
            )
            .unwrap_err(),
            format!("{C}: policy.app: dependency-criteria.redis \"x\": unknown criterion {KNOWN}")
        );
        let ex = |c: &str| {
            format!(
                "[[exemptions.six]]\nversion = \"1\"\nsha256 = \"{}\"\ncriteria = \"{c}\"\n",
                h('a')
            )
        };
        store(OWN, &ex("safe-to-run"), None).unwrap();
        assert_eq!(
            store(OWN, &ex("safe-to-walk"), None).unwrap_err(),
            format!("{C}: exemptions.six[1]: criteria \"safe-to-walk\": unknown criterion {KNOWN}")
        );
    }

    #[test]
    fn unknown_criterion_in_an_import_is_named_in_our_namespace() {
        let theirs = "[criteria.reviewed]\ndescription = \"theirs\"\nimplies = \"safe-to-run\"\n";
        store(
            "",
            ORG,
            Some(&format!(
                "{theirs}{}",
                audit("[\"reviewed\", \"safe-to-deploy\"]")
            )),
        )
        .unwrap();
        assert_eq!(
            store("", ORG, Some(&format!("{theirs}{}", audit("\"bogus\"")))).unwrap_err(),
            format!("{I}: audits.idna[1]: criteria \"org::bogus\": unknown criterion (known: safe-to-deploy, safe-to-run, org::reviewed)")
        );
        // Our custom criteria are not theirs.
        assert_eq!(
            store(OWN, ORG, Some(&audit("\"crypto-reviewed\""))).unwrap_err(),
            format!("{I}: audits.idna[1]: criteria \"org::crypto-reviewed\": unknown criterion (known: safe-to-deploy, safe-to-run)")
        );
        assert_eq!(
            store("", ORG, Some("[criteria.a]\ndescription = \"d\"\nimplies = \"b\"\n")).unwrap_err(),
            format!("{I}: criteria.a: implies \"org::b\": unknown criterion (known: safe-to-deploy, safe-to-run, org::a)")
        );
    }

    #[test]
    fn criteria_map_keys_and_targets() {
        let theirs = "[criteria.reviewed]\ndescription = \"theirs\"\n";
        let map =
            |from: &str, to: &str| format!("{ORG}criteria-map = {{ \"{from}\" = \"{to}\" }}\n");
        store(OWN, &map("org::reviewed", "crypto-reviewed"), Some(theirs)).unwrap();
        assert_eq!(
            store(OWN, &map("org::reviewd", "crypto-reviewed"), Some(theirs)).unwrap_err(),
            format!("{C}: imports.org: criteria-map.\"org::reviewd\": unknown criterion (known: safe-to-deploy, safe-to-run, org::reviewed)")
        );
        assert_eq!(
            store(OWN, &map("org::safe-to-run", "crypto-reviewed"), Some(theirs)).unwrap_err(),
            format!("{C}: imports.org: criteria-map.\"org::safe-to-run\": unknown criterion (known: safe-to-deploy, safe-to-run, org::reviewed)")
        );
        assert_eq!(
            store(OWN, &map("org::reviewed", "crypto-reviewd"), Some(theirs)).unwrap_err(),
            format!("{C}: imports.org: criteria-map.\"org::reviewed\" = \"crypto-reviewd\": unknown criterion {KNOWN}")
        );
    }

    #[test]
    fn entries_are_named_as_the_file_writes_them() {
        assert_eq!(
            store("[criteria.\"a.b\"]\ndescription = \"d\"\nimplies = \"x\"\n", "", None).unwrap_err(),
            format!("{A}: criteria.\"a.b\": implies \"x\": unknown criterion (known: safe-to-deploy, safe-to-run, a.b)")
        );
        assert_eq!(
            store("", "[imports.\"v1.org\"]\npath = \"a.toml\"\n", None).unwrap_err(),
            format!("{C}: imports.\"v1.org\": the imported file is missing (run `cargo xtask vet --update-imports`)")
        );
    }

    #[test]
    fn imports_and_their_files_match() {
        assert_eq!(
            store("", ORG, None).unwrap_err(),
            format!("{C}: imports.org: the imported file is missing (run `cargo xtask vet --update-imports`)")
        );
        assert_eq!(
            store("", "", Some("")).unwrap_err(),
            format!("{I}: imported as \"org\", which config.toml does not name in [imports]")
        );
    }

    #[test]
    fn evidence_is_indexed_in_our_namespace() {
        let theirs = format!(
            "[criteria.reviewed]\ndescription = \"theirs\"\n{}",
            audit("[\"reviewed\", \"safe-to-run\"]")
        );
        let ex = format!(
            "{ORG}[[exemptions.idna]]\nversion = \"1\"\nsha256 = \"{}\"\ncriteria = \"safe-to-run\"\n",
            h('b')
        );
        let s = store(&audit("\"safe-to-deploy\""), &ex, Some(&theirs)).unwrap();
        let ev = s.evidence(&"idna".parse().unwrap());
        let summary: Vec<(String, &str, Vec<String>)> = ev
            .iter()
            .map(|e| (e.origin.to_string(), e.entry.as_str(), e.criteria.clone()))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "ours".into(),
                    "audits.idna[1]",
                    vec!["safe-to-deploy".into()]
                ),
                (
                    "org".into(),
                    "audits.idna[1]",
                    vec!["org::reviewed".into(), "safe-to-run".into()]
                ),
                (
                    "ours".into(),
                    "exemptions.idna[1]",
                    vec!["safe-to-run".into()]
                ),
            ]
        );
        assert_eq!(ev[1].path, I);
        assert_eq!(ev[2].path, C);
        assert!(s.evidence(&"six".parse().unwrap()).is_empty());
        assert_eq!(s.criteria().names(), ["safe-to-deploy", "safe-to-run"]);
        assert_eq!(s.criteria().description("org::reviewed"), Some("theirs"));
    }
}
