//! The supply-chain files on disk (`packaging/supply-chain/`): reading and
//! checking them into a [`Store`], the imports against `imports.lock`
//! (hash before parse: an import whose bytes changed is refused before it
//! is read), `vet --update-imports`, and `vet init`.
//!
//! - `config.toml`: policy, `[build-backends]`, exemptions, imports.
//! - `audits.toml`: our audits (absent: none yet).
//! - `imports.lock`: each import's source and the sha256 of its bytes.
//! - `imports/NAME.toml`: the reviewed copy of each import (what `vet`
//!   reads for a URL import, offline; the old side of the diff that
//!   `--update-imports` shows). A path import is read in place and must
//!   still hash to the lock's digest.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use pep440_rs::Version;
use pep508_rs::PackageName;
use url::Url;

use super::{pins, SUPPLY_CHAIN};
use crate::config::Config;
use crate::fresh::{self, RepoLock};
use crate::http;
use pinwheel_trust::failure;
use pinwheel_trust::hash::Sha256;
use pinwheel_vet::{
    parse_audits, parse_config, parse_imports_lock, render_imports_lock, AuditsFile, EvidenceKind,
    ImportSource, ImportsLock, LockedImport, Sourced, Store, VetConfig,
};

pub const CONFIG: &str = "config.toml";
pub const AUDITS: &str = "audits.toml";
pub const IMPORTS_LOCK: &str = "imports.lock";
pub const IMPORTS_DIR: &str = "imports";

/// Largest imported audits file we read (16 MiB).
const IMPORT_CAP: u64 = 16 << 20;

/// `packaging/supply-chain/<file>` as messages name it.
pub fn label(file: &str) -> String {
    format!("{SUPPLY_CHAIN}/{file}")
}

fn read_optional(path: &Path) -> anyhow::Result<Option<String>> {
    match fs_err::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err.into()),
    }
}

fn store_error(err: pinwheel_vet::StoreError) -> anyhow::Error {
    anyhow::anyhow!("{err}")
}

/// Reads `config.toml`; a missing one says how to start.
pub fn read_config(root: &Path) -> anyhow::Result<Sourced<VetConfig>> {
    let path = root.join(SUPPLY_CHAIN).join(CONFIG);
    let Some(text) = read_optional(&path)? else {
        bail!(
            "{}: not found; start vetting with `cargo xtask vet init` (it exempts what is pinned now)",
            label(CONFIG)
        );
    };
    let config = parse_config(&label(CONFIG), &text).map_err(store_error)?;
    Ok(Sourced::new(label(CONFIG), config))
}

/// Reads our `audits.toml` (none yet: empty).
pub fn read_audits(root: &Path) -> anyhow::Result<Sourced<AuditsFile>> {
    let path = root.join(SUPPLY_CHAIN).join(AUDITS);
    let audits = match read_optional(&path)? {
        Some(text) => parse_audits(&label(AUDITS), &text).map_err(store_error)?,
        None => AuditsFile::default(),
    };
    Ok(Sourced::new(label(AUDITS), audits))
}

fn read_lock(root: &Path) -> anyhow::Result<ImportsLock> {
    let path = root.join(SUPPLY_CHAIN).join(IMPORTS_LOCK);
    match read_optional(&path)? {
        Some(text) => parse_imports_lock(&label(IMPORTS_LOCK), &text).map_err(store_error),
        None => Ok(ImportsLock::default()),
    }
}

/// The file `vet` reads for an import, and how messages name it.
fn import_file(root: &Path, name: &str, source: &ImportSource) -> (PathBuf, String) {
    match source {
        ImportSource::Url(_) => {
            let rel = format!("{IMPORTS_DIR}/{name}.toml");
            (root.join(SUPPLY_CHAIN).join(&rel), label(&rel))
        }
        ImportSource::Path(path) => (root.join(path), path.clone()),
    }
}

