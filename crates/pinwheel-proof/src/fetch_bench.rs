//! Benchmark of fetching against `pip download`: N wheels of
//! about S bytes served by the loopback server; each round fetches all of
//! them into an empty directory with pinwheel ([`xtask::fetch::fetch_all`],
//! preceded either by one `sha256sums.txt` read, as `sync-wheels` does, or
//! by one project-page lookup per file, as `build-wheels` does) and with
//! `pip download --no-deps --require-hashes --no-cache-dir` from the same
//! server, alternately, after a warm-up. `cargo xtask bench` calls
//! [`compare_with_pip`] with the pip of its throwaway virtual environment.
//!
//! With [`SyncSetup`], the real `cargo xtask sync-wheels` command joins
//! in (a process, like pip): the list is signed with the repository's
//! demonstration key, which its configuration pins, and each round syncs
//! into an empty index of a throwaway repository.
//!
//! The in-process contenders skip process start-up; pip's interpreter
//! start-up is part of its measured time, as it is of every real
//! `pip download`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use url::Url;

use crate::loopback::{PageFile, Route, Server};
use pinwheel_trust::hash::Sha256;
use xtask::http::{self, Client};
use xtask::package_index::PackageIndex;

/// What to measure.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Where wheels and download directories go (emptied first).
    pub work: PathBuf,
    /// The `pip` executable of a throwaway virtual environment.
    pub pip: PathBuf,
    pub files: usize,
    /// Approximate size of each wheel.
    pub size: usize,
    /// Measured rounds (after one warm-up round).
    pub rounds: usize,
    pub jobs: usize,
    /// Also time the `sync-wheels` command.
    pub sync: Option<SyncSetup>,
}

/// How to run `sync-wheels`.
#[derive(Debug, Clone)]
pub struct SyncSetup {
    /// The `xtask` executable.
    pub xtask: PathBuf,
    /// The repository whose configuration, keys and demonstration secret
    /// key (`packaging/keys/DEMO-ONLY-secret/`) are used.
    pub root: PathBuf,
}

/// The demonstration secret key, relative to the repository root.
pub const DEMO_SECRET: &str = "packaging/keys/DEMO-ONLY-secret/demo-maintainer.secret.asc";

/// Wall times of each contender, one per round.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub sums_then_fetch: Vec<Duration>,
    pub lookup_then_fetch: Vec<Duration>,
    pub pip_download: Vec<Duration>,
    /// Empty without [`Setup::sync`].
    pub sync_wheels: Vec<Duration>,
    pub pip_version: String,
    pub bytes: u64,
}

/// Median, min, max.
pub fn stats(times: &[Duration]) -> (Duration, Duration, Duration) {
    let mut sorted = times.to_vec();
    sorted.sort();
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
    (
        median,
        sorted.first().copied().unwrap_or_default(),
        sorted.last().copied().unwrap_or_default(),
    )
}

