//! `update-deps --online`: look every pinned hash up in
//! the package index through the Simple API (PEP 691 JSON, PEP 503 HTML
//! fallback). The pages are fetched in parallel, one per project; what
//! each pinned hash turned out to be is then judged without I/O:
//!
//! - [`check_sdists`]: every pinned sdist hash must be served by the index
//!   as an sdist of that project — otherwise a verification failure naming
//!   each package, version and hash; yanked files are warnings.
//! - [`sdist_hashes`]: for a hashed requirements.txt, which does not say
//!   which of a requirement's hashes is its sdist, learn it from the index;
//!   a requirement none of whose hashes the index serves as an sdist is an
//!   error.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::http::Client;
use crate::package_index::{self, DistKind, PackageIndex};
use pep440_rs::Version;
use pinwheel_pypa::sdist_filename::SdistFilename;
use pinwheel_pypa::simple_index::IndexFile;
use pinwheel_trust::failure;
use pinwheel_trust::hash::Sha256;

/// One pinned requirement: its hashes as the lock states them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub name: String,
    pub version: String,
    pub hashes: Vec<Sha256>,
}

/// What the index says about one pinned hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Served {
    /// The index serves a file with this hash.
    File {
        filename: String,
        kind: DistKind,
        yanked: Option<String>,
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
type PageResult = anyhow::Result<(String, Vec<IndexFile>)>;

/// The message for project pages that could not be read: one line per
/// distinct cause (an unreachable index fails every page the same way),
/// naming the projects; `failed` holds each project with its error, which
/// starts with the page's URL.
fn page_errors(index_url: &str, failed: &[(&String, String)]) -> String {
    let mut causes: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (name, message) in failed {
        let cause = message
            .split_once("/: ")
            .filter(|(url, _)| url.starts_with(index_url.trim_end_matches('/')))
            .map_or(message.as_str(), |(_, cause)| cause);
        causes
            .entry(cause.to_owned())
            .or_default()
            .push(name.as_str());
    }
    let parts: Vec<String> = causes
        .iter()
        .map(|(cause, names)| match names.as_slice() {
            [one] => format!("{one}: {cause}"),
            many => format!("{} projects ({}): {cause}", many.len(), many.join(", ")),
        })
        .collect();
    format!(
        "cannot read {} project page(s) from {index_url}: {}",
        failed.len(),
        parts.join("; ")
    )
}

/// Reads each distinct project's page once, `jobs` at a time, and reports
/// every pinned hash. Errors (network, malformed page, unknown project)
/// name the page.
pub fn lookup(
    client: &Client,
    index_url: &str,
    pins: &[Pin],
    jobs: usize,
) -> anyhow::Result<Vec<Lookup>> {
    let index = PackageIndex::new(client, index_url)?;
    let mut names: Vec<String> = pins
        .iter()
        .map(|p| package_index::normalize(&p.name).map(|n| n.to_string()))
        .collect::<anyhow::Result<_>>()?;
    names.sort();
    names.dedup();
    let next = AtomicUsize::new(0);
    let pages: Mutex<BTreeMap<String, PageResult>> = Mutex::new(BTreeMap::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, names.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(name) = names.get(i) else { break };
                let result = index
                    .project(name)
                    .map(|(url, page)| (url.to_string(), page.files));
                pages
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(name.clone(), result);
            });
        }
    });
    let mut pages = pages.into_inner().unwrap_or_else(|p| p.into_inner());
    let failed: Vec<(&String, String)> = pages
        .iter()
        .filter_map(|(name, result)| result.as_ref().err().map(|err| (name, format!("{err:#}"))))
        .collect();
    if !failed.is_empty() {
        anyhow::bail!("{}", page_errors(index_url, &failed));
    }
    let mut out = Vec::with_capacity(pins.len());
    for pin in pins {
        let Some(Ok((page, files))) = pages.get(package_index::normalize(&pin.name)?.as_ref())
        else {
            anyhow::bail!("{}: project page missing", pin.name);
        };
        let hashes = pin
            .hashes
            .iter()
            .map(|h| {
                let served = match files.iter().find(|f| f.sha256.as_ref() == Some(h)) {
                    Some(f) => Served::File {
                        filename: f.filename.clone(),
                        kind: package_index::dist_kind(&f.filename),
                        yanked: f.yanked.clone(),
                    },
                    None => Served::Missing,
                };
                (*h, served)
            })
            .collect();
        out.push(Lookup {
            pin: pin.clone(),
            page: page.clone(),
            hashes,
        });
    }
    pages.clear();
    Ok(out)
}

