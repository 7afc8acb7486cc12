//! `debian/control` as pinwheel reads it: the source stanza and one binary
//! stanza per application (Debian Policy 5.2–5.3), parsed with
//! `deb822-fast`, and the check that it and `packaging/pinwheel.toml`
//! agree: every configured application has a binary package, every binary
//! package is a configured application, the source names match, and each
//! application's `depends` are in its `Depends`. `update-deps --check`,
//! `build-deb` and `add-app` run it.

use std::path::Path;
use std::str::FromStr;

use anyhow::{bail, Context};

use crate::config::Config;

/// Where the control file lives, relative to the repository root.
pub const CONTROL: &str = "debian/control";

/// One binary package stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binary {
    pub package: String,
    /// The package names its `Depends` field names (versions, alternatives
    /// after the first and substitution variables dropped).
    pub depends: Vec<String>,
}

/// The parts of debian/control pinwheel uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Control {
    pub source: String,
    pub binaries: Vec<Binary>,
}

impl Control {
    /// Parses control text; `label` names the file in errors.
    pub fn parse(text: &str, label: &str) -> anyhow::Result<Control> {
        let doc = deb822_fast::Deb822::from_str(text)
            .map_err(|err| anyhow::anyhow!("{label}: not a deb822 control file: {err}"))?;
        let mut stanzas = doc.iter();
        let source = stanzas
            .next()
            .and_then(|p| p.get("Source"))
            .with_context(|| format!("{label}: the first stanza has no Source field"))?
            .trim()
            .to_owned();
        let mut binaries = Vec::new();
        for stanza in stanzas {
            let package = stanza
                .get("Package")
                .with_context(|| format!("{label}: a binary stanza has no Package field"))?
                .trim()
                .to_owned();
            if binaries.iter().any(|b: &Binary| b.package == package) {
                bail!("{label}: binary package {package} is listed twice");
            }
            let depends = stanza
                .get("Depends")
                .map(relation_names)
                .unwrap_or_default();
            binaries.push(Binary { package, depends });
        }
        Ok(Control { source, binaries })
    }

    /// Reads `debian/control` under `root`.
    pub fn read(root: &Path) -> anyhow::Result<Control> {
        let text = fs_err::read_to_string(root.join(CONTROL))?;
        Control::parse(&text, CONTROL)
    }

    /// The binary package called `name`.
    pub fn binary(&self, name: &str) -> Option<&Binary> {
        self.binaries.iter().find(|b| b.package == name)
    }
}

/// The package names of a relationship field (Debian Policy 7.1): the first
/// of each `a | b` alternative, without versions or architecture
/// qualifiers; `${…}` substitution variables skipped.
pub fn relation_names(field: &str) -> Vec<String> {
    field
        .split(',')
        .filter_map(|relation| {
            let first = relation.split('|').next()?.trim();
            let name: String = first
                .chars()
                .take_while(|c| !c.is_whitespace() && !"([<:".contains(*c))
                .collect();
            (!name.is_empty() && !name.starts_with('$')).then_some(name)
        })
        .collect()
}

/// Every way `control` and `config` disagree, one line each naming the
/// file and the package; empty when they agree.
pub fn disagreements(config: &Config, control: &Control) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(source) = &config.debian.source {
        if &control.source != source {
            out.push(format!(
                "{CONTROL}: Source is {:?} but packaging/pinwheel.toml says [debian] source = {source:?}",
                control.source
            ));
        }
    }
    for (name, app) in &config.apps {
        let Some(binary) = control.binary(name) else {
            out.push(format!(
                "{CONTROL}: no binary package {name}, which packaging/pinwheel.toml configures (add its stanza, as `cargo xtask add-app` writes it)"
            ));
            continue;
        };
        for dep in &app.depends {
            if !binary.depends.contains(dep) {
                out.push(format!(
                    "{CONTROL}: package {name}'s Depends lacks {dep}, which packaging/pinwheel.toml lists in apps.{name}.depends"
                ));
            }
        }
    }
    for binary in &control.binaries {
        if !config.apps.contains_key(&binary.package) {
            out.push(format!(
                "{CONTROL}: binary package {} is not an application in packaging/pinwheel.toml (add it with `cargo xtask add-app`, or remove its stanza)",
                binary.package
            ));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Fails (exit 1: the files were read and they disagree) with the first
/// disagreement, and how many more there are.
pub fn check(config: &Config) -> anyhow::Result<Control> {
    let control = Control::read(&config.root)?;
    let found = disagreements(config, &control);
    match found.as_slice() {
        [] => Ok(control),
        [one] => Err(pinwheel_trust::failure::refused(one.clone())),
        [first, rest @ ..] => Err(pinwheel_trust::failure::refused(format!(
            "{first} (and {} more: {})",
            rest.len(),
            rest.join("; ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTROL_TEXT: &str = "Source: pinwheel-demo
Section: utils
Build-Depends: debhelper-compat (= 13),
               python3,

Package: pinwheel-demo
Architecture: any
Depends: ${pinwheel:Depends}, ${misc:Depends}
Description: demo
 Long.

Package: pinwheel-apt-demo
Architecture: any
Depends: ${pinwheel:Depends}, python3-apt (>= 2.6) | python3-apt-dbg, libc6:any
Description: apt demo
 Long.
";

    #[test]
    fn parses_source_and_binaries() {
        let control = Control::parse(CONTROL_TEXT, "debian/control").unwrap();
        assert_eq!(control.source, "pinwheel-demo");
        assert_eq!(
            control
                .binaries
                .iter()
                .map(|b| b.package.as_str())
                .collect::<Vec<_>>(),
            ["pinwheel-demo", "pinwheel-apt-demo"]
        );
        assert_eq!(
            control.binary("pinwheel-apt-demo").unwrap().depends,
            ["python3-apt", "libc6"]
        );
    }

    #[test]
    fn adversarial_malformed_control() {
        let err = Control::parse("Package: x\n", "debian/control").unwrap_err();
        assert!(format!("{err:#}").contains("no Source field"), "{err:#}");
        let twice = format!("{CONTROL_TEXT}\nPackage: pinwheel-demo\nDescription: again\n");
        let err = Control::parse(&twice, "debian/control").unwrap_err();
        assert!(format!("{err:#}").contains("listed twice"), "{err:#}");
    }
}
