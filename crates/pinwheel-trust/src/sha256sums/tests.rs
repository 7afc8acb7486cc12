//! Tests for the signed list: round trips, `sha256sum -c`, and every bad
//! input the format refuses.

use super::*;

const A: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const B: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn header() -> String {
    "# pinwheel-list: 1\n# version: 7\n# expires: 2027-11-24T00:00:00Z\n# scope: pinwheel/wheels-index\n".to_owned()
}

fn good() -> String {
    format!(
        "{}{A}  files/a-1.0-py3-none-any.whl\n{B}  files/a-1.0.tar.gz\n{A}  simple/a/index.html\n",
        header()
    )
}

/// Parses `text` and returns the error's line and kind.
fn bad(text: &str) -> (usize, ListErrorKind) {
    let err = SignedList::parse(text.as_bytes()).expect_err(text);
    (err.line, err.kind)
}

#[test]
fn round_trip() {
    let list = SignedList::parse(good().as_bytes()).unwrap();
    assert_eq!(list.meta.version, 7);
    assert_eq!(format_expiry(list.meta.expires), "2027-11-24T00:00:00Z");
    assert_eq!(list.meta.scope, "pinwheel/wheels-index");
    assert_eq!(list.entries.len(), 3);
    assert_eq!(list.entries["files/a-1.0.tar.gz"].hex(), B);
    assert_eq!(list.render().unwrap(), good());
}

#[test]
fn unsigned_header() {
    let list = SignedList {
        meta: ListMeta::unsigned("pinwheel/wheels-index"),
        entries: BTreeMap::new(),
    };
    let text = list.render().unwrap();
    assert_eq!(
        text,
        "# pinwheel-list: 1\n# version: 0\n# expires: 1970-01-01T00:00:00Z\n# scope: pinwheel/wheels-index\n"
    );
    let back = SignedList::parse(text.as_bytes()).unwrap();
    assert_eq!(back, list);
    assert!(back.meta.is_expired(OffsetDateTime::UNIX_EPOCH));
}

#[test]
fn sorted_bytewise_not_by_locale() {
    // '-' (0x2d) < '.' (0x2e) < '/' (0x2f) < 'A' < '_' < 'a'
    let mut entries = BTreeMap::new();
    for p in [
        "files/a_b",
        "files/a.b",
        "files/a-b",
        "files/Z",
        "files/a/c",
    ] {
        entries.insert(p.to_owned(), Sha256::of(p.as_bytes()));
    }
    let list = SignedList {
        meta: ListMeta::unsigned("s"),
        entries,
    };
    let text = list.render().unwrap();
    let paths: Vec<&str> = text.lines().skip(4).map(|l| &l[66..]).collect();
    assert_eq!(
        paths,
        [
            "files/Z",
            "files/a-b",
            "files/a.b",
            "files/a/c",
            "files/a_b"
        ]
    );
    assert_eq!(SignedList::parse(text.as_bytes()).unwrap(), list);
}

#[test]
fn sha256sum_accepts_rendered_list() {
    let dir = tempfile::tempdir().unwrap();
    let mut entries = BTreeMap::new();
    for (path, body) in [
        ("files/x-1.0.tar.gz", "sdist"),
        ("files/x-1.0-py3-none-any.whl", "wheel"),
        ("simple/index.html", ""),
    ] {
        let full = dir.path().join(path);
        fs_err::create_dir_all(full.parent().unwrap()).unwrap();
        fs_err::write(&full, body).unwrap();
        entries.insert(path.to_owned(), Sha256::of(body.as_bytes()));
    }
    let meta = ListMeta {
        version: 3,
        expires: parse_expiry("2030-01-01T00:00:00Z").unwrap(),
        scope: "p/w".into(),
    };
    let text = SignedList { meta, entries }.render().unwrap();
    fs_err::write(dir.path().join(LIST_FILE), &text).unwrap();
    let sh = xshell::Shell::new().unwrap();
    sh.change_dir(dir.path());
    let out = xshell::cmd!(sh, "sha256sum --strict -c sha256sums.txt")
        .read()
        .unwrap();
    assert_eq!(
        out,
        "files/x-1.0-py3-none-any.whl: OK\nfiles/x-1.0.tar.gz: OK\nsimple/index.html: OK"
    );
    // And it really checks: a changed file fails.
    fs_err::write(dir.path().join("simple/index.html"), "x").unwrap();
    assert!(xshell::cmd!(sh, "sha256sum --strict -c sha256sums.txt")
        .quiet()
        .ignore_stderr()
        .read()
        .is_err());
}

