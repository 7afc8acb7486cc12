//! `cargo xtask sync-wheels` end to end: the real binary syncing from a
//! signed index that the loopback server serves (and that misbehaves on
//! purpose), or that lies in a directory of its own (a second checkout,
//! given as a path or a `file://` URL), into a throwaway repository. Every
//! bad input ends with the reason named, the right exit code, and the local
//! index untouched.

use crate::support::keys;
use crate::support::repo;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use keys::{SigOpts, Spec, TestKey};
use pinwheel_proof::loopback::{Fault, Route, Server};
use pinwheel_trust::hash::Sha256;
use pinwheel_trust::sha256sums::{ListMeta, SignedList};
use repo::{Repo, Run};
use time::OffsetDateTime;

const SCOPE: &str = "pinwheel/wheels-index";

/// The remote index: files, a list signed by `signer`, served at `/idx/`.
struct Remote {
    server: Server,
    files: BTreeMap<String, Vec<u8>>,
}

fn now() -> u32 {
    OffsetDateTime::now_utc().unix_timestamp() as u32
}

fn default_files() -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    files.insert(
        "files/demo-1.0-py3-none-any.whl".to_owned(),
        b"demo wheel".to_vec(),
    );
    files.insert("files/demo-1.0.tar.gz".to_owned(), b"demo sdist".to_vec());
    files.insert(
        "files/big-2.0-py3-none-any.whl".to_owned(),
        (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect(),
    );
    files.insert(
        "simple/demo/index.html".to_owned(),
        b"<a href=\"../../files/demo-1.0.tar.gz\">demo</a>".to_vec(),
    );
    files
}

/// The list text for `files`.
fn list_text(files: &BTreeMap<String, Vec<u8>>, version: u64, expires: OffsetDateTime) -> Vec<u8> {
    let list = SignedList {
        meta: ListMeta {
            version,
            expires,
            scope: SCOPE.to_owned(),
        },
        entries: files
            .iter()
            .map(|(p, b)| (p.clone(), Sha256::of(b)))
            .collect(),
    };
    list.render().unwrap().into_bytes()
}

fn sign(key: &TestKey, data: &[u8]) -> Vec<u8> {
    keys::asc(&[key.sign(data, &SigOpts::at(now() - 60))])
}

impl Remote {
    fn new(signer: &TestKey, version: u64) -> Remote {
        let remote = Remote {
            server: Server::start().unwrap(),
            files: default_files(),
        };
        remote.publish(signer, version);
        remote
    }

    /// Serves every file and a freshly signed list of them.
    fn publish(&self, signer: &TestKey, version: u64) {
        for (path, bytes) in &self.files {
            self.server
                .route(&format!("/idx/{path}"), Route::bytes(bytes.clone()));
        }
        let list = list_text(
            &self.files,
            version,
            OffsetDateTime::now_utc() + time::Duration::days(30),
        );
        self.server
            .route("/idx/sha256sums.txt.asc", Route::bytes(sign(signer, &list)));
        self.server.route("/idx/sha256sums.txt", Route::bytes(list));
    }

    fn url(&self) -> String {
        self.server.url("/idx/")
    }

    /// Requests for listed files (not the list or its signature).
    fn file_hits(&self) -> usize {
        self.server
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/idx/") && !r.path.contains("sha256sums"))
            .count()
    }
}

fn alice() -> TestKey {
    keys::make(&Spec::ed25519(11, "Alice"))
}

/// A repository pinning `key`, with an empty index.
fn local(key: &TestKey) -> Repo {
    let repo = Repo::new(&[&key.fingerprint()], 1);
    std::fs::write(repo.keys().join("alice.asc"), key.public_armored()).unwrap();
    std::fs::remove_dir_all(repo.index()).unwrap();
    repo
}

fn sync(repo: &Repo, remote: &Remote, extra: &[&str]) -> Run {
    let url = remote.url();
    let mut args = vec!["sync-wheels", "--from", url.as_str()];
    args.extend_from_slice(extra);
    repo.xtask(&args)
}

