//! `cargo xtask build-deb [--app NAME] [--target NAME]...`: the source
//! package's binary packages — one per application of
//! packaging/pinwheel.toml (or only `--app NAME`'s) — for each target
//! (default: every target the applications ship to), verified twice and
//! built reproducibly inside a clean chroot of the target's Debian suite.
//! The host needs only the Rust toolchain and mmdebstrap.
//!
//! 1. The output directories (`target/debian/<target>/`, or `--out
//!    DIR/<target>/`) are checked to be writable before anything runs, and
//!    debian/control must agree with the configuration ([`crate::debian`]).
//! 2. First verification: the full `verify` of `wheels-index/` (signatures,
//!    threshold, expiry, rollback, every file), `update-deps --check` for
//!    each application and the targets it ships to, and every hash each
//!    build-requirements.txt pins is in the verified list. Any failure stops
//!    here, for every target, before anything is built.
//! 3. `debian/changelog` is read strictly ([`changelog`]): its date is
//!    SOURCE_DATE_EPOCH, its package is debian/control's Source.
//! 4. Each application's sdist ([`crate::sdist`]); unless it says
//!    `check-version = false`, its PEP 440 version must map to the
//!    changelog's upstream version ([`pinwheel_pypa::debian_version`]).
//! 5. For each target:
//!    - its build chroot ([`chroot`], flavour Build with every package
//!      debian/control's Build-Depends names; cached, its python3 checked
//!      against the target's, locked while the build runs: two builds of one
//!      target take turns);
//!    - a clean tree staged under `target/build-deb/<target>/` ([`stage`]):
//!      debian/ with only the binary packages built and the changelog's
//!      latest entry at the target's version (`0.1.0+bookworm`) and suite,
//!      and for each application shipping to the target its sdist, its
//!      requirements files, its tracked files and only the wheels they pin;
//!    - in the chroot, offline: `dpkg-checkbuilddeps` (a version constraint
//!      the suite does not meet stops the build with the unmet relations)
//!      and dpkg-parsechangelog (it must read the staged changelog as we
//!      do);
//!    - `dpkg-buildpackage -us -uc -b` in the chroot (binary only: the
//!      source of truth is this repository, and a source package would carry
//!      the wheels), offline, with the work directory bound writable at its
//!      own path, HOME inside it, and a complete environment of our own.
//!      debian/rules calls `debian/pinwheel-venv` for every package; inside,
//!      pip installs with `--require-hashes`: the second verification;
//!    - the `.deb`s, `.buildinfo` and `.changes` are copied to the target's
//!      output directory and their sha256 printed.
//! 6. One line per package and target says where its `.deb` is.

pub mod backend;
pub mod build_deps;
pub mod changelog;
pub mod dpkg;
pub mod phases;
pub mod stage;

pub use dpkg::clean_env;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::chroot;
use crate::config::{Config, Target};
use pinwheel_trust::hash::Sha256;

/// Options of `cargo xtask build-deb`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Options {
    /// Build only this application's binary package (default: every
    /// application of packaging/pinwheel.toml, one source package).
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// Build for this target of packaging/pinwheel.toml (repeatable; default:
    /// every target the application ships to).
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
    /// Output directory; each target's .deb, .buildinfo and .changes go to
    /// DIR/<target>/ (default: target/debian/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Make each target's build chroot again from the archive instead of
    /// using the cached one.
    #[arg(long)]
    pub refresh_chroot: bool,
}

/// The environment dpkg-buildpackage runs in. build-deb uses
/// [`BuildEnv::standard`]; check-reproducible varies every field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildEnv {
    pub tz: String,
    pub lc_all: String,
    pub lang: String,
    pub umask: u32,
    pub deb_build_options: Option<String>,
    /// A libfaketime time specification, e.g. "+400d".
    pub faketime: Option<String>,
}

impl BuildEnv {
    /// UTC, C.UTF-8, umask 022, the real clock, no DEB_BUILD_OPTIONS.
    pub fn standard() -> BuildEnv {
        BuildEnv {
            tz: "UTC".to_owned(),
            lc_all: "C.UTF-8".to_owned(),
            lang: "C.UTF-8".to_owned(),
            umask: 0o022,
            deb_build_options: None,
            faketime: None,
        }
    }
}

