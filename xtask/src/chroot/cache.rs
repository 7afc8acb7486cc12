//! The chroot cache directory: names, keys, locks, and the states a
//! chroot can be found in.
//!
//! ```text
//! <cache>/<suite>-<arch>-<flavor>-<key12>/root/           the file system
//!                                        /packages.txt    name=version, sorted
//!                                        /python-version  e.g. "3.11.2\n"
//! <cache>/<name>.lock                     flock'd while made or used; never removed
//! <cache>/<name>.mnt/                     empty; each namespace mounts its tmpfs here
//! <cache>/<name>.log                      mmdebstrap's output of the last make
//! <cache>/.tmp-<name>-<random>/           a chroot being made (same layout)
//! ```
//!
//! `key12` is the first 12 hex digits of the sha256 of [`Spec::key_text`]:
//! suite, architecture, flavor, the sorted include list and [`FORMAT`] —
//! not the mirror (apt checks the archive with Debian's keyring wherever
//! it comes from, and a cached chroot is used with the mirror down).
//!
//! States, each decided under the name's lock:
//! - `<name>/` with `root/`, `packages.txt` and `python-version`: complete
//!   (it only gets that name by a rename after all three were written).
//! - `<name>/` missing any of them: not made by pinwheel (a copy, a
//!   restore, a hand edit); removed and made again.
//! - `.tmp-<name>-*`: left by a run that was killed; nobody else can be
//!   making `<name>` while we hold its lock, so it is removed, never used.
//! - `<suite>-<arch>-<flavor>-<other key>/`: replaced when a chroot of the
//!   same suite, architecture and flavor is made (its lock taken first;
//!   one in use is left for its next maker).

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::enter::Mode;
use super::Flavor;

/// pinwheel's chroot format: bump it when what a chroot holds changes
/// without its include list changing (mmdebstrap options, dpkg excludes,
/// the files beside `root/`). Part of every key.
pub const FORMAT: u32 = 1;

/// Prefix of chroots being made.
pub const TMP_PREFIX: &str = ".tmp-";

/// What `mmdebstrap --include` installs in the Build flavor besides
/// `extra`, on top of `--variant=apt`.
pub const BUILD_PACKAGES: [&str; 10] = [
    "build-essential",
    "debhelper",
    "dpkg-dev",
    "fakeroot",
    "faketime",
    "python3",
    "python3-dev",
    "python3-pip",
    "python3-pip-whl",
    "python3-venv",
];

/// What the Runtime flavor installs on top of `--variant=apt`.
pub const RUNTIME_PACKAGES: [&str; 1] = ["python3"];

/// One chroot as mmdebstrap makes it: everything its key covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub suite: String,
    pub architecture: String,
    pub flavor: &'static str,
    /// Sorted, each once.
    pub include: Vec<String>,
}

impl Spec {
    pub fn new(suite: &str, architecture: &str, flavor: &Flavor) -> Spec {
        let (name, base, extra): (&'static str, &[&str], Option<&BTreeSet<String>>) = match flavor {
            Flavor::Build { extra } => ("build", &BUILD_PACKAGES, Some(extra)),
            Flavor::Runtime { extra } => ("runtime", &RUNTIME_PACKAGES, Some(extra)),
        };
        let include: BTreeSet<String> = base
            .iter()
            .map(|s| s.to_string())
            .chain(extra.into_iter().flatten().cloned())
            .collect();
        Spec {
            suite: suite.to_owned(),
            architecture: architecture.to_owned(),
            flavor: name,
            include: include.into_iter().collect(),
        }
    }

    /// The text whose sha256 is the key.
    pub fn key_text(&self) -> String {
        format!(
            "pinwheel chroot format {FORMAT}\nsuite {}\narchitecture {}\nflavor {}\ninclude {}\n",
            self.suite,
            self.architecture,
            self.flavor,
            self.include.join(",")
        )
    }

    /// `<suite>-<arch>-<flavor>-`: what every key of this chroot's kind
    /// starts with.
    pub fn kind(&self) -> String {
        format!("{}-{}-{}-", self.suite, self.architecture, self.flavor)
    }

    /// `<suite>-<arch>-<flavor>-<key12>`.
    pub fn name(&self) -> String {
        let key = pinwheel_trust::hash::Sha256::of(self.key_text().as_bytes()).hex();
        format!("{}{}", self.kind(), &key[..12])
    }
}

