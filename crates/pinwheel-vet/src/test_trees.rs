//! Trees built in memory for the tests, and a small seeded generator of
//! Python-like text.

use crate::tree::{Entry, Tree};

pub fn text(t: &str) -> Entry {
    Entry::Text {
        text: t.to_owned(),
        executable: false,
    }
}

pub fn exe(t: &str) -> Entry {
    Entry::Text {
        text: t.to_owned(),
        executable: true,
    }
}

pub fn bin(bytes: &[u8]) -> Entry {
    Entry::from_bytes(bytes.to_vec(), false)
}

pub fn link(target: &str) -> Entry {
    Entry::Symlink(target.to_owned())
}

pub fn tree<const N: usize>(files: [(&str, Entry); N]) -> Tree {
    Tree {
        files: files
            .into_iter()
            .map(|(path, entry)| (path.to_owned(), entry))
            .collect(),
    }
}

/// A linear congruential generator: the same numbers on every machine.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// `n` lines of Python-like text, numbered so that most lines are unique.
pub fn python_lines(rng: &mut Lcg, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| match rng.below(6) {
            0 => format!("def function_{i}(arg, other=None):\n"),
            1 => format!("    return arg + {}\n", rng.below(1000)),
            2 => "\n".to_owned(),
            3 => "    pass\n".to_owned(),
            4 => format!("    value_{i} = compute(arg, {})\n", rng.below(100)),
            _ => format!("    # comment {}\n", rng.below(50)),
        })
        .collect()
}

/// `lines` with scattered edits: about one line in `every` replaced,
/// deleted or followed by a new one.
pub fn edit(rng: &mut Lcg, lines: &[String], every: u64) -> Vec<String> {
    let mut out = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        match (rng.below(every), rng.below(3)) {
            (0, 0) => out.push(format!("    changed_{i} = True\n")),
            (0, 1) => {}
            (0, _) => {
                out.push(line.clone());
                out.push(format!("    inserted_{i} = call()\n"));
            }
            _ => out.push(line.clone()),
        }
    }
    out
}
