//! The decision (cargo-vet's resolver, for pinned sdists): for each pin
//! and each criterion it must meet, is there a chain of audits from a
//! trusted root to exactly this sdist?
//!
//! - A node is (normalized name, PEP 440 version, sdist sha256); versions
//!   compare per PEP 440 ("3.7" is "3.7.0").
//! - Roots: whole-version audits and exemptions whose criteria imply the
//!   needed one. Edges: delta audits whose criteria imply it, directed
//!   FROM → TO, matched on version AND sha256 at both ends. A re-upload of
//!   an audited version under another sha256 is not covered, and
//!   [`Missing::other_uploads`] says so.
//! - Imported audits count like ours once their criteria are namespaced
//!   (`IMPORT::NAME`) and mapped (`criteria-map`).
//! - Violations win over audits and exemptions: a violation (ours or
//!   imported) whose specifier set contains the pin's version fails each
//!   required criterion R for which some violated criterion V has R
//!   implies V or V implies R. So a violation of `safe-to-run` fails a
//!   `safe-to-deploy` requirement (deploying implies running), and a
//!   violation of `safe-to-deploy` fails a `safe-to-run` requirement too
//!   (cargo-vet's rule; the conservative reading: the auditor found
//!   something wrong and we do not guess how far it reaches). Unrelated
//!   criteria (neither implies the other) are not failed.
//! - Among chains, one from an audit is preferred to one from an
//!   exemption; then the shortest (breadth-first, deterministic order).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use pep440_rs::Version;
use pep508_rs::PackageName;
use pinwheel_trust::hash::Sha256;

use crate::store::{Policy, Store, VetConfig};

mod verdict;

pub use self::verdict::{
    Evidence, EvidenceKind, Missing, Origin, Tally, Verdict, Vetted, VettedClass, Vetting, Violated,
};

/// An sdist: (normalized name, version, sha256).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Node {
    /// PEP 503 normalized.
    pub name: PackageName,
    /// Compared per PEP 440.
    pub version: Version,
    /// The sdist's digest.
    pub sha256: Sha256,
}

impl fmt::Display for Node {
    /// `idna 3.20`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.version)
    }
}

/// Who pins an sdist.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Consumer {
    /// An application of `packaging/pinwheel.toml`, by name.
    App(String),
    /// The bootstrap set (`packaging/bootstrap/uv.lock`).
    BuildBackends,
}

impl fmt::Display for Consumer {
    /// The app's name, or `build backends`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Consumer::App(name) => f.write_str(name),
            Consumer::BuildBackends => f.write_str("build backends"),
        }
    }
}

impl VetConfig {
    /// The criteria `name` must meet when `consumer` pins it (cargo-vet's
    /// policy): the consumer's `dependency-criteria` override, else its
    /// `criteria`, else `safe-to-deploy`.
    pub fn required(&self, consumer: &Consumer, name: &PackageName) -> BTreeSet<String> {
        let policy = match consumer {
            Consumer::App(app) => self.policy.get(app),
            Consumer::BuildBackends => self.build_backends.as_ref(),
        };
        policy.cloned().unwrap_or_default().required(name)
    }

    fn policy_of(&self, consumer: &Consumer) -> Option<&Policy> {
        match consumer {
            Consumer::App(app) => self.policy.get(app),
            Consumer::BuildBackends => self.build_backends.as_ref(),
        }
    }
}

/// A pinned sdist, the criteria it must meet (the union over its
/// consumers), and who pins it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pin {
    /// The pinned sdist.
    pub node: Node,
    /// The criteria it must meet (names our files may use).
    pub required: BTreeSet<String>,
    /// The applications and/or build backends that pin it.
    pub used_by: BTreeSet<Consumer>,
}

/// Gathers pins from (sdist, consumer) pairs: one pin per distinct node,
/// its required criteria the union of each consumer's policy for it.
/// Sorted by name, version, sha256.
pub fn pins(config: &VetConfig, uses: impl IntoIterator<Item = (Node, Consumer)>) -> Vec<Pin> {
    let mut by_node: BTreeMap<Node, Pin> = BTreeMap::new();
    for (node, consumer) in uses {
        let required = config.required(&consumer, &node.name);
        let pin = by_node.entry(node.clone()).or_insert_with(|| Pin {
            node,
            required: BTreeSet::new(),
            used_by: BTreeSet::new(),
        });
        pin.required.extend(required);
        pin.used_by.insert(consumer);
    }
    by_node.into_values().collect()
}

