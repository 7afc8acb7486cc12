//! The clean source tree dpkg-buildpackage runs in: `debian/` (without the
//! leftovers of an earlier in-place build, its control file holding only
//! the binary packages being built), and for each application its sdist,
//! its hash-pinned requirements files, its directory (the files git
//! tracks: desktop entries, configuration, units that
//! `debian/<package>.install` names) and exactly the wheels they pin,
//! copied from `wheels-index/` and hashed again on the way (a file swapped
//! after verification is caught here, not by chance later).
//!
//! The tree is one target's: its `debian/changelog` is the target's
//! ([`super::changelog::for_target`]) and its requirements files are the
//! target's (`requirements/<app>/<target>/`), staged where
//! `debian/pinwheel-venv` reads them whatever the target.
//!
//! Layout (what debian/pinwheel-venv expects):
//! ```text
//! <source>-<version>/debian/...
//! <source>-<version>/pinwheel-apps.json                 per package: venv path, options
//! <source>-<version>/sdist/<app>/<name>-<version>.tar.gz
//! <source>-<version>/requirements/<app>/build-requirements.txt
//! <source>-<version>/requirements/<app>/backend-requirements.txt
//! <source>-<version>/<app's dir>/...                    the files git tracks
//! <source>-<version>/wheels-index/files/<wheel>.whl
//! ```

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use pinwheel_pypa::lockfile;
use pinwheel_pypa::requirements_txt::{self, Item, Pin, PinnedFile};
use pinwheel_trust::hash::{HashingWriter, Sha256};

/// A wheel the package build may use: its path relative to `wheels-index/`
/// in the verified list, and its sha256 there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedFile {
    pub path: String,
    pub sha256: Sha256,
}

/// A build backend wheel for the sdist, pinned by name, version and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendPin {
    pub name: String,
    pub version: String,
    pub file: ListedFile,
}

impl BackendPin {
    /// The pin as requirements_txt writes it: `name==version` and the
    /// wheel's hash.
    fn requirement(&self) -> anyhow::Result<Pin> {
        Ok(Pin {
            name: lockfile::parse_name(&self.name)?,
            version: lockfile::parse_version(&self.name, &self.version)?,
            files: vec![PinnedFile {
                sha256: self.file.sha256,
                filename: None,
            }],
            wheel_only: false,
        })
    }
}

/// One application of the staged tree.
pub struct StagedApp<'a> {
    /// Its name: its binary package.
    pub name: String,
    /// Its directory, relative to the repository root.
    pub dir: PathBuf,
    pub sdist: &'a crate::sdist::Sdist,
    pub backend: Vec<BackendPin>,
    pub system_site_packages: bool,
}

/// Everything that goes into the staged tree.
pub struct Inputs<'a> {
    pub root: &'a Path,
    /// The applications built, each one binary package.
    pub apps: &'a [StagedApp<'a>],
    /// The target's name: whose requirements files are staged.
    pub target: &'a str,
    /// Binary package names from debian/control (their build directories
    /// under debian/ are leftovers, never staged).
    pub packages: &'a [String],
    /// debian/control holding only the packages built ([`control_for`]).
    pub control: &'a str,
    /// The target's `debian/changelog`, staged in place of the
    /// repository's.
    pub changelog: &'a str,
    /// The verified list: path relative to wheels-index/ → sha256.
    pub list: &'a BTreeMap<String, Sha256>,
}

/// debian/control with the source stanza and only the binary stanzas of
/// `apps` (so dpkg-buildpackage builds exactly those), stanzas kept
/// byte for byte.
pub fn control_for(control: &str, apps: &[&str]) -> String {
    let mut out = String::new();
    let mut first = true;
    for stanza in control.split("\n\n") {
        let trimmed = stanza.trim_matches('\n');
        if trimmed.is_empty() {
            continue;
        }
        let package = trimmed.lines().find_map(|line| {
            line.strip_prefix("Package:")
                .map(|rest| rest.trim().to_owned())
        });
        let keep = match &package {
            None => first,
            Some(name) => apps.contains(&name.as_str()),
        };
        first = false;
        if keep {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(trimmed);
            out.push('\n');
        }
    }
    out
}

/// The path of a target's build-requirements.txt relative to the root.
pub fn build_requirements(app: &str, target: &str) -> PathBuf {
    PathBuf::from(format!(
        "requirements/{app}/{target}/build-requirements.txt"
    ))
}

/// Where debian/rules reads build-requirements.txt in the staged tree.
fn staged_build_requirements(app: &str) -> PathBuf {
    PathBuf::from(format!("requirements/{app}/build-requirements.txt"))
}

