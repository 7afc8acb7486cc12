//! The commit step of `build-wheels`, run only when every build of the run
//! succeeded: the staged wheels and their sdists go into
//! `wheels-index/files/`, `wheels-index/built-from.toml` records them,
//! what no pin needs any more is removed (a full run), and the index pages
//! are regenerated. `--verify-reproducible` compares instead and writes
//! nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::file_name;
use super::inputs::Pin;
use super::manifest::{self, Entry, Manifest};
use super::staging::Built;
use super::Current;
use crate::fresh::{self, Mode};
use crate::refresh_index;
use pinwheel_pypa::sdist_filename::SdistFormat;
use pinwheel_trust::hash::Sha256;

/// What the commit writes, besides the wheels.
pub struct Record<'a> {
    /// The build environment of each target of the run, by target name.
    pub envs: &'a BTreeMap<&'a str, Sha256>,
    /// Every pin of the run: what the index keeps when pruning.
    pub pins: &'a [Pin],
    /// Whether wheels and sdists no pin needs leave the index.
    pub prune: bool,
    /// The signed list's scope, for a list the index refresh creates.
    pub scope: &'a str,
}

/// Writes the sdists, wheels and manifest into the index, removes (when
/// `record.prune`) what no pin needs any more, and regenerates the index
/// pages.
pub fn commit(
    index: &Path,
    mut manifest: Manifest,
    built: &[Built],
    record: &Record,
) -> anyhow::Result<()> {
    let files = index.join("files");
    fs_err::create_dir_all(&files)?;
    for b in built {
        let version = b.version.to_string();
        let sdist_name = file_name(&b.sdist.path);
        let sdist_dest = files.join(&sdist_name);
        if b.sdist.path != sdist_dest {
            fresh::write_atomic(&sdist_dest, &fs_err::read(&b.sdist.path)?)?;
        }
        let wheel_name = file_name(&b.wheel);
        let file = format!("files/{wheel_name}");
        // The wheel replaces what its target had for this version, and any
        // entry of the same file.
        let replaced: Vec<String> = manifest
            .for_package(b.name.as_ref(), &version)
            .filter(|old| old.target == b.target || old.file == file)
            .map(|old| old.file.clone())
            .collect();
        for old in replaced {
            manifest.wheels.remove(&old);
            if old != file && !manifest.wheels.contains_key(&old) {
                let old_path = index.join(&old);
                if old_path.exists() {
                    fs_err::remove_file(old_path)?;
                }
            }
        }
        fresh::write_atomic(&files.join(&wheel_name), &fs_err::read(&b.wheel)?)?;
        let build_env = *record.envs.get(b.target.as_str()).with_context(|| {
            format!(
                "{wheel_name}: built for target {}, which has no build environment",
                b.target
            )
        })?;
        let entry = Entry {
            file: file.clone(),
            sha256: b.wheel_sha256,
            name: b.name.to_string(),
            version,
            sdist: format!("files/{sdist_name}"),
            sdist_sha256: b.sdist.sha256,
            target: b.target.clone(),
            build_env,
        };
        manifest.wheels.insert(file, entry);
    }
    if record.prune {
        for path in stale_files(index, &mut manifest, record.pins)? {
            eprintln!("removing {}: no pin needs it any more", path.display());
            fs_err::remove_file(path)?;
        }
    }
    let manifest_path = index.join(manifest::FILE_NAME);
    fresh::ensure_file_contents(&manifest_path, manifest.render().as_bytes(), Mode::Write)?;
    let report = refresh_index::refresh(index, Mode::Write, || Ok(record.scope.to_owned()))?;
    eprintln!(
        "{}: {} distribution(s); {} index file(s) written, {} removed",
        index.display(),
        report.distributions,
        report.changed.len(),
        report.removed.len()
    );
    Ok(())
}

/// Drops manifest entries of packages no longer pinned and returns the
/// wheels and sdists in `files/` that no remaining entry names.
pub fn stale_files(
    index: &Path,
    manifest: &mut Manifest,
    pins: &[Pin],
) -> anyhow::Result<Vec<PathBuf>> {
    manifest.wheels.retain(|_, e| {
        pins.iter()
            .any(|p| p.name.as_ref() == e.name && p.version.to_string() == e.version)
    });
    let keep: Vec<&str> = manifest
        .wheels
        .values()
        .flat_map(|e| [e.file.as_str(), e.sdist.as_str()])
        .collect();
    let mut stale = Vec::new();
    let Ok(entries) = fs_err::read_dir(index.join("files")) else {
        return Ok(stale);
    };
    for entry in entries {
        let name = entry?.file_name().to_string_lossy().into_owned();
        let is_dist = name.ends_with(".whl") || SdistFormat::of(&name).is_some();
        if is_dist && !keep.contains(&format!("files/{name}").as_str()) {
            stale.push(index.join("files").join(name));
        }
    }
    stale.sort();
    Ok(stale)
}

/// `--verify-reproducible`: compares every rebuilt wheel (target, the
/// wheel that was current for it, the rebuild) byte for byte. A pure wheel
/// is compared once per target, so every target must rebuild it identically.
pub fn compare(rebuilt: &[(String, Current, Built)]) -> anyhow::Result<()> {
    let mut differ = Vec::new();
    for (target, current, b) in rebuilt {
        if file_name(&b.wheel) != file_name(&current.path) {
            differ.push(format!(
                "{} (rebuilt in {target} as {})",
                current.label,
                file_name(&b.wheel)
            ));
        } else if b.wheel_sha256 != current.sha256
            || fs_err::read(&b.wheel)? != fs_err::read(&current.path)?
        {
            differ.push(format!(
                "{} (sha256 {} rebuilt in {target}, {} in the index)",
                current.label, b.wheel_sha256, current.sha256
            ));
        }
    }
    if differ.is_empty() {
        println!(
            "build-wheels: all {} rebuilds byte for byte identical to the index's wheels",
            rebuilt.len()
        );
        return Ok(());
    }
    for d in &differ {
        println!("differs: {d}");
    }
    Err(pinwheel_trust::failure::verification_failed(format!(
        "{} of {} rebuilt wheels are not reproducible: {}",
        differ.len(),
        rebuilt.len(),
        differ.join(", ")
    )))
}