/// Whether `entry` (a file name in the cache) is a chroot of `kind` with
/// another key than `name`'s.
pub fn is_replaced(entry: &str, kind: &str, name: &str) -> bool {
    entry != name
        && entry.strip_prefix(kind).is_some_and(|key| {
            key.len() == 12
                && key
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        })
}

/// What was found at `<cache>/<name>/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Missing,
    Complete,
    /// Names the first missing part.
    Incomplete(&'static str),
}

/// The state of the chroot directory `dir`.
pub fn found(dir: &Path) -> Found {
    if fs_err::symlink_metadata(dir).is_err() {
        return Found::Missing;
    }
    for (part, want_dir) in [
        ("root", true),
        ("packages.txt", false),
        ("python-version", false),
    ] {
        let ok = fs_err::symlink_metadata(dir.join(part)).is_ok_and(|m| {
            if want_dir {
                m.is_dir()
            } else {
                m.is_file()
            }
        });
        if !ok {
            return Found::Incomplete(part);
        }
    }
    Found::Complete
}

/// An exclusive lock on `<cache>/<name>.lock`, held until dropped.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// Whether the lock was free or we waited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Took {
    AtOnce,
    AfterWaiting,
}

/// Takes `<cache>/<name>.lock`; when another holds it, calls `waiting`
/// once and blocks until it is free.
pub fn lock(cache: &Path, name: &str, waiting: impl FnOnce(&Path)) -> anyhow::Result<(Lock, Took)> {
    let path = cache.join(format!("{name}.lock"));
    let file = open_lock(&path)?;
    match file.try_lock() {
        Ok(()) => Ok((Lock { _file: file }, Took::AtOnce)),
        Err(std::fs::TryLockError::WouldBlock) => {
            waiting(&path);
            file.lock()
                .with_context(|| format!("{}: lock", path.display()))?;
            Ok((Lock { _file: file }, Took::AfterWaiting))
        }
        Err(std::fs::TryLockError::Error(err)) => {
            Err(err).with_context(|| format!("{}: lock", path.display()))
        }
    }
}

/// Takes `<cache>/<name>.lock` if it is free.
pub fn try_lock(cache: &Path, name: &str) -> anyhow::Result<Option<Lock>> {
    let path = cache.join(format!("{name}.lock"));
    let file = open_lock(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(Lock { _file: file })),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(err)) => {
            Err(err).with_context(|| format!("{}: lock", path.display()))
        }
    }
}

fn open_lock(path: &Path) -> anyhow::Result<File> {
    Ok(fs_err::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?
        .into_parts()
        .0)
}

/// The `.tmp-<name>-*` directories under `cache`.
pub fn temporaries(cache: &Path, name: &str) -> anyhow::Result<Vec<PathBuf>> {
    let prefix = format!("{TMP_PREFIX}{name}-");
    let mut out = Vec::new();
    for entry in fs_err::read_dir(cache)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Removes a directory tree made by mmdebstrap. As root directly; as
/// another user inside the user namespace that owns its files.
pub fn remove_tree(mode: Mode, unshare: &Path, dir: &Path) -> anyhow::Result<()> {
    if fs_err::symlink_metadata(dir).is_err() {
        return Ok(());
    }
    match mode {
        Mode::Root => {
            // Never descend into a file system mounted below: a bind of a
            // host directory would be emptied.
            let text = fs_err::read_to_string("/proc/self/mountinfo")?;
            if let Some(mount) = mount_points(&text).into_iter().find(|m| m.starts_with(dir)) {
                anyhow::bail!(
                    "{}: {} is mounted inside it; unmount with `umount -R {}` and run again",
                    dir.display(),
                    mount.display(),
                    dir.display()
                );
            }
            fs_err::remove_dir_all(dir).map_err(Into::into)
        }
        Mode::Rootless => {
            let mut args: Vec<String> = mode.userns().iter().map(|s| s.to_string()).collect();
            args.extend(["--", "rm", "-rf", "--"].map(str::to_owned));
            args.push(dir.display().to_string());
            let out = duct::cmd(unshare, &args)
                .full_env([("PATH", super::enter::SYSTEM_PATH)])
                .stdin_null()
                .stdout_null()
                .stderr_capture()
                .unchecked()
                .run()
                .with_context(|| format!("cannot run {}", unshare.display()))?;
            if !out.status.success() {
                anyhow::bail!(
                    "{}: cannot remove: {}",
                    dir.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            Ok(())
        }
    }
}

/// The mount points of a `/proc/self/mountinfo` text (field 5, its
/// `\ooo` escapes decoded).
pub fn mount_points(mountinfo: &str) -> Vec<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| {
            let bytes = field.as_bytes();
            let mut out = Vec::with_capacity(bytes.len());
            let mut i = 0;
            while i < bytes.len() {
                let octal = bytes
                    .get(i + 1..i + 4)
                    .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
                match octal {
                    Some(d) => {
                        out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                        i += 4;
                    }
                    None => {
                        out.push(bytes[i]);
                        i += 1;
                    }
                }
            }
            PathBuf::from(std::ffi::OsString::from_vec(out))
        })
        .collect()
}

/// Removes `dir` when dropped, unless disarmed: a chroot being made that
/// failed.
pub struct RemoveOnDrop<'a> {
    pub dir: Option<PathBuf>,
    pub mode: Mode,
    pub unshare: &'a Path,
}