#[test]
fn adversarial_digest_length_and_case() {
    let h = header();
    let short = &A[..63];
    assert_eq!(
        bad(&format!("{h}{short}  files/a\n")),
        (5, ListErrorKind::BadDigest(Sha256Error::Length(63)))
    );
    assert_eq!(
        bad(&format!("{h}{A}0  files/a\n")),
        (5, ListErrorKind::BadDigest(Sha256Error::Length(65)))
    );
    let upper = A.to_ascii_uppercase();
    assert_eq!(
        bad(&format!("{h}{upper}  files/a\n")),
        (5, ListErrorKind::BadDigest(Sha256Error::NotHex))
    );
    let err = SignedList::parse(format!("{h}{short}  files/a\n").as_bytes())
        .unwrap_err()
        .to_string();
    assert_eq!(err, "line 5: sha256 digest must be 64 hex digits, found 63");
}

#[test]
fn adversarial_separator() {
    let h = header();
    assert_eq!(
        bad(&format!("{h}{A} files/a\n")).1,
        ListErrorKind::MalformedEntry
    );
    assert_eq!(
        bad(&format!("{h}{A} *files/a\n")).1,
        ListErrorKind::MalformedEntry
    );
    assert_eq!(
        bad(&format!("{h}{A}   files/a\n")).1,
        ListErrorKind::MalformedEntry
    );
    assert_eq!(
        bad(&format!("{h}{A}\tfiles/a\n")).1,
        ListErrorKind::MalformedEntry
    );
    assert_eq!(
        bad(&format!("{h}\\{A}  files/a\n")).1,
        ListErrorKind::MalformedEntry
    );
    assert_eq!(
        bad(&format!("{h}SHA256 (files/a) = {A}\n")).1,
        ListErrorKind::BadDigest(Sha256Error::Length(6))
    );
}

#[test]
fn adversarial_paths() {
    let h = header();
    let cases = [
        ("../etc/passwd", PathError::ParentDir),
        ("files/../../x", PathError::ParentDir),
        ("files/..", PathError::ParentDir),
        ("/etc/passwd", PathError::Absolute),
        ("files//a", PathError::EmptyOrDotComponent),
        ("./files/a", PathError::EmptyOrDotComponent),
        ("files/", PathError::EmptyOrDotComponent),
        ("files\\a", PathError::Backslash),
        ("files/a b", PathError::Character),
        ("files/\u{e9}", PathError::Character),
        ("files/\x1b[31m", PathError::Character),
        ("sha256sums.txt", PathError::ListItself),
        ("sha256sums.txt.asc", PathError::ListItself),
    ];
    for (path, reason) in cases {
        let (line, kind) = bad(&format!("{h}{A}  {path}\n"));
        assert_eq!(
            (line, kind),
            (
                5,
                ListErrorKind::BadPath {
                    path: path.to_owned(),
                    reason
                }
            ),
            "{path}"
        );
    }
    let msg = SignedList::parse(format!("{h}{A}  ../x\n").as_bytes())
        .unwrap_err()
        .to_string();
    assert_eq!(msg, "line 5: path \"../x\": '..' leaves the index");
}

#[test]
fn adversarial_nul_and_cr() {
    let h = header();
    assert_eq!(
        bad(&format!("{h}{A}  files/a\0b\n")),
        (5, ListErrorKind::Nul)
    );
    assert_eq!(
        bad(&format!("{h}{A}  files/a\r\n")),
        (5, ListErrorKind::CarriageReturn)
    );
    assert_eq!(
        bad(&good().replace('\n', "\r\n")),
        (1, ListErrorKind::CarriageReturn)
    );
    assert_eq!(bad("# pinwheel-list: 1\n\0"), (2, ListErrorKind::Nul));
    let mut bytes = good().into_bytes();
    bytes.insert(bytes.len() - 3, 0xff);
    assert_eq!(
        SignedList::parse(&bytes).unwrap_err().kind,
        ListErrorKind::NotUtf8
    );
}

