//! The unified diff of two [`Tree`]s that a reviewer reads, and its size.
//!
//! Output, per changed path in byte order of the path (GNU `diff -u` hunks
//! with 3 lines of context inside `git diff`-like file headers):
//!
//! ```text
//! diff --git FROM/path TO/path
//! new file mode 100755                      (or: deleted file mode, old mode + new mode)
//! --- FROM/path                             (/dev/null when that side has no text)
//! +++ TO/path
//! @@ -a,b +c,d @@                           (",1" left out; an empty side is "a,0")
//! ```
//!
//! `FROM` and `TO` are the caller's labels (e.g. `idna-3.7`, or `a` and
//! `b`). Lines are compared byte for byte: only `\n` ends a line, so a CRLF
//! file diffs as itself and a `\r` change is a changed line. A last line
//! without a newline is followed by `\ No newline at end of file`, as GNU
//! diff writes it. Lines are written through [`visible`]: control and
//! bidirectional characters from the sdist are shown escaped, never sent
//! to the terminal. A binary is one line with its size and sha256 (both
//! sides' when both are binary); a symbolic link is one line with its
//! target. When a path changes kind (text to binary, link to text), the
//! text side is diffed against nothing and the other side gets its line.
//!
//! Each file's line diff (similar's Myers with its heuristics) has
//! [`FILE_DIFF_TIMEOUT`]. A file that runs past it is diffed again the
//! coarse way (unique lines present once on each side are kept as anchors
//! and everything between them is replaced whole), and a `note:` line in
//! its header says so. The coarse diff depends only on the two texts, so
//! what is shown never depends on where the clock stopped; only the choice
//! between the two does, and only for a file that takes about that long.
//!
//! [`line_count`] is the review size: the number of `+` and `-` lines
//! [`write_diff`] writes for the same trees.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{self, BufWriter, Write};
use std::time::{Duration, Instant};

use similar::{group_diff_ops, DiffOp, TextDiff};

use crate::tree::{lines, Entry, Tree};

/// How long one file's line diff may run before the coarse fallback.
pub const FILE_DIFF_TIMEOUT: Duration = Duration::from_millis(500);

/// Lines of context around each change.
const CONTEXT: usize = 3;

/// The review size of the change `from` → `to`: inserted plus deleted
/// lines over text files (a new or removed text file counts all its
/// lines; binaries and links count 0). Equals the number of `+`/`-` lines
/// [`write_diff`] writes.
pub fn line_count(from: &Tree, to: &Tree) -> u64 {
    changes(from, to)
        .map(|(_, old, new)| {
            let diff = LineDiff::new(text_of(old), text_of(new));
            let (deleted, inserted) = diff.counts();
            deleted + inserted
        })
        .sum()
}

/// Writes the unified diff of `from` → `to` (see the module docs), file by
/// file: each file's part is flushed to `out` before the next file is
/// diffed, so a pager shows the first lines at once.
pub fn write_diff(
    from: &Tree,
    to: &Tree,
    labels: (&str, &str),
    out: &mut impl Write,
) -> io::Result<()> {
    write_diff_within(from, to, labels, out, FILE_DIFF_TIMEOUT)
}

fn write_diff_within(
    from: &Tree,
    to: &Tree,
    labels: (&str, &str),
    out: &mut impl Write,
    timeout: Duration,
) -> io::Result<()> {
    let mut out = BufWriter::new(out);
    for (path, old, new) in changes(from, to) {
        let a = format!("{}/{path}", labels.0);
        let b = format!("{}/{path}", labels.1);
        writeln!(out, "diff --git {a} {b}")?;
        match (old, new) {
            (None, Some(new)) => writeln!(out, "new file mode {}", new.git_mode())?,
            (Some(old), None) => writeln!(out, "deleted file mode {}", old.git_mode())?,
            (Some(old), Some(new)) if old.git_mode() != new.git_mode() => {
                writeln!(out, "old mode {}", old.git_mode())?;
                writeln!(out, "new mode {}", new.git_mode())?;
            }
            _ => {}
        }
        out.flush()?;
        let diff = LineDiff::within(text_of(old), text_of(new), timeout);
        if diff.coarse {
            writeln!(
                out,
                "note: the line diff took over {} ms; shown coarser: lines unique to both sides \
                 kept as anchors, everything between them replaced whole",
                timeout.as_millis()
            )?;
        }
        write_other_kinds(&mut out, old, new, &a, &b)?;
        if diff.has_changes() {
            let old_name = if old.and_then(Entry::text).is_some() {
                &a
            } else {
                "/dev/null"
            };
            let new_name = if new.and_then(Entry::text).is_some() {
                &b
            } else {
                "/dev/null"
            };
            writeln!(out, "--- {old_name}")?;
            writeln!(out, "+++ {new_name}")?;
            diff.write_hunks(&mut out)?;
        }
        out.flush()?;
    }
    out.flush()
}

