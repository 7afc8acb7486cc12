//! The build environment: the fixed build directory, the clean environment
//! variables every backend runs with, network isolation, and the virtual
//! environment of the target interpreter that holds exactly the bootstrap
//! wheels.
//!
//! Reproducibility comes from fixing everything a backend can observe: the
//! path it builds in (`/tmp/pinwheel-build/<name>-<version>/`), the clock
//! (`SOURCE_DATE_EPOCH`), `TZ=UTC`, `LC_ALL=C.UTF-8`, `PYTHONHASHSEED=0`,
//! umask 022 (set by the hook runner), C flags that map the build path away
//! (`-ffile-prefix-map`), and nothing inherited from the caller's
//! environment (duct's `full_env`).

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::chroot::{Bind, Chroot};

/// Where every build happens. Fixed, so that no build can record a path
/// that differs between two runs or two machines.
pub const BUILD_ROOT: &str = "/tmp/pinwheel-build";

/// The fixed build directory, held exclusively by this process (two runs,
/// even from different checkouts, take turns).
pub struct BuildRoot {
    path: PathBuf,
    _lock: File,
}

impl BuildRoot {
    /// Creates (mode 0700) and locks `root`. Refuses a directory owned by
    /// someone else or writable by others: a shared /tmp must not let
    /// another user plant files in our builds.
    pub fn acquire(root: &Path) -> anyhow::Result<BuildRoot> {
        match fs_err::create_dir(root) {
            Ok(()) => fs_err::set_permissions(root, std::fs::Permissions::from_mode(0o700))?,
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(err) => return Err(err.into()),
        }
        let meta = fs_err::symlink_metadata(root)?;
        let me = fs_err::metadata("/proc/self")?.uid();
        if !meta.is_dir() || meta.uid() != me || meta.mode() & 0o022 != 0 {
            bail!(
                "{}: must be a directory owned by uid {me} and writable only by it; remove it and run again",
                root.display()
            );
        }
        let lock_path = root.join(".lock");
        let lock = fs_err::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)?
            .into_parts()
            .0;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                eprintln!(
                    "waiting for another build to finish ({} is locked)",
                    lock_path.display()
                );
                lock.lock()
                    .with_context(|| format!("{}: lock", lock_path.display()))?;
            }
            Err(std::fs::TryLockError::Error(err)) => {
                return Err(err).with_context(|| format!("{}: lock", lock_path.display()))
            }
        }
        Ok(BuildRoot {
            path: root.to_path_buf(),
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `<root>/<name>-<version>`: where one sdist is unpacked and built.
    pub fn package_dir(&self, name: &str, version: &str) -> PathBuf {
        self.path.join(format!("{name}-{version}"))
    }

    /// `<root>/site/<name>-<version>`: an unpacked bootstrap wheel, put on
    /// `PYTHONPATH` of the bootstrap builds that need it.
    pub fn site_dir(&self, name: &str, version: &str) -> PathBuf {
        self.path.join("site").join(format!("{name}-{version}"))
    }

    /// Empties the build root (all but its lock) before a target's builds:
    /// nothing one target unpacked or made is seen by the next.
    pub fn clear(&self) -> anyhow::Result<()> {
        for entry in fs_err::read_dir(&self.path)? {
            let entry = entry?;
            if entry.file_name() == ".lock" {
                continue;
            }
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                fs_err::remove_dir_all(&path)?;
            } else {
                fs_err::remove_file(&path)?;
            }
        }
        Ok(())
    }

    /// `<root>/venv`: the target interpreter's virtual environment holding
    /// the bootstrap wheels, in which application dependencies build.
    pub fn venv_dir(&self) -> PathBuf {
        self.path.join("venv")
    }
}

/// The complete environment of one backend run. `package_dir` is the fixed
/// build directory (mapped to `.` in debug information), `pythonpath` the
/// unpacked bootstrap wheels (bootstrap builds), `venv` the virtual
/// environment (application builds).
pub fn build_env(
    source_date_epoch: u64,
    package_dir: &Path,
    pythonpath: &[PathBuf],
    venv: Option<&Path>,
) -> BTreeMap<String, String> {
    let dir = package_dir.display().to_string();
    let prefix_map = format!("-ffile-prefix-map={dir}=.");
    let mut path = String::from("/usr/bin:/bin");
    if let Some(venv) = venv {
        path = format!("{}:{path}", venv.join("bin").display());
    }
    let mut env = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        env.insert(k.to_owned(), v);
    };
    set("PATH", path);
    set("HOME", format!("{dir}/home"));
    set("TMPDIR", format!("{dir}/tmp"));
    set("SOURCE_DATE_EPOCH", source_date_epoch.to_string());
    set("TZ", "UTC".into());
    set("LC_ALL", "C.UTF-8".into());
    set("LANG", "C.UTF-8".into());
    set("PYTHONHASHSEED", "0".into());
    set("PYTHONDONTWRITEBYTECODE", "1".into());
    set("PYTHONNOUSERSITE", "1".into());
    set("PYTHONUTF8", "1".into());
    // setuptools-scm and hatch-vcs must read the version from PKG-INFO, not
    // from a git repository that happens to enclose the build directory.
    set("GIT_CEILING_DIRECTORIES", BUILD_ROOT.into());
    // Appended by setuptools to the interpreter's own flags.
    set("CFLAGS", prefix_map.clone());
    set("CXXFLAGS", prefix_map);
    if !pythonpath.is_empty() {
        let joined: Vec<String> = pythonpath.iter().map(|p| p.display().to_string()).collect();
        set("PYTHONPATH", joined.join(":"));
    }
    if let Some(venv) = venv {
        set("VIRTUAL_ENV", venv.display().to_string());
    }
    env
}

