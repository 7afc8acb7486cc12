//! A hashed requirements.txt used as a lock, as pip-compile
//! (`--generate-hashes`) or `uv export` write it: every requirement pinned
//! with `==`, with `--hash=sha256:` options and optional markers. The line
//! format is read by `crate::requirements_txt`.
//!
//! Every requirement whose marker holds on the target is installed; the
//! same name twice needs disjoint markers. Such a file does not say which
//! hash is the sdist's: the hashes stay unclassified until a
//! [`super::SdistLookup`] (the index) sorts them.
//!
//! The project itself (`-e .`) is skipped; `--index-url` and friends are
//! ignored. Not supported: `-r`/`-c` includes. Refused: requirements
//! without `--hash`, other editables, URLs. Such a file offers no extras
//! nor dependency groups to select: it is one use already.

use anyhow::{bail, Context};
use pinwheel_trust::failure;

use super::{Format, Lock, Package, Recorded, Selection, Uses, MAIN};
use crate::requirements_txt::{exact_pin, parse as parse_lines, Item};

/// Reads the text of a hashed requirements file.
pub fn parse(text: &str) -> anyhow::Result<Lock> {
    let mut packages = Vec::new();
    for item in parse_lines(text)? {
        match item {
            Item::Requirement(entry) => {
                let line = entry.line;
                if let Some(pep508_rs::VersionOrUrl::Url(url)) = &entry.requirement.version_or_url {
                    return Err(failure::refused(format!(
                        "line {line}: requirement {} is a URL ({url}), not from a package index; \
                         pinwheel pins only index packages",
                        entry.requirement.name
                    )));
                }
                let (name, version) = exact_pin(&entry).with_context(|| format!("line {line}"))?;
                if entry.hashes.is_empty() {
                    return Err(failure::refused(format!(
                        "line {line}: {name}=={version} has no --hash; lock with hashes (pip-compile --generate-hashes, uv export)"
                    )));
                }
                let mut package = Package::new(name, version);
                package
                    .groups
                    .insert(MAIN.to_owned(), entry.requirement.marker.clone());
                package.unclassified = entry.digests().collect();
                packages.push(package);
            }
            Item::Editable { line, target } => {
                let target = target.trim_start_matches("file:").trim_end_matches('/');
                if target != "." {
                    return Err(failure::refused(format!(
                        "line {line}: editable {target:?} is not the project itself; pinwheel pins only index packages"
                    )));
                }
            }
            Item::Option { line, name, .. } => {
                if ["-r", "--requirement", "-c", "--constraint"].contains(&name.as_str()) {
                    bail!("line {line}: {name} includes another file; pass a self-contained lock");
                }
            }
        }
    }
    Ok(Lock {
        format: Format::RequirementsTxt,
        packages,
        selection: Selection::Markers,
        requires_python: None,
        environments: None,
        uses: Uses::default(),
        recorded: Recorded::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIP_COMPILE: &str = include_str!("../../test_data/locks/extras-markers/pip-compile.txt");
    const UV_EXPORT: &str = include_str!("../../test_data/locks/fork/uv-export.txt");

    #[test]
    fn reads_pip_compile() {
        let lock = parse(PIP_COMPILE).unwrap();
        let tomli = lock
            .packages
            .iter()
            .find(|p| p.name.as_ref() == "tomli")
            .unwrap();
        assert_eq!(
            super::super::marker_text(&tomli.groups[MAIN]),
            "python_full_version < '3.11.3'"
        );
        assert!(tomli.unclassified.len() > 1);
        assert!(tomli.sdists.is_empty());
    }

    #[test]
    fn reads_uv_export_forks() {
        let lock =
            super::super::parse("uv-export.txt", Format::RequirementsTxt, UV_EXPORT).unwrap();
        assert_eq!(
            lock.packages
                .iter()
                .filter(|p| p.name.as_ref() == "six")
                .count(),
            2
        );
    }

    #[test]
    fn adversarial_overlapping_duplicates() {
        let a = "a".repeat(64);
        let text = format!("six==1.16.0 ; python_version < '3.12' --hash=sha256:{a}\nsix==1.17.0 ; python_version >= '3.11' --hash=sha256:{a}\n");
        let err = format!(
            "{:#}",
            super::super::parse("r.txt", Format::RequirementsTxt, &text).unwrap_err()
        );
        assert!(
            err.starts_with("r.txt: package six is locked twice (1.16.0 and 1.17.0)"),
            "{err}"
        );
    }

    #[test]
    fn adversarial_unpinned_and_includes() {
        let a = "a".repeat(64);
        for (text, want) in [
            (
                format!("six>=1 --hash=sha256:{a}\n"),
                "line 1: requirement `six>=1` is not pinned with ==version",
            ),
            ("six==1\n".to_owned(), "line 1: six==1 has no --hash"),
            (
                format!("-r base.txt\nsix==1 --hash=sha256:{a}\n"),
                "line 1: -r includes another file",
            ),
            (
                format!("-e ../other\nsix==1 --hash=sha256:{a}\n"),
                "line 1: editable \"../other\"",
            ),
            (
                format!("six==1 ; python_version >> '3' --hash=sha256:{a}\n"),
                "line 1: invalid requirement",
            ),
        ] {
            let err = format!("{:#}", parse(&text).unwrap_err());
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn adversarial_refusals_exit_1() {
        let a = "a".repeat(64);
        for (text, want) in [
            ("six==1\n".to_owned(), "line 1: six==1 has no --hash"),
            (
                format!("-e ../other\nsix==1 --hash=sha256:{a}\n"),
                "line 1: editable \"../other\" is not the project itself",
            ),
            (
                format!("six @ https://example.org/six-1.tar.gz --hash=sha256:{a}\n"),
                "line 1: requirement six is a URL (https://example.org/six-1.tar.gz)",
            ),
            (format!("six==1 --hash=md5:{a}\n"), "is md5, not sha256"),
        ] {
            let err = parse(&text).unwrap_err();
            assert!(pinwheel_trust::failure::is_no(&err), "{text:?}: {err:#}");
            assert!(format!("{err:#}").contains(want), "{text:?}: {err:#}");
        }
    }
}