/// The one-line descriptions of the sides that are not text.
fn write_other_kinds(
    out: &mut impl Write,
    old: Option<&Entry>,
    new: Option<&Entry>,
    a: &str,
    b: &str,
) -> io::Result<()> {
    match (old, new) {
        (
            Some(Entry::Binary {
                size: s0,
                sha256: h0,
                ..
            }),
            Some(Entry::Binary {
                size: s1,
                sha256: h1,
                ..
            }),
        ) => {
            if h0 != h1 {
                writeln!(
                    out,
                    "Binary files {a} and {b} differ: {s0} bytes, sha256 {} → {s1} bytes, sha256 {}",
                    h0.hex(),
                    h1.hex()
                )?;
            }
        }
        (Some(Entry::Symlink(t0)), Some(Entry::Symlink(t1))) => {
            if t0 != t1 {
                writeln!(out, "Symbolic link {b} changed: {t0} → {t1}")?;
            }
        }
        _ => {
            if let Some(old) = old {
                write_one_side(out, old, a, "removed")?;
            }
            if let Some(new) = new {
                write_one_side(out, new, b, "added")?;
            }
        }
    }
    Ok(())
}

fn write_one_side(out: &mut impl Write, entry: &Entry, name: &str, how: &str) -> io::Result<()> {
    match entry {
        Entry::Text { .. } => Ok(()),
        Entry::Binary { size, sha256, .. } => writeln!(
            out,
            "Binary file {name} {how}: {size} bytes, sha256 {}",
            sha256.hex()
        ),
        Entry::Symlink(target) => writeln!(out, "Symbolic link {name} {how}: → {target}"),
    }
}

/// Every path whose entry differs, in byte order, with its two sides.
pub(crate) fn changes<'t>(
    from: &'t Tree,
    to: &'t Tree,
) -> impl Iterator<Item = (&'t str, Option<&'t Entry>, Option<&'t Entry>)> {
    let mut paths: Vec<&str> = from
        .files
        .keys()
        .chain(to.files.keys())
        .map(String::as_str)
        .collect();
    paths.sort_unstable();
    paths.dedup();
    paths.into_iter().filter_map(|path| {
        let old = from.files.get(path);
        let new = to.files.get(path);
        (old != new).then_some((path, old, new))
    })
}

/// The text a side contributes to the line diff: none unless it is text.
pub(crate) fn text_of(entry: Option<&Entry>) -> &str {
    entry.and_then(Entry::text).unwrap_or("")
}

/// The line diff of one file.
pub(crate) struct LineDiff<'a> {
    pub old: Vec<&'a str>,
    pub new: Vec<&'a str>,
    pub ops: Vec<DiffOp>,
    /// The timeout struck and `ops` is the coarse diff.
    pub coarse: bool,
}

