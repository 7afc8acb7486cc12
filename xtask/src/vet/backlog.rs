//! What `vet` prints: the tally, and for each pin that is not vetted the
//! smallest review that would close it — a delta from a version already
//! vetted for the missing criteria, or an inspection of the whole sdist,
//! whichever has fewer lines to read (`pinwheel_vet::diff::line_count`:
//! inserted plus deleted lines of the text files) — with the commands to
//! read it and to record it; and the backlog, the sum of those reviews.
//! Sizes need the sdists: cached ones are read, missing ones fetched by
//! sha256 unless offline (then the size is unknown and the review is the
//! delta from the newest vetted version below, else an inspection).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::Context;

use super::pins::{self, Pinned};
use super::sources::{self, Network, Unpacked};
use crate::config::Config;
use pinwheel_trust::hash::Sha256;
use pinwheel_vet::{diff, Missing, Node, Pin, Store, Tally, Verdict, Vetted, Violated};

/// The review that would close a gap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// The vetted version to diff from; `None`: inspect the whole sdist.
    pub from: Option<Node>,
    /// Lines to read; `None` when the sdists could not be had.
    pub lines: Option<u64>,
}

/// A pin that is not vetted.
#[derive(Debug, Clone)]
pub struct Gap {
    pub pin: Pin,
    pub missing: Missing,
    pub review: Review,
    pub pinned_by: String,
    /// Why the size is unknown, when it is; or, when it is known, why a
    /// candidate delta could not be sized.
    pub unknown: Option<String>,
}

/// The outcome of `vet`.
pub struct Report {
    pub tally: Tally,
    pub total: usize,
    pub vetted: Vec<(Pin, Vetted)>,
    pub missing: Vec<Gap>,
    pub violations: Vec<(Pin, Vec<Violated>, String)>,
    /// (name, version) → how many sdists of it this repository records
    /// (pins and evidence): commands add `--from-sha256`/`--to-sha256`
    /// when there are several.
    uploads: BTreeMap<(String, String), usize>,
}

/// The unpacked sdists read so far, by sha256.
struct Trees<'a> {
    config: &'a Config,
    network: Network,
    unpacked: BTreeMap<Sha256, Result<Unpacked, String>>,
}

impl Trees<'_> {
    fn get(&mut self, node: &Node) -> Result<&Unpacked, String> {
        if !self.unpacked.contains_key(&node.sha256) {
            let got = (|| -> anyhow::Result<Unpacked> {
                let sdist = sources::sdist(
                    self.config,
                    &node.name,
                    &node.version,
                    &node.sha256,
                    self.network,
                )?
                .context("not cached (offline)")?;
                sources::unpack(&self.config.root, &sdist)
            })()
            .map_err(|err| format!("{} {}: {err:#}", node.name, node.version));
            self.unpacked.insert(node.sha256, got);
        }
        match self.unpacked.get(&node.sha256) {
            Some(Ok(u)) => Ok(u),
            Some(Err(e)) => Err(e.clone()),
            None => Err("not read".to_owned()),
        }
    }
}

impl Report {
    pub fn new(
        config: &Config,
        store: &Store,
        pinned: &[Pinned],
        decided: &[(Pin, Verdict)],
        network: Network,
    ) -> anyhow::Result<Report> {
        let users: BTreeMap<Node, String> = pinned
            .iter()
            .map(|p| (p.node(), pins::describe_users(&p.users)))
            .collect();
        let mut uploads: BTreeMap<(String, String), std::collections::BTreeSet<Sha256>> =
            BTreeMap::new();
        for p in pinned {
            uploads
                .entry((p.name.to_string(), p.version.to_string()))
                .or_default()
                .insert(p.sha256);
        }
        let mut trees = Trees {
            config,
            network,
            unpacked: BTreeMap::new(),
        };
        let mut report = Report {
            tally: Tally::of(decided),
            total: decided.len(),
            vetted: Vec::new(),
            missing: Vec::new(),
            violations: Vec::new(),
            uploads: BTreeMap::new(),
        };
        for (pin, verdict) in decided {
            let pinned_by = users.get(&pin.node).cloned().unwrap_or_default();
            match verdict {
                Verdict::Vetted(v) => report.vetted.push((pin.clone(), v.clone())),
                Verdict::Violation(list) => {
                    report
                        .violations
                        .push((pin.clone(), list.clone(), pinned_by))
                }
                Verdict::Missing(missing) => {
                    for evidence in store.evidence(&pin.node.name) {
                        if let pinwheel_vet::EvidenceKind::Full { version, sha256 }
                        | pinwheel_vet::EvidenceKind::Exemption { version, sha256 } =
                            &evidence.kind
                        {
                            uploads
                                .entry((pin.node.name.to_string(), version.to_string()))
                                .or_default()
                                .insert(*sha256);
                        }
                    }
                    let (review, unknown) = smallest_review(&mut trees, &pin.node, missing);
                    report.missing.push(Gap {
                        pin: pin.clone(),
                        missing: missing.clone(),
                        review,
                        pinned_by,
                        unknown,
                    });
                }
            }
        }
        report.uploads = uploads.into_iter().map(|(k, v)| (k, v.len())).collect();
        Ok(report)
    }

