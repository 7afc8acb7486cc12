//! `update-deps --online` (issue 2, item 6): look every pinned hash up in
//! the package index through the Simple API (PEP 691 JSON, PEP 503 HTML
//! fallback). Each project's page is read once (in parallel, cached for
//! the run); what each pinned hash turned out to be is then judged without
//! I/O:
//!
//! - [`check_pins`]: every pinned hash must be served by the index as a
//!   file of that project at that version (PEP 440 equality), of the right
//!   kind: an sdist, or a wheel for packages allowed to be wheel-only.
//!   Otherwise a verification failure (exit 1) naming each package, version
//!   and hash. Yanked files are warnings.
//! - [`IndexLookup`] as a [`lockfile::SdistLookup`]: a hashed
//!   requirements.txt does not say which of a requirement's hashes is its
//!   sdist; the index does. A requirement with none is then refused by the
//!   closure, with the two ways out.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use pep440_rs::Version;
use pep508_rs::PackageName;
use url::Url;

use crate::failure;
use crate::hash::Sha256;
use crate::http::Client;
use crate::lockfile::{self, Artifact, Classified};
use crate::package_index::{self, DistKind, PackageIndex};
use crate::requirements_txt;
use crate::sdist_filename::SdistFilename;
use crate::simple_index::IndexFile;
use crate::wheel_filename::WheelFilename;

/// One pinned requirement: its hashes as the lock or our requirements file
/// states them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub name: String,
    pub version: String,
    pub hashes: Vec<Sha256>,
    /// Pinned to upstream wheels (allowed in the configuration).
    pub wheel_only: bool,
}

impl Pin {
    /// An sdist pin.
    pub fn sdist(name: &str, version: &str, hashes: Vec<Sha256>) -> Pin {
        Pin {
            name: name.to_owned(),
            version: version.to_owned(),
            hashes,
            wheel_only: false,
        }
    }
}

/// What the index says about one pinned hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Served {
    /// The index serves a file with this hash.
    File {
        filename: String,
        kind: DistKind,
        yanked: Option<String>,
        url: Url,
        size: Option<u64>,
    },
    /// No file of the project has this hash.
    Missing,
}

/// The index's answer for one pin, hash by hash (in the pin's order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub pin: Pin,
    /// The project page that was read.
    pub page: String,
    pub hashes: Vec<(Sha256, Served)>,
}

/// A project page's URL and files, or why it could not be read.
type PageResult = Result<(String, Vec<IndexFile>), String>;

/// The index at one URL, each project's page read at most once.
pub struct IndexLookup<'a> {
    index: PackageIndex<'a>,
    index_url: String,
    jobs: usize,
    pages: Mutex<BTreeMap<String, Arc<PageResult>>>,
}

impl<'a> IndexLookup<'a> {
    pub fn new(client: &'a Client, index_url: &str) -> anyhow::Result<IndexLookup<'a>> {
        Ok(IndexLookup {
            index: PackageIndex::new(client, index_url)?,
            index_url: index_url.to_owned(),
            jobs: 8,
            pages: Mutex::new(BTreeMap::new()),
        })
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<PageResult>>> {
        self.pages.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads the pages of `names` (normalized) not read yet, in parallel.
    fn fetch_pages(&self, names: &[String]) {
        let missing: Vec<&String> = {
            let cache = self.cache();
            names.iter().filter(|n| !cache.contains_key(*n)).collect()
        };
        let next = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..self.jobs.clamp(1, missing.len().max(1)) {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(name) = missing.get(i) else { break };
                    let result = self
                        .index
                        .project(name)
                        .map(|(url, page)| (url.to_string(), page.files))
                        .map_err(|err| format!("{err:#}"));
                    self.cache().insert((*name).clone(), Arc::new(result));
                });
            }
        });
    }

    /// What the index serves for each hash of each pin. Every page that
    /// cannot be read is reported; the error names the first.
    pub fn lookup(&self, pins: &[Pin]) -> anyhow::Result<Vec<Lookup>> {
        let mut names: Vec<String> = pins
            .iter()
            .map(|p| package_index::normalize(&p.name).map(|n| n.to_string()))
            .collect::<anyhow::Result<_>>()?;
        names.sort();
        names.dedup();
        self.fetch_pages(&names);
        let cache = self.cache();
        let errors: Vec<&String> = names
            .iter()
            .filter_map(|n| match cache.get(n).map(|r| r.as_ref()) {
                Some(Err(err)) => Some(err),
                _ => None,
            })
            .collect();
        if !errors.is_empty() {
            for e in &errors[1..] {
                eprintln!("error: {e}");
            }
            anyhow::bail!(
                "cannot read {} project page(s) from {}: {}",
                errors.len(),
                self.index_url,
                errors[0]
            );
        }
        let mut out = Vec::with_capacity(pins.len());
        for pin in pins {
            let name = package_index::normalize(&pin.name)?;
            let Some(Ok((page, files))) = cache.get(name.as_ref()).map(|r| r.as_ref()) else {
                anyhow::bail!("{}: project page missing", pin.name);
            };
            let hashes = pin.hashes.iter().map(|h| (*h, served(files, h))).collect();
            out.push(Lookup {
                pin: pin.clone(),
                page: page.clone(),
                hashes,
            });
        }
        Ok(out)
    }
}

