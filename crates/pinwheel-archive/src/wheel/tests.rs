//! Tests for wheel normalization and METADATA: byte-identical output from
//! differently ordered and timed inputs, a RECORD that Python's own hashing
//! agrees with, pip installing the result, and refused wheels.

use std::io::Write;

use zip::write::SimpleFileOptions;

use super::*;

const SDE: u64 = 1_704_067_200; // 2024-01-01T00:00:00Z

const METADATA: &str = "Metadata-Version: 2.1\nName: Tiny_Pkg\nVersion: 1.0\nRequires-Python: >=3.8, <4\nSummary: a test\n\nLong description.\nName: not-this\n";
const WHEEL: &str =
    "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n";
const ENTRY_POINTS: &str = "[console_scripts]\ntiny = tiny_pkg:main\n";

fn filename() -> WheelFilename {
    "tiny_pkg-1.0-py3-none-any.whl".parse().unwrap()
}

/// The members of the test wheel (without RECORD).
fn members() -> Vec<(&'static str, Vec<u8>, u32)> {
    vec![
        (
            "tiny_pkg/__init__.py",
            b"def main():\n    print('tiny ok')\n".to_vec(),
            0o644,
        ),
        ("tiny_pkg/data, with comma.txt", b"x\n".to_vec(), 0o600),
        ("tiny_pkg/tool.sh", b"#!/bin/sh\necho hi\n".to_vec(), 0o775),
        (
            "tiny_pkg-1.0.dist-info/METADATA",
            METADATA.as_bytes().to_vec(),
            0o644,
        ),
        (
            "tiny_pkg-1.0.dist-info/WHEEL",
            WHEEL.as_bytes().to_vec(),
            0o644,
        ),
        (
            "tiny_pkg-1.0.dist-info/entry_points.txt",
            ENTRY_POINTS.as_bytes().to_vec(),
            0o644,
        ),
    ]
}

/// Zips members in the given order, with the given time, stored or
/// deflated, and a RECORD (as a build backend would write it).
fn build(members: &[(&str, Vec<u8>, u32)], time: zip::DateTime, deflate: bool) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let mut record = String::new();
    z.add_directory("tiny_pkg/", SimpleFileOptions::default())
        .unwrap();
    for (name, bytes, mode) in members {
        let opts = SimpleFileOptions::default()
            .compression_method(method)
            .last_modified_time(time)
            .unix_permissions(*mode);
        z.start_file(*name, opts).unwrap();
        z.write_all(bytes).unwrap();
        record.push_str(&format!(
            "{},sha256={},{}\n",
            csv_field(name),
            record_hash(&Sha256::of(bytes)),
            bytes.len()
        ));
    }
    record.push_str("tiny_pkg-1.0.dist-info/RECORD,,\n");
    z.start_file(
        "tiny_pkg-1.0.dist-info/RECORD",
        SimpleFileOptions::default().last_modified_time(time),
    )
    .unwrap();
    z.write_all(record.as_bytes()).unwrap();
    z.finish().unwrap().into_inner()
}

fn names(wheel: &[u8]) -> Vec<String> {
    let zip = zip::ZipArchive::new(Cursor::new(wheel)).unwrap();
    zip.file_names().map(|n| n.unwrap().into_owned()).collect()
}

#[test]
fn same_content_same_bytes() {
    let t1 = zip::DateTime::from_date_and_time(2020, 5, 17, 13, 1, 2).unwrap();
    let t2 = zip::DateTime::from_date_and_time(1999, 1, 1, 0, 0, 0).unwrap();
    let a = build(&members(), t1, true);
    let mut reversed = members();
    reversed.reverse();
    let b = build(&reversed, t2, false);
    assert_ne!(a, b);
    let na = normalize(&a, &filename(), SDE).unwrap();
    let nb = normalize(&b, &filename(), SDE).unwrap();
    assert!(na == nb, "normalized wheels differ");
    assert_eq!(
        normalize(&na, &filename(), SDE).unwrap(),
        na,
        "not idempotent"
    );
    assert_ne!(
        normalize(&a, &filename(), SDE + 2).unwrap(),
        na,
        "time ignored"
    );
    assert_eq!(
        names(&na),
        [
            "tiny_pkg/__init__.py",
            "tiny_pkg/data, with comma.txt",
            "tiny_pkg/tool.sh",
            "tiny_pkg-1.0.dist-info/METADATA",
            "tiny_pkg-1.0.dist-info/WHEEL",
            "tiny_pkg-1.0.dist-info/entry_points.txt",
            "tiny_pkg-1.0.dist-info/RECORD",
        ]
    );
}

