//! `cargo xtask sdist`: the application's source distribution, built in
//! Rust so that two builds give the same bytes whatever the checkout's path,
//! clock, umask or file order.
//!
//! Spec: PyPA "Source distribution format" — `{name}-{version}.tar.gz`
//! (name normalized, `-` as `_`), one top directory `{name}-{version}/`
//! holding `pyproject.toml` and `PKG-INFO` (rendered by [`core_metadata`]).
//! The archive is a ustar tar, entries sorted by path, every mtime
//! `build.source-date-epoch`, uid/gid 0 with no user or group names, modes
//! 0755 (directories and files with an executable bit) or 0644, inside a
//! gzip stream with no file name and mtime 0. What goes in: every regular
//! file under the application's directory except dot-files, `__pycache__`,
//! `*.pyc`/`*.pyo`, and the top-level `build/`, `dist/` and `*.egg-info`;
//! a symbolic link or special file is an error, not silently skipped.
//! We do not call the project's PEP 517 `build_sdist`: it would need the
//! backend installed and its output would still need normalizing.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::config::Config;
use crate::core_metadata::Project;
use crate::hash::Sha256;

/// A built source distribution.
#[derive(Debug, Clone)]
pub struct Sdist {
    /// `{name}-{version}.tar.gz`.
    pub filename: String,
    /// The project's name as in pyproject.toml, and its normalized version.
    pub name: String,
    pub version: String,
    pub bytes: Vec<u8>,
    pub sha256: Sha256,
}

/// Options of `cargo xtask sdist`.
#[derive(Debug, Clone)]
pub struct Options {
    pub app: Option<String>,
    pub out: Option<PathBuf>,
    /// An armored secret key: write `<sdist>.asc` beside the sdist.
    pub sign_key: Option<PathBuf>,
}

/// Runs `cargo xtask sdist`: writes the sdist into `--out` (default
/// `target/sdist/`) and prints its path and sha256; with `--sign-key`, also
/// a detached armored signature `<sdist>.asc` made like `cargo xtask sign`
/// makes the index's, checked against the pinned keys before it is written.
pub fn run(root: &Path, options: &Options) -> anyhow::Result<PathBuf> {
    let config = Config::load(root)?;
    let app = app_name(&config, options.app.as_deref())?;
    let sdist = build(&config, &app)?;
    let out = options
        .out
        .clone()
        .unwrap_or_else(|| root.join("target/sdist"));
    let path = out.join(&sdist.filename);
    let signature = match &options.sign_key {
        Some(key) => Some(sign(&config, key, &sdist.bytes)?),
        None => None,
    };
    crate::fresh::write_atomic(&path, &sdist.bytes)?;
    println!("{}  {}", sdist.sha256, path.display());
    if let Some(asc) = signature {
        let asc_path = out.join(format!("{}.asc", sdist.filename));
        crate::fresh::write_atomic(&asc_path, asc.as_bytes())?;
        println!("{}  {}", Sha256::of(asc.as_bytes()), asc_path.display());
    }
    Ok(path)
}

/// A detached signature over `bytes` with the secret key in `key`, which
/// must pass the signature policy with the configured pinned keys.
fn sign(config: &Config, key: &Path, bytes: &[u8]) -> anyhow::Result<String> {
    use crate::signature;
    let now = time::OffsetDateTime::now_utc();
    let key = crate::sign::KeyFile::load(key)?;
    let packet = key.sign(bytes, u64::try_from(now.unix_timestamp()).unwrap_or(0))?;
    let asc = signature::armor_signatures([packet.as_slice()]);
    let certs = signature::load_keys_dir(&config.abs(&config.trust.keys))?;
    let trust = signature::TrustSet::pinned(certs, &config.trust.fingerprints)?;
    signature::verify_detached(bytes, asc.as_bytes(), &trust, now).map_err(|err| {
        anyhow::anyhow!(
            "the sdist's signature would not verify ({err}); is the key pinned in trust.fingerprints and its public key in {}?",
            config.trust.keys.display()
        )
    })?;
    Ok(asc)
}

/// The application named by `--app`, or the only one configured.
pub fn app_name(config: &Config, app: Option<&str>) -> anyhow::Result<String> {
    Ok(match app {
        Some(name) => {
            config.app(name)?;
            name.to_owned()
        }
        None => config.default_app()?.0.to_owned(),
    })
}

/// Builds the sdist of the application `app` in memory.
pub fn build(config: &Config, app: &str) -> anyhow::Result<Sdist> {
    let app_config = config.app(app)?;
    let dir = config.abs(&app_config.dir);
    let pyproject_path = config.abs(&app_config.pyproject);
    if pyproject_path != dir.join("pyproject.toml") {
        bail!(
            "{}: apps.{app}.pyproject must be the pyproject.toml at the top of apps.{app}.dir ({})",
            config.path.display(),
            app_config.dir.display()
        );
    }
    let text = fs_err::read_to_string(&pyproject_path)?;
    let project =
        Project::from_pyproject(&text).with_context(|| format!("{}", pyproject_path.display()))?;
    let pkg_info = project
        .render_pkg_info(&|rel| read_project_file(&dir, rel))
        .with_context(|| format!("{}", pyproject_path.display()))?;
    let files = collect(&dir)?;
    let version = project.version();
    let top = format!("{}-{}", project.filename_name(), version);
    let bytes = archive(
        &dir,
        &top,
        &files,
        pkg_info.as_bytes(),
        config.build.source_date_epoch,
    )?;
    Ok(Sdist {
        filename: format!("{top}.tar.gz"),
        name: project.name.clone(),
        version,
        sha256: Sha256::of(&bytes),
        bytes,
    })
}

