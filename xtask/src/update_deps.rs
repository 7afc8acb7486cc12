//! `cargo xtask update-deps [--app NAME] [--target NAME]... [--check]
//! [--relock] [--online]`: for each configured application and each
//! target it ships to (`[targets.NAME]`, narrowed by the application's
//! `targets` and by `--target`), writes
//!
//! - `requirements/<app>/<target>/requirements.txt`: every production
//!   dependency of its lock, the PEP 508 markers evaluated for that
//!   target's CPython and platform, pinned to the sha256 of its sdist;
//! - `requirements/<app>/<target>/build-requirements.txt`: the same
//!   packages pinned to our own wheels in `wheels-index/files/` that the
//!   target can install (its CPython's tags, then abi3, none, py3), once
//!   the wheel index verifies;
//!
//! and prints a review summary per file: added, removed, upgraded
//! (`a 1.0 → 1.1`) and, loudly, hashes that changed at the same version.
//! The paths are [`requirements_path`] and [`build_requirements_path`].
//!
//! Refused (exit 1, nothing written): a Python range that excludes a
//! target the application ships to — the application's own
//! (`[project] requires-python`, PEP 440; Poetry's
//! `[tool.poetry.dependencies] python`) or its lock's (uv.lock and
//! pylock.toml `requires-python`, poetry.lock `[metadata]
//! python-versions`); a lock that no longer matches its pyproject.toml,
//! with the command that re-locks (`--relock` runs it, uv or poetry).
//!
//! Everything is computed before anything is written: an error in one
//! application leaves every file untouched. Files of targets an
//! application no longer ships to are removed, and those of the layout
//! with one file per application once a run writes every target of the
//! application (said so; a target's first file is reviewed against
//! them). When wheels are missing, every
//! requirements.txt is still written (`build-wheels` builds from it), each
//! build-requirements.txt that cannot be made is left as it is, and the
//! run exits 1 naming the packages, the target and the `build-wheels`
//! command. `--check` writes nothing, prints the diffs and exits 1 when a
//! file is out of date or stale.

mod layout;
mod online_index;
mod review;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::config::{App, Config, Target, CONFIG_PATH};
use crate::fresh::{self, Mode, Outcome};
use crate::requirements::{
    attach_pyproject, check_python_range, lock_text, pin_lock_per_target, relock_command, request,
    stale_lock, target_description,
};
use crate::{build_requirements, verify};
use pinwheel_pypa::lockfile::{self, python_range, Format, SdistLookup};
use pinwheel_pypa::requirements_txt::{self, Header, Pin, Pins};
use pinwheel_trust::failure;
use pinwheel_trust::hash::Sha256;

pub use layout::{build_requirements_path, requirements_path, StaleFile};
pub use online_index::OnlineIndex;
pub use review::Review;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct Options {
    /// Only this application (default: every configured one).
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// Only this target (repeatable; default: every target).
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
    /// Write nothing; print the diff and exit 1 if a file is out of date.
    #[arg(long)]
    pub check: bool,
    /// Re-lock (uv or poetry) when the lock no longer matches pyproject.toml.
    #[arg(long, conflicts_with = "check")]
    pub relock: bool,
    /// Look the pinned sdists up in the package index.
    #[arg(long)]
    pub online: bool,
}

/// The command that regenerates the files.
pub const COMMAND: &str = "cargo xtask update-deps";

/// One file to write, and what changed in it for the reviewer.
pub struct Output {
    pub path: PathBuf,
    pub contents: String,
    pub review: Review,
    /// The target's name.
    pub target: String,
}

/// The sdist pins of one application for one target, and their file.
pub struct Planned<'c> {
    pub app: String,
    pub target: &'c Target,
    pub pins: Vec<Pin>,
    pub output: Output,
}

/// Runs `update-deps` under `root`.
pub fn run(root: &Path, options: &Options) -> anyhow::Result<()> {
    if options.online {
        let config = Config::load(root)?;
        let index = OnlineIndex::new(&config)?;
        run_with(root, options, Some(&index))?;
        eprintln!("{}", index.summary());
        return Ok(());
    }
    run_with(root, options, None)
}