/// Every file under `dir` and its bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// Every `.pinwheel-part-*` file under `dir`.
fn parts(dir: &Path) -> Vec<PathBuf> {
    tree(dir)
        .into_keys()
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".pinwheel-part-")
        })
        .collect()
}

fn assert_synced(repo: &Repo, files: &BTreeMap<String, Vec<u8>>) {
    for (path, bytes) in files {
        assert_eq!(
            &std::fs::read(repo.index().join(path)).unwrap(),
            bytes,
            "{path}"
        );
    }
    repo.xtask(&["verify"]).ok();
}

#[test]
fn sync_into_an_empty_index_then_verify_then_nothing_to_do() {
    let key = alice();
    let remote = Remote::new(&key, 3);
    let repo = local(&key);
    let run = sync(&repo, &remote, &[]);
    run.ok();
    assert!(
        run.stdout.contains("list version 3") && run.stdout.contains("4 file(s) fetched"),
        "{run:#?}"
    );
    assert_synced(&repo, &remote.files);
    assert_eq!(
        std::fs::read_to_string(repo.state())
            .unwrap()
            .split(' ')
            .next(),
        Some("3")
    );
    assert!(
        !repo.root().join(".pinwheel/sync-staging").exists(),
        "staging left behind"
    );
    let hits = remote.file_hits();
    assert_eq!(hits, 4);

    let run = sync(&repo, &remote, &[]);
    run.ok();
    assert!(
        run.stdout.contains("0 file(s) fetched") && run.stdout.contains("4 already present"),
        "{run:#?}"
    );
    assert_eq!(
        remote.file_hits(),
        hits,
        "present files were downloaded again"
    );
}

#[test]
fn sync_fetches_only_what_changed_and_resumes_from_staging() {
    let key = alice();
    let mut remote = Remote::new(&key, 3);
    let repo = local(&key);
    sync(&repo, &remote, &[]).ok();
    // A new wheel is published in version 4.
    remote.files.insert(
        "files/new-1.0-py3-none-any.whl".into(),
        b"new wheel".to_vec(),
    );
    remote.files.insert(
        "files/newer-1.0-py3-none-any.whl".into(),
        b"newer wheel".to_vec(),
    );
    remote.publish(&key, 4);
    // An earlier run was interrupted after staging one file, mid-way through another.
    let staging = repo.root().join(".pinwheel/sync-staging/files");
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::write(staging.join("new-1.0-py3-none-any.whl"), b"new wheel").unwrap();
    std::fs::write(staging.join(".pinwheel-part-Xy12"), b"new").unwrap();
    let hits = remote.file_hits();
    let run = sync(&repo, &remote, &[]);
    run.ok();
    assert_eq!(
        remote.file_hits() - hits,
        1,
        "only the file not staged yet: {:?}",
        remote.server.requests()
    );
    assert_synced(&repo, &remote.files);
    assert!(parts(repo.root()).is_empty());
}

#[test]
fn adversarial_sync_tampered_file_leaves_index_untouched() {
    let key = alice();
    let remote = Remote::new(&key, 3);
    remote.server.route(
        "/idx/files/big-2.0-py3-none-any.whl",
        Route::bytes(remote.files["files/big-2.0-py3-none-any.whl"].clone())
            .with_fault(Fault::WrongBytes),
    );
    let repo = local(&key);
    let run = sync(&repo, &remote, &[]);
    run.refused("files/big-2.0-py3-none-any.whl: sha256 mismatch");
    assert!(
        !repo.index().exists(),
        "the index was written: {:?}",
        tree(&repo.index())
    );
    assert!(!repo.state().exists());
    assert!(parts(repo.root()).is_empty(), "{:?}", parts(repo.root()));
}

