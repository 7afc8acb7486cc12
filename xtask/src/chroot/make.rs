//! Making a chroot with mmdebstrap ([`Making::make`]): the command line,
//! its output into `<cache>/<name>.log` behind a spinner, what a failure
//! means, and the steps after it (python version and package list read
//! inside, written beside `root/`, the `.tmp-` directory renamed into
//! place; a failure at any step removes it).
//!
//! `mmdebstrap --variant=apt --include=… SUITE DIR MIRROR` installs the
//! essential packages, apt and the include list from MIRROR, which apt
//! checks against the host's `/usr/share/keyrings/debian-archive-keyring.gpg`
//! (the `debian-archive-keyring` package): an unsigned or badly signed
//! Release file stops it. It runs with a clean environment (`PATH`,
//! `HOME`, `LC_ALL=C.UTF-8`, plus the caller's `http_proxy`,
//! `https_proxy` and `no_proxy` when set). Build chroots leave out
//! manuals, translations and documentation except copyright files (dpkg
//! `path-exclude`): a build reads none of them.

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use pinwheel_trust::failure;

use super::cache::Spec;
use super::enter::Mode;

/// How many lines of the log a failure shows.
const LOG_TAIL: usize = 15;

/// dpkg options of build chroots: no manuals, translations or documents.
const BUILD_DPKG_OPTIONS: [&str; 6] = [
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/info/*",
];

/// The argv of mmdebstrap that makes `spec` at `dir` from `mirror`, after
/// `prefix` (the user namespace in rootless mode).
pub fn command(mode: Mode, spec: &Spec, dir: &Path, mirror: &str) -> Vec<String> {
    let mut argv: Vec<String> = vec![
        "mmdebstrap".into(),
        mode.mmdebstrap_mode().into(),
        "--variant=apt".into(),
        format!("--architectures={}", spec.architecture),
        format!("--include={}", spec.include.join(",")),
    ];
    if spec.flavor == "build" {
        argv.extend(BUILD_DPKG_OPTIONS.map(|o| format!("--dpkgopt={o}")));
    }
    argv.extend([
        spec.suite.clone(),
        dir.display().to_string(),
        mirror.to_owned(),
    ]);
    argv
}

/// Why mmdebstrap failed, read from its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// apt refused the archive's signature: the line that says so.
    Unverified(String),
    /// apt could not fetch from the mirror: the line that says so.
    Unreachable(String),
    Other,
}

/// Classifies a failed mmdebstrap run by its output. A signature problem
/// wins over a fetch problem (an unsigned archive also lacks files).
pub fn classify(log: &str) -> Failure {
    const UNVERIFIED: [&str; 8] = [
        "is not signed",
        "NO_PUBKEY",
        "BADSIG",
        "EXPKEYSIG",
        "signatures couldn't be verified",
        "signatures were invalid",
        "Clearsigned file isn't valid",
        "Hash Sum mismatch",
    ];
    const UNREACHABLE: [&str; 8] = [
        "Failed to fetch",
        "Could not connect",
        "Unable to connect",
        "Connection refused",
        "Temporary failure resolving",
        "Could not resolve",
        "does not have a Release file",
        "Failed to connect",
    ];
    let find = |needles: &[&str]| {
        log.lines()
            .find(|line| needles.iter().any(|n| line.contains(n)))
            .map(|line| line.trim().to_owned())
    };
    if let Some(line) = find(&UNVERIFIED) {
        Failure::Unverified(line)
    } else if let Some(line) = find(&UNREACHABLE) {
        Failure::Unreachable(line)
    } else {
        Failure::Other
    }
}

/// Runs `argv` (mmdebstrap, possibly behind `unshare`), its output into
/// `log`, with a spinner on a terminal. Returns whether it succeeded.
pub fn run(argv: &[String], log: &Path, label: &str) -> anyhow::Result<bool> {
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), super::enter::SYSTEM_PATH.into()),
        ("LC_ALL".into(), "C.UTF-8".into()),
        (
            "HOME".into(),
            std::env::var("HOME").unwrap_or_else(|_| "/".into()),
        ),
    ];
    for key in ["http_proxy", "https_proxy", "no_proxy"] {
        if let Ok(value) = std::env::var(key) {
            env.push((key.into(), value));
        }
    }
    let spinner = spinner(label);
    let reader = duct::cmd(&argv[0], &argv[1..])
        .full_env(env)
        .stdin_null()
        .stderr_to_stdout()
        .unchecked()
        .reader()
        .with_context(|| format!("cannot run {}", argv.join(" ")))?;
    let mut file = std::io::BufWriter::new(fs_err::File::create(log)?);
    writeln!(file, "$ {}", argv.join(" "))
        .with_context(|| format!("{}: writing", log.display()))?;
    for line in BufReader::new(&reader).split(b'\n') {
        let line = line.context("reading mmdebstrap's output")?;
        let line = String::from_utf8_lossy(&line);
        writeln!(file, "{line}").with_context(|| format!("{}: writing", log.display()))?;
        if let Some(step) = line.strip_prefix("I: ") {
            spinner.set_message(step.chars().take(70).collect::<String>());
        }
    }
    file.flush()
        .with_context(|| format!("{}: writing", log.display()))?;
    let output = reader.try_wait()?.context("mmdebstrap did not finish")?;
    spinner.finish_and_clear();
    Ok(output.status.success())
}

fn spinner(label: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{spinner} {prefix} {elapsed} {wide_msg}")
    {
        bar.set_style(style);
    }
    bar.set_prefix(label.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Prints the last lines of the log to stderr.
pub fn show_tail(log: &Path) {
    let lines: Vec<String> = match fs_err::File::open(log) {
        Ok(file) => BufReader::new(file).lines().map_while(Result::ok).collect(),
        Err(_) => return,
    };
    let start = lines.len().saturating_sub(LOG_TAIL);
    eprintln!(
        "---- mmdebstrap's log (last {} lines of {}) ----",
        lines.len() - start,
        log.display()
    );
    for line in &lines[start..] {
        eprintln!("{line}");
    }
    eprintln!("---- end of mmdebstrap's log ----");
}

/// Everything making one chroot needs.
pub struct Making<'a> {
    pub cache: &'a Path,
    pub spec: &'a Spec,
    pub name: &'a str,
    pub target: &'a crate::config::Target,
    pub mode: Mode,
    pub unshare: &'a Path,
    pub mnt: &'a Path,
}

impl Making<'_> {
    /// Makes the chroot under `.tmp-<name>-<random>/` and renames it to
    /// `dir` once mmdebstrap succeeded and its python version and package
    /// list are written. A failure leaves nothing behind.
    pub fn make(&self, dir: &Path) -> anyhow::Result<()> {
        let tmp = self.cache.join(format!(
            "{}{}-{:016x}",
            super::cache::TMP_PREFIX,
            self.name,
            rand::random::<u64>()
        ));
        fs_err::create_dir(&tmp)?;
        let mut guard = super::cache::RemoveOnDrop {
            dir: Some(tmp.clone()),
            mode: self.mode,
            unshare: self.unshare,
        };
        let base = tmp.join("root");
        let log = self.cache.join(format!("{}.log", self.name));
        // mmdebstrap mounts /proc, /sys and device files inside the new
        // chroot: in a mount namespace of its own, so that none outlives it
        // if it is killed (root mode would mount them on the host's).
        let mut argv: Vec<String> = vec![self.unshare.display().to_string()];
        match self.mode {
            Mode::Root => argv.push("--mount".into()),
            Mode::Rootless => argv.extend(self.mode.userns().iter().map(|s| s.to_string())),
        }
        argv.push("--".into());
        argv.extend(command(self.mode, self.spec, &base, &self.target.mirror));
        let what = match self.spec.flavor {
            "build" => format!("the {} chroot", self.target.name),
            flavor => format!("the {} {flavor} chroot", self.target.name),
        };
        eprintln!("making {what} (mmdebstrap, about a minute)…");
        let started = std::time::Instant::now();
        if !run(&argv, &log, &format!("mmdebstrap {}", self.spec.suite))? {
            drop(guard);
            show_tail(&log);
            let text = fs_err::read_to_string(&log).unwrap_or_default();
            let target = &self.target.name;
            let mirror = &self.target.mirror;
            return Err(match classify(&text) {
                Failure::Unverified(line) => failure::verification_failed(format!(
                    "target {target}: apt refused the Debian archive at {mirror} \
                     (checked with the host's debian-archive-keyring): {line}; log: {}",
                    log.display()
                )),
                Failure::Unreachable(line) => anyhow::anyhow!(
                    "target {target}: cannot fetch the {} chroot from the Debian archive at {mirror}: {line}; log: {}",
                    self.spec.suite,
                    log.display()
                ),
                Failure::Other => anyhow::anyhow!(
                    "target {target}: mmdebstrap failed making {what} from {mirror}; log: {}",
                    log.display()
                ),
            });
        }
        let entry = super::enter::Entry {
            mode: self.mode,
            unshare: self.unshare,
            mnt: self.mnt,
            base: &base,
        };
        let python = super::enter::python_version(&entry)?;
        let listed = super::enter::run_inside(
            &entry,
            "dpkg-query",
            &["-W", "-f", super::packages::DPKG_QUERY_FORMAT],
        )?;
        let installed = super::packages::parse_dpkg_query(&listed)
            .with_context(|| format!("listing the packages of {what}"))?;
        write_synced(
            &tmp.join("packages.txt"),
            &super::packages::render(&installed),
        )?;
        write_synced(&tmp.join("python-version"), &format!("{python}\n"))?;
        crate::fresh::sync_dir(&tmp)?;
        fs_err::rename(&tmp, dir)?;
        guard.disarm();
        crate::fresh::sync_dir(self.cache)?;
        eprintln!(
            "made {what} in {} s: {}",
            started.elapsed().as_secs(),
            dir.display()
        );
        Ok(())
    }
}

fn write_synced(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut file = fs_err::File::create(path)?;
    std::io::Write::write_all(&mut file, text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn command_line() {
        let flavor = super::super::Flavor::Build {
            extra: BTreeSet::from(["debhelper-compat".to_owned()]),
        };
        let spec = Spec::new("trixie", "amd64", &flavor);
        let argv = command(
            Mode::Root,
            &spec,
            Path::new("/c/.tmp-x/root"),
            "http://deb.debian.org/debian",
        );
        assert_eq!(
            argv[..4],
            [
                "mmdebstrap",
                "--mode=root",
                "--variant=apt",
                "--architectures=amd64"
            ]
        );
        assert!(argv[4].starts_with("--include=build-essential,debhelper,debhelper-compat,"));
        assert!(argv.contains(&"--dpkgopt=path-exclude=/usr/share/doc/*".to_owned()));
        assert_eq!(
            argv[argv.len() - 3..],
            ["trixie", "/c/.tmp-x/root", "http://deb.debian.org/debian"]
        );
        let runtime = Spec::new(
            "trixie",
            "amd64",
            &super::super::Flavor::Runtime {
                extra: Default::default(),
            },
        );
        let argv = command(Mode::Rootless, &runtime, Path::new("/d"), "http://m/debian");
        assert_eq!(argv[1], "--mode=unshare");
        assert_eq!(argv[4], "--include=python3");
        assert!(
            !argv.iter().any(|a| a.starts_with("--dpkgopt")),
            "runtime chroots keep documentation"
        );
    }

    #[test]
    fn failures() {
        let refused = "I: running apt-get update...\nE: Failed to fetch http://127.0.0.1:9/debian/dists/bookworm/InRelease  Could not connect to 127.0.0.1:9 (127.0.0.1). - connect (111: Connection refused)\nE: apt-get update -oAPT::Status-Fd=<$fd> -oDpkg::Use-Pty=false failed\n";
        assert!(matches!(classify(refused), Failure::Unreachable(l) if l.contains("127.0.0.1:9")));
        let resolving = "Err:1 http://nowhere.invalid/debian bookworm InRelease\n  Temporary failure resolving 'nowhere.invalid'\n";
        assert!(matches!(classify(resolving), Failure::Unreachable(_)));
        let unsigned = "E: The repository 'http://127.0.0.1:4000/debian bookworm Release' is not signed.\nE: Failed to fetch x\n";
        assert!(
            matches!(classify(unsigned), Failure::Unverified(l) if l.contains("is not signed"))
        );
        let badsig = "W: GPG error: http://m bookworm InRelease: The following signatures were invalid: BADSIG 6ED0E7B82643E131\n";
        assert!(matches!(classify(badsig), Failure::Unverified(_)));
        assert_eq!(
            classify("E: Unable to locate package nosuch\n"),
            Failure::Other
        );
    }
}
