//! Bench: the target chroots. `first-chroot` times making a suite's build
//! chroot from nothing (`cargo xtask chroot --target trixie` into an empty,
//! temporary cache: mmdebstrap downloads from the Debian archive), once,
//! and removes it; `chroot-disk` sums the disk blocks of each cached chroot
//! (hard links once, like du). [`uncached`] tells the commands that would
//! otherwise make a chroot while being timed that one is missing.

use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use xtask::chroot;
use xtask::config::{Config, Target as ConfigTarget};

use super::deb::run_logged;
use super::measure::last_line;
use super::report::{fmt_duration, Body, Section, Target};
use super::{goals, Ctx, Measured};

/// The suite `first-chroot` makes: the newer one, whose archive the host
/// has never fetched.
const FIRST_TARGET: &str = "trixie";

/// Bytes in a MB, as `cargo xtask chroot` prints them.
const MB: u64 = 1_000_000;

pub fn first_chroot(ctx: &Ctx) -> anyhow::Result<Measured> {
    let title = "First build chroot of a suite";
    let intro = format!(
        "`cargo xtask chroot --target {FIRST_TARGET}` with `PINWHEEL_CHROOT_DIR` pointing at an empty temporary directory: mmdebstrap fetches the suite from the Debian archive and installs the build packages, then the chroot's python3 is checked. One run (the archive is the bottleneck and each run downloads the whole suite again); the temporary chroot is removed afterwards. Target: at most 3 minutes."
    );
    let skip = |why: String| Ok(Measured::skipped(title, &intro, why));
    if !ctx.has_command("chroot") {
        return skip(Ctx::missing("chroot"));
    }
    let config = Config::load(&ctx.root)?;
    let Ok(target) = config.target(FIRST_TARGET) else {
        return skip(format!(
            "{} has no target {FIRST_TARGET:?}",
            xtask::config::CONFIG_PATH
        ));
    };
    if !xtask::host_packages::is_root() {
        return skip("not root: a chroot made as a user holds files of mapped user ids that the bench cannot remove afterwards; run the bench as root".to_owned());
    }
    let missing = xtask::host_packages::missing(&chroot::host_tools(chroot::Mode::current()))?;
    if !missing.is_empty() {
        return skip(format!(
            "{} not installed (`apt-get install {}`): timing the chroot would time installing them",
            missing.join(", "),
            missing.join(" ")
        ));
    }
    if let Err(why) = reachable(&target.mirror) {
        return skip(format!("no network: {why}"));
    }

    let cache = tempfile::Builder::new()
        .prefix("first-chroot-")
        .tempdir_in(&ctx.work)
        .with_context(|| format!("{}: cannot create a directory", ctx.work.display()))?;
    let run = run_logged(
        ctx.xtask(["chroot", "--target", FIRST_TARGET])
            .dir(&ctx.root)
            .env(chroot::CACHE_ENV, cache.path()),
    );
    let removed = cache.close();
    let run = match run {
        Ok(run) if run.code == Some(0) => run,
        Ok(run) => {
            return skip(format!(
                "`cargo xtask chroot --target {FIRST_TARGET}` failed after {} (exit {}): {}",
                fmt_duration(run.elapsed),
                run.code.map_or("by a signal".to_owned(), |c| c.to_string()),
                last_line(run.stderr.as_bytes())
            ))
        }
        Err(why) => return skip(format!("it could not be started: {why}")),
    };
    let mut notes = Vec::new();
    let target_line = Target::measured(
        goals::FIRST_CHROOT,
        fmt_duration(run.elapsed),
        run.elapsed <= Duration::from_secs(180),
        "mmdebstrap's download and unpacking dominate: fewer packages in the build flavour (no recommends, docs and locales left out), or a closer or caching mirror (`mirror` of the target)".to_owned(),
    );
    notes.push(target_line.note());
    if let Err(err) = removed {
        notes.push(format!(
            "The temporary chroot could not be removed: {err}; remove `{}/first-chroot-*` by hand.",
            ctx.work.display()
        ));
    }
    let mut text = format!(
        "Wall time: {} (1 run, mirror {}).\n",
        fmt_duration(run.elapsed),
        target.mirror
    );
    if let Some(line) = run.stdout.lines().find(|l| !l.trim().is_empty()) {
        // The last field is the chroot's path, removed by now.
        let line = line.rsplit_once(", ").map_or(line, |(head, _)| head);
        text.push_str(&format!(
            "\nThe command printed (the temporary path left out):\n\n```\n{line}\n```\n"
        ));
    }
    Ok(Measured {
        section: Section {
            title: title.to_owned(),
            intro,
            body: Body::Markdown(text),
            notes,
        },
        panel: None,
        targets: vec![target_line],
    })
}

