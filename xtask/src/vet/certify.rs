//! `vet certify NAME [FROM] VERSION --criteria C --who W [--notes N]`:
//! records an audit in `packaging/supply-chain/audits.toml` (cargo-vet's
//! `certify`). VERSION must be pinned (by an application or the build
//! backends); its sdist's sha256 comes from the pin, FROM's from the
//! records (or the package index). Before writing it shows what it
//! certifies — both sdists and hashes, each criterion's description, the
//! size of the review — and on a terminal asks for a yes. The file is
//! rewritten whole (sorted, deterministic) under the repository lock,
//! atomically, and read back.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::{bail, Context};
use pep508_rs::PackageName;

use super::review::{self, Side};
use super::sources::{self, Network};
use super::{files, SUPPLY_CHAIN};
use crate::config::Config;
use crate::fresh::{self, RepoLock};
use pinwheel_trust::failure;
use pinwheel_trust::hash::Sha256;
use pinwheel_vet::{
    add_audit, diff, parse_audits, render_audits, tree, AuditEntry, AuditKind, CriterionOrigin,
};

/// Arguments of `vet certify`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The project (any spelling; normalized per PEP 503).
    pub name: String,
    /// `VERSION` (a whole-version audit) or `FROM VERSION` (a delta audit).
    #[arg(num_args = 1..=2, required = true, value_name = "[FROM] VERSION")]
    pub versions: Vec<String>,
    /// The criteria certified (repeatable, or comma-separated).
    #[arg(long, required = true, value_delimiter = ',')]
    pub criteria: Vec<String>,
    /// The auditor, "Name <email>" (default: git's user.name and user.email).
    #[arg(long)]
    pub who: Option<String>,
    /// What was reviewed and found.
    #[arg(long)]
    pub notes: Option<String>,
    /// VERSION's sdist, when it is pinned with several.
    #[arg(long, value_name = "SHA256")]
    pub sha256: Option<Sha256>,
    /// FROM's sdist, when several are recorded.
    #[arg(long, value_name = "SHA256")]
    pub from_sha256: Option<Sha256>,
    /// Do not ask (a terminal is asked by default).
    #[arg(long, short)]
    pub yes: bool,
}

