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
use crate::package_index::DistKind;
use crate::requirements::{
    attach_pyproject, lock_text, pin_lock_for, relock_command, request, stale_lock, target_text,
};
use crate::{build_requirements, http, online, verify};
use pinwheel_pypa::lockfile::{self, Format, SdistLookup};
use pinwheel_pypa::requirements_txt::{self, Header, Pin, Pins};
use pinwheel_trust::failure;
use pinwheel_trust::hash::Sha256;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct Options {
    /// Only this application (default: every configured one).
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
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
    let apps: Vec<(&str, &App)> = match &options.app {
        Some(name) => vec![(name.as_str(), config.app(name)?)],
        None => config.apps.iter().map(|(k, v)| (k.as_str(), v)).collect(),
    };
    if apps.is_empty() {
        bail!("{}: no applications configured", config.path.display());
    }
    let mut outputs = Vec::new();
    let mut missing_wheels = Vec::new();
    for (name, app) in apps {
        let planned = plan(&config, name, app, options, index)
            .with_context(|| format!("application {name}"))?;
        outputs.extend(planned.outputs);
        missing_wheels.extend(planned.missing_wheels);
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
    if !missing_wheels.is_empty() {
        // requirements.txt is written (build-wheels reads it); each
        // build-requirements.txt that cannot be made is left untouched.
        return Err(failure::stale(missing_wheels.join("; ")));
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
    index: Option<&OnlineIndex>,
) -> anyhow::Result<Planned> {
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
    attach_pyproject(&mut lock, &pyproject_label, &pyproject_text)?;
    let request = request(
        &app.extras,
        &app.groups,
        &format!("{CONFIG_PATH}: apps.{name}.extras"),
        &format!("{CONFIG_PATH}: apps.{name}.groups"),
    )?;
    let env = config
        .first_target()
        .marker_environment()
        .with_context(|| config.path.display().to_string())?;
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
    let pins = pin_lock_for(
        &lock_label,
        lock,
        &env,
        &request,
        &wheel_only,
        &how_to_allow,
        lookup,
    )?;
    if let Some(index) = index {
        index.check(&pins).with_context(|| lock_label.clone())?;
    }
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
            &config.first_target().python,
            config
                .first_target()
                .platform()
                .trim_start_matches("linux_"),
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
    let mut planned = Planned {
        outputs: vec![Output {
            path,
            contents,
            review,
        }],
        missing_wheels: None,
    };
    let index = root.join(crate::build_wheels::INDEX_DIR);
    if index.join("files").is_dir() {
        match plan_build_requirements(config, name, &index, &pins, &header.target)? {
            Ok(output) => planned.outputs.push(output),
            Err(missing) => planned.missing_wheels = Some(missing),
        }
    }
    Ok(planned)
}

/// The files of one application, and why build-requirements.txt could not
/// be made (the index does not verify, or wheels are missing), if it could
/// not.
pub struct Planned {
    pub outputs: Vec<Output>,
    pub missing_wheels: Option<String>,
}

/// `requirements/<app>/build-requirements.txt` from our wheels, or the
/// reason it cannot be made. Only a verified list is used: the full
/// `verify` (signatures, threshold, expiry, rollback, every file) runs
/// first.
fn plan_build_requirements(
    config: &Config,
    name: &str,
    index: &Path,
    pins: &[Pin],
    target: &str,
) -> anyhow::Result<Result<Output, String>> {
    let verified = verify::verify_index(
        config,
        &verify::Options {
            index: Some(index.to_path_buf()),
            ..Default::default()
        },
    );
    if let Err(err) = verified {
        if failure::exit_code(&err) != 1 {
            return Err(err);
        }
        return Ok(Err(format!(
            "{}: build-requirements.txt left as it is: the wheel index does not verify ({err:#}); \
             after `cargo xtask build-wheels`, run `cargo xtask sign`",
            index.display()
        )));
    }
    let tags = pinwheel_pypa::tags::CompatibleTags::for_target(
        &config.first_target().python,
        config.first_target().platform(),
        None,
    )?;
    let wheels = build_requirements::read_index(index)?;
    let chosen = match build_requirements::select(pins, &wheels, &tags) {
        Ok(chosen) => chosen,
        Err(missing) => return Ok(Err(build_requirements::missing_message(name, &missing))),
    };
    let source = format!("requirements/{name}/requirements.txt");
    let command = format!("{COMMAND} --app {name}");
    let contents = build_requirements::render(&command, &source, target, &chosen);
    let path = output_path(&config.root, name, build_requirements::FILE_NAME)?;
    let old = match fs_err::read_to_string(&path) {
        Ok(text) => Some(Pins::parse(&text).map_err(|err| format!("{err:#}"))),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(err.into()),
    };
    let new: Vec<Pin> = chosen.into_iter().map(|(pin, _)| pin).collect();
    let review = Review::new(old, &new);
    Ok(Ok(Output {
        path,
        contents,
        review,
    }))
}

/// The package index, for `--online` (lookups by `online.rs`).
pub struct OnlineIndex {
    client: http::Client,
    url: String,
    /// Pinned sdist hashes the index was found to serve, for the summary.
    found: std::sync::atomic::AtomicUsize,
}

/// Project pages fetched at once.
const JOBS: usize = 8;

impl OnlineIndex {
    /// The configured index (`[index]` in the configuration).
    pub fn new(config: &Config) -> anyhow::Result<OnlineIndex> {
        Ok(OnlineIndex {
            client: http::Client::new(&config.index)?,
            url: config.index.url.clone(),
            found: Default::default(),
        })
    }

    /// An index at `url` through `client`.
    pub fn with_client(client: http::Client, url: &str) -> OnlineIndex {
        OnlineIndex {
            client,
            url: url.to_owned(),
            found: Default::default(),
        }
    }

    /// Every pinned sdist must be served by the index as an sdist of that
    /// project and version (a verification failure otherwise); yanked
    /// files are warnings. Wheel-only pins are checked to be served.
    pub fn check(&self, pins: &[Pin]) -> anyhow::Result<()> {
        let (wheels, sdists): (Vec<&Pin>, Vec<&Pin>) = pins.iter().partition(|p| p.wheel_only);
        let lookups = online::lookup(
            &self.client,
            &self.url,
            &sdists.iter().map(|p| online_pin(p)).collect::<Vec<_>>(),
            JOBS,
        )?;
        for warning in online::check_sdists(&lookups)? {
            eprintln!("warning: {warning}");
        }
        self.count(lookups.iter().map(|l| l.hashes.len()).sum());
        let lookups = online::lookup(
            &self.client,
            &self.url,
            &wheels.iter().map(|p| online_pin(p)).collect::<Vec<_>>(),
            JOBS,
        )?;
        for l in &lookups {
            for (hash, served) in &l.hashes {
                if *served == online::Served::Missing {
                    return Err(failure::verification_failed(format!(
                        "{}=={} sha256:{hash}: the index serves no file with this hash ({})",
                        l.pin.name, l.pin.version, l.page
                    )));
                }
            }
        }
        Ok(())
    }
}

impl OnlineIndex {
    fn count(&self, n: usize) {
        self.found
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// One line for a run that found nothing wrong.
    pub fn summary(&self) -> String {
        format!(
            "update-deps --online: {} pinned sdist(s) found on {}",
            self.found.load(std::sync::atomic::Ordering::Relaxed),
            self.url
        )
    }
}

fn online_pin(pin: &Pin) -> online::Pin {
    online::Pin {
        name: pin.name.to_string(),
        version: pin.version.to_string(),
        hashes: pin.hashes().copied().collect(),
    }
}

impl SdistLookup for OnlineIndex {
    fn classify(
        &self,
        queries: &[lockfile::Query<'_>],
    ) -> anyhow::Result<Vec<lockfile::Classified>> {
        let pins: Vec<online::Pin> = queries
            .iter()
            .map(|q| online::Pin {
                name: q.name.to_string(),
                version: q.version.to_string(),
                hashes: q.hashes.to_vec(),
            })
            .collect();
        let lookups = online::lookup(&self.client, &self.url, &pins, JOBS)?;
        let mut out = Vec::new();
        for l in &lookups {
            let artifact = |hash: &Sha256, filename: &str| lockfile::Artifact {
                filename: filename.to_owned(),
                url: None,
                sha256: *hash,
                size: None,
            };
            let served = |kind: DistKind| {
                l.hashes.iter().filter_map(move |(h, s)| match s {
                    online::Served::File {
                        filename, kind: k, ..
                    } if *k == kind => Some((h, filename)),
                    _ => None,
                })
            };
            let wheels = served(DistKind::Wheel)
                .map(|(h, f)| artifact(h, f))
                .collect();
            let sdists = if served(DistKind::Sdist).next().is_some() {
                // Checks that each is an sdist of this name and version;
                // warnings (yanked files) are printed by `check`, which
                // sees every pin after classification.
                let (hashes, _warnings) = online::sdist_hashes(l)?;
                served(DistKind::Sdist)
                    .filter(|(h, _)| hashes.contains(h))
                    .map(|(h, f)| artifact(h, f))
                    .collect()
            } else {
                Vec::new() // wheel-only, or an error naming the package in `closure::pins`
            };
            out.push(lockfile::Classified { sdists, wheels });
        }
        Ok(out)
    }
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
