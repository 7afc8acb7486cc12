//! `cargo xtask refresh-index [--index DIR] [--check]`: regenerates every
//! generated file of the static index (default `wheels-index/`) from the
//! distributions present in `DIR/files/`:
//!
//! - `simple/index.html`, `simple/<project>/index.html` (PEP 503) and
//!   `json/index.json`, `json/<project>/index.json` (PEP 691), see
//!   [`pinwheel_pypa::index_pages`];
//! - `files/<wheel>.metadata`, the PEP 658 sidecar: exactly the wheel's
//!   `METADATA`;
//! - `sha256sums.txt`: every file under `DIR` except the list and its
//!   `.asc`, keeping the list's signed header (`version`, `expires`,
//!   `scope`). A new list gets the unsigned header (version 0, expired,
//!   scope from `trust.scope`); `cargo xtask sign` writes the real one.
//!
//! Stale generated files are removed, and so are the temporary files
//! (`.pinwheel-tmp-*`, `.pinwheel-part-*`) of a run that was killed: the
//! repository lock guarantees that no run is still writing them. A second
//! run changes nothing. With
//! `--check` nothing is written: stale files are listed (with diffs) and
//! the exit code is 1. Anything unexpected in the index (a file that is
//! neither a wheel, an sdist nor ours, a symbolic link, a directory inside
//! `files/`) is an error, so nothing unreviewed ends up in the signed list.
//!
//! Fast: files are hashed in parallel (rayon); a wheel's METADATA is read
//! from its sidecar instead of the zip when the previous list shows that
//! both the wheel and the sidecar are unchanged.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use crate::build_wheels::manifest::FILE_NAME as BUILT_FROM;
use crate::config::Config;
use crate::fresh::{self, Mode, Outcome};
use pinwheel_archive::wheel::{self, WheelMetadata};
use pinwheel_pypa::index_pages::{self, Dist};
use pinwheel_pypa::sdist_filename::{SdistFilename, SdistFormat};
use pinwheel_pypa::wheel_filename::WheelFilename;
use pinwheel_trust::hash::Sha256;
use pinwheel_trust::sha256sums::{ListMeta, SignedList, LIST_FILE, SIGNATURE_FILE};

/// The index directory, relative to the repository root.
pub const DEFAULT_INDEX: &str = "wheels-index";

/// The command line of `cargo xtask refresh-index`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The index directory (default: wheels-index/ under the root).
    #[arg(long, value_name = "DIR")]
    pub index: Option<PathBuf>,
    /// Write nothing; exit 1 if any generated file is out of date.
    #[arg(long)]
    pub check: bool,
}

impl Args {
    /// Runs the command.
    pub fn run(self, root: &Path) -> anyhow::Result<()> {
        let mode = if self.check { Mode::Check } else { Mode::Write };
        run(
            root,
            &Options {
                index: self.index,
                mode,
            },
        )?;
        Ok(())
    }
}

/// What `refresh-index` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// The index directory (default `<root>/wheels-index`).
    pub index: Option<PathBuf>,
    pub mode: Mode,
}

/// What a run found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Wheels and sdists in `files/`.
    pub distributions: usize,
    pub projects: usize,
    /// Index-relative paths written (or, with `--check`, out of date).
    pub changed: Vec<String>,
    /// Index-relative paths removed (or, with `--check`, to remove).
    pub removed: Vec<String>,
}

/// Runs the command under the repository lock and prints a summary.
pub fn run(root: &Path, options: &Options) -> anyhow::Result<Report> {
    let _lock = fresh::RepoLock::acquire(root)?;
    let index = options
        .index
        .clone()
        .unwrap_or_else(|| root.join(DEFAULT_INDEX));
    let report = refresh(&index, options.mode, || Ok(Config::load(root)?.trust.scope))?;
    let label = index.display();
    match options.mode {
        Mode::Write => {
            eprintln!(
                "{label}: {} distribution(s) of {} project(s); {} files written, {} removed",
                report.distributions,
                report.projects,
                report.changed.len(),
                report.removed.len()
            );
            if report.changed.iter().any(|p| p == LIST_FILE) && index.join(SIGNATURE_FILE).exists()
            {
                eprintln!("note: {LIST_FILE} changed, so its signatures no longer match; run `cargo xtask sign`");
            }
        }
        Mode::Check => {
            if !report.changed.is_empty() || !report.removed.is_empty() {
                let mut stale: Vec<&str> = report.changed.iter().map(String::as_str).collect();
                stale.extend(report.removed.iter().map(String::as_str));
                return Err(pinwheel_trust::failure::stale(format!(
                    "{label}: {} generated files are out of date ({}); run `cargo xtask refresh-index`",
                    stale.len(),
                    abbreviate(&stale)
                )));
            }
        }
    }
    Ok(report)
}

