//! Running dpkg-buildpackage: the complete environment (nothing from the
//! caller), the network namespace when the kernel gives one, faketime and
//! umask for check-reproducible's variations, the log, and a timestamp on
//! each output line for the phase profile.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::{phases, BuildEnv};
use crate::host_packages::is_root;

/// Whether `unshare` can give the build a network namespace of its own;
/// the arguments to prefix when it can.
fn network_namespace() -> Option<Vec<String>> {
    let root = is_root();
    let args: Vec<String> = if root {
        vec!["-n".into()]
    } else {
        vec!["-r".into(), "-n".into()]
    };
    let ok = duct::cmd("unshare", args.iter().chain([&"true".to_owned()]))
        .stdin_null()
        .stdout_null()
        .stderr_null()
        .unchecked()
        .run()
        .is_ok_and(|o| o.status.success());
    ok.then(|| {
        let mut argv = vec!["unshare".to_owned()];
        argv.extend(args);
        argv.push("--".to_owned());
        argv
    })
}

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

/// Runs dpkg-buildpackage in `tree`; its output goes to `log` and each line
/// is timestamped for the phase profile.
pub fn dpkg_buildpackage(
    tree: &Path,
    home: &Path,
    source_date_epoch: u64,
    env: &BuildEnv,
    log: &Path,
) -> anyhow::Result<(bool, Vec<(String, Duration)>)> {
    let mut argv: Vec<String> = Vec::new();
    match network_namespace() {
        Some(prefix) => argv.extend(prefix),
        None => eprintln!("warning: cannot create a network namespace (unshare -n); the build runs with the network reachable"),
    }
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

    let progress = progress_spinner();
    let started = Instant::now();
    let reader = duct::cmd(&argv[0], &argv[1..])
        .dir(tree)
        .full_env(clean_env(home, source_date_epoch, env))
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