/// One built file.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub path: PathBuf,
    pub sha256: Sha256,
}

/// What one target's build produced and how long each step took.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The target's name.
    pub target: String,
    pub artifacts: Vec<Artifact>,
    pub steps: Vec<(String, Duration)>,
    pub phases: Vec<(String, Duration)>,
}

impl Outcome {
    /// The first built `.deb` (in file name order).
    pub fn deb(&self) -> Option<&Path> {
        self.debs().next()
    }

    /// Every built `.deb`, one per binary package.
    pub fn debs(&self) -> impl Iterator<Item = &Path> {
        self.artifacts
            .iter()
            .map(|a| a.path.as_path())
            .filter(|p| p.extension().is_some_and(|e| e == "deb"))
    }
}

/// Runs `cargo xtask build-deb`.
pub fn run(root: &Path, options: &Options) -> anyhow::Result<()> {
    let config = Config::load(root)?;
    let apps = apps(&config, options.app.as_deref())?;
    let targets = targets_of_apps(&config, &apps, &options.targets)?;
    let out = options
        .out
        .clone()
        .unwrap_or_else(|| root.join("target/debian"));
    let outcomes = build(
        &config,
        &apps,
        &targets,
        &out,
        &BuildEnv::standard(),
        options.refresh_chroot,
    )?;
    for outcome in &outcomes {
        for deb in outcome.debs() {
            println!("{}: {}", outcome.target, deb.display());
        }
    }
    Ok(())
}

/// The applications to build: `--app NAME`, else every configured one.
pub fn apps(config: &Config, app: Option<&str>) -> anyhow::Result<Vec<String>> {
    match app {
        Some(name) => {
            config.app(name)?;
            Ok(vec![name.to_owned()])
        }
        None if config.apps.is_empty() => bail!(
            "{}: no application is configured; add one with `cargo xtask add-app`",
            config.path.display()
        ),
        None => Ok(config.apps.keys().cloned().collect()),
    }
}

/// The targets to build `apps` for: the `--target` names (each must be a
/// target one of them ships to), else every target any of them ships to.
pub fn targets_of_apps<'a>(
    config: &'a Config,
    apps: &[String],
    names: &[String],
) -> anyhow::Result<Vec<&'a Target>> {
    let mut ships_to: Vec<&Target> = Vec::new();
    for app in apps {
        for target in config.targets_of(config.app(app)?) {
            if !ships_to.iter().any(|t| t.name == target.name) {
                ships_to.push(target);
            }
        }
    }
    ships_to.sort_by(|a, b| a.name.cmp(&b.name));
    if names.is_empty() {
        return Ok(ships_to);
    }
    let selected = config.selected_targets(names)?;
    for target in &selected {
        if !ships_to.iter().any(|t| t.name == target.name) {
            bail!(
                "{}: {} does not ship to target {:?} (its targets: {})",
                config.path.display(),
                apps.join(", "),
                target.name,
                ships_to
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(selected)
}

/// The targets to build `app` for (see [`targets_of_apps`]).
pub fn targets<'a>(
    config: &'a Config,
    app: &str,
    names: &[String],
) -> anyhow::Result<Vec<&'a Target>> {
    targets_of_apps(config, &[app.to_owned()], names)
}

/// The applications of `apps` that ship to `target`, in name order.
fn apps_for<'a>(config: &Config, apps: &'a [String], target: &Target) -> Vec<&'a str> {
    apps.iter()
        .filter(|app| {
            config
                .app(app)
                .map(|a| config.targets_of(a).iter().any(|t| t.name == target.name))
                .unwrap_or(false)
        })
        .map(String::as_str)
        .collect()
}

/// Prints the artifacts with their sha256 (stdout), then the time profile
/// (stderr).
pub fn print_outcome(outcome: &Outcome) {
    for artifact in &outcome.artifacts {
        println!("{}  {}", artifact.sha256, artifact.path.display());
    }
    eprintln!("target {}:", outcome.target);
    eprint!("{}", format_times("build-deb steps", &outcome.steps));
    eprint!(
        "{}",
        format_times(
            "dpkg-buildpackage phases (slowest first)",
            &slowest(&outcome.phases, 8)
        )
    );
}

