//! `cargo xtask build-wheels [--app NAME] [--rebuild NAME]... [--verify-reproducible] [--jobs N]`:
//! our own wheels from verified sources, in `wheels-index/`.
//!
//! For every pinned sdist of the bootstrap set and of the applications:
//! find it (already in `wheels-index/files/` with the pinned sha256, or
//! fetched and hash-checked before anything reads it), unpack it, read its
//! `[build-system]`, and build it through the PEP 517 hooks — the bootstrap
//! set first, in waves (`build_wheels/plan.rs`, `build_wheels/waves.rs`),
//! then the application dependencies in a venv of exactly the bootstrap
//! wheels — in the fixed, clean, offline environment of
//! `build_wheels/env.rs`. Wheels are normalized, and only when every build
//! succeeded are the sdists, the wheels and `wheels-index/built-from.toml`
//! (which sdist and build environment each wheel came from) written, and
//! the index pages regenerated.
//!
//! Incremental: a wheel recorded for exactly the pinned sdist and build
//! environment, with its files intact, is not rebuilt (`--rebuild NAME`
//! forces it). `--verify-reproducible` rebuilds everything into a
//! temporary directory and compares bytes; it writes nothing.

pub mod build_system;
pub mod env;
pub mod hooks;
pub mod inputs;
pub mod manifest;
pub mod plan;
pub mod progress;
pub mod waves;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use pep508_rs::{PackageName, Requirement};

use crate::config::Config;
use crate::fetch;
use crate::fresh::{self, Mode, RepoLock};
use crate::http;
use crate::package_index::{self, DistKind, PackageIndex};
use crate::refresh_index;
use inputs::{Pin, Role};
use manifest::{Entry, Manifest};
use pinwheel_archive::unpack;
use pinwheel_archive::wheel;
use pinwheel_pypa::sdist_filename::{SdistFilename, SdistFormat};
use pinwheel_pypa::wheel_filename::WheelFilename;
use pinwheel_trust::hash::Sha256;
use plan::{BuildSet, Member};
use waves::{Ctx, Job};

/// The index directory, relative to the repository root.
pub const INDEX_DIR: &str = "wheels-index";

/// Where fetched sdists wait until their build succeeds.
pub const SDIST_CACHE: &str = "target/pinwheel/sdists";

/// What the command line asked for.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Options {
    /// Only this application's dependencies (and the bootstrap set).
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// Rebuild this package even when its wheel is current (repeatable).
    #[arg(long, value_name = "NAME")]
    pub rebuild: Vec<String>,
    /// Rebuild every wheel into a temporary directory, compare bytes, write nothing.
    #[arg(long)]
    pub verify_reproducible: bool,
    /// How many builds run at once (default: the number of CPUs).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// A wheel built in this run, waiting in the staging directory.
struct Built {
    name: PackageName,
    version: String,
    sdist: PathBuf,
    sdist_sha256: Sha256,
    wheel: PathBuf,
    wheel_sha256: Sha256,
}

