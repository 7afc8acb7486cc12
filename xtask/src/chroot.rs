//! Target chroots: each `[targets.NAME]` builds wheels and `.deb`s inside
//! a clean chroot of its Debian suite, made once with mmdebstrap from the
//! Debian archive (checked by apt with the host's debian-archive-keyring)
//! and cached; every command run in it sees the cached files through a
//! throwaway overlay, without network.
//!
//! Shapes:
//! - [`prepare`]`(root, target, flavor, refresh)` → a [`Chroot`]: made (or
//!   reused) under [`cache_dir`] (`<root>/target/chroots`, or
//!   `$PINWHEEL_CHROOT_DIR`), its `python3` run and checked against
//!   `target.python`, and locked: two builds of one target take turns
//!   ("waiting for another build of target X"). Hold one `Chroot` per
//!   target at a time in a process: a second `prepare` of the same target
//!   waits for the first to be dropped.
//! - [`Chroot::command`] → the argv (program, args) running a program
//!   inside (see `chroot/enter.rs` for exactly what it sees); the caller
//!   runs it with duct and its own `full_env`.
//! - [`Chroot::packages`], [`Chroot::toolchain`], [`Chroot::package_list`]:
//!   what is installed, as `dpkg-query` lists it (name → Debian version).
//! - [`build_depends`]: the names of a `debian/control`'s build
//!   dependencies (pure).
//!
//! The cache layout and the states a chroot can be found in are in
//! `chroot/cache.rs`; the mmdebstrap command line and its failures in
//! `chroot/make.rs`.
//!
//! Errors (one line each; exit codes per `pinwheel_trust::failure`):
//! - the chroot's `python3` is not `target.python`: refused, exit 1,
//!   naming the target, both versions and packaging/pinwheel.toml;
//! - apt refused the archive's signature: verification failed, exit 1;
//! - the mirror cannot be reached (and the chroot is not cached yet),
//!   mmdebstrap failed otherwise, a host tool is missing (the `sudo
//!   apt-get install` line), user namespaces unavailable to a non-root
//!   user, a cache path with `,` `:` or a newline: exit 2.
//!
//! Units: sizes in bytes ([`Chroot::disk_usage`], 512-byte blocks
//! allocated, hard links counted once); versions as Debian and CPython
//! write them.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use pinwheel_trust::failure;

mod cache;
mod control;
mod enter;
mod make;
mod packages;

pub use cache::FORMAT;
pub use control::build_depends;
pub use enter::Mode;
pub use packages::is_toolchain;

/// Env var that overrides the cache directory (default
/// `<root>/target/chroots`); tests point it at one shared dir so a test run
/// makes each chroot once.
pub const CACHE_ENV: &str = "PINWHEEL_CHROOT_DIR";

/// The chroot cache directory: `$PINWHEEL_CHROOT_DIR` when set and not
/// empty, else `<root>/target/chroots`.
pub fn cache_dir(root: &Path) -> PathBuf {
    match std::env::var_os(CACHE_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => root.join("target").join("chroots"),
    }
}

/// What the chroot holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flavor {
    /// Everything builds need: python3, python3-venv, python3-pip,
    /// python3-pip-whl, python3-dev (`Python.h` for C extensions),
    /// build-essential, debhelper, dpkg-dev, fakeroot, faketime, plus
    /// `extra` (e.g. the Build-Depends names of debian/control).
    Build { extra: BTreeSet<String> },
    /// A minimal system (mmdebstrap --variant=apt) plus python3 and
    /// `extra` (the Debian packages the applications' configuration says
    /// they depend on, such as python3-apt): where a built .deb is
    /// installed with apt, offline, and run, to prove its Depends suffice.
    Runtime { extra: BTreeSet<String> },
}

/// The runtime flavor for `config`: python3 and every package the
/// applications' `depends` name (what their binary packages need besides
/// Python), so an offline `apt-get install` of each .deb can succeed.
pub fn runtime_flavor(config: &crate::config::Config) -> Flavor {
    Flavor::Runtime {
        extra: config
            .apps
            .values()
            .flat_map(|app| app.depends.iter().cloned())
            .collect(),
    }
}

/// A prepared chroot of one target, verified, held (an exclusive lock: two
/// builds of the same target take turns, printing "waiting for another
/// build of target X" when blocked) until dropped.
pub struct Chroot {
    /// Target name.
    pub target: String,
    pub suite: String,
    /// The chroot's root directory (never modified after it is made).
    pub dir: PathBuf,
    /// Full version of its python3, e.g. "3.13.5".
    pub python: String,
    /// dpkg-query: Package -> Version (like a .buildinfo's
    /// Installed-Build-Depends).
    pub packages: BTreeMap<String, String>,
    mode: Mode,
    unshare: PathBuf,
    mnt: PathBuf,
    _lock: cache::Lock,
}

impl std::fmt::Debug for Chroot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chroot")
            .field("target", &self.target)
            .field("suite", &self.suite)
            .field("dir", &self.dir)
            .field("python", &self.python)
            .field("packages", &self.packages.len())
            .field("mode", &self.mode)
            .finish()
    }
}

