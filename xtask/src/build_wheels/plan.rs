//! Which build backends a source tree needs, and when it can be built.
//!
//! A tree's needs are its build requirements (PEP 518 `requires`, then
//! what the backend's `get_requires_for_build_wheel` hook adds), closed over
//! the runtime dependencies (`Requires-Dist`, with the requested extras) of
//! the wheels that meet them, with PEP 508 markers evaluated for the target
//! environment. Every need must be met by the one version of that package in
//! the bootstrap set; the tree is ready once all of them are built. The
//! command builds in waves: everything ready, then what became ready. Pure.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use pep440_rs::Version;
use pep508_rs::{ExtraName, MarkerEnvironment, PackageName, Requirement, VersionOrUrl};
use pinwheel_pypa::core_metadata::Headers;

/// A member of the bootstrap set, as the planner sees it.
#[derive(Debug, Clone)]
pub struct Member {
    pub version: Version,
    /// The built wheel's `Requires-Dist`; None until it is built.
    pub runtime: Option<Vec<Requirement>>,
}

/// The bootstrap set: one version per (normalized) name.
#[derive(Debug, Clone, Default)]
pub struct BuildSet {
    pub members: BTreeMap<PackageName, Member>,
}

/// What a tree needs right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Needs {
    /// Everything is built: these members (the closure) make its build
    /// environment.
    Ready(BTreeSet<PackageName>),
    /// These members are not built yet.
    Waiting(BTreeSet<PackageName>),
}

/// A requirement the bootstrap set cannot meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmet {
    /// The requirement as written, e.g. `tomlkit>=0.11`.
    pub requirement: String,
    /// How it was reached: the packages whose runtime dependencies led to
    /// it, outermost first (empty for a direct build requirement).
    pub via: Vec<String>,
    /// The version the set holds, when it holds the package at all.
    pub found: Option<Version>,
}

impl fmt::Display for Unmet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.found {
            None => write!(
                f,
                "build requirement `{}` is not in the bootstrap set",
                self.requirement
            )?,
            Some(v) => write!(
                f,
                "build requirement `{}` is not met by the bootstrap set's version {v}",
                self.requirement
            )?,
        }
        if !self.via.is_empty() {
            write!(f, " (needed by {})", self.via.join(" → "))?;
        }
        Ok(())
    }
}

impl BuildSet {
    /// Whether `version` of `name` is the set's member.
    pub fn holds(&self, name: &PackageName, version: &Version) -> bool {
        self.members
            .get(name)
            .is_some_and(|m| &m.version == version)
    }

    /// The needs of a tree with build requirements `requires`.
    pub fn needs(&self, requires: &[Requirement], env: &MarkerEnvironment) -> Result<Needs, Unmet> {
        let mut closure = BTreeSet::new();
        let mut waiting = BTreeSet::new();
        let mut seen: BTreeSet<(PackageName, Vec<ExtraName>)> = BTreeSet::new();
        let mut queue: VecDeque<(Requirement, Vec<String>)> =
            requires.iter().map(|r| (r.clone(), Vec::new())).collect();
        while let Some((req, via)) = queue.pop_front() {
            if !req.marker.evaluate(env, &[]) {
                continue;
            }
            let Some(member) = self.members.get(&req.name) else {
                return Err(Unmet {
                    requirement: req.to_string(),
                    via,
                    found: None,
                });
            };
            let fits = match &req.version_or_url {
                None => true,
                Some(VersionOrUrl::VersionSpecifier(spec)) => spec.contains(&member.version),
                Some(VersionOrUrl::Url(_)) => false,
            };
            if !fits {
                return Err(Unmet {
                    requirement: req.to_string(),
                    via,
                    found: Some(member.version.clone()),
                });
            }
            let mut extras = req.extras.clone();
            extras.sort();
            if !seen.insert((req.name.clone(), extras.clone())) {
                continue;
            }
            closure.insert(req.name.clone());
            match &member.runtime {
                None => {
                    waiting.insert(req.name.clone());
                }
                Some(runtime) => {
                    let mut via = via.clone();
                    via.push(format!("{} {}", req.name, member.version));
                    for dep in runtime {
                        if dep.marker.evaluate(env, &extras) {
                            // The extra has been applied; the dependency's
                            // own marker is settled.
                            let mut dep = dep.clone();
                            dep.marker = pep508_rs::MarkerTree::TRUE;
                            queue.push_back((dep, via.clone()));
                        }
                    }
                }
            }
        }
        if waiting.is_empty() {
            Ok(Needs::Ready(closure))
        } else {
            Ok(Needs::Waiting(waiting))
        }
    }
}