/// Runs the command.
pub fn run(root: &Path, options: &Options) -> anyhow::Result<()> {
    let started = Instant::now();
    let config = Config::load(root)?;
    let _lock = RepoLock::acquire(root)?;
    let index = root.join(INDEX_DIR);
    let files = index.join("files");
    let pins = inputs::collect(&config, options.app.as_deref())?;
    for name in &options.rebuild {
        let wanted = PackageName::from_str(name)
            .map_err(|err| anyhow::anyhow!("--rebuild {name}: {err}"))?;
        if !pins.iter().any(|p| p.name == wanted) {
            bail!("--rebuild {name}: no such package is pinned (see requirements/*/requirements.txt and {})", config.bootstrap.lock.display());
        }
    }
    let bootstrap_ids: Vec<(String, String, Sha256)> = pins
        .iter()
        .filter(|p| p.role == Role::Bootstrap)
        .map(|p| (p.name.to_string(), p.version.to_string(), p.sha256[0]))
        .collect();
    let build_env = manifest::build_env_digest(&config.target.python, &bootstrap_ids);
    let manifest_path = index.join(manifest::FILE_NAME);
    let manifest = manifest::read(&manifest_path)?;
    fresh::remove_stale_temporaries(&files)?;

    let mut current: BTreeMap<PackageName, Entry> = BTreeMap::new();
    let mut todo: Vec<&Pin> = Vec::new();
    for pin in &pins {
        let forced = options
            .rebuild
            .iter()
            .any(|n| PackageName::from_str(n).is_ok_and(|n| n == pin.name));
        match up_to_date(&index, &manifest, pin, &build_env)? {
            Some(entry) if !forced && !options.verify_reproducible => {
                current.insert(pin.name.clone(), entry.clone());
            }
            Some(entry) => {
                current.insert(pin.name.clone(), entry.clone());
                todo.push(pin);
            }
            None => todo.push(pin),
        }
    }
    if options.verify_reproducible {
        let missing: Vec<String> = pins
            .iter()
            .filter(|p| !current.contains_key(&p.name))
            .map(|p| format!("{} {}", p.name, p.version))
            .collect();
        if !missing.is_empty() {
            bail!(
                "no current wheel in {INDEX_DIR}/ for {}: run `cargo xtask build-wheels` first",
                missing.join(", ")
            );
        }
    }
    let prune = options.app.is_none() && !options.verify_reproducible;
    if todo.is_empty() {
        let mut manifest = manifest;
        if prune && !stale_files(&index, &mut manifest, &pins)?.is_empty() {
            commit(
                &index,
                manifest,
                &[],
                &build_env,
                &pins,
                prune,
                &config.trust.scope,
            )?;
        }
        println!(
            "build-wheels: all {} wheels are up to date ({} ms)",
            pins.len(),
            started.elapsed().as_millis()
        );
        return Ok(());
    }

    // SIGINT (and SIGTERM) stop fetches and builds, and we clean up: the
    // first one sets the flag, a second one exits at once.
    let _sigint = fetch::SigintGuard::arm();
    let interrupted = fetch::SigintGuard::seen();
    signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&interrupted))
        .context("installing the SIGTERM handler")?;
    let sdists = locate_sdists(&config, &files, &root.join(SDIST_CACHE), &todo)?;
    let build_root = env::BuildRoot::acquire(Path::new(env::BUILD_ROOT))?;
    let isolation = env::Isolation::probe();
    if let env::Isolation::Unavailable(why) = &isolation {
        eprintln!("warning: builds are NOT isolated from the network: {why}");
    }
    let staging = tempfile::Builder::new()
        .prefix("pinwheel-wheels-")
        .tempdir()
        .context("creating a staging directory")?;
    let log_dir = root.join("target/pinwheel/logs");
    fs_err::create_dir_all(&log_dir)?;
    let markers = config
        .target
        .marker_environment()
        .with_context(|| config.path.display().to_string())?;
    let runner = root.join(hooks::RUNNER);
    let progress = progress::Progress::new(todo.len() as u64);
    let venv = build_root.venv_dir();
    let ctx = Ctx {
        build_root: &build_root,
        target_hooks: hooks::Hooks {
            python: config.target.interpreter.clone(),
            runner: runner.clone(),
            isolation: &isolation,
            interrupted: &interrupted,
        },
        venv_hooks: hooks::Hooks {
            python: venv.join("bin/python"),
            runner,
            isolation: &isolation,
            interrupted: &interrupted,
        },
        source_date_epoch: config.build.source_date_epoch,
        markers: &markers,
        log_dir,
        jobs: options
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
            .max(1),
        interrupted: &interrupted,
        progress: &progress,
        bootstrap_pyproject: config
            .bootstrap
            .dir
            .join("pyproject.toml")
            .display()
            .to_string(),
    };

    // The bootstrap set: current members are built (their wheels are in
    // the index); the others wait for this run.
    let mut set = BuildSet::default();
    let mut site: BTreeMap<PackageName, PathBuf> = BTreeMap::new();
    let mut venv_wheels: BTreeMap<PackageName, (PathBuf, Sha256)> = BTreeMap::new();
    let rebuilding: Vec<&PackageName> = todo.iter().map(|p| &p.name).collect();
    let any_bootstrap_job = todo.iter().any(|p| p.role == Role::Bootstrap);
    for pin in pins.iter().filter(|p| p.role == Role::Bootstrap) {
        let mut member = Member {
            version: pin.version.clone(),
            runtime: None,
        };
        if let (Some(entry), false) = (current.get(&pin.name), rebuilding.contains(&&pin.name)) {
            let wheel = index.join(&entry.file);
            member.runtime = Some(wheel_requires(&wheel)?);
            venv_wheels.insert(pin.name.clone(), (wheel.clone(), entry.sha256));
            if any_bootstrap_job {
                let dir = build_root.site_dir(pin.name.as_ref(), &pin.version.to_string());
                unpack_wheel(&wheel, &dir)?;
                site.insert(pin.name.clone(), dir);
            }
        }
        set.members.insert(pin.name.clone(), member);
    }

    let mut jobs = (Vec::new(), Vec::new());
    for pin in &todo {
        let job = Job::unpack(
            &build_root,
            &pin.name,
            &pin.version.to_string(),
            &sdists[&pin.name],
        )?;
        match pin.role {
            Role::Bootstrap => jobs.0.push(job),
            Role::App => jobs.1.push(job),
        }
    }

    let mut built: Vec<Built> = Vec::new();
    let mut finish = |job: &Job, raw: &Path| -> anyhow::Result<(PathBuf, Sha256)> {
        let (wheel, sha) = stage_wheel(
            raw,
            staging.path(),
            &job.name,
            &job.version,
            config.build.source_date_epoch,
        )?;
        let sdist_sha256 = Sha256::of_file(&job.sdist)?;
        progress.inc();
        progress.note(&format!("built {} → {}", job.label(), file_name(&wheel)));
        built.push(Built {
            name: job.name.clone(),
            version: job.version.clone(),
            sdist: job.sdist.clone(),
            sdist_sha256,
            wheel: wheel.clone(),
            wheel_sha256: sha,
        });
        Ok((wheel, sha))
    };
    ctx.build_bootstrap(jobs.0, &mut set, &mut site, |job, raw| {
        let (wheel, sha) = finish(job, raw)?;
        let dir = build_root.site_dir(job.name.as_ref(), &job.version);
        unpack_wheel(&wheel, &dir)?;
        venv_wheels.insert(job.name.clone(), (wheel.clone(), sha));
        Ok((wheel_requires(&wheel)?, dir))
    })?;
    if !jobs.1.is_empty() {
        progress.note("making the build venv with the bootstrap wheels");
        let wheels: Vec<(PathBuf, Sha256)> = venv_wheels.values().cloned().collect();
        env::make_venv(&config.target.interpreter, &venv, &wheels, &isolation)?;
        ctx.build_apps(&jobs.1, &set, &venv, |job, raw| {
            finish(job, raw).map(|_| ())
        })?;
    }
    progress.done();
    waves::check_interrupted(&interrupted)?;

    if options.verify_reproducible {
        return compare(&index, &current, &built);
    }
    commit(
        &index,
        manifest,
        &built,
        &build_env,
        &pins,
        prune,
        &config.trust.scope,
    )?;
    println!(
        "build-wheels: built {} wheel(s), {} already current ({:.1} s)",
        built.len(),
        pins.len() - built.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The manifest entry of `pin` when its wheel is current: the same sdist
/// hash and build environment, and both files present with their hashes.
fn up_to_date<'m>(
    index: &Path,
    manifest: &'m Manifest,
    pin: &Pin,
    build_env: &Sha256,
) -> anyhow::Result<Option<&'m Entry>> {
    let Some(entry) = manifest.for_package(pin.name.as_ref(), &pin.version.to_string()) else {
        return Ok(None);
    };
    if !pin.sha256.contains(&entry.sdist_sha256) || &entry.build_env != build_env {
        return Ok(None);
    }
    for (file, sha) in [
        (&entry.file, &entry.sha256),
        (&entry.sdist, &entry.sdist_sha256),
    ] {
        let path = index.join(file);
        match Sha256::of_file(&path) {
            Ok(found) if &found == sha => {}
            Ok(_) => {
                eprintln!(
                    "warning: {} does not match {}; rebuilding",
                    path.display(),
                    manifest::FILE_NAME
                );
                return Ok(None);
            }
            Err(_) => return Ok(None),
        }
    }
    Ok(Some(entry))
}

