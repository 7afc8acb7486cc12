//! Wheel file names, per the binary distribution format specification
//! (<https://packaging.python.org/en/latest/specifications/binary-distribution-format/#file-name-convention>):
//!
//! `{distribution}-{version}(-{build tag})?-{python tag}-{abi tag}-{platform tag}.whl`
//!
//! The distribution name is normalized once, in [`PackageName`] (PEP 503),
//! so `MarkupSafe`, `markupsafe` and `Markup_Safe` are the same project; the
//! version is parsed with `pep440_rs`, so `foo-1.0` never matches
//! `foo-1.0.1` (no string prefixes anywhere). The build tag starts with a
//! digit and sorts as `(number, rest)`. Each tag may be a compressed tag
//! set (`py2.py3`), expanded by [`WheelFilename::tags`]. Which tags a
//! target accepts, and in which order of preference, is [`crate::tags`].
//!
//! Not supported: names with characters outside `[A-Za-z0-9._]` (the spec
//! escapes everything else to `_`), and anything not ending in `.whl`.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::PackageName;

use crate::tags::Tag;

/// A parsed wheel file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelFilename {
    /// The distribution name, normalized.
    pub name: PackageName,
    pub version: Version,
    pub build: Option<BuildTag>,
    /// The python tag set, e.g. `["py2", "py3"]`.
    pub python: Vec<String>,
    /// The abi tag set, e.g. `["cp311"]`.
    pub abi: Vec<String>,
    /// The platform tag set, e.g. `["manylinux_2_17_x86_64", "manylinux2014_x86_64"]`.
    pub platform: Vec<String>,
    /// The file name as given.
    filename: String,
}

/// The optional build tag: a number, then anything; compared as a tuple.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BuildTag {
    pub number: u64,
    pub rest: String,
}

/// Why a file name is not a wheel file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the wheel filename {filename:?} {reason}")]
pub struct WheelFilenameError {
    pub filename: String,
    pub reason: String,
}

impl WheelFilename {
    /// The file name as given.
    pub fn filename(&self) -> &str {
        &self.filename
    }

    /// Every `python-abi-platform` triple the (possibly compressed) tag sets
    /// expand to, in file-name order.
    pub fn tags(&self) -> impl Iterator<Item = Tag> + '_ {
        self.python.iter().flat_map(move |py| {
            self.abi.iter().flat_map(move |abi| {
                self.platform
                    .iter()
                    .map(move |plat| Tag::new(py, abi, plat))
            })
        })
    }

    /// The `.dist-info` directory inside the wheel: `{name}-{version}.dist-info`
    /// with the name as written in the file name.
    pub fn dist_info_dir(&self) -> String {
        let stem = &self.filename[..self.filename.len() - ".whl".len()];
        let mut parts = stem.splitn(3, '-');
        let name = parts.next().unwrap_or_default();
        let version = parts.next().unwrap_or_default();
        format!("{name}-{version}.dist-info")
    }

    /// Whether this wheel is of `name` at exactly `version` (PEP 440
    /// equality: `1.0 == 1.0.0`, `1.0 != 1.0.1`).
    pub fn is(&self, name: &PackageName, version: &Version) -> bool {
        &self.name == name && &self.version == version
    }

    /// Compares build tags: a wheel without one sorts before any with one.
    pub fn cmp_build(&self, other: &WheelFilename) -> Ordering {
        self.build.cmp(&other.build)
    }
}

impl FromStr for WheelFilename {
    type Err = WheelFilenameError;

    fn from_str(filename: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| WheelFilenameError {
            filename: filename.to_owned(),
            reason: reason.to_owned(),
        };
        let stem = filename
            .strip_suffix(".whl")
            .ok_or_else(|| err("does not end in .whl"))?;
        let parts: Vec<&str> = stem.split('-').collect();
        let (name, version, build, python, abi, platform) = match parts[..] {
            [n, v, py, abi, plat] => (n, v, None, py, abi, plat),
            [n, v, b, py, abi, plat] => (n, v, Some(b), py, abi, plat),
            _ => return Err(err("must have 5 or 6 '-'-separated parts (name, version, optional build tag, python, abi, platform tags)")),
        };
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        {
            return Err(err("has an invalid distribution name"));
        }
        let name =
            PackageName::from_str(name).map_err(|_| err("has an invalid distribution name"))?;
        let version = Version::from_str(version).map_err(|_| err("has an invalid version"))?;
        let build = build
            .map(|b| {
                let digits = b.bytes().take_while(u8::is_ascii_digit).count();
                if digits == 0
                    || !b
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
                {
                    return Err(err("has an invalid build tag (it must start with a digit)"));
                }
                let number = b[..digits]
                    .parse()
                    .map_err(|_| err("has a build number that is too large"))?;
                Ok(BuildTag {
                    number,
                    rest: b[digits..].to_owned(),
                })
            })
            .transpose()?;
        let tag_set = |s: &str, what: &str| -> Result<Vec<String>, WheelFilenameError> {
            let set: Vec<String> = s.split('.').map(str::to_owned).collect();
            if set
                .iter()
                .any(|t| t.is_empty() || !t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
            {
                return Err(err(&format!("has an invalid {what} tag")));
            }
            Ok(set)
        };
        Ok(WheelFilename {
            name,
            version,
            build,
            python: tag_set(python, "python")?,
            abi: tag_set(abi, "abi")?,
            platform: tag_set(platform, "platform")?,
            filename: filename.to_owned(),
        })
    }
}

impl fmt::Display for WheelFilename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.filename)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> WheelFilename {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn simple() {
        let w = parse("certifi-2024.8.30-py3-none-any.whl");
        assert_eq!(w.name.as_ref(), "certifi");
        assert_eq!(w.version.to_string(), "2024.8.30");
        assert_eq!(w.build, None);
        assert_eq!(
            (w.python.as_slice(), w.abi.as_slice(), w.platform.as_slice()),
            (
                &["py3".to_owned()][..],
                &["none".to_owned()][..],
                &["any".to_owned()][..]
            )
        );
        assert_eq!(w.dist_info_dir(), "certifi-2024.8.30.dist-info");
        assert_eq!(w.to_string(), "certifi-2024.8.30-py3-none-any.whl");
    }

