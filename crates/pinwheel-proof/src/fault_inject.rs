//! `cargo xtask fault-inject [--runs N] [--seed S] [--only CMD]`: starts
//! the real pinwheel binary on a scratch copy of a tree, kills it with
//! SIGKILL at a seeded random moment, and checks that every file it
//! manages is exactly the old or exactly the new version (computed
//! beforehand by complete runs on other copies), that nothing is missing,
//! that no partial file sits under a final name, and that the next run
//! succeeds and leaves the new state. Commands: update-deps,
//! refresh-index, sign and sync-wheels, each as it exists in this binary.

pub mod state;
mod sync_wheels;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::bench::inputs;
use crate::rng::Rng;
use pinwheel_trust::hash::Sha256;

use self::state::{check, snapshot, Snapshot};

/// The commands fault injection knows, in order.
pub const COMMANDS: [&str; 4] = ["update-deps", "refresh-index", "sign", "sync-wheels"];

/// How long one command's kills may take before the run stops early.
const BUDGET: Duration = Duration::from_secs(20);

/// Fills a scratch tree.
type Setup = Box<dyn Fn(&Path) -> anyhow::Result<()>>;
/// The arguments (after the binary) of a run in a tree.
type Args = Box<dyn Fn(&Path) -> Vec<OsString>>;
/// Whether new content at a path of a tree is acceptable.
type AcceptNew = Box<dyn Fn(&Path, &Path, &Sha256) -> bool>;

/// One command's setting: how to build the old tree and how to run it.
struct Scenario {
    command: &'static str,
    /// Fills an empty directory with the tree before the command runs.
    setup: Setup,
    /// The arguments of a run in the tree.
    args: Args,
    /// New content that may differ between complete runs (by path).
    accept_new: AcceptNew,
    /// The run after a kill, when it is not simply the same command again.
    recover: Option<Args>,
}

/// What happened to one command.
#[derive(Debug, Clone, Default)]
pub struct CommandResult {
    pub command: String,
    /// Why it was not run, when it was not.
    pub skipped: Option<String>,
    pub kills: usize,
    /// Runs that finished before their kill moment (not counted as kills).
    pub finished_first: usize,
    /// Kills that left some file in its new version (the kill hit after writing began).
    pub mid_write: usize,
    pub violations: Vec<String>,
    pub leftovers: usize,
    pub recovery_failures: Vec<String>,
    /// The duration of one complete run.
    pub full_run: Duration,
}

/// The whole run.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub seed: u64,
    pub commands: Vec<CommandResult>,
}

impl Summary {
    pub fn kills(&self) -> usize {
        self.commands.iter().map(|c| c.kills).sum()
    }

    pub fn violations(&self) -> usize {
        self.commands
            .iter()
            .map(|c| c.violations.len() + c.recovery_failures.len())
            .sum()
    }

    /// The table BENCHMARKS.md and stdout show.
    pub fn markdown(&self) -> String {
        let mut out = String::from(
            "| Command | Kills | Finished before the kill | Killed mid-write | Violations | Temp files left by kills | Next run | One complete run |\n|---|---:|---:|---:|---:|---:|---|---:|\n",
        );
        for c in &self.commands {
            match &c.skipped {
                Some(why) => out.push_str(&format!(
                    "| {} | 0 | | | | | not run: {why} | |\n",
                    c.command
                )),
                None => out.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
                    c.command,
                    c.kills,
                    c.finished_first,
                    c.mid_write,
                    c.violations.len(),
                    c.leftovers,
                    if c.recovery_failures.is_empty() {
                        "succeeded every time, leaving the new state".to_owned()
                    } else {
                        format!("{} failure(s)", c.recovery_failures.len())
                    },
                    crate::bench::report::fmt_duration(c.full_run)
                )),
            }
        }
        out.push_str(&format!(
            "\nTotal: {} kills, {} violations (seed {}).\n",
            self.kills(),
            self.violations(),
            self.seed
        ));
        for c in &self.commands {
            for v in c.violations.iter().chain(&c.recovery_failures).take(10) {
                out.push_str(&format!("- {}: {v}\n", c.command));
            }
        }
        out
    }
}

