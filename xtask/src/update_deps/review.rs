//! The review summary of `update-deps`: what changed in a requirements
//! file (added, removed, upgraded, downgraded, and — loudly — hashes that
//! changed at the same version), compared by parsed name and PEP 440
//! version.

use std::collections::BTreeSet;
use std::fmt;

use pinwheel_pypa::requirements_txt::{Pin, Pins};
use pinwheel_trust::hash::Sha256;

/// What changed in a requirements file, for the reviewer.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Review {
    pub count: usize,
    /// The previous file could not be read (e.g. edited by hand).
    pub unreadable: Option<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// `a 1.0 → 1.1`.
    pub upgraded: Vec<String>,
    pub downgraded: Vec<String>,
    /// Same name and version, different hashes.
    pub hash_changed: Vec<String>,
    pub wheel_only: Vec<String>,
}

impl Review {
    pub fn new(old: Option<Result<Pins, String>>, new: &[Pin]) -> Review {
        let mut review = Review {
            count: new.len(),
            ..Review::default()
        };
        review.wheel_only = new
            .iter()
            .filter(|p| p.wheel_only)
            .map(|p| format!("{} {}", p.name, p.version))
            .collect();
        let old = match old {
            None => Pins::default(),
            Some(Ok(pins)) => pins,
            Some(Err(err)) => {
                review.unreadable = Some(err);
                return review;
            }
        };
        for pin in new {
            match old.get(&pin.name) {
                None => review.added.push(format!("{} {}", pin.name, pin.version)),
                Some(before) if before.version != pin.version => {
                    let line = format!("{} {} → {}", pin.name, before.version, pin.version);
                    if before.version < pin.version {
                        review.upgraded.push(line);
                    } else {
                        review.downgraded.push(line);
                    }
                }
                Some(before) => {
                    let a: BTreeSet<&Sha256> = before.hashes().collect();
                    let b: BTreeSet<&Sha256> = pin.hashes().collect();
                    if a != b {
                        let removed: Vec<String> =
                            a.difference(&b).map(|h| h.to_string()).collect();
                        let added: Vec<String> = b.difference(&a).map(|h| h.to_string()).collect();
                        review.hash_changed.push(format!(
                            "{} {}: {} → {}",
                            pin.name,
                            pin.version,
                            if removed.is_empty() {
                                "-".to_owned()
                            } else {
                                removed.join(", ")
                            },
                            if added.is_empty() {
                                "-".to_owned()
                            } else {
                                added.join(", ")
                            }
                        ));
                    }
                }
            }
        }
        for pin in &old.pins {
            if !new.iter().any(|p| p.name == pin.name) {
                review.removed.push(format!("{} {}", pin.name, pin.version));
            }
        }
        review
    }
}

impl fmt::Display for Review {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(err) = &self.unreadable {
            writeln!(
                f,
                "  the previous file could not be read ({err}); review the whole diff"
            )?;
        }
        for (label, items) in [
            ("added", &self.added),
            ("removed", &self.removed),
            ("upgraded", &self.upgraded),
            ("downgraded", &self.downgraded),
        ] {
            for item in items {
                writeln!(f, "  {label:<10} {item}")?;
            }
        }
        for item in &self.wheel_only {
            writeln!(
                f,
                "  wheel-only {item}: pinned to upstream wheels (publishes no sdist)"
            )?;
        }
        for item in &self.hash_changed {
            writeln!(f, "  !!! HASH CHANGED AT THE SAME VERSION: {item}")?;
            writeln!(f, "  !!! the same release now has different bytes: a re-upload or tampering; find out why before merging")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pinwheel_pypa::requirements_txt;

    fn pin(name: &str, version: &str, hash: char) -> Pin {
        Pin {
            name: name.parse().unwrap(),
            version: version.parse().unwrap(),
            files: vec![requirements_txt::PinnedFile {
                sha256: hash.to_string().repeat(64).parse().unwrap(),
                filename: None,
            }],
            wheel_only: false,
        }
    }

    #[test]
    fn review_names_every_change() {
        let old = Pins {
            pins: vec![
                pin("a", "1.0", 'a'),
                pin("b", "2.0", 'b'),
                pin("c", "3.0", 'c'),
                pin("gone", "1", 'd'),
            ],
        };
        let new = vec![
            pin("a", "1.1", 'e'),
            pin("b", "2.0", 'f'),
            pin("c", "3.0", 'c'),
            pin("new", "0.1", '0'),
        ];
        let review = Review::new(Some(Ok(old)), &new);
        assert_eq!(review.added, ["new 0.1"]);
        assert_eq!(review.removed, ["gone 1"]);
        assert_eq!(review.upgraded, ["a 1.0 → 1.1"]);
        assert_eq!(
            review.hash_changed,
            [format!("b 2.0: {} → {}", "b".repeat(64), "f".repeat(64))]
        );
        let text = review.to_string();
        assert!(text.contains("upgraded   a 1.0 → 1.1"), "{text}");
        assert!(
            text.contains("!!! HASH CHANGED AT THE SAME VERSION: b 2.0"),
            "{text}"
        );
    }

    #[test]
    fn review_of_a_first_run() {
        let review = Review::new(None, &[pin("a", "1", 'a')]);
        assert_eq!(review.added, ["a 1"]);
        assert!(review.hash_changed.is_empty());
    }
}
