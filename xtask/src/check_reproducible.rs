//! `cargo xtask check-reproducible`: builds the package twice, from two
//! copies of the tree at different paths, in environments that differ in
//! everything a build should not depend on, and compares the results.
//!
//! Per target (`--target NAME`, repeatable; default: every target the
//! application ships to), both builds run in the target's build chroot,
//! like `build-deb`. Build a: real clock, umask 022, TZ=UTC,
//! LC_ALL/LANG=C.UTF-8, DEB_BUILD_OPTIONS=parallel=1. Build b: faketime 400
//! days ahead (faketime is in the build chroot), umask 002, TZ=<+14>-14,
//! another locale (the first of fr_FR/de_DE/en_US UTF-8 that the chroot
//! has, else C), DEB_BUILD_OPTIONS=parallel=2. HOME and the build path
//! differ too. The index is verified in the checkout first (with git HEAD
//! for rollback); each build is then a full `build-deb` of a copy
//! (verification included).
//!
//! Comparison: each `.deb` byte for byte. The `.buildinfo` records the build
//! itself — `Build-Date` and the `Environment` we varied on purpose — so it
//! is compared with those fields set aside (every other field, including
//! the installed build dependencies and the .deb's checksums, must match),
//! and the fields that differ are named; the `.changes` likewise without
//! the `.buildinfo`'s checksum lines. On a difference: the differing files
//! inside each package (path, mode, owner, size, sha256), text diffs, a
//! pointer to diffoscope, and exit 1.

pub mod deb_diff;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use crate::build_deb::{self, BuildEnv};
use crate::config::Config;

/// Options of `cargo xtask check-reproducible`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Options {
    /// Only this application's binary package (default: every application).
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// Check this target of packaging/pinwheel.toml (repeatable; default:
    /// every target the application ships to).
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
}

/// The two environments; `locale` is build b's locale.
pub fn variants(locale: &str) -> [BuildEnv; 2] {
    [
        BuildEnv {
            deb_build_options: Some("parallel=1".to_owned()),
            ..BuildEnv::standard()
        },
        BuildEnv {
            tz: "<+14>-14".to_owned(),
            lc_all: locale.to_owned(),
            lang: locale.to_owned(),
            umask: 0o002,
            deb_build_options: Some("parallel=2".to_owned()),
            faketime: Some("+400d".to_owned()),
        },
    ]
}

/// Build b's locale: a real non-C locale when one is installed.
pub fn pick_locale(installed: &str) -> String {
    let have: Vec<String> = installed
        .lines()
        .map(|l| l.trim().to_ascii_lowercase().replace("utf-8", "utf8"))
        .collect();
    for want in ["fr_FR.UTF-8", "de_DE.UTF-8", "en_US.UTF-8"] {
        if have.contains(&want.to_ascii_lowercase().replace("utf-8", "utf8")) {
            return want.to_owned();
        }
    }
    "C".to_owned()
}

fn describe(env: &BuildEnv) -> String {
    format!(
        "umask {:03o}, TZ={}, LC_ALL={}, DEB_BUILD_OPTIONS={}, {}",
        env.umask,
        env.tz,
        env.lc_all,
        env.deb_build_options.as_deref().unwrap_or(""),
        env.faketime
            .as_deref()
            .map_or("real clock".to_owned(), |f| format!("faketime {f}"))
    )
}