/// Runs `runs` kills for each available command (all of [`COMMANDS`], or
/// those in `only`) with scratch trees under `work`.
pub fn run_all(
    exe: &Path,
    work: &Path,
    runs: usize,
    seed: u64,
    only: &[String],
) -> anyhow::Result<Summary> {
    for name in only {
        if !COMMANDS.contains(&name.as_str()) {
            bail!(
                "unknown command {name:?} for fault injection; choose from {}",
                COMMANDS.join(", ")
            );
        }
    }
    if work.exists() {
        fs_err::remove_dir_all(work)?;
    }
    fs_err::create_dir_all(work)?;
    let mut summary = Summary {
        seed,
        commands: Vec::new(),
    };
    for (i, command) in COMMANDS.into_iter().enumerate() {
        if !only.is_empty() && !only.iter().any(|o| o == command) {
            continue;
        }
        let result = if !has_command(exe, command) {
            CommandResult {
                command: command.to_owned(),
                skipped: Some(format!("this xtask binary has no `{command}` command")),
                ..Default::default()
            }
        } else {
            match scenario(command, exe)
                .with_context(|| format!("setting up fault injection of {command}"))?
            {
                Some(scenario) => {
                    eprintln!("fault-inject: {command}");
                    inject(
                        exe,
                        &work.join(command),
                        &scenario,
                        runs,
                        seed.wrapping_add(i as u64),
                    )
                    .with_context(|| format!("fault injection of {command}"))?
                }
                None => CommandResult {
                    command: command.to_owned(),
                    skipped: Some("the fault injector does not drive it yet".to_owned()),
                    ..Default::default()
                },
            }
        };
        summary.commands.push(result);
    }
    Ok(summary)
}

fn has_command(exe: &Path, name: &str) -> bool {
    duct::cmd!(exe, name, "--help")
        .stdout_null()
        .stderr_null()
        .unchecked()
        .run()
        .is_ok_and(|o| o.status.success())
}

