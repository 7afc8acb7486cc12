//! The bench's generated inputs, under `target/bench/`: synthetic lock
//! directories, wheel indexes of small real wheels and sdists, and indexes
//! of seeded random files (many of varied sizes, a few large ones, one huge
//! one). Each generator leaves a stamp naming its parameters and reuses the
//! directory when the stamp matches, so a second run does not rewrite 2 GiB.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rayon::prelude::*;

use crate::rng::Rng;
use crate::synthetic_lock;
use pinwheel_trust::hash::{HashingWriter, Sha256};

/// The stamp sits beside the directory, not inside it, so that an index
/// holds exactly its files (verify refuses unlisted ones).
fn stamp_path(dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    xtask::fresh::parent_dir(dir).join(format!("{name}.bench-stamp"))
}

/// One file of a generated index: path relative to the index, digest, size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFile {
    pub path: String,
    pub sha256: Sha256,
    pub size: u64,
}

/// Reads the stamp of `dir` and returns the listed files when the stamp
/// was written for exactly `params`.
fn read_stamp(dir: &Path, params: &str) -> Option<Vec<IndexFile>> {
    let text = fs_err::read_to_string(stamp_path(dir)).ok()?;
    let mut lines = text.lines();
    if lines.next()? != params {
        return None;
    }
    let files: Option<Vec<IndexFile>> = lines
        .map(|line| {
            let mut parts = line.splitn(3, ' ');
            let sha256 = parts.next()?.parse().ok()?;
            let size = parts.next()?.parse().ok()?;
            let path = parts.next()?.to_owned();
            Some(IndexFile { path, sha256, size })
        })
        .collect();
    let files = files?;
    // A quick sanity check that the files are still there with their sizes.
    files
        .iter()
        .all(|f| fs_err::metadata(dir.join(&f.path)).is_ok_and(|m| m.len() == f.size))
        .then_some(files)
}

fn write_stamp(dir: &Path, params: &str, files: &[IndexFile]) -> anyhow::Result<()> {
    let mut text = format!("{params}\n");
    for f in files {
        text.push_str(&format!("{} {} {}\n", f.sha256, f.size, f.path));
    }
    xtask::fresh::write_atomic(&stamp_path(dir), text.as_bytes())
}

fn fresh_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        fs_err::remove_dir_all(dir)?;
    }
    fs_err::create_dir_all(dir.join("files"))?;
    Ok(())
}

/// An index of `count` random files totalling `total` bytes (sizes vary
/// around the mean), named like sdists. Content is a seeded stream, hashed
/// while it is written.
pub fn random_index(
    dir: &Path,
    total: u64,
    count: usize,
    seed: u64,
) -> anyhow::Result<Vec<IndexFile>> {
    let params = format!("random-index total={total} count={count} seed={seed}");
    write_index(dir, &params, &split_sizes(total, count, seed), seed)
}

/// An index of random files of exactly `sizes` bytes, in that order (e.g.
/// a few large files and some small ones, or one huge file), named and
/// filled like [`random_index`]'s.
pub fn sized_index(dir: &Path, sizes: &[u64], seed: u64) -> anyhow::Result<Vec<IndexFile>> {
    let listed: Vec<String> = sizes.iter().map(u64::to_string).collect();
    let params = format!("sized-index sizes={} seed={seed}", listed.join(","));
    write_index(dir, &params, sizes, seed)
}

/// The files of `sizes` in `dir`, reused when its stamp says `params`.
fn write_index(
    dir: &Path,
    params: &str,
    sizes: &[u64],
    seed: u64,
) -> anyhow::Result<Vec<IndexFile>> {
    if let Some(files) = read_stamp(dir, params) {
        return Ok(files);
    }
    fresh_dir(dir)?;
    let files: anyhow::Result<Vec<IndexFile>> = sizes
        .par_iter()
        .enumerate()
        .map(|(i, &size)| {
            let path = format!("files/blob{i:05}-1.0.tar.gz");
            let sha256 = write_random(
                &dir.join(&path),
                size,
                seed ^ (i as u64).wrapping_mul(0x9e37_79b9),
            )?;
            Ok(IndexFile { path, sha256, size })
        })
        .collect();
    let files = files?;
    write_stamp(dir, params, &files)?;
    Ok(files)
}

