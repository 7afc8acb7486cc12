//! Bench: the wheel index commands. `refresh-index` on 1,000 and 10,000
//! generated files (from scratch, and again with nothing to do);
//! `sync-wheels` from a loopback server against `pip download --no-deps
//! --require-hashes` of the same files; `build-wheels` with nothing to do.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use super::inputs;
use super::measure::Side;
use super::report::{fmt_duration, Body, Section};
use super::verify::{panel, run_row};
use super::{Ctx, Measured};

pub fn refresh_index(ctx: &Ctx) -> anyhow::Result<Measured> {
    let title = "refresh-index: index pages and sha256sums.txt from the files present";
    let intro = "`cargo xtask refresh-index --index DIR` on indexes of small real wheels and sdists (half each). \"From scratch\" removes every generated file before each (untimed) run; \"nothing changed\" runs on the index the previous run left.";
    if !ctx.has_command("refresh-index") {
        return Ok(Measured::skipped(
            title,
            intro,
            Ctx::missing("refresh-index"),
        ));
    }
    let root = scratch_root(ctx, "index-root")?;
    let mut rows = Vec::new();
    for count in [1000usize, 10_000] {
        let dir = ctx.work.join(format!("wheels-{count}"));
        let files = inputs::wheel_index(&dir, count, 256, 3)?;
        let keep: BTreeSet<PathBuf> = files.iter().map(|f| dir.join(&f.path)).collect();
        let cmd = ctx.xtask([
            "--root".as_ref(),
            root.as_os_str(),
            "refresh-index".as_ref(),
            "--index".as_ref(),
            dir.as_os_str(),
        ]);
        let reset_dir = dir.clone();
        let scratch =
            Side::new("from scratch", vec![cmd.clone()]).with_reset(Arc::new(move || {
                remove_all_but(&reset_dir, &keep).map_err(|e| format!("{e:#}"))
            }));
        let noop = Side::new("nothing changed", vec![cmd]);
        rows.push(run_row(
            ctx,
            format!("{count} files"),
            count as f64,
            vec![Ok(scratch), Ok(noop)],
        ));
    }
    let mut notes = Vec::new();
    match rows.last().and_then(|r| r.median("from scratch")) {
        Some(t) => notes.push(format!(
            "Target, 10,000 files in ≤ 1 s: {} from scratch ({}).",
            fmt_duration(t),
            if t.as_secs_f64() <= 1.0 {
                "met"
            } else {
                "missed"
            }
        )),
        None => {
            notes.push("Target, 10,000 files in ≤ 1 s: not measured (see the table).".to_owned())
        }
    }
    notes.push("The ratio column compares the no-op run with the run from scratch.".to_owned());
    let panel = panel("refresh-index", "files in the index", &rows);
    Ok(Measured {
        section: Section {
            title: title.to_owned(),
            intro: intro.to_owned(),
            body: Body::Timings(rows),
            notes,
        },
        panel,
    })
}

