//! `debian/changelog`'s latest entry, read strictly, and the staged copy a
//! target builds from; also the few `debian/control` fields build-deb
//! needs. Pure: the caller reads the files and runs dpkg-parsechangelog.
//!
//! Specs: deb-changelog(5), deb-version(7), Debian Policy 5.6.1 (source
//! package names), deb-control(5) (deb822 paragraphs).
//!
//! The repository's changelog is read here, in Rust, so that the host
//! needs no dpkg-dev: the heading `package (version) distributions;
//! metadata`, change lines indented by two spaces (or a tab), and the
//! trailer ` -- name <email>  date` with an RFC 2822 date, which becomes
//! SOURCE_DATE_EPOCH. dpkg-parsechangelog only warns about a malformed
//! heading or date and carries on with "unknown" fields, so here every
//! such deviation is an error, and inside the build chroot
//! dpkg-parsechangelog reads the staged copy again ([`check_dpkg_reading`]):
//! a warning, or a version, distribution or date other than ours, fails
//! the build.
//!
//! Each target builds from a staged copy whose latest heading carries the
//! target's version suffix and its suite as the distribution
//! ([`for_target`]): `pinwheel-demo (0.1.0+bookworm) bookworm;
//! urgency=medium`. The repository's copy keeps the plain version and any
//! distribution (UNRELEASED included).

use anyhow::{bail, Context};

/// What build-deb needs from the changelog's latest entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changelog {
    pub source: String,
    /// The Debian version, e.g. "1:0.1.0-2".
    pub version: String,
    /// The distributions of the heading, e.g. ["UNRELEASED"].
    pub distributions: Vec<String>,
    /// The latest entry's date: the build's SOURCE_DATE_EPOCH.
    pub timestamp: u64,
}

/// The heading of the latest entry, split into its parts.
struct Heading<'a> {
    /// Line number (1-based) of the heading.
    line: usize,
    /// Byte offsets of the heading line in the text.
    start: usize,
    end: usize,
    source: &'a str,
    version: &'a str,
    distributions: Vec<&'a str>,
    /// Everything after the `;`, e.g. "urgency=medium".
    metadata: &'a str,
}

fn malformed(line: usize, why: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("debian/changelog is malformed: line {line}: {why}")
}

/// Reads the latest entry of a changelog.
pub fn parse(text: &str) -> anyhow::Result<Changelog> {
    let heading = heading(text)?;
    let timestamp = trailer_timestamp(text, &heading)?;
    Ok(Changelog {
        source: heading.source.to_owned(),
        version: heading.version.to_owned(),
        distributions: heading
            .distributions
            .iter()
            .map(|d| (*d).to_owned())
            .collect(),
        timestamp,
    })
}

/// The changelog a target builds from: the latest heading's version gets
/// `suffix` appended and its distributions become `suite`; every other
/// byte is kept.
pub fn for_target(text: &str, suffix: &str, suite: &str) -> anyhow::Result<String> {
    check_suffix(suffix)?;
    if suite.is_empty() || !suite.bytes().all(is_distribution_byte) {
        bail!("suite {suite:?} cannot be a changelog distribution");
    }
    let heading = heading(text)?;
    // The timestamp is checked too: a changelog that cannot be built is
    // not staged.
    trailer_timestamp(text, &heading)?;
    let new = format!(
        "{} ({}{suffix}) {suite}; {}",
        heading.source, heading.version, heading.metadata
    );
    Ok(format!(
        "{}{new}{}",
        &text[..heading.start],
        &text[heading.end..]
    ))
}

/// A version suffix may hold only what a Debian revision may, and no
/// hyphen (it would start a revision where there was none).
pub fn check_suffix(suffix: &str) -> anyhow::Result<()> {
    if !suffix
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"+.~".contains(&b))
    {
        bail!("Debian version suffix {suffix:?} may hold only letters, digits, '+', '.' and '~'");
    }
    Ok(())
}

fn is_distribution_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"+-.".contains(&b)
}

