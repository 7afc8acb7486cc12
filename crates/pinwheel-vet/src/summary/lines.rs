//! The added lines a reviewer must not miss (group 4 of the summary): very
//! long lines, long base64- or hex-like runs, long runs of `\xNN` escapes,
//! blocks of base64 spread over consecutive lines, and names of calls that
//! run code, start processes, reach the network or decode hidden payloads,
//! also when a `from MODULE import NAME` line imports them. Matching is
//! lexical: `getattr(builtins, "exec")` or a name split over a
//! parenthesized import list is not seen.

/// Longer lines than this are flagged (characters).
const LONG_LINE: usize = 500;

/// Longer base64- or hex-like runs than this are flagged (characters).
const LONG_RUN: usize = 200;

/// Calls flagged when not preceded by a letter, digit, `_` or `.` (but
/// `builtins.` and `__builtins__.` may precede them), with spaces allowed
/// before the parenthesis: `exec (x)` is a call too.
const CALLS: [&str; 4] = ["exec", "eval", "compile", "__import__"];

/// Names flagged when not preceded by a letter, digit, `_` or `.`.
const NAMES: [&str; 25] = [
    "marshal.loads",
    "pickle.loads",
    "subprocess",
    "os.system",
    "os.popen",
    "os.exec",
    "os.spawn",
    "os.posix_spawn",
    "pty.spawn",
    "socket",
    "urllib.request",
    "http.client",
    "requests.",
    "ctypes",
    "cffi",
    "importlib",
    "base64.b64decode",
    "codecs.decode",
    "zlib.decompress",
    "lzma.decompress",
    "bz2.decompress",
    "gzip.decompress",
    "bytes.fromhex",
    "bytearray.fromhex",
    "binascii.unhexlify",
];

/// Names flagged wherever they appear (`urlsafe_b64decode`,
/// `urllib.request.urlopen`, `opener.urlopen`).
const ANYWHERE: [&str; 6] = [
    "b64decode",
    "b32decode",
    "b85decode",
    "a85decode",
    "decodebytes",
    "urlopen",
];

/// Longer runs of `\xNN` escapes than this many bytes are flagged.
const LONG_ESCAPES: usize = 64;

/// Why a line is flagged, followed by the line quoted; `None` when it is
/// not.
pub(super) fn flags(line: &str) -> Option<String> {
    let mut why: Vec<String> = Vec::new();
    let chars = line.trim_end_matches(['\n', '\r']).chars().count();
    if chars > LONG_LINE {
        why.push(format!("very long line ({chars} characters)"));
    }
    let run = longest_encoded_run(line);
    if run > LONG_RUN {
        why.push(format!("base64/hex-like run of {run} characters"));
    }
    let escapes = longest_escape_run(line);
    if escapes > LONG_ESCAPES {
        why.push(format!("run of {escapes} \\xNN-escaped bytes"));
    }
    if line
        .trim_end_matches(['\n', '\r'])
        .chars()
        .any(crate::diff::hidden)
    {
        why.push("control or bidirectional character".to_owned());
    }
    names(line, &mut why);
    for (module, name) in from_imports(line) {
        let mut imported = Vec::new();
        names(&format!("{module}.{name}("), &mut imported);
        for n in imported {
            if !why.contains(&n) {
                let n = n.trim_end_matches('(');
                why.push(format!("from {module} import {name} ({n})"));
            }
        }
    }
    if why.is_empty() {
        return None;
    }
    Some(format!("{}: {}", why.join(", "), super::quote(line)))
}

/// The flagged names `line` mentions, each once, in the order of the
/// lists.
fn names(line: &str, why: &mut Vec<String>) {
    let mut push = |name: &str| {
        if !why.iter().any(|w| w == name) {
            why.push(name.to_owned());
        }
    };
    for name in CALLS {
        if calls(line, name) {
            push(&format!("{name}("));
        }
    }
    for name in NAMES {
        if mentions(line, name) {
            push(name);
        }
    }
    for name in ANYWHERE {
        if line.contains(name) {
            push(name);
        }
    }
}

