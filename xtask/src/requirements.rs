//! `cargo xtask requirements --lock FILE [--pyproject FILE] [--target NAME
//! | --python X.Y.Z] [--extra NAME]... [--group NAME]...
//! [--allow-wheel-only NAME]...`: prints the sdist-pinned requirements of a
//! lockfile for one target, in the format of
//! `requirements/<app>/<target>/requirements.txt`: the main dependencies,
//! plus the selected extras and dependency groups (and a pylock.toml's
//! default groups).
//!
//! The target: `--target NAME` of the configuration (`[targets.NAME]`:
//! its CPython and platform), or `--python X.Y.Z` (CPython on linux
//! x86_64). Without either, the configuration's only target; when it
//! names several, the command asks for `--target` rather than pick one
//! (the output is one requirements file, for one interpreter). No
//! configuration is needed: without one, the default is CPython 3.11.2
//! (Debian 12). The lock's Python range and the project's
//! `requires-python` must contain the target's version (exit 1 naming the
//! file, the range and the target otherwise).
//!
//! Also the shared path from a lock to pins for one target ([`pin_lock`])
//! or several ([`pin_lock_per_target`]) that `update-deps` and
//! `build-wheels` use, and the stale-lock check ([`stale_lock`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context;
use pep508_rs::{MarkerEnvironment, PackageName};

use crate::config::{Config, Target, CONFIG_PATH};
use pinwheel_pypa::closure::Request;
use pinwheel_pypa::lockfile::{
    self, python_range, Format, GroupName, Lock, PythonRange, SdistLookup,
};
use pinwheel_pypa::requirements_txt::{self, Header, Pin};
use pinwheel_pypa::{closure, markers};
use pinwheel_trust::failure;
use pinwheel_trust::hash::Sha256;

/// Python when neither `--python` nor a configuration says: Debian 12's.
pub const DEFAULT_PYTHON: &str = "3.11.2";

/// The target machine of `requirements`.
pub const MACHINE: &str = "x86_64";

#[derive(Debug, Clone, Default, clap::Args)]
pub struct Options {
    /// poetry.lock, uv.lock, pylock.toml or a hashed requirements .txt.
    #[arg(long, value_name = "FILE")]
    pub lock: PathBuf,
    /// The project's pyproject.toml (default: beside a uv.lock or poetry.lock).
    #[arg(long, value_name = "FILE")]
    pub pyproject: Option<PathBuf>,
    /// The configured target to pin for (default: the only one).
    #[arg(long, value_name = "NAME", conflicts_with = "python")]
    pub target: Option<String>,
    /// Target CPython version on linux x86_64, instead of a configured
    /// target (default without a configuration: 3.11.2).
    #[arg(long, value_name = "X.Y.Z")]
    pub python: Option<String>,
    /// Install this extra of the project too.
    #[arg(long = "extra", value_name = "NAME")]
    pub extras: Vec<String>,
    /// Install this dependency group too.
    #[arg(long = "group", value_name = "NAME")]
    pub groups: Vec<String>,
    /// Pin this package's upstream wheels: it publishes no sdist.
    #[arg(long = "allow-wheel-only", value_name = "NAME")]
    pub allow_wheel_only: Vec<String>,
}

/// Prints the requirements of `options.lock` on stdout.
pub fn run(root: &Path, options: &Options) -> anyhow::Result<()> {
    let text = generate(root, options)?;
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .context("writing to stdout")?;
    stdout.flush().context("writing to stdout")
}