/// Decides every pin (cargo-vet's `check`); sorted by name, version,
/// sha256. See the module docs for the rules.
pub fn decide(store: &Store, pins: &[Pin]) -> Vec<(Pin, Verdict)> {
    let mut pins = pins.to_vec();
    pins.sort_by(|a, b| a.node.cmp(&b.node));
    pins.into_iter()
        .map(|pin| {
            let verdict = decide_one(store, &pin);
            (pin, verdict)
        })
        .collect()
}

fn decide_one(store: &Store, pin: &Pin) -> Verdict {
    let criteria = store.criteria();
    let evidence = store.evidence(&pin.node.name);
    let mut violated = Vec::new();
    for e in evidence {
        let EvidenceKind::Violation { specifiers } = &e.kind else {
            continue;
        };
        if !specifiers.contains(&pin.node.version) {
            continue;
        }
        let fails: Vec<String> = pin
            .required
            .iter()
            .filter(|r| {
                e.criteria
                    .iter()
                    .any(|v| criteria.implies(r, v) || criteria.implies(v, r))
            })
            .cloned()
            .collect();
        if !fails.is_empty() {
            violated.push(Violated {
                evidence: e.clone(),
                fails,
            });
        }
    }
    if !violated.is_empty() {
        return Verdict::Violation(violated);
    }
    let here = (pin.node.version.clone(), pin.node.sha256);
    let mut how = Vec::new();
    let mut missing = Vec::new();
    let mut reachable = BTreeMap::new();
    for need in &pin.required {
        let audits_only = search(store, evidence, need, false);
        let found = audits_only
            .chain_to(&here)
            .or_else(|| search(store, evidence, need, true).chain_to(&here));
        match found {
            Some(chain) => how.push(Vetting {
                criterion: need.clone(),
                chain,
            }),
            None => {
                missing.push(need.clone());
                let all = search(store, evidence, need, true);
                let nodes = all
                    .reached
                    .keys()
                    .map(|(version, sha256)| Node {
                        name: pin.node.name.clone(),
                        version: version.clone(),
                        sha256: *sha256,
                    })
                    .collect();
                reachable.insert(need.clone(), nodes);
            }
        }
    }
    if missing.is_empty() {
        return Verdict::Vetted(Vetted { how });
    }
    let other_uploads = evidence
        .iter()
        .filter(|e| match &e.kind {
            EvidenceKind::Full { version, sha256 }
            | EvidenceKind::Exemption { version, sha256 }
            | EvidenceKind::Delta {
                to: version,
                sha256,
                ..
            } => *version == pin.node.version && *sha256 != pin.node.sha256,
            EvidenceKind::Violation { .. } => false,
        })
        .cloned()
        .collect();
    Verdict::Missing(Missing {
        criteria: missing,
        reachable,
        other_uploads,
    })
}

type Key = (Version, Sha256);

/// The nodes reachable for one criterion, each with the evidence that
/// reached it and the node it came from (`None` at a root).
struct Reach<'a> {
    reached: BTreeMap<Key, (&'a Evidence, Option<Key>)>,
}

impl Reach<'_> {
    fn chain_to(&self, target: &Key) -> Option<Vec<Evidence>> {
        let mut chain = Vec::new();
        let mut at = target.clone();
        loop {
            let (evidence, prev) = self.reached.get(&at)?;
            chain.push((*evidence).clone());
            match prev {
                Some(prev) => at = prev.clone(),
                None => break,
            }
        }
        chain.reverse();
        Some(chain)
    }
}

