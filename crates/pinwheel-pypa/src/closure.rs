//! The production closure of a lock for the target environment: the
//! packages `pip install` would put on the target, and the files of each
//! that we pin.
//!
//! Production means the project's main dependencies, plus the extras and
//! dependency groups the application selects ([`Request`]; none by
//! default), plus pylock.toml's `default-groups`. PEP 508 markers are
//! evaluated against the target's full marker environment (`markers.rs`),
//! with the extras requested along each edge, and PEP 751's `extras` and
//! `dependency_groups` with the selection; names are PEP 503-normalized by
//! `pep508_rs::PackageName`. uv.lock and Poetry 1.x locks are walked from
//! the project's own dependencies; poetry.lock 2.x, pylock.toml and
//! requirements.txt record per package when it is installed, and poetry's
//! dependency edges are checked against the result.
//!
//! A lock that does not cover the target — its `requires-python`, or the
//! environments it was resolved for (uv's `supported-markers` or
//! `resolution-markers`, pylock's `environments`) — is refused (exit 1)
//! before anything is selected: pinning it would silently drop what only
//! the target needs.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use anyhow::bail;
use pep508_rs::{ExtraName, MarkerEnvironment, MarkerTree, PackageName};
use pinwheel_trust::failure;

use crate::lockfile::{
    marker_text, Dependency, Environments, GroupName, Lock, Package, Selection, Uses, MAIN,
};
use crate::requirements_txt::{Pin, PinnedFile};

/// The extras and dependency groups selected beyond the main
/// dependencies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub extras: BTreeSet<ExtraName>,
    pub groups: BTreeSet<GroupName>,
}

/// The packages the target installs, sorted by name.
pub fn production(
    lock: &Lock,
    env: &MarkerEnvironment,
    request: &Request,
) -> anyhow::Result<Vec<Package>> {
    Ok(selected(lock, env, request)?
        .into_iter()
        .map(|i| lock.packages[i].clone())
        .collect())
}

/// [`production`], moving the packages out of the lock.
pub fn into_production(
    lock: Lock,
    env: &MarkerEnvironment,
    request: &Request,
) -> anyhow::Result<Vec<Package>> {
    let chosen = selected(&lock, env, request)?;
    let mut packages: Vec<Option<Package>> = lock.packages.into_iter().map(Some).collect();
    Ok(chosen
        .into_iter()
        .filter_map(|i| packages[i].take())
        .collect())
}

/// Indices into `lock.packages` of the packages the target installs, in
/// the lock's order (by name); one version per name.
pub fn selected(
    lock: &Lock,
    env: &MarkerEnvironment,
    request: &Request,
) -> anyhow::Result<Vec<usize>> {
    covers_target(lock, env)?;
    check_request(&lock.uses, request)?;
    let extras: Vec<ExtraName> = request.extras.iter().cloned().collect();
    let mut chosen = match &lock.selection {
        Selection::Walk {
            project,
            roots,
            extras: by_extra,
            groups: by_group,
        } => {
            let mut all: Vec<&Dependency> = roots.iter().collect();
            for extra in &request.extras {
                all.extend(by_extra.get(extra).into_iter().flatten());
            }
            for group in &request.groups {
                all.extend(by_group.get(group).into_iter().flatten());
            }
            walk(lock, env, project, &all, &extras)?
        }
        Selection::Markers => by_markers(lock, env, request)?,
        Selection::NeedsPyproject => bail!(
            "a {} from Poetry 1.x does not record the project's own dependencies: \
             its pyproject.toml is needed",
            lock.format
        ),
    };
    chosen.sort_unstable();
    for pair in chosen.windows(2) {
        let (a, b) = (&lock.packages[pair[0]], &lock.packages[pair[1]]);
        if a.name == b.name {
            bail!(
                "two versions of {} apply to the target ({} and {}); the lock is inconsistent",
                a.name,
                a.version,
                b.version
            );
        }
    }
    Ok(chosen)
}

