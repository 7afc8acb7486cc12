//! Running dpkg-buildpackage and its helpers inside the target's build
//! chroot ([`Chroot::command`]: a throwaway overlay of the cached chroot,
//! no network, the work directory bound writable at its own path): the
//! complete environment (nothing from the caller, set with `env -i` inside
//! the chroot), faketime and umask for check-reproducible's variations, the
//! log, and a timestamp on each output line for the phase profile.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::{build_deps, changelog, phases, BuildEnv};
use crate::chroot::{Bind, Chroot};

/// The complete environment of the build: nothing from the caller.
pub fn clean_env(home: &Path, source_date_epoch: u64, env: &BuildEnv) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::from([
        (
            "PATH".to_owned(),
            "/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
        ),
        ("HOME".to_owned(), home.display().to_string()),
        (
            "SOURCE_DATE_EPOCH".to_owned(),
            source_date_epoch.to_string(),
        ),
        ("LC_ALL".to_owned(), env.lc_all.clone()),
        ("LANG".to_owned(), env.lang.clone()),
        ("TZ".to_owned(), env.tz.clone()),
    ]);
    if let Some(options) = &env.deb_build_options {
        vars.insert("DEB_BUILD_OPTIONS".to_owned(), options.clone());
    }
    vars
}

/// The argv that runs `argv` inside the chroot in `tree` with exactly the
/// environment `vars`, `work` (which holds `tree` and HOME) bound writable.
fn in_chroot(
    chroot: &Chroot,
    work: &Path,
    tree: &Path,
    vars: &BTreeMap<String, String>,
    argv: &[String],
) -> (String, Vec<String>) {
    let mut args: Vec<String> = vec!["-i".to_owned()];
    args.extend(vars.iter().map(|(k, v)| format!("{k}={v}")));
    args.extend(argv.iter().cloned());
    chroot.command(
        &[Bind {
            path: work.to_path_buf(),
            writable: true,
        }],
        tree,
        "env",
        &args,
    )
}

/// The environment of the process that starts the chroot (not of the
/// build, which `env -i` sets inside): a fixed PATH and locale, nothing
/// from the caller.
fn launcher_env() -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "PATH".to_owned(),
            "/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
        ),
        ("LC_ALL".to_owned(), "C.UTF-8".to_owned()),
    ])
}

/// Runs a short command in the chroot: (success, stdout, stderr).
fn capture(
    chroot: &Chroot,
    work: &Path,
    tree: &Path,
    vars: &BTreeMap<String, String>,
    argv: &[&str],
) -> anyhow::Result<(bool, String, String)> {
    let argv: Vec<String> = argv.iter().map(|s| (*s).to_owned()).collect();
    let (program, args) = in_chroot(chroot, work, tree, vars, &argv);
    let out = duct::cmd(&program, &args)
        .full_env(launcher_env())
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .with_context(|| {
            format!(
                "cannot run {} in the {} chroot",
                argv.join(" "),
                chroot.target
            )
        })?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// `dpkg-checkbuilddeps` in the chroot, offline: the chroot holds every
/// package Build-Depends names, and this checks their versions.
pub fn check_build_deps(
    chroot: &Chroot,
    work: &Path,
    tree: &Path,
    vars: &BTreeMap<String, String>,
) -> anyhow::Result<build_deps::Check> {
    let (success, _, stderr) = capture(chroot, work, tree, vars, &["dpkg-checkbuilddeps"])?;
    build_deps::parse_check(success, &stderr)
}

/// dpkg-parsechangelog's reading of the staged changelog, in the chroot,
/// checked against ours.
pub fn check_changelog(
    chroot: &Chroot,
    work: &Path,
    tree: &Path,
    vars: &BTreeMap<String, String>,
    expected: &changelog::Changelog,
) -> anyhow::Result<()> {
    let (success, stdout, stderr) = capture(chroot, work, tree, vars, &["dpkg-parsechangelog"])?;
    changelog::check_dpkg_reading(success, &stdout, &stderr, expected)
}

/// The `locale -a` of the chroot.
pub fn locales(chroot: &Chroot) -> anyhow::Result<String> {
    let (program, args) = chroot.command(&[], Path::new("/"), "locale", &["-a".to_owned()]);
    duct::cmd(&program, &args)
        .full_env(launcher_env())
        .stdin_null()
        .stderr_null()
        .read()
        .with_context(|| format!("cannot run locale -a in the {} chroot", chroot.target))
}

/// Runs dpkg-buildpackage in `tree` (under `work`) inside the chroot; its
/// output goes to `log` and each line is timestamped for the phase
/// profile.
pub fn dpkg_buildpackage(
    chroot: &Chroot,
    work: &Path,
    tree: &Path,
    vars: &BTreeMap<String, String>,
    env: &BuildEnv,
    log: &Path,
) -> anyhow::Result<(bool, Vec<(String, Duration)>)> {
    let mut argv: Vec<String> = Vec::new();
    if let Some(spec) = &env.faketime {
        argv.extend(["faketime".to_owned(), "-f".to_owned(), spec.clone()]);
    }
    argv.extend(
        [
            "sh",
            "-c",
            &format!("umask {:03o} && exec \"$@\"", env.umask),
            "sh",
        ]
        .map(str::to_owned),
    );
    argv.extend(["dpkg-buildpackage", "-us", "-uc", "-b"].map(str::to_owned));
    let (program, args) = in_chroot(chroot, work, tree, vars, &argv);

    let progress = progress_spinner();
    let started = Instant::now();
    let reader = duct::cmd(&program, &args)
        .full_env(launcher_env())
        .stdin_null()
        .stderr_to_stdout()
        .unchecked()
        .reader()
        .with_context(|| format!("cannot run {}", argv.join(" ")))?;
    let mut log_file = std::io::BufWriter::new(fs_err::File::create(log)?);
    let mut lines: Vec<(Duration, String)> = Vec::new();
    for line in std::io::BufReader::new(&reader).split(b'\n') {
        let line = String::from_utf8_lossy(&line.context("reading dpkg-buildpackage's output")?)
            .into_owned();
        writeln!(log_file, "{line}").with_context(|| format!("{}: writing", log.display()))?;
        if let Some(step) = phases::step(&line) {
            progress.set_message(step);
        }
        lines.push((started.elapsed(), line));
    }
    log_file
        .flush()
        .with_context(|| format!("{}: writing", log.display()))?;
    let output = reader
        .try_wait()?
        .context("dpkg-buildpackage did not finish")?;
    progress.finish_and_clear();
    Ok((
        output.status.success(),
        phases::profile(&lines, started.elapsed()),
    ))
}

fn progress_spinner() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_prefix("dpkg-buildpackage");
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