/// The verdict on pinned sdists: `Ok(warnings)` (yanked files), or a
/// verification failure listing every hash the index does not serve as an
/// sdist of that project.
pub fn check_sdists(lookups: &[Lookup]) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    for l in lookups {
        for (hash, served) in &l.hashes {
            let what = format!("{}=={} sha256:{hash}", l.pin.name, l.pin.version);
            match served {
                Served::Missing => problems.push(format!(
                    "{what}: the index serves no file with this hash ({})",
                    l.page
                )),
                Served::File { filename, kind, .. } if *kind != DistKind::Sdist => problems.push(
                    format!("{what}: the index serves it as {filename}, which is not an sdist"),
                ),
                Served::File {
                    filename, yanked, ..
                } => match is_sdist_of(&l.pin, filename) {
                    Ok(()) => warnings.extend(yank_note(&what, filename, yanked)),
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
        "{} pinned hash(es) not served by the index as sdists; first: {}",
        problems.len(),
        problems[0]
    )))
}

/// For one requirement of a hashed requirements.txt: the hashes the index
/// serves as sdists, with yank warnings; an error when there is none.
pub fn sdist_hashes(lookup: &Lookup) -> anyhow::Result<(Vec<Sha256>, Vec<String>)> {
    let mut sdists = Vec::new();
    let mut warnings = Vec::new();
    for (hash, served) in &lookup.hashes {
        if let Served::File {
            filename,
            kind: DistKind::Sdist,
            yanked,
        } = served
        {
            let what = format!("{}=={} sha256:{hash}", lookup.pin.name, lookup.pin.version);
            if let Err(why) = is_sdist_of(&lookup.pin, filename) {
                return Err(failure::verification_failed(format!(
                    "{what}: the index serves it as {filename}, {why}"
                )));
            }
            sdists.push(*hash);
            warnings.extend(yank_note(&what, filename, yanked));
        }
    }
    if sdists.is_empty() {
        let missing = lookup
            .hashes
            .iter()
            .filter(|(_, s)| *s == Served::Missing)
            .count();
        return Err(failure::verification_failed(format!(
            "{}=={}: none of its {} hashes is an sdist on the index ({}; {missing} not served at all); pin a version that has an sdist, or list {} as wheel-only in packaging/pinwheel.toml",
            lookup.pin.name,
            lookup.pin.version,
            lookup.hashes.len(),
            lookup.page,
            lookup.pin.name
        )));
    }
    Ok((sdists, warnings))
}

/// Whether `filename` is an sdist of the pinned name at the pinned version
/// (PEP 440 equality), and why not.
fn is_sdist_of(pin: &Pin, filename: &str) -> Result<(), String> {
    let name = package_index::normalize(&pin.name).map_err(|err| err.to_string())?;
    let version = Version::from_str(&pin.version)
        .map_err(|err| format!("and the pinned version is invalid: {err}"))?;
    let parsed = SdistFilename::parse_for(filename, &name).map_err(|err| format!("but {err}"))?;
    if parsed.version != version {
        return Err(format!(
            "which is version {}, not {}",
            parsed.version, pin.version
        ));
    }
    Ok(())
}

