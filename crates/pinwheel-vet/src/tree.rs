//! An unpacked sdist as the diff sees it: every file by its path relative
//! to the sdist's root, as text, as a binary (size and sha256 only) or as
//! a symbolic link (its target, never followed).
//!
//! "Text" means: valid UTF-8 without a NUL byte. Anything else is binary;
//! a binary without a NUL byte (a source file in another encoding) also
//! keeps its bytes decoded as Latin-1, for the summary to scan.
//! Text is kept byte for byte: CRLF line ends stay CRLF (the diff shows a
//! `\r` change as a changed line), a missing final newline stays missing.
//!
//! [`read_tree`] is the only function of this crate that reads the file
//! system. It reads a directory the safe unpacker (`pinwheel_archive::
//! unpack`) wrote: regular files, directories and relative links that
//! stay inside. Anything else (a FIFO, a socket, a device) or a name that
//! is not UTF-8 is an error naming the path. When the directory holds a
//! single directory and nothing else (an sdist's `{name}-{version}/`), that
//! level is stripped so two versions line up.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use pinwheel_trust::hash::Sha256;

/// The files of an unpacked sdist, by relative path (`/`-separated, no
/// leading `./`), in byte order. Directories are not recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    pub files: BTreeMap<String, Entry>,
}

/// One file of a [`Tree`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Valid UTF-8 without NUL, kept as it is (CRLF included).
    Text { text: String, executable: bool },
    /// Anything else: its size and digest, and when it holds no NUL byte
    /// (text in another encoding than UTF-8) its bytes decoded as Latin-1
    /// (each byte one character), so that its lines can still be scanned.
    Binary {
        size: u64,
        sha256: Sha256,
        executable: bool,
        latin1: Option<String>,
    },
    /// A symbolic link and its target, as written in the archive.
    Symlink(String),
}

impl Entry {
    /// Classifies file contents: text when valid UTF-8 without a NUL byte,
    /// else binary.
    pub fn from_bytes(bytes: Vec<u8>, executable: bool) -> Entry {
        if bytes.contains(&0) {
            return Entry::binary(&bytes, executable, None);
        }
        match String::from_utf8(bytes) {
            Ok(text) => Entry::Text { text, executable },
            Err(err) => {
                let bytes = err.as_bytes();
                let latin1 = bytes.iter().map(|&b| char::from(b)).collect();
                Entry::binary(bytes, executable, Some(latin1))
            }
        }
    }

    fn binary(bytes: &[u8], executable: bool, latin1: Option<String>) -> Entry {
        Entry::Binary {
            size: bytes.len() as u64,
            sha256: Sha256::of(bytes),
            executable,
            latin1,
        }
    }

    /// A binary's bytes decoded as Latin-1, when it holds no NUL byte.
    pub fn latin1(&self) -> Option<&str> {
        match self {
            Entry::Binary { latin1, .. } => latin1.as_deref(),
            _ => None,
        }
    }

    /// The text of a text file; `None` for binaries and links.
    pub fn text(&self) -> Option<&str> {
        match self {
            Entry::Text { text, .. } => Some(text),
            _ => None,
        }
    }

    /// Whether any execute bit is set (links: never).
    pub fn executable(&self) -> bool {
        match self {
            Entry::Text { executable, .. } | Entry::Binary { executable, .. } => *executable,
            Entry::Symlink(_) => false,
        }
    }

    /// The git-style mode: 100644, 100755 or 120000.
    pub fn git_mode(&self) -> &'static str {
        match self {
            Entry::Symlink(_) => "120000",
            _ if self.executable() => "100755",
            _ => "100644",
        }
    }
}

impl Tree {
    /// The number of lines of all text files: what a reviewer reads to
    /// inspect the whole tree, equal to `line_count(&empty(), self)`. A
    /// last line without a newline counts as a line.
    pub fn text_lines(&self) -> u64 {
        self.files
            .values()
            .filter_map(Entry::text)
            .map(|text| lines(text).len() as u64)
            .sum()
    }
}

/// The tree with no files: `inspect` is a diff against it.
pub fn empty() -> Tree {
    Tree::default()
}

/// The lines of a text, each with its `\n` (the last may lack it). Only
/// `\n` ends a line, as in GNU diff: a `\r` before it is part of the line.
pub(crate) fn lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// Reads an unpacked sdist directory; see the module docs for what is
/// refused and what is stripped.
pub fn read_tree(dir: &Path) -> io::Result<Tree> {
    let mut root = dir.to_owned();
    let top: Vec<_> = fs_err::read_dir(dir)?.collect::<io::Result<_>>()?;
    if let [only] = top.as_slice() {
        if only.file_type()?.is_dir() {
            root = only.path();
        }
    }
    let mut tree = Tree::default();
    walk(&root, "", &mut tree)?;
    Ok(tree)
}