#[test]
fn adversarial_sync_list_changed_after_signing() {
    let key = alice();
    let remote = Remote::new(&key, 3);
    let mut list = list_text(
        &remote.files,
        3,
        OffsetDateTime::now_utc() + time::Duration::days(30),
    );
    let signature = sign(&key, &list);
    let last = list.len() - 2;
    list[last] ^= 1;
    remote
        .server
        .route("/idx/sha256sums.txt", Route::bytes(list));
    remote
        .server
        .route("/idx/sha256sums.txt.asc", Route::bytes(signature));
    let repo = local(&key);
    let before = repo.snapshot();
    sync(&repo, &remote, &[]).refused("sha256sums.txt.asc");
    assert_eq!(repo.snapshot(), before);
    assert_eq!(
        remote.file_hits(),
        0,
        "files requested before the list was verified"
    );
}

#[test]
fn adversarial_sync_signed_by_an_unpinned_key() {
    let key = alice();
    let mallory = keys::make(&Spec::ed25519(66, "Mallory"));
    let remote = Remote::new(&mallory, 3);
    let repo = local(&key);
    let before = repo.snapshot();
    let run = sync(&repo, &remote, &[]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains("sha256sums.txt.asc"), "{run:#?}");
    assert_eq!(repo.snapshot(), before);
    assert_eq!(remote.file_hits(), 0);
}

#[test]
fn adversarial_sync_rollback_and_expired_list() {
    let key = alice();
    let remote = Remote::new(&key, 5);
    let repo = local(&key);
    sync(&repo, &remote, &[]).ok();
    let before = repo.snapshot();
    remote.publish(&key, 4);
    sync(&repo, &remote, &[]).refused("(rollback)");
    assert_eq!(repo.snapshot(), before);

    let list = list_text(
        &remote.files,
        6,
        OffsetDateTime::now_utc() - time::Duration::days(1),
    );
    remote
        .server
        .route("/idx/sha256sums.txt.asc", Route::bytes(sign(&key, &list)));
    remote
        .server
        .route("/idx/sha256sums.txt", Route::bytes(list));
    sync(&repo, &remote, &[]).refused("expired");
    assert_eq!(repo.snapshot(), before);
}

#[test]
fn adversarial_sync_endless_signature_file() {
    let key = alice();
    let remote = Remote::new(&key, 3);
    remote.server.route(
        "/idx/sha256sums.txt.asc",
        Route::bytes(Vec::new()).with_fault(Fault::Endless),
    );
    let repo = local(&key);
    let before = repo.snapshot();
    let started = Instant::now();
    sync(&repo, &remote, &[]).refused("larger than the cap of 1048576 bytes");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(repo.snapshot(), before);
}

#[test]
fn adversarial_sync_redirect_to_a_foreign_host() {
    let key = alice();
    let remote = Remote::new(&key, 3);
    remote.server.route(
        "/idx/files/demo-1.0.tar.gz",
        Route::bytes(Vec::new()).with_fault(Fault::Redirect {
            status: 302,
            location: "https://evil.example/demo-1.0.tar.gz".into(),
        }),
    );
    let repo = local(&key);
    let run = sync(&repo, &remote, &[]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr
            .contains("refusing redirect to https://evil.example/demo-1.0.tar.gz"),
        "{run:#?}"
    );
    assert!(!repo.index().exists());
}

#[test]
fn local_files_are_kept_unless_prune() {
    let key = alice();
    let remote = Remote::new(&key, 3);
    kept_unless_prune(&key, &remote.files, |repo, extra| {
        sync(repo, &remote, extra)
    });
}

#[test]
fn local_files_are_kept_unless_prune_from_a_directory() {
    let key = alice();
    let source = SourceDir::new(&key, 3);
    kept_unless_prune(&key, &source.files, |repo, extra| {
        source.sync(repo, &source.dir_arg(), extra)
    });
}

