//! `update-deps --online` (`online.rs`) against the real loopback server:
//! the library on hand-made pages (JSON, and HTML only for one project),
//! then the real binary on the real locks of `test_data/locks/`, with an
//! index built from their `truth/index.txt` (every file of every version
//! the locks install, with its sha256, as the public index lists them).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use xtask::failure;
use xtask::hash::Sha256;
use xtask::http::{Client, Options};
use xtask::lockfile::SdistLookup;
use xtask::loopback::{project_html, Fault, PageFile, Route, Server};
use xtask::online::{self, IndexLookup, Pin, Served};
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
    server.add_project(
        "/simple/",
        "old-pkg",
        std::slice::from_ref(&yanked),
        "/files/",
    );
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
    Pin::sdist(name, version, files.iter().map(|f| f.sha256).collect())
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
    let c = client(&f.server);
    let index = IndexLookup::new(&c, &f.server.url("/simple/")).unwrap();
    let lookups = index.lookup(&pins).unwrap();
    assert_eq!(lookups.len(), 3);
    let warnings = online::check_pins(&lookups).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("old-pkg==0.1 sha256:"),
        "{warnings:?}"
    );
    assert!(warnings[0].ends_with("old_pkg-0.1.tar.gz is yanked on the index: security issue"));
    // Each page read once, asking for JSON first; a second lookup is cached.
    index.lookup(&pins).unwrap();
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
    let c = client(&f.server);
    let lookups = IndexLookup::new(&c, &f.server.url("/simple/"))
        .unwrap()
        .lookup(&pins)
        .unwrap();
    assert_eq!(lookups[0].hashes[0].1, Served::Missing);
    let err = online::check_pins(&lookups).unwrap_err();
    assert_eq!(failure::exit_code(&err), 1);
    let msg = err.to_string();
    assert!(
        msg.contains(&format!(
            "demo-pkg==1.0 sha256:{}: the index serves no file with this hash",
            tampered.sha256
        )),
        "{msg}"
    );
    assert!(msg.starts_with("2 pinned hash(es)"), "{msg}");
}

#[test]
fn classify_learns_which_hash_is_the_sdist() {
    let f = fixture();
    let c = client(&f.server);
    let index = IndexLookup::new(&c, &f.server.url("/simple/")).unwrap();
    let name = "demo-pkg".parse().unwrap();
    let version = "1.0".parse().unwrap();
    let other = Sha256::of(b"not on the index");
    let found = index
        .classify(&name, &version, &[f.wheel.sha256, f.sdist.sha256, other])
        .unwrap();
    assert_eq!(found.sdists.len(), 1);
    assert_eq!(found.sdists[0].sha256, f.sdist.sha256);
    assert_eq!(found.sdists[0].filename, "demo_pkg-1.0.tar.gz");
    assert_eq!(
        found.sdists[0].url.as_deref(),
        Some(f.server.url("/files/demo_pkg-1.0.tar.gz").as_str())
    );
    assert_eq!(found.wheels.len(), 1);
    // A hash the index serves for another version is refused.
    let err = index
        .classify(&name, &"0.9".parse().unwrap(), &[f.sdist.sha256])
        .unwrap_err();
    assert_eq!(failure::exit_code(&err), 1);
    assert!(
        err.to_string().contains("which is version 1.0, not 0.9"),
        "{err}"
    );
    let lookup = index
        .lookup(&[pin("demo-pkg", "1.0", &[&f.wheel])])
        .unwrap();
    assert!(matches!(
        &lookup[0].hashes[0].1,
        Served::File {
            kind: DistKind::Wheel,
            ..
        }
    ));
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
    let c = client(&f.server);
    let err = IndexLookup::new(&c, &f.server.url("/simple/"))
        .unwrap()
        .lookup(&pins)
        .unwrap_err();
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

// ---- The real binary on real locks ----

fn locks(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test_data/locks")
        .join(rel)
}

/// `(name, version, sha256, filename)` of `truth/index.txt`.
fn index_lines(case: &str) -> Vec<(String, String, Sha256, String)> {
    std::fs::read_to_string(locks(case).join("truth/index.txt"))
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (
                f[0].to_owned(),
                f[1].to_owned(),
                f[2].parse().unwrap(),
                f[3].to_owned(),
            )
        })
        .collect()
}

/// `(name, kind, sha256)` of what pip installs from `lock` (`truth/`).
fn truth(case: &str, lock: &str) -> Vec<(String, String, Sha256)> {
    std::fs::read_to_string(locks(case).join(format!("truth/{lock}.txt")))
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f[0].to_owned(), f[2].to_owned(), f[3].parse().unwrap())
        })
        .collect()
}

/// Serves every project of the case's index at `/simple/<name>/` (JSON and
/// HTML); `edit` may drop or change files first.
fn serve_index(case: &str, edit: impl Fn(&mut PageFile)) -> Server {
    let server = Server::start().unwrap();
    let mut projects: BTreeMap<String, Vec<PageFile>> = BTreeMap::new();
    for (name, _, sha, filename) in index_lines(case) {
        let mut file = PageFile::listed(&filename, sha);
        edit(&mut file);
        if !file.filename.is_empty() {
            projects.entry(name).or_default().push(file);
        }
    }
    for (name, files) in projects {
        server.add_project("/simple/", &name, &files, "/files/");
    }
    server
}