/// Runs the comparison (see the module docs).
pub fn compare_with_pip(setup: &Setup) -> anyhow::Result<Comparison> {
    if setup.work.exists() {
        fs_err::remove_dir_all(&setup.work)?;
    }
    let wheels_dir = setup.work.join("wheels");
    fs_err::create_dir_all(&wheels_dir)?;
    let server = Server::start().context("starting the loopback server")?;
    let mut requirements = String::new();
    let mut listed = std::collections::BTreeMap::new();
    let mut entries = Vec::new();
    let mut bytes = 0u64;
    for i in 0..setup.files {
        let name = format!("benchpkg{i:03}");
        let filename = format!("{name}-1.0-py3-none-any.whl");
        let wheel = make_wheel(&name, "1.0", setup.size, i as u64)?;
        let sha = Sha256::of(&wheel);
        bytes += wheel.len() as u64;
        let path = wheels_dir.join(&filename);
        fs_err::write(&path, &wheel)?;
        server.route(&format!("/files/{filename}"), Route::file(&path));
        let page = PageFile::new(&filename, wheel);
        let json = crate::loopback::project_json(&name, std::slice::from_ref(&page), "/files/");
        let html = crate::loopback::project_html(&name, std::slice::from_ref(&page), "/files/");
        server.route(
            &format!("/simple/{name}/"),
            Route::page(Some(json), Some(html)),
        );
        requirements += &format!("{name}==1.0 --hash=sha256:{sha}\n");
        listed.insert(format!("files/{filename}"), sha);
        entries.push((name, filename, sha, page.bytes.len() as u64));
    }
    let (list, asc) = signed_list(setup, listed)?;
    server.route(
        "/sha256sums.txt",
        Route::bytes(list).with_type("text/plain"),
    );
    if let Some(asc) = asc {
        server.route(
            "/sha256sums.txt.asc",
            Route::bytes(asc).with_type("text/plain"),
        );
    }
    let req_path = setup.work.join("requirements.txt");
    fs_err::write(&req_path, requirements)?;
    let index_url = server.url("/simple/");
    let client = Client::with_options(&index_url, &[], http::Options::default())?;
    let options = xtask::fetch::Options {
        jobs: setup.jobs,
        cap: 1 << 30,
        progress: false,
    };
    let pip = setup.pip.clone();
    let pip_version = duct::cmd!(&pip, "--version")
        .read()
        .context("pip --version")?;

    let ours_sums = |dest: &Path| -> anyhow::Result<()> {
        let page = client.get_page(&Url::parse(&server.url("/sha256sums.txt"))?, None)?;
        let text = String::from_utf8(page.body)?;
        let mut downloads = Vec::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (hex, path) = line.split_once("  ").context("sums line")?;
            let filename = path.trim_start_matches("files/");
            downloads.push(xtask::fetch::Download {
                label: filename.to_owned(),
                url: Url::parse(&server.url(&format!("/{path}")))?,
                dest: dest.join(filename),
                sha256: hex.parse()?,
                size: None,
            });
        }
        let report = xtask::fetch::fetch_all(&client, &downloads, &options)?;
        anyhow::ensure!(
            report.fetched == setup.files,
            "fetched {} of {}",
            report.fetched,
            setup.files
        );
        Ok(())
    };
    let ours_lookup = |dest: &Path| -> anyhow::Result<()> {
        let index = PackageIndex::new(&client, &index_url)?;
        let found = std::sync::Mutex::new(Vec::new());
        let next = std::sync::atomic::AtomicUsize::new(0);
        let errors = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..setup.jobs.max(1) {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some((name, _, sha, _)) = entries.get(i) else {
                        break;
                    };
                    match index.find_file(name, sha) {
                        Ok(f) => found.lock().unwrap_or_else(|p| p.into_inner()).push(f),
                        Err(err) => errors.lock().unwrap_or_else(|p| p.into_inner()).push(err),
                    }
                });
            }
        });
        if let Some(err) = errors.into_inner().unwrap_or_else(|p| p.into_inner()).pop() {
            return Err(err);
        }
        let downloads: Vec<xtask::fetch::Download> = found
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .into_iter()
            .map(|f| xtask::fetch::Download {
                label: f.file.filename.clone(),
                url: f.file.url.clone(),
                dest: dest.join(&f.file.filename),
                sha256: f.file.sha256.unwrap_or(Sha256([0; 32])),
                size: f.file.size,
            })
            .collect();
        let report = xtask::fetch::fetch_all(&client, &downloads, &options)?;
        anyhow::ensure!(
            report.fetched == setup.files,
            "fetched {} of {}",
            report.fetched,
            setup.files
        );
        Ok(())
    };
    let pip_download = |dest: &Path| -> anyhow::Result<()> {
        duct::cmd!(
            &pip,
            "download",
            "--no-deps",
            "--require-hashes",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--progress-bar",
            "off",
            "-q",
            "--index-url",
            &index_url,
            "-d",
            dest,
            "-r",
            &req_path
        )
        .env("PIP_CONFIG_FILE", "/dev/null")
        .stdout_null()
        .run()
        .context("pip download")?;
        let n = fs_err::read_dir(dest)?.count();
        anyhow::ensure!(
            n == setup.files,
            "pip downloaded {n} of {} files",
            setup.files
        );
        Ok(())
    };

    let repo = setup.work.join("repo");
    if let Some(sync) = &setup.sync {
        make_sync_repo(&sync.root, &repo)?;
    }
    let origin = server.url("/");
    let sync_wheels = |_: &Path| -> anyhow::Result<()> {
        let Some(sync) = &setup.sync else {
            return Ok(());
        };
        duct::cmd!(
            &sync.xtask,
            "--root",
            &repo,
            "sync-wheels",
            "--from",
            &origin
        )
        .stdout_null()
        .stderr_capture()
        .run()
        .context("cargo xtask sync-wheels")?;
        let n = fs_err::read_dir(repo.join("wheels-index/files"))?.count();
        anyhow::ensure!(
            n == setup.files,
            "sync-wheels fetched {n} of {} files",
            setup.files
        );
        Ok(())
    };

    let mut result = Comparison {
        sums_then_fetch: Vec::new(),
        lookup_then_fetch: Vec::new(),
        pip_download: Vec::new(),
        sync_wheels: Vec::new(),
        pip_version: pip_version.trim().to_owned(),
        bytes,
    };
    type Contender<'a> = &'a dyn Fn(&Path) -> anyhow::Result<()>;
    let mut contenders: Vec<(&str, Contender<'_>)> = vec![
        ("sums", &ours_sums),
        ("lookup", &ours_lookup),
        ("pip", &pip_download),
    ];
    if setup.sync.is_some() {
        contenders.push(("sync-wheels", &sync_wheels));
    }
    for round in 0..=setup.rounds {
        for (label, run) in &contenders {
            let dest = setup.work.join(format!("out-{label}"));
            if dest.exists() {
                fs_err::remove_dir_all(&dest)?;
            }
            fs_err::create_dir_all(&dest)?;
            if *label == "sync-wheels" {
                // Untimed: an empty index and no trusted version.
                for dir in ["wheels-index", ".pinwheel"] {
                    if repo.join(dir).exists() {
                        fs_err::remove_dir_all(repo.join(dir))?;
                    }
                }
            }
            let started = Instant::now();
            run(&dest).with_context(|| format!("round {round}: {label}"))?;
            let elapsed = started.elapsed();
            if round > 0 {
                match *label {
                    "sums" => result.sums_then_fetch.push(elapsed),
                    "lookup" => result.lookup_then_fetch.push(elapsed),
                    "sync-wheels" => result.sync_wheels.push(elapsed),
                    _ => result.pip_download.push(elapsed),
                }
            }
        }
    }
    Ok(result)
}