fn heading(text: &str) -> anyhow::Result<Heading<'_>> {
    let mut start = 0;
    for (i, raw) in text.split_inclusive('\n').enumerate() {
        let line = raw.trim_end_matches('\n');
        if line.trim().is_empty() {
            start += raw.len();
            continue;
        }
        let end = start + line.len();
        return parse_heading(line, i + 1)
            .map(|h| Heading { start, end, ..h })
            .ok_or_else(|| malformed(i + 1, format!("badly formatted heading line: {line}")));
    }
    bail!("debian/changelog is malformed: it has no entry")
}

/// `package (version) dist1 [dist2...]; metadata`, or None.
fn parse_heading(line: &str, number: usize) -> Option<Heading<'_>> {
    let (source, rest) = line.split_once(" (")?;
    let (version, rest) = rest.split_once(") ")?;
    let (dists, metadata) = rest.split_once(';')?;
    let distributions: Vec<&str> = dists.split_whitespace().collect();
    let ok = valid_source(source)
        && valid_version(version)
        && !distributions.is_empty()
        && distributions
            .iter()
            .all(|d| d.bytes().all(is_distribution_byte))
        && !metadata.trim().is_empty();
    ok.then_some(Heading {
        line: number,
        start: 0,
        end: 0,
        source,
        version,
        distributions,
        metadata: metadata.trim(),
    })
}

/// Debian Policy 5.6.1: lowercase letters, digits, `+`, `-`, `.`; at least
/// two characters, starting with a letter or digit.
fn valid_source(name: &str) -> bool {
    name.len() >= 2
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
}

/// deb-version(7): `[epoch:]upstream[-revision]`; the upstream version
/// starts with a digit and may hold a hyphen only when there is a
/// revision, a colon only when there is an epoch.
pub fn valid_version(version: &str) -> bool {
    let (epoch, rest) = match version.split_once(':') {
        Some((epoch, rest)) => (Some(epoch), rest),
        None => (None, version),
    };
    if epoch.is_some_and(|e| e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((u, r)) => (u, Some(r)),
        None => (rest, None),
    };
    let upstream_ok = upstream.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && upstream.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || b"+.~".contains(&b)
                || (b == b'-' && revision.is_some())
                || (b == b':' && epoch.is_some())
        });
    let revision_ok = revision.is_none_or(|r| {
        !r.is_empty()
            && r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+.~".contains(&b))
    });
    upstream_ok && revision_ok
}

/// The date of the trailer that ends the latest entry, as a Unix time.
fn trailer_timestamp(text: &str, heading: &Heading<'_>) -> anyhow::Result<u64> {
    let mut number = heading.line;
    for line in text[heading.end..].lines().skip(1) {
        number += 1;
        if let Some(trailer) = line.strip_prefix(" -- ") {
            return parse_trailer(trailer).ok_or_else(|| {
                malformed(
                    number,
                    format!(
                        "badly formatted trailer line (` -- name <email>  RFC 2822 date`): {line}"
                    ),
                )
            });
        }
        let change = line.trim().is_empty() || line.starts_with("  ") || line.starts_with('\t');
        if !change {
            return Err(malformed(
                number,
                format!("expected change lines or the trailer of the latest entry, found: {line}"),
            ));
        }
    }
    Err(malformed(
        number,
        "the latest entry has no trailer line (` -- name <email>  date`)",
    ))
}

/// `name <email>  date`: the date's Unix time.
fn parse_trailer(trailer: &str) -> Option<u64> {
    let (who, date) = trailer.split_once(">  ")?;
    let (name, email) = who.split_once(" <")?;
    if name.trim().is_empty() || !email.contains('@') || date.starts_with(' ') {
        return None;
    }
    u64::try_from(parse_date(date.trim_end())?.unix_timestamp()).ok()
}

