//! `cargo xtask bench [--quick] [--only NAME]...`: pinwheel side by side
//! with the tools users would pick instead, in one run on one machine.
//! Generates its inputs under `target/bench/` (reused across runs), runs
//! each comparison A B A B … after a warm-up, and rewrites BENCHMARKS.md
//! and `crates/pinwheel-proof/scaling.svg` with what it measured and nothing else. A
//! comparison whose pinwheel command is missing, or whose peer
//! is not installable, says so in the table instead of a number. With
//! `--only`, the report goes to `target/bench/` and stdout, leaving the
//! checked-in BENCHMARKS.md (always one full run) alone.

pub mod inputs;
pub mod machine;
pub mod measure;
pub mod peers;
pub mod plot;
pub mod report;

pub mod chroots;
pub mod compile;
pub mod deb;
pub mod index;
pub mod requirements;
pub mod verify;
pub mod vet;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};

use self::report::{Body, Section, Target};

/// The comparisons, in the order they run and appear.
/// `build-wheels` runs after `build-deb`, which makes any build chroot
/// not cached yet: timed with a chroot missing, it would time making one.
pub const COMPARISONS: [&str; 15] = [
    "first-command",
    "requirements",
    "verify",
    "verify-signature",
    "refresh-index",
    "sync-wheels",
    "vet",
    "vet-diff",
    "first-chroot",
    "build-deb",
    "build-deb-warm",
    "build-wheels",
    "chroot-disk",
    "check-reproducible",
    "fault-inject",
];

/// The speed targets, each
/// with the comparison that measures it. Every full run reports each one:
/// met, missed (with what would close it) or not measured (and why).
pub mod goals {
    pub const REQUIREMENTS_TIME: &str =
        "`requirements` on 500 packages in ≤ 50 ms for the whole process";
    pub const REQUIREMENTS_UV: &str = "`requirements` on 500 packages faster than `uv export`";
    pub const VERIFY_GPG: &str =
        "`verify` on the 2 GiB index ≥ 5× faster than `gpg --verify` + `sha256sum -c`";
    pub const VERIFY_LIMIT: &str = "`verify` on the 2 GiB index at ≥ 80% of the physical limit";
    pub const VERIFY_FEW_GPG: &str =
        "`verify` on 8 × 128 MiB ≥ 5× faster than `gpg --verify` + `sha256sum -c`";
    pub const VERIFY_FEW_LIMIT: &str =
        "`verify` on 8 × 128 MiB at ≥ 80% of the physical limit (every core)";
    pub const VERIFY_ONE_GPG: &str =
        "`verify` on one 1 GiB file ≥ 5× faster than `gpg --verify` + `sha256sum -c`";
    pub const VERIFY_ONE_LIMIT: &str =
        "`verify` on one 1 GiB file at ≥ 80% of the physical limit (one core)";
    pub const SIGNATURE_GPGV: &str = "`verify-signature` no slower than `gpgv`";
    pub const REFRESH: &str = "`refresh-index` on 10,000 files in ≤ 1 s";
    pub const SYNC: &str = "`sync-wheels` ≥ 3× faster than `pip download` on 50 files";
    pub const BUILD_WHEELS: &str = "`build-wheels` with nothing to do in ≤ 100 ms";
    pub const FIRST_CHROOT: &str =
        "first build chroot of a suite (`chroot --target trixie`, empty cache) in ≤ 3 min";
    pub const BUILD_DEB_WARM: &str =
        "warm `build-deb --target bookworm` (chroot cached) ≤ 1.5× a host `dpkg-buildpackage` of the same staged tree";
    pub const CHROOT_DISK: &str = "each cached build chroot < 600 MB";
    pub const VET: &str =
        "`vet` on the demo's pins with every sdist cached in ≤ 100 ms (whole process)";
    pub const VET_DIFF: &str = "`vet diff` of two cached 1 MB sdists: the first line within 1 s";
    pub const FAULTS: &str = "Zero violations under fault injection";

    pub const FIRST_COMMAND: &str =
        "fresh clone, crates downloaded, empty target directory: `cargo xtask --help` in ≤ 4 min";
    pub const REBUILD: &str =
        "after changing one command module: `cargo xtask --help` rebuilds in ≤ 20 s";

    /// (comparison, goal) in report order.
    pub const ALL: [(&str, &str); 20] = [
        ("first-command", FIRST_COMMAND),
        ("first-command", REBUILD),
        ("requirements", REQUIREMENTS_TIME),
        ("requirements", REQUIREMENTS_UV),
        ("verify", VERIFY_GPG),
        ("verify", VERIFY_LIMIT),
        ("verify", VERIFY_FEW_GPG),
        ("verify", VERIFY_FEW_LIMIT),
        ("verify", VERIFY_ONE_GPG),
        ("verify", VERIFY_ONE_LIMIT),
        ("verify-signature", SIGNATURE_GPGV),
        ("refresh-index", REFRESH),
        ("sync-wheels", SYNC),
        ("vet", VET),
        ("vet-diff", VET_DIFF),
        ("first-chroot", FIRST_CHROOT),
        ("build-deb-warm", BUILD_DEB_WARM),
        ("build-wheels", BUILD_WHEELS),
        ("chroot-disk", CHROOT_DISK),
        ("fault-inject", FAULTS),
    ];
}

