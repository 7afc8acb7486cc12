//! Poetry's version constraint syntax
//! (<https://python-poetry.org/docs/dependency-specification/#version-constraints>),
//! as Poetry 1.x locks and `[tool.poetry.dependencies]` write it, turned
//! into PEP 440 specifiers and PEP 508 markers that `pep440_rs` and
//! `pep508_rs` evaluate.
//!
//! `||` (or `|`) separates alternatives; `,` or spaces join requirements
//! that must all hold. A requirement is `*`, a bare version (`1.2`,
//! `1.2.*`: equality), `^V` (up to the next release that changes the left
//! non-zero part: `^1.2.3` is `>=1.2.3,<2`, `^0.2.3` is `>=0.2.3,<0.3`),
//! `~V` (`~1.2.3` is `>=1.2.3,<1.3`, `~1` is `>=1,<2`), or a PEP 440
//! comparison, whose operator may be followed by spaces.
//!
//! A `python` constraint becomes a marker on `python_version` where the
//! version has at most two parts, else on `python_full_version`, as Poetry
//! writes them.

use std::str::FromStr;

use anyhow::bail;
use pep440_rs::VersionSpecifiers;
use pep508_rs::MarkerTree;

use crate::lockfile::parse_marker;

/// One requirement of a constraint: a PEP 440 operator and a version.
type Bound = (&'static str, String);

/// The alternatives of a constraint, each a list of bounds that must all
/// hold; an empty list holds for every version.
fn alternatives(text: &str) -> anyhow::Result<Vec<Vec<Bound>>> {
    let mut out = Vec::new();
    for alternative in text.split('|').filter(|a| !a.trim().is_empty()) {
        let mut bounds = Vec::new();
        let spaced = alternative.replace(',', " ");
        let mut words = spaced.split_whitespace().peekable();
        while let Some(word) = words.next() {
            let mut word = word.to_owned();
            // An operator standing alone: `>= 1.2`.
            if word.chars().all(|c| "<>=!~^".contains(c)) {
                match words.next() {
                    Some(version) => word.push_str(version),
                    None => bail!("version constraint {text:?}: {word:?} is missing its version"),
                }
            }
            bounds.extend(bound(text, &word)?);
        }
        out.push(bounds);
    }
    if out.is_empty() {
        out.push(Vec::new());
    }
    Ok(out)
}

/// The PEP 440 bounds of one requirement.
fn bound(text: &str, word: &str) -> anyhow::Result<Vec<Bound>> {
    if word == "*" {
        return Ok(Vec::new());
    }
    for op in ["===", "==", "!=", "~=", "<=", ">=", "<", ">"] {
        if let Some(version) = word.strip_prefix(op) {
            let op: &'static str = op;
            return Ok(vec![(op, checked(text, version)?.to_owned())]);
        }
    }
    if let Some(version) = word.strip_prefix('^') {
        let parts = release(text, version)?;
        let upper = if parts.len() == 1 || parts[0] > 0 {
            vec![parts[0] + 1]
        } else if parts.len() == 2 || parts[1] > 0 {
            vec![0, parts[1] + 1]
        } else {
            vec![0, 0, parts[2] + 1]
        };
        return Ok(vec![(">=", version.to_owned()), ("<", join(&upper))]);
    }
    if let Some(version) = word.strip_prefix('~') {
        let parts = release(text, version)?;
        let upper = if parts.len() == 1 {
            vec![parts[0] + 1]
        } else {
            vec![parts[0], parts[1] + 1]
        };
        return Ok(vec![(">=", version.to_owned()), ("<", join(&upper))]);
    }
    Ok(vec![("==", checked(text, word)?.to_owned())])
}

fn checked<'a>(text: &str, version: &'a str) -> anyhow::Result<&'a str> {
    if version.is_empty() {
        bail!("version constraint {text:?}: an operator is missing its version");
    }
    Ok(version)
}

/// The numeric release parts of a version such as `1.2.3` (no suffixes:
/// Poetry's `^` and `~` are defined on releases).
fn release(text: &str, version: &str) -> anyhow::Result<Vec<u64>> {
    let parts: Result<Vec<u64>, _> = version.split('.').map(u64::from_str).collect();
    match parts {
        Ok(parts) if !parts.is_empty() && parts.len() <= 3 => Ok(parts),
        _ => bail!("version constraint {text:?}: {version:?} is not a release such as 1.2.3"),
    }
}

