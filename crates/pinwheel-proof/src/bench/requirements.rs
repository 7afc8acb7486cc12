//! Bench: `cargo xtask requirements` against `uv export --no-dev` and
//! `poetry export` on synthetic locks of 10, 100, 500 and 2,000 packages
//! (the same resolution written as uv.lock and poetry.lock), plus the 500
//! package run through the `cargo xtask` alias. Before timing, each tool's
//! output is checked to list every package, so a fast wrong answer cannot
//! pass for a fast one.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use super::inputs;
use super::measure::{alternate, Outcome, Side};
use super::plot::{Panel, Series};
use super::report::{fmt_duration, Body, Row, Section, Target};
use super::{goals, Ctx, Measured};

pub const SIZES: [usize; 4] = [10, 100, 500, 2000];
const TARGET_PYTHON: &str = "3.11.2";

pub fn measure(ctx: &Ctx) -> anyhow::Result<Measured> {
    let title = "requirements: lock to hash-pinned requirements";
    let intro = "`cargo xtask requirements --lock F` (sdist pins for CPython 3.11.2 on linux x86_64) against `uv export --frozen --no-dev` on the uv.lock and `poetry export -f requirements.txt` on the poetry.lock of the same synthetic resolution (`synthetic_lock.rs`: one sdist and one wheel per package, some edges with markers). The peers export every hash for every platform; pinwheel evaluates markers for the target and keeps sdist hashes only.";
    let have_pinwheel = ctx.has_command("requirements");
    let uv = ctx.peers.venv_tool("uv");
    let poetry = ctx
        .peers
        .venv_tool("poetry")
        .and_then(|p| ctx.peers.available("poetry-plugin-export").map(|()| p));
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for n in SIZES {
        let dir = ctx.work.join(format!("locks/{n}"));
        let lock = inputs::lock_dir(&dir, n, 1000 + n as u64)?;
        let content_hash = match &poetry {
            Ok(_) => poetry_content_hash(ctx, &dir),
            Err(why) => Err(why.clone()),
        };
        inputs::write_poetry_lock(
            &dir,
            &lock,
            content_hash.as_deref().unwrap_or(&"0".repeat(64)),
        )?;
        let names: BTreeSet<String> = lock.packages.iter().map(|p| p.name.clone()).collect();

        for (format, file) in [("uv.lock", "uv.lock"), ("poetry.lock", "poetry.lock")] {
            let pinwheel = if have_pinwheel {
                Ok(Side::new(
                    "pinwheel",
                    vec![ctx.xtask([
                        "requirements".as_ref(),
                        "--lock".as_ref(),
                        dir.join(file).as_os_str(),
                        "--python".as_ref(),
                        TARGET_PYTHON.as_ref(),
                    ])],
                ))
            } else {
                Err(Ctx::missing("requirements"))
            };
            let peer = match format {
                "uv.lock" => uv
                    .clone()
                    .map(|uv| Side::new("uv export", vec![uv_export(ctx, &uv, &dir)])),
                _ => match (&poetry, &content_hash) {
                    (Ok(p), Ok(_)) => Ok(Side::new(
                        "poetry export",
                        vec![poetry_export(ctx, p, &dir)],
                    )),
                    (Err(why), _) | (_, Err(why)) => Err(why.clone()),
                },
            };
            let pinwheel = pinwheel.and_then(|s| check_output(s, &names));
            let peer = peer.and_then(|s| check_output(s, &names));
            let label = |r: &Result<Side, String>, default: &str| match r {
                Ok(s) => s.label.clone(),
                Err(_) => default.to_owned(),
            };
            let labels = [
                label(&pinwheel, "pinwheel"),
                label(
                    &peer,
                    if format == "uv.lock" {
                        "uv export"
                    } else {
                        "poetry export"
                    },
                ),
            ];
            rows.push(run_row(
                ctx,
                format!("{format}, {n} packages"),
                n as f64,
                [pinwheel, peer],
                labels,
            ));
        }
        if n == 500 && have_pinwheel {
            let alias = Side::new(
                "pinwheel via `cargo xtask`",
                vec![duct::cmd!(
                    "cargo",
                    "xtask",
                    "requirements",
                    "--lock",
                    dir.join("uv.lock"),
                    "--python",
                    TARGET_PYTHON
                )
                .dir(&ctx.root)],
            );
            let outcome = alternate(std::slice::from_ref(&alias), ctx.warmup, ctx.reps);
            rows.push(super::report::Row {
                input: "uv.lock, 500 packages, through the alias".to_owned(),
                size: None,
                sides: vec![(alias.label, outcome[0].clone())],
            });
        }
    }
    // Targets: 500 packages in at most 50 ms for the whole process, and faster than uv export.
    let targets = targets(&rows);
    notes.extend(targets.iter().map(Target::note));
    let panel = panel(&rows);
    Ok(Measured {
        section: Section {
            title: title.to_owned(),
            intro: intro.to_owned(),
            body: Body::Timings(rows),
            notes,
        },
        panel,
        targets,
    })
}

