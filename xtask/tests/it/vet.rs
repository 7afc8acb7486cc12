//! `cargo xtask vet` on copies of the repository, with real sdists of
//! async-timeout (4.0.3, 5.0.0 from PyPI, 5.0.1 from the index; in
//! `xtask/test_data/vet/`) served by the loopback index: the demo's pins
//! are vetted; an upgrade in the demo's lock makes `update-deps` print the
//! backlog and `vet` fail with the exact commands, and `vet certify`
//! closes it; a re-upload under an audited version is not covered; a
//! violation fails; an import is pinned and a changed one refused; the
//! summary flags a `.pth` file and a new `subprocess` call in setup.py;
//! review sizes agree with GNU `diff --minimal` (the oracle); every bad
//! input exits non-zero with one line naming the file and entry, and
//! writes nothing.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use pinwheel_proof::loopback::{PageFile, Route, Server};
use pinwheel_trust::hash::Sha256;

use crate::slow::build_deb::{copy_repo, repo_root};

const V403: &str = "async-timeout-4.0.3.tar.gz";
const V500: &str = "async_timeout-5.0.0.tar.gz";
const V501: &str = "async_timeout-5.0.1.tar.gz";
const SC: &str = "packaging/supply-chain";

fn data(name: &str) -> Vec<u8> {
    fs_err::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("test_data/vet")
            .join(name),
    )
    .unwrap()
}

fn sha(name: &str) -> String {
    Sha256::of(&data(name)).to_string()
}

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn errors(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .collect()
    }

    /// Exit `code` with exactly one error line holding every needle.
    fn fails(&self, code: i32, needles: &[&str]) -> &Run {
        assert_eq!(self.code, code, "{self:#?}");
        let errors = self.errors();
        assert_eq!(errors.len(), 1, "one error line: {self:#?}");
        for needle in needles {
            assert!(errors[0].contains(needle), "{needle:?} not in {self:#?}");
        }
        self
    }

    fn ok(&self) -> &Run {
        assert_eq!(self.code, 0, "{self:#?}");
        self
    }
}

/// A copy of the repository whose package index is a loopback server
/// serving the three async-timeout sdists.
struct Repo {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    server: Server,
}

impl Repo {
    fn new() -> Repo {
        let (tmp, root) = copy_repo();
        let server = Server::start().unwrap();
        let files: Vec<PageFile> = [V403, V500, V501]
            .iter()
            .map(|f| PageFile::new(f, data(f)))
            .collect();
        server.add_project("/simple/", "async-timeout", &files, "/files/");
        let repo = Repo {
            _tmp: tmp,
            root,
            server,
        };
        let url = repo.server.url("/simple/");
        repo.edit(
            "packaging/pinwheel.toml",
            "url = \"https://pypi.org/simple/\"",
            &format!("url = \"{url}\""),
        );
        // Vetting starts from here: every pin exempted.
        fs_err::remove_dir_all(repo.path(SC)).unwrap();
        let init = repo.xtask(&["vet", "init"]);
        init.ok();
        assert!(init.stdout.contains("21 exemptions"), "{init:#?}");
        repo.xtask(&["vet", "init"])
            .fails(1, &["config.toml: exists"]);
        repo
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn read(&self, rel: &str) -> String {
        fs_err::read_to_string(self.path(rel)).unwrap()
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.path(rel);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, text).unwrap();
    }

    fn edit(&self, rel: &str, from: &str, to: &str) {
        let text = self.read(rel);
        assert!(text.contains(from), "{rel} lacks {from:?}");
        self.write(rel, &text.replacen(from, to, 1));
    }

    fn xtask(&self, args: &[&str]) -> Run {
        let mut argv = vec!["--root".to_owned(), self.root.display().to_string()];
        argv.extend(args.iter().map(|s| s.to_string()));
        let out = duct::cmd(env!("CARGO_BIN_EXE_xtask"), &argv)
            .env_remove("PAGER")
            .stdin_null()
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Every file under packaging/supply-chain/ with its bytes.
    fn supply_chain(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![self.path(SC)];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = fs_err::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    out.insert(path.clone(), fs_err::read(&path).unwrap());
                }
            }
        }
        out
    }

    /// Replaces the exemption of async-timeout 5.0.1 with `with`.
    fn replace_exemption(&self, with: &str) {
        let config = self.read(&format!("{SC}/config.toml"));
        let start = config
            .find("[[exemptions.async-timeout]]")
            .expect("the demo exempts async-timeout 5.0.1");
        let end = config[start + 1..]
            .find("\n[[")
            .map_or(config.len(), |i| start + 1 + i + 1);
        let text = format!("{}{with}{}", &config[..start], &config[end..]);
        self.write(&format!("{SC}/config.toml"), &text);
    }

    fn append(&self, rel: &str, text: &str) {
        let old = fs_err::read_to_string(self.path(rel)).unwrap_or_default();
        self.write(rel, &format!("{old}{text}"));
    }
}

