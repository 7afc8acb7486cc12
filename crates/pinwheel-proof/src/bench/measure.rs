//! Timing: each side of a comparison is a sequence of child processes
//! (duct expressions); `alternate` runs every side once as a warm-up, then
//! A B A B … so that a noisy neighbour hurts every side alike, and records
//! the wall time of each run (`Instant` around the children).
//! `alternate_streamed` does the same for commands whose output a person
//! reads: it also stamps the first byte the last step writes on stdout.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Untimed preparation before each run (e.g. removing generated files so
/// that every run starts from scratch).
pub type Reset = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// One tool's way of doing the job: one or more commands run in sequence
/// (e.g. `gpg --verify` then `sha256sum -c`), timed together.
#[derive(Clone)]
pub struct Side {
    pub label: String,
    pub steps: Vec<duct::Expression>,
    pub reset: Option<Reset>,
    /// Exit codes that mean success for every step (`diff` exits 1 when
    /// the files differ).
    pub success: Vec<i32>,
}

impl Side {
    pub fn new(label: impl Into<String>, steps: Vec<duct::Expression>) -> Side {
        Side {
            label: label.into(),
            steps,
            reset: None,
            success: vec![0],
        }
    }

    /// The same side, taking these exit codes as success.
    pub fn with_success(mut self, codes: &[i32]) -> Side {
        self.success = codes.to_vec();
        self
    }

    fn failed(&self, step: &duct::Expression, output: &std::process::Output) -> Option<String> {
        let code = output.status.code();
        if code.is_some_and(|c| self.success.contains(&c)) {
            return None;
        }
        Some(format!(
            "{} exited with {}: {}",
            describe(step),
            code.map_or("a signal".to_owned(), |c| c.to_string()),
            last_line(&output.stderr)
        ))
    }

    /// The same side with an untimed reset before every run.
    pub fn with_reset(mut self, reset: Reset) -> Side {
        self.reset = Some(reset);
        self
    }

    /// Runs every step once and returns the wall time, or a one-line reason
    /// naming the step that failed.
    pub fn run_once(&self) -> Result<Duration, String> {
        if let Some(reset) = &self.reset {
            reset()?;
        }
        let start = Instant::now();
        for step in &self.steps {
            let out = step
                .stdout_null()
                .stderr_capture()
                .unchecked()
                .run()
                .map_err(|err| format!("{step:?}: {err}"))?;
            if let Some(reason) = self.failed(step, &out) {
                return Err(reason);
            }
        }
        Ok(start.elapsed())
    }

    /// Runs every step once, reading the last one's stdout as it comes:
    /// the time from the start of the first step to the first byte on
    /// that pipe, and to the end of the last step.
    pub fn run_streamed(&self) -> Result<Streamed, String> {
        if let Some(reset) = &self.reset {
            reset()?;
        }
        let Some((last, before)) = self.steps.split_last() else {
            return Err(format!("{}: no steps", self.label));
        };
        let start = Instant::now();
        for step in before {
            let out = step
                .stdout_null()
                .stderr_capture()
                .unchecked()
                .run()
                .map_err(|err| format!("{step:?}: {err}"))?;
            if let Some(reason) = self.failed(step, &out) {
                return Err(reason);
            }
        }
        let mut reader = last
            .stderr_capture()
            .unchecked()
            .reader()
            .map_err(|err| format!("{last:?}: {err}"))?;
        let mut buf = vec![0u8; 64 << 10];
        let mut first_byte = None;
        let mut bytes = 0u64;
        loop {
            let n = reader
                .read(&mut buf)
                .map_err(|err| format!("reading the output of {}: {err}", describe(last)))?;
            if n == 0 {
                break;
            }
            first_byte.get_or_insert_with(|| start.elapsed());
            bytes += n as u64;
        }
        let total = start.elapsed();
        let out = reader
            .try_wait()
            .map_err(|err| format!("{last:?}: {err}"))?
            .ok_or_else(|| format!("{} did not exit at the end of its output", describe(last)))?;
        if let Some(reason) = self.failed(last, out) {
            return Err(reason);
        }
        Ok(Streamed {
            first_byte,
            total,
            bytes,
        })
    }
}

/// One run of a side whose output a person reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streamed {
    /// From the start to the first byte on stdout; `None` for no output.
    pub first_byte: Option<Duration>,
    /// From the start to the end of the last step.
    pub total: Duration,
    /// How many bytes the last step wrote on stdout.
    pub bytes: u64,
}

impl Side {
    /// Runs once; returns the wall time and the CPU time of the processes
    /// it ran.
    pub fn run_with_cpu(&self) -> Result<(Duration, Cpu), String> {
        let cpu = || children_cpu().ok_or_else(|| "/proc/self/stat is unreadable".to_owned());
        let before = cpu()?;
        let wall = self.run_once()?;
        let after = cpu()?;
        Ok((
            wall,
            Cpu {
                user: after.user.saturating_sub(before.user),
                system: after.system.saturating_sub(before.system),
            },
        ))
    }
}

