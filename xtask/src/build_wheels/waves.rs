//! Running the builds in waves. Every sdist is unpacked once, into its
//! fixed directory ([`Job::unpack`]); that tree gives its build system and
//! is the tree its hooks run in. Bootstrap sdists build with the target
//! interpreter and a `PYTHONPATH` of exactly the unpacked bootstrap wheels
//! their build needs (`plan.rs`); a wave holds everything whose needs are
//! built, self-hosting backends first, at most `--jobs` at a time.
//! Application sdists then build together in the virtual environment that
//! holds every bootstrap wheel. Each build asks the backend what else it
//! needs (`get_requires_for_build_wheel`) and, when all of it is built,
//! builds the wheel; a build that has to wait runs again in a later wave,
//! in the same tree with an empty `HOME`, `TMPDIR` and wheel directory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::bail;
use pep440_rs::Version;
use pep508_rs::{MarkerEnvironment, PackageName, Requirement};

use pinwheel_archive::{unpack, wheel};
use pinwheel_pypa::sdist_filename::SdistFormat;
use pinwheel_trust::hash::Sha256;

use super::build_system::{self, BuildSystem};
use super::env::{self, BuildRoot};
use super::hooks::Hooks;
use super::plan::{self, BuildSet, Needs};
use super::progress::Progress;
use super::sdists::VerifiedSdist;
use super::staging::Staging;

/// What every build shares.
pub struct Ctx<'a> {
    pub build_root: &'a BuildRoot,
    /// Hooks run by the target interpreter (bootstrap builds).
    pub target_hooks: Hooks<'a>,
    /// Hooks run by the build venv's interpreter (application builds).
    pub venv_hooks: Hooks<'a>,
    pub source_date_epoch: u64,
    pub markers: &'a MarkerEnvironment,
    /// Where full build logs go.
    pub log_dir: PathBuf,
    pub jobs: usize,
    pub interrupted: &'a AtomicBool,
    pub progress: &'a Progress,
    /// The file to name when a build requirement is missing.
    pub bootstrap_pyproject: String,
}

/// One sdist to build, unpacked.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: PackageName,
    pub version: Version,
    /// The verified sdist.
    pub sdist: VerifiedSdist,
    /// Its fixed build directory (`BuildRoot::package_dir`).
    pub dir: PathBuf,
    /// The unpacked source tree, under `dir/src/`.
    pub tree: PathBuf,
    pub build_system: BuildSystem,
    /// What `get_requires_for_build_wheel` added, once asked.
    pub dynamic: Vec<Requirement>,
}

impl Job {
    /// Unpacks `sdist` of `name` `version` into its build directory under
    /// `build_root` and reads its build system: the one time this run
    /// unpacks it.
    pub fn unpack(
        build_root: &BuildRoot,
        name: &PackageName,
        version: &Version,
        sdist: &VerifiedSdist,
    ) -> anyhow::Result<Job> {
        let dir = build_root.package_dir(name.as_ref(), &version.to_string());
        let tree = unpack_sdist(&sdist.path, &dir)?;
        let label = format!("{name} {version} ({})", super::file_name(&sdist.path));
        let build_system = read_build_system(&tree, &label)?;
        Ok(Job {
            name: name.clone(),
            version: version.clone(),
            sdist: sdist.clone(),
            dir,
            tree,
            build_system,
            dynamic: Vec::new(),
        })
    }

    /// `name version`, for messages.
    pub fn label(&self) -> String {
        format!("{} {}", self.name, self.version)
    }

    fn requires(&self) -> Vec<Requirement> {
        self.build_system
            .requires
            .iter()
            .chain(&self.dynamic)
            .cloned()
            .collect()
    }
}

/// A job's result.
pub enum Outcome {
    /// The raw wheel the backend wrote.
    Built(PathBuf),
    /// The backend asked for more than is built yet.
    Deferred(Vec<Requirement>),
}

/// The directories of a build directory that every build attempt starts
/// with empty: `HOME`, `TMPDIR` and the wheel directory.
const SCRATCH: [&str; 3] = ["home", "tmp", "dist"];

