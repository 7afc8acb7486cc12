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
    pub value: T,
}

impl<T> Sourced<T> {
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
                    &format!("imports.{name}"),
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
            let entry = format!("criteria.{name}");
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
            let entry = format!("imports.{import}");
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
                    self.ours_unknown(path, &entry, &field, c)?;
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
                known(&format!("criteria.{name}"), "implies", to)?;
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
