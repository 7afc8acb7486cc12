//! The zip side of [`crate::unpack`]: checks the central directory as a
//! whole first (member count, sum of declared sizes, duplicate names,
//! local headers that disagree with it or overlap), then extracts member
//! by member, each read capped at its declared size.

use std::io::{Read, Seek, SeekFrom};

use super::{ArchiveError, Extractor, Refusal};

/// Longest symbolic link target we read.
const MAX_LINK_TARGET: u64 = 4096;

pub(super) fn unpack(out: &mut Extractor) -> Result<(), ArchiveError> {
    let malformed = |out: &Extractor, e: zip::result::ZipError| {
        out.err(None, Refusal::Malformed(e.to_string()))
    };
    let file = std::fs::File::open(&out.archive).map_err(|source| {
        out.err(
            None,
            Refusal::Io {
                path: out.archive.clone(),
                source,
            },
        )
    })?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| malformed(out, e))?;
    if zip.len() as u64 > out.limits.max_entries {
        return Err(out.err(None, Refusal::TooManyEntries(out.limits.max_entries)));
    }
    if zip.has_duplicate_names() {
        let member = duplicate_name(&mut zip, out);
        return Err(out.err(member.as_deref(), Refusal::Duplicate));
    }
    let mut declared: u64 = 0;
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(|e| malformed(out, e))?;
        declared = declared.saturating_add(entry.size());
        if declared > out.limits.max_bytes {
            let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
            return Err(out.err(Some(&name), Refusal::TooLarge(out.limits.max_bytes)));
        }
    }
    // Local headers must match the central directory and no two members
    // may share bytes (overlapping entries are how the best zip bombs work).
    zip.validate_header_consistency()
        .map_err(|e| malformed(out, e))?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| malformed(out, e))?;
        let raw = entry.name_raw().to_vec();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        if entry.encrypted() {
            return Err(out.err(Some(&shown), Refusal::Encrypted));
        }
        let mode = entry.unix_mode().unwrap_or(0);
        let file_type = mode & 0o170000;
        if entry.is_symlink() {
            let mut target = Vec::new();
            (&mut entry)
                .take(MAX_LINK_TARGET + 1)
                .read_to_end(&mut target)
                .map_err(|e| out.read_err(Some(&shown), e))?;
            if target.len() as u64 > MAX_LINK_TARGET {
                return Err(out.err(
                    Some(&shown),
                    Refusal::Malformed("symbolic link target too long".into()),
                ));
            }
            out.add_symlink(&raw, &target)?;
        } else if entry.is_dir() {
            out.add_dir(&raw)?;
        } else if file_type == 0 || file_type == 0o100000 {
            let size = entry.size();
            out.add_file(&raw, mode & 0o111 != 0, size, &mut entry)?;
        } else if file_type == 0o020000 || file_type == 0o060000 {
            return Err(out.err(Some(&shown), Refusal::Device));
        } else if file_type == 0o010000 {
            return Err(out.err(Some(&shown), Refusal::Fifo));
        } else {
            return Err(out.err(
                Some(&shown),
                Refusal::UnsupportedType(format!("mode {mode:o}")),
            ));
        }
    }
    Ok(())
}

/// The first name that appears twice in the raw central directory (the
/// zip crate only says that one does).
fn duplicate_name(zip: &mut zip::ZipArchive<std::fs::File>, out: &Extractor) -> Option<String> {
    let start = zip.central_directory_start();
    let mut file = std::fs::File::open(&out.archive).ok()?;
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut dir = Vec::new();
    file.take(64 << 20).read_to_end(&mut dir).ok()?;
    let mut seen = std::collections::BTreeSet::new();
    let mut pos = 0;
    while dir.get(pos..pos + 4) == Some(&[0x50, 0x4b, 0x01, 0x02]) {
        let le16 = |at: usize| {
            dir.get(pos + at..pos + at + 2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
        };
        let (name_len, extra_len, comment_len) = (le16(28)?, le16(30)?, le16(32)?);
        let name = dir.get(pos + 46..pos + 46 + name_len)?;
        if !seen.insert(name.to_vec()) {
            return Some(String::from_utf8_lossy(name).into_owned());
        }
        pos += 46 + name_len + extra_len + comment_len;
    }
    None
}
