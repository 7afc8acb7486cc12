//! Bench: the wheel index commands. `refresh-index` on 1,000 and 10,000
//! generated files (from scratch, and again with nothing to do);
//! `sync-wheels` from a loopback server against `pip download --no-deps
//! --require-hashes` of the same files (through `fetch::bench`);
//! `build-wheels` with nothing to do.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::inputs;
use super::measure::{Outcome, Side, Stats};
use super::report::{fmt_duration, Body, Row, Section, Target};
use super::verify::{panel, run_row};
use super::{goals, Ctx, Measured};

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
        let scratch = Side::new("pinwheel, from scratch", vec![cmd.clone()]).with_reset(Arc::new(
            move || remove_all_but(&reset_dir, &keep).map_err(|e| format!("{e:#}")),
        ));
        let noop = Side::new("pinwheel, nothing changed", vec![cmd]);
        rows.push(run_row(
            ctx,
            format!("{count} files"),
            count as f64,
            vec![Ok(scratch), Ok(noop)],
        ));
    }
    let mut notes = Vec::new();
    let last = rows.last();
    let (scratch, noop) = (
        last.and_then(|r| r.median("pinwheel, from scratch")),
        last.and_then(|r| r.median("pinwheel, nothing changed")),
    );
    let mut targets = Vec::new();
    if let Some(t) = scratch {
        // 10,000 files: half wheels, half sdists of 5,000 projects; a page
        // per project in each format, the two root pages and the list.
        let pages = 2 * 5000 + 3;
        let close = match noop {
            Some(n) => format!(
                "with nothing to write, the same run takes {} (every file read and hashed, every page compared), so about {} goes to creating {pages} files and their directories: {:.2} ms per file. The pages are already made durable in one batch (`fresh::ensure_many`: every temporary written, two syncfs(2), then the renames), so what is left is the filesystem creating inodes and directory entries; fewer files (one JSON and one HTML page per project is the spec's minimum, the sidecars are the rest) or a layout that reuses files would close it.",
                fmt_duration(n),
                fmt_duration(t.saturating_sub(n)),
                t.saturating_sub(n).as_secs_f64() * 1000.0 / pages as f64
            ),
            None => "the no-op run was not measured, so the cost of writing is unknown".to_owned(),
        };
        targets.push(Target::measured(
            goals::REFRESH,
            format!(
                "{} from scratch; {} with nothing changed",
                fmt_duration(t),
                noop.map_or("not measured".to_owned(), fmt_duration)
            ),
            t.as_secs_f64() <= 1.0,
            close,
        ));
    }
    notes.extend(targets.iter().map(Target::note));
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
        targets,
    })
}

