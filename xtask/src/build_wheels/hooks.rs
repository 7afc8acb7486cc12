//! Calling a source tree's PEP 517 hooks through our runner
//! (`packaging/pep517_runner.py`, standard library only) with the target
//! interpreter, in the clean environment of `env.rs`, under network
//! isolation. Everything the backend prints goes to a log file; when a hook
//! fails the end of the log is shown and the error names the full log.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{bail, Context};

use super::env::Isolation;

/// Where the runner lives, relative to the repository root.
pub const RUNNER: &str = "packaging/pep517_runner.py";

/// How many lines of a failed build's log are shown.
const LOG_TAIL: usize = 60;

/// The hook runner, bound to an interpreter and an isolation.
pub struct Hooks<'a> {
    /// The interpreter: the target's (bootstrap builds) or the build venv's.
    pub python: PathBuf,
    pub runner: PathBuf,
    pub isolation: &'a Isolation<'a>,
    /// Set by SIGINT/SIGTERM: a running backend is killed.
    pub interrupted: &'a AtomicBool,
}

impl Hooks<'_> {
    /// `get_requires_for_build_wheel()` of the tree at `source`.
    pub fn get_requires(
        &self,
        label: &str,
        source: &Path,
        env: &BTreeMap<String, String>,
        log: &Path,
    ) -> anyhow::Result<Vec<String>> {
        let result = log.with_extension("requires.json");
        self.run(
            label,
            vec!["get-requires".into(), path_arg(source), path_arg(&result)],
            source,
            env,
            log,
        )?;
        let text = fs_err::read_to_string(&result)?;
        serde_json::from_str(&text)
            .with_context(|| format!("{}: not a JSON list of strings", result.display()))
    }

    /// `build_wheel()` of the tree at `source` into `out_dir`; the wheel's
    /// path.
    pub fn build_wheel(
        &self,
        label: &str,
        source: &Path,
        out_dir: &Path,
        env: &BTreeMap<String, String>,
        log: &Path,
    ) -> anyhow::Result<PathBuf> {
        let result = log.with_extension("wheel.json");
        let args = vec![
            "build-wheel".into(),
            path_arg(source),
            path_arg(out_dir),
            path_arg(&result),
        ];
        self.run(label, args, source, env, log)?;
        #[derive(serde::Deserialize)]
        struct Built {
            wheel: String,
        }
        let text = fs_err::read_to_string(&result)?;
        let built: Built = serde_json::from_str(&text)
            .with_context(|| format!("{}: not the runner's result", result.display()))?;
        if built.wheel.contains('/') || !built.wheel.ends_with(".whl") {
            bail!(
                "{label}: the backend reported {:?}, which is not a wheel file name",
                built.wheel
            );
        }
        Ok(out_dir.join(built.wheel))
    }

    fn run(
        &self,
        label: &str,
        args: Vec<String>,
        source: &Path,
        env: &BTreeMap<String, String>,
        log: &Path,
    ) -> anyhow::Result<()> {
        let what = args[0].clone();
        let mut all = vec![path_arg(&self.runner)];
        all.extend(args);
        let (program, all) = self.isolation.command(&self.python, all);
        let mut file = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        std::io::Write::write_all(
            &mut file,
            format!("$ {program} {}\n", all.join(" ")).as_bytes(),
        )?;
        let handle = duct::cmd(&program, &all)
            .dir(source)
            .full_env(env)
            .stdin_null()
            .stderr_to_stdout()
            .stdout_file(file.into_parts().0)
            .unchecked()
            .start()
            .with_context(|| format!("{label}: cannot start {program}"))?;
        let output = loop {
            if self.interrupted.load(Ordering::SeqCst) {
                let _ = handle.kill();
                bail!("{label}: interrupted");
            }
            if let Some(output) = handle.wait_timeout(Duration::from_millis(50))? {
                break output;
            }
        };
        if !output.status.success() {
            show_log_tail(label, log);
            let why = match output.status.code() {
                Some(2) => "the runner refused the tree",
                Some(_) => "the build backend failed",
                None => "the build was killed",
            };
            bail!(
                "{label}: {what}: {why} ({}); full log: {}",
                output.status,
                log.display()
            );
        }
        Ok(())
    }
}

fn path_arg(path: &Path) -> String {
    path.display().to_string()
}

/// Prints the last lines of a build log to stderr.
fn show_log_tail(label: &str, log: &Path) {
    let lines: Vec<String> = match fs_err::File::open(log) {
        Ok(file) => BufReader::new(file).lines().map_while(Result::ok).collect(),
        Err(_) => return,
    };
    let start = lines.len().saturating_sub(LOG_TAIL);
    eprintln!(
        "---- build log of {label} (last {} lines of {}) ----",
        lines.len() - start,
        log.display()
    );
    for line in &lines[start..] {
        eprintln!("{line}");
    }
    eprintln!("---- end of build log of {label} ----");
}