fn abbreviate(paths: &[&str]) -> String {
    let mut s = paths.iter().take(5).copied().collect::<Vec<_>>().join(", ");
    if paths.len() > 5 {
        s.push_str(&format!(", and {} more", paths.len() - 5));
    }
    s
}

/// What one walk of the index found.
#[derive(Default)]
struct Tree {
    /// File names in `files/` that are wheels or sdists.
    dists: Vec<String>,
    /// Sidecars present in `files/` (index-relative paths).
    sidecars: BTreeSet<String>,
    /// Files present under `simple/` and `json/` (index-relative paths).
    pages: BTreeSet<String>,
    /// Directories under `simple/` and `json/`, deepest last.
    page_dirs: Vec<String>,
    /// Temporary files a killed run left at the top or in `files/`
    /// (index-relative): removed, since the repository lock says no run is
    /// writing them.
    leftovers: BTreeSet<String>,
    /// `built-from.toml`, when `build-wheels` wrote one: which sdist each
    /// wheel was built from. Listed (and so signed) like a distribution.
    provenance: Option<String>,
}

/// Regenerates the index in `index`; `scope` is asked only when there is no
/// list yet.
pub fn refresh(
    index: &Path,
    mode: Mode,
    scope: impl FnOnce() -> anyhow::Result<String>,
) -> anyhow::Result<Report> {
    let list_path = index.join(LIST_FILE);
    // Listing the index and parsing the old list are independent: overlap
    // them.
    let (tree, old_list) = rayon::join(|| walk(index), || read_list(&list_path));
    let (tree, old_list) = (tree?, old_list?);
    let old_entries = old_list.as_ref().map(|l| &l.entries);

    let scanned = scan(index, &tree.dists, old_entries)?;
    let mut dists: Vec<Dist> = Vec::with_capacity(scanned.len());
    let mut generated: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (dist, metadata) in scanned {
        if let Some(metadata) = metadata {
            generated.insert(index_pages::sidecar_path(&dist.filename), metadata);
        }
        dists.push(dist);
    }
    generated.extend(index_pages::render(&dists));

    // Render the list before writing anything: a path it refuses (say two
    // files that differ only in case) must leave the index untouched.
    let meta = match old_list {
        Some(list) => list.meta,
        None => ListMeta::unsigned(&scope()?),
    };
    let mut entries: BTreeMap<String, Sha256> = dists
        .iter()
        .map(|d| (format!("files/{}", d.filename), d.sha256))
        .collect();
    let hashed: Vec<(String, Sha256)> = generated
        .par_iter()
        .map(|(path, bytes)| (path.clone(), Sha256::of(bytes)))
        .collect();
    entries.extend(hashed);
    if let Some(name) = &tree.provenance {
        entries.insert(name.clone(), Sha256::of_file(&index.join(name))?);
    }
    let list = SignedList { meta, entries }
        .render()
        .map_err(|e| anyhow::anyhow!("{}: {e}", list_path.display()))?;

    let mut report = Report {
        distributions: dists.len(),
        projects: dists
            .iter()
            .map(|d| &d.project)
            .collect::<BTreeSet<_>>()
            .len(),
        ..Report::default()
    };
    report.changed = write_all(index, &generated, mode)?;
    let stale: Vec<&String> = tree
        .sidecars
        .iter()
        .chain(&tree.pages)
        .filter(|p| !generated.contains_key(p.as_str()))
        .chain(&tree.leftovers)
        .collect();
    for path in &stale {
        if mode == Mode::Write {
            fs_err::remove_file(index.join(path))?;
        }
        report.removed.push((*path).clone());
    }
    if mode == Mode::Write {
        for dir in tree.page_dirs.iter().rev() {
            // Only empty directories go; a non-empty one stays.
            let _ = std::fs::remove_dir(index.join(dir));
        }
    }
    // The list last: it never names a page that is not there yet.
    if fresh::ensure_file_contents(&list_path, list.as_bytes(), mode)? == Outcome::Changed {
        report.changed.push(LIST_FILE.to_owned());
    }
    Ok(report)
}

