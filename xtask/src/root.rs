//! The repository a command acts on: the nearest directory at or above a
//! start directory that holds `packaging/pinwheel.toml`, as git and cargo
//! find theirs — never the checkout the binary happened to be compiled in.

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

/// Refuses a binary that cargo ran for another checkout than the one it
/// was compiled from: with one target directory shared by two clones
/// (a global `CARGO_TARGET_DIR`, a CI cache, a second worktree), `cargo
/// run` may find the other clone's build up to date and run it.
/// `ran_for` is the `CARGO_MANIFEST_DIR` cargo set for this run (any
/// package of the workspace: the proof's binary starts this one);
/// `built_from` the one this binary was compiled with. Compared by the
/// repositories that hold them; nothing is refused when either is gone.
pub fn check_binary(ran_for: &Path, built_from: &Path) -> anyhow::Result<()> {
    let (Ok(ran_for), Ok(built_from)) = (find(ran_for), find(built_from)) else {
        return Ok(());
    };
    if ran_for != built_from {
        anyhow::bail!(
            "this xtask binary was built from {} but cargo ran it for {} (a target directory shared \
             between checkouts); rebuild it here with `touch {}/xtask/src/main.rs && cargo xtask …`, \
             or give each checkout its own target directory",
            built_from.display(),
            ran_for.display(),
            ran_for.display()
        );
    }
    Ok(())
}
