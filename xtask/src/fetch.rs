//! Parallel, streaming-hashed downloads.
//!
//! Each file streams into a temporary file (`.pinwheel-part-*`) beside its
//! destination while it is hashed; its size is checked when the index
//! recorded one; its sha256 is compared with the pin before anything opens
//! the file; only then is it fsynced and renamed into place. A mismatch
//! removes the temporary file. A destination that already holds the right
//! bytes is skipped, so an interrupted run resumes where it stopped; the
//! temporary files an interrupted run left behind are removed by the next
//! one (the caller holds the repository lock). SIGINT during a fetch stops
//! the transfers and removes their temporary files; a second SIGINT exits
//! at once. [`stream_verified`] is that contract on its own, for files that
//! come from elsewhere than HTTP (`sync-wheels` from a local directory).
//!
//! Progress (indicatif): total bytes, and one line per file in flight;
//! hidden when stderr is not a terminal.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use url::Url;

use crate::fresh;
use crate::http::{self, Client, Event, Limits};
use pinwheel_trust::failure;
use pinwheel_trust::hash::{HashingWriter, Sha256};

/// Prefix of the temporary files downloads stream into.
pub const PART_PREFIX: &str = ".pinwheel-part-";

/// One file to fetch.
#[derive(Debug, Clone)]
pub struct Download {
    /// What the progress bar and messages call it (usually the file name).
    pub label: String,
    pub url: Url,
    pub dest: PathBuf,
    pub sha256: Sha256,
    /// The size the index recorded, when it did.
    pub size: Option<u64>,
}

/// How downloads run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Transfers at once.
    pub jobs: usize,
    /// Largest file accepted when the index recorded no size.
    pub cap: u64,
    /// Draw progress bars (still only when stderr is a terminal).
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            jobs: 8,
            cap: 512 * 1024 * 1024,
            progress: true,
        }
    }
}

/// What one download did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The destination already held the right bytes.
    Present,
    /// Downloaded, verified and renamed into place.
    Fetched { bytes: u64 },
}

/// Totals of a [`fetch_all`] run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub present: usize,
    pub fetched: usize,
    pub bytes: u64,
}

/// Fetches every download, `options.jobs` at a time. Every failure is
/// printed; the error names how many failed and is a verification failure
/// (exit 1) when any hash or size did not match.
pub fn fetch_all(
    client: &Client,
    downloads: &[Download],
    options: &Options,
) -> anyhow::Result<Report> {
    let mut dirs: Vec<PathBuf> = downloads
        .iter()
        .map(|d| fresh::parent_dir(&d.dest))
        .collect();
    dirs.sort();
    dirs.dedup();
    for dir in &dirs {
        remove_stale_parts(dir)?;
    }
    let _sigint = SigintGuard::arm();
    let client = client.clone().with_cancel(Arc::clone(&SIGINT_SEEN_FLAG));
    let progress = Progress::new(options.progress, downloads);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<anyhow::Result<Outcome>>>> =
        Mutex::new(downloads.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.clamp(1, downloads.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(download) = downloads.get(i) else {
                    break;
                };
                let result = if SIGINT_SEEN_FLAG.load(Ordering::SeqCst) {
                    Err(anyhow::anyhow!("{}: interrupted", download.label))
                } else {
                    fetch_one(&client, download, options.cap, &progress)
                };
                lock(&results)[i] = Some(result);
            });
        }
    });
    progress.finish();
    let mut report = Report::default();
    let mut failures = Vec::new();
    let mut mismatch = false;
    for result in lock(&results).drain(..).flatten() {
        match result {
            Ok(Outcome::Present) => report.present += 1,
            Ok(Outcome::Fetched { bytes }) => {
                report.fetched += 1;
                report.bytes += bytes;
            }
            Err(err) => {
                mismatch |= failure::exit_code(&err) == 1;
                failures.push(format!("{err:#}"));
            }
        }
    }
    if SIGINT_SEEN_FLAG.load(Ordering::SeqCst) {
        anyhow::bail!(
            "interrupted: {} of {} files fetched; run the command again to resume",
            report.fetched + report.present,
            downloads.len()
        );
    }
    match failures.len() {
        0 => Ok(report),
        1 if !mismatch => Err(anyhow::anyhow!("{}", failures[0])),
        1 => Err(failure::verification_failed(failures.remove(0))),
        n => {
            for f in &failures {
                eprintln!("error: {f}");
            }
            let msg = format!(
                "{n} of {} downloads failed (see above); first: {}",
                downloads.len(),
                failures[0]
            );
            Err(if mismatch {
                failure::verification_failed(msg)
            } else {
                anyhow::anyhow!(msg)
            })
        }
    }
}