/// The verified sdist of every pin: a file in `files/` whose sha256 is
/// pinned, or one fetched from the package index into `cache` (its sha256
/// checked before anything reads it).
fn locate_sdists(
    config: &Config,
    files: &Path,
    cache: &Path,
    todo: &[&Pin],
) -> anyhow::Result<BTreeMap<PackageName, PathBuf>> {
    let mut out = BTreeMap::new();
    let mut missing = Vec::new();
    for pin in todo {
        let mut found = None;
        for dir in [files, cache] {
            let Ok(entries) = fs_err::read_dir(dir) else {
                continue;
            };
            for entry in entries {
                let path = entry?.path();
                let name = file_name(&path);
                let is_candidate = SdistFilename::parse_for(&name, &pin.name)
                    .is_ok_and(|f| f.version == pin.version);
                if is_candidate && path.is_file() && pin.sha256.contains(&Sha256::of_file(&path)?) {
                    found = Some(path);
                    break;
                }
            }
            if found.is_some() {
                break;
            }
        }
        match found {
            Some(path) => {
                out.insert(pin.name.clone(), path);
            }
            None => missing.push(*pin),
        }
    }
    if missing.is_empty() {
        return Ok(out);
    }
    let client = http::Client::new(&config.index)?;
    let index = PackageIndex::new(&client, &config.index.url)?;
    let mut downloads = Vec::new();
    for pin in missing {
        let mut errors = Vec::new();
        let found =
            pin.sha256
                .iter()
                .find_map(|sha| match index.find_file(pin.name.as_ref(), sha) {
                    Ok(found) => Some((found, *sha)),
                    Err(err) => {
                        errors.push(format!("{err:#}"));
                        None
                    }
                });
        let Some((found, sha256)) = found else {
            bail!("{} {}: {}", pin.name, pin.version, errors.join("; "));
        };
        let filename = &found.file.filename;
        let parsed = SdistFilename::parse_for(filename, &pin.name).map_err(|err| {
            anyhow::anyhow!("{} {}: the pinned file: {err}", pin.name, pin.version)
        })?;
        if found.kind != DistKind::Sdist || parsed.version != pin.version || filename.contains('/')
        {
            bail!("{} {}: the file with the pinned sha256 is {filename:?}, not an sdist of that version", pin.name, pin.version);
        }
        if let Some(warning) = package_index::yank_warning(filename, found.file.yanked.as_deref()) {
            eprintln!("{warning}");
        }
        let dest = cache.join(filename);
        downloads.push(fetch::Download {
            label: filename.clone(),
            url: found.file.url.clone(),
            dest: dest.clone(),
            sha256,
            size: found.file.size,
        });
        out.insert(pin.name.clone(), dest);
    }
    fs_err::create_dir_all(cache)?;
    let report = fetch::fetch_all(&client, &downloads, &fetch::Options::default())?;
    eprintln!(
        "fetched {} sdist(s), {} bytes",
        report.fetched, report.bytes
    );
    Ok(out)
}