/// A host directory visible inside at the same absolute path.
#[derive(Debug, Clone)]
pub struct Bind {
    pub path: PathBuf,
    pub writable: bool,
}

/// The cache name of `target`'s chroot with `flavor`:
/// `<suite>-<arch>-<flavor>-<key12>` (see `chroot/cache.rs`).
pub fn name(target: &crate::config::Target, flavor: &Flavor) -> String {
    cache::Spec::new(&target.suite, &target.architecture, flavor).name()
}

/// Makes (or reuses) the chroot of `target` with `flavor` under
/// [`cache_dir`]. `refresh` remakes it.
pub fn prepare(
    root: &Path,
    target: &crate::config::Target,
    flavor: &Flavor,
    refresh: bool,
) -> anyhow::Result<Chroot> {
    prepare_in(&cache_dir(root), target, flavor, refresh)
}

/// [`prepare`] with the cache directory given.
pub fn prepare_in(
    cache: &Path,
    target: &crate::config::Target,
    flavor: &Flavor,
    refresh: bool,
) -> anyhow::Result<Chroot> {
    let mode = Mode::current();
    install_host_tools(mode)?;
    let unshare = enter::system_tool("unshare")?;
    mode.check(&unshare)?;
    fs_err::create_dir_all(cache)?;
    let cache = fs_err::canonicalize(cache)?;
    enter::check_mountable(&cache, "chroot cache directory")?;

    let spec = cache::Spec::new(&target.suite, &target.architecture, flavor);
    let name = spec.name();
    let (lock, _) = cache::lock(&cache, &name, |path| {
        eprintln!(
            "waiting for another build of target {} ({} is locked)",
            target.name,
            path.display()
        );
    })?;
    let dir = cache.join(&name);
    let mnt = cache.join(format!("{name}.mnt"));
    if !mnt.is_dir() {
        fs_err::create_dir(&mnt)?;
    }
    for tmp in cache::temporaries(&cache, &name)? {
        eprintln!(
            "removing {}: a chroot left half-made by a stopped run",
            tmp.display()
        );
        cache::remove_tree(mode, &unshare, &tmp)?;
    }
    if refresh && cache::found(&dir) != cache::Found::Missing {
        eprintln!("removing {} to make it again (--refresh)", dir.display());
        cache::remove_tree(mode, &unshare, &dir)?;
    }
    if let cache::Found::Incomplete(part) = cache::found(&dir) {
        eprintln!(
            "removing {}: it has no {part}, so pinwheel did not make it; making it again",
            dir.display()
        );
        cache::remove_tree(mode, &unshare, &dir)?;
    }
    let made = cache::found(&dir) == cache::Found::Missing;
    if made {
        let making = make::Making {
            cache: &cache,
            spec: &spec,
            name: &name,
            target,
            mode,
            unshare: &unshare,
            mnt: &mnt,
        };
        making.make(&dir)?;
        cache::remove_replaced(&cache, &spec, &name, mode, &unshare)?;
    }

    let base = dir.join("root");
    let entry = enter::Entry {
        mode,
        unshare: &unshare,
        mnt: &mnt,
        base: &base,
    };
    let recorded = fs_err::read_to_string(dir.join("python-version"))?
        .trim()
        .to_owned();
    let packages = packages::parse(&fs_err::read_to_string(dir.join("packages.txt"))?)
        .with_context(|| format!("{}", dir.join("packages.txt").display()))?;
    let python = if made {
        recorded
    } else {
        let python = enter::python_version(&entry)?;
        if python != recorded {
            bail!(
                "{}: damaged: its python-version says {recorded} but its python3 says {python}; \
                 make it again with `cargo xtask chroot --target {} --refresh`",
                dir.display(),
                target.name
            );
        }
        python
    };
    if python != target.python {
        return Err(failure::refused(format!(
            "target {}: {} says python = \"{}\" but the {} chroot's python3 is {python}; \
             set targets.{}.python to the suite's version",
            target.name,
            crate::config::CONFIG_PATH,
            target.python,
            target.suite,
            target.name
        )));
    }
    Ok(Chroot {
        target: target.name.clone(),
        suite: target.suite.clone(),
        dir: base,
        python,
        packages,
        mode,
        unshare,
        mnt,
        _lock: lock,
    })
}

impl Chroot {
    /// argv (program, args) that runs `program args` inside the chroot
    /// with working directory `cwd`, the binds mounted at their own paths,
    /// no network (own network namespace), own PID namespace (everything
    /// dies with it), a fresh tmpfs on /tmp, /proc mounted, /dev's device
    /// files bound from the host, and the chroot's files behind a
    /// throwaway overlay (a tmpfs upper layer) so that nothing a build
    /// does changes the cached chroot. The environment is the caller's
    /// (callers use duct's full_env). A bad bind (see `chroot/enter.rs`)
    /// makes the command fail with exit 2 and a `pinwheel chroot:` line.
    pub fn command(
        &self,
        binds: &[Bind],
        cwd: &Path,
        program: &str,
        args: &[String],
    ) -> (String, Vec<String>) {
        let binds: Vec<(&Path, bool)> = binds
            .iter()
            .map(|b| (b.path.as_path(), b.writable))
            .collect();
        enter::argv(&self.entry(), &binds, cwd, program, args)
    }