impl Args {
    pub fn run(&self, root: &Path) -> anyhow::Result<()> {
        let config = Config::load(root)?;
        let name = review::parse_name(&self.name)?;
        let (from, version) = match self.versions.as_slice() {
            [version] => (None, review::parse_version(version)?),
            [from, version] => (
                Some(review::parse_version(from)?),
                review::parse_version(version)?,
            ),
            _ => bail!("give VERSION or FROM VERSION"),
        };
        let known = files::Known::gather(&config)?;
        let Some(store) = &known.store else {
            bail!(
                "{}: not found; start vetting with `cargo xtask vet init`",
                files::label(files::CONFIG)
            );
        };
        // The criteria: ours or built-in, each known.
        for criterion in &self.criteria {
            match store.criteria().origin(criterion) {
                Some(CriterionOrigin::BuiltIn | CriterionOrigin::Ours) => {}
                _ => bail!(
                    "--criteria {criterion:?}: unknown criterion (known: {}; declare others in {})",
                    store.criteria().names().join(", "),
                    files::label(files::AUDITS)
                ),
            }
        }
        // VERSION must be pinned; its sha256 is the pin's.
        let pinned: Vec<&super::pins::Pinned> = known
            .pinned
            .iter()
            .filter(|p| p.name == name && p.version == version)
            .filter(|p| self.sha256.is_none_or(|s| s == p.sha256))
            .collect();
        let to = match pinned.as_slice() {
            // The pin's spelling ("3.20", not "3.20.0"): equal per PEP
            // 440, and the file reads as the pins do whatever was typed.
            [one] => Side {
                version: one.version.clone(),
                sha256: one.sha256,
                known_as: vec![format!(
                    "pinned by {}",
                    super::pins::describe_users(&one.users)
                )],
            },
            [] => {
                let versions: Vec<String> = known
                    .pinned
                    .iter()
                    .filter(|p| p.name == name)
                    .map(|p| p.version.to_string())
                    .collect();
                return Err(failure::refused(format!(
                    "{name} {version}{} is not pinned by any application or the build backends ({}); \
                     certify records audits of pinned sdists",
                    self.sha256.map(|s| format!(" (sha256 {s})")).unwrap_or_default(),
                    if versions.is_empty() {
                        format!("{name} is not pinned at all")
                    } else {
                        format!("pinned: {}", versions.join(", "))
                    }
                )));
            }
            many => bail!(
                "{name} {version} is pinned with {} sdists ({}); choose one with --sha256",
                many.len(),
                many.iter()
                    .map(|p| p.sha256.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let from = from
            .map(|v| {
                review::resolve_side(
                    &config,
                    &known,
                    &name,
                    &v,
                    self.from_sha256,
                    "--from-sha256",
                )
            })
            .transpose()?;
        let who = match &self.who {
            Some(who) if !who.trim().is_empty() => who.trim().to_owned(),
            Some(_) => bail!("--who: empty"),
            None => git_identity(root)?,
        };
        let kind = match &from {
            Some(f) => AuditKind::Delta {
                from: f.version.clone(),
                from_sha256: f.sha256,
                to: to.version.clone(),
                sha256: to.sha256,
            },
            None => AuditKind::Full {
                version: to.version.clone(),
                sha256: to.sha256,
            },
        };
        let entry = AuditEntry {
            who: vec![who.clone()],
            criteria: self.criteria.clone(),
            kind,
            notes: self.notes.clone().filter(|n| !n.trim().is_empty()),
        };

        // Show what is certified.
        let lines = review_size(&config, &name, from.as_ref(), &to)?;
        let mut shown = String::new();
        match &from {
            Some(f) => shown.push_str(&format!(
                "certify: {name} {} -> {}, a delta audit by {who}\n  from sha256 {}{}\n  to   sha256 {} ({})\n",
                f.version,
                to.version,
                f.sha256,
                if f.known_as.is_empty() { String::new() } else { format!(" ({})", f.known_as.join("; ")) },
                to.sha256,
                to.known_as.join("; ")
            )),
            None => shown.push_str(&format!(
                "certify: {name} {}, a whole-version audit by {who}\n  sha256 {} ({})\n",
                to.version,
                to.sha256,
                to.known_as.join("; ")
            )),
        }
        shown.push_str(&format!(
            "  review size: {} lines\n",
            super::backlog::thousands(lines)
        ));
        for criterion in &self.criteria {
            shown.push_str(&format!(
                "  {criterion}: {}\n",
                store.criteria().description(criterion).unwrap_or("")
            ));
        }
        if let Some(notes) = &entry.notes {
            shown.push_str(&format!("  notes: {notes}\n"));
        }
        print!("{}", super::visible_text(&shown));
        if !self.yes && std::io::stdin().is_terminal() && !confirm()? {
            bail!("not certified: nothing written");
        }

        // Write, under the lock, from the file as it is now.
        let _lock = RepoLock::acquire(root)?;
        let mut own = files::read_audits(root)?.value;
        add_audit(&mut own, name.clone(), entry)
            .map_err(|err| anyhow::anyhow!("{}: {err}", files::label(files::AUDITS)))?;
        let text = render_audits(&own);
        parse_audits(&files::label(files::AUDITS), &text)
            .map_err(|err| anyhow::anyhow!("the rendered audits do not read back: {err}"))?;
        let path = root.join(SUPPLY_CHAIN).join(files::AUDITS);
        fs_err::create_dir_all(fresh::parent_dir(&path))?;
        fresh::write_atomic(&path, text.as_bytes())?;
        println!("recorded in {}: audits.{name}", files::label(files::AUDITS));
        drop(_lock);
        still_missing(&config, &name, &to);
        Ok(())
    }
}

/// Lines the review reads (what `vet` counts for the backlog).
fn review_size(
    config: &Config,
    name: &PackageName,
    from: Option<&Side>,
    to: &Side,
) -> anyhow::Result<u64> {
    let get = |side: &Side| -> anyhow::Result<sources::Unpacked> {
        let sdist = sources::sdist(config, name, &side.version, &side.sha256, Network::Allowed)?
            .with_context(|| format!("{name} {}: sdist not found", side.version))?;
        sources::unpack(&config.root, &sdist)
    };
    let new = get(to)?;
    Ok(match from {
        Some(f) => diff::line_count(&get(f)?.tree, &new.tree),
        None => diff::line_count(&tree::empty(), &new.tree),
    })
}

fn confirm() -> anyhow::Result<bool> {
    eprint!("record this audit? [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// "Name <email>" from git's configuration.
fn git_identity(root: &Path) -> anyhow::Result<String> {
    let get = |key: &str| -> Option<String> {
        duct::cmd("git", ["config", "--get", key])
            .dir(root)
            .stdout_capture()
            .stderr_null()
            .unchecked()
            .read()
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    match (get("user.name"), get("user.email")) {
        (Some(name), Some(email)) => Ok(format!("{name} <{email}>")),
        _ => bail!("--who \"Name <email>\" is needed (git has no user.name and user.email here)"),
    }
}

/// After a certification: if the pin is still not vetted (FROM itself not
/// vetted, or criteria weaker than the policy asks), say why — the audit
/// is recorded either way.
fn still_missing(config: &Config, name: &PackageName, to: &Side) {
    let check = || -> anyhow::Result<Option<String>> {
        let store = files::load(&config.root)?;
        let pinned = super::pins::collect(config)?;
        let pins = super::pins::for_decision(&store.config().value, &pinned);
        let decided = pinwheel_vet::decide(&store, &pins);
        Ok(decided
            .into_iter()
            .find(|(p, _)| &p.node.name == name && p.node.sha256 == to.sha256)
            .and_then(|(pin, verdict)| match verdict {
                pinwheel_vet::Verdict::Vetted(_) => None,
                other => Some(format!(
                    "{} is still not vetted (the policy asks {}): {}",
                    pin.node,
                    pin.required.iter().cloned().collect::<Vec<_>>().join(", "),
                    other.describe()
                )),
            }))
    };
    match check() {
        Ok(Some(note)) => println!("note: {}", super::visible_text(&note)),
        Ok(None) => {}
        Err(err) => eprintln!("warning: vet: {err:#}"),
    }
}
