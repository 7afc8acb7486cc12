//! `cargo xtask fault-inject [--runs N] [--seed S] [--only CMD]`: starts
//! the real pinwheel binary on a scratch copy of a tree, kills it with
//! SIGKILL at a seeded random moment, and checks that every file it
//! manages is exactly the old or exactly the new version (computed
//! beforehand by complete runs on other copies), that nothing is missing,
//! that no partial file sits under a final name, and that the next run
//! succeeds and leaves the new state. Commands: update-deps,
//! refresh-index, sign and sync-wheels, each as it exists in this binary.

pub mod state;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::bench::inputs;
use crate::hash::Sha256;
use crate::rng::Rng;

use self::state::{check, snapshot, Snapshot};

/// The commands fault injection knows, in order.
pub const COMMANDS: [&str; 4] = ["update-deps", "refresh-index", "sign", "sync-wheels"];

/// How long one command's kills may take before the run stops early.
const BUDGET: Duration = Duration::from_secs(60);

/// One command's setting: how to build the old tree and how to run it.
struct Scenario {
    command: &'static str,
    /// Fills an empty directory with the tree before the command runs.
    setup: Box<dyn Fn(&Path) -> anyhow::Result<()>>,
    /// The arguments (after the binary) of a run in the tree.
    args: Box<dyn Fn(&Path) -> Vec<OsString>>,
    /// New content that may differ between complete runs (by path).
    accept_new: Box<dyn Fn(&Path, &Path, &Sha256) -> bool>,
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
            "| Command | Kills | Finished before the kill | Killed mid-write | Violations | Temp files left by kills | Next run |\n|---|---:|---:|---:|---:|---:|---|\n",
        );
        for c in &self.commands {
            match &c.skipped {
                Some(why) => {
                    out.push_str(&format!("| {} | 0 | | | | | not run: {why} |\n", c.command))
                }
                None => out.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} | {} |\n",
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
                    }
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
                skipped: Some(format!("`cargo xtask {command}` is not on this branch yet")),
                ..Default::default()
            }
        } else {
            match scenario(command, exe) {
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

fn scenario(command: &str, _exe: &Path) -> Option<Scenario> {
    match command {
        "refresh-index" => Some(Scenario {
            command: "refresh-index",
            setup: Box::new(|dir| {
                copy_config(dir)?;
                // A consistent old index of 600 files, then 600 more arrive.
                let index = dir.join("wheels-index");
                let generated = crate::fresh::parent_dir(dir).join("generated");
                let first = inputs::wheel_index(&generated.join("first"), 600, 256, 11)?;
                let more = inputs::wheel_index(&generated.join("more"), 1200, 256, 11)?;
                for f in &first {
                    copy_file(&generated.join("first").join(&f.path), &index.join(&f.path))?;
                }
                let exe = std::env::current_exe()?;
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
        }),
        _ => None,
    }
}

fn refresh_args(dir: &Path) -> Vec<OsString> {
    vec!["--root".into(), dir.into(), "refresh-index".into()]
}

/// The repository's configuration, copied into a scratch tree.
fn copy_config(dir: &Path) -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask has no parent directory")?;
    copy_file(
        &root.join(crate::config::CONFIG_PATH),
        &dir.join(crate::config::CONFIG_PATH),
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

fn ignore(path: &Path) -> bool {
    path == Path::new(".pinwheel.lock")
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
    let mut full = Duration::ZERO;
    for k in 0..2 {
        let dir = work.join(format!("complete-{k}"));
        copy_tree(&template, &dir)?;
        full = full.max(run_to_end(exe, &dir, &(scenario.args)(&dir))?);
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
        match run_to_end(exe, &dir, &(scenario.args)(&dir)) {
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

/// `cargo xtask fault-inject`: prints the table and fails on any violation.
pub fn run(root: &Path, runs: usize, seed: u64, only: &[String]) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("locating the xtask binary")?;
    let summary = run_all(&exe, &root.join("target/fault-inject"), runs, seed, only)?;
    print!("{}", summary.markdown());
    if summary.violations() > 0 {
        return Err(crate::failure::verification_failed(format!(
            "fault injection found {} violation(s)",
            summary.violations()
        )));
    }
    Ok(())
}
