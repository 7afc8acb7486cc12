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

use crate::chroot;
use crate::config::{Config, Target};
use crate::fetch;
use crate::fresh::{self, RepoLock};
use inputs::{Pin, Role};
use manifest::{Entry, Manifest};
use pinwheel_pypa::tags::CompatibleTags;
use pinwheel_pypa::wheel_filename::WheelFilename;
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
    /// Build for this target only (repeatable; default: every target).
    #[arg(long, value_name = "NAME")]
    pub target: Vec<String>,
    /// Rebuild this package even when its wheel is current (repeatable).
    #[arg(long, value_name = "NAME")]
    pub rebuild: Vec<String>,
    /// Rebuild every wheel into a temporary directory, compare bytes, write
    /// nothing; a pure wheel is rebuilt in every target.
    #[arg(long)]
    pub verify_reproducible: bool,
    /// How many builds run at once (default: the number of CPUs).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// One target of a run: its pins and its build environment.
struct TargetRun<'c> {
    target: &'c Target,
    pins: Vec<Pin>,
    tags: CompatibleTags,
    env: TargetEnv,
}

/// A target's build environment: the chroot's interpreter and toolchain
/// and the digest that keys its wheels.
struct TargetEnv {
    digest: Sha256,
    record: manifest::Environment,
}

/// Runs the command.
pub fn run(root: &Path, options: &Options) -> anyhow::Result<()> {
    let started = Instant::now();
    let config = Config::load(root)?;
    let _lock = RepoLock::acquire(root)?;
    let index = root.join(INDEX_DIR);
    let files = index.join("files");
    let targets = config.selected_targets(&options.target)?;
    let flavor = chroot_flavor(root)?;
    let runner = Sha256::of_file(&root.join(hooks::RUNNER))
        .with_context(|| format!("{}: cannot read the hook runner", hooks::RUNNER))?;

    // 1. Plan: for each target, its pins and its build environment (the
    //    cached chroot's interpreter and toolchain: made now if there is
    //    none); then, target by target, what has no current wheel.
    let mut runs = Vec::new();
    for target in &targets {
        let pins = inputs::collect(&config, options.app.as_deref(), target)?;
        let recorded = match chroot::recorded(root, target, &flavor)? {
            Some(recorded) if recorded.python == target.python => recorded,
            // None cached, or an interpreter the configuration does not
            // name: prepare makes it, or refuses naming both versions.
            _ => {
                let chroot = chroot::prepare(root, target, &flavor, false)?;
                chroot::Recorded {
                    python: chroot.python.clone(),
                    packages: chroot.packages.clone(),
                }
            }
        };
        let env = target_env(&config, target, &recorded, &pins, runner);
        let tags = CompatibleTags::for_target(&target.python, target.platform(), None)?;
        runs.push(TargetRun {
            target,
            pins,
            tags,
            env,
        });
    }
    let all_pins: Vec<Pin> = union_of_pins(&runs);
    let rebuild = rebuild_names(&options.rebuild, &all_pins, &config.bootstrap.lock)?;
    let mut manifest = manifest::read(&index.join(manifest::FILE_NAME))?;
    fresh::remove_stale_temporaries(&files)?;
    for run in &runs {
        manifest
            .environments
            .insert(run.env.digest, run.env.record.clone());
    }
    let envs: BTreeMap<&str, Sha256> = runs
        .iter()
        .map(|r| (r.target.name.as_str(), r.env.digest))
        .collect();
    let prune = prunes(options);
    let configured: Vec<&str> = config.targets.keys().map(String::as_str).collect();
    let mut checked = BTreeMap::new();

    // SIGINT (and SIGTERM) stop fetches and builds, and we clean up: the
    // first one sets the flag, a second one exits at once.
    let _sigint = fetch::SigintGuard::arm();
    let interrupted = fetch::SigintGuard::seen();
    signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&interrupted))
        .context("installing the SIGTERM handler")?;

    let mut staging = Staging::new(config.build.source_date_epoch)?;
    let mut build_root: Option<env::BuildRoot> = None;
    let mut compared: Vec<(String, Current, staging::Built)> = Vec::new();
    for run in &runs {
        let status = current_wheels(
            &index,
            &manifest,
            run,
            &envs,
            &staging,
            options,
            &configured,
            &mut checked,
        )?;
        let plan = Plan::new(&run.pins, status, &rebuild, options)?;
        if plan.todo.is_empty() {
            continue;
        }
        eprintln!(
            "target {} (Debian {}, CPython {}): {} wheel(s) to build",
            run.target.name,
            run.target.suite,
            run.target.python,
            plan.todo.len()
        );
        // 2. Fetch: the verified sdist of every pin to build.
        let sdists = sdists::fetch(&config, &files, &root.join(SDIST_CACHE), &plan.todo)?;
        // 3. Build, in the target's chroot: each sdist unpacked once, the
        //    bootstrap set in waves, then the applications; the wheels wait
        //    in the staging directory. The build root stays ours until the
        //    run ends.
        let build_root = match &mut build_root {
            Some(held) => held,
            None => build_root.insert(env::BuildRoot::acquire(Path::new(env::BUILD_ROOT))?),
        };
        let chroot = chroot::prepare(root, run.target, &flavor, false)?;
        let now = chroot::Recorded {
            python: chroot.python.clone(),
            packages: chroot.packages.clone(),
        };
        let now = target_env(&config, run.target, &now, &run.pins, runner);
        if now.digest != run.env.digest {
            bail!(
                "target {}: its chroot changed while build-wheels ran ({}); run it again",
                run.target.name,
                chroot.dir.display()
            );
        }
        let before = staging.built().len();
        staging.begin_target(&run.target.name)?;
        build(
            &config,
            options,
            run,
            &plan,
            &sdists,
            build_root,
            &chroot,
            &mut staging,
            &interrupted,
        )?;
        if options.verify_reproducible {
            for built in &staging.built()[before..] {
                let current = plan.current[&built.name].clone();
                compared.push((run.target.name.clone(), current, built.clone()));
            }
        }
    }
    let built = staging.built();

    // 4. Commit: only now is wheels-index/ written (or, with
    //    --verify-reproducible, compared with what was built).
    if options.verify_reproducible {
        return commit::compare(&compared);
    }
    let record = commit::Record {
        envs: &envs,
        pins: &all_pins,
        prune,
        scope: &config.trust.scope,
    };
    if built.is_empty() {
        if prune && !commit::stale_files(&index, &mut manifest, &all_pins)?.is_empty() {
            commit::commit(&index, manifest, &[], &record)?;
        }
        println!(
            "build-wheels: all {} wheels are up to date for {} ({} ms)",
            runs.iter().map(|r| r.pins.len()).sum::<usize>(),
            runs.iter()
                .map(|r| r.target.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            started.elapsed().as_millis()
        );
        return Ok(());
    }
    commit::commit(&index, manifest, built, &record)?;
    println!(
        "build-wheels: built {} wheel(s) ({})",
        built.len(),
        runs.iter()
            .map(|r| {
                let n = built.iter().filter(|b| b.target == r.target.name).count();
                format!("{n} for {}", r.target.name)
            })
            .collect::<Vec<_>>()
            .join(", "),
    );
    println!("({:.1} s)", started.elapsed().as_secs_f64());
    Ok(())
}

