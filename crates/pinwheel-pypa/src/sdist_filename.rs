//! Source distribution file names, per the source distribution format
//! specification (<https://packaging.python.org/en/latest/specifications/source-distribution-format/>,
//! PEP 625): `{name}-{version}.tar.gz`, plus the legacy `.zip` and
//! `.tar.bz2` archives that older releases on the index still use.
//!
//! PEP 625 names escape `-` to `_`, but legacy sdists keep dashes
//! (`charset-normalizer-3.3.2.tar.gz`), and versions may contain dashes too
//! (`1.0-1` is a post release). So a name can be split in more than one
//! place; [`SdistFilename::parse_for`] takes the expected project name
//! (what every caller has: it comes from a lock), and
//! [`SdistFilename::parse`] accepts only a file name with exactly one
//! valid split. Versions are compared with PEP 440, never as string
//! prefixes: `foo-1.0` never matches `foo-1.0.1`.
//!
//! Not supported: `.tgz`, `.tar.xz`, `.tar`, `.tar.Z` and other archive
//! formats (refused with the list of supported ones).

use std::fmt;
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::PackageName;

/// The archive formats an sdist may come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SdistFormat {
    TarGz,
    Zip,
    TarBz2,
}

impl SdistFormat {
    pub const ALL: [SdistFormat; 3] = [SdistFormat::TarGz, SdistFormat::Zip, SdistFormat::TarBz2];

    pub fn extension(self) -> &'static str {
        match self {
            SdistFormat::TarGz => ".tar.gz",
            SdistFormat::Zip => ".zip",
            SdistFormat::TarBz2 => ".tar.bz2",
        }
    }

    /// The format a file name's extension says (case-sensitive, as on the
    /// index).
    pub fn of(filename: &str) -> Option<SdistFormat> {
        SdistFormat::ALL
            .into_iter()
            .find(|f| filename.ends_with(f.extension()))
    }
}

/// A parsed sdist file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdistFilename {
    pub name: PackageName,
    pub version: Version,
    pub format: SdistFormat,
    filename: String,
}

/// Why a file name is not an sdist file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the sdist filename {filename:?} {reason}")]
pub struct SdistFilenameError {
    pub filename: String,
    pub reason: String,
}

impl SdistFilename {
    /// The file name as given.
    pub fn filename(&self) -> &str {
        &self.filename
    }

    /// The file name without its archive extension (`foo-1.0`): the
    /// top-level directory a well-formed sdist unpacks into.
    pub fn stem(&self) -> &str {
        &self.filename[..self.filename.len() - self.format.extension().len()]
    }

    /// Whether this is `name` at exactly `version` (PEP 440 equality).
    pub fn is(&self, name: &PackageName, version: &Version) -> bool {
        &self.name == name && &self.version == version
    }

    /// Parses `filename` as an sdist of `expected`: the part before the
    /// version must normalize to `expected`.
    pub fn parse_for(
        filename: &str,
        expected: &PackageName,
    ) -> Result<SdistFilename, SdistFilenameError> {
        let (stem, format) = split_extension(filename)?;
        let err = |reason: String| SdistFilenameError {
            filename: filename.to_owned(),
            reason,
        };
        for (i, _) in stem.match_indices('-') {
            let (name, version) = (&stem[..i], &stem[i + 1..]);
            if let Some(name) = crate::project_name(name) {
                if &name == expected {
                    let version = Version::from_str(version)
                        .map_err(|_| err(format!("has an invalid version {version:?}")))?;
                    return Ok(SdistFilename {
                        name,
                        version,
                        format,
                        filename: filename.to_owned(),
                    });
                }
            }
        }
        Err(err(format!("is not a distribution of {expected}")))
    }

    /// Parses `filename` without knowing the project: exactly one split into
    /// a valid name and a valid version must exist.
    pub fn parse(filename: &str) -> Result<SdistFilename, SdistFilenameError> {
        let (stem, format) = split_extension(filename)?;
        let err = |reason: &str| SdistFilenameError {
            filename: filename.to_owned(),
            reason: reason.to_owned(),
        };
        let mut found = None;
        for (i, _) in stem.match_indices('-') {
            let (name, version) = (&stem[..i], &stem[i + 1..]);
            if let (Some(name), Ok(version)) =
                (crate::project_name(name), Version::from_str(version))
            {
                if found.is_some() {
                    return Err(err(
                        "is ambiguous: it splits into name and version in more than one place",
                    ));
                }
                found = Some((name, version));
            }
        }
        let (name, version) =
            found.ok_or_else(|| err("is not {name}-{version} with a valid name and version"))?;
        Ok(SdistFilename {
            name,
            version,
            format,
            filename: filename.to_owned(),
        })
    }
}