/// The requirements file text for `options`.
pub fn generate(root: &Path, options: &Options) -> anyhow::Result<String> {
    let chosen = choose_target(root, options)?;
    let env = match &chosen {
        Chosen::Target(target) => target
            .marker_environment()
            .with_context(|| format!("{CONFIG_PATH}: targets.{}", target.name))?,
        Chosen::Python(python) => markers::cpython_linux(python, MACHINE).context("--python")?,
    };
    let wheel_only = options
        .allow_wheel_only
        .iter()
        .map(|n| lockfile::parse_name(n).context("--allow-wheel-only"))
        .collect::<anyhow::Result<BTreeSet<_>>>()?;
    let request = request(&options.extras, &options.groups, "--extra", "--group")?;
    let label = options.lock.display().to_string();
    let bytes = fs_err::read(&options.lock)?;
    let sha256 = Sha256::of(&bytes);
    let text = lock_text(&label, &bytes)?;
    let format = Format::detect(&options.lock, text).with_context(|| label.clone())?;
    let mut lock = lockfile::parse(&label, format, text)?;
    let pyproject = match (&options.pyproject, format) {
        (Some(p), _) => Some(p.clone()),
        (None, Format::Uv | Format::Poetry) => {
            Some(options.lock.with_file_name("pyproject.toml")).filter(|p| p.exists())
        }
        (None, _) => None,
    };
    if let Some(pyproject) = &pyproject {
        let pyproject_text = fs_err::read_to_string(pyproject)?;
        let pyproject_label = pyproject.display().to_string();
        let table: toml::Table = toml::from_str(&pyproject_text).map_err(|err| {
            anyhow::anyhow!(
                "{pyproject_label}: malformed TOML: {}",
                lockfile::one_line(&err.to_string())
            )
        })?;
        for range in python_range::of_pyproject(&table).with_context(|| pyproject_label.clone())? {
            check_python_range(
                &pyproject_label,
                &range,
                chosen.python(),
                &chosen.to_string(),
            )?;
        }
        if let Some(reason) = stale_lock(&lock, &pyproject_label, &pyproject_text)? {
            let dir = crate::fresh::parent_dir(&options.lock);
            return Err(failure::stale(format!(
                "{label} is out of date with {}: {reason}; re-lock with `{}`",
                pyproject.display(),
                relock_command(format, &dir).join(" ")
            )));
        }
        attach_pyproject(&mut lock, &pyproject_label, &pyproject_text)?;
    }
    if let Some(range) = &lock.requires_python {
        check_python_range(&label, range, chosen.python(), &chosen.to_string())?;
    }
    let mut command = format!("cargo xtask requirements --lock {label}");
    if let Some(t) = &options.target {
        command += &format!(" --target {t}");
    }
    if let Some(p) = &options.python {
        command += &format!(" --python {p}");
    }
    for extra in &options.extras {
        command += &format!(" --extra {extra}");
    }
    for group in &options.groups {
        command += &format!(" --group {group}");
    }
    for name in &options.allow_wheel_only {
        command += &format!(" --allow-wheel-only {name}");
    }
    let header = Header {
        command,
        lock: label.clone(),
        lock_sha256: sha256,
        target: match &chosen {
            Chosen::Target(target) => target_description(target),
            Chosen::Python(python) => target_text(python, MACHINE),
        },
    };
    if matches!(lock.selection, lockfile::Selection::NeedsPyproject) && pyproject.is_none() {
        anyhow::bail!(
            "{label}: a poetry.lock from Poetry 1.x does not record the project's own dependencies, \
             and there is no pyproject.toml beside it; pass --pyproject FILE"
        );
    }
    let pins = pin_lock_for(
        &label,
        lock,
        &env,
        &request,
        &wheel_only,
        "pass --allow-wheel-only NAME",
        &lockfile::Offline,
    )?;
    Ok(requirements_txt::render(&header, &pins))
}

/// What `requirements` pins for: a configured target, or a CPython
/// version on linux x86_64.
enum Chosen {
    Target(Target),
    Python(String),
}

impl Chosen {
    fn python(&self) -> &str {
        match self {
            Chosen::Target(target) => &target.python,
            Chosen::Python(python) => python,
        }
    }
}

impl std::fmt::Display for Chosen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Chosen::Target(t) => write!(f, "target {} (CPython {})", t.name, t.python),
            Chosen::Python(python) => write!(f, "CPython {python}"),
        }
    }
}

