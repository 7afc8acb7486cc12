//! Bench: `build-deb` and `check-reproducible` on the demo application —
//! one run each (a build takes minutes), wall time, and the per-step
//! breakdown the commands print (the `build-deb steps`, `dpkg-buildpackage
//! phases (slowest first)` and `build a steps` blocks of
//! `build_deb::format_times`), parsed from their stderr. `build-deb-warm`
//! sets a warm `build-deb --target bookworm` (chroot cached) beside
//! `dpkg-buildpackage` run directly on the host over the same staged tree.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::measure::{alternate, last_line, Side};
use super::report::{fmt_duration, Body, Row, Section, Target};
use super::{goals, Ctx, Measured};
use xtask::config::Config;

pub fn build_deb(ctx: &Ctx) -> anyhow::Result<Measured> {
    let title = "build-deb: the demo application's package";
    let intro = "`cargo xtask build-deb --out target/bench/deb` on the checked-in tree: one run (a build takes minutes), its wall time and the time of each step as the command reports it.";
    if !ctx.has_command("build-deb") {
        return Ok(Measured::skipped(title, intro, Ctx::missing("build-deb")));
    }
    let out_dir = ctx.work.join("deb");
    let run = run_logged(
        ctx.xtask(["build-deb".as_ref(), "--out".as_ref(), out_dir.as_os_str()])
            .dir(&ctx.root),
    );
    Ok(Measured {
        section: Section {
            title: title.to_owned(),
            intro: intro.to_owned(),
            body: breakdown(
                &run,
                &[
                    "build-deb steps",
                    "dpkg-buildpackage phases (slowest first)",
                ],
            ),
            notes: vec![],
        },
        panel: None,
        targets: vec![],
    })
}

pub fn check_reproducible(ctx: &Ctx) -> anyhow::Result<Measured> {
    let title = "check-reproducible: two builds compared";
    let intro = "`cargo xtask check-reproducible` on the checked-in tree (two builds in varied environments, then a byte comparison): one run, its wall time and each build's steps as the command reports them.";
    if !ctx.has_command("check-reproducible") {
        return Ok(Measured::skipped(
            title,
            intro,
            Ctx::missing("check-reproducible"),
        ));
    }
    let run = run_logged(ctx.xtask(["check-reproducible"]).dir(&ctx.root));
    Ok(Measured {
        section: Section {
            title: title.to_owned(),
            intro: intro.to_owned(),
            body: breakdown(&run, &["build a steps", "build b steps"]),
            notes: vec![],
        },
        panel: None,
        targets: vec![],
    })
}

/// The target the warm build is measured on: the host's own suite, so
/// that the host can build the very same tree.
const WARM_TARGET: &str = "bookworm";

/// What `dpkg-buildpackage` needs on the host for the demo's tree.
const HOST_BUILD_PACKAGES: [&str; 4] = ["dpkg-dev", "debhelper", "python3-venv", "python3-pip-whl"];