/// Every supply-chain file, checked and assembled. Imports are checked
/// against `imports.lock` by sha256 before they are parsed: a missing or
/// changed one is refused (exit 1) until `vet --update-imports`.
pub fn load(root: &Path) -> anyhow::Result<Store> {
    let config = read_config(root)?;
    let own = read_audits(root)?;
    let lock = read_lock(root)?;
    let mut imports = BTreeMap::new();
    for (name, import) in &config.value.imports {
        let update = "review it and run `cargo xtask vet --update-imports`";
        let Some(locked) = lock
            .imports
            .get(name)
            .filter(|l| l.source == import.source.as_str())
        else {
            return Err(failure::refused(format!(
                "{}: import {name} ({}) is not pinned in {}: {update}",
                label(CONFIG),
                import.source.as_str(),
                label(IMPORTS_LOCK)
            )));
        };
        let (path, file_label) = import_file(root, name, &import.source);
        let bytes = match fs_err::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(failure::refused(format!(
                    "{file_label}: import {name}: the file is missing: {update}"
                )))
            }
            Err(err) => return Err(err.into()),
        };
        let sha = Sha256::of(&bytes);
        if sha != locked.sha256 {
            return Err(failure::refused(format!(
                "{file_label}: import {name} changed since {} pinned it (sha256 {}, now {sha}): {update}",
                label(IMPORTS_LOCK),
                locked.sha256
            )));
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| anyhow::anyhow!("{file_label}: import {name}: not UTF-8"))?;
        let parsed = parse_audits(&file_label, &text).map_err(store_error)?;
        imports.insert(name.clone(), Sourced::new(file_label, parsed));
    }
    Store::new(own, config, imports).map_err(store_error)
}

/// Every sdist this repository names, by name and version: the sha256s
/// and what names each (pins, audits, exemptions, imports).
#[derive(Debug, Default)]
pub struct Known {
    map: BTreeMap<(PackageName, Version), BTreeMap<Sha256, Vec<String>>>,
    pub pinned: Vec<pins::Pinned>,
    pub store: Option<Store>,
}

impl Known {
    /// Pins always; the supply-chain records when `packaging/supply-chain/`
    /// exists (a broken one is an error).
    pub fn gather(config: &Config) -> anyhow::Result<Known> {
        let pinned = pins::collect(config)?;
        let store = if config.root.join(SUPPLY_CHAIN).join(CONFIG).exists() {
            Some(load(&config.root)?)
        } else {
            None
        };
        let mut known = Known::default();
        for pin in &pinned {
            known.add(
                &pin.name,
                &pin.version,
                pin.sha256,
                format!("pinned by {}", pins::describe_users(&pin.users)),
            );
        }
        if let Some(store) = &store {
            let names: BTreeSet<PackageName> = store
                .own()
                .value
                .audits
                .keys()
                .chain(store.config().value.exemptions.keys())
                .chain(store.imports().values().flat_map(|f| f.value.audits.keys()))
                .cloned()
                .collect();
            for name in &names {
                for evidence in store.evidence(name) {
                    let how = format!(
                        "{} ({}: {})",
                        evidence.describe(),
                        evidence.path,
                        evidence.entry
                    );
                    match &evidence.kind {
                        EvidenceKind::Full { version, sha256 }
                        | EvidenceKind::Exemption { version, sha256 } => {
                            known.add(name, version, *sha256, how)
                        }
                        EvidenceKind::Delta {
                            from,
                            from_sha256,
                            to,
                            sha256,
                        } => {
                            known.add(name, from, *from_sha256, format!("from of {how}"));
                            known.add(name, to, *sha256, how);
                        }
                        EvidenceKind::Violation { .. } => {}
                    }
                }
            }
        }
        known.pinned = pinned;
        known.store = store;
        Ok(known)
    }

    fn add(&mut self, name: &PackageName, version: &Version, sha: Sha256, how: String) {
        let list = self
            .map
            .entry((name.clone(), version.clone()))
            .or_default()
            .entry(sha)
            .or_default();
        if !list.contains(&how) {
            list.push(how);
        }
    }

    /// The sha256s recorded for `name` `version`, each with what records it.
    pub fn hashes(&self, name: &PackageName, version: &Version) -> BTreeMap<Sha256, Vec<String>> {
        self.map
            .get(&(name.clone(), version.clone()))
            .cloned()
            .unwrap_or_default()
    }
}