pub fn chroot_disk(ctx: &Ctx) -> anyhow::Result<Measured> {
    let title = "Disk per cached chroot";
    let intro = "Each complete chroot in the cache (`target/chroots/`, or `$PINWHEEL_CHROOT_DIR`), build and runtime flavour of every target: the blocks its files occupy (each hard-linked file once, like `du`), in MB of 10^6 bytes. Nothing is made: a chroot not cached is not listed. Target: each build chroot under 600 MB.";
    let config = Config::load(&ctx.root)?;
    let cache = chroot::cache_dir(&ctx.root);
    let build = xtask::build_wheels::chroot_flavor(&ctx.root)?;
    let mut text =
        "| chroot | flavour | python | packages | disk |\n|---|---|---|---:|---:|\n".to_owned();
    let mut build_sizes = Vec::new();
    let mut rows = 0;
    for target in config.targets.values() {
        let runtime = chroot::runtime_flavor(&config);
        for (label, flavor) in [("build", &build), ("runtime", &runtime)] {
            let Some(recorded) = chroot::recorded(&ctx.root, target, flavor)? else {
                continue;
            };
            let name = chroot::name(target, flavor);
            let bytes = disk_usage(&cache.join(&name))?;
            text.push_str(&format!(
                "| {} (`{name}`) | {label} | {} | {} | {} MB |\n",
                target.name,
                recorded.python,
                recorded.packages.len(),
                bytes.div_ceil(MB)
            ));
            rows += 1;
            if label == "build" {
                build_sizes.push((target.name.clone(), bytes));
            }
        }
    }
    if rows == 0 {
        return Ok(Measured::skipped(
            title,
            intro,
            format!(
                "no chroot is cached in {} (make them with `cargo xtask chroot`)",
                cache.display()
            ),
        ));
    }
    let mut targets = Vec::new();
    if !build_sizes.is_empty() {
        let largest = build_sizes.iter().map(|(_, b)| *b).max().unwrap_or(0);
        let uncached: Vec<&str> = config
            .targets
            .values()
            .filter(|t| !build_sizes.iter().any(|(n, _)| *n == t.name))
            .map(|t| t.name.as_str())
            .collect();
        let mut measured = build_sizes
            .iter()
            .map(|(name, bytes)| format!("{name} {} MB", bytes.div_ceil(MB)))
            .collect::<Vec<_>>()
            .join(", ");
        if !uncached.is_empty() {
            measured.push_str(&format!("; not cached: {}", uncached.join(", ")));
        }
        targets.push(Target::measured(
            goals::CHROOT_DISK,
            measured,
            largest < 600 * MB,
            "leave out of the build flavour what builds never read (documentation, man pages, locales other than C.UTF-8, apt's package lists and archives) with mmdebstrap's dpkg path excludes and cleanup hooks".to_owned(),
        ));
    }
    Ok(Measured {
        section: Section {
            title: title.to_owned(),
            intro: intro.to_owned(),
            body: Body::Markdown(text),
            notes: targets.iter().map(Target::note).collect(),
        },
        panel: None,
        targets,
    })
}

/// Why a command that builds in every target's chroot cannot be timed
/// without making one: the targets whose build chroot is not cached (or
/// records another python3 than the configuration's). `None` when every
/// build chroot is ready.
pub fn uncached(root: &Path) -> anyhow::Result<Option<String>> {
    let config = Config::load(root)?;
    let flavor = xtask::build_wheels::chroot_flavor(root)?;
    let mut missing: Vec<&ConfigTarget> = Vec::new();
    for target in config.targets.values() {
        match chroot::recorded(root, target, &flavor)? {
            Some(recorded) if recorded.python == target.python => {}
            _ => missing.push(target),
        }
    }
    if missing.is_empty() {
        return Ok(None);
    }
    let names: Vec<&str> = missing.iter().map(|t| t.name.as_str()).collect();
    Ok(Some(format!(
        "the build chroot of {} is not cached in {}, so the run would time making it; make it first with `cargo xtask chroot`",
        names.join(", "),
        chroot::cache_dir(root).display()
    )))
}

/// Whether the host of `mirror` accepts a TCP connection within 5 s.
fn reachable(mirror: &str) -> Result<(), String> {
    let url = url::Url::parse(mirror).map_err(|e| format!("mirror {mirror}: {e}"))?;
    let host = url
        .host_str()
        .ok_or_else(|| format!("mirror {mirror} names no host"))?;
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    let mut last = format!("{host} has no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("cannot connect to {host} ({addr}): {e}"),
        }
    }
    Err(last)
}

/// See [`chroot::disk_usage`].
pub use xtask::chroot::disk_usage;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_usage_counts_hard_links_once() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        fs_err::write(&a, vec![7u8; 64 << 10]).unwrap();
        let one = disk_usage(tmp.path()).unwrap();
        fs_err::hard_link(&a, tmp.path().join("b")).unwrap();
        assert_eq!(disk_usage(tmp.path()).unwrap(), one);
        fs_err::create_dir(tmp.path().join("d")).unwrap();
        fs_err::write(tmp.path().join("d/c"), vec![7u8; 64 << 10]).unwrap();
        assert!(disk_usage(tmp.path()).unwrap() >= one + (64 << 10));
    }
}