/// The oracle for review sizes: GNU `diff -rN --minimal -U0` of the two
/// unpacked sdists, summing each hunk's deleted and inserted counts.
fn gnu_diff_lines(from: &str, to: &str) -> u64 {
    let tmp = tempfile::tempdir().unwrap();
    let mut dirs = Vec::new();
    for (i, name) in [from, to].iter().enumerate() {
        let dir = tmp.path().join(format!("{i}"));
        fs_err::create_dir_all(&dir).unwrap();
        let archive = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("test_data/vet")
            .join(name);
        duct::cmd!("tar", "-xzf", &archive, "-C", &dir, "--strip-components=1")
            .run()
            .unwrap();
        dirs.push(dir);
    }
    let out = duct::cmd!("diff", "-rN", "--minimal", "-U0", &dirs[0], &dirs[1])
        .unchecked()
        .read()
        .unwrap();
    let count = |field: &str| -> u64 {
        // "-12,3" / "+4" (a missing count is 1).
        match field[1..].split_once(',') {
            Some((_, n)) => n.parse().unwrap(),
            None => 1,
        }
    };
    out.lines()
        .filter(|l| l.starts_with("@@ "))
        .map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            count(fields[1]) + count(fields[2])
        })
        .sum()
}

#[test]
fn the_demo_pins_are_vetted_offline() {
    let out = duct::cmd!(
        env!("CARGO_BIN_EXE_xtask"),
        "--root",
        repo_root(),
        "vet",
        "--offline"
    )
    .stdout_capture()
    .stderr_capture()
    .unchecked()
    .run()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("0 missing; 0 violations"), "{stdout}");
    assert!(
        !stdout.contains("(0 audited"),
        "the demo has audits, not only exemptions: {stdout}"
    );
}

