//! `update-deps --online`: the package index as an [`SdistLookup`] (which
//! of a hashed requirements.txt's hashes are sdists) and the check that
//! every pinned sdist is served (lookups by `online.rs`).

use pinwheel_pypa::lockfile::{self, SdistLookup};
use pinwheel_pypa::requirements_txt::Pin;
use pinwheel_trust::failure;
use pinwheel_trust::hash::Sha256;

use crate::config::Config;
use crate::package_index::DistKind;
use crate::{http, online};

/// The package index, for `--online` (lookups by `online.rs`).
pub struct OnlineIndex {
    client: http::Client,
    url: String,
    /// Pinned sdist hashes the index was found to serve, for the summary.
    found: std::sync::atomic::AtomicUsize,
}

/// Project pages fetched at once.
const JOBS: usize = 8;

impl OnlineIndex {
    /// The configured index (`[index]` in the configuration).
    pub fn new(config: &Config) -> anyhow::Result<OnlineIndex> {
        Ok(OnlineIndex {
            client: http::Client::new(&config.index)?,
            url: config.index.url.clone(),
            found: Default::default(),
        })
    }

    /// An index at `url` through `client`.
    pub fn with_client(client: http::Client, url: &str) -> OnlineIndex {
        OnlineIndex {
            client,
            url: url.to_owned(),
            found: Default::default(),
        }
    }

    /// Every pinned sdist must be served by the index as an sdist of that
    /// project and version (a verification failure otherwise); yanked
    /// files are warnings. Wheel-only pins are checked to be served.
    pub fn check(&self, pins: &[Pin]) -> anyhow::Result<()> {
        let (wheels, sdists): (Vec<&Pin>, Vec<&Pin>) = pins.iter().partition(|p| p.wheel_only);
        let lookups = online::lookup(
            &self.client,
            &self.url,
            &sdists.iter().map(|p| online_pin(p)).collect::<Vec<_>>(),
            JOBS,
        )?;
        for warning in online::check_sdists(&lookups)? {
            eprintln!("warning: {warning}");
        }
        self.count(lookups.iter().map(|l| l.hashes.len()).sum());
        let lookups = online::lookup(
            &self.client,
            &self.url,
            &wheels.iter().map(|p| online_pin(p)).collect::<Vec<_>>(),
            JOBS,
        )?;
        for l in &lookups {
            for (hash, served) in &l.hashes {
                if *served == online::Served::Missing {
                    return Err(failure::verification_failed(format!(
                        "{}=={} sha256:{hash}: the index serves no file with this hash ({})",
                        l.pin.name, l.pin.version, l.page
                    )));
                }
            }
        }
        Ok(())
    }
}

impl OnlineIndex {
    fn count(&self, n: usize) {
        self.found
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// One line for a run that found nothing wrong.
    pub fn summary(&self) -> String {
        format!(
            "update-deps --online: {} pinned sdist(s) found on {}",
            self.found.load(std::sync::atomic::Ordering::Relaxed),
            self.url
        )
    }
}

fn online_pin(pin: &Pin) -> online::Pin {
    online::Pin {
        name: pin.name.to_string(),
        version: pin.version.to_string(),
        hashes: pin.hashes().copied().collect(),
    }
}

impl SdistLookup for OnlineIndex {
    fn classify(
        &self,
        queries: &[lockfile::Query<'_>],
    ) -> anyhow::Result<Vec<lockfile::Classified>> {
        let pins: Vec<online::Pin> = queries
            .iter()
            .map(|q| online::Pin {
                name: q.name.to_string(),
                version: q.version.to_string(),
                hashes: q.hashes.to_vec(),
            })
            .collect();
        let lookups = online::lookup(&self.client, &self.url, &pins, JOBS)?;
        let mut out = Vec::new();
        for l in &lookups {
            let artifact = |hash: &Sha256, filename: &str| lockfile::Artifact {
                filename: filename.to_owned(),
                url: None,
                sha256: *hash,
                size: None,
            };
            let served = |kind: DistKind| {
                l.hashes.iter().filter_map(move |(h, s)| match s {
                    online::Served::File {
                        filename, kind: k, ..
                    } if *k == kind => Some((h, filename)),
                    _ => None,
                })
            };
            let wheels = served(DistKind::Wheel)
                .map(|(h, f)| artifact(h, f))
                .collect();
            let sdists = if served(DistKind::Sdist).next().is_some() {
                // Checks that each is an sdist of this name and version;
                // warnings (yanked files) are printed by `check`, which
                // sees every pin after classification.
                let (hashes, _warnings) = online::sdist_hashes(l)?;
                served(DistKind::Sdist)
                    .filter(|(h, _)| hashes.contains(h))
                    .map(|(h, f)| artifact(h, f))
                    .collect()
            } else {
                Vec::new() // wheel-only, or an error naming the package in `closure::pins`
            };
            out.push(lockfile::Classified { sdists, wheels });
        }
        Ok(out)
    }
}