fn yank_note(what: &str, filename: &str, yanked: &Option<String>) -> Option<String> {
    package_index::yank_warning(filename, yanked.as_deref()).map(|w| format!("{what}: {w}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_errors_say_each_cause_once() {
        let index = "https://pypi.invalid/simple/";
        let (a, b, c) = ("certifi".to_owned(), "idna".to_owned(), "six".to_owned());
        let dns = "io: failed to lookup address information: Name or service not known";
        let failed = [
            (&a, format!("{index}certifi/: {dns}")),
            (&b, format!("{index}idna/: {dns}")),
            (
                &c,
                format!("{index}six/: the index has no project named \"six\""),
            ),
        ];
        assert_eq!(
            page_errors(index, &failed),
            format!(
                "cannot read 3 project page(s) from {index}: 2 projects (certifi, idna): {dns}; \
                 six: the index has no project named \"six\""
            )
        );
    }

    fn h(s: &str) -> Sha256 {
        Sha256::of(s.as_bytes())
    }

    fn lookup(hashes: Vec<(Sha256, Served)>) -> Lookup {
        Lookup {
            pin: Pin {
                name: "demo".into(),
                version: "1.0".into(),
                hashes: hashes.iter().map(|(h, _)| *h).collect(),
            },
            page: "https://idx/simple/demo/".into(),
            hashes,
        }
    }

    fn file(name: &str, kind: DistKind, yanked: Option<&str>) -> Served {
        Served::File {
            filename: name.into(),
            kind,
            yanked: yanked.map(str::to_owned),
        }
    }

    #[test]
    fn sdists_pass_with_yank_warnings() {
        let l = lookup(vec![(
            h("a"),
            file("demo-1.0.tar.gz", DistKind::Sdist, Some("oops")),
        )]);
        let warnings = check_sdists(&[l]).unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("demo==1.0 sha256:")
                && warnings[0].ends_with("demo-1.0.tar.gz is yanked on the index: oops")
        );
    }

    #[test]
    fn adversarial_missing_or_wheel_hash_fails() {
        let l = lookup(vec![
            (h("a"), Served::Missing),
            (
                h("b"),
                file("demo-1.0-py3-none-any.whl", DistKind::Wheel, None),
            ),
        ]);
        let err = check_sdists(&[l]).unwrap_err();
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
        let l = lookup(vec![(
            h("a"),
            file("demo-0.9.tar.gz", DistKind::Sdist, None),
        )]);
        let err = check_sdists(std::slice::from_ref(&l))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("the index serves it as demo-0.9.tar.gz, which is version 0.9, not 1.0"),
            "{err}"
        );
        let err = sdist_hashes(&l).unwrap_err().to_string();
        assert!(err.contains("which is version 0.9, not 1.0"), "{err}");
        let l = lookup(vec![(
            h("a"),
            file("other-1.0.tar.gz", DistKind::Sdist, None),
        )]);
        let err = check_sdists(&[l]).unwrap_err().to_string();
        assert!(err.contains("is not a distribution of demo"), "{err}");
        // PEP 440 equality, not string equality.
        let l = lookup(vec![(
            h("a"),
            file("demo-1.0.0.tar.gz", DistKind::Sdist, None),
        )]);
        assert!(check_sdists(&[l]).is_ok());
    }

    #[test]
    fn learns_sdist_among_hashes() {
        let l = lookup(vec![
            (
                h("w"),
                file("demo-1.0-py3-none-any.whl", DistKind::Wheel, None),
            ),
            (h("s"), file("demo-1.0.tar.gz", DistKind::Sdist, None)),
            (h("x"), Served::Missing),
        ]);
        assert_eq!(sdist_hashes(&l).unwrap(), (vec![h("s")], vec![]));
        let l = lookup(vec![
            (
                h("w"),
                file("demo-1.0-py3-none-any.whl", DistKind::Wheel, None),
            ),
            (h("x"), Served::Missing),
        ]);
        let err = sdist_hashes(&l).unwrap_err();
        assert_eq!(failure::exit_code(&err), 1);
        assert!(
            err.to_string()
                .contains("none of its 2 hashes is an sdist on the index"),
            "{err}"
        );
        assert!(err.to_string().contains("wheel-only"), "{err}");
    }
}