/// Whether what no pin needs leaves the index: a run over every
/// application and every target that writes.
fn prunes(options: &Options) -> bool {
    options.app.is_none() && options.target.is_empty() && !options.verify_reproducible
}

/// The chroot builds run in: the build flavor with debian/control's
/// Build-Depends, so build-wheels and build-deb share one chroot per target.
pub fn chroot_flavor(root: &Path) -> anyhow::Result<chroot::Flavor> {
    let control = root.join("debian/control");
    let extra = match fs_err::read_to_string(&control) {
        Ok(text) => chroot::build_depends(&text).into_iter().collect(),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Default::default(),
        Err(err) => return Err(err.into()),
    };
    Ok(chroot::Flavor::Build { extra })
}

/// The build environment of `target` as its chroot holds it.
fn target_env(
    config: &Config,
    target: &Target,
    chroot: &chroot::Recorded,
    pins: &[Pin],
    runner: Sha256,
) -> TargetEnv {
    let bootstrap_ids: Vec<(String, String, Sha256)> = pins
        .iter()
        .filter(|p| p.role == Role::Bootstrap)
        .map(|p| (p.name.to_string(), p.version.to_string(), p.sha256[0]))
        .collect();
    let toolchain = chroot.toolchain();
    let digest = manifest::build_env_digest(&manifest::EnvInputs {
        python: &chroot.python,
        toolchain: &toolchain,
        bootstrap: &bootstrap_ids,
        source_date_epoch: config.build.source_date_epoch,
        runner,
    });
    TargetEnv {
        digest,
        record: manifest::Environment {
            build_env: digest,
            target: target.name.clone(),
            suite: target.suite.clone(),
            python: chroot.python.clone(),
            toolchain: toolchain
                .iter()
                .map(|(name, version)| format!("{name} {version}"))
                .collect(),
        },
    }
}

