//! The index directory against a verified list: walk it (no symlinks, only
//! regular files, names that are valid list paths), hash every file in
//! parallel (rayon; sha2 uses the CPU's SHA extensions where present) and
//! report every difference: changed, missing and unlisted files, and names
//! that differ from a listed one only in case.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use pinwheel_trust::hash::Sha256;
use pinwheel_trust::sha256sums::{self, LIST_FILE, SIGNATURE_FILE};

/// One way the index differs from its list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeProblem {
    #[error("{path}: changed (sha256 {actual}, the list says {listed})")]
    Changed {
        path: String,
        listed: Sha256,
        actual: Sha256,
    },
    #[error("{0}: listed but missing")]
    Missing(String),
    #[error("{0}: not in the list")]
    Unlisted(String),
    #[error("{found}: differs only in case from the listed {listed}")]
    CaseOnly { listed: String, found: String },
    #[error("{0}: is a symbolic link (the index holds regular files only)")]
    Symlink(String),
    #[error("{0}: is not a regular file")]
    NotRegular(String),
    #[error("{0}: name is not a valid list path ({1})")]
    BadName(String, String),
}

/// A regular file found under the index, by its path relative to it.
#[derive(Debug, Clone)]
pub struct Found {
    pub rel: String,
    pub abs: PathBuf,
    pub size: u64,
}

/// Walks `index` (sorted), returning its regular files except the list and
/// its signature, and the problems found on the way (symlinks, special
/// files, names the list could not hold).
pub fn walk(index: &Path) -> anyhow::Result<(Vec<Found>, Vec<TreeProblem>)> {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    let mut stack = vec![(index.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let mut entries: Vec<_> = fs_err::read_dir(&dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                let shown = format!("{prefix}{}", name.to_string_lossy());
                problems.push(TreeProblem::BadName(shown, "not UTF-8".to_owned()));
                continue;
            };
            let rel = format!("{prefix}{name}");
            if prefix.is_empty() && (name == LIST_FILE || name == SIGNATURE_FILE) {
                continue;
            }
            let meta = fs_err::symlink_metadata(entry.path())?;
            let kind = meta.file_type();
            if kind.is_symlink() {
                problems.push(TreeProblem::Symlink(rel));
            } else if kind.is_dir() {
                stack.push((entry.path(), format!("{rel}/")));
            } else if !kind.is_file() {
                problems.push(TreeProblem::NotRegular(rel));
            } else if let Err(e) = sha256sums::check_path(&rel) {
                problems.push(TreeProblem::BadName(rel, e.to_string()));
            } else {
                files.push(Found {
                    rel,
                    abs: entry.path(),
                    size: meta.len(),
                });
            }
        }
    }
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok((files, problems))
}

/// Hashes `files` in parallel, biggest first, with a progress bar on a
/// terminal.
pub fn hash_all(files: &[Found]) -> anyhow::Result<BTreeMap<String, Sha256>> {
    let total: u64 = files.iter().map(|f| f.size).sum();
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("hashing {bar:30} {bytes}/{total_bytes} {bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut order: Vec<&Found> = files.iter().collect();
    order.sort_by_key(|f| std::cmp::Reverse(f.size));
    let hashed: Vec<(String, Sha256)> = order
        .par_iter()
        .map(|f| {
            let file = fs_err::File::open(&f.abs)?;
            let (digest, _) =
                Sha256::of_reader(file).with_context(|| format!("{}: reading", f.abs.display()))?;
            bar.inc(f.size);
            Ok((f.rel.clone(), digest))
        })
        .collect::<anyhow::Result<_>>()?;
    bar.finish_and_clear();
    Ok(hashed.into_iter().collect())
}

/// Compares what is on disk with the list (pure).
pub fn compare(
    listed: &BTreeMap<String, Sha256>,
    on_disk: &BTreeMap<String, Sha256>,
) -> Vec<TreeProblem> {
    let mut problems = Vec::new();
    let lower_listed: BTreeMap<String, &String> =
        listed.keys().map(|p| (p.to_ascii_lowercase(), p)).collect();
    let mut case_matched_listed = Vec::new();
    for (path, actual) in on_disk {
        match listed.get(path) {
            Some(want) if want == actual => {}
            Some(want) => problems.push(TreeProblem::Changed {
                path: path.clone(),
                listed: *want,
                actual: *actual,
            }),
            None => match lower_listed.get(&path.to_ascii_lowercase()) {
                Some(listed_path) if !on_disk.contains_key(*listed_path) => {
                    case_matched_listed.push((*listed_path).clone());
                    problems.push(TreeProblem::CaseOnly {
                        listed: (*listed_path).clone(),
                        found: path.clone(),
                    });
                }
                _ => problems.push(TreeProblem::Unlisted(path.clone())),
            },
        }
    }
    for path in listed.keys() {
        if !on_disk.contains_key(path) && !case_matched_listed.contains(path) {
            problems.push(TreeProblem::Missing(path.clone()));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(items: &[(&str, &[u8])]) -> BTreeMap<String, Sha256> {
        items
            .iter()
            .map(|(p, d)| (p.to_string(), Sha256::of(d)))
            .collect()
    }

    #[test]
    fn same_tree_has_no_problems() {
        let a = map(&[("files/a.whl", b"a"), ("files/b.whl", b"b")]);
        assert!(compare(&a, &a).is_empty());
    }

    #[test]
    fn adversarial_changed_missing_unlisted_case() {
        let listed = map(&[
            ("files/A.whl", b"a"),
            ("files/b.whl", b"b"),
            ("files/c.whl", b"c"),
        ]);
        let disk = map(&[
            ("files/a.whl", b"a"),
            ("files/b.whl", b"B"),
            ("files/d.whl", b"d"),
        ]);
        let problems = compare(&listed, &disk);
        assert_eq!(
            problems,
            vec![
                TreeProblem::CaseOnly {
                    listed: "files/A.whl".into(),
                    found: "files/a.whl".into()
                },
                TreeProblem::Changed {
                    path: "files/b.whl".into(),
                    listed: Sha256::of(b"b"),
                    actual: Sha256::of(b"B")
                },
                TreeProblem::Unlisted("files/d.whl".into()),
                TreeProblem::Missing("files/c.whl".into()),
            ]
        );
    }

    #[test]
    fn adversarial_walk_refuses_symlinks_and_odd_names() {
        let dir = tempfile::tempdir().unwrap();
        let index = dir.path();
        fs_err::create_dir_all(index.join("files")).unwrap();
        fs_err::write(index.join("files/a.whl"), "a").unwrap();
        fs_err::write(index.join("sha256sums.txt"), "x").unwrap();
        fs_err::write(index.join("files/sp ace.whl"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", index.join("files/link.whl")).unwrap();
        std::os::unix::fs::symlink("/etc", index.join("outside")).unwrap();
        let (files, problems) = walk(index).unwrap();
        assert_eq!(
            files.iter().map(|f| f.rel.as_str()).collect::<Vec<_>>(),
            ["files/a.whl"]
        );
        assert!(
            problems.contains(&TreeProblem::Symlink("files/link.whl".into())),
            "{problems:?}"
        );
        assert!(
            problems.contains(&TreeProblem::Symlink("outside".into())),
            "{problems:?}"
        );
        assert!(problems
            .iter()
            .any(|p| matches!(p, TreeProblem::BadName(n, _) if n == "files/sp ace.whl")));
        let hashed = hash_all(&files).unwrap();
        assert_eq!(hashed["files/a.whl"], Sha256::of(b"a"));
    }
}
