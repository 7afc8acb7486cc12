//! Build dependencies: what `dpkg-checkbuilddeps` reports as unmet, the
//! Debian package names to install for it, and what to do about them
//! (`crate::host_packages` installs them). Pure: the caller runs the
//! commands.
//!
//! dpkg-checkbuilddeps(1) prints "Unmet build dependencies: " followed by
//! the unmet relations in Debian's dependency syntax (deb-control(5)):
//! `name[:arch] [(op version)] [\[arch list\]] [<profiles>]`, alternatives
//! separated by `|`. apt-get installs a name, so we keep the first
//! alternative of each relation and drop qualifiers; a virtual package such
//! as `debhelper-compat` is resolved by apt to its only provider.

use anyhow::bail;

/// What dpkg-checkbuilddeps found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    Satisfied,
    /// Package names to install, in the order dpkg listed them.
    Missing(Vec<String>),
}

/// Reads dpkg-checkbuilddeps' exit status and stderr.
pub fn parse_check(success: bool, stderr: &str) -> anyhow::Result<Check> {
    if success {
        return Ok(Check::Satisfied);
    }
    if let Some(conflicts) = find_after(stderr, "Build conflicts: ") {
        bail!("debian/control: these installed packages conflict with the build: {conflicts}; remove them first");
    }
    match find_after(stderr, "Unmet build dependencies: ") {
        Some(relations) => {
            let names = package_names(relations);
            if names.is_empty() {
                bail!(
                    "dpkg-checkbuilddeps reported unmet build dependencies it did not name: {}",
                    stderr.trim()
                );
            }
            Ok(Check::Missing(names))
        }
        None => bail!(
            "dpkg-checkbuilddeps failed: {}",
            crate::config::one_line(stderr)
        ),
    }
}

fn find_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|line| line.split_once(marker).map(|(_, rest)| rest.trim()))
}

/// The first alternative's package name of each relation, without version,
/// architecture or profile qualifiers; duplicates removed.
pub fn package_names(relations: &str) -> Vec<String> {
    // Remove (...), [...] and <...> groups, which may contain spaces and,
    // inside a version relation, `<` and `>`.
    let mut plain = String::with_capacity(relations.len());
    let mut closing: Option<char> = None;
    for c in relations.chars() {
        match (closing, c) {
            (None, '(') => closing = Some(')'),
            (None, '[') => closing = Some(']'),
            (None, '<') => closing = Some('>'),
            (None, _) => plain.push(c),
            (Some(end), _) if c == end => closing = None,
            (Some(_), _) => {}
        }
    }
    let mut names: Vec<String> = Vec::new();
    let mut after_bar = false;
    for token in plain.split_whitespace() {
        if token == "|" {
            after_bar = true;
            continue;
        }
        for (i, part) in token.split('|').enumerate() {
            if part.is_empty() {
                after_bar = true;
                continue;
            }
            let alternative = after_bar || i > 0;
            after_bar = false;
            if alternative {
                continue;
            }
            let name = part.split(':').next().unwrap_or(part).trim_end_matches(',');
            if !name.is_empty() && !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
        if token.ends_with('|') {
            after_bar = true;
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL: &str = "dpkg-checkbuilddeps: error: Unmet build dependencies: debhelper-compat (= 13) python3 (>= 3.11) python3 (<< 3.12) python3-pip-whl python3-venv build-essential:native\n";

    #[test]
    fn names_from_dpkg_output() {
        let Check::Missing(names) = parse_check(false, REAL).unwrap() else {
            panic!()
        };
        assert_eq!(
            names,
            [
                "debhelper-compat",
                "python3",
                "python3-pip-whl",
                "python3-venv",
                "build-essential"
            ]
        );
    }

    #[test]
    fn alternatives_and_qualifiers() {
        assert_eq!(
            package_names("a | b (>= 1) c:any [amd64] <!nocheck> d|e f"),
            ["a", "c", "d", "f"]
        );
        assert_eq!(
            package_names("libfoo-dev (>= 1.0) [linux-any] | libbar-dev"),
            ["libfoo-dev"]
        );
        assert_eq!(package_names(""), Vec::<String>::new());
    }

    #[test]
    fn satisfied_and_failures() {
        assert_eq!(parse_check(true, "").unwrap(), Check::Satisfied);
        let err = parse_check(false, "dpkg-checkbuilddeps: error: Build conflicts: foo\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("conflict") && err.contains("foo"), "{err}");
        let err = parse_check(false, "cannot read debian/control: No such file\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("dpkg-checkbuilddeps failed") && err.contains("debian/control"),
            "{err}"
        );
    }
}
