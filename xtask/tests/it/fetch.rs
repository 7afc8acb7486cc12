//! `fetch.rs` and `package_index.rs` against the real loopback server:
//! parallel downloads, resume, and every way a download can go wrong
//! leaving nothing behind.

use std::path::Path;
use std::time::Duration;

use pinwheel_proof::loopback::{Fault, PageFile, Route, Server};
use pinwheel_pypa::simple_index;
use pinwheel_trust::failure;
use pinwheel_trust::hash::Sha256;
use url::Url;
use xtask::fetch::{self, Download, Outcome, Report};
use xtask::http::{Client, Options};
use xtask::package_index::{DistKind, PackageIndex};

fn fast() -> Options {
    Options {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(2),
        deadline: Duration::from_secs(2),
        min_rate: 1024 * 1024,
        retries: 2,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_redirects: 3,
        page_cap: 1024 * 1024,
    }
}

fn client(server: &Server) -> Client {
    Client::with_options(&server.url("/simple/"), &[], fast()).unwrap()
}

fn quiet(jobs: usize) -> fetch::Options {
    fetch::Options {
        jobs,
        cap: 1 << 24,
        progress: false,
    }
}

fn content(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i * 31 + j * 7) as u8).collect()
}

fn download(server: &Server, dir: &Path, name: &str, bytes: &[u8]) -> Download {
    Download {
        label: name.to_owned(),
        url: Url::parse(&server.url(&format!("/files/{name}"))).unwrap(),
        dest: dir.join(name),
        sha256: Sha256::of(bytes),
        size: Some(bytes.len() as u64),
    }
}

/// Every entry of `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

#[test]
fn fetches_in_parallel_then_resumes() {
    let server = Server::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut downloads = Vec::new();
    for i in 0..12 {
        let name = format!("pkg{i}-1.0.tar.gz");
        let bytes = content(i, 100_000 + i);
        server.route(&format!("/files/{name}"), Route::bytes(bytes.clone()));
        downloads.push(download(&server, dir.path(), &name, &bytes));
    }
    let c = client(&server);
    let report = fetch::fetch_all(&c, &downloads, &quiet(4)).unwrap();
    assert_eq!((report.fetched, report.present), (12, 0));
    for (i, d) in downloads.iter().enumerate() {
        assert_eq!(std::fs::read(&d.dest).unwrap(), content(i, 100_000 + i));
    }
    assert_eq!(
        listing(dir.path()).len(),
        12,
        "leftovers: {:?}",
        listing(dir.path())
    );
    let hits = server.requests().len();

    // An interrupted run: one file gone, one temporary file left behind.
    std::fs::remove_file(&downloads[3].dest).unwrap();
    std::fs::write(dir.path().join(".pinwheel-part-abc123"), b"partial").unwrap();
    let report = fetch::fetch_all(&c, &downloads, &quiet(4)).unwrap();
    assert_eq!(
        report,
        Report {
            present: 11,
            fetched: 1,
            bytes: 100_003
        }
    );
    assert_eq!(
        server.requests().len(),
        hits + 1,
        "present files were downloaded again"
    );
    assert_eq!(
        listing(dir.path()).len(),
        12,
        "stale part file kept: {:?}",
        listing(dir.path())
    );
}

#[test]
fn adversarial_hash_mismatch_removes_temporary_file() {
    let server = Server::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bytes = content(1, 5000);
    server.route(
        "/files/a-1.0.tar.gz",
        Route::bytes(bytes.clone()).with_fault(Fault::WrongBytes),
    );
    let d = download(&server, dir.path(), "a-1.0.tar.gz", &bytes);
    let err = fetch::fetch_all(&client(&server), &[d], &quiet(2)).unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("a-1.0.tar.gz: sha256 mismatch") && msg.contains("nothing was kept"),
        "{msg}"
    );
    assert!(msg.contains(&Sha256::of(&bytes).hex()), "{msg}");
    assert_eq!(failure::exit_code(&err), 1);
    assert!(
        listing(dir.path()).is_empty(),
        "left behind: {:?}",
        listing(dir.path())
    );
    assert_eq!(
        server.hits("/files/a-1.0.tar.gz"),
        1,
        "a hash mismatch must not be retried"
    );
}

#[test]
fn adversarial_short_body_leaves_nothing() {
    let server = Server::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bytes = content(2, 5000);
    server.route(
        "/files/b-1.0.tar.gz",
        Route::bytes(bytes.clone()).with_fault(Fault::Short { missing: 100 }),
    );
    let mut d = download(&server, dir.path(), "b-1.0.tar.gz", &bytes);
    d.size = None;
    let err = fetch::fetch_all(&client(&server), &[d], &quiet(2)).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("body ended after 5000 of 5100 bytes"), "{msg}");
    assert_eq!(failure::exit_code(&err), 2);
    assert!(
        listing(dir.path()).is_empty(),
        "left behind: {:?}",
        listing(dir.path())
    );
}

