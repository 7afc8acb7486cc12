//! Bench: the wheel index commands. `refresh-index` on 1,000 and 10,000
//! generated files (from scratch, and again with nothing to do);
//! `sync-wheels` from a loopback server against `pip download --no-deps
//! --require-hashes` of the same files; `build-wheels` with nothing to do.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    let intro = "`cargo xtask sync-wheels --from URL` of 50 files from a loopback server (`loopback.rs`) against `pip download --no-deps --require-hashes` of the same files from the same server. Target: at least 3× faster than pip.";
    if !ctx.has_command("sync-wheels") {
        return Ok(Measured::skipped(title, intro, Ctx::missing("sync-wheels")));
    }
    Ok(Measured::skipped(
        title,
        intro,
        "the bench does not drive `sync-wheels` yet".to_owned(),
    ))
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