#[test]
fn times_modes_and_record() {
    let t = zip::DateTime::from_date_and_time(2020, 5, 17, 13, 1, 2).unwrap();
    let out = normalize(&build(&members(), t, true), &filename(), SDE).unwrap();
    let mut zip = zip::ZipArchive::new(Cursor::new(&out)).unwrap();
    for i in 0..zip.len() {
        let e = zip.by_index(i).unwrap();
        let dt = e.last_modified().unwrap();
        assert_eq!(
            (
                dt.year(),
                dt.month(),
                dt.day(),
                dt.hour(),
                dt.minute(),
                dt.second()
            ),
            (2024, 1, 1, 0, 0, 0)
        );
        let mode = e.unix_mode().unwrap();
        let name = e.name().unwrap().into_owned();
        let want = if name == "tiny_pkg/tool.sh" {
            0o100755
        } else {
            0o100644
        };
        assert_eq!(mode, want, "{name}");
        assert_eq!(e.compression(), zip::CompressionMethod::Deflated);
    }
    let mut record = String::new();
    zip.by_name("tiny_pkg-1.0.dist-info/RECORD")
        .unwrap()
        .read_to_string(&mut record)
        .unwrap();
    let init = b"def main():\n    print('tiny ok')\n";
    assert!(record.starts_with(&format!(
        "tiny_pkg/__init__.py,sha256={},{}\n",
        record_hash(&Sha256::of(init)),
        init.len()
    )));
    assert!(
        record.contains("\n\"tiny_pkg/data, with comma.txt\",sha256="),
        "{record}"
    );
    assert!(
        record.ends_with("\ntiny_pkg-1.0.dist-info/RECORD,,\n"),
        "{record}"
    );
    assert!(!record.contains("=,"), "base64 padding in {record}");
}

#[test]
fn clamps_to_1980() {
    let t = zip::DateTime::from_date_and_time(2020, 5, 17, 13, 1, 2).unwrap();
    let out = normalize(&build(&members(), t, true), &filename(), 0).unwrap();
    let mut zip = zip::ZipArchive::new(Cursor::new(&out)).unwrap();
    let dt = zip.by_index(0).unwrap().last_modified().unwrap();
    assert_eq!((dt.year(), dt.month(), dt.day()), (1980, 1, 1));
}

#[test]
fn metadata() {
    let t = zip::DateTime::default();
    let wheel = build(&members(), t, true);
    let m = read_metadata(Cursor::new(&wheel), "tiny.whl").unwrap();
    assert_eq!(m.raw, METADATA.as_bytes());
    assert_eq!(m.name.as_ref(), "tiny-pkg");
    assert_eq!(m.version.to_string(), "1.0");
    assert_eq!(m.requires_python.as_deref(), Some(">=3.8, <4"));
}

#[test]
fn adversarial_metadata_headers() {
    let parse = |text: &str| parse_metadata(text.as_bytes().to_vec()).map_err(|e| format!("{e:#}"));
    let m = parse("name: Tiny_Pkg\nVERSION: 1.0\nRequires-Python: >=3.8,\n  <4\n").unwrap();
    assert_eq!(
        (m.name.as_ref(), m.version.to_string()),
        ("tiny-pkg", "1.0".to_owned())
    );
    assert_eq!(m.requires_python.as_deref(), Some(">=3.8, <4"));
    for (text, want) in [
        ("Name: a\nname: b\nVersion: 1\n", "Name given twice"),
        ("Name: a\nVersion: 1\nVersion: 2\n", "Version given twice"),
        (
            "Name: a\nVersion: 1\nRequires-Python: >=3\nRequires-Python: <3\n",
            "Requires-Python given twice",
        ),
        (
            "Name: a\nnot a header\nVersion: 1\n",
            "line 2: malformed header line",
        ),
        ("Version: 1\n\nName: a\n", "no Name field"),
        ("Name: a\n", "no Version field"),
        ("Name: -a\nVersion: 1\n", "invalid Name \"-a\""),
    ] {
        let err = parse(text).unwrap_err();
        assert!(err.contains(want), "{text:?}: {err}");
    }
    assert!(parse_metadata(b"Name: \xff\n".to_vec()).is_err());
}

#[test]
fn record_csv_round_trip() {
    for line in [
        "a,sha256=x,1",
        "\"a,b\",sha256=x,1",
        "\"a\"\"b\",,",
        "RECORD,,",
    ] {
        let (p, h, s) = parse_record_line(line).unwrap();
        assert_eq!(format!("{},{h},{s}", csv_field(&p)), line);
    }
    assert_eq!(parse_record_line("a,b"), None);
    assert_eq!(parse_record_line("a,b,c,d"), None);
}

fn refused(members: Vec<(&str, Vec<u8>, u32)>, filename: &str) -> String {
    let wheel = build(&members, zip::DateTime::default(), true);
    format!(
        "{:#}",
        normalize(&wheel, &filename.parse().unwrap(), SDE).unwrap_err()
    )
}