/// CPU time, in user space and in the kernel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cpu {
    pub user: Duration,
    pub system: Duration,
}

impl Cpu {
    pub fn total(&self) -> Duration {
        self.user + self.system
    }
}

/// CPU time of every child process this process has waited for so far:
/// `cutime` and `cstime` of /proc/self/stat.
pub fn children_cpu() -> Option<Cpu> {
    parse_children_cpu(&fs_err::read_to_string("/proc/self/stat").ok()?)
}

/// `cutime` and `cstime` (fields 16 and 17, in the kernel's USER_HZ ticks
/// of 1/100 s) of a /proc/PID/stat line.
pub fn parse_children_cpu(stat: &str) -> Option<Cpu> {
    // The command name (field 2) may hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (the state).
    let cutime: u64 = fields.get(13)?.parse().ok()?;
    let cstime: u64 = fields.get(14)?.parse().ok()?;
    Some(Cpu {
        user: Duration::from_millis(cutime * 10),
        system: Duration::from_millis(cstime * 10),
    })
}

/// The load average over 1, 5 and 15 minutes (/proc/loadavg).
pub fn load_average() -> Option<String> {
    let text = fs_err::read_to_string("/proc/loadavg").ok()?;
    let fields: Vec<&str> = text.split_whitespace().take(3).collect();
    (fields.len() == 3).then(|| fields.join(" "))
}

/// What one side produced: its run times, or why it could not run.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Measured(Stats),
    Failed(String),
}

/// Summary of a side's run times.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    pub runs: usize,
    pub median: Duration,
    pub min: Duration,
    pub max: Duration,
}

impl Stats {
    /// Median (mean of the middle two for an even count), min and max.
    /// `None` for no samples.
    pub fn of(samples: &[Duration]) -> Option<Stats> {
        let mut sorted = samples.to_vec();
        sorted.sort();
        let n = sorted.len();
        let median = match n {
            0 => return None,
            _ if n % 2 == 1 => sorted[n / 2],
            _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
        };
        Some(Stats {
            runs: n,
            median,
            min: sorted[0],
            max: sorted[n - 1],
        })
    }
}

/// A warm-up round slower than this limits the timed rounds to
/// [`SLOW_REPS`].
pub const SLOW_ROUND: Duration = Duration::from_secs(5);
pub const SLOW_REPS: usize = 3;

/// Runs each side `warmup` times, then `reps` rounds of one run per side in
/// turn. A side that fails is dropped from later rounds and reported with
/// its reason; the others go on.
pub fn alternate(sides: &[Side], warmup: usize, reps: usize) -> Vec<Outcome> {
    alternate_with(sides, warmup, reps, Side::run_once, |d| *d)
        .into_iter()
        .map(outcome)
        .collect()
}

/// [`alternate`] with [`Side::run_streamed`]: for each side, the time to
/// the first byte of output and the time to the end, and the output's
/// size in the last run. A side that wrote nothing has no first byte.
pub fn alternate_streamed(
    sides: &[Side],
    warmup: usize,
    reps: usize,
) -> Vec<(Outcome, Outcome, Option<u64>)> {
    alternate_with(sides, warmup, reps, Side::run_streamed, |s| s.total)
        .into_iter()
        .map(|slot| match slot {
            Ok(runs) => {
                let first: Option<Vec<Duration>> = runs.iter().map(|r| r.first_byte).collect();
                let first = first.map_or_else(
                    || Outcome::Failed("wrote nothing on stdout".to_owned()),
                    |times| outcome(Ok(times)),
                );
                let total = outcome(Ok(runs.iter().map(|r| r.total).collect()));
                (first, total, runs.last().map(|r| r.bytes))
            }
            Err(reason) => (
                Outcome::Failed(reason.clone()),
                Outcome::Failed(reason),
                None,
            ),
        })
        .collect()
}

fn outcome(slot: Result<Vec<Duration>, String>) -> Outcome {
    match slot {
        Ok(times) => Stats::of(&times)
            .map_or_else(|| Outcome::Failed("no runs".to_owned()), Outcome::Measured),
        Err(reason) => Outcome::Failed(reason),
    }
}

