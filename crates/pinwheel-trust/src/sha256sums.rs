//! The signed list `wheels-index/sha256sums.txt` (ARCHITECTURE.md, "The
//! signed list"): render and strictly parse.
//!
//! ```text
//! # pinwheel-list: 1
//! # version: 7
//! # expires: 2027-11-24T00:00:00Z
//! # scope: pinwheel/wheels-index
//! <64 lowercase hex>  files/certifi-2024.8.30.tar.gz
//! ```
//!
//! The body is exactly what GNU coreutils' `sha256sum -c` reads from inside
//! `wheels-index/` (it skips the leading `#` lines). The format is canonical:
//! a text parses only if rendering the parsed value gives back the same
//! bytes, so one list has exactly one signed representation.
//!
//! Supported: the four metadata keys, in this order, each exactly once;
//! entries sorted bytewise by path; LF line ends, final LF required.
//! Refused (each a [`ListError`] with its line number): unknown, duplicate,
//! missing or out-of-order keys; digests that are not 64 lowercase hex
//! digits; `sha256sum`'s binary marker (`*`) or a single space; absolute
//! paths, `.`/`..`/empty components, backslashes (GNU's escaped-name
//! syntax), spaces, control or non-ASCII characters; the same path twice;
//! paths that differ only in ASCII case; a path that is also another path's
//! directory; unsorted lines; blank lines; comments after the header; NUL
//! and CR anywhere; the list naming itself or its signature.
//!
//! An unsigned list (what `refresh-index` writes when there is none yet)
//! has `version: 0` and `expires: 1970-01-01T00:00:00Z`: it is never valid
//! until `cargo xtask sign` writes a real header.

use std::collections::{BTreeMap, HashMap};

use time::OffsetDateTime;

use crate::hash::{Sha256, Sha256Error};

/// The list's file name inside the index.
pub const LIST_FILE: &str = "sha256sums.txt";
/// The detached signatures over the list.
pub const SIGNATURE_FILE: &str = "sha256sums.txt.asc";
/// The only format version this code reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// The metadata keys, in the order they must appear.
const KEYS: [&str; 4] = ["pinwheel-list", "version", "expires", "scope"];

/// The signed metadata in the list's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListMeta {
    /// Only ever grows from one signed list to the next (rollback).
    pub version: u64,
    /// After this instant the list is no longer valid (freeze). UTC, whole
    /// seconds.
    pub expires: OffsetDateTime,
    /// Which index of which repository the list is for (mix-and-match),
    /// e.g. `pinwheel/wheels-index`.
    pub scope: String,
}

impl ListMeta {
    /// The header of a list that has never been signed: version 0, expired
    /// since 1970.
    pub fn unsigned(scope: &str) -> ListMeta {
        ListMeta {
            version: 0,
            expires: OffsetDateTime::UNIX_EPOCH,
            scope: scope.to_owned(),
        }
    }

    /// Whether the list has expired at `now`.
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        now >= self.expires
    }
}

/// The parsed list: header and `path -> sha256`, sorted bytewise by path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedList {
    pub meta: ListMeta,
    pub entries: BTreeMap<String, Sha256>,
}

/// Why a list does not parse (or cannot be rendered); `line` is 1-based.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct ListError {
    pub line: usize,
    pub kind: ListErrorKind,
}

/// The reasons a list is refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ListErrorKind {
    #[error("not valid UTF-8")]
    NotUtf8,
    #[error("NUL byte")]
    Nul,
    #[error("carriage return (the list uses LF line ends only)")]
    CarriageReturn,
    #[error("the list does not end with a newline")]
    NoFinalNewline,
    #[error("blank line")]
    BlankLine,
    #[error("malformed metadata line, expected \"# key: value\"")]
    MalformedMetadata,
    #[error("unknown metadata key {0:?}")]
    UnknownKey(String),
    #[error("duplicate metadata key {0:?}")]
    DuplicateKey(String),
    #[error("metadata key {found:?} out of order, expected {expected:?}")]
    KeyOutOfOrder {
        found: String,
        expected: &'static str,
    },
    #[error("missing metadata key {0:?}")]
    MissingKey(&'static str),
    #[error("unsupported list format {0:?}, this pinwheel reads format 1")]
    UnsupportedFormat(String),
    #[error("version {0:?} is not a decimal number without leading zeros")]
    BadVersion(String),
    #[error("expiry {0:?} is not an RFC 3339 UTC time like 2027-11-24T00:00:00Z")]
    BadExpiry(String),
    #[error("scope {0:?} must be letters, digits and . _ - / only")]
    BadScope(String),
    #[error("comment line after the first entry")]
    CommentInBody,
    #[error("{0}")]
    BadDigest(Sha256Error),
    #[error("expected \"<sha256>  <path>\" (two spaces, text mode)")]
    MalformedEntry,
    #[error("path {path:?}: {reason}")]
    BadPath { path: String, reason: PathError },
    #[error("path {path:?} listed twice (first on line {first_line})")]
    DuplicatePath { path: String, first_line: usize },
    #[error("path {path:?} differs only in case from {other:?} (line {other_line})")]
    CaseCollision {
        path: String,
        other: String,
        other_line: usize,
    },
    #[error("path {path:?} conflicts with line {other_line}: one would have to be a file and a directory")]
    FileIsDirectory { path: String, other_line: usize },
    #[error("path {path:?} is not sorted: it must come before {previous:?}")]
    Unsorted { path: String, previous: String },
    #[error("the list is not in canonical form")]
    NotCanonical,
}