/// Checks that `raw` is a wheel of `name` `version`, normalizes it
/// (`wheel.rs`) into `staging` and returns the wheel and its sha256.
fn stage_wheel(
    raw: &Path,
    staging: &Path,
    name: &PackageName,
    version: &str,
    source_date_epoch: u64,
) -> anyhow::Result<(PathBuf, Sha256)> {
    let raw_name = file_name(raw);
    let filename = WheelFilename::from_str(&raw_name).map_err(|err| {
        anyhow::anyhow!("{name} {version}: the backend wrote {raw_name:?}: {err}")
    })?;
    let expected = pep440_rs::Version::from_str(version)
        .map_err(|err| anyhow::anyhow!("{name} {version}: {err}"))?;
    if !filename.is(name, &expected) {
        bail!(
            "{name} {version}: the backend built {raw_name}, a wheel of another project or version"
        );
    }
    let bytes = wheel::normalize(&fs_err::read(raw)?, &filename, source_date_epoch)
        .with_context(|| format!("{name} {version}: normalizing {raw_name}"))?;
    let dest = staging.join(&raw_name);
    fs_err::write(&dest, &bytes)?;
    Ok((dest, Sha256::of(&bytes)))
}

/// `Requires-Dist` of a wheel, parsed.
fn wheel_requires(wheel: &Path) -> anyhow::Result<Vec<Requirement>> {
    let label = wheel.display().to_string();
    let metadata = wheel::read_metadata(fs_err::File::open(wheel)?, &label)?;
    let text = String::from_utf8_lossy(&metadata.raw);
    plan::requires_dist(&text)
        .iter()
        .map(|r| {
            Requirement::from_str(r)
                .map_err(|err| anyhow::anyhow!("{label}: METADATA Requires-Dist {r:?}: {err}"))
        })
        .collect()
}