fn scenario(command: &str, exe: &Path) -> anyhow::Result<Option<Scenario>> {
    Ok(match command {
        "refresh-index" => Some(Scenario {
            command: "refresh-index",
            setup: Box::new(|dir| {
                copy_config(dir)?;
                // A consistent old index of 40 files, then 80 more arrive.
                let index = dir.join("wheels-index");
                let generated = xtask::fresh::parent_dir(dir).join("generated");
                let first = inputs::wheel_index(&generated.join("first"), 40, 256, 11)?;
                let more = inputs::wheel_index(&generated.join("more"), 120, 256, 11)?;
                for f in &first {
                    copy_file(&generated.join("first").join(&f.path), &index.join(&f.path))?;
                }
                let exe = crate::xtask_binary()?;
                run_to_end(&exe, dir, &refresh_args(dir))?;
                for f in &more {
                    let to = index.join(&f.path);
                    if !to.exists() {
                        copy_file(&generated.join("more").join(&f.path), &to)?;
                    }
                }
                Ok(())
            }),
            args: Box::new(refresh_args),
            accept_new: Box::new(|_, _, _| false),
            recover: None,
        }),
        "update-deps" => Some(Scenario {
            command: "update-deps",
            setup: Box::new(|dir| {
                // Four applications locked once (their requirements written),
                // then re-locked to other versions and hashes.
                write_apps_config(dir, APPS)?;
                for app in 0..APPS {
                    write_lock(dir, app, 100 + app as u64)?;
                }
                let exe = crate::xtask_binary()?;
                run_to_end(&exe, dir, &update_deps_args(dir))?;
                for app in 0..APPS {
                    write_lock(dir, app, 200 + app as u64)?;
                }
                Ok(())
            }),
            args: Box::new(update_deps_args),
            accept_new: Box::new(|_, _, _| false),
            recover: None,
        }),
        "sign" => Some(Scenario {
            command: "sign",
            setup: Box::new(|dir| {
                // A refreshed index whose list is not signed yet, the
                // configuration pinning the demo key, and that key.
                copy_config(dir)?;
                let root = repo_root()?;
                for entry in fs_err::read_dir(root.join("packaging/keys"))? {
                    let path = entry?.path();
                    if path.is_file() {
                        copy_file(
                            &path,
                            &dir.join("packaging/keys")
                                .join(path.file_name().unwrap_or_default()),
                        )?;
                    }
                }
                copy_file(&root.join(DEMO_SECRET), &dir.join("signing-key.asc"))?;
                let generated = xtask::fresh::parent_dir(dir).join("generated");
                let files = inputs::wheel_index(&generated, 40, 256, 12)?;
                for f in &files {
                    copy_file(
                        &generated.join(&f.path),
                        &dir.join("wheels-index").join(&f.path),
                    )?;
                }
                let exe = crate::xtask_binary()?;
                run_to_end(&exe, dir, &refresh_args(dir))?;
                Ok(())
            }),
            args: Box::new(|dir| {
                vec![
                    "--root".into(),
                    dir.into(),
                    "sign".into(),
                    "--key".into(),
                    dir.join("signing-key.asc").into(),
                ]
            }),
            accept_new: Box::new(accept_new_signature),
            // A kill after the signature was written leaves a signed list,
            // which `sign` rightly refuses to sign twice: then `verify` is
            // the next run that must succeed.
            recover: Some(Box::new(|dir| {
                let signed = accept_new_signature(
                    dir,
                    Path::new("wheels-index/sha256sums.txt.asc"),
                    &Sha256([0; 32]),
                );
                if signed {
                    vec!["--root".into(), dir.into(), "verify".into()]
                } else {
                    vec![
                        "--root".into(),
                        dir.into(),
                        "sign".into(),
                        "--key".into(),
                        dir.join("signing-key.asc").into(),
                    ]
                }
            })),
        }),
        "sync-wheels" => Some(sync_wheels::scenario(exe)?),
        _ => None,
    })
}

/// The demonstration maintainer key's secret (checked in, DEMO ONLY).
const DEMO_SECRET: &str = "packaging/keys/DEMO-ONLY-secret/demo-maintainer.secret.asc";

fn repo_root() -> anyhow::Result<PathBuf> {
    Ok(crate::source_root())
}

/// A signed list's new content differs from run to run (expiry and
/// signature time): accept a list with a version of at least 1, and a
/// signature that `verify-signature` accepts over the tree's list (against
/// the pinned keys).
fn accept_new_signature(dir: &Path, path: &Path, _: &Sha256) -> bool {
    let list = dir.join("wheels-index/sha256sums.txt");
    if path == Path::new("wheels-index/sha256sums.txt") {
        let Ok(bytes) = fs_err::read(&list) else {
            return false;
        };
        return pinwheel_trust::sha256sums::SignedList::parse(&bytes)
            .is_ok_and(|l| l.meta.version >= 1);
    }
    if path == Path::new("wheels-index/sha256sums.txt.asc") {
        let Ok(exe) = crate::xtask_binary() else {
            return false;
        };
        let keys = dir.join("packaging/keys");
        return duct::cmd!(
            exe,
            "verify-signature",
            "--keys",
            keys,
            &list,
            dir.join("wheels-index/sha256sums.txt.asc")
        )
        .stdout_null()
        .stderr_null()
        .unchecked()
        .run()
        .is_ok_and(|o| o.status.success());
    }
    false
}

/// Applications in the update-deps scenario, and packages in each lock.
const APPS: usize = 4;
const LOCKED_PACKAGES: usize = 300;

fn update_deps_args(dir: &Path) -> Vec<OsString> {
    vec!["--root".into(), dir.into(), "update-deps".into()]
}