#[test]
fn an_upgrade_in_the_lock_fails_vet_with_the_commands_and_certify_closes_it() {
    let repo = Repo::new();
    let lock = "packaging/pinwheel-demo/uv.lock";
    let upgraded = repo.read(lock);
    // The lock before the upgrade pinned 5.0.0, and vetting began then.
    let start = upgraded
        .find("name = \"async-timeout\"\nversion = \"5.0.1\"")
        .unwrap();
    let end = start + upgraded[start..].find("\n\n").unwrap();
    let old_entry = format!(
        "name = \"async-timeout\"\nversion = \"5.0.0\"\nsource = {{ registry = \"https://pypi.org/simple\" }}\n\
         sdist = {{ url = \"https://files.pythonhosted.org/packages/61/1f/44d9efc904bbe4d9967433522b691a9c4f1e81c2c64fbe44bad63d5de646/async_timeout-5.0.0.tar.gz\", hash = \"sha256:{}\", size = 8951 }}\nwheels = []",
        sha(V500)
    );
    repo.write(
        lock,
        &format!("{}{old_entry}{}", &upgraded[..start], &upgraded[end..]),
    );
    // (No wheel of 5.0.0 in the index: build-requirements.txt is left, exit 1.)
    let before = repo.xtask(&["update-deps"]);
    assert!(
        repo.read("requirements/pinwheel-demo/bookworm/requirements.txt")
            .contains("async-timeout==5.0.0"),
        "{before:#?}"
    );
    repo.replace_exemption(&format!(
        "[[exemptions.async-timeout]]\nversion = \"5.0.0\"\nsha256 = \"{}\"\ncriteria = \"safe-to-deploy\"\n\n",
        sha(V500)
    ));
    repo.xtask(&["vet", "--offline"]).ok();

    // The upgrade.
    repo.write(lock, &upgraded);
    let update = repo.xtask(&["update-deps"]);
    update.ok();
    let lines = gnu_diff_lines(V500, V501);
    assert!(lines > 0);
    let review = format!("diff of async-timeout 5.0.0 -> 5.0.1: {lines} lines");
    assert!(
        update
            .stdout
            .contains("vet: this update adds 1 unvetted sdist")
            && update.stdout.contains(&review),
        "{review:?} not in {update:#?}"
    );

    let vet = repo.xtask(&["vet"]);
    vet.fails(1, &["1 of", "not vetted", &format!("{lines} lines")]);
    for want in [
        "async-timeout 5.0.1 (sha256 d9321a7a3d5a6a5e187e824d2fa0793ce379a202935782d555d6e9d2735677d3) is not vetted for safe-to-deploy",
        &review,
        "    cargo xtask vet diff async-timeout 5.0.0 5.0.1\n",
        "    cargo xtask vet certify async-timeout 5.0.0 5.0.1 --criteria safe-to-deploy\n",
        &format!("backlog: 1 review, {lines} lines"),
    ] {
        assert!(vet.stdout.contains(want), "{want:?} not in {vet:#?}");
    }

    // Read the diff, then record the review.
    let diff = repo.xtask(&["vet", "diff", "async-timeout", "5.0.0", "5.0.1"]);
    diff.ok();
    assert!(
        diff.stdout
            .starts_with("vet diff async-timeout 5.0.0 -> 5.0.1\n"),
        "{diff:#?}"
    );
    assert!(diff.stdout.contains(&sha(V500)) && diff.stdout.contains(&sha(V501)));
    let plus_minus = diff
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("diff --git"))
        .filter(|l| {
            (l.starts_with('+') && !l.starts_with("+++ "))
                || (l.starts_with('-') && !l.starts_with("--- "))
        })
        .count() as u64;
    assert_eq!(plus_minus, lines, "the diff shown is the size claimed");

    let certify_args = [
        "vet",
        "certify",
        "async-timeout",
        "5.0.0",
        "5.0.1",
        "--criteria",
        "safe-to-deploy",
        "--who",
        "Test Reviewer <reviewer@example.org>",
        "--notes",
        "Read the whole diff.",
    ];
    let certify = repo.xtask(&certify_args);
    certify.ok();
    assert!(
        certify
            .stdout
            .contains(&format!("review size: {lines} lines")),
        "{certify:#?}"
    );
    let audits = repo.read(&format!("{SC}/audits.toml"));
    for want in [
        "[[audits.async-timeout]]",
        "who = \"Test Reviewer <reviewer@example.org>\"",
        "delta = \"5.0.0 -> 5.0.1\"",
        &format!("from-sha256 = \"{}\"", sha(V500)),
        &format!("sha256 = \"{}\"", sha(V501)),
    ] {
        assert!(audits.contains(want), "{want:?} not in {audits}");
    }
    let vet = repo.xtask(&["vet", "--offline", "--verbose"]);
    vet.ok();
    assert!(vet.stdout.contains("0 missing"), "{vet:#?}");
    assert!(
        vet.stdout.contains("async-timeout 5.0.1 (safe-to-deploy): delta chain from 5.0.0 (exempted): 5.0.0 -> 5.0.1 by Test Reviewer"),
        "{vet:#?}"
    );
    // The same certification again is refused; the file is unchanged.
    let again = repo.xtask(&certify_args);
    assert_ne!(again.code, 0, "{again:#?}");
    assert_eq!(repo.read(&format!("{SC}/audits.toml")), audits);
}

#[test]
fn certify_writes_the_pinned_spelling_of_the_version() {
    let repo = Repo::new();
    repo.xtask(&[
        "vet",
        "certify",
        "Async_Timeout",
        "5.0.1.0",
        "--criteria",
        "safe-to-run",
        "--who",
        "B <b@example.org>",
    ])
    .ok();
    let audits = repo.read(&format!("{SC}/audits.toml"));
    assert!(audits.contains("version = \"5.0.1\"\n"), "{audits}");
    assert!(!audits.contains("5.0.1.0"), "{audits}");
}

#[test]
fn update_imports_offline_refuses_a_url_import_and_writes_nothing() {
    let repo = Repo::new();
    repo.append(
        &format!("{SC}/config.toml"),
        "\n[imports.org]\nurl = \"https://example.invalid/audits.toml\"\n",
    );
    let before = repo.supply_chain();
    repo.xtask(&["vet", "--offline", "--update-imports"]).fails(
        2,
        &["imports.org: https://example.invalid/audits.toml cannot be fetched with --offline"],
    );
    assert_eq!(repo.supply_chain(), before);
}