/// Breadth-first from the roots (whole-version audits first, then, when
/// allowed, exemptions) along delta audits, all filtered to those whose
/// criteria imply `need`.
fn search<'a>(store: &Store, evidence: &'a [Evidence], need: &str, exemptions: bool) -> Reach<'a> {
    let criteria = store.criteria();
    let relevant: Vec<&Evidence> = evidence
        .iter()
        .filter(|e| criteria.any_implies(&e.criteria, need))
        .collect();
    let mut reached: BTreeMap<Key, (&Evidence, Option<Key>)> = BTreeMap::new();
    let mut queue = VecDeque::new();
    let roots = relevant
        .iter()
        .filter(|e| matches!(e.kind, EvidenceKind::Full { .. }))
        .chain(relevant.iter().filter(|e| exemptions && e.is_exemption()));
    for e in roots {
        if let EvidenceKind::Full { version, sha256 }
        | EvidenceKind::Exemption { version, sha256 } = &e.kind
        {
            let key = (version.clone(), *sha256);
            if !reached.contains_key(&key) {
                reached.insert(key.clone(), (e, None));
                queue.push_back(key);
            }
        }
    }
    while let Some(at) = queue.pop_front() {
        for e in &relevant {
            if let EvidenceKind::Delta {
                from,
                from_sha256,
                to,
                sha256,
            } = &e.kind
            {
                if *from == at.0 && *from_sha256 == at.1 {
                    let key = (to.clone(), *sha256);
                    if !reached.contains_key(&key) {
                        reached.insert(key.clone(), (e, Some(at.clone())));
                        queue.push_back(key);
                    }
                }
            }
        }
    }
    Reach { reached }
}

/// Advice that fails nothing (cargo-vet's suggestions to prune): our
/// audits and exemptions of packages no pin uses, exemptions of sdists not
/// pinned or no longer needed (audits cover the pin), and
/// `dependency-criteria` for packages the consumer does not pin. One line
/// each, naming file and entry; sorted.
pub fn warnings(store: &Store, pins: &[Pin]) -> Vec<String> {
    let mut out = Vec::new();
    let pinned: BTreeMap<&PackageName, Vec<&Pin>> =
        pins.iter().fold(BTreeMap::new(), |mut map, pin| {
            map.entry(&pin.node.name).or_insert_with(Vec::new).push(pin);
            map
        });
    let own = store.own();
    for name in own.value.audits.keys() {
        if !pinned.contains_key(name) {
            out.push(format!(
                "{}: audits.{name}: no application or build backend pins {name}",
                own.path
            ));
        }
    }
    let config = store.config();
    let decisions = decide(store, pins);
    for (name, list) in &config.value.exemptions {
        let Some(pins_of_name) = pinned.get(name) else {
            out.push(format!(
                "{}: exemptions.{name}: no application or build backend pins {name}",
                config.path
            ));
            continue;
        };
        for (i, e) in list.iter().enumerate() {
            let entry = format!("exemptions.{name}[{}]", i + 1);
            let pin = pins_of_name
                .iter()
                .find(|p| p.node.version == e.version && p.node.sha256 == e.sha256);
            let Some(pin) = pin else {
                let versions: Vec<String> = pins_of_name
                    .iter()
                    .map(|p| p.node.version.to_string())
                    .collect();
                out.push(format!(
                    "{}: {entry}: {name} {} with this sha256 is not pinned (pinned: {}); remove the exemption",
                    config.path,
                    e.version,
                    versions.join(", ")
                ));
                continue;
            };
            let verdict = decisions
                .iter()
                .find(|(p, _)| p.node == pin.node)
                .map(|(_, v)| v);
            if let Some(Verdict::Vetted(v)) = verdict {
                let uses_exemption = v
                    .how
                    .iter()
                    .flat_map(|h| &h.chain)
                    .any(|ev| ev.is_exemption() && ev.path == config.path && ev.entry == entry);
                if !uses_exemption {
                    out.push(format!(
                        "{}: {entry}: not needed: audits cover {}; remove the exemption",
                        config.path, pin.node
                    ));
                }
            }
        }
    }
    let policies = config
        .value
        .policy
        .keys()
        .map(|app| Consumer::App(app.clone()))
        .chain(
            config
                .value
                .build_backends
                .is_some()
                .then_some(Consumer::BuildBackends),
        );
    for consumer in policies {
        let Some(policy) = config.value.policy_of(&consumer) else {
            continue;
        };
        let entry = match &consumer {
            Consumer::App(app) => format!("policy.{}", crate::store::key(app)),
            Consumer::BuildBackends => "build-backends".to_owned(),
        };
        for name in policy.dependency_criteria.keys() {
            let used = pinned
                .get(name)
                .is_some_and(|ps| ps.iter().any(|p| p.used_by.contains(&consumer)));
            if !used {
                out.push(format!(
                    "{}: {entry}: dependency-criteria.{name}: {consumer} does not pin {name}",
                    config.path
                ));
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests;