/// The repository's configuration with `[apps]` replaced by `app-0` …
fn write_apps_config(dir: &Path, apps: usize) -> anyhow::Result<()> {
    let source = crate::source_root().join(xtask::config::CONFIG_PATH);
    let mut doc: toml_edit::DocumentMut = fs_err::read_to_string(&source)?
        .parse()
        .with_context(|| format!("{}: parsing", source.display()))?;
    let mut table = toml_edit::Table::new();
    table.set_implicit(true);
    for app in 0..apps {
        let mut t = toml_edit::Table::new();
        t["dir"] = toml_edit::value(format!("packaging/app-{app}"));
        t["pyproject"] = toml_edit::value(format!("packaging/app-{app}/pyproject.toml"));
        t["lock"] = toml_edit::value(format!("packaging/app-{app}/uv.lock"));
        table.insert(&format!("app-{app}"), toml_edit::Item::Table(t));
    }
    doc["apps"] = toml_edit::Item::Table(table);
    let path = dir.join(xtask::config::CONFIG_PATH);
    fs_err::create_dir_all(xtask::fresh::parent_dir(&path))?;
    fs_err::write(&path, doc.to_string())?;
    Ok(())
}

fn write_lock(dir: &Path, app: usize, seed: u64) -> anyhow::Result<()> {
    let lock = crate::synthetic_lock::generate(LOCKED_PACKAGES, seed);
    let app_dir = dir.join(format!("packaging/app-{app}"));
    fs_err::create_dir_all(&app_dir)?;
    fs_err::write(app_dir.join("pyproject.toml"), &lock.pyproject)?;
    fs_err::write(app_dir.join("uv.lock"), &lock.uv_lock)?;
    Ok(())
}

fn refresh_args(dir: &Path) -> Vec<OsString> {
    vec!["--root".into(), dir.into(), "refresh-index".into()]
}

/// The repository's configuration, copied into a scratch tree.
fn copy_config(dir: &Path) -> anyhow::Result<()> {
    let root = repo_root()?;
    copy_file(
        &root.join(xtask::config::CONFIG_PATH),
        &dir.join(xtask::config::CONFIG_PATH),
    )
}

fn copy_file(from: &Path, to: &Path) -> anyhow::Result<()> {
    if let Some(parent) = to.parent() {
        fs_err::create_dir_all(parent)?;
    }
    fs_err::copy(from, to)?;
    Ok(())
}

/// Copies a tree (regular files, directories and symlinks).
pub fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    fs_err::create_dir_all(to)?;
    for entry in fs_err::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let meta = fs_err::symlink_metadata(&src)?;
        if meta.is_dir() {
            copy_tree(&src, &dst)?;
        } else if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(fs_err::read_link(&src)?, &dst)
                .with_context(|| format!("{}: symlink", dst.display()))?;
        } else {
            fs_err::copy(&src, &dst)?;
        }
    }
    Ok(())
}

fn run_to_end(exe: &Path, dir: &Path, args: &[OsString]) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let out = duct::cmd(exe, args)
        .dir(dir)
        .stdout_null()
        .stderr_capture()
        .unchecked()
        .run()
        .with_context(|| format!("running {}", exe.display()))?;
    if !out.status.success() {
        bail!(
            "{} {} failed: {}",
            exe.display(),
            args.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            crate::bench::measure::last_line(&out.stderr)
        );
    }
    Ok(start.elapsed())
}

/// Not managed outputs: the repository lock file, and `.pinwheel/` (the
/// last trusted list version, which `verify` raises when a recovery run
/// verifies).
fn ignore(path: &Path) -> bool {
    path == Path::new(".pinwheel.lock") || path.starts_with(".pinwheel")
}