/// Runs `cargo xtask check-reproducible`.
pub fn run(root: &Path, options: &Options) -> anyhow::Result<()> {
    let config = Config::load(root)?;
    let apps = build_deb::apps(&config, options.app.as_deref())?;
    let targets = build_deb::targets_of_apps(&config, &apps, &options.targets)?;
    // The copies carry no .git, so verify here first, where the rollback
    // check can compare with git HEAD's list.
    crate::verify::verify_index(&config, &crate::verify::Options::default())?;
    let work = root.join("target/check-reproducible");
    if work.exists() {
        fs_err::remove_dir_all(&work)?;
    }
    let started = Instant::now();
    let mut differ: Vec<&str> = Vec::new();
    for target in &targets {
        let name = target.name.as_str();
        let (a, b) = check_target(&config, &apps, name, &work.join(name))
            .with_context(|| format!("target {name}"))?;
        let report = compare(&a, &b)?;
        println!("target {name}:");
        print!("{}", report.text);
        if report.differs {
            differ.push(name);
            if which("diffoscope") {
                println!(
                    "for a detailed comparison: diffoscope {} {}",
                    a.display(),
                    b.display()
                );
            } else {
                println!("for a detailed comparison, install diffoscope (apt-get install diffoscope) and run it on {} and {}", a.display(), b.display());
            }
        }
    }
    eprintln!(
        "check-reproducible: {:.1}s for every build and comparison",
        started.elapsed().as_secs_f64()
    );
    if !differ.is_empty() {
        return Err(pinwheel_trust::failure::verification_failed(format!(
            "the two builds differ for {} (see above)",
            differ.join(", ")
        )));
    }
    Ok(())
}

/// Builds `target` twice, from two copies of the tree under `work`, in
/// the two environments; returns the two output directories.
fn check_target(
    config: &Config,
    apps: &[String],
    target: &str,
    work: &Path,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    // Build b's locale is one the build chroot has.
    let locales = {
        let chroot = build_deb::build_chroot(config, config.target(target)?, false)?;
        build_deb::dpkg::locales(&chroot)?
    };
    let envs = variants(&pick_locale(&locales));
    let trees = [
        work.join("a/tree"),
        work.join("b/a/longer/path/with-another-name"),
    ];
    let outs = [work.join("out-a"), work.join("out-b")];
    for (i, (tree, env)) in trees.iter().zip(&envs).enumerate() {
        let label = ["a", "b"][i];
        let t = Instant::now();
        copy_tree(&config.root, tree)?;
        eprintln!("build {label}: {} ({})", tree.display(), describe(env));
        let tree_config = Config::load(tree)?;
        let outcomes = build_deb::build(
            &tree_config,
            apps,
            &[tree_config.target(target)?],
            &outs[i],
            env,
            false,
        )
        .with_context(|| format!("build {label}"))?;
        for outcome in &outcomes {
            eprintln!(
                "{}",
                build_deb::format_times(&format!("build {label} steps"), &outcome.steps)
            );
        }
        eprintln!("build {label}: {:.1}s", t.elapsed().as_secs_f64());
    }
    let [a, b] = outs;
    Ok((a.join(target), b.join(target)))
}

/// The result of comparing two output directories.
pub struct Report {
    pub text: String,
    pub differs: bool,
}