/// Unpacks a wheel of ours into `dir` for `PYTHONPATH`.
fn unpack_wheel(wheel: &Path, dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        fs_err::remove_dir_all(dir)?;
    }
    if let Some(parent) = dir.parent() {
        fs_err::create_dir_all(parent)?;
    }
    unpack::unpack_as(wheel, SdistFormat::Zip, dir, unpack::Limits::default())?;
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `--verify-reproducible`: compares every rebuilt wheel with the index's.
fn compare(
    index: &Path,
    current: &BTreeMap<PackageName, Entry>,
    built: &[Built],
) -> anyhow::Result<()> {
    let mut differ = Vec::new();
    for b in built {
        let entry = &current[&b.name];
        let ours = index.join(&entry.file);
        if file_name(&b.wheel) != file_name(&ours) {
            differ.push(format!(
                "{} (rebuilt as {})",
                entry.file,
                file_name(&b.wheel)
            ));
        } else if b.wheel_sha256 != entry.sha256 || fs_err::read(&b.wheel)? != fs_err::read(&ours)?
        {
            differ.push(format!(
                "{} (sha256 {} rebuilt, {} in the index)",
                entry.file, b.wheel_sha256, entry.sha256
            ));
        }
    }
    if differ.is_empty() {
        println!(
            "build-wheels: all {} wheels rebuilt byte for byte identical",
            built.len()
        );
        return Ok(());
    }
    for d in &differ {
        println!("differs: {d}");
    }
    Err(pinwheel_trust::failure::verification_failed(format!(
        "{} of {} wheels are not reproducible: {}",
        differ.len(),
        built.len(),
        differ.join(", ")
    )))
}

/// Writes the sdists, wheels and manifest into the index, removes (when
/// `prune`) what no pin needs any more, and regenerates the index pages.
fn commit(
    index: &Path,
    mut manifest: Manifest,
    built: &[Built],
    build_env: &Sha256,
    pins: &[Pin],
    prune: bool,
    scope: &str,
) -> anyhow::Result<()> {
    let files = index.join("files");
    fs_err::create_dir_all(&files)?;
    for b in built {
        let sdist_name = file_name(&b.sdist);
        let sdist_dest = files.join(&sdist_name);
        if b.sdist != sdist_dest {
            fresh::write_atomic(&sdist_dest, &fs_err::read(&b.sdist)?)?;
        }
        let wheel_name = file_name(&b.wheel);
        if let Some(old) = manifest.for_package(b.name.as_ref(), &b.version) {
            if old.file != format!("files/{wheel_name}") {
                let old_path = index.join(&old.file);
                if old_path.exists() {
                    fs_err::remove_file(old_path)?;
                }
            }
        }
        manifest.remove_package(b.name.as_ref(), &b.version);
        fresh::write_atomic(&files.join(&wheel_name), &fs_err::read(&b.wheel)?)?;
        let entry = Entry {
            file: format!("files/{wheel_name}"),
            sha256: b.wheel_sha256,
            name: b.name.to_string(),
            version: b.version.clone(),
            sdist: format!("files/{sdist_name}"),
            sdist_sha256: b.sdist_sha256,
            build_env: *build_env,
        };
        manifest.wheels.insert(entry.file.clone(), entry);
    }
    if prune {
        for path in stale_files(index, &mut manifest, pins)? {
            eprintln!("removing {}: no pin needs it any more", path.display());
            fs_err::remove_file(path)?;
        }
    }
    let manifest_path = index.join(manifest::FILE_NAME);
    fresh::ensure_file_contents(&manifest_path, manifest.render().as_bytes(), Mode::Write)?;
    let report = refresh_index::refresh(index, Mode::Write, || Ok(scope.to_owned()))?;
    eprintln!(
        "{}: {} distribution(s); {} index file(s) written, {} removed",
        index.display(),
        report.distributions,
        report.changed.len(),
        report.removed.len()
    );
    Ok(())
}

/// Drops manifest entries of packages no longer pinned and returns the
/// wheels and sdists in `files/` that no remaining entry names.
fn stale_files(
    index: &Path,
    manifest: &mut Manifest,
    pins: &[Pin],
) -> anyhow::Result<Vec<PathBuf>> {
    manifest.wheels.retain(|_, e| {
        pins.iter()
            .any(|p| p.name.as_ref() == e.name && p.version.to_string() == e.version)
    });
    let keep: Vec<&str> = manifest
        .wheels
        .values()
        .flat_map(|e| [e.file.as_str(), e.sdist.as_str()])
        .collect();
    let mut stale = Vec::new();
    let Ok(entries) = fs_err::read_dir(index.join("files")) else {
        return Ok(stale);
    };
    for entry in entries {
        let name = entry?.file_name().to_string_lossy().into_owned();
        let is_dist = name.ends_with(".whl") || SdistFormat::of(&name).is_some();
        if is_dist && !keep.contains(&format!("files/{name}").as_str()) {
            stale.push(index.join("files").join(name));
        }
    }
    stale.sort();
    Ok(stale)
}