/// Refuses a lock made for other Pythons or other platforms than the
/// target.
fn covers_target(lock: &Lock, env: &MarkerEnvironment) -> anyhow::Result<()> {
    if let Some(requires) = &lock.requires_python {
        let python = &env.python_full_version().version;
        if !requires.contains(python) {
            return Err(failure::refused(format!(
                "the lock is for Python {requires}, and the target runs {python}"
            )));
        }
    }
    if let Some(Environments { key, markers }) = &lock.environments {
        if !markers.iter().any(|m| m.evaluate(env, &[])) {
            let covered: Vec<String> = markers.iter().map(marker_text).collect();
            return Err(failure::refused(format!(
                "the lock was resolved only for {} ({key}), and the target ({}) is none of them; \
                 re-lock for the target",
                covered
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                target_text(env)
            )));
        }
    }
    Ok(())
}

/// "CPython 3.11.2 on linux x86_64".
fn target_text(env: &MarkerEnvironment) -> String {
    format!(
        "{} {} on {} {}",
        env.platform_python_implementation(),
        env.python_full_version().version,
        env.sys_platform(),
        env.platform_machine()
    )
}

/// Every selected extra and group must be one the lock offers.
fn check_request(uses: &Uses, request: &Request) -> anyhow::Result<()> {
    fn list<T: std::fmt::Display>(items: &BTreeSet<T>) -> String {
        if items.is_empty() {
            return "none".to_owned();
        }
        items
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
    if let Some(extra) = request.extras.iter().find(|e| !uses.extras.contains(e)) {
        bail!(
            "the lock has no extra {:?} (its extras: {})",
            extra.to_string(),
            list(&uses.extras)
        );
    }
    if let Some(group) = request.groups.iter().find(|g| !uses.groups.contains(g)) {
        bail!(
            "the lock has no dependency group {:?} (its groups: {})",
            group.to_string(),
            list(&uses.groups)
        );
    }
    Ok(())
}

fn evaluate(
    marker: &MarkerTree,
    env: &MarkerEnvironment,
    extras: &[ExtraName],
    what: &dyn Fn() -> String,
) -> anyhow::Result<bool> {
    if marker.is_true() {
        return Ok(true);
    }
    if let Some(key) = crate::markers::unknowable(marker) {
        bail!(
            "{}: marker {:?} uses {key}, which is not known for the target",
            what(),
            marker_text(marker)
        );
    }
    Ok(marker.evaluate(env, extras))
}

/// uv.lock, Poetry 1.x: breadth-first from the project's dependencies
/// (`project_extras` are the project's selected extras), following extras;
/// each package's base dependencies once, each extra's once.
fn walk(
    lock: &Lock,
    env: &MarkerEnvironment,
    project: &PackageName,
    roots: &[&Dependency],
    project_extras: &[ExtraName],
) -> anyhow::Result<Vec<usize>> {
    let mut active: BTreeMap<usize, BTreeSet<ExtraName>> = BTreeMap::new();
    let mut queue: VecDeque<(usize, Option<ExtraName>)> = VecDeque::new();
    let edge = |dep: &Dependency,
                parent: &str,
                extras: &[ExtraName],
                active: &mut BTreeMap<usize, BTreeSet<ExtraName>>,
                queue: &mut VecDeque<(usize, Option<ExtraName>)>|
     -> anyhow::Result<()> {
        if !evaluate(&dep.marker, env, extras, &|| {
            format!("{parent} -> {}", dep.name)
        })? {
            return Ok(());
        }
        let i = resolve(lock, dep, parent)?;
        let enabled = active.entry(i).or_insert_with(|| {
            queue.push_back((i, None));
            BTreeSet::new()
        });
        for extra in &dep.extras {
            if enabled.insert(extra.clone()) {
                queue.push_back((i, Some(extra.clone())));
            }
        }
        Ok(())
    };
    for dep in roots {
        edge(
            dep,
            project.as_ref(),
            project_extras,
            &mut active,
            &mut queue,
        )?;
    }
    while let Some((i, extra)) = queue.pop_front() {
        let package = &lock.packages[i];
        let extras: Vec<ExtraName> = active[&i].iter().cloned().collect();
        let deps = match &extra {
            None => package.dependencies.as_slice(),
            Some(e) => package
                .optional_dependencies
                .get(e)
                .map(Vec::as_slice)
                .unwrap_or_default(),
        };
        let parent = package.to_string();
        for dep in deps {
            edge(dep, &parent, &extras, &mut active, &mut queue)?;
        }
    }
    Ok(active.into_keys().collect())
}

/// The package an edge leads to: by name, then by the version and source
/// the edge names.
fn resolve(lock: &Lock, dep: &Dependency, parent: &str) -> anyhow::Result<usize> {
    let start = lock.packages.partition_point(|p| p.name < dep.name);
    let end = lock.packages.partition_point(|p| p.name <= dep.name);
    let candidates: Vec<usize> = (start..end)
        .filter(|&i| {
            dep.version
                .as_ref()
                .is_none_or(|v| *v == lock.packages[i].version)
        })
        .filter(|&i| dep.source.is_none() || dep.source == lock.packages[i].source)
        .collect();
    // Poetry 1.x edges name no version, only a constraint.
    let candidates = if candidates.len() > 1 && !dep.allowed.is_empty() {
        candidates
            .into_iter()
            .filter(|&i| {
                dep.allowed
                    .iter()
                    .any(|s| s.contains(&lock.packages[i].version))
            })
            .collect()
    } else {
        candidates
    };
    match candidates.as_slice() {
        [i] => Ok(*i),
        [] => {
            let version = dep
                .version
                .as_ref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default();
            bail!(
                "{parent} depends on {}{version}, which is missing from the lock",
                dep.name
            )
        }
        many => {
            let versions: Vec<String> = many
                .iter()
                .map(|&i| lock.packages[i].version.to_string())
                .collect();
            bail!(
                "{parent} depends on {}, which the lock holds several times ({}) without saying which",
                dep.name,
                versions.join(", ")
            )
        }
    }
}

/// poetry.lock, pylock.toml, requirements.txt: the packages whose marker
/// holds for "main" or a selected group (pylock.toml: whose marker holds
/// with `extras` and `dependency_groups` set to the selection); then every
/// unconditional dependency edge of those must lead to one of them.
fn by_markers(
    lock: &Lock,
    env: &MarkerEnvironment,
    request: &Request,
) -> anyhow::Result<Vec<usize>> {
    let extras: Vec<ExtraName> = request.extras.iter().cloned().collect();
    let dependency_groups: BTreeSet<GroupName> = lock
        .uses
        .default_groups
        .iter()
        .chain(&request.groups)
        .cloned()
        .collect();
    let wanted = |group: &String| {
        group == MAIN || request.groups.iter().any(|g| g.as_ref() == group.as_str())
    };
    let mut selected = Vec::new();
    for (i, p) in lock.packages.iter().enumerate() {
        let mut installed = false;
        if let Some(lock_marker) = &p.lock_marker {
            let marker = lock_marker.resolve(&request.extras, &dependency_groups);
            installed = evaluate(&marker, env, &extras, &|| p.to_string())?;
        } else {
            for (_, marker) in p.groups.iter().filter(|(g, _)| wanted(g)) {
                if evaluate(marker, env, &extras, &|| p.to_string())? {
                    installed = true;
                    break;
                }
            }
        }
        if installed {
            selected.push(i);
        }
    }
    let names: BTreeSet<&PackageName> = selected.iter().map(|&i| &lock.packages[i].name).collect();
    for &i in &selected {
        let p = &lock.packages[i];
        for dep in p
            .dependencies
            .iter()
            .filter(|d| !d.optional && !d.unevaluated)
        {
            if !evaluate(&dep.marker, env, &[], &|| format!("{p} -> {}", dep.name))?
                || names.contains(&dep.name)
            {
                continue;
            }
            if lock.packages.iter().any(|q| q.name == dep.name) {
                bail!("{p} depends on {}, which the lock does not install for the target's main group", dep.name);
            }
            bail!(
                "{p} depends on {}, which is missing from the lock",
                dep.name
            );
        }
    }
    Ok(selected)
}

/// What to pin for each package: its sdists; for a package without one
/// that `wheel_only` allows, its upstream wheels. A package without an
/// sdist that is not allowed is an error naming it and the two ways out;
/// `how_to_allow` says how this command allows one.
pub fn pins(
    packages: &[Package],
    wheel_only: &BTreeSet<PackageName>,
    how_to_allow: &str,
) -> anyhow::Result<Vec<Pin>> {
    let mut pins = Vec::new();
    let mut missing = Vec::new();
    for p in packages {
        if !p.unclassified.is_empty() {
            bail!(
                "{p}: the lock does not say which of its files is the sdist (look them up first)"
            );
        }
        let (files, wheel_only) = if !p.sdists.is_empty() {
            (&p.sdists, false)
        } else if wheel_only.contains(&p.name) && !p.wheels.is_empty() {
            (&p.wheels, true)
        } else {
            missing.push(p.to_string());
            continue;
        };
        let mut files: Vec<PinnedFile> = files
            .iter()
            .map(|a| PinnedFile {
                sha256: a.sha256,
                filename: Some(a.filename.clone()),
            })
            .collect();
        files.sort();
        files.dedup_by(|a, b| a.sha256 == b.sha256);
        if !wheel_only {
            for f in &mut files {
                f.filename = None;
            }
        }
        pins.push(Pin {
            name: p.name.clone(),
            version: p.version.clone(),
            files,
            wheel_only,
        });
    }
    if !missing.is_empty() {
        bail!(
            "no sdist in the lock for {}: pin a version that publishes an sdist, or allow the package as wheel-only ({how_to_allow})",
            missing.join(", ")
        );
    }
    Ok(pins)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lockfile::{self, Format};

    fn env() -> MarkerEnvironment {
        crate::markers::cpython_linux("3.11.2", "x86_64").unwrap()
    }

    fn names(packages: &[Package]) -> Vec<String> {
        packages
            .iter()
            .map(|p| format!("{} {}", p.name, p.version))
            .collect()
    }

    const UV: &str = include_str!("../test_data/locks/extras-markers/uv.lock");

    #[test]
    fn uv_walk_follows_extras_and_markers() {
        let lock = lockfile::parse("uv.lock", Format::Uv, UV).unwrap();
        let closure = production(&lock, &env(), &Request::default()).unwrap();
        let got = names(&closure);
        assert!(
            got.contains(&"pysocks 1.7.1".to_owned()),
            "extra socks: {got:?}"
        );
        assert!(
            got.contains(&"tomli 2.5.0".to_owned()),
            "python_full_version < 3.11.3: {got:?}"
        );
        assert!(
            got.contains(&"requests 2.34.2".to_owned()),
            "fork for >= 3.10: {got:?}"
        );
        for absent in ["colorama", "importlib-metadata", "pytest", "pyyaml", "zipp"] {
            assert!(
                !got.iter().any(|n| n.starts_with(&format!("{absent} "))),
                "{absent}: {got:?}"
            );
        }
        let on_3_11_3 = crate::markers::cpython_linux("3.11.3", "x86_64").unwrap();
        let later = names(&production(&lock, &on_3_11_3, &Request::default()).unwrap());
        assert!(!later.iter().any(|n| n.starts_with("tomli ")), "{later:?}");
    }

    #[test]
    fn adversarial_uv_dependency_missing_from_lock() {
        let text = UV.replacen(
            "[[package]]\nname = \"idna\"",
            "[[package]]\nname = \"idna-gone\"",
            1,
        );
        let lock = lockfile::parse("uv.lock", Format::Uv, &text).unwrap();
        let err = production(&lock, &env(), &Request::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("depends on idna, which is missing from the lock"),
            "{err}"
        );
    }

    #[test]
    fn adversarial_poetry_dependency_missing_from_lock() {
        let text = include_str!("../test_data/locks/extras-markers/poetry.lock");
        let text = text.replacen(
            "[[package]]\nname = \"idna\"",
            "[[package]]\nname = \"idna-gone\"",
            1,
        );
        let lock = lockfile::parse("poetry.lock", Format::Poetry, &text).unwrap();
        let err = production(&lock, &env(), &Request::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("depends on idna, which is missing from the lock"),
            "{err}"
        );
    }

    #[test]
    fn adversarial_kernel_marker() {
        let text = UV.replacen(
            "{ name = \"attrs\" },",
            "{ name = \"attrs\", marker = \"platform_release >= '6'\" },",
            1,
        );
        let lock = lockfile::parse("uv.lock", Format::Uv, &text).unwrap();
        let err = production(&lock, &env(), &Request::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("uses platform_release"), "{err}");
    }

    const MULTI_USE: &str = include_str!("../test_data/reported/pylock-multi-use/pylock.toml");
    const MULTI_USE_GROUPS: &str =
        include_str!("../test_data/reported/pylock-multi-use/pylock.groups.toml");

    fn request(extras: &[&str], groups: &[&str]) -> Request {
        Request {
            extras: extras.iter().map(|e| e.parse().unwrap()).collect(),
            groups: groups.iter().map(|g| g.parse().unwrap()).collect(),
        }
    }

    #[test]
    fn pylock_for_several_uses() {
        let lock = lockfile::parse("pylock.toml", Format::Pylock, MULTI_USE).unwrap();
        let pick = |extras: &[&str], groups: &[&str]| {
            names(&production(&lock, &env(), &request(extras, groups)).unwrap())
        };
        assert_eq!(pick(&[], &[]), ["six 1.16.0"]);
        assert_eq!(pick(&["feat"], &[]), ["idna 3.7", "six 1.16.0"]);
        assert_eq!(pick(&[], &["dev"]), ["iniconfig 2.0.0", "six 1.16.0"]);
        assert_eq!(
            pick(&["Feat"], &["dev", "default"]),
            ["idna 3.7", "iniconfig 2.0.0", "six 1.16.0"]
        );
        let lock = lockfile::parse("pylock.toml", Format::Pylock, MULTI_USE_GROUPS).unwrap();
        let pick = |extras: &[&str], groups: &[&str]| {
            names(&production(&lock, &env(), &request(extras, groups)).unwrap())
        };
        assert_eq!(pick(&[], &[]), ["six 1.16.0"]);
        assert_eq!(pick(&["feat"], &["dev"]), ["iniconfig 2.0.0", "six 1.16.0"]);
    }

    #[test]
    fn adversarial_selection_the_lock_does_not_offer() {
        let lock = lockfile::parse("pylock.toml", Format::Pylock, MULTI_USE).unwrap();
        let err = production(&lock, &env(), &request(&[], &["docs"]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "the lock has no dependency group \"docs\" (its groups: default, dev)"
        );
        let err = production(&lock, &env(), &request(&["gui"], &[]))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "the lock has no extra \"gui\" (its extras: feat)");
        // A lock made for one use offers nothing to select.
        let text = include_str!("../test_data/locks/fork/pylock.toml");
        let lock = lockfile::parse("pylock.toml", Format::Pylock, text).unwrap();
        let err = production(&lock, &env(), &request(&[], &["dev"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("(its groups: none)"), "{err}");
    }

    #[test]
    fn uv_extras_and_groups_of_the_project() {
        let lock = lockfile::parse("uv.lock", Format::Uv, UV).unwrap();
        let plain = names(&production(&lock, &env(), &Request::default()).unwrap());
        assert!(!plain.iter().any(|n| n.starts_with("pyyaml ")), "{plain:?}");
        let yaml = names(&production(&lock, &env(), &request(&["yaml"], &[])).unwrap());
        assert!(yaml.iter().any(|n| n.starts_with("pyyaml ")), "{yaml:?}");
        assert!(!yaml.iter().any(|n| n.starts_with("pytest ")), "{yaml:?}");
        let dev = names(&production(&lock, &env(), &request(&[], &["dev"])).unwrap());
        for wanted in ["pytest ", "iniconfig ", "pluggy "] {
            assert!(dev.iter().any(|n| n.starts_with(wanted)), "{dev:?}");
        }
    }

    #[test]
    fn poetry_2_extras_and_groups() {
        let text = include_str!("../test_data/locks/extras-markers/poetry.lock");
        let lock = lockfile::parse("poetry.lock", Format::Poetry, text).unwrap();
        let plain = names(&production(&lock, &env(), &Request::default()).unwrap());
        assert!(!plain.iter().any(|n| n.starts_with("pyyaml ")), "{plain:?}");
        let yaml = names(&production(&lock, &env(), &request(&["yaml"], &[])).unwrap());
        assert!(yaml.iter().any(|n| n.starts_with("pyyaml ")), "{yaml:?}");
        let dev = names(&production(&lock, &env(), &request(&[], &["dev"])).unwrap());
        assert!(dev.iter().any(|n| n.starts_with("pytest ")), "{dev:?}");
    }

    const DARWIN_UV: &str =
        include_str!("../test_data/reported/lock-for-other-platforms/uv-darwin-only/uv.lock");
    const WIN32_PYLOCK: &str =
        include_str!("../test_data/reported/lock-for-other-platforms/pylock-win32-only.toml");

    #[test]
    fn adversarial_locks_for_other_platforms() {
        for (format, text, covered) in [
            (
                Format::Uv,
                DARWIN_UV.to_owned(),
                "`sys_platform == 'darwin'` (supported-markers)",
            ),
            // Without supported-markers, the forks it was resolved for.
            (
                Format::Uv,
                DARWIN_UV.replace(
                    "supported-markers = [\n    \"sys_platform == 'darwin'\",\n]\n",
                    "",
                ),
                "`sys_platform == 'darwin'` (resolution-markers)",
            ),
            (
                Format::Pylock,
                WIN32_PYLOCK.to_owned(),
                "`sys_platform == 'win32'` (environments)",
            ),
        ] {
            let lock = lockfile::parse("lock", format, &text).unwrap();
            let err = production(&lock, &env(), &Request::default()).unwrap_err();
            assert!(pinwheel_trust::failure::is_no(&err), "{err}");
            assert_eq!(
                err.to_string(),
                format!(
                    "the lock was resolved only for {covered}, and the target \
                     (CPython 3.11.2 on linux x86_64) is none of them; re-lock for the target"
                )
            );
        }
        // A lock that covers the target among others is read.
        let both = WIN32_PYLOCK.replace(
            "environments = [\"sys_platform == 'win32'\"]",
            "environments = [\"sys_platform == 'win32'\", \"sys_platform == 'linux'\"]",
        );
        let lock = lockfile::parse("lock", Format::Pylock, &both).unwrap();
        assert_eq!(
            names(&production(&lock, &env(), &Request::default()).unwrap()).len(),
            3
        );
    }

    #[test]
    fn adversarial_lock_for_another_python() {
        let text = UV.replacen(
            "requires-python = \">=3.9\"",
            "requires-python = \">=3.12\"",
            1,
        );
        let lock = lockfile::parse("uv.lock", Format::Uv, &text).unwrap();
        let err = production(&lock, &env(), &Request::default()).unwrap_err();
        assert!(pinwheel_trust::failure::is_no(&err), "{err}");
        assert_eq!(
            err.to_string(),
            "the lock is for Python >=3.12, and the target runs 3.11.2"
        );
    }

    #[test]
    fn wheel_only_needs_permission() {
        let text = include_str!("../test_data/locks/wheel-only/uv.lock");
        let lock = lockfile::parse("uv.lock", Format::Uv, text).unwrap();
        let closure = production(&lock, &env(), &Request::default()).unwrap();
        let err = pins(&closure, &BTreeSet::new(), "--allow-wheel-only NAME")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "no sdist in the lock for certifi 2026.10.19.post1, tensorboard-data-server 0.7.2"
            ) && err.contains("--allow-wheel-only NAME"),
            "{err}"
        );
        let allowed: BTreeSet<PackageName> = ["certifi", "tensorboard-data-server"]
            .iter()
            .map(|n| n.parse().unwrap())
            .collect();
        let pinned = pins(&closure, &allowed, "").unwrap();
        let tb = pinned
            .iter()
            .find(|p| p.name.as_ref() == "tensorboard-data-server")
            .unwrap();
        assert!(tb.wheel_only);
        assert_eq!(tb.files.len(), 3);
    }
}