/// Differing and unlisted local files: kept, reported, then replaced and
/// removed with `--prune`; the same from every kind of source.
fn kept_unless_prune(
    key: &TestKey,
    files: &BTreeMap<String, Vec<u8>>,
    sync: impl Fn(&Repo, &[&str]) -> Run,
) {
    let repo = local(key);
    repo.write_index_file("files/local-only-1.0.tar.gz", b"mine");
    repo.write_index_file("files/demo-1.0.tar.gz", b"a different demo sdist");
    let before = repo.snapshot();
    let run = sync(&repo, &[]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("1 local file(s) differ from the signed list (files/demo-1.0.tar.gz); nothing was changed; run with --prune"), "{run:#?}");
    assert_eq!(repo.snapshot(), before);

    std::fs::remove_file(repo.index().join("files/demo-1.0.tar.gz")).unwrap();
    let run = sync(&repo, &[]);
    run.ok();
    assert!(
        run.stderr
            .contains("1 local file(s) are not in the signed list (files/local-only-1.0.tar.gz)"),
        "{run:#?}"
    );
    assert!(
        run.stdout
            .contains(": 4 file(s) fetched (300066 bytes), 0 already present"),
        "{run:#?}"
    );
    assert_eq!(
        std::fs::read(repo.index().join("files/local-only-1.0.tar.gz")).unwrap(),
        b"mine"
    );

    repo.write_index_file("files/demo-1.0.tar.gz", b"a different demo sdist");
    let run = sync(&repo, &["--prune"]);
    run.ok();
    assert!(
        run.stdout
            .contains("removed (not in the list): files/local-only-1.0.tar.gz"),
        "{run:#?}"
    );
    assert!(run.stdout.contains("1 replaced, 1 removed"), "{run:#?}");
    assert!(!repo.index().join("files/local-only-1.0.tar.gz").exists());
    assert_synced(&repo, files);
}