/// Stages the tree into `dir` (which must not exist yet). Returns how many
/// wheels were staged.
pub fn stage(dir: &Path, inputs: &Inputs<'_>) -> anyhow::Result<usize> {
    fs_err::create_dir_all(dir)?;
    copy_debian(
        &inputs.root.join("debian"),
        &dir.join("debian"),
        inputs.packages,
    )?;
    write(
        &dir.join("debian/control"),
        inputs.control.as_bytes(),
        false,
    )?;
    write(
        &dir.join("debian/changelog"),
        inputs.changelog.as_bytes(),
        false,
    )?;
    let mut wheels: BTreeMap<String, Sha256> = BTreeMap::new();
    let mut table = serde_json::Map::new();
    for app in inputs.apps {
        let name = &app.name;
        write(
            &dir.join("sdist").join(name).join(&app.sdist.filename),
            &app.sdist.bytes,
            false,
        )?;
        let (req_text, pinned) = pinned_wheels(inputs.root, name, inputs.target, inputs.list)?;
        wheels.extend(pinned);
        write(
            &dir.join(staged_build_requirements(name)),
            req_text.as_bytes(),
            false,
        )?;
        let mut backend = String::from(
            "# The sdist's build backend, from the verified wheel list (written by build-deb).\n",
        );
        for pin in &app.backend {
            requirements_txt::write_pin_on_one_line(&mut backend, &pin.requirement()?);
            wheels.insert(pin.file.path.clone(), pin.file.sha256);
        }
        write(
            &dir.join(format!("requirements/{name}/backend-requirements.txt")),
            backend.as_bytes(),
            false,
        )?;
        copy_app_dir(inputs.root, &app.dir, dir)?;
        check_install_file(inputs.root, name, dir)?;
        table.insert(
            name.clone(),
            serde_json::json!({
                "venv": format!("/opt/venvs/{name}"),
                "system-site-packages": app.system_site_packages,
            }),
        );
    }
    let apps_json = serde_json::to_string_pretty(&serde_json::json!({ "apps": table }))?;
    write(
        &dir.join("pinwheel-apps.json"),
        format!("{apps_json}\n").as_bytes(),
        false,
    )?;

    for (path, sha) in &wheels {
        if !path.starts_with("files/")
            || path.contains("..")
            || path.contains('\\')
            || path[6..].contains('/')
        {
            bail!("wheels-index/sha256sums.txt: {path:?} is not a file directly under files/");
        }
        copy_checked(
            &inputs.root.join("wheels-index").join(path),
            &dir.join("wheels-index").join(path),
            sha,
        )?;
    }
    Ok(wheels.len())
}

/// The files of the application directory `rel` that git tracks, relative
/// to `root`, sorted, when `root` is the top of a git checkout. Otherwise
/// (a copy of the tree, even one inside another checkout, such as
/// check-reproducible's copies under `target/`, which git would answer for
/// the enclosing repository with nothing), every regular file under it
/// except hidden ones and Python/build leftovers (`__pycache__`, `*.pyc`,
/// `build/`, `dist/`, `*.egg-info`).
pub fn app_files(root: &Path, rel: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let checkout = root.join(".git").exists();
    let listed = checkout.then(|| {
        duct::cmd!("git", "-C", root, "ls-files", "-z", "--", rel)
            .stdin_null()
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
    });
    if let Some(Ok(out)) = &listed {
        if out.status.success() {
            let mut files: Vec<PathBuf> = out
                .stdout
                .split(|b| *b == 0)
                .filter(|p| !p.is_empty())
                .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
                .collect();
            files.sort();
            return Ok(files);
        }
    }
    let mut files = Vec::new();
    let mut stack = vec![rel.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs_err::read_dir(root.join(&dir))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let leftover = name.starts_with('.')
                || name == "__pycache__"
                || name.ends_with(".pyc")
                || name == "build"
                || name == "dist"
                || name.ends_with(".egg-info");
            if leftover {
                continue;
            }
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(dir.join(&name));
            } else if kind.is_file() {
                files.push(dir.join(&name));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Copies the application's directory (its tracked files) into the tree
/// at the same relative path.
fn copy_app_dir(root: &Path, rel: &Path, tree: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for file in app_files(root, rel)? {
        let src = root.join(&file);
        let meta = fs_err::symlink_metadata(&src)?;
        if !meta.is_file() {
            bail!(
                "{}: not a regular file; an application directory holds files only",
                file.display()
            );
        }
        let executable = meta.permissions().mode() & 0o111 != 0;
        write(&tree.join(&file), &fs_err::read(&src)?, executable)?;
    }
    Ok(())
}

/// Each source of `debian/<package>.install` (the first word of each line;
/// `*`, `?` and `[…]` globs as dh_install reads them) must name a file of
/// the staged tree: a missing file stops here, naming the line, not in
/// dh_install's log.
fn check_install_file(root: &Path, package: &str, tree: &Path) -> anyhow::Result<()> {
    let rel = format!("debian/{package}.install");
    let text = match fs_err::read_to_string(root.join(&rel)) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err.into()),
    };
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let source = line.split_whitespace().next().unwrap_or_default();
        if !glob_matches_any(tree, source)? {
            return Err(pinwheel_trust::failure::refused(format!(
                "{rel}:{}: {source} is not a file of the staged tree (the application's directory holds the files git tracks)",
                number + 1
            )));
        }
    }
    Ok(())
}