/// Runs `update-deps`; with an index (`--online`), every pinned sdist is
/// looked up in it, and it tells a requirements.txt lock's sdist hashes
/// from its wheels'.
pub fn run_with(root: &Path, options: &Options, index: Option<&OnlineIndex>) -> anyhow::Result<()> {
    let mode = if options.check {
        Mode::Check
    } else {
        Mode::Write
    };
    let _guard = match mode {
        Mode::Write => Some(fresh::RepoLock::acquire(root)?),
        Mode::Check => None,
    };
    let config = Config::load(root)?;
    if mode == Mode::Check && root.join(crate::debian::CONTROL).exists() {
        // debian/control and the configuration agree on the applications.
        crate::debian::check(&config)?;
    }
    let work = selected(&config, options)?;
    // 1. The sdist pins of each application for each of its targets.
    let mut planned = Vec::new();
    for (name, app, targets) in &work {
        planned.extend(
            plan(&config, name, app, targets, options, index)
                .with_context(|| format!("application {name}"))?,
        );
    }
    // 2. Our wheels for each, from the verified index.
    let (build_outputs, not_made) = plan_build_requirements(&config, &planned)?;
    // 3. Files no longer written.
    let mut stale_files = Vec::new();
    for (name, app, targets) in &work {
        // The old layout goes once every target's files replace it.
        let every_target = targets.len() == config.targets_of(app).len();
        for file in layout::stale_files(&config, name, app)? {
            stale_files.push((file, every_target));
        }
    }
    // What vet says before the change (write mode, once vetting started).
    let unvetted_before = match mode {
        Mode::Write => crate::vet::unvetted(&config),
        Mode::Check => None,
    };
    // 4. Write, or check.
    let mut stale = Vec::new();
    let outputs = planned.iter().map(|p| &p.output).chain(&build_outputs);
    for output in outputs {
        let outcome = fresh::ensure_file_contents(&output.path, output.contents.as_bytes(), mode)?;
        let rel = relative(&config.root, &output.path);
        let state = match (outcome, mode) {
            (Outcome::Unchanged, _) => "up to date",
            (Outcome::Changed, Mode::Write) => "updated",
            (Outcome::Changed, Mode::Check) => "out of date",
        };
        println!(
            "{rel}: {state} ({} packages, target {})",
            output.review.count, output.target
        );
        print!("{}", output.review);
        if outcome == Outcome::Changed && mode == Mode::Check {
            stale.push(rel);
        }
    }
    for n in &not_made {
        let state = match fs_err::symlink_metadata(&n.path) {
            Ok(_) => "left as it is",
            Err(_) => "not written",
        };
        println!(
            "{}: {state} ({})",
            relative(&config.root, &n.path),
            n.reason
        );
    }
    for (file, every_target) in &stale_files {
        let rel = relative(&config.root, &file.path);
        match mode {
            Mode::Write if file.target_dir.is_none() && !every_target => {
                println!(
                    "{rel}: stale ({}); kept until `{COMMAND}` writes every target",
                    file.why
                );
            }
            Mode::Write => {
                layout::remove(file)?;
                println!("{rel}: removed ({})", file.why);
            }
            Mode::Check => {
                println!("{rel}: stale ({}); `{COMMAND}` removes it", file.why);
                stale.push(rel);
            }
        }
    }
    if let Some(before) = &unvetted_before {
        crate::vet::report_added(&config, before);
    }
    let mut problems: Vec<String> = not_made.into_iter().map(|n| n.error).collect();
    problems.dedup();
    if !stale.is_empty() {
        problems.push(format!("{} out of date; run `{COMMAND}`", stale.join(", ")));
    }
    if !problems.is_empty() {
        // Every requirements.txt is written (build-wheels reads it); each
        // build-requirements.txt that cannot be made is left as it is.
        return Err(failure::stale(problems.join("; ")));
    }
    Ok(())
}