#[test]
fn certify_writes_the_same_file_whatever_the_order() {
    let mut texts = Vec::new();
    for order in [[0, 1], [1, 0]] {
        let repo = Repo::new();
        let runs = [
            vec![
                "vet",
                "certify",
                "async-timeout",
                "5.0.1",
                "--criteria",
                "safe-to-run",
                "--who",
                "B <b@example.org>",
            ],
            vec![
                "vet",
                "certify",
                "async-timeout",
                "5.0.0",
                "5.0.1",
                "--criteria",
                "safe-to-deploy",
                "--who",
                "A <a@example.org>",
            ],
        ];
        for i in order {
            repo.xtask(&runs[i]).ok();
        }
        texts.push(repo.read(&format!("{SC}/audits.toml")));
    }
    assert_eq!(texts[0], texts[1]);
    assert!(texts[0].find("version = \"5.0.1\"").unwrap() < texts[0].find("delta =").unwrap());
}

/// gzip of the same tar with another header: the same sources, another
/// sha256 — a re-upload.
fn reupload(name: &str) -> Vec<u8> {
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(data(name).as_slice())
        .read_to_end(&mut tar)
        .unwrap();
    let mut enc = flate2::GzBuilder::new()
        .mtime(1)
        .write(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut enc, &tar).unwrap();
    enc.finish().unwrap()
}

#[test]
fn a_reupload_at_an_audited_version_is_not_covered() {
    let repo = Repo::new();
    let bytes = reupload(V501);
    let new_sha = Sha256::of(&bytes).to_string();
    assert_ne!(new_sha, sha(V501));
    repo.write(&format!("target/pinwheel/sdists/{V501}"), "");
    fs_err::write(repo.path(&format!("target/pinwheel/sdists/{V501}")), &bytes).unwrap();
    for target in ["bookworm", "trixie"] {
        let rel = format!("requirements/pinwheel-demo/{target}/requirements.txt");
        if repo.read(&rel).contains(&sha(V501)) {
            repo.edit(&rel, &sha(V501), &new_sha);
        }
    }
    let vet = repo.xtask(&["vet", "--offline"]);
    vet.fails(1, &["not vetted"]);
    for want in [
        format!("async-timeout 5.0.1 (sha256 {new_sha}) is not vetted for safe-to-deploy"),
        "covers another upload of this version (another sha256), not this one".to_owned(),
        // The smallest review: the diff between the two uploads, 0 lines.
        "smallest review: diff of async-timeout 5.0.1 -> 5.0.1: 0 lines".to_owned(),
        format!(
            "cargo xtask vet diff async-timeout 5.0.1 5.0.1 --from-sha256 {} --to-sha256 {new_sha}",
            sha(V501)
        ),
        // The printed certify names FROM's sdist too (two are recorded).
        format!(
            "cargo xtask vet certify async-timeout 5.0.1 5.0.1 --criteria safe-to-deploy --from-sha256 {} --sha256 {new_sha}\n",
            sha(V501)
        ),
    ] {
        assert!(vet.stdout.contains(&want), "{want:?} not in {vet:#?}");
    }
}

#[test]
fn a_violation_fails_the_pin_whatever_the_exemptions() {
    let repo = Repo::new();
    repo.append(
        &format!("{SC}/audits.toml"),
        "\n[[audits.async-timeout]]\nwho = \"Ann <ann@example.org>\"\ncriteria = \"safe-to-run\"\n\
         violation = \">=5.0, <5.1\"\nnotes = \"Test: a backdoor in setup.py.\"\n",
    );
    let vet = repo.xtask(&["vet", "--offline"]);
    vet.fails(1, &["fails a recorded violation"]);
    assert!(
        vet.stdout.contains("async-timeout 5.0.1 fails safe-to-deploy: violation >=5.0, <5.1 by Ann <ann@example.org>"),
        "{vet:#?}"
    );
}

