//! A minimal stand-in with the API of `crate::chroot` (cached mmdebstrap
//! chroots of a target's suite, run through an overlay without network),
//! so that build-deb can be written and tested against that API before the
//! module exists. Deleted when `crate::chroot` is merged: build_deb.rs then
//! imports `crate::chroot` under the same name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::config::Target;

/// What a chroot is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flavor {
    /// buildd variant + faketime + these packages.
    Build { extra: BTreeSet<String> },
    /// apt + python3.
    Runtime,
}

/// A host path bound into the chroot at the same absolute path.
#[derive(Debug, Clone)]
pub struct Bind {
    pub path: PathBuf,
    pub writable: bool,
}

/// A prepared chroot, locked while this value lives.
#[derive(Debug)]
pub struct Chroot {
    pub target: String,
    pub suite: String,
    pub dir: PathBuf,
    pub python: String,
    pub packages: BTreeMap<String, String>,
    _lock: fs_err::File,
}

/// Env var that overrides the cache directory (default
/// `<root>/target/chroots`).
pub const CACHE_ENV: &str = "PINWHEEL_CHROOT_DIR";

/// The chroot cache directory.
pub fn cache_dir(root: &Path) -> PathBuf {
    match std::env::var_os(CACHE_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => root.join("target").join("chroots"),
    }
}

/// Prepares (or reuses) the chroot of `target` for `flavor`.
pub fn prepare(
    root: &Path,
    target: &Target,
    flavor: &Flavor,
    refresh: bool,
) -> anyhow::Result<Chroot> {
    prepare_in(&cache_dir(root), target, flavor, refresh)
}

/// [`prepare`] with the cache directory given.
pub fn prepare_in(
    cache: &Path,
    target: &Target,
    flavor: &Flavor,
    refresh: bool,
) -> anyhow::Result<Chroot> {
    let skip = match flavor {
        Flavor::Build { .. } => "--skip=cleanup/apt/lists",
        Flavor::Runtime => "--skip=nothing",
    };
    let (variant, mut include, key) = match flavor {
        Flavor::Build { extra } => {
            let mut include: Vec<String> = extra.iter().cloned().collect();
            include.push("faketime".to_owned());
            include.sort();
            include.dedup();
            let key = format!("build-{}", include.join(","));
            ("buildd", include, key)
        }
        Flavor::Runtime => ("apt", vec!["python3".to_owned()], "runtime".to_owned()),
    };
    include.sort();
    let digest = pinwheel_trust::hash::Sha256::of(key.as_bytes()).hex();
    let name = format!("{}-{}-{}", target.name, target.suite, &digest[..12]);
    let cache = cache.to_path_buf();
    fs_err::create_dir_all(&cache)?;
    let lock = fs_err::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(cache.join(format!("{name}.lock")))?;
    lock.file().lock().context("locking the chroot")?;
    let dir = cache.join(&name);
    if refresh && dir.exists() {
        fs_err::remove_dir_all(&dir)?;
    }
    if !dir.join("usr/bin").exists() {
        let partial = cache.join(format!("{name}.partial"));
        if partial.exists() {
            fs_err::remove_dir_all(&partial)?;
        }
        eprintln!(
            "making the {} chroot of {} ({variant})",
            target.name, target.suite
        );
        duct::cmd(
            "mmdebstrap",
            [
                format!("--variant={variant}"),
                format!("--architectures={}", target.architecture),
                format!("--include={}", include.join(",")),
                skip.to_owned(),
                target.suite.clone(),
                partial.display().to_string(),
                target.mirror.clone(),
            ],
        )
        .stdout_to_stderr()
        .run()
        .context("mmdebstrap failed")?;
        fs_err::rename(&partial, &dir)?;
    }
    let mut chroot = Chroot {
        target: target.name.clone(),
        suite: target.suite.clone(),
        dir,
        python: String::new(),
        packages: include.into_iter().map(|p| (p, String::new())).collect(),
        _lock: lock,
    };
    let (program, args) = chroot.command(
        &[],
        Path::new("/"),
        "python3",
        &[
            "-c".to_owned(),
            "import platform; print(platform.python_version())".to_owned(),
        ],
    );
    let python = duct::cmd(program, args).read()?.trim().to_owned();
    if python != target.python {
        bail!(
            "the {} chroot has CPython {python}, the target says {}",
            target.name,
            target.python
        );
    }
    chroot.python = python;
    Ok(chroot)
}

impl Chroot {
    /// The argv that runs `program args` in `cwd` inside a throwaway
    /// overlay of this chroot, without network, with `binds` at their own
    /// paths.
    pub fn command(
        &self,
        binds: &[Bind],
        cwd: &Path,
        program: &str,
        args: &[String],
    ) -> (String, Vec<String>) {
        let mut script = String::from(
            "set -e\nm=/run/pinwheel-standin\nmkdir -p $m\nmount -t tmpfs tmpfs $m\nmkdir $m/u $m/w $m/r\n",
        );
        script.push_str(&format!(
            "mount -t overlay overlay -o lowerdir={},upperdir=$m/u,workdir=$m/w $m/r\n",
            self.dir.display()
        ));
        script.push_str("mount -t proc proc $m/r/proc\nmount --rbind /dev $m/r/dev\nmount -t tmpfs tmpfs $m/r/tmp\n");
        for (i, bind) in binds.iter().enumerate() {
            let _ = i;
            script.push_str(&format!(
                "mkdir -p \"$m/r{p}\"\nmount --bind \"{p}\" \"$m/r{p}\"\n",
                p = bind.path.display()
            ));
            if !bind.writable {
                script.push_str(&format!(
                    "mount -o remount,bind,ro \"$m/r{}\"\n",
                    bind.path.display()
                ));
            }
        }
        script.push_str(
            "d=\"$1\"; shift\nexec chroot $m/r sh -c 'cd \"$0\" && exec \"$@\"' \"$d\" \"$@\"\n",
        );
        let mut argv = vec![
            "--mount".to_owned(),
            "--net".to_owned(),
            "--pid".to_owned(),
            "--fork".to_owned(),
            "sh".to_owned(),
            "-c".to_owned(),
            script,
            "sh".to_owned(),
            cwd.display().to_string(),
            program.to_owned(),
        ];
        argv.extend(args.iter().cloned());
        ("unshare".to_owned(), argv)
    }
}

/// The package names of Build-Depends (first alternative, no qualifiers).
pub fn build_depends(control: &str) -> Vec<String> {
    let mut text = String::new();
    let mut inside = false;
    for line in control.lines() {
        if line.trim().is_empty() {
            break;
        }
        if let Some(rest) = line.strip_prefix("Build-Depends:") {
            inside = true;
            text.push_str(rest);
        } else if inside && line.starts_with([' ', '\t']) {
            text.push_str(line);
        } else {
            inside = false;
        }
    }
    let mut names: Vec<String> = text
        .split(',')
        .filter_map(|rel| {
            let first = rel.split('|').next()?.trim();
            let name = first
                .split(|c: char| c.is_whitespace() || "([<:".contains(c))
                .next()?;
            (!name.is_empty()).then(|| name.to_owned())
        })
        .collect();
    names.sort();
    names.dedup();
    names
}