/// A repository with one application `app` using `case`'s `lock`, its
/// index URL pointed at `index`.
fn repo(case: &str, lock: &str, wheel_only: &[&str], index: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let real = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/pinwheel.toml"),
    )
    .unwrap();
    let mut config: toml_edit::DocumentMut = real[..real.find("\n[apps.").unwrap_or(real.len())]
        .parse()
        .unwrap();
    config["index"]["url"] = toml_edit::value(index);
    let app = root.join("packaging/app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::copy(
        locks(case).join("pyproject.toml"),
        app.join("pyproject.toml"),
    )
    .unwrap();
    std::fs::copy(locks(case).join(lock), app.join(lock)).unwrap();
    let list: Vec<String> = wheel_only.iter().map(|w| format!("{w:?}")).collect();
    let text = format!(
        "{config}\n[apps.app]\ndir = \"packaging/app\"\npyproject = \"packaging/app/pyproject.toml\"\n\
         lock = \"packaging/app/{lock}\"\nwheel-only = [{}]\n",
        list.join(", ")
    );
    std::fs::write(root.join("packaging/pinwheel.toml"), text).unwrap();
    dir
}

fn xtask(root: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["--root", root.to_str().unwrap(), "update-deps"];
    all.extend_from_slice(args);
    let out = duct::cmd(env!("CARGO_BIN_EXE_xtask"), &all)
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn requirements(root: &Path) -> Option<String> {
    std::fs::read_to_string(root.join("requirements/app/requirements.txt")).ok()
}

#[test]
fn online_learns_the_sdists_of_requirements_txt_locks() {
    for (case, wheel_only) in [
        ("extras-markers", &[][..]),
        ("wheel-only", &["certifi", "tensorboard-data-server"][..]),
    ] {
        for lock in ["pip-compile.txt", "uv-export.txt"] {
            let server = serve_index(case, |_| {});
            let dir = repo(case, lock, wheel_only, &server.url("/simple/"));
            // Offline, a requirements.txt lock cannot be pinned.
            let (code, _, err) = xtask(dir.path(), &[]);
            assert_eq!(code, 2, "{case}/{lock}: {err}");
            assert!(err.contains("--online"), "{err}");
            assert_eq!(requirements(dir.path()), None);

            let (code, out, err) = xtask(dir.path(), &["--online"]);
            assert_eq!(code, 0, "{case}/{lock}: {out}{err}");
            let written = requirements(dir.path()).unwrap();
            for (name, kind, sha) in truth(case, lock) {
                assert!(
                    written.contains(&format!("--hash=sha256:{sha}")),
                    "{case}/{lock}: {name} {kind} {sha} missing:\n{written}"
                );
            }
            let pinned = written.matches("--hash=sha256:").count();
            assert_eq!(pinned, truth(case, lock).len(), "{case}/{lock}:\n{written}");
            // Idempotent, and --check agrees.
            let (code, _, err) = xtask(dir.path(), &["--online", "--check"]);
            assert_eq!(code, 0, "{err}");
        }
    }
}

#[test]
fn online_checks_the_pins_of_uv_locks() {
    let server = serve_index("extras-markers", |_| {});
    let dir = repo("extras-markers", "uv.lock", &[], &server.url("/simple/"));
    let (code, _, err) = xtask(dir.path(), &[]);
    assert_eq!(code, 0, "{err}");
    let offline = requirements(dir.path()).unwrap();
    let before = server.requests().len();
    let (code, _, err) = xtask(dir.path(), &["--online", "--check"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(requirements(dir.path()).unwrap(), offline);
    assert!(
        server.requests().len() - before >= truth("extras-markers", "uv.lock").len(),
        "every project looked up"
    );
}

#[test]
fn online_warns_about_yanked_sdists() {
    let server = serve_index("extras-markers", |f| {
        if f.filename == "idna-3.20.tar.gz" {
            f.yanked = Some("broken metadata".into());
        }
    });
    let dir = repo("extras-markers", "uv.lock", &[], &server.url("/simple/"));
    let (code, _, err) = xtask(dir.path(), &["--online"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: idna==3.20 sha256:a7db850025b95ded1eae8a46181a1a6c56c92c96f0e2b005d9ff8dc0210cab44: idna-3.20.tar.gz is yanked on the index: broken metadata"),
        "{err}"
    );
}

#[test]
fn adversarial_online_pinned_sdist_not_on_the_index() {
    // The index no longer serves certifi's sdist (a re-upload, or a lock
    // pointing at something that never was there).
    let server = serve_index("extras-markers", |f| {
        if f.filename == "certifi-2026.10.18.tar.gz" {
            f.sha256 = Sha256::of(b"re-uploaded");
        }
    });
    let dir = repo("extras-markers", "uv.lock", &[], &server.url("/simple/"));
    let (code, out, err) = xtask(dir.path(), &["--online"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("certifi==2026.10.18 sha256:b9995d97b64d0431a5af837d8ca8cd6238104d1f319f04bd93ea43124d6c861e: the index serves no file with this hash"),
        "{err}"
    );
    assert!(err.contains("packaging/app/uv.lock: --online"), "{err}");
    assert_eq!(
        requirements(dir.path()),
        None,
        "written despite the failure"
    );
}

#[test]
fn adversarial_online_index_without_the_projects() {
    let server = Server::start().unwrap();
    let dir = repo("extras-markers", "uv.lock", &[], &server.url("/simple/"));
    let (code, _, err) = xtask(dir.path(), &["--online"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "cannot read 8 project page(s) from {}",
            server.url("/simple/")
        )),
        "{err}"
    );
    assert!(
        err.contains("/simple/attrs/: the index has no project named \"attrs\""),
        "{err}"
    );
    assert_eq!(requirements(dir.path()), None);
}