/// Whether `line` calls `name` (see [`CALLS`]).
fn calls(line: &str, name: &str) -> bool {
    line.match_indices(name).any(|(at, _)| {
        let before = &line[..at];
        let before = ["builtins.", "__builtins__."]
            .iter()
            .find_map(|p| before.strip_suffix(p))
            .unwrap_or(before);
        let after = line[at + name.len()..].trim_start_matches([' ', '\t']);
        bounded(before) && after.starts_with('(')
    })
}

/// Mentions that start like a flagged name but only read metadata or
/// package data.
const BENIGN: [&str; 4] = [
    "importlib.metadata",
    "importlib.resources",
    "importlib_metadata",
    "importlib_resources",
];

fn mentions(line: &str, name: &str) -> bool {
    line.match_indices(name)
        .any(|(at, _)| bounded(&line[..at]) && !BENIGN.iter().any(|b| line[at..].starts_with(b)))
}

/// Whether a name may start after `before`: not inside a longer name or
/// after an attribute dot.
fn bounded(before: &str) -> bool {
    !before
        .chars()
        .next_back()
        .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.')
}

/// The `(module, name)` pairs of a `from MODULE import NAME, …` line (the
/// first line of a parenthesized list only).
fn from_imports(line: &str) -> Vec<(&str, &str)> {
    let Some(rest) = line.trim_start().strip_prefix("from ") else {
        return Vec::new();
    };
    let Some((module, names)) = rest.split_once(" import ") else {
        return Vec::new();
    };
    let names = names.split('#').next().unwrap_or("");
    names
        .split([',', '(', ')', ';'])
        .filter_map(|n| n.split_whitespace().next())
        .map(|n| (module.trim(), n))
        .collect()
}

/// The longest run of `\xNN` escapes, in bytes.
fn longest_escape_run(line: &str) -> usize {
    let bytes = line.as_bytes();
    let (mut best, mut run, mut i) = (0, 0, 0);
    while i < bytes.len() {
        let escape = bytes[i] == b'\\'
            && bytes.get(i + 1) == Some(&b'x')
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 3).is_some_and(u8::is_ascii_hexdigit);
        if escape {
            run += 1;
            best = best.max(run);
            i += 4;
        } else {
            run = 0;
            i += 1;
        }
    }
    best
}

/// Consecutive added lines that are each all base64 (see [`block_line`])
/// make a block when there are at least this many.
const BLOCK_LINES: usize = 8;

/// A block line holds at least this many base64 characters.
const BLOCK_LINE_CHARS: usize = 60;

/// Base64 spread over consecutive added lines: for each block of at least
/// [`BLOCK_LINES`] inserted lines (indexes into `lines`, ascending) that
/// are each one base64 string of at least [`BLOCK_LINE_CHARS`]
/// characters, the index of its first line and the finding.
pub(super) fn blocks(lines: &[&str], inserted: &[usize]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut run: Vec<usize> = Vec::new();
    let mut flush = |run: &mut Vec<usize>| {
        if run.len() >= BLOCK_LINES {
            let chars: usize = run.iter().map(|&i| block_line(lines[i]).unwrap_or(0)).sum();
            let detail = format!(
                "base64-like block of {} lines, {chars} characters: {}",
                run.len(),
                super::quote(lines[run[0]])
            );
            out.push((run[0], detail));
        }
        run.clear();
    };
    for &i in inserted {
        let joins = run.last().is_some_and(|&last| last + 1 == i);
        if !joins {
            flush(&mut run);
        }
        if block_line(lines[i]).is_some() {
            run.push(i);
        } else {
            flush(&mut run);
        }
    }
    flush(&mut run);
    out
}