fn served(files: &[IndexFile], hash: &Sha256) -> Served {
    match files.iter().find(|f| f.sha256.as_ref() == Some(hash)) {
        Some(f) => Served::File {
            filename: f.filename.clone(),
            kind: package_index::dist_kind(&f.filename),
            yanked: f.yanked.clone(),
            url: f.url.clone(),
            size: f.size,
        },
        None => Served::Missing,
    }
}

impl lockfile::SdistLookup for IndexLookup<'_> {
    fn prefetch(&self, names: &[PackageName]) {
        let names: Vec<String> = names.iter().map(ToString::to_string).collect();
        self.fetch_pages(&names);
    }

    /// The sdists and wheels of `name` `version` among `hashes`; hashes the
    /// index does not serve are left out (a warning says so).
    fn classify(
        &self,
        name: &PackageName,
        version: &Version,
        hashes: &[Sha256],
    ) -> anyhow::Result<Classified> {
        let pin = Pin::sdist(name.as_ref(), &version.to_string(), hashes.to_vec());
        let lookup = self.lookup(std::slice::from_ref(&pin))?.remove(0);
        let mut out = Classified::default();
        for (hash, served) in &lookup.hashes {
            let what = format!("{name}=={version} sha256:{hash}");
            let Served::File {
                filename,
                kind,
                url,
                size,
                ..
            } = served
            else {
                eprintln!(
                    "warning: {what}: the index ({}) serves no file with this hash",
                    lookup.page
                );
                continue;
            };
            let artifact = Artifact {
                filename: filename.clone(),
                url: Some(url.to_string()),
                sha256: *hash,
                size: *size,
            };
            match kind {
                DistKind::Sdist => {
                    is_sdist_of(&pin, filename).map_err(|why| {
                        failure::verification_failed(format!(
                            "{what}: the index serves it as {filename}, {why}"
                        ))
                    })?;
                    out.sdists.push(artifact);
                }
                DistKind::Wheel => {
                    is_wheel_of(&pin, filename).map_err(|why| {
                        failure::verification_failed(format!(
                            "{what}: the index serves it as {filename}, {why}"
                        ))
                    })?;
                    out.wheels.push(artifact);
                }
                DistKind::Other => {
                    eprintln!("warning: {what}: the index serves it as {filename}, neither an sdist nor a wheel")
                }
            }
        }
        Ok(out)
    }

    fn verify_pins(&self, pins: &[requirements_txt::Pin]) -> anyhow::Result<Vec<String>> {
        let pins: Vec<Pin> = pins
            .iter()
            .map(|p| Pin {
                name: p.name.to_string(),
                version: p.version.to_string(),
                hashes: p.files.iter().map(|f| f.sha256).collect(),
                wheel_only: p.wheel_only,
            })
            .collect();
        check_pins(&self.lookup(&pins)?)
    }
}

/// Whether a file name fits a pin, and why not.
type FileCheck = fn(&Pin, &str) -> Result<(), String>;

/// The verdict on the final pins: `Ok(warnings)` (yanked files), or a
/// verification failure listing every hash the index does not serve as a
/// file of the right kind of that project at that version.
pub fn check_pins(lookups: &[Lookup]) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    for l in lookups {
        let (want, check): (DistKind, FileCheck) = if l.pin.wheel_only {
            (DistKind::Wheel, is_wheel_of)
        } else {
            (DistKind::Sdist, is_sdist_of)
        };
        for (hash, served) in &l.hashes {
            let what = format!("{}=={} sha256:{hash}", l.pin.name, l.pin.version);
            match served {
                Served::Missing => problems.push(format!(
                    "{what}: the index serves no file with this hash ({})",
                    l.page
                )),
                Served::File { filename, kind, .. } if *kind != want => problems.push(format!(
                    "{what}: the index serves it as {filename}, which is not {}",
                    if want == DistKind::Sdist {
                        "an sdist"
                    } else {
                        "a wheel"
                    }
                )),
                Served::File {
                    filename, yanked, ..
                } => match check(&l.pin, filename) {
                    Ok(()) => warnings.extend(
                        package_index::yank_warning(filename, yanked.as_deref())
                            .map(|w| format!("{what}: {w}")),
                    ),
                    Err(why) => {
                        problems.push(format!("{what}: the index serves it as {filename}, {why}"))
                    }
                },
            }
        }
    }
    if problems.is_empty() {
        return Ok(warnings);
    }
    for p in &problems[1..] {
        eprintln!("error: {p}");
    }
    Err(failure::verification_failed(format!(
        "{} pinned hash(es) not served by the index as expected; first: {}",
        problems.len(),
        problems[0]
    )))
}