/// Every pin of every target, once (the index keeps what any target needs).
fn union_of_pins(runs: &[TargetRun]) -> Vec<Pin> {
    let mut all: Vec<Pin> = Vec::new();
    for run in runs {
        for pin in &run.pins {
            if !all.contains(pin) {
                all.push(pin.clone());
            }
        }
    }
    all.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    all
}

/// A wheel that already serves a pin on a target: in the index, or built
/// earlier in this run for another target (a pure wheel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    /// Where it is now.
    pub path: PathBuf,
    /// How messages name it (`files/…` or the file name).
    pub label: String,
    pub sha256: Sha256,
}

/// What a run does, decided from the pins and the wheels the index holds
/// for them. Pure.
#[derive(Debug)]
struct Plan<'p> {
    /// The current wheels, by pin name, including those rebuilt
    /// (`--verify-reproducible` compares with them).
    current: BTreeMap<PackageName, Current>,
    /// The pins to build, in pin order.
    todo: Vec<&'p Pin>,
}

impl<'p> Plan<'p> {
    /// `status` holds, for each pin, its current wheel in the index (see
    /// [`current_wheels`]); `rebuild` the pins `--rebuild` names.
    fn new(
        pins: &'p [Pin],
        status: Vec<Option<Current>>,
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
        Ok(Plan { current, todo })
    }