/// Whether `pattern` (relative to `tree`; `*` and `?` within one path
/// component, `[…]` classes) names at least one existing path.
fn glob_matches_any(tree: &Path, pattern: &str) -> anyhow::Result<bool> {
    let mut current = vec![tree.to_path_buf()];
    for part in pattern.split('/').filter(|p| !p.is_empty() && *p != ".") {
        let mut next = Vec::new();
        for dir in &current {
            if !part.contains(['*', '?', '[']) {
                let path = dir.join(part);
                if fs_err::symlink_metadata(&path).is_ok() {
                    next.push(path);
                }
                continue;
            }
            let Ok(entries) = fs_err::read_dir(dir) else {
                continue;
            };
            for entry in entries {
                let entry = entry?;
                if wildcard(part.as_bytes(), entry.file_name().as_encoded_bytes()) {
                    next.push(entry.path());
                }
            }
        }
        current = next;
        if current.is_empty() {
            return Ok(false);
        }
    }
    Ok(!current.is_empty())
}

/// Shell-style matching of one path component: `*`, `?`, `[abc]`, `[a-z]`,
/// `[!x]`.
fn wildcard(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|i| wildcard(rest, &name[i..])),
        Some((b'?', rest)) => !name.is_empty() && wildcard(rest, &name[1..]),
        Some((b'[', rest)) => {
            let Some(end) = rest.iter().skip(1).position(|b| *b == b']').map(|i| i + 1) else {
                return name.first() == Some(&b'[') && wildcard(rest, &name[1..]);
            };
            let Some((&c, tail)) = name.split_first() else {
                return false;
            };
            let (negate, class) = match rest[..end].split_first() {
                Some((b'!', class)) => (true, class),
                _ => (false, &rest[..end]),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == b'-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != negate && wildcard(&rest[end + 1..], tail)
        }
        Some((&p, rest)) => name.first() == Some(&p) && wildcard(rest, &name[1..]),
    }
}

/// The text of `requirements/<app>/<target>/build-requirements.txt` and the
/// files of the verified list it pins (path → sha256). A pinned hash that
/// the list does not hold fails verification.
pub fn pinned_wheels(
    root: &Path,
    app: &str,
    target: &str,
    list: &BTreeMap<String, Sha256>,
) -> anyhow::Result<(String, BTreeMap<String, Sha256>)> {
    let rel = build_requirements(app, target);
    let req_path = root.join(&rel);
    let req_text = match fs_err::read_to_string(&req_path) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => bail!(
            "{}: missing: target {target} has no pinned wheels yet; run `cargo xtask update-deps`",
            rel.display()
        ),
        read => read?,
    };
    let by_hash: BTreeMap<Sha256, &str> = list.iter().map(|(p, h)| (*h, p.as_str())).collect();
    let mut wheels: BTreeMap<String, Sha256> = BTreeMap::new();
    for (line, sha) in
        pinned_hashes(&req_text).with_context(|| format!("{}", req_path.display()))?
    {
        let Some(path) = by_hash.get(&sha) else {
            return Err(pinwheel_trust::failure::verification_failed(format!(
                "{}:{line}: sha256 {sha} is not in the signed list wheels-index/sha256sums.txt; run `cargo xtask update-deps`",
                rel.display()
            )));
        };
        wheels.insert((*path).to_owned(), sha);
    }
    if wheels.is_empty() {
        bail!(
            "{}: pins no wheel; run `cargo xtask update-deps`",
            rel.display()
        );
    }
    Ok((req_text, wheels))
}