/// `vet --update-imports`: fetches each URL import (https) and re-reads
/// each path import, refuses one that is not a valid audits file, shows
/// the change against the reviewed copy, then writes the copies and
/// `imports.lock`. Copies and lock entries of imports no longer configured
/// are removed. Offline, a URL import is refused (nothing is written).
pub fn update_imports(root: &Path, network: super::sources::Network) -> anyhow::Result<()> {
    let _lock = RepoLock::acquire(root)?;
    let config = read_config(root)?;
    let old_lock = read_lock(root)?;
    let dir = root.join(SUPPLY_CHAIN);
    let mut lock = ImportsLock::default();
    let mut writes: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for (name, import) in &config.value.imports {
        let copy_rel = format!("{IMPORTS_DIR}/{name}.toml");
        let bytes = match &import.source {
            ImportSource::Url(url) if network == super::sources::Network::Offline => bail!(
                "{}: imports.{name}: {url} cannot be fetched with --offline",
                label(CONFIG)
            ),
            ImportSource::Url(url) => fetch_import(name, url)?,
            ImportSource::Path(path) => fs_err::read(root.join(path))
                .with_context(|| format!("{}: imports.{name}", label(CONFIG)))?,
        };
        let sha = Sha256::of(&bytes);
        let text = String::from_utf8(bytes.clone())
            .map_err(|_| anyhow::anyhow!("{}: import {name}: not UTF-8", import.source.as_str()))?;
        parse_audits(
            &format!("{} (import {name})", import.source.as_str()),
            &text,
        )
        .map_err(store_error)?;
        let unchanged = old_lock
            .imports
            .get(name)
            .is_some_and(|l| l.sha256 == sha && l.source == import.source.as_str());
        if unchanged {
            eprintln!("import {name}: unchanged (sha256 {sha})");
        } else {
            let old = read_optional(&dir.join(&copy_rel))?.unwrap_or_default();
            print!(
                "{}",
                super::visible_text(&fresh::unified_diff(&old, &text, &label(&copy_rel)))
            );
            eprintln!(
                "import {name}: {} → sha256 {sha}, pinned; the change is above: review it before you commit",
                old_lock
                    .imports
                    .get(name)
                    .map_or("new".to_owned(), |l| format!("sha256 {}", l.sha256))
            );
        }
        writes.push((dir.join(&copy_rel), bytes));
        lock.imports.insert(
            name.clone(),
            LockedImport {
                source: import.source.as_str().to_owned(),
                sha256: sha,
            },
        );
    }
    for (path, bytes) in &writes {
        fs_err::create_dir_all(fresh::parent_dir(path))?;
        fresh::ensure_file_contents(path, bytes, fresh::Mode::Write)?;
    }
    fresh::ensure_file_contents(
        &dir.join(IMPORTS_LOCK),
        render_imports_lock(&lock).as_bytes(),
        fresh::Mode::Write,
    )?;
    // Copies of imports the configuration no longer names.
    if let Ok(entries) = fs_err::read_dir(dir.join(IMPORTS_DIR)) {
        for entry in entries {
            let path = entry?.path();
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let is_copy = path.extension().is_some_and(|e| e == "toml");
            // A path import may live here itself: never remove a source.
            let is_source = config.value.imports.values().any(|i| match &i.source {
                ImportSource::Path(p) => same_file(&root.join(p), &path),
                ImportSource::Url(_) => false,
            });
            if is_copy && !is_source && !config.value.imports.contains_key(&stem) {
                fs_err::remove_file(&path)?;
                eprintln!("import {stem}: no longer configured; removed its copy");
            }
        }
    }
    Ok(())
}

fn fetch_import(name: &str, url: &str) -> anyhow::Result<Vec<u8>> {
    let parsed = Url::parse(url).map_err(|err| anyhow::anyhow!("import {name}: {url:?}: {err}"))?;
    if parsed.scheme() != "https" {
        bail!("import {name}: {url:?} is not https");
    }
    let client = http::Client::with_options(url, &[], http::Options::default())?;
    let page = client
        .get_page_capped(&parsed, None, IMPORT_CAP)
        .with_context(|| format!("import {name}"))?;
    Ok(page.body)
}