/// Fetches one file (see the module docs). Hash or size mismatches are
/// verification failures (exit 1); nothing is left under `dest` or beside
/// it when anything fails.
pub fn fetch_one(
    client: &Client,
    download: &Download,
    cap: u64,
    progress: &Progress,
) -> anyhow::Result<Outcome> {
    let dest = &download.dest;
    if already_present(dest, &download.sha256)? {
        progress.done(
            &download.label,
            "already present",
            download.size.unwrap_or(0),
        );
        return Ok(Outcome::Present);
    }
    let label = &download.label;
    let bar = progress.start(label, download.size);
    let limits = Limits {
        cap,
        expected: download.size,
    };
    let result = stream_verified(dest, label, &download.sha256, download.size, |sink| {
        let fetched = client
            .get(
                &download.url,
                None,
                limits,
                sink,
                &mut |event| match event {
                    Event::Started { content_length } => {
                        bar.started(content_length.or(download.size))
                    }
                    Event::Bytes(n) => bar.bytes(n),
                    Event::Retrying { error, pause } => bar.retrying(error, pause),
                },
            )
            .map_err(|err| match err {
                http::HttpError::LargerThanRecorded { .. } => {
                    failure::verification_failed(format!("{label}: {err}"))
                }
                err => anyhow::Error::new(err).context(format!("{label}: download failed")),
            })?;
        Ok(fetched.url.to_string())
    });
    match result {
        Ok(bytes) => {
            bar.finish_ok();
            progress.done(label, "fetched", 0);
            Ok(Outcome::Fetched { bytes })
        }
        Err(err) => {
            bar.failed();
            Err(err)
        }
    }
}

/// Whether `dest` already holds the bytes pinned by `sha256` (a symbolic
/// link there is refused).
pub fn already_present(dest: &Path, sha256: &Sha256) -> anyhow::Result<bool> {
    fresh::refuse_symlink(dest)?;
    Ok(dest.is_file() && Sha256::of_file(dest)? == *sha256)
}

/// The contract every fetched file goes through, whatever serves it:
/// `fill` streams the bytes into a [`PartSink`] (a temporary file beside
/// `dest`, hashed on the way) and returns what served them (a URL, a
/// path), which the messages name. The file is renamed to `dest` only when
/// its sha256 is `sha256` and, when `size` is given, its length is `size`;
/// then it and its directory are fsynced. A mismatch is a verification
/// failure naming both digests (exit 1). On any failure the temporary file
/// is removed and `dest` is untouched. Returns the length.
pub fn stream_verified(
    dest: &Path,
    label: &str,
    sha256: &Sha256,
    size: Option<u64>,
    fill: impl FnOnce(&mut PartSink) -> anyhow::Result<String>,
) -> anyhow::Result<u64> {
    let dir = fresh::parent_dir(dest);
    fs_err::create_dir_all(&dir)?;
    let tmp = tempfile::Builder::new()
        .prefix(PART_PREFIX)
        .tempfile_in(&dir)
        .with_context(|| format!("{}: cannot create a temporary file", dir.display()))?;
    let file = tmp
        .as_file()
        .try_clone()
        .with_context(|| format!("{}: temporary file", dir.display()))?;
    let mut sink = PartSink {
        writer: Some(HashingWriter::new(BufWriter::with_capacity(
            256 * 1024,
            file,
        ))),
    };
    // On an early return, dropping `tmp` removes the temporary file.
    let origin = fill(&mut sink)?;
    let (digest, len, file) = sink
        .finish()
        .with_context(|| format!("{}: writing", dest.display()))?;
    if let Some(size) = size.filter(|&s| s != len) {
        return Err(failure::verification_failed(format!(
            "{label}: {origin} served {len} bytes, the index recorded {size}; nothing was kept"
        )));
    }
    if digest != *sha256 {
        return Err(failure::verification_failed(format!(
            "{label}: sha256 mismatch: {origin} served {digest}, the pin is {sha256}; nothing was kept"
        )));
    }
    file.sync_all()
        .with_context(|| format!("{}: fsync", dest.display()))?;
    drop(file);
    set_mode(tmp.as_file(), 0o644)?;
    tmp.persist(dest)
        .map_err(|err| anyhow::anyhow!("{}: rename: {}", dest.display(), err.error))?;
    fresh::sync_dir(&dir)?;
    Ok(len)
}