#[test]
fn adversarial_duplicates_and_case() {
    let h = header();
    assert_eq!(
        bad(&format!("{h}{A}  files/a\n{A}  files/a\n")),
        (
            6,
            ListErrorKind::DuplicatePath {
                path: "files/a".into(),
                first_line: 5
            }
        )
    );
    assert_eq!(
        bad(&format!("{h}{A}  files/a\n{B}  files/a\n")),
        (
            6,
            ListErrorKind::DuplicatePath {
                path: "files/a".into(),
                first_line: 5
            }
        )
    );
    assert_eq!(
        bad(&format!("{h}{A}  files/A\n{B}  files/a\n")),
        (
            6,
            ListErrorKind::CaseCollision {
                path: "files/a".into(),
                other: "files/A".into(),
                other_line: 5
            }
        )
    );
    // Directories count too: one directory, one spelling.
    assert_eq!(
        bad(&format!("{h}{A}  Files/a\n{B}  files/b\n")).1,
        ListErrorKind::CaseCollision {
            path: "files/b".into(),
            other: "Files/a".into(),
            other_line: 5
        }
    );
    assert_eq!(
        bad(&format!("{h}{A}  Files/a\n{B}  files\n")).1,
        ListErrorKind::FileIsDirectory {
            path: "files".into(),
            other_line: 5
        }
    );
}

#[test]
fn adversarial_file_and_directory() {
    let h = header();
    assert_eq!(
        bad(&format!("{h}{A}  files/a\n{B}  files/a/b\n")),
        (
            6,
            ListErrorKind::FileIsDirectory {
                path: "files/a/b".into(),
                other_line: 5
            }
        )
    );
}

#[test]
fn adversarial_unsorted() {
    let h = header();
    assert_eq!(
        bad(&format!("{h}{A}  files/b\n{B}  files/a\n")),
        (
            6,
            ListErrorKind::Unsorted {
                path: "files/a".into(),
                previous: "files/b".into()
            }
        )
    );
}

#[test]
fn adversarial_blank_and_comment_lines() {
    let h = header();
    assert_eq!(
        bad(&format!("{h}{A}  files/a\n\n{B}  files/b\n")),
        (6, ListErrorKind::BlankLine)
    );
    assert_eq!(
        bad(&format!("{h}\n{A}  files/a\n")),
        (5, ListErrorKind::BlankLine)
    );
    assert_eq!(
        bad(&format!("{h}{A}  files/a\n\n")),
        (6, ListErrorKind::BlankLine)
    );
    assert_eq!(
        bad(&format!("{h}{A}  files/a\n# note: x\n")),
        (6, ListErrorKind::CommentInBody)
    );
    assert_eq!(
        bad(&format!("{h}{A}  files/a")),
        (5, ListErrorKind::NoFinalNewline)
    );
}