impl RemoveOnDrop<'_> {
    pub fn disarm(&mut self) {
        self.dir = None;
    }
}

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            if let Err(err) = remove_tree(self.mode, self.unshare, &dir) {
                eprintln!("warning: {err:#}");
            }
        }
    }
}

/// Removes the chroots of `spec`'s suite, architecture and flavor with
/// another key than `name`, each once its lock is free (one in use stays).
pub fn remove_replaced(
    cache: &Path,
    spec: &Spec,
    name: &str,
    mode: Mode,
    unshare: &Path,
) -> anyhow::Result<()> {
    let kind = spec.kind();
    let mut old: Vec<String> = Vec::new();
    for entry in fs_err::read_dir(cache)? {
        let file_name = entry?.file_name().to_string_lossy().into_owned();
        if is_replaced(&file_name, &kind, name) {
            old.push(file_name);
        }
    }
    old.sort();
    for other in old {
        let Some(_lock) = try_lock(cache, &other)? else {
            eprintln!("keeping the replaced chroot {other}: in use");
            continue;
        };
        eprintln!(
            "removing the replaced chroot {}: {name} has other packages or a newer format",
            cache.join(&other).display()
        );
        for tmp in temporaries(cache, &other)? {
            remove_tree(mode, unshare, &tmp)?;
        }
        remove_tree(mode, unshare, &cache.join(&other))?;
        let log = cache.join(format!("{other}.log"));
        if log.exists() {
            fs_err::remove_file(log)?;
        }
        let mnt = cache.join(format!("{other}.mnt"));
        if mnt.is_dir() {
            fs_err::remove_dir(mnt)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(extra: &[&str]) -> Flavor {
        Flavor::Build {
            extra: extra.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn names_and_keys() {
        let spec = Spec::new(
            "bookworm",
            "amd64",
            &build(&["python3", "debhelper-compat"]),
        );
        assert_eq!(spec.include.len(), BUILD_PACKAGES.len() + 1);
        assert!(spec.include.windows(2).all(|w| w[0] < w[1]));
        let name = spec.name();
        assert!(name.starts_with("bookworm-amd64-build-"), "{name}");
        assert_eq!(name.len(), "bookworm-amd64-build-".len() + 12);
        // Order and repeats of extra do not matter; its content does.
        assert_eq!(
            Spec::new(
                "bookworm",
                "amd64",
                &build(&["debhelper-compat", "python3"])
            )
            .name(),
            name
        );
        assert_ne!(Spec::new("bookworm", "amd64", &build(&[])).name(), name);
        assert_ne!(
            Spec::new("trixie", "amd64", &build(&["python3", "debhelper-compat"])).name(),
            name
        );
        assert_ne!(
            Spec::new(
                "bookworm",
                "arm64",
                &build(&["python3", "debhelper-compat"])
            )
            .name(),
            name
        );
        let runtime = Spec::new(
            "bookworm",
            "amd64",
            &Flavor::Runtime {
                extra: Default::default(),
            },
        );
        assert!(runtime.name().starts_with("bookworm-amd64-runtime-"));
        assert_eq!(runtime.include, ["python3"]);
        assert!(spec.key_text().contains(&format!("format {FORMAT}\n")));
        assert!(
            !spec.key_text().contains("http"),
            "the mirror is not part of the key"
        );
    }

    #[test]
    fn replaced_chroots() {
        let kind = "bookworm-amd64-build-";
        let name = "bookworm-amd64-build-0123456789ab";
        assert!(is_replaced("bookworm-amd64-build-ba9876543210", kind, name));
        assert!(!is_replaced(name, kind, name));
        assert!(!is_replaced(
            "bookworm-amd64-build-ba9876543210.lock",
            kind,
            name
        ));
        assert!(!is_replaced(
            "bookworm-amd64-build-ba9876543210.log",
            kind,
            name
        ));
        assert!(!is_replaced(
            "bookworm-amd64-runtime-ba9876543210",
            kind,
            name
        ));
        assert!(!is_replaced(
            ".tmp-bookworm-amd64-build-ba9876543210-x",
            kind,
            name
        ));
        assert!(!is_replaced(
            "bookworm-amd64-build-BA9876543210",
            kind,
            name
        ));
    }

    #[test]
    fn states() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("c");
        assert_eq!(found(&dir), Found::Missing);
        fs_err::create_dir_all(dir.join("root")).unwrap();
        assert_eq!(found(&dir), Found::Incomplete("packages.txt"));
        fs_err::write(dir.join("packages.txt"), "a=1\n").unwrap();
        assert_eq!(found(&dir), Found::Incomplete("python-version"));
        fs_err::write(dir.join("python-version"), "3.11.2\n").unwrap();
        assert_eq!(found(&dir), Found::Complete);
        fs_err::remove_dir(dir.join("root")).unwrap();
        fs_err::write(dir.join("root"), "").unwrap();
        assert_eq!(found(&dir), Found::Incomplete("root"));
    }

    #[test]
    fn lock_waits_for_the_holder() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path().to_path_buf();
        let (held, took) = lock(&cache, "x", |_| panic!("free")).unwrap();
        assert_eq!(took, Took::AtOnce);
        assert!(try_lock(&cache, "x").unwrap().is_none());
        assert!(try_lock(&cache, "y").unwrap().is_some());
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let (_lock, took) =
                lock(&cache, "x", |path| tx.send(path.to_path_buf()).unwrap()).unwrap();
            took
        });
        let path = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert!(path.ends_with("x.lock"));
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!waiter.is_finished(), "the second taker waits");
        drop(held);
        assert_eq!(waiter.join().unwrap(), Took::AfterWaiting);
    }

    #[test]
    fn replaced_chroots_are_removed_unless_in_use() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path();
        let spec = Spec::new(
            "bookworm",
            "amd64",
            &Flavor::Runtime {
                extra: Default::default(),
            },
        );
        let name = spec.name();
        let old = "bookworm-amd64-runtime-000000000000";
        let busy = "bookworm-amd64-runtime-111111111111";
        let other_kind = "trixie-amd64-runtime-000000000000";
        for dir in [name.as_str(), old, busy, other_kind] {
            fs_err::create_dir_all(cache.join(dir).join("root/etc")).unwrap();
        }
        fs_err::write(cache.join(format!("{old}.log")), "log").unwrap();
        fs_err::create_dir(cache.join(format!("{old}.mnt"))).unwrap();
        fs_err::create_dir(cache.join(format!(".tmp-{old}-killed"))).unwrap();
        let _in_use = try_lock(cache, busy).unwrap().unwrap();
        remove_replaced(cache, &spec, &name, Mode::Root, Path::new("/nonexistent")).unwrap();
        for kept in [name.as_str(), busy, other_kind] {
            assert!(cache.join(kept).is_dir(), "{kept}");
        }
        for gone in [
            old.to_owned(),
            format!("{old}.log"),
            format!("{old}.mnt"),
            format!(".tmp-{old}-killed"),
        ] {
            assert!(!cache.join(&gone).exists(), "{gone}");
        }
        // Lock files stay: a waiter may hold the old one open.
        assert!(cache.join(format!("{old}.lock")).is_file());
    }

    #[test]
    fn mountinfo() {
        let text = "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n\
                    90 22 0:5 / /c/.tmp-x/root/dev/null rw shared:2 - devtmpfs udev rw\n\
                    91 22 0:6 / /with\\040space rw - tmpfs t rw\n";
        assert_eq!(
            mount_points(text),
            [
                PathBuf::from("/"),
                PathBuf::from("/c/.tmp-x/root/dev/null"),
                PathBuf::from("/with space")
            ]
        );
    }

    #[test]
    fn temporaries_of_one_name() {
        let tmp = tempfile::tempdir().unwrap();
        for d in [
            ".tmp-a-b-123-x1",
            ".tmp-a-b-123-x2",
            ".tmp-a-b-1234-x",
            "a-b-123",
        ] {
            fs_err::create_dir(tmp.path().join(d)).unwrap();
        }
        let found: Vec<String> = temporaries(tmp.path(), "a-b-123")
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(found, [".tmp-a-b-123-x1", ".tmp-a-b-123-x2"]);
    }
}
