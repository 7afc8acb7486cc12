//! The index directory against a verified list: walk it (no symlinks, only
//! regular files, names that are valid list paths), hash every file and
//! report every difference: changed, missing and unlisted files, and names
//! that differ from a listed one only in case.
//!
//! Hashing keeps every core busy whatever the sizes: one worker per core
//! takes the next file from one queue, biggest first, so a few big files
//! land on different cores and the small ones fill the gaps at the end
//! (rayon's halving of a sorted slice left every big file to one thread).
//! One file's SHA-256 is serial, so a single huge file runs at one core's
//! speed. A file is opened without following a symlink and must still be a
//! regular file when opened; files of [`MAP_FROM`] bytes and more are
//! memory-mapped (memmap2) and hashed in place, skipping read(2)'s copy out
//! of the page cache, smaller ones are read through one buffer per thread.
//! A mapped file truncated while it is hashed kills the process (SIGBUS):
//! verify then fails, it never passes.
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

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

/// Files at least this big are memory-mapped; smaller ones fit in a few
/// reads of the thread's buffer, where a mapping's fixed costs (two system
/// calls, page faults, unmapping while other threads run) would not pay.
pub const MAP_FROM: u64 = 1 << 20;

/// Hashes `files` on every core (see the module doc), with a progress bar
/// on a terminal.
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
    let order = queue_order(files);
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let hashed = run_queue(&order, workers, |f| {
        let digest = hash_file(f)?;
        bar.inc(f.size);
        Ok(digest)
    })?;
    bar.finish_and_clear();
    Ok(order
        .iter()
        .zip(hashed)
        .map(|(f, (_, digest))| (f.rel.clone(), digest))
        .collect())
}

/// The order the workers take files in: biggest first (the longest jobs
/// start first, the short ones even out the end), then by path.
pub fn queue_order(files: &[Found]) -> Vec<&Found> {
    let mut order: Vec<&Found> = files.iter().collect();
    order.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.rel.cmp(&b.rel)));
    order
}

/// Runs `work` on every item on `workers` threads (the calling one among
/// them), each taking the next item in order until none is left. Returns,
/// for each item in order, the worker that took it and its result; on
/// failure, the error of the first failing item in order, after the
/// workers stopped taking new items.
pub fn run_queue<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    work: impl Fn(&T) -> anyhow::Result<R> + Sync,
) -> anyhow::Result<Vec<(usize, R)>> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let worker = |id: usize| {
        let mut done = Vec::new();
        while !failed.load(Ordering::Relaxed) {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            let result = work(item);
            if result.is_err() {
                failed.store(true, Ordering::Relaxed);
            }
            done.push((i, id, result));
        }
        done
    };
    let workers = workers.clamp(1, items.len().max(1));
    let mut done = std::thread::scope(|scope| {
        let others: Vec<_> = (1..workers)
            .map(|id| scope.spawn(move || worker(id)))
            .collect();
        let mut done = worker(0);
        for handle in others {
            match handle.join() {
                Ok(theirs) => done.extend(theirs),
                Err(_) => anyhow::bail!("a hashing thread panicked"),
            }
        }
        Ok(done)
    })?;
    done.sort_by_key(|(i, _, _)| *i);
    done.into_iter()
        .map(|(_, id, result)| result.map(|r| (id, r)))
        .collect()
}