/// The two targets on the 500-package uv.lock, with what the other sizes
/// say about a miss (the 10-package run is the fixed cost of a process).
fn targets(rows: &[Row]) -> Vec<Target> {
    let median = |input: &str, side: &str| {
        rows.iter()
            .find(|r| r.input == input)
            .and_then(|r| r.median(side))
    };
    let Some(p) = median("uv.lock, 500 packages", "pinwheel") else {
        return vec![];
    };
    let fixed = median("uv.lock, 10 packages", "pinwheel");
    let split = match fixed {
        Some(f) => format!(
            "the 10-package run takes {}, so about {} of the 500-package run is per-package work ({:.0} µs per package)",
            fmt_duration(f),
            fmt_duration(p.saturating_sub(f)),
            p.saturating_sub(f).as_secs_f64() * 1e6 / 490.0
        ),
        None => "the 10-package run was not measured".to_owned(),
    };
    let mut out = vec![Target::measured(
        goals::REQUIREMENTS_TIME,
        fmt_duration(p),
        p <= Duration::from_millis(50),
        format!("{split}; profile lock parsing, marker evaluation and the closure (`lockfile`, `markers.rs`, `closure.rs`) on the 500-package lock."),
    )];
    if let Some(u) = median("uv.lock, 500 packages", "uv export") {
        out.push(Target::measured(
            goals::REQUIREMENTS_UV,
            format!(
                "{} vs {} ({:.2}× uv's speed)",
                fmt_duration(p),
                fmt_duration(u),
                u.as_secs_f64() / p.as_secs_f64()
            ),
            p < u,
            format!(
                "{split}, against uv's {} in all; that per-package work is what must shrink.",
                fmt_duration(u)
            ),
        ));
    }
    out
}

fn run_row(
    ctx: &Ctx,
    input: String,
    size: f64,
    sides: [Result<Side, String>; 2],
    labels: [String; 2],
) -> Row {
    let runnable: Vec<Side> = sides
        .iter()
        .filter_map(|s| s.as_ref().ok().cloned())
        .collect();
    let mut measured = alternate(&runnable, ctx.warmup, ctx.reps).into_iter();
    let sides = sides
        .into_iter()
        .zip(labels)
        .map(|(side, label)| match side {
            Ok(_) => (
                label,
                measured
                    .next()
                    .unwrap_or_else(|| Outcome::Failed("not run".to_owned())),
            ),
            Err(why) => (label, Outcome::Failed(why)),
        })
        .collect();
    Row {
        input,
        size: Some(size),
        sides,
    }
}

/// Runs a side once, capturing stdout, and checks that it names every
/// package; returns the side for timing, or why its output is wrong.
fn check_output(side: Side, names: &BTreeSet<String>) -> Result<Side, String> {
    let step = side.steps.last().ok_or("no command")?;
    let out = step
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|e| format!("{}: {e}", side.label))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            side.label,
            super::measure::last_line(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let listed: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.split_once("==").map(|(name, _)| name.trim().to_owned()))
        .filter(|name| names.contains(name))
        .collect();
    if listed.len() != names.len() {
        return Err(format!(
            "{} listed {} of {} packages",
            side.label,
            listed.len(),
            names.len()
        ));
    }
    Ok(side)
}

fn uv_export(ctx: &Ctx, uv: &Path, dir: &Path) -> duct::Expression {
    duct::cmd!(
        uv,
        "export",
        "--frozen",
        "--no-dev",
        "--offline",
        "--no-config",
        "--project",
        dir,
        "--no-progress"
    )
    .env("UV_CACHE_DIR", ctx.work.join("cache/uv"))
}

fn poetry_env(ctx: &Ctx, expr: duct::Expression) -> duct::Expression {
    expr.env("POETRY_CACHE_DIR", ctx.work.join("cache/poetry"))
        .env("POETRY_CONFIG_DIR", ctx.work.join("cache/poetry-config"))
        .env("POETRY_DATA_DIR", ctx.work.join("cache/poetry-data"))
        .env("POETRY_VIRTUALENVS_CREATE", "false")
}

fn poetry_export(ctx: &Ctx, poetry: &Path, dir: &Path) -> duct::Expression {
    poetry_env(
        ctx,
        duct::cmd!(
            poetry,
            "export",
            "--no-interaction",
            "-f",
            "requirements.txt",
            "-C",
            dir
        ),
    )
}

/// Poetry's own `content-hash` for `dir/pyproject.toml`, so that the
/// generated poetry.lock is fresh in Poetry's eyes.
fn poetry_content_hash(ctx: &Ctx, dir: &Path) -> Result<String, String> {
    let python = ctx.peers.venv_tool("python")?;
    let script = "import sys\nfrom pathlib import Path\nfrom poetry.factory import Factory\nprint(Factory().create_poetry(Path(sys.argv[1])).locker._get_content_hash())";
    let out = poetry_env(ctx, duct::cmd!(python, "-c", script, dir))
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "poetry content-hash: {}",
            super::measure::last_line(&out.stderr)
        ));
    }
    let hash = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hash)
    } else {
        Err(format!("poetry printed {hash:?} for the content hash"))
    }
}

fn panel(rows: &[Row]) -> Option<Panel> {
    let mut series: Vec<Series> = Vec::new();
    for row in rows {
        let (Some(size), Some(format)) = (row.size, row.input.split(',').next()) else {
            continue;
        };
        for (label, outcome) in &row.sides {
            let Outcome::Measured(stats) = outcome else {
                continue;
            };
            let name = if label == "pinwheel" {
                format!("pinwheel ({format})")
            } else {
                label.clone()
            };
            match series.iter_mut().find(|s| s.label == name) {
                Some(s) => s.points.push((size, stats.median.as_secs_f64())),
                None => series.push(Series {
                    label: name,
                    points: vec![(size, stats.median.as_secs_f64())],
                }),
            }
        }
    }
    (!series.is_empty()).then(|| Panel {
        title: "requirements".to_owned(),
        x_label: "packages in the lock".to_owned(),
        series,
    })
}
