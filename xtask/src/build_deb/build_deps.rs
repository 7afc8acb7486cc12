//! Build dependencies: what `dpkg-checkbuilddeps` reports as unmet, the
//! Debian package names to install for it, and what to do about them
//! (install as root, install through sudo when asked, or print the exact
//! command and stop). Pure: the caller runs the commands.
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

/// What build-deb does about missing build dependencies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Nothing,
    /// Run this command (argv) and say so.
    Run(Vec<String>),
    /// Print this command and exit 2.
    Ask(String),
}

/// The apt-get command line that installs `names` non-interactively.
pub fn apt_get(names: &[String]) -> Vec<String> {
    let mut argv: Vec<String> = ["apt-get", "install", "-y", "--no-install-recommends"]
        .map(str::to_owned)
        .to_vec();
    argv.extend(names.iter().cloned());
    argv
}

/// Root installs with apt-get; anyone else gets the sudo line printed,
/// unless `--install-build-deps` asks us to run it.
pub fn plan(check: &Check, is_root: bool, install_build_deps: bool) -> Plan {
    let Check::Missing(names) = check else {
        return Plan::Nothing;
    };
    let apt = apt_get(names);
    if is_root {
        Plan::Run(apt)
    } else {
        let mut sudo = vec!["sudo".to_owned()];
        sudo.extend(apt);
        if install_build_deps {
            Plan::Run(sudo)
        } else {
            Plan::Ask(sudo.join(" "))
        }
    }
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

    #[test]
    fn plans() {
        let missing = Check::Missing(vec!["debhelper-compat".into(), "faketime".into()]);
        assert_eq!(plan(&Check::Satisfied, false, false), Plan::Nothing);
        assert_eq!(
            plan(&missing, true, false),
            Plan::Run(apt_get(&["debhelper-compat".into(), "faketime".into()]))
        );
        assert_eq!(
            plan(&missing, false, false),
            Plan::Ask(
                "sudo apt-get install -y --no-install-recommends debhelper-compat faketime".into()
            )
        );
        let Plan::Run(argv) = plan(&missing, false, true) else {
            panic!()
        };
        assert_eq!(&argv[..3], ["sudo", "apt-get", "install"]);
    }
}
