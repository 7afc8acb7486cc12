//! Tests for safe unpacking: good archives in every format, and adversarial
//! archives built here with the tar and zip crates (names and types the
//! builders refuse to write are patched into the raw headers).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;

use tar::{EntryType, Header};
use zip::write::SimpleFileOptions;

use super::*;
use std::collections::BTreeMap;

/// One tar member to build.
struct M<'a> {
    name: &'a [u8],
    kind: EntryType,
    data: &'a [u8],
    link: &'a [u8],
    mode: u32,
}

fn file<'a>(name: &'a str, data: &'a [u8]) -> M<'a> {
    M {
        name: name.as_bytes(),
        kind: EntryType::Regular,
        data,
        link: b"",
        mode: 0o644,
    }
}

fn dir(name: &str) -> M<'_> {
    M {
        name: name.as_bytes(),
        kind: EntryType::Directory,
        data: b"",
        link: b"",
        mode: 0o755,
    }
}

fn link<'a>(name: &'a str, kind: EntryType, target: &'a str) -> M<'a> {
    M {
        name: name.as_bytes(),
        kind,
        data: b"",
        link: target.as_bytes(),
        mode: 0o777,
    }
}

/// A tar stream of `members`, names written raw into the GNU header so that
/// `..` and absolute paths get through.
fn tar_bytes(members: &[M<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for m in members {
        let mut h = Header::new_gnu();
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name[..m.name.len()].copy_from_slice(m.name);
        gnu.linkname[..m.link.len()].copy_from_slice(m.link);
        h.set_entry_type(m.kind);
        h.set_mode(m.mode);
        h.set_size(m.data.len() as u64);
        h.set_cksum();
        builder.append(&h, m.data).unwrap();
    }
    builder.into_inner().unwrap()
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn bz2(bytes: &[u8]) -> Vec<u8> {
    let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Writes `bytes` as `name` in a fresh temporary directory and unpacks it
/// into `<tmp>/out`.
fn unpack_bytes(
    name: &str,
    bytes: &[u8],
    limits: Limits,
) -> (tempfile::TempDir, Result<Unpacked, ArchiveError>) {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join(name);
    fs_err::write(&archive, bytes).unwrap();
    let result = unpack(&archive, &tmp.path().join("out"), limits);
    (tmp, result)
}

/// Unpacks and expects a refusal: returns (member, reason), and checks that
/// the message names the archive and that nothing is left behind.
fn refused(name: &str, bytes: &[u8], limits: Limits) -> (Option<String>, Refusal) {
    let (tmp, result) = unpack_bytes(name, bytes, limits);
    let err = result.expect_err("archive was accepted");
    let msg = err.to_string();
    assert!(msg.contains(name), "{msg}");
    if let Some(member) = &err.member {
        assert!(msg.contains(&format!("{member:?}")), "{msg}");
    }
    let left: Vec<_> = fs_err::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        [std::ffi::OsString::from(name)],
        "left behind: {left:?}"
    );
    // Reading into memory refuses the same member for the same reason.
    let in_memory = read(&tmp.path().join(name), limits).expect_err("read accepted it");
    assert_eq!(in_memory.member, err.member, "{in_memory}");
    assert_eq!(in_memory.reason.to_string(), err.reason.to_string());
    (err.member, err.reason)
}

fn refused_tar(members: &[M<'_>]) -> (Option<String>, Refusal) {
    refused("x-1.0.tar.gz", &gz(&tar_bytes(members)), Limits::default())
}

#[test]
fn good_tar_gz() {
    let bytes = gz(&tar_bytes(&[
        dir("x-1.0/"),
        file("x-1.0/setup.py", b"print(1)\n"),
        M {
            mode: 0o4755,
            ..file("x-1.0/run.sh", b"#!/bin/sh\n")
        },
        file("./x-1.0/pkg/__init__.py", b""),
        link("x-1.0/LICENSE", EntryType::Symlink, "pkg/../setup.py"),
        link("x-1.0/pkg/up", EntryType::Symlink, ".."),
    ]));
    let (tmp, result) = unpack_bytes("x-1.0.tar.gz", &bytes, Limits::default());
    let unpacked = result.unwrap();
    assert_eq!(
        unpacked,
        Unpacked {
            entries: 6,
            bytes: 19 + 17,
            top_level: vec!["x-1.0".into()]
        }
    );
    let out = tmp.path().join("out/x-1.0");
    assert_eq!(
        fs_err::read_to_string(out.join("setup.py")).unwrap(),
        "print(1)\n"
    );
    assert_eq!(
        fs_err::read_to_string(out.join("LICENSE")).unwrap(),
        "print(1)\n"
    );
    let mode = |p: &str| fs_err::metadata(out.join(p)).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode("setup.py"), 0o644);
    assert_eq!(mode("run.sh"), 0o755, "setuid dropped, exec kept");
    assert_eq!(mode("pkg"), 0o755);

    // The same archive read into memory: the same members, nothing written.
    let archive = tmp.path().join("x-1.0.tar.gz");
    let read = read(&archive, Limits::default()).unwrap();
    assert_eq!(read.unpacked, unpacked);
    let file = |bytes: &[u8], executable| Member::File {
        bytes: bytes.to_vec(),
        executable,
    };
    assert_eq!(
        read.members,
        BTreeMap::from([
            (
                "x-1.0/LICENSE".to_owned(),
                Member::Symlink("pkg/../setup.py".into())
            ),
            ("x-1.0/pkg/__init__.py".to_owned(), file(b"", false)),
            ("x-1.0/pkg/up".to_owned(), Member::Symlink("..".into())),
            ("x-1.0/run.sh".to_owned(), file(b"#!/bin/sh\n", true)),
            ("x-1.0/setup.py".to_owned(), file(b"print(1)\n", false)),
        ])
    );
}

#[test]
fn good_tar_bz2_and_zip() {
    let bytes = bz2(&tar_bytes(&[file("y-2.0/PKG-INFO", b"Name: y\n")]));
    let (tmp, result) = unpack_bytes("y-2.0.tar.bz2", &bytes, Limits::default());
    assert_eq!(result.unwrap().top_level, ["y-2.0"]);
    assert_eq!(
        fs_err::read(tmp.path().join("out/y-2.0/PKG-INFO")).unwrap(),
        b"Name: y\n"
    );

    let bytes = zip_bytes(|z| {
        z.add_directory("z-3.0/", opts()).unwrap();
        z.start_file("z-3.0/setup.py", opts()).unwrap();
        z.write_all(b"import setuptools\n").unwrap();
        z.start_file("z-3.0/bin/tool", opts().unix_permissions(0o755))
            .unwrap();
        z.write_all(b"#!/bin/sh\n").unwrap();
        z.add_symlink("z-3.0/link", "setup.py", opts()).unwrap();
    });
    let (tmp, result) = unpack_bytes("z-3.0.zip", &bytes, Limits::default());
    let unpacked = result.unwrap();
    assert_eq!(
        (unpacked.entries, unpacked.top_level),
        (4, vec!["z-3.0".to_owned()])
    );
    let out = tmp.path().join("out/z-3.0");
    assert_eq!(
        fs_err::read_to_string(out.join("link")).unwrap(),
        "import setuptools\n"
    );
    assert_eq!(
        fs_err::metadata(out.join("bin/tool"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o755
    );
}

#[test]
fn adversarial_tar_parent_dir_and_absolute() {
    assert!(
        matches!(refused_tar(&[file("../evil", b"x")]), (Some(m), Refusal::ParentDir) if m == "../evil")
    );
    assert!(matches!(
        refused_tar(&[file("x-1.0/../../evil", b"x")]).1,
        Refusal::ParentDir
    ));
    assert!(matches!(
        refused_tar(&[dir("x-1.0/..")]).1,
        Refusal::ParentDir
    ));
    assert!(
        matches!(refused_tar(&[file("/tmp/evil", b"x")]), (Some(m), Refusal::AbsolutePath) if m == "/tmp/evil")
    );
    assert!(matches!(
        refused_tar(&[file("x-1.0\\..\\evil", b"x")]).1,
        Refusal::Backslash
    ));
    assert!(matches!(
        refused_tar(&[file("x-1.0/a\nb", b"x")]).1,
        Refusal::ControlCharacter
    ));
    let name = [b'x', 0xff, b'y'];
    assert!(matches!(
        refused_tar(&[M {
            name: &name,
            ..file("", b"x")
        }])
        .1,
        Refusal::NotUtf8
    ));
}

#[test]
fn adversarial_tar_symlinks() {
    let (member, reason) = refused_tar(&[link("x-1.0/etc", EntryType::Symlink, "../../etc")]);
    assert_eq!(member.as_deref(), Some("x-1.0/etc"));
    assert!(matches!(reason, Refusal::EscapingSymlink(t) if t == "../../etc"));
    assert!(matches!(
        refused_tar(&[link("x-1.0/p", EntryType::Symlink, "/etc/passwd")]).1,
        Refusal::AbsoluteSymlink(_)
    ));
    // A link, then a file written "through" it.
    let (member, reason) = refused_tar(&[
        dir("x-1.0/sub/"),
        link("x-1.0/l", EntryType::Symlink, "sub"),
        file("x-1.0/l/evil", b"x"),
    ]);
    assert_eq!(member.as_deref(), Some("x-1.0/l/evil"));
    assert!(matches!(reason, Refusal::FileDirConflict(other) if other == "x-1.0/l"));
    // The same in the other order.
    assert!(matches!(
        refused_tar(&[
            file("x-1.0/l/a", b"x"),
            link("x-1.0/l", EntryType::Symlink, "sub")
        ])
        .1,
        Refusal::FileDirConflict(_)
    ));
    // Lexically inside, really outside: a -> .. (the root), b -> a/.. .
    let (member, reason) = refused_tar(&[
        link("x-1.0/a", EntryType::Symlink, ".."),
        link("x-1.0/b", EntryType::Symlink, "a/../../etc"),
    ]);
    assert_eq!(member.as_deref(), Some("x-1.0/b"));
    assert!(
        matches!(reason, Refusal::SymlinkThroughSymlink { through, .. } if through == "x-1.0/a")
    );
}

#[test]
fn adversarial_tar_hardlink_device_fifo() {
    let (member, reason) = refused_tar(&[
        file("x-1.0/a", b"x"),
        link("x-1.0/h", EntryType::Link, "x-1.0/a"),
    ]);
    assert_eq!(member.as_deref(), Some("x-1.0/h"));
    assert!(matches!(reason, Refusal::Hardlink(t) if t == "x-1.0/a"));
    assert!(matches!(
        refused_tar(&[link("x-1.0/h", EntryType::Link, "/etc/shadow")]).1,
        Refusal::Hardlink(_)
    ));
    assert!(matches!(
        refused_tar(&[M {
            kind: EntryType::Char,
            ..file("x-1.0/tty", b"")
        }])
        .1,
        Refusal::Device
    ));
    assert!(matches!(
        refused_tar(&[M {
            kind: EntryType::Block,
            ..file("x-1.0/sda", b"")
        }])
        .1,
        Refusal::Device
    ));
    assert!(matches!(
        refused_tar(&[M {
            kind: EntryType::Fifo,
            ..file("x-1.0/p", b"")
        }])
        .1,
        Refusal::Fifo
    ));
}

#[test]
fn adversarial_tar_duplicates_and_case() {
    let (member, reason) = refused_tar(&[file("x-1.0/a", b"1"), file("x-1.0/a", b"2")]);
    assert_eq!(member.as_deref(), Some("x-1.0/a"));
    assert!(matches!(reason, Refusal::Duplicate));
    assert!(matches!(
        refused_tar(&[dir("x-1.0/d/"), dir("x-1.0/d/")]).1,
        Refusal::Duplicate
    ));
    let (member, reason) = refused_tar(&[file("x-1.0/README", b"1"), file("x-1.0/readme", b"2")]);
    assert_eq!(member.as_deref(), Some("x-1.0/readme"));
    assert!(matches!(reason, Refusal::CaseCollision(o) if o == "x-1.0/README"));
    assert!(matches!(
        refused_tar(&[file("X-1.0/a", b"1"), file("x-1.0/b", b"2")]).1,
        Refusal::CaseCollision(_)
    ));
    assert!(matches!(
        refused_tar(&[file("x-1.0/a", b"1"), file("x-1.0/a/b", b"2")]).1,
        Refusal::FileDirConflict(_)
    ));
}

#[test]
fn adversarial_tar_too_many_entries() {
    let names: Vec<String> = (0..11).map(|i| format!("x-1.0/f{i}")).collect();
    let members: Vec<M<'_>> = names.iter().map(|n| file(n, b"")).collect();
    let bytes = gz(&tar_bytes(&members));
    let (member, reason) = refused(
        "x-1.0.tar.gz",
        &bytes,
        Limits {
            max_bytes: 1 << 20,
            max_entries: 10,
        },
    );
    assert_eq!(member.as_deref(), Some("x-1.0/f10"));
    assert!(matches!(reason, Refusal::TooManyEntries(10)));
}

#[test]
fn adversarial_tar_gzip_bomb() {
    // 8 MiB of zeros compresses to a few KiB; the cap is 1 MiB.
    let zeros = vec![0u8; 8 << 20];
    let bytes = gz(&tar_bytes(&[file("x-1.0/bomb", &zeros)]));
    assert!(bytes.len() < 64 << 10);
    let (member, reason) = refused(
        "x-1.0.tar.gz",
        &bytes,
        Limits {
            max_bytes: 1 << 20,
            max_entries: 10,
        },
    );
    assert_eq!(member.as_deref(), Some("x-1.0/bomb"));
    assert!(matches!(reason, Refusal::TooLarge(n) if n == 1 << 20));
    // Many members each under the cap, together over it.
    let chunk = vec![0u8; 300 << 10];
    let bytes = gz(&tar_bytes(&[
        file("x-1.0/a", &chunk),
        file("x-1.0/b", &chunk),
        file("x-1.0/c", &chunk),
        file("x-1.0/d", &chunk),
    ]));
    let (member, reason) = refused(
        "x-1.0.tar.gz",
        &bytes,
        Limits {
            max_bytes: 1 << 20,
            max_entries: 10,
        },
    );
    assert_eq!(member.as_deref(), Some("x-1.0/d"));
    assert!(matches!(reason, Refusal::TooLarge(_)));
}

#[test]
fn adversarial_tar_pax_header_bomb() {
    // A pax record the tar crate would read into memory whole: stopped by
    // the stream cap (1 MiB + 10 * 1.5 KiB + 1 MiB), not by the member size.
    let mut builder = tar::Builder::new(Vec::new());
    let huge = vec![b'a'; 4 << 20];
    builder
        .append_pax_extensions([("comment", &huge[..])])
        .unwrap();
    let mut h = Header::new_gnu();
    h.set_path("x-1.0/a").unwrap();
    h.set_size(0);
    h.set_cksum();
    builder.append(&h, &b""[..]).unwrap();
    let bytes = gz(&builder.into_inner().unwrap());
    let (_, reason) = refused(
        "x-1.0.tar.gz",
        &bytes,
        Limits {
            max_bytes: 1 << 20,
            max_entries: 10,
        },
    );
    assert!(matches!(reason, Refusal::TooLarge(_)), "{reason}");
}

#[test]
fn adversarial_tar_truncated() {
    let bytes = tar_bytes(&[file("x-1.0/a", &[7u8; 4096])]);
    let (member, reason) = refused("x-1.0.tar.gz", &gz(&bytes[..2048]), Limits::default());
    assert_eq!(member.as_deref(), Some("x-1.0/a"));
    assert!(matches!(reason, Refusal::Malformed(_)), "{reason}");
}

fn opts() -> SimpleFileOptions {
    SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated)
}

fn zip_bytes(build: impl FnOnce(&mut zip::ZipWriter<std::io::Cursor<Vec<u8>>>)) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    build(&mut z);
    z.finish().unwrap().into_inner()
}

/// Replaces every occurrence of `from` by `to` (same length) in the raw
/// bytes: local headers and central directory alike.
fn patch(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let mut n = 0;
    for i in 0..=bytes.len() - from.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            n += 1;
        }
    }
    assert!(n > 0, "nothing patched");
}

