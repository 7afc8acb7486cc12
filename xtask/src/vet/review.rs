//! `vet diff NAME FROM TO` and `vet inspect NAME VERSION`: what a reviewer
//! reads. Each version is found by the sha256 that pins, audits or
//! exemptions record for it (or, for a version nothing here names, the
//! sdist the package index lists, its sha256 printed), fetched or taken
//! from the cache, hash-checked, unpacked with the safe unpacker, and
//! shown as: a header naming both files and hashes; the summary of what
//! to look at first (`pinwheel_vet::summary`); the unified diff of the
//! sources (`pinwheel_vet::diff`). Through a pager on a terminal.

use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use anyhow::{bail, Context};
use pep440_rs::Version;
use pep508_rs::PackageName;

use super::files;
use super::pager::{self, Output};
use super::sources::{self, Network, Sdist};
use crate::config::Config;
use pinwheel_trust::hash::Sha256;
use pinwheel_vet::{diff, summary, tree};

/// Arguments of `vet diff`.
#[derive(Debug, Clone, clap::Args)]
pub struct DiffArgs {
    /// The project (any spelling; normalized per PEP 503).
    pub name: String,
    /// The version already reviewed.
    pub from: String,
    /// The version to review.
    pub to: String,
    /// FROM's sdist, when its version has several.
    #[arg(long, value_name = "SHA256")]
    pub from_sha256: Option<Sha256>,
    /// TO's sdist, when its version has several.
    #[arg(long, value_name = "SHA256")]
    pub to_sha256: Option<Sha256>,
    /// Never start a pager.
    #[arg(long)]
    pub plain: bool,
}

/// Arguments of `vet inspect`.
#[derive(Debug, Clone, clap::Args)]
pub struct InspectArgs {
    /// The project (any spelling; normalized per PEP 503).
    pub name: String,
    /// The version to read whole.
    pub version: String,
    /// The sdist, when the version has several.
    #[arg(long, value_name = "SHA256")]
    pub sha256: Option<Sha256>,
    /// Never start a pager.
    #[arg(long)]
    pub plain: bool,
}

/// A project name from the command line, or a usage error.
pub fn parse_name(text: &str) -> anyhow::Result<PackageName> {
    pinwheel_pypa::project_name(text)
        .with_context(|| format!("{text:?} is not a valid project name (PEP 508)"))
}

/// A version from the command line, or a usage error.
pub fn parse_version(text: &str) -> anyhow::Result<Version> {
    Version::from_str(text)
        .map_err(|err| anyhow::anyhow!("{text:?} is not a PEP 440 version: {err}"))
}

/// One side of a review: which sdist, and what this repository says of it.
pub struct Side {
    pub version: Version,
    pub sha256: Sha256,
    /// "pinned by pinwheel-demo (bookworm)", "audited: safe-to-deploy", …
    pub known_as: Vec<String>,
}