/// Every `--hash=sha256:<hex>` of a requirements file (read by
/// [`requirements_txt::parse`]), with the line it is on. A file pip would
/// take other instructions from (`-r`, `--index-url`, `-e`, …) is refused.
pub fn pinned_hashes(text: &str) -> anyhow::Result<Vec<(usize, Sha256)>> {
    let mut out = Vec::new();
    for item in requirements_txt::parse(text)? {
        match item {
            Item::Requirement(entry) => {
                out.extend(entry.hashes.iter().map(|h| (h.line, h.sha256)));
            }
            Item::Editable { line, .. } | Item::Option { line, .. } => {
                bail!("line {line}: only `name==version --hash=…` requirements belong in this file")
            }
        }
    }
    Ok(out)
}

/// Whether a path under debian/ is a leftover of an in-place build.
pub fn debian_leftover(rel: &str, packages: &[String]) -> bool {
    let first = rel.split('/').next().unwrap_or(rel);
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name.starts_with('.')
        || first == "tmp"
        || first == "files"
        || packages.iter().any(|p| p == first)
        || name.ends_with(".substvars")
        || name.ends_with(".debhelper")
        || name.ends_with(".debhelper.log")
        || name == "debhelper-build-stamp"
        || name == "__pycache__"
}

fn copy_debian(from: &Path, to: &Path, packages: &[String]) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut stack = vec![String::new()];
    while let Some(prefix) = stack.pop() {
        let mut names: Vec<String> = Vec::new();
        for entry in fs_err::read_dir(from.join(&prefix))? {
            let name = entry?.file_name();
            names.push(
                name.into_string()
                    .map_err(|n| anyhow::anyhow!("debian/: file name {n:?} is not UTF-8"))?,
            );
        }
        names.sort();
        for name in names {
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            if debian_leftover(&rel, packages) {
                continue;
            }
            let src = from.join(&rel);
            let meta = fs_err::symlink_metadata(&src)?;
            if meta.is_dir() {
                fs_err::create_dir_all(to.join(&rel))?;
                stack.push(rel);
            } else if meta.is_file() {
                let executable = meta.permissions().mode() & 0o111 != 0;
                write(&to.join(&rel), &fs_err::read(&src)?, executable)?;
            } else {
                bail!("{}: not a regular file or directory", src.display());
            }
        }
    }
    Ok(())
}

fn write(path: &Path, bytes: &[u8], executable: bool) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs_err::create_dir_all(crate::fresh::parent_dir(path))?;
    fs_err::write(path, bytes)?;
    fs_err::set_permissions(
        path,
        std::fs::Permissions::from_mode(if executable { 0o755 } else { 0o644 }),
    )?;
    Ok(())
}