/// Removes the `.pinwheel-part-*` files an interrupted run left in `dir`.
/// Callers hold the repository lock, so no other run is writing them.
pub fn remove_stale_parts(dir: &Path) -> anyhow::Result<usize> {
    let entries = match fs_err::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(err) => return Err(err.into()),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let stale = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(PART_PREFIX));
        if stale && entry.file_type()?.is_file() {
            fs_err::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The temporary file a fetched file streams into, hashed as it is
/// written (see [`stream_verified`]).
pub struct PartSink {
    writer: Option<HashingWriter<BufWriter<File>>>,
}

impl PartSink {
    fn writer(&mut self) -> std::io::Result<&mut HashingWriter<BufWriter<File>>> {
        self.writer
            .as_mut()
            .ok_or_else(|| std::io::Error::other("temporary file already closed"))
    }

    fn finish(mut self) -> std::io::Result<(Sha256, u64, File)> {
        let writer = self
            .writer
            .take()
            .ok_or_else(|| std::io::Error::other("temporary file already closed"))?;
        let (digest, len, buffered) = writer.finish();
        let file = buffered.into_inner().map_err(|err| err.into_error())?;
        Ok((digest, len, file))
    }
}

impl Write for PartSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer()?.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer()?.flush()
    }
}

impl http::Sink for PartSink {
    fn reset(&mut self) -> std::io::Result<()> {
        let Some(writer) = self.writer.take() else {
            return Ok(());
        };
        let (_, _, buffered) = writer.finish();
        let mut file = buffered.into_inner().map_err(|err| err.into_error())?;
        file.set_len(0)?;
        file.rewind()?;
        self.writer = Some(HashingWriter::new(BufWriter::with_capacity(
            256 * 1024,
            file,
        )));
        Ok(())
    }
}