#[test]
fn an_import_is_pinned_mapped_and_a_changed_one_refused() {
    let repo = Repo::new();
    let friend = "vendor/friend/audits.toml";
    repo.write(
        friend,
        &format!(
            "[criteria.reviewed]\ndescription = \"Read by two people.\"\n\n\
             [[audits.async-timeout]]\nwho = \"Friend <f@example.org>\"\ncriteria = \"reviewed\"\n\
             version = \"5.0.1\"\nsha256 = \"{}\"\n",
            sha(V501)
        ),
    );
    repo.replace_exemption("");
    repo.append(
        &format!("{SC}/config.toml"),
        &format!("\n[imports.friend]\npath = \"{friend}\"\n"),
    );
    // Not pinned yet: refused before it is read.
    repo.xtask(&["vet", "--offline"]).fails(
        1,
        &[
            "import friend",
            "is not pinned in packaging/supply-chain/imports.lock",
        ],
    );
    // Pinned, but its own criterion satisfies nothing of ours.
    let update = repo.xtask(&["vet", "--offline", "--update-imports"]);
    update.fails(1, &["1 of"]);
    assert!(
        update.stdout.contains("+[[audits.async-timeout]]"),
        "the new import is shown: {update:#?}"
    );
    assert!(repo
        .read(&format!("{SC}/imports.lock"))
        .contains(&Sha256::of(repo.read(friend).as_bytes()).to_string()));
    // Mapped: it does.
    repo.edit(
        &format!("{SC}/config.toml"),
        &format!("path = \"{friend}\"\n"),
        &format!(
            "path = \"{friend}\"\ncriteria-map = {{ \"friend::reviewed\" = \"safe-to-deploy\" }}\n"
        ),
    );
    let vet = repo.xtask(&["vet", "--offline", "--verbose"]);
    vet.ok();
    assert!(vet.stdout.contains("(imported from friend)"), "{vet:#?}");
    // Its bytes change: refused until reviewed and pinned again.
    repo.append(friend, "# a change\n");
    let before = repo.supply_chain();
    repo.xtask(&["vet", "--offline"]).fails(
        1,
        &[
            "vendor/friend/audits.toml",
            "import friend changed since",
            "--update-imports",
        ],
    );
    assert_eq!(repo.supply_chain(), before);
    let update = repo.xtask(&["vet", "--offline", "--update-imports"]);
    update.ok();
    assert!(update.stdout.contains("+# a change"), "{update:#?}");
}

/// 5.0.1 with a `.pth` file added and a `subprocess` call appended to
/// setup.py: the same version, another sha256.
fn tampered() -> Vec<u8> {
    let mut out = tar::Builder::new(Vec::new());
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(std::io::Cursor::new(data(
        V501,
    ))));
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        let mut header = entry.header().clone();
        if path.ends_with("/setup.py") {
            bytes.extend_from_slice(
                b"\nimport subprocess\nsubprocess.run([\"sh\", \"-c\", \"id\"])\n",
            );
            header.set_size(bytes.len() as u64);
            header.set_cksum();
        }
        out.append(&header, bytes.as_slice()).unwrap();
    }
    let mut header = tar::Header::new_gnu();
    let pth = b"import os; os.system('id')\n";
    header.set_size(pth.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    out.append_data(&mut header, "async_timeout-5.0.1/zz_evil.pth", &pth[..])
        .unwrap();
    let tar = out.into_inner().unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut enc, &tar).unwrap();
    enc.finish().unwrap()
}

#[test]
fn the_summary_flags_a_pth_file_and_a_new_subprocess_call_in_setup_py() {
    let repo = Repo::new();
    let bytes = tampered();
    let evil = Sha256::of(&bytes).to_string();
    repo.write(&format!("target/pinwheel/sdists/{V501}"), "");
    fs_err::write(repo.path(&format!("target/pinwheel/sdists/{V501}")), &bytes).unwrap();
    let diff = repo.xtask(&[
        "vet",
        "diff",
        "async-timeout",
        "5.0.1",
        "5.0.1",
        "--from-sha256",
        &sha(V501),
        "--to-sha256",
        &evil,
    ]);
    diff.ok();
    let summary = diff.stdout.split("\ndiff --git").next().unwrap();
    let build_time = summary
        .split("Runs at build or install time\n")
        .nth(1)
        .unwrap()
        .split("Dependencies\n")
        .next()
        .unwrap();
    assert!(build_time.contains("zz_evil.pth"), "{summary}");
    assert!(build_time.contains("setup.py"), "{summary}");
    let lines = summary.split("Lines not to miss\n").nth(1).unwrap();
    assert!(
        lines.contains("setup.py:") && lines.contains("subprocess.run"),
        "{summary}"
    );
    assert!(
        lines.contains("zz_evil.pth:1") && lines.contains("os.system"),
        "{summary}"
    );
    // The unchanged files say nothing.
    assert!(!summary.contains("CHANGES.rst"), "{summary}");
}