#[test]
fn adversarial_metadata() {
    let good = good();
    let cases: Vec<(String, (usize, ListErrorKind))> = vec![
        (
            good.replace("# scope", "# colour: red\n# scope"),
            (4, ListErrorKind::UnknownKey("colour".into())),
        ),
        (
            good.replace("# scope", "# version: 7\n# scope"),
            (4, ListErrorKind::DuplicateKey("version".into())),
        ),
        (
            good.replace("# version: 7\n", ""),
            (
                2,
                ListErrorKind::KeyOutOfOrder {
                    found: "expires".into(),
                    expected: "version",
                },
            ),
        ),
        (
            good.replace("# scope: pinwheel/wheels-index\n", ""),
            (4, ListErrorKind::MissingKey("scope")),
        ),
        (
            good.replace("# pinwheel-list: 1", "# pinwheel-list: 2"),
            (1, ListErrorKind::UnsupportedFormat("2".into())),
        ),
        (
            good.replace("# version: 7", "# version: 07"),
            (2, ListErrorKind::BadVersion("07".into())),
        ),
        (
            good.replace("# version: 7", "# version: -1"),
            (2, ListErrorKind::BadVersion("-1".into())),
        ),
        (
            good.replace("2027-11-24T00:00:00Z", "2027-11-24T00:00:00+01:00"),
            (
                3,
                ListErrorKind::BadExpiry("2027-11-24T00:00:00+01:00".into()),
            ),
        ),
        (
            good.replace("2027-11-24T00:00:00Z", "2027-11-24T00:00:00.5Z"),
            (3, ListErrorKind::BadExpiry("2027-11-24T00:00:00.5Z".into())),
        ),
        (
            good.replace("2027-11-24T00:00:00Z", "tomorrow"),
            (3, ListErrorKind::BadExpiry("tomorrow".into())),
        ),
        (
            good.replace("pinwheel/wheels-index", "a b"),
            (4, ListErrorKind::BadScope("a b".into())),
        ),
        (
            good.replace("pinwheel/wheels-index", "a;b"),
            (4, ListErrorKind::BadScope("a;b".into())),
        ),
        (
            good.replace("# version: 7", "# version: 7 "),
            (2, ListErrorKind::MalformedMetadata),
        ),
        (
            good.replace("# version: 7", "#version: 7"),
            (2, ListErrorKind::MalformedMetadata),
        ),
        (
            good.replace("# version: 7", "# Version: 7"),
            (2, ListErrorKind::MalformedMetadata),
        ),
        (
            good.replace("# version: 7", "#"),
            (2, ListErrorKind::MalformedMetadata),
        ),
        (
            String::new(),
            (1, ListErrorKind::MissingKey("pinwheel-list")),
        ),
        (
            format!("{A}  files/a\n"),
            (1, ListErrorKind::MissingKey("pinwheel-list")),
        ),
        (
            "# pinwheel-list: 1\n".into(),
            (2, ListErrorKind::MissingKey("version")),
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(bad(&text), expected, "{text}");
    }
}

#[test]
fn render_refuses_what_parse_refuses() {
    let mut entries = BTreeMap::new();
    entries.insert("files/a".to_owned(), Sha256::of(b"a"));
    entries.insert("files/../b".to_owned(), Sha256::of(b"b"));
    let list = SignedList {
        meta: ListMeta::unsigned("s"),
        entries,
    };
    let err = list.render().unwrap_err();
    assert_eq!(err.line, 5);
    assert!(matches!(
        err.kind,
        ListErrorKind::BadPath {
            reason: PathError::ParentDir,
            ..
        }
    ));
    let mut entries = BTreeMap::new();
    entries.insert("files/A".to_owned(), Sha256::of(b"a"));
    entries.insert("files/a".to_owned(), Sha256::of(b"b"));
    let list = SignedList {
        meta: ListMeta::unsigned("s"),
        entries,
    };
    assert!(matches!(
        list.render().unwrap_err().kind,
        ListErrorKind::CaseCollision { .. }
    ));
}

#[test]
fn adversarial_directory_case_after_shared_directories() {
    // Consecutive paths share their directory (the checker skips work for
    // it); a case variant of that directory further down is still caught.
    let h = header();
    let text = format!("{h}{A}  Files/a\n{A}  Files/b\n{A}  files/c\n");
    assert_eq!(
        bad(&text),
        (
            7,
            ListErrorKind::CaseCollision {
                path: "files/c".into(),
                other: "Files/a".into(),
                other_line: 5
            }
        )
    );
    let text = format!("{h}{A}  a/B/e\n{A}  a/b/c\n");
    assert_eq!(
        bad(&text),
        (
            6,
            ListErrorKind::CaseCollision {
                path: "a/b/c".into(),
                other: "a/B/e".into(),
                other_line: 5
            }
        )
    );
    let text = format!("{h}{A}  a/b\n{A}  a/c\n{A}  a/c/d\n");
    assert_eq!(
        bad(&text),
        (
            7,
            ListErrorKind::FileIsDirectory {
                path: "a/c/d".into(),
                other_line: 6
            }
        )
    );
    let ok = format!("{h}{A}  a/b/c\n{A}  a/b/d\n{A}  a/c\n{A}  b\n");
    assert!(SignedList::parse(ok.as_bytes()).is_ok());
}
