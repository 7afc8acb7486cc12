//! What this repository last trusted, for rollback protection: the list
//! committed at git's `HEAD`, and the local state file
//! `.pinwheel/last-trusted-version` (gitignored) that `verify` and
//! `sync-wheels` update after a list passed. A list is refused when its
//! version is lower than either, or equal to one of them with different
//! bytes (two different lists signed with the same version).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::fresh;
use pinwheel_trust::hash::Sha256;
use pinwheel_trust::sha256sums::SignedList;
use pinwheel_trust::verify::{History, Source, Trusted};

/// The state file, relative to the repository root.
pub const STATE_FILE: &str = ".pinwheel/last-trusted-version";

/// Reads the state file and git `HEAD`'s copy of the list at `list_path`.
pub fn history(root: &Path, list_path: &Path) -> anyhow::Result<History> {
    let mut history = History::default();
    let state = root.join(STATE_FILE);
    if let Some(t) = read_state(&state)? {
        history.known.push((Source::StateFile(state), t));
    }
    match head_list(list_path)? {
        HeadList::Found(bytes) => match SignedList::parse(&bytes) {
            Ok(list) => history.known.push((
                Source::GitHead,
                Trusted {
                    version: list.meta.version,
                    sha256: Sha256::of(&bytes),
                },
            )),
            Err(e) => {
                history.head_skipped = Some(format!("the list at git HEAD does not parse ({e})"))
            }
        },
        HeadList::Skipped(why) => history.head_skipped = Some(why),
    }
    Ok(history)
}

/// Reads `.pinwheel/last-trusted-version`: `<version> <sha256>\n`.
pub fn read_state(path: &Path) -> anyhow::Result<Option<Trusted>> {
    let text = match fs_err::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let parsed = text
        .strip_suffix('\n')
        .and_then(|l| l.split_once(' '))
        .and_then(|(v, h)| {
            Some(Trusted {
                version: v.parse().ok()?,
                sha256: h.parse().ok()?,
            })
        });
    match parsed {
        Some(t) => Ok(Some(t)),
        None => bail!(
            "{}: malformed (expected \"<version> <sha256>\"); delete it only if you trust the current list",
            path.display()
        ),
    }
}

/// Records that the list with `trusted` passed, unless the state file
/// already holds a higher version.
pub fn record(root: &Path, trusted: Trusted) -> anyhow::Result<()> {
    let path = root.join(STATE_FILE);
    if let Some(old) = read_state(&path)? {
        if old.version > trusted.version || old == trusted {
            return Ok(());
        }
    }
    fresh::write_atomic(
        &path,
        format!("{} {}\n", trusted.version, trusted.sha256).as_bytes(),
    )
}

/// git `HEAD`'s copy of a file, or why there is none.
enum HeadList {
    Found(Vec<u8>),
    Skipped(String),
}

