//! What the decision says about a pin: the evidence (audits, violations,
//! exemptions, as the store indexes them), the chain that vets each
//! criterion, what is missing and what would help, the violations that
//! fail it, and the counts for a summary line.

use std::collections::BTreeMap;
use std::fmt;

use pep440_rs::{Version, VersionSpecifiers};
use pinwheel_trust::hash::Sha256;

use super::{Node, Pin};
use crate::store::AuditKind;

/// Which file an audit, violation or exemption comes from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    /// Our `audits.toml` or `config.toml`.
    Ours,
    /// The imported file of this name.
    Import(String),
}

impl fmt::Display for Origin {
    /// `ours`, or the import's name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Ours => f.write_str("ours"),
            Origin::Import(name) => f.write_str(name),
        }
    }
}

/// What a piece of evidence says: an audit entry's kind, or an exemption.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvidenceKind {
    /// A whole-version audit of the sdist (version, sha256): a root.
    Full {
        /// The audited version.
        version: Version,
        /// The audited sdist's digest.
        sha256: Sha256,
    },
    /// A delta audit: an edge from (from, from_sha256) to (to, sha256).
    Delta {
        /// The FROM version.
        from: Version,
        /// The FROM sdist's digest.
        from_sha256: Sha256,
        /// The TO version.
        to: Version,
        /// The TO sdist's digest.
        sha256: Sha256,
    },
    /// A violation: every upload of these versions fails the criteria.
    Violation {
        /// The versions it names (PEP 440).
        specifiers: VersionSpecifiers,
    },
    /// An exemption (`config.toml`) of the sdist (version, sha256): a root.
    Exemption {
        /// The exempted version.
        version: Version,
        /// The exempted sdist's digest.
        sha256: Sha256,
    },
}

impl From<&AuditKind> for EvidenceKind {
    fn from(kind: &AuditKind) -> EvidenceKind {
        match kind.clone() {
            AuditKind::Full { version, sha256 } => EvidenceKind::Full { version, sha256 },
            AuditKind::Delta {
                from,
                from_sha256,
                to,
                sha256,
            } => EvidenceKind::Delta {
                from,
                from_sha256,
                to,
                sha256,
            },
            AuditKind::Violation { specifiers } => EvidenceKind::Violation { specifiers },
        }
    }
}

/// An audit, violation or exemption of one package, as the store indexes
/// it: criteria in our namespace, and where it is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// Ours or which import's.
    pub origin: Origin,
    /// The file, as the caller named it.
    pub path: String,
    /// The entry, e.g. `audits.idna[2]`, `exemptions.requests[1]`.
    pub entry: String,
    /// The auditors; empty for an exemption.
    pub who: Vec<String>,
    /// In our namespace (`IMPORT::NAME` for an import's own criteria).
    pub criteria: Vec<String>,
    /// What it says about which sdists.
    pub kind: EvidenceKind,
    /// The entry's `notes`.
    pub notes: Option<String>,
}

impl Evidence {
    /// One phrase: `audited by Jane Doe`, `exempted`, `3.7 -> 3.8 by
    /// John`, `violation >=1.0, <1.3 by Ann`, with ` (imported from
    /// example-org)` for an import.
    pub fn describe(&self) -> String {
        let who = self.who.join(", ");
        let what = match &self.kind {
            EvidenceKind::Full { .. } => format!("audited by {who}"),
            EvidenceKind::Delta { from, to, .. } => format!("{from} -> {to} by {who}"),
            EvidenceKind::Violation { specifiers } => format!("violation {specifiers} by {who}"),
            EvidenceKind::Exemption { .. } => "exempted".to_owned(),
        };
        match &self.origin {
            Origin::Ours => what,
            Origin::Import(import) => format!("{what} (imported from {import})"),
        }
    }

    /// Whether this is an exemption (not an audit).
    pub fn is_exemption(&self) -> bool {
        matches!(self.kind, EvidenceKind::Exemption { .. })
    }
}

/// How one required criterion is met: the chain from its root (a
/// whole-version audit or an exemption) through delta audits to the pin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vetting {
    /// The required criterion.
    pub criterion: String,
    /// Root first; at least one element.
    pub chain: Vec<Evidence>,
}

impl Vetting {
    /// `audited by Jane Doe`, `exempted`, or `delta chain from 3.7
    /// (audited by Jane Doe): 3.7 -> 3.8 by John, 3.8 -> 3.20 by Ann`.
    pub fn describe(&self) -> String {
        let Some((root, deltas)) = self.chain.split_first() else {
            return "no chain".to_owned();
        };
        if deltas.is_empty() {
            return root.describe();
        }
        let from = match &root.kind {
            EvidenceKind::Full { version, .. } | EvidenceKind::Exemption { version, .. } => {
                version.to_string()
            }
            _ => "?".to_owned(),
        };
        let steps: Vec<String> = deltas.iter().map(Evidence::describe).collect();
        format!(
            "delta chain from {from} ({}): {}",
            root.describe(),
            steps.join(", ")
        )
    }
}