pub fn build_deb_warm(ctx: &Ctx) -> anyhow::Result<Measured> {
    let title = "build-deb in a cached chroot against a host build";
    let intro = format!(
        "A warm `cargo xtask build-deb --target {WARM_TARGET}` (whole process: verification, sdist, staging, checks and dpkg-buildpackage in the cached chroot's throwaway overlay) against `dpkg-buildpackage -us -uc -b` run directly on the host (its suite is the target's) over a fresh copy of the same staged tree (staged by `build_deb::stage_tree` after the full verification of the signed index; the copy is untimed), with build-deb's complete environment (`build_deb::clean_env`), umask 022, inside `unshare -n`. One warm-up round (it also makes the chroot when it is not cached), then alternating rounds. Target: the warm chroot build at most 1.5× the host build."
    );
    let skip = |why: String| Ok(Measured::skipped(title, &intro, why));
    if !ctx.has_command("build-deb") {
        return skip(Ctx::missing("build-deb"));
    }
    let config = Config::load(&ctx.root)?;
    let Ok(target) = config.target(WARM_TARGET) else {
        return skip(format!(
            "{} has no target {WARM_TARGET:?}",
            xtask::config::CONFIG_PATH
        ));
    };
    match host_suite() {
        Some(suite) if suite == target.suite => {}
        other => {
            return skip(format!(
                "the host is {}, not {}: a host build would not build for the same suite",
                other.as_deref().unwrap_or("of an unknown suite"),
                target.suite
            ))
        }
    }
    let missing = xtask::host_packages::missing(&HOST_BUILD_PACKAGES)?;
    if !missing.is_empty() {
        return skip(format!(
            "the host build needs {} (`apt-get install {}`)",
            missing.join(", "),
            missing.join(" ")
        ));
    }
    let netns = match network_namespace() {
        Ok(args) => args,
        Err(why) => return skip(why),
    };
    let flavor = xtask::build_wheels::chroot_flavor(&ctx.root)?;
    let cached = xtask::chroot::recorded(&ctx.root, target, &flavor)?.is_some();

    let scratch = ctx.work.join("build-deb-warm");
    if scratch.exists() {
        fs_err::remove_dir_all(&scratch)?;
    }
    let (staged, epoch) = stage_verified(&ctx.root, WARM_TARGET, &scratch.join("staged"))?;
    let tree_name = staged
        .file_name()
        .context("the staged tree has no name")?
        .to_owned();
    let host = scratch.join("host");
    let host_tree = host.join(&tree_name);
    let home = host.join("home");
    let vars = xtask::build_deb::clean_env(&home, epoch, &xtask::build_deb::BuildEnv::standard());
    let mut argv = netns;
    argv.extend(
        [
            "--",
            "sh",
            "-c",
            "umask 022 && exec \"$@\"",
            "sh",
            "dpkg-buildpackage",
            "-us",
            "-uc",
            "-b",
        ]
        .map(str::to_owned),
    );
    let (reset_host, reset_staged, reset_home) = (host.clone(), staged.clone(), home.clone());
    let host_side = Side::new(
        "dpkg-buildpackage on the host",
        vec![duct::cmd("unshare", &argv)
            .dir(&host_tree)
            .full_env(vars)
            .stdin_null()],
    )
    .with_reset(Arc::new(move || {
        fresh_copy(&reset_staged, &reset_host, &reset_home).map_err(|e| format!("{e:#}"))
    }));
    let out = scratch.join("out");
    let deb_label = format!("pinwheel build-deb --target {WARM_TARGET}, chroot cached");
    let deb_side = Side::new(
        deb_label.clone(),
        vec![ctx
            .xtask([
                "build-deb".as_ref(),
                "--target".as_ref(),
                WARM_TARGET.as_ref(),
                "--out".as_ref(),
                out.as_os_str(),
            ])
            .dir(&ctx.root)
            .stdin_null()],
    );
    let reps = if ctx.quick { 1 } else { 3 };
    let outcomes = alternate(&[deb_side, host_side], 1, reps);
    let mut outcomes = outcomes.into_iter();
    let row = Row {
        input: format!("{} for {WARM_TARGET}", tree_name.to_string_lossy()),
        size: None,
        sides: vec![
            (deb_label.clone(), outcomes.next().unwrap_or_else(not_run)),
            (
                "dpkg-buildpackage on the host".to_owned(),
                outcomes.next().unwrap_or_else(not_run),
            ),
        ],
    };

    let mut notes = Vec::new();
    if !cached {
        notes.push(format!(
            "The {WARM_TARGET} build chroot was not cached: the warm-up run made it (untimed)."
        ));
    }
    notes.push(same_package(&out.join(WARM_TARGET), &host));
    let mut targets = Vec::new();
    if let (Some(warm), Some(host_time)) = (
        row.median(&deb_label),
        row.median("dpkg-buildpackage on the host"),
    ) {
        let ratio = warm.as_secs_f64() / host_time.as_secs_f64();
        targets.push(Target::measured(
            goals::BUILD_DEB_WARM,
            format!(
                "{ratio:.2}× ({} in the chroot vs {} on the host)",
                fmt_duration(warm),
                fmt_duration(host_time)
            ),
            ratio <= 1.5,
            "the difference is build-deb's own work around dpkg-buildpackage (verification, sdist, staging, dpkg-checkbuilddeps and dpkg-parsechangelog in the chroot) and entering the overlay; `cargo xtask bench --only build-deb` shows each step's time".to_owned(),
        ));
    }
    notes.extend(targets.iter().map(Target::note));
    if let Err(err) = fs_err::remove_dir_all(&scratch) {
        notes.push(format!("The scratch tree could not be removed: {err}."));
    }
    Ok(Measured {
        section: Section {
            title: title.to_owned(),
            intro,
            body: Body::Timings(vec![row]),
            notes,
        },
        panel: None,
        targets,
    })
}

