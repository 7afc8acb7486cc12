//! The tar side of [`crate::unpack`]: walks a (gzip- or bzip2-compressed)
//! tar stream member by member and hands each to the extractor. GNU long
//! names and pax `path`/`linkpath`/`size` records are applied by the `tar`
//! crate; everything it reads passes through a cap, so a compression bomb
//! made of headers, padding or huge pax records stops at the cap too.

use std::io::Read;

use tar::EntryType;

use super::{ArchiveError, CappedReader, Extractor, Refusal};

/// Unpacks the tar stream that `decoder` makes of the archive file.
pub(super) fn unpack(
    out: &mut Extractor,
    decoder: impl FnOnce(std::fs::File) -> Box<dyn Read>,
) -> Result<(), ArchiveError> {
    let file = std::fs::File::open(&out.archive).map_err(|source| {
        out.err(
            None,
            Refusal::Io {
                path: out.archive.clone(),
                source,
            },
        )
    })?;
    // Content, plus three 512-byte blocks of header and padding per member,
    // plus slack for pax records and the end-of-archive marker.
    let cap = out
        .limits
        .max_bytes
        .saturating_add(out.limits.max_entries.saturating_mul(3 * 512))
        .saturating_add(1 << 20);
    let mut archive = tar::Archive::new(CappedReader {
        inner: decoder(file),
        remaining: cap,
    });
    let entries = archive.entries().map_err(|e| out.read_err(None, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| out.read_err(None, e))?;
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let refuse = |out: &Extractor, reason| Err(out.err(Some(&shown), reason));
        match entry.header().entry_type() {
            EntryType::Regular | EntryType::Continuous
                if raw.ends_with(b"/") && entry.size() == 0 =>
            {
                out.add_dir(&raw)?
            }
            EntryType::Regular | EntryType::Continuous => {
                let executable = entry
                    .header()
                    .mode()
                    .map(|m| m & 0o111 != 0)
                    .unwrap_or(false);
                let size = entry.size();
                out.add_file(&raw, executable, size, &mut entry)?;
            }
            EntryType::Directory => out.add_dir(&raw)?,
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                out.add_symlink(&raw, &target)?;
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned());
                return refuse(out, Refusal::Hardlink(target.unwrap_or_default()));
            }
            EntryType::Char | EntryType::Block => return refuse(out, Refusal::Device),
            EntryType::Fifo => return refuse(out, Refusal::Fifo),
            // A pax global header (git archive writes one with the commit
            // id) describes no member.
            EntryType::XGlobalHeader => out.count_entry(&shown)?,
            other => return refuse(out, Refusal::UnsupportedType(format!("{other:?}"))),
        }
    }
    Ok(())
}
