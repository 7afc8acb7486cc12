//! Platform compatibility tags (<https://packaging.python.org/en/latest/specifications/platform-compatibility-tags/>):
//! the tags a CPython interpreter on Linux accepts, in the order of
//! preference that `packaging.tags.sys_tags()` (what pip uses) produces,
//! and the choice of the best wheel among several.
//!
//! For CPython 3.11 on x86_64 with glibc 2.36 that is: `cp311-cp311-*`,
//! `cp311-abi3-*`, `cp311-none-*`, `cp310-abi3-*` … `cp32-abi3-*`, then
//! `py311-none-*`, `py3-none-*`, `py310-none-*` … `py30-none-*`, then
//! `cp311-none-any`, `py311-none-any`, `py3-none-any`, `py310-none-any` …
//! `py30-none-any`; where `*` runs through `manylinux_2_36_x86_64` down to
//! `manylinux_2_5_x86_64` (with the legacy aliases `manylinux2014`,
//! `manylinux2010`, `manylinux1` right after their glibc version), then
//! `linux_x86_64`.
//!
//! Not supported: other interpreters than CPython, other operating systems
//! than glibc Linux, musllinux, free-threaded builds.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{bail, Context};

use crate::wheel_filename::WheelFilename;

/// One `python-abi-platform` triple.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tag {
    pub python: String,
    pub abi: String,
    pub platform: String,
}

impl Tag {
    pub fn new(python: &str, abi: &str, platform: &str) -> Tag {
        Tag {
            python: python.to_owned(),
            abi: abi.to_owned(),
            platform: platform.to_owned(),
        }
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.python, self.abi, self.platform)
    }
}

/// The tags a target accepts, best first.
#[derive(Debug, Clone)]
pub struct CompatibleTags {
    ordered: Vec<Tag>,
    priority: BTreeMap<Tag, usize>,
}

/// The newest minor version packaging assumes for a past glibc major.
const LAST_UNKNOWN_GLIBC_MINOR: u32 = 50;

impl CompatibleTags {
    /// The tags of CPython `major.minor` on glibc Linux for `arch` (e.g.
    /// `x86_64`). With `glibc` (e.g. `(2, 36)`) the manylinux tags are
    /// included; without it only `linux_<arch>` and `any`.
    pub fn cpython_linux(
        python: (u32, u32),
        arch: &str,
        glibc: Option<(u32, u32)>,
    ) -> CompatibleTags {
        let (major, minor) = python;
        let mut platforms = Vec::new();
        if let Some((gmajor, gminor)) = glibc {
            // Oldest glibc that manylinux supports: 2.5 on x86, 2.17 elsewhere.
            let oldest = if arch == "x86_64" || arch == "i686" {
                (2, 5)
            } else {
                (2, 17)
            };
            for m in (oldest.0..=gmajor).rev() {
                // packaging assumes minor 50 for a past major it does not know.
                let max_minor = if m == gmajor {
                    gminor
                } else {
                    LAST_UNKNOWN_GLIBC_MINOR
                };
                let min_minor = if m == oldest.0 { oldest.1 } else { 0 };
                for n in (min_minor..=max_minor).rev() {
                    platforms.push(format!("manylinux_{m}_{n}_{arch}"));
                    let legacy = match (m, n) {
                        (2, 17) => Some("manylinux2014"),
                        (2, 12) => Some("manylinux2010"),
                        (2, 5) => Some("manylinux1"),
                        _ => None,
                    };
                    if let Some(legacy) = legacy {
                        platforms.push(format!("{legacy}_{arch}"));
                    }
                }
            }
        }
        platforms.push(format!("linux_{arch}"));

        let cp = format!("cp{major}{minor}");
        let mut ordered = Vec::new();
        for abi in [cp.as_str(), "abi3", "none"] {
            if abi == "abi3" && !(major == 3 && minor >= 2) {
                continue;
            }
            for p in &platforms {
                ordered.push(Tag::new(&cp, abi, p));
            }
        }
        if major == 3 && minor >= 2 {
            for older in (2..minor).rev() {
                for p in &platforms {
                    ordered.push(Tag::new(&format!("cp{major}{older}"), "abi3", p));
                }
            }
        }
        let mut py_versions = vec![format!("py{major}{minor}"), format!("py{major}")];
        py_versions.extend((0..minor).rev().map(|m| format!("py{major}{m}")));
        for py in &py_versions {
            for p in &platforms {
                ordered.push(Tag::new(py, "none", p));
            }
        }
        ordered.push(Tag::new(&cp, "none", "any"));
        for py in &py_versions {
            ordered.push(Tag::new(py, "none", "any"));
        }
        let mut priority = BTreeMap::new();
        for (i, tag) in ordered.iter().enumerate() {
            priority.entry(tag.clone()).or_insert(i);
        }
        CompatibleTags { ordered, priority }
    }