/// What `cargo xtask bench` was asked to do.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Options {
    /// Fewer repetitions (3 instead of 7).
    #[arg(long)]
    pub quick: bool,
    /// Run only this comparison (repeatable); the report then goes to
    /// target/bench/ instead of BENCHMARKS.md.
    #[arg(long, value_name = "NAME")]
    pub only: Vec<String>,
}

/// Shared state of one bench run.
pub struct Ctx {
    /// The pinwheel binary being measured (this very executable).
    pub exe: PathBuf,
    /// The repository root.
    pub root: PathBuf,
    /// `target/bench/`: generated inputs, peers' venv, scratch trees.
    pub work: PathBuf,
    pub warmup: usize,
    pub reps: usize,
    pub quick: bool,
    pub machine: machine::Machine,
    pub peers: peers::Peers,
    /// The target interpreter from the configuration.
    pub interpreter: PathBuf,
}

impl Ctx {
    /// Whether this binary has the subcommand `name`.
    pub fn has_command(&self, name: &str) -> bool {
        duct::cmd!(&self.exe, name, "--help")
            .stdout_null()
            .stderr_null()
            .unchecked()
            .run()
            .is_ok_and(|out| out.status.success())
    }

    /// The reason recorded when a pinwheel command is missing.
    pub fn missing(name: &str) -> String {
        format!("this xtask binary has no `{name}` command")
    }

    /// `xtask ARGS...` as a duct expression.
    pub fn xtask<I, S>(&self, args: I) -> duct::Expression
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        duct::cmd(&self.exe, args)
    }
}

/// What one comparison produced: its section and, for the commands whose
/// growth is plotted, its panel.
pub struct Measured {
    pub section: Section,
    pub panel: Option<plot::Panel>,
    /// The targets this comparison measured (goals from [`goals`]).
    pub targets: Vec<Target>,
}

impl Measured {
    fn skipped(title: &str, intro: &str, reason: String) -> Measured {
        Measured {
            section: Section {
                title: title.to_owned(),
                intro: intro.to_owned(),
                body: Body::Skipped(reason),
                notes: vec![],
            },
            panel: None,
            targets: vec![],
        }
    }
}