    fn entry(&self) -> enter::Entry<'_> {
        enter::Entry {
            mode: self.mode,
            unshare: &self.unshare,
            mnt: &self.mnt,
            base: &self.dir,
        }
    }

    /// The versions that change the bytes of a compiled wheel: python3.X,
    /// libpython3.X*, gcc/g++/cpp (versioned too, e.g. gcc-12), binutils,
    /// libc6-dev, linux-libc-dev, libgcc*, libstdc++*, … ([`is_toolchain`];
    /// name -> version, sorted).
    pub fn toolchain(&self) -> BTreeMap<String, String> {
        packages::toolchain(&self.packages)
    }

    /// "name=version\n" for every installed package, sorted (recorded
    /// beside the chroot as packages.txt and usable as a build record).
    pub fn package_list(&self) -> String {
        packages::render(&self.packages)
    }

    /// Bytes on disk of the chroot ([`disk_usage`] of its directory).
    pub fn disk_usage(&self) -> anyhow::Result<u64> {
        disk_usage(&self.dir)
    }
}

/// Bytes on disk under `dir` (itself included): allocated blocks, each
/// hard-linked file once. Directories we may not read (apt's `partial/`,
/// owned by `_apt`, as a non-root user) count for themselves only.
pub fn disk_usage(dir: &Path) -> anyhow::Result<u64> {
    let mut seen: BTreeSet<(u64, u64)> = BTreeSet::new();
    let mut total = fs_err::symlink_metadata(dir)?.blocks() * 512;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match fs_err::read_dir(&dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => continue,
            Err(err) => return Err(err.into()),
        };
        for entry in entries {
            let path = entry?.path();
            let meta = fs_err::symlink_metadata(&path)?;
            if meta.nlink() > 1 && !meta.is_dir() && !seen.insert((meta.dev(), meta.ino())) {
                continue;
            }
            total += meta.blocks() * 512;
            if meta.is_dir() {
                stack.push(path);
            }
        }
    }
    Ok(total)
}

/// The host packages chroots need: mmdebstrap, the archive keyring apt
/// checks the archive with, and newuidmap/newgidmap as a user.
pub fn host_tools(mode: Mode) -> Vec<&'static str> {
    let mut tools = vec!["mmdebstrap", "debian-archive-keyring"];
    if mode == Mode::Rootless {
        tools.push("uidmap");
    }
    tools
}

fn install_host_tools(mode: Mode) -> anyhow::Result<()> {
    let missing = crate::host_packages::missing(&host_tools(mode))?;
    crate::host_packages::install(&missing, "chroot tools", false, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host_packages::{plan, Plan};

    #[test]
    fn cache_dir_default() {
        // The variable is only read here; tests of the override run the
        // binary with it set.
        if std::env::var_os(CACHE_ENV).is_none() {
            assert_eq!(cache_dir(Path::new("/r")), Path::new("/r/target/chroots"));
        }
    }

    #[test]
    fn missing_tools_as_a_user_print_the_sudo_line() {
        let missing: Vec<String> = host_tools(Mode::Rootless)
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            plan(&missing, false, false),
            Plan::Ask(
                "sudo apt-get install -y --no-install-recommends mmdebstrap debian-archive-keyring uidmap"
                    .into()
            )
        );
        assert_eq!(
            host_tools(Mode::Root),
            ["mmdebstrap", "debian-archive-keyring"]
        );
        let Plan::Run(argv) = plan(&missing[..1], true, false) else {
            panic!("root installs")
        };
        assert_eq!(argv.last().map(String::as_str), Some("mmdebstrap"));
    }
}

/// What a complete cached chroot recorded when it was made: its python3's
/// full version and its package list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub python: String,
    pub packages: BTreeMap<String, String>,
}

impl Recorded {
    /// See [`Chroot::toolchain`].
    pub fn toolchain(&self) -> BTreeMap<String, String> {
        packages::toolchain(&self.packages)
    }
}

/// The record of `target`'s cached chroot with `flavor`, read without
/// taking its lock or entering it (a few small reads): for decisions that
/// build nothing, such as whether every wheel is current. `None` when no
/// complete chroot is cached; whoever builds calls [`prepare`], which
/// checks the interpreter itself.
pub fn recorded(
    root: &Path,
    target: &crate::config::Target,
    flavor: &Flavor,
) -> anyhow::Result<Option<Recorded>> {
    let dir = cache_dir(root).join(name(target, flavor));
    if cache::found(&dir) != cache::Found::Complete {
        return Ok(None);
    }
    let python = fs_err::read_to_string(dir.join("python-version"))?
        .trim()
        .to_owned();
    let list = dir.join("packages.txt");
    let packages = packages::parse(&fs_err::read_to_string(&list)?)
        .with_context(|| list.display().to_string())?;
    Ok(Some(Recorded { python, packages }))
}