fn not_run() -> super::measure::Outcome {
    super::measure::Outcome::Failed("not run".to_owned())
}

/// The tree `build-deb` stages for `target` (under `work`) and its
/// SOURCE_DATE_EPOCH, staged by the library after the full verification
/// of the signed index: the one place the bench calls into build-deb's
/// internals.
fn stage_verified(root: &Path, target: &str, work: &Path) -> anyhow::Result<(PathBuf, u64)> {
    let config = Config::load(root)?;
    let apps = xtask::build_deb::apps(&config, None)?;
    let target = config.target(target)?;
    let verified = xtask::verify::verify_index(&config, &xtask::verify::Options::default())
        .context("verifying the index before staging")?;
    let changelog = xtask::build_deb::changelog::parse(&fs_err::read_to_string(
        root.join("debian/changelog"),
    )?)?;
    let mut sdists = std::collections::BTreeMap::new();
    for app in &apps {
        sdists.insert(app.clone(), xtask::sdist::build(&config, app)?);
    }
    let names: Vec<&str> = apps.iter().map(String::as_str).collect();
    let tree = xtask::build_deb::stage_tree(
        &config,
        &names,
        target,
        &sdists,
        &verified.list.entries,
        xtask::build_deb::changelog::upstream_version(&changelog.version),
        work,
    )?;
    Ok((tree, changelog.timestamp))
}

/// `host` emptied, then a copy of `staged` in it beside an empty `home`.
fn fresh_copy(staged: &Path, host: &Path, home: &Path) -> anyhow::Result<()> {
    if host.exists() {
        fs_err::remove_dir_all(host)?;
    }
    let name = staged.file_name().context("the staged tree has no name")?;
    copy_tree(staged, &host.join(name))?;
    fs_err::create_dir_all(home)?;
    Ok(())
}

/// Copies the tree at `from` to `to`: directories, regular files with
/// their permissions, symbolic links as links.
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    fs_err::create_dir_all(to)?;
    fs_err::set_permissions(to, fs_err::metadata(from)?.permissions())?;
    for entry in fs_err::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let meta = fs_err::symlink_metadata(&src)?;
        if meta.is_dir() {
            copy_tree(&src, &dst)?;
        } else if meta.file_type().is_symlink() {
            fs_err::os::unix::fs::symlink(fs_err::read_link(&src)?, &dst)?;
        } else {
            fs_err::copy(&src, &dst)?;
        }
    }
    Ok(())
}

/// Whether the chroot's and the host's last `.deb` are the same bytes.
fn same_package(chroot_out: &Path, host: &Path) -> String {
    let deb = |dir: &Path| -> Option<(String, Vec<u8>)> {
        let mut debs: Vec<PathBuf> = fs_err::read_dir(dir)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "deb"))
            .collect();
        debs.sort();
        let path = debs.pop()?;
        let name = path.file_name()?.to_string_lossy().into_owned();
        Some((name, fs_err::read(&path).ok()?))
    };
    match (deb(chroot_out), deb(host)) {
        (Some((a, x)), Some((_, y))) if x == y => {
            format!("Both builds made the same bytes ({a}).")
        }
        (Some((a, _)), Some((b, _))) => format!(
            "The two builds made different bytes ({a} in the chroot, {b} on the host): the host's installed packages are not the chroot's."
        ),
        _ => "One of the builds left no .deb to compare.".to_owned(),
    }
}

/// The host's Debian suite, from /etc/os-release's VERSION_CODENAME.
fn host_suite() -> Option<String> {
    let text = fs_err::read_to_string("/etc/os-release").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim_matches('"').to_owned())
}