    /// Whether every pin is vetted.
    pub fn ok(&self) -> bool {
        self.missing.is_empty() && self.violations.is_empty()
    }

    /// Lines of the reviews of known size, and how many have no size.
    pub fn backlog(&self) -> (u64, usize, usize) {
        let known: u64 = self.missing.iter().filter_map(|g| g.review.lines).sum();
        let unknown = self
            .missing
            .iter()
            .filter(|g| g.review.lines.is_none())
            .count();
        (known, self.missing.len(), unknown)
    }

    /// "3 reviews, 1,212 lines" (", 1 of unknown size").
    pub fn backlog_text(&self) -> String {
        let (lines, reviews, unknown) = self.backlog();
        let mut text = format!(
            "{reviews} review{}, {} line{}",
            plural(reviews as u64),
            thousands(lines),
            plural(lines)
        );
        if unknown > 0 {
            text.push_str(&format!(" + {unknown} of unknown size"));
        }
        text
    }

    /// The one-line error of a failing `vet`.
    pub fn error_line(&self) -> String {
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!(
                "{} of {} pinned sdists are not vetted (backlog: {})",
                self.missing.len(),
                self.total,
                self.backlog_text()
            ));
        }
        if !self.violations.is_empty() {
            parts.push(format!(
                "{} pinned sdist{} fail{} a recorded violation",
                self.violations.len(),
                plural(self.violations.len() as u64),
                if self.violations.len() == 1 { "s" } else { "" }
            ));
        }
        format!("vet: {}; see the list above", parts.join("; "))
    }

    fn sha_flag(&self, node: &Node, flag: &str) -> String {
        let several = self
            .uploads
            .get(&(node.name.to_string(), node.version.to_string()))
            .is_some_and(|n| *n > 1);
        if several {
            format!(" {flag} {}", node.sha256)
        } else {
            String::new()
        }
    }

    /// The report: a tally line; each gap with its review and commands;
    /// each violation; the backlog. `verbose` adds how each pin is vetted.
    pub fn render(&self, verbose: bool) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "vet: {} pinned sdists: {}", self.total, self.tally);
        if verbose {
            for (pin, vetted) in &self.vetted {
                let _ = writeln!(
                    out,
                    "  ok {} ({}): {}",
                    pin.node,
                    pin.required.iter().cloned().collect::<Vec<_>>().join(", "),
                    vetted.describe()
                );
            }
        }
        for (pin, list, pinned_by) in &self.violations {
            for v in list {
                let _ = writeln!(
                    out,
                    "\n{} fails {}: {} ({}: {}); pinned by {pinned_by}; pin another version",
                    pin.node,
                    v.fails.join(", "),
                    v.evidence.describe(),
                    v.evidence.path,
                    v.evidence.entry
                );
            }
        }
        for gap in &self.missing {
            let node = &gap.pin.node;
            let criteria = gap.missing.criteria.join(",");
            let _ = writeln!(
                out,
                "\n{node} (sha256 {}) is not vetted for {}; pinned by {}",
                node.sha256,
                gap.missing.criteria.join(", "),
                gap.pinned_by
            );
            for other in &gap.missing.other_uploads {
                let _ = writeln!(
                    out,
                    "  note: {} ({}: {}) covers another upload of this version (another sha256), not this one",
                    other.describe(),
                    other.path,
                    other.entry
                );
            }
            let size = match gap.review.lines {
                Some(lines) => format!("{} line{}", thousands(lines), plural(lines)),
                None => format!(
                    "size unknown ({})",
                    gap.unknown.as_deref().unwrap_or("sdists not read")
                ),
            };
            if let (Some(_), Some(note)) = (gap.review.lines, &gap.unknown) {
                let _ = writeln!(out, "  note: {note}");
            }
            let to_flag = self.sha_flag(node, "--to-sha256");
            match &gap.review.from {
                Some(from) => {
                    let from_flag = self.sha_flag(from, "--from-sha256");
                    let _ = writeln!(
                        out,
                        "  smallest review: diff of {} {} -> {}: {size}",
                        node.name, from.version, node.version
                    );
                    let _ = writeln!(
                        out,
                        "    cargo xtask vet diff {} {} {}{from_flag}{to_flag}",
                        node.name, from.version, node.version
                    );
                    let _ = writeln!(
                        out,
                        "    cargo xtask vet certify {} {} {} --criteria {criteria}{from_flag}{}",
                        node.name,
                        from.version,
                        node.version,
                        self.sha_flag(node, "--sha256")
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "  smallest review: inspect {} {}: {size}",
                        node.name, node.version
                    );
                    let _ = writeln!(
                        out,
                        "    cargo xtask vet inspect {} {}{}",
                        node.name,
                        node.version,
                        self.sha_flag(node, "--sha256")
                    );
                    let _ = writeln!(
                        out,
                        "    cargo xtask vet certify {} {} --criteria {criteria}{}",
                        node.name,
                        node.version,
                        self.sha_flag(node, "--sha256")
                    );
                }
            }
        }
        if !self.missing.is_empty() {
            let _ = writeln!(out, "\nbacklog: {}", self.backlog_text());
        }
        out
    }
}