/// The applications to work on, each with the targets to write for it:
/// those it ships to, narrowed by `--target`.
fn selected<'c>(
    config: &'c Config,
    options: &Options,
) -> anyhow::Result<Vec<(String, &'c App, Vec<&'c Target>)>> {
    let apps: Vec<(String, &App)> = match &options.app {
        Some(name) => vec![(name.clone(), config.app(name)?)],
        None => config.apps.iter().map(|(k, v)| (k.clone(), v)).collect(),
    };
    if apps.is_empty() {
        bail!("{}: no applications configured", config.path.display());
    }
    let wanted = config.selected_targets(&options.targets)?;
    let mut work = Vec::new();
    for (name, app) in apps {
        let targets: Vec<&Target> = config
            .targets_of(app)
            .into_iter()
            .filter(|t| wanted.iter().any(|w| w.name == t.name))
            .collect();
        if targets.is_empty() {
            if options.app.is_some() {
                bail!(
                    "{}: application {name} does not ship to {} (its targets: {})",
                    config.path.display(),
                    names(&wanted),
                    names(&config.targets_of(app))
                );
            }
            continue;
        }
        work.push((name, app, targets));
    }
    if work.is_empty() {
        bail!(
            "{}: no application ships to {}",
            config.path.display(),
            names(&wanted)
        );
    }
    Ok(work)
}

