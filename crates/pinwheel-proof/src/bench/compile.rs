//! Bench: time to the first command. A fresh clone of the repository's
//! `HEAD` (crates already downloaded: cargo runs offline) into an empty
//! target directory, then `cargo xtask --help` — what a new contributor
//! waits for before anything runs; then the same after one command
//! module's message changes (an incremental rebuild), three times. Wall
//! time, and the CPU time of cargo and every compiler it started
//! (`getrusage` of the children), which the machine's load does not
//! inflate.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::report::{fmt_duration, Body, Section, Target};
use super::{goals, Ctx, Measured};

/// The module whose message the incremental rebuild changes.
const TOUCHED: &str = "xtask/src/verify_signature.rs";
const MESSAGE: &str = "good signature(s) from";

pub fn measure(ctx: &Ctx) -> anyhow::Result<Measured> {
    let title = "Time to the first command";
    let intro = format!(
        "A fresh clone of `HEAD` into `target/bench/first-command/`, an empty target directory, \
         crates already downloaded (`CARGO_NET_OFFLINE=true`): `cargo xtask --help`, then three \
         rebuilds after a message in `{TOUCHED}` changes. CPU is user + system time of cargo and \
         the compilers it started."
    );
    let dir = ctx.work.join("first-command");
    if dir.exists() {
        fs_err::remove_dir_all(&dir)?;
    }
    fs_err::create_dir_all(&dir)?;
    let clone = dir.join("clone");
    duct::cmd!("git", "clone", "--quiet", &ctx.root, &clone)
        .run()
        .context("cloning the repository for the first-command bench")?;
    let target = dir.join("target");

    let first = cargo_help(&clone, &target)?;
    let mut rebuilds = Vec::new();
    for i in 1..=3 {
        let path = clone.join(TOUCHED);
        let text = fs_err::read_to_string(&path)?;
        anyhow::ensure!(
            text.contains(MESSAGE),
            "{TOUCHED} no longer says {MESSAGE:?}"
        );
        fs_err::write(
            &path,
            text.replacen(MESSAGE, &format!("{MESSAGE} ({i})"), 1),
        )?;
        rebuilds.push(cargo_help(&clone, &target)?);
        fs_err::write(&path, text)?;
    }
    fs_err::remove_dir_all(&dir)?;

    let mut walls: Vec<Duration> = rebuilds.iter().map(|r| r.wall).collect();
    walls.sort();
    let median = walls[walls.len() / 2];
    let mut table = String::from("| build | wall | CPU (user + system) |\n| --- | --- | --- |\n");
    table.push_str(&format!(
        "| fresh clone, empty target directory | {} | {} |\n",
        fmt_duration(first.wall),
        fmt_duration(first.cpu)
    ));
    for (i, r) in rebuilds.iter().enumerate() {
        table.push_str(&format!(
            "| rebuild {} after changing `{TOUCHED}` | {} | {} |\n",
            i + 1,
            fmt_duration(r.wall),
            fmt_duration(r.cpu)
        ));
    }
    let targets = vec![
        Target::measured(
            goals::FIRST_COMMAND,
            format!("{} (CPU {})", fmt_duration(first.wall), fmt_duration(first.cpu)),
            first.wall <= Duration::from_secs(240),
            "see the slowest units of `cargo build -p xtask --timings`: optimize fewer crates, or move more dependencies out of the xtask crate's graph".to_owned(),
        ),
        Target::measured(
            goals::REBUILD,
            format!("median {}", fmt_duration(median)),
            median <= Duration::from_secs(20),
            "keep the xtask crate at opt-level 0 with incremental compilation; split the command module that rebuilds slowly".to_owned(),
        ),
    ];
    Ok(Measured {
        section: Section {
            title: title.to_owned(),
            intro,
            body: Body::Markdown(table),
            notes: targets.iter().map(Target::note).collect(),
        },
        panel: None,
        targets,
    })
}

struct Build {
    wall: Duration,
    cpu: Duration,
}

/// `cargo xtask --help` in `clone` with `target` as the target directory.
fn cargo_help(clone: &Path, target: &Path) -> anyhow::Result<Build> {
    let cpu_before = children_cpu();
    let start = Instant::now();
    duct::cmd!("cargo", "xtask", "--help")
        .dir(clone)
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_NET_OFFLINE", "true")
        .env_remove("RUSTFLAGS")
        .stdout_null()
        .stderr_capture()
        .run()
        .with_context(|| format!("cargo xtask --help in {}", clone.display()))?;
    Ok(Build {
        wall: start.elapsed(),
        cpu: children_cpu().saturating_sub(cpu_before),
    })
}

/// User + system time of every waited-for child process so far.
fn children_cpu() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a `rusage` into the pointer it is given.
    let ok = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) } == 0;
    if !ok {
        return Duration::ZERO;
    }
    // SAFETY: initialized by the successful call above.
    let usage = unsafe { usage.assume_init() };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}