fn join(parts: &[u64]) -> String {
    parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// A Poetry version constraint as PEP 440 specifier sets, any of which
/// may hold (an empty list: every version).
pub fn parse(text: &str) -> anyhow::Result<Vec<VersionSpecifiers>> {
    let mut out = Vec::new();
    for bounds in alternatives(text)? {
        if bounds.is_empty() {
            return Ok(Vec::new());
        }
        let pep440 = bounds
            .iter()
            .map(|(op, v)| format!("{op}{v}"))
            .collect::<Vec<_>>()
            .join(",");
        out.push(VersionSpecifiers::from_str(&pep440).map_err(|err| {
            anyhow::anyhow!(
                "version constraint {text:?}: {}",
                crate::one_line(&err.to_string())
            )
        })?);
    }
    Ok(out)
}

/// A Poetry `python` constraint as a PEP 508 marker.
pub fn python_marker(text: &str) -> anyhow::Result<MarkerTree> {
    let mut any = Vec::new();
    for bounds in alternatives(text)? {
        if bounds.is_empty() {
            return Ok(MarkerTree::TRUE);
        }
        let all: Vec<String> = bounds
            .iter()
            .map(|(op, v)| {
                let parts = v.trim_end_matches(".*").split('.').count();
                let variable = if parts <= 2 {
                    "python_version"
                } else {
                    "python_full_version"
                };
                format!("{variable} {op} '{v}'")
            })
            .collect();
        any.push(format!("({})", all.join(" and ")));
    }
    parse_marker(&any.join(" or "))
}

/// A Poetry `platform` (a `sys.platform` value) as a PEP 508 marker.
pub fn platform_marker(text: &str) -> anyhow::Result<MarkerTree> {
    if text.is_empty() || text.contains(['\'', '"']) {
        bail!("platform {text:?} is not a sys.platform value");
    }
    parse_marker(&format!("sys_platform == '{text}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pep440(text: &str) -> Vec<String> {
        parse(text)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn constraints() {
        assert_eq!(pep440("^1.2.3"), [">=1.2.3, <2"]);
        assert_eq!(pep440("^0.2.3"), [">=0.2.3, <0.3"]);
        assert_eq!(pep440("^0.0.3"), [">=0.0.3, <0.0.4"]);
        assert_eq!(pep440("^0.0"), [">=0.0, <0.1"]);
        assert_eq!(pep440("^0"), [">=0, <1"]);
        assert_eq!(pep440("~1.2.3"), [">=1.2.3, <1.3"]);
        assert_eq!(pep440("~1"), [">=1, <2"]);
        assert_eq!(pep440("1.2.*"), ["==1.2.*"]);
        assert_eq!(pep440("2.0"), ["==2.0"]);
        assert_eq!(pep440(">= 1.5.6, < 1.5.7"), [">=1.5.6, <1.5.7"]);
        assert_eq!(
            pep440(">=1.5.6,<1.5.7 || >1.5.7"),
            [">=1.5.6, <1.5.7", ">1.5.7"]
        );
        assert_eq!(pep440(">=2 <4"), [">=2, <4"]);
        assert!(pep440("*").is_empty());
        assert!(pep440("").is_empty());
        let any = parse(">=1.5.6,<1.5.7 || >1.5.7").unwrap();
        let holds = |v: &str| any.iter().any(|s| s.contains(&v.parse().unwrap()));
        assert!(holds("1.7.1") && holds("1.5.6") && !holds("1.5.7"));
    }

    #[test]
    fn python_markers() {
        let env = crate::markers::cpython_linux("3.11.2", "x86_64").unwrap();
        let holds = |text: &str| python_marker(text).unwrap().evaluate(&env, &[]);
        assert!(!holds("<3.10"));
        assert!(holds(">=3.9"));
        assert!(holds("^3.8"));
        assert!(!holds("~3.10"));
        assert!(holds("~2.7 || ^3.4"));
        // `<=3.11` on python_version, as Poetry means it: 3.11.2 is in.
        assert!(holds("<=3.11"));
        assert!(!holds(">=3.11.3"));
        assert!(holds("3.11.*"));
        assert!(holds("*"));
        assert!(platform_marker("linux").unwrap().evaluate(&env, &[]));
        assert!(!platform_marker("win32").unwrap().evaluate(&env, &[]));
    }

    #[test]
    fn bad_constraints_are_named() {
        for text in ["^1.x", ">=", "~", "^1.2.3.4"] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(&format!("{text:?}")), "{text}: {err}");
        }
    }
}
