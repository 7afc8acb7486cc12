//! Where `update-deps` writes, one directory per application and target:
//!
//! ```text
//! requirements/<app>/<target>/requirements.txt        sdist sha256 pins
//! requirements/<app>/<target>/build-requirements.txt  our wheels' sha256 pins
//! ```
//!
//! and which files under `requirements/<app>/` are stale: those of the
//! layout with one file per application (`requirements/<app>/requirements.txt`,
//! `requirements/<app>/build-requirements.txt`) and those of targets the
//! application no longer ships to. Only these two file names are ever
//! removed, never through a symbolic link, and a target directory only
//! once it is empty.

use std::path::{Path, PathBuf};

use anyhow::bail;

use crate::build_requirements;
use crate::config::{App, Config};
use crate::fresh;

/// The directory of every application's requirements, under the root.
pub const DIR: &str = "requirements";

/// The sdist pins of one application for one target.
pub const REQUIREMENTS: &str = "requirements.txt";

/// The wheel pins of one application for one target.
pub const BUILD_REQUIREMENTS: &str = build_requirements::FILE_NAME;

/// `<root>/requirements/<app>/<target>/requirements.txt`: the sdist pins
/// of `app` for the target named `target`, which `build-wheels` builds
/// from. With an empty `root`, the path relative to the repository.
pub fn requirements_path(root: &Path, app: &str, target: &str) -> PathBuf {
    root.join(DIR).join(app).join(target).join(REQUIREMENTS)
}

/// `<root>/requirements/<app>/<target>/build-requirements.txt`: the pins
/// of our own wheels that `build-deb` installs for `app` on the target
/// named `target`. With an empty `root`, the path relative to the
/// repository.
pub fn build_requirements_path(root: &Path, app: &str, target: &str) -> PathBuf {
    root.join(DIR)
        .join(app)
        .join(target)
        .join(BUILD_REQUIREMENTS)
}

/// `path` (a file under `root/requirements/`), once every directory on the
/// way that exists stays inside the repository and the file itself is not
/// a symbolic link.
pub fn checked_output(root: &Path, path: &Path) -> anyhow::Result<PathBuf> {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let mut dir = root.to_path_buf();
    let parents: Vec<_> = rel
        .parent()
        .into_iter()
        .flat_map(Path::components)
        .collect();
    for part in parents {
        dir.push(part);
        stays_inside(root, &dir)?;
    }
    fresh::refuse_symlink(path)?;
    Ok(path.to_path_buf())
}

/// Errors when `dir` exists and resolves to a place outside `root`.
fn stays_inside(root: &Path, dir: &Path) -> anyhow::Result<()> {
    if let Ok(real) = std::fs::canonicalize(dir) {
        if !real.starts_with(root) {
            bail!(
                "{}: leads out of the repository (to {}); refusing to write there",
                dir.display(),
                real.display()
            );
        }
    }
    Ok(())
}

/// A file `update-deps` no longer writes, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleFile {
    pub path: PathBuf,
    pub why: String,
    /// The target directory holding it, removed once empty.
    pub target_dir: Option<PathBuf>,
}