/// deb-changelog(5)'s date, `day-of-week, dd month yyyy hh:mm:ss +zzzz`
/// (RFC 2822 with a four-digit year), its day of the week checked.
fn parse_date(date: &str) -> Option<time::OffsetDateTime> {
    let (weekday, rest) = date.split_once(", ")?;
    let parts: Vec<&str> = rest.split(' ').collect();
    let [day, month, year, clock, zone] = parts.as_slice() else {
        return None;
    };
    let number = |s: &str, len: std::ops::RangeInclusive<usize>| -> Option<u32> {
        (len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = months.iter().position(|m| m == month)?;
    let month = time::Month::try_from(u8::try_from(month + 1).ok()?).ok()?;
    let year = i32::try_from(number(year, 4..=4)?).ok()?;
    let day = u8::try_from(number(day, 1..=2)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let weekdays = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    if weekdays.get(usize::from(date.weekday().number_days_from_monday())) != Some(&weekday) {
        return None;
    }
    let hms: Vec<&str> = clock.split(':').collect();
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    let to_u8 = |s: &str| number(s, 2..=2).and_then(|n| u8::try_from(n).ok());
    let time = time::Time::from_hms(to_u8(h)?, to_u8(m)?, to_u8(s)?).ok()?;
    let (sign, hhmm) = match zone.split_at_checked(1)? {
        ("+", hhmm) => (1, hhmm),
        ("-", hhmm) => (-1, hhmm),
        _ => return None,
    };
    let (zh, zm) = hhmm.split_at_checked(2)?;
    let offset = time::UtcOffset::from_hms(
        sign * i8::try_from(number(zh, 2..=2)?).ok()?,
        sign * i8::try_from(number(zm, 2..=2)?).ok()?,
        0,
    )
    .ok()?;
    Some(time::PrimitiveDateTime::new(date, time).assume_offset(offset))
}

/// Checks dpkg-parsechangelog's reading of the staged changelog (run in the
/// build chroot) against ours: any warning or failure, or another version,
/// distribution or date, is an error.
pub fn check_dpkg_reading(
    success: bool,
    stdout: &str,
    stderr: &str,
    expected: &Changelog,
) -> anyhow::Result<()> {
    let complaint = stderr
        .lines()
        .map(str::trim)
        .find(|l| l.contains("warning") || l.contains("error"));
    if !success || complaint.is_some() {
        let why = complaint
            .or_else(|| stderr.lines().map(str::trim).find(|l| !l.is_empty()))
            .unwrap_or("no output");
        bail!("debian/changelog is malformed: dpkg-parsechangelog: {why}");
    }
    let got = |name: &str| -> anyhow::Result<&str> {
        field(stdout, name).with_context(|| {
            format!("dpkg-parsechangelog printed no {name} for the staged debian/changelog")
        })
    };
    let dpkg = [
        ("Source", got("Source")?.to_owned()),
        ("Version", got("Version")?.to_owned()),
        ("Distribution", got("Distribution")?.to_owned()),
        ("Timestamp", got("Timestamp")?.to_owned()),
    ];
    let ours = [
        ("Source", expected.source.clone()),
        ("Version", expected.version.clone()),
        ("Distribution", expected.distributions.join(" ")),
        ("Timestamp", expected.timestamp.to_string()),
    ];
    for ((name, theirs), (_, mine)) in dpkg.iter().zip(&ours) {
        if theirs != mine {
            bail!("debian/changelog: dpkg-parsechangelog reads {name} {theirs:?} where pinwheel reads {mine:?}");
        }
    }
    Ok(())
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

    const GOOD: &str = "pinwheel-demo (0.1.0) UNRELEASED; urgency=medium\n\n  * Initial release.\n    Continued.\n\n -- pinwheel maintainers <pinwheel@example.org>  Mon, 01 Jan 2024 00:00:00 +0000\n\npinwheel-demo (0.0.9) bookworm; urgency=low\n\n  * Older.\n\n -- a <a@b.c>  Sun, 31 Dec 2023 00:00:00 +0000\n";

    #[test]
    fn good() {
        assert_eq!(
            parse(GOOD).unwrap(),
            Changelog {
                source: "pinwheel-demo".into(),
                version: "0.1.0".into(),
                distributions: vec!["UNRELEASED".into()],
                timestamp: 1704067200
            }
        );
        let two = GOOD.replacen(") UNRELEASED;", ") bookworm-security bookworm;", 1);
        assert_eq!(
            parse(&two).unwrap().distributions,
            ["bookworm-security", "bookworm"]
        );
        let leading_blank = format!("\n\n{GOOD}");
        assert_eq!(parse(&leading_blank).unwrap().timestamp, 1704067200);
    }

    #[test]
    fn staged_copy_for_a_target() {
        let staged = for_target(GOOD, "+trixie", "trixie").unwrap();
        assert_eq!(
            staged,
            GOOD.replacen(
                "pinwheel-demo (0.1.0) UNRELEASED; urgency=medium",
                "pinwheel-demo (0.1.0+trixie) trixie; urgency=medium",
                1
            )
        );
        let parsed = parse(&staged).unwrap();
        assert_eq!(
            (parsed.version.as_str(), parsed.distributions.as_slice()),
            ("0.1.0+trixie", ["trixie".to_owned()].as_slice())
        );
        // Only the latest entry changes.
        assert!(staged.contains("pinwheel-demo (0.0.9) bookworm; urgency=low"));
        let revision = GOOD.replacen("(0.1.0)", "(1:0.1.0-2)", 1);
        assert!(for_target(&revision, "+deb12u1", "bookworm")
            .unwrap()
            .starts_with("pinwheel-demo (1:0.1.0-2+deb12u1) bookworm; urgency=medium\n"));
        assert_eq!(
            for_target(GOOD, "", "bookworm").unwrap().lines().next(),
            Some("pinwheel-demo (0.1.0) bookworm; urgency=medium")
        );
    }

    #[test]
    fn adversarial_bad_suffix_or_suite_is_refused() {
        for suffix in ["-1", "+a b", "+ä", "+x\n"] {
            let err = for_target(GOOD, suffix, "bookworm")
                .unwrap_err()
                .to_string();
            assert!(err.contains("may hold only"), "{suffix:?}: {err}");
        }
        for suite in ["", "book worm", "bookworm;", "x\ny"] {
            let err = for_target(GOOD, "+x", suite).unwrap_err().to_string();
            assert!(
                err.contains("cannot be a changelog distribution"),
                "{suite:?}: {err}"
            );
        }
    }

    #[test]
    fn adversarial_malformed_changelogs_are_refused() {
        let cases = [
            (
                GOOD.replacen(
                    "pinwheel-demo (0.1.0) UNRELEASED;",
                    "pinwheel-demo 0.1.0 UNRELEASED",
                    1,
                ),
                "line 1: badly formatted heading line",
            ),
            (
                GOOD.replacen("(0.1.0)", "(0.1.0 x)", 1),
                "badly formatted heading line",
            ),
            (
                GOOD.replacen("(0.1.0)", "(v0.1.0)", 1),
                "badly formatted heading line",
            ),
            (
                GOOD.replacen("(0.1.0)", "(0.1:0)", 1),
                "badly formatted heading line",
            ),
            (
                GOOD.replacen("pinwheel-demo (", "Pinwheel_Demo (", 1),
                "badly formatted heading line",
            ),
            (
                GOOD.replacen(" UNRELEASED;", " ;", 1),
                "badly formatted heading line",
            ),
            (
                GOOD.replacen("; urgency=medium", ";", 1),
                "badly formatted heading line",
            ),
            (String::new(), "it has no entry"),
            (
                GOOD.replacen("  * Initial release.", "* Initial release.", 1),
                "line 3: expected change lines or the trailer",
            ),
            (
                GOOD.replacen("Mon, 01 Jan 2024", "Mon, 01 Jan 24", 1),
                "line 6: badly formatted trailer line",
            ),
            (
                GOOD.replacen("+0000\n", "UTC\n", 1).replacen(
                    "00:00:00 UTC",
                    "00:00:00 nowhere",
                    1,
                ),
                "badly formatted trailer line",
            ),
            (
                GOOD.replacen("Mon, 01 Jan", "Tue, 01 Jan", 1),
                "badly formatted trailer line",
            ),
            (
                GOOD.replacen("Mon, 01 Jan 2024", "Mon, 1 Jan 2024", 1)
                    .replacen("00:00:00 +0000", "00:00:00 +0000x", 1),
                "badly formatted trailer line",
            ),
            (
                GOOD.replacen("00:00:00 +0000", "24:00:00 +0000", 1),
                "badly formatted trailer line",
            ),
            (
                GOOD.replacen(">  Mon", "> Mon", 1),
                "badly formatted trailer line",
            ),
            (
                GOOD.replacen(" <pinwheel@example.org>", "", 1),
                "badly formatted trailer line",
            ),
            (
                "pp (1) unstable; urgency=low\n\n  * x\n".to_owned(),
                "no trailer line",
            ),
        ];
        for (text, want) in cases {
            let err = parse(&text).unwrap_err().to_string();
            assert!(
                err.starts_with("debian/changelog is malformed") && err.contains(want),
                "{text:?}: {err}"
            );
            assert!(for_target(&text, "+x", "bookworm").is_err(), "{text:?}");
        }
    }

    #[test]
    fn dates() {
        let at = |s: &str| parse_date(s).map(|d| d.unix_timestamp());
        assert_eq!(at("Mon, 01 Jan 2024 00:00:00 +0000"), Some(1704067200));
        assert_eq!(at("Mon, 1 Jan 2024 01:30:00 +0130"), Some(1704067200));
        assert_eq!(at("Sun, 31 Dec 2023 19:00:00 -0500"), Some(1704067200));
        for bad in [
            "Mon, 01 Jan 24 00:00:00 +0000",
            "Tue, 01 Jan 2024 00:00:00 +0000",
            "Mon, 01 Jan 2024 00:00:00 UTC",
            "Mon, 01 jan 2024 00:00:00 +0000",
            "Mon, 01 Jan 2024 00:00 +0000",
            "Mon,  01 Jan 2024 00:00:00 +0000",
            "Mon, 32 Jan 2024 00:00:00 +0000",
        ] {
            assert_eq!(at(bad), None, "{bad}");
        }
    }

    #[test]
    fn versions() {
        for good in [
            "0.1.0",
            "1:0.1.0-2",
            "0.1.0-rc1-3",
            "1.0~rc1",
            "1.0+dfsg-1+deb12u1",
            "2:1:0-1",
        ] {
            assert!(valid_version(good), "{good}");
        }
        for bad in [
            "", "v1", "1.0-", "1_0", "a:1", ":1", "1.0 x", "1.0-a_b", "0:1:2-",
        ] {
            assert!(!valid_version(bad), "{bad}");
        }
        assert_eq!(upstream_version("0.1.0"), "0.1.0");
        assert_eq!(upstream_version("1:0.1.0-2"), "0.1.0");
        assert_eq!(upstream_version("0.1.0-rc1-3"), "0.1.0-rc1");
    }

    #[test]
    fn dpkg_reading_is_checked_against_ours() {
        let ours = parse(&for_target(GOOD, "+bookworm", "bookworm").unwrap()).unwrap();
        let dpkg = "Source: pinwheel-demo\nVersion: 0.1.0+bookworm\nDistribution: bookworm\nUrgency: medium\nMaintainer: a <a@b.c>\nTimestamp: 1704067200\nDate: Mon, 01 Jan 2024 00:00:00 +0000\nChanges:\n pinwheel-demo (0.1.0+bookworm) bookworm; urgency=medium\n";
        check_dpkg_reading(true, dpkg, "", &ours).unwrap();
        let err = check_dpkg_reading(
            true,
            &dpkg.replace("Timestamp: 1704067200", "Timestamp: 1"),
            "",
            &ours,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("Timestamp \"1\" where pinwheel reads \"1704067200\""),
            "{err}"
        );
        let stderr = "dpkg-parsechangelog: warning:     debian/changelog(l1): badly formatted heading line\nLINE: x\n";
        let err = check_dpkg_reading(true, dpkg, stderr, &ours)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("debian/changelog is malformed")
                && err.contains("badly formatted heading"),
            "{err}"
        );
        let err = check_dpkg_reading(
            false,
            "",
            "dpkg-parsechangelog: error: fatal error occurred\n",
            &ours,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("fatal error"), "{err}");
        let err = check_dpkg_reading(true, "Source: pinwheel-demo\n", "", &ours)
            .unwrap_err()
            .to_string();
        assert!(err.contains("printed no Version"), "{err}");
    }

    #[test]
    fn control_fields() {
        let control =
            "Source: s\nBuild-Depends: a\n\nPackage: p1\nArchitecture: amd64\n\nPackage: p2\n";
        assert_eq!(field(control, "source"), Some("s"));
        assert_eq!(binary_packages(control), ["p1", "p2"]);
    }
}