/// Reads `HEAD:<path>` with git, when `list_path` is inside a work tree
/// and `HEAD` tracks it. Not being in a repository, having no commit yet or
/// not tracking the list are "skipped" (said on stderr by the caller); any
/// other git failure is an error.
fn head_list(list_path: &Path) -> anyhow::Result<HeadList> {
    // git runs in the nearest directory that exists: an index directory
    // not made yet (a first `sync-wheels`) must still be held to the list
    // committed at HEAD, not skipped as if git were missing.
    let mut dir = fresh::parent_dir(list_path);
    let mut rel = PathBuf::from(
        list_path
            .file_name()
            .context("list path has no file name")?,
    );
    while !dir.is_dir() {
        let (Some(parent), Some(last)) = (dir.parent(), dir.file_name()) else {
            break;
        };
        rel = Path::new(last).join(rel);
        dir = if parent.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            parent.to_path_buf()
        };
    }
    let git = |args: &[&str]| {
        duct::cmd("git", args)
            .dir(&dir)
            .env("GIT_OPTIONAL_LOCKS", "0")
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
    };
    let inside = match git(&["rev-parse", "--is-inside-work-tree"]) {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(HeadList::Skipped("git is not installed".to_owned()))
        }
        Err(e) => return Err(e).context("running git rev-parse"),
    };
    if !inside.status.success() {
        let stderr = String::from_utf8_lossy(&inside.stderr);
        if stderr.contains("not a git repository") {
            return Ok(HeadList::Skipped("not in a git repository".to_owned()));
        }
        bail!(
            "git rev-parse --is-inside-work-tree in {}: {}",
            dir.display(),
            stderr.trim()
        );
    }
    if !git(&["rev-parse", "--verify", "--quiet", "HEAD"])?
        .status
        .success()
    {
        return Ok(HeadList::Skipped(
            "the repository has no commit yet".to_owned(),
        ));
    }
    // `HEAD:./path` is relative to the current directory (git 1.7.7+).
    let spec = format!("HEAD:./{}", rel.to_string_lossy());
    let oid = git(&["rev-parse", "--verify", "--quiet", &spec])?;
    if !oid.status.success() {
        return Ok(HeadList::Skipped(
            "git HEAD does not track the list yet".to_owned(),
        ));
    }
    let oid = String::from_utf8_lossy(&oid.stdout).trim().to_owned();
    let blob = git(&["cat-file", "blob", &oid])?;
    if !blob.status.success() {
        bail!(
            "git cat-file blob {oid}: {}",
            String::from_utf8_lossy(&blob.stderr).trim()
        );
    }
    Ok(HeadList::Found(blob.stdout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_file_only_grows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STATE_FILE);
        assert_eq!(read_state(&path).unwrap(), None);
        let five = Trusted {
            version: 5,
            sha256: Sha256::of(b"five"),
        };
        record(dir.path(), five).unwrap();
        assert_eq!(read_state(&path).unwrap(), Some(five));
        record(
            dir.path(),
            Trusted {
                version: 4,
                sha256: Sha256::of(b"four"),
            },
        )
        .unwrap();
        assert_eq!(
            read_state(&path).unwrap(),
            Some(five),
            "a lower version never replaces a higher one"
        );
        let six = Trusted {
            version: 6,
            sha256: Sha256::of(b"six"),
        };
        record(dir.path(), six).unwrap();
        assert_eq!(read_state(&path).unwrap(), Some(six));
    }

    #[test]
    fn adversarial_malformed_state_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STATE_FILE);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        for text in [
            "",
            "5\n",
            "five abc\n",
            "5 abc\n",
            &format!("5 {}", Sha256::of(b"x")),
        ] {
            fs_err::write(&path, text).unwrap();
            let err = read_state(&path).unwrap_err().to_string();
            assert!(
                err.contains("last-trusted-version: malformed"),
                "{text:?}: {err}"
            );
        }
    }

    #[test]
    fn adversarial_index_directory_gone_still_held_to_head() {
        // A first sync into a deleted or never-made index directory must
        // still refuse a list older than the one committed at HEAD.
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let index = root.join("wheels-index");
        fs_err::create_dir_all(&index).unwrap();
        let list = index.join("sha256sums.txt");
        fs_err::write(
            &list,
            "# pinwheel-list: 1\n# version: 5\n# expires: 2099-01-01T00:00:00Z\n# scope: pinwheel/wheels-index\n",
        )
        .unwrap();
        let git = |args: &[&str]| {
            duct::cmd("git", args)
                .dir(root)
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@example.org")
                .env("GIT_COMMITTER_NAME", "t")
                .env("GIT_COMMITTER_EMAIL", "t@example.org")
                .stdout_null()
                .run()
                .unwrap();
        };
        git(&["init", "-q"]);
        git(&["add", "."]);
        git(&["commit", "-q", "-m", "list 5"]);
        fs_err::remove_dir_all(&index).unwrap();
        let history = history(root, &list).unwrap();
        assert_eq!(history.head_skipped, None);
        assert_eq!(history.max_version(), 5, "{history:?}");
        assert!(history.known.iter().any(|(s, _)| *s == Source::GitHead));
    }

    #[test]
    fn outside_git_head_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("sha256sums.txt");
        let history = history(dir.path(), &list).unwrap();
        assert!(history.known.is_empty());
        assert_eq!(
            history.head_skipped.as_deref(),
            Some("not in a git repository")
        );
        assert_eq!(history.max_version(), 0);
    }
}