/// Opens a found file without following a symlink (and without blocking
/// on a FIFO swapped in since the walk), checks that it is still a regular
/// file, and hashes it: mapped when it is big, read otherwise. A file that
/// became a symlink or something other than a regular file is a
/// verification failure, like one the walk finds.
pub fn hash_file(f: &Found) -> anyhow::Result<Sha256> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&f.abs);
    let file = match file {
        Ok(file) => file,
        Err(err) if err.raw_os_error() == Some(libc::ELOOP) => {
            return Err(pinwheel_trust::failure::verification_failed(
                TreeProblem::Symlink(f.rel.clone()).to_string(),
            ))
        }
        Err(err) => {
            return Err(err).with_context(|| format!("{}: opening", f.abs.display()));
        }
    };
    let meta = file
        .metadata()
        .with_context(|| format!("{}: reading its metadata", f.abs.display()))?;
    if !meta.file_type().is_file() {
        return Err(pinwheel_trust::failure::verification_failed(
            TreeProblem::NotRegular(f.rel.clone()).to_string(),
        ));
    }
    if meta.len() >= MAP_FROM {
        // SAFETY: the mapping is read-only and private to this call. Its
        // bytes may change under us if another process writes the file;
        // then the digest is of some mix of old and new bytes and does not
        // match, as a read(2) racing a writer would. A truncation makes the
        // access fault (SIGBUS): the process dies and verify fails.
        let map = unsafe { memmap2::Mmap::map(&file) }
            .with_context(|| format!("{}: mapping", f.abs.display()))?;
        // Only a hint (sequential readahead for a file not yet cached).
        let _ = map.advise(memmap2::Advice::Sequential);
        return Ok(Sha256::of(&map));
    }
    let (digest, _) =
        Sha256::of_reader(file).with_context(|| format!("{}: reading", f.abs.display()))?;
    Ok(digest)
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

    fn found(rel: &str, size: u64) -> Found {
        Found {
            rel: rel.to_owned(),
            abs: PathBuf::from(rel),
            size,
        }
    }

    #[test]
    fn queue_takes_biggest_first_then_by_path() {
        let files = [
            found("files/small-b", 10),
            found("files/big", 1000),
            found("files/small-a", 10),
            found("files/mid", 100),
        ];
        let order: Vec<&str> = queue_order(&files).iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(
            order,
            ["files/big", "files/mid", "files/small-a", "files/small-b"]
        );
    }

    /// Two threads meet here; a deadlock guard turns a wait that never
    /// ends into an error (the guard is not a timing assertion: a correct
    /// queue never waits long).
    struct Rendezvous {
        arrived: std::sync::Mutex<u64>,
        changed: std::sync::Condvar,
    }

    impl Rendezvous {
        fn meet(&self) -> anyhow::Result<()> {
            let mut arrived = self.arrived.lock().unwrap();
            *arrived += 1;
            let pair = arrived.div_ceil(2);
            self.changed.notify_all();
            let (arrived, waited) = self
                .changed
                .wait_timeout_while(arrived, std::time::Duration::from_secs(60), |n| {
                    *n < pair * 2
                })
                .unwrap();
            anyhow::ensure!(
                !waited.timed_out(),
                "no other worker took a big file beside this one ({} arrived)",
                *arrived
            );
            Ok(())
        }
    }

    #[test]
    fn few_big_files_go_to_different_workers() {
        // Eight big files and the small ones of a demo index, as `verify`
        // orders them. A big file is only finished once another worker
        // holds a big file too, so a queue that leaves several big files
        // to one worker fails here instead of being slow.
        let mut files: Vec<Found> = (0..8).map(|i| found(&format!("big{i}"), 1 << 27)).collect();
        files.extend((0..24).map(|i| found(&format!("small{i:02}"), 1000 + i)));
        let order = queue_order(&files);
        let meet = Rendezvous {
            arrived: std::sync::Mutex::new(0),
            changed: std::sync::Condvar::new(),
        };
        let taken = run_queue(&order, 2, |f| {
            if f.size >= MAP_FROM {
                meet.meet()?;
            }
            Ok(f.rel.clone())
        })
        .unwrap();
        let names: Vec<&str> = taken.iter().map(|(_, rel)| rel.as_str()).collect();
        assert_eq!(
            names,
            order.iter().map(|f| f.rel.as_str()).collect::<Vec<_>>()
        );
        let big_per_worker = |w: usize| {
            taken
                .iter()
                .filter(|(id, rel)| *id == w && rel.starts_with("big"))
                .count()
        };
        assert_eq!((big_per_worker(0), big_per_worker(1)), (4, 4), "{taken:?}");
    }

    #[test]
    fn queue_never_starts_more_workers_than_items() {
        let taken = run_queue(&[1, 2], 8, |n| Ok(*n * 10)).unwrap();
        assert_eq!(taken.iter().map(|(_, r)| *r).collect::<Vec<_>>(), [10, 20]);
        assert!(taken.iter().all(|(id, _)| *id < 2), "{taken:?}");
        assert!(run_queue(&[] as &[u8], 4, |_| Ok(())).unwrap().is_empty());
    }

    #[test]
    fn queue_stops_at_the_first_failure() {
        let seen = std::sync::Mutex::new(Vec::new());
        let err = run_queue(&[1, 2, 3, 4], 1, |n| {
            seen.lock().unwrap().push(*n);
            anyhow::ensure!(*n != 2, "item {n} failed");
            Ok(())
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "item 2 failed");
        assert_eq!(*seen.lock().unwrap(), [1, 2]);
    }

    #[test]
    fn mapped_and_read_files_hash_alike() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = vec![0u8; (MAP_FROM + 12_345) as usize];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (i * 7 % 251) as u8;
        }
        for (name, len) in [
            ("empty", 0),
            ("small", 1000),
            ("just-below", MAP_FROM as usize - 1),
            ("at", MAP_FROM as usize),
            ("above", bytes.len()),
        ] {
            let path = dir.path().join(name);
            fs_err::write(&path, &bytes[..len]).unwrap();
            let f = Found {
                rel: format!("files/{name}"),
                abs: path,
                size: len as u64,
            };
            assert_eq!(hash_file(&f).unwrap(), Sha256::of(&bytes[..len]), "{name}");
        }
    }

    #[test]
    fn adversarial_file_swapped_after_the_walk_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let index = dir.path();
        fs_err::create_dir_all(index.join("files")).unwrap();
        fs_err::write(index.join("files/a.whl"), "a").unwrap();
        fs_err::write(index.join("files/b.whl"), "b").unwrap();
        fs_err::write(dir.path().join("secret"), "not in the index").unwrap();
        let (files, problems) = walk(index).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        // Between the walk and the hashing, a.whl becomes a symlink out of
        // the index and b.whl a FIFO (which must not block the open).
        fs_err::remove_file(index.join("files/a.whl")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), index.join("files/a.whl")).unwrap();
        fs_err::remove_file(index.join("files/b.whl")).unwrap();
        let fifo = std::ffi::CString::new(index.join("files/b.whl").as_os_str().as_encoded_bytes())
            .unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let a = hash_file(&files[0]).unwrap_err();
        assert!(pinwheel_trust::failure::is_no(&a), "{a:#}");
        assert_eq!(
            a.to_string(),
            "files/a.whl: is a symbolic link (the index holds regular files only)"
        );
        let b = hash_file(&files[1]).unwrap_err();
        assert!(pinwheel_trust::failure::is_no(&b), "{b:#}");
        assert_eq!(b.to_string(), "files/b.whl: is not a regular file");
        let all = hash_all(&files).unwrap_err();
        assert!(pinwheel_trust::failure::is_no(&all), "{all:#}");
    }
}
