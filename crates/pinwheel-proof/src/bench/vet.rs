//! Bench: `vet`. The whole `vet --offline` run on a copy of the repository,
//! where every pinned sdist is vetted, against its 100 ms goal, with
//! `sha256sum -c` of the same sdists beside it as context (the step a team
//! does by hand today; no Python tool vets sdists, cargo-vet knows only
//! crates). `vet diff setuptools FROM TO --plain` between two real ~1 MB
//! sdists, both cached: the time to the first byte of output and to the
//! end, against what a reviewer does by hand — `tar -xzf` of both, then
//! `diff -ruN`. The copy's package index points at a closed loopback port,
//! so any fetch fails the run instead of being timed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};

use super::measure::{alternate_streamed, Outcome, Side};
use super::report::{fmt_duration, Body, Row, Section, Target};
use super::verify::run_row;
use super::{goals, Ctx, Measured};
use pinwheel_pypa::sdist_filename::SdistFilename;
use pinwheel_trust::hash::Sha256;
use xtask::build_wheels::{INDEX_DIR, SDIST_CACHE};

/// The project whose two releases `vet diff` compares: a build backend the
/// demo pins, with sdists of about 1 MB.
const DIFF_PROJECT: &str = "setuptools";

/// An index URL nothing listens on (the discard port on loopback).
const CLOSED_INDEX: &str = "http://127.0.0.1:9/simple/";

