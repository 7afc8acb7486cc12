//! The clean source tree dpkg-buildpackage runs in: `debian/` (without the
//! leftovers of an earlier in-place build), the application's sdist, its
//! hash-pinned requirements files and exactly the wheels they pin, copied
//! from `wheels-index/` and hashed again on the way (a file swapped after
//! verification is caught here, not by chance later).
//!
//! The tree is one target's: its `debian/changelog` is the target's
//! ([`super::changelog::for_target`]) and its requirements files are the
//! target's (`requirements/<app>/<target>/`), staged where debian/rules
//! reads them whatever the target.
//!
//! Layout (what debian/rules expects):
//! ```text
//! <source>-<version>/debian/...
//! <source>-<version>/sdist/<name>-<version>.tar.gz
//! <source>-<version>/requirements/<app>/build-requirements.txt
//! <source>-<version>/requirements/<app>/backend-requirements.txt
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

/// Everything that goes into the staged tree.
pub struct Inputs<'a> {
    pub root: &'a Path,
    pub app: &'a str,
    /// The target's name: whose requirements files are staged.
    pub target: &'a str,
    /// Binary package names from debian/control (their build directories
    /// under debian/ are leftovers, never staged).
    pub packages: &'a [String],
    /// The target's `debian/changelog`, staged in place of the
    /// repository's.
    pub changelog: &'a str,
    pub sdist: &'a crate::sdist::Sdist,
    /// The verified list: path relative to wheels-index/ → sha256.
    pub list: &'a BTreeMap<String, Sha256>,
    pub backend: &'a [BackendPin],
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
        &dir.join("debian/changelog"),
        inputs.changelog.as_bytes(),
        false,
    )?;
    write(
        &dir.join("sdist").join(&inputs.sdist.filename),
        &inputs.sdist.bytes,
        false,
    )?;

    let (req_text, mut wheels) =
        pinned_wheels(inputs.root, inputs.app, inputs.target, inputs.list)?;
    write(
        &dir.join(staged_build_requirements(inputs.app)),
        req_text.as_bytes(),
        false,
    )?;
    let mut backend = String::from(
        "# The sdist's build backend, from the verified wheel list (written by build-deb).\n",
    );
    for pin in inputs.backend {
        requirements_txt::write_pin_on_one_line(&mut backend, &pin.requirement()?);
        wheels.insert(pin.file.path.clone(), pin.file.sha256);
    }
    write(
        &dir.join(format!(
            "requirements/{}/backend-requirements.txt",
            inputs.app
        )),
        backend.as_bytes(),
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
