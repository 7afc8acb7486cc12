//! `cargo xtask requirements --lock FILE [--pyproject FILE] [--python X.Y.Z]
//! [--extra NAME]... [--group NAME]... [--allow-wheel-only NAME]...`:
//! prints the sdist-pinned requirements of a lockfile for the target
//! (CPython on linux x86_64), in the format of
//! `requirements/<app>/requirements.txt`: the main dependencies, plus the
//! selected extras and dependency groups (and a pylock.toml's default
//! groups). No configuration is needed; `--python` defaults to the
//! configured target when there is one, else 3.11.2 (Debian 12).
//!
//! Also the shared path from lockfile bytes to pins ([`pin_lock`]) that
//! `update-deps` uses, and the stale-lock check ([`stale_lock`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use pep508_rs::{MarkerEnvironment, PackageName};

use crate::config::{Config, CONFIG_PATH};
use pinwheel_pypa::closure::Request;
use pinwheel_pypa::lockfile::{self, Format, GroupName, Lock, SdistLookup};
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
    /// Target CPython version (default: the configured target, else 3.11.2).
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
    let python = match &options.python {
        Some(python) => python.clone(),
        None if root.join(CONFIG_PATH).exists() => {
            Config::load(root)?.first_target().python.clone()
        }
        None => DEFAULT_PYTHON.to_owned(),
    };
    let env = markers::cpython_linux(&python, MACHINE).context("--python")?;
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
        if let Some(reason) = stale_lock(&lock, &pyproject.display().to_string(), &pyproject_text)?
        {
            let dir = crate::fresh::parent_dir(&options.lock);
            return Err(failure::stale(format!(
                "{label} is out of date with {}: {reason}; re-lock with `{}`",
                pyproject.display(),
                relock_command(format, &dir).join(" ")
            )));
        }
        let label = pyproject.display().to_string();
        attach_pyproject(&mut lock, &label, &pyproject_text)?;
    }
    let mut command = format!("cargo xtask requirements --lock {label}");
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
        target: target_text(&python, MACHINE),
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