fn set_mode(file: &File, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .context("setting file mode")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Progress bars of one [`fetch_all`] run.
pub struct Progress {
    multi: Option<MultiProgress>,
    total: ProgressBar,
    files: usize,
    done: AtomicUsize,
}

impl Progress {
    /// Bars when `enabled` and stderr is a terminal, nothing otherwise.
    pub fn new(enabled: bool, downloads: &[Download]) -> Progress {
        let visible = enabled && std::io::stderr().is_terminal();
        if !visible {
            return Progress::hidden();
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let known: u64 = downloads.iter().filter_map(|d| d.size).sum();
        let total = multi.add(ProgressBar::new(known));
        total.set_style(
            ProgressStyle::with_template(
                "{prefix:>10} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        total.set_prefix("fetch");
        total.set_message(format!("0/{} files", downloads.len()));
        total.set_length(known);
        Progress {
            multi: Some(multi),
            total,
            files: downloads.len(),
            done: AtomicUsize::new(0),
        }
    }

    /// No output at all.
    pub fn hidden() -> Progress {
        Progress {
            multi: None,
            total: ProgressBar::hidden(),
            files: 0,
            done: AtomicUsize::new(0),
        }
    }

    fn start(&self, label: &str, size: Option<u64>) -> FileBar {
        let Some(multi) = &self.multi else {
            return FileBar {
                bar: ProgressBar::hidden(),
                total: self.total.clone(),
                counted: size.is_some(),
            };
        };
        let bar = multi.add(ProgressBar::new(size.unwrap_or(0)));
        bar.set_style(
            ProgressStyle::with_template("  {msg:40!} {bytes:>10}/{total_bytes:<10}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(label.to_owned());
        FileBar {
            bar,
            total: self.total.clone(),
            counted: size.is_some(),
        }
    }

    fn done(&self, label: &str, what: &str, skipped_bytes: u64) {
        self.total.inc(skipped_bytes);
        let done = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        self.total
            .set_message(format!("{done}/{} files", self.files));
        if let Some(multi) = &self.multi {
            let _ = multi.println(format!("  {what}: {label}"));
        }
    }

    fn finish(&self) {
        self.total.finish_and_clear();
    }
}

struct FileBar {
    bar: ProgressBar,
    total: ProgressBar,
    /// Whether the file's size is already in the total's length.
    counted: bool,
}

impl FileBar {
    fn started(&self, len: Option<u64>) {
        // A retry starts over: take back what the failed attempt counted.
        let already = self.bar.position();
        self.total
            .set_position(self.total.position().saturating_sub(already));
        self.bar.set_position(0);
        if let Some(len) = len {
            self.bar.set_length(len);
            if !self.counted {
                self.total.inc_length(len);
            }
        }
    }

    fn bytes(&self, n: u64) {
        self.bar.inc(n);
        self.total.inc(n);
    }

    fn retrying(&self, error: &http::HttpError, pause: Duration) {
        let short = error.to_string();
        self.bar
            .set_message(format!("retry in {:.1}s: {short}", pause.as_secs_f64()));
    }

    fn finish_ok(&self) {
        self.bar.finish_and_clear();
    }

    fn failed(&self) {
        self.bar.abandon();
    }
}

static SIGINT_ARMED: AtomicUsize = AtomicUsize::new(0);
static SIGINT_INSTALLED: std::sync::Once = std::sync::Once::new();
/// Set by the first SIGINT during a fetch; the HTTP client polls it.
static SIGINT_SEEN_FLAG: std::sync::LazyLock<Arc<AtomicBool>> =
    std::sync::LazyLock::new(|| Arc::new(AtomicBool::new(false)));

/// While alive, the first SIGINT asks transfers to stop (so that their
/// temporary files are removed); a second one, or any SIGINT while no fetch
/// runs, terminates the process as usual. Commands that clean up after an
/// interrupt themselves (build-wheels) hold one for their whole run and poll
/// [`SigintGuard::seen`].
pub struct SigintGuard;

impl SigintGuard {
    /// The flag the first SIGINT sets.
    pub fn seen() -> Arc<AtomicBool> {
        Arc::clone(&SIGINT_SEEN_FLAG)
    }

    pub fn arm() -> SigintGuard {
        SIGINT_INSTALLED.call_once(|| {
            let flag = Arc::clone(&SIGINT_SEEN_FLAG);
            // SAFETY: the action only touches atomics and calls
            // async-signal-safe functions (`_exit`, the default action).
            let installed = unsafe {
                signal_hook::low_level::register(signal_hook::consts::SIGINT, move || {
                    if SIGINT_ARMED.load(Ordering::SeqCst) == 0 || flag.load(Ordering::SeqCst) {
                        let _ = signal_hook::low_level::emulate_default_handler(signal_hook::consts::SIGINT);
                        signal_hook::low_level::exit(130);
                    }
                    flag.store(true, Ordering::SeqCst);
                })
            };
            if let Err(err) = installed {
                eprintln!("warning: cannot handle SIGINT ({err}); an interrupt may leave .pinwheel-part-* files, removed by the next run");
            }
        });
        SIGINT_ARMED.fetch_add(1, Ordering::SeqCst);
        SigintGuard
    }
}

impl Drop for SigintGuard {
    fn drop(&mut self) {
        SIGINT_ARMED.fetch_sub(1, Ordering::SeqCst);
    }
}