#[test]
fn adversarial_sync_sigint_leaves_no_partial_file_and_resumes() {
    let key = alice();
    let remote = Remote::new(&key, 3);
    let big = "/idx/files/big-2.0-py3-none-any.whl";
    remote.server.route(
        big,
        Route::bytes(remote.files["files/big-2.0-py3-none-any.whl"].clone()).with_fault(
            Fault::Drip {
                every: Duration::from_millis(20),
            },
        ),
    );
    let repo = local(&key);
    let url = remote.url();
    let handle = duct::cmd(
        env!("CARGO_BIN_EXE_xtask"),
        [
            "--root",
            repo.root().to_str().unwrap(),
            "sync-wheels",
            "--from",
            url.as_str(),
        ],
    )
    .stdout_capture()
    .stderr_capture()
    .unchecked()
    .start()
    .unwrap();
    // Interrupt once the big file is under way and every other file is
    // staged: the resumed run must then fetch the big file alone.
    let others = remote
        .files
        .keys()
        .filter(|k| !k.ends_with("big-2.0-py3-none-any.whl"))
        .count();
    let staging = repo.root().join(".pinwheel/sync-staging");
    // Names only: a file may be renamed between listing and reading.
    let staged = || {
        let mut count = 0;
        let mut stack = vec![staging.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if !entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".pinwheel-part-")
                {
                    count += 1;
                }
            }
        }
        count
    };
    let started = Instant::now();
    while remote.server.hits(big) == 0 || parts(repo.root()).is_empty() || staged() < others {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the download never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = handle.pids()[0];
    duct::cmd!("kill", "-INT", pid.to_string()).run().unwrap();
    let interrupted = Instant::now();
    let out = handle.wait().unwrap();
    assert!(
        interrupted.elapsed() < Duration::from_secs(5),
        "SIGINT took {:?}",
        interrupted.elapsed()
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(
        parts(repo.root()).is_empty(),
        "partial files left: {:?}",
        parts(repo.root())
    );
    assert!(!repo.index().exists(), "the index was written");

    remote.server.route(
        big,
        Route::bytes(remote.files["files/big-2.0-py3-none-any.whl"].clone()),
    );
    let hits = remote.file_hits();
    sync(&repo, &remote, &[]).ok();
    assert_eq!(
        remote.file_hits() - hits,
        1,
        "what was staged before the interrupt was fetched again"
    );
    assert_synced(&repo, &remote.files);
}

/// A signed index in a directory of its own, as in a second repository
/// checked out beside this one: `<tmp>/wheels-index/`.
struct SourceDir {
    dir: tempfile::TempDir,
    files: BTreeMap<String, Vec<u8>>,
}

impl SourceDir {
    fn new(signer: &TestKey, version: u64) -> SourceDir {
        let source = SourceDir {
            dir: tempfile::tempdir().unwrap(),
            files: default_files(),
        };
        source.publish(signer, version);
        source
    }

    fn index(&self) -> PathBuf {
        self.dir.path().join("wheels-index")
    }

    /// The index as the summary names it.
    fn canonical(&self) -> String {
        std::fs::canonicalize(self.index())
            .unwrap()
            .display()
            .to_string()
    }

    /// `--from` as an absolute path.
    fn dir_arg(&self) -> String {
        self.index().to_str().unwrap().to_owned()
    }

    /// Writes every file and a freshly signed list of them.
    fn publish(&self, signer: &TestKey, version: u64) {
        for (path, bytes) in &self.files {
            let at = self.index().join(path);
            std::fs::create_dir_all(at.parent().unwrap()).unwrap();
            std::fs::write(at, bytes).unwrap();
        }
        let list = list_text(
            &self.files,
            version,
            OffsetDateTime::now_utc() + time::Duration::days(30),
        );
        std::fs::write(self.index().join("sha256sums.txt.asc"), sign(signer, &list)).unwrap();
        std::fs::write(self.index().join("sha256sums.txt"), list).unwrap();
    }

    /// `sync-wheels --from FROM` into `repo`, run in the source's parent
    /// directory.
    fn sync(&self, repo: &Repo, from: &str, extra: &[&str]) -> Run {
        let mut args = vec!["sync-wheels", "--from", from];
        args.extend_from_slice(extra);
        xtask_in(repo, self.dir.path(), &args)
    }
}

/// `xtask --root <repo> args...` run in `cwd`, killed (and the test
/// failed) when it takes longer than 60 s: a command that opened a FIFO
/// would wait for a writer forever.
fn xtask_in(repo: &Repo, cwd: &Path, args: &[&str]) -> Run {
    let mut all = vec!["--root", repo.root().to_str().unwrap()];
    all.extend_from_slice(args);
    let handle = duct::cmd(env!("CARGO_BIN_EXE_xtask"), &all)
        .dir(cwd)
        .env_remove("PINWHEEL_KEY_PASSPHRASE")
        .env("GNUPGHOME", "/nonexistent/pinwheel-test-gnupghome")
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .start()
        .unwrap();
    let started = Instant::now();
    let out = loop {
        if let Some(out) = handle.try_wait().unwrap() {
            break out.clone();
        }
        if started.elapsed() > Duration::from_secs(60) {
            handle.kill().unwrap();
            panic!("xtask {args:?} still running after 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn sync_from_a_directory_by_path_and_by_file_url() {
    let key = alice();
    let mut source = SourceDir::new(&key, 3);

    // A path relative to the current directory.
    let by_path = local(&key);
    let run = source.sync(&by_path, "wheels-index", &[]);
    run.ok();
    assert!(
        run.stdout.contains(&format!(
            "list version 3 from {}: 4 file(s) fetched (300066 bytes), 0 already present",
            source.canonical()
        )),
        "{run:#?}"
    );
    assert_synced(&by_path, &source.files);
    assert_eq!(
        std::fs::read(by_path.asc()).unwrap(),
        std::fs::read(source.index().join("sha256sums.txt.asc")).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(by_path.state())
            .unwrap()
            .split(' ')
            .next(),
        Some("3")
    );
    assert!(!by_path.root().join(".pinwheel/sync-staging").exists());

    // A file:// URL.
    let by_url = local(&key);
    let url = url::Url::from_directory_path(source.index()).unwrap();
    assert!(url.as_str().starts_with("file:///"), "{url}");
    source.sync(&by_url, url.as_str(), &[]).ok();
    assert_synced(&by_url, &source.files);

    // Version 4 adds a wheel: only it is copied (an absolute path this time).
    source.files.insert(
        "files/new-1.0-py3-none-any.whl".into(),
        b"new wheel".to_vec(),
    );
    source.publish(&key, 4);
    let run = source.sync(&by_path, &source.dir_arg(), &[]);
    run.ok();
    assert!(
        run.stdout.contains(&format!(
            "list version 4 from {}: 1 file(s) fetched (9 bytes), 4 already present",
            source.canonical()
        )),
        "{run:#?}"
    );
    assert_synced(&by_path, &source.files);
}

#[test]
fn adversarial_sync_local_tampered_file_leaves_index_untouched() {
    let key = alice();
    let source = SourceDir::new(&key, 3);
    let tampered = b"demo sdisT".to_vec();
    std::fs::write(source.index().join("files/demo-1.0.tar.gz"), &tampered).unwrap();
    let repo = local(&key);
    let run = source.sync(&repo, &source.dir_arg(), &[]);
    run.refused("files/demo-1.0.tar.gz: sha256 mismatch");
    let pinned = Sha256::of(&source.files["files/demo-1.0.tar.gz"]).to_string();
    let found = Sha256::of(&tampered).to_string();
    assert!(
        run.stderr.contains(&format!(
            "{}/files/demo-1.0.tar.gz served {found}, the pin is {pinned}; nothing was kept",
            source.canonical()
        )),
        "{run:#?}"
    );
    assert!(
        !repo.index().exists(),
        "the index was written: {:?}",
        tree(&repo.index())
    );
    assert!(!repo.state().exists());
    assert!(parts(repo.root()).is_empty(), "{:?}", parts(repo.root()));
    assert!(
        !repo
            .root()
            .join(".pinwheel/sync-staging/files/demo-1.0.tar.gz")
            .exists(),
        "the tampered file was staged"
    );
}

#[test]
fn adversarial_sync_local_symlink_in_the_source_refused() {
    let key = alice();
    let source = SourceDir::new(&key, 3);
    let repo = local(&key);
    // Each link leads to the very bytes the list pins: following it would
    // pass every hash, so only the refusal to follow links can stop it.
    let copies = tempfile::tempdir().unwrap();
    let src = source.index();
    let cases = [
        ("files/demo-1.0.tar.gz", false),
        ("simple", true),
        ("sha256sums.txt.asc", false),
    ];
    for (rel, is_dir) in cases {
        let at = src.join(rel);
        let copy = copies.path().join(rel);
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        std::fs::rename(&at, &copy).unwrap();
        std::os::unix::fs::symlink(&copy, &at).unwrap();
        assert_eq!(std::fs::metadata(&at).unwrap().is_dir(), is_dir);
        let before = repo.snapshot();
        let run = source.sync(&repo, &source.dir_arg(), &[]);
        run.refused(&format!(
            "{}/{rel}: is a symbolic link; the source index may hold only regular files and directories",
            source.canonical()
        ));
        assert!(!repo.index().exists(), "{rel}: the index was written");
        assert!(!repo.state().exists());
        assert!(parts(repo.root()).is_empty(), "{:?}", parts(repo.root()));
        assert_eq!(
            repo.snapshot()
                .keys()
                .filter(|p| !before.contains_key(*p))
                .filter(|p| !p.starts_with(repo.root().join(".pinwheel/sync-staging")))
                .collect::<Vec<_>>(),
            Vec::<&PathBuf>::new()
        );
        std::fs::remove_file(&at).unwrap();
        std::fs::rename(&copy, &at).unwrap();
    }
    // With every link gone, the same source syncs.
    source.sync(&repo, &source.dir_arg(), &[]).ok();
    assert_synced(&repo, &source.files);
}

#[test]
fn adversarial_sync_local_bad_signature_opens_nothing_else() {
    let key = alice();
    let mallory = keys::make(&Spec::ed25519(66, "Mallory"));
    let source = SourceDir::new(&key, 3);
    let src = source.index();
    // Every listed file becomes a FIFO no one can open (a reader would
    // wait for a writer forever), in directories no one can enter; root,
    // who may enter anyway, still finds FIFOs.
    for path in source.files.keys() {
        let at = src.join(path);
        std::fs::remove_file(&at).unwrap();
        duct::cmd!("mkfifo", "-m", "000", &at).run().unwrap();
    }
    let locked = [
        src.join("files"),
        src.join("simple/demo"),
        src.join("simple"),
    ];
    let set_mode = |mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        for dir in &locked {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    };
    set_mode(0o000);
    let list = std::fs::read(src.join("sha256sums.txt")).unwrap();
    let asc = src.join("sha256sums.txt.asc");
    let repo = local(&key);
    let before = repo.snapshot();

    // Signed by a key that is not pinned.
    std::fs::write(&asc, sign(&mallory, &list)).unwrap();
    let run = source.sync(&repo, &source.dir_arg(), &[]);
    run.refused(&format!("{}/sha256sums.txt.asc: ", source.canonical()));
    assert_eq!(repo.snapshot(), before);

    // The list changed after signing.
    std::fs::write(&asc, sign(&key, &list)).unwrap();
    let mut flipped = list.clone();
    let last = flipped.len() - 2;
    flipped[last] ^= 1;
    std::fs::write(src.join("sha256sums.txt"), &flipped).unwrap();
    let run = source.sync(&repo, &source.dir_arg(), &[]);
    run.refused(&format!("{}/sha256sums.txt.asc: ", source.canonical()));
    assert_eq!(repo.snapshot(), before);

    // Not signed at all.
    std::fs::write(src.join("sha256sums.txt"), &list).unwrap();
    std::fs::remove_file(&asc).unwrap();
    let run = source.sync(&repo, &source.dir_arg(), &[]);
    run.refused(&format!(
        "{}/sha256sums.txt.asc: missing: the list is not signed",
        source.canonical()
    ));
    assert_eq!(repo.snapshot(), before);

    // The well-signed list does reach the files (and is refused on the
    // first FIFO): the checks above stopped before them.
    std::fs::write(&asc, sign(&key, &list)).unwrap();
    set_mode(0o755);
    let run = source.sync(&repo, &source.dir_arg(), &[]);
    run.refused("files/big-2.0-py3-none-any.whl: is not a regular file");
    assert!(!repo.index().exists());
}

#[test]
fn sync_from_the_index_itself_is_refused() {
    let key = alice();
    let repo = Repo::new(&[&key.fingerprint()], 1);
    std::fs::write(repo.keys().join("alice.asc"), key.public_armored()).unwrap();
    let alias = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(repo.index(), alias.path().join("idx")).unwrap();
    let before = repo.snapshot();
    for (cwd, from, why) in [
        (repo.root(), "wheels-index", "is the index being synced"),
        (repo.root(), "./wheels-index/", "is the index being synced"),
        (alias.path(), "idx", "is the index being synced"),
        (repo.root(), ".", "holds the index being synced"),
        (
            repo.root(),
            "wheels-index/files",
            "is inside the index being synced",
        ),
    ] {
        let run = xtask_in(&repo, cwd, &["sync-wheels", "--from", from]);
        assert_eq!(run.code, 2, "{from}: {run:#?}");
        let errors: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .collect();
        assert_eq!(errors.len(), 1, "{run:#?}");
        assert!(
            errors[0].contains(why)
                && errors[0].contains("give the other repository's index directory"),
            "{from}: {run:#?}"
        );
        assert_eq!(repo.snapshot(), before);
    }
}

#[test]
fn other_schemes_are_refused_in_one_line() {
    let key = alice();
    let repo = local(&key);
    let before = repo.snapshot();
    for (from, why) in [
        ("ftp://127.0.0.1/idx/", "unsupported scheme \"ftp\""),
        ("rsync://example.org/idx/", "unsupported scheme \"rsync\""),
        ("http://example.org/idx/", "must be https"),
        (
            "file://example.org/idx/",
            "must name a directory on this machine",
        ),
    ] {
        let run = repo.xtask(&["sync-wheels", "--from", from]);
        assert_eq!(run.code, 2, "{from}: {run:#?}");
        let errors: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .collect();
        assert_eq!(errors.len(), 1, "{run:#?}");
        assert!(errors[0].contains(why), "{from}: {run:#?}");
        assert_eq!(repo.snapshot(), before);
    }
}
