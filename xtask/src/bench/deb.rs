//! Bench: `build-deb` and `check-reproducible` on the demo application —
//! one run each (a build takes minutes), wall time, and the per-step
//! breakdown the commands print (`build-deb steps: …`, `dpkg-buildpackage
//! phases: …`, `build a steps: …`), parsed from their stderr.

use std::time::{Duration, Instant};

use super::measure::last_line;
use super::report::{fmt_duration, Body, Section};
use super::{Ctx, Measured};

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
            body: breakdown(&run, &["build-deb steps", "dpkg-buildpackage phases"]),
            notes: vec![],
        },
        panel: None,
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
    })
}

/// One logged run: wall time, exit code, stderr.
pub struct Logged {
    pub elapsed: Duration,
    pub code: Option<i32>,
    pub stderr: String,
    pub stdout: String,
}

fn run_logged(expr: duct::Expression) -> Result<Logged, String> {
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
        for line in run.stderr.lines() {
            let Some(steps) = parse_steps(line, label) else {
                continue;
            };
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

/// Parses `LABEL: name 0.12s, other 1.50s (total 1.62s)` (the format of
/// `build_deb::format_times`).
pub fn parse_steps(line: &str, label: &str) -> Option<Vec<(String, Duration)>> {
    let rest = line.trim().strip_prefix(label)?.strip_prefix(": ")?;
    let (steps, _total) = rest.rsplit_once(" (total ")?;
    steps
        .split(", ")
        .map(|part| {
            let (name, secs) = part.rsplit_once(' ')?;
            let secs: f64 = secs.strip_suffix('s')?.parse().ok()?;
            Some((name.to_owned(), Duration::from_secs_f64(secs)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_step_line() {
        let line = "build-deb steps: verify 0.52s, dpkg-buildpackage (setup) 1.00s, stage 0.25s (total 1.77s)";
        let steps = parse_steps(line, "build-deb steps").unwrap();
        assert_eq!(steps.len(), 3);
        assert_eq!(
            steps[1],
            (
                "dpkg-buildpackage (setup)".to_owned(),
                Duration::from_secs(1)
            )
        );
        assert_eq!(parse_steps(line, "build a steps"), None);
        let line = crate::build_deb::format_times(
            "build a steps",
            &[("x".into(), Duration::from_millis(1500))],
        );
        assert_eq!(
            parse_steps(&line, "build a steps").unwrap(),
            [("x".to_owned(), Duration::from_millis(1500))]
        );
    }
}