/// Unpacks `sdist` into `dir/src` (a fresh `dir`) and returns the tree: the
/// archive's one top-level directory.
fn unpack_sdist(sdist: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    if dir.exists() {
        fs_err::remove_dir_all(dir)?;
    }
    for sub in SCRATCH {
        fs_err::create_dir_all(dir.join(sub))?;
    }
    let dest = dir.join("src");
    let unpacked = unpack::unpack(sdist, &dest, unpack::Limits::default()).map_err(refusal)?;
    match unpacked.top_level.as_slice() {
        [top] if dest.join(top).is_dir() => Ok(dest.join(top)),
        _ => bail!(
            "{}: an sdist must hold exactly one top-level directory, not {:?}",
            sdist.display(),
            unpacked.top_level
        ),
    }
}

/// Empties the scratch directories of `dir` before a build attempt: a job
/// that had to wait runs again in its tree, but as on its first attempt.
fn clean_scratch(dir: &Path) -> anyhow::Result<()> {
    for sub in SCRATCH {
        let path = dir.join(sub);
        if path.exists() {
            fs_err::remove_dir_all(&path)?;
        }
        fs_err::create_dir_all(&path)?;
    }
    Ok(())
}

/// Reads the build system of an unpacked tree.
fn read_build_system(tree: &Path, label: &str) -> anyhow::Result<BuildSystem> {
    let pyproject = tree.join("pyproject.toml");
    let text = match fs_err::read_to_string(&pyproject) {
        Ok(text) => Some(text),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(err.into()),
    };
    build_system::from_tree(text.as_deref(), tree.join("setup.py").is_file(), label)
}

