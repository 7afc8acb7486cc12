//! `cargo xtask build-wheels` end to end, offline: a loopback package index
//! serves the real flit_core sdist (from the repository's `wheels-index/`)
//! as the whole bootstrap set and tiny sdists made here as the application's
//! dependencies. Runs the real binary, the real target interpreter
//! (`/usr/bin/python3`, with venv and pip) and our hook runner.
//!
//! Covered: a full build, incremental no-op, `--rebuild`, `--verify-reproducible`,
//! the same sdist built from two checkouts giving identical wheels; and bad
//! input — an sdist with neither pyproject.toml nor setup.py, a backend that
//! fails, a missing build requirement, a hash mismatch, SIGINT mid-build —
//! each leaving nothing in `wheels-index/`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pinwheel_proof::loopback::{Fault, PageFile, Route, Server};
use pinwheel_trust::hash::Sha256;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The real flit_core sdist from the checked-in index.
fn flit_core_sdist() -> (String, Vec<u8>) {
    let files = repo().join("wheels-index/files");
    let name = std::fs::read_dir(&files)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| n.starts_with("flit_core-") && n.ends_with(".tar.gz"))
        .expect("wheels-index/files holds the flit_core sdist");
    let bytes = std::fs::read(files.join(&name)).unwrap();
    (name, bytes)
}