/// `count` sizes summing to `total`, each between half and 1.5× the mean.
pub fn split_sizes(total: u64, count: usize, seed: u64) -> Vec<u64> {
    let mut rng = Rng::new(seed);
    let mean = total / count as u64;
    let mut sizes: Vec<u64> = (0..count)
        .map(|_| mean / 2 + rng.below(mean.max(1)))
        .collect();
    let sum: u64 = sizes.iter().sum();
    // Put the difference on the files in turn so the total is exact.
    let mut diff = total as i128 - sum as i128;
    let mut i = 0;
    while diff != 0 {
        let step = (diff.unsigned_abs() / count as u128).max(1) as u64;
        if diff > 0 {
            sizes[i % count] += step;
            diff -= step as i128;
        } else {
            let s = &mut sizes[i % count];
            let take = step.min(*s);
            *s -= take;
            diff += take as i128;
        }
        i += 1;
    }
    sizes
}

fn write_random(path: &Path, size: u64, seed: u64) -> anyhow::Result<Sha256> {
    let file = fs_err::File::create(path)?;
    let mut out = HashingWriter::new(std::io::BufWriter::with_capacity(1 << 20, file));
    let mut rng = Rng::new(seed);
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        rng.fill(&mut buf[..n]);
        out.write_all(&buf[..n])
            .with_context(|| format!("{}: writing", path.display()))?;
        left -= n as u64;
    }
    let (sha256, _, inner) = out.finish();
    inner
        .into_inner()
        .map_err(|e| anyhow::anyhow!("{}: flushing: {}", path.display(), e.error()))?
        .sync_all()
        .with_context(|| format!("{}: fsync", path.display()))?;
    Ok(sha256)
}

/// A view of the first `count` files of `source` (hard links, no copies).
pub fn subset_index(
    source: &Path,
    files: &[IndexFile],
    dir: &Path,
    count: usize,
) -> anyhow::Result<Vec<IndexFile>> {
    let chosen = &files[..count.min(files.len())];
    let params = format!("subset of {} count={}", source.display(), chosen.len());
    if let Some(files) = read_stamp(dir, &params) {
        return Ok(files);
    }
    fresh_dir(dir)?;
    for f in chosen {
        fs_err::hard_link(source.join(&f.path), dir.join(&f.path))?;
    }
    write_stamp(dir, &params, chosen)?;
    Ok(chosen.to_vec())
}

/// An index of `count` small but real distributions: half wheels (a zip
/// with a module, `payload` random bytes, METADATA, WHEEL and RECORD),
/// half sdists (a tar.gz with PKG-INFO and pyproject.toml), for
/// `count / 2` projects.
pub fn wheel_index(
    dir: &Path,
    count: usize,
    payload: usize,
    seed: u64,
) -> anyhow::Result<Vec<IndexFile>> {
    distributions(dir, count, payload, seed, true)
}

fn distributions(
    dir: &Path,
    count: usize,
    payload: usize,
    seed: u64,
    sdists: bool,
) -> anyhow::Result<Vec<IndexFile>> {
    let params = format!("wheel-index count={count} payload={payload} seed={seed} sdists={sdists}");
    if let Some(files) = read_stamp(dir, &params) {
        return Ok(files);
    }
    fresh_dir(dir)?;
    let projects = if sdists { count.div_ceil(2) } else { count };
    let files: anyhow::Result<Vec<Vec<IndexFile>>> = (0..projects)
        .into_par_iter()
        .map(|i| {
            let name = format!("proj_{i:05}");
            let version = format!("1.{}.0", i % 7);
            let mut out = Vec::new();
            let wheel = format!("files/{name}-{version}-py3-none-any.whl");
            let bytes = tiny_wheel(&name, &version, payload, seed ^ i as u64)?;
            fs_err::write(dir.join(&wheel), &bytes)?;
            out.push(IndexFile {
                path: wheel,
                sha256: Sha256::of(&bytes),
                size: bytes.len() as u64,
            });
            if sdists && out.len() + 2 * i < count {
                let sdist = format!("files/{name}-{version}.tar.gz");
                let bytes = tiny_sdist(&name, &version)?;
                fs_err::write(dir.join(&sdist), &bytes)?;
                out.push(IndexFile {
                    path: sdist,
                    sha256: Sha256::of(&bytes),
                    size: bytes.len() as u64,
                });
            }
            Ok(out)
        })
        .collect();
    let mut files: Vec<IndexFile> = files?.into_iter().flatten().collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    write_stamp(dir, &params, &files)?;
    Ok(files)
}