fn pin_name_version(pin: &Pin) -> Result<(PackageName, Version), String> {
    let name = package_index::normalize(&pin.name).map_err(|err| err.to_string())?;
    let version = Version::from_str(&pin.version)
        .map_err(|err| format!("and the pinned version is invalid: {err}"))?;
    Ok((name, version))
}

/// Whether `filename` is an sdist of the pinned name at the pinned version
/// (PEP 440 equality), and why not.
fn is_sdist_of(pin: &Pin, filename: &str) -> Result<(), String> {
    let (name, version) = pin_name_version(pin)?;
    let parsed = SdistFilename::parse_for(filename, &name).map_err(|err| format!("but {err}"))?;
    if parsed.version != version {
        return Err(format!(
            "which is version {}, not {}",
            parsed.version, pin.version
        ));
    }
    Ok(())
}

/// Whether `filename` is a wheel of the pinned name at the pinned version.
fn is_wheel_of(pin: &Pin, filename: &str) -> Result<(), String> {
    let (name, version) = pin_name_version(pin)?;
    let parsed = WheelFilename::from_str(filename).map_err(|err| format!("but {err}"))?;
    if parsed.name != name {
        return Err(format!("which is a wheel of {}, not {name}", parsed.name));
    }
    if parsed.version != version {
        return Err(format!(
            "which is version {}, not {}",
            parsed.version, pin.version
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Sha256 {
        Sha256::of(s.as_bytes())
    }

    fn lookup(wheel_only: bool, hashes: Vec<(Sha256, Served)>) -> Lookup {
        Lookup {
            pin: Pin {
                name: "demo".into(),
                version: "1.0".into(),
                hashes: hashes.iter().map(|(h, _)| *h).collect(),
                wheel_only,
            },
            page: "https://idx/simple/demo/".into(),
            hashes,
        }
    }

    fn file(name: &str, yanked: Option<&str>) -> Served {
        Served::File {
            filename: name.into(),
            kind: package_index::dist_kind(name),
            yanked: yanked.map(str::to_owned),
            url: Url::parse("https://idx/f").unwrap(),
            size: None,
        }
    }

    #[test]
    fn sdists_pass_with_yank_warnings() {
        let l = lookup(false, vec![(h("a"), file("demo-1.0.tar.gz", Some("oops")))]);
        let warnings = check_pins(&[l]).unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("demo==1.0 sha256:")
                && warnings[0].ends_with("demo-1.0.tar.gz is yanked on the index: oops")
        );
    }

    #[test]
    fn wheel_only_pins_want_wheels() {
        let l = lookup(
            true,
            vec![(h("w"), file("demo-1.0-py3-none-any.whl", None))],
        );
        assert!(check_pins(&[l]).unwrap().is_empty());
        let l = lookup(true, vec![(h("s"), file("demo-1.0.tar.gz", None))]);
        assert!(check_pins(&[l])
            .unwrap_err()
            .to_string()
            .contains("which is not a wheel"));
        let l = lookup(
            true,
            vec![(h("w"), file("demo-1.1-py3-none-any.whl", None))],
        );
        assert!(check_pins(&[l])
            .unwrap_err()
            .to_string()
            .contains("which is version 1.1, not 1.0"));
    }

    #[test]
    fn adversarial_missing_or_wheel_hash_fails() {
        let l = lookup(
            false,
            vec![
                (h("a"), Served::Missing),
                (h("b"), file("demo-1.0-py3-none-any.whl", None)),
            ],
        );
        let err = check_pins(&[l]).unwrap_err();
        assert_eq!(failure::exit_code(&err), 1);
        let msg = err.to_string();
        assert!(msg.starts_with("2 pinned hash(es) not served"), "{msg}");
        assert!(
            msg.contains("the index serves no file with this hash (https://idx/simple/demo/)"),
            "{msg}"
        );
    }

    #[test]
    fn adversarial_hash_of_another_version_fails() {
        let l = lookup(false, vec![(h("a"), file("demo-0.9.tar.gz", None))]);
        let err = check_pins(&[l]).unwrap_err().to_string();
        assert!(
            err.contains("the index serves it as demo-0.9.tar.gz, which is version 0.9, not 1.0"),
            "{err}"
        );
        let l = lookup(false, vec![(h("a"), file("other-1.0.tar.gz", None))]);
        let err = check_pins(&[l]).unwrap_err().to_string();
        assert!(err.contains("is not a distribution of demo"), "{err}");
        // PEP 440 equality, not string equality.
        let l = lookup(false, vec![(h("a"), file("demo-1.0.0.tar.gz", None))]);
        assert!(check_pins(&[l]).is_ok());
    }
}