    /// The tags for the configured target: `python` like "3.11.2" and
    /// `platform` like "linux_x86_64".
    pub fn for_target(
        python: &str,
        platform: &str,
        glibc: Option<(u32, u32)>,
    ) -> anyhow::Result<CompatibleTags> {
        let mut parts = python.split('.').map(str::parse::<u32>);
        let (Some(Ok(major)), Some(Ok(minor))) = (parts.next(), parts.next()) else {
            bail!("target python {python:?} is not a version like 3.11.2");
        };
        let arch = platform.strip_prefix("linux_").with_context(|| {
            format!("target platform {platform:?} is not supported (only linux_<arch>)")
        })?;
        Ok(CompatibleTags::cpython_linux((major, minor), arch, glibc))
    }

    /// Every accepted tag, best first.
    pub fn ordered(&self) -> &[Tag] {
        &self.ordered
    }

    /// The rank of `tag` (0 is best), or `None` when it is not accepted.
    pub fn priority_of(&self, tag: &Tag) -> Option<usize> {
        self.priority.get(tag).copied()
    }

    /// The best rank among a wheel's tags, or `None` when the target cannot
    /// install it.
    pub fn priority(&self, wheel: &WheelFilename) -> Option<usize> {
        wheel.tags().filter_map(|t| self.priority_of(&t)).min()
    }

    pub fn is_compatible(&self, wheel: &WheelFilename) -> bool {
        self.priority(wheel).is_some()
    }