fn metadata(name: &str, version: &str) -> String {
    format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: generated for pinwheel benchmarks\nRequires-Python: >=3.8\n\n")
}

fn tiny_wheel(name: &str, version: &str, payload: usize, seed: u64) -> anyhow::Result<Vec<u8>> {
    use zip::write::SimpleFileOptions;
    let mut rng = Rng::new(seed);
    let mut data = vec![0u8; payload];
    rng.fill(&mut data);
    let module = format!("SEED = {seed}\n");
    let dist_info = format!("{name}-{version}.dist-info");
    let entries = [
        (format!("{name}/__init__.py"), module),
        (format!("{dist_info}/METADATA"), metadata(name, version)),
        (
            format!("{dist_info}/WHEEL"),
            "Wheel-Version: 1.0\nGenerator: pinwheel-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n\n".to_owned(),
        ),
    ];
    let mut record = String::new();
    for (path, body) in &entries {
        record.push_str(&format!(
            "{path},sha256={},{}\n",
            base64_urlsafe(&Sha256::of(body.as_bytes()).0),
            body.len()
        ));
    }
    record.push_str(&format!(
        "{name}/data.bin,sha256={},{}\n",
        base64_urlsafe(&Sha256::of(&data).0),
        data.len()
    ));
    record.push_str(&format!("{dist_info}/RECORD,,\n"));
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    let data_path = format!("{name}/data.bin");
    zip.start_file(
        data_path.as_str(),
        options.compression_method(zip::CompressionMethod::Stored),
    )
    .context("writing a generated wheel")?;
    zip.write_all(&data)?;
    for (path, body) in entries
        .iter()
        .chain(std::iter::once(&(format!("{dist_info}/RECORD"), record)))
    {
        zip.start_file(path.as_str(), options)
            .context("writing a generated wheel")?;
        zip.write_all(body.as_bytes())?;
    }
    Ok(zip
        .finish()
        .context("writing a generated wheel")?
        .into_inner())
}

/// Unpadded URL-safe base64, as wheel RECORD files use.
fn base64_urlsafe(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * k)) & 63) as usize] as char);
        }
    }
    out
}

fn tiny_sdist(name: &str, version: &str) -> anyhow::Result<Vec<u8>> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let top = format!("{name}-{version}");
    let pyproject = format!(
        "[build-system]\nrequires = [\"flit_core>=3.2\"]\nbuild-backend = \"flit_core.buildapi\"\n\n[project]\nname = \"{name}\"\nversion = \"{version}\"\ndescription = \"generated\"\n"
    );
    for (path, body) in [
        ("PKG-INFO", metadata(name, version)),
        ("pyproject.toml", pyproject),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, format!("{top}/{path}"), body.as_bytes())
            .context("writing a generated sdist")?;
    }
    Ok(tar.into_inner()?.finish()?)
}

/// A directory with `pyproject.toml`, `uv.lock` and (when `poetry_hash` is
/// given) `poetry.lock` for a synthetic resolution of `n` packages.
pub fn lock_dir(dir: &Path, n: usize, seed: u64) -> anyhow::Result<synthetic_lock::SyntheticLock> {
    let lock = synthetic_lock::generate(n, seed);
    fs_err::create_dir_all(dir)?;
    xtask::fresh::ensure_file_contents(
        &dir.join("pyproject.toml"),
        lock.pyproject.as_bytes(),
        xtask::fresh::Mode::Write,
    )?;
    xtask::fresh::ensure_file_contents(
        &dir.join("uv.lock"),
        lock.uv_lock.as_bytes(),
        xtask::fresh::Mode::Write,
    )?;
    Ok(lock)
}

