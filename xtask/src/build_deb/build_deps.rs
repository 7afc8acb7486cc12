//! Build dependencies, as `dpkg-checkbuilddeps` reports them inside the
//! target's build chroot. The chroot is made with every package
//! `debian/control`'s Build-Depends names, so what can still be unmet is a
//! version or architecture constraint the suite does not satisfy (e.g.
//! `debhelper-compat (= 14)` on bookworm): the build stops with the unmet
//! relations as dpkg wrote them. Nothing is installed: the chroot is the
//! build environment, on the host nothing is needed. Pure: the caller
//! runs the command.
//!
//! dpkg-checkbuilddeps(1) prints "Unmet build dependencies: " (trixie's
//! dpkg: "unmet build dependencies: ") followed by the relations in
//! deb-control(5) syntax, and "Build conflicts: " for conflicts.

use anyhow::bail;

/// What dpkg-checkbuilddeps found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    Satisfied,
    /// The unmet relations, as dpkg listed them.
    Unmet(String),
}

/// Reads dpkg-checkbuilddeps' exit status and stderr.
pub fn parse_check(success: bool, stderr: &str) -> anyhow::Result<Check> {
    if success {
        return Ok(Check::Satisfied);
    }
    if let Some(conflicts) = find_after(stderr, "build conflicts: ") {
        bail!("debian/control: the build chroot holds packages that conflict with the build: {conflicts}");
    }
    match find_after(stderr, "unmet build dependencies: ") {
        Some(relations) if !relations.is_empty() => Ok(Check::Unmet(relations.to_owned())),
        _ => bail!(
            "dpkg-checkbuilddeps failed: {}",
            crate::config::one_line(stderr)
        ),
    }
}

/// What follows `marker` (matched without regard to ASCII case) on the
/// first line that has it.
fn find_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let at = line.to_ascii_lowercase().find(marker)?;
        Some(line[at + marker.len()..].trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmet_relations_as_dpkg_wrote_them() {
        // bookworm's dpkg 1.21 and trixie's dpkg 1.22.
        let bookworm = "dpkg-checkbuilddeps: error: Unmet build dependencies: debhelper-compat (= 14) python3 (>= 9)\n";
        let trixie = "dpkg-checkbuilddeps: error: unmet build dependencies: debhelper-compat (= 14) python3 (>= 9)\n";
        for stderr in [bookworm, trixie] {
            assert_eq!(
                parse_check(false, stderr).unwrap(),
                Check::Unmet("debhelper-compat (= 14) python3 (>= 9)".into())
            );
        }
    }

    #[test]
    fn satisfied_and_failures() {
        assert_eq!(parse_check(true, "").unwrap(), Check::Satisfied);
        for stderr in [
            "dpkg-checkbuilddeps: error: Build conflicts: foo\n",
            "dpkg-checkbuilddeps: error: build conflicts: foo\n",
        ] {
            let err = parse_check(false, stderr).unwrap_err().to_string();
            assert!(err.contains("conflict") && err.contains("foo"), "{err}");
        }
        let err = parse_check(false, "cannot read debian/control: No such file\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("dpkg-checkbuilddeps failed") && err.contains("debian/control"),
            "{err}"
        );
        let err = parse_check(
            false,
            "dpkg-checkbuilddeps: error: Unmet build dependencies: \n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("dpkg-checkbuilddeps failed"), "{err}");
    }
}
