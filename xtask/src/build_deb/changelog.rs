//! `debian/changelog` as `dpkg-parsechangelog` reports it, held strictly:
//! dpkg-parsechangelog only warns about a malformed heading or date and
//! carries on with "unknown" fields, so any warning is an error here. Also
//! the few `debian/control` fields build-deb needs. Pure: the caller runs
//! dpkg-parsechangelog and reads the files.
//!
//! Specs: deb-changelog(5), deb-control(5) (deb822 paragraphs).

use anyhow::{bail, Context};

/// What build-deb needs from the changelog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changelog {
    pub source: String,
    /// The Debian version, e.g. "1:0.1.0-2".
    pub version: String,
    /// The latest entry's date: the build's SOURCE_DATE_EPOCH.
    pub timestamp: u64,
}

/// Parses dpkg-parsechangelog's output; any warning or failure means the
/// changelog is malformed.
pub fn parse(success: bool, stdout: &str, stderr: &str) -> anyhow::Result<Changelog> {
    let complaint = stderr
        .lines()
        .map(str::trim)
        .find(|l| l.contains("warning") || l.contains("error"));
    if !success || complaint.is_some() {
        let why = complaint
            .or_else(|| stderr.lines().map(str::trim).find(|l| !l.is_empty()))
            .unwrap_or("no output");
        bail!("debian/changelog is malformed: {why}");
    }
    let source =
        field(stdout, "Source").context("debian/changelog: no package name in the latest entry")?;
    let version =
        field(stdout, "Version").context("debian/changelog: no version in the latest entry")?;
    let timestamp =
        field(stdout, "Timestamp").context("debian/changelog: no date in the latest entry")?;
    if source == "unknown" || version == "unknown" {
        bail!("debian/changelog is malformed: the latest entry has no readable heading");
    }
    let timestamp = timestamp.parse().with_context(|| {
        format!("debian/changelog: the latest entry's date gives timestamp {timestamp:?}")
    })?;
    Ok(Changelog {
        source: source.to_owned(),
        version: version.to_owned(),
        timestamp,
    })
}

/// The value of a single-line field in the first deb822 paragraph.
pub fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .take_while(|l| !l.trim().is_empty())
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim())
        })
}

/// Every `Package:` of a debian/control file's binary paragraphs.
pub fn binary_packages(control: &str) -> Vec<String> {
    control
        .lines()
        .filter_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("Package"))
                .map(|(_, v)| v.trim().to_owned())
        })
        .collect()
}

/// The upstream part of a Debian version: no epoch, no revision.
pub fn upstream_version(version: &str) -> &str {
    let no_epoch = version.split_once(':').map_or(version, |(_, rest)| rest);
    no_epoch
        .rsplit_once('-')
        .map_or(no_epoch, |(upstream, _)| upstream)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "Source: pinwheel-demo\nVersion: 0.1.0\nDistribution: bookworm\nUrgency: medium\nMaintainer: a <a@b.c>\nTimestamp: 1704067200\nDate: Mon, 01 Jan 2024 00:00:00 +0000\nChanges:\n pinwheel-demo (0.1.0) bookworm; urgency=medium\n";

    #[test]
    fn good() {
        let c = parse(true, GOOD, "").unwrap();
        assert_eq!(
            c,
            Changelog {
                source: "pinwheel-demo".into(),
                version: "0.1.0".into(),
                timestamp: 1704067200
            }
        );
    }

    #[test]
    fn warnings_are_errors() {
        let stderr = "dpkg-parsechangelog: warning:     debian/changelog(l1): badly formatted heading line\nLINE: x\n";
        let err = parse(
            true,
            "Source: unknown\nVersion: unknown\nTimestamp: 1\n",
            stderr,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("debian/changelog is malformed")
                && err.contains("badly formatted heading"),
            "{err}"
        );
        let err = parse(
            false,
            "",
            "dpkg-parsechangelog: error: fatal error occurred while parsing debian/changelog\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("fatal error"), "{err}");
        let err = parse(
            true,
            "Source: unknown\nVersion: unknown\nTimestamp: 1\n",
            "",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("no readable heading"), "{err}");
        let err = parse(true, "Source: a\nVersion: 1\n", "")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no date"), "{err}");
    }

    #[test]
    fn versions() {
        assert_eq!(upstream_version("0.1.0"), "0.1.0");
        assert_eq!(upstream_version("1:0.1.0-2"), "0.1.0");
        assert_eq!(upstream_version("0.1.0-rc1-3"), "0.1.0-rc1");
    }

    #[test]
    fn control_fields() {
        let control =
            "Source: s\nBuild-Depends: a\n\nPackage: p1\nArchitecture: amd64\n\nPackage: p2\n";
        assert_eq!(field(control, "source"), Some("s"));
        assert_eq!(binary_packages(control), ["p1", "p2"]);
    }
}
