//! Tests of the unified diff: hand-written golden output checked against
//! GNU `diff -u`, a hunk reader that recounts every `@@` header, and
//! `line_count` against what is written.

use super::*;
use crate::test_trees::{bin, edit, exe, link, python_lines, text, tree, Lcg};
use crate::tree::empty;
use pinwheel_trust::hash::Sha256;

fn render(from: &Tree, to: &Tree) -> String {
    render_within(from, to, FILE_DIFF_TIMEOUT)
}

fn render_within(from: &Tree, to: &Tree, timeout: Duration) -> String {
    let mut out = Vec::new();
    write_diff_within(from, to, ("old", "new"), &mut out, timeout).unwrap();
    String::from_utf8(out).unwrap()
}

/// Reads a diff as `patch` would: every line outside a hunk must be one
/// of our header lines, and each hunk holds exactly the lines its `@@`
/// header counts. Returns the number of `+` and `-` lines.
fn plus_minus_lines(diff: &str) -> u64 {
    const HEADERS: [&str; 10] = [
        "diff --git ",
        "new file mode ",
        "deleted file mode ",
        "old mode ",
        "new mode ",
        "--- ",
        "+++ ",
        "Binary file",
        "Symbolic link ",
        "note: ",
    ];
    let mut count = 0;
    let mut lines = diff.split_inclusive('\n').peekable();
    while let Some(line) = lines.next() {
        let Some(ranges) = line.strip_prefix("@@ -") else {
            assert!(
                HEADERS.iter().any(|h| line.starts_with(h)),
                "not a header line: {line:?}"
            );
            continue;
        };
        let ranges = ranges.strip_suffix(" @@\n").unwrap();
        let (old, new) = ranges.split_once(" +").unwrap();
        let len = |r: &str| {
            r.split_once(',')
                .map_or(1, |(_, n)| n.parse::<u64>().unwrap())
        };
        let (mut old_left, mut new_left) = (len(old), len(new));
        while old_left + new_left > 0 {
            let line = lines.next().expect("hunk ended early");
            match line.as_bytes()[0] {
                b' ' => {
                    old_left -= 1;
                    new_left -= 1;
                }
                b'-' => {
                    old_left -= 1;
                    count += 1;
                }
                b'+' => {
                    new_left -= 1;
                    count += 1;
                }
                _ => panic!("unexpected line in a hunk: {line:?}"),
            }
            if lines.peek() == Some(&"\\ No newline at end of file\n") {
                lines.next();
            }
        }
    }
    count
}

fn golden_trees() -> (Tree, Tree) {
    let from = tree([
        (
            "a.txt",
            text("one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n"),
        ),
        ("data.bin", bin(b"\0\x01")),
        ("gone.py", text("x = 1\ny = 2\n")),
        ("link", link("a.txt")),
        ("run.sh", text("#!/bin/sh\n")),
        ("same.txt", text("unchanged\n")),
    ]);
    let to = tree([
        (
            "a.txt",
            text("zero\none\ntwo\nthree\nfour\nfive\nsix\nseven\nEIGHT\nnine\nten"),
        ),
        ("data.bin", bin(b"\0\x02\x03")),
        ("empty.txt", text("")),
        ("link", link("data.bin")),
        ("new.txt", text("x\ny\n")),
        ("run.sh", exe("#!/bin/sh\n")),
        ("same.txt", text("unchanged\n")),
    ]);
    (from, to)
}

/// Written by hand; the `a.txt`, `gone.py` and `new.txt` hunks are what
/// GNU diff 3 prints for `diff -u` of the same files (checked with it).
#[test]
fn golden_diff() {
    let (from, to) = golden_trees();
    let expected = format!(
        "\
diff --git old/a.txt new/a.txt
--- old/a.txt
+++ new/a.txt
@@ -1,3 +1,4 @@
+zero
 one
 two
 three
@@ -5,6 +6,6 @@
 five
 six
 seven
-eight
+EIGHT
 nine
-ten
+ten
\\ No newline at end of file
diff --git old/data.bin new/data.bin
Binary files old/data.bin and new/data.bin differ: 2 bytes, sha256 {} → 3 bytes, sha256 {}
diff --git old/empty.txt new/empty.txt
new file mode 100644
diff --git old/gone.py new/gone.py
deleted file mode 100644
--- old/gone.py
+++ /dev/null
@@ -1,2 +0,0 @@
-x = 1
-y = 2
diff --git old/link new/link
Symbolic link new/link changed: a.txt → data.bin
diff --git old/new.txt new/new.txt
new file mode 100644
--- /dev/null
+++ new/new.txt
@@ -0,0 +1,2 @@
+x
+y
diff --git old/run.sh new/run.sh
old mode 100644
new mode 100755
",
        Sha256::of(b"\0\x01").hex(),
        Sha256::of(b"\0\x02\x03").hex()
    );
    let got = render(&from, &to);
    assert_eq!(got, expected, "\n{got}");
    // 1 in the first hunk of a.txt, 4 in its second, 2 + 2 elsewhere.
    assert_eq!(line_count(&from, &to), 9);
    assert_eq!(plus_minus_lines(&got), 9);
}