/// The list of `entries` (`files/…` → sha256): signed with the demo key
/// when `setup.sync` is given (then it also carries the configured scope
/// and a month's validity), unsigned otherwise.
fn signed_list(
    setup: &Setup,
    entries: std::collections::BTreeMap<String, Sha256>,
) -> anyhow::Result<(Vec<u8>, Option<Vec<u8>>)> {
    use pinwheel_trust::sha256sums::{ListMeta, SignedList};
    let Some(sync) = &setup.sync else {
        let list = SignedList {
            meta: ListMeta::unsigned("pinwheel/wheels-index"),
            entries,
        };
        return Ok((list.render()?.into_bytes(), None));
    };
    let (list, asc) = demo_signed_list(&sync.root, entries, 1)?;
    Ok((list, Some(asc)))
}

/// A list of `entries` with version `version`, `root`'s configured scope
/// and a month's validity, and its armored signature by `root`'s
/// demonstration key ([`DEMO_SECRET`], which the configuration pins).
pub fn demo_signed_list(
    root: &Path,
    entries: std::collections::BTreeMap<String, Sha256>,
    version: u64,
) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    use pinwheel_trust::sha256sums::{ListMeta, SignedList};
    let config = xtask::config::Config::load(root)?;
    let now = time::OffsetDateTime::now_utc();
    let list = SignedList {
        meta: ListMeta {
            version,
            expires: now + time::Duration::days(30),
            scope: config.trust.scope.clone(),
        },
        entries,
    };
    let list = list.render()?.into_bytes();
    let key = xtask::sign::KeyFile::load(&root.join(DEMO_SECRET))?;
    let packet = key.sign(&list, u64::try_from(now.unix_timestamp()).unwrap_or(0) - 60)?;
    let asc = pinwheel_trust::signature::enarmor(
        pinwheel_trust::signature::BlockKind::Signature,
        &packet,
    )
    .into_bytes();
    Ok((list, asc))
}