#[test]
fn vet_diff_fetches_by_the_pinned_hash_and_refuses_other_bytes() {
    let repo = Repo::new();
    let diff = repo.xtask(&["vet", "diff", "async-timeout", "4.0.3", "5.0.1", "--plain"]);
    diff.ok();
    assert!(
        diff.stderr.contains(&format!(
            "reading {V403} as the index lists it (sha256 {})",
            sha(V403)
        )),
        "{diff:#?}"
    );
    assert_eq!(repo.server.hits(&format!("/files/{V403}")), 1);
    // Cached: not fetched again.
    repo.xtask(&["vet", "diff", "async-timeout", "4.0.3", "5.0.1", "--plain"])
        .ok();
    assert_eq!(repo.server.hits(&format!("/files/{V403}")), 1);
    // A server that sends other bytes than the page's sha256.
    repo.server
        .route(&format!("/files/{V500}"), Route::bytes(reupload(V500)));
    let bad = repo.xtask(&["vet", "diff", "async-timeout", "5.0.0", "5.0.1", "--plain"]);
    assert_eq!(bad.code, 1, "{bad:#?}");
    assert!(bad.stderr.contains("sha256"), "{bad:#?}");
    assert!(!repo
        .path(&format!("target/pinwheel/sdists/{V500}"))
        .exists());
}

#[test]
fn review_sizes_agree_with_gnu_diff() {
    let repo = Repo::new();
    repo.replace_exemption(&format!(
        "[[exemptions.async-timeout]]\nversion = \"4.0.3\"\nsha256 = \"{}\"\ncriteria = \"safe-to-deploy\"\n\n",
        sha(V403)
    ));
    let vet = repo.xtask(&["vet"]);
    vet.fails(1, &["not vetted"]);
    let want = format!(
        "diff of async-timeout 4.0.3 -> 5.0.1: {} lines",
        gnu_diff_lines(V403, V501)
    );
    assert!(vet.stdout.contains(&want), "{want:?} not in {vet:#?}");
}