    #[test]
    fn names_are_normalized() {
        let a = parse("MarkupSafe-2.1.5-cp311-cp311-linux_x86_64.whl");
        let b = parse("markupsafe-2.1.5-cp311-cp311-linux_x86_64.whl");
        let c = parse("charset_normalizer-3.3.2-py3-none-any.whl");
        assert_eq!(a.name, b.name);
        assert_eq!(c.name.as_ref(), "charset-normalizer");
        assert_eq!(a.dist_info_dir(), "MarkupSafe-2.1.5.dist-info");
        assert!(c.is(
            &"Charset.Normalizer".parse().unwrap(),
            &"3.3.2".parse().unwrap()
        ));
    }

    #[test]
    fn build_tag_and_compressed_tags() {
        let w = parse("foo-1.0-12abc-py2.py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl");
        assert_eq!(
            w.build,
            Some(BuildTag {
                number: 12,
                rest: "abc".into()
            })
        );
        let tags: Vec<String> = w.tags().map(|t| t.to_string()).collect();
        assert_eq!(
            tags,
            [
                "py2-none-manylinux_2_17_x86_64",
                "py2-none-manylinux2014_x86_64",
                "py3-none-manylinux_2_17_x86_64",
                "py3-none-manylinux2014_x86_64"
            ]
        );
        let older = parse("foo-1.0-2-py3-none-any.whl");
        let none = parse("foo-1.0-py3-none-any.whl");
        assert_eq!(w.cmp_build(&older), Ordering::Greater);
        assert_eq!(older.cmp_build(&none), Ordering::Greater);
        assert_eq!(
            parse("foo-1.0-10-py3-none-any.whl").cmp_build(&older),
            Ordering::Greater,
            "numeric, not lexicographic"
        );
    }

    #[test]
    fn versions_never_match_by_prefix() {
        let w = parse("foo-1.0.1-py3-none-any.whl");
        let foo: PackageName = "foo".parse().unwrap();
        assert!(!w.is(&foo, &"1.0".parse().unwrap()));
        assert!(w.is(&foo, &"1.0.1".parse().unwrap()));
        assert!(!parse("foobar-1.0-py3-none-any.whl").is(&foo, &"1.0".parse().unwrap()));
        assert!(
            parse("foo-1.0-py3-none-any.whl").is(&foo, &"1.0.0".parse().unwrap()),
            "PEP 440 equality"
        );
        assert!(!parse("foo-1.0+local-py3-none-any.whl").is(&foo, &"1.0".parse().unwrap()));
    }

    #[test]
    fn adversarial_bad_names() {
        for (name, reason) in [
            ("foo-1.0-py3-none-any.zip", "does not end in .whl"),
            ("foo-1.0-py3-any.whl", "must have 5 or 6"),
            ("foo-bar-1.0-1-py3-none-any.whl", "must have 5 or 6"),
            ("foo-1.0-x1-py3-none-any.whl", "invalid build tag"),
            ("foo-one-py3-none-any.whl", "invalid version"),
            ("fo/o-1.0-py3-none-any.whl", "invalid distribution name"),
            ("-1.0-py3-none-any.whl", "invalid distribution name"),
            ("foo-1.0-py3..py2-none-any.whl", "invalid python tag"),
            ("foo-1.0-py3-none-any/../x.whl", "invalid platform tag"),
            ("foo-1.0-py3--any.whl", "invalid abi tag"),
        ] {
            let err = name.parse::<WheelFilename>().unwrap_err().to_string();
            assert!(err.contains(reason) && err.contains(name), "{name}: {err}");
        }
    }
}