impl Ctx<'_> {
    fn missing(&self, job: &Job, unmet: super::plan::Unmet) -> anyhow::Error {
        anyhow::anyhow!(
            "{}: {unmet}; add it to {} (then `uv lock` there) and run `cargo xtask build-wheels` again",
            job.label(),
            self.bootstrap_pyproject
        )
    }

    fn log_path(&self, job: &Job) -> PathBuf {
        self.log_dir
            .join(format!("{}-{}.log", job.name, job.version))
    }

    /// Stages the wheel `raw` that `job` built and counts it done.
    fn finish(
        &self,
        staging: &mut Staging,
        job: &Job,
        raw: &Path,
    ) -> anyhow::Result<(PathBuf, Sha256)> {
        let built = staging.add(&job.name, &job.version, &job.sdist, raw)?;
        self.progress.inc();
        self.progress.note(&format!(
            "built {} → {}",
            job.label(),
            super::file_name(&built.wheel)
        ));
        Ok((built.wheel.clone(), built.wheel_sha256))
    }

    /// Builds one bootstrap sdist with `site` (unpacked wheels) on its path.
    fn bootstrap_job(
        &self,
        job: &Job,
        set: &BuildSet,
        site: &BTreeMap<PackageName, PathBuf>,
    ) -> anyhow::Result<Outcome> {
        let label = job.label();
        let (dir, tree) = (&job.dir, &job.tree);
        clean_scratch(dir)?;
        let log = self.log_path(job);
        fs_err::write(&log, "")?;
        let path_for = |closure: &BTreeSet<PackageName>| -> Vec<PathBuf> {
            closure
                .iter()
                .filter_map(|n| site.get(n).cloned())
                .collect()
        };
        let closure = match set.needs(&job.build_system.requires, self.markers) {
            Ok(Needs::Ready(closure)) => closure,
            Ok(Needs::Waiting(_)) => return Ok(Outcome::Deferred(job.dynamic.clone())),
            Err(unmet) => return Err(self.missing(job, unmet)),
        };
        let env = env::build_env(self.source_date_epoch, dir, &path_for(&closure), None);
        let dynamic = self.ask_requires(&self.target_hooks, job, tree, &env, &log)?;
        let mut all = job.build_system.requires.clone();
        all.extend(dynamic.iter().cloned());
        let closure = match set.needs(&all, self.markers) {
            Ok(Needs::Ready(closure)) => closure,
            Ok(Needs::Waiting(_)) => return Ok(Outcome::Deferred(dynamic)),
            Err(unmet) => return Err(self.missing(job, unmet)),
        };
        let env = env::build_env(self.source_date_epoch, dir, &path_for(&closure), None);
        let wheel = self
            .target_hooks
            .build_wheel(&label, tree, &dir.join("dist"), &env, &log)?;
        Ok(Outcome::Built(wheel))
    }

    /// Builds one application sdist in the build venv.
    fn app_job(&self, job: &Job, set: &BuildSet, venv: &Path) -> anyhow::Result<Outcome> {
        let label = job.label();
        let check = |requires: &[Requirement]| match set.needs(requires, self.markers) {
            Ok(Needs::Ready(_)) => Ok(()),
            Ok(Needs::Waiting(_)) => bail!("{label}: the bootstrap set is not fully built"),
            Err(unmet) => Err(self.missing(job, unmet)),
        };
        check(&job.build_system.requires)?;
        let (dir, tree) = (&job.dir, &job.tree);
        clean_scratch(dir)?;
        let log = self.log_path(job);
        fs_err::write(&log, "")?;
        let env = env::build_env(self.source_date_epoch, dir, &[], Some(venv));
        let dynamic = self.ask_requires(&self.venv_hooks, job, tree, &env, &log)?;
        check(&dynamic)?;
        let wheel = self
            .venv_hooks
            .build_wheel(&label, tree, &dir.join("dist"), &env, &log)?;
        Ok(Outcome::Built(wheel))
    }

    fn ask_requires(
        &self,
        hooks: &Hooks,
        job: &Job,
        tree: &Path,
        env: &BTreeMap<String, String>,
        log: &Path,
    ) -> anyhow::Result<Vec<Requirement>> {
        let label = job.label();
        let list = hooks.get_requires(&label, tree, env, log)?;
        let what = format!("{label} (get_requires_for_build_wheel)");
        list.iter()
            .map(|r| build_system::parse_requirement(r, &what))
            .collect()
    }

    /// Runs `f` over `jobs`, at most `self.jobs` at once; stops starting new
    /// ones after the first error. Results come back in input order (None
    /// for jobs never started).
    pub fn parallel<T: Sync, R: Send>(
        &self,
        jobs: &[T],
        label: impl Fn(&T) -> String + Sync,
        f: impl Fn(&T) -> anyhow::Result<R> + Sync,
    ) -> Vec<Option<anyhow::Result<R>>> {
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let results: Mutex<Vec<Option<anyhow::Result<R>>>> =
            Mutex::new((0..jobs.len()).map(|_| None).collect());
        std::thread::scope(|scope| {
            for _ in 0..self.jobs.clamp(1, jobs.len().max(1)) {
                scope.spawn(|| loop {
                    if failed.load(Ordering::SeqCst) || self.interrupted.load(Ordering::SeqCst) {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(job) = jobs.get(i) else { return };
                    let name = label(job);
                    self.progress.start(&name);
                    let result = f(job);
                    self.progress.finish(&name);
                    if result.is_err() {
                        failed.store(true, Ordering::SeqCst);
                    }
                    if let Ok(mut all) = results.lock() {
                        all[i] = Some(result);
                    }
                });
            }
        });
        results.into_inner().unwrap_or_default()
    }

    /// Builds `jobs` (bootstrap sdists) in waves. Each wheel is staged,
    /// unpacked into the site and added to `bootstrap`, where later waves
    /// find it.
    pub fn build_bootstrap(
        &self,
        mut pending: Vec<Job>,
        bootstrap: &mut Bootstrap,
        staging: &mut Staging,
    ) -> anyhow::Result<()> {
        while !pending.is_empty() {
            let mut ready = Vec::new();
            let mut waiting = Vec::new();
            for job in pending.drain(..) {
                match bootstrap.set.needs(&job.requires(), self.markers) {
                    Ok(Needs::Ready(_)) => ready.push(job),
                    Ok(Needs::Waiting(on)) => waiting.push((job, on)),
                    Err(unmet) => return Err(self.missing(&job, unmet)),
                }
            }
            if ready.is_empty() {
                let stuck: Vec<String> = waiting
                    .iter()
                    .map(|(job, on)| {
                        let on: Vec<&str> = on.iter().map(|n| n.as_ref()).collect();
                        format!("{} waits for {}", job.label(), on.join(", "))
                    })
                    .collect();
                bail!(
                    "cannot order the bootstrap builds, they need each other: {}",
                    stuck.join("; ")
                );
            }
            // Self-hosting backends first, then by name.
            ready.sort_by_key(|job| (!job.build_system.self_hosting(), job.name.clone()));
            let results = self.parallel(&ready, Job::label, |job| {
                self.bootstrap_job(job, &bootstrap.set, &bootstrap.site)
            });
            check_interrupted(self.interrupted)?;
            for (mut job, result) in ready.into_iter().zip(results) {
                match result {
                    None => pending.push(job),
                    Some(Err(err)) => return Err(err),
                    Some(Ok(Outcome::Deferred(dynamic))) => {
                        job.dynamic = dynamic;
                        self.progress.note(&format!(
                            "{} waits for more build requirements",
                            job.label()
                        ));
                        pending.push(job);
                    }
                    Some(Ok(Outcome::Built(raw))) => {
                        let (wheel, sha256) = self.finish(staging, &job, &raw)?;
                        let site = self
                            .build_root
                            .site_dir(job.name.as_ref(), &job.version.to_string());
                        bootstrap.add(&job.name, &wheel, sha256, site)?;
                    }
                }
            }
            pending.extend(waiting.into_iter().map(|(job, _)| job));
        }
        Ok(())
    }

    /// Builds `jobs` (application sdists) in the venv and stages their
    /// wheels.
    pub fn build_apps(
        &self,
        jobs: &[Job],
        set: &BuildSet,
        venv: &Path,
        staging: &mut Staging,
    ) -> anyhow::Result<()> {
        let results = self.parallel(jobs, Job::label, |job| self.app_job(job, set, venv));
        check_interrupted(self.interrupted)?;
        for (job, result) in jobs.iter().zip(results) {
            match result {
                None => {}
                Some(Err(err)) => return Err(err),
                Some(Ok(Outcome::Deferred(_))) => {
                    bail!("{}: the build venv lacks a requirement", job.label())
                }
                Some(Ok(Outcome::Built(raw))) => {
                    self.finish(staging, job, &raw)?;
                }
            }
        }
        Ok(())
    }
}