/// Why a path may not appear in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("empty path")]
    Empty,
    #[error("absolute path")]
    Absolute,
    #[error("'..' leaves the index")]
    ParentDir,
    #[error("'.' or empty component")]
    EmptyOrDotComponent,
    #[error("backslash (sha256sum's escaped-name syntax) is not allowed")]
    Backslash,
    #[error("only printable ASCII without spaces is allowed")]
    Character,
    #[error("the list cannot name itself or its signature")]
    ListItself,
}

/// Checks one relative path (as found under the index) for the list.
pub fn check_path(path: &str) -> Result<(), PathError> {
    // One pass over the bytes (this runs for every line of a list with tens
    // of thousands of lines).
    let bytes = path.as_bytes();
    if bytes.is_empty() {
        return Err(PathError::Empty);
    }
    if bytes[0] == b'/' {
        return Err(PathError::Absolute);
    }
    let mut start = 0;
    for i in 0..=bytes.len() {
        let b = if i < bytes.len() { bytes[i] } else { b'/' };
        if b == b'/' {
            match &bytes[start..i] {
                b".." => return Err(PathError::ParentDir),
                b"" | b"." => return Err(PathError::EmptyOrDotComponent),
                _ => {}
            }
            start = i + 1;
        } else if b == b'\\' {
            return Err(PathError::Backslash);
        } else if !(0x21..=0x7e).contains(&b) {
            return Err(PathError::Character);
        }
    }
    if path == LIST_FILE || path == SIGNATURE_FILE {
        return Err(PathError::ListItself);
    }
    Ok(())
}

fn check_scope(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
}

const EXPIRY_FORMAT: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// Formats an expiry as `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds).
pub fn format_expiry(t: OffsetDateTime) -> String {
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    t.format(EXPIRY_FORMAT)
        .unwrap_or_else(|_| "invalid".to_owned())
}

/// Parses `YYYY-MM-DDTHH:MM:SSZ` (the only form [`format_expiry`] writes).
pub fn parse_expiry(s: &str) -> Option<OffsetDateTime> {
    let t = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    (t.offset() == time::UtcOffset::UTC && t.nanosecond() == 0 && format_expiry(t) == s)
        .then_some(t)
}

impl SignedList {
    /// Renders the list. Fails (with the line the problem would be on) when
    /// a path or the scope could not be parsed back.
    pub fn render(&self) -> Result<String, ListError> {
        let err = |line, kind| Err(ListError { line, kind });
        if !check_scope(&self.meta.scope) {
            return err(4, ListErrorKind::BadScope(self.meta.scope.clone()));
        }
        let mut checker = EntryChecker::default();
        let mut out = String::with_capacity(128 + self.entries.len() * 140);
        out.push_str(&render_header(&self.meta));
        for (i, (path, digest)) in self.entries.iter().enumerate() {
            let line = KEYS.len() + 1 + i;
            checker
                .check(line, path)
                .map_err(|kind| ListError { line, kind })?;
            push_hex(&mut out, digest);
            out.push_str("  ");
            out.push_str(path);
            out.push('\n');
        }
        Ok(out)
    }