fn split_extension(filename: &str) -> Result<(&str, SdistFormat), SdistFilenameError> {
    let format = SdistFormat::of(filename).ok_or_else(|| SdistFilenameError {
        filename: filename.to_owned(),
        reason: "does not end in .tar.gz, .zip or .tar.bz2".to_owned(),
    })?;
    Ok((
        &filename[..filename.len() - format.extension().len()],
        format,
    ))
}

impl FromStr for SdistFilename {
    type Err = SdistFilenameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SdistFilename::parse(s)
    }
}

impl fmt::Display for SdistFilename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.filename)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> PackageName {
        s.parse().unwrap()
    }

    #[test]
    fn pep625_and_legacy() {
        let s = SdistFilename::parse("certifi-2024.8.30.tar.gz").unwrap();
        assert_eq!(
            (s.name.as_ref(), s.version.to_string(), s.format),
            ("certifi", "2024.8.30".into(), SdistFormat::TarGz)
        );
        assert_eq!(s.stem(), "certifi-2024.8.30");
        let s = SdistFilename::parse("charset-normalizer-3.3.2.tar.gz").unwrap();
        assert_eq!(s.name, name("charset_normalizer"));
        let s = SdistFilename::parse("charset_normalizer-3.3.2.tar.gz").unwrap();
        assert_eq!(s.name, name("charset-normalizer"));
        let s = SdistFilename::parse("MarkupSafe-2.1.5.zip").unwrap();
        assert_eq!((s.name, s.format), (name("markupsafe"), SdistFormat::Zip));
        let s = SdistFilename::parse("pexpect-4.9.0.tar.bz2").unwrap();
        assert_eq!(s.format, SdistFormat::TarBz2);
        let s = SdistFilename::parse("zope.interface-6.0.tar.gz").unwrap();
        assert_eq!(s.name, name("zope-interface"));
    }

    #[test]
    fn parse_for_expected_name() {
        let s = SdistFilename::parse_for("python-dateutil-2.8.2.tar.gz", &name("python_dateutil"))
            .unwrap();
        assert_eq!(s.version.to_string(), "2.8.2");
        let s = SdistFilename::parse_for("foo-1.0-1.tar.gz", &name("foo")).unwrap();
        assert_eq!(s.version, "1.0.post1".parse().unwrap());
        let err = SdistFilename::parse_for("foobar-1.0.tar.gz", &name("foo"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a distribution of foo"), "{err}");
        let err = SdistFilename::parse_for("foo-bar-1.0.tar.gz", &name("foo"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid version"), "{err}");
    }

    #[test]
    fn versions_never_match_by_prefix() {
        let s = SdistFilename::parse("foo-1.0.1.tar.gz").unwrap();
        assert!(!s.is(&name("foo"), &"1.0".parse().unwrap()));
        assert!(s.is(&name("foo"), &"1.0.1".parse().unwrap()));
        let s = SdistFilename::parse("foo-1.0.tar.gz").unwrap();
        assert!(!s.is(&name("foo"), &"1.0.1".parse().unwrap()));
        assert!(!s.is(&name("fo"), &"1.0".parse().unwrap()));
    }

    #[test]
    fn adversarial_bad_names() {
        for (f, reason) in [
            ("foo-1.0.tgz", "does not end in"),
            ("foo-1.0.tar.xz", "does not end in"),
            ("foo-1.0-py3-none-any.whl", "does not end in"),
            ("foo.tar.gz", "is not {name}-{version}"),
            ("foo-bar.tar.gz", "is not {name}-{version}"),
            ("../foo-1.0.tar.gz", "is not {name}-{version}"),
            ("foo-1.0-1.tar.gz", "ambiguous"),
            ("-1.0.tar.gz", "is not {name}-{version}"),
        ] {
            let err = SdistFilename::parse(f).unwrap_err().to_string();
            assert!(err.contains(reason) && err.contains(f), "{f}: {err}");
        }
    }
}