/// Compares every artifact of two builds.
pub fn compare(a: &Path, b: &Path) -> anyhow::Result<Report> {
    let names_a = artifact_names(a)?;
    let names_b = artifact_names(b)?;
    let mut text = String::new();
    let mut differs = false;
    if names_a != names_b {
        differs = true;
        text.push_str(&format!(
            "different artifacts: a has {}; b has {}\n",
            names_a.join(" "),
            names_b.join(" ")
        ));
    }
    for name in names_a.iter().filter(|n| names_b.contains(n)) {
        let bytes_a = fs_err::read(a.join(name))?;
        let bytes_b = fs_err::read(b.join(name))?;
        let sha = pinwheel_trust::hash::Sha256::of(&bytes_a);
        if name.ends_with(".buildinfo") {
            let fields = deb_diff::BUILD_RECORD_FIELDS;
            let (ta, tb) = (
                String::from_utf8_lossy(&bytes_a),
                String::from_utf8_lossy(&bytes_b),
            );
            if deb_diff::without_fields(&ta, fields) != deb_diff::without_fields(&tb, fields) {
                differs = true;
                text.push_str(&format!(
                    "DIFFERS    {name} (beyond the fields that record the build)\n"
                ));
                text.push_str(&deb_diff::text_diff(
                    name,
                    &deb_diff::without_fields(&ta, fields).into_bytes(),
                    &deb_diff::without_fields(&tb, fields).into_bytes(),
                ));
            } else {
                let (va, vb) = (
                    deb_diff::field_values(&ta, fields),
                    deb_diff::field_values(&tb, fields),
                );
                let varied: Vec<&str> = fields
                    .iter()
                    .copied()
                    .filter(|f| va.get(*f) != vb.get(*f))
                    .collect();
                if varied.is_empty() {
                    text.push_str(&format!("identical  {name}  {sha}\n"));
                } else {
                    text.push_str(&format!(
                        "identical  {name} except {}, which record the build itself\n",
                        varied.join(", ")
                    ));
                }
            }
        } else if name.ends_with(".changes") {
            let buildinfo = names_a
                .iter()
                .find(|n| n.ends_with(".buildinfo"))
                .map_or("", String::as_str);
            let (ta, tb) = (
                String::from_utf8_lossy(&bytes_a),
                String::from_utf8_lossy(&bytes_b),
            );
            if bytes_a == bytes_b {
                text.push_str(&format!("identical  {name}  {sha}\n"));
            } else if deb_diff::changes_without_buildinfo(&ta, buildinfo)
                == deb_diff::changes_without_buildinfo(&tb, buildinfo)
            {
                text.push_str(&format!(
                    "identical  {name} except the checksums of {buildinfo}\n"
                ));
            } else {
                differs = true;
                text.push_str(&format!("DIFFERS    {name}\n"));
                text.push_str(&deb_diff::text_diff(name, &bytes_a, &bytes_b));
            }
        } else if bytes_a == bytes_b {
            text.push_str(&format!("identical  {name}  {sha}\n"));
        } else {
            differs = true;
            text.push_str(&format!(
                "DIFFERS    {name}: {} vs {}\n",
                sha,
                pinwheel_trust::hash::Sha256::of(&bytes_b)
            ));
            if name.ends_with(".deb") || name.ends_with(".ddeb") {
                let deb_a = pinwheel_archive::deb::parse_deb(&bytes_a)
                    .with_context(|| format!("{}", a.join(name).display()))?;
                let deb_b = pinwheel_archive::deb::parse_deb(&bytes_b)
                    .with_context(|| format!("{}", b.join(name).display()))?;
                let report = deb_diff::deb_report(&deb_a, &deb_b);
                if report.is_empty() {
                    text.push_str("  same files with the same metadata: the difference is in the archive encoding (compression or tar headers)\n");
                } else {
                    text.push_str(&report);
                }
            }
        }
    }
    Ok(Report { text, differs })
}