fn zip_with(name: &str, content: &[u8]) -> Vec<u8> {
    zip_bytes(|z| {
        z.start_file(name, opts()).unwrap();
        z.write_all(content).unwrap();
    })
}

#[test]
fn adversarial_zip_paths() {
    let (member, reason) = refused("z-1.0.zip", &zip_with("../evil", b"x"), Limits::default());
    assert_eq!(member.as_deref(), Some("../evil"));
    assert!(matches!(reason, Refusal::ParentDir));
    let mut bytes = zip_with("Xtmp/evil", b"x");
    patch(&mut bytes, b"Xtmp/evil", b"/tmp/evil");
    assert!(matches!(
        refused("z-1.0.zip", &bytes, Limits::default()).1,
        Refusal::AbsolutePath
    ));
    assert!(matches!(
        refused(
            "z-1.0.zip",
            &zip_with("z\\..\\evil", b"x"),
            Limits::default()
        )
        .1,
        Refusal::Backslash
    ));
}

#[test]
fn adversarial_zip_duplicate_entries() {
    let mut bytes = zip_bytes(|z| {
        z.start_file("z-1.0/a", opts()).unwrap();
        z.write_all(b"first").unwrap();
        z.start_file("z-1.0/b", opts()).unwrap();
        z.write_all(b"second").unwrap();
    });
    patch(&mut bytes, b"z-1.0/b", b"z-1.0/a");
    let (member, reason) = refused("z-1.0.zip", &bytes, Limits::default());
    assert_eq!(member.as_deref(), Some("z-1.0/a"));
    assert!(matches!(reason, Refusal::Duplicate));
    let bytes = zip_bytes(|z| {
        z.start_file("z-1.0/README", opts()).unwrap();
        z.start_file("z-1.0/ReadMe", opts()).unwrap();
    });
    assert!(matches!(
        refused("z-1.0.zip", &bytes, Limits::default()).1,
        Refusal::CaseCollision(_)
    ));
}

