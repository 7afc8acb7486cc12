//! The repository a command acts on: the nearest directory at or above a
//! start directory that holds `packaging/pinwheel.toml`, as git and cargo
//! find theirs.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The configuration file, relative to the repository root.
pub const CONFIG_FILE: &str = "packaging/pinwheel.toml";

/// Walks up from `start` to the first directory holding [`CONFIG_FILE`];
/// the result is canonical.
pub fn find(start: &Path) -> anyhow::Result<PathBuf> {
    let start = fs_err::canonicalize(start)?;
    start
        .ancestors()
        .find(|dir| dir.join(CONFIG_FILE).is_file())
        .map(Path::to_path_buf)
        .with_context(|| {
            format!(
                "{}: no {CONFIG_FILE} here or in any parent directory (pass --root DIR)",
                start.display()
            )
        })
}