    /// The wheel of `name` when it is current and not rebuilt.
    fn kept(&self, name: &PackageName) -> Option<&Current> {
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

/// For each pin of `run`, in order, the wheel that serves it on the
/// target when there is a current one: in the index, a wheel of the pinned
/// sdist the target can install, built in this target's current
/// environment, or a pure wheel built in another target's (current when
/// that target is part of this run; as recorded otherwise); else a pure
/// wheel built earlier in this run. `--verify-reproducible` looks in the
/// index only.
#[allow(clippy::too_many_arguments)]
fn current_wheels(
    index: &Path,
    manifest: &Manifest,
    run: &TargetRun,
    envs: &BTreeMap<&str, Sha256>,
    staging: &Staging,
    options: &Options,
    configured: &[&str],
    checked: &mut BTreeMap<String, Option<Sha256>>,
) -> anyhow::Result<Vec<Option<Current>>> {
    let mut out = Vec::new();
    for pin in &run.pins {
        let mut found = up_to_date(index, manifest, pin, run, envs, configured, checked)?;
        if found.is_none() && !options.verify_reproducible {
            found = staging
                .built()
                .iter()
                .find(|b| {
                    b.name == pin.name
                        && b.version == pin.version
                        && pin.sha256.contains(&b.sdist.sha256)
                        && compatible(&run.tags, &file_name(&b.wheel))
                })
                .map(|b| Current {
                    path: b.wheel.clone(),
                    label: file_name(&b.wheel),
                    sha256: b.wheel_sha256,
                });
        }
        out.push(found);
    }
    Ok(out)
}

/// Whether the target whose tags are `tags` can install the wheel `name`.
fn compatible(tags: &CompatibleTags, name: &str) -> bool {
    WheelFilename::from_str(name).is_ok_and(|w| tags.is_compatible(&w))
}

/// The index's wheel of `pin` that is current for the run's target: the
/// same sdist hash, a tag the target installs, a current build
/// environment, and both files present with their hashes.
fn up_to_date(
    index: &Path,
    manifest: &Manifest,
    pin: &Pin,
    run: &TargetRun,
    envs: &BTreeMap<&str, Sha256>,
    configured: &[&str],
    checked: &mut BTreeMap<String, Option<Sha256>>,
) -> anyhow::Result<Option<Current>> {
    let version = pin.version.to_string();
    for entry in manifest.for_package(pin.name.as_ref(), &version) {
        if !pin.sha256.contains(&entry.sdist_sha256) {
            continue;
        }
        let name = entry.file.trim_start_matches("files/");
        if !compatible(&run.tags, name) {
            continue;
        }
        let fresh = match envs.get(entry.target.as_str()) {
            Some(digest) => &entry.build_env == digest,
            // Built in a configured target outside this run: its own run
            // judges it. A target no longer configured (or none recorded)
            // vouches for nothing.
            None => configured.contains(&entry.target.as_str()),
        };
        if !fresh {
            continue;
        }
        if intact(index, entry, checked)? {
            return Ok(Some(Current {
                path: index.join(&entry.file),
                label: entry.file.clone(),
                sha256: entry.sha256,
            }));
        }
    }
    Ok(None)
}

/// Whether the entry's wheel and sdist are in the index with their hashes.
/// `checked` remembers each file's hash for the run (several targets share
/// pure wheels and every sdist).
fn intact(
    index: &Path,
    entry: &Entry,
    checked: &mut BTreeMap<String, Option<Sha256>>,
) -> anyhow::Result<bool> {
    for (file, sha) in [
        (&entry.file, &entry.sha256),
        (&entry.sdist, &entry.sdist_sha256),
    ] {
        let path = index.join(file);
        let found = checked
            .entry(file.clone())
            .or_insert_with(|| Sha256::of_file(&path).ok());
        match found {
            Some(found) if found == sha => {}
            Some(_) => {
                eprintln!(
                    "warning: {} does not match {}; rebuilding",
                    path.display(),
                    manifest::FILE_NAME
                );
                return Ok(false);
            }
            None => return Ok(false),
        }
    }
    Ok(true)
}

/// Builds the sdist of every pin the plan names: each unpacked once into
/// its build directory under `build_root`, the bootstrap set in waves, then
/// the applications in the build venv. Returns the staged wheels; nothing
/// in the index is written.
#[allow(clippy::too_many_arguments)]
fn build(
    config: &Config,
    options: &Options,
    run: &TargetRun,
    plan: &Plan,
    sdists: &BTreeMap<PackageName, VerifiedSdist>,
    build_root: &env::BuildRoot,
    chroot: &chroot::Chroot,
    staging: &mut Staging,
    interrupted: &AtomicBool,
) -> anyhow::Result<()> {
    build_root.clear()?;
    let log_dir = config
        .root
        .join("target/pinwheel/logs")
        .join(&run.target.name);
    fs_err::create_dir_all(&log_dir)?;
    let index = config.root.join(INDEX_DIR);
    let runner = config.root.join(hooks::RUNNER);
    let runner_dir = runner
        .parent()
        .context("the hook runner has no directory")?
        .to_path_buf();
    let bind = |path: PathBuf, writable: bool| chroot::Bind { path, writable };
    let isolation = env::Isolation::new(
        chroot,
        vec![
            bind(build_root.path().to_path_buf(), true),
            bind(log_dir.clone(), true),
            bind(runner_dir, false),
            bind(index.join("files"), false),
            bind(staging.path().to_path_buf(), false),
        ],
    );
    let markers = run
        .target
        .marker_environment()
        .with_context(|| config.path.display().to_string())?;
    let progress = progress::Progress::new(plan.todo.len() as u64);
    let venv = build_root.venv_dir();
    let python = PathBuf::from(TARGET_PYTHON);
    let ctx = Ctx {
        build_root,
        target_hooks: hooks::Hooks {
            python: python.clone(),
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
    let mut bootstrap = bootstrap_start(&run.pins, plan, build_root, any_bootstrap_job)?;
    let (bootstrap_jobs, app_jobs) = unpack_jobs(build_root, &plan.todo, sdists)?;
    ctx.build_bootstrap(bootstrap_jobs, &mut bootstrap, staging)?;
    if !app_jobs.is_empty() {
        progress.note("making the build venv with the bootstrap wheels");
        let wheels: Vec<(PathBuf, Sha256)> = bootstrap.wheels.values().cloned().collect();
        env::make_venv(&python, &venv, &wheels, &isolation)?;
        ctx.build_apps(&app_jobs, &bootstrap.set, &venv, staging)?;
    }
    progress.done();
    waves::check_interrupted(interrupted)
}

/// The interpreter of every target chroot (its version is checked against
/// the configuration when the chroot is prepared).
pub const TARGET_PYTHON: &str = "/usr/bin/python3";

/// The bootstrap set as the build starts: every bootstrap pin a member;
/// those whose wheels are kept are built already, their wheels unpacked
/// into the site when `unpack` (a bootstrap build will need them).
fn bootstrap_start(
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
        if let Some(current) = plan.kept(&pin.name) {
            let wheel = current.path.clone();
            member.runtime = Some(waves::wheel_requires(&wheel)?);
            bootstrap
                .wheels
                .insert(pin.name.clone(), (wheel.clone(), current.sha256));
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

    fn entry(name: &str) -> Current {
        Current {
            path: PathBuf::from(format!("/i/files/{name}-1.0-py3-none-any.whl")),
            label: format!("files/{name}-1.0-py3-none-any.whl"),
            sha256: Sha256::of(b"wheel"),
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
        assert!(prunes(&Options::default()));
        let app = Options {
            app: Some("toy-app".to_owned()),
            ..Options::default()
        };
        assert!(!prunes(&app));
        let one_target = Options {
            target: vec!["trixie".to_owned()],
            ..Options::default()
        };
        assert!(!prunes(&one_target));
        let verify = Options {
            verify_reproducible: true,
            ..Options::default()
        };
        assert!(!prunes(&verify));
        let pins = [pin("toy", Role::App)];
        let plan = Plan::new(&pins, vec![Some(entry("toy"))], &[], &verify).unwrap();
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