impl<'a> LineDiff<'a> {
    pub fn new(old: &'a str, new: &'a str) -> LineDiff<'a> {
        LineDiff::within(old, new, FILE_DIFF_TIMEOUT)
    }

    fn within(old: &'a str, new: &'a str, timeout: Duration) -> LineDiff<'a> {
        let old = lines(old);
        let new = lines(new);
        let deadline = Instant::now() + timeout;
        let ops = TextDiff::configure()
            .deadline(deadline)
            .diff_slices(&old, &new)
            .ops()
            .to_vec();
        if Instant::now() < deadline {
            return LineDiff {
                old,
                new,
                ops,
                coarse: false,
            };
        }
        let ops = anchored(&old, &new);
        LineDiff {
            old,
            new,
            ops,
            coarse: true,
        }
    }

    pub fn has_changes(&self) -> bool {
        self.ops
            .iter()
            .any(|op| !matches!(op, DiffOp::Equal { .. }))
    }

    /// (deleted, inserted) lines.
    pub fn counts(&self) -> (u64, u64) {
        let (mut deleted, mut inserted) = (0, 0);
        for op in self.ops.iter().filter(|op| !is_equal(op)) {
            deleted += op.old_range().len() as u64;
            inserted += op.new_range().len() as u64;
        }
        (deleted, inserted)
    }

    /// The 0-based indices of the inserted lines in the new text.
    pub fn inserted(&self) -> impl Iterator<Item = usize> + '_ {
        self.ops
            .iter()
            .filter(|op| !is_equal(op))
            .flat_map(|op| op.new_range())
    }

    fn write_hunks(&self, out: &mut impl Write) -> io::Result<()> {
        for group in group_diff_ops(self.ops.clone(), CONTEXT) {
            let (Some(first), Some(last)) = (group.first(), group.last()) else {
                continue;
            };
            if group.iter().all(is_equal) {
                continue;
            }
            writeln!(
                out,
                "@@ -{} +{} @@",
                hunk_range(first.old_range().start, last.old_range().end),
                hunk_range(first.new_range().start, last.new_range().end)
            )?;
            for op in &group {
                if is_equal(op) {
                    for i in op.old_range() {
                        write_line(out, b' ', self.old[i])?;
                    }
                } else {
                    for i in op.old_range() {
                        write_line(out, b'-', self.old[i])?;
                    }
                    for i in op.new_range() {
                        write_line(out, b'+', self.new[i])?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn is_equal(op: &DiffOp) -> bool {
    matches!(op, DiffOp::Equal { .. })
}

/// GNU's range of a hunk side: `start,len` 1-based, `start` alone when
/// the length is 1, and for an empty side the line before it (`0,0` at
/// the top).
fn hunk_range(start: usize, end: usize) -> String {
    match end - start {
        0 => format!("{start},0"),
        1 => format!("{}", start + 1),
        len => format!("{},{len}", start + 1),
    }
}

fn write_line(out: &mut impl Write, tag: u8, line: &str) -> io::Result<()> {
    out.write_all(&[tag])?;
    out.write_all(visible(line).as_bytes())?;
    if !line.ends_with('\n') {
        out.write_all(b"\n\\ No newline at end of file\n")?;
    }
    Ok(())
}

/// A line as a terminal must show it: control characters (but a tab, the
/// final `\n` and a `\r` just before it) and Unicode bidirectional
/// controls written as `\x1b` / `\u{202e}`, so that text from an sdist
/// cannot move the cursor, recolour or conceal text (ESC sequences pass
/// `less -R`), or reorder what the reviewer reads ("Trojan Source").
pub fn visible(line: &str) -> Cow<'_, str> {
    let (body, end) = match line.strip_suffix("\r\n") {
        Some(body) => (body, "\r\n"),
        None => match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        },
    };
    if !body.chars().any(hidden) {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len() + 8);
    for c in body.chars() {
        if !hidden(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        }
    }
    out.push_str(end);
    Cow::Owned(out)
}

/// Whether [`visible`] escapes `c`.
pub fn hidden(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The coarse diff: the common prefix and suffix, then the lines present
/// exactly once on each side as anchors (the longest run of them in the
/// same order on both sides, patience-style); between two anchors, the
/// lines equal at both ends of the gap are kept and the rest is deleted
/// and inserted whole. O(n log n); depends only on the texts.
fn anchored(old: &[&str], new: &[&str]) -> Vec<DiffOp> {
    let (prefix, suffix) = common_ends(old, new);
    let (old_end, new_end) = (old.len() - suffix, new.len() - suffix);

    // line → (times in old, times in new, index in old)
    let mut seen: HashMap<&str, (u32, u32, usize)> = HashMap::new();
    for (i, line) in old[prefix..old_end].iter().enumerate() {
        let e = seen.entry(line).or_insert((0, 0, 0));
        e.0 += 1;
        e.2 = prefix + i;
    }
    for line in &new[prefix..new_end] {
        if let Some(e) = seen.get_mut(line) {
            e.1 += 1;
        }
    }
    let pairs: Vec<(usize, usize)> = new[prefix..new_end]
        .iter()
        .enumerate()
        .filter_map(|(j, line)| match seen.get(line) {
            Some(&(1, 1, i)) => Some((i, prefix + j)),
            _ => None,
        })
        .collect();

    let mut ops = Vec::new();
    push_equal(&mut ops, 0, 0, prefix);
    let (mut i, mut j) = (prefix, prefix);
    for (ai, aj) in longest_increasing(&pairs) {
        push_gap(&mut ops, old, new, i..ai, j..aj);
        push_equal(&mut ops, ai, aj, 1);
        (i, j) = (ai + 1, aj + 1);
    }
    push_gap(&mut ops, old, new, i..old_end, j..new_end);
    push_equal(&mut ops, old_end, new_end, suffix);
    ops
}

/// The longest subsequence of `pairs` (sorted by their second member)
/// whose first members increase.
fn longest_increasing(pairs: &[(usize, usize)]) -> Vec<(usize, usize)> {
    // tails[k]: index in `pairs` of the smallest tail of a run of k+1.
    let mut tails: Vec<usize> = Vec::new();
    let mut back: Vec<Option<usize>> = vec![None; pairs.len()];
    for (n, &(i, _)) in pairs.iter().enumerate() {
        let k = tails.partition_point(|&t| pairs[t].0 < i);
        back[n] = k.checked_sub(1).map(|p| tails[p]);
        if k == tails.len() {
            tails.push(n);
        } else {
            tails[k] = n;
        }
    }
    let mut run = Vec::new();
    let mut at = tails.last().copied();
    while let Some(n) = at {
        run.push(pairs[n]);
        at = back[n];
    }
    run.reverse();
    run
}

fn push_equal(ops: &mut Vec<DiffOp>, old_index: usize, new_index: usize, len: usize) {
    if len == 0 {
        return;
    }
    if let Some(DiffOp::Equal { len: last, .. }) = ops.last_mut() {
        *last += len;
        return;
    }
    ops.push(DiffOp::Equal {
        old_index,
        new_index,
        len,
    });
}

/// The lengths of the common prefix and of the common suffix (not
/// overlapping it).
fn common_ends(old: &[&str], new: &[&str]) -> (usize, usize) {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    (prefix, suffix)
}

/// The ops of the gap `old[o]` → `new[n]`: its equal ends kept, the
/// middle replaced.
fn push_gap(ops: &mut Vec<DiffOp>, old_lines: &[&str], new_lines: &[&str], o: Range, n: Range) {
    let (prefix, suffix) = common_ends(&old_lines[o.clone()], &new_lines[n.clone()]);
    push_equal(ops, o.start, n.start, prefix);
    let old = o.start + prefix..o.end - suffix;
    let new = n.start + prefix..n.end - suffix;
    let (old_end, new_end) = (old.end, new.end);
    push_replace(ops, old, new);
    push_equal(ops, old_end, new_end, suffix);
}

type Range = std::ops::Range<usize>;

/// Pushes the replacement of `old` by `new`.
fn push_replace(ops: &mut Vec<DiffOp>, old: Range, new: Range) {
    let op = match (old.len(), new.len()) {
        (0, 0) => return,
        (old_len, 0) => DiffOp::Delete {
            old_index: old.start,
            old_len,
            new_index: new.start,
        },
        (0, new_len) => DiffOp::Insert {
            old_index: old.start,
            new_index: new.start,
            new_len,
        },
        (old_len, new_len) => DiffOp::Replace {
            old_index: old.start,
            old_len,
            new_index: new.start,
            new_len,
        },
    };
    ops.push(op);
}

#[cfg(test)]
mod tests;