#[test]
fn adversarial_zip_bomb_declared() {
    let bytes = zip_with("z-1.0/bomb", &vec![0u8; 4 << 20]);
    assert!(bytes.len() < 64 << 10);
    let (member, reason) = refused(
        "z-1.0.zip",
        &bytes,
        Limits {
            max_bytes: 1 << 20,
            max_entries: 10,
        },
    );
    assert_eq!(member.as_deref(), Some("z-1.0/bomb"));
    assert!(matches!(reason, Refusal::TooLarge(_)));
}

#[test]
fn adversarial_zip_bomb_lying_size() {
    // Declares 0x00100000 (1 MiB) but inflates to 4 MiB: the declared
    // sizes pass the check, the bytes actually inflated do not. The zip
    // crate notices first (Malformed); our own cap (SizeMismatch) is the
    // second line.
    let mut bytes = zip_with("z-1.0/bomb", &vec![0u8; 4 << 20]);
    patch(
        &mut bytes,
        &(4u32 << 20).to_le_bytes(),
        &(1u32 << 20).to_le_bytes(),
    );
    let (member, reason) = refused(
        "z-1.0.zip",
        &bytes,
        Limits {
            max_bytes: 2 << 20,
            max_entries: 10,
        },
    );
    assert_eq!(member.as_deref(), Some("z-1.0/bomb"));
    let ok = match &reason {
        Refusal::SizeMismatch { declared } => *declared == 1 << 20,
        Refusal::Malformed(msg) => msg.contains("larger than its declared"),
        _ => false,
    };
    assert!(ok, "{reason}");
}