/// The number of base64 characters of a line that is one base64 string
/// (optionally quoted, with a string prefix, and followed by `,`, `\`,
/// `+` or `)`) of at least [`BLOCK_LINE_CHARS`] characters holding a
/// letter and a digit.
fn block_line(line: &str) -> Option<usize> {
    let core = line.trim();
    let core = core.trim_end_matches([',', '\\', '+', ')', ' ']);
    let core = core.trim_start_matches(['b', 'B', 'r', 'R', 'u', 'U']);
    let core = core.trim_matches(['\'', '"']);
    let base64 = |c: char| c.is_ascii_alphanumeric() || "+/=-_".contains(c);
    let mixed =
        core.bytes().any(|b| b.is_ascii_digit()) && core.bytes().any(|b| b.is_ascii_alphabetic());
    (core.len() >= BLOCK_LINE_CHARS && mixed && core.chars().all(base64)).then_some(core.len())
}

/// The longest run of base64 characters (`A-Z a-z 0-9 + / = - _`) that
/// holds both a letter and a digit (so `=====` underlines and long
/// identifiers are not runs).
fn longest_encoded_run(line: &str) -> usize {
    let mut best = 0;
    for run in line.split(|c: char| !(c.is_ascii_alphanumeric() || "+/=-_".contains(c))) {
        let mixed =
            run.bytes().any(|b| b.is_ascii_digit()) && run.bytes().any(|b| b.is_ascii_alphabetic());
        if mixed {
            best = best.max(run.len());
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_need_a_boundary_before_them() {
        for line in [
            "subprocess.run(['ls'])",
            "x = eval(data)",
            "import socket",
            "from ctypes import CDLL",
            "  r = requests.get(url)",
            "exec(compile(src, 'f', 'exec'))",
        ] {
            assert!(flags(line).is_some(), "{line}");
        }
        for line in [
            "pattern = re.compile(r'x')",
            "websocket = None",
            "cursor.execute(query)",
            "self.evaluate(x)",
            "my_subprocess_helper = 1",
            "import os",
        ] {
            assert_eq!(flags(line), None, "{line}");
        }
        assert_eq!(
            flags("    os.system('rm -rf /') # and os.popen\n").unwrap(),
            "os.system, os.popen: os.system('rm -rf /') # and os.popen"
        );
    }

    #[test]
    fn long_lines_and_encoded_runs() {
        let long = format!("x = '{}'", "ab cd ".repeat(90));
        assert!(flags(&long)
            .unwrap()
            .starts_with("very long line (546 characters): x = 'ab cd"));
        assert!(flags(&long).unwrap().ends_with('…'));
        let short = format!("x = '{}'", "ab cd ".repeat(80));
        assert_eq!(flags(&short), None);

        let blob = format!("PAYLOAD = b'{}'", "aGVsbG8gd29ybGQ0".repeat(13));
        assert_eq!(
            flags(&blob).unwrap().split(':').next(),
            Some("base64/hex-like run of 208 characters")
        );
        let shorter = format!("PAYLOAD = b'{}'", "aGVsbG8gd29ybGQ0".repeat(12));
        assert_eq!(flags(&shorter), None);
        // Long runs without digits, or without letters, are not encodings.
        assert_eq!(flags(&"=".repeat(300)), None);
        assert_eq!(longest_encoded_run(&"a_long_identifier_".repeat(15)), 0);
    }

    #[test]
    fn calls_with_spaces_or_builtins_and_more_names() {
        for (line, why) in [
            ("builtins.exec(code)", "exec("),
            ("__builtins__.eval(s)", "eval("),
            ("exec (code)", "exec("),
            ("x = eval\t(s)", "eval("),
            ("m = __import__ ('os')", "__import__("),
            ("data = base64.urlsafe_b64decode(s)", "b64decode"),
            ("b32decode(x)", "b32decode"),
            ("base64.a85decode(x)", "a85decode"),
            ("import importlib", "importlib"),
            ("importlib.import_module(name)", "importlib"),
            ("obj = pickle.loads(data)", "pickle.loads"),
            ("code = marshal.loads(c)", "marshal.loads"),
            ("zlib.decompress(d)", "zlib.decompress"),
            ("bytes.fromhex('41')", "bytes.fromhex"),
            ("os.execv('/bin/sh', [])", "os.exec"),
            ("os.execlp('sh', 'sh')", "os.exec"),
            ("os.spawnv(0, p, a)", "os.spawn"),
            ("pty.spawn('/bin/sh')", "pty.spawn"),
            ("opener.urlopen(u)", "urlopen"),
            ("import ctypes", "ctypes"),
            ("from cffi import FFI", "cffi"),
        ] {
            let got = flags(line).unwrap_or_default();
            assert!(
                got.split(": ")
                    .next()
                    .unwrap()
                    .split(", ")
                    .any(|w| w == why),
                "{line}: {got}"
            );
        }
        for line in [
            "self.exec(code)",
            "mybuiltins.exec(code)",
            "execution (x)",
            "evaluate (x)",
            "re.compile (p)",
            "cursor.execute (q)",
            "websocket.connect()",
            "from importlib.metadata import version",
            "import importlib_metadata",
            "importlib.resources.files(pkg)",
            "my_pickle.loads(x)",
            "os.path.exists(p)",
            "from os import path, getcwd",
            "from pickle import dumps",
            "from foo import system",
        ] {
            assert_eq!(flags(line), None, "{line}");
        }
    }

    #[test]
    fn from_imports_of_flagged_names_flag_the_import_line() {
        assert_eq!(
            flags("from os import system").unwrap(),
            "from os import system (os.system): from os import system"
        );
        assert_eq!(
            flags("from os import (popen, execv as e  # x").unwrap(),
            "from os import popen (os.popen), from os import execv (os.exec): \
             from os import (popen, execv as e  # x"
        );
        assert_eq!(
            flags("from builtins import exec").unwrap(),
            "from builtins import exec (exec): from builtins import exec"
        );
        assert_eq!(
            flags("    from urllib import request").unwrap(),
            "from urllib import request (urllib.request): from urllib import request"
        );
        // Already named on the line: not twice.
        assert_eq!(
            flags("from subprocess import run").unwrap(),
            "subprocess: from subprocess import run"
        );
    }

    #[test]
    fn long_runs_of_hex_escapes() {
        let line = format!("P = b'{}'", "\\x41".repeat(65));
        assert!(
            flags(&line)
                .unwrap()
                .starts_with("run of 65 \\xNN-escaped bytes: P = b'\\x41"),
            "{:?}",
            flags(&line)
        );
        assert_eq!(flags(&format!("P = b'{}'", "\\x41".repeat(64))), None);
        // Broken runs do not add up.
        let broken = format!("{}A{}", "\\x41".repeat(40), "\\x41".repeat(40));
        assert_eq!(flags(&broken), None);
    }

    #[test]
    fn base64_spread_over_consecutive_added_lines() {
        let b64 = "QUJDRGVm0123456789+/QUJDRGVm0123456789+/QUJDRGVm0123456789+/Zz==";
        let quoted = format!("    b'{b64}'\n");
        let mut text: Vec<&str> = vec!["BLOB = (\n"];
        text.extend(std::iter::repeat_n(quoted.as_str(), 8));
        text.push(")\n");
        let all: Vec<usize> = (0..text.len()).collect();
        assert_eq!(
            blocks(&text, &all),
            [(
                1,
                format!("base64-like block of 8 lines, 512 characters: b'{b64}'")
            )]
        );
        // Seven lines, a gap in what was added, short lines, prose: none.
        assert_eq!(blocks(&text[..8], &all[..8]), []);
        let gap: Vec<usize> = all.iter().copied().filter(|&i| i != 4).collect();
        assert_eq!(blocks(&text, &gap), []);
        let short = format!("    b'{}'\n", &b64[..59]);
        assert_eq!(blocks(&[short.as_str(); 10], &all), []);
        let prose = format!("{}\n", "word ".repeat(15));
        assert_eq!(blocks(&[prose.as_str(); 10], &all), []);
        let letters = format!("{}\n", "abcdefgh".repeat(8));
        assert_eq!(blocks(&[letters.as_str(); 10], &all), []);
    }
}