/// Copies `from` to `to`, hashing the bytes as they pass; a mismatch with
/// `expected` removes the copy and fails verification.
fn copy_checked(from: &Path, to: &Path, expected: &Sha256) -> anyhow::Result<()> {
    fs_err::create_dir_all(crate::fresh::parent_dir(to))?;
    let mut src = fs_err::File::open(from)?;
    let mut dst = HashingWriter::new(fs_err::File::create(to)?);
    std::io::copy(&mut src, &mut dst)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    let (got, _, mut file) = dst.finish();
    file.flush()?;
    if &got != expected {
        drop(file);
        fs_err::remove_file(to)?;
        return Err(pinwheel_trust::failure::verification_failed(format!(
            "{}: sha256 is {got}, the verified list says {expected}; it changed after verification",
            from.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_files_of_a_copy_inside_another_checkout_are_walked() {
        let outer = tempfile::tempdir().unwrap();
        duct::cmd!("git", "init", "-q", outer.path()).run().unwrap();
        fs_err::write(outer.path().join(".gitignore"), "target/\n").unwrap();
        // A copy of a tree under the checkout's ignored target/, as
        // check-reproducible makes them.
        let copy = outer.path().join("target/copy");
        fs_err::create_dir_all(copy.join("app/etc")).unwrap();
        fs_err::write(copy.join("app/etc/greeting.conf"), "hi\n").unwrap();
        fs_err::write(copy.join("app/.hidden"), "").unwrap();
        assert_eq!(
            app_files(&copy, Path::new("app")).unwrap(),
            [PathBuf::from("app/etc/greeting.conf")]
        );
        // The checkout itself: what git tracks, not what lies around.
        fs_err::create_dir_all(outer.path().join("app")).unwrap();
        fs_err::write(outer.path().join("app/tracked.txt"), "").unwrap();
        fs_err::write(outer.path().join("app/untracked.txt"), "").unwrap();
        duct::cmd!("git", "-C", outer.path(), "add", "app/tracked.txt")
            .run()
            .unwrap();
        assert_eq!(
            app_files(outer.path(), Path::new("app")).unwrap(),
            [PathBuf::from("app/tracked.txt")]
        );
    }

    #[test]
    fn shell_wildcards() {
        for (pattern, name, want) in [
            ("*.desktop", "x.desktop", true),
            ("*.desktop", "x.desktops", false),
            ("greet?.conf", "greet1.conf", true),
            ("[a-c]x", "bx", true),
            ("[!a-c]x", "bx", false),
            ("plain", "plain", true),
            ("plain", "plainer", false),
        ] {
            assert_eq!(
                wildcard(pattern.as_bytes(), name.as_bytes()),
                want,
                "{pattern} {name}"
            );
        }
    }

    #[test]
    fn control_for_keeps_source_and_named_packages() {
        let control = "Source: s\nBuild-Depends: x\n\nPackage: a\nDescription: a\n more\n\nPackage: b\nDescription: b\n";
        assert_eq!(
            control_for(control, &["b"]),
            "Source: s\nBuild-Depends: x\n\nPackage: b\nDescription: b\n"
        );
        assert_eq!(control_for(control, &["a", "b"]), control);
    }

    #[test]
    fn adversarial_install_file_naming_a_missing_file() {
        let root = tempfile::tempdir().unwrap();
        let tree = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(root.path().join("debian")).unwrap();
        fs_err::create_dir_all(tree.path().join("packaging/app/etc")).unwrap();
        fs_err::write(tree.path().join("packaging/app/etc/a.conf"), "").unwrap();
        let install = root.path().join("debian/app.install");
        fs_err::write(&install, "# comment\npackaging/app/etc/*.conf etc/app/\n").unwrap();
        check_install_file(root.path(), "app", tree.path()).unwrap();
        fs_err::write(&install, "packaging/app/etc/*.conf etc/app/\npackaging/app/app.desktop usr/share/applications/\n").unwrap();
        let err = check_install_file(root.path(), "app", tree.path()).unwrap_err();
        assert_eq!(pinwheel_trust::failure::exit_code(&err), 1);
        assert_eq!(
            err.to_string(),
            "debian/app.install:2: packaging/app/app.desktop is not a file of the staged tree (the application's directory holds the files git tracks)"
        );
    }

    #[test]
    fn hashes_from_requirements() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let text = format!("# comment --hash=sha256:{a}\nfoo==1.0 \\\n    --hash=sha256:{a} \\\n    --hash=sha256:{b}  # trailing\n");
        let got = pinned_hashes(&text).unwrap();
        assert_eq!(got, vec![(3, a.parse().unwrap()), (4, b.parse().unwrap())]);
        let err = pinned_hashes("foo==1 --hash=md5:abc\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 1") && err.contains("only sha256"),
            "{err}"
        );
        let err = pinned_hashes(&format!("foo==1 --hash=sha256:{}\n", &a[..63]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1") && err.contains("63"), "{err}");
    }

    #[test]
    fn adversarial_other_instructions_are_refused() {
        let a = "a".repeat(64);
        for text in [
            format!("-r other.txt\nfoo==1 --hash=sha256:{a}\n"),
            format!("foo==1 --hash=sha256:{a}\n--index-url https://example.org/simple\n"),
            "-e .\n".to_owned(),
        ] {
            let err = pinned_hashes(&text).unwrap_err().to_string();
            assert!(err.contains("only `name==version"), "{text:?}: {err}");
        }
    }

    #[test]
    fn backend_pins_are_one_line_each() {
        let a = "a".repeat(64);
        let pin = BackendPin {
            name: "flit-core".to_owned(),
            version: "3.12.0".to_owned(),
            file: ListedFile {
                path: "files/flit_core-3.12.0-py3-none-any.whl".to_owned(),
                sha256: a.parse().unwrap(),
            },
        };
        let mut out = String::new();
        requirements_txt::write_pin_on_one_line(&mut out, &pin.requirement().unwrap());
        assert_eq!(out, format!("flit-core==3.12.0 --hash=sha256:{a}\n"));
        assert_eq!(pinned_hashes(&out).unwrap(), [(1, pin.file.sha256)]);
    }

    #[test]
    fn leftovers() {
        let packages = ["pinwheel-demo".to_owned()];
        for rel in [
            "pinwheel-demo",
            "pinwheel-demo/opt",
            ".build-venv",
            "files",
            "tmp",
            "pinwheel-demo.substvars",
            "debhelper-build-stamp",
            "pinwheel-demo.postinst.debhelper",
        ] {
            assert!(debian_leftover(rel, &packages), "{rel}");
        }
        for rel in [
            "rules",
            "control",
            "pinwheel-demo.postinst",
            "pinwheel-demo.lintian-overrides",
            "source/format",
        ] {
            assert!(!debian_leftover(rel, &packages), "{rel}");
        }
    }
}