/// The sdist of `name` `version` a review means: `given` when the user
/// named one; else the one this repository records (pins, audits,
/// exemptions, imports); else the one the package index lists.
pub fn resolve_side(
    config: &Config,
    known: &files::Known,
    name: &PackageName,
    version: &Version,
    given: Option<Sha256>,
    flag: &str,
) -> anyhow::Result<Side> {
    let recorded = known.hashes(name, version);
    let sha256 = match given {
        Some(sha) => sha,
        None => match recorded.len() {
            1 => *recorded.keys().next().context("one recorded hash")?,
            0 => {
                let listed = sources::index_sdists(config, name, version)?;
                match listed.as_slice() {
                    [(filename, sha)] => {
                        eprintln!(
                            "{name} {version}: nothing here pins or audits it; reading {filename} \
                             as the index lists it (sha256 {sha})"
                        );
                        *sha
                    }
                    [] => bail!("{name} {version}: the package index lists no sdist of it"),
                    many => bail!(
                        "{name} {version}: the index lists {} sdists ({}); choose one with {flag}",
                        many.len(),
                        many.iter()
                            .map(|(f, s)| format!("{f} {s}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
            }
            _ => bail!(
                "{name} {version}: several sdists are recorded ({}); choose one with {flag}",
                recorded
                    .iter()
                    .map(|(sha, how)| format!("{sha}: {}", how.join(", ")))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        },
    };
    let known_as = recorded.get(&sha256).cloned().unwrap_or_default();
    Ok(Side {
        version: version.clone(),
        sha256,
        known_as,
    })
}

/// The sdist of one side, fetched when needed.
pub fn fetch_side(config: &Config, name: &PackageName, side: &Side) -> anyhow::Result<Sdist> {
    sources::sdist(config, name, &side.version, &side.sha256, Network::Allowed)?.with_context(
        || {
            format!(
                "{name} {}: no sdist with sha256 {}",
                side.version, side.sha256
            )
        },
    )
}

impl DiffArgs {
    pub fn run(&self, root: &Path) -> anyhow::Result<()> {
        let config = Config::load(root)?;
        let name = parse_name(&self.name)?;
        let from = parse_version(&self.from)?;
        let to = parse_version(&self.to)?;
        let known = files::Known::gather(&config)?;
        let from = resolve_side(
            &config,
            &known,
            &name,
            &from,
            self.from_sha256,
            "--from-sha256",
        )?;
        let to = resolve_side(&config, &known, &name, &to, self.to_sha256, "--to-sha256")?;
        show(&config, &name, Some(&from), &to, self.plain)
    }
}

impl InspectArgs {
    pub fn run(&self, root: &Path) -> anyhow::Result<()> {
        let config = Config::load(root)?;
        let name = parse_name(&self.name)?;
        let version = parse_version(&self.version)?;
        let known = files::Known::gather(&config)?;
        let side = resolve_side(&config, &known, &name, &version, self.sha256, "--sha256")?;
        show(&config, &name, None, &side, self.plain)
    }
}

/// Fetches, unpacks and shows one review: FROM → TO, or TO whole.
pub fn show(
    config: &Config,
    name: &PackageName,
    from: Option<&Side>,
    to: &Side,
    plain: bool,
) -> anyhow::Result<()> {
    let to_sdist = fetch_side(config, name, to)?;
    let from_sdist = from.map(|f| fetch_side(config, name, f)).transpose()?;
    let (to_tree, from_tree) = rayon::join(
        || sources::unpack(&config.root, &to_sdist),
        || {
            from_sdist
                .as_ref()
                .map(|s| sources::unpack(&config.root, s))
                .transpose()
        },
    );
    let to_tree = to_tree?;
    let from_tree = from_tree?;
    let empty = tree::empty();
    let old = from_tree.as_ref().map_or(&empty, |u| &u.tree);
    let mut out = Output::open(plain);
    let written = write_review(
        &mut out,
        name,
        from.zip(from_sdist.as_ref()),
        (to, &to_sdist),
        old,
        &to_tree.tree,
    );
    let finished = out.finish();
    match written.and(finished) {
        Ok(()) => Ok(()),
        Err(err) if pager::is_broken_pipe(&err) => Ok(()),
        Err(err) => Err(err).context("writing the review"),
    }
}

fn describe_side(side: &Side, sdist: &Sdist) -> String {
    let mut line = format!("{} sha256 {}", sdist.file_name(), side.sha256);
    if !side.known_as.is_empty() {
        line.push_str(&format!(" ({})", side.known_as.join("; ")));
    }
    line
}

fn write_review(
    out: &mut Output,
    name: &PackageName,
    from: Option<(&Side, &Sdist)>,
    to: (&Side, &Sdist),
    old: &tree::Tree,
    new: &tree::Tree,
) -> std::io::Result<()> {
    match from {
        Some((side, sdist)) => {
            writeln!(out, "vet diff {name} {} -> {}", side.version, to.0.version)?;
            writeln!(out, "from: {}", describe_side(side, sdist))?;
            writeln!(out, "to:   {}", describe_side(to.0, to.1))?;
        }
        None => {
            writeln!(out, "vet inspect {name} {}", to.0.version)?;
            writeln!(out, "file: {}", describe_side(to.0, to.1))?;
        }
    }
    let summary = summary::summarize(old, new);
    writeln!(out)?;
    out.write_all(summary::render_summary(&summary).as_bytes())?;
    writeln!(out)?;
    let labels = match from {
        Some((side, _)) => (
            format!("{name}-{}", side.version),
            format!("{name}-{}", to.0.version),
        ),
        None => (
            format!("{name}-{}", to.0.version),
            format!("{name}-{}", to.0.version),
        ),
    };
    diff::write_diff(old, new, (&labels.0, &labels.1), out)?;
    Ok(())
}