pub fn vet(ctx: &Ctx) -> anyhow::Result<Measured> {
    let title = "vet: every pinned sdist vetted";
    let intro = "`cargo xtask vet --offline` on a copy of the repository's tracked files, where every sdist pinned for the demo applications and the build backends is vetted by an audit or an exemption (`packaging/supply-chain/`) and is in `wheels-index/files/`: the whole process. Beside it, as context and not as a peer doing the same job, `sha256sum -c --quiet` of the same pinned sdists, the nearest step a team does by hand today; no tool a Python team would pick vets sdists (cargo-vet knows only crates). Target: at most 100 ms.";
    if !ctx.has_command("vet") {
        return Ok(Measured::skipped(title, intro, Ctx::missing("vet")));
    }
    let copy = copy_repo(ctx)?;
    let config = xtask::config::Config::load(&copy)?;
    let pinned = xtask::vet::pins::collect(&config)?;
    let hashes: BTreeSet<Sha256> = pinned.iter().map(|p| p.sha256).collect();
    let (check_list, missing) = pinned_sums(&copy, &hashes)?;
    let list_path = ctx.work.join("vet-pinned-sdists.sha256");
    fs_err::write(&list_path, &check_list)?;

    let pinwheel = Side::new(
        "pinwheel vet --offline",
        vec![ctx.xtask([
            "--root".as_ref(),
            copy.as_os_str(),
            "vet".as_ref(),
            "--offline".as_ref(),
        ])],
    );
    let sums = match ctx.peers.available("sha256sum") {
        Ok(()) => Ok(Side::new(
            "sha256sum -c (context)",
            vec![duct::cmd!("sha256sum", "-c", "--quiet", &list_path).dir(copy.join(INDEX_DIR))],
        )),
        Err(why) => Err(format!("sha256sum: {why}")),
    };
    let row = run_row(
        ctx,
        format!("{} pinned sdists", hashes.len()),
        hashes.len() as f64,
        vec![Ok(pinwheel), sums],
    );
    let row = Row { size: None, ..row };

    let mut notes = vec![format!(
        "The context column checks {} files, {} in all, read from the page cache after the warm-up; its ratio says how `vet` compares with a step the team already runs, not which tool is faster at vetting.",
        hashes.len() - missing.len(),
        size_text(sdist_bytes(&copy, &check_list))
    )];
    if !missing.is_empty() {
        notes.push(format!(
            "Not in the index's sha256sums.txt, so not checked by `sha256sum -c`: {}.",
            missing.join(", ")
        ));
    }
    let mut targets = Vec::new();
    if let Some(t) = row.median("pinwheel vet --offline") {
        targets.push(Target::measured(
            goals::VET,
            format!("{} for {} pinned sdists", fmt_duration(t), hashes.len()),
            t.as_secs_f64() <= 0.1,
            "profile `vet --offline` on the checked-in tree: it reads the configuration, every requirements file and lock, and the supply-chain records, and decides every pin".to_owned(),
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

pub fn vet_diff(ctx: &Ctx) -> anyhow::Result<Measured> {
    let title = "vet diff: what a reviewer reads, two cached 1 MB sdists";
    let intro_text = |pair: Option<&Pair>| {
        let versions = pair.map_or_else(
            || "two releases".to_owned(),
            |p| format!("{} → {}", p.from.version, p.to.version),
        );
        format!(
            "`cargo xtask vet diff {DIFF_PROJECT} FROM TO --from-sha256 HASH --plain` ({DIFF_PROJECT} {versions}, TO as the build backends pin it in `wheels-index/files/`, FROM fetched once from the package index into the copy's `{SDIST_CACHE}/` when the bench is set up) on a copy of the repository whose package index is a closed loopback port, so a fetch would fail the run: the time to the first byte on its stdout (a pipe) and to the end. Against what a reviewer does by hand today: `tar -xzf` of both archives (`--strip-components=1`, into emptied directories) then `diff -ruN` of the two trees, timed from the first `tar` to `diff`'s first byte and to its end. Target: the first line within 1 s."
        )
    };
    if !ctx.has_command("vet") {
        return Ok(Measured::skipped(
            title,
            &intro_text(None),
            Ctx::missing("vet"),
        ));
    }
    let copy = copy_repo(ctx)?;
    let pair = setuptools_pair(ctx, &copy)?;
    let intro = intro_text(Some(&pair));

    let pinwheel = Side::new(
        "pinwheel vet diff",
        vec![ctx.xtask([
            "--root".as_ref(),
            copy.as_os_str(),
            "vet".as_ref(),
            "diff".as_ref(),
            DIFF_PROJECT.as_ref(),
            pair.from.version.to_string().as_ref(),
            pair.to.version.to_string().as_ref(),
            "--from-sha256".as_ref(),
            pair.from.sha256.to_string().as_ref(),
            "--plain".as_ref(),
        ])],
    );
    let manual = match (ctx.peers.available("tar"), ctx.peers.available("diff")) {
        (Ok(()), Ok(())) => Ok(by_hand(ctx, &pair)),
        (Err(why), _) => Err(format!("tar: {why}")),
        (_, Err(why)) => Err(format!("diff: {why}")),
    };
    let runnable: Vec<Side> = [Ok(pinwheel.clone()), manual.clone()]
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    let mut measured = alternate_streamed(&runnable, ctx.warmup, ctx.reps).into_iter();
    let mut first = Vec::new();
    let mut total = Vec::new();
    let mut bytes = Vec::new();
    for side in [Ok(pinwheel), manual] {
        match side {
            Ok(side) => {
                let (f, t, b) = measured.next().unwrap_or_else(|| {
                    let not_run = || Outcome::Failed("not run".to_owned());
                    (not_run(), not_run(), None)
                });
                first.push((side.label.clone(), f));
                total.push((side.label.clone(), t));
                bytes.push((side.label, b));
            }
            Err(why) => {
                let label = "tar -xzf + diff -ruN".to_owned();
                first.push((label.clone(), Outcome::Failed(why.clone())));
                total.push((label, Outcome::Failed(why)));
            }
        }
    }
    let input = format!(
        "{} ({}) → {} ({})",
        pair.from.file_name,
        size_text(pair.from.size),
        pair.to.file_name,
        size_text(pair.to.size)
    );
    let first = Row {
        input: format!("{input}: first byte"),
        size: None,
        sides: first,
    };
    let total = Row {
        input: format!("{input}: whole output"),
        size: None,
        sides: total,
    };

    let mut notes = Vec::new();
    let sizes: Vec<String> = bytes
        .iter()
        .filter_map(|(label, b)| b.map(|b| format!("{label} {}", size_text(b))))
        .collect();
    if !sizes.is_empty() {
        notes.push(format!(
            "Output in the last run: {}. `vet diff` writes a header naming both files and hashes and the summary of what to read first before its unified diff; `diff -ruN` writes the diff alone.",
            sizes.join(", ")
        ));
    }
    let mut targets = Vec::new();
    if let Some(t) = first.median("pinwheel vet diff") {
        let whole = total.median("pinwheel vet diff");
        targets.push(Target::measured(
            goals::VET_DIFF,
            format!(
                "first byte after {}, whole output after {}",
                fmt_duration(t),
                whole.map_or("not measured".to_owned(), fmt_duration)
            ),
            t.as_secs_f64() <= 1.0,
            "the first line waits for both sdists to be hash-checked, unpacked to disk (about a thousand files each for setuptools), read back and summarized; creating those files dominates on a loaded disk, so reading the members straight from the checked archive into the in-memory tree (the safe unpacker's checks without the writes), and writing the header before the summary, would close it".to_owned(),
        ));
    }
    notes.extend(targets.iter().map(Target::note));
    Ok(Measured {
        section: Section {
            title: title.to_owned(),
            intro,
            body: Body::Timings(vec![first, total]),
            notes,
        },
        panel: None,
        targets,
    })
}

/// `tar -xzf` of both sdists into emptied directories, then `diff -ruN`
/// (which exits 1 when the trees differ).
fn by_hand(ctx: &Ctx, pair: &Pair) -> Side {
    let base = ctx.work.join("vet-diff-by-hand");
    let (a, b) = (base.join("a"), base.join("b"));
    let untar = |archive: &Path, dir: &Path| {
        duct::cmd!("tar", "-xzf", archive, "-C", dir, "--strip-components=1")
    };
    let steps = vec![
        untar(&pair.from.path, &a),
        untar(&pair.to.path, &b),
        duct::cmd!("diff", "-ruN", "a", "b").dir(&base),
    ];
    Side::new("tar -xzf + diff -ruN", steps)
        .with_success(&[0, 1])
        .with_reset(Arc::new(move || {
            empty_dirs(&[&a, &b]).map_err(|e| format!("{e:#}"))
        }))
}

fn empty_dirs(dirs: &[&Path]) -> anyhow::Result<()> {
    for dir in dirs {
        if dir.exists() {
            fs_err::remove_dir_all(dir)?;
        }
        fs_err::create_dir_all(dir)?;
    }
    Ok(())
}

/// One sdist of the pair, on disk in the copy.
#[derive(Debug, Clone)]
struct Sdist {
    file_name: String,
    version: String,
    sha256: Sha256,
    size: u64,
    path: PathBuf,
}

/// The two sdists `vet diff` compares.
#[derive(Debug, Clone)]
struct Pair {
    from: Sdist,
    to: Sdist,
}

/// TO: the newest `setuptools` sdist in the copy's `wheels-index/files/`.
/// FROM: the newest older release whose sdist is within a third of TO's
/// size, chosen from the package index's project page once and kept in the
/// copy's sdist cache (with a record of the choice beside the bench's
/// inputs, so later runs use no network).
fn setuptools_pair(ctx: &Ctx, copy: &Path) -> anyhow::Result<Pair> {
    let name = pinwheel_pypa::project_name(DIFF_PROJECT).context("a valid project name")?;
    let files = copy.join(INDEX_DIR).join("files");
    let mut local: Vec<(SdistFilename, PathBuf)> = fs_err::read_dir(&files)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|path| {
            let file = path.file_name()?.to_str()?.to_owned();
            Some((SdistFilename::parse_for(&file, &name).ok()?, path))
        })
        .collect();
    local.sort_by(|a, b| a.0.version.cmp(&b.0.version));
    let (to_name, to_path) = local.pop().with_context(|| {
        format!(
            "no {DIFF_PROJECT} sdist in {}: the build backends no longer pin it",
            files.display()
        )
    })?;
    let to_size = fs_err::metadata(&to_path)?.len();
    let to = Sdist {
        file_name: to_name.filename().to_owned(),
        version: to_name.version.to_string(),
        sha256: Sha256::of_file(&to_path)?,
        size: to_size,
        path: to_path,
    };

    let cache = copy.join(SDIST_CACHE);
    fs_err::create_dir_all(&cache)?;
    let record = ctx.work.join("vet-diff-from.txt");
    let recorded = fs_err::read_to_string(&record).ok().and_then(|text| {
        let mut words = text.split_whitespace();
        let (for_to, file, sha) = (words.next()?, words.next()?, words.next()?);
        (for_to == to.file_name).then(|| (file.to_owned(), sha.parse::<Sha256>().ok()))
    });
    let (file_name, sha256) = match recorded {
        Some((file, Some(sha))) if Sha256::of_file(&cache.join(&file)).ok() == Some(sha) => {
            (file, sha)
        }
        _ => {
            let (file, sha) = fetch_from(ctx, &to, &cache)?;
            fs_err::write(&record, format!("{} {file} {sha}\n", to.file_name))?;
            (file, sha)
        }
    };
    let path = cache.join(&file_name);
    let parsed = SdistFilename::parse_for(&file_name, &name)
        .map_err(|err| anyhow::anyhow!("{}: {err}", record.display()))?;
    let from = Sdist {
        version: parsed.version.to_string(),
        size: fs_err::metadata(&path)?.len(),
        file_name,
        sha256,
        path,
    };
    Ok(Pair { from, to })
}

/// Chooses FROM on the package index (the original repository's
/// configuration) and fetches it, hash-checked, into `cache`.
fn fetch_from(ctx: &Ctx, to: &Sdist, cache: &Path) -> anyhow::Result<(String, Sha256)> {
    let name = &pinwheel_pypa::project_name(DIFF_PROJECT).context("a valid project name")?;
    let config = xtask::config::Config::load(&ctx.root)?;
    let client = xtask::http::Client::new(&config.index)?;
    let index = xtask::package_index::PackageIndex::new(&client, &config.index.url)?;
    let (url, page) = index.project(DIFF_PROJECT)?;
    let to_version = SdistFilename::parse_for(&to.file_name, name)
        .map_err(|err| anyhow::anyhow!("{err}"))?
        .version;
    let near = |size: u64| size * 4 >= to.size * 3 && size * 3 <= to.size * 4;
    let chosen = page
        .files
        .iter()
        .filter(|f| f.yanked.is_none())
        .filter_map(|f| {
            let parsed = SdistFilename::parse_for(&f.filename, name).ok()?;
            let (sha, size) = (f.sha256?, f.size?);
            (parsed.version < to_version && near(size)).then_some((parsed.version, f, sha, size))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .with_context(|| {
            format!(
                "{url}: no release of {DIFF_PROJECT} before {} has an sdist with a recorded size within a third of {}",
                to.version,
                size_text(to.size)
            )
        })?;
    let (_, file, sha, size) = chosen;
    eprintln!(
        "bench: vet-diff: fetching {} ({}) from {url}",
        file.filename,
        size_text(size)
    );
    let download = xtask::fetch::Download {
        label: file.filename.clone(),
        url: file.url.clone(),
        dest: cache.join(&file.filename),
        sha256: sha,
        size: Some(size),
    };
    xtask::fetch::fetch_one(&client, &download, size, &xtask::fetch::Progress::hidden())?;
    Ok((file.filename.clone(), sha))
}

/// `target/bench/vet-root`: the repository's tracked (and untracked, not
/// ignored) files copied afresh, its `target/` kept (the sdist cache), and
/// its package index pointed at a closed loopback port.
fn copy_repo(ctx: &Ctx) -> anyhow::Result<PathBuf> {
    let copy = ctx.work.join("vet-root");
    fs_err::create_dir_all(&copy)?;
    for entry in fs_err::read_dir(&copy)? {
        let path = entry?.path();
        if path.file_name().is_some_and(|n| n == "target") {
            continue;
        }
        if fs_err::symlink_metadata(&path)?.is_dir() {
            fs_err::remove_dir_all(&path)?;
        } else {
            fs_err::remove_file(&path)?;
        }
    }
    let listed = duct::cmd!(
        "git",
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard"
    )
    .dir(&ctx.root)
    .stderr_capture()
    .read()
    .context("git ls-files in the repository")?;
    for rel in listed.split('\0').filter(|p| !p.is_empty()) {
        let (src, dst) = (ctx.root.join(rel), copy.join(rel));
        let Ok(meta) = fs_err::symlink_metadata(&src) else {
            continue; // deleted in the working tree
        };
        if rel == "target" || rel.starts_with("target/") {
            continue;
        }
        fs_err::create_dir_all(dst.parent().context("a path inside the copy")?)?;
        if meta.file_type().is_symlink() {
            fs_err::os::unix::fs::symlink(fs_err::read_link(&src)?, &dst)?;
        } else if meta.is_file() {
            fs_err::copy(&src, &dst)?;
        }
    }
    let config_path = copy.join(xtask::config::CONFIG_PATH);
    let text = fs_err::read_to_string(&config_path)?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("parsing {}", config_path.display()))?;
    doc["index"]["url"] = toml_edit::value(CLOSED_INDEX);
    let mut hosts = toml_edit::Array::new();
    hosts.push("127.0.0.1");
    doc["index"]["allowed-hosts"] = toml_edit::value(hosts);
    fs_err::write(&config_path, doc.to_string())?;
    Ok(copy)
}

/// The lines of the copy's `wheels-index/sha256sums.txt` naming a pinned
/// sdist, and the pinned hashes it does not list.
fn pinned_sums(copy: &Path, hashes: &BTreeSet<Sha256>) -> anyhow::Result<(String, Vec<String>)> {
    let list = fs_err::read_to_string(copy.join(INDEX_DIR).join("sha256sums.txt"))?;
    let mut out = String::new();
    let mut found = BTreeSet::new();
    for line in list.lines().filter(|l| !l.starts_with('#')) {
        let Some((hash, path)) = line.split_once("  ") else {
            continue;
        };
        let Ok(sha) = hash.parse::<Sha256>() else {
            continue;
        };
        if hashes.contains(&sha) && found.insert(sha) {
            out.push_str(&format!("{hash}  {path}\n"));
        }
    }
    if found.is_empty() {
        bail!("the index's sha256sums.txt lists none of the pinned sdists");
    }
    let missing = hashes.difference(&found).map(ToString::to_string).collect();
    Ok((out, missing))
}

/// The total size of the files a `sha256sum -c` list names.
fn sdist_bytes(copy: &Path, list: &str) -> u64 {
    list.lines()
        .filter_map(|l| l.split_once("  "))
        .filter_map(|(_, path)| fs_err::metadata(copy.join(INDEX_DIR).join(path)).ok())
        .map(|m| m.len())
        .sum()
}

/// "1.12 MB" (10^6 bytes), "312 kB".
fn size_text(bytes: u64) -> String {
    if bytes >= 1_000_000 {
        format!("{:.2} MB", bytes as f64 / 1e6)
    } else {
        format!("{:.0} kB", bytes as f64 / 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(size_text(1_168_449), "1.17 MB");
        assert_eq!(size_text(313_412), "313 kB");
    }

    #[test]
    fn pinned_sums_keeps_pinned_sdists_only() {
        let dir = tempfile::tempdir().unwrap();
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let c = "c".repeat(64);
        fs_err::create_dir_all(dir.path().join(INDEX_DIR)).unwrap();
        fs_err::write(
            dir.path().join(INDEX_DIR).join("sha256sums.txt"),
            format!("# pinwheel-list: 1\n{a}  files/x-1.tar.gz\n{b}  files/x-1-py3-none-any.whl\n"),
        )
        .unwrap();
        let hashes: BTreeSet<Sha256> = [&a, &c].iter().map(|h| h.parse().unwrap()).collect();
        let (list, missing) = pinned_sums(dir.path(), &hashes).unwrap();
        assert_eq!(list, format!("{a}  files/x-1.tar.gz\n"));
        assert_eq!(missing, vec![c]);
    }
}