/// `--target`, `--python`, the configuration's only target, or without a
/// configuration [`DEFAULT_PYTHON`]; several targets and neither flag is
/// an error listing them.
fn choose_target(root: &Path, options: &Options) -> anyhow::Result<Chosen> {
    if let Some(python) = &options.python {
        return Ok(Chosen::Python(python.clone()));
    }
    let has_config = root.join(CONFIG_PATH).exists();
    match (&options.target, has_config) {
        (Some(name), true) => Ok(Chosen::Target(Config::load(root)?.target(name)?.clone())),
        (Some(_), false) => anyhow::bail!(
            "--target needs a configuration, and {} does not exist; pass --python X.Y.Z instead",
            root.join(CONFIG_PATH).display()
        ),
        (None, false) => Ok(Chosen::Python(DEFAULT_PYTHON.to_owned())),
        (None, true) => {
            let config = Config::load(root)?;
            let mut targets = config.targets.values();
            match (targets.next(), targets.next()) {
                (Some(only), None) => Ok(Chosen::Target(only.clone())),
                _ => anyhow::bail!(
                    "{} names {} targets ({}): pass --target NAME to choose one, or --python X.Y.Z",
                    config.path.display(),
                    config.targets.len(),
                    config
                        .targets
                        .values()
                        .map(|t| format!("{}: CPython {}", t.name, t.python))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
    }
}

/// Refuses (exit 1) a Python range that excludes `python`, the full
/// CPython version of `what` (e.g. "target bookworm (CPython 3.11.2)"):
/// `label: requires-python ">=3.13" excludes target bookworm (CPython 3.11.2)`.
pub fn check_python_range(
    label: &str,
    range: &PythonRange,
    python: &str,
    what: &str,
) -> anyhow::Result<()> {
    let version: pep440_rs::Version = python
        .parse()
        .map_err(|err| anyhow::anyhow!("python version {python:?}: {err}"))?;
    if range.contains(&version) {
        return Ok(());
    }
    Err(failure::refused(format!(
        "{label}: {} excludes {what}",
        range.describe()
    )))
}

/// "bookworm (Debian bookworm/amd64, CPython 3.11.2, linux_x86_64)": a
/// target as a generated file's header names it.
pub fn target_description(target: &Target) -> String {
    format!(
        "{} (Debian {}/{}, CPython {}, {})",
        target.name,
        target.suite,
        target.architecture,
        target.python,
        target.platform()
    )
}

/// The extras and groups selected by name; `extra_what` and `group_what`
/// name where they come from in errors.
pub fn request(
    extras: &[String],
    groups: &[String],
    extra_what: &str,
    group_what: &str,
) -> anyhow::Result<Request> {
    Ok(Request {
        extras: extras
            .iter()
            .map(|e| lockfile::parse_extra(e).context(extra_what.to_owned()))
            .collect::<anyhow::Result<_>>()?,
        groups: groups
            .iter()
            .map(|g| g.parse::<GroupName>().context(group_what.to_owned()))
            .collect::<anyhow::Result<_>>()?,
    })
}

/// Gives a Poetry 1.x lock the project's own dependencies from
/// pyproject.toml (`pyproject_label` names it in errors).
pub fn attach_pyproject(
    lock: &mut Lock,
    pyproject_label: &str,
    pyproject_text: &str,
) -> anyhow::Result<()> {
    if !matches!(lock.selection, lockfile::Selection::NeedsPyproject) {
        return Ok(());
    }
    let table: toml::Table = toml::from_str(pyproject_text).map_err(|err| {
        anyhow::anyhow!(
            "{pyproject_label}: malformed TOML: {}",
            lockfile::one_line(&err.to_string())
        )
    })?;
    lockfile::poetry::attach_pyproject(lock, &table).with_context(|| pyproject_label.to_owned())
}

/// A lockfile's bytes as text (after they were hashed).
pub fn lock_text<'a>(label: &str, bytes: &'a [u8]) -> anyhow::Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|err| anyhow::anyhow!("{label}: not UTF-8 text ({err})"))
}

/// "CPython 3.11.2 on linux_x86_64".
pub fn target_text(python: &str, machine: &str) -> String {
    format!("CPython {python} on linux_{machine}")
}

/// From a parsed lock to the pins of its production closure on `env`
/// (main dependencies only).
pub fn pin_lock(
    label: &str,
    lock: Lock,
    env: &MarkerEnvironment,
    wheel_only: &BTreeSet<PackageName>,
    how_to_allow: &str,
    lookup: &dyn SdistLookup,
) -> anyhow::Result<Vec<Pin>> {
    let request = Request::default();
    pin_lock_for(label, lock, env, &request, wheel_only, how_to_allow, lookup)
}