#[test]
fn adversarial_zip_too_many_entries() {
    let bytes = zip_bytes(|z| {
        for i in 0..11 {
            z.start_file(format!("z-1.0/f{i}"), opts()).unwrap();
        }
    });
    assert!(matches!(
        refused(
            "z-1.0.zip",
            &bytes,
            Limits {
                max_bytes: 1 << 20,
                max_entries: 10
            }
        ),
        (None, Refusal::TooManyEntries(10))
    ));
}

#[test]
fn adversarial_zip_symlink_and_special_files() {
    let bytes = zip_bytes(|z| z.add_symlink("z-1.0/l", "../../etc", opts()).unwrap());
    assert!(matches!(
        refused("z-1.0.zip", &bytes, Limits::default()).1,
        Refusal::EscapingSymlink(_)
    ));
    let bytes = zip_bytes(|z| z.add_symlink("z-1.0/l", "/etc", opts()).unwrap());
    assert!(matches!(
        refused("z-1.0.zip", &bytes, Limits::default()).1,
        Refusal::AbsoluteSymlink(_)
    ));
    let fifo = zip_bytes(|z| {
        z.start_file("z-1.0/p", opts().external_attributes((0o010644) << 16))
            .unwrap();
    });
    assert!(
        matches!(refused("z-1.0.zip", &fifo, Limits::default()), (Some(m), Refusal::Fifo) if m == "z-1.0/p")
    );
    let dev = zip_bytes(|z| {
        z.start_file("z-1.0/d", opts().external_attributes((0o020644) << 16))
            .unwrap();
    });
    assert!(matches!(
        refused("z-1.0.zip", &dev, Limits::default()).1,
        Refusal::Device
    ));
}