/// Writes `dir/poetry.lock` with the given content hash.
pub fn write_poetry_lock(
    dir: &Path,
    lock: &synthetic_lock::SyntheticLock,
    content_hash: &str,
) -> anyhow::Result<PathBuf> {
    let path = dir.join("poetry.lock");
    let text = synthetic_lock::render_poetry_lock(lock, content_hash);
    xtask::fresh::ensure_file_contents(&path, text.as_bytes(), xtask::fresh::Mode::Write)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_sum_exactly() {
        for (total, count) in [(1u64 << 31, 256usize), (1000, 7), (10, 10)] {
            let sizes = split_sizes(total, count, 3);
            assert_eq!(sizes.len(), count);
            assert_eq!(sizes.iter().sum::<u64>(), total);
        }
    }

    #[test]
    fn random_index_is_hashed_and_reused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("index");
        let a = random_index(&dir, 300_000, 3, 9).unwrap();
        assert_eq!(a.iter().map(|f| f.size).sum::<u64>(), 300_000);
        for f in &a {
            assert_eq!(Sha256::of_file(&dir.join(&f.path)).unwrap(), f.sha256);
        }
        let stamp = stamp_path(&dir);
        assert_eq!(stamp, tmp.path().join("index.bench-stamp"));
        let before = fs_err::metadata(&stamp).unwrap().modified().unwrap();
        assert_eq!(random_index(&dir, 300_000, 3, 9).unwrap(), a);
        assert_eq!(
            fs_err::metadata(&stamp).unwrap().modified().unwrap(),
            before,
            "regenerated"
        );
        let sized = sized_index(&tmp.path().join("sized"), &[70_000, 0, 5], 9).unwrap();
        assert_eq!(
            sized.iter().map(|f| f.size).collect::<Vec<_>>(),
            [70_000, 0, 5]
        );
        for f in &sized {
            let on_disk = tmp.path().join("sized").join(&f.path);
            assert_eq!(Sha256::of_file(&on_disk).unwrap(), f.sha256);
        }
        assert_eq!(
            sized_index(&tmp.path().join("sized"), &[70_000, 0, 5], 9).unwrap(),
            sized
        );
        let sub = subset_index(&dir, &a, &tmp.path().join("sub"), 2).unwrap();
        assert_eq!(sub.len(), 2);
        assert_eq!(
            fs_err::read_dir(tmp.path().join("sub/files"))
                .unwrap()
                .count(),
            2
        );
    }

    #[test]
    fn wheel_index_holds_real_archives() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("index");
        let files = wheel_index(&dir, 5, 100, 1).unwrap();
        assert_eq!(files.len(), 5);
        let wheel = files.iter().find(|f| f.path.ends_with(".whl")).unwrap();
        let mut zip =
            zip::ZipArchive::new(fs_err::File::open(dir.join(&wheel.path)).unwrap()).unwrap();
        let mut record = String::new();
        std::io::Read::read_to_string(
            &mut zip.by_name("proj_00000-1.0.0.dist-info/RECORD").unwrap(),
            &mut record,
        )
        .unwrap();
        assert!(
            record.contains("proj_00000/__init__.py,sha256="),
            "{record}"
        );
        let sdist = files.iter().find(|f| f.path.ends_with(".tar.gz")).unwrap();
        let gz = flate2::read::GzDecoder::new(fs_err::File::open(dir.join(&sdist.path)).unwrap());
        let names: Vec<String> = tar::Archive::new(gz)
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "proj_00000-1.0.0/PKG-INFO",
                "proj_00000-1.0.0/pyproject.toml"
            ]
        );
    }

    #[test]
    fn base64_matches_known_values() {
        assert_eq!(base64_urlsafe(b""), "");
        assert_eq!(base64_urlsafe(b"f"), "Zg");
        assert_eq!(base64_urlsafe(b"fo"), "Zm8");
        assert_eq!(base64_urlsafe(b"foo"), "Zm9v");
        assert_eq!(base64_urlsafe(&[0xfb, 0xff]), "-_8");
    }
}