/// [`pin_lock`] with the extras and groups of `request` too.
pub fn pin_lock_for(
    label: &str,
    lock: Lock,
    env: &MarkerEnvironment,
    request: &Request,
    wheel_only: &BTreeSet<PackageName>,
    how_to_allow: &str,
    lookup: &dyn SdistLookup,
) -> anyhow::Result<Vec<Pin>> {
    let mut packages =
        closure::into_production(lock, env, request).with_context(|| label.to_owned())?;
    lockfile::classify(&mut packages, lookup).with_context(|| label.to_owned())?;
    let pins =
        closure::pins(&packages, wheel_only, how_to_allow).with_context(|| label.to_owned())?;
    Ok(pins)
}

/// [`pin_lock_for`] for several targets at once, one list of pins per
/// marker environment in `envs`: each target's closure, with the files of
/// a lock that does not name them (a hashed requirements.txt) looked up
/// once for all targets.
pub fn pin_lock_per_target(
    label: &str,
    lock: &Lock,
    envs: &[MarkerEnvironment],
    request: &Request,
    wheel_only: &BTreeSet<PackageName>,
    how_to_allow: &str,
    lookup: &dyn SdistLookup,
) -> anyhow::Result<Vec<Vec<Pin>>> {
    let mut closures = envs
        .iter()
        .map(|env| closure::production(lock, env, request).with_context(|| label.to_owned()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut pending: BTreeMap<(PackageName, pep440_rs::Version), lockfile::Package> =
        BTreeMap::new();
    for package in closures.iter().flatten() {
        if !package.unclassified.is_empty() {
            pending
                .entry((package.name.clone(), package.version.clone()))
                .or_insert_with(|| package.clone());
        }
    }
    let keys: Vec<(PackageName, pep440_rs::Version)> = pending.keys().cloned().collect();
    let mut classified: Vec<lockfile::Package> = pending.into_values().collect();
    lockfile::classify(&mut classified, lookup).with_context(|| label.to_owned())?;
    let classified: BTreeMap<_, _> = keys.into_iter().zip(classified).collect();
    for package in closures.iter_mut().flatten() {
        let key = (package.name.clone(), package.version.clone());
        if let Some(known) = classified.get(&key) {
            package.sdists = known.sdists.clone();
            package.wheels = known.wheels.clone();
            package.unclassified.clear();
        }
    }
    closures
        .iter()
        .map(|packages| {
            closure::pins(packages, wheel_only, how_to_allow).with_context(|| label.to_owned())
        })
        .collect()
}

/// Why the lock no longer matches its pyproject.toml (`pyproject_label`
/// names it in errors), if it does not. Only poetry.lock and uv.lock
/// record what they were made from.
pub fn stale_lock(
    lock: &Lock,
    pyproject_label: &str,
    pyproject_text: &str,
) -> anyhow::Result<Option<String>> {
    let parse = || -> anyhow::Result<toml::Table> {
        toml::from_str(pyproject_text).map_err(|err| {
            anyhow::anyhow!(
                "{pyproject_label}: malformed TOML: {}",
                lockfile::one_line(&err.to_string())
            )
        })
    };
    match lock.format {
        Format::Poetry => Ok(lockfile::poetry::stale_reason(&lock.recorded, &parse()?)),
        Format::Uv => {
            let Some(recorded) = &lock.recorded.uv_project else {
                return Ok(None);
            };
            let wanted = lockfile::uv::project_from_pyproject(&parse()?)
                .with_context(|| pyproject_label.to_owned())?;
            Ok(lockfile::uv::stale_reason(recorded, &wanted))
        }
        Format::Pylock | Format::RequirementsTxt => Ok(None),
    }
}

/// The command that re-locks a project in `dir`.
pub fn relock_command(format: Format, dir: &Path) -> Vec<String> {
    let dir = dir.display().to_string();
    match format {
        Format::Uv => vec!["uv".into(), "lock".into(), "--project".into(), dir],
        Format::Poetry => vec!["poetry".into(), "lock".into(), "--directory".into(), dir],
        Format::Pylock | Format::RequirementsTxt => vec!["(the tool that wrote the lock)".into()],
    }
}
