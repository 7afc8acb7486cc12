//! The target's PEP 508 marker environment
//! (<https://packaging.python.org/en/latest/specifications/dependency-specifiers/#environment-markers>),
//! of a target: CPython on Linux. Marker parsing and
//! evaluation come from the `pep508_rs` crate.
//!
//! `platform_release` and `platform_version` describe the running kernel,
//! which a build machine cannot know for the machines the package will be
//! installed on; markers that use them are refused (see [`unknowable`]).

use anyhow::{bail, Context};
use pep508_rs::{MarkerEnvironment, MarkerEnvironmentBuilder, MarkerTree};

/// The marker environment of CPython `python_full_version` on Linux
/// `machine` (e.g. "x86_64").
pub fn cpython_linux(
    python_full_version: &str,
    machine: &str,
) -> anyhow::Result<MarkerEnvironment> {
    let parts: Vec<&str> = python_full_version.split('.').collect();
    if parts.len() != 3
        || !parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        bail!(
            "python version must be a full version such as \"3.11.2\", not {python_full_version:?}"
        );
    }
    let python_version = format!("{}.{}", parts[0], parts[1]);
    MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
        implementation_name: "cpython",
        implementation_version: python_full_version,
        os_name: "posix",
        platform_machine: machine,
        platform_python_implementation: "CPython",
        platform_release: "",
        platform_system: "Linux",
        platform_version: "",
        python_full_version,
        python_version: &python_version,
        sys_platform: "linux",
    })
    .with_context(|| format!("python version {python_full_version:?}"))
}

/// The marker environment of a target: CPython `python` (a full version
/// such as "3.11.2") on `platform`, a wheel platform tag such as
/// "linux_x86_64".
pub fn environment(python: &str, platform: &str) -> anyhow::Result<MarkerEnvironment> {
    let machine = platform.strip_prefix("linux_").with_context(|| {
        format!("target platform {platform:?}: only linux_<machine> targets are supported")
    })?;
    cpython_linux(python, machine)
}

/// The marker variable in `marker` whose value we cannot know for the
/// target, if any.
pub fn unknowable(marker: &MarkerTree) -> Option<&'static str> {
    let text = marker.try_to_string()?;
    ["platform_release", "platform_version"]
        .into_iter()
        .find(|key| text.contains(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pep508_rs::ExtraName;
    use std::str::FromStr;

    fn eval(marker: &str, extras: &[&str]) -> bool {
        let env = cpython_linux("3.11.2", "x86_64").unwrap();
        let extras: Vec<ExtraName> = extras
            .iter()
            .map(|e| ExtraName::from_str(e).unwrap())
            .collect();
        MarkerTree::from_str(marker)
            .unwrap()
            .evaluate(&env, &extras)
    }

    #[test]
    fn debian_12() {
        assert!(eval("python_full_version < '3.11.3'", &[]));
        assert!(!eval("python_full_version >= '3.11.3'", &[]));
        assert!(eval("python_version == '3.11'", &[]));
        assert!(!eval("python_version < '3.11'", &[]));
        assert!(eval(
            "implementation_name == 'cpython' and platform_python_implementation == 'CPython'",
            &[]
        ));
        assert!(eval(
            "sys_platform == 'linux' and platform_system == 'Linux' and os_name == 'posix'",
            &[]
        ));
        assert!(eval("platform_machine == 'x86_64'", &[]));
        assert!(!eval("sys_platform == 'win32'", &[]));
        assert!(!eval("sys_platform == 'darwin'", &[]));
        assert!(!eval("platform_python_implementation == 'PyPy'", &[]));
        assert!(eval("implementation_version >= '3.11.2'", &[]));
        assert!(!eval("extra == 'socks'", &[]));
        assert!(eval("extra == 'socks'", &["socks"]));
    }

    #[test]
    fn from_target() {
        let env = environment("3.11.2", "linux_x86_64").unwrap();
        assert!(MarkerTree::from_str(
            "python_full_version == '3.11.2' and platform_machine == 'x86_64'"
        )
        .unwrap()
        .evaluate(&env, &[]));
        assert!(environment("3.11.2", "win_amd64")
            .unwrap_err()
            .to_string()
            .contains("linux_"));
    }

    #[test]
    fn rejects_short_versions() {
        assert!(cpython_linux("3.11", "x86_64").is_err());
        assert!(cpython_linux("3.11.x", "x86_64").is_err());
    }

    #[test]
    fn kernel_markers_are_unknowable() {
        let m = MarkerTree::from_str("platform_release >= '5'").unwrap();
        assert_eq!(unknowable(&m), Some("platform_release"));
        assert_eq!(
            unknowable(&MarkerTree::from_str("python_version >= '3'").unwrap()),
            None
        );
    }
}