/// The loop of [`alternate`]: `run` once per side per round, `wall` the
/// run's wall time (for the slow-round limit).
fn alternate_with<T>(
    sides: &[Side],
    warmup: usize,
    reps: usize,
    run: impl Fn(&Side) -> Result<T, String>,
    wall: impl Fn(&T) -> Duration,
) -> Vec<Result<Vec<T>, String>> {
    let mut samples: Vec<Result<Vec<T>, String>> = sides.iter().map(|_| Ok(Vec::new())).collect();
    let mut rounds = warmup + reps;
    let mut round = 0;
    while round < rounds {
        let mut slowest = Duration::ZERO;
        for (side, slot) in sides.iter().zip(samples.iter_mut()) {
            let Ok(times) = slot else { continue };
            match run(side) {
                Ok(sample) => {
                    slowest = slowest.max(wall(&sample));
                    if round >= warmup {
                        times.push(sample);
                    }
                }
                Err(reason) => *slot = Err(reason),
            }
        }
        // Keep the whole bench within its time budget: a round slower than
        // SLOW_ROUND gets at most SLOW_REPS timed rounds.
        if round + 1 == warmup && slowest > SLOW_ROUND {
            rounds = rounds.min(warmup + SLOW_REPS);
        }
        round += 1;
    }
    samples
}

/// A short name for a step: its program's file name.
pub fn describe(step: &duct::Expression) -> String {
    let text = format!("{step:?}");
    // duct's Debug output looks like `Cmd(["prog", "arg", ...])`.
    text.split('"')
        .nth(1)
        .map(|prog| prog.rsplit('/').next().unwrap_or(prog).to_owned())
        .unwrap_or(text)
}

/// The last non-empty line of a process's stderr, trimmed to 200 bytes.
pub fn last_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("(no output)")
        .trim();
    let mut end = line.len().min(200);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    line[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn stats_odd_and_even() {
        let s = Stats::of(&[ms(5), ms(1), ms(3)]).unwrap();
        assert_eq!((s.runs, s.median, s.min, s.max), (3, ms(3), ms(1), ms(5)));
        let s = Stats::of(&[ms(4), ms(1), ms(2), ms(10)]).unwrap();
        assert_eq!(s.median, ms(3));
        assert_eq!(Stats::of(&[]), None);
    }

    #[test]
    fn children_cpu_from_stat() {
        let stat =
            "5244 (a (b) c) R 5242 5242 31998 0 -1 4194304 100 0 0 0 7 3 250 31 20 0 1 0 656897";
        assert_eq!(
            parse_children_cpu(stat),
            Some(Cpu {
                user: ms(2500),
                system: ms(310)
            })
        );
        assert_eq!(parse_children_cpu("5244 (cat) R 1 2"), None);
        let own = children_cpu().unwrap();
        let (_, cpu) = Side::new(
            "sh",
            vec![duct::cmd!(
                "sh",
                "-c",
                "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"
            )],
        )
        .run_with_cpu()
        .unwrap();
        assert!(cpu.total() > Duration::ZERO, "{cpu:?}");
        assert!(children_cpu().unwrap().total() >= own.total() + cpu.total());
    }

    #[test]
    fn alternate_runs_and_reports_failures() {
        let ok = Side::new("true", vec![duct::cmd!("true")]);
        let bad = Side::new(
            "false",
            vec![duct::cmd!(
                "sh",
                "-c",
                "echo 'broken pipe dream' >&2; exit 3"
            )],
        );
        let out = alternate(&[ok, bad], 1, 3);
        match &out[0] {
            Outcome::Measured(s) => assert_eq!(s.runs, 3),
            other => panic!("{other:?}"),
        }
        match &out[1] {
            Outcome::Failed(reason) => {
                assert!(
                    reason.contains("sh exited with 3: broken pipe dream"),
                    "{reason}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn streamed_runs_stamp_the_first_byte_and_accept_given_codes() {
        let writes = Side::new(
            "sh",
            vec![
                duct::cmd!("true"),
                duct::cmd!("sh", "-c", "printf abc; printf de; exit 1"),
            ],
        );
        let failed = writes.run_streamed().unwrap_err();
        assert!(failed.contains("sh exited with 1"), "{failed}");
        let run = writes.clone().with_success(&[0, 1]).run_streamed().unwrap();
        assert_eq!(run.bytes, 5);
        let first = run.first_byte.unwrap();
        assert!(first <= run.total, "{run:?}");

        let silent = Side::new("true", vec![duct::cmd!("true")]);
        assert_eq!(silent.run_streamed().unwrap().first_byte, None);

        let out = alternate_streamed(&[writes.with_success(&[0, 1]), silent], 1, 2);
        match &out[0] {
            (Outcome::Measured(f), Outcome::Measured(t), Some(5)) => {
                assert_eq!((f.runs, t.runs), (2, 2))
            }
            other => panic!("{other:?}"),
        }
        match &out[1] {
            (Outcome::Failed(why), Outcome::Measured(_), Some(0)) => {
                assert_eq!(why, "wrote nothing on stdout")
            }
            other => panic!("{other:?}"),
        }
    }
}