fn names(targets: &[&Target]) -> String {
    targets
        .iter()
        .map(|t| t.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The requirements.txt of one application for each of `targets`,
/// computed without writing. The Python ranges of the application and of
/// its lock are checked against every target it ships to.
pub fn plan<'c>(
    config: &Config,
    name: &str,
    app: &App,
    targets: &[&'c Target],
    options: &Options,
    index: Option<&OnlineIndex>,
) -> anyhow::Result<Vec<Planned<'c>>> {
    let root = &config.root;
    let ships_to = config.targets_of(app);
    let lock_path = inside_root(root, &app.lock, "lockfile")?;
    let pyproject_path = inside_root(root, &app.pyproject, "pyproject")?;
    let lock_label = slash_path(&app.lock);
    let pyproject_label = slash_path(&app.pyproject);
    let pyproject_text = fs_err::read_to_string(&pyproject_path)?;
    let pyproject: toml::Table = toml::from_str(&pyproject_text).map_err(|err| {
        anyhow::anyhow!(
            "{pyproject_label}: malformed TOML: {}",
            lockfile::one_line(&err.to_string())
        )
    })?;
    let declared =
        python_range::of_pyproject(&pyproject).with_context(|| pyproject_label.clone())?;
    for range in &declared {
        check_ranges(&pyproject_label, range, &ships_to, name)?;
    }
    let (mut bytes, mut lock) = read_lock(&lock_path, &lock_label)?;
    if let Some(reason) = stale_lock(&lock, &pyproject_label, &pyproject_text)? {
        let dir = fresh::parent_dir(&lock_path);
        let command = relock_command(lock.format, &dir);
        if !options.relock || options.check {
            return Err(failure::stale(format!(
                "{lock_label} is out of date with {pyproject_label}: {reason}; re-lock with `{}` or run `{COMMAND} --relock`",
                relock_command(lock.format, &fresh::parent_dir(&app.lock)).join(" ")
            )));
        }
        println!(
            "{lock_label}: {reason}; re-locking with `{}`",
            command.join(" ")
        );
        relock(lock.format, &command)?;
        (bytes, lock) = read_lock(&lock_path, &lock_label)?;
        if let Some(reason) = stale_lock(&lock, &pyproject_label, &pyproject_text)? {
            bail!("{lock_label} is still out of date after re-locking: {reason}");
        }
    }
    if let Some(range) = &lock.requires_python {
        check_ranges(&lock_label, range, &ships_to, name)?;
    }
    attach_pyproject(&mut lock, &pyproject_label, &pyproject_text)?;
    let request = request(
        &app.extras,
        &app.groups,
        &format!("{CONFIG_PATH}: apps.{name}.extras"),
        &format!("{CONFIG_PATH}: apps.{name}.groups"),
    )?;
    let envs = targets
        .iter()
        .map(|t| {
            t.marker_environment()
                .with_context(|| format!("{CONFIG_PATH}: targets.{}", t.name))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let wheel_only = app
        .wheel_only
        .iter()
        .map(|n| {
            lockfile::parse_name(n)
                .with_context(|| format!("{CONFIG_PATH}: apps.{name}.wheel-only"))
        })
        .collect::<anyhow::Result<BTreeSet<_>>>()?;
    let how_to_allow =
        format!("add it to `wheel-only` under [apps.{name}] in {CONFIG_PATH}, with the reason");
    let lookup: &dyn SdistLookup = match index {
        Some(index) => index,
        None => &lockfile::Offline,
    };
    let per_target = pin_lock_per_target(
        &lock_label,
        &lock,
        &envs,
        &request,
        &wheel_only,
        &how_to_allow,
        lookup,
    )?;
    // Each pinned file once, whatever the number of targets pinning it.
    let mut union: BTreeMap<(String, String), Pin> = BTreeMap::new();
    for pin in per_target.iter().flatten() {
        union
            .entry((pin.name.to_string(), pin.version.to_string()))
            .or_insert_with(|| pin.clone());
    }
    let union: Vec<Pin> = union.into_values().collect();
    if let Some(index) = index {
        index.check(&union).with_context(|| lock_label.clone())?;
    }
    for allowed in &wheel_only {
        if !union.iter().any(|p| p.wheel_only && p.name == *allowed) {
            eprintln!("warning: {CONFIG_PATH}: apps.{name}.wheel-only lists {allowed}, which needs no exception; remove it");
        }
    }
    let lock_sha256 = Sha256::of(&bytes);
    let mut planned = Vec::new();
    for (target, pins) in targets.iter().zip(per_target) {
        let header = Header {
            command: format!("{COMMAND} --app {name} --target {}", target.name),
            lock: lock_label.clone(),
            lock_sha256,
            target: target_description(target),
        };
        let contents = requirements_txt::render(&header, &pins);
        let path = layout::checked_output(root, &requirements_path(root, name, &target.name))?;
        let review = Review::new(read_previous(&path)?, &pins);
        planned.push(Planned {
            app: name.to_owned(),
            target,
            pins,
            output: Output {
                path,
                contents,
                review,
                target: target.name.clone(),
            },
        });
    }
    Ok(planned)
}

/// Refuses a range that excludes one of the targets the application
/// ships to.
fn check_ranges(
    label: &str,
    range: &lockfile::PythonRange,
    ships_to: &[&Target],
    app: &str,
) -> anyhow::Result<()> {
    for target in ships_to {
        check_python_range(
            label,
            range,
            &target.python,
            &format!("target {} (CPython {})", target.name, target.python),
        )
        .map_err(|err| {
            failure::refused(format!(
                "{err}; widen it, or take {} out of apps.{app}.targets in {CONFIG_PATH}",
                target.name
            ))
        })?;
    }
    Ok(())
}

/// The pins of the previous file, if there is one (an unreadable one is
/// said so in the review). A target's first file is reviewed against the
/// application's file of the old layout, when there is one, so that moving
/// to one file per target shows what changes for each target.
fn read_previous(path: &Path) -> anyhow::Result<Option<Result<Pins, String>>> {
    let old_layout = path
        .parent()
        .and_then(Path::parent)
        .zip(path.file_name())
        .map(|(app_dir, name)| app_dir.join(name));
    for candidate in std::iter::once(path.to_path_buf()).chain(old_layout) {
        if fs_err::symlink_metadata(&candidate).is_ok_and(|m| m.file_type().is_symlink()) {
            continue;
        }
        match fs_err::read_to_string(&candidate) {
            Ok(text) => return Ok(Some(Pins::parse(&text).map_err(|err| format!("{err:#}")))),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(None)
}

/// A build-requirements.txt that cannot be made.
struct NotMade {
    path: PathBuf,
    /// Why, for the line about the file.
    reason: String,
    /// The error line, which names the file or the index.
    error: String,
}

/// The build-requirements.txt of every planned application and target
/// from our wheels, and those that cannot be made.
/// Only a verified list is used: the full `verify` (signatures,
/// threshold, expiry, rollback, every file) runs first, once. Without a
/// wheel index there is nothing to pin yet.
fn plan_build_requirements(
    config: &Config,
    planned: &[Planned<'_>],
) -> anyhow::Result<(Vec<Output>, Vec<NotMade>)> {
    let root = &config.root;
    let index = root.join(crate::build_wheels::INDEX_DIR);
    let mut outputs = Vec::new();
    let mut not_made = Vec::new();
    if !index.join("files").is_dir() || planned.is_empty() {
        return Ok((outputs, not_made));
    }
    let paths: Vec<PathBuf> = planned
        .iter()
        .map(|p| build_requirements_path(root, &p.app, &p.target.name))
        .collect();
    let verified = verify::verify_index(
        config,
        &verify::Options {
            index: Some(index.clone()),
            ..Default::default()
        },
    );
    if let Err(err) = verified {
        if !failure::is_no(&err) {
            return Err(err);
        }
        let error = format!(
            "{}: build-requirements.txt left as it is: the wheel index does not verify ({err:#}); \
             after `cargo xtask build-wheels`, run `cargo xtask sign`",
            index.display()
        );
        not_made.extend(paths.into_iter().map(|path| NotMade {
            path,
            reason: "the wheel index does not verify".to_owned(),
            error: error.clone(),
        }));
        return Ok((outputs, not_made));
    }
    let wheels = build_requirements::read_index(&index)?;
    for (p, path) in planned.iter().zip(paths) {
        let tags = pinwheel_pypa::tags::CompatibleTags::for_target(
            &p.target.python,
            p.target.platform(),
            None,
        )?;
        let rel = relative(root, &path);
        let chosen = match build_requirements::select(&p.pins, &wheels, &tags) {
            Ok(chosen) => chosen,
            Err(missing) => {
                let reason = build_requirements::missing_message(p.target, &missing);
                not_made.push(NotMade {
                    error: format!("{rel}: {reason}"),
                    path,
                    reason,
                });
                continue;
            }
        };
        let source = relative(root, &requirements_path(root, &p.app, &p.target.name));
        let command = format!("{COMMAND} --app {} --target {}", p.app, p.target.name);
        let contents =
            build_requirements::render(&command, &source, &target_description(p.target), &chosen);
        let path = layout::checked_output(root, &path)?;
        let new: Vec<Pin> = chosen.into_iter().map(|(pin, _)| pin).collect();
        let review = Review::new(read_previous(&path)?, &new);
        outputs.push(Output {
            path,
            contents,
            review,
            target: p.target.name.clone(),
        });
    }
    Ok((outputs, not_made))
}

/// Reads (hashes, then parses) a lockfile.
fn read_lock(path: &Path, label: &str) -> anyhow::Result<(Vec<u8>, lockfile::Lock)> {
    let bytes = fs_err::read(path)?;
    let text = lock_text(label, &bytes)?;
    let format = Format::detect(path, text).with_context(|| label.to_owned())?;
    let lock = lockfile::parse(label, format, text)?;
    Ok((bytes, lock))
}

/// Runs the locker; it must be installed.
fn relock(format: Format, command: &[String]) -> anyhow::Result<()> {
    if !matches!(format, Format::Uv | Format::Poetry) {
        bail!("cannot re-lock a {format}: re-run the tool that wrote it");
    }
    let sh = xshell::Shell::new()?;
    let (program, args) = command.split_first().context("empty command")?;
    if xshell::cmd!(sh, "{program} --version")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .is_err()
    {
        bail!("--relock needs {program}, which is not installed (e.g. `pip install {program}`)");
    }
    xshell::cmd!(sh, "{program} {args...}")
        .run()
        .with_context(|| format!("re-locking failed: `{}`", command.join(" ")))?;
    Ok(())
}

/// `rel` under `root`, refusing paths (symlinks included) that lead out.
fn inside_root(root: &Path, rel: &Path, what: &str) -> anyhow::Result<PathBuf> {
    let path = root.join(rel);
    let real = fs_err::canonicalize(&path)?;
    if !real.starts_with(root) {
        bail!(
            "{}: the {what} leads out of the repository (to {}); refusing to read it",
            path.display(),
            real.display()
        );
    }
    Ok(real)
}

fn slash_path(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn relative(root: &Path, path: &Path) -> String {
    slash_path(path.strip_prefix(root).unwrap_or(path))
}