#[test]
fn adversarial_size_differs_from_index() {
    let server = Server::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bytes = content(3, 5000);
    server.route("/files/c-1.0.tar.gz", Route::bytes(bytes.clone()));
    server.route(
        "/files/endless-1.0.tar.gz",
        Route::bytes(Vec::new()).with_fault(Fault::Endless),
    );
    let c = client(&server);

    // Larger than recorded: aborted at the recorded size.
    let mut d = download(&server, dir.path(), "c-1.0.tar.gz", &bytes);
    d.size = Some(4000);
    let err = fetch::fetch_all(&c, &[d.clone()], &quiet(1)).unwrap_err();
    assert!(
        format!("{err:#}").contains("larger than the 4000 bytes the index recorded"),
        "{err:#}"
    );
    assert_eq!(failure::exit_code(&err), 1);

    // Shorter than recorded.
    d.size = Some(6000);
    let err = fetch::fetch_all(&c, &[d], &quiet(1)).unwrap_err();
    assert!(
        format!("{err:#}").contains("served 5000 bytes, the index recorded 6000"),
        "{err:#}"
    );
    assert_eq!(failure::exit_code(&err), 1);

    // Endless, no recorded size: aborted at the cap.
    let mut d = download(&server, dir.path(), "endless-1.0.tar.gz", b"");
    d.size = None;
    let err = fetch::fetch_all(
        &c,
        &[d],
        &fetch::Options {
            jobs: 1,
            cap: 200_000,
            progress: false,
        },
    )
    .unwrap_err();
    assert!(
        format!("{err:#}").contains("larger than the cap of 200000 bytes"),
        "{err:#}"
    );
    assert!(
        listing(dir.path()).is_empty(),
        "left behind: {:?}",
        listing(dir.path())
    );
}

#[test]
fn adversarial_drip_download_stops_at_deadline() {
    let server = Server::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bytes = content(4, 50);
    server.route(
        "/files/d-1.0.tar.gz",
        Route::bytes(bytes.clone()).with_fault(Fault::Drip {
            every: Duration::from_millis(300),
        }),
    );
    let d = download(&server, dir.path(), "d-1.0.tar.gz", &bytes);
    let started = std::time::Instant::now();
    let err = fetch::fetch_all(&client(&server), &[d], &quiet(1)).unwrap_err();
    assert!(format!("{err:#}").contains("deadline"), "{err:#}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(listing(dir.path()).is_empty());
}

#[test]
fn retried_transfer_starts_the_file_over() {
    let server = Server::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bytes = content(5, 300_000);
    server.route(
        "/files/e-1.0.tar.gz",
        Route::bytes(bytes.clone()).with_fault(Fault::short_first(1)),
    );
    server.route(
        "/files/f-1.0.tar.gz",
        Route::bytes(content(6, 10)).with_fault(Fault::fail_first(503, 2)),
    );
    let ds = [
        download(&server, dir.path(), "e-1.0.tar.gz", &bytes),
        download(&server, dir.path(), "f-1.0.tar.gz", &content(6, 10)),
    ];
    fetch::fetch_all(&client(&server), &ds, &quiet(2)).unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("e-1.0.tar.gz")).unwrap(),
        bytes
    );
    assert_eq!(server.hits("/files/e-1.0.tar.gz"), 2);
    assert_eq!(server.hits("/files/f-1.0.tar.gz"), 3);
}

#[test]
fn adversarial_content_disposition_ignored_and_wrong_file_replaced() {
    let server = Server::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bytes = content(7, 1000);
    server.route(
        "/files/g-1.0.tar.gz",
        Route::bytes(bytes.clone())
            .with_header("Content-Disposition", "attachment; filename=\"../evil.sh\""),
    );
    std::fs::write(dir.path().join("g-1.0.tar.gz"), b"stale bytes").unwrap();
    let d = download(&server, dir.path(), "g-1.0.tar.gz", &bytes);
    let report = fetch::fetch_all(&client(&server), &[d], &quiet(1)).unwrap();
    assert_eq!(report.fetched, 1);
    assert_eq!(listing(dir.path()), ["g-1.0.tar.gz"]);
    assert!(!dir.path().parent().unwrap().join("evil.sh").exists());
    assert_eq!(
        std::fs::read(dir.path().join("g-1.0.tar.gz")).unwrap(),
        bytes
    );
}

#[test]
fn adversarial_symlink_destination_refused() {
    let server = Server::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bytes = content(8, 100);
    server.route("/files/h-1.0.tar.gz", Route::bytes(bytes.clone()));
    let target = dir.path().join("elsewhere");
    std::fs::write(&target, b"keep").unwrap();
    std::os::unix::fs::symlink(&target, dir.path().join("h-1.0.tar.gz")).unwrap();
    let d = download(&server, dir.path(), "h-1.0.tar.gz", &bytes);
    let err = fetch::fetch_all(&client(&server), &[d], &quiet(1)).unwrap_err();
    assert!(format!("{err:#}").contains("symbolic link"), "{err:#}");
    assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    assert_eq!(server.hits("/files/h-1.0.tar.gz"), 0);
}

