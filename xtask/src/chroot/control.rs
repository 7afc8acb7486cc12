//! The build dependencies of a `debian/control` text (deb822, Debian
//! Policy §5.1 and §7.1): the package names of the source stanza's
//! `Build-Depends`, `Build-Depends-Indep` and `Build-Depends-Arch`.
//!
//! Names only: version constraints (`(>= 3.11)`), architecture lists
//! (`[amd64]`), build profiles (`<!nocheck>`) and architecture qualifiers
//! (`:any`, `:native`) are dropped; of `a | b` the first is kept (what
//! sbuild's apt resolver does); `${...}` substitution variables are
//! skipped. Pure: text in, names out.

/// The build-dependency names of the first (source) stanza, in order of
/// appearance, each once.
pub fn build_depends(control: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for value in source_fields(
        control,
        &["build-depends", "build-depends-indep", "build-depends-arch"],
    ) {
        for relation in value.split(',') {
            let Some(name) = first_alternative(relation) else {
                continue;
            };
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

/// The values of `fields` (lowercase names) in the first stanza, each with
/// its continuation lines joined by spaces.
fn source_fields(control: &str, fields: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    let mut started = false;
    for line in control.lines() {
        if line.starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            if started {
                break;
            }
            continue;
        }
        started = true;
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(value) = current.as_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        out.extend(current.take());
        if let Some((name, value)) = line.split_once(':') {
            if fields.contains(&name.trim().to_ascii_lowercase().as_str()) {
                current = Some(value.trim().to_owned());
            }
        }
    }
    out.extend(current);
    out
}

/// The package name of the first alternative of one relation, or `None`
/// for an empty relation or a substitution variable.
fn first_alternative(relation: &str) -> Option<String> {
    let first = relation.split('|').next()?.trim();
    if first.is_empty() || first.starts_with("${") {
        return None;
    }
    let end = first
        .find(|c: char| c.is_whitespace() || "([<".contains(c))
        .unwrap_or(first.len());
    let name = &first[..end];
    let name = name.split_once(':').map_or(name, |(n, _)| n);
    (!name.is_empty()).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(control: &str, expected: &[&str]) {
        assert_eq!(build_depends(control), expected, "{control}");
    }

    #[test]
    fn the_checked_in_control_file() {
        let text = include_str!("../../../debian/control");
        let names = build_depends(text);
        assert!(names.contains(&"debhelper-compat".to_owned()), "{names:?}");
        assert!(names.contains(&"python3".to_owned()), "{names:?}");
        // Nothing of the binary stanza's Depends.
        assert!(!names.iter().any(|n| n.contains("misc")), "{names:?}");
    }

    #[test]
    fn relations() {
        check(
            "Source: x\nBuild-Depends: debhelper-compat (= 13),\n python3 (>= 3.11),\n python3 (<< 3.12),\n\tpython3-venv,\n",
            &["debhelper-compat", "python3", "python3-venv"],
        );
        check(
            "Source: x\nBuild-Depends: a [amd64] <!nocheck>, b:any, c:native (>= 1) | d, ${misc:Depends}, , e|f\n",
            &["a", "b", "c", "e"],
        );
        check("Source: x\nBuild-Depends:dh-python(>=1)\n", &["dh-python"]);
    }

    #[test]
    fn indep_arch_and_case() {
        check(
            "Source: x\nbuild-depends: a\nBUILD-DEPENDS-INDEP: b,\n a\nBuild-Depends-Arch: c\nBuild-Conflicts: z\n",
            &["a", "b", "c"],
        );
    }

    #[test]
    fn only_the_source_stanza() {
        check(
            "# comment\n\nSource: x\n# Build-Depends: commented\nBuild-Depends: a\n\nPackage: x\nBuild-Depends: not-this\nDepends: nor-this\n",
            &["a"],
        );
        check("Source: x\nMaintainer: m\n", &[]);
        check("", &[]);
    }

    #[test]
    fn continuation_after_another_field_is_not_taken() {
        check(
            "Source: x\nBuild-Depends: a,\n b\nDescription: d\n c-is-not-a-dependency\n",
            &["a", "b"],
        );
    }
}