/// `Requires-Dist` of a wheel's `METADATA`, each value with continuation
/// lines joined, read as pip reads the header block
/// ([`Headers::parse_lenient`]). The callers hand it METADATA that
/// [`pinwheel_archive::wheel::parse_metadata`] has accepted (a wheel's, or
/// its PEP 658 sidecar in the signed list), which the strict parser reads
/// the same way.
pub fn requires_dist(metadata: &str) -> Vec<String> {
    Headers::parse_lenient(metadata)
        .get_all("Requires-Dist")
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn env() -> MarkerEnvironment {
        MarkerEnvironment::try_from(pep508_rs::MarkerEnvironmentBuilder {
            implementation_name: "cpython",
            implementation_version: "3.11.2",
            os_name: "posix",
            platform_machine: "x86_64",
            platform_python_implementation: "CPython",
            platform_release: "",
            platform_system: "Linux",
            platform_version: "",
            python_full_version: "3.11.2",
            python_version: "3.11",
            sys_platform: "linux",
        })
        .unwrap()
    }

    fn reqs(list: &[&str]) -> Vec<Requirement> {
        list.iter()
            .map(|r| Requirement::from_str(r).unwrap())
            .collect()
    }

    fn name(s: &str) -> PackageName {
        PackageName::from_str(s).unwrap()
    }

    fn set(members: &[(&str, &str, Option<&[&str]>)]) -> BuildSet {
        BuildSet {
            members: members
                .iter()
                .map(|(n, v, rt)| {
                    (
                        name(n),
                        Member {
                            version: Version::from_str(v).unwrap(),
                            runtime: rt.map(reqs),
                        },
                    )
                })
                .collect(),
        }
    }

    fn names(list: &[&str]) -> BTreeSet<PackageName> {
        list.iter().map(|n| name(n)).collect()
    }

    #[test]
    fn closure_over_runtime_dependencies() {
        let s = set(&[
            (
                "hatchling",
                "1.27.0",
                Some(&[
                    "packaging>=24.2",
                    "pathspec>=0.10.1",
                    "tomli>=1.2.2; python_version < '3.11'",
                ]),
            ),
            ("packaging", "26.3", Some(&[])),
            ("pathspec", "1.1.1", Some(&[])),
            ("flit-core", "3.12.0", None),
        ]);
        assert_eq!(
            s.needs(&reqs(&["hatchling>=1.1.0"]), &env()).unwrap(),
            Needs::Ready(names(&["hatchling", "packaging", "pathspec"]))
        );
        assert_eq!(
            s.needs(&reqs(&["flit_core>=3.2,<4"]), &env()).unwrap(),
            Needs::Waiting(names(&["flit-core"]))
        );
        assert_eq!(s.needs(&[], &env()).unwrap(), Needs::Ready(BTreeSet::new()));
    }

    #[test]
    fn extras_and_markers() {
        let s = set(&[
            (
                "setuptools-scm",
                "8.3.1",
                Some(&[
                    "packaging>=20",
                    "tomli>=1; python_version < '3.11'",
                    "rich; extra == 'rich'",
                ]),
            ),
            ("packaging", "26.3", None),
        ]);
        // The `toml` extra adds nothing; `rich` is only for its extra.
        assert_eq!(
            s.needs(
                &reqs(&[
                    "setuptools-scm[toml]>=8.0",
                    "tomli; python_full_version < '3.11.0'"
                ]),
                &env()
            )
            .unwrap(),
            Needs::Waiting(names(&["packaging"]))
        );
        let err = s
            .needs(&reqs(&["setuptools-scm[rich]"]), &env())
            .unwrap_err();
        assert_eq!(err.requirement, "rich");
        assert_eq!(err.via, ["setuptools-scm 8.3.1"]);
        assert_eq!(
            err.to_string(),
            "build requirement `rich` is not in the bootstrap set (needed by setuptools-scm 8.3.1)"
        );
    }

    #[test]
    fn adversarial_missing_requirement_is_named() {
        let s = set(&[("setuptools", "84.0.0", Some(&[]))]);
        let err = s
            .needs(
                &reqs(&["setuptools>=61", "hatch-fancy-pypi-readme>=22"]),
                &env(),
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "build requirement `hatch-fancy-pypi-readme>=22` is not in the bootstrap set"
        );
    }

    #[test]
    fn adversarial_version_not_met() {
        let s = set(&[("setuptools", "84.0.0", Some(&[]))]);
        let err = s.needs(&reqs(&["setuptools>=68,<84"]), &env()).unwrap_err();
        assert_eq!(err.found, Some(Version::from_str("84.0.0").unwrap()));
        assert!(
            err.to_string()
                .contains("not met by the bootstrap set's version 84.0.0"),
            "{err}"
        );
    }

    #[test]
    fn name_normalization() {
        let s = set(&[("flit-core", "3.12.0", Some(&[]))]);
        assert_eq!(
            s.needs(&reqs(&["Flit_Core >=3.11,<5"]), &env()).unwrap(),
            Needs::Ready(names(&["flit-core"]))
        );
    }

    #[test]
    fn cycles_terminate() {
        let s = set(&[("a", "1", Some(&["b"])), ("b", "1", Some(&["a[x]", "a"]))]);
        assert_eq!(
            s.needs(&reqs(&["a"]), &env()).unwrap(),
            Needs::Ready(names(&["a", "b"]))
        );
    }

    #[test]
    fn metadata_requires_dist() {
        let metadata = "Metadata-Version: 2.4\nName: hatchling\nRequires-Dist: packaging>=24.2\nrequires-dist: pathspec>=0.10.1\nRequires-Dist: tomli>=1.2.2;\n  python_version < '3.11'\nSummary: x\n\nRequires-Dist: not-a-header\n";
        assert_eq!(
            requires_dist(metadata),
            [
                "packaging>=24.2",
                "pathspec>=0.10.1",
                "tomli>=1.2.2; python_version < '3.11'"
            ]
        );
    }
}
