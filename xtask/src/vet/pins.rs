//! What `vet` must vet: every sdist pinned for every application on every
//! target it ships to (`requirements/<app>/<target>/requirements.txt`),
//! and the sdists of the build backends (`packaging/bootstrap/uv.lock`,
//! for each target's markers): backends run code at build time and write
//! the wheels that ship. A pin with several accepted sdist hashes is one
//! node per hash: pip would install any of them, so each must be vetted.

use std::collections::{BTreeMap, BTreeSet};

use pep440_rs::Version;
use pep508_rs::PackageName;

use crate::build_wheels::inputs;
use crate::config::Config;
use pinwheel_trust::hash::Sha256;
use pinwheel_vet::{Consumer, Node};

/// One pinned sdist and where it is pinned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    pub name: PackageName,
    pub version: Version,
    pub sha256: Sha256,
    /// Who pins it, with the targets on which they do.
    pub users: BTreeMap<Consumer, BTreeSet<String>>,
}

/// Every pinned sdist, sorted by name, version, sha256.
pub fn collect(config: &Config) -> anyhow::Result<Vec<Pinned>> {
    let mut all: BTreeMap<(PackageName, Version, Sha256), BTreeMap<Consumer, BTreeSet<String>>> =
        BTreeMap::new();
    let mut add = |pin: inputs::Pin, user: Consumer, target: &str| {
        for sha in &pin.sha256 {
            all.entry((pin.name.clone(), pin.version.clone(), *sha))
                .or_default()
                .entry(user.clone())
                .or_default()
                .insert(target.to_owned());
        }
    };
    for target in config.targets.values() {
        for pin in inputs::bootstrap_pins(config, target)? {
            add(pin, Consumer::BuildBackends, &target.name);
        }
    }
    for (name, app) in &config.apps {
        for target in config.targets_of(app) {
            let (_, pins) = inputs::app_pins(config, name, target)?;
            for pin in pins {
                add(pin, Consumer::App(name.clone()), &target.name);
            }
        }
    }
    Ok(all
        .into_iter()
        .map(|((name, version, sha256), users)| Pinned {
            name,
            version,
            sha256,
            users,
        })
        .collect())
}

/// "pinwheel-demo (bookworm, trixie); build backends (bookworm)".
pub fn describe_users(users: &BTreeMap<Consumer, BTreeSet<String>>) -> String {
    users
        .iter()
        .map(|(user, targets)| {
            let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
            format!("{user} ({})", targets.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl Pinned {
    pub fn node(&self) -> Node {
        Node {
            name: self.name.clone(),
            version: self.version.clone(),
            sha256: self.sha256,
        }
    }
}

/// The pins as the decision takes them: each with the union of its
/// consumers' required criteria (`config.toml`'s policies).
pub fn for_decision(config: &pinwheel_vet::VetConfig, pinned: &[Pinned]) -> Vec<pinwheel_vet::Pin> {
    pinwheel_vet::pins(
        config,
        pinned.iter().flat_map(|p| {
            p.users
                .keys()
                .map(move |consumer| (p.node(), consumer.clone()))
        }),
    )
}