    /// Parses a list strictly; see the module documentation for what is
    /// refused.
    pub fn parse(bytes: &[u8]) -> Result<SignedList, ListError> {
        // Byte-level checks first, so that a NUL or CR is named as such.
        let mut line = 1;
        for &b in bytes {
            match b {
                0 => {
                    return Err(ListError {
                        line,
                        kind: ListErrorKind::Nul,
                    })
                }
                b'\r' => {
                    return Err(ListError {
                        line,
                        kind: ListErrorKind::CarriageReturn,
                    })
                }
                b'\n' => line += 1,
                _ => {}
            }
        }
        let text = std::str::from_utf8(bytes).map_err(|e| ListError {
            line: 1 + bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count(),
            kind: ListErrorKind::NotUtf8,
        })?;
        let Some(body) = text.strip_suffix('\n') else {
            let line = if text.is_empty() { 1 } else { line };
            return Err(ListError {
                line,
                kind: if text.is_empty() {
                    ListErrorKind::MissingKey(KEYS[0])
                } else {
                    ListErrorKind::NoFinalNewline
                },
            });
        };

        let mut values: Vec<&str> = Vec::with_capacity(KEYS.len());
        let mut entries: Vec<(String, Sha256)> = Vec::new();
        let mut checker = EntryChecker::default();
        let mut previous: Option<&str> = None;
        let mut last_line = 0;
        for (i, l) in body.split('\n').enumerate() {
            let line = i + 1;
            last_line = line;
            let err = |kind| ListError { line, kind };
            if l.is_empty() {
                return Err(err(ListErrorKind::BlankLine));
            }
            if let Some(rest) = l.strip_prefix('#') {
                if !entries.is_empty() {
                    return Err(err(ListErrorKind::CommentInBody));
                }
                let (key, value) = rest
                    .strip_prefix(' ')
                    .and_then(|r| r.split_once(": "))
                    .filter(|(k, v)| {
                        !k.is_empty()
                            && k.bytes()
                                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                            && !v.is_empty()
                            && !v.starts_with(' ')
                            && !v.ends_with(' ')
                    })
                    .ok_or_else(|| err(ListErrorKind::MalformedMetadata))?;
                let Some(pos) = KEYS.iter().position(|k| *k == key) else {
                    return Err(err(ListErrorKind::UnknownKey(key.to_owned())));
                };
                if pos < values.len() {
                    return Err(err(ListErrorKind::DuplicateKey(key.to_owned())));
                }
                if pos > values.len() {
                    return Err(err(ListErrorKind::KeyOutOfOrder {
                        found: key.to_owned(),
                        expected: KEYS[values.len()],
                    }));
                }
                if pos == 0 && value != "1" {
                    return Err(err(ListErrorKind::UnsupportedFormat(value.to_owned())));
                }
                values.push(value);
                continue;
            }
            if values.len() < KEYS.len() {
                return Err(err(ListErrorKind::MissingKey(KEYS[values.len()])));
            }
            let (digest, path) = parse_entry(l).map_err(err)?;
            checker.check(line, path).map_err(err)?;
            if let Some(prev) = previous {
                if path.as_bytes() < prev.as_bytes() {
                    return Err(err(ListErrorKind::Unsorted {
                        path: path.to_owned(),
                        previous: prev.to_owned(),
                    }));
                }
            }
            previous = Some(path);
            entries.push((path.to_owned(), digest));
        }
        if values.len() < KEYS.len() {
            return Err(ListError {
                line: last_line + 1,
                kind: ListErrorKind::MissingKey(KEYS[values.len()]),
            });
        }
        let version_text = values[1];
        let version = version_text
            .parse::<u64>()
            .ok()
            .filter(|v| v.to_string() == version_text)
            .ok_or_else(|| ListError {
                line: 2,
                kind: ListErrorKind::BadVersion(version_text.to_owned()),
            })?;
        let expires = parse_expiry(values[2]).ok_or_else(|| ListError {
            line: 3,
            kind: ListErrorKind::BadExpiry(values[2].to_owned()),
        })?;
        let scope = values[3];
        if !check_scope(scope) {
            return Err(ListError {
                line: 4,
                kind: ListErrorKind::BadScope(scope.to_owned()),
            });
        }
        let list = SignedList {
            meta: ListMeta {
                version,
                expires,
                scope: scope.to_owned(),
            },
            entries: entries.into_iter().collect(),
        };
        // Belt and braces: one list, one representation. The entry lines
        // are canonical by construction (64 lowercase hex digits, two
        // spaces, a checked path, LF), so only the header is compared.
        if !text.starts_with(&render_header(&list.meta)) {
            return Err(ListError {
                line: 1,
                kind: ListErrorKind::NotCanonical,
            });
        }
        Ok(list)
    }
}