pub fn sync_wheels(ctx: &Ctx) -> anyhow::Result<Measured> {
    let title = "sync-wheels: pull a remote index";
    let intro = "`cargo xtask sync-wheels --from URL` of 50 wheels (512 KiB of random payload each) into an empty index of a throwaway repository, from a loopback server (`loopback.rs`, in the bench process) serving a `sha256sums.txt` signed with the demonstration key that the repository pins, against `pip download --no-deps --require-hashes --no-cache-dir` of the same 50 files from the same server's project pages (`fetch::bench::compare_with_pip`, whose `SyncSetup` runs the real command). Both are whole processes; each run starts from an empty destination (untimed reset), and the contenders alternate after a warm-up round. Target: at least 3× faster than pip.";
    if !ctx.has_command("sync-wheels") {
        return Ok(Measured::skipped(title, intro, Ctx::missing("sync-wheels")));
    }
    let pip = match ctx.peers.venv_tool("pip") {
        Ok(pip) => pip,
        Err(why) => {
            return Ok(Measured::skipped(
                title,
                intro,
                format!("pip download cannot run: {why}"),
            ))
        }
    };
    let setup = crate::fetch_bench::Setup {
        work: ctx.work.join("sync-50"),
        pip,
        files: 50,
        size: 512 << 10,
        rounds: ctx.reps,
        jobs: 8,
        sync: Some(crate::fetch_bench::SyncSetup {
            xtask: ctx.exe.clone(),
            root: ctx.root.clone(),
        }),
    };
    let c = crate::fetch_bench::compare_with_pip(&setup)?;
    let outcome = |times: &[std::time::Duration]| {
        Stats::of(times).map_or_else(|| Outcome::Failed("no runs".to_owned()), Outcome::Measured)
    };
    let row = Row {
        input: format!("50 wheels, {} MiB", c.bytes >> 20),
        size: None,
        sides: vec![
            ("pinwheel sync-wheels".to_owned(), outcome(&c.sync_wheels)),
            ("pip download".to_owned(), outcome(&c.pip_download)),
        ],
    };
    let (sums, _, _) = crate::fetch_bench::stats(&c.sums_then_fetch);
    let (lookup, _, _) = crate::fetch_bench::stats(&c.lookup_then_fetch);
    let mut notes = vec![
        format!("pip: {}.", c.pip_version),
        format!(
            "Where sync-wheels' time goes: the same 50 downloads in the bench process (no process start-up, no signature check, no renames into the index) take {} after one `sha256sums.txt` read and {} after one project-page lookup per file (medians of the same rounds).",
            fmt_duration(sums),
            fmt_duration(lookup)
        ),
    ];
    let mut targets = Vec::new();
    if let (Some(p), Some(q)) = (
        row.median("pinwheel sync-wheels"),
        row.median("pip download"),
    ) {
        let ratio = q.as_secs_f64() / p.as_secs_f64();
        targets.push(Target::measured(
            goals::SYNC,
            format!("{ratio:.2}× ({} vs {})", fmt_duration(p), fmt_duration(q)),
            ratio >= 3.0,
            format!(
                "the downloads alone take {} in process; the rest of sync-wheels' time is process start-up, the signature check and the renames into the index",
                fmt_duration(sums)
            ),
        ));
    }
    notes.extend(targets.iter().map(Target::note));
    Ok(Measured {
        section: Section {
            title: title.to_owned(),
            intro: intro.to_owned(),
            body: Body::Timings(vec![row]),
            notes,
        },
        panel: None,
        targets,
    })
}

pub fn build_wheels_noop(ctx: &Ctx) -> anyhow::Result<Measured> {
    let title = "build-wheels with nothing to do";
    let intro = "`cargo xtask build-wheels` on the checked-in tree, where every wheel is already built for every target: it reads the cached build chroots' records (python3 and toolchain versions) and enters none. Target: at most 100 ms.";
    if !ctx.has_command("build-wheels") {
        return Ok(Measured::skipped(
            title,
            intro,
            Ctx::missing("build-wheels"),
        ));
    }
    if let Some(why) = super::chroots::uncached(&ctx.root)? {
        return Ok(Measured::skipped(title, intro, why));
    }
    let side = Side::new(
        "pinwheel build-wheels",
        vec![ctx.xtask(["build-wheels"]).dir(&ctx.root)],
    );
    let row = run_row(
        ctx,
        "checked-in tree, no-op".to_owned(),
        0.0,
        vec![Ok(side)],
    );
    let targets: Vec<Target> = row
        .median("pinwheel build-wheels")
        .map(|t| {
            Target::measured(
                goals::BUILD_WHEELS,
                fmt_duration(t),
                t.as_secs_f64() <= 0.1,
                "profile a no-op `build-wheels` run on the checked-in tree".to_owned(),
            )
        })
        .into_iter()
        .collect();
    let row = super::report::Row { size: None, ..row };
    Ok(Measured {
        section: Section {
            title: title.to_owned(),
            intro: intro.to_owned(),
            body: Body::Timings(vec![row]),
            notes: targets.iter().map(Target::note).collect(),
        },
        panel: None,
        targets,
    })
}

/// A repository root under the work directory holding a copy of the
/// configuration, for commands that take `--root` and a lock.
pub fn scratch_root(ctx: &Ctx, name: &str) -> anyhow::Result<PathBuf> {
    let root = ctx.work.join(name);
    let config = fs_err::read(ctx.root.join(xtask::config::CONFIG_PATH))?;
    xtask::fresh::ensure_file_contents(
        &root.join(xtask::config::CONFIG_PATH),
        &config,
        xtask::fresh::Mode::Write,
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
