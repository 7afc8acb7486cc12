//! Wheel archives, per the binary distribution format specification
//! (<https://packaging.python.org/en/latest/specifications/binary-distribution-format/>)
//! and the recording installed projects specification (RECORD):
//!
//! - [`normalize`] rewrites a built wheel so that the same files always
//!   give the same bytes: members sorted bytewise, the `.dist-info`
//!   directory last and its `RECORD` last of all (as the spec recommends);
//!   every timestamp `SOURCE_DATE_EPOCH` (clamped to the zip range
//!   1980..2107); mode 0644, or 0755 for members the build marked
//!   executable; deflate at level 9; no directory entries, extra fields or
//!   comments; `RECORD` rewritten with each member's sha256 (urlsafe base64,
//!   no padding) and size, and RECORD signatures (`RECORD.jws`,
//!   `RECORD.p7s`) dropped since they would no longer match.
//! - [`read_metadata`] reads `{name}-{version}.dist-info/METADATA` (for PEP
//!   658 sidecars) and its `Name`, `Version` and `Requires-Python`.
//!
//! Refused: member names that are absolute, contain `..`, backslashes or
//! control characters; duplicate or case-colliding members; no or several
//! `.dist-info` directories; a `RECORD` entry whose hash or size disagrees
//! with the member (a broken build); `METADATA` whose name or version
//! differs from the file name.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Seek, Write};

use anyhow::{bail, ensure, Context};
use base64::Engine;
use pep440_rs::Version;
use pep508_rs::PackageName;
use zip::write::SimpleFileOptions;

use pinwheel_pypa::core_metadata::Headers;
use pinwheel_pypa::wheel_filename::WheelFilename;
use pinwheel_trust::hash::Sha256;

/// Earliest time a zip can hold: 1980-01-01T00:00:00Z.
pub const ZIP_EPOCH_MIN: u64 = 315_532_800;
/// Latest: 2107-12-31T23:59:58Z.
pub const ZIP_EPOCH_MAX: u64 = 4_354_819_198;
/// Deflate level of every wheel we write.
const DEFLATE_LEVEL: i64 = 9;
/// Largest member we read into memory.
const MAX_MEMBER_BYTES: u64 = 1 << 30;

/// What a wheel's `METADATA` says, and its exact bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelMetadata {
    /// `METADATA` exactly as stored (the PEP 658 sidecar).
    pub raw: Vec<u8>,
    pub name: PackageName,
    pub version: Version,
    /// `Requires-Python`, as written.
    pub requires_python: Option<String>,
}

/// Reads the `.dist-info/METADATA` of a wheel. `label` names the wheel in
/// errors.
pub fn read_metadata<R: Read + Seek>(wheel: R, label: &str) -> anyhow::Result<WheelMetadata> {
    let mut zip =
        zip::ZipArchive::new(wheel).with_context(|| format!("{label}: not a zip archive"))?;
    let names = zip
        .file_names()
        .map(|n| n.map(|s| s.into_owned()))
        .collect::<Result<Vec<String>, _>>()
        .with_context(|| format!("{label}: member names"))?;
    let dist_info = dist_info_dir(&names).with_context(|| label.to_owned())?;
    let path = format!("{dist_info}/METADATA");
    let entry = zip
        .by_name(&path)
        .with_context(|| format!("{label}: no {path}"))?;
    let mut raw = Vec::new();
    entry
        .take(16 << 20)
        .read_to_end(&mut raw)
        .with_context(|| format!("{label}: reading {path}"))?;
    parse_metadata(raw).with_context(|| format!("{label}: {path}"))
}

/// Parses the header fields we need from `METADATA` (read by
/// [`Headers`]: the header block up to the first blank line). `Name`,
/// `Version` and `Requires-Python` may each appear once.
pub fn parse_metadata(raw: Vec<u8>) -> anyhow::Result<WheelMetadata> {
    let text = std::str::from_utf8(&raw).context("not UTF-8")?;
    let headers = Headers::parse(text)?;
    let name = headers.get("Name")?.context("no Name field")?;
    let version = headers.get("Version")?.context("no Version field")?;
    let (name, version) = (
        name.parse::<PackageName>()
            .with_context(|| format!("invalid Name {name:?}"))?,
        version
            .parse::<Version>()
            .with_context(|| format!("invalid Version {version:?}"))?,
    );
    let requires_python = headers.get("Requires-Python")?.map(str::to_owned);
    Ok(WheelMetadata {
        name,
        version,
        requires_python,
        raw,
    })
}