#[test]
fn adversarial_vet_bad_input_writes_nothing() {
    let repo = Repo::new();
    let audits = format!("{SC}/audits.toml");
    let config = format!("{SC}/config.toml");
    let pristine_audits = repo.read(&audits);
    let pristine_config = repo.read(&config);
    let cases: Vec<(&str, String, i32, Vec<&str>)> = vec![
        (
            "malformed audits file",
            format!("{pristine_audits}\n[[audits.idna]\nwho = \"x\"\n"),
            2,
            vec!["packaging/supply-chain/audits.toml"],
        ),
        (
            "unknown criterion",
            format!(
                "{pristine_audits}\n[[audits.async-timeout]]\nwho = \"X <x@example.org>\"\ncriteria = \"safe-to-deplo\"\nversion = \"5.0.1\"\nsha256 = \"{}\"\n",
                sha(V501)
            ),
            2,
            vec!["packaging/supply-chain/audits.toml", "audits.async-timeout", "safe-to-deplo"],
        ),
        (
            "delta endpoints that are not versions",
            format!(
                "{pristine_audits}\n[[audits.async-timeout]]\nwho = \"X <x@example.org>\"\ncriteria = \"safe-to-run\"\ndelta = \"5.0.0 -> latest\"\nfrom-sha256 = \"{}\"\nsha256 = \"{}\"\n",
                sha(V500),
                sha(V501)
            ),
            2,
            vec!["packaging/supply-chain/audits.toml", "audits.async-timeout", "latest"],
        ),
    ];
    for (what, text, code, needles) in &cases {
        repo.write(&audits, text);
        let before = repo.supply_chain();
        let run = repo.xtask(&["vet", "--offline"]);
        assert_eq!(run.code, *code, "{what}: {run:#?}");
        run.fails(*code, needles);
        assert_eq!(repo.supply_chain(), before, "{what}: wrote something");
    }
    repo.write(&audits, &pristine_audits);

    // A policy for an application that does not exist (a misspelt name
    // would leave the real one on the default criteria).
    repo.write(
        &config,
        &pristine_config.replace("[policy.pinwheel-demo]", "[policy.pinwheel-dmo]"),
    );
    let before = repo.supply_chain();
    repo.xtask(&["vet", "--offline"]).fails(
        2,
        &[
            "packaging/supply-chain/config.toml",
            "policy.pinwheel-dmo",
            "no application",
        ],
    );
    assert_eq!(repo.supply_chain(), before);
    repo.write(&config, &pristine_config);

    // An import URL that is not https.
    repo.write(
        &config,
        &format!("{pristine_config}\n[imports.plain]\nurl = \"http://example.org/audits.toml\"\n"),
    );
    let before = repo.supply_chain();
    for args in [
        &["vet", "--offline"][..],
        &["vet", "--offline", "--update-imports"][..],
    ] {
        repo.xtask(args).fails(
            2,
            &[
                "packaging/supply-chain/config.toml",
                "imports.plain",
                "https",
            ],
        );
        assert_eq!(repo.supply_chain(), before);
    }
    repo.write(&config, &pristine_config);

    // An audit for a package nothing pins: a warning, not an error.
    repo.write(
        &audits,
        &format!(
            "{pristine_audits}\n[[audits.left-pad]]\nwho = \"X <x@example.org>\"\ncriteria = \"safe-to-run\"\nversion = \"1.0\"\nsha256 = \"{}\"\n",
            "0".repeat(64)
        ),
    );
    let run = repo.xtask(&["vet", "--offline"]);
    run.ok();
    assert!(
        run.stderr.contains("warning: packaging/supply-chain/audits.toml: audits.left-pad: no application or build backend pins left-pad"),
        "{run:#?}"
    );
    repo.write(&audits, &pristine_audits);

    // certify of a version that is not pinned; of an unknown criterion.
    let before = repo.supply_chain();
    repo.xtask(&[
        "vet",
        "certify",
        "async-timeout",
        "5.0.0",
        "--criteria",
        "safe-to-run",
        "--who",
        "X <x@example.org>",
    ])
    .fails(
        1,
        &["async-timeout 5.0.0", "is not pinned", "pinned: 5.0.1"],
    );
    repo.xtask(&[
        "vet",
        "certify",
        "async-timeout",
        "5.0.1",
        "--criteria",
        "safe",
        "--who",
        "X <x@example.org>",
    ])
    .fails(2, &["--criteria \"safe\": unknown criterion"]);
    repo.xtask(&["vet", "diff", "async-timeout", "5.0.1", "not-a-version"])
        .fails(2, &["\"not-a-version\" is not a PEP 440 version"]);
    assert_eq!(repo.supply_chain(), before);
}

#[test]
fn certify_says_when_the_audit_does_not_close_the_gap() {
    let repo = Repo::new();
    repo.replace_exemption("");
    let run = repo.xtask(&[
        "vet",
        "certify",
        "async-timeout",
        "5.0.1",
        "--criteria",
        "safe-to-run",
        "--who",
        "X <x@example.org>",
    ]);
    run.ok();
    assert!(
        run.stdout.contains("note: async-timeout 5.0.1 is still not vetted (the policy asks safe-to-deploy): missing safe-to-deploy"),
        "{run:#?}"
    );
    assert!(repo
        .read(&format!("{SC}/audits.toml"))
        .contains("criteria = \"safe-to-run\""));
}

#[test]
fn text_from_an_import_reaches_the_terminal_escaped() {
    let repo = Repo::new();
    let friend = "vendor/friend/audits.toml";
    repo.write(
        friend,
        &format!(
            "[[audits.async-timeout]]\nwho = \"F\\u001b[8m hidden\\u001b[0m \u{202e}evil\"\ncriteria = \"safe-to-deploy\"\n\
             version = \"5.0.1\"\nsha256 = \"{}\"\n",
            sha(V501)
        ),
    );
    repo.replace_exemption("");
    repo.append(
        &format!("{SC}/config.toml"),
        &format!("\n[imports.friend]\npath = \"{friend}\"\n"),
    );
    let update = repo.xtask(&["vet", "--offline", "--verbose", "--update-imports"]);
    update.ok();
    for out in [&update.stdout, &update.stderr] {
        assert!(
            !out.contains('\u{1b}') && !out.contains('\u{202e}'),
            "{update:#?}"
        );
    }
    assert!(update.stdout.contains("\\u{202e}evil"), "{update:#?}");
    assert!(update.stdout.contains("by F\\x1b[8m hidden"), "{update:#?}");
}