/// The `n` longest phases, longest first, the rest summed as "other".
pub fn slowest(times: &[(String, Duration)], n: usize) -> Vec<(String, Duration)> {
    let mut sorted = times.to_vec();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let rest: Duration = sorted.iter().skip(n).map(|(_, d)| *d).sum();
    sorted.truncate(n);
    if !rest.is_zero() {
        sorted.push(("other".to_owned(), rest));
    }
    sorted
}

/// One line per step, with the total.
pub fn format_times(label: &str, times: &[(String, Duration)]) -> String {
    let total: Duration = times.iter().map(|(_, d)| *d).sum();
    let mut out = format!("{label}: {:.2}s\n", total.as_secs_f64());
    for (name, d) in times {
        out.push_str(&format!("  {:>7.2}s  {name}\n", d.as_secs_f64()));
    }
    out
}

/// Stopwatch of the steps of one build.
struct Laps {
    steps: Vec<(String, Duration)>,
    clock: Instant,
}

impl Laps {
    fn new() -> Laps {
        Laps {
            steps: Vec::new(),
            clock: Instant::now(),
        }
    }

    fn lap(&mut self, name: &str) {
        self.steps.push((name.to_owned(), self.clock.elapsed()));
        self.clock = Instant::now();
    }
}

/// What every target's build shares: checked once, before any target
/// builds.
struct Shared {
    changelog: changelog::Changelog,
    /// Each application's sdist, by application.
    sdists: BTreeMap<String, crate::sdist::Sdist>,
    list: BTreeMap<String, Sha256>,
}