fn inject(
    exe: &Path,
    work: &Path,
    scenario: &Scenario,
    runs: usize,
    seed: u64,
) -> anyhow::Result<CommandResult> {
    let mut result = CommandResult {
        command: scenario.command.to_owned(),
        ..Default::default()
    };
    let template = work.join("template");
    fs_err::create_dir_all(&template)?;
    (scenario.setup)(&template)?;
    let old = snapshot(&template, &ignore)?;

    // The new state, twice: the command's output must not depend on the run.
    let mut news: Vec<Snapshot> = Vec::new();
    let mut full = Duration::MAX;
    for k in 0..2 {
        let dir = work.join(format!("complete-{k}"));
        copy_tree(&template, &dir)?;
        // The shorter run: kill moments past it would mostly miss.
        full = full.min(run_to_end(exe, &dir, &(scenario.args)(&dir))?);
        news.push(snapshot(&dir, &ignore)?);
    }
    let new = news.swap_remove(0);
    let other = &news[0];
    let differing: Vec<&PathBuf> = new
        .iter()
        .filter(|(p, d)| {
            other.get(*p) != Some(*d)
                && !(scenario.accept_new)(&work.join("complete-1"), p, &other[*p])
        })
        .map(|(p, _)| p)
        .collect();
    if !differing.is_empty() {
        result
            .violations
            .push(format!("two complete runs disagree on {differing:?}"));
    }
    if new == old {
        bail!(
            "a complete run of {} changed nothing; the scenario tests nothing",
            scenario.command
        );
    }
    result.full_run = full;

    let mut rng = Rng::new(seed);
    let started = Instant::now();
    let mut attempts = 0;
    while result.kills < runs && attempts < runs * 4 && started.elapsed() < BUDGET {
        attempts += 1;
        let dir = work.join("run");
        if dir.exists() {
            fs_err::remove_dir_all(&dir)?;
        }
        copy_tree(&template, &dir)?;
        let delay = Duration::from_micros(rng.below(full.as_micros().max(1) as u64));
        let handle = duct::cmd(exe, (scenario.args)(&dir))
            .dir(&dir)
            .stdout_null()
            .stderr_null()
            .unchecked()
            .start()
            .with_context(|| format!("starting {}", exe.display()))?;
        let finished = handle.wait_timeout(delay)?.is_some();
        if finished {
            result.finished_first += 1;
        } else {
            handle.kill()?;
            let status = handle.wait()?.status;
            use std::os::unix::process::ExitStatusExt;
            if status.signal() == Some(9) {
                result.kills += 1;
            } else {
                result.finished_first += 1;
            }
        }
        let after = snapshot(&dir, &ignore)?;
        let accept = |p: &Path, d: &Sha256| (scenario.accept_new)(&dir, p, d);
        let found = check(&old, &new, &after, &accept);
        if found.updated > 0 && !finished {
            result.mid_write += 1;
        }
        result.leftovers += found.leftovers.len();
        result.violations.extend(
            found
                .violations
                .iter()
                .map(|v| format!("kill after {} µs: {v}", delay.as_micros())),
        );
        // The next run must succeed and leave the new state (temporary
        // files a kill left may remain; they are counted above).
        let next = match &scenario.recover {
            Some(recover) => recover(&dir),
            None => (scenario.args)(&dir),
        };
        match run_to_end(exe, &dir, &next) {
            Ok(_) => {
                let recovered = snapshot(&dir, &ignore)?;
                let final_check = check(&new, &new, &recovered, &accept);
                for v in final_check.violations {
                    result
                        .recovery_failures
                        .push(format!("after the next run: {v}"));
                }
            }
            Err(err) => result.recovery_failures.push(format!(
                "next run after a kill at {} µs: {err:#}",
                delay.as_micros()
            )),
        }
    }
    Ok(result)
}

/// Options of `cargo xtask fault-inject`.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Kills per command.
    #[arg(long, default_value_t = 17)]
    pub runs: usize,
    /// Seed of the kill moments.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Only this command (repeatable).
    #[arg(long, value_name = "COMMAND")]
    pub only: Vec<String>,
}

/// `cargo xtask fault-inject`: prints the table and fails on any violation.
pub fn run(root: &Path, options: &Options) -> anyhow::Result<()> {
    let exe = crate::xtask_binary()?;
    let summary = run_all(
        &exe,
        &root.join("target/fault-inject"),
        options.runs,
        options.seed,
        &options.only,
    )?;
    print!("{}", summary.markdown());
    if summary.violations() > 0 {
        return Err(pinwheel_trust::failure::verification_failed(format!(
            "fault injection found {} violation(s)",
            summary.violations()
        )));
    }
    Ok(())
}
