//! `online.rs` (`update-deps --online`) against the real loopback server
//! serving project pages in PEP 691 JSON and, for one project, PEP 503 HTML
//! only.

use std::time::Duration;

use xtask::failure;
use xtask::hash::Sha256;
use xtask::http::{Client, Options};
use xtask::loopback::{project_html, Fault, PageFile, Route, Server};
use xtask::online::{self, Pin, Served};
use xtask::package_index::DistKind;

fn fast() -> Options {
    Options {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(2),
        deadline: Duration::from_secs(2),
        retries: 1,
        backoff: Duration::from_millis(10),
        ..Options::default()
    }
}

struct Fixture {
    server: Server,
    sdist: PageFile,
    wheel: PageFile,
    yanked: PageFile,
    html_sdist: PageFile,
}

fn fixture() -> Fixture {
    let server = Server::start().unwrap();
    let sdist = PageFile::new("demo_pkg-1.0.tar.gz", b"demo sdist".to_vec());
    let wheel = PageFile::new("demo_pkg-1.0-py3-none-any.whl", b"demo wheel".to_vec());
    let mut yanked = PageFile::new("old_pkg-0.1.tar.gz", b"old sdist".to_vec());
    yanked.yanked = Some("security issue".into());
    server.add_project(
        "/simple/",
        "demo-pkg",
        &[sdist.clone(), wheel.clone()],
        "/files/",
    );
    server.add_project("/simple/", "old-pkg", &[yanked.clone()], "/files/");
    let html_sdist = PageFile::new("html_pkg-2.0.tar.gz", b"html sdist".to_vec());
    let html = project_html("html-pkg", std::slice::from_ref(&html_sdist), "/files/");
    server.route("/simple/html-pkg/", Route::page(None, Some(html)));
    Fixture {
        server,
        sdist,
        wheel,
        yanked,
        html_sdist,
    }
}

fn pin(name: &str, version: &str, files: &[&PageFile]) -> Pin {
    Pin {
        name: name.into(),
        version: version.into(),
        hashes: files.iter().map(|f| Sha256::of(&f.bytes)).collect(),
    }
}

fn client(server: &Server) -> Client {
    Client::with_options(&server.url("/simple/"), &[], fast()).unwrap()
}

#[test]
fn pinned_sdists_found_json_and_html_with_yank_warning() {
    let f = fixture();
    let pins = [
        pin("Demo_Pkg", "1.0", &[&f.sdist]),
        pin("old-pkg", "0.1", &[&f.yanked]),
        pin("html.pkg", "2.0", &[&f.html_sdist]),
    ];
    let lookups = online::lookup(&client(&f.server), &f.server.url("/simple/"), &pins, 4).unwrap();
    assert_eq!(lookups.len(), 3);
    let warnings = online::check_sdists(&lookups).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("old-pkg==0.1 sha256:"),
        "{warnings:?}"
    );
    assert!(warnings[0].ends_with("old_pkg-0.1.tar.gz is yanked on the index: security issue"));
    // Each project page was read once, asking for JSON first.
    for page in ["/simple/demo-pkg/", "/simple/old-pkg/", "/simple/html-pkg/"] {
        assert_eq!(f.server.hits(page), 1, "{page}");
    }
}

#[test]
fn adversarial_pinned_hash_not_served() {
    let f = fixture();
    let tampered = PageFile::new("demo_pkg-1.0.tar.gz", b"something else".to_vec());
    let pins = [
        pin("demo-pkg", "1.0", &[&tampered]),
        pin("demo-pkg", "1.0", &[&f.wheel]),
    ];
    let lookups = online::lookup(&client(&f.server), &f.server.url("/simple/"), &pins, 2).unwrap();
    assert_eq!(lookups[0].hashes[0].1, Served::Missing);
    let err = online::check_sdists(&lookups).unwrap_err();
    assert_eq!(failure::exit_code(&err), 1);
    let msg = err.to_string();
    assert!(
        msg.contains(&format!(
            "demo-pkg==1.0 sha256:{}: the index serves no file with this hash",
            Sha256::of(&tampered.bytes)
        )),
        "{msg}"
    );
    assert!(msg.starts_with("2 pinned hash(es)"), "{msg}");
}

#[test]
fn learns_which_hash_is_the_sdist() {
    let f = fixture();
    // As a hashed requirements.txt pins it: wheel and sdist hashes mixed.
    let pins = [pin("demo-pkg", "1.0", &[&f.wheel, &f.sdist])];
    let lookups = online::lookup(&client(&f.server), &f.server.url("/simple/"), &pins, 1).unwrap();
    let (sdists, warnings) = online::sdist_hashes(&lookups[0]).unwrap();
    assert_eq!(sdists, [Sha256::of(&f.sdist.bytes)]);
    assert!(warnings.is_empty());
    assert!(matches!(
        &lookups[0].hashes[0].1,
        Served::File {
            kind: DistKind::Wheel,
            ..
        }
    ));

    let pins = [pin("demo-pkg", "1.0", &[&f.wheel])];
    let lookups = online::lookup(&client(&f.server), &f.server.url("/simple/"), &pins, 1).unwrap();
    let err = online::sdist_hashes(&lookups[0]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("demo-pkg==1.0: none of its 1 hashes is an sdist on the index"),
        "{err}"
    );
}

#[test]
fn adversarial_unknown_project_and_broken_index() {
    let f = fixture();
    f.server.route(
        "/simple/flaky/",
        Route::bytes(Vec::new()).with_fault(Fault::fail_first(500, 100)),
    );
    let pins = [
        pin("no-such-project", "1.0", &[&f.sdist]),
        pin("flaky", "1.0", &[&f.sdist]),
    ];
    let err = online::lookup(&client(&f.server), &f.server.url("/simple/"), &pins, 2).unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.starts_with("cannot read 2 project page(s) from http://127.0.0.1:"),
        "{msg}"
    );
    assert!(
        msg.contains("/simple/flaky/: server answered HTTP 500"),
        "{msg}"
    );
    assert_eq!(f.server.hits("/simple/flaky/"), 2, "one retry");
    assert_eq!(failure::exit_code(&err), 2);
}
