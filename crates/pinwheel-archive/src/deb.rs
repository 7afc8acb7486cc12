//! Reading Debian binary packages: the `ar` container (ar(5), the common
//! "!<arch>" format with GNU-style `/`-terminated names), the members of a
//! `.deb` (deb(5): `debian-binary`, `control.tar[.gz|.xz]`,
//! `data.tar[.gz|.xz]`), and the entries of their tar archives with
//! mode, owner, size and sha256. No I/O: everything works on bytes. zstd and
//! bzip2 members are reported as unsupported rather than guessed at.

use std::io::Read;

use anyhow::{bail, Context};

use pinwheel_trust::hash::Sha256;

/// One member of an `ar` archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArMember<'a> {
    pub name: String,
    pub mtime: u64,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub data: &'a [u8],
}

const AR_MAGIC: &[u8] = b"!<arch>\n";
const AR_HEADER_LEN: usize = 60;

/// Splits an `ar` archive into its members, in order.
pub fn parse_ar(bytes: &[u8]) -> anyhow::Result<Vec<ArMember<'_>>> {
    let mut rest = bytes
        .strip_prefix(AR_MAGIC)
        .context("not an ar archive (no \"!<arch>\" magic)")?;
    let mut offset = AR_MAGIC.len();
    let mut out = Vec::new();
    while !rest.is_empty() {
        if rest.len() < AR_HEADER_LEN {
            bail!("ar archive truncated in the member header at byte {offset}");
        }
        let (header, body) = rest.split_at(AR_HEADER_LEN);
        if &header[58..60] != b"`\n" {
            bail!("ar member header at byte {offset} has a bad terminator");
        }
        let field = |range: std::ops::Range<usize>| -> anyhow::Result<&str> {
            std::str::from_utf8(&header[range])
                .map(str::trim_end)
                .context("ar member header is not ASCII")
        };
        let number =
            |range: std::ops::Range<usize>, radix: u32, what: &str| -> anyhow::Result<u64> {
                let text = field(range)?;
                if text.is_empty() {
                    return Ok(0);
                }
                u64::from_str_radix(text, radix)
                    .with_context(|| format!("ar member at byte {offset}: bad {what} {text:?}"))
            };
        let name = field(0..16)?.trim_end_matches('/').to_owned();
        let size = usize::try_from(number(48..58, 10, "size")?).context("ar member too large")?;
        if body.len() < size {
            bail!(
                "ar member {name:?} claims {size} bytes but only {} remain",
                body.len()
            );
        }
        out.push(ArMember {
            mtime: number(16..28, 10, "mtime")?,
            uid: u32::try_from(number(28..34, 10, "uid")?)?,
            gid: u32::try_from(number(34..40, 10, "gid")?)?,
            mode: u32::try_from(number(40..48, 8, "mode")?)?,
            data: &body[..size],
            name,
        });
        let padded = size + (size % 2);
        rest = &body[padded.min(body.len())..];
        offset += AR_HEADER_LEN + padded;
    }
    Ok(out)
}

/// The uncompressed tar stream of a `.deb` member named `*.tar`,
/// `*.tar.gz` or `*.tar.xz`.
pub fn decompress(name: &str, data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    if name.ends_with(".tar") {
        out.extend_from_slice(data);
    } else if name.ends_with(".tar.gz") {
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut out)
            .with_context(|| format!("{name}: bad gzip stream"))?;
    } else if name.ends_with(".tar.xz") {
        lzma_rs::xz_decompress(&mut std::io::BufReader::new(data), &mut out)
            .map_err(|err| anyhow::anyhow!("{name}: bad xz stream: {err:?}"))?;
    } else {
        bail!("{name}: unsupported compression (pinwheel reads .tar, .tar.gz and .tar.xz members)");
    }
    Ok(out)
}

/// What a tar entry is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    File,
    Dir,
    Symlink(String),
    Hardlink(String),
    Other(char),
}

/// One tar entry, as much as a reproducibility comparison needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarEntry {
    pub path: String,
    pub kind: Kind,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub owner: String,
    pub group: String,
    pub mtime: u64,
    pub size: u64,
    pub sha256: Sha256,
    /// The bytes of regular files (others are empty).
    pub data: Vec<u8>,
}

/// Every entry of a tar stream, in archive order.
pub fn list_tar(bytes: &[u8]) -> anyhow::Result<Vec<TarEntry>> {
    let mut archive = tar::Archive::new(bytes);
    let mut out = Vec::new();
    for entry in archive.entries().context("reading tar entries")? {
        let mut entry = entry.context("reading a tar entry")?;
        let header = entry.header().clone();
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let link = || -> anyhow::Result<String> {
            entry_link(&header).with_context(|| format!("{path}: link without a target"))
        };
        let kind = match header.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File,
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Symlink => Kind::Symlink(link()?),
            tar::EntryType::Link => Kind::Hardlink(link()?),
            other => Kind::Other(other.as_byte() as char),
        };
        let mut data = Vec::new();
        if kind == Kind::File {
            entry
                .read_to_end(&mut data)
                .with_context(|| format!("{path}: reading"))?;
        }
        out.push(TarEntry {
            kind,
            mode: header.mode().with_context(|| format!("{path}: mode"))?,
            uid: header.uid().with_context(|| format!("{path}: uid"))?,
            gid: header.gid().with_context(|| format!("{path}: gid"))?,
            owner: header
                .username()
                .ok()
                .flatten()
                .unwrap_or_default()
                .to_owned(),
            group: header
                .groupname()
                .ok()
                .flatten()
                .unwrap_or_default()
                .to_owned(),
            mtime: header.mtime().with_context(|| format!("{path}: mtime"))?,
            size: data.len() as u64,
            sha256: Sha256::of(&data),
            data,
            path,
        });
    }
    Ok(out)
}