#[test]
fn identical_trees_have_no_diff() {
    let (from, _) = golden_trees();
    assert_eq!(render(&from, &from), "");
    assert_eq!(line_count(&from, &from), 0);
    assert_eq!(render(&empty(), &empty()), "");
}

#[test]
fn crlf_is_shown_as_it_is() {
    let from = tree([("w.bat", text("a\r\nb\r\n"))]);
    let to = tree([("w.bat", text("a\r\nc\r\n"))]);
    assert_eq!(
        render(&from, &to),
        "diff --git old/w.bat new/w.bat\n--- old/w.bat\n+++ new/w.bat\n\
         @@ -1,2 +1,2 @@\n a\r\n-b\r\n+c\r\n"
    );
    // Only the line ends changed: every line differs.
    let to = tree([("w.bat", text("a\nb\n"))]);
    assert_eq!(line_count(&from, &to), 4);
}

#[test]
fn terminal_controls_and_bidi_are_shown_escaped() {
    // ESC[8m conceals the rest of the line under `less -R`; a bare CR
    // overwrites it on a terminal; U+202E reorders it (Trojan Source).
    let to = tree([(
        "m.py",
        text("ok = 1\r\nx = 1 \x1b[8mos.system('sh')\x1b[0m\ny = 2\rz\n# \u{202e}txet\n"),
    )]);
    let shown = render(&empty(), &to);
    assert!(
        !shown.contains('\x1b') && !shown.contains('\u{202e}'),
        "{shown:?}"
    );
    assert!(shown.contains("+ok = 1\r\n"), "CRLF kept: {shown:?}");
    assert!(shown.contains("+x = 1 \\x1b[8mos.system('sh')\\x1b[0m\n"));
    assert!(shown.contains("+y = 2\\x0dz\n"));
    assert!(shown.contains("+# \\u{202e}txet\n"));
    assert_eq!(plus_minus_lines(&shown), line_count(&empty(), &to));
}

#[test]
fn hunk_ranges_follow_gnu() {
    assert_eq!(hunk_range(0, 0), "0,0");
    assert_eq!(hunk_range(1, 1), "1,0"); // `diff -U0`: an insertion after line 1
    assert_eq!(hunk_range(1, 2), "2");
    assert_eq!(hunk_range(0, 3), "1,3");
}

#[test]
fn kind_changes_diff_the_text_side_against_nothing() {
    let from = tree([
        ("x", text("one\ntwo\n")),
        ("y", link("x")),
        ("z", bin(b"\0")),
    ]);
    let to = tree([
        ("x", bin(b"\0\0")),
        ("y", text("now text\n")),
        ("z", link("y")),
    ]);
    let got = render(&from, &to);
    let expected = format!(
        "\
diff --git old/x new/x
Binary file new/x added: 2 bytes, sha256 {}
--- old/x
+++ /dev/null
@@ -1,2 +0,0 @@
-one
-two
diff --git old/y new/y
old mode 120000
new mode 100644
Symbolic link old/y removed: → x
--- /dev/null
+++ new/y
@@ -0,0 +1 @@
+now text
diff --git old/z new/z
old mode 100644
new mode 120000
Binary file old/z removed: 1 bytes, sha256 {}
Symbolic link new/z added: → y
",
        Sha256::of(b"\0\0").hex(),
        Sha256::of(b"\0").hex()
    );
    assert_eq!(got, expected, "\n{got}");
    assert_eq!(line_count(&from, &to), 3);
}