/// Where backends run: inside the target's chroot (its interpreter and
/// compilers, no network, the chroot itself never changed), with the
/// directories a build reads and writes bound at their own paths.
pub struct Isolation<'c> {
    chroot: &'c Chroot,
    binds: Vec<Bind>,
}

impl<'c> Isolation<'c> {
    /// Builds in `chroot` see `binds` (the build root, the logs, the hook
    /// runner, the wheels a build venv installs).
    pub fn new(chroot: &'c Chroot, binds: Vec<Bind>) -> Isolation<'c> {
        Isolation { chroot, binds }
    }

    /// The target this isolation builds for.
    pub fn target(&self) -> &str {
        &self.chroot.target
    }

    /// `program args…` inside the chroot: (program, args) to run on the host.
    pub fn command(&self, program: &Path, args: Vec<String>) -> (String, Vec<String>) {
        self.chroot.command(
            &self.binds,
            Path::new("/"),
            &program.display().to_string(),
            &args,
        )
    }
}

/// Makes `venv` a fresh virtual environment of `python` (inside the
/// isolation's chroot) holding exactly `wheels` (path, sha256), installed
/// by pip with `--no-index --no-deps --require-hashes`: pip checks every
/// wheel's hash once more.
pub fn make_venv(
    python: &Path,
    venv: &Path,
    wheels: &[(PathBuf, pinwheel_trust::hash::Sha256)],
    isolation: &Isolation,
) -> anyhow::Result<()> {
    if venv.exists() {
        fs_err::remove_dir_all(venv)?;
    }
    let env = clean_env(venv);
    let run = |args: Vec<String>, what: &str| -> anyhow::Result<()> {
        let (program, args) = isolation.command(python, args);
        let out = duct::cmd(&program, &args)
            .full_env(&env)
            .stdin_null()
            .stderr_to_stdout()
            .stdout_capture()
            .unchecked()
            .run()
            .with_context(|| format!("{what}: cannot run {program}"))?;
        if !out.status.success() {
            bail!(
                "{what} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .replace('\n', " | ")
            );
        }
        Ok(())
    };
    run(
        vec![
            "-m".into(),
            "venv".into(),
            "--without-pip".into(),
            venv.display().to_string(),
        ],
        &format!("{} -m venv {}", python.display(), venv.display()),
    )?;
    let requirements = venv.join("bootstrap-wheels.txt");
    let mut text = String::new();
    for (path, sha) in wheels {
        text.push_str(&format!("{} --hash=sha256:{sha}\n", path.display()));
    }
    fs_err::write(&requirements, text)?;
    let venv_python = venv.join("bin/python");
    let args = [
        "-m",
        "pip",
        "--python",
        &venv_python.display().to_string(),
        "--disable-pip-version-check",
        "--no-input",
        "--isolated",
        "install",
        "--no-index",
        "--no-deps",
        "--require-hashes",
        "--no-compile",
        "--quiet",
        "-r",
        &requirements.display().to_string(),
    ];
    run(
        args.iter().map(|s| s.to_string()).collect(),
        "pip install of the bootstrap wheels into the build venv",
    )
}

/// The environment for venv and pip runs: no configuration, cache or
/// index from the caller.
fn clean_env(venv: &Path) -> BTreeMap<String, String> {
    let home = venv.with_extension("home");
    BTreeMap::from([
        ("PATH".to_owned(), "/usr/bin:/bin".to_owned()),
        ("HOME".to_owned(), home.display().to_string()),
        ("LC_ALL".to_owned(), "C.UTF-8".to_owned()),
        ("PIP_CONFIG_FILE".to_owned(), "/dev/null".to_owned()),
        ("PIP_NO_CACHE_DIR".to_owned(), "1".to_owned()),
        ("PYTHONNOUSERSITE".to_owned(), "1".to_owned()),
        ("PYTHONDONTWRITEBYTECODE".to_owned(), "1".to_owned()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_is_complete_and_fixed() {
        let dir = Path::new("/tmp/pinwheel-build/markupsafe-3.0.4");
        let env = build_env(
            1704067200,
            dir,
            &[],
            Some(Path::new("/tmp/pinwheel-build/venv")),
        );
        assert_eq!(env["SOURCE_DATE_EPOCH"], "1704067200");
        assert_eq!(env["TZ"], "UTC");
        assert_eq!(env["LC_ALL"], "C.UTF-8");
        assert_eq!(env["PYTHONHASHSEED"], "0");
        assert_eq!(env["PATH"], "/tmp/pinwheel-build/venv/bin:/usr/bin:/bin");
        assert!(env["CFLAGS"].contains("-ffile-prefix-map=/tmp/pinwheel-build/markupsafe-3.0.4=."));
        assert!(!env.contains_key("PYTHONPATH"));
        let env = build_env(1, dir, &[PathBuf::from("/a"), PathBuf::from("/b")], None);
        assert_eq!(env["PYTHONPATH"], "/a:/b");
        assert_eq!(env["PATH"], "/usr/bin:/bin");
        // Nothing from the caller's environment.
        for key in env.keys() {
            assert!(
                !["USER", "SSH_AUTH_SOCK", "http_proxy", "PIP_INDEX_URL"].contains(&key.as_str())
            );
        }
    }

    #[test]
    fn adversarial_build_root_not_ours() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("build");
        fs_err::create_dir(&root).unwrap();
        fs_err::set_permissions(&root, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = BuildRoot::acquire(&root).err().unwrap().to_string();
        assert!(err.contains("writable only by it"), "{err}");
        fs_err::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).unwrap();
        let held = BuildRoot::acquire(&root).unwrap();
        assert_eq!(held.package_dir("a", "1"), root.join("a-1"));
    }
}
