//! How fast the diff of two ~1 MB sdists reaches a pager: writes two
//! synthetic unpacked trees of Python-like text with scattered edits to a
//! temporary directory, then times `read_tree` + `write_diff` to the first
//! byte written and to the end, and `line_count` and `summarize` alone.
//!
//! `cargo run -p pinwheel-vet --example diff_speed [--release]`

use std::io::{self, Write};
use std::time::{Duration, Instant};

use pinwheel_vet::{diff, summary, tree};

/// A linear congruential generator: the same trees on every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn python_file(rng: &mut Lcg, bytes: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut size = 0;
    let mut i = 0;
    while size < bytes {
        let line = match rng.below(6) {
            0 => format!("def function_{i}(arg, other=None):\n"),
            1 => format!("    return arg + {}\n", rng.below(1000)),
            2 => "\n".to_owned(),
            3 => "    pass\n".to_owned(),
            4 => format!("    value_{i} = compute(arg, {})\n", rng.below(100)),
            _ => format!("    # a comment about step {}\n", rng.below(50)),
        };
        size += line.len();
        lines.push(line);
        i += 1;
    }
    lines
}

fn edited(rng: &mut Lcg, lines: &[String]) -> String {
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        match (rng.below(150), rng.below(3)) {
            (0, 0) => out.push_str(&format!("    changed_{i} = True\n")),
            (0, 1) => {}
            (0, _) => {
                out.push_str(line);
                out.push_str(&format!("    inserted_{i} = call()\n"));
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// Records when the first byte arrived; discards the rest.
struct FirstByte {
    start: Instant,
    first: Option<Duration>,
    first_hunk: Option<Duration>,
    bytes: u64,
}

impl Write for FirstByte {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.first.is_none() && !buf.is_empty() {
            self.first = Some(self.start.elapsed());
        }
        if self.first_hunk.is_none() && buf.windows(3).any(|w| w == b"\n@@") {
            self.first_hunk = Some(self.start.elapsed());
        }
        self.bytes += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn main() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let mut rng = Lcg(1);
    let mut total = 0;
    for f in 0..40 {
        let lines = python_file(&mut rng, 25_000);
        let path = format!("demo-1/pkg/sub_{}/module_{f:02}.py", f % 4);
        let old = lines.concat();
        let new = if f % 3 == 0 {
            old.clone()
        } else {
            edited(&mut rng, &lines)
        };
        total += old.len();
        for (root, text) in [(&a, &old), (&b, &new)] {
            let file = root.join(&path);
            fs_err::create_dir_all(file.parent().unwrap_or(root))?;
            fs_err::write(file, text)?;
        }
    }
    println!("two trees of {} KB each", total / 1000);

    let start = Instant::now();
    let from = tree::read_tree(&a)?;
    let to = tree::read_tree(&b)?;
    let read = start.elapsed();
    let mut out = FirstByte {
        start,
        first: None,
        first_hunk: None,
        bytes: 0,
    };
    diff::write_diff(&from, &to, ("demo-1.0", "demo-1.1"), &mut out)?;
    let all = start.elapsed();
    println!(
        "read_tree both: {read:.2?}; first byte of the diff: {:.2?}; first hunk: {:.2?}; \
         whole diff ({} KB): {all:.2?}",
        out.first.unwrap_or_default(),
        out.first_hunk.unwrap_or_default(),
        out.bytes / 1000
    );

    let start = Instant::now();
    let lines = diff::line_count(&from, &to);
    println!("line_count: {lines} lines in {:.2?}", start.elapsed());
    let start = Instant::now();
    let summary = summary::summarize(&from, &to);
    println!(
        "summarize: {} findings in {:.2?}",
        summary.findings.len(),
        start.elapsed()
    );

    // The pathological case: one 1 MB file of few distinct lines against
    // another, unrelated one. The line diff runs into its timeout and the
    // coarse diff is shown.
    let noise = |rng: &mut Lcg| -> String {
        (0..250_000)
            .map(|_| ["a\n", "b\n", "c\n", "d\n"][rng.below(4) as usize])
            .collect()
    };
    let file = |text: String| tree::Tree {
        files: [(
            "noise.txt".to_owned(),
            tree::Entry::from_bytes(text.into_bytes(), false),
        )]
        .into_iter()
        .collect(),
    };
    let (from, to) = (file(noise(&mut rng)), file(noise(&mut rng)));
    let start = Instant::now();
    let mut out = FirstByte {
        start,
        first: None,
        first_hunk: None,
        bytes: 0,
    };
    diff::write_diff(&from, &to, ("x", "y"), &mut out)?;
    println!(
        "pathological 1 MB file: first byte {:.2?}, first hunk {:.2?}, whole diff ({} KB) {:.2?}",
        out.first.unwrap_or_default(),
        out.first_hunk.unwrap_or_default(),
        out.bytes / 1000,
        start.elapsed()
    );
    Ok(())
}