#[test]
fn adversarial_not_an_archive() {
    assert!(matches!(
        refused("x-1.0.tar.gz", b"not gzip at all", Limits::default()).1,
        Refusal::Malformed(_)
    ));
    assert!(matches!(
        refused("x-1.0.zip", b"PK\x03\x04garbage", Limits::default()).1,
        Refusal::Malformed(_)
    ));
    assert!(matches!(
        refused("x-1.0.tar.xz", b"", Limits::default()).1,
        Refusal::UnknownFormat
    ));
}

#[test]
fn adversarial_destination_exists() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("x-1.0.tar.gz");
    fs_err::write(&archive, gz(&tar_bytes(&[file("x-1.0/a", b"x")]))).unwrap();
    let dest = tmp.path().join("out");
    fs_err::create_dir(&dest).unwrap();
    fs_err::write(dest.join("keep"), "mine").unwrap();
    let err = unpack(&archive, &dest, Limits::default()).unwrap_err();
    assert!(matches!(err.reason, Refusal::DestinationExists(_)), "{err}");
    assert_eq!(
        fs_err::read_to_string(dest.join("keep")).unwrap(),
        "mine",
        "an existing directory was touched"
    );
}

#[test]
fn adversarial_member_longer_than_declared() {
    // Our own second line behind the zip crate's check: a reader that
    // yields more than the member declared.
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("out");
    fs_err::create_dir(&dest).unwrap();
    let mut ex = Extractor::new(Path::new("z-1.0.zip"), Some(&dest), Limits::default());
    let err = ex
        .add_file(b"z-1.0/a", false, 3, &mut &b"abcdef"[..])
        .unwrap_err();
    assert!(
        matches!(err.reason, Refusal::SizeMismatch { declared: 3 }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "z-1.0.zip: member \"z-1.0/a\": declares 3 bytes but decompresses to more"
    );
    let err = ex
        .add_file(b"z-1.0/b", false, 9, &mut &b"abc"[..])
        .unwrap_err();
    assert!(matches!(err.reason, Refusal::Malformed(_)), "{err}");
}
