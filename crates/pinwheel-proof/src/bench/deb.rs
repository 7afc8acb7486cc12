//! Bench: `build-deb` and `check-reproducible` on the demo application —
//! one run each (a build takes minutes), wall time, and the per-step
//! breakdown the commands print (the `build-deb steps`, `dpkg-buildpackage
//! phases (slowest first)` and `build a steps` blocks of
//! `build_deb::format_times`), parsed from their stderr.

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