/// `vet init`: writes `config.toml` with a policy per application
/// (`safe-to-deploy`), the build backends' policy, and an exemption for
/// every sdist pinned now, each with a note saying it was not reviewed;
/// and an empty `audits.toml`. Refused when `config.toml` exists.
pub fn init(root: &Path) -> anyhow::Result<()> {
    let config = Config::load(root)?;
    let _lock = RepoLock::acquire(root)?;
    let dir = root.join(SUPPLY_CHAIN);
    if dir.join(CONFIG).exists() {
        return Err(failure::refused(format!(
            "{}: exists; vetting has started (edit it, or `cargo xtask vet certify`)",
            label(CONFIG)
        )));
    }
    let pinned = pins::collect(&config)?;
    let text = render_init(&config, &pinned);
    // What we write must read back.
    parse_config(&label(CONFIG), &text).map_err(store_error)?;
    fs_err::create_dir_all(&dir)?;
    fresh::write_atomic(&dir.join(CONFIG), text.as_bytes())?;
    if !dir.join(AUDITS).exists() {
        let audits = pinwheel_vet::render_audits(&AuditsFile::default());
        fresh::write_atomic(&dir.join(AUDITS), audits.as_bytes())?;
    }
    println!(
        "wrote {} ({} exemptions) and {}; replace exemptions with audits: \
         `cargo xtask vet inspect NAME VERSION`, then `cargo xtask vet certify NAME VERSION`",
        label(CONFIG),
        pinned.len(),
        label(AUDITS)
    );
    Ok(())
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// The `config.toml` that `vet init` writes.
pub fn render_init(config: &Config, pinned: &[pins::Pinned]) -> String {
    let mut out = String::from(
        "# What `cargo xtask vet` requires of every pinned sdist (cargo-vet's model).\n\
         # Criteria: safe-to-run, safe-to-deploy (implies safe-to-run), and custom\n\
         # ones declared in audits.toml.\n\n",
    );
    for app in config.apps.keys() {
        out.push_str(&format!(
            "[policy.{}]\ncriteria = \"safe-to-deploy\"\n\n",
            pinwheel_vet_key(app)
        ));
    }
    out.push_str(
        "# The build backends (packaging/bootstrap/uv.lock) run code at build time\n\
         # and write the wheels that ship.\n\
         [build-backends]\ncriteria = \"safe-to-deploy\"\n\n",
    );
    out.push_str(
        "# Exemptions: sdists trusted without an audit. Each was pinned when vetting\n\
         # began; replace it with an audit (`cargo xtask vet certify`).\n",
    );
    for pin in pinned {
        out.push_str(&format!(
            "\n[[exemptions.{}]]\nversion = {}\nsha256 = \"{}\"\ncriteria = \"safe-to-deploy\"\nnotes = {}\n",
            pin.name,
            toml_string(&pin.version.to_string()),
            pin.sha256,
            toml_string(&format!(
                "Pinned when vetting began ({}); not reviewed.",
                pins::describe_users(&pin.users)
            )),
        ));
    }
    out
}

/// A TOML key: bare when it can be.
fn pinwheel_vet_key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        name.to_owned()
    } else {
        toml_string(name)
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (fs_err::canonicalize(a), fs_err::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Every `[policy.NAME]` names a configured application: a misspelt one
/// would leave the real application on the default criteria.
pub fn check_policies(config: &Config, store: &Store) -> anyhow::Result<()> {
    for name in store.config().value.policy.keys() {
        if !config.apps.contains_key(name) {
            let known: Vec<&str> = config.apps.keys().map(String::as_str).collect();
            bail!(
                "{}: policy.{name}: no application {name} in {} (applications: {}); \
                 its criteria would apply to nothing",
                label(CONFIG),
                crate::config::CONFIG_PATH,
                known.join(", ")
            );
        }
    }
    Ok(())
}