    /// The wheel pip would choose: the best tag rank, then the highest build
    /// tag, then the file name (so the choice never depends on input order).
    pub fn best<'a>(
        &self,
        wheels: impl IntoIterator<Item = &'a WheelFilename>,
    ) -> Option<&'a WheelFilename> {
        wheels
            .into_iter()
            .filter_map(|w| self.priority(w).map(|p| (p, w)))
            .min_by(|(pa, a), (pb, b)| {
                pa.cmp(pb)
                    .then_with(|| b.cmp_build(a))
                    .then_with(|| a.filename().cmp(b.filename()))
            })
            .map(|(_, w)| w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wheel(s: &str) -> WheelFilename {
        s.parse().unwrap()
    }

    #[test]
    fn cpython311_x86_64_shape() {
        let tags = CompatibleTags::cpython_linux((3, 11), "x86_64", Some((2, 36)));
        let s: Vec<String> = tags.ordered().iter().map(Tag::to_string).collect();
        assert_eq!(s[0], "cp311-cp311-manylinux_2_36_x86_64");
        assert!(s.contains(&"cp311-cp311-manylinux_2_17_x86_64".to_owned()));
        assert!(s.contains(&"cp311-cp311-manylinux2014_x86_64".to_owned()));
        assert!(s.contains(&"cp32-abi3-linux_x86_64".to_owned()));
        assert!(!s.contains(&"cp31-abi3-linux_x86_64".to_owned()));
        assert!(!s.contains(&"cp312-cp312-linux_x86_64".to_owned()));
        assert_eq!(s.last().unwrap(), "py30-none-any");
        let rank = |t: &str| s.iter().position(|x| x == t).unwrap();
        assert!(rank("cp311-cp311-linux_x86_64") < rank("cp311-abi3-manylinux_2_36_x86_64"));
        assert!(rank("cp310-abi3-linux_x86_64") < rank("py3-none-manylinux1_x86_64"));
        assert!(rank("cp311-none-any") < rank("py311-none-any"));
        assert!(rank("py311-none-any") < rank("py3-none-any"));
        assert!(rank("py3-none-any") < rank("py310-none-any"));
    }

    #[test]
    fn same_order_as_pip() {
        // packaging (vendored in pip) with glibc pinned to 2.36: the exact
        // list pip on Debian 12 amd64 uses.
        let script = r#"
from pip._vendor.packaging import tags, _manylinux
_manylinux._get_glibc_version = lambda: (2, 36)
_manylinux._have_compatible_abi = lambda *a: True
plats = list(_manylinux.platform_tags("linux_x86_64", "x86_64")) + ["linux_x86_64"]
for t in list(tags.cpython_tags((3, 11), ["cp311"], plats)) + list(tags.compatible_tags((3, 11), "cp311", plats)):
    print(t)
"#;
        let sh = xshell::Shell::new().unwrap();
        let out = xshell::cmd!(sh, "/usr/bin/python3 -c {script}")
            .read()
            .unwrap();
        let pip: Vec<&str> = out.lines().collect();
        let ours = CompatibleTags::cpython_linux((3, 11), "x86_64", Some((2, 36)));
        let ours: Vec<String> = ours.ordered().iter().map(Tag::to_string).collect();
        assert_eq!(ours, pip);
    }

    #[test]
    fn best_wheel() {
        let tags = CompatibleTags::for_target("3.11.2", "linux_x86_64", Some((2, 36))).unwrap();
        let ws = [
            wheel("m-1.0-py3-none-any.whl"),
            wheel("m-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
            wheel("m-1.0-cp311-cp311-linux_x86_64.whl"),
            wheel("m-1.0-cp312-cp312-manylinux_2_36_x86_64.whl"),
            wheel("m-1.0-cp311-cp311-manylinux_2_38_x86_64.whl"),
            wheel("m-1.0-cp311-cp311-win_amd64.whl"),
        ];
        assert_eq!(
            tags.best(&ws).unwrap().filename(),
            "m-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
        );
        assert_eq!(
            tags.best(&ws[2..]).unwrap().filename(),
            "m-1.0-cp311-cp311-linux_x86_64.whl"
        );
        assert!(tags.best(&ws[3..]).is_none());
        let builds = [
            wheel("m-1.0-1-py3-none-any.whl"),
            wheel("m-1.0-2-py3-none-any.whl"),
            wheel("m-1.0-py3-none-any.whl"),
        ];
        assert_eq!(
            tags.best(&builds).unwrap().filename(),
            "m-1.0-2-py3-none-any.whl"
        );
        // Without glibc, only linux_x86_64 and pure wheels.
        let plain = CompatibleTags::for_target("3.11.2", "linux_x86_64", None).unwrap();
        assert!(!plain.is_compatible(&ws[1]));
        assert!(plain.is_compatible(&ws[2]));
        assert!(plain.is_compatible(&wheel("six-1.16.0-py2.py3-none-any.whl")));
        assert!(plain.is_compatible(&wheel("x-1-cp38-abi3-linux_x86_64.whl")));
        assert!(!plain.is_compatible(&wheel("x-1-cp38-cp38-linux_x86_64.whl")));
    }

    #[test]
    fn adversarial_unsupported_targets() {
        let err = CompatibleTags::for_target("3.11.2", "win_amd64", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("win_amd64"), "{err}");
        let err = CompatibleTags::for_target("three", "linux_x86_64", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("three"), "{err}");
    }
}