/// `unshare`'s arguments for a network namespace of the build's own (as
/// a user, in a user namespace too), checked by running `true` in one.
fn network_namespace() -> Result<Vec<String>, String> {
    let args: Vec<String> = if xtask::host_packages::is_root() {
        vec!["-n".into()]
    } else {
        vec!["-r".into(), "-n".into()]
    };
    let out = duct::cmd("unshare", args.iter().chain([&"true".to_owned()]))
        .stdin_null()
        .stdout_null()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|e| format!("unshare cannot run: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cannot create a network namespace (`unshare {} true`): {}",
            args.join(" "),
            last_line(&out.stderr)
        ));
    }
    Ok(args)
}

/// One logged run: wall time, exit code, stderr.
pub struct Logged {
    pub elapsed: Duration,
    pub code: Option<i32>,
    pub stderr: String,
    pub stdout: String,
}

pub fn run_logged(expr: duct::Expression) -> Result<Logged, String> {
    let start = Instant::now();
    let out = expr
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|e| e.to_string())?;
    Ok(Logged {
        elapsed: start.elapsed(),
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    })
}

/// The wall time and a table of every step line with one of `labels`.
fn breakdown(run: &Result<Logged, String>, labels: &[&str]) -> Body {
    let run = match run {
        Ok(run) => run,
        Err(why) => return Body::Skipped(format!("it could not be started: {why}")),
    };
    if run.code != Some(0) {
        return Body::Skipped(format!(
            "the run failed after {} (exit {}): {}",
            fmt_duration(run.elapsed),
            run.code.map_or("by a signal".to_owned(), |c| c.to_string()),
            last_line(run.stderr.as_bytes())
        ));
    }
    let mut text = format!("Wall time: {} (1 run).\n\n", fmt_duration(run.elapsed));
    let mut found = false;
    for label in labels {
        if let Some(steps) = parse_steps(&run.stderr, label) {
            found = true;
            text.push_str(&format!("| {label} | time |\n|---|---:|\n"));
            for (name, d) in steps {
                text.push_str(&format!("| {name} | {} |\n", fmt_duration(d)));
            }
            text.push('\n');
        }
    }
    if !found {
        text.push_str("The command printed no step timings.\n");
    }
    if run.stdout.lines().count() > 0 {
        text.push_str("\nIts output:\n\n```\n");
        for line in run.stdout.lines().take(12) {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str("```\n");
    }
    Body::Markdown(text)
}

/// Parses the block `build_deb::format_times` prints:
/// `LABEL: 1.77s` then one `     0.52s  name` line per step. `None` when
/// `text` has no such block.
pub fn parse_steps(text: &str, label: &str) -> Option<Vec<(String, Duration)>> {
    let mut lines = text.lines();
    lines.find(|line| {
        line.strip_prefix(label)
            .and_then(|rest| rest.strip_prefix(": "))
            .and_then(|total| total.strip_suffix('s'))
            .is_some_and(|total| total.parse::<f64>().is_ok())
    })?;
    let mut steps = Vec::new();
    for line in lines {
        if !line.starts_with(' ') {
            break;
        }
        let Some((secs, name)) = line.trim_start().split_once("s  ") else {
            break;
        };
        let Ok(secs) = secs.parse::<f64>() else {
            break;
        };
        steps.push((name.to_owned(), Duration::from_secs_f64(secs)));
    }
    Some(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_step_block() {
        let text = "note: something\nbuild-deb steps: 1.77s\n     0.52s  verify\n     1.00s  dpkg-buildpackage (setup)\n     0.25s  stage\nnext: 1.00s\n";
        let steps = parse_steps(text, "build-deb steps").unwrap();
        assert_eq!(steps.len(), 3);
        assert_eq!(
            steps[1],
            (
                "dpkg-buildpackage (setup)".to_owned(),
                Duration::from_secs(1)
            )
        );
        assert_eq!(parse_steps(text, "build a steps"), None);
        let text = xtask::build_deb::format_times(
            "build a steps",
            &[
                ("x".into(), Duration::from_millis(1500)),
                ("y z".into(), Duration::from_millis(20)),
            ],
        );
        assert_eq!(
            parse_steps(&text, "build a steps").unwrap(),
            [
                ("x".to_owned(), Duration::from_millis(1500)),
                ("y z".to_owned(), Duration::from_millis(20))
            ]
        );
    }
}