/// A `.tar.gz` sdist `{stem}/…` holding `files` (path, contents).
fn sdist(stem: &str, files: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let gz = flate2::write::GzEncoder::new(&mut out, flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        for (path, contents) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(contents.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(1_700_000_000);
            header.set_cksum();
            tar.append_data(&mut header, format!("{stem}/{path}"), contents.as_bytes())
                .unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap();
    }
    out
}

/// A flit_core-built toy package `name` 1.0 with one module.
fn toy(name: &str) -> (String, Vec<u8>) {
    let pyproject = format!(
        "[build-system]\nrequires = [\"flit_core >=3.2,<4\"]\nbuild-backend = \"flit_core.buildapi\"\n\n\
         [project]\nname = \"{name}\"\nversion = \"1.0\"\ndescription = \"A toy.\"\nrequires-python = \">=3.8\"\n"
    );
    let module =
        format!("\"\"\"The {name} toy.\"\"\"\n\ndef hello():\n    return \"hello from {name}\"\n");
    let stem = format!("{name}-1.0");
    (
        format!("{stem}.tar.gz"),
        sdist(
            &stem,
            &[
                ("pyproject.toml", &pyproject),
                (&format!("{name}.py"), &module),
                ("PKG-INFO", "Metadata-Version: 2.1\n"),
            ],
        ),
    )
}

/// A repository root whose index is a loopback server.
struct Fixture {
    dir: tempfile::TempDir,
    server: Server,
}

impl Fixture {
    /// Bootstrap = flit_core; the application `toy-app` pins `app`.
    fn new(app: &[(String, Vec<u8>)]) -> Fixture {
        let server = Server::start().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |rel: &str, text: &str| {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        let (flit_name, flit) = flit_core_sdist();
        let flit_version = flit_name
            .trim_start_matches("flit_core-")
            .trim_end_matches(".tar.gz")
            .to_owned();
        server.add_project(
            "/simple/",
            "flit-core",
            &[PageFile::new(&flit_name, flit.clone())],
            "/files/",
        );
        write(
            "packaging/pinwheel.toml",
            &format!(
                "[targets.bookworm]\nsuite = \"bookworm\"\npython = \"3.11.2\"\n\n\
                 [targets.trixie]\nsuite = \"trixie\"\npython = \"3.13.5\"\n\n\
                 [index]\nurl = \"{}\"\nallowed-hosts = []\n\n[build]\nsource-date-epoch = 1704067200\n\n\
                 [trust]\nkeys = \"packaging/keys\"\nfingerprints = []\nthreshold = 1\nscope = \"test/wheels-index\"\nexpiry-days = 30\n\n\
                 [bootstrap]\ndir = \"packaging/bootstrap\"\nlock = \"packaging/bootstrap/uv.lock\"\n\n\
                 [apps.toy-app]\ndir = \"packaging/toy-app\"\npyproject = \"packaging/toy-app/pyproject.toml\"\nlock = \"packaging/toy-app/uv.lock\"\n",
                server.url("/simple/")
            ),
        );
        write(
            "packaging/bootstrap/pyproject.toml",
            "[project]\nname = \"pinwheel-bootstrap\"\nversion = \"0\"\nrequires-python = \">=3.11\"\ndependencies = [\"flit-core\"]\n\n[tool.uv]\npackage = false\n",
        );
        write(
            "packaging/bootstrap/uv.lock",
            &format!(
                "version = 1\nrevision = 3\nrequires-python = \">=3.11\"\n\n\
                 [[package]]\nname = \"flit-core\"\nversion = \"{flit_version}\"\nsource = {{ registry = \"{index}\" }}\n\
                 sdist = {{ url = \"{file}\", hash = \"sha256:{sha}\", size = {size} }}\n\n\
                 [[package]]\nname = \"pinwheel-bootstrap\"\nversion = \"0\"\nsource = {{ virtual = \".\" }}\n\
                 dependencies = [\n    {{ name = \"flit-core\" }},\n]\n\n\
                 [package.metadata]\nrequires-dist = [{{ name = \"flit-core\" }}]\n",
                index = server.url("/simple"),
                file = server.url(&format!("/files/{flit_name}")),
                sha = Sha256::of(&flit),
                size = flit.len(),
            ),
        );
        // The demo's debian/control: its Build-Depends make the chroot, so
        // the tests share the demo's chroots (made once per machine).
        for file in ["packaging/pep517_runner.py", "debian/control"] {
            std::fs::create_dir_all(root.join(file).parent().unwrap()).unwrap();
            std::fs::copy(repo().join(file), root.join(file)).unwrap();
        }
        let fixture = Fixture { dir, server };
        fixture.set_app(app);
        fixture
    }

    /// Serves `app` and pins it in `requirements/toy-app/<target>/requirements.txt`
    /// of both targets.
    fn set_app(&self, app: &[(String, Vec<u8>)]) {
        let mut requirements = String::from("# test pins\n");
        for (filename, bytes) in app {
            let stem = filename.trim_end_matches(".tar.gz");
            let (name, version) = stem.rsplit_once('-').unwrap();
            self.server.add_project(
                "/simple/",
                name,
                &[PageFile::new(filename, bytes.clone())],
                "/files/",
            );
            requirements.push_str(&format!(
                "{name}=={version} \\\n    --hash=sha256:{}\n",
                Sha256::of(bytes)
            ));
        }
        for target in ["bookworm", "trixie"] {
            let path = self
                .root()
                .join(format!("requirements/toy-app/{target}/requirements.txt"));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, &requirements).unwrap();
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec![
            "--root".to_owned(),
            self.root().display().to_string(),
            "build-wheels".to_owned(),
        ];
        all.extend(args.iter().map(|s| s.to_string()));
        duct::cmd(env!("CARGO_BIN_EXE_xtask"), all)
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .unwrap()
    }

    /// Every file under `wheels-index/`, relative, sorted.
    fn index_files(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(
            &self.root().join("wheels-index"),
            &self.root().join("wheels-index"),
            &mut out,
        );
        out.sort();
        out
    }
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(base, &path, out);
        } else {
            out.push(path.strip_prefix(base).unwrap().display().to_string());
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn assert_exit(out: &std::process::Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn builds_incrementally_and_reproducibly() {
    let fixture = Fixture::new(&[toy("toy")]);
    let out = fixture.run(&["--jobs", "2"]);
    assert_exit(&out, 0);
    let files = fixture.index_files();
    let flit_wheel = files
        .iter()
        .find(|f| f.starts_with("files/flit_core-") && f.ends_with(".whl"))
        .expect("flit_core wheel");
    assert!(
        files.contains(&"files/toy-1.0-py3-none-any.whl".to_owned()),
        "{files:?}"
    );
    assert!(
        files.contains(&"files/toy-1.0.tar.gz".to_owned()),
        "{files:?}"
    );
    assert!(files.contains(&"built-from.toml".to_owned()), "{files:?}");
    let manifest =
        std::fs::read_to_string(fixture.root().join("wheels-index/built-from.toml")).unwrap();
    let toy_sha = Sha256::of(&toy("toy").1);
    assert!(
        manifest.contains(&format!("sdist-sha256 = \"{toy_sha}\"")),
        "{manifest}"
    );
    // Pure wheels are built once, in the first target, and serve both.
    assert_eq!(manifest.matches("[[wheel]]").count(), 2, "{manifest}");
    assert_eq!(
        manifest.matches("target = \"bookworm\"").count(),
        3,
        "two wheels and bookworm's environment: {manifest}"
    );
    assert!(manifest.contains("python = \"3.11.2\""), "{manifest}");
    assert!(
        text(&out.stdout).contains("2 for bookworm, 0 for trixie"),
        "{}",
        text(&out.stdout)
    );

    // The wheel is ours and works: pip installs it by hash and it runs.
    let wheel = fixture
        .root()
        .join("wheels-index/files/toy-1.0-py3-none-any.whl");
    let venv = fixture.root().join("venv");
    duct::cmd!("/usr/bin/python3", "-m", "venv", "--without-pip", &venv)
        .run()
        .unwrap();
    let reqs = fixture.root().join("check.txt");
    std::fs::write(
        &reqs,
        format!(
            "{} --hash=sha256:{}\n",
            wheel.display(),
            Sha256::of(&std::fs::read(&wheel).unwrap())
        ),
    )
    .unwrap();
    duct::cmd!(
        "/usr/bin/python3",
        "-m",
        "pip",
        "--python",
        venv.join("bin/python"),
        "install",
        "-q",
        "--no-index",
        "--no-deps",
        "--require-hashes",
        "-r",
        &reqs
    )
    .env("PIP_CONFIG_FILE", "/dev/null")
    .run()
    .unwrap();
    let hello = duct::cmd!(
        venv.join("bin/python"),
        "-c",
        "import toy; print(toy.hello())"
    )
    .read()
    .unwrap();
    assert_eq!(hello, "hello from toy");

    // Nothing to do: no fetch, no build, fast.
    let requests_before = fixture.server.requests().len();
    let started = Instant::now();
    let out = fixture.run(&[]);
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("up to date"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no-op took {:?}",
        started.elapsed()
    );
    assert_eq!(
        fixture.server.requests().len(),
        requests_before,
        "a no-op run talked to the index"
    );

    // --rebuild builds that one package again, from the index's sdist.
    let out = fixture.run(&["--rebuild", "toy"]);
    assert_exit(&out, 0);
    assert!(
        text(&out.stderr).contains("built toy 1.0"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !text(&out.stderr).contains("built flit-core"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(fixture.index_files(), files);

    // --verify-reproducible rebuilds everything in every target (trixie's
    // CPython 3.13 too) and finds each pure wheel identical to the index's.
    let out = fixture.run(&["--verify-reproducible"]);
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("all 4 rebuilds byte for byte identical"),
        "{}",
        text(&out.stdout)
    );

    // A wheel changed in the index is a verification failure that names it.
    let toy_wheel = fixture
        .root()
        .join("wheels-index/files/toy-1.0-py3-none-any.whl");
    let good = std::fs::read(&toy_wheel).unwrap();
    let mut other = good.clone();
    other.extend_from_slice(b"\0");
    std::fs::write(&toy_wheel, &other).unwrap();
    let out = fixture.run(&["--verify-reproducible"]);
    // The manifest no longer matches the file, so there is no current wheel.
    assert_exit(&out, 2);
    assert!(
        text(&out.stderr).contains("toy 1.0"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(&toy_wheel, &good).unwrap();

    // A package no longer pinned leaves the index; a new one is built.
    fixture.set_app(&[toy("other")]);
    let out = fixture.run(&[]);
    assert_exit(&out, 0);
    let now = fixture.index_files();
    assert!(
        now.iter().any(|f| f.starts_with("files/other-1.0-")),
        "{now:?}"
    );
    assert!(
        !now.iter().any(|f| f.starts_with("files/toy-1.0")),
        "{now:?}"
    );
    assert!(
        text(&out.stderr).contains("removing"),
        "{}",
        text(&out.stderr)
    );
    fixture.set_app(&[toy("toy")]);
    assert_exit(&fixture.run(&[]), 0);

    // The same sdists built from another checkout give the same bytes.
    let other = Fixture::new(&[toy("toy")]);
    assert_exit(&other.run(&[]), 0);
    for file in [flit_wheel.as_str(), "files/toy-1.0-py3-none-any.whl"] {
        let a = std::fs::read(fixture.root().join("wheels-index").join(file)).unwrap();
        let b = std::fs::read(other.root().join("wheels-index").join(file)).unwrap();
        assert!(a == b, "{file} differs between two checkouts");
    }
}

#[test]
fn adversarial_sdist_without_pyproject_or_setup_py() {
    let stem = "bare-1.0";
    let bare = (
        format!("{stem}.tar.gz"),
        sdist(stem, &[("README", "nothing to build\n")]),
    );
    let fixture = Fixture::new(&[bare]);
    let out = fixture.run(&[]);
    assert_exit(&out, 2);
    let err = text(&out.stderr);
    assert!(
        err.contains("bare 1.0 (bare-1.0.tar.gz): neither pyproject.toml nor setup.py"),
        "{err}"
    );
    assert_eq!(fixture.index_files(), Vec::<String>::new());
}

#[test]
fn adversarial_hostile_sdist_is_refused_with_exit_1() {
    let stem = "hostile-1.0";
    let mut bytes = Vec::new();
    {
        let gz = flate2::write::GzEncoder::new(&mut bytes, flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        header.set_mode(0o777);
        header.set_mtime(1_700_000_000);
        tar.append_link(&mut header, format!("{stem}/passwd"), "/etc/passwd")
            .unwrap();
        tar.into_inner().unwrap().finish().unwrap();
    }
    let fixture = Fixture::new(&[(format!("{stem}.tar.gz"), bytes)]);
    let out = fixture.run(&[]);
    assert_exit(&out, 1);
    let err = text(&out.stderr);
    assert!(
        err.contains("hostile-1.0.tar.gz") && err.contains("symbolic link to absolute path"),
        "{err}"
    );
    assert_eq!(fixture.index_files(), Vec::<String>::new());
}

#[test]
fn adversarial_backend_fails_shows_its_log_and_writes_nothing() {
    let stem = "broken-1.0";
    let backend = "def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):\n    \
                   print('compiling the flux capacitor')\n    raise RuntimeError('boom from the backend')\n";
    let broken = (
        format!("{stem}.tar.gz"),
        sdist(
            stem,
            &[
                ("pyproject.toml", "[build-system]\nrequires = []\nbuild-backend = \"inhouse\"\nbackend-path = [\"_build\"]\n"),
                ("_build/inhouse.py", backend),
            ],
        ),
    );
    let fixture = Fixture::new(&[toy("toy"), broken]);
    let out = fixture.run(&[]);
    assert_exit(&out, 2);
    let err = text(&out.stderr);
    assert!(err.contains("---- build log of broken 1.0"), "{err}");
    assert!(err.contains("compiling the flux capacitor"), "{err}");
    assert!(err.contains("RuntimeError: boom from the backend"), "{err}");
    assert!(
        err.contains("broken 1.0: build-wheel: the build backend failed"),
        "{err}"
    );
    assert!(err.contains("full log: "), "{err}");
    // toy built fine, but nothing is written when any build fails.
    assert_eq!(fixture.index_files(), Vec::<String>::new());
}

#[test]
fn adversarial_missing_build_requirement_is_named() {
    let stem = "needy-1.0";
    let needy = (
        format!("{stem}.tar.gz"),
        sdist(
            stem,
            &[
                ("pyproject.toml", "[build-system]\nrequires = [\"flit_core>=3\", \"hatchling>=1.20\"]\nbuild-backend = \"hatchling.build\"\n"),
                ("needy.py", "x = 1\n"),
            ],
        ),
    );
    let fixture = Fixture::new(&[needy]);
    let out = fixture.run(&[]);
    assert_exit(&out, 2);
    let err = text(&out.stderr);
    assert!(
        err.contains("needy 1.0: build requirement `hatchling>=1.20` is not in the bootstrap set"),
        "{err}"
    );
    assert!(
        err.contains("add it to packaging/bootstrap/pyproject.toml"),
        "{err}"
    );
    assert_eq!(fixture.index_files(), Vec::<String>::new());
}

#[test]
fn adversarial_hash_mismatch_leaves_nothing() {
    let (name, bytes) = toy("toy");
    let fixture = Fixture::new(&[(name.clone(), bytes.clone())]);
    // The index serves other bytes under the pinned file's name.
    fixture.server.route(
        &format!("/files/{name}"),
        Route::bytes(bytes.clone()).with_fault(Fault::WrongBytes),
    );
    let out = fixture.run(&[]);
    assert_exit(&out, 1);
    let err = text(&out.stderr);
    assert!(err.contains(&name), "{err}");
    assert!(err.contains("sha256"), "{err}");
    assert_eq!(fixture.index_files(), Vec::<String>::new());
    let mut cache = Vec::new();
    walk(
        &fixture.root().join("target/pinwheel/sdists"),
        &fixture.root().join("target/pinwheel/sdists"),
        &mut cache,
    );
    assert!(
        !cache.iter().any(|f| f.contains("toy")),
        "a file of the mismatched download was kept: {cache:?}"
    );
}

#[test]
fn adversarial_sigint_mid_build_leaves_nothing_and_next_run_succeeds() {
    let stem = "slow-1.0";
    let backend = "import time\n\ndef build_wheel(wheel_directory, config_settings=None, metadata_directory=None):\n    \
                   print('started', flush=True)\n    time.sleep(60)\n";
    let slow = (
        format!("{stem}.tar.gz"),
        sdist(
            stem,
            &[
                ("pyproject.toml", "[build-system]\nrequires = []\nbuild-backend = \"inhouse\"\nbackend-path = [\".\"]\n"),
                ("inhouse.py", backend),
            ],
        ),
    );
    let fixture = Fixture::new(&[toy("toy"), slow]);
    let args = [
        "--root".to_owned(),
        fixture.root().display().to_string(),
        "build-wheels".to_owned(),
    ];
    let handle = duct::cmd(env!("CARGO_BIN_EXE_xtask"), &args)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .start()
        .unwrap();
    let log = fixture.root().join("target/pinwheel/logs/slow-1.0.log");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("started")
    {
        assert!(Instant::now() < deadline, "the slow build never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = handle.pids()[0].to_string();
    duct::cmd!("kill", "-INT", &pid).run().unwrap();
    let out = handle
        .wait_timeout(Duration::from_secs(30))
        .unwrap()
        .expect("xtask did not stop after SIGINT")
        .clone();
    assert_exit(&out, 2);
    assert!(
        text(&out.stderr).contains("interrupted"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(fixture.index_files(), Vec::<String>::new());

    // The next run, without the slow package, succeeds.
    fixture.set_app(&[toy("toy")]);
    let out = fixture.run(&[]);
    assert_exit(&out, 0);
    assert!(fixture
        .index_files()
        .contains(&"files/toy-1.0-py3-none-any.whl".to_owned()));
    let mut stray = Vec::new();
    walk(fixture.root(), fixture.root(), &mut stray);
    assert!(
        !stray
            .iter()
            .any(|f| f.contains(".pinwheel-tmp-") || f.contains(".pinwheel-part-")),
        "{stray:?}"
    );
}
