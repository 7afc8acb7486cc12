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
//!
//! [`run`] takes four steps, each a function with typed inputs and outputs:
//! plan (`Plan`, pure once the index's wheels are hashed), fetch
//! (`build_wheels/sdists.rs`), build (each sdist unpacked once,
//! `build_wheels/waves.rs`, wheels staged by `build_wheels/staging.rs`) and
//! commit (`build_wheels/commit.rs`).

pub mod build_system;
pub mod commit;
pub mod env;
pub mod hooks;
pub mod inputs;
pub mod manifest;
pub mod plan;
pub mod progress;
pub mod sdists;
pub mod staging;
pub mod waves;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use pep508_rs::PackageName;

use crate::config::Config;
use crate::fetch;
use crate::fresh::{self, RepoLock};
use inputs::{Pin, Role};
use manifest::{Entry, Manifest};
use pinwheel_trust::hash::Sha256;
use plan::Member;
use sdists::VerifiedSdist;
use staging::Staging;
use waves::{Bootstrap, Ctx, Job};

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

/// Runs the command.
pub fn run(root: &Path, options: &Options) -> anyhow::Result<()> {
    let started = Instant::now();
    let config = Config::load(root)?;
    let _lock = RepoLock::acquire(root)?;
    let index = root.join(INDEX_DIR);
    let files = index.join("files");

    // 1. Plan: read the pins and the manifest, hash each recorded wheel
    //    and sdist in the index, then decide from that alone (`Plan::new`)
    //    what to build and whether to prune.
    let pins = inputs::collect(&config, options.app.as_deref())?;
    let rebuild = rebuild_names(&options.rebuild, &pins, &config.bootstrap.lock)?;
    let build_env = build_env_digest(&config, &pins);
    let mut manifest = manifest::read(&index.join(manifest::FILE_NAME))?;
    fresh::remove_stale_temporaries(&files)?;
    let status = current_wheels(&index, &manifest, &pins, &build_env)?;
    let plan = Plan::new(&pins, status, &rebuild, options)?;
    let record = commit::Record {
        build_env: &build_env,
        pins: &pins,
        prune: plan.prune,
        scope: &config.trust.scope,
    };
    if plan.todo.is_empty() {
        if plan.prune && !commit::stale_files(&index, &mut manifest, &pins)?.is_empty() {
            commit::commit(&index, manifest, &[], &record)?;
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

    // 2. Fetch: the verified sdist of every pin to build.
    let sdists = sdists::fetch(&config, &files, &root.join(SDIST_CACHE), &plan.todo)?;

    // 3. Build: each sdist unpacked once, the bootstrap set in waves, then
    //    the applications; the wheels wait in a staging directory. The
    //    build root stays ours until the run ends.
    let build_root = env::BuildRoot::acquire(Path::new(env::BUILD_ROOT))?;
    let staging = build(
        &config,
        options,
        &pins,
        &plan,
        &sdists,
        &build_root,
        &interrupted,
    )?;
    let built = staging.built();

    // 4. Commit: only now is wheels-index/ written (or, with
    //    --verify-reproducible, compared with what was built).
    if options.verify_reproducible {
        return commit::compare(&index, &plan.current, built);
    }
    commit::commit(&index, manifest, built, &record)?;
    println!(
        "build-wheels: built {} wheel(s), {} already current ({:.1} s)",
        built.len(),
        pins.len() - built.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// What a run does, decided from the pins and the wheels the index holds
/// for them. Pure.
#[derive(Debug)]
struct Plan<'p> {
    /// The index's current wheels, by pin name, including those rebuilt
    /// (`--verify-reproducible` compares with them).
    current: BTreeMap<PackageName, Entry>,
    /// The pins to build, in pin order.
    todo: Vec<&'p Pin>,
    /// Whether what no pin needs leaves the index: a run over every
    /// application that writes.
    prune: bool,
}

impl<'p> Plan<'p> {
    /// `status` holds, for each pin, its current wheel in the index (see
    /// [`current_wheels`]); `rebuild` the pins `--rebuild` names.
    fn new(
        pins: &'p [Pin],
        status: Vec<Option<Entry>>,
        rebuild: &[PackageName],
        options: &Options,
    ) -> anyhow::Result<Plan<'p>> {
        let mut current = BTreeMap::new();
        let mut todo = Vec::new();
        for (pin, entry) in pins.iter().zip(status) {
            let forced = rebuild.contains(&pin.name) || options.verify_reproducible;
            match entry {
                Some(entry) => {
                    current.insert(pin.name.clone(), entry);
                    if forced {
                        todo.push(pin);
                    }
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
        Ok(Plan {
            current,
            todo,
            prune: options.app.is_none() && !options.verify_reproducible,
        })
    }

    /// The index's wheel of `name` when it is current and not rebuilt.
    fn kept(&self, name: &PackageName) -> Option<&Entry> {
        if self.todo.iter().any(|p| &p.name == name) {
            return None;
        }
        self.current.get(name)
    }
}

/// The `--rebuild` names, each one a pinned package.
fn rebuild_names(
    names: &[String],
    pins: &[Pin],
    bootstrap_lock: &Path,
) -> anyhow::Result<Vec<PackageName>> {
    names
        .iter()
        .map(|name| {
            let wanted = PackageName::from_str(name)
                .map_err(|err| anyhow::anyhow!("--rebuild {name}: {err}"))?;
            if !pins.iter().any(|p| p.name == wanted) {
                bail!("--rebuild {name}: no such package is pinned (see requirements/*/requirements.txt and {})", bootstrap_lock.display());
            }
            Ok(wanted)
        })
        .collect()
}

/// The build environment every wheel of this run is recorded with
/// ([`manifest::build_env_digest`]).
fn build_env_digest(config: &Config, pins: &[Pin]) -> Sha256 {
    let bootstrap_ids: Vec<(String, String, Sha256)> = pins
        .iter()
        .filter(|p| p.role == Role::Bootstrap)
        .map(|p| (p.name.to_string(), p.version.to_string(), p.sha256[0]))
        .collect();
    manifest::build_env_digest(&config.first_target().python, &bootstrap_ids)
}

/// For each pin, in order, the manifest entry of its wheel when that wheel
/// is current.
fn current_wheels(
    index: &Path,
    manifest: &Manifest,
    pins: &[Pin],
    build_env: &Sha256,
) -> anyhow::Result<Vec<Option<Entry>>> {
    pins.iter()
        .map(|pin| Ok(up_to_date(index, manifest, pin, build_env)?.cloned()))
        .collect()
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

/// Builds the sdist of every pin the plan names: each unpacked once into
/// its build directory under `build_root`, the bootstrap set in waves, then
/// the applications in the build venv. Returns the staged wheels; nothing
/// in the index is written.
fn build(
    config: &Config,
    options: &Options,
    pins: &[Pin],
    plan: &Plan,
    sdists: &BTreeMap<PackageName, VerifiedSdist>,
    build_root: &env::BuildRoot,
    interrupted: &AtomicBool,
) -> anyhow::Result<Staging> {
    let isolation = env::Isolation::probe();
    if let env::Isolation::Unavailable(why) = &isolation {
        eprintln!("warning: builds are NOT isolated from the network: {why}");
    }
    let mut staging = Staging::new(config.build.source_date_epoch)?;
    let log_dir = config.root.join("target/pinwheel/logs");
    fs_err::create_dir_all(&log_dir)?;
    let markers = config
        .first_target()
        .marker_environment()
        .with_context(|| config.path.display().to_string())?;
    let runner = config.root.join(hooks::RUNNER);
    let progress = progress::Progress::new(plan.todo.len() as u64);
    let venv = build_root.venv_dir();
    let ctx = Ctx {
        build_root,
        target_hooks: hooks::Hooks {
            python: PathBuf::from("/usr/bin/python3"),
            runner: runner.clone(),
            isolation: &isolation,
            interrupted,
        },
        venv_hooks: hooks::Hooks {
            python: venv.join("bin/python"),
            runner,
            isolation: &isolation,
            interrupted,
        },
        source_date_epoch: config.build.source_date_epoch,
        markers: &markers,
        log_dir,
        jobs: options
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
            .max(1),
        interrupted,
        progress: &progress,
        bootstrap_pyproject: config
            .bootstrap
            .dir
            .join("pyproject.toml")
            .display()
            .to_string(),
    };

    let any_bootstrap_job = plan.todo.iter().any(|p| p.role == Role::Bootstrap);
    let index = config.root.join(INDEX_DIR);
    let mut bootstrap = bootstrap_start(&index, pins, plan, build_root, any_bootstrap_job)?;
    let (bootstrap_jobs, app_jobs) = unpack_jobs(build_root, &plan.todo, sdists)?;
    ctx.build_bootstrap(bootstrap_jobs, &mut bootstrap, &mut staging)?;
    if !app_jobs.is_empty() {
        progress.note("making the build venv with the bootstrap wheels");
        let wheels: Vec<(PathBuf, Sha256)> = bootstrap.wheels.values().cloned().collect();
        env::make_venv(Path::new("/usr/bin/python3"), &venv, &wheels, &isolation)?;
        ctx.build_apps(&app_jobs, &bootstrap.set, &venv, &mut staging)?;
    }
    progress.done();
    waves::check_interrupted(interrupted)?;
    Ok(staging)
}

/// The bootstrap set as the build starts: every bootstrap pin a member;
/// those whose wheels are kept are built already, their wheels unpacked
/// into the site when `unpack` (a bootstrap build will need them).
fn bootstrap_start(
    index: &Path,
    pins: &[Pin],
    plan: &Plan,
    build_root: &env::BuildRoot,
    unpack: bool,
) -> anyhow::Result<Bootstrap> {
    let mut bootstrap = Bootstrap::default();
    for pin in pins.iter().filter(|p| p.role == Role::Bootstrap) {
        let mut member = Member {
            version: pin.version.clone(),
            runtime: None,
        };
        if let Some(entry) = plan.kept(&pin.name) {
            let wheel = index.join(&entry.file);
            member.runtime = Some(waves::wheel_requires(&wheel)?);
            bootstrap
                .wheels
                .insert(pin.name.clone(), (wheel.clone(), entry.sha256));
            if unpack {
                let dir = build_root.site_dir(pin.name.as_ref(), &pin.version.to_string());
                waves::unpack_wheel(&wheel, &dir)?;
                bootstrap.site.insert(pin.name.clone(), dir);
            }
        }
        bootstrap.set.members.insert(pin.name.clone(), member);
    }
    Ok(bootstrap)
}

/// Unpacks the sdist of every pin in `todo`, once: the bootstrap jobs and
/// the application jobs, in pin order.
fn unpack_jobs(
    build_root: &env::BuildRoot,
    todo: &[&Pin],
    sdists: &BTreeMap<PackageName, VerifiedSdist>,
) -> anyhow::Result<(Vec<Job>, Vec<Job>)> {
    let mut jobs = (Vec::new(), Vec::new());
    for pin in todo {
        let job = Job::unpack(build_root, &pin.name, &pin.version, &sdists[&pin.name])?;
        match pin.role {
            Role::Bootstrap => jobs.0.push(job),
            Role::App => jobs.1.push(job),
        }
    }
    Ok(jobs)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(name: &str, role: Role) -> Pin {
        Pin {
            name: PackageName::from_str(name).unwrap(),
            version: pep440_rs::Version::from_str("1.0").unwrap(),
            sha256: vec![Sha256::of(name.as_bytes())],
            role,
        }
    }

    fn entry(name: &str) -> Entry {
        Entry {
            file: format!("files/{name}-1.0-py3-none-any.whl"),
            sha256: Sha256::of(b"wheel"),
            name: name.to_owned(),
            version: "1.0".to_owned(),
            sdist: format!("files/{name}-1.0.tar.gz"),
            sdist_sha256: Sha256::of(name.as_bytes()),
            build_env: Sha256::of(b"env"),
        }
    }

    fn names(todo: &[&Pin]) -> Vec<String> {
        todo.iter().map(|p| p.name.to_string()).collect()
    }

    fn name(s: &str) -> PackageName {
        PackageName::from_str(s).unwrap()
    }

    #[test]
    fn plan_builds_what_is_not_current() {
        let pins = [
            pin("flit-core", Role::Bootstrap),
            pin("toy", Role::App),
            pin("zap", Role::App),
        ];
        let status = vec![Some(entry("flit-core")), None, Some(entry("zap"))];
        let plan = Plan::new(&pins, status, &[], &Options::default()).unwrap();
        assert_eq!(names(&plan.todo), ["toy"]);
        assert!(plan.prune);
        assert_eq!(plan.kept(&name("flit-core")), Some(&entry("flit-core")));
        assert_eq!(plan.kept(&name("toy")), None);

        // Everything current: nothing to build.
        let status = pins.iter().map(|p| Some(entry(p.name.as_ref()))).collect();
        let plan = Plan::new(&pins, status, &[], &Options::default()).unwrap();
        assert!(plan.todo.is_empty());
    }

    #[test]
    fn plan_rebuilds_what_is_named_and_keeps_it_current() {
        let pins = [pin("flit-core", Role::Bootstrap), pin("toy", Role::App)];
        let status = vec![Some(entry("flit-core")), Some(entry("toy"))];
        let plan = Plan::new(&pins, status, &[name("flit-core")], &Options::default()).unwrap();
        assert_eq!(names(&plan.todo), ["flit-core"]);
        assert_eq!(plan.current.len(), 2);
        assert_eq!(plan.kept(&name("flit-core")), None);
        assert_eq!(plan.kept(&name("toy")), Some(&entry("toy")));
    }

    #[test]
    fn plan_prunes_only_a_full_run_that_writes() {
        let pins = [pin("toy", Role::App)];
        let app = Options {
            app: Some("toy-app".to_owned()),
            ..Options::default()
        };
        assert!(!Plan::new(&pins, vec![None], &[], &app).unwrap().prune);
        let verify = Options {
            verify_reproducible: true,
            ..Options::default()
        };
        let plan = Plan::new(&pins, vec![Some(entry("toy"))], &[], &verify).unwrap();
        assert!(!plan.prune);
        assert_eq!(names(&plan.todo), ["toy"]);
    }

    #[test]
    fn adversarial_verify_reproducible_without_current_wheels() {
        let pins = [pin("flit-core", Role::Bootstrap), pin("toy", Role::App)];
        let verify = Options {
            verify_reproducible: true,
            ..Options::default()
        };
        let err = Plan::new(&pins, vec![Some(entry("flit-core")), None], &[], &verify)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "no current wheel in wheels-index/ for toy 1.0: run `cargo xtask build-wheels` first"
        );
    }

    #[test]
    fn adversarial_rebuild_of_an_unpinned_package() {
        let pins = [pin("toy", Role::App)];
        let lock = Path::new("packaging/bootstrap/uv.lock");
        assert_eq!(
            rebuild_names(&["Toy".to_owned()], &pins, lock).unwrap(),
            [name("toy")]
        );
        let err = rebuild_names(&["other".to_owned()], &pins, lock)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "--rebuild other: no such package is pinned (see requirements/*/requirements.txt and packaging/bootstrap/uv.lock)");
        let err = rebuild_names(&["not a name!".to_owned()], &pins, lock)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("--rebuild not a name!: "), "{err}");
    }
}
