//! `cargo xtask update-deps [--app NAME] [--check] [--relock] [--online]`:
//! for each configured application, writes
//! `requirements/<app>/requirements.txt` — every production dependency of
//! its lock for the target, pinned to the sha256 of its sdist — and prints
//! a review summary: added, removed, upgraded (`a 1.0 → 1.1`) and, loudly,
//! hashes that changed at the same version.
//!
//! Everything is computed before anything is written: an error in one
//! application leaves every file untouched. `--check` writes nothing,
//! prints the diff and exits 1 when a file is stale. A lock that no longer
//! matches its pyproject.toml is refused with the command that re-locks;
//! `--relock` runs that command (uv or poetry) first.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::config::{App, Config, CONFIG_PATH};
use crate::fresh::{self, Mode, Outcome};
use crate::hash::Sha256;
use crate::lockfile::{self, Format, SdistLookup};
use crate::requirements::{lock_text, pin_lock, relock_command, stale_lock, target_text};
use crate::requirements_txt::{self, Header, Pin, Pins};
use crate::{failure, markers};

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub app: Option<String>,
    pub check: bool,
    pub relock: bool,
    pub online: bool,
}

/// The command that regenerates the files.
pub const COMMAND: &str = "cargo xtask update-deps";

/// One file to write, and what changed in it for the reviewer.
pub struct Output {
    pub path: PathBuf,
    pub contents: String,
    pub review: Review,
}

/// Runs `update-deps` under `root`.
pub fn run(root: &Path, options: &Options) -> anyhow::Result<()> {
    if options.online {
        // The seam for the index lookup: an `SdistLookup` over
        // `package_index::PackageIndex` goes here.
        bail!("--online: looking sdists up in the package index is not wired in yet; lock with uv, poetry or pylock.toml, which name their files");
    }
    run_with(root, options, &lockfile::Offline)
}

/// Runs `update-deps` with `lookup` telling sdists from wheels for locks
/// that do not say (hashed requirements.txt).
pub fn run_with(root: &Path, options: &Options, lookup: &dyn SdistLookup) -> anyhow::Result<()> {
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
    let apps: Vec<(&str, &App)> = match &options.app {
        Some(name) => vec![(name.as_str(), config.app(name)?)],
        None => config.apps.iter().map(|(k, v)| (k.as_str(), v)).collect(),
    };
    if apps.is_empty() {
        bail!("{}: no applications configured", config.path.display());
    }
    let mut outputs = Vec::new();
    for (name, app) in apps {
        outputs.extend(
            plan(&config, name, app, options, lookup)
                .with_context(|| format!("application {name}"))?,
        );
    }
    let mut stale = Vec::new();
    for output in &outputs {
        let outcome = fresh::ensure_file_contents(&output.path, output.contents.as_bytes(), mode)?;
        let rel = relative(&config.root, &output.path);
        let state = match (outcome, mode) {
            (Outcome::Unchanged, _) => "up to date",
            (Outcome::Changed, Mode::Write) => "updated",
            (Outcome::Changed, Mode::Check) => "out of date",
        };
        println!("{rel}: {state} ({} packages)", output.review.count);
        print!("{}", output.review);
        if outcome == Outcome::Changed && mode == Mode::Check {
            stale.push(rel);
        }
    }
    if !stale.is_empty() {
        return Err(failure::stale(format!(
            "{} out of date; run `{COMMAND}`",
            stale.join(", ")
        )));
    }
    Ok(())
}