fn walk(dir: &Path, prefix: &str, tree: &mut Tree) -> io::Result<()> {
    for item in fs_err::read_dir(dir)? {
        let item = item?;
        let path = item.path();
        let Some(name) = item.file_name().to_str().map(str::to_owned) else {
            return Err(invalid(&path, "the name is not UTF-8"));
        };
        let rel = format!("{prefix}{name}");
        let meta = fs_err::symlink_metadata(&path)?;
        let kind = meta.file_type();
        if kind.is_dir() {
            walk(&path, &format!("{rel}/"), tree)?;
        } else if kind.is_symlink() {
            let target = fs_err::read_link(&path)?;
            let Some(target) = target.to_str() else {
                return Err(invalid(&path, "the link target is not UTF-8"));
            };
            tree.files.insert(rel, Entry::Symlink(target.to_owned()));
        } else if kind.is_file() {
            let executable = meta.permissions().mode() & 0o111 != 0;
            let bytes = fs_err::read(&path)?;
            tree.files.insert(rel, Entry::from_bytes(bytes, executable));
        } else {
            return Err(invalid(
                &path,
                "not a regular file, directory or symbolic link",
            ));
        }
    }
    Ok(())
}

fn invalid(path: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {why}", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_utf8_without_nul() {
        assert!(matches!(
            Entry::from_bytes(b"a\r\nb".to_vec(), false),
            Entry::Text { ref text, executable: false } if text == "a\r\nb"
        ));
        for bytes in [&b"a\0b"[..], &b"\xff\xfe"[..], &b"caf\xc3"[..]] {
            match Entry::from_bytes(bytes.to_vec(), true) {
                Entry::Binary {
                    size,
                    sha256,
                    executable,
                    ..
                } => {
                    assert_eq!(size, bytes.len() as u64);
                    assert_eq!(sha256, Sha256::of(bytes));
                    assert!(executable);
                }
                other => panic!("{bytes:?} read as {other:?}"),
            }
        }
        assert!(Entry::from_bytes(Vec::new(), false).text() == Some(""));
    }

    #[test]
    fn a_binary_without_nul_keeps_its_latin1_decoding() {
        let entry = Entry::from_bytes(b"caf\xe9 = 1\n".to_vec(), false);
        assert!(entry.text().is_none());
        assert_eq!(entry.latin1(), Some("caf\u{e9} = 1\n"));
        assert_eq!(
            Entry::from_bytes(b"caf\xe9\0".to_vec(), false).latin1(),
            None
        );
        assert_eq!(
            Entry::from_bytes(b"caf\xc3\xa9".to_vec(), false).latin1(),
            None
        );
    }

    #[test]
    fn text_lines_counts_an_unterminated_last_line() {
        let mut tree = empty();
        assert_eq!(tree.text_lines(), 0);
        let text = |t: &str| Entry::Text {
            text: t.to_owned(),
            executable: false,
        };
        tree.files.insert("a".into(), text("1\n2\n"));
        tree.files.insert("b".into(), text("1\r\n2"));
        tree.files.insert("c".into(), text(""));
        tree.files.insert("d".into(), Entry::Symlink("a".into()));
        tree.files
            .insert("e".into(), Entry::from_bytes(vec![0; 9], false));
        assert_eq!(tree.text_lines(), 4);
    }

    #[test]
    fn reads_a_directory_stripping_the_top_level_and_not_following_links() {
        let tmp = tempfile::tempdir().unwrap();
        let tmp = tmp.path();
        let top = tmp.join("demo-1.0");
        fs_err::create_dir_all(top.join("pkg")).unwrap();
        fs_err::write(top.join("setup.py"), "print(1)\n").unwrap();
        fs_err::write(top.join("pkg/blob.bin"), b"\0\x01").unwrap();
        fs_err::write(top.join("run.sh"), "#!/bin/sh\n").unwrap();
        fs_err::set_permissions(top.join("run.sh"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        // A link to a directory outside: recorded, never followed.
        std::os::unix::fs::symlink("../../..", top.join("pkg/up")).unwrap();
        let tree = read_tree(tmp).unwrap();
        let paths: Vec<_> = tree.files.keys().map(String::as_str).collect();
        assert_eq!(paths, ["pkg/blob.bin", "pkg/up", "run.sh", "setup.py"]);
        assert_eq!(tree.files["pkg/up"], Entry::Symlink("../../..".into()));
        assert!(tree.files["run.sh"].executable());
        assert!(!tree.files["setup.py"].executable());
        assert!(matches!(
            tree.files["pkg/blob.bin"],
            Entry::Binary { size: 2, .. }
        ));

        // Two top-level entries: nothing is stripped.
        fs_err::write(tmp.join("stray"), "x").unwrap();
        let tree = read_tree(tmp).unwrap();
        assert!(tree.files.contains_key("demo-1.0/setup.py"));
        assert!(tree.files.contains_key("stray"));
    }
}
