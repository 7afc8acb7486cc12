//! `cargo xtask build-deb`: the application's Debian package, verified
//! twice and built reproducibly.
//!
//! 1. The output directory is checked to be writable before anything runs.
//! 2. First verification: the full `verify` of `wheels-index/` (signatures,
//!    threshold, expiry, rollback, every file) and `update-deps --check`
//!    (the requirements files match the lock and the signed list). Any
//!    failure stops here, before dpkg-buildpackage.
//! 3. Build dependencies through `dpkg-checkbuilddeps`: root installs them
//!    with apt-get, anyone else gets the sudo line and exit 2 unless
//!    `--install-build-deps` (see [`build_deps`]).
//! 4. `debian/changelog` through dpkg-parsechangelog, strictly: its date is
//!    SOURCE_DATE_EPOCH and its version must be the application's.
//! 5. A clean tree staged under `target/` ([`stage`]): debian/, the sdist,
//!    the requirements files and only the wheels they pin.
//! 6. `dpkg-buildpackage -us -uc -b` (binary only: the source of truth is
//!    this repository, and a source package would carry the wheels) in a
//!    clean environment (`full_env`), inside `unshare -n` when the kernel
//!    allows. Inside, pip installs with `--require-hashes`: the second
//!    verification.
//! 7. The `.deb`, `.buildinfo` and `.changes` are copied to `target/debian/`
//!    (or `--out`) and their sha256 printed.

pub mod backend;
pub mod build_deps;
pub mod changelog;
pub mod dpkg;
pub mod phases;
pub mod stage;

pub use dpkg::clean_env;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::config::Config;
use crate::host_packages;
use pinwheel_trust::hash::Sha256;

/// Options of `cargo xtask build-deb`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Options {
    /// Application name from packaging/pinwheel.toml (default: the only one).
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// Output directory for the .deb, .buildinfo and .changes (default: target/debian/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// When not root, install missing build dependencies through sudo.
    #[arg(long)]
    pub install_build_deps: bool,
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

/// What a build produced and how long each step took.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub artifacts: Vec<Artifact>,
    pub steps: Vec<(String, Duration)>,
    pub phases: Vec<(String, Duration)>,
}

/// Runs `cargo xtask build-deb`.
pub fn run(root: &Path, options: &Options) -> anyhow::Result<()> {
    let config = Config::load(root)?;
    let app = crate::sdist::app_name(&config, options.app.as_deref())?;
    let out = options
        .out
        .clone()
        .unwrap_or_else(|| root.join("target/debian"));
    let outcome = build(
        &config,
        &app,
        &out,
        &BuildEnv::standard(),
        options.install_build_deps,
    )?;
    print_outcome(&outcome);
    Ok(())
}

/// Prints the artifacts with their sha256 (stdout), then the time profile
/// (stderr).
pub fn print_outcome(outcome: &Outcome) {
    for artifact in &outcome.artifacts {
        println!("{}  {}", artifact.sha256, artifact.path.display());
    }
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

/// Builds the package of `app` from the tree at `config.root` into `out`.
pub fn build(
    config: &Config,
    app: &str,
    out: &Path,
    env: &BuildEnv,
    install_build_deps: bool,
) -> anyhow::Result<Outcome> {
    let root = &config.root;
    let mut steps: Vec<(String, Duration)> = Vec::new();
    let mut clock = Instant::now();
    let mut lap = |name: &str, steps: &mut Vec<(String, Duration)>| {
        steps.push((name.to_owned(), clock.elapsed()));
        clock = Instant::now();
    };

    check_writable(out)?;
    let control_path = root.join("debian/control");
    let control = fs_err::read_to_string(&control_path)?;
    let source = changelog::field(&control, "Source")
        .context("debian/control: no Source field")?
        .to_owned();
    let packages = changelog::binary_packages(&control);
    if !packages.iter().any(|p| p == app) {
        bail!("debian/control: no binary package named {app:?} (it builds {}); debian/ packages one application", packages.join(", "));
    }

    let list = first_verification(config, app)?;
    lap("verify", &mut steps);

    ensure_build_deps(root, install_build_deps)?;
    lap("build dependencies", &mut steps);

    let changelog = read_changelog(root)?;
    if changelog.source != source {
        bail!(
            "debian/changelog: package {:?} differs from debian/control's Source {source:?}",
            changelog.source
        );
    }
    let sdist = crate::sdist::build(config, app)?;
    let upstream = changelog::upstream_version(&changelog.version).to_owned();
    if upstream != sdist.version {
        bail!(
            "debian/changelog: version {} does not match {}'s version {}; add a changelog entry (`dch -v {}`)",
            changelog.version,
            config.app(app)?.pyproject.display(),
            sdist.version,
            sdist.version
        );
    }
    lap("changelog + sdist", &mut steps);

    let work_parent = root.join("target/build-deb");
    fs_err::create_dir_all(&work_parent)?;
    let work = tempfile::Builder::new()
        .prefix("work-")
        .tempdir_in(&work_parent)
        .with_context(|| format!("{}: cannot create a build directory", work_parent.display()))?;
    let tree = stage_tree(config, app, &sdist, &list, work.path())?;
    lap("staging", &mut steps);
    eprintln!("running dpkg-buildpackage in a clean environment");
    let home = work.path().join("home");
    fs_err::create_dir_all(&home)?;
    let log_path = work.path().join("build.log");
    let (success, phases) =
        dpkg::dpkg_buildpackage(&tree, &home, changelog.timestamp, env, &log_path)?;
    lap("dpkg-buildpackage", &mut steps);
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

    let mut artifacts = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for entry in fs_err::read_dir(work.path())? {
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
            work.path().display()
        );
    }
    for name in names {
        let bytes = fs_err::read(work.path().join(&name))?;
        let path = out.join(&name);
        crate::fresh::write_atomic(&path, &bytes)?;
        artifacts.push(Artifact {
            path,
            sha256: Sha256::of(&bytes),
        });
    }
    lap("collect", &mut steps);
    Ok(Outcome {
        artifacts,
        steps,
        phases,
    })
}

