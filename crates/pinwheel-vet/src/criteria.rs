//! Audit criteria, in cargo-vet's model: the built-ins `safe-to-run` and
//! `safe-to-deploy` (which implies `safe-to-run`), custom criteria declared
//! in an audits file with a description and `implies`, and the criteria of
//! imported files, named `IMPORT::NAME` in our namespace. An imported
//! criterion implies nothing of ours unless the import's `criteria-map`
//! maps it; the built-ins mean the same in every file.
//!
//! [`Criteria`] resolves every name once and holds the implies-closure, so
//! "does an audit for X satisfy a requirement of Y" is one set lookup.
//! Unknown names are refused where the store is assembled
//! ([`crate::Store::new`]); this module only knows the names it was given.

use std::collections::{BTreeMap, BTreeSet};

/// `safe-to-run`: the built-in criterion for code that may run on a
/// developer's or builder's machine.
pub const SAFE_TO_RUN: &str = "safe-to-run";
/// `safe-to-deploy`: the built-in criterion for code that may run in
/// production; implies [`SAFE_TO_RUN`].
pub const SAFE_TO_DEPLOY: &str = "safe-to-deploy";
/// The separator between an import's name and its criterion's name.
pub const IMPORT_SEPARATOR: &str = "::";

/// The built-ins, in the order messages list them, with their descriptions
/// (cargo-vet's, said of a Python sdist).
const BUILT_INS: [(&str, &str); 2] = [
    (
        SAFE_TO_DEPLOY,
        "This sdist will not introduce a serious security vulnerability to production \
         software exposed to untrusted input. Reviewed: the code that runs at build or \
         install time and the code the application imports; no unsafe use of \
         eval/exec, subprocess, ctypes or the network beyond what it documents. \
         Implies safe-to-run.",
    ),
    (
        SAFE_TO_RUN,
        "This sdist can be built, installed and run on a developer's or builder's \
         machine without surprising side effects: no hidden network access, no files \
         written outside its own, no process started that it does not document, in \
         setup.py, the build backend or the code it installs.",
    ),
];

/// Whether `name` is one of the built-in criteria.
pub fn is_built_in(name: &str) -> bool {
    BUILT_INS.iter().any(|(n, _)| *n == name)
}

/// A criterion declared in an audits file (`[criteria.NAME]`), as written:
/// `implies` names criteria of the same file (or built-ins).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CriterionDef {
    /// What an auditor certifies; shown by `vet certify`.
    pub description: String,
    /// The criteria this one implies (directly). Written as a string or a
    /// list of strings; an empty list is written as no `implies` at all.
    pub implies: Vec<String>,
}

/// Where a criterion comes from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CriterionOrigin {
    /// `safe-to-run` or `safe-to-deploy`.
    BuiltIn,
    /// Declared in our own audits file.
    Ours,
    /// Declared in the imported file of this name (the criterion's name
    /// is then `IMPORT::NAME`).
    Import(String),
}

#[derive(Clone, Debug)]
struct Known {
    description: String,
    origin: CriterionOrigin,
}

/// Every criterion the store knows, in our namespace, with the transitive
/// closure of `implies` (cargo-vet: "criteria implied by ...").
///
/// Names: built-ins as they are; ours as declared; an import's custom
/// criterion `NAME` as `IMPORT::NAME`. Edges: `safe-to-deploy` →
/// `safe-to-run`; each declared `implies` (an import's targets namespaced
/// unless built-in); each `criteria-map` entry `IMPORT::NAME` → ours.
/// Cycles are allowed and harmless (each member then implies the others).
#[derive(Clone, Debug)]
pub struct Criteria {
    known: BTreeMap<String, Known>,
    /// name → every name it implies, itself included.
    closure: BTreeMap<String, BTreeSet<String>>,
}

/// The name an imported file's criterion has in our namespace: built-ins
/// unchanged, anything else `IMPORT::NAME`.
pub fn namespaced(import: &str, name: &str) -> String {
    if is_built_in(name) {
        name.to_owned()
    } else {
        format!("{import}{IMPORT_SEPARATOR}{name}")
    }
}