pub fn sync_wheels(ctx: &Ctx) -> anyhow::Result<Measured> {
    let title = "sync-wheels: pull a remote index";
    let intro = "`cargo xtask sync-wheels --from URL` of 50 wheels (512 KiB of random payload each) from a loopback server (`loopback.rs`, in the bench process) against `pip download --no-deps --require-hashes --only-binary :all: --no-cache-dir` of the same files from the same server's simple pages. Each run starts with an empty destination (untimed reset). Target: at least 3× faster than pip.";
    let dir = ctx.work.join("sync-50");
    let files = inputs::wheels_only(&dir, 50, 512 << 10, 4)?;
    let server = crate::loopback::Server::start().context("starting the loopback server")?;
    let mut reqs = String::new();
    for f in &files {
        let filename = f.path.trim_start_matches("files/");
        let wheel: crate::wheel_filename::WheelFilename = filename
            .parse()
            .with_context(|| format!("{filename}: generated wheel name"))?;
        let bytes = fs_err::read(dir.join(&f.path))?;
        server.add_project(
            "/simple/",
            wheel.name.as_ref(),
            &[crate::loopback::PageFile::new(filename, bytes)],
            "/files/",
        );
        reqs.push_str(&format!(
            "{}=={} --hash=sha256:{}\n",
            wheel.name, wheel.version, f.sha256
        ));
    }
    let reqs_path = ctx.work.join("sync-50.requirements.txt");
    crate::fresh::write_atomic(&reqs_path, reqs.as_bytes())?;

    let pinwheel = if ctx.has_command("sync-wheels") {
        Err("the bench does not drive `sync-wheels` yet".to_owned())
    } else {
        Err(Ctx::missing("sync-wheels"))
    };
    let pip = ctx.peers.venv_tool("pip").map(|pip| {
        let dest = ctx.work.join("sync-50-pip");
        let reset_dest = dest.clone();
        Side::new(
            "pip download",
            vec![duct::cmd!(
                pip,
                "download",
                "--no-deps",
                "--require-hashes",
                "--only-binary",
                ":all:",
                "--no-cache-dir",
                "--disable-pip-version-check",
                "--quiet",
                "--dest",
                &dest,
                "--index-url",
                server.url("/simple/"),
                "-r",
                &reqs_path
            )
            .env("PIP_CONFIG_FILE", "/dev/null")],
        )
        .with_reset(Arc::new(move || {
            empty_dir(&reset_dest).map_err(|e| format!("{e:#}"))
        }))
    });
    let row = run_row(
        ctx,
        "50 wheels, 25 MiB".to_owned(),
        50.0,
        vec![pinwheel, pip],
    );
    // Check that pip really fetched every file.
    let fetched = fs_err::read_dir(ctx.work.join("sync-50-pip"))
        .map(|d| d.count())
        .unwrap_or(0);
    let mut notes = vec![format!(
        "pip's destination held {fetched} of {} files after its last run.",
        files.len()
    )];
    match (row.median("pinwheel"), row.median("pip download")) {
        (Some(p), Some(q)) => {
            let ratio = q.as_secs_f64() / p.as_secs_f64();
            notes.push(format!(
                "Target, ≥ 3× faster than pip download: {ratio:.2}× ({}): {}.",
                fmt_duration(p),
                if ratio >= 3.0 { "met" } else { "missed" }
            ))
        }
        _ => notes.push(
            "Target, ≥ 3× faster than pip download: not measured (see the table).".to_owned(),
        ),
    }
    let row = super::report::Row { size: None, ..row };
    Ok(Measured {
        section: Section {
            title: title.to_owned(),
            intro: intro.to_owned(),
            body: Body::Timings(vec![row]),
            notes,
        },
        panel: None,
    })
}

/// Makes `dir` an empty directory.
pub fn empty_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        fs_err::remove_dir_all(dir)?;
    }
    fs_err::create_dir_all(dir)?;
    Ok(())
}

pub fn build_wheels_noop(ctx: &Ctx) -> anyhow::Result<Measured> {
    let title = "build-wheels with nothing to do";
    let intro = "`cargo xtask build-wheels` on the checked-in tree, every wheel already built. Target: at most 100 ms.";
    if !ctx.has_command("build-wheels") {
        return Ok(Measured::skipped(
            title,
            intro,
            Ctx::missing("build-wheels"),
        ));
    }
    Ok(Measured::skipped(
        title,
        intro,
        "the bench does not drive `build-wheels` yet".to_owned(),
    ))
}

/// A repository root under the work directory holding a copy of the
/// configuration, for commands that take `--root` and a lock.
pub fn scratch_root(ctx: &Ctx, name: &str) -> anyhow::Result<PathBuf> {
    let root = ctx.work.join(name);
    let config = fs_err::read(ctx.root.join(crate::config::CONFIG_PATH))?;
    crate::fresh::ensure_file_contents(
        &root.join(crate::config::CONFIG_PATH),
        &config,
        crate::fresh::Mode::Write,
    )?;
    Ok(root)
}

/// Removes every file under `dir` that is not in `keep`, and empty
/// directories left behind.
pub fn remove_all_but(dir: &Path, keep: &BTreeSet<PathBuf>) -> anyhow::Result<()> {
    for entry in fs_err::read_dir(dir)? {
        let path = entry?.path();
        let meta = fs_err::symlink_metadata(&path)?;
        if meta.is_dir() {
            remove_all_but(&path, keep)?;
            if fs_err::read_dir(&path)?.next().is_none() {
                fs_err::remove_dir(&path)?;
            }
        } else if !keep.contains(&path) {
            fs_err::remove_file(&path)?;
        }
    }
    Ok(())
}
