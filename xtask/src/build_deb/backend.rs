//! The sdist's build backend for the package build: which wheels of the
//! verified list `debian/rules` installs (hash-pinned, in a throwaway venv)
//! to turn the application's sdist into a wheel.

use std::collections::BTreeMap;

use anyhow::{bail, Context};

use super::stage;
use crate::config::{Config, Target};
use pinwheel_trust::hash::Sha256;

/// The wheels of the sdist's build backend: `[build-system] requires`
/// closed over the backends' own `Requires-Dist` (markers evaluated for
/// `target`), each met by the newest compatible wheel in the verified list —
/// the build-wheels planner ([`crate::build_wheels::plan`]) run over our
/// index. `Requires-Dist` comes from each wheel's PEP 658 `.metadata`
/// sidecar, which the list also pins.
pub fn backend_pins(
    config: &Config,
    app: &str,
    target: &Target,
    list: &BTreeMap<String, Sha256>,
) -> anyhow::Result<Vec<stage::BackendPin>> {
    use crate::build_wheels::plan::{requires_dist, BuildSet, Member, Needs};
    use pinwheel_pypa::wheel_filename::WheelFilename;

    let pyproject_path = config.abs(&config.app(app)?.pyproject);
    let text = fs_err::read_to_string(&pyproject_path)?;
    let value: toml::Table = toml::from_str(&text).map_err(|err| {
        anyhow::anyhow!(
            "{}: {}",
            pyproject_path.display(),
            crate::config::one_line(&err.to_string())
        )
    })?;
    let requires = value
        .get("build-system")
        .and_then(|b| b.get("requires"))
        .and_then(|r| r.as_array())
        .with_context(|| format!("{}: no [build-system] requires", pyproject_path.display()))?;
    let requires: Vec<pep508_rs::Requirement> = requires
        .iter()
        .map(|r| {
            let r = r.as_str().with_context(|| {
                format!(
                    "{}: build-system.requires holds a non-string",
                    pyproject_path.display()
                )
            })?;
            r.parse().map_err(|err| {
                anyhow::anyhow!(
                    "{}: build requirement {r:?}: {err}",
                    pyproject_path.display()
                )
            })
        })
        .collect::<anyhow::Result<_>>()?;

    // The newest compatible wheel of each project in the verified list.
    let tags =
        pinwheel_pypa::tags::CompatibleTags::for_target(&target.python, target.platform(), None)?;
    let mut newest: BTreeMap<pep508_rs::PackageName, (WheelFilename, String, Sha256)> =
        BTreeMap::new();
    for (path, sha) in list {
        let Some(wheel) = path
            .strip_prefix("files/")
            .and_then(|f| f.parse::<WheelFilename>().ok())
        else {
            continue;
        };
        if !tags.is_compatible(&wheel) {
            continue;
        }
        let better = newest
            .get(&wheel.name)
            .is_none_or(|(w, _, _)| wheel.version > w.version);
        if better {
            newest.insert(wheel.name.clone(), (wheel, path.clone(), *sha));
        }
    }
    let mut set = BuildSet::default();
    for (name, (wheel, path, _)) in &newest {
        let sidecar = format!("{path}.metadata");
        let runtime = if list.contains_key(&sidecar) {
            let metadata = fs_err::read_to_string(config.root.join("wheels-index").join(&sidecar))?;
            requires_dist(&metadata)
                .iter()
                .map(|r| {
                    r.parse().map_err(|err| {
                        anyhow::anyhow!("wheels-index/{sidecar}: Requires-Dist {r:?}: {err}")
                    })
                })
                .collect::<anyhow::Result<Vec<pep508_rs::Requirement>>>()?
        } else {
            Vec::new()
        };
        set.members.insert(
            name.clone(),
            Member {
                version: wheel.version.clone(),
                runtime: Some(runtime),
            },
        );
    }
    let env = target.marker_environment()?;
    let closure = match set.needs(&requires, &env) {
        Ok(Needs::Ready(closure)) => closure,
        Ok(Needs::Waiting(waiting)) => bail!("build backend wheels without metadata: {waiting:?}"),
        Err(unmet) => bail!(
            "{}: {unmet}: no wheel for it in the verified list; add it to the bootstrap set and run `cargo xtask build-wheels`",
            pyproject_path.display()
        ),
    };
    Ok(closure
        .iter()
        .filter_map(|name| newest.get(name))
        .map(|(wheel, path, sha)| stage::BackendPin {
            name: wheel.name.to_string(),
            version: wheel.version.to_string(),
            file: stage::ListedFile {
                path: path.clone(),
                sha256: *sha,
            },
        })
        .collect())
}