/// The stale files of application `name`, in path order.
pub fn stale_files(config: &Config, name: &str, app: &App) -> anyhow::Result<Vec<StaleFile>> {
    let root = &config.root;
    let app_dir = root.join(DIR).join(name);
    stays_inside(root, &root.join(DIR))?;
    stays_inside(root, &app_dir)?;
    let entries = match fs_err::read_dir(&app_dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err.into()),
    };
    let ships_to: Vec<&str> = config
        .targets_of(app)
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    let mut out = Vec::new();
    let mut entries = entries.collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry.file_type()?;
        if [REQUIREMENTS, BUILD_REQUIREMENTS].contains(&file_name.as_str()) && !kind.is_dir() {
            out.push(StaleFile {
                path: entry.path(),
                why: format!(
                    "one file per application is the old layout; the files are per target now, \
                     under {DIR}/{name}/<target>/"
                ),
                target_dir: None,
            });
            continue;
        }
        // Symbolic links are not ours to follow, and directories of the
        // targets it ships to are written, not removed.
        if !kind.is_dir() || ships_to.contains(&file_name.as_str()) {
            continue;
        }
        let why = if config.targets.contains_key(&file_name) {
            format!(
                "application {name} no longer ships to target {file_name} (apps.{name}.targets)"
            )
        } else {
            format!("target {file_name} is no longer configured")
        };
        for file in [BUILD_REQUIREMENTS, REQUIREMENTS] {
            let path = entry.path().join(file);
            if fs_err::symlink_metadata(&path).is_ok() {
                out.push(StaleFile {
                    path,
                    why: why.clone(),
                    target_dir: Some(entry.path()),
                });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Removes a stale file (a symbolic link itself, never what it points
/// to), then its target directory if that is left empty; both durably.
pub fn remove(stale: &StaleFile) -> anyhow::Result<()> {
    fs_err::remove_file(&stale.path)?;
    fresh::sync_dir(&fresh::parent_dir(&stale.path))?;
    if let Some(dir) = &stale.target_dir {
        if fs_err::read_dir(dir)?.next().is_none() {
            fs_err::remove_dir(dir)?;
            fresh::sync_dir(&fresh::parent_dir(dir))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_per_application_and_target() {
        assert_eq!(
            requirements_path(Path::new("/r"), "demo", "trixie"),
            Path::new("/r/requirements/demo/trixie/requirements.txt")
        );
        assert_eq!(
            build_requirements_path(Path::new(""), "demo", "bookworm"),
            Path::new("requirements/demo/bookworm/build-requirements.txt")
        );
    }

    #[test]
    fn adversarial_stale_files_only_ours_never_through_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = fs_err::canonicalize(dir.path()).unwrap();
        let text = format!(
            "{}\n[apps.demo]\ndir = \"d\"\npyproject = \"d/pyproject.toml\"\nlock = \"d/uv.lock\"\n\
             targets = [\"trixie\"]\n",
            CONFIG_HEAD
        );
        let config = Config::parse(&root, &root.join("packaging/pinwheel.toml"), &text).unwrap();
        let app = config.app("demo").unwrap();
        let write = |rel: &str| {
            let path = root.join(rel);
            fs_err::create_dir_all(path.parent().unwrap()).unwrap();
            fs_err::write(path, "x").unwrap();
        };
        write("requirements/demo/requirements.txt");
        write("requirements/demo/trixie/requirements.txt");
        write("requirements/demo/bookworm/requirements.txt");
        write("requirements/demo/bookworm/build-requirements.txt");
        write("requirements/demo/sid/requirements.txt");
        write("requirements/demo/sid/notes.md");
        write("requirements/demo/README");
        let outside = tempfile::tempdir().unwrap();
        fs_err::write(outside.path().join("requirements.txt"), "precious").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("requirements/demo/buster")).unwrap();
        let stale = stale_files(&config, "demo", app).unwrap();
        let rel: Vec<String> = stale
            .iter()
            .map(|s| s.path.strip_prefix(&root).unwrap().display().to_string())
            .collect();
        assert_eq!(
            rel,
            [
                "requirements/demo/bookworm/build-requirements.txt",
                "requirements/demo/bookworm/requirements.txt",
                "requirements/demo/requirements.txt",
                "requirements/demo/sid/requirements.txt",
            ]
        );
        assert!(
            stale[0].why.contains("no longer ships to target bookworm"),
            "{stale:?}"
        );
        assert!(stale[2].why.contains("old layout"), "{stale:?}");
        assert!(
            stale[3].why.contains("target sid is no longer configured"),
            "{stale:?}"
        );
        for s in &stale {
            remove(s).unwrap();
        }
        assert!(!root.join("requirements/demo/bookworm").exists());
        assert!(root.join("requirements/demo/sid/notes.md").exists());
        assert!(root.join("requirements/demo/README").exists());
        assert!(root
            .join("requirements/demo/trixie/requirements.txt")
            .exists());
        assert_eq!(
            fs_err::read_to_string(outside.path().join("requirements.txt")).unwrap(),
            "precious"
        );
        // A target directory leading out of the repository is refused.
        let err = checked_output(
            &root,
            &root.join("requirements/demo/buster/requirements.txt"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("buster: leads out of the repository"), "{err}");
    }

    const CONFIG_HEAD: &str = r#"
[targets.bookworm]
suite = "bookworm"
python = "3.11.2"

[targets.trixie]
suite = "trixie"
python = "3.13.5"

[build]
source-date-epoch = 1700000000

[trust]
keys = "packaging/keys"
fingerprints = []
threshold = 1
scope = "pinwheel/wheels-index"
expiry-days = 180

[bootstrap]
dir = "packaging/bootstrap"
lock = "packaging/bootstrap/uv.lock"
"#;
}
