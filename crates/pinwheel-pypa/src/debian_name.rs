//! Debian package names, per Debian Policy 5.6.7 "Package", which takes
//! the syntax of 5.6.1 "Source": only lowercase letters `a-z`, digits
//! `0-9`, `+`, `-` and `.`; at least two characters; starting with a
//! letter or digit. The same rules hold for source and binary packages.
//!
//! dpkg itself (`Dpkg::Package::pkg_name_is_illegal`) checks the same
//! characters and the first one, but lets a one-character name through;
//! Policy does not, and neither does this check. Names that are
//! syntactically valid but reserved or taken (an existing archive
//! package) are not this module's concern.

/// Checks `name` against Debian Policy 5.6.7. The error is a one-line
/// reason naming the name, e.g. `package name "Foo" has 'F': only
/// lowercase letters, digits, '+', '-' and '.' are allowed (Debian Policy
/// 5.6.7)`. Characters are checked first, then the first character, then
/// the length.
pub fn check_package_name(name: &str) -> Result<(), String> {
    const POLICY: &str = "Debian Policy 5.6.7";
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c);
    if let Some(bad) = name.chars().find(|&c| !allowed(c)) {
        let hint = if bad.is_ascii_uppercase() {
            " (Debian package names are lowercase)"
        } else {
            ""
        };
        return Err(format!(
            "package name {name:?} has {bad:?}: only lowercase letters, digits, '+', '-' and '.' are allowed{hint} ({POLICY})"
        ));
    }
    if let Some(first) = name.chars().next().filter(|c| !c.is_ascii_alphanumeric()) {
        return Err(format!(
            "package name {name:?} starts with {first:?}: it must start with a letter or digit ({POLICY})"
        ));
    }
    if name.len() < 2 {
        return Err(format!(
            "package name {name:?} is too short: it must be at least two characters long ({POLICY})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_package_name;

    /// Valid names: from the archive and the shapes Policy allows
    /// (`+`, `-`, `.` anywhere but first, digits first).
    const VALID: [&str; 14] = [
        "python3-requests",
        "libc6",
        "g++",
        "libstdc++6",
        "0ad",
        "2ping",
        "xz-utils",
        "e2fsprogs",
        "libreoffice-l10n-pt-br",
        "node-babel7",
        "aa",
        "a-",
        "a.",
        "pinwheel-demo",
    ];

    const INVALID: [(&str, &str); 16] = [
        ("", "too short"),
        ("a", "too short"),
        ("0", "too short"),
        ("A", "has 'A'"),
        ("Foo", "(Debian package names are lowercase)"),
        ("python3-Requests", "has 'R'"),
        ("-foo", "starts with '-'"),
        ("+foo", "starts with '+'"),
        (".foo", "starts with '.'"),
        ("foo_bar", "has '_'"),
        ("foo bar", "has ' '"),
        ("foo:amd64", "has ':'"),
        ("föo", "has 'ö'"),
        ("foo/bar", "has '/'"),
        ("foo\n", "has '\\n'"),
        ("-", "starts with '-'"),
    ];

    #[test]
    fn policy_cases() {
        for name in VALID {
            assert_eq!(check_package_name(name), Ok(()), "{name}");
        }
        for (name, why) in INVALID {
            let err = check_package_name(name).unwrap_err();
            assert!(err.contains(why), "{name:?}: {err}");
            assert!(
                !err.contains('\n') && err.contains("Debian Policy 5.6.7"),
                "{err}"
            );
        }
        assert_eq!(
            check_package_name("Foo").unwrap_err(),
            "package name \"Foo\" has 'F': only lowercase letters, digits, '+', '-' and '.' are allowed (Debian package names are lowercase) (Debian Policy 5.6.7)"
        );
    }

    /// dpkg's own check as a peer: the same verdicts, except that dpkg lets
    /// one-character names through.
    #[test]
    fn same_verdicts_as_dpkg() {
        let script = r#"use Dpkg::Package; for (@ARGV) { print defined(pkg_name_is_illegal($_)) ? "illegal\n" : "ok\n" }"#;
        let names: Vec<&str> = VALID
            .iter()
            .copied()
            .chain(INVALID.iter().map(|(n, _)| *n))
            .filter(|n| !n.contains('\n'))
            .collect();
        let sh = xshell::Shell::new().unwrap();
        let args = names.clone();
        let out = xshell::cmd!(sh, "perl -e {script} -- {args...}")
            .quiet()
            .read()
            .expect("perl with Dpkg::Package (libdpkg-perl, from dpkg-dev) is the peer here");
        let verdicts: Vec<&str> = out.lines().collect();
        assert_eq!(verdicts.len(), names.len(), "{out}");
        for (name, dpkg) in names.iter().zip(verdicts) {
            let ours = if check_package_name(name).is_ok() {
                "ok"
            } else {
                "illegal"
            };
            let one_char = name.chars().count() == 1
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() && !c.is_ascii_uppercase());
            if one_char {
                assert_eq!((ours, dpkg), ("illegal", "ok"), "{name:?}");
            } else {
                assert_eq!(ours, dpkg, "{name:?}");
            }
        }
    }
}