#[test]
fn several_failures_are_all_reported() {
    let server = Server::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let good = content(9, 100);
    server.route("/files/ok-1.tar.gz", Route::bytes(good.clone()));
    server.route(
        "/files/bad-1.tar.gz",
        Route::bytes(good.clone()).with_fault(Fault::WrongBytes),
    );
    let missing = download(&server, dir.path(), "missing-1.tar.gz", b"x");
    let ds = [
        download(&server, dir.path(), "ok-1.tar.gz", &good),
        download(&server, dir.path(), "bad-1.tar.gz", &good),
        missing,
    ];
    let err = fetch::fetch_all(&client(&server), &ds, &quiet(3)).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.starts_with("2 of 3 downloads failed"), "{msg}");
    assert_eq!(
        failure::exit_code(&err),
        1,
        "a mismatch among the failures exits 1"
    );
    assert_eq!(listing(dir.path()), ["ok-1.tar.gz"]);
}

#[test]
fn finds_files_by_hash_in_json_and_html_pages() {
    let server = Server::start().unwrap();
    let sdist = PageFile::new("Demo_Pkg-1.0.tar.gz", content(10, 300));
    let wheel = PageFile::new("demo_pkg-1.0-py3-none-any.whl", content(11, 300));
    let mut yanked = PageFile::new("demo_pkg-0.9.tar.gz", content(12, 300));
    yanked.yanked = Some("broken".into());
    yanked.requires_python = Some(">=3.8".into());
    server.add_project(
        "/simple/",
        "demo-pkg",
        &[sdist.clone(), wheel.clone(), yanked.clone()],
        "/files/",
    );
    // An HTML-only server for another project.
    let html = pinwheel_proof::loopback::project_html(
        "html-only",
        &[PageFile::new("html_only-2.0.zip", content(13, 10))],
        "../../files/",
    );
    server.route("/simple/html-only/", Route::page(None, Some(html)));
    server.route("/files/html_only-2.0.zip", Route::bytes(content(13, 10)));
    let c = client(&server);
    let index = PackageIndex::new(&c, &server.url("/simple/")).unwrap();

    let found = index
        .find_file("Demo.Pkg", &Sha256::of(&sdist.bytes))
        .unwrap();
    assert_eq!(
        (found.kind, found.file.filename.as_str()),
        (DistKind::Sdist, "Demo_Pkg-1.0.tar.gz")
    );
    assert_eq!(
        found.file.url.as_str(),
        server.url("/files/Demo_Pkg-1.0.tar.gz")
    );
    assert_eq!(found.file.size, Some(300));
    let req = server
        .requests()
        .into_iter()
        .find(|r| r.path == "/simple/demo-pkg/")
        .unwrap();
    assert!(req
        .header("accept")
        .unwrap()
        .starts_with(simple_index::JSON_TYPE));

    let found = index
        .find_file("demo-pkg", &Sha256::of(&wheel.bytes))
        .unwrap();
    assert_eq!(found.kind, DistKind::Wheel);
    let found = index
        .find_file("demo-pkg", &Sha256::of(&yanked.bytes))
        .unwrap();
    assert_eq!(
        xtask::package_index::yank_warning(&found.file.filename, found.file.yanked.as_deref())
            .unwrap(),
        "demo_pkg-0.9.tar.gz is yanked on the index: broken"
    );
    assert_eq!(found.file.requires_python.as_deref(), Some(">=3.8"));

    let (_, page) = index.project("html-only").unwrap();
    assert_eq!(page.format, simple_index::Format::Html);
    let found = index
        .find_file("html_only", &Sha256::of(&content(13, 10)))
        .unwrap();
    assert_eq!(
        found.file.url.as_str(),
        server.url("/files/html_only-2.0.zip")
    );

    let err = index
        .find_file("demo-pkg", &Sha256::of(b"nope"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/simple/demo-pkg/: the index serves no file of demo-pkg with sha256"),
        "{err}"
    );
    let err = index
        .find_file("absent", &Sha256::of(b"nope"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the index has no project named \"absent\""),
        "{err}"
    );

    // And the found file downloads and verifies.
    let dir = tempfile::tempdir().unwrap();
    let found = index
        .find_file("demo-pkg", &Sha256::of(&sdist.bytes))
        .unwrap();
    let d = Download {
        label: found.file.filename.clone(),
        url: found.file.url.clone(),
        dest: dir.path().join(&found.file.filename),
        sha256: found.file.sha256.unwrap(),
        size: found.file.size,
    };
    let outcome = fetch::fetch_one(&c, &d, 1 << 20, &fetch::Progress::hidden()).unwrap();
    assert_eq!(outcome, Outcome::Fetched { bytes: 300 });
}
