//! `cargo xtask vet`: were the updates read? Every sdist pinned for every
//! application and for the build backends must be vetted — reached by a
//! chain of audits from a fully audited version (or an exemption) whose
//! criteria imply what the policy requires — in cargo-vet's model and
//! words, tied to each sdist's sha256 so that a re-upload under an audited
//! version is not covered. The records live in `packaging/supply-chain/`
//! (`config.toml`: policy, exemptions, imports; `audits.toml`: our audits;
//! `imports.lock` and `imports/`: other organisations' audits, pinned by
//! sha256).
//!
//! - `vet` decides every pin and exits 1 listing what is not vetted, each
//!   with the smallest review that would close it and the commands to
//!   read and record it, and the backlog in lines.
//! - `vet diff NAME FROM TO` / `vet inspect NAME VERSION`: a summary of
//!   what a reviewer must look at first, then the unified diff of the
//!   unpacked sources (a pager on a terminal).
//! - `vet certify NAME [FROM] VERSION`: records an audit.
//! - `vet --update-imports`: fetches imports again, shows what changed,
//!   pins the new bytes.
//! - `vet init`: starts vetting with an exemption for every current pin.

pub mod backlog;
pub mod certify;
pub mod files;
pub mod pager;
pub mod pins;
pub mod review;
pub mod sources;

use std::collections::BTreeSet;
use std::path::Path;

use crate::config::Config;
use pinwheel_trust::failure;

/// The supply-chain directory, relative to the repository root.
pub const SUPPLY_CHAIN: &str = "packaging/supply-chain";

/// Arguments of `cargo xtask vet`.
#[derive(Debug, Clone, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Sub>,
    /// Fetch every import again (URLs) or re-read it (paths), show what
    /// changed since imports.lock, and pin the new bytes.
    #[arg(long)]
    pub update_imports: bool,
    /// Never reach the network: reviews whose sdists are not cached are
    /// listed without their size.
    #[arg(long)]
    pub offline: bool,
    /// Say how each pin is vetted.
    #[arg(long, short)]
    pub verbose: bool,
}

/// The subcommands of `vet`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Sub {
    /// Show what a review of the change FROM → TO must read: a summary of
    /// what runs at build or install time, dependencies, binaries and
    /// lines not to miss, then the unified diff of the sources.
    Diff(review::DiffArgs),
    /// Show a whole version's sources, as `diff` shows a change.
    Inspect(review::InspectArgs),
    /// Record an audit of VERSION (or of the delta FROM → VERSION) in
    /// packaging/supply-chain/audits.toml.
    Certify(certify::Args),
    /// Start vetting: write packaging/supply-chain/ with an exemption for
    /// every sdist pinned now (refused when it exists).
    Init,
}

impl Args {
    pub fn run(&self, root: &Path) -> anyhow::Result<()> {
        match &self.command {
            Some(Sub::Diff(a)) => a.run(root),
            Some(Sub::Inspect(a)) => a.run(root),
            Some(Sub::Certify(a)) => a.run(root),
            Some(Sub::Init) => files::init(root),
            None => {
                let config = Config::load(root)?;
                let network = if self.offline {
                    sources::Network::Offline
                } else {
                    sources::Network::Allowed
                };
                if self.update_imports {
                    files::update_imports(root, network)?;
                }
                check(&config, network, self.verbose)
            }
        }
    }
}

/// `vet`: decides every pin; Ok when all are vetted, else a refusal (exit
/// 1) after the list of missing reviews on stdout.
pub fn check(config: &Config, network: sources::Network, verbose: bool) -> anyhow::Result<()> {
    let store = files::load(&config.root)?;
    files::check_policies(config, &store)?;
    let pinned = pins::collect(config)?;
    let decision_pins = pins::for_decision(&store.config().value, &pinned);
    for warning in pinwheel_vet::warnings(&store, &decision_pins) {
        eprintln!("warning: {warning}");
    }
    let decided = pinwheel_vet::decide(&store, &decision_pins);
    let report = backlog::Report::new(config, &store, &pinned, &decided, network)?;
    print!("{}", visible_text(&report.render(verbose)));
    if report.ok() {
        return Ok(());
    }
    Err(failure::refused(report.error_line()))
}

/// The pins not vetted now, for `update-deps` to compare before and after
/// its change; `None` when vetting has not started here
/// (`packaging/supply-chain/config.toml` is absent) or the records or pins
/// cannot be read (`vet` says why).
pub fn unvetted(config: &Config) -> Option<BTreeSet<pinwheel_vet::Node>> {
    if !config.root.join(SUPPLY_CHAIN).join(files::CONFIG).exists() {
        return None;
    }
    let store = files::load(&config.root).ok()?;
    let pinned = pins::collect(config).ok()?;
    let decision_pins = pins::for_decision(&store.config().value, &pinned);
    Some(
        pinwheel_vet::decide(&store, &decision_pins)
            .into_iter()
            .filter(|(_, verdict)| !matches!(verdict, pinwheel_vet::Verdict::Vetted(_)))
            .map(|(pin, _)| pin.node)
            .collect(),
    )
}

/// What `update-deps` prints after writing: the pins its change left
/// unvetted that were not before, with the smallest reviews and the
/// backlog they add. Never fails the update: a problem is one line.
pub fn report_added(config: &Config, before: &BTreeSet<pinwheel_vet::Node>) {
    let run = || -> anyhow::Result<()> {
        let store = files::load(&config.root)?;
        let pinned = pins::collect(config)?;
        let decision_pins = pins::for_decision(&store.config().value, &pinned);
        let decided: Vec<_> = pinwheel_vet::decide(&store, &decision_pins)
            .into_iter()
            .filter(|(pin, verdict)| {
                !matches!(verdict, pinwheel_vet::Verdict::Vetted(_)) && !before.contains(&pin.node)
            })
            .collect();
        if decided.is_empty() {
            return Ok(());
        }
        let report =
            backlog::Report::new(config, &store, &pinned, &decided, sources::Network::Allowed)?;
        let body = report.render(false);
        // The tally line counts only the new gaps: say so instead.
        let body = body.split_once('\n').map_or("", |(_, rest)| rest);
        let body = visible_text(body);
        println!(
            "\nvet: this update adds {} unvetted sdist{} (backlog +{}):{body}",
            decided.len(),
            if decided.len() == 1 { "" } else { "s" },
            report.backlog_text()
        );
        Ok(())
    };
    if let Err(err) = run() {
        eprintln!("warning: vet: {err:#}");
    }
}

/// `text` with every control and bidirectional character but `\n` and
/// `\t` written as an escape (`pinwheel_vet::diff::visible`), line by
/// line: names, notes and imported text reach the terminal as text,
/// never as cursor movements, colours or reordering.
pub fn visible_text(text: &str) -> String {
    text.split_inclusive('\n')
        .map(pinwheel_vet::diff::visible)
        .collect()
}