/// The bootstrap set while it is built: which members are built (with the
/// runtime requirements of their wheels), where their wheels are unpacked
/// for `PYTHONPATH`, and the wheels themselves for the build venv.
#[derive(Debug, Default)]
pub struct Bootstrap {
    pub set: BuildSet,
    /// Unpacked wheels, by member.
    pub site: BTreeMap<PackageName, PathBuf>,
    /// Each built member's wheel and its sha256.
    pub wheels: BTreeMap<PackageName, (PathBuf, Sha256)>,
}

impl Bootstrap {
    /// Records `wheel` of the member `name` as built: it is unpacked into
    /// `site` and its `Requires-Dist` become the member's runtime
    /// requirements.
    pub fn add(
        &mut self,
        name: &PackageName,
        wheel: &Path,
        sha256: Sha256,
        site: PathBuf,
    ) -> anyhow::Result<()> {
        unpack_wheel(wheel, &site)?;
        self.wheels
            .insert(name.clone(), (wheel.to_path_buf(), sha256));
        let runtime = wheel_requires(wheel)?;
        if let Some(member) = self.set.members.get_mut(name) {
            member.runtime = Some(runtime);
        }
        self.site.insert(name.clone(), site);
        Ok(())
    }
}

/// `Requires-Dist` of a wheel, parsed.
pub fn wheel_requires(wheel: &Path) -> anyhow::Result<Vec<Requirement>> {
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
pub fn unpack_wheel(wheel: &Path, dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        fs_err::remove_dir_all(dir)?;
    }
    if let Some(parent) = dir.parent() {
        fs_err::create_dir_all(parent)?;
    }
    unpack::unpack_as(wheel, SdistFormat::Zip, dir, unpack::Limits::default()).map_err(refusal)?;
    Ok(())
}

/// A hostile archive is refused (exit 1); an unreadable one is an error
/// (exit 2).
fn refusal(err: unpack::ArchiveError) -> anyhow::Error {
    if err.is_refusal() {
        pinwheel_trust::failure::refused(err.to_string())
    } else {
        err.into()
    }
}

/// Errors when SIGINT or SIGTERM arrived.
pub fn check_interrupted(flag: &AtomicBool) -> anyhow::Result<()> {
    if flag.load(Ordering::SeqCst) {
        bail!("interrupted; nothing was written to the index");
    }
    Ok(())
}
