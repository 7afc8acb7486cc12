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

use std::collections::BTreeMap;
use std::fmt::Write as _;

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
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if path.starts_with('/') {
        return Err(PathError::Absolute);
    }
    if path.contains('\\') {
        return Err(PathError::Backslash);
    }
    if !path.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(PathError::Character);
    }
    for component in path.split('/') {
        match component {
            ".." => return Err(PathError::ParentDir),
            "" | "." => return Err(PathError::EmptyOrDotComponent),
            _ => {}
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
        let _ = writeln!(out, "# pinwheel-list: {FORMAT_VERSION}");
        let _ = writeln!(out, "# version: {}", self.meta.version);
        let _ = writeln!(out, "# expires: {}", format_expiry(self.meta.expires));
        let _ = writeln!(out, "# scope: {}", self.meta.scope);
        for (i, (path, digest)) in self.entries.iter().enumerate() {
            let line = KEYS.len() + 1 + i;
            checker
                .check(line, path)
                .map_err(|kind| ListError { line, kind })?;
            out.push_str(&digest.hex());
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
        let mut entries = BTreeMap::new();
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
            let (hex, path) = parse_entry(l).map_err(err)?;
            let digest: Sha256 = hex.parse().map_err(|e| err(ListErrorKind::BadDigest(e)))?;
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
            entries.insert(path.to_owned(), digest);
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
            entries,
        };
        // Belt and braces: one list, one representation.
        if list.render().ok().as_deref() != Some(text) {
            return Err(ListError {
                line: 1,
                kind: ListErrorKind::NotCanonical,
            });
        }
        Ok(list)
    }
}

/// Splits `<hex>  <path>`; the digest is checked by the caller so that
/// 63 or 65 digits are reported as such.
fn parse_entry(l: &str) -> Result<(&str, &str), ListErrorKind> {
    let (hex, rest) = l.split_once(' ').ok_or(ListErrorKind::MalformedEntry)?;
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ListErrorKind::MalformedEntry);
    }
    // Check the digest before the separator so that 63/65 hex digits say so.
    if let Err(e) = hex.parse::<Sha256>() {
        return Err(ListErrorKind::BadDigest(e));
    }
    let path = rest
        .strip_prefix(' ')
        .ok_or(ListErrorKind::MalformedEntry)?;
    if path.starts_with('*') || path.starts_with(' ') {
        return Err(ListErrorKind::MalformedEntry);
    }
    Ok((hex, path))
}

/// Per-entry checks that need the entries seen so far: duplicates, case
/// collisions, and a path that needs another path to be a directory.
#[derive(Default)]
struct EntryChecker {
    /// ASCII-lowercased path -> (line, path as written).
    seen: BTreeMap<String, (usize, String)>,
    /// ASCII-lowercased directories implied by the paths so far, with the
    /// line that first implied each and the path on it.
    dirs: BTreeMap<String, (usize, String)>,
}

impl EntryChecker {
    fn check(&mut self, line: usize, path: &str) -> Result<(), ListErrorKind> {
        check_path(path).map_err(|reason| ListErrorKind::BadPath {
            path: path.to_owned(),
            reason,
        })?;
        let folded = path.to_ascii_lowercase();
        if let Some((other_line, other)) = self.seen.get(&folded) {
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
        if let Some((other_line, _)) = self.dirs.get(&folded) {
            return Err(ListErrorKind::FileIsDirectory {
                path: path.to_owned(),
                other_line: *other_line,
            });
        }
        for (i, _) in folded.match_indices('/') {
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
        self.seen.insert(folded, (line, path.to_owned()));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