fn entry_link(header: &tar::Header) -> Option<String> {
    header
        .link_name_bytes()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// A `.deb` split into its parts.
#[derive(Debug, Clone)]
pub struct Deb {
    /// The ar members' names, in order, with their header fields.
    pub members: Vec<(String, u64, u32, u32, u32, Sha256)>,
    pub control: Vec<TarEntry>,
    pub data: Vec<TarEntry>,
}

/// Parses a binary package.
pub fn parse_deb(bytes: &[u8]) -> anyhow::Result<Deb> {
    let members = parse_ar(bytes)?;
    if members.first().map(|m| m.name.as_str()) != Some("debian-binary") {
        bail!("not a Debian binary package: the first member is not debian-binary");
    }
    let find = |prefix: &str| -> anyhow::Result<&ArMember<'_>> {
        members
            .iter()
            .find(|m| m.name.starts_with(prefix))
            .with_context(|| format!("not a Debian binary package: no {prefix}* member"))
    };
    let control = find("control.tar")?;
    let data = find("data.tar")?;
    Ok(Deb {
        control: list_tar(&decompress(&control.name, control.data)?)
            .with_context(|| control.name.clone())?,
        data: list_tar(&decompress(&data.name, data.data)?).with_context(|| data.name.clone())?,
        members: members
            .iter()
            .map(|m| {
                (
                    m.name.clone(),
                    m.mtime,
                    m.uid,
                    m.gid,
                    m.mode,
                    Sha256::of(m.data),
                )
            })
            .collect(),
    })
}

/// Small `.deb` files built in memory, for tests of code that reads them
/// (the `test-support` feature).
#[cfg(any(test, feature = "test-support"))]
#[allow(clippy::unwrap_used)] // test builders: a failure is a broken test
pub mod fixtures {
    use super::AR_MAGIC;
    pub fn ar(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = AR_MAGIC.to_vec();
        for (name, data) in members {
            out.extend(
                format!(
                    "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                    format!("{name}/"),
                    0,
                    0,
                    0,
                    "100644",
                    data.len()
                )
                .bytes(),
            );
            out.extend_from_slice(data);
            if data.len() % 2 == 1 {
                out.push(b'\n');
            }
        }
        out
    }

    pub fn tar_gz(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (path, data, mode) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(*mode);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(0);
            header.set_username("root").unwrap();
            builder.append_data(&mut header, path, *data).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    /// A `.deb` with `control` and data files `(path, bytes, mode)`.
    pub fn test_deb(control: &[u8], data: &[(&str, &[u8], u32)]) -> Vec<u8> {
        let control = tar_gz(&[("./control", control, 0o644)]);
        let data = tar_gz(data);
        ar(&[
            ("debian-binary", b"2.0\n"),
            ("control.tar.gz", &control),
            ("data.tar.gz", &data),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{ar, tar_gz};
    use super::*;

    #[test]
    fn parses_a_deb() {
        let control = tar_gz(&[("./control", b"Package: x\n", 0o644)]);
        let data = tar_gz(&[("./usr/bin/x", b"#!/bin/sh\n", 0o755)]);
        let bytes = ar(&[
            ("debian-binary", b"2.0\n"),
            ("control.tar.gz", &control),
            ("data.tar.gz", &data),
        ]);
        let deb = parse_deb(&bytes).unwrap();
        assert_eq!(deb.members.len(), 3);
        assert_eq!(deb.control[0].path, "control");
        assert_eq!(deb.data[0].mode, 0o755);
        assert_eq!(deb.data[0].owner, "root");
        assert_eq!(deb.data[0].sha256, Sha256::of(b"#!/bin/sh\n"));
    }

    #[test]
    fn odd_sizes_are_padded() {
        let bytes = ar(&[("a", b"abc"), ("b", b"de")]);
        let members = parse_ar(&bytes).unwrap();
        assert_eq!(
            (members[0].data, members[1].data),
            (&b"abc"[..], &b"de"[..])
        );
        assert_eq!(members[1].mode, 0o100644);
    }

    #[test]
    fn bad_archives() {
        assert!(parse_ar(b"!<arc>\n")
            .unwrap_err()
            .to_string()
            .contains("magic"));
        let mut truncated = ar(&[("a", b"abcdef")]);
        truncated.truncate(truncated.len() - 3);
        assert!(parse_ar(&truncated)
            .unwrap_err()
            .to_string()
            .contains("claims 6 bytes"));
        assert!(parse_deb(&ar(&[("x", b"")]))
            .unwrap_err()
            .to_string()
            .contains("debian-binary"));
        assert!(decompress("data.tar.zst", b"")
            .unwrap_err()
            .to_string()
            .contains("unsupported compression"));
    }
}