#[test]
fn adversarial_wheels() {
    let f = "tiny_pkg-1.0-py3-none-any.whl";
    let mut m = members();
    m.push(("../evil.py", b"x".to_vec(), 0o644));
    assert!(refused(m, f).contains("\"../evil.py\" has an empty, '.' or '..' component"));
    let mut m = members();
    m.push(("/abs.py", b"x".to_vec(), 0o644));
    assert!(refused(m, f).contains("absolute path"));
    let mut m = members();
    m.push(("tiny_pkg/__INIT__.py", b"x".to_vec(), 0o644));
    assert!(refused(m, f).contains("differ only in case"));
    let mut m = members();
    m.push((
        "other-2.0.dist-info/METADATA",
        b"Name: other\nVersion: 2.0\n".to_vec(),
        0o644,
    ));
    assert!(refused(m, f).contains("several .dist-info directories"));
    let m = members()
        .into_iter()
        .filter(|(n, _, _)| !n.ends_with("METADATA"))
        .collect();
    assert!(refused(m, f).contains("no tiny_pkg-1.0.dist-info/METADATA"));
    let err = refused(members(), "tiny_pkg-1.0.1-py3-none-any.whl");
    assert!(err.contains("does not match the file name"), "{err}");
    let mut m = members();
    m[3].1 = METADATA
        .replace("Version: 1.0", "Version: 1.0.1")
        .into_bytes();
    let err = refused(m, f);
    assert!(
        err.contains("METADATA says tiny-pkg 1.0.1, the file name says tiny-pkg 1.0"),
        "{err}"
    );
}

#[test]
fn adversarial_record_mismatch() {
    // A build whose RECORD disagrees with the file it wrote.
    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes, _) in members() {
        z.start_file(name, SimpleFileOptions::default()).unwrap();
        z.write_all(&bytes).unwrap();
    }
    z.start_file(
        "tiny_pkg-1.0.dist-info/RECORD",
        SimpleFileOptions::default(),
    )
    .unwrap();
    let wrong = record_hash(&Sha256::of(b"something else"));
    z.write_all(format!("tiny_pkg/__init__.py,sha256={wrong},33\n").as_bytes())
        .unwrap();
    let wheel = z.finish().unwrap().into_inner();
    let err = format!("{:#}", normalize(&wheel, &filename(), SDE).unwrap_err());
    assert!(
        err.contains("RECORD: line 1: the sha256 of \"tiny_pkg/__init__.py\" does not match"),
        "{err}"
    );
}

#[test]
fn pip_installs_a_normalized_wheel() {
    let tmp = tempfile::tempdir().unwrap();
    let t = zip::DateTime::from_date_and_time(2020, 5, 17, 13, 1, 2).unwrap();
    let out = normalize(&build(&members(), t, true), &filename(), SDE).unwrap();
    let whl = tmp.path().join("tiny_pkg-1.0-py3-none-any.whl");
    fs_err::write(&whl, &out).unwrap();
    // Python's own zipfile and hashlib agree with our RECORD.
    let check = r#"
import base64, csv, hashlib, io, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
rows = list(csv.reader(io.TextIOWrapper(z.open("tiny_pkg-1.0.dist-info/RECORD"), newline="")))
assert [r[0] for r in rows] == z.namelist(), (rows, z.namelist())
for path, h, size in rows[:-1]:
    data = z.read(path)
    want = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    assert h == want and int(size) == len(data), path
assert z.testzip() is None
print("record ok")
"#;
    let sh = xshell::Shell::new().unwrap();
    // Hermetic pip: no configuration file, and no extra places to look
    // from the caller's PIP_FIND_LINKS / PIP_INDEX_URL.
    let empty = tmp.path().join("empty");
    fs_err::create_dir(&empty).unwrap();
    sh.set_var("PIP_CONFIG_FILE", "/dev/null");
    sh.set_var("PIP_FIND_LINKS", &empty);
    sh.set_var("PIP_INDEX_URL", format!("file://{}", empty.display()));
    let venv = tmp.path().join("venv");
    assert_eq!(
        xshell::cmd!(sh, "/usr/bin/python3 -c {check} {whl}")
            .read()
            .unwrap(),
        "record ok"
    );
    xshell::cmd!(sh, "/usr/bin/python3 -m venv {venv}")
        .run()
        .unwrap();
    let pip = venv.join("bin/pip");
    xshell::cmd!(
        sh,
        "{pip} install --no-index --no-deps --disable-pip-version-check -q {whl}"
    )
    .env("PIP_NO_CACHE_DIR", "1")
    .run()
    .unwrap();
    let tiny = venv.join("bin/tiny");
    assert_eq!(xshell::cmd!(sh, "{tiny}").read().unwrap(), "tiny ok");
}