/// The one top-level `*.dist-info` directory among member names.
fn dist_info_dir(names: &[String]) -> anyhow::Result<String> {
    let mut dirs: Vec<&str> = names
        .iter()
        .filter_map(|n| n.split_once('/').map(|(top, _)| top))
        .filter(|top| top.ends_with(".dist-info"))
        .collect();
    dirs.sort_unstable();
    dirs.dedup();
    match dirs[..] {
        [one] => Ok(one.to_owned()),
        [] => bail!("no .dist-info directory"),
        _ => bail!("several .dist-info directories: {}", dirs.join(", ")),
    }
}

/// A member's name is safe to install and to list in RECORD.
fn check_member_name(name: &str) -> anyhow::Result<()> {
    ensure!(!name.is_empty(), "empty member name");
    ensure!(
        !name.starts_with('/'),
        "member {name:?} has an absolute path"
    );
    ensure!(!name.contains('\\'), "member {name:?} contains a backslash");
    ensure!(
        !name.chars().any(char::is_control),
        "member {name:?} contains a control character"
    );
    ensure!(
        name.split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".."),
        "member {name:?} has an empty, '.' or '..' component"
    );
    Ok(())
}

/// The urlsafe-base64, unpadded sha256 that RECORD uses.
pub fn record_hash(digest: &Sha256) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.0)
}

/// Quotes a RECORD (CSV) field the way Python's `csv` module does.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Splits one RECORD line into its three fields (CSV with `"` quoting).
fn parse_record_line(line: &str) -> Option<(String, String, String)> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => break,
                    c => field.push(c),
                }
            }
        }
        while let Some(&c) = chars.peek() {
            if c == ',' {
                break;
            }
            field.push(c);
            chars.next();
        }
        fields.push(field);
        if chars.next().is_none() {
            break;
        }
    }
    let [a, b, c]: [String; 3] = fields.try_into().ok()?;
    Some((a, b, c))
}

/// One member read out of a wheel.
struct Member {
    bytes: Vec<u8>,
    executable: bool,
}

/// Rewrites `wheel` (the bytes of `filename`) reproducibly; see the module
/// documentation. `source_date_epoch` is clamped to the zip time range.
pub fn normalize(
    wheel: &[u8],
    filename: &WheelFilename,
    source_date_epoch: u64,
) -> anyhow::Result<Vec<u8>> {
    let label = filename.filename();
    let mut zip = zip::ZipArchive::new(Cursor::new(wheel))
        .with_context(|| format!("{label}: not a zip archive"))?;
    ensure!(!zip.has_duplicate_names(), "{label}: duplicate members");
    let mut members: BTreeMap<String, Member> = BTreeMap::new();
    let mut folded: BTreeMap<String, String> = BTreeMap::new();
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .with_context(|| format!("{label}: member {i}"))?;
        let name = std::str::from_utf8(entry.name_raw())
            .with_context(|| format!("{label}: member name is not UTF-8"))?
            .to_owned();
        if entry.is_dir() {
            continue;
        }
        check_member_name(&name).with_context(|| label.to_owned())?;
        ensure!(
            !entry.is_symlink(),
            "{label}: member {name:?} is a symbolic link"
        );
        if let Some(other) = folded.insert(name.to_lowercase(), name.clone()) {
            bail!("{label}: members {other:?} and {name:?} differ only in case");
        }
        ensure!(
            entry.size() <= MAX_MEMBER_BYTES,
            "{label}: member {name:?} is larger than 1 GiB"
        );
        let executable = entry.unix_mode().is_some_and(|m| m & 0o111 != 0);
        let mut bytes = Vec::with_capacity(entry.size().min(64 << 20) as usize);
        (&mut entry)
            .take(MAX_MEMBER_BYTES + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("{label}: reading member {name:?}"))?;
        members.insert(name, Member { bytes, executable });
    }

    let names: Vec<String> = members.keys().cloned().collect();
    let dist_info = dist_info_dir(&names).with_context(|| label.to_owned())?;
    ensure!(
        dist_info_matches(&dist_info, filename),
        "{label}: {dist_info} does not match the file name"
    );
    let record_path = format!("{dist_info}/RECORD");
    let old_record = members
        .remove(&record_path)
        .with_context(|| format!("{label}: no {record_path}"))?;
    for sig in ["RECORD.jws", "RECORD.p7s"] {
        members.remove(&format!("{dist_info}/{sig}"));
    }
    check_old_record(&old_record.bytes, &members)
        .with_context(|| format!("{label}: {record_path}"))?;
    let metadata_path = format!("{dist_info}/METADATA");
    let metadata = members
        .get(&metadata_path)
        .with_context(|| format!("{label}: no {metadata_path}"))?;
    let metadata = parse_metadata(metadata.bytes.clone())
        .with_context(|| format!("{label}: {metadata_path}"))?;
    ensure!(
        metadata.name == filename.name && metadata.version == filename.version,
        "{label}: {metadata_path} says {} {}, the file name says {} {}",
        metadata.name,
        metadata.version,
        filename.name,
        filename.version
    );

    // Order: everything else sorted, then the dist-info sorted, RECORD last.
    let prefix = format!("{dist_info}/");
    let (mut order, dist): (Vec<&String>, Vec<&String>) =
        members.keys().partition(|n| !n.starts_with(&prefix));
    order.extend(dist);

    let time = zip_time(source_date_epoch)?;
    let options = |executable: bool| {
        SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(DEFLATE_LEVEL))
            .last_modified_time(time)
            .unix_permissions(if executable { 0o755 } else { 0o644 })
    };
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::with_capacity(wheel.len())));
    let mut record = String::new();
    for name in order {
        let member = &members[name];
        out.start_file(name.as_str(), options(member.executable))
            .with_context(|| format!("{label}: writing {name:?}"))?;
        out.write_all(&member.bytes)
            .with_context(|| format!("{label}: writing {name:?}"))?;
        let digest = Sha256::of(&member.bytes);
        record.push_str(&format!(
            "{},sha256={},{}\n",
            csv_field(name),
            record_hash(&digest),
            member.bytes.len()
        ));
    }
    record.push_str(&format!("{},,\n", csv_field(&record_path)));
    out.start_file(record_path.as_str(), options(false))
        .with_context(|| format!("{label}: writing RECORD"))?;
    out.write_all(record.as_bytes())
        .with_context(|| format!("{label}: writing RECORD"))?;
    let out = out
        .finish()
        .with_context(|| format!("{label}: finishing the zip"))?;
    Ok(out.into_inner())
}