/// Runs the bench and writes the report.
pub fn run(root: &Path, options: Options) -> anyhow::Result<()> {
    let start = Instant::now();
    let load_start = measure::load_average();
    for name in &options.only {
        if !COMPARISONS.contains(&name.as_str()) {
            bail!(
                "unknown comparison {name:?}; choose from {}",
                COMPARISONS.join(", ")
            );
        }
    }
    let work = root.join("target/bench");
    fs_err::create_dir_all(&work)?;
    let interpreter = xtask::config::Config::load(root)
        .map(|c| {
            let _ = c;
            PathBuf::from("/usr/bin/python3")
        })
        .unwrap_or_else(|_| PathBuf::from("/usr/bin/python3"));
    let machine = machine::Machine::probe();
    eprintln!("bench: {machine}");
    let peers = peers::Peers::prepare(&work, &interpreter);
    let (warmup, reps) = if options.quick { (1, 3) } else { (1, 7) };
    let ctx = Ctx {
        exe: crate::xtask_binary().context("locating the xtask binary")?,
        root: root.to_path_buf(),
        work: work.clone(),
        warmup,
        reps,
        quick: options.quick,
        machine: machine.clone(),
        peers: peers.clone(),
        interpreter,
    };

    let mut sections = Vec::new();
    let mut panels = Vec::new();
    let mut targets: Vec<Target> = Vec::new();
    let mut setup_failures = Vec::new();
    for name in COMPARISONS {
        if !options.only.is_empty() && !options.only.iter().any(|o| o == name) {
            continue;
        }
        eprintln!("bench: {name}");
        let t = Instant::now();
        let result = match name {
            "first-command" => compile::measure(&ctx),
            "requirements" => requirements::measure(&ctx),
            "verify" => verify::measure(&ctx),
            "verify-signature" => verify::measure_signature(&ctx),
            "refresh-index" => index::refresh_index(&ctx),
            "sync-wheels" => index::sync_wheels(&ctx),
            "build-wheels" => index::build_wheels_noop(&ctx),
            "vet" => vet::vet(&ctx),
            "vet-diff" => vet::vet_diff(&ctx),
            "first-chroot" => chroots::first_chroot(&ctx),
            "build-deb" => deb::build_deb(&ctx),
            "build-deb-warm" => deb::build_deb_warm(&ctx),
            "chroot-disk" => chroots::chroot_disk(&ctx),
            "check-reproducible" => deb::check_reproducible(&ctx),
            "fault-inject" => fault_section(&ctx),
            _ => unreachable!("COMPARISONS lists {name}"),
        };
        let measured = result.unwrap_or_else(|err| {
            setup_failures.push(format!("{name}: {err:#}"));
            Measured::skipped(name, "", format!("the bench could not set it up: {err:#}"))
        });
        eprintln!("bench: {name} took {}", report::fmt_duration(t.elapsed()));
        for (_, goal) in goals::ALL.iter().filter(|(c, _)| *c == name) {
            match measured.targets.iter().find(|t| t.goal == *goal) {
                Some(t) => targets.push(t.clone()),
                None => targets.push(Target::not_measured(
                    goal,
                    match &measured.section.body {
                        Body::Skipped(why) => why.clone(),
                        _ => format!("see the {name} section"),
                    },
                )),
            }
        }
        sections.push(measured.section);
        panels.extend(measured.panel);
    }

    let partial = !options.only.is_empty();
    let (md_path, plot_path, plot_link) = if partial {
        (
            work.join("BENCHMARKS.md"),
            work.join("scaling.svg"),
            "scaling.svg",
        )
    } else {
        (
            root.join("BENCHMARKS.md"),
            root.join("crates/pinwheel-proof/scaling.svg"),
            "crates/pinwheel-proof/scaling.svg",
        )
    };
    let plot = match plot::write(&plot_path, &panels) {
        Ok(()) => Some(plot_link.to_owned()),
        Err(err) => {
            eprintln!("bench: no plot: {err:#}");
            None
        }
    };
    let report = report::Report {
        machine,
        commit: commit(root),
        warmup,
        reps,
        quick: options.quick,
        peers: peers.versions.clone(),
        sections,
        targets,
        plot,
        total: start.elapsed(),
        load: (load_start, measure::load_average()),
    };
    let text = report::render(&report);
    xtask::fresh::write_atomic(&md_path, text.as_bytes())?;
    println!("{text}");
    eprintln!("bench: wrote {}", md_path.display());
    if !setup_failures.is_empty() {
        bail!(
            "{} comparison(s) could not be set up: {}",
            setup_failures.len(),
            setup_failures.join("; ")
        );
    }
    Ok(())
}

/// The fault-injection run, bounded, as a BENCHMARKS.md section.
fn fault_section(ctx: &Ctx) -> anyhow::Result<Measured> {
    let runs = if ctx.quick { 5 } else { 17 };
    let summary =
        crate::fault_inject::run_all(&ctx.exe, &ctx.work.join("fault-inject"), runs, 1, &[])?;
    let driven = summary
        .commands
        .iter()
        .filter(|c| c.skipped.is_none())
        .count();
    let target = Target::measured(
        goals::FAULTS,
        format!(
            "{} violations in {} kills of {driven} of the {} commands",
            summary.violations(),
            summary.kills(),
            crate::fault_inject::COMMANDS.len()
        ),
        summary.violations() == 0 && driven == crate::fault_inject::COMMANDS.len(),
        "make every write of the commands named under the fault-injection table go through `fresh::write_atomic` (temporary file, fsync, rename), and drive every command"
            .to_owned(),
    );
    Ok(Measured {
        section: Section {
            title: "Fault injection".to_owned(),
            intro: format!(
                "Each command runs on a scratch copy of a tree and is killed with SIGKILL at a seeded random moment ({runs} kills per command, seed 1); then every file it manages must be exactly the old version or exactly the new one, no temporary file may sit under a final name, and the next run must succeed. `cargo xtask fault-inject` runs the same check on its own."
            ),
            body: Body::Markdown(summary.markdown()),
            notes: vec![target.note()],
        },
        panel: None,
        targets: vec![target],
    })
}

/// `git rev-parse HEAD`, with "-dirty" when the tree has changes other
/// than the bench's own outputs.
fn commit(root: &Path) -> Option<String> {
    let head = duct::cmd!("git", "rev-parse", "HEAD")
        .dir(root)
        .stderr_null()
        .read()
        .ok()?;
    let dirty = duct::cmd!(
        "git",
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
        ".",
        ":!BENCHMARKS.md",
        ":!bench"
    )
    .dir(root)
    .stderr_null()
    .read()
    .map(|s| !s.trim().is_empty())
    .unwrap_or(false);
    Some(format!(
        "{}{}",
        head.trim(),
        if dirty { "-dirty" } else { "" }
    ))
}