fn artifact_names(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs_err::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if [".deb", ".ddeb", ".buildinfo", ".changes"]
            .iter()
            .any(|ext| name.ends_with(ext))
        {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Copies the repository (without `target/`, `.git` and `.pinwheel.lock`)
/// to `dest`, keeping executable bits and symbolic links.
pub fn copy_tree(root: &Path, dest: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut stack: Vec<PathBuf> = vec![PathBuf::new()];
    fs_err::create_dir_all(dest)?;
    while let Some(rel) = stack.pop() {
        for entry in fs_err::read_dir(root.join(&rel))? {
            let entry = entry?;
            let name = entry.file_name();
            let rel_child = rel.join(&name);
            if rel.as_os_str().is_empty()
                && (name == "target" || name == ".git" || name == ".pinwheel.lock")
            {
                continue;
            }
            let src = root.join(&rel_child);
            let dst = dest.join(&rel_child);
            let meta = fs_err::symlink_metadata(&src)?;
            if meta.file_type().is_symlink() {
                std::os::unix::fs::symlink(fs_err::read_link(&src)?, &dst)
                    .with_context(|| format!("{}: symlink", dst.display()))?;
            } else if meta.is_dir() {
                fs_err::create_dir_all(&dst)?;
                stack.push(rel_child);
            } else if meta.is_file() {
                fs_err::copy(&src, &dst)?;
                let mode = if meta.permissions().mode() & 0o111 != 0 {
                    0o755
                } else {
                    0o644
                };
                fs_err::set_permissions(&dst, std::fs::Permissions::from_mode(mode))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_names_the_differing_file() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs_err::create_dir_all(&a).unwrap();
        fs_err::create_dir_all(&b).unwrap();
        let name = "p_1_amd64.deb";
        let files_a: &[(&str, &[u8], u32)] = &[
            ("./usr/bin/p", b"#!/bin/sh\necho 1\n", 0o755),
            ("./same", b"s", 0o644),
        ];
        let files_b: &[(&str, &[u8], u32)] = &[
            ("./usr/bin/p", b"#!/bin/sh\necho 2\n", 0o755),
            ("./same", b"s", 0o644),
        ];
        fs_err::write(
            a.join(name),
            pinwheel_archive::deb::fixtures::test_deb(b"Package: p\n", files_a),
        )
        .unwrap();
        fs_err::write(
            b.join(name),
            pinwheel_archive::deb::fixtures::test_deb(b"Package: p\n", files_b),
        )
        .unwrap();
        let info = "Format: 1.0\nBuild-Date: 1\nEnvironment:\n LANG=C\n";
        fs_err::write(a.join("p_1_amd64.buildinfo"), info).unwrap();
        fs_err::write(
            b.join("p_1_amd64.buildinfo"),
            info.replace("Date: 1", "Date: 2")
                .replace("Format: 1.0", "Format: 9"),
        )
        .unwrap();
        let report = compare(&a, &b).unwrap();
        assert!(report.differs);
        assert!(
            report.text.contains("DIFFERS    p_1_amd64.deb"),
            "{}",
            report.text
        );
        assert!(
            report.text.contains("data.tar: usr/bin/p\n"),
            "{}",
            report.text
        );
        assert!(
            report.text.contains("-echo 1") && report.text.contains("+echo 2"),
            "{}",
            report.text
        );
        assert!(
            !report.text.contains("./same") && !report.text.contains(": same"),
            "{}",
            report.text
        );
        assert!(
            report
                .text
                .contains("DIFFERS    p_1_amd64.buildinfo (beyond"),
            "{}",
            report.text
        );
        assert!(report.text.contains("-Format: 1.0"), "{}", report.text);

        fs_err::write(b.join(name), fs_err::read(a.join(name)).unwrap()).unwrap();
        fs_err::write(
            b.join("p_1_amd64.buildinfo"),
            info.replace("Date: 1", "Date: 2"),
        )
        .unwrap();
        let report = compare(&a, &b).unwrap();
        assert!(!report.differs, "{}", report.text);
        assert!(
            report
                .text
                .contains("p_1_amd64.buildinfo except Build-Date,"),
            "{}",
            report.text
        );
    }

    #[test]
    fn locales() {
        assert_eq!(pick_locale("C\nC.utf8\nPOSIX\n"), "C");
        assert_eq!(pick_locale("C\nen_US.utf8\nfr_FR.utf8\n"), "fr_FR.UTF-8");
    }

    #[test]
    fn variants_differ_in_everything() {
        let [a, b] = variants("C");
        assert_ne!(a.tz, b.tz);
        assert_ne!(a.lc_all, b.lc_all);
        assert_ne!(a.umask, b.umask);
        assert_ne!(a.deb_build_options, b.deb_build_options);
        assert_ne!(a.faketime, b.faketime);
        let days: u32 = b
            .faketime
            .unwrap()
            .trim_start_matches('+')
            .trim_end_matches('d')
            .parse()
            .unwrap();
        assert!(days >= 366, "the clocks must be at least a year apart");
    }
}