/// Builds the binary packages of `apps` from the tree at `config.root` for
/// each of `targets` (each application only for the targets it ships to),
/// into `out/<target>/`, printing each target's artifacts as it finishes.
pub fn build(
    config: &Config,
    apps: &[String],
    targets: &[&Target],
    out: &Path,
    env: &BuildEnv,
    refresh_chroot: bool,
) -> anyhow::Result<Vec<Outcome>> {
    let mut laps = Laps::new();
    for target in targets {
        check_writable(&out.join(&target.name))?;
        changelog::check_suffix(&target.deb_version_suffix()).with_context(|| {
            format!(
                "{}: targets.{}.deb-version-suffix",
                config.path.display(),
                target.name
            )
        })?;
    }
    let root = &config.root;
    // debian/control and the configuration agree (exit 1 when not).
    let control = crate::debian::check(config)?;

    let list = first_verification(config, apps, targets)?;
    laps.lap("verify");

    let changelog = changelog::parse(&fs_err::read_to_string(root.join("debian/changelog"))?)?;
    if changelog.source != control.source {
        bail!(
            "debian/changelog: package {:?} differs from debian/control's Source {:?}",
            changelog.source,
            control.source
        );
    }
    let mut sdists = BTreeMap::new();
    for app in apps {
        let sdist = crate::sdist::build(config, app)?;
        if config.app(app)?.check_version {
            check_version(config, app, &changelog, &sdist.version)?;
        }
        sdists.insert(app.clone(), sdist);
    }
    laps.lap("changelog + sdists");

    let shared = Shared {
        changelog,
        sdists,
        list,
    };
    let mut outcomes = Vec::new();
    for (i, target) in targets.iter().enumerate() {
        let mut target_laps = if i == 0 {
            std::mem::replace(&mut laps, Laps::new())
        } else {
            Laps::new()
        };
        let for_target = apps_for(config, apps, target);
        let outcome = build_target(
            config,
            &for_target,
            target,
            &shared,
            &out.join(&target.name),
            env,
            refresh_chroot,
            &mut target_laps,
        )
        .with_context(|| format!("target {}", target.name))?;
        print_outcome(&outcome);
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// The changelog's upstream version must denote the application's PEP 440
/// version (`1.7.0rc1` ↔ `1.7.0~rc1`, [`pinwheel_pypa::debian_version`]);
/// the refusal names the `dch` command that fixes it.
fn check_version(
    config: &Config,
    app: &str,
    changelog: &changelog::Changelog,
    version: &str,
) -> anyhow::Result<()> {
    use pinwheel_pypa::debian_version;
    let pyproject = config.app(app)?.pyproject.display().to_string();
    let parsed = pep440_rs::Version::from_str(version)
        .map_err(|err| anyhow::anyhow!("{pyproject}: version {version:?}: {err}"))?;
    let upstream = changelog::upstream_version(&changelog.version);
    if debian_version::matches(upstream, &parsed) {
        return Ok(());
    }
    let fix = debian_version::dch_suggestion(&parsed)
        .map(|dch| format!("add a changelog entry: `{dch}`"))
        .unwrap_or_else(|err| err.to_string());
    Err(pinwheel_trust::failure::refused(format!(
        "debian/changelog: version {} does not match {app}'s version {version} ({pyproject}); {fix}, \
         or set apps.{app}.check-version = false if the source package alone versions it",
        changelog.version
    )))
}

/// One target: chroot, staged tree, checks in the chroot,
/// dpkg-buildpackage, artifacts.
#[allow(clippy::too_many_arguments)]
fn build_target(
    config: &Config,
    apps: &[&str],
    target: &Target,
    shared: &Shared,
    out: &Path,
    env: &BuildEnv,
    refresh_chroot: bool,
    laps: &mut Laps,
) -> anyhow::Result<Outcome> {
    let root = &config.root;
    let chroot = build_chroot(config, target, refresh_chroot)?;
    laps.lap("chroot");

    let work_parent = root.join("target/build-deb").join(&target.name);
    fs_err::create_dir_all(&work_parent)?;
    let work = tempfile::Builder::new()
        .prefix("work-")
        .tempdir_in(&work_parent)
        .with_context(|| format!("{}: cannot create a build directory", work_parent.display()))?;
    let tree = stage_tree(
        config,
        apps,
        target,
        &shared.sdists,
        &shared.list,
        changelog::upstream_version(&shared.changelog.version),
        work.path(),
    )?;
    laps.lap("staging");

    let home = work.path().join("home");
    fs_err::create_dir_all(&home)?;
    let vars = clean_env(&home, shared.changelog.timestamp, env);
    if let build_deps::Check::Unmet(relations) =
        dpkg::check_build_deps(&chroot, work.path(), &tree, &vars)?
    {
        bail!(
            "the {} build chroot does not satisfy debian/control: unmet build dependencies: {relations}",
            target.suite
        );
    }
    let expected = changelog::Changelog {
        version: format!(
            "{}{}",
            shared.changelog.version,
            target.deb_version_suffix()
        ),
        distributions: vec![target.suite.clone()],
        ..shared.changelog.clone()
    };
    dpkg::check_changelog(&chroot, work.path(), &tree, &vars, &expected)?;
    laps.lap("checks in the chroot");

    eprintln!(
        "running dpkg-buildpackage in the {} chroot ({}, CPython {})",
        target.name, target.suite, chroot.python
    );
    let log_path = work.path().join("build.log");
    let (success, phases) =
        dpkg::dpkg_buildpackage(&chroot, work.path(), &tree, &vars, env, &log_path)?;
    laps.lap("dpkg-buildpackage");
    drop(chroot);
    if !success {
        let log = fs_err::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = log
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        eprintln!("{}", tail.join("\n"));
        let kept = work.keep();
        bail!(
            "dpkg-buildpackage failed in {}; full log: {}",
            tree.display(),
            kept.join("build.log").display()
        );
    }
    let artifacts = collect(work.path(), out)?;
    laps.lap("collect");
    Ok(Outcome {
        target: target.name.clone(),
        artifacts,
        steps: std::mem::take(&mut laps.steps),
        phases,
    })
}

/// The target's build chroot: flavour Build with every package
/// debian/control's Build-Depends names; held (locked) until dropped.
pub fn build_chroot(
    config: &Config,
    target: &Target,
    refresh: bool,
) -> anyhow::Result<chroot::Chroot> {
    let control = fs_err::read_to_string(config.root.join("debian/control"))?;
    let extra = chroot::build_depends(&control).into_iter().collect();
    chroot::prepare(
        &config.root,
        target,
        &chroot::Flavor::Build { extra },
        refresh,
    )
}

/// Copies the `.deb`, `.buildinfo` and `.changes` dpkg-buildpackage left
/// in `work` to `out`, hashing them.
fn collect(work: &Path, out: &Path) -> anyhow::Result<Vec<Artifact>> {
    let mut names: Vec<String> = Vec::new();
    for entry in fs_err::read_dir(work)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if [".deb", ".ddeb", ".buildinfo", ".changes"]
            .iter()
            .any(|ext| name.ends_with(ext))
        {
            names.push(name);
        }
    }
    names.sort();
    if !names.iter().any(|n| n.ends_with(".deb")) {
        bail!(
            "dpkg-buildpackage succeeded but produced no .deb in {}",
            work.display()
        );
    }
    let mut artifacts = Vec::new();
    for name in names {
        let bytes = fs_err::read(work.join(&name))?;
        let path = out.join(&name);
        crate::fresh::write_atomic(&path, &bytes)?;
        artifacts.push(Artifact {
            path,
            sha256: Sha256::of(&bytes),
        });
    }
    Ok(artifacts)
}

/// Stages the clean source tree of `apps` for `target` under `work` from
/// their built sdists ([`crate::sdist::build`]) and the verified `list`,
/// and returns its path (`work/<source>-<upstream>`). It does not verify
/// anything itself: [`build`] calls it after the first verification (tests
/// call it directly to prove that pip's check stands on its own).
pub fn stage_tree(
    config: &Config,
    apps: &[&str],
    target: &Target,
    sdists: &BTreeMap<String, crate::sdist::Sdist>,
    list: &BTreeMap<String, Sha256>,
    upstream: &str,
    work: &Path,
) -> anyhow::Result<PathBuf> {
    let control_text = fs_err::read_to_string(config.root.join("debian/control"))?;
    let control = crate::debian::Control::parse(&control_text, crate::debian::CONTROL)?;
    let packages: Vec<String> = control.binaries.iter().map(|b| b.package.clone()).collect();
    let changelog = changelog::for_target(
        &fs_err::read_to_string(config.root.join("debian/changelog"))?,
        &target.deb_version_suffix(),
        &target.suite,
    )?;
    let tree = work.join(format!("{}-{upstream}", control.source));
    let mut staged_apps = Vec::new();
    for app in apps {
        let app_config = config.app(app)?;
        staged_apps.push(stage::StagedApp {
            name: (*app).to_owned(),
            dir: app_config.dir.clone(),
            sdist: sdists
                .get(*app)
                .with_context(|| format!("no sdist of {app}"))?,
            backend: backend::backend_pins(config, app, target, list)?,
            system_site_packages: app_config.system_site_packages,
        });
    }
    let staged = stage::stage(
        &tree,
        &stage::Inputs {
            root: &config.root,
            apps: &staged_apps,
            target: &target.name,
            packages: &packages,
            control: &stage::control_for(&control_text, apps),
            changelog: &changelog,
            list,
        },
    )?;
    eprintln!(
        "staged {} ({}) with {staged} wheels",
        tree.display(),
        apps.join(", ")
    );
    Ok(tree)
}

/// Creates `out` if needed and proves it writable, before any work.
pub fn check_writable(out: &Path) -> anyhow::Result<()> {
    fs_err::create_dir_all(out).with_context(|| {
        format!(
            "{}: cannot create the output directory; pass --out DIR",
            out.display()
        )
    })?;
    tempfile::Builder::new()
        .prefix(".pinwheel-probe-")
        .tempfile_in(out)
        .map(drop)
        .map_err(|err| {
            anyhow::anyhow!(
                "{}: output directory is not writable ({err}); pass --out DIR",
                out.display()
            )
        })
}

/// The first verification: the full `verify` of the wheel index
/// (signatures, threshold, expiry, rollback, every file), then
/// `update-deps --check` for `targets` (their requirements files match the
/// lock and the signed list), and every hash each target's build-requirements.txt pins
/// is in the verified list. Returns the verified list (path under
/// wheels-index/ → sha256).
fn first_verification(
    config: &Config,
    apps: &[String],
    targets: &[&Target],
) -> anyhow::Result<BTreeMap<String, Sha256>> {
    let index = config.root.join(crate::verify::DEFAULT_INDEX);
    let asc = index.join(pinwheel_trust::sha256sums::SIGNATURE_FILE);
    if !asc.exists() {
        return Err(pinwheel_trust::failure::verification_failed(format!(
            "{}: missing: the wheel list is not signed; run `cargo xtask sign`",
            asc.display()
        )));
    }
    let verified = crate::verify::verify_index(config, &crate::verify::Options::default())?;
    for app in apps {
        let app_targets: Vec<&Target> = targets
            .iter()
            .filter(|t| apps_for(config, std::slice::from_ref(app), t).len() == 1)
            .copied()
            .collect();
        if app_targets.is_empty() {
            continue;
        }
        crate::update_deps::run(
            &config.root,
            &crate::update_deps::Options {
                app: Some(app.clone()),
                targets: app_targets.iter().map(|t| t.name.clone()).collect(),
                check: true,
                ..Default::default()
            },
        )?;
        for target in app_targets {
            stage::pinned_wheels(&config.root, app, &target.name, &verified.list.entries)
                .with_context(|| format!("target {}", target.name))?;
        }
    }
    Ok(verified.list.entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo_config(narrowed: bool) -> Config {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/pinwheel.toml");
        let mut text = fs_err::read_to_string(&path).unwrap();
        if narrowed {
            text = text.replacen(
                "wheel-only = []\n",
                "wheel-only = []\ntargets = [\"trixie\"]\n",
                1,
            );
        }
        Config::parse(Path::new("/r"), Path::new("pinwheel.toml"), &text).unwrap()
    }

    #[test]
    fn targets_by_name_or_every_one_the_app_ships_to() {
        let names = |targets: Vec<&Target>| -> Vec<String> {
            targets.iter().map(|t| t.name.clone()).collect()
        };
        let all = demo_config(false);
        assert_eq!(
            names(targets(&all, "pinwheel-demo", &[]).unwrap()),
            ["bookworm", "trixie"]
        );
        let picked = [
            "trixie".to_owned(),
            "bookworm".to_owned(),
            "trixie".to_owned(),
        ];
        assert_eq!(
            names(targets(&all, "pinwheel-demo", &picked).unwrap()),
            ["bookworm", "trixie"]
        );
        let err = targets(&all, "pinwheel-demo", &["sid".to_owned()])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "pinwheel.toml: no target named \"sid\" (known: bookworm, trixie)"
        );
        let narrowed = demo_config(true);
        assert_eq!(
            names(targets(&narrowed, "pinwheel-demo", &[]).unwrap()),
            ["trixie"]
        );
        let err = targets(&narrowed, "pinwheel-demo", &["bookworm".to_owned()])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "pinwheel.toml: pinwheel-demo does not ship to target \"bookworm\" (its targets: trixie)"
        );
        // Several applications: every target any of them ships to.
        let both = apps(&narrowed, None).unwrap();
        assert_eq!(both, ["pinwheel-apt-demo", "pinwheel-demo"]);
        assert_eq!(
            names(targets_of_apps(&narrowed, &both, &[]).unwrap()),
            ["bookworm", "trixie"]
        );
        let bookworm = narrowed.target("bookworm").unwrap();
        assert_eq!(apps_for(&narrowed, &both, bookworm), ["pinwheel-apt-demo"]);
    }

    #[test]
    fn environment_is_complete() {
        let env = clean_env(Path::new("/h"), 1704067200, &BuildEnv::standard());
        let keys: Vec<&str> = env.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["HOME", "LANG", "LC_ALL", "PATH", "SOURCE_DATE_EPOCH", "TZ"]
        );
        assert_eq!(env["SOURCE_DATE_EPOCH"], "1704067200");
        let varied = BuildEnv {
            deb_build_options: Some("parallel=2".into()),
            ..BuildEnv::standard()
        };
        assert_eq!(
            clean_env(Path::new("/h"), 1, &varied)["DEB_BUILD_OPTIONS"],
            "parallel=2"
        );
    }

    #[test]
    fn unwritable_output_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        fs_err::write(&file, "").unwrap();
        let err = format!("{:#}", check_writable(&file.join("out")).unwrap_err());
        assert!(err.contains("a-file/out") && err.contains("--out"), "{err}");
    }

    #[test]
    fn times() {
        let ms = Duration::from_millis;
        let times = [
            ("a".to_owned(), ms(1500)),
            ("b".to_owned(), ms(250)),
            ("c".to_owned(), ms(10)),
        ];
        assert_eq!(
            format_times("steps", &times[..2]),
            "steps: 1.75s\n     1.50s  a\n     0.25s  b\n"
        );
        let top = slowest(&[times[2].clone(), times[0].clone(), times[1].clone()], 1);
        assert_eq!(
            top,
            vec![("a".to_owned(), ms(1500)), ("other".to_owned(), ms(260))]
        );
    }
}