/// A readme or licence file that pyproject.toml names, which must stay
/// inside the project directory.
fn read_project_file(dir: &Path, rel: &str) -> anyhow::Result<String> {
    let rel_path = Path::new(rel);
    if rel_path.is_absolute()
        || rel_path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        bail!("{rel:?} must be a path inside the project directory");
    }
    Ok(fs_err::read_to_string(dir.join(rel_path))?)
}

/// One entry of the archive, relative to the project directory.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    /// `/`-separated path; directories have no trailing slash.
    pub rel: String,
    pub kind: EntryKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EntryKind {
    Dir,
    File { executable: bool },
}

/// Whether a path (relative, `/`-separated) is left out of the sdist.
pub fn excluded(rel: &str, is_dir: bool) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let top_level = !rel.contains('/');
    name.starts_with('.')
        || name == "__pycache__"
        || name.ends_with(".pyc")
        || name.ends_with(".pyo")
        || (top_level
            && is_dir
            && (name == "build" || name == "dist" || name.ends_with(".egg-info")))
        || (top_level && name == "PKG-INFO")
}

/// Every entry under `dir`, sorted by path bytes.
pub fn collect(dir: &Path) -> anyhow::Result<Vec<Entry>> {
    let mut out = Vec::new();
    walk(dir, "", &mut out)?;
    out.sort();
    if !out.iter().any(|e| e.rel == "pyproject.toml") {
        bail!("{}: no pyproject.toml", dir.display());
    }
    Ok(out)
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<Entry>) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut names = Vec::new();
    for entry in fs_err::read_dir(dir.join(prefix))? {
        let entry = entry?;
        let name = entry.file_name().into_string().map_err(|name| {
            anyhow::anyhow!(
                "{}: file name {name:?} is not UTF-8",
                dir.join(prefix).display()
            )
        })?;
        names.push(name);
    }
    names.sort();
    for name in names {
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let path = dir.join(&rel);
        let meta = fs_err::symlink_metadata(&path)?;
        let kind = meta.file_type();
        if excluded(&rel, kind.is_dir()) {
            continue;
        }
        if kind.is_dir() {
            out.push(Entry {
                rel: rel.clone(),
                kind: EntryKind::Dir,
            });
            walk(dir, &rel, out)?;
        } else if kind.is_file() {
            out.push(Entry {
                rel,
                kind: EntryKind::File {
                    executable: meta.permissions().mode() & 0o111 != 0,
                },
            });
        } else {
            bail!(
                "{}: not a regular file or directory; an sdist holds only those",
                path.display()
            );
        }
    }
    Ok(())
}

/// The normalized `.tar.gz` bytes.
pub fn archive(
    dir: &Path,
    top: &str,
    entries: &[Entry],
    pkg_info: &[u8],
    mtime: u64,
) -> anyhow::Result<Vec<u8>> {
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), flate2::Compression::best());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    let mut all: Vec<(String, EntryKind, Option<&[u8]>)> = Vec::with_capacity(entries.len() + 2);
    all.push((String::new(), EntryKind::Dir, None));
    all.push((
        "PKG-INFO".to_owned(),
        EntryKind::File { executable: false },
        Some(pkg_info),
    ));
    all.extend(entries.iter().map(|e| (e.rel.clone(), e.kind, None)));
    all.sort_by(|a, b| a.0.cmp(&b.0));
    for (rel, kind, data) in all {
        let name = if rel.is_empty() {
            top.to_owned()
        } else {
            format!("{top}/{rel}")
        };
        let mut header = tar::Header::new_ustar();
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        match kind {
            EntryKind::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                tar.append_data(&mut header, format!("{name}/"), std::io::empty())
                    .with_context(|| format!("adding {name}/ to the sdist"))?;
            }
            EntryKind::File { executable } => {
                let bytes = match data {
                    Some(bytes) => bytes.to_vec(),
                    None => fs_err::read(dir.join(&rel))?,
                };
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(if executable { 0o755 } else { 0o644 });
                header.set_size(bytes.len() as u64);
                tar.append_data(&mut header, &name, bytes.as_slice())
                    .with_context(|| format!("adding {name} to the sdist"))?;
            }
        }
    }
    let mut gz = tar
        .into_inner()
        .context("finishing the sdist's tar stream")?;
    gz.flush().context("finishing the sdist's gzip stream")?;
    gz.finish().context("finishing the sdist's gzip stream")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusions() {
        assert!(excluded(".git", true));
        assert!(excluded("pkg/__pycache__", true));
        assert!(excluded("pkg/mod.pyc", false));
        assert!(excluded("build", true));
        assert!(excluded("demo.egg-info", true));
        assert!(excluded("PKG-INFO", false));
        assert!(
            !excluded("pkg/build", true),
            "only the top-level build/ is a build directory"
        );
        assert!(!excluded("build", false));
        assert!(!excluded("pkg/PKG-INFO", false));
        assert!(!excluded("pyproject.toml", false));
    }
}