/// How a vetted pin is vetted, for a summary line (cargo-vet's "fully
/// audited, partially audited, exempted").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum VettedClass {
    /// Every chain starts at an audit.
    Audited,
    /// Some chain starts at an exemption and goes on through delta audits
    /// (and none is an exemption alone).
    PartiallyAudited,
    /// Some criterion is met by an exemption of this very sdist.
    Exempted,
}

/// A pin that meets every required criterion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vetted {
    /// One per required criterion, sorted by criterion.
    pub how: Vec<Vetting>,
}

impl Vetted {
    /// Audited, partially audited or exempted (the weakest of its chains).
    pub fn class(&self) -> VettedClass {
        let mut class = VettedClass::Audited;
        for v in &self.how {
            if v.chain.first().is_some_and(Evidence::is_exemption) {
                let this = if v.chain.len() == 1 {
                    VettedClass::Exempted
                } else {
                    VettedClass::PartiallyAudited
                };
                class = class.max(this);
            }
        }
        class
    }

    /// One line: the chain when every criterion has the same one, else
    /// `criterion: chain; criterion: chain`.
    pub fn describe(&self) -> String {
        match self.how.as_slice() {
            [] => "no criteria required".to_owned(),
            [first, rest @ ..] if rest.iter().all(|v| v.chain == first.chain) => first.describe(),
            all => all
                .iter()
                .map(|v| format!("{}: {}", v.criterion, v.describe()))
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

/// A pin that misses some required criteria, and what would help.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing {
    /// The required criteria no chain reaches, sorted.
    pub criteria: Vec<String>,
    /// For each missing criterion: the sdists of this package that ARE
    /// vetted for it (reachable from a root), sorted by version. A delta
    /// audit from one of them to the pin closes the gap; the caller picks
    /// the smallest diff.
    pub reachable: BTreeMap<String, Vec<Node>>,
    /// Audits and exemptions of the pin's version under ANOTHER sha256
    /// (whole-version audits, exemptions, delta audits ending there): the
    /// sdist was re-uploaded or differs from the one audited. The caller
    /// must say so: a review of the other upload does not cover this one.
    pub other_uploads: Vec<Evidence>,
}

/// A pin that a violation fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violated {
    /// The violation entry (ours or imported; `origin` says which).
    pub evidence: Evidence,
    /// The required criteria it fails, sorted.
    pub fails: Vec<String>,
}

/// The decision for one pin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every required criterion is met.
    Vetted(Vetted),
    /// Some required criterion is not met (and no violation applies).
    Missing(Missing),
    /// Failed by violations, whatever the audits say; at least one.
    Violation(Vec<Violated>),
}

impl Verdict {
    /// One line for a report: `audited by …`, `missing safe-to-deploy`
    /// (with `; sha256 differs from the audited upload of 3.20` when
    /// [`Missing::other_uploads`] is not empty), `violation: … (entry)`.
    pub fn describe(&self) -> String {
        match self {
            Verdict::Vetted(v) => v.describe(),
            Verdict::Missing(m) => {
                let mut line = format!("missing {}", m.criteria.join(", "));
                if !m.other_uploads.is_empty() {
                    let places: Vec<String> = m
                        .other_uploads
                        .iter()
                        .map(|e| format!("{}: {}", e.path, e.entry))
                        .collect();
                    line.push_str(&format!(
                        "; another upload of this version (another sha256) is audited or exempted: {}",
                        places.join(", ")
                    ));
                }
                line
            }
            Verdict::Violation(list) => list
                .iter()
                .map(|v| {
                    format!(
                        "fails {}: {} ({}: {})",
                        v.fails.join(", "),
                        v.evidence.describe(),
                        v.evidence.path,
                        v.evidence.entry
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

/// Counts for a summary line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Vetted pins whose chains all start at audits.
    pub audited: usize,
    /// Vetted pins with a chain from an exemption through delta audits.
    pub partially_audited: usize,
    /// Vetted pins with a criterion met by an exemption alone.
    pub exempted: usize,
    /// Pins missing some criterion.
    pub missing: usize,
    /// Pins failed by a violation.
    pub violations: usize,
}

impl Tally {
    /// Counts the verdicts of [`crate::decide`].
    pub fn of(decisions: &[(Pin, Verdict)]) -> Tally {
        let mut t = Tally::default();
        for (_, verdict) in decisions {
            match verdict {
                Verdict::Vetted(v) => match v.class() {
                    VettedClass::Audited => t.audited += 1,
                    VettedClass::PartiallyAudited => t.partially_audited += 1,
                    VettedClass::Exempted => t.exempted += 1,
                },
                Verdict::Missing(_) => t.missing += 1,
                Verdict::Violation(_) => t.violations += 1,
            }
        }
        t
    }

    /// Whether every pin is vetted.
    pub fn ok(&self) -> bool {
        self.missing == 0 && self.violations == 0
    }
}

impl fmt::Display for Tally {
    /// `vetted 12 (9 audited, 1 partially audited, 2 exempted); 1 missing; 0 violations`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "vetted {} ({} audited, {} partially audited, {} exempted); {} missing; {} violations",
            self.audited + self.partially_audited + self.exempted,
            self.audited,
            self.partially_audited,
            self.exempted,
            self.missing,
            self.violations
        )
    }
}