/// A throwaway repository at `repo` with `root`'s configuration and
/// public keys (no secret key, no index).
pub fn make_sync_repo(root: &Path, repo: &Path) -> anyhow::Result<()> {
    let config = xtask::config::Config::load(root)?;
    fs_err::create_dir_all(repo.join("packaging"))?;
    fs_err::copy(&config.path, repo.join(xtask::config::CONFIG_PATH))?;
    let keys = config.abs(&config.trust.keys);
    let dest = repo.join(&config.trust.keys);
    fs_err::create_dir_all(&dest)?;
    for entry in fs_err::read_dir(&keys)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            fs_err::copy(entry.path(), dest.join(entry.file_name()))?;
        }
    }
    Ok(())
}

/// A minimal valid wheel (METADATA, WHEEL, RECORD) carrying `size` bytes
/// of pseudo-random, incompressible data, stored uncompressed.
pub fn make_wheel(name: &str, version: &str, size: usize, seed: u64) -> anyhow::Result<Vec<u8>> {
    use zip::write::SimpleFileOptions;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let dist_info = format!("{name}-{version}.dist-info");
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut data = Vec::with_capacity(size);
    while data.len() < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        data.extend_from_slice(&state.to_le_bytes());
    }
    data.truncate(size);
    let files: [(String, Vec<u8>); 3] = [
        (format!("{name}/data.bin"), data),
        (format!("{dist_info}/METADATA"), format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n").into_bytes()),
        (
            format!("{dist_info}/WHEEL"),
            b"Wheel-Version: 1.0\nGenerator: pinwheel-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n".to_vec(),
        ),
    ];
    let mut record = String::new();
    for (path, bytes) in &files {
        zip.start_file(path.as_str(), stored)?;
        zip.write_all(bytes)?;
        record += &format!(
            "{path},sha256={},{}\n",
            base64_urlsafe_nopad(&Sha256::of(bytes).0),
            bytes.len()
        );
    }
    record += &format!("{dist_info}/RECORD,,\n");
    zip.start_file(format!("{dist_info}/RECORD"), stored)?;
    zip.write_all(record.as_bytes())?;
    Ok(zip.finish()?.into_inner())
}

fn base64_urlsafe_nopad(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_python() {
        // base64.urlsafe_b64encode(hashlib.sha256(b"abc").digest()).rstrip(b"=")
        assert_eq!(
            base64_urlsafe_nopad(&Sha256::of(b"abc").0),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
        assert_eq!(base64_urlsafe_nopad(b"a"), "YQ");
        assert_eq!(base64_urlsafe_nopad(b"ab"), "YWI");
    }

    #[test]
    fn wheel_is_a_zip_of_the_right_size() {
        let wheel = make_wheel("p", "1.0", 10_000, 1).unwrap();
        assert!(wheel.len() > 10_000 && wheel.len() < 11_000);
        let archive = zip::ZipArchive::new(std::io::Cursor::new(wheel)).unwrap();
        assert_eq!(archive.len(), 4);
    }
}