#[test]
fn inspect_size_is_the_tree_size() {
    let (_, to) = golden_trees();
    assert_eq!(line_count(&empty(), &to), to.text_lines());
    assert_eq!(to.text_lines(), 11 + 2 + 1 + 1);
    assert_eq!(line_count(&to, &empty()), to.text_lines());
}

/// Every op sequence must rebuild the new text from the old one.
fn check_ops(diff: &LineDiff) {
    let (mut i, mut j) = (0, 0);
    let mut rebuilt = Vec::new();
    for op in &diff.ops {
        assert_eq!(
            (op.old_range().start, op.new_range().start),
            (i, j),
            "{op:?}"
        );
        if is_equal(op) {
            for (a, b) in op.old_range().zip(op.new_range()) {
                assert_eq!(diff.old[a], diff.new[b]);
            }
        }
        rebuilt.extend(op.new_range().map(|k| diff.new[k]));
        (i, j) = (op.old_range().end, op.new_range().end);
    }
    assert_eq!((i, j), (diff.old.len(), diff.new.len()));
    assert_eq!(rebuilt, diff.new);
}

#[test]
fn the_coarse_fallback_is_a_valid_diff_and_says_so() {
    let mut rng = Lcg(7);
    let old = python_lines(&mut rng, 400).concat();
    let new = edit(&mut rng, &python_lines(&mut Lcg(7), 400), 10).concat();
    let fine = LineDiff::within(&old, &new, Duration::from_secs(60));
    let coarse = LineDiff::within(&old, &new, Duration::ZERO);
    assert!(!fine.coarse);
    assert!(coarse.coarse);
    check_ops(&fine);
    check_ops(&coarse);
    // Coarser, yet far from "replace the whole file": the anchors hold.
    let (fd, fi) = fine.counts();
    let (cd, ci) = coarse.counts();
    assert!(cd + ci >= fd + fi);
    assert!(cd + ci < 2 * (fd + fi), "{cd} + {ci} against {fd} + {fi}");

    let from = tree([("m.py", text(&old))]);
    let to = tree([("m.py", text(&new))]);
    let shown = render_within(&from, &to, Duration::ZERO);
    assert!(shown.contains("\nnote: the line diff took over 0 ms; shown coarser"));
    assert_eq!(plus_minus_lines(&shown), cd + ci);
    assert!(!render(&from, &to).contains("note:"));
}

#[test]
fn anchored_edge_cases() {
    for (old, new) in [
        ("", ""),
        ("", "a\n"),
        ("a\n", ""),
        ("a\nb\nc\n", "c\nb\na\n"),
        ("x\nx\nx\n", "x\ny\nx\n"),
        ("a\nb", "a\nb\n"),
    ] {
        let diff = LineDiff::within(old, new, Duration::ZERO);
        check_ops(&diff);
    }
    assert_eq!(
        longest_increasing(&[(3, 0), (0, 1), (4, 2), (1, 3), (2, 4)]),
        [(0, 1), (1, 3), (2, 4)]
    );
}

#[test]
fn line_count_equals_the_written_lines() {
    let mut rng = Lcg(42);
    let mut cases = vec![golden_trees()];
    // Content lines that look like headers once prefixed.
    cases.push((
        tree([("a", text("-- x\n++ y\n@@ z\n"))]),
        tree([("a", text("++ y\n--- w\n"))]),
    ));
    for round in 0..5 {
        let mut from = empty();
        let mut to = empty();
        for f in 0..8 {
            let lines = python_lines(&mut rng, 50 + 40 * f);
            let path = format!("pkg/mod_{f}.py");
            from.files.insert(path.clone(), text(&lines.concat()));
            match rng.below(5) {
                0 => {} // removed
                1 => {
                    to.files.insert(path, text(&lines.concat()));
                }
                _ => {
                    let edited = edit(&mut rng, &lines, 3 + round);
                    to.files.insert(path, text(&edited.concat()));
                }
            }
        }
        to.files.insert(format!("added_{round}.py"), text("a\nb"));
        cases.push((from, to));
    }
    for (from, to) in &cases {
        for (a, b) in [(from, to), (to, from), (&empty(), to)] {
            let shown = render(a, b);
            assert_eq!(plus_minus_lines(&shown), line_count(a, b));
        }
    }
}