/// The vetted nodes a single delta review could start from: vetted for
/// every missing criterion.
fn candidates(missing: &Missing) -> Vec<Node> {
    let mut sets = missing
        .criteria
        .iter()
        .map(|c| missing.reachable.get(c).cloned().unwrap_or_default());
    let Some(first) = sets.next() else {
        return Vec::new();
    };
    sets.fold(first, |acc, set| {
        acc.into_iter().filter(|n| set.contains(n)).collect()
    })
}

/// The review with the fewest lines (ties: the newest FROM), and why the
/// size is unknown when the sdists could not be had.
fn smallest_review(
    trees: &mut Trees<'_>,
    pin: &Node,
    missing: &Missing,
) -> (Review, Option<String>) {
    let candidates = candidates(missing);
    let target = trees.get(pin).map(|u| u.tree.clone());
    let target = match target {
        Ok(tree) => tree,
        Err(why) => {
            // Without the sdist: the newest vetted version below, else inspect.
            let from = candidates
                .iter()
                .filter(|n| n.version < pin.version)
                .max_by(|a, b| a.version.cmp(&b.version))
                .or_else(|| candidates.iter().max_by(|a, b| a.version.cmp(&b.version)))
                .cloned();
            return (Review { from, lines: None }, Some(why));
        }
    };
    let mut best = Review {
        from: None,
        lines: Some(target.text_lines()),
    };
    let mut not_sized = Vec::new();
    for from in &candidates {
        match trees.get(from) {
            Ok(old) => {
                let lines = diff::line_count(&old.tree, &target);
                let better = match best.lines {
                    Some(b) => {
                        lines < b
                            || (lines == b
                                && best.from.as_ref().is_some_and(|f| from.version > f.version))
                    }
                    None => true,
                };
                if better {
                    best = Review {
                        from: Some(from.clone()),
                        lines: Some(lines),
                    };
                }
            }
            Err(why) => not_sized.push(why),
        }
    }
    // A delta that could not be sized is not claimed smaller; say so.
    let note = (!not_sized.is_empty()).then(|| {
        format!(
            "a diff from another vetted version could not be sized: {}",
            not_sized.join("; ")
        )
    });
    (best, note)
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