/// Whether a `.dist-info` directory name belongs to the wheel: same
/// normalized name and equal version.
fn dist_info_matches(dir: &str, filename: &WheelFilename) -> bool {
    let Some(stem) = dir.strip_suffix(".dist-info") else {
        return false;
    };
    let Some((name, version)) = stem.rsplit_once('-') else {
        return false;
    };
    name.parse::<PackageName>()
        .is_ok_and(|n| n == filename.name)
        && version
            .parse::<Version>()
            .is_ok_and(|v| v == filename.version)
}

/// Every hash the build wrote into RECORD must match the member.
fn check_old_record(record: &[u8], members: &BTreeMap<String, Member>) -> anyhow::Result<()> {
    let text = std::str::from_utf8(record).context("not UTF-8")?;
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let (path, hash, size) =
            parse_record_line(line).with_context(|| format!("line {}: malformed", i + 1))?;
        let Some(member) = members.get(&path) else {
            continue;
        };
        if let Some(b64) = hash.strip_prefix("sha256=") {
            ensure!(
                b64.trim_end_matches('=') == record_hash(&Sha256::of(&member.bytes)),
                "line {}: the sha256 of {path:?} does not match the file",
                i + 1
            );
        }
        if !size.is_empty() {
            ensure!(
                size.parse::<usize>().ok() == Some(member.bytes.len()),
                "line {}: the size of {path:?} does not match the file",
                i + 1
            );
        }
    }
    Ok(())
}

/// The zip timestamp for `SOURCE_DATE_EPOCH`, clamped to what a zip holds.
pub fn zip_time(source_date_epoch: u64) -> anyhow::Result<zip::DateTime> {
    let clamped = source_date_epoch.clamp(ZIP_EPOCH_MIN, ZIP_EPOCH_MAX);
    let t = time::OffsetDateTime::from_unix_timestamp(clamped as i64)
        .context("SOURCE_DATE_EPOCH out of range")?;
    zip::DateTime::from_date_and_time(
        t.year() as u16,
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
    )
    .map_err(|e| anyhow::anyhow!("SOURCE_DATE_EPOCH {source_date_epoch}: {e}"))
}

#[cfg(test)]
mod tests;