impl Criteria {
    /// Resolves our own definitions, each import's definitions (`(import
    /// name, its [criteria] table)`) and the criteria maps (`IMPORT::NAME`
    /// → our criteria). Names that no definition declares are kept out of
    /// [`Criteria::is_known`] but do not fail here: the store checks every
    /// reference and says which file and entry named it.
    pub fn new<'a>(
        own: &BTreeMap<String, CriterionDef>,
        imports: impl IntoIterator<Item = (&'a str, &'a BTreeMap<String, CriterionDef>)>,
        maps: impl IntoIterator<Item = (&'a str, &'a [String])>,
    ) -> Criteria {
        let mut known = BTreeMap::new();
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (name, description) in BUILT_INS {
            known.insert(
                name.to_owned(),
                Known {
                    description: description.to_owned(),
                    origin: CriterionOrigin::BuiltIn,
                },
            );
        }
        edges
            .entry(SAFE_TO_DEPLOY.to_owned())
            .or_default()
            .insert(SAFE_TO_RUN.to_owned());
        for (name, def) in own {
            known.insert(
                name.clone(),
                Known {
                    description: def.description.clone(),
                    origin: CriterionOrigin::Ours,
                },
            );
            edges
                .entry(name.clone())
                .or_default()
                .extend(def.implies.iter().cloned());
        }
        for (import, defs) in imports {
            for (name, def) in defs {
                let full = namespaced(import, name);
                known.insert(
                    full.clone(),
                    Known {
                        description: def.description.clone(),
                        origin: CriterionOrigin::Import(import.to_owned()),
                    },
                );
                edges
                    .entry(full)
                    .or_default()
                    .extend(def.implies.iter().map(|to| namespaced(import, to)));
            }
        }
        for (from, to) in maps {
            edges
                .entry(from.to_owned())
                .or_default()
                .extend(to.iter().cloned());
        }
        let mut closure = BTreeMap::new();
        for name in known.keys() {
            let mut seen = BTreeSet::from([name.clone()]);
            let mut todo = vec![name.clone()];
            while let Some(next) = todo.pop() {
                for to in edges.get(&next).into_iter().flatten() {
                    if seen.insert(to.clone()) {
                        todo.push(to.clone());
                    }
                }
            }
            closure.insert(name.clone(), seen);
        }
        Criteria { known, closure }
    }

    /// Whether an audit for `have` satisfies a requirement of `need`:
    /// `have` is `need` or implies it, transitively. False for unknown
    /// names.
    pub fn implies(&self, have: &str, need: &str) -> bool {
        self.closure.get(have).is_some_and(|set| set.contains(need))
    }

    /// Whether any of `have` implies `need`.
    pub fn any_implies<S: AsRef<str>>(&self, have: &[S], need: &str) -> bool {
        have.iter().any(|h| self.implies(h.as_ref(), need))
    }

    /// Whether `name` is a known criterion (built-in, ours, or an import's
    /// `IMPORT::NAME`).
    pub fn is_known(&self, name: &str) -> bool {
        self.known.contains_key(name)
    }

    /// The criteria our own files may name (policy, exemptions, audits,
    /// criteria-map targets, `vet certify --criteria`): the built-ins
    /// first (`safe-to-deploy`, `safe-to-run`), then ours, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.names_where(|origin| {
            matches!(origin, CriterionOrigin::BuiltIn | CriterionOrigin::Ours)
        })
    }

    /// The criteria an imported file may name, in our namespace: the
    /// built-ins, then that import's `IMPORT::NAME`s, sorted.
    pub fn names_of_import(&self, import: &str) -> Vec<&str> {
        self.names_where(|origin| match origin {
            CriterionOrigin::BuiltIn => true,
            CriterionOrigin::Import(i) => i == import,
            CriterionOrigin::Ours => false,
        })
    }

    /// Every known name: built-ins, ours, then imports', each group sorted.
    pub fn all_names(&self) -> Vec<&str> {
        self.names_where(|_| true)
    }

    fn names_where(&self, keep: impl Fn(&CriterionOrigin) -> bool) -> Vec<&str> {
        let mut names: Vec<(&CriterionOrigin, &str)> = self
            .known
            .iter()
            .filter(|(_, k)| keep(&k.origin))
            .map(|(n, k)| (&k.origin, n.as_str()))
            .collect();
        // Built-ins in their fixed order, then by origin and name.
        names.sort_by_key(|(origin, name)| {
            let built_in_rank = BUILT_INS.iter().position(|(n, _)| n == name);
            (built_in_rank.is_none(), built_in_rank, *origin, *name)
        });
        names.into_iter().map(|(_, n)| n).collect()
    }

    /// A criterion's description (what `vet certify` shows before asking
    /// for a signature), or `None` for an unknown name.
    pub fn description(&self, name: &str) -> Option<&str> {
        self.known.get(name).map(|k| k.description.as_str())
    }

    /// Where a criterion comes from, or `None` for an unknown name.
    pub fn origin(&self, name: &str) -> Option<&CriterionOrigin> {
        self.known.get(name).map(|k| &k.origin)
    }

    /// The criteria `name` implies, transitively, without itself, sorted;
    /// empty for an unknown name.
    pub fn implied_by(&self, name: &str) -> Vec<&str> {
        self.closure
            .get(name)
            .into_iter()
            .flatten()
            .filter(|n| *n != name)
            .map(String::as_str)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(implies: &[&str]) -> CriterionDef {
        CriterionDef {
            description: "d".to_owned(),
            implies: implies.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn own(defs: &[(&str, &[&str])]) -> BTreeMap<String, CriterionDef> {
        defs.iter().map(|(n, i)| (n.to_string(), def(i))).collect()
    }

    #[test]
    fn built_ins() {
        let c = Criteria::new(&BTreeMap::new(), [], []);
        assert!(c.implies(SAFE_TO_DEPLOY, SAFE_TO_RUN));
        assert!(!c.implies(SAFE_TO_RUN, SAFE_TO_DEPLOY));
        assert!(c.implies(SAFE_TO_RUN, SAFE_TO_RUN));
        assert!(!c.implies("nope", "nope"));
        assert_eq!(c.names(), [SAFE_TO_DEPLOY, SAFE_TO_RUN]);
        assert!(c.description(SAFE_TO_DEPLOY).is_some());
        assert_eq!(c.description("nope"), None);
    }

    #[test]
    fn implies_is_transitive() {
        let c = Criteria::new(
            &own(&[("a", &["b"]), ("b", &["safe-to-deploy"]), ("z", &[])]),
            [],
            [],
        );
        assert!(c.implies("a", SAFE_TO_RUN));
        assert!(c.implies("a", "b"));
        assert!(!c.implies("b", "a"));
        assert!(!c.implies("z", SAFE_TO_RUN));
        assert_eq!(c.implied_by("a"), ["b", SAFE_TO_DEPLOY, SAFE_TO_RUN]);
        assert_eq!(c.names(), [SAFE_TO_DEPLOY, SAFE_TO_RUN, "a", "b", "z"]);
    }

    #[test]
    fn cycles_terminate() {
        let c = Criteria::new(&own(&[("a", &["b"]), ("b", &["a"])]), [], []);
        assert!(c.implies("a", "b") && c.implies("b", "a"));
    }

    #[test]
    fn imported_criteria_are_namespaced_and_mapped_only_when_asked() {
        let theirs = own(&[("reviewed", &["safe-to-run"]), ("deep", &["reviewed"])]);
        let ours = own(&[("crypto", &[])]);
        let c = Criteria::new(&ours, [("org", &theirs)], []);
        assert!(c.is_known("org::reviewed"));
        assert!(!c.is_known("reviewed"));
        assert!(c.implies("org::deep", "org::reviewed"));
        assert!(c.implies("org::deep", SAFE_TO_RUN), "built-ins are shared");
        assert!(!c.implies("org::deep", "crypto"));
        assert_eq!(
            c.names_of_import("org"),
            [SAFE_TO_DEPLOY, SAFE_TO_RUN, "org::deep", "org::reviewed"]
        );
        assert_eq!(c.names(), [SAFE_TO_DEPLOY, SAFE_TO_RUN, "crypto"]);

        let map = ["crypto".to_owned()];
        let c = Criteria::new(&ours, [("org", &theirs)], [("org::reviewed", &map[..])]);
        assert!(c.implies("org::reviewed", "crypto"));
        assert!(
            c.implies("org::deep", "crypto"),
            "through the import's implies"
        );
        assert!(!c.implies("crypto", "org::reviewed"));
    }
}