/// Stages the clean source tree for `app` under `work` from its built
/// `sdist` ([`crate::sdist::build`]) and the verified `list`, and returns
/// its path (`work/<source>-<version>`). It does not verify anything
/// itself: [`build`] calls it after the first verification (tests call it
/// directly to prove that pip's check stands on its own).
pub fn stage_tree(
    config: &Config,
    app: &str,
    sdist: &crate::sdist::Sdist,
    list: &BTreeMap<String, Sha256>,
    work: &Path,
) -> anyhow::Result<PathBuf> {
    let control = fs_err::read_to_string(config.root.join("debian/control"))?;
    let source = changelog::field(&control, "Source").context("debian/control: no Source field")?;
    let packages = changelog::binary_packages(&control);
    let tree = work.join(format!("{source}-{}", sdist.version));
    let backend = backend::backend_pins(config, app, list)?;
    let staged = stage::stage(
        &tree,
        &stage::Inputs {
            root: &config.root,
            app,
            packages: &packages,
            sdist,
            list,
            backend: &backend,
        },
    )?;
    eprintln!("staged {} with {staged} wheels", tree.display());
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
/// `update-deps --check` (the requirements files match the lock and the
/// signed list), and every hash build-requirements.txt pins is in the
/// verified list. Returns the verified list (path under wheels-index/ →
/// sha256).
fn first_verification(config: &Config, app: &str) -> anyhow::Result<BTreeMap<String, Sha256>> {
    let index = config.root.join(crate::verify::DEFAULT_INDEX);
    let asc = index.join(pinwheel_trust::sha256sums::SIGNATURE_FILE);
    if !asc.exists() {
        return Err(pinwheel_trust::failure::verification_failed(format!(
            "{}: missing: the wheel list is not signed; run `cargo xtask sign`",
            asc.display()
        )));
    }
    let verified = crate::verify::verify_index(config, &crate::verify::Options::default())?;
    crate::update_deps::run(
        &config.root,
        &crate::update_deps::Options {
            app: Some(app.to_owned()),
            check: true,
            ..Default::default()
        },
    )?;
    stage::pinned_wheels(&config.root, app, &verified.list.entries)?;
    Ok(verified.list.entries)
}

/// Checks the build dependencies and installs them when allowed.
fn ensure_build_deps(root: &Path, install_build_deps: bool) -> anyhow::Result<()> {
    let build_deps::Check::Missing(names) = check_build_deps(root)? else {
        return Ok(());
    };
    host_packages::install(
        &names,
        "build dependencies",
        install_build_deps,
        Some("--install-build-deps"),
    )?;
    match check_build_deps(root)? {
        build_deps::Check::Satisfied => Ok(()),
        build_deps::Check::Missing(names) => bail!(
            "build dependencies still missing after installing: {}",
            names.join(" ")
        ),
    }
}

fn check_build_deps(root: &Path) -> anyhow::Result<build_deps::Check> {
    let result = duct::cmd!("dpkg-checkbuilddeps", "debian/control")
        .dir(root)
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run();
    match result {
        // Without dpkg-dev there is no dpkg-checkbuilddeps, no
        // dpkg-buildpackage either: that is the first thing to install.
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            Ok(build_deps::Check::Missing(vec!["dpkg-dev".to_owned()]))
        }
        Err(err) => Err(err).context("cannot run dpkg-checkbuilddeps"),
        Ok(out) => {
            build_deps::parse_check(out.status.success(), &String::from_utf8_lossy(&out.stderr))
        }
    }
}

fn read_changelog(root: &Path) -> anyhow::Result<changelog::Changelog> {
    let out = duct::cmd!("dpkg-parsechangelog", "-l", "debian/changelog")
        .dir(root)
        .env("LC_ALL", "C.UTF-8")
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .context("cannot run dpkg-parsechangelog (install dpkg-dev)")?;
    changelog::parse(
        out.status.success(),
        &String::from_utf8_lossy(&out.stdout),
        &String::from_utf8_lossy(&out.stderr),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