/// The four header lines.
fn render_header(meta: &ListMeta) -> String {
    format!(
        "# pinwheel-list: {FORMAT_VERSION}\n# version: {}\n# expires: {}\n# scope: {}\n",
        meta.version,
        format_expiry(meta.expires),
        meta.scope
    )
}

/// Splits `<hex>  <path>` and decodes the digest; the digest is checked
/// before the separator so that 63 or 65 digits are reported as such.
fn parse_entry(l: &str) -> Result<(Sha256, &str), ListErrorKind> {
    let (hex, rest) = l.split_once(' ').ok_or(ListErrorKind::MalformedEntry)?;
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ListErrorKind::MalformedEntry);
    }
    let digest = decode_digest(hex.as_bytes()).map_err(ListErrorKind::BadDigest)?;
    let path = rest
        .strip_prefix(' ')
        .ok_or(ListErrorKind::MalformedEntry)?;
    if path.starts_with('*') || path.starts_with(' ') {
        return Err(ListErrorKind::MalformedEntry);
    }
    Ok((digest, path))
}

/// 64 lowercase hex digits to a digest (the same rules as
/// `Sha256::from_str`, in one tight loop).
fn decode_digest(hex: &[u8]) -> Result<Sha256, Sha256Error> {
    if hex.len() != 64 {
        return Err(Sha256Error::Length(hex.len()));
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        let mut byte = 0u8;
        for &c in pair {
            let v = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                _ => return Err(Sha256Error::NotHex),
            };
            byte = (byte << 4) | v;
        }
        out[i] = byte;
    }
    Ok(Sha256(out))
}

/// Appends a digest as 64 lowercase hex digits.
fn push_hex(out: &mut String, digest: &Sha256) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 64];
    for (i, b) in digest.0.iter().enumerate() {
        buf[2 * i] = DIGITS[(b >> 4) as usize];
        buf[2 * i + 1] = DIGITS[(b & 0xf) as usize];
    }
    out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
}

/// Per-entry checks that need the entries seen so far: duplicates, case
/// collisions, and a path that needs another path to be a directory.
#[derive(Default)]
struct EntryChecker {
    /// ASCII-lowercased path -> (line, path as written). Lookups only:
    /// nothing iterates these maps, so a HashMap cannot leak its order.
    seen: HashMap<String, (usize, String)>,
    /// ASCII-lowercased directories implied by the paths so far, with the
    /// line that first implied each and the path on it.
    dirs: HashMap<String, (usize, String)>,
    /// The directory part of the previous path, whose ancestors are
    /// already checked (sorted input: most paths share it).
    last_dir: String,
}

impl EntryChecker {
    fn check(&mut self, line: usize, path: &str) -> Result<(), ListErrorKind> {
        check_path(path).map_err(|reason| ListErrorKind::BadPath {
            path: path.to_owned(),
            reason,
        })?;
        let folded = path.to_ascii_lowercase();
        if let Some((other_line, other)) = self.seen.get(folded.as_str()) {
            return Err(if other == path {
                ListErrorKind::DuplicatePath {
                    path: path.to_owned(),
                    first_line: *other_line,
                }
            } else {
                ListErrorKind::CaseCollision {
                    path: path.to_owned(),
                    other: other.clone(),
                    other_line: *other_line,
                }
            });
        }
        if let Some((other_line, _)) = self.dirs.get(folded.as_str()) {
            return Err(ListErrorKind::FileIsDirectory {
                path: path.to_owned(),
                other_line: *other_line,
            });
        }
        let dir_end = path.rfind('/').unwrap_or(0);
        let already_checked = path[..dir_end] == self.last_dir;
        let slashes = folded
            .bytes()
            .enumerate()
            .filter(|&(_, b)| b == b'/')
            .map(|(i, _)| i);
        for i in slashes.take_while(|_| !already_checked) {
            let dir = &folded[..i];
            if let Some((other_line, _)) = self.seen.get(dir) {
                return Err(ListErrorKind::FileIsDirectory {
                    path: path.to_owned(),
                    other_line: *other_line,
                });
            }
            match self.dirs.get(dir) {
                Some((other_line, other)) if other[..i] != path[..i] => {
                    return Err(ListErrorKind::CaseCollision {
                        path: path.to_owned(),
                        other: other.clone(),
                        other_line: *other_line,
                    })
                }
                Some(_) => {}
                None => {
                    self.dirs.insert(dir.to_owned(), (line, path.to_owned()));
                }
            }
        }
        if !already_checked {
            self.last_dir = path[..dir_end].to_owned();
        }
        self.seen.insert(folded, (line, path.to_owned()));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