/// The files of one application (requirements.txt; build-requirements.txt
/// joins it when our wheel index exists), computed without writing.
pub fn plan(
    config: &Config,
    name: &str,
    app: &App,
    options: &Options,
    lookup: &dyn SdistLookup,
) -> anyhow::Result<Vec<Output>> {
    let root = &config.root;
    let lock_path = inside_root(root, &app.lock, "lockfile")?;
    let pyproject_path = inside_root(root, &app.pyproject, "pyproject")?;
    let lock_label = slash_path(&app.lock);
    let (mut bytes, mut lock) = read_lock(&lock_path, &lock_label)?;
    let pyproject_label = slash_path(&app.pyproject);
    let pyproject_text = fs_err::read_to_string(&pyproject_path)?;
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
    let env =
        markers::environment(&config.target).with_context(|| config.path.display().to_string())?;
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
    let pins = pin_lock(&lock_label, lock, &env, &wheel_only, &how_to_allow, lookup)?;
    for allowed in &wheel_only {
        if !pins.iter().any(|p| p.wheel_only && p.name == *allowed) {
            eprintln!("warning: {CONFIG_PATH}: apps.{name}.wheel-only lists {allowed}, which needs no exception; remove it");
        }
    }
    let header = Header {
        command: format!("{COMMAND} --app {name}"),
        lock: lock_label,
        lock_sha256: Sha256::of(&bytes),
        target: target_text(
            &config.target.python,
            config.target.platform.trim_start_matches("linux_"),
        ),
    };
    let contents = requirements_txt::render(&header, &pins);
    let path = output_path(root, name, "requirements.txt")?;
    let old = match fs_err::read_to_string(&path) {
        Ok(text) => Some(Pins::parse(&text).map_err(|err| format!("{err:#}"))),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(err.into()),
    };
    let review = Review::new(old, &pins);
    Ok(vec![Output {
        path,
        contents,
        review,
    }])
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

/// `requirements/<app>/<file>`; the directories on the way may not be
/// symlinks leading out of the repository, nor may the file be a symlink.
fn output_path(root: &Path, app: &str, file: &str) -> anyhow::Result<PathBuf> {
    let dir = root.join("requirements").join(app);
    for d in [root.join("requirements"), dir.clone()] {
        if let Ok(real) = std::fs::canonicalize(&d) {
            if !real.starts_with(root) {
                bail!(
                    "{}: leads out of the repository (to {}); refusing to write there",
                    d.display(),
                    real.display()
                );
            }
        }
    }
    let path = dir.join(file);
    fresh::refuse_symlink(&path)?;
    Ok(path)
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

/// What changed in a requirements file, for the reviewer.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Review {
    pub count: usize,
    /// The previous file could not be read (e.g. edited by hand).
    pub unreadable: Option<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// `a 1.0 → 1.1`.
    pub upgraded: Vec<String>,
    pub downgraded: Vec<String>,
    /// Same name and version, different hashes.
    pub hash_changed: Vec<String>,
    pub wheel_only: Vec<String>,
}

impl Review {
    pub fn new(old: Option<Result<Pins, String>>, new: &[Pin]) -> Review {
        let mut review = Review {
            count: new.len(),
            ..Review::default()
        };
        review.wheel_only = new
            .iter()
            .filter(|p| p.wheel_only)
            .map(|p| format!("{} {}", p.name, p.version))
            .collect();
        let old = match old {
            None => Pins::default(),
            Some(Ok(pins)) => pins,
            Some(Err(err)) => {
                review.unreadable = Some(err);
                return review;
            }
        };
        for pin in new {
            match old.get(&pin.name) {
                None => review.added.push(format!("{} {}", pin.name, pin.version)),
                Some(before) if before.version != pin.version => {
                    let line = format!("{} {} → {}", pin.name, before.version, pin.version);
                    if before.version < pin.version {
                        review.upgraded.push(line);
                    } else {
                        review.downgraded.push(line);
                    }
                }
                Some(before) => {
                    let a: BTreeSet<&Sha256> = before.hashes().collect();
                    let b: BTreeSet<&Sha256> = pin.hashes().collect();
                    if a != b {
                        let removed: Vec<String> =
                            a.difference(&b).map(|h| h.to_string()).collect();
                        let added: Vec<String> = b.difference(&a).map(|h| h.to_string()).collect();
                        review.hash_changed.push(format!(
                            "{} {}: {} → {}",
                            pin.name,
                            pin.version,
                            if removed.is_empty() {
                                "-".to_owned()
                            } else {
                                removed.join(", ")
                            },
                            if added.is_empty() {
                                "-".to_owned()
                            } else {
                                added.join(", ")
                            }
                        ));
                    }
                }
            }
        }
        for pin in &old.pins {
            if !new.iter().any(|p| p.name == pin.name) {
                review.removed.push(format!("{} {}", pin.name, pin.version));
            }
        }
        review
    }
}

impl fmt::Display for Review {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(err) = &self.unreadable {
            writeln!(
                f,
                "  the previous file could not be read ({err}); review the whole diff"
            )?;
        }
        for (label, items) in [
            ("added", &self.added),
            ("removed", &self.removed),
            ("upgraded", &self.upgraded),
            ("downgraded", &self.downgraded),
        ] {
            for item in items {
                writeln!(f, "  {label:<10} {item}")?;
            }
        }
        for item in &self.wheel_only {
            writeln!(
                f,
                "  wheel-only {item}: pinned to upstream wheels (publishes no sdist)"
            )?;
        }
        for item in &self.hash_changed {
            writeln!(f, "  !!! HASH CHANGED AT THE SAME VERSION: {item}")?;
            writeln!(f, "  !!! the same release now has different bytes: a re-upload or tampering; find out why before merging")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(name: &str, version: &str, hash: char) -> Pin {
        Pin {
            name: name.parse().unwrap(),
            version: version.parse().unwrap(),
            files: vec![requirements_txt::PinnedFile {
                sha256: hash.to_string().repeat(64).parse().unwrap(),
                filename: None,
            }],
            wheel_only: false,
        }
    }

    #[test]
    fn review_names_every_change() {
        let old = Pins {
            pins: vec![
                pin("a", "1.0", 'a'),
                pin("b", "2.0", 'b'),
                pin("c", "3.0", 'c'),
                pin("gone", "1", 'd'),
            ],
        };
        let new = vec![
            pin("a", "1.1", 'e'),
            pin("b", "2.0", 'f'),
            pin("c", "3.0", 'c'),
            pin("new", "0.1", '0'),
        ];
        let review = Review::new(Some(Ok(old)), &new);
        assert_eq!(review.added, ["new 0.1"]);
        assert_eq!(review.removed, ["gone 1"]);
        assert_eq!(review.upgraded, ["a 1.0 → 1.1"]);
        assert_eq!(
            review.hash_changed,
            [format!("b 2.0: {} → {}", "b".repeat(64), "f".repeat(64))]
        );
        let text = review.to_string();
        assert!(text.contains("upgraded   a 1.0 → 1.1"), "{text}");
        assert!(
            text.contains("!!! HASH CHANGED AT THE SAME VERSION: b 2.0"),
            "{text}"
        );
    }

    #[test]
    fn review_of_a_first_run() {
        let review = Review::new(None, &[pin("a", "1", 'a')]);
        assert_eq!(review.added, ["a 1"]);
        assert!(review.hash_changed.is_empty());
    }
}