/// The existing list, strictly parsed; `None` when there is none yet.
fn read_list(list_path: &Path) -> anyhow::Result<Option<SignedList>> {
    match fs_err::read(list_path) {
        Ok(bytes) => Ok(Some(SignedList::parse(&bytes).map_err(|e| {
            anyhow::anyhow!(
                "{}: {e}; fix it or restore it from git (a new list is only written where none exists)",
                list_path.display()
            )
        })?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Lists the index, refusing anything pinwheel did not put there.
fn walk(index: &Path) -> anyhow::Result<Tree> {
    let mut tree = Tree::default();
    let meta = fs_err::symlink_metadata(index)
        .context("no index here; build one with `cargo xtask build-wheels`")?;
    if !meta.is_dir() {
        bail!("{}: not a directory", index.display());
    }
    let files_dir = index.join("files");
    if !files_dir.is_dir() {
        bail!(
            "{}: no such directory; build wheels with `cargo xtask build-wheels`",
            files_dir.display()
        );
    }
    for (name, kind) in read_dir(index)? {
        if kind == Kind::File && is_leftover(&name) {
            tree.leftovers.insert(name);
            continue;
        }
        match (name.as_str(), kind) {
            ("files", Kind::Dir) => {}
            ("simple" | "json", Kind::Dir) => walk_pages(index, &name, &mut tree)?,
            (LIST_FILE | SIGNATURE_FILE, Kind::File) => {}
            (BUILT_FROM, Kind::File) => tree.provenance = Some(name),
            _ => bail!(
                "{}: unexpected {} in the index (it holds only files/, simple/, json/, {BUILT_FROM}, {LIST_FILE} and {SIGNATURE_FILE}); remove it",
                index.join(&name).display(),
                kind.describe()
            ),
        }
    }
    for (name, kind) in read_dir(&files_dir)? {
        let path = files_dir.join(&name);
        if kind != Kind::File {
            bail!(
                "{}: unexpected {} in files/ (only wheels and sdists belong there); remove it",
                path.display(),
                kind.describe()
            );
        }
        if is_leftover(&name) {
            tree.leftovers.insert(format!("files/{name}"));
        } else if name.ends_with(".whl.metadata") {
            tree.sidecars.insert(format!("files/{name}"));
        } else if name.ends_with(".whl") || SdistFormat::of(&name).is_some() {
            tree.dists.push(name);
        } else {
            bail!(
                "{}: not a wheel or an sdist; remove it from the index",
                path.display()
            );
        }
    }
    tree.dists.sort();
    Ok(tree)
}

/// A temporary file of an interrupted write (`fresh`) or download (`fetch`).
fn is_leftover(name: &str) -> bool {
    name.starts_with(fresh::TEMP_PREFIX) || name.starts_with(crate::fetch::PART_PREFIX)
}

fn walk_pages(index: &Path, rel: &str, tree: &mut Tree) -> anyhow::Result<()> {
    // One directory per project: list them in parallel.
    let (files, dirs) = list_pages(index, rel)?;
    tree.page_dirs.push(rel.to_owned());
    tree.pages.extend(files);
    let subtrees: anyhow::Result<Vec<Tree>> = dirs
        .par_iter()
        .map(|dir| {
            let mut sub = Tree::default();
            walk_pages(index, dir, &mut sub)?;
            Ok(sub)
        })
        .collect();
    for sub in subtrees? {
        tree.page_dirs.extend(sub.page_dirs);
        tree.pages.extend(sub.pages);
    }
    Ok(())
}

/// The files and directories directly under `index/rel`.
fn list_pages(index: &Path, rel: &str) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let (mut files, mut dirs) = (Vec::new(), Vec::new());
    for (name, kind) in read_dir(&index.join(rel))? {
        let child = format!("{rel}/{name}");
        match kind {
            Kind::Dir => dirs.push(child),
            Kind::File => files.push(child),
            Kind::Other(_) => bail!(
                "{}: unexpected {} among the generated pages; remove it",
                index.join(&child).display(),
                kind.describe()
            ),
        }
    }
    Ok((files, dirs))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Other(&'static str),
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Dir => "directory",
            Kind::Other(what) => what,
        }
    }
}

/// A directory's entries (not following links), sorted by name.
fn read_dir(dir: &Path) -> anyhow::Result<Vec<(String, Kind)>> {
    let mut out = Vec::new();
    for entry in fs_err::read_dir(dir)? {
        let entry = entry.with_context(|| format!("{}: reading the directory", dir.display()))?;
        let name = entry
            .file_name()
            .into_string()
            .map_err(|n| anyhow::anyhow!("{}: file name {n:?} is not UTF-8", dir.display()))?;
        let ft = entry
            .file_type()
            .with_context(|| format!("{}", entry.path().display()))?;
        let kind = if ft.is_symlink() {
            Kind::Other("symbolic link")
        } else if ft.is_dir() {
            Kind::Dir
        } else if ft.is_file() {
            Kind::File
        } else {
            Kind::Other("special file")
        };
        out.push((name, kind));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Hashes every distribution in parallel and reads each wheel's METADATA
/// (from its sidecar when the old list shows both unchanged).
fn scan(
    index: &Path,
    names: &[String],
    old: Option<&BTreeMap<String, Sha256>>,
) -> anyhow::Result<Vec<(Dist, Option<Vec<u8>>)>> {
    // Wheels first: their names settle which project an ambiguous sdist
    // name (`foo-1.0-1.tar.gz`) belongs to.
    let mut wheels = BTreeMap::new();
    for name in names.iter().filter(|n| n.ends_with(".whl")) {
        let parsed: WheelFilename = name
            .parse()
            .with_context(|| format!("{}", index.join("files").display()))?;
        wheels.insert(name.clone(), parsed);
    }
    let projects: BTreeSet<_> = wheels.values().map(|w| w.name.clone()).collect();
    let mut sdists = BTreeMap::new();
    for name in names.iter().filter(|n| !n.ends_with(".whl")) {
        let parsed = SdistFilename::parse(name).or_else(|err| {
            let mut matches = projects
                .iter()
                .filter_map(|p| SdistFilename::parse_for(name, p).ok());
            match (matches.next(), matches.next()) {
                (Some(one), None) => Ok(one),
                _ => Err(err),
            }
        });
        sdists.insert(
            name.clone(),
            parsed.with_context(|| format!("{}", index.join("files").display()))?,
        );
    }

    let bar = progress(names.len() as u64);
    let scanned: anyhow::Result<Vec<(Dist, Option<Vec<u8>>)>> = names
        .par_iter()
        .map(|name| {
            let path = index.join("files").join(name);
            let (sha256, size) = hash_file(&path)?;
            let result = if let Some(w) = wheels.get(name) {
                let metadata = wheel_metadata(index, name, w, sha256, old)?;
                let dist = Dist {
                    filename: name.clone(),
                    project: w.name.clone(),
                    version: w.version.clone(),
                    sha256,
                    size,
                    requires_python: metadata.requires_python,
                    core_metadata: Some(Sha256::of(&metadata.raw)),
                };
                (dist, Some(metadata.raw))
            } else {
                let s = &sdists[name];
                let dist = Dist {
                    filename: name.clone(),
                    project: s.name.clone(),
                    version: s.version.clone(),
                    sha256,
                    size,
                    requires_python: None,
                    core_metadata: None,
                };
                (dist, None)
            };
            bar.inc(1);
            Ok(result)
        })
        .collect();
    bar.finish_and_clear();
    scanned
}

/// The sha256 and size of a file.
fn hash_file(path: &Path) -> anyhow::Result<(Sha256, u64)> {
    let file = fs_err::File::open(path)?;
    Ok(Sha256::of_reader(file)?)
}

/// A wheel's METADATA: from the sidecar when the previous list names this
/// exact wheel and this exact sidecar, otherwise out of the wheel.
fn wheel_metadata(
    index: &Path,
    name: &str,
    filename: &WheelFilename,
    sha256: Sha256,
    old: Option<&BTreeMap<String, Sha256>>,
) -> anyhow::Result<WheelMetadata> {
    let sidecar = index_pages::sidecar_path(name);
    let listed = |p: &str| old.and_then(|o| o.get(p)).copied();
    if listed(&format!("files/{name}")) == Some(sha256) {
        if let Some(want) = listed(&sidecar) {
            if let Ok(raw) = fs_err::read(index.join(&sidecar)) {
                if Sha256::of(&raw) == want {
                    if let Ok(m) = wheel::parse_metadata(raw) {
                        if m.name == filename.name && m.version == filename.version {
                            return Ok(m);
                        }
                    }
                }
            }
        }
    }
    let path = index.join("files").join(name);
    let file = fs_err::File::open(&path)?;
    let m = wheel::read_metadata(file, &path.display().to_string())?;
    if m.name != filename.name || m.version != filename.version {
        bail!(
            "{}: METADATA says {} {}, the file name says {} {}",
            path.display(),
            m.name,
            m.version,
            filename.name,
            filename.version
        );
    }
    Ok(m)
}

/// Writes (or checks) every generated file; returns those that changed.
fn write_all(
    index: &Path,
    generated: &BTreeMap<String, Vec<u8>>,
    mode: Mode,
) -> anyhow::Result<Vec<String>> {
    let files: Vec<(PathBuf, &[u8])> = generated
        .iter()
        .map(|(path, bytes)| (index.join(path), bytes.as_slice()))
        .collect();
    let changed = fresh::ensure_many(&files, mode)?;
    // Back to index-relative paths (ensure_many keeps the input order).
    let changed: BTreeSet<PathBuf> = changed.into_iter().collect();
    Ok(generated
        .keys()
        .filter(|p| changed.contains(&index.join(p)))
        .cloned()
        .collect())
}

fn progress(len: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("hashing {pos}/{len} files {wide_bar}") {
        bar.set_style(style);
    }
    bar
}
